//! Start a program inside a target's namespaces.
//!
//! Everything is prepared in the parent (fds opened O_CLOEXEC, paths turned into
//! C strings, the target's environment read); the child, between fork and exec,
//! only makes system calls on that data. The order in the child is util-linux's:
//! join the cgroup, enter the namespaces, change root and directory, fork again if
//! a PID namespace was entered, switch credentials, exec.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Output};
use std::sync::Arc;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Gid, Pid, Signal, Uid, WaitOptions};

use crate::plan::{self, Fds, Plan};
use crate::procfs::{self, CGROUP_LIMIT};
use crate::{sys, Error, Handles, Kind, KindMap, KindSet, Result};

/// A directory for [`Spawn::root`] and [`Spawn::cwd`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dir {
    /// The target process's own (`/proc/PID/root`, `/proc/PID/cwd`).
    Target,
    /// A path opened before entering, as the caller sees it (nsenter `-r DIR`/`-w DIR`).
    Path(PathBuf),
    /// A path resolved after entering and changing root (nsenter `-W DIR`).
    Inside(PathBuf),
}

/// A user or group ID for the program: a number, or the target process's own (the
/// owner of its `/proc/PID`: its effective IDs, nsenter's `-S follow`/`-G follow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Id {
    /// This ID.
    Of(u32),
    /// The target process's.
    Target,
}

/// Starts programs inside a target's namespaces, on top of [`std::process::Command`].
///
/// User and time namespaces are entered in the (single-threaded) child, so this
/// works from any program. When a PID namespace is entered the child forks once
/// more so that the program really is inside it; that second fork is made a
/// sibling (`CLONE_PARENT`), so [`Child::id`] is the program's own PID and
/// signals and `wait` reach it directly.
///
/// ```
/// # fn main() -> nsjoin::Result<()> {
/// # if rustix::process::geteuid().as_raw() != 0 { return Ok(()); } // entering needs CAP_SYS_ADMIN
/// use std::process::Command;
/// use nsjoin::{Dir, Kind, KindSet, Spawn, Target};
/// // Any process will do; here, our own.
/// let handles = Target::pid(std::process::id() as i32).open(KindSet::from([Kind::Uts, Kind::Net, Kind::Mnt]))?;
/// let out = Spawn::new(&handles)
///     .root(Dir::Target)
///     .cwd(Dir::Target)
///     .target_env(true)
///     .output(Command::new("pwd"))?;
/// assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), std::env::current_dir().unwrap().to_str().unwrap());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Spawn<'a> {
    handles: &'a Handles,
    kinds: Option<KindSet>,
    uid: Option<Id>,
    gid: Option<Id>,
    root_in_user_namespace: bool,
    strict_user: bool,
    groups: Option<Vec<u32>>,
    root: Option<Dir>,
    cwd: Option<Dir>,
    target_env: bool,
    join_cgroup: bool,
    keep_caps: bool,
    die_with_parent: bool,
}

