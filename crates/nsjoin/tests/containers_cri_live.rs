//! `cri://` and `containerd://` against a live CRI runtime: a private containerd
//! (Debian's, which comes with docker.io) with its CRI plugin on a socket in a
//! temporary directory; a pod sandbox and a container are made through the CRI
//! itself (RunPodSandbox, CreateContainer, StartContainer) from the busybox test
//! image imported from Docker, with host networking so that no CNI plugin is
//! needed. This is containerd's CRI plugin, not CRI-O (not packaged here).
//!
//! The endpoint and containerd's socket are passed to nsjoin as settings (what
//! CONTAINER_RUNTIME_ENDPOINT and CONTAINERD_ADDRESS set). Answers encoded by an
//! in-test server are in tests/containers_cri.rs.

use nsjoin_test_support as common;
mod engine_fakes;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use prost::Message;

use common::{docker, docker_ready, TempDir, IMAGE};
use engine_fakes::grpc::{call, hex_id};
use engine_fakes::{pb, Engines};

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Says why a test cannot run, or fails it under NSJOIN_REQUIRE_DOCKER=1 (CI).
fn skip(test: &str, what: &str) {
    if std::env::var("NSJOIN_REQUIRE_DOCKER").as_deref() == Ok("1") {
        panic!("{test} needs {what} and NSJOIN_REQUIRE_DOCKER=1 is set");
    }
    eprintln!("skipped {test}: needs {what}");
}

/// A private containerd with its CRI plugin, its state in a temporary directory;
/// the pod and everything in it are removed and the daemon stopped on drop.
struct CriContainerd {
    dir: TempDir,
    socket: PathBuf,
    daemon: std::process::Child,
    pod: Option<String>,
}

/// The sandbox ("pause") image: busybox sleeping, since CRI runs the image's command.
const PAUSE_IMAGE: &str = "nsjoin-pause:latest";

