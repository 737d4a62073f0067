//! Container targets: `ENGINE://NAME-OR-ID` resolved to the container's init
//! process through each engine's own API.
//!
//! | spec | engine | API |
//! |---|---|---|
//! | `docker://NAME` | Docker | Engine API on `DOCKER_HOST` or `/var/run/docker.sock` |
//! | `podman://NAME` | Podman | its Docker-compatible API on `CONTAINER_HOST`, `/run/podman/podman.sock` or `$XDG_RUNTIME_DIR/podman/podman.sock` |
//! | `containerd://[NS/]ID` | containerd | Containers.Get + Tasks.Get over gRPC on `CONTAINERD_ADDRESS`, `/run/containerd/containerd.sock` or Docker's `/var/run/docker/containerd/containerd.sock`; namespace NS, else `CONTAINERD_NAMESPACE`, else the first of `k8s.io`, `moby`, `default` that has the ID |
//! | `cri-o://ID` | CRI-O | RuntimeService.ContainerStatus (verbose, PID from `info`) on `/var/run/crio/crio.sock` |
//! | `cri://ID` | any CRI runtime | the same on `CONTAINER_RUNTIME_ENDPOINT`, else crictl's defaults: containerd, CRI-O, cri-dockerd sockets |
//! | `lxc://NAME` | LXC | its command socket |
//! | `nspawn://NAME`, `machine://NAME` | systemd-machined | D-Bus `GetMachine` → `Leader` |
//!
//! Kubernetes' `containerID` strings (`containerd://<id>`, `cri-o://<id>`,
//! `docker://<id>`) paste in unchanged.
//!
//! An engine is not trusted to answer, nor to answer briefly: one resolution
//! (every connect, write and read, and the retries) ends within one time limit,
//! [`DEFAULT_TIMEOUT`] unless [`set_timeout`] or `NSJOIN_ENGINE_TIMEOUT` says
//! otherwise, and an answer larger than a few MiB is refused.

use std::ffi::OsString;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::{Error, Result};

pub(crate) mod containerd;
pub(crate) mod cri;
pub(crate) mod docker;
pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod lxc;
pub(crate) mod nspawn;
pub(crate) mod socket;

use socket::Deadline;

/// How long one resolution may take when neither [`set_timeout`] nor
/// [`TIMEOUT_ENV`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The environment variable that sets the time limit of a resolution, in seconds
/// (`10`, `0.5`), when [`set_timeout`] has not.
pub const TIMEOUT_ENV: &str = "NSJOIN_ENGINE_TIMEOUT";

/// The limit set by [`set_timeout`], in nanoseconds; `u64::MAX`: none set.
static TIMEOUT_NANOS: AtomicU64 = AtomicU64::new(u64::MAX);

/// Sets the time limit of every later resolution in this process: connecting to
/// the engine's socket, every request and answer, and the retries, together.
/// `None` goes back to [`TIMEOUT_ENV`], else [`DEFAULT_TIMEOUT`]. A zero limit
/// makes every resolution fail at once with the engine "not answering in time".
///
/// ```
/// use std::time::Duration;
/// nsjoin::container::set_timeout(Some(Duration::from_secs(3)));
/// assert_eq!(nsjoin::container::timeout().unwrap(), Duration::from_secs(3));
/// nsjoin::container::set_timeout(None);
/// ```
pub fn set_timeout(limit: Option<Duration>) {
    let nanos = limit.map_or(u64::MAX, |l| {
        u64::try_from(l.as_nanos()).map_or(u64::MAX - 1, |n| n.min(u64::MAX - 1))
    });
    TIMEOUT_NANOS.store(nanos, Ordering::Relaxed);
}

/// The time limit a resolution gets now: the one [`set_timeout`] set, else
/// [`TIMEOUT_ENV`]'s, else [`DEFAULT_TIMEOUT`]. Fails if the variable is set to
/// something other than a positive number of seconds.
pub fn timeout() -> Result<Duration> {
    let nanos = TIMEOUT_NANOS.load(Ordering::Relaxed);
    if nanos != u64::MAX {
        return Ok(Duration::from_nanos(nanos));
    }
    match std::env::var_os(TIMEOUT_ENV).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_TIMEOUT),
        Some(value) => value
            .to_str()
            .and_then(parse_seconds)
            .ok_or_else(|| Error::Container {
                target: format!("{TIMEOUT_ENV}={}", one_line(&value.to_string_lossy())),
                why: "not a time limit in seconds (such as 10 or 0.5)".into(),
            }),
    }
}

/// A positive, finite number of seconds.
fn parse_seconds(text: &str) -> Option<Duration> {
    let text = text.trim();
    // Digits and at most one point: no signs, exponents, "inf" or "nan".
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || text.bytes().filter(|&b| b == b'.').count() > 1
    {
        return None;
    }
    let seconds: f64 = text.parse().ok()?;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
}