impl<'a> Spawn<'a> {
    /// A spawner for `handles`, entering every kind they hold.
    pub fn new(handles: &'a Handles) -> Spawn<'a> {
        Spawn {
            handles,
            kinds: None,
            uid: None,
            gid: None,
            root_in_user_namespace: false,
            strict_user: false,
            groups: None,
            root: None,
            cwd: None,
            target_env: false,
            join_cgroup: false,
            keep_caps: false,
            die_with_parent: false,
        }
    }

    /// Enters only these kinds (default: all the handles hold). A user namespace the
    /// caller is already in is skipped.
    pub fn kinds(&mut self, kinds: KindSet) -> &mut Self {
        self.kinds = Some(kinds);
        self
    }

    /// Switches to this user ID after entering (setresuid).
    pub fn uid(&mut self, uid: u32) -> &mut Self {
        self.user(Id::Of(uid))
    }

    /// Switches to this user ID after entering; [`Id::Target`] is the target
    /// process's.
    pub fn user(&mut self, id: Id) -> &mut Self {
        self.uid = Some(id);
        self
    }

    /// Switches to this group ID after entering; [`Id::Target`] is the target
    /// process's. See [`Spawn::gid`] for supplementary groups.
    pub fn group(&mut self, id: Id) -> &mut Self {
        self.gid = Some(id);
        self
    }

    /// nsenter's rule for credentials: when a user namespace is entered, the
    /// program becomes uid and gid 0 in it, except for an ID set with
    /// [`Spawn::user`]/[`Spawn::group`]. `false` (the default) is nsenter's
    /// `--preserve-credentials`: the program keeps the caller's IDs.
    pub fn root_in_user_namespace(&mut self, yes: bool) -> &mut Self {
        self.root_in_user_namespace = yes;
        self
    }

    /// A user namespace the caller is already in is skipped by default (as `--all`
    /// does); with this, asking for one is the error setns(2) gives and nsenter
    /// `-U` reports: `reassociate to namespace 'ns/user' failed: Invalid argument`.
    pub fn strict_user(&mut self, yes: bool) -> &mut Self {
        self.strict_user = yes;
        self
    }

    /// Switches to this group ID after entering (setresgid). Unless
    /// [`Spawn::groups`] says otherwise, supplementary groups are dropped (with
    /// [`Spawn::uid`] too): before entering and again after, as util-linux does;
    /// only if both are refused (a user namespace whose `setgroups` is `deny`,
    /// entered by a caller who may not drop them outside) is it an error.
    pub fn gid(&mut self, gid: u32) -> &mut Self {
        self.group(Id::Of(gid))
    }

    /// Sets the supplementary groups after entering (setgroups).
    pub fn groups(&mut self, groups: impl Into<Vec<u32>>) -> &mut Self {
        self.groups = Some(groups.into());
        self
    }

    /// Changes the root directory (chroot) after entering.
    pub fn root(&mut self, dir: Dir) -> &mut Self {
        self.root = Some(dir);
        self
    }

    /// Changes the working directory after entering and changing root. Without it
    /// the program keeps the working directory it has after entering: the
    /// caller's, or the root of the mount namespace if one was entered; a change
    /// of root does not move it (util-linux's rule).
    pub fn cwd(&mut self, dir: Dir) -> &mut Self {
        self.cwd = Some(dir);
        self
    }

    /// Replaces the environment with the target's (`/proc/PID/environ`); variables
    /// set on the `Command` are then ignored. Entries without `=` are dropped.
    pub fn target_env(&mut self, yes: bool) -> &mut Self {
        self.target_env = yes;
        self
    }

    /// Moves the program into the target's cgroup (cgroup v2) before entering.
    pub fn join_cgroup(&mut self, yes: bool) -> &mut Self {
        self.join_cgroup = yes;
        self
    }

    /// Kills the program (SIGKILL) if the thread that spawned it dies first
    /// (`PR_SET_PDEATHSIG`), so that no program is left running inside when its
    /// supervisor is killed. The kernel tracks the spawning *thread*: spawn from a
    /// thread that lives as long as the program should.
    pub fn die_with_parent(&mut self, yes: bool) -> &mut Self {
        self.die_with_parent = yes;
        self
    }

    /// Keeps the permitted capabilities across a switch to a non-root
    /// [`Spawn::uid`], as ambient capabilities (nsenter `--keep-caps`).
    pub fn keep_caps(&mut self, yes: bool) -> &mut Self {
        self.keep_caps = yes;
        self
    }

    /// Starts `cmd` inside. Its program, arguments and stdio are used as given;
    /// its environment too unless [`Spawn::target_env`]. Do not set `current_dir`,
    /// `uid` or `gid` on `cmd` itself: std applies those before the namespaces are
    /// entered; use [`Spawn::cwd`], [`Spawn::uid`] and [`Spawn::gid`].
    pub fn spawn(&self, mut cmd: Command) -> Result<Child> {
        let (child_plan, report_read) = self.prepare(&mut cmd, true)?;
        let child_plan = Arc::new(child_plan);
        let in_child = Arc::clone(&child_plan);
        sys::set_pre_exec(&mut cmd, move || in_child.run());
        let spawned = cmd.spawn();
        // Close the parent's copies of everything the child needed, the report
        // pipe's write end among them, so that reading the report sees EOF.
        let program = cmd.get_program().to_string_lossy().into_owned();
        drop(cmd);
        drop(child_plan);
        let report = Report::read(report_read);
        let mut std_child = match spawned {
            Ok(child) => child,
            Err(exec_error) => {
                if let Some(pid) = report.program_pid {
                    reap(pid);
                }
                return Err(report.error().unwrap_or(Error::Exec {
                    program,
                    source: exec_error,
                }));
            }
        };
        // Take the pipes first: std's wait closes stdin.
        let (stdin, stdout, stderr) = (
            std_child.stdin.take(),
            std_child.stdout.take(),
            std_child.stderr.take(),
        );
        let pid = match report.program_pid {
            Some(pid) => {
                // The first child only forked the program and exited.
                let _ = std_child.wait();
                pid
            }
            None => std_child.id() as i32,
        };
        Ok(Child {
            pid,
            stdin,
            stdout,
            stderr,
            status: None,
        })
    }

    /// Replaces the calling process with `cmd` inside the namespaces, like
    /// `nsenter` without a fork: the steps a spawned child would take are taken
    /// here, then `cmd` is exec'd. Entering a pid namespace this way places only
    /// the program's future children in it. Returns only on failure.
    ///
    /// Call it from a single-threaded program (the kernel refuses user, time
    /// and mount namespaces to a thread of a multithreaded one), such as a
    /// command-line tool before it starts any thread.
    pub fn exec(&self, mut cmd: Command) -> Error {
        use std::os::unix::process::CommandExt;
        let (child_plan, report_read) = match self.prepare(&mut cmd, false) {
            Ok(prepared) => prepared,
            Err(e) => return e,
        };
        if child_plan.run().is_err() {
            drop(child_plan);
            return Report::read(report_read)
                .error()
                .unwrap_or_else(|| Error::sys("cannot enter", io::Error::other("a step failed")));
        }
        let source = cmd.exec();
        Error::Exec {
            program: cmd.get_program().to_string_lossy().into_owned(),
            source,
        }
    }

    /// Everything opened, read and converted before the fork, and the read end of
    /// the pipe on which the child reports.
    fn prepare(&self, cmd: &mut Command, fork_for_pid: bool) -> Result<(ChildPlan, OwnedFd)> {
        let handles = self.handles;
        let plan = handles.plan(self.kinds.unwrap_or(KindSet::EMPTY))?;
        if self.strict_user && plan.skipped().contains(Kind::User) {
            return Err(Error::Enter {
                kind: Kind::User,
                source: io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        let as_root =
            (self.root_in_user_namespace && plan.kinds().contains(Kind::User)).then_some(0);
        let owner = || handles.process_owner();
        let uid = match self.uid {
            Some(Id::Of(id)) => Some(id),
            Some(Id::Target) => Some(owner()?.0),
            None => as_root,
        };
        let gid = match self.gid {
            Some(Id::Of(id)) => Some(id),
            Some(Id::Target) => Some(owner()?.1),
            None => as_root,
        };
        if self.target_env {
            let env = handles.environ()?;
            cmd.env_clear();
            cmd.envs(env);
        }
        let (report_read, report_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| Error::sys("cannot create a pipe", e))?;
        let child_plan = ChildPlan {
            ns: dup_fds(handles)?,
            plan,
            cgroup_procs: if self.join_cgroup {
                Some(open_target_cgroup(handles)?)
            } else {
                None
            },
            root: self
                .root
                .as_ref()
                .map(|d| prepare_dir(handles, d, "root"))
                .transpose()?,
            cwd: self
                .cwd
                .as_ref()
                .map(|d| prepare_dir(handles, d, "cwd"))
                .transpose()?,
            fork_for_pid: fork_for_pid && plan.kinds().contains(Kind::Pid),
            groups: self
                .groups
                .as_ref()
                .map(|g| g.iter().map(|&g| Gid::from_raw(g)).collect()),
            clear_groups: self.groups.is_none() && (gid.is_some() || uid.is_some()),
            gid: gid.map(Gid::from_raw),
            uid: uid.map(Uid::from_raw),
            keep_caps: self.keep_caps,
            parent: if self.die_with_parent {
                Some(
                    rustix::process::pidfd_open(
                        rustix::process::getpid(),
                        rustix::process::PidfdFlags::empty(),
                    )
                    .map_err(|e| Error::sys("cannot open a pidfd on this process", e))?,
                )
            } else {
                None
            },
            cap_last: if self.keep_caps { cap_last_cap() } else { 0 },
            report: report_write,
        };
        Ok((child_plan, report_read))
    }

    /// Starts `cmd` inside and waits for it.
    pub fn status(&self, cmd: Command) -> Result<ExitStatus> {
        self.spawn(cmd)?
            .wait()
            .map_err(|e| Error::sys("cannot wait for the program", e))
    }

    /// Starts `cmd` inside with stdout and stderr captured and stdin from
    /// `/dev/null` (like [`Command::output`]), and waits for it. To feed input,
    /// use [`Spawn::spawn`] and [`Child::wait_with_output`].
    pub fn output(&self, mut cmd: Command) -> Result<Output> {
        cmd.stdin(std::process::Stdio::null());
        cmd.stdout(std::process::Stdio::piped());
        cmd.stderr(std::process::Stdio::piped());
        self.spawn(cmd)?
            .wait_with_output()
            .map_err(|e| Error::sys("cannot read the program's output", e))
    }
}

fn dup_fds(handles: &Handles) -> Result<KindMap<OwnedFd>> {
    let mut out = KindMap::new();
    for ns in handles.iter() {
        out.insert(
            ns.kind(),
            ns.as_fd()
                .try_clone_to_owned()
                .map_err(|e| Error::sys("cannot duplicate a namespace fd", e))?,
        );
    }
    Ok(out)
}

/// What nsenter runs when no program is given: the user's shell as a login shell
/// (`argv[0]` is `-NAME`). The shell is `SHELL` from `env` (the program's
/// environment; `None` for this process's), else the caller's passwd entry
/// (getpwuid_r, so NSS sources count), else `/bin/sh`.
pub fn login_shell(env: Option<&[(OsString, OsString)]>) -> Command {
    let from_env = match env {
        Some(env) => env
            .iter()
            .find(|(k, _)| k == "SHELL")
            .map(|(_, v)| v.clone()),
        None => std::env::var_os("SHELL"),
    };
    let shell: PathBuf = from_env
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            sys::passwd(rustix::process::getuid().as_raw())
                .map(|p| p.shell)
                .filter(|s| !s.as_os_str().is_empty())
        })
        .unwrap_or_else(|| PathBuf::from("/bin/sh"));
    let name = shell
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sh".into());
    let mut cmd = Command::new(&shell);
    std::os::unix::process::CommandExt::arg0(&mut cmd, format!("-{name}"));
    cmd
}

/// The most a `/proc/PID/environ` is read: execve(2) takes at most three quarters of
/// the kernel's 8 MiB default stack limit for arguments and environment together
/// (fs/exec.c: `_STK_LIM / 4 * 3`), so an environment a process got by exec'ing fits.
/// One that is larger was pointed elsewhere with `prctl(PR_SET_MM)`, and could be
/// any size the target likes.
pub const ENVIRON_LIMIT: usize = 6 << 20;

impl Handles {
    /// The target's environment, as pairs: a container's as its engine reports
    /// it, otherwise the process's `/proc/PID/environ`; entries without `=` are
    /// dropped. A `/proc/PID/environ` larger than [`ENVIRON_LIMIT`] is refused
    /// ([`Error::TooLarge`]) without being read.
    pub fn environ(&self) -> Result<Vec<(OsString, OsString)>> {
        #[cfg(feature = "containers")]
        if let Some(env) = self.container().and_then(|c| c.env.clone()) {
            return Ok(env);
        }
        let data = self.read_proc_file("environ", ENVIRON_LIMIT, "the target's environment")?;
        Ok(parse_environ(&data))
    }
}

/// Splits `/proc/PID/environ` (NUL-separated `KEY=VALUE`) into pairs, dropping
/// entries without `=` or with an empty key.
pub(crate) fn parse_environ(data: &[u8]) -> Vec<(OsString, OsString)> {
    data.split(|&b| b == 0)
        .filter_map(|entry| {
            let eq = entry.iter().position(|&b| b == b'=')?;
            (eq > 0).then(|| {
                (
                    OsStr::from_bytes(&entry[..eq]).to_owned(),
                    OsStr::from_bytes(&entry[eq + 1..]).to_owned(),
                )
            })
        })
        .collect()
}

/// Opens `cgroup.procs` of the target's cgroup v2 group for writing.
fn open_target_cgroup(handles: &Handles) -> Result<OwnedFd> {
    let data = handles.read_proc_file("cgroup", CGROUP_LIMIT, "joining the target's cgroup")?;
    procfs::cgroup2_procs(&String::from_utf8_lossy(&data)).map_err(|why| match why {
        Ok(why) => Error::sys(
            format!("cannot join the cgroup of {}", handles.label()),
            io::Error::other(why),
        ),
        Err(e) => e,
    })
}

fn prepare_dir(handles: &Handles, dir: &Dir, what: &'static str) -> Result<DirStep> {
    let open = |path: &std::path::Path| {
        rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map(DirStep::Fd)
        .map_err(|e| Error::open(path, e))
    };
    match dir {
        Dir::Target => handles
            .open_proc_dir_entry(
                what,
                if what == "root" {
                    "Dir::Target as root"
                } else {
                    "Dir::Target as cwd"
                },
            )
            .map(DirStep::Fd),
        Dir::Path(path) => open(path),
        Dir::Inside(path) => CString::new(path.as_os_str().as_bytes().to_vec())
            .map(DirStep::Path)
            .map_err(|_| {
                Error::sys(
                    format!("{} contains a NUL byte", path.display()),
                    io::Error::from_raw_os_error(libc::EINVAL),
                )
            }),
    }
}

fn cap_last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

fn reap(pid: i32) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
    }
}

