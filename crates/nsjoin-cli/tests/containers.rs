//! `nsjoin -t docker://NAME`: against a real Docker engine (scripts/docker.sh),
//! and, for the answers a healthy engine never gives (garbage, an internal error,
//! a gVisor runtime), against a stand-in engine on a unix socket of the test's own.

use nsjoin_test_support as common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{docker, Container, Reachable, TempDir};

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

fn nsjoin(args: &[&str]) -> Command {
    nsjoin_from(Path::new(NSJOIN), args)
}

/// Like [`nsjoin`], with this copy of the binary.
fn nsjoin_from(bin: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args).env_remove("DOCKER_HOST");
    cmd
}

fn run(mut cmd: impl std::borrow::BorrowMut<Command>) -> Output {
    cmd.borrow_mut().output().expect("cannot run nsjoin")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// One line on stderr, starting `nsjoin: `, nothing on stdout, exit 1.
fn assert_one_line_failure(out: &Output, wanted: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(out));
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("nsjoin: "), "stderr: {err}");
    assert!(err.contains(wanted), "wanted {wanted:?} in: {err}");
}

fn ns_ino(pid: i32, kind: &str) -> u64 {
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .ino()
}

#[test]
fn all_namespaces_of_a_docker_container_by_name_print_its_hostname() {
    if !common::root_or_skip("all_namespaces_of_a_docker_container_by_name_print_its_hostname") {
        return;
    }
    let Some(c) = Container::start_or_skip("docker_by_name") else {
        return;
    };
    let spec = format!("docker://{}", c.name);
    let out = run(nsjoin(&["--all", "-t", &spec, "/bin/sh", "-c", "hostname"]));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), c.hostname);
    // The same as util-linux nsenter on the PID docker reports.
    let by_pid = run(Command::new("nsenter").args([
        "--all",
        "-t",
        &c.pid.to_string(),
        "/bin/sh",
        "-c",
        "hostname",
    ]));
    assert_eq!(stdout(&by_pid), c.hostname);
}

