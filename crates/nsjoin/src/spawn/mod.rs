//! Start a program inside a target's namespaces.
//!
//! Everything is prepared in the parent (fds opened O_CLOEXEC, paths turned into
//! C strings, the target's environment read); the child, between fork and exec,
//! only makes system calls on that data. The parts:
//!
//! - here: [`Spawn`], the builder, and starting the program (`spawn`, `exec`);
//! - `options`: [`SpawnOptions`], the nsenter-style option set the command and
//!   the Python package map onto;
//! - `credentials`: nsenter's rules for user and group IDs ([`Id`]);
//! - `confined`: [`Spawn::confine`], the target's security context instead;
//! - `pre_exec`: the child's side between fork and exec, in util-linux's order;
//! - `report`: the pipe on which the child says how far it got;
//! - `child`: the parent's side, [`Child`];
//! - `environ`: the target's environment and the login shell.

use std::io;

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output};
use std::sync::Arc;

use crate::{sys, Error, Handles, IpNetns, KindSet, Result};

/// Builder methods that each set the `bool` field of [`Spawn`] of their name.
macro_rules! flags {
    ($($(#[$doc:meta])* $name:ident;)+) => {
        $(
            $(#[$doc])*
            pub fn $name(&mut self, yes: bool) -> &mut Self {
                self.$name = yes;
                self
            }
        )+
    };
}

mod child;
mod confined;
mod credentials;
mod environ;
mod options;
mod pre_exec;
mod report;

pub use child::Child;
pub use credentials::Id;
#[cfg(feature = "scan")]
pub(crate) use environ::parse_environ;
pub use environ::{login_shell, ENVIRON_LIMIT};
pub use options::SpawnOptions;
use report::Report;

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
    confine: bool,
    host_tools: Option<PathBuf>,
    controlling_terminal: bool,
    ip_netns: Option<IpNetns>,
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
            confine: false,
            host_tools: None,
            controlling_terminal: false,
            ip_netns: None,
        }
    }

    /// Enters only these kinds (default: all the handles hold). A user namespace the
    /// caller is already in is skipped.
    pub fn kinds(&mut self, kinds: KindSet) -> &mut Self {
        self.kinds = Some(kinds);
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

    flags! {
        /// Replaces the environment with the target's (`/proc/PID/environ`); variables
        /// set on the `Command` are then ignored. Entries without `=` are dropped.
        target_env;
        /// Moves the program into the target's cgroup (cgroup v2) before entering.
        join_cgroup;
        /// Kills the program (SIGKILL) if the thread that spawned it dies first
        /// (`PR_SET_PDEATHSIG`), so that no program is left running inside when its
        /// supervisor is killed. The kernel tracks the spawning *thread*: spawn from a
        /// thread that lives as long as the program should.
        die_with_parent;
        /// Makes the program the leader of a new session with its standard input
        /// (a terminal, such as the peer of a pseudo-terminal the caller relays) as
        /// its controlling terminal: `setsid` and `TIOCSCTTY`, last before exec.
        controlling_terminal;
    }

    /// Runs the program with this machine's root instead of the target's mount
    /// namespace, in a private copy of the caller's mount namespace where the
    /// target's root shows at `dir` (`None`: [`host_tools::DEFAULT_DIR`](crate::host_tools::DEFAULT_DIR)), `/proc`
    /// is the target's pid namespace and `/sys` its network namespace (when those
    /// are entered). Every other kind is entered as usual; nothing is mounted on
    /// the host or in the target. [`Dir::Target`] as [`Spawn::cwd`] is the
    /// target's working directory under `dir`; [`Spawn::root`] is refused with it.
    /// See [`host_tools`](crate::host_tools).
    pub fn host_tools(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.host_tools = Some(dir.unwrap_or_else(|| crate::host_tools::DEFAULT_DIR.into()));
        self
    }

    /// After entering, sets the program's mounts up as `ip netns exec` does: a
    /// mount namespace of its own with every mount a slave, `/sys` for the entered
    /// network namespace, and a named namespace's `/etc/netns/NAME/*` over `/etc`.
    /// See [`IpNetns`].
    pub fn ip_netns(&mut self, setup: IpNetns) -> &mut Self {
        self.ip_netns = Some(setup);
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
                    child::reap(pid);
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