enum DirStep {
    Fd(OwnedFd),
    Path(CString),
}

/// Everything the child needs, prepared before the fork.
struct ChildPlan {
    ns: KindMap<OwnedFd>,
    plan: Plan,
    cgroup_procs: Option<OwnedFd>,
    root: Option<DirStep>,
    cwd: Option<DirStep>,
    fork_for_pid: bool,
    groups: Option<Vec<Gid>>,
    clear_groups: bool,
    gid: Option<Gid>,
    uid: Option<Uid>,
    keep_caps: bool,
    /// With [`Spawn::die_with_parent`]: a pidfd on the process that must outlive
    /// the program (a pidfd, because from inside a pid namespace getppid says 0).
    parent: Option<OwnedFd>,
    cap_last: u32,
    report: OwnedFd,
}

/// What the child was doing when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Cgroup,
    Enter(Kind),
    Root,
    Cwd,
    Fork,
    Groups,
    Gid,
    Uid,
    Caps,
    DeathSignal,
}

/// One message from the child on the report pipe. Each is a fixed 12 bytes written
/// with one write(2) (atomic: under PIPE_BUF), encoded and decoded here only, with
/// no allocation on the child's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Message {
    /// The program was forked into the target's pid namespace with this PID (as
    /// the caller sees it).
    ProgramPid(i32),
    /// A step failed with this errno; nothing after it ran.
    Failed { step: Step, errno: i32 },
}

