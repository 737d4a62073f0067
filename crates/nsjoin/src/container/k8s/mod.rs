//! Kubernetes pods by name: `k8s://[NAMESPACE/]POD[/CONTAINER]` and the pod
//! sandbox, `k8s://[NAMESPACE/]POD/`, resolved through the node's CRI runtime.
//!
//! * Spelling: one part is a pod in namespace `default`; two parts are
//!   `NAMESPACE/POD`; three are `NAMESPACE/POD/CONTAINER`. A trailing `/` after the
//!   pod (`k8s://kube-system/coredns-x/`) names the pod sandbox, whose process (the
//!   "pause" process) holds the pod's net, ipc and uts namespaces.
//! * The runtime is the one `cri://` asks (`CONTAINER_RUNTIME_ENDPOINT`, else
//!   crictl's default endpoints, else the same sockets under `/host`, where
//!   `kubectl debug node/NODE` mounts the node's root).
//! * The kubelet labels every sandbox and container it makes with
//!   `io.kubernetes.pod.namespace` and `io.kubernetes.pod.name`, and containers with
//!   `io.kubernetes.container.name`: `ListPodSandbox` and `ListContainers` are asked
//!   with those labels as selectors, so a pod's objects come in two calls whatever
//!   else the node runs.
//! * A pod has one sandbox that is ready (older attempts stay, not ready, until the
//!   kubelet removes them); a container name may have several attempts, of which
//!   at most one runs. The container's PID then comes from its verbose
//!   `ContainerStatus`, the sandbox's from `PodSandboxStatus`, as `cri://` takes it.

use std::collections::{BTreeMap, HashMap};

use super::grpc::{self, CallError, Client};
use super::socket::Deadline;
use super::{cri, Container, ContainerError, ContainerRef, Engine, Listed, Settings};

mod messages;
use messages::*;

/// The namespace of a pod spec that names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The kubelet's labels on CRI sandboxes and containers.
pub(crate) const LABEL_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub(crate) const LABEL_POD: &str = "io.kubernetes.pod.name";
pub(crate) const LABEL_CONTAINER: &str = "io.kubernetes.container.name";

/// What a `k8s://` spec names, past the namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PodPart<'a> {
    /// The pod's only running container.
    Only,
    /// The container of this name.
    Container(&'a str),
    /// The pod sandbox.
    Sandbox,
}

/// Splits what follows `k8s://` into the Kubernetes namespace and the name kept in
/// [`ContainerRef::name`]: `POD`, `POD/CONTAINER` or `POD/` (the sandbox).
pub(crate) fn parse(rest: &str) -> Result<(String, String), &'static str> {
    let (body, sandbox) = match rest.strip_suffix('/') {
        Some(body) => (body, true),
        None => (rest, false),
    };
    let parts: Vec<&str> = body.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(if body.is_empty() {
            "no pod name given (expected k8s://[NAMESPACE/]POD[/CONTAINER])"
        } else {
            "empty part (expected k8s://[NAMESPACE/]POD[/CONTAINER], or k8s://NAMESPACE/POD/ for the pod sandbox)"
        });
    }
    let (namespace, name) = match (parts.as_slice(), sandbox) {
        ([pod], false) => (DEFAULT_NAMESPACE, (*pod).to_owned()),
        ([pod], true) => (DEFAULT_NAMESPACE, format!("{pod}/")),
        ([ns, pod], false) => (*ns, (*pod).to_owned()),
        ([ns, pod], true) => (*ns, format!("{pod}/")),
        ([ns, pod, container], false) => (*ns, format!("{pod}/{container}")),
        _ => {
            return Err(
                "too many parts (expected k8s://[NAMESPACE/]POD[/CONTAINER], or k8s://NAMESPACE/POD/ for the pod sandbox)",
            )
        }
    };
    Ok((namespace.to_owned(), name))
}

/// The pod and what of it [`ContainerRef::name`] (as [`parse`] made it) names.
pub(crate) fn split_name(name: &str) -> (&str, PodPart<'_>) {
    match name.split_once('/') {
        None => (name, PodPart::Only),
        Some((pod, "")) => (pod, PodPart::Sandbox),
        Some((pod, container)) => (pod, PodPart::Container(container)),
    }
}

