//! Which container a namespace belongs to: its lowest PID's cgroup path, read
//! through the pinned `/proc`, optionally confirmed by the container's engine.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

use crate::cgroup::{self, is_oci_id};
use crate::container::{self, ContainerRef, Engine};
use crate::{procfs, Error, Kind, NsId, Result};

use super::processes::{denied, errno_of, gone};

/// `/proc/PID/cgroup` of process `pid`, read up to 64 KiB (one line per hierarchy,
/// each a path of at most PATH_MAX), or `None` if it cannot be read.
pub fn read_cgroup(pid: i32) -> Option<String> {
    cgroup_of(pid).ok().flatten()
}

/// `/proc/PID/cgroup` under the pinned `/proc`: `None` if the process is gone or may
/// not be looked into, an error for anything else.
pub(super) fn cgroup_of(pid: i32) -> Result<Option<String>> {
    let rel = format!("{pid}/cgroup");
    match procfs::read_at(&rel, procfs::CGROUP_LIMIT)? {
        Ok(data) => Ok(Some(String::from_utf8_lossy(&data).into_owned())),
        Err(e) if gone(errno_of(&e)) || denied(errno_of(&e)) => Ok(None),
        Err(e) => Err(Error::sys(format!("cannot read /proc/{rel}"), e)),
    }
}