impl Message {
    const SIZE: usize = 12;

    /// `[tag, detail, value]` as three native-endian 32-bit words.
    fn encode(self) -> [u8; Message::SIZE] {
        let (tag, detail, value): (u32, u32, i32) = match self {
            Message::ProgramPid(pid) => (0, 0, pid),
            Message::Failed { step, errno } => {
                let (tag, detail) = match step {
                    Step::Cgroup => (1, 0),
                    Step::Enter(kind) => (2, kind as u32),
                    Step::Root => (3, 0),
                    Step::Cwd => (4, 0),
                    Step::Fork => (5, 0),
                    Step::Groups => (6, 0),
                    Step::Gid => (7, 0),
                    Step::Uid => (8, 0),
                    Step::Caps => (9, 0),
                    Step::DeathSignal => (10, 0),
                };
                (tag, detail, errno)
            }
        };
        let mut out = [0u8; Message::SIZE];
        out[..4].copy_from_slice(&tag.to_ne_bytes());
        out[4..8].copy_from_slice(&detail.to_ne_bytes());
        out[8..].copy_from_slice(&value.to_ne_bytes());
        out
    }

    fn decode(msg: &[u8]) -> Option<Message> {
        let word = |i: usize| Some(u32::from_ne_bytes(msg.get(i..i + 4)?.try_into().ok()?));
        let (tag, detail, value) = (word(0)?, word(4)?, word(8)? as i32);
        let step = match tag {
            0 => return Some(Message::ProgramPid(value)),
            1 => Step::Cgroup,
            2 => Step::Enter(*Kind::ALL.get(detail as usize)?),
            3 => Step::Root,
            4 => Step::Cwd,
            5 => Step::Fork,
            6 => Step::Groups,
            7 => Step::Gid,
            8 => Step::Uid,
            9 => Step::Caps,
            10 => Step::DeathSignal,
            _ => return None,
        };
        Some(Message::Failed { step, errno: value })
    }
}