/// Calls RuntimeService `method`, on `runtime.v1` and, where the runtime serves
/// only the older API, on `runtime.v1alpha2` (the messages are the same).
fn call<Req: prost::Message, Resp: prost::Message + Default>(
    client: &mut Client,
    method: &str,
    request: &Req,
) -> Result<Resp, ContainerError> {
    let socket = client.socket().to_owned();
    let v1 = format!("/runtime.v1.RuntimeService/{method}");
    let answer = match client.call::<_, Resp>(&v1, &[], request) {
        Err(CallError::Status { code, .. }) if code == grpc::UNIMPLEMENTED => {
            let old = format!("/runtime.v1alpha2.RuntimeService/{method}");
            client.call::<_, Resp>(&old, &[], request)
        }
        other => other,
    };
    answer.map_err(|e| match e {
        CallError::Status { code, .. } if code == grpc::UNIMPLEMENTED => {
            ContainerError::NoCriApi { socket }
        }
        e => e.into_error("the CRI runtime", &socket),
    })
}

/// One unary call of the CRI's RuntimeService (`method`, such as `RunPodSandbox`)
/// on the runtime at `socket`, within `limit`, through nsjoin's own gRPC client.
/// Not part of the API: the tests make their pods with it.
#[doc(hidden)]
pub fn runtime_call<Req: prost::Message, Resp: prost::Message + Default>(
    socket: &std::path::Path,
    method: &str,
    request: &Req,
    limit: std::time::Duration,
) -> Result<Resp, ContainerError> {
    let deadline = Deadline::after(limit);
    let mut client = Client::connect(socket, &deadline)?;
    call(&mut client, method, request)
}

