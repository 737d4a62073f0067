//! Container targets: `ENGINE://NAME-OR-ID` resolved to the container's init
//! process through each engine's own API.
//!
//! | spec | engine | API |
//! |---|---|---|
//! | `docker://NAME` | Docker | Engine API on `DOCKER_HOST` or `/var/run/docker.sock` |
//! | `podman://NAME` | Podman | its Docker-compatible API on `CONTAINER_HOST`, `/run/podman/podman.sock` or `$XDG_RUNTIME_DIR/podman/podman.sock` |
//! | `containerd://[NS/]ID` | containerd | Containers.Get + Tasks.Get over gRPC on `CONTAINERD_ADDRESS`, `/run/containerd/containerd.sock` or Docker's `/var/run/docker/containerd/containerd.sock`; namespace NS, else `CONTAINERD_NAMESPACE`, else the first of `k8s.io`, `moby`, `default` that has the ID |
//! | `cri-o://ID` | CRI-O | RuntimeService.ContainerStatus (verbose, PID from `info`) on `/var/run/crio/crio.sock` |
//! | `cri://ID` | any CRI runtime | the same on `CONTAINER_RUNTIME_ENDPOINT`, else crictl's defaults: containerd, CRI-O, cri-dockerd sockets, else those under `/host` |
//! | `k8s://[NAMESPACE/]POD[/CONTAINER]`, `k8s://[NAMESPACE/]POD/` (the pod sandbox) | the node's CRI runtime, as for `cri://` | ListPodSandbox + ListContainers by the kubelet's labels, then the PID as for `cri://` (below) |
//! | `lxc://NAME` | LXC | its command socket |
//! | `nspawn://NAME`, `machine://NAME` | systemd-machined | D-Bus `GetMachine` → `Leader` |
//!
//! ## Kubernetes pods
//!
//! `k8s://web` is the only running container of pod `web` in namespace `default`,
//! `k8s://prod/web` that of pod `web` in namespace `prod`, `k8s://prod/web/nginx` its
//! container `nginx`, and `k8s://prod/web/` (a trailing `/`) the pod sandbox: the
//! pause process, whose net, ipc and uts namespaces every container of the pod
//! shares. With two parts the first is always the namespace. The sockets are those
//! of `cri://`, and the same sockets under `/host` (where `kubectl debug node/NODE`
//! mounts the node's root filesystem) when none of those is there.
//!
//! Kubernetes' `containerID` strings (`containerd://<id>`, `cri-o://<id>`,
//! `docker://<id>`) paste in unchanged.
//!
//! An engine is not trusted to answer, nor to answer briefly: one resolution
//! (every connect, write and read, and the retries) ends within one time limit,
//! [`DEFAULT_TIMEOUT`] unless [`set_timeout`] or `NSJOIN_ENGINE_TIMEOUT` says
//! otherwise, and an answer larger than a few MiB is refused.
//!
//! Where the engines are and how long they get is a [`Settings`] value:
//! [`Settings::from_env`] reads the variables above once, and a caller may build or
//! change one and pass it to [`resolve_with`] or [`crate::Target::open_with`].
//! Failures are a [`ContainerError`] in [`Error::Container`].

use std::ffi::OsString;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::{Error, Result};

pub(crate) mod containerd;
pub(crate) mod cri;
pub(crate) mod dbus;
pub(crate) mod docker;
pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod k8s;
pub(crate) mod lxc;
pub(crate) mod nspawn;
mod settings;
pub(crate) mod socket;

pub(crate) use crate::error::{mib, one_line};
pub use crate::error::{ContainerError, Engine, Peer, Reason};
#[doc(hidden)]
pub use k8s::runtime_call;
pub use settings::{set_timeout, timeout, Settings, DEFAULT_TIMEOUT, TIMEOUT_ENV};
use socket::Deadline;

/// A container named by `ENGINE://NAME-OR-ID` (for containerd, `containerd://NS/ID`
/// names the containerd namespace too; for Kubernetes, `k8s://[NAMESPACE/]POD[/CONTAINER]`
/// keeps the namespace in `namespace` and `POD`, `POD/CONTAINER` or `POD/`, the
/// pod sandbox, in `name`).
///
/// ```
/// use nsjoin::container::{ContainerRef, Engine};
/// let r: ContainerRef = "docker://redis".parse().unwrap();
/// assert_eq!((r.engine, r.name.as_str()), (Engine::Docker, "redis"));
/// let r: ContainerRef = "containerd://k8s.io/4f1e".parse().unwrap();
/// assert_eq!((r.namespace.as_deref(), r.name.as_str()), (Some("k8s.io"), "4f1e"));
/// let r: ContainerRef = "k8s://web".parse().unwrap();
/// assert_eq!((r.namespace.as_deref(), r.name.as_str()), (Some("default"), "web"));
/// assert_eq!(r.to_string(), "k8s://default/web");
/// let r: ContainerRef = "k8s://prod/web/nginx".parse().unwrap();
/// assert_eq!((r.namespace.as_deref(), r.name.as_str()), (Some("prod"), "web/nginx"));
/// assert!("docker://".parse::<ContainerRef>().is_err());
/// assert!("ftp://x".parse::<ContainerRef>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerRef {
    /// The engine to ask.
    pub engine: Engine,
    /// The container's name, ID or unique ID prefix, as the engine accepts it.
    pub name: String,
    /// For containerd: the containerd namespace, if given. For Kubernetes: the
    /// pod's namespace (`default` when the spec names none).
    pub namespace: Option<String>,
}