impl ChildPlan {
    /// Runs in the child between fork and exec: system calls only, no allocation.
    fn run(&self) -> io::Result<()> {
        // Supplementary groups are dropped twice, as util-linux does: before
        // entering (still allowed in the caller's user namespace) and after (the
        // only chance for a caller who gains the right in the new one). It is an
        // error only if both fail.
        let groups_dropped = self.clear_groups && rustix::thread::set_thread_groups(&[]).is_ok();
        if let Some(procs) = &self.cgroup_procs {
            rustix::io::write(procs, b"0").map_err(|e| self.fail(Step::Cgroup, e))?;
        }
        let mut fds = Fds(self.ns.map(|_, fd| fd.as_fd()));
        plan::enter(&mut fds, self.plan).map_err(|f| self.fail(Step::Enter(f.kind), f.errno))?;
        if let Some(root) = &self.root {
            // util-linux's rule: without a new working directory, keep the one
            // the process has now, even if it lies outside the new root.
            let keep = match self.cwd {
                None => Some(
                    rustix::fs::open(
                        c".",
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|e| self.fail(Step::Root, e))?,
                ),
                Some(_) => None,
            };
            match root {
                DirStep::Fd(fd) => {
                    rustix::process::fchdir(fd).and_then(|()| rustix::process::chroot(c"."))
                }
                DirStep::Path(path) => rustix::process::chroot(path.as_c_str()),
            }
            .and_then(|()| rustix::process::chdir(c"/"))
            .and_then(|()| keep.map_or(Ok(()), rustix::process::fchdir))
            .map_err(|e| self.fail(Step::Root, e))?;
        }
        if let Some(cwd) = &self.cwd {
            match cwd {
                DirStep::Fd(fd) => rustix::process::fchdir(fd),
                DirStep::Path(path) => rustix::process::chdir(path.as_c_str()),
            }
            .map_err(|e| self.fail(Step::Cwd, e))?;
        }
        if self.fork_for_pid {
            match sys::fork_sibling() {
                Ok(Some(pid)) => {
                    self.send(Message::ProgramPid(pid));
                    sys::exit_now(0);
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(
                        self.fail(Step::Fork, Errno::from_io_error(&e).unwrap_or(Errno::AGAIN))
                    )
                }
            }
        }
        if let Some(parent) = &self.parent {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
                .map_err(|e| self.fail(Step::DeathSignal, e))?;
            // The parent may have died before the signal was armed.
            if !crate::procfs::pidfd_alive(parent) {
                sys::exit_now(1);
            }
        }
        if let Some(groups) = &self.groups {
            rustix::thread::set_thread_groups(groups).map_err(|e| self.fail(Step::Groups, e))?;
        } else if self.clear_groups {
            match rustix::thread::set_thread_groups(&[]) {
                Ok(()) => {}
                Err(_) if groups_dropped => {}
                Err(e) => return Err(self.fail(Step::Groups, e)),
            }
        }
        if let Some(gid) = self.gid {
            rustix::thread::set_thread_res_gid(gid, gid, gid)
                .map_err(|e| self.fail(Step::Gid, e))?;
        }
        if let Some(uid) = self.uid {
            if self.keep_caps {
                rustix::thread::set_keep_capabilities(true)
                    .map_err(|e| self.fail(Step::Caps, e))?;
            }
            rustix::thread::set_thread_res_uid(uid, uid, uid)
                .map_err(|e| self.fail(Step::Uid, e))?;
        }
        if self.keep_caps {
            self.permitted_to_ambient()
                .map_err(|e| self.fail(Step::Caps, e))?;
        }
        Ok(())
    }

