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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prost::Message;

use common::TempDir;
use engine_fakes::containerd::{Containerd, PAUSE_IMAGE};
use engine_fakes::grpc::hex_id;
use engine_fakes::{pb, Engines};

/// A private containerd with its CRI plugin ([`Containerd`], as the node fixture
/// runs it, but with no CNI plugins); the pod and everything in it are removed and
/// the daemon stopped on drop.
struct CriContainerd {
    containerd: Containerd,
    pod: Option<String>,
}

impl CriContainerd {
    fn start_or_skip(test: &str) -> Option<CriContainerd> {
        if !common::root_or_skip(test) {
            return None;
        }
        if !Containerd::ready_or_skip(
            test,
            "containerd and ctr (Debian's containerd, which docker.io pulls in)",
        ) {
            return None;
        }
        Some(CriContainerd {
            containerd: Containerd::start(TempDir::new("cri"), None),
            pod: None,
        })
    }

    fn call<Req: Message, Resp: Message + Default>(&self, method: &str, request: &Req) -> Resp {
        self.containerd.call(method, request)
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
        self.containerd.remove_pods(self.pod.take());
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
    let endpoint = format!("unix://{}", cri.containerd.socket.display());
    let env = Engines::with(&[
        ("CONTAINER_RUNTIME_ENDPOINT", &endpoint),
        (
            "CONTAINERD_ADDRESS",
            cri.containerd.socket.to_str().unwrap(),
        ),
    ]);

    let found = env
        .resolve(&format!("cri://{id}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (found.id.as_str(), found.name.as_str()),
        (id.as_str(), "web")
    );
    // The runtime answers StartContainer once its init was told to go on, which
    // may be before that init has exec'd the container's command.
    let cmdline = || std::fs::read(format!("/proc/{}/cmdline", found.pid)).unwrap();
    let started = Instant::now();
    while cmdline() != b"sleep\x00100000\x00" && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(cmdline(), b"sleep\x00100000\x00");
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
            cri.containerd.socket.display()
        )
    );
}