impl ContainerRef {
    /// Whether `s` looks like a container spec (`SCHEME://...`) rather than a path.
    pub fn is_spec(s: &str) -> bool {
        s.split_once("://")
            .is_some_and(|(scheme, _)| !scheme.is_empty() && !scheme.contains('/'))
    }
}

impl FromStr for ContainerRef {
    type Err = Error;

    fn from_str(spec: &str) -> Result<ContainerRef> {
        let bad = |why: &'static str| Error::Container {
            target: spec.to_owned(),
            why: ContainerError::BadSpec { why },
        };
        let (scheme, rest) = spec
            .split_once("://")
            .ok_or_else(|| bad("expected ENGINE://NAME"))?;
        let engine = Engine::from_scheme(scheme).ok_or_else(|| {
            bad("unknown engine (expected docker, podman, containerd, cri-o, cri, k8s, lxc or nspawn)")
        })?;
        let (namespace, name) = match (engine, rest.split_once('/')) {
            (Engine::K8s, _) => {
                let (ns, name) = k8s::parse(rest).map_err(bad)?;
                if (ns.clone() + &name)
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace())
                {
                    return Err(bad(
                        "a pod spec cannot contain spaces or control characters",
                    ));
                }
                return Ok(ContainerRef {
                    engine,
                    name,
                    namespace: Some(ns),
                });
            }
            (Engine::Containerd, Some((ns, id))) => (Some(ns.to_owned()), id),
            (_, Some(_)) => return Err(bad("a container name cannot contain '/'")),
            (_, None) => (None, rest),
        };
        if name.is_empty() || namespace.as_deref() == Some("") {
            return Err(bad("no container name given"));
        }
        if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad(
                "a container name cannot contain spaces or control characters",
            ));
        }
        Ok(ContainerRef {
            engine,
            name: name.to_owned(),
            namespace,
        })
    }
}

impl fmt::Display for ContainerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}://{ns}/{}", self.engine, self.name),
            None => write!(f, "{}://{}", self.engine, self.name),
        }
    }
}

/// What an engine says about a running container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// The engine that answered.
    pub engine: Engine,
    /// The full container ID.
    pub id: String,
    /// Its name, where the engine has one.
    pub name: String,
    /// The host PID of its init process.
    pub pid: i32,
    /// Its configured environment, where the engine reports it.
    pub env: Option<Vec<(OsString, OsString)>>,
}

/// Asks the container's engine for it, with the settings of the environment
/// ([`Settings::from_env`]). Errors are one line and name the target:
/// `docker://redis: no such container`.
pub fn resolve(r: &ContainerRef) -> Result<Container> {
    resolve_with(r, &Settings::from_env()?)
}

/// Asks the container's engine for it, with the settings of the environment but
/// giving up after `limit` in all (connect, requests, answers and retries):
/// `docker://redis: the engine at /var/run/docker.sock did not answer in time (...)`.
pub fn resolve_within(r: &ContainerRef, limit: Duration) -> Result<Container> {
    let settings = Settings {
        timeout: limit,
        ..Settings::engines_from(&|name| std::env::var_os(name))
    };
    resolve_with(r, &settings)
}

/// Asks the container's engine, where `settings` say it is, giving up after
/// `settings.timeout`.
pub fn resolve_with(r: &ContainerRef, settings: &Settings) -> Result<Container> {
    let deadline = Deadline::after(settings.timeout);
    let found = match r.engine {
        Engine::Docker | Engine::Podman => docker::resolve(r, settings, &deadline),
        Engine::Containerd => containerd::resolve(r, settings, &deadline),
        Engine::CriO | Engine::Cri => cri::resolve(r, settings, &deadline),
        Engine::K8s => k8s::resolve(r, settings, &deadline),
        Engine::Lxc => lxc::resolve(r, settings, &deadline),
        Engine::Nspawn => nspawn::resolve(r, settings, &deadline),
    };
    let container = found.map_err(|why| Error::Container {
        target: r.to_string(),
        why,
    })?;
    if container.pid <= 0 {
        return Err(Error::Container {
            target: r.to_string(),
            why: no_valid_pid("the engine", container.pid),
        });
    }
    Ok(container)
}

