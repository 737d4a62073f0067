//! A private containerd with its CRI plugin, as the live CRI tests run it: its
//! state in a temporary directory, the pause image imported from Docker. Used by
//! `containers_cri_live.rs` (through `engine_fakes`) and by the Kubernetes node
//! fixture (`k8s_node`, through `#[path]`), whose CNI configuration it takes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nsjoin_test_support::{self as common, TempDir, IMAGE};

use super::pb;

/// The sandbox ("pause") image: the test image, sleeping. Containers run it too,
/// with a command of their own.
pub const PAUSE_IMAGE: &str = "nsjoin-pause:latest";

pub fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Says why a test cannot run, or fails it under NSJOIN_REQUIRE_DOCKER=1 (CI).
pub fn skip(test: &str, what: &str) {
    if std::env::var("NSJOIN_REQUIRE_DOCKER").as_deref() == Ok("1") {
        panic!("{test} needs {what} and NSJOIN_REQUIRE_DOCKER=1 is set");
    }
    eprintln!("skipped {test}: needs {what}");
}

/// A private containerd with its CRI plugin, its state in a temporary directory,
/// the pause image imported into the namespace the CRI plugin uses. The daemon is
/// stopped on drop (or by [`Containerd::stop`]).
pub struct Containerd {
    dir: TempDir,
    pub socket: PathBuf,
    daemon: Option<Child>,
}

impl Containerd {
    /// Whether docker (with the test image), containerd and ctr are there; says
    /// why the test cannot run when they are not.
    pub fn ready_or_skip(test: &str, tools: &str) -> bool {
        if !common::docker_ready() {
            skip(test, "docker (run scripts/docker.sh), for the image");
            return false;
        }
        if !quiet(Command::new("containerd").arg("--version"))
            || !quiet(Command::new("ctr").arg("--version"))
        {
            skip(test, tools);
            return false;
        }
        true
    }

    /// Starts the daemon with its state in `dir` and the CNI plugins of
    /// `cni_bin` (none: an empty directory, for pods on the host's network),
    /// their configuration in `dir/cni-conf`, and imports the pause image
    /// (built from the test image first).
    pub fn start(dir: TempDir, cni_bin: Option<&str>) -> Containerd {
        let mut build = common::docker()
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

        let d = dir.path().display().to_string();
        let cni_bin = cni_bin.map_or_else(|| format!("{d}/cni-bin"), str::to_owned);
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
    bin_dir = "{cni_bin}"
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
        let containerd = Containerd {
            dir,
            socket,
            daemon: Some(daemon),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&containerd.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "containerd did not start: {}",
                containerd.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // The image, into the containerd namespace the CRI plugin uses.
        let mut save = common::docker()
            .args(["save", PAUSE_IMAGE])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let import = Command::new("ctr")
            .arg("--address")
            .arg(&containerd.socket)
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
        containerd
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// A CRI call that must succeed; containerd's log comes with a failure.
    pub fn call<Req: prost::Message, Resp: prost::Message + Default>(
        &self,
        method: &str,
        request: &Req,
    ) -> Resp {
        nsjoin::container::runtime_call(&self.socket, method, request, Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("{method}: {e}\n{}", self.log()))
    }

    /// Stops and removes the pod sandboxes `pods` and all in them, as far as it
    /// goes (for a drop).
    pub fn remove_pods(&self, pods: impl IntoIterator<Item = String>) {
        for pod in pods {
            let request = pb::PodSandboxId {
                pod_sandbox_id: pod,
            };
            for method in ["StopPodSandbox", "RemovePodSandbox"] {
                let _ = nsjoin::container::runtime_call::<_, pb::Empty>(
                    &self.socket,
                    method,
                    &request,
                    Duration::from_secs(60),
                );
            }
        }
    }

    /// Stops the daemon: SIGTERM, and SIGKILL if it is still there 10 s later.
    pub fn stop(&mut self) {
        let Some(mut daemon) = self.daemon.take() else {
            return;
        };
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(daemon.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while daemon.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = daemon.kill();
        let _ = daemon.wait();
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.stop();
    }
}
