//! `nspawn://` / `machine://` targets against the real systemd-machined and
//! systemd-nspawn (Debian's systemd-container, installed by scripts/lxc-nspawn.sh).
//!
//! These machines have no systemd as PID 1 and no system bus, so the test brings
//! its own: a private dbus-daemon (system-bus type, on a socket in a temporary
//! directory, given to machined through DBUS_SYSTEM_BUS_ADDRESS and to nsjoin in
//! its settings),
//! systemd-machined on it, and `systemd-nspawn --keep-unit --register=yes` run
//! from a cgroup named like a scope unit (machined wants the leader's unit, which
//! without systemd nobody else creates). Everything is stopped and removed after.
//! Without these the test says "skipped: needs nspawn", or fails with
//! NSJOIN_REQUIRE_NSPAWN=1 (CI). The error path without any bus runs everywhere.
//!
//! The bus is passed to nsjoin in [`Settings`], not through the process's
//! environment; the live test still takes `common::exclusive()`, since it counts
//! the process's tokio threads.

use nsjoin_test_support as common;

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nsjoin::container::{Engine, Settings};
use nsjoin::{Kind, KindSet, Target};

use common::{ns_ino, wait_for, TempDir};

const MACHINED: &str = "/lib/systemd/systemd-machined";

fn ready_or_skip(test: &str) -> bool {
    let found = |p: &str| Path::new(p).exists();
    let ready = found(MACHINED)
        && found("/usr/bin/systemd-nspawn")
        && found("/usr/bin/dbus-daemon")
        && (found("/bin/busybox") || found("/usr/bin/busybox"))
        && unified_cgroup().is_some();
    if ready {
        return true;
    }
    if std::env::var("NSJOIN_REQUIRE_NSPAWN").as_deref() == Ok("1") {
        panic!("{test} needs systemd-nspawn, systemd-machined and dbus-daemon (scripts/lxc-nspawn.sh) and NSJOIN_REQUIRE_NSPAWN=1 is set");
    }
    eprintln!("skipped {test}: needs nspawn (run scripts/lxc-nspawn.sh)");
    false
}

/// The cgroup v2 mount, where systemd looks up a process's unit: /sys/fs/cgroup
/// on a unified host, /sys/fs/cgroup/unified on a hybrid one.
fn unified_cgroup() -> Option<PathBuf> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.subtree_control").exists())
}

/// Waits up to 10 s for `ok`.
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A private system bus with systemd-machined on it.
struct Machined {
    dir: TempDir,
    address: String,
    bus: Child,
    machined: Child,
}

