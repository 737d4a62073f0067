//! What `nsls -c` asks the container engines: each engine once per run (its list
//! of containers), none when no cgroup path names it, and nothing that a silent
//! engine can stall; and what it believes of the answer (a cgroup named like a
//! running container's, in a place a user can make, is not that container).
//! Docker is the real one (through a proxy on the test's own socket that counts
//! the requests), the silent engines are stand-ins on the test's own sockets.

use nsjoin_test_support as common;
#[path = "../../nsjoin/tests/engine_fakes/sockets.rs"]
mod engine_fakes;
mod nsls_fixtures;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{CgroupSandbox, Container, TempDir};
use engine_fakes::{pause, request_path, Fake, Stuck};
use rustix::net::SocketAddrUnix;
use serde_json::Value;

use nsls_fixtures::{rows, Out, NSLS};

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// `nsls ARGS` with `env` set, and how long it took.
fn nsls_with(env: &[(&str, &str)], args: &[&str]) -> (Out, Duration) {
    let start = Instant::now();
    let out = Command::new(NSLS)
        .args(args)
        .envs(env.iter().copied())
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("cannot run nsls");
    let took = start.elapsed();
    let out = Out {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    };
    (out, took)
}

/// The CONTAINER value of the row of `pid` in nsls' JSON (`-o PID,CONTAINER`).
fn container_of(json: &str, pid: i32) -> Value {
    let listed = rows(&serde_json::from_str(json).unwrap());
    let row = listed
        .iter()
        .find(|r| r["pid"].as_i64() == Some(pid.into()))
        .unwrap_or_else(|| panic!("no row of {pid}: {json}"));
    row["container"].clone()
}

/// A socket in `dir` that passes each request on to the real Docker, and the
/// paths asked through it.
fn counting_docker(dir: &TempDir) -> (Fake, String, Arc<Mutex<Vec<String>>>) {
    let socket = dir.path().join("docker.sock").display().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let paths = Arc::clone(&seen);
    let fake = Fake::at(
        &SocketAddrUnix::new(socket.as_str()).unwrap(),
        move |mut conn, _stop| {
            let Some(path) = request_path(&mut conn) else {
                return;
            };
            paths.lock().unwrap().push(path.clone());
            let Ok(mut docker) = UnixStream::connect(DOCKER_SOCKET) else {
                return;
            };
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
            if docker.write_all(request.as_bytes()).is_ok() {
                let _ = std::io::copy(&mut docker, &mut conn);
            }
        },
    );
    (fake, format!("unix://{socket}"), seen)
}

