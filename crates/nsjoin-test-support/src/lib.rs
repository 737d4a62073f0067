//! Real targets for nsjoin's tests, its bench and its demo: processes in fresh
//! namespaces made with util-linux `unshare`, `ip netns` files, cgroups and Docker
//! containers. Every one is torn down on drop. Shared by the library's and the
//! command's tests (a dev-dependency of both, never published).
//!
//! Longer than the tree's 500 lines on purpose: one flat module, so that every
//! test names a fixture as `common::X` without knowing where it lives; each fixture
//! is short and torn down by its own `Drop`.

// `new` starts processes and makes namespaces: a `Default` would hide that.
#![allow(clippy::new_without_default)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

mod security;
pub use security::*;

/// A process (`sleep`) in fresh namespaces, with a hostname of its own.
pub struct Sandbox {
    holder: Child,
    /// The sandboxed process: inside every namespace asked for, pid ns included.
    pub pid: i32,
    /// The hostname it set in its uts namespace.
    pub hostname: String,
}

impl Sandbox {
    /// Starts `sleep` under `unshare --fork --kill-child` with these extra
    /// `unshare` flags, after running `setup` (a shell snippet) inside. With
    /// `--uts` in `flags` the sandbox sets its own hostname first.
    pub fn start(flags: &[&str], setup: &str) -> Sandbox {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let hostname = format!(
            "nsj-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let set_hostname = if flags.contains(&"--uts") {
            format!("echo {hostname} > /proc/sys/kernel/hostname || exit 1; ")
        } else {
            String::new()
        };
        let script = format!("{set_hostname}{setup}\necho ready; exec sleep 100000");
        // setpriv --pdeathsig: the sandbox dies with the test process even if
        // that is killed before its destructors run.
        let mut holder = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "--", "unshare"])
            .args(flags)
            .args(["--fork", "--kill-child", "/bin/sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot run setpriv/unshare (util-linux)");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "ready" {
            let _ = holder.kill();
            let status = holder.wait().unwrap();
            panic!("sandbox {flags:?} did not start ({status}); setup: {setup}");
        }
        let pid = child_of(holder.id() as i32).expect("sandbox process not found");
        // "ready" comes just before the exec: wait for it, so that what the tests
        // read of the process (its environment, its command) is sleep's.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.trim() != "sleep")
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        Sandbox {
            holder,
            pid,
            hostname,
        }
    }

    /// The usual sandbox: fresh uts, net, ipc, pid, mnt and cgroup namespaces.
    pub fn new() -> Sandbox {
        Sandbox::start(
            &["--uts", "--net", "--ipc", "--pid", "--mount", "--cgroup"],
            "",
        )
    }

    /// A sandbox in a fresh user namespace mapped to root, owning the rest.
    pub fn with_user() -> Sandbox {
        Sandbox::start(
            &[
                "--user",
                "--map-root-user",
                "--uts",
                "--net",
                "--ipc",
                "--pid",
                "--mount",
            ],
            "",
        )
    }

    /// The inode of the sandbox's namespace of this kind (what `lsns` prints).
    pub fn ns_ino(&self, kind: &str) -> u64 {
        ns_ino(self.pid, kind)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // --kill-child: the sandboxed process gets SIGKILL when its holder dies.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// A sandbox whose process sits in a cgroup named `nsjt-<id>`, the way container
/// engines name a container's cgroup (`docker-<id>.scope`, `<parent>/<id>`): what
/// nsjoin checks before it believes an engine that names this process as container
/// `id`'s init. The cgroup is made in the first hierarchy mounted under
/// /sys/fs/cgroup (v2, or a v1 controller) and removed on drop.
pub struct CgroupSandbox {
    pub sandbox: Sandbox,
    /// The directories made for it, innermost first.
    made: Vec<PathBuf>,
}

impl CgroupSandbox {
    pub fn new(id: &str) -> CgroupSandbox {
        CgroupSandbox::at(&format!("nsjt-{id}"))
    }

    /// A sandbox in the cgroup `rel` (such as `docker/<id>`, what a Docker
    /// container's cgroup is called on cgroupfs hosts) of the first hierarchy.
    pub fn at(rel: &str) -> CgroupSandbox {
        let root = [
            "/sys/fs/cgroup/cgroup.procs",
            "/sys/fs/cgroup/pids/cgroup.procs",
        ]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .and_then(Path::parent)
        .expect("no cgroup hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/pids");
        let dir = root.join(rel);
        let mut made = Vec::new();
        let mut at = dir.as_path();
        while at != root && !at.exists() {
            made.push(at.to_owned());
            at = at.parent().unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        let setup = format!("echo 0 > {}/cgroup.procs || exit 1", dir.display());
        let sandbox = Sandbox::start(&["--uts", "--net", "--ipc", "--pid", "--mount"], &setup);
        CgroupSandbox { sandbox, made }
    }
}

impl Drop for CgroupSandbox {
    fn drop(&mut self) {
        let _ = self.sandbox.holder.kill();
        let _ = self.sandbox.holder.wait();
        // The sandboxed process dies a moment after its holder.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        for dir in &self.made {
            while std::fs::remove_dir(dir).is_err() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
}

/// The inode of `/proc/PID/ns/KIND`.
pub fn ns_ino(pid: i32, kind: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .ino()
}

/// The inode of the calling thread's namespace of this kind.
pub fn thread_ns_ino(kind: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/thread-self/ns/{kind}"))
        .unwrap()
        .ino()
}

/// The hostname as the calling thread sees it (its uts namespace).
pub fn thread_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

/// The first child of `pid`.
pub fn child_of(pid: i32) -> Option<i32> {
    for _ in 0..200 {
        if let Ok(list) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            if let Some(first) = list.split_whitespace().next() {
                return first.parse().ok();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    None
}

/// A network namespace file made by `ip netns add`, deleted on drop.
pub struct NetnsFile {
    /// The name under /run/netns.
    pub name: String,
    /// The nsfs bind mount, `/run/netns/NAME`.
    pub path: PathBuf,
}

impl NetnsFile {
    pub fn new() -> NetnsFile {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "nsjoin-test-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("cannot run ip (iproute2)");
        assert!(status.success(), "ip netns add {name} failed");
        NetnsFile {
            path: PathBuf::from(format!("/run/netns/{name}")),
            name,
        }
    }

    /// Runs `ip` inside this namespace (with `ip -n NAME`).
    pub fn ip(&self, args: &[&str]) {
        let status = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "ip -n {} {args:?} failed", self.name);
    }
}

impl Drop for NetnsFile {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

/// Starts `cmd` with its stdout piped and waits for the line `ready` that it
/// prints once it is set up.
pub fn spawn_ready(cmd: &mut Command) -> Child {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    child
}

/// Whether the tests that need root can run. Where they cannot, they say so and
/// are skipped, unless NSJOIN_REQUIRE_ROOT=1 (CI) makes that a failure.
pub fn root_or_skip(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    if std::env::var("NSJOIN_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{test} needs root and NSJOIN_REQUIRE_ROOT=1 is set");
    }
    eprintln!("skipped {test}: needs root");
    false
}

/// The number of open fds of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The fds this process leaves open across exec (no FD_CLOEXEC): normally none,
/// but a test run may inherit some from whoever started it, and any program it
/// starts gets those (std's Command and util-linux nsenter pass them on too).
pub fn inheritable_fds() -> BTreeSet<i32> {
    /// O_CLOEXEC as `/proc/PID/fdinfo` prints it (octal 02000000 on every Linux
    /// arch but alpha/sparc/parisc).
    const O_CLOEXEC: u32 = 0o2000000;
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir("/proc/self/fdinfo").unwrap() {
        let name = entry.unwrap().file_name();
        let Ok(fd) = name.to_str().unwrap().parse::<i32>() else {
            continue;
        };
        // Fds of other threads come and go; a vanished one is no matter.
        let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
            continue;
        };
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
            .unwrap();
        if flags & O_CLOEXEC == 0 {
            out.insert(fd);
        }
    }
    out
}

/// This process's threads.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Waits until `cond` holds, polling; fails the test, naming `what`, after 20 s
/// (what is waited for takes milliseconds, but a test machine under load can
/// take seconds to schedule it).
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Waits (up to 10 s) until only `n` threads are left: threads that have ended
/// leave /proc/self/task only after their thread-local state (nsjoin keeps each
/// thread's way home there, as fds) has been dropped.
pub fn wait_for_threads(n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while thread_count() != n && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Tests in one binary run on parallel threads of one process. Those that look at
/// process-wide state (the fd table, children, all threads, fd 0, groups) take this
/// lock exclusively; every other test holds it shared.
static PROCESS_WIDE: RwLock<()> = RwLock::new(());

/// Holds off the tests that look at process-wide state.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    PROCESS_WIDE.read().unwrap_or_else(|e| e.into_inner())
}

/// Waits until no other test runs, for one that looks at process-wide state.
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    PROCESS_WIDE.write().unwrap_or_else(|e| e.into_inner())
}

/// [`root_or_skip`], then [`shared`]: how a test that needs root starts. `None`
/// where the test is skipped.
pub fn root_shared(test: &str) -> Option<RwLockReadGuard<'static, ()>> {
    root_or_skip(test).then(shared)
}

/// [`root_or_skip`], then [`exclusive`], for a test that needs root and looks at
/// process-wide state. `None` where the test is skipped.
pub fn root_exclusive(test: &str) -> Option<RwLockWriteGuard<'static, ()>> {
    root_or_skip(test).then(exclusive)
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        TempDir::new_in(&std::env::temp_dir(), tag)
    }

    /// A fresh directory under `base`.
    pub fn new_in(base: &Path, tag: &str) -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let path = base.join(format!(
            "nsjoin-test-{tag}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path.canonicalize().unwrap())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory that every user can reach, for what a test runs as another
/// user (nobody): the clone, and the build's binaries in its target/, may sit under
/// a directory only root may enter (`/root/src/nsjoin`, a `mktemp -d`), and such a
/// user cannot run them from there. The directory (mode 0755) and every directory
/// above it are searchable by others; it is removed, with what was copied into it,
/// on drop, also when the test fails.
pub struct Reachable(TempDir);

impl Reachable {
    /// Under the system temp dir, or `/tmp` where others cannot reach that.
    pub fn new(tag: &str) -> Reachable {
        let base = [std::env::temp_dir(), PathBuf::from("/tmp")]
            .into_iter()
            .find_map(|base| base.canonicalize().ok().filter(|b| blocker(b).is_none()))
            .unwrap_or_else(|| {
                let base = std::env::temp_dir();
                panic!(
                    "no temp dir that other users can reach: {} is not searchable by others",
                    blocker(&base).unwrap_or(base).display()
                )
            });
        let dir = TempDir::new_in(&base, tag);
        set_mode(dir.path(), 0o755);
        if let Some(blocked) = blocker(dir.path()) {
            panic!("{} is not searchable by others", blocked.display());
        }
        Reachable(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// A copy of `file` (the nsjoin or nsls binary, a script) in this directory,
    /// mode 0755, to run from there. `cp` writes it, not this process: a test thread
    /// that forks meanwhile would hold our write fd until its child execs, and exec
    /// of the copy would fail with ETXTBSY.
    pub fn copy(&self, file: impl AsRef<Path>) -> PathBuf {
        let file = file.as_ref();
        let copy = self.path().join(file.file_name().expect("a file name"));
        let status = Command::new("cp")
            .arg("--")
            .args([file, &copy])
            .status()
            .expect("cannot run cp");
        assert!(
            status.success(),
            "cp {} {} failed",
            file.display(),
            copy.display()
        );
        set_mode(&copy, 0o755);
        copy
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("cannot chmod {mode:o} {}: {e}", path.display()));
}

/// The first directory from `/` down to `dir` (an absolute path) that others may
/// not search (no `o+x`), if any.
fn blocker(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let mut ancestors: Vec<&Path> = dir.ancestors().collect();
    ancestors.reverse();
    ancestors
        .into_iter()
        .map(Path::to_path_buf)
        .find(|d| std::fs::metadata(d).map_or(true, |m| m.permissions().mode() & 0o001 == 0))
}

/// The Docker client: Debian's, which matches the daemon that scripts/docker.sh
/// starts (a newer client may shadow it on PATH); `docker` where it is absent.
pub fn docker() -> Command {
    if Path::new("/usr/bin/docker").exists() {
        Command::new("/usr/bin/docker")
    } else {
        Command::new("docker")
    }
}

pub const IMAGE: &str = "nsjoin-busybox:latest";

/// Whether the daemon answers and has the test image (scripts/docker.sh makes both).
pub fn docker_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let quiet = |args: &[&str]| {
            docker()
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        quiet(&["info"]) && quiet(&["image", "inspect", IMAGE])
    })
}

/// A running container of the busybox test image (`sleep 100000`), removed on drop.
pub struct Container {
    pub name: String,
    /// Its init process, as the host sees it.
    pub pid: i32,
    /// The hostname Docker gave it.
    pub hostname: String,
}

impl Container {
    /// Starts one, or says why the test is skipped (a failure with
    /// NSJOIN_REQUIRE_DOCKER=1, as in CI).
    pub fn start_or_skip(test: &str) -> Option<Container> {
        Container::start_with_or_skip(test, &[])
    }

    /// Like [`Container::start_or_skip`], with extra `docker run` options.
    pub fn start_with_or_skip(test: &str, options: &[&str]) -> Option<Container> {
        if !docker_ready() {
            skip_without_docker(test, IMAGE);
            return None;
        }
        Some(Container::run(options, &[IMAGE, "sleep", "100000"]))
    }

    /// `docker run -d OPTIONS IMAGE [COMMAND…]` (`image_and_command`), for a
    /// test that knows the daemon and the image are there.
    pub fn run(options: &[&str], image_and_command: &[&str]) -> Container {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "nsjoin-test-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let out = docker()
            .args(["run", "-d", "--name", &name])
            .args(options)
            .args(image_and_command)
            .output()
            .expect("cannot run docker");
        let mut container = Container {
            name,
            pid: 0,
            hostname: String::new(),
        };
        assert!(
            out.status.success(),
            "docker run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let inspect = |format: &str| {
            let out = docker()
                .args(["inspect", "-f", format, &container.name])
                .output()
                .unwrap();
            assert!(out.status.success(), "docker inspect {format} failed");
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        let pid = inspect("{{.State.Pid}}").parse().unwrap();
        let hostname = inspect("{{.Config.Hostname}}");
        assert!(pid > 0, "container {} has no process", container.name);
        container.pid = pid;
        container.hostname = hostname;
        container
    }

    /// `docker://NAME`, the target naming it.
    pub fn spec(&self) -> String {
        format!("docker://{}", self.name)
    }
}

/// Says why a test is skipped when docker or its `image` is missing, or fails it
/// under NSJOIN_REQUIRE_DOCKER=1 (CI).
pub fn skip_without_docker(test: &str, image: &str) {
    if std::env::var("NSJOIN_REQUIRE_DOCKER").as_deref() == Ok("1") {
        panic!("{test} needs docker and {image} (scripts/docker.sh) and NSJOIN_REQUIRE_DOCKER=1 is set");
    }
    eprintln!("skipped {test}: needs docker (run scripts/docker.sh)");
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker()
            .args(["rm", "-f", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `readlink /proc/PID/ns/KIND`: `KIND:[INODE]`, the form `readlink
/// /proc/self/ns/KIND` prints.
pub fn ns_link(pid: impl std::fmt::Display, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Every child process of every thread of this process, zombies included.
pub fn children() -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        if let Ok(list) = std::fs::read_to_string(path) {
            out.extend(list.split_whitespace().map(|p| p.parse::<i32>().unwrap()));
        }
    }
    out
}

/// Starts `true` and waits until it has exited but is not yet reaped (a zombie).
pub fn zombie() -> Child {
    let mut child = Command::new("true").stdin(Stdio::null()).spawn().unwrap();
    let stat = format!("/proc/{}/stat", child.id());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&stat).unwrap_or_default();
        // "PID (comm) STATE ..."
        let state = text.rsplit(')').next().unwrap().split_whitespace().next();
        if state == Some("Z") {
            return child;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("`true` did not exit within 5 s");
}

/// The PID of a process that has run and been reaped.
pub fn reaped_pid() -> i32 {
    let mut child = Command::new("true").stdin(Stdio::null()).spawn().unwrap();
    let pid = child.id() as i32;
    child.wait().unwrap();
    pid
}

/// Waits (up to 10 s) until process `pid` is gone (a zombie keeps its user
/// namespace).
pub fn wait_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_link(format!("/proc/{pid}/ns/user")).is_ok() {
        assert!(Instant::now() < deadline, "process {pid} did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Asks lsns, the peer every nsls comparison is made with. lsns 2.38 exits 1 with
/// nothing on stderr when a process it is reading exits meanwhile, which the tests
/// make likely (they start and end processes all the time, and on a loaded machine
/// a whole burst of them can outlast several quick retries): `run` is asked again,
/// 50 ms apart for up to 10 s, while `failed_silently` says its answer was that.
pub fn ask_lsns<T>(mut run: impl FnMut() -> T, failed_silently: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = run();
    while failed_silently(&out) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        out = run();
    }
    out
}