#[test]
fn a_docker_container_is_found_by_full_id_and_unique_prefix() {
    if !common::root_or_skip("a_docker_container_is_found_by_full_id_and_unique_prefix") {
        return;
    }
    let Some(c) = Container::start_or_skip("docker_by_id") else {
        return;
    };
    let id = String::from_utf8(
        docker()
            .args(["inspect", "-f", "{{.Id}}", &c.name])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    assert_eq!(id.len(), 64);
    let want = format!("net:[{}]", ns_ino(c.pid, "net"));
    for spec in [id.clone(), id[..12].to_owned()] {
        let target = format!("docker://{spec}");
        let out = run(nsjoin(&[
            "-n",
            "-t",
            &target,
            "readlink",
            "/proc/self/ns/net",
        ]));
        assert!(out.status.success(), "{target}: {out:?}");
        assert_eq!(stdout(&out), want, "{target}");
    }
}

#[test]
fn env_wd_and_root_of_a_docker_container_are_its_own() {
    if !common::root_or_skip("env_wd_and_root_of_a_docker_container_are_its_own") {
        return;
    }
    let Some(c) =
        Container::start_with_or_skip("docker_env", &["-e", "NSJ_MARK=from-docker", "-w", "/tmp"])
    else {
        return;
    };
    let spec = format!("docker://{}", c.name);
    let out = run(nsjoin(&[
        "-e",
        "-m",
        "-u",
        "-t",
        &spec,
        "/bin/sh",
        "-c",
        "echo $NSJ_MARK",
    ]));
    assert_eq!(stdout(&out), "from-docker", "{out:?}");
    // Without -e the caller's environment stays.
    let out = run(nsjoin(&[
        "-m",
        "-t",
        &spec,
        "/bin/sh",
        "-c",
        "echo ${NSJ_MARK:-unset}",
    ]));
    assert_eq!(stdout(&out), "unset", "{out:?}");
    // -r -w: the container's root and working directory, without entering mnt.
    let out = run(nsjoin(&["-u", "-r", "-w", "-t", &spec, "/bin/pwd"]));
    assert_eq!(stdout(&out), "/tmp", "{out:?}");
    let out = run(nsjoin(&[
        "-u",
        "-r",
        "-t",
        &spec,
        "/bin/ls",
        "/bin/busybox",
    ]));
    assert_eq!(stdout(&out), "/bin/busybox", "{out:?}");
}

#[test]
fn unknown_stopped_and_empty_docker_targets_fail_in_one_line() {
    if !common::root_or_skip("unknown_stopped_and_empty_docker_targets_fail_in_one_line") {
        return;
    }
    let Some(c) = Container::start_or_skip("docker_errors") else {
        return;
    };
    let out = run(nsjoin(&[
        "-a",
        "-t",
        "docker://nsjoin-no-such-container",
        "true",
    ]));
    assert_one_line_failure(&out, "docker://nsjoin-no-such-container: no such container");
    for spec in ["docker://", "docker://a/b", "docker://a b", "ftp://x"] {
        let out = run(nsjoin(&["-a", "-t", spec, "true"]));
        assert_one_line_failure(&out, spec);
    }
    assert!(docker()
        .args(["stop", "-t", "0", &c.name])
        .output()
        .unwrap()
        .status
        .success());
    let out = run(nsjoin(&[
        "-a",
        "-t",
        &format!("docker://{}", c.name),
        "true",
    ]));
    assert_one_line_failure(&out, "container is not running (status: exited)");
}

#[test]
fn an_ambiguous_id_prefix_is_refused_with_the_engines_reason() {
    if !common::root_or_skip("an_ambiguous_id_prefix_is_refused_with_the_engines_reason") {
        return;
    }
    let Some(_first) = Container::start_or_skip("docker_ambiguous") else {
        return;
    };
    // Created (not started) containers until two IDs share their first digit.
    let mut created: Vec<(String, String)> = Vec::new();
    let prefix = loop {
        let out = docker()
            .args(["create", common::IMAGE, "sleep", "1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let first = id[..1].to_owned();
        let clash = created.iter().any(|(_, f)| *f == first);
        created.push((id, first.clone()));
        if clash {
            break first;
        }
    };
    let out = run(nsjoin(&["-n", "-t", &format!("docker://{prefix}"), "true"]));
    for (id, _) in &created {
        let _ = docker().args(["rm", "-f", id]).output();
    }
    assert_one_line_failure(&out, &format!("docker://{prefix}: "));
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        err.contains("multiple") || err.contains("ambiguous"),
        "not an ambiguity error: {err}"
    );
}

#[test]
fn unreachable_or_remote_engines_fail_in_one_line() {
    let out = run(nsjoin(&["-n", "-t", "docker://x", "true"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock"));
    assert_one_line_failure(
        &out,
        "cannot connect to /nonexistent/docker.sock: No such file or directory",
    );
    let out =
        run(nsjoin(&["-n", "-t", "docker://x", "true"]).env("DOCKER_HOST", "tcp://127.0.0.1:2375"));
    assert_one_line_failure(&out, "DOCKER_HOST=tcp://127.0.0.1:2375 is not supported");
}

#[test]
fn permission_denied_on_the_engine_socket_is_said_so() {
    if !common::root_or_skip("permission_denied_on_the_engine_socket_is_said_so") {
        return;
    }
    // nobody must reach the socket (only to be refused by its mode) and the binary
    // (the build tree may be under a directory only root may enter): both in a
    // directory that every user can reach.
    let dir = Reachable::new("perm");
    let socket = dir.path().join("engine.sock");
    let _listener = UnixListener::bind(&socket).unwrap();
    std::fs::set_permissions(&socket, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let bin = dir.copy(NSJOIN);
    let out = run(nsjoin_from(&bin, &["-n", "-t", "docker://x", "true"])
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .uid(65534)
        .gid(65534));
    assert_one_line_failure(&out, "permission denied on the engine's socket");
}

/// A stand-in engine: answers `/_ping` properly and everything else with `answer`.
struct FakeEngine {
    _dir: TempDir,
    socket: PathBuf,
}

impl FakeEngine {
    /// Answers with `status` and a JSON `body`.
    fn json(status: &str, body: &str) -> FakeEngine {
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        FakeEngine::start(reply.into_bytes())
    }

    fn start(answer: Vec<u8>) -> FakeEngine {
        let dir = TempDir::new("engine");
        let socket = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                let reply: &[u8] = if line.starts_with("GET /_ping ") {
                    b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK"
                } else {
                    &answer
                };
                let _ = stream.write_all(reply);
            }
        });
        FakeEngine { _dir: dir, socket }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

fn against(engine: &FakeEngine) -> Output {
    run(nsjoin(&["-n", "-t", "docker://x", "true"]).env("DOCKER_HOST", engine.host()))
}

#[test]
fn engine_garbage_errors_and_sandboxed_runtimes_fail_in_one_line() {
    let garbage = FakeEngine::start(b"this is not HTTP\r\n\r\n".to_vec());
    assert_one_line_failure(&against(&garbage), "the engine answered garbage");
    let not_json = FakeEngine::json("200 OK", "{nope");
    assert_one_line_failure(&against(&not_json), "unexpected JSON");
    let internal = FakeEngine::json("500 Internal Server Error", r#"{"message":"boom!"}"#);
    assert_one_line_failure(&against(&internal), "docker://x: boom!");
    // A hostile engine's message cannot add lines or terminal escapes.
    let hostile = FakeEngine::json(
        "500 Internal Server Error",
        r#"{"message":"boom\nfake line\u001b[2J"}"#,
    );
    let out = against(&hostile);
    assert_one_line_failure(&out, "docker://x: boom fake line");
    assert!(!out.stderr.contains(&0x1b), "{out:?}");
    let gvisor = FakeEngine::json(
        "200 OK",
        r#"{"Id":"abc","State":{"Running":true,"Pid":4242},"HostConfig":{"Runtime":"runsc"}}"#,
    );
    assert_one_line_failure(&against(&gvisor), "runs under runsc");
    let created = FakeEngine::json(
        "200 OK",
        r#"{"Id":"abc","State":{"Running":false,"Pid":0,"Status":"created"}}"#,
    );
    assert_one_line_failure(
        &against(&created),
        "container is not running (status: created)",
    );
    // A PID the engine claims but that is no process here.
    let ghost = FakeEngine::json(
        "200 OK",
        r#"{"Id":"abc","State":{"Running":true,"Pid":999999}}"#,
    );
    assert_one_line_failure(&against(&ghost), "999999");
}

/// An engine socket (here one `DOCKER_HOST` names) that answers with the PID of
/// some other host process: nsjoin must not enter it. The process is a sandbox in
/// its own namespaces, running and ours to see; the engine says it is container
/// `<64 hex>`'s init, which its cgroup denies. A second answer names a sandbox
/// that really is in a cgroup named for the ID: that one is believed.
#[test]
fn an_engine_naming_a_process_outside_the_container_is_refused() {
    if !common::root_or_skip("an_engine_naming_a_process_outside_the_container_is_refused") {
        return;
    }
    let _lock = common::shared();
    let id = "5e".repeat(32);
    let bystander = common::Sandbox::new();
    let answer =
        |pid: i32| format!(r#"{{"Id":"{id}","Name":"/x","State":{{"Running":true,"Pid":{pid}}}}}"#);
    let liar = FakeEngine::json("200 OK", &answer(bystander.pid));
    let dir = TempDir::new("liar");
    let marker = dir.path().join("entered");
    let script = format!("echo in > {}", marker.display());
    let out =
        run(nsjoin(&["-a", "-t", "docker://x", "sh", "-c", &script])
            .env("DOCKER_HOST", liar.host()));
    assert_one_line_failure(&out, "not in a cgroup of container");
    assert!(!marker.exists(), "the program ran");

    let inside = common::CgroupSandbox::new(&id);
    let honest = FakeEngine::json("200 OK", &answer(inside.sandbox.pid));
    let out = run(
        nsjoin(&["-n", "-u", "-t", "docker://x", "hostname"]).env("DOCKER_HOST", honest.host())
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).trim(), inside.sandbox.hostname);
}
