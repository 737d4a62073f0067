//! A Kubernetes node's runtime, for the `k8s://` tests: a private containerd with
//! its CRI plugin (Debian's containerd), its state in a temporary directory, pods
//! on a bridge network of Debian's CNI plugins, and pod sandboxes and containers
//! made through the CRI itself (RunPodSandbox, CreateContainer, StartContainer)
//! with the labels the kubelet puts on them. The calls go through nsjoin's own
//! gRPC client; the messages carry only the fields the tests set.
//!
//! Used by `crates/nsjoin/tests/containers_k8s.rs` and, through `#[path]`, by the
//! CLI's `tests/k8s.rs`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use nsjoin_test_support::{self as common, TempDir};

/// The test image (scripts/docker.sh).
pub const IMAGE: &str = common::IMAGE;
/// The CNI plugins of Debian's containernetworking-plugins.
const CNI_BIN: &str = "/usr/lib/cni";

#[path = "../engine_fakes/containerd.rs"]
mod containerd;
#[path = "../engine_fakes/pb.rs"]
pub mod pb;

pub use containerd::{skip, Containerd, PAUSE_IMAGE};

/// A pod made through the CRI.
pub struct Pod {
    pub sandbox: String,
    /// Container name → ID, in the order given.
    pub containers: Vec<(String, String)>,
}

impl Pod {
    pub fn container(&self, name: &str) -> &str {
        &self
            .containers
            .iter()
            .find(|(n, _)| n == name)
            .expect("a container of the pod")
            .1
    }
}

/// The node: containerd with its CRI plugin on a socket of its own. Every pod is
/// removed, the daemon stopped and the bridge deleted on drop.
pub struct Node {
    containerd: Containerd,
    bridge: String,
    pods: Vec<String>,
    /// The cgroup parents made for pods (`kubepods/besteffort/pod<uid>`), removed
    /// from every hierarchy on drop.
    cgroup_parents: Vec<String>,
}

