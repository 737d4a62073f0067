//! `podman://` targets against a real Podman: its API service on
//! /run/podman/podman.sock and the busybox image `nsjoin-busybox`, both made by
//! scripts/podman.sh. Without them the tests say "skipped: needs podman", or fail
//! with NSJOIN_REQUIRE_PODMAN=1 (CI).
//!
//! CONTAINER_HOST's test passes the socket as [`nsjoin::container::Settings`]: no
//! test here changes the process's environment.

use nsjoin_test_support as common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use nsjoin::container::Engine;
use nsjoin::{Kind, KindSet, Target};

use common::ns_ino;

const IMAGE: &str = "nsjoin-busybox";
const SOCKET: &str = "/run/podman/podman.sock";

fn podman() -> Command {
    Command::new("podman")
}

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the API service answers and the image is there.
fn podman_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        quiet(podman().args(["--remote", "--url", &format!("unix://{SOCKET}"), "version"]))
            && quiet(podman().args(["image", "exists", IMAGE]))
    })
}

fn ready_or_skip(test: &str) -> bool {
    if podman_ready() {
        return true;
    }
    if std::env::var("NSJOIN_REQUIRE_PODMAN").as_deref() == Ok("1") {
        panic!("{test} needs podman (scripts/podman.sh) and NSJOIN_REQUIRE_PODMAN=1 is set");
    }
    eprintln!("skipped {test}: needs podman (run scripts/podman.sh)");
    false
}

/// A Podman container of the busybox image running `sleep 100000` (or only
/// created, not started), removed on drop.
struct PodContainer {
    name: String,
    id: String,
    /// Its init process as the host sees it; 0 when not started.
    pid: i32,
}

impl PodContainer {
    fn new(start: bool) -> PodContainer {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "nsjoin-pod-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        // No CAP_SYS_RESOURCE here: podman's default rlimits would be above the
        // hard limit, and runc would fail to set them.
        let out = podman()
            .args([if start { "run" } else { "create" }])
            .args(if start { &["-d"][..] } else { &[][..] })
            .args(["--name", &name])
            .args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ])
            .args([IMAGE, "sleep", "100000"])
            .output()
            .expect("cannot run podman");
        let mut container = PodContainer {
            name,
            id: String::new(),
            pid: 0,
        };
        assert!(
            out.status.success(),
            "podman run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let inspect = |format: &str| {
            let out = podman()
                .args(["inspect", "-f", format, &container.name])
                .output()
                .unwrap();
            assert!(out.status.success(), "podman inspect {format} failed");
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        container.id = inspect("{{.Id}}");
        container.pid = inspect("{{.State.Pid}}").parse().unwrap();
        assert_eq!(
            start,
            container.pid > 0,
            "{}: pid {}",
            container.name,
            container.pid
        );
        container
    }
}

impl Drop for PodContainer {
    fn drop(&mut self) {
        quiet(podman().args(["rm", "-f", "-t", "0", &self.name]));
    }
}

/// Opens `podman://spec` and checks every namespace against the container's.
fn assert_opens(spec: &str, c: &PodContainer) {
    let kinds = KindSet::from_iter([Kind::Mnt, Kind::Uts, Kind::Ipc, Kind::Net, Kind::Pid]);
    let handles = Target::container(&format!("podman://{spec}"))
        .unwrap()
        .open(kinds)
        .unwrap_or_else(|e| panic!("podman://{spec}: {e}"));
    assert_eq!(handles.pid(), Some(c.pid));
    for kind in kinds.iter() {
        let ns = handles.get(kind).unwrap();
        assert_eq!(ns.id().ino, ns_ino(c.pid, kind.name()), "{spec}: {kind}");
    }
    let container = handles.container().unwrap();
    assert_eq!(container.engine, Engine::Podman);
    assert_eq!(container.id, c.id);
    assert_eq!(container.name, c.name);
    // Podman reports the image's configured environment (PATH=/bin, from the import).
    let env = container.env.as_ref().unwrap();
    assert!(
        env.iter().any(|(k, v)| k == "PATH" && v == "/bin"),
        "{env:?}"
    );
}

fn open_error(spec: &str) -> String {
    Target::container(spec)
        .unwrap()
        .open(KindSet::from_iter([Kind::Net]))
        .unwrap_err()
        .to_string()
}

