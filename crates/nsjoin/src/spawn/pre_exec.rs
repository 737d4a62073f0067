//! The child's side, between fork and exec (`pre_exec`): a [`ChildPlan`] made in
//! the parent before the fork (every fd opened, every path a C string), then run
//! in the child with system calls only. The order is util-linux's: join the
//! cgroup, enter the namespaces, change root and directory, fork again if a PID
//! namespace was entered, switch credentials.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::Signal;

use super::credentials::Credentials;
use super::report::{Message, Step};
use super::{Dir, Spawn};
use crate::plan::{self, Fds, Plan};
use crate::procfs::{self, CGROUP_LIMIT};
use crate::{sys, Error, Handles, IpNetns, Kind, KindMap, KindSet, Result};

enum DirStep {
    Fd(OwnedFd),
    Path(CString),
}

/// Everything the child needs, prepared before the fork.
pub(super) struct ChildPlan {
    ns: KindMap<OwnedFd>,
    plan: Plan,
    cgroup_procs: Option<OwnedFd>,
    root: Option<DirStep>,
    cwd: Option<DirStep>,
    ip_netns: Option<IpNetns>,
    fork_for_pid: bool,
    pub(super) creds: Credentials,
    /// With [`Spawn::host_tools`]: the private mount namespace and what to mount.
    host_tools: Option<crate::host_tools::Prepared>,
    controlling_terminal: bool,
    /// With [`Spawn::die_with_parent`]: a pidfd on the process that must outlive
    /// the program (a pidfd, because from inside a pid namespace getppid says 0).
    parent: Option<OwnedFd>,
    /// With [`Spawn::confine`]: the target's context, applied last.
    confinement: Option<crate::confine::Confinement>,
    report: OwnedFd,
}

impl Spawn<'_> {
    /// Everything opened, read and converted before the fork, and the read end of
    /// the pipe on which the child reports.
    pub(super) fn prepare(
        &self,
        cmd: &mut Command,
        fork_for_pid: bool,
    ) -> Result<(ChildPlan, OwnedFd)> {
        if let Some((spawn, confinement)) = self.confined()? {
            let (mut child_plan, report) = spawn.prepare(cmd, fork_for_pid)?;
            child_plan.confinement = Some(confinement);
            return Ok((child_plan, report));
        }
        let handles = self.handles;
        let plan = handles.plan(self.kinds.unwrap_or(KindSet::EMPTY))?;
        let creds = self.credentials(&plan)?;
        if self.target_env {
            let mut env = handles.environ()?;
            if self.host_tools.is_some() {
                crate::host_tools::use_host_path(&mut env);
            }
            cmd.env_clear();
            cmd.envs(env);
        }
        let (plan, host, cwd) = self.prepare_host_tools(plan)?;
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
            cwd: cwd
                .as_ref()
                .map(|d| prepare_dir(handles, d, "cwd"))
                .transpose()?,
            ip_netns: self.ip_netns.clone(),
            fork_for_pid: fork_for_pid && plan.kinds().contains(Kind::Pid),
            creds,
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
            host_tools: host,
            controlling_terminal: self.controlling_terminal,
            confinement: None,
            report: report_write,
        };
        Ok((child_plan, report_read))
    }

    /// With [`Spawn::host_tools`]: the private mount namespace, the plan without
    /// the kinds it enters itself, and the working directory to take.
    fn prepare_host_tools(
        &self,
        plan: Plan,
    ) -> Result<(Plan, Option<crate::host_tools::Prepared>, Option<Dir>)> {
        use crate::host_tools;
        let Some(dir) = &self.host_tools else {
            return Ok((plan, None, self.cwd.clone()));
        };
        // Each of these sets the program's root or mounts, which host tools do.
        let clash = if self.root.is_some() {
            Some("--root")
        } else if self.ip_netns.is_some() {
            Some("--netns or --netns-mounts (which mount a fresh /sys over the host tools')")
        } else {
            None
        };
        if let Some(other) = clash {
            return Err(Error::sys(
                format!(
                    "--host-tools gives the program this machine's root: it cannot be combined with {other}"
                ),
                io::Error::from_raw_os_error(libc::EINVAL),
            ));
        }
        let want_cwd = self.cwd == Some(Dir::Target);
        let host = host_tools::prepare(self.handles, dir, plan.kinds(), want_cwd)?;
        let cwd = match &host.cwd {
            Some(path) => Some(Dir::Inside(std::path::PathBuf::from(
                std::ffi::OsStr::from_bytes(path.as_bytes()),
            ))),
            None => self.cwd.clone(),
        };
        Ok((
            plan.without(host_tools::Prepared::handled()),
            Some(host),
            cwd,
        ))
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

impl ChildPlan {
    /// Runs in the child between fork and exec: system calls only, no allocation.
    pub(super) fn run(&self) -> io::Result<()> {
        let groups_dropped = self.drop_groups_before_entering();
        if let Some(procs) = &self.cgroup_procs {
            rustix::io::write(procs, b"0").map_err(|e| self.fail(Step::Cgroup, e))?;
        }
        let mut fds = Fds(self.ns.map(|_, fd| fd.as_fd()));
        plan::enter(&mut fds, self.plan).map_err(|f| self.fail(Step::Enter(f.kind), f.errno))?;
        if let Some(host) = &self.host_tools {
            host.enter()
                .map_err(|(step, e)| self.fail(Step::HostTools(step), e))?;
        }
        if let Some(setup) = &self.ip_netns {
            setup
                .apply()
                .map_err(|(step, e)| self.fail(Step::Netns(step), e))?;
        }
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
        if let Some(host) = &self.host_tools {
            host.after_fork(&self.ns, self.fork_for_pid)
                .map_err(|(step, e)| self.fail(Step::HostTools(step), e))?;
        }
        if let Some(parent) = &self.parent {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
                .map_err(|e| self.fail(Step::DeathSignal, e))?;
            // The parent may have died before the signal was armed.
            if !crate::procfs::pidfd_alive(parent) {
                sys::exit_now(1);
            }
        }
        self.switch_credentials(groups_dropped)?;
        if self.controlling_terminal {
            crate::terminal::take_controlling_terminal()
                .map_err(|e| self.fail(Step::Terminal, e))?;
        }
        if let Some(confinement) = &self.confinement {
            confinement
                .apply()
                .map_err(|(step, e)| self.fail(Step::Confine(step), e))?;
        }
        Ok(())
    }

    pub(super) fn send(&self, msg: Message) {
        let _ = rustix::io::write(&self.report, &msg.encode());
    }

    pub(super) fn fail(&self, step: Step, errno: Errno) -> io::Error {
        self.send(Message::Failed {
            step,
            errno: errno.raw_os_error(),
        });
        io::Error::from_raw_os_error(errno.raw_os_error())
    }
}