impl Node {
    pub fn start_or_skip(test: &str) -> Option<Node> {
        if !common::root_or_skip(test) {
            return None;
        }
        let tools = "containerd, ctr and the CNI plugins (Debian's containerd and containernetworking-plugins)";
        if !Containerd::ready_or_skip(test, tools) {
            return None;
        }
        if !Path::new(CNI_BIN).join("bridge").exists() {
            skip(test, tools);
            return None;
        }

        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let me = std::process::id() as usize;
        // At most 15 characters, and one per node.
        let bridge = format!("nsjk8s{}", (me * 8 + n) % 100_000_000);
        let subnet = format!("10.{}.{}.0/24", 200 + n % 50, me % 250);
        let dir = TempDir::new("k8s");
        let d = dir.path().display().to_string();
        std::fs::create_dir(dir.path().join("cni-conf")).unwrap();
        std::fs::write(
            dir.path().join("cni-conf/10-nsjoin.conflist"),
            format!(
                r#"{{
  "cniVersion": "0.4.0",
  "name": "{bridge}",
  "plugins": [
    {{
      "type": "bridge",
      "bridge": "{bridge}",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {{
        "type": "host-local",
        "ranges": [[{{"subnet": "{subnet}"}}]],
        "dataDir": "{d}/ipam"
      }}
    }}
  ]
}}
"#
            ),
        )
        .unwrap();
        Some(Node {
            containerd: Containerd::start(dir, Some(CNI_BIN)),
            bridge,
            pods: Vec::new(),
            cgroup_parents: Vec::new(),
        })
    }

    /// The runtime's socket.
    pub fn socket(&self) -> &Path {
        &self.containerd.socket
    }

    /// `unix://SOCKET`, for CONTAINER_RUNTIME_ENDPOINT.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Engine settings that name this node's runtime (what
    /// CONTAINER_RUNTIME_ENDPOINT sets).
    pub fn settings(&self) -> nsjoin::container::Settings {
        let mut settings = nsjoin::container::Settings::default();
        settings.cri_endpoint = Some(self.endpoint());
        settings
    }

    pub fn log(&self) -> String {
        self.containerd.log()
    }

    /// A CRI call that must succeed; containerd's log comes with a failure.
    pub fn call<Req: prost::Message, Resp: prost::Message + Default>(
        &self,
        method: &str,
        request: &Req,
    ) -> Resp {
        self.containerd.call(method, request)
    }

    /// A pod `namespace/name` on the bridge network with hostname `hostname`, each
    /// container running `command` from the test image in a pid namespace of its
    /// own (the kubelet's default), labelled as the kubelet labels them.
    pub fn run_pod(
        &mut self,
        namespace: &str,
        name: &str,
        hostname: &str,
        containers: &[(&str, &[&str])],
    ) -> Pod {
        self.run_pod_with(namespace, name, hostname, containers, false)
    }

    /// [`Node::run_pod`], in the cgroup the kubelet (cgroupfs driver) gives a
    /// best-effort pod: `/kubepods/besteffort/pod<uid>/<id>` for each of its
    /// containers and its sandbox.
    pub fn run_kubelet_pod(
        &mut self,
        namespace: &str,
        name: &str,
        hostname: &str,
        containers: &[(&str, &[&str])],
    ) -> Pod {
        self.run_pod_with(namespace, name, hostname, containers, true)
    }

    fn run_pod_with(
        &mut self,
        namespace: &str,
        name: &str,
        hostname: &str,
        containers: &[(&str, &[&str])],
        kubepods: bool,
    ) -> Pod {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let uid = format!(
            "uid-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let cgroup_parent = if kubepods {
            let parent = format!("/kubepods/besteffort/pod{uid}");
            self.cgroup_parents.push(parent.clone());
            parent
        } else {
            String::new()
        };
        let labels = HashMap::from([
            (
                "io.kubernetes.pod.namespace".to_owned(),
                namespace.to_owned(),
            ),
            ("io.kubernetes.pod.name".to_owned(), name.to_owned()),
            ("io.kubernetes.pod.uid".to_owned(), uid.clone()),
        ]);
        // Pod network, pid namespace per container, pod ipc.
        let options = pb::NamespaceOption {
            network: 0,
            pid: 1,
            ipc: 0,
        };
        let pod_config = pb::PodSandboxConfig {
            metadata: Some(pb::PodSandboxMetadata {
                name: name.into(),
                uid,
                namespace: namespace.into(),
                attempt: 0,
            }),
            hostname: hostname.into(),
            labels: labels.clone(),
            linux: Some(pb::LinuxPodSandboxConfig {
                cgroup_parent,
                security_context: Some(pb::LinuxSandboxSecurityContext {
                    namespace_options: Some(options.clone()),
                }),
            }),
        };
        let sandbox: pb::PodSandboxId = self.call(
            "RunPodSandbox",
            &pb::RunPodSandboxRequest {
                config: Some(pod_config.clone()),
            },
        );
        let sandbox = sandbox.pod_sandbox_id;
        self.pods.push(sandbox.clone());
        let mut made = Vec::new();
        for (container, command) in containers {
            let mut labels = labels.clone();
            labels.insert(
                "io.kubernetes.container.name".to_owned(),
                (*container).to_owned(),
            );
            let created: pb::ContainerId = self.call(
                "CreateContainer",
                &pb::CreateContainerRequest {
                    pod_sandbox_id: sandbox.clone(),
                    config: Some(pb::ContainerConfig {
                        metadata: Some(pb::ContainerMetadata {
                            name: (*container).into(),
                            attempt: 0,
                        }),
                        image: Some(pb::ImageSpec {
                            image: PAUSE_IMAGE.into(),
                        }),
                        command: command.iter().map(|a| (*a).to_owned()).collect(),
                        labels,
                        linux: Some(pb::LinuxContainerConfig {
                            security_context: Some(pb::LinuxContainerSecurityContext {
                                namespace_options: Some(options.clone()),
                            }),
                        }),
                    }),
                    sandbox_config: Some(pod_config.clone()),
                },
            );
            let _: pb::Empty = self.call(
                "StartContainer",
                &pb::ContainerId {
                    container_id: created.container_id.clone(),
                },
            );
            made.push(((*container).to_owned(), created.container_id));
        }
        Pod {
            sandbox,
            containers: made,
        }
    }

    /// Stops a container (SIGKILL at once).
    pub fn stop_container(&self, id: &str) {
        let _: pb::Empty = self.call(
            "StopContainer",
            &pb::StopContainerRequest {
                container_id: id.to_owned(),
                timeout: 0,
            },
        );
    }

    /// Stops a pod: its containers and its sandbox (the sandbox stays, not ready).
    pub fn stop_pod(&self, sandbox: &str) {
        let _: pb::Empty = self.call(
            "StopPodSandbox",
            &pb::PodSandboxId {
                pod_sandbox_id: sandbox.to_owned(),
            },
        );
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.containerd.remove_pods(std::mem::take(&mut self.pods));
        self.containerd.stop();
        // The pods' parents, then theirs where nothing else is in them, in every
        // hierarchy (cgroup v2's root, v1's directories under it).
        let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
        if let Ok(dirs) = std::fs::read_dir("/sys/fs/cgroup") {
            roots.extend(dirs.flatten().map(|d| d.path()));
        }
        for parent in std::mem::take(&mut self.cgroup_parents) {
            for root in &roots {
                let mut dir = root.join(parent.trim_start_matches('/'));
                while dir != *root && std::fs::remove_dir(&dir).is_ok() {
                    dir.pop();
                }
            }
        }
        let _ = Command::new("ip")
            .args(["link", "delete", &self.bridge])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
