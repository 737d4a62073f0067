//! Which container a namespace belongs to: its lowest PID's cgroup path, read
//! through the pinned `/proc`, optionally confirmed by the container's engine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

use crate::cgroup::{self, is_oci_id};
use crate::container::{self, ContainerRef, Engine, Listed, Settings};
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
    /// does not tell); `k8s` once a CRI runtime's list named it by its pod.
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

/// Containers from cgroup paths ([`CgroupPaths`]), each checked with its engine,
/// and named as its owner names it (`docker://redis`, `podman://web`,
/// `k8s://NAMESPACE/POD/CONTAINER`, `k8s://NAMESPACE/POD/` for a pod sandbox,
/// `nspawn://NAME`, `lxc://NAME`).
///
/// Each engine that a cgroup path names is asked once per scan for the
/// containers it runs ([`container::list_within`]: one list call), the first time
/// one of its containers is met; engines no path names are never asked. What a
/// process's cgroup path names is then:
///
/// * **confirmed** (named as the engine names it; a container of a Kubernetes
///   pod by its pod, from the CRI runtime's list) when the engine runs that
///   container and something beyond the cgroup's name says the process is in it:
///   where the list gives the container's init PID (Podman, containerd), the
///   process is in that init's pid namespace; where it does not (Docker, a CRI
///   runtime, machined), every cgroup hierarchy of the process puts it in the
///   cgroup the engine itself makes for that container, at a place only root can
///   make (the rules are in SECURITY.md);
/// * **not that container** (no container) when the engine runs it but the check
///   above fails: any process can sit in a cgroup named like a container's, and
///   the name would lead `nsjoin -t` to the real one;
/// * **unconfirmed** (its ID from the cgroup path) when the engine does not run
///   it or cannot be asked (none there, an error, out of time): never an error.
///
/// LXC has no list call (each container has a monitor socket of its own, and the
/// cgroup's `lxc.payload.NAME` already is the name): each LXC container is asked
/// for its init, once, and confirmed by its pid namespace as above.
///
/// Each engine gets 2 s (`ENGINE_BUDGET`) or the engine time limit, if
/// shorter, for its list (for LXC, for all its answers in one scan).
#[derive(Debug, Default)]
pub struct EngineConfirmed {
    /// Where the engines are (`None`: where the environment says, when asked).
    settings: Option<Settings>,
    /// Per engine: its running containers by ID (`None`: no answer). Each engine's
    /// list is asked for once, under a lock of its own: a thread waiting for one
    /// engine's answer does not hold up a thread that needs another's.
    lists: Mutex<HashMap<Engine, Arc<OnceLock<EngineList>>>>,
    /// Per LXC container: what its monitor said (`None`: no answer).
    lxc: Mutex<HashMap<String, Option<Confirmation>>>,
    /// When LXC's time is up.
    lxc_deadline: Mutex<Option<Instant>>,
}

/// The time one engine gets, over one scan, to answer about the containers found.
pub const ENGINE_BUDGET: Duration = Duration::from_secs(2);

/// What an engine said of a container: its init's pid namespace, its name.
type Confirmation = (NsId, String);

/// An engine's running containers by ID (`None`: it gave no list).
type EngineList = Option<HashMap<String, Listed>>;

impl EngineConfirmed {
    /// Asks the engines where `settings` say they are (the default asks where
    /// the environment says), each within 2 s (`ENGINE_BUDGET`) or `settings.timeout`,
    /// if shorter.
    pub fn with_settings(settings: Settings) -> EngineConfirmed {
        EngineConfirmed {
            settings: Some(settings),
            ..EngineConfirmed::default()
        }
    }

    /// The settings of one engine's questions: its time, and where it is.
    fn settings(&self) -> Settings {
        match &self.settings {
            Some(settings) => Settings {
                timeout: settings.timeout.min(ENGINE_BUDGET),
                ..settings.clone()
            },
            None => Settings {
                timeout: container::timeout().map_or(ENGINE_BUDGET, |t| t.min(ENGINE_BUDGET)),
                ..Settings::engines_from(&|name| std::env::var_os(name))
            },
        }
    }