/// Three Docker containers, one `nsls -c` over every pid namespace: Docker gets
/// one list request (after its version handshake), not one per container; each
/// container is named as Docker names it, and each value enters it with
/// `nsjoin -t`.
#[test]
fn each_engine_is_asked_once_per_run() {
    let Some(_g) = common::root_shared("each_engine_is_asked_once_per_run") else {
        return;
    };
    let mut containers = Vec::new();
    for _ in 0..3 {
        let Some(c) = Container::start_or_skip("each_engine_is_asked_once_per_run") else {
            return;
        };
        containers.push(c);
    }
    let dir = TempDir::new("nsls-engines");
    let (_proxy, host, seen) = counting_docker(&dir);
    let (out, _) = nsls_with(
        &[("DOCKER_HOST", &host)],
        &["-J", "-o", "NS,PID,CONTAINER", "-t", "pid"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for c in &containers {
        let value = container_of(&out.stdout, c.pid);
        assert_eq!(value, format!("docker://{}", c.name), "{}", out.stdout);
        let entered = Command::new(NSJOIN)
            .args(["-t", value.as_str().unwrap(), "-p", "true"])
            .env("DOCKER_HOST", &host)
            .output()
            .unwrap();
        assert!(entered.status.success(), "{value}: {entered:?}");
    }
    // The nsjoin runs asked too: count only nsls' requests, the first ones.
    let seen = seen.lock().unwrap().clone();
    let lists = seen.iter().filter(|p| p.ends_with("/containers/json"));
    assert_eq!(lists.count(), 1, "{seen:?}");
    assert!(
        seen[0] == "/_ping" && seen[1].ends_with("/containers/json"),
        "{seen:?}"
    );
    let inspects = seen.iter().filter(|p| p.ends_with("/json")).count();
    assert_eq!(
        inspects,
        1 + containers.len(),
        "one list, one per nsjoin: {seen:?}"
    );
}

/// An engine that accepts and says nothing, or never accepts, costs nsls its
/// deadline at most (NSJOIN_ENGINE_TIMEOUT=1 here): the row keeps the ID its
/// cgroup path names, unconfirmed, and nsls succeeds.
#[test]
fn an_engine_that_does_not_answer_leaves_the_cgroup_id() {
    let Some(_g) = common::root_shared("an_engine_that_does_not_answer_leaves_the_cgroup_id")
    else {
        return;
    };
    let id = "e1".repeat(32);
    let impostor = CgroupSandbox::at(&format!("docker/{id}"));
    let pid = impostor.sandbox.pid.to_string();
    let dir = TempDir::new("nsls-silent");
    let socket = dir.path().join("docker.sock").display().to_string();
    let addr = SocketAddrUnix::new(socket.as_str()).unwrap();
    let host = format!("unix://{socket}");
    for silent in ["accepts", "never accepts"] {
        let _engine: Box<dyn std::any::Any> = match silent {
            "accepts" => Box::new(Fake::at(&addr, |conn, stop| {
                let _held = conn;
                while pause(Duration::from_millis(100), &stop) {}
            })),
            _ => Box::new(Stuck::at(&addr)),
        };
        let (out, took) = nsls_with(
            &[("DOCKER_HOST", &host), ("NSJOIN_ENGINE_TIMEOUT", "1")],
            &["-J", "-o", "NS,PID,CONTAINER", "-t", "pid", "-p", &pid],
        );
        assert_eq!(out.code, Some(0), "{silent}: {}", out.stderr);
        assert!(out.stderr.is_empty(), "{silent}: {}", out.stderr);
        assert!(took < Duration::from_secs(4), "{silent}: took {took:?}");
        let value = container_of(&out.stdout, impostor.sandbox.pid);
        assert_eq!(value, format!("docker://{}", &id[..12]), "{silent}");
        drop(_engine);
        let _ = std::fs::remove_file(&socket);
    }
}

/// A process in a cgroup named like a running Docker container's, in a place a
/// user with a delegated subtree can make (`/user.slice/.../docker/<id>`), is not
/// shown as that container (Docker's list has no PIDs to tell by: the place
/// does); the container itself still is.
#[test]
fn a_running_containers_name_in_a_users_subtree_is_not_it() {
    let Some(_g) = common::root_shared("a_running_containers_name_in_a_users_subtree_is_not_it")
    else {
        return;
    };
    let Some(c) =
        Container::start_or_skip("a_running_containers_name_in_a_users_subtree_is_not_it")
    else {
        return;
    };
    let full_id = common::docker()
        .args(["inspect", "-f", "{{.Id}}", &c.name])
        .output()
        .unwrap();
    let full_id = String::from_utf8(full_id.stdout).unwrap().trim().to_owned();
    let spoof = CgroupSandbox::at(&format!(
        "user.slice/user-1000.slice/user@1000.service/docker/{full_id}"
    ));
    let (out, _) = nsls_with(&[], &["-J", "-o", "NS,PID,CONTAINER", "-t", "pid"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        container_of(&out.stdout, spoof.sandbox.pid).is_null(),
        "{}",
        out.stdout
    );
    assert_eq!(
        container_of(&out.stdout, c.pid),
        format!("docker://{}", c.name)
    );
}