impl CriContainerd {
    fn start_or_skip(test: &str) -> Option<CriContainerd> {
        if !common::root_or_skip(test) {
            return None;
        }
        if !docker_ready() {
            skip(test, "docker (run scripts/docker.sh), for the image");
            return None;
        }
        if !quiet(Command::new("containerd").arg("--version"))
            || !quiet(Command::new("ctr").arg("--version"))
        {
            skip(
                test,
                "containerd and ctr (Debian's containerd, which docker.io pulls in)",
            );
            return None;
        }
        let mut build = docker()
            .args(["build", "-q", "-t", PAUSE_IMAGE, "-"])
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        build
            .stdin
            .take()
            .unwrap()
            .write_all(format!("FROM {IMAGE}\nCMD [\"sleep\", \"1000000\"]\n").as_bytes())
            .unwrap();
        assert!(
            build.wait().unwrap().success(),
            "docker build {PAUSE_IMAGE} failed"
        );

        let dir = TempDir::new("cri");
        let d = dir.path().display().to_string();
        let socket = dir.path().join("containerd.sock");
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # Without CAP_SYS_RESOURCE (as on these machines) the sandbox's oom_score_adj of
  # -998 cannot be set and runc fails to start it.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni-bin"
    conf_dir = "{d}/cni-conf"
"#
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let cri = CriContainerd {
            dir,
            socket,
            daemon,
            pod: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&cri.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "containerd did not start: {}",
                cri.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
        // The images, into the namespace the CRI plugin uses.
        let mut save = docker()
            .args(["save", PAUSE_IMAGE])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let import = Command::new("ctr")
            .arg("--address")
            .arg(&cri.socket)
            .args(["--namespace", "k8s.io", "images", "import", "-"])
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(save.wait().unwrap().success());
        assert!(
            import.status.success(),
            "ctr images import failed: {}",
            String::from_utf8_lossy(&import.stderr)
        );
        Some(cri)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    fn call<Req: Message, Resp: Message + Default>(&self, method: &str, request: &Req) -> Resp {
        call(
            &self.socket,
            &format!("/runtime.v1.RuntimeService/{method}"),
            None,
            request,
        )
        .unwrap_or_else(|e| panic!("{method}: {e:?}\n{}", self.log()))
    }

    /// A pod on the host's network (no CNI), and a container in it running `sleep`.
    fn run_container(&mut self) -> String {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let node = |pid| pb::NamespaceOption {
            network: 2,
            pid,
            ipc: 0,
        };
        let pod_config = pb::PodSandboxConfig {
            metadata: Some(pb::PodSandboxMetadata {
                name: format!("nsjoin-{}-{n}", std::process::id()),
                uid: format!("uid-{}-{n}", std::process::id()),
                namespace: "default".into(),
                attempt: 0,
            }),
            hostname: String::new(),
            labels: HashMap::new(),
            linux: Some(pb::LinuxPodSandboxConfig {
                cgroup_parent: String::new(),
                security_context: Some(pb::LinuxSandboxSecurityContext {
                    namespace_options: Some(node(0)),
                }),
            }),
        };
        let pod: pb::RunPodSandboxResponse = self.call(
            "RunPodSandbox",
            &pb::RunPodSandboxRequest {
                config: Some(pod_config.clone()),
            },
        );
        self.pod = Some(pod.pod_sandbox_id.clone());
        let created: pb::ContainerId = self.call(
            "CreateContainer",
            &pb::CreateContainerRequest {
                pod_sandbox_id: pod.pod_sandbox_id,
                config: Some(pb::ContainerConfig {
                    metadata: Some(pb::ContainerMetadata {
                        name: "web".into(),
                        attempt: 0,
                    }),
                    image: Some(pb::ImageSpec {
                        image: PAUSE_IMAGE.into(),
                    }),
                    command: vec!["sleep".into(), "100000".into()],
                    // As the kubelet labels its containers.
                    labels: HashMap::from([("io.kubernetes.container.name".into(), "web".into())]),
                    linux: Some(pb::LinuxContainerConfig {
                        security_context: Some(pb::LinuxContainerSecurityContext {
                            namespace_options: Some(node(1)),
                        }),
                    }),
                }),
                sandbox_config: Some(pod_config),
            },
        );
        let _: pb::Empty = self.call(
            "StartContainer",
            &pb::ContainerId {
                container_id: created.container_id.clone(),
            },
        );
        created.container_id
    }
}

impl Drop for CriContainerd {
    fn drop(&mut self) {
        if let Some(pod) = self.pod.take() {
            let request = pb::PodSandboxId {
                pod_sandbox_id: pod,
            };
            let path = "/runtime.v1.RuntimeService/";
            let _ = call::<_, pb::Empty>(
                &self.socket,
                &format!("{path}StopPodSandbox"),
                None,
                &request,
            );
            let _ = call::<_, pb::Empty>(
                &self.socket,
                &format!("{path}RemovePodSandbox"),
                None,
                &request,
            );
        }
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.daemon.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.daemon.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The whole CRI path against a real runtime (containerd's CRI plugin): cri://
/// with a full ID and with a prefix, the same container through containerd://
/// (namespace k8s.io, found by the search), and both refusing it once stopped.
#[test]
fn cri_and_containerd_against_a_live_cri_containerd() {
    let _exclusive = common::exclusive();
    let Some(mut cri) =
        CriContainerd::start_or_skip("cri_and_containerd_against_a_live_cri_containerd")
    else {
        return;
    };
    let id = cri.run_container();
    let endpoint = format!("unix://{}", cri.socket.display());
    let env = Engines::with(&[
        ("CONTAINER_RUNTIME_ENDPOINT", &endpoint),
        ("CONTAINERD_ADDRESS", cri.socket.to_str().unwrap()),
    ]);

    let found = env
        .resolve(&format!("cri://{id}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (found.id.as_str(), found.name.as_str()),
        (id.as_str(), "web")
    );
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", found.pid)).unwrap();
    assert_eq!(cmdline, b"sleep\x00100000\x00");
    assert!(found.env.unwrap().iter().any(|(k, _)| k == "PATH"));
    env.assert_opens_as(&format!("cri://{id}"), found.pid);
    // containerd's CRI plugin accepts unique ID prefixes.
    assert_eq!(
        env.resolve(&format!("cri://{}", &id[..12])).unwrap().pid,
        found.pid
    );
    // The same container through the Tasks API, in namespace k8s.io.
    let task = env
        .resolve(&format!("containerd://{id}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((task.pid, task.name.as_str()), (found.pid, "web"));
    env.assert_opens_as(&format!("containerd://k8s.io/{id}"), found.pid);

    let _: pb::Empty = cri.call(
        "StopContainer",
        &pb::StopContainerRequest {
            container_id: id.clone(),
            timeout: 0,
        },
    );
    let e = env.error_of(&format!("cri://{id}"));
    assert!(
        e.starts_with(&format!(
            "cri://{id}: container is not running (state: exited, exit code 137"
        )),
        "{e}"
    );
    // The CRI keeps the containerd container; its task is gone.
    assert_eq!(
        env.error_of(&format!("containerd://{id}")),
        format!("containerd://{id}: container is not running (it has no task in containerd namespace k8s.io)")
    );
    assert_eq!(
        env.error_of(&format!("cri://{}", hex_id(0))),
        format!(
            "cri://{}: no such container (at {})",
            hex_id(0),
            cri.socket.display()
        )
    );
}