    /// What `engine`'s list says of container `id` (its list asked for on first
    /// use): `Err(())` when the engine gave no list, `Ok(None)` when it does not
    /// run `id`.
    fn listed(&self, engine: Engine, id: &str) -> std::result::Result<Option<Listed>, ()> {
        let cell = Arc::clone(
            self.lists
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(engine)
                .or_default(),
        );
        let list = cell.get_or_init(|| {
            let listed = container::list_with(engine, &self.settings()).ok()?;
            Some(listed.into_iter().map(|l| (l.id.clone(), l)).collect())
        });
        match list {
            Some(list) => Ok(list.get(id).cloned()),
            None => Err(()),
        }
    }

    /// The time left to LXC in this scan (its clock starts at its first ask).
    fn lxc_time_left(&self, limit: Duration) -> Duration {
        let mut deadline = self.lxc_deadline.lock().unwrap_or_else(|e| e.into_inner());
        let end = *deadline.get_or_insert_with(|| Instant::now() + limit);
        end.saturating_duration_since(Instant::now())
    }

    fn ask_lxc(&self, name: &str) -> Option<Confirmation> {
        let mut settings = self.settings();
        settings.timeout = self.lxc_time_left(settings.timeout);
        if settings.timeout.is_zero() {
            return None;
        }
        let spec = ContainerRef {
            engine: Engine::Lxc,
            name: name.to_owned(),
            namespace: None,
        };
        let answer = container::resolve_with(&spec, &settings).ok()?;
        let pid_ns = pid_namespace(answer.pid)?;
        Some((pid_ns, answer.name))
    }

    fn resolve_lxc(&self, pid: i32, mut found: ContainerId) -> Option<ContainerId> {
        let answer = {
            let mut answers = self.lxc.lock().unwrap_or_else(|e| e.into_inner());
            answers
                .entry(found.id.clone())
                .or_insert_with(|| self.ask_lxc(&found.id))
                .clone()
        };
        if let Some((init_pid_ns, name)) = answer {
            if pid_namespace(pid) != Some(init_pid_ns) {
                // The engine's container is elsewhere: not this process's.
                return None;
            }
            found.confirmed = true;
            if !name.is_empty() {
                found.name = Some(name);
            }
        }
        Some(found)
    }
}

impl ContainerResolver for EngineConfirmed {
    fn resolve(&self, pid: i32, cgroup: &str) -> Option<ContainerId> {
        let mut found = CgroupPaths.resolve(pid, cgroup)?;
        if found.engine == Engine::Lxc {
            return self.resolve_lxc(pid, found);
        }
        let Ok(Some(listed)) = self.listed(found.engine, &found.id) else {
            // No answer, or a container the engine does not run: the cgroup's word.
            return Some(found);
        };
        let inside = match listed.pid {
            Some(init) => match (pid_namespace(init), pid_namespace(pid)) {
                (Some(theirs), Some(ours)) => theirs == ours,
                // The init is gone (or cannot be looked at): nothing to tell by.
                _ => return Some(found),
            },
            None => in_engines_own_cgroup(cgroup, found.engine, &found.id),
        };
        if !inside {
            // The engine's container is elsewhere: not this process's.
            return None;
        }
        found.confirmed = true;
        found.engine = listed.engine;
        found.name = listed.name;
        if found.engine == Engine::Containerd && in_kubepods(cgroup) {
            // A pod's container run by containerd's CRI plugin: named by its pod,
            // from the CRI runtime's list (asked once too).
            if let Ok(Some(pod)) = self.listed(Engine::Cri, &found.id) {
                if pod.engine == Engine::K8s {
                    found.engine = pod.engine;
                    found.name = pod.name;
                }
            }
        }
        Some(found)
    }
}

/// Whether a hierarchy puts the process under a `kubepods` tree at its root,
/// where the kubelet puts its pods.
fn in_kubepods(cgroup: &str) -> bool {
    cgroup::paths(cgroup).any(|path| {
        path.split('/')
            .find(|p| !p.is_empty())
            .is_some_and(|first| first.starts_with("kubepods"))
    })
}