/// A running container as its engine's list names it: what `nsls` asks each
/// engine once per run for, instead of one question per container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The scheme of the target that names it: the engine asked, or
    /// [`Engine::K8s`] for a container or pod sandbox the kubelet labelled.
    pub engine: Engine,
    /// Its full ID (for nspawn, the machine's name): what its cgroup path names.
    pub id: String,
    /// Its name as its owner gives it, which makes a target (`ENGINE://NAME`):
    /// `redis`, `NAMESPACE/POD/CONTAINER`, `NAMESPACE/POD/` for a pod sandbox.
    /// `None` where the ID is its only name (containerd, an unlabelled CRI one).
    pub name: Option<String>,
    /// The host PID of its init process, where the list tells it (Podman's,
    /// containerd's).
    pub pid: Option<i32>,
}

/// Asks `engine`, where the environment says it is, for the containers it runs,
/// in one list call (Docker and Podman after the version handshake, `GET
/// /_ping`), giving up after `limit` in all: `GET /containers/json` (Docker),
/// `GET /libpod/containers/json` (Podman), `Tasks.List` in each containerd
/// namespace searched (containerd), `ListContainers` and `ListPodSandbox` (a CRI
/// runtime: `cri-o`, `cri`, `k8s`), `ListMachines` (nspawn). LXC has no such
/// call (each container has a monitor of its own): an error.
pub fn list_within(engine: Engine, limit: Duration) -> Result<Vec<Listed>> {
    let settings = Settings {
        timeout: limit,
        ..Settings::engines_from(&|name| std::env::var_os(name))
    };
    list_with(engine, &settings)
}

/// [`list_within`], where `settings` say the engine is, within `settings.timeout`.
pub fn list_with(engine: Engine, settings: &Settings) -> Result<Vec<Listed>> {
    let deadline = Deadline::after(settings.timeout);
    let listed = match engine {
        Engine::Docker | Engine::Podman => docker::list(engine, settings, &deadline),
        Engine::Containerd => containerd::list(settings, &deadline),
        Engine::CriO | Engine::Cri | Engine::K8s => k8s::list(engine, settings, &deadline),
        Engine::Nspawn => nspawn::list(settings, &deadline),
        Engine::Lxc => Err(ContainerError::other(
            "LXC has no list of containers to ask (each has a monitor of its own)",
        )),
    };
    listed.map_err(|why| Error::Container {
        target: format!("{}://", engine.scheme()),
        why,
    })
}

/// The CRI runtime's socket that a `cri://` or `k8s://` resolution with `settings`
/// would ask now: `settings.cri_endpoint` (`CONTAINER_RUNTIME_ENDPOINT`), else the
/// first of crictl's default sockets that accepts a connection, else the first of
/// those under `/host` (the node's root in a `kubectl debug node/NODE` pod). For
/// messages such as `nsjoin -v`'s.
pub fn cri_socket(settings: &Settings) -> Result<std::path::PathBuf> {
    let deadline = Deadline::after(settings.timeout);
    cri::find_cri(settings, &deadline)
        .map(|(path, _)| path)
        .map_err(|why| Error::Container {
            target: "cri://".into(),
            why,
        })
}

/// What to say when an engine calls a container running but gives it no usable
/// PID (0, negative, or beyond what a PID can be): the engine is wrong or lying,
/// and the container's state is unknown, so do not call it "not running".
pub(crate) fn no_valid_pid(who: &'static str, pid: impl fmt::Display) -> ContainerError {
    ContainerError::NoValidPid {
        who,
        pid: pid.to_string(),
    }
}

/// The part of an OCI runtime spec nsjoin reads (containerd's container spec, a
/// CRI runtime's verbose `runtimeSpec`): the process's environment.
#[derive(serde::Deserialize)]
pub(crate) struct OciSpec {
    #[serde(default)]
    process: Option<OciProcess>,
}

#[derive(serde::Deserialize)]
struct OciProcess {
    #[serde(default)]
    env: Vec<String>,
}

impl OciSpec {
    /// The environment as pairs, if the spec has a process.
    pub(crate) fn env(self) -> Option<Vec<(OsString, OsString)>> {
        self.process
            .map(|p| env_pairs(p.env.iter().map(String::as_str)))
    }
}

/// Splits `KEY=VALUE` strings into pairs, dropping entries without `=`.
pub(crate) fn env_pairs<'a>(vars: impl IntoIterator<Item = &'a str>) -> Vec<(OsString, OsString)> {
    vars.into_iter()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}
