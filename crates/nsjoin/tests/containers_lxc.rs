//! `lxc://` targets against real LXC containers: Debian's lxc (installed by
//! scripts/lxc-nspawn.sh), `lxc-create -t busybox` in an lxcpath of the test's own
//! (a temporary directory, given to nsjoin as its settings' lxcpath, which is what
//! LXC_PATH sets), no network, started
//! with `lxc-start` and asked through the monitor's command socket. Without LXC
//! the tests say "skipped: needs lxc", or fail with NSJOIN_REQUIRE_LXC=1 (CI).
//!
//! The lxcpath is passed in [`Settings`], not through the process's environment,
//! so the tests here run alongside the others (`common::shared()`).

use nsjoin_test_support as common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use nsjoin::container::{Engine, Settings};
use nsjoin::{Kind, KindSet, Target};

use common::{ns_ino, TempDir};

const TEMPLATE: &str = "/usr/share/lxc/templates/lxc-busybox";

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ready_or_skip(test: &str) -> bool {
    let ready = Path::new(TEMPLATE).exists()
        && quiet(Command::new("lxc-start").arg("--version"))
        && quiet(Command::new("busybox").arg("true"));
    if ready {
        return true;
    }
    if std::env::var("NSJOIN_REQUIRE_LXC").as_deref() == Ok("1") {
        panic!("{test} needs lxc (scripts/lxc-nspawn.sh) and NSJOIN_REQUIRE_LXC=1 is set");
    }
    eprintln!("skipped {test}: needs lxc (run scripts/lxc-nspawn.sh)");
    false
}

/// An LXC container (busybox template, no network) in `lxcpath`, started or only
/// created; stopped and destroyed on drop.
struct LxcContainer {
    lxcpath: PathBuf,
    name: String,
    /// Its init process as the host sees it; 0 when not started.
    pid: i32,
}

impl LxcContainer {
    fn new(lxcpath: &Path, start: bool) -> LxcContainer {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "nsj-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let conf = lxcpath.join(format!("{name}.conf"));
        // No network (no lxcbr0 here), no AppArmor profile to load.
        std::fs::write(
            &conf,
            "lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n",
        )
        .unwrap();
        let mut container = LxcContainer {
            lxcpath: lxcpath.to_owned(),
            name,
            pid: 0,
        };
        let lxc = |tool: &str, args: &[&str]| {
            let out = Command::new(tool)
                .arg("-P")
                .arg(lxcpath)
                .args(["-n", &container.name])
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
            assert!(
                out.status.success(),
                "{tool} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        lxc(
            "lxc-create",
            &["-t", "busybox", "-f", conf.to_str().unwrap()],
        );
        if start {
            lxc("lxc-start", &[]);
            container.pid = lxc("lxc-info", &["-p", "-H"]).trim().parse().unwrap();
        }
        container
    }
}

impl Drop for LxcContainer {
    fn drop(&mut self) {
        let lxc = |tool: &str, args: &[&str]| {
            quiet(
                Command::new(tool)
                    .arg("-P")
                    .arg(&self.lxcpath)
                    .args(["-n", &self.name])
                    .args(args),
            )
        };
        if self.pid > 0 {
            lxc("lxc-stop", &["-k"]);
        }
        lxc("lxc-destroy", &[]);
    }
}

/// Settings that send nsjoin to the lxcpath `lxcpath` (as LXC_PATH would).
fn in_lxcpath(lxcpath: &Path) -> Settings {
    let mut settings = Settings::default();
    settings.lxc_path = Some(lxcpath.to_owned());
    settings
}

fn assert_opens(c: &LxcContainer) {
    let kinds = KindSet::from_iter([Kind::Mnt, Kind::Uts, Kind::Ipc, Kind::Net, Kind::Pid]);
    let spec = format!("lxc://{}", c.name);
    let handles = Target::container(&spec)
        .unwrap()
        .open_with(kinds, &in_lxcpath(&c.lxcpath))
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    assert_eq!(handles.pid(), Some(c.pid));
    for kind in kinds.iter() {
        let ns = handles.get(kind).unwrap();
        assert_eq!(ns.id().ino, ns_ino(c.pid, kind.name()), "{spec}: {kind}");
    }
    let container = handles.container().unwrap();
    assert_eq!(
        (
            container.engine,
            container.name.as_str(),
            container.env.is_none()
        ),
        (Engine::Lxc, c.name.as_str(), true)
    );
}

fn open_error(lxcpath: &Path, spec: &str) -> String {
    Target::container(spec)
        .unwrap()
        .open_with(KindSet::from_iter([Kind::Net]), &in_lxcpath(lxcpath))
        .unwrap_err()
        .to_string()
}

#[test]
fn lxc_container_by_name() {
    if !common::root_or_skip("lxc_container_by_name") {
        return;
    }
    let _shared = common::shared();
    if !ready_or_skip("lxc_container_by_name") {
        return;
    }
    let dir = TempDir::new("lxc");
    let c = LxcContainer::new(dir.path(), true);
    assert_opens(&c);
}

#[test]
fn lxc_long_lxcpath_uses_the_hashed_socket_name() {
    if !common::root_or_skip("lxc_long_lxcpath_uses_the_hashed_socket_name") {
        return;
    }
    let _shared = common::shared();
    if !ready_or_skip("lxc_long_lxcpath_uses_the_hashed_socket_name") {
        return;
    }
    // Over sun_path's 108 bytes with "/NAME/command": LXC names the socket
    // lxc/<FNV-1a of LXCPATH/NAME>/command instead.
    let dir = TempDir::new("lxc");
    let long = dir.path().join("l".repeat(100));
    std::fs::create_dir(&long).unwrap();
    let c = LxcContainer::new(&long, true);
    let unix = std::fs::read_to_string("/proc/net/unix").unwrap();
    assert!(
        !unix.contains(&format!("{}/command", c.name)),
        "LXC did not hash the socket name"
    );
    assert_opens(&c);
}

#[test]
fn lxc_stopped_and_unknown_containers() {
    if !common::root_or_skip("lxc_stopped_and_unknown_containers") {
        return;
    }
    let _shared = common::shared();
    if !ready_or_skip("lxc_stopped_and_unknown_containers") {
        return;
    }
    let dir = TempDir::new("lxc");
    let created = LxcContainer::new(dir.path(), false);
    assert_eq!(
        open_error(dir.path(), &format!("lxc://{}", created.name)),
        format!("lxc://{}: container is not running", created.name)
    );
    let stopped = LxcContainer::new(dir.path(), true);
    assert!(quiet(
        Command::new("lxc-stop")
            .arg("-k")
            .arg("-P")
            .arg(dir.path())
            .args(["-n", &stopped.name])
    ));
    assert_eq!(
        open_error(dir.path(), &format!("lxc://{}", stopped.name)),
        format!("lxc://{}: container is not running", stopped.name)
    );
    assert_eq!(
        open_error(dir.path(), "lxc://nsjoin-no-such"),
        format!(
            "lxc://nsjoin-no-such: no such container in lxcpath {} (LXC_PATH selects another)",
            dir.path().display()
        )
    );
}