    fn permitted_to_ambient(&self) -> Result<(), Errno> {
        let mut sets = rustix::thread::capabilities(None)?;
        sets.inheritable = sets.permitted;
        sets.effective = sets.permitted;
        rustix::thread::set_capabilities(None, sets)?;
        for cap in 0..=self.cap_last.min(63) {
            if sets.permitted.bits() & (1 << cap) != 0 {
                sys::raise_ambient_cap(cap)
                    .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::PERM))?;
            }
        }
        Ok(())
    }

    fn send(&self, msg: Message) {
        let _ = rustix::io::write(&self.report, &msg.encode());
    }

    fn fail(&self, step: Step, errno: Errno) -> io::Error {
        self.send(Message::Failed {
            step,
            errno: errno.raw_os_error(),
        });
        io::Error::from_raw_os_error(errno.raw_os_error())
    }
}

/// What the child said on the report pipe.
#[derive(Default)]
struct Report {
    program_pid: Option<i32>,
    /// The first failure (there is at most one: the child stops at it).
    failure: Option<(Step, i32)>,
}

impl Report {
    fn read(fd: OwnedFd) -> Report {
        let mut data = Vec::new();
        let _ = File::from(fd).read_to_end(&mut data);
        let mut report = Report::default();
        for msg in data.chunks_exact(Message::SIZE).filter_map(Message::decode) {
            match msg {
                Message::ProgramPid(pid) => report.program_pid = Some(pid),
                Message::Failed { step, errno } => {
                    report.failure.get_or_insert((step, errno));
                }
            }
        }
        report
    }