/// A container engine nsjoin can ask for a container's init process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// Docker Engine.
    Docker,
    /// Podman (its Docker-compatible API).
    Podman,
    /// containerd (Tasks API), in a containerd namespace such as `moby` or `k8s.io`.
    Containerd,
    /// CRI-O (CRI API on its socket).
    CriO,
    /// Any CRI runtime at `CONTAINER_RUNTIME_ENDPOINT` or crictl's default endpoints.
    Cri,
    /// LXC.
    Lxc,
    /// systemd-nspawn machines, through systemd-machined.
    Nspawn,
}

impl Engine {
    /// The scheme as written in a target spec.
    pub fn scheme(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
            Engine::Containerd => "containerd",
            Engine::CriO => "cri-o",
            Engine::Cri => "cri",
            Engine::Lxc => "lxc",
            Engine::Nspawn => "nspawn",
        }
    }

    fn from_scheme(scheme: &str) -> Option<Engine> {
        Some(match scheme {
            "docker" => Engine::Docker,
            "podman" => Engine::Podman,
            "containerd" => Engine::Containerd,
            "cri-o" | "crio" => Engine::CriO,
            "cri" => Engine::Cri,
            "lxc" => Engine::Lxc,
            "nspawn" | "machine" => Engine::Nspawn,
            _ => return None,
        })
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme())
    }
}

/// A container named by `ENGINE://NAME-OR-ID` (for containerd, `containerd://NS/ID`
/// names the containerd namespace too).
///
/// ```
/// use nsjoin::container::{ContainerRef, Engine};
/// let r: ContainerRef = "docker://redis".parse().unwrap();
/// assert_eq!((r.engine, r.name.as_str()), (Engine::Docker, "redis"));
/// let r: ContainerRef = "containerd://k8s.io/4f1e".parse().unwrap();
/// assert_eq!((r.namespace.as_deref(), r.name.as_str()), (Some("k8s.io"), "4f1e"));
/// assert!("docker://".parse::<ContainerRef>().is_err());
/// assert!("ftp://x".parse::<ContainerRef>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerRef {
    /// The engine to ask.
    pub engine: Engine,
    /// The container's name, ID or unique ID prefix, as the engine accepts it.
    pub name: String,
    /// For containerd: the containerd namespace, if given.
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
        let bad = |why: &str| Error::Container {
            target: spec.to_owned(),
            why: why.to_owned(),
        };
        let (scheme, rest) = spec
            .split_once("://")
            .ok_or_else(|| bad("expected ENGINE://NAME"))?;
        let engine = Engine::from_scheme(scheme).ok_or_else(|| {
            bad("unknown engine (expected docker, podman, containerd, cri-o, cri, lxc or nspawn)")
        })?;
        let (namespace, name) = match (engine, rest.split_once('/')) {
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

/// Asks the container's engine for it, within [`timeout`]. Errors are one line
/// and name the target: `docker://redis: no such container`.
pub fn resolve(r: &ContainerRef) -> Result<Container> {
    resolve_within(r, timeout()?)
}

/// Asks the container's engine for it, giving up after `limit` in all (connect,
/// requests, answers and retries): `docker://redis: the engine at
/// /var/run/docker.sock did not answer in time (...)`.
pub fn resolve_within(r: &ContainerRef, limit: Duration) -> Result<Container> {
    let deadline = Deadline::after(limit);
    let found = match r.engine {
        Engine::Docker | Engine::Podman => docker::resolve(r, &deadline),
        Engine::Containerd => containerd::resolve(r, &deadline),
        Engine::CriO | Engine::Cri => cri::resolve(r, &deadline),
        Engine::Lxc => lxc::resolve(r, &deadline),
        Engine::Nspawn => nspawn::resolve(r, &deadline),
    };
    // What an engine says reaches the user's terminal: one line, no escapes.
    let container = found.map_err(|why| Error::Container {
        target: r.to_string(),
        why: one_line(&why),
    })?;
    if container.pid <= 0 {
        return Err(Error::Container {
            target: r.to_string(),
            why: no_valid_pid("the engine", container.pid),
        });
    }
    Ok(container)
}

/// What to say when an engine calls a container running but gives it no usable
/// PID (0, negative, or beyond what a PID can be): the engine is wrong or lying,
/// and the container's state is unknown, so do not call it "not running".
pub(crate) fn no_valid_pid(who: &str, pid: impl fmt::Display) -> String {
    format!("{who} reported the container running but with no valid PID ({pid})")
}

/// `size` bytes as the messages say it: `16 MiB`.
pub(crate) fn mib(size: usize) -> String {
    format!("{} MiB", size >> 20)
}

/// `text` on one line, without control characters (an engine's message must not
/// move the cursor or colour the user's terminal), and not endless.
pub(crate) fn one_line(text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect();
    if text.chars().count() > 500 {
        line.push('…');
    }
    line.trim().to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_are_positive_seconds() {
        assert_eq!(parse_seconds("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_seconds(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_seconds("2."), Some(Duration::from_secs(2)));
        for bad in [
            "", "0", "0.0", "-1", "+1", "1e3", "inf", "nan", "1.2.3", "abc", "1s",
        ] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
        // Too large for a Duration.
        assert_eq!(parse_seconds(&"9".repeat(400)), None);
    }
}