pub(crate) fn resolve(
    r: &ContainerRef,
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Container, ContainerError> {
    let namespace = r.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let (pod, part) = split_name(&r.name);
    let mut client = cri::connect_cri(settings, deadline)?;
    let at = client.socket().to_owned();
    let pod_labels = HashMap::from([
        (LABEL_NAMESPACE.to_owned(), namespace.to_owned()),
        (LABEL_POD.to_owned(), pod.to_owned()),
    ]);
    let sandboxes: ListPodSandboxResponse = call(
        &mut client,
        "ListPodSandbox",
        &ListPodSandboxRequest {
            filter: Some(PodSandboxFilter {
                label_selector: pod_labels.clone(),
            }),
        },
    )?;
    let sandbox = pick_sandbox(namespace, pod, sandboxes.items, &at)?;
    if part == PodPart::Sandbox {
        return sandbox_process(&mut client, namespace, pod, &sandbox.id);
    }
    let listed: ListContainersResponse = call(
        &mut client,
        "ListContainers",
        &ListContainersRequest {
            filter: Some(ContainerFilter {
                pod_sandbox_id: sandbox.id.clone(),
                label_selector: pod_labels,
            }),
        },
    )?;
    let chosen = pick_container(namespace, pod, part, listed.containers)?;
    let name = chosen.name().to_owned();
    let mut found = cri::container_status(&mut client, Engine::K8s, &chosen.id).map_err(|why| {
        ContainerError::InPod {
            container: name.clone(),
            source: Box::new(why),
        }
    })?;
    found.name = name;
    Ok(found)
}

/// The running containers and ready pod sandboxes of a CRI runtime (CRI-O's for
/// `cri-o`, else the one `cri://` asks): one `ListContainers` and one
/// `ListPodSandbox`, unfiltered, over one connection. Those the kubelet labelled
/// are named as `k8s://` names them (`NAMESPACE/POD/CONTAINER`, and
/// `NAMESPACE/POD/` for a sandbox), the others by ID. The CRI tells no PIDs.
pub(crate) fn list(
    engine: Engine,
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Vec<Listed>, ContainerError> {
    let mut client = match engine {
        Engine::CriO => Client::connect(std::path::Path::new(cri::CRIO_SOCKET), deadline)?,
        _ => cri::connect_cri(settings, deadline)?,
    };
    let containers: ListContainersResponse = call(
        &mut client,
        "ListContainers",
        &ListContainersRequest::default(),
    )?;
    let sandboxes: ListPodSandboxResponse = call(
        &mut client,
        "ListPodSandbox",
        &ListPodSandboxRequest::default(),
    )?;
    let unlabelled = |id: String| Listed {
        engine,
        id,
        name: None,
        pid: None,
    };
    let mut listed: Vec<Listed> = containers
        .containers
        .into_iter()
        .filter(|c| c.state == CONTAINER_RUNNING)
        .map(|c| match pod_name(&c.labels, Some(c.name())) {
            Some(name) => Listed {
                engine: Engine::K8s,
                id: c.id,
                name: Some(name),
                pid: None,
            },
            None => unlabelled(c.id),
        })
        .collect();
    listed.extend(
        sandboxes
            .items
            .into_iter()
            .filter(|s| s.state == SANDBOX_READY)
            .map(|s| match pod_name(&s.labels, None) {
                Some(name) => Listed {
                    engine: Engine::K8s,
                    id: s.id,
                    name: Some(name),
                    pid: None,
                },
                None => unlabelled(s.id),
            }),
    );
    Ok(listed)
}

/// `NAMESPACE/POD/CONTAINER` (or `NAMESPACE/POD/` for a sandbox, `container`
/// `None`) from the kubelet's labels, where they make a `k8s://` spec that
/// reads back as the same pod and container.
fn pod_name(labels: &HashMap<String, String>, container: Option<&str>) -> Option<String> {
    if container == Some("") {
        return None;
    }
    let namespace = labels.get(LABEL_NAMESPACE)?;
    let pod = labels.get(LABEL_POD)?;
    let name = format!("{namespace}/{pod}/{}", container.unwrap_or(""));
    let spec: ContainerRef = format!("k8s://{name}").parse().ok()?;
    let expected = match container {
        Some(c) => format!("{pod}/{c}"),
        None => format!("{pod}/"),
    };
    (spec.namespace.as_deref() == Some(namespace.as_str()) && spec.name == expected).then_some(name)
}

/// The pod's one ready sandbox, or why there is none.
fn pick_sandbox(
    namespace: &str,
    pod: &str,
    mut items: Vec<PodSandbox>,
    at: &std::path::Path,
) -> Result<PodSandbox, ContainerError> {
    if items.is_empty() {
        return Err(ContainerError::NoPod {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            socket: at.to_owned(),
        });
    }
    items.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    let ready: Vec<&PodSandbox> = items.iter().filter(|s| s.state == SANDBOX_READY).collect();
    match ready.as_slice() {
        [] => Err(ContainerError::PodNotRunning {
            pod: format!("{namespace}/{pod}"),
            why: format!(
                "none of its {} sandbox{} is ready",
                items.len(),
                if items.len() == 1 { "" } else { "es" }
            ),
        }),
        [one] => Ok((*one).clone()),
        many => {
            let ids: Vec<String> = many
                .iter()
                .map(|s| {
                    let uid = s.metadata.as_ref().map_or("", |m| m.uid.as_str());
                    format!("{} (uid {uid})", short(&s.id))
                })
                .collect();
            Err(ContainerError::PodSandboxes {
                pod: format!("{namespace}/{pod}"),
                sandboxes: ids,
            })
        }
    }
}

/// The container a spec names among the pod's, or why there is none.
fn pick_container(
    namespace: &str,
    pod: &str,
    part: PodPart<'_>,
    containers: Vec<CriContainer>,
) -> Result<CriContainer, ContainerError> {
    // Per name: the running attempt, else the latest one.
    let mut by_name: BTreeMap<String, CriContainer> = BTreeMap::new();
    for c in containers {
        let better = match by_name.get(c.name()) {
            None => true,
            Some(old) => {
                let key =
                    |c: &CriContainer| (c.state == CONTAINER_RUNNING, c.attempt(), c.created_at);
                key(&c) > key(old)
            }
        };
        if better {
            by_name.insert(c.name().to_owned(), c);
        }
    }
    let names: Vec<String> = by_name.keys().cloned().collect();
    let full = format!("{namespace}/{pod}");
    match part {
        PodPart::Container(name) => {
            by_name
                .remove(name)
                .ok_or_else(|| ContainerError::NoPodContainer {
                    pod: full,
                    name: name.to_owned(),
                    containers: names,
                })
        }
        _ => {
            let running: Vec<String> = by_name
                .iter()
                .filter(|(_, c)| c.state == CONTAINER_RUNNING)
                .map(|(n, _)| n.clone())
                .collect();
            match running.as_slice() {
                [] => Err(ContainerError::NoRunningContainer {
                    pod: full,
                    containers: names,
                }),
                [one] => Ok(by_name.remove(one).expect("a listed name")),
                _ => Err(ContainerError::PodContainers { pod: full, running }),
            }
        }
    }
}

/// For the fuzz target: `message` read as a `ListPodSandboxResponse` and as a
/// `ListContainersResponse` (each where it decodes), each through the choice
/// [`resolve`] makes with it. The errors as the user sees them
/// ([`crate::Error::Container`]: runtime-given names in them may hold anything,
/// the line shown may not).
pub(crate) fn pick_from_answers(message: &[u8]) -> Vec<Result<String, String>> {
    use prost::Message;
    let shown = |why: ContainerError| {
        crate::Error::Container {
            target: "k8s://ns/pod".to_owned(),
            why,
        }
        .to_string()
    };
    let mut out = Vec::new();
    let at = std::path::Path::new("/run/fuzz.sock");
    if let Ok(list) = ListPodSandboxResponse::decode(message) {
        let picked = pick_sandbox("ns", "pod", list.items, at);
        out.push(picked.map(|s| s.id).map_err(shown));
    }
    if let Ok(list) = ListContainersResponse::decode(message) {
        for part in [PodPart::Only, PodPart::Sandbox, PodPart::Container("c")] {
            let picked = pick_container("ns", "pod", part, list.containers.clone());
            out.push(picked.map(|c| c.id).map_err(shown));
        }
    }
    out
}

/// The sandbox's process, from its verbose status.
fn sandbox_process(
    client: &mut Client,
    namespace: &str,
    pod: &str,
    id: &str,
) -> Result<Container, ContainerError> {
    let answer: PodSandboxStatusResponse = call(
        client,
        "PodSandboxStatus",
        &PodSandboxStatusRequest {
            pod_sandbox_id: id.to_owned(),
            verbose: true,
        },
    )?;
    let status = answer.status.ok_or_else(|| {
        ContainerError::bad("the runtime answered PodSandboxStatus without a status")
    })?;
    if status.state != SANDBOX_READY {
        return Err(ContainerError::PodNotRunning {
            pod: format!("{namespace}/{pod}"),
            why: "its sandbox is not ready".into(),
        });
    }
    let info = answer.info.get("info").ok_or_else(|| {
        ContainerError::bad(
            "the runtime's verbose sandbox status has no \"info\" entry, so it does not tell the sandbox's PID",
        )
    })?;
    let info: SandboxInfo = serde_json::from_str(info).map_err(|e| {
        ContainerError::bad(format!(
            "the runtime's verbose sandbox \"info\" is not the expected JSON ({e})"
        ))
    })?;
    let pid = cri::verbose_pid(info.pid, "the runtime's verbose sandbox status has no PID")?;
    Ok(Container {
        engine: Engine::K8s,
        id: if status.id.is_empty() {
            id.to_owned()
        } else {
            status.id
        },
        name: pod.to_owned(),
        pid,
        env: None,
    })
}

/// The first 13 characters of an ID, as crictl shows them.
fn short(id: &str) -> &str {
    id.get(..13).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn specs_name_namespace_pod_and_container() {
        let ok = |s: &str| parse(s).map(|(ns, name)| format!("{ns} {name}"));
        assert_eq!(ok("web").unwrap(), "default web");
        assert_eq!(ok("prod/web").unwrap(), "prod web");
        assert_eq!(ok("prod/web/nginx").unwrap(), "prod web/nginx");
        assert_eq!(ok("prod/web/").unwrap(), "prod web/");
        assert_eq!(ok("web/").unwrap(), "default web/");
        for bad in ["", "/", "a//b", "/web", "a/b/c/d", "a/b/c/", "a/b//"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(split_name("web"), ("web", PodPart::Only));
        assert_eq!(split_name("web/"), ("web", PodPart::Sandbox));
        assert_eq!(split_name("web/c"), ("web", PodPart::Container("c")));
    }

    #[test]
    fn listed_names_are_k8s_specs_that_read_back() {
        let labels = |ns: &str, pod: &str| {
            HashMap::from([
                (LABEL_NAMESPACE.to_owned(), ns.to_owned()),
                (LABEL_POD.to_owned(), pod.to_owned()),
            ])
        };
        let l = labels("prod", "web");
        assert_eq!(pod_name(&l, Some("nginx")).unwrap(), "prod/web/nginx");
        assert_eq!(pod_name(&l, None).unwrap(), "prod/web/");
        assert_eq!(pod_name(&l, Some("")), None);
        assert_eq!(pod_name(&l, Some("a/b")), None);
        assert_eq!(pod_name(&labels("prod", "w b"), None), None);
        assert_eq!(pod_name(&labels("", "web"), None), None);
        assert_eq!(pod_name(&HashMap::new(), Some("c")), None);
    }

    fn sandbox(id: &str, state: i32, created_at: i64) -> PodSandbox {
        PodSandbox {
            id: id.into(),
            metadata: Some(PodSandboxMetadata {
                uid: format!("uid-{id}"),
                ..Default::default()
            }),
            state,
            created_at,
            labels: HashMap::new(),
        }
    }

    #[test]
    fn one_ready_sandbox_is_the_pod() {
        assert_eq!(
            pick_sandbox("ns", "web", vec![], Path::new("/run/x.sock"))
                .unwrap_err()
                .to_string(),
            "no pod web in namespace ns (asked the CRI runtime at /run/x.sock)"
        );
        let old = sandbox("old", 1, 1);
        let new = sandbox("new", 0, 2);
        assert_eq!(
            pick_sandbox("ns", "web", vec![old.clone(), new], Path::new("/x"))
                .unwrap()
                .id,
            "new"
        );
        assert_eq!(
            pick_sandbox("ns", "web", vec![old], Path::new("/x"))
                .unwrap_err()
                .to_string(),
            "pod ns/web is not running (none of its 1 sandbox is ready)"
        );
        let e = pick_sandbox(
            "ns",
            "web",
            vec![sandbox("a", 0, 1), sandbox("b", 0, 2)],
            Path::new("/x"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "ambiguous: pod ns/web has 2 ready sandboxes: b (uid uid-b), a (uid uid-a)"
        );
    }

    fn container(id: &str, name: &str, state: i32, attempt: u32) -> CriContainer {
        CriContainer {
            id: id.into(),
            metadata: Some(ContainerMetadata {
                name: name.into(),
                attempt,
            }),
            state,
            created_at: attempt.into(),
            labels: HashMap::from([(LABEL_CONTAINER.to_owned(), name.to_owned())]),
        }
    }

    #[test]
    fn containers_are_picked_by_name_and_state() {
        let pick = |part, list| {
            pick_container("ns", "web", part, list)
                .map(|c| c.id)
                .map_err(|e| e.to_string())
        };
        // The running attempt wins over an exited one, whatever the order.
        let restarted = vec![container("a1", "app", 1, 1), container("a0", "app", 2, 0)];
        assert_eq!(pick(PodPart::Only, restarted.clone()).unwrap(), "a1");
        assert_eq!(pick(PodPart::Container("app"), restarted).unwrap(), "a1");
        // A stopped container is still picked by name: its status says why it
        // cannot be entered.
        let two = vec![container("a", "app", 1, 0), container("s", "side", 2, 0)];
        assert_eq!(pick(PodPart::Container("side"), two.clone()).unwrap(), "s");
        assert_eq!(pick(PodPart::Only, two.clone()).unwrap(), "a");
        assert_eq!(
            pick(PodPart::Container("db"), two).unwrap_err(),
            "pod ns/web has no container db (its containers: app, side)"
        );
        let both = vec![container("a", "app", 1, 0), container("s", "side", 1, 0)];
        assert_eq!(
            pick(PodPart::Only, both).unwrap_err(),
            "ambiguous: pod ns/web runs 2 containers, name one: k8s://ns/web/app, k8s://ns/web/side"
        );
        assert_eq!(
            pick(PodPart::Only, vec![]).unwrap_err(),
            "pod ns/web has no running container (its containers: none; k8s://ns/web/ is the pod sandbox)"
        );
    }
}