    fn error(&self) -> Option<Error> {
        let (step, errno) = self.failure?;
        let source = io::Error::from_raw_os_error(errno);
        let what = match step {
            Step::Enter(kind) => return Some(Error::Enter { kind, source }),
            Step::Cgroup => "cannot join the target's cgroup",
            Step::Root => "cannot change root directory",
            Step::Cwd => "cannot change directory",
            // What fork(2) says when the pid namespace's init has exited.
            Step::Fork if errno == libc::ENOMEM => {
                "cannot fork into the target's pid namespace (its init process has exited)"
            }
            Step::Fork => "cannot fork",
            Step::Groups => "setgroups failed",
            Step::Gid => "setgid failed",
            Step::Uid => "setuid failed",
            Step::DeathSignal => "cannot set the parent-death signal",
            Step::Caps => "cannot keep capabilities",
        };
        Some(Error::sys(what, source))
    }
}

/// A program started by [`Spawn`]. Unlike [`std::process::Child`], its PID is the
/// program's own even when it was forked into a PID namespace.
#[derive(Debug)]
pub struct Child {
    pid: i32,
    /// The program's stdin, if it was piped.
    pub stdin: Option<ChildStdin>,
    /// The program's stdout, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The program's stderr, if it was piped.
    pub stderr: Option<ChildStderr>,
    status: Option<ExitStatus>,
}