/// The pid namespace process `pid` is in (a stat of `/proc/PID/ns/pid` under the
/// pinned `/proc`), if it can be told.
fn pid_namespace(pid: i32) -> Option<NsId> {
    let st = procfs::stat_at(&format!("{pid}/ns/{}", Kind::Pid.name()))
        .ok()?
        .ok()?;
    Some(NsId {
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// Which container a process is in: the engine ([`crate::container::Engine`], the
/// one container targets use) and its id (or, for LXC and nspawn, its name), as its
/// cgroup path tells, and whether that engine confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ContainerId {
    /// The engine that runs it (`cri` for a Kubernetes pod whose runtime the path
    /// does not tell).
    #[serde(serialize_with = "engine_scheme")]
    pub engine: Engine,
    /// The engine's id for it (64 hex digits for OCI engines).
    pub id: String,
    /// Its name, where something looked it up.
    pub name: Option<String>,
    /// Whether the engine said this process (its pid namespace) belongs to that
    /// container. A cgroup name alone proves nothing: any process can sit in a
    /// cgroup named like a container's (every user has a delegated subtree on
    /// systemd hosts with cgroup v2). Shown with a trailing `?` when false.
    pub confirmed: bool,
}

fn engine_scheme<S: Serializer>(engine: &Engine, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(engine.scheme())
}

impl std::fmt::Display for ContainerId {
    /// [`ContainerId::target`]; unconfirmed (see [`ContainerId::confirmed`]), it
    /// ends in `?`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unconfirmed = if self.confirmed { "" } else { "?" };
        write!(f, "{}{unconfirmed}", self.target())
    }
}

impl ContainerId {
    /// The container target that enters it (what `nsjoin -t` takes):
    /// `ENGINE://NAME` where a name is known, else `ENGINE://ID`, a 64-digit ID cut
    /// to the 12 `docker ps` shows (every engine's target takes a unique prefix).
    pub fn target(&self) -> String {
        let id = match &self.name {
            Some(name) => name.as_str(),
            None if is_oci_id(&self.id) => &self.id[..12],
            None => &self.id,
        };
        format!("{}://{id}", self.engine.scheme())
    }

    /// The container a cgroup path (from `/proc/PID/cgroup`) says a process is in:
    ///
    /// | path component | engine |
    /// |---|---|
    /// | `docker-<id>.scope`, `docker/<id>` | Docker |
    /// | `libpod-<id>.scope`, `libpod-<id>` | Podman (not `libpod-conmon-`) |
    /// | `cri-containerd-<id>.scope`, `nerdctl-<id>.scope` | containerd |
    /// | `crio-<id>.scope` | CRI-O (not `crio-conmon-`) |
    /// | `kubepods…/pod<uid>/<id>` | a CRI runtime (`cri://`) |
    /// | `lxc.payload.<name>`, `lxc/<name>` | LXC |
    /// | `systemd-nspawn@<name>.service`, `machine-<name>.scope` | nspawn |
    ///
    /// The innermost match wins (Docker in Docker names the inner container).
    ///
    /// ```
    /// use nsjoin::container::Engine;
    /// use nsjoin::list::ContainerId;
    /// let id = "3f".repeat(32);
    /// let c = ContainerId::from_cgroup(&format!("/system.slice/docker-{id}.scope")).unwrap();
    /// assert_eq!((c.engine, c.id.as_str()), (Engine::Docker, id.as_str()));
    /// assert_eq!(c.to_string(), "docker://3f3f3f3f3f3f?"); // no engine confirmed it
    /// assert!(ContainerId::from_cgroup("/user.slice/user-0.slice/session-1.scope").is_none());
    /// ```
    pub fn from_cgroup(path: &str) -> Option<ContainerId> {
        crate::cgroup::container_in(path).map(|(engine, id)| ContainerId {
            engine,
            id,
            name: None,
            confirmed: false,
        })
    }
}

/// Tells which container a process belongs to. [`CgroupPaths`] reads it from the
/// cgroup path alone; an engine-aware resolver (names, stopped-state checks) can
/// take its place through [`Scan::containers`](super::Scan::containers) without `nsls` changing.
pub trait ContainerResolver: Send + Sync {
    /// The container of process `pid`, whose `/proc/PID/cgroup` reads `cgroup`.
    fn resolve(&self, pid: i32, cgroup: &str) -> Option<ContainerId>;
}

/// Containers from cgroup paths ([`ContainerId::from_cgroup`]) without asking any
/// engine: the unified (v2) line first, then each v1 hierarchy.
#[derive(Debug, Clone, Copy, Default)]
pub struct CgroupPaths;

impl ContainerResolver for CgroupPaths {
    fn resolve(&self, _pid: i32, cgroup: &str) -> Option<ContainerId> {
        cgroup::paths(cgroup).find_map(ContainerId::from_cgroup)
    }
}

/// Containers from cgroup paths ([`CgroupPaths`]), each checked with its engine: the
/// engine is asked once per container (by its ID, or name for LXC and nspawn) for
/// its init process, and a process counts as the container's only when it is in
/// that init's pid namespace. Then the engine's name for it is used too.
///
/// Where the engine names the container's init in another pid namespace, the
/// process is not that container's (any process can sit in a cgroup named like a
/// container's): no container. Where the engine cannot be asked or does not
/// answer (no engine, an unknown container, a slow engine), the cgroup's word
/// stays, unconfirmed. Each engine gets 2 s (`ENGINE_BUDGET`) (or the engine time
/// limit, if shorter) for all its answers in one scan: past it, the containers
/// not yet asked about stay unconfirmed, never an error.
#[derive(Debug, Default)]
pub struct EngineConfirmed {
    /// Per (engine, id): what the engine said (`None`: no answer).
    answers: Mutex<HashMap<(Engine, String), Option<Confirmation>>>,
    /// Per engine: when its time is up.
    deadlines: Mutex<HashMap<Engine, Instant>>,
}

/// The time one engine gets, over one scan, to answer about the containers found.
pub const ENGINE_BUDGET: Duration = Duration::from_secs(2);

/// What an engine said of a container: its init's pid namespace, its name.
type Confirmation = (NsId, String);

impl EngineConfirmed {
    /// The time left to `engine` in this scan (its clock starts at its first ask).
    fn time_left(&self, engine: Engine) -> Duration {
        let mut deadlines = self.deadlines.lock().unwrap_or_else(|e| e.into_inner());
        let end = *deadlines.entry(engine).or_insert_with(|| {
            let limit = container::timeout().map_or(ENGINE_BUDGET, |t| t.min(ENGINE_BUDGET));
            Instant::now() + limit
        });
        end.saturating_duration_since(Instant::now())
    }

    fn ask(&self, engine: Engine, id: &str) -> Option<Confirmation> {
        let limit = self.time_left(engine);
        if limit.is_zero() {
            return None;
        }
        let spec = ContainerRef {
            engine,
            name: id.to_owned(),
            namespace: None,
        };
        let answer = container::resolve_within(&spec, limit).ok()?;
        if is_oci_id(id) && answer.id != id {
            return None;
        }
        let pid_ns = pid_namespace(answer.pid)?;
        Some((pid_ns, answer.name))
    }
}

impl ContainerResolver for EngineConfirmed {
    fn resolve(&self, pid: i32, cgroup: &str) -> Option<ContainerId> {
        let mut found = CgroupPaths.resolve(pid, cgroup)?;
        let answer = {
            let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
            answers
                .entry((found.engine, found.id.clone()))
                .or_insert_with(|| self.ask(found.engine, &found.id))
                .clone()
        };
        if let Some((init_pid_ns, name)) = answer {
            if pid_namespace(pid) != Some(init_pid_ns) {
                // The engine's container is elsewhere: not this process's.
                return None;
            }
            found.confirmed = true;
            let name = name.trim_start_matches('/');
            if !name.is_empty() {
                found.name = Some(name.to_owned());
            }
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_from_cgroup_paths() {
        let id = "0123456789abcdef".repeat(4);
        let cases = [
            (format!("/system.slice/docker-{id}.scope"), Engine::Docker),
            (format!("/docker/{id}"), Engine::Docker),
            (format!("/machine.slice/libpod-{id}.scope/container"), Engine::Podman),
            (format!("/libpod_parent/libpod-{id}"), Engine::Podman),
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1_2.slice/cri-containerd-{id}.scope"),
                Engine::Containerd,
            ),
            (format!("/kubepods.slice/kubepods-pod9.slice/crio-{id}.scope"), Engine::CriO),
            (format!("/kubepods/burstable/pod1234/{id}"), Engine::Cri),
        ];
        for (path, engine) in cases {
            let c = ContainerId::from_cgroup(&path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!((c.engine, c.id.as_str()), (engine, id.as_str()), "{path}");
        }
        for path in [
            format!("/machine.slice/libpod-conmon-{id}.scope"),
            format!("/system.slice/crio-conmon-{id}.scope"),
            "/system.slice/docker.service".to_owned(),
            "/".to_owned(),
        ] {
            assert_eq!(ContainerId::from_cgroup(&path), None, "{path}");
        }
        let lxc = ContainerId::from_cgroup("/lxc.payload.web/init.scope").unwrap();
        assert_eq!((lxc.engine, lxc.id.as_str()), (Engine::Lxc, "web"));
        let n =
            ContainerId::from_cgroup("/machine.slice/systemd-nspawn@my\\x2dbox.service").unwrap();
        assert_eq!((n.engine, n.id.as_str()), (Engine::Nspawn, "my-box"));
        assert_eq!(
            ContainerId::from_cgroup(&format!("/docker/{id}/docker/{}", "f".repeat(64)))
                .unwrap()
                .id,
            "f".repeat(64)
        );
    }

    #[test]
    fn cgroup_files_prefer_the_unified_line() {
        let id = "a".repeat(64);
        let text = format!("12:pids:/\n1:name=systemd:/system.slice/docker-{id}.scope\n0::/\n");
        assert_eq!(
            CgroupPaths.resolve(1, &text).unwrap().engine,
            Engine::Docker
        );
        assert!(CgroupPaths.resolve(1, "0::/init.scope\n").is_none());
    }
}