/// Whether every hierarchy's line of `cgroup` (a `/proc/PID/cgroup` text) puts
/// the process in the cgroup `engine` makes for container `id`, at a place only
/// root can make: directly under the hierarchy's root (`/docker/ID`,
/// `/system.slice/docker-ID.scope`, `/machine.slice/machine-NAME.scope`,
/// `/machine.slice/systemd-nspawn@NAME.service`), or under a `kubepods` tree at
/// the root for a CRI runtime's; or in a cgroup below that one (the container's
/// own). A user's delegated subtree (`/user.slice/...`) is none of these, and a
/// process moved into the container's cgroup of one hierarchy only is not in it.
///
/// Every hierarchy, for the engines whose runtime puts a container's processes
/// in each one (Docker's, the CRI's); for nspawn, those systemd keeps its units
/// in (the unified one, v1's `name=systemd`): systemd may leave a machine's
/// processes higher up in a v1 controller's hierarchy.
fn in_engines_own_cgroup(cgroup: &str, engine: Engine, id: &str) -> bool {
    let mut lines = 0;
    let systemds = |(hierarchy, controllers, _): &(&str, &str, &str)| {
        *hierarchy == "0" || *controllers == "name=systemd"
    };
    let every: Vec<(&str, &str, &str)> = cgroup
        .lines()
        .filter_map(|l| {
            let mut fields = l.splitn(3, ':');
            Some((fields.next()?, fields.next()?, fields.next()?))
        })
        .collect();
    let checked = every
        .iter()
        .filter(|line| engine != Engine::Nspawn || systemds(line))
        .map(|(_, _, path)| *path);
    for path in checked {
        lines += 1;
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let Some(first) = parts.first() else {
            return false;
        };
        let (root_only, depth) = match engine {
            Engine::Docker => (*first == "docker" || *first == "system.slice", 2),
            Engine::Nspawn => (*first == "machine.slice", 2),
            Engine::Cri | Engine::CriO | Engine::Containerd => {
                (first.starts_with("kubepods"), parts.len())
            }
            _ => (false, 0),
        };
        // The container's cgroup: the shortest leading part of the path that names one.
        let named =
            (1..=depth.min(parts.len())).find_map(|n| cgroup::container_in(&parts[..n].join("/")));
        if !root_only || named != Some((engine, id.to_owned())) {
            return false;
        }
    }
    lines > 0
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
    fn only_the_engines_own_cgroup_in_every_hierarchy_confirms() {
        let id = "0123456789abcdef".repeat(4);
        let own = |text: &str, engine| in_engines_own_cgroup(text, engine, &id);
        for text in [
            format!("0::/system.slice/docker-{id}.scope\n"),
            format!("0::/docker/{id}\n"),
            format!("0::/docker/{id}/inner\n"),
            format!("2:pids:/docker/{id}\n1:cpu:/docker/{id}\n0::/docker/{id}\n"),
        ] {
            assert!(own(&text, Engine::Docker), "{text}");
        }
        for text in [
            // A user's delegated subtree, a service's, another container's, none.
            format!("0::/user.slice/user-1000.slice/user@1000.service/docker/{id}\n"),
            format!("0::/system.slice/svc.service/docker-{id}.scope\n"),
            format!("0::/docker/{}\n", "f".repeat(64)),
            format!("0::/docker/{id}-x\n"),
            "0::/\n".to_owned(),
            String::new(),
            // Moved into the container's cgroup of one hierarchy only.
            format!("2:pids:/docker/{id}\n1:cpu:/\n0::/\n"),
        ] {
            assert!(!own(&text, Engine::Docker), "{text}");
        }
        let kube = format!("0::/kubepods/besteffort/pod1234/{id}\n");
        assert!(own(&kube, Engine::Cri));
        assert!(!own(
            &format!("0::/user.slice/kubepods/pod1/{id}\n"),
            Engine::Cri
        ));
        let scope = format!("0::/kubepods.slice/kubepods-pod1.slice/crio-{id}.scope\n");
        assert!(own(&scope, Engine::CriO));
        assert!(!own(&scope, Engine::Docker));
        let hybrid = "2:cpu:/\n1:name=systemd:/machine.slice/machine-box.scope\n0::/machine.slice/machine-box.scope\n";
        assert!(in_engines_own_cgroup(hybrid, Engine::Nspawn, "box"));
        let one = "2:cpu:/\n1:name=systemd:/\n0::/machine.slice/machine-box.scope\n";
        assert!(!in_engines_own_cgroup(one, Engine::Nspawn, "box"));
        let machine = "0::/machine.slice/machine-my\\x2dbox.scope\n";
        assert!(in_engines_own_cgroup(machine, Engine::Nspawn, "my-box"));
        assert!(!in_engines_own_cgroup(
            "0::/user.slice/machine.slice/machine-box.scope\n",
            Engine::Nspawn,
            "box"
        ));
    }

    impl EngineConfirmed {
        /// As if `engine` had answered `list` already.
        fn answer(&self, engine: Engine, list: EngineList) {
            let answered = Arc::new(OnceLock::from(list));
            self.lists.lock().unwrap().insert(engine, answered);
        }
    }

    /// A resolver whose engines already answered: Docker with `docker`, Podman
    /// with `podman` (`None`: no answer).
    fn answered(docker: Option<Vec<Listed>>, podman: Option<Vec<Listed>>) -> EngineConfirmed {
        let resolver = EngineConfirmed::default();
        let by_id = |list: Vec<Listed>| list.into_iter().map(|l| (l.id.clone(), l)).collect();
        resolver.answer(Engine::Docker, docker.map(by_id));
        resolver.answer(Engine::Podman, podman.map(by_id));
        resolver
    }

    fn listed(engine: Engine, id: &str, name: &str, pid: Option<i32>) -> Listed {
        Listed {
            engine,
            id: id.to_owned(),
            name: Some(name.to_owned()),
            pid,
        }
    }

    #[test]
    fn what_the_lists_confirm_refute_or_leave_to_the_cgroup() {
        let me = std::process::id() as i32;
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let running = vec![listed(Engine::Docker, &a, "redis", None)];
        let resolver = answered(Some(running), None);
        let at_home = format!("2:pids:/docker/{a}\n1:cpu:/docker/{a}\n0::/docker/{a}\n");
        let c = resolver.resolve(me, &at_home).unwrap();
        assert!(c.confirmed);
        assert_eq!(
            (c.target(), c.to_string()),
            ("docker://redis".into(), "docker://redis".into())
        );
        // Named like the running container, somewhere a user can make: not it.
        let delegated = format!("0::/user.slice/user-1000.slice/user@1000.service/docker/{a}\n");
        assert_eq!(resolver.resolve(me, &delegated), None);
        let one_hierarchy = format!("2:pids:/docker/{a}\n1:cpu:/\n0::/\n");
        assert_eq!(resolver.resolve(me, &one_hierarchy), None);
        // A container the engine does not run: the cgroup's ID, unconfirmed.
        let unknown = resolver.resolve(me, &format!("0::/docker/{b}\n")).unwrap();
        assert!(!unknown.confirmed);
        assert_eq!(unknown.target(), format!("docker://{}", &b[..12]));
        assert_eq!(unknown.to_string(), format!("docker://{}?", &b[..12]));
        // An engine that did not answer: the same.
        let silent = answered(None, None);
        let c = silent.resolve(me, &at_home).unwrap();
        assert_eq!(
            (c.confirmed, c.to_string()),
            (false, format!("docker://{}?", &a[..12]))
        );
        // Where the list names the init, its pid namespace decides, wherever the
        // cgroup is.
        let podman = vec![listed(Engine::Podman, &a, "web", Some(me))];
        let resolver = answered(None, Some(podman));
        let c = resolver
            .resolve(me, &format!("0::/user.slice/libpod-{a}.scope\n"))
            .unwrap();
        assert_eq!((c.confirmed, c.target()), (true, "podman://web".into()));
        // containerd's CRI plugin's container of a pod: the pid namespace of the
        // task's init confirms it, the CRI runtime's labels name it.
        let resolver = answered(None, None);
        let task = listed(Engine::Containerd, &a, "", Some(me));
        let pod = listed(Engine::K8s, &a, "shop/cart/app", None);
        resolver.answer(Engine::Containerd, Some(HashMap::from([(a.clone(), task)])));
        resolver.answer(Engine::Cri, Some(HashMap::from([(a.clone(), pod)])));
        let scope = format!("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-{a}.scope\n");
        let c = resolver.resolve(me, &scope).unwrap();
        assert_eq!(
            (c.confirmed, c.target()),
            (true, "k8s://shop/cart/app".into())
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