impl Child {
    /// The program's PID, as the caller sees it.
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// Waits for the program to end (closing its stdin first, like std).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(status) = self.wait_once(WaitOptions::empty())? {
                return Ok(status);
            }
        }
    }

    /// Reaps the program if it has ended, without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.wait_once(WaitOptions::NOHANG)
    }

    fn wait_once(&mut self, options: WaitOptions) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let pid =
            Pid::from_raw(self.pid).ok_or_else(|| io::Error::from_raw_os_error(libc::ECHILD))?;
        match rustix::process::waitpid(Some(pid), options) {
            Ok(Some((_, status))) => {
                let status = ExitStatus::from_raw(status.as_raw());
                self.status = Some(status);
                Ok(Some(status))
            }
            Ok(None) => Ok(None),
            Err(Errno::INTR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends `signal` to the program, unless it has already been reaped.
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        let pid =
            Pid::from_raw(self.pid).ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
        let signal = Signal::from_named_raw(signal)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        rustix::process::kill_process(pid, signal).map_err(Into::into)
    }

    /// Sends SIGKILL to the program.
    pub fn kill(&mut self) -> io::Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Reads the program's piped stdout and stderr to the end and waits for it.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let stderr = self.stderr.take().map(|mut e| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                e.read_to_end(&mut buf).map(|_| buf)
            })
        });
        let mut stdout = Vec::new();
        if let Some(mut out) = self.stdout.take() {
            out.read_to_end(&mut stdout)?;
        }
        let stderr = match stderr {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("stderr reader panicked"))??,
            None => Vec::new(),
        };
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_report_message_comes_back_as_it_was_sent() {
        use super::{Message, Step};
        use crate::Kind;
        let mut all = vec![Message::ProgramPid(4242), Message::ProgramPid(-1)];
        let steps = [
            Step::Cgroup,
            Step::Root,
            Step::Cwd,
            Step::Fork,
            Step::Groups,
            Step::Gid,
            Step::Uid,
            Step::Caps,
            Step::DeathSignal,
        ];
        let enter = Kind::ALL.map(Step::Enter);
        for step in steps.into_iter().chain(enter) {
            all.push(Message::Failed { step, errno: 13 });
        }
        for msg in all {
            assert_eq!(Message::decode(&msg.encode()), Some(msg));
        }
        // A short or unknown message is no message.
        assert_eq!(Message::decode(&[0; 8]), None);
        let mut unknown = Message::ProgramPid(1).encode();
        unknown[0] = 99;
        assert_eq!(Message::decode(&unknown), None);
    }

    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn environ_parsing_drops_malformed_entries() {
        let env = parse_environ(b"A=1\0B=\0noequals\0=x\0C=a=b\0\0");
        let env: Vec<_> = env
            .into_iter()
            .map(|(k, v)| (k.into_vec(), v.into_vec()))
            .collect();
        assert_eq!(
            env,
            [
                (b"A".to_vec(), b"1".to_vec()),
                (b"B".to_vec(), b"".to_vec()),
                (b"C".to_vec(), b"a=b".to_vec()),
            ]
        );
    }
}