impl Machined {
    fn start() -> Machined {
        let dir = TempDir::new("machined");
        let socket = dir.path().join("system_bus_socket");
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run dbus-daemon");
        wait_for("dbus-daemon", || UnixStream::connect(&socket).is_ok());
        let address = format!("unix:path={}", socket.display());
        // machined keeps its state in /run/systemd/machines: give it an empty one of
        // its own, in a mount namespace of its own, so that the host's is untouched.
        std::fs::create_dir_all("/run/systemd/machines").unwrap();
        let machined = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs nsjoin-machines /run/systemd/machines && exec {MACHINED}"
            ))
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let machined = match machined {
            Ok(m) => m,
            Err(e) => {
                kill(&mut bus);
                panic!("cannot run unshare ... {MACHINED}: {e}");
            }
        };
        let m = Machined {
            dir,
            address,
            bus,
            machined,
        };
        // machined has taken its name once GetMachine answers with its own error.
        wait_for("systemd-machined on the bus", || {
            m.busctl(&[
                "call",
                "org.freedesktop.machine1",
                "/org/freedesktop/machine1",
                "org.freedesktop.machine1.Manager",
                "GetMachine",
                "s",
                "nsjoin-probe",
            ])
            .contains("No machine")
        });
        m
    }

    /// busctl on this bus; its stdout and stderr together.
    fn busctl(&self, args: &[&str]) -> String {
        let out = Command::new("busctl")
            .arg(format!("--address={}", self.address))
            .args(args)
            .output()
            .expect("cannot run busctl");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Drop for Machined {
    fn drop(&mut self) {
        // SIGTERM: machined saves its state and exits cleanly.
        let _ = Command::new("kill")
            .arg(self.machined.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.machined.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill(&mut self.machined);
        kill(&mut self.bus);
        let _ = &self.dir;
    }
}

/// A systemd-nspawn container (`/bin/sleep 100000` as its init, in a busybox
/// rootfs) registered with `m`'s machined.
struct Nspawn {
    nspawn: Child,
    /// The container's init: machined's Leader.
    leader: i32,
    scopes: Vec<PathBuf>,
    _rootfs: TempDir,
}

impl Nspawn {
    fn start(m: &Machined, name: &str) -> Nspawn {
        Nspawn::start_in(m, name, &format!("system.slice/{name}.scope"))
    }

    /// [`Nspawn::start`], from the scope unit's cgroup `unit`
    /// (`machine.slice/machine-NAME.scope`, where systemd itself would put it).
    fn start_in(m: &Machined, name: &str, unit: &str) -> Nspawn {
        let rootfs = TempDir::new("nspawn-root");
        let root = rootfs.path();
        for dir in ["bin", "usr", "etc", "proc", "sys", "dev", "tmp", "run"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        std::fs::write(root.join("etc/os-release"), "ID=busybox\n").unwrap();
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap();
        std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", root.join("bin/sleep")).unwrap();

        // machined registers a machine under its leader's unit: make the cgroup
        // of a scope unit (in the v2 hierarchy and, on a hybrid host, in the v1
        // name=systemd one too) and start nspawn from inside it.
        let mut scopes = vec![unified_cgroup().unwrap().join(unit)];
        if Path::new("/sys/fs/cgroup/systemd/cgroup.procs").exists() {
            scopes.push(Path::new("/sys/fs/cgroup/systemd").join(unit));
        }
        let mut script = String::new();
        for scope in &scopes {
            std::fs::create_dir_all(scope).unwrap();
            script += &format!("echo $$ > {}/cgroup.procs || exit 1; ", scope.display());
        }
        script += "exec systemd-nspawn --quiet --keep-unit --register=yes -M \"$0\" -D \"$1\" /bin/sleep 100000";
        let nspawn = Command::new("sh")
            .args(["-c", &script, name])
            .arg(root)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &m.address)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run systemd-nspawn");
        let mut c = Nspawn {
            nspawn,
            leader: 0,
            scopes,
            _rootfs: rootfs,
        };
        let path = format!(
            "/org/freedesktop/machine1/machine/{}",
            name.replace('-', "_2d")
        );
        wait_for("the machine's registration", || {
            let out = m.busctl(&[
                "get-property",
                "org.freedesktop.machine1",
                &path,
                "org.freedesktop.machine1.Machine",
                "Leader",
            ]);
            c.leader = out
                .strip_prefix("u ")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            c.leader > 0
        });
        // An independent look: the leader is nspawn's child, and soon runs our sleep.
        assert_eq!(common::child_of(c.nspawn.id() as i32), Some(c.leader));
        wait_for("the container's init to exec", || {
            std::fs::read(format!("/proc/{}/cmdline", c.leader))
                .is_ok_and(|cmdline| cmdline == b"/bin/sleep\x00100000\x00")
        });
        c
    }
}

impl Drop for Nspawn {
    fn drop(&mut self) {
        // The container's init ignores the signals nspawn would forward; kill it
        // and nspawn exits, unregistering the machine.
        if self.leader > 0 {
            let _ = Command::new("kill")
                .args(["-KILL", &self.leader.to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.nspawn.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill(&mut self.nspawn);
        for scope in &self.scopes {
            remove_cgroup(scope);
        }
    }
}

/// Removes a cgroup directory and the ones nspawn made under it.
fn remove_cgroup(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Settings that send nsjoin to the system bus at `address` (as
/// DBUS_SYSTEM_BUS_ADDRESS would).
fn on_bus(address: &str) -> Settings {
    let mut settings = Settings::default();
    settings.dbus_system_bus = Some(address.to_owned());
    settings
}

fn open_error(address: &str, spec: &str) -> String {
    Target::container(spec)
        .unwrap()
        .open_with(KindSet::from_iter([Kind::Net]), &on_bus(address))
        .unwrap_err()
        .to_string()
}

fn tokio_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.starts_with("tokio"))
        .count()
}

#[test]
fn nspawn_machine_through_real_machined() {
    if !common::root_or_skip("nspawn_machine_through_real_machined") {
        return;
    }
    let _exclusive = common::exclusive();
    if !ready_or_skip("nspawn_machine_through_real_machined") {
        return;
    }
    let m = Machined::start();
    let name = format!("nsjoin-{}", std::process::id());
    let c = Nspawn::start(&m, &name);

    let kinds = KindSet::from_iter([Kind::Mnt, Kind::Uts, Kind::Ipc, Kind::Pid, Kind::Cgroup]);
    for spec in [format!("nspawn://{name}"), format!("machine://{name}")] {
        let handles = Target::container(&spec)
            .unwrap()
            .open_with(kinds, &on_bus(&m.address))
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(handles.pid(), Some(c.leader));
        for kind in kinds.iter() {
            let ns = handles.get(kind).unwrap();
            assert_eq!(ns.id().ino, ns_ino(c.leader, kind.name()), "{spec}: {kind}");
        }
        let container = handles.container().unwrap();
        assert_eq!(
            (container.engine, container.name.as_str()),
            (Engine::Nspawn, name.as_str())
        );
        // The machine's 128-bit ID, in hex.
        assert_eq!(container.id.len(), 32, "{}", container.id);
        assert!(container.env.is_none());
    }
    // The D-Bus client's runtime is gone with the query: a single-threaded caller
    // stays single-threaded and can still enter user or mount namespaces.
    assert_eq!(tokio_threads(), 0);

    assert_eq!(
        open_error(&m.address, "nspawn://nsjoin-no-such"),
        "nspawn://nsjoin-no-such: no such container"
    );
    drop(c);
    // machined forgets a machine once it ends.
    assert_eq!(
        open_error(&m.address, &format!("nspawn://{name}")),
        format!("nspawn://{name}: no such container")
    );
    // A bus without machined.
    let address = m.address.clone();
    let bus_only = {
        let _ = Command::new("kill")
            .arg(m.machined.id().to_string())
            .status();
        wait_for("machined to leave the bus", || {
            m.busctl(&["status", "org.freedesktop.machine1"])
                .contains("not")
                || !m.busctl(&["list"]).contains("org.freedesktop.machine1")
        });
        open_error(&address, &format!("nspawn://{name}"))
    };
    assert_eq!(
        bus_only,
        format!(
            "nspawn://{name}: systemd-machined is not running (org.freedesktop.machine1 is not on the system bus)"
        )
    );
}

/// What `nsls -c` asks machined: one `ListMachines`, which names the machine; a
/// machine in its scope under `machine.slice` (systemd's hierarchies, where
/// only root makes cgroups) is then shown as `nspawn://NAME`.
#[test]
fn a_scan_names_a_machine_from_machineds_list() {
    if !common::root_or_skip("a_scan_names_a_machine_from_machineds_list") {
        return;
    }
    let _exclusive = common::exclusive();
    if !ready_or_skip("a_scan_names_a_machine_from_machineds_list") {
        return;
    }
    let m = Machined::start();
    let name = format!("nsjoin-list-{}", std::process::id());
    let c = Nspawn::start_in(&m, &name, &format!("machine.slice/machine-{name}.scope"));
    let listed = nsjoin::container::list_with(Engine::Nspawn, &on_bus(&m.address)).unwrap();
    let ours: Vec<_> = listed.iter().filter(|l| l.id == name).collect();
    assert_eq!(ours.len(), 1, "{listed:?}");
    assert_eq!(
        (ours[0].name.as_deref(), ours[0].pid),
        (Some(name.as_str()), None)
    );

    let resolver = nsjoin::EngineConfirmed::with_settings(on_bus(&m.address));
    let listing = nsjoin::Scan::new()
        .kinds(KindSet::from(Kind::Pid))
        .containers(Some(std::sync::Arc::new(resolver)))
        .run()
        .unwrap();
    let pid_ns = ns_ino(c.leader, "pid");
    let row = listing.get(pid_ns).unwrap();
    assert_eq!(row.pid, Some(c.leader));
    let found = row
        .container
        .as_ref()
        .expect("the machine's row has a container");
    assert!(found.confirmed, "{found:?}");
    assert_eq!(found.target(), format!("nspawn://{name}"));
}

#[test]
fn nspawn_without_a_system_bus() {
    // Runs everywhere: there is no system bus on these machines, and the error
    // must say so on one line.
    let _shared = common::shared();
    let dir = TempDir::new("nobus");
    let address = format!("unix:path={}/system_bus_socket", dir.path().display());
    assert_eq!(
        open_error(&address, "nspawn://web"),
        format!(
            "nspawn://web: cannot reach systemd-machined: no D-Bus system bus at {address}: \
             No such file or directory"
        )
    );
}