#[test]
fn podman_container_by_name_id_and_prefix() {
    if !common::root_or_skip("podman_container_by_name_id_and_prefix") {
        return;
    }
    let _shared = common::shared();
    if !ready_or_skip("podman_container_by_name_id_and_prefix") {
        return;
    }
    let c = PodContainer::new(true);
    assert_opens(&c.name, &c);
    assert_opens(&c.id, &c);
    assert_opens(&c.id[..12], &c);
}

#[test]
fn stopped_podman_container_is_not_running() {
    if !common::root_or_skip("stopped_podman_container_is_not_running") {
        return;
    }
    let _shared = common::shared();
    if !ready_or_skip("stopped_podman_container_is_not_running") {
        return;
    }
    let created = PodContainer::new(false);
    assert_eq!(
        open_error(&format!("podman://{}", created.name)),
        format!(
            "podman://{}: container is not running (status: created)",
            created.name
        )
    );
    let stopped = PodContainer::new(true);
    assert!(quiet(podman().args(["stop", "-t", "0", &stopped.name])));
    assert_eq!(
        open_error(&format!("podman://{}", stopped.name)),
        format!(
            "podman://{}: container is not running (status: exited)",
            stopped.name
        )
    );
}

#[test]
fn unknown_podman_container() {
    if !common::root_or_skip("unknown_podman_container") {
        return;
    }
    let _shared = common::shared();
    if !ready_or_skip("unknown_podman_container") {
        return;
    }
    let spec = format!("podman://nsjoin-no-such-{}", std::process::id());
    assert_eq!(open_error(&spec), format!("{spec}: no such container"));
}

#[test]
fn container_host_names_the_socket() {
    if !common::root_or_skip("container_host_names_the_socket") {
        return;
    }
    // What CONTAINER_HOST sets, passed as settings.
    let _shared = common::shared();
    let with_host = |host: &str| {
        let mut settings = nsjoin::container::Settings::default();
        settings.podman_host = Some(host.to_owned());
        Target::container("podman://anything")
            .unwrap()
            .open_with(KindSet::from_iter([Kind::Net]), &settings)
            .unwrap_err()
            .to_string()
    };
    let missing = with_host("unix:///nonexistent/podman.sock");
    let remote = with_host("tcp://127.0.0.1:8080");
    assert_eq!(
        missing,
        "podman://anything: cannot connect to /nonexistent/podman.sock: \
         No such file or directory (is the engine running?)"
    );
    assert!(
        remote
            .starts_with("podman://anything: CONTAINER_HOST=tcp://127.0.0.1:8080 is not supported"),
        "{remote}"
    );
}

/// What `nsls -c` asks Podman: its own list (with each container's PID), once;
/// the container's init is in that PID's pid namespace, so it is named
/// `podman://NAME`. A process in a cgroup named like it but in another pid
/// namespace is not it.
#[test]
fn a_scan_names_podman_containers_from_one_list() {
    if !common::root_or_skip("a_scan_names_podman_containers_from_one_list") {
        return;
    }
    let _shared = common::shared();
    if !ready_or_skip("a_scan_names_podman_containers_from_one_list") {
        return;
    }
    let c = PodContainer::new(true);
    let mut settings = nsjoin::container::Settings::default();
    settings.podman_host = Some(format!("unix://{SOCKET}"));
    let listed = nsjoin::container::list_with(Engine::Podman, &settings).unwrap();
    let ours = listed.iter().find(|l| l.id == c.id).expect("listed");
    assert_eq!(
        (ours.name.as_deref(), ours.pid),
        (Some(c.name.as_str()), Some(c.pid))
    );

    let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", c.pid)).unwrap();
    let path = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::").filter(|p| p.contains(&c.id)))
        .or_else(|| {
            cgroup
                .lines()
                .find_map(|l| l.splitn(3, ':').nth(2).filter(|p| p.contains(&c.id)))
        })
        .expect("the container's cgroup names it")
        .to_owned();
    let impostor = common::CgroupSandbox::at(path.trim_start_matches('/'));
    let resolver = nsjoin::EngineConfirmed::with_settings(settings);
    let listing = nsjoin::Scan::new()
        .kinds(KindSet::from(Kind::Pid))
        .containers(Some(std::sync::Arc::new(resolver)))
        .run()
        .unwrap();
    let row = listing.get(ns_ino(c.pid, "pid")).unwrap();
    let found = row.container.as_ref().expect("the container's row");
    assert!(found.confirmed, "{found:?}");
    assert_eq!(found.target(), format!("podman://{}", c.name));
    let spoof = listing.get(ns_ino(impostor.sandbox.pid, "pid")).unwrap();
    assert_eq!(spoof.container, None, "{spoof:?}");
}
