//! What `nsjoin` does with its options, in util-linux nsenter's order: open the
//! target and the namespace files, work out the kinds, set up the program, then
//! either exec it in place or fork it into the pid namespace and wait.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use nsjoin::{Dir, Error, Handles, Kind, KindSet, Namespace, Spawn, Target};
use tracing::debug;

use crate::args::Opts;
use crate::supervise;

/// How nsjoin ends when it does not become the program.
#[derive(Debug)]
pub enum Failure {
    /// Its own error: message, exit 1.
    Own(String),
    /// The program could not be executed: message, exit 126 or 127.
    Exec(String, i32),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        match &e {
            Error::Exec { program, source } => {
                let code = if source.kind() == std::io::ErrorKind::NotFound {
                    127
                } else {
                    126
                };
                // Out of fds, the program was never tried (std could not make the
                // pipes of its spawn) or could not be loaded: "failed to execute X:
                // Too many open files" reads as X's fault. util-linux exits 126 for
                // every exec failure but ENOENT, and so does nsjoin; the message
                // names the cause.
                let errno = source
                    .raw_os_error()
                    .map(rustix::io::Errno::from_raw_os_error);
                let message = match errno {
                    Some(rustix::io::Errno::MFILE) => format!(
                        "cannot execute {program}: too many open files{}",
                        fd_limit()
                            .map(|n| format!(" (the limit is {n}, ulimit -n)"))
                            .unwrap_or_default()
                    ),
                    Some(rustix::io::Errno::NFILE) => {
                        format!("cannot execute {program}: too many open files in the system")
                    }
                    _ => e.to_string(),
                };
                Failure::Exec(message, code)
            }
            _ => Failure::Own(e.to_string()),
        }
    }
}

/// RLIMIT_NOFILE's soft limit, if there is one.
fn fd_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

fn own(msg: impl Into<String>) -> Failure {
    Failure::Own(msg.into())
}

/// An OS error as util-linux prints it: `No such process`, without Rust's
/// ` (os error 3)`.
fn os_error(e: impl Into<std::io::Error>) -> String {
    let e = e.into();
    let text = e.to_string();
    match e.raw_os_error() {
        Some(n) => text
            .strip_suffix(&format!(" (os error {n})"))
            .map(str::to_owned)
            .unwrap_or(text),
        None => text,
    }
}

/// The namespace options in nsenter's order, with the file each one names.
fn requested(opts: &Opts) -> Vec<(Kind, Option<PathBuf>)> {
    [
        (Kind::User, &opts.user),
        (Kind::Cgroup, &opts.cgroup),
        (Kind::Ipc, &opts.ipc),
        (Kind::Uts, &opts.uts),
        (Kind::Net, &opts.net),
        (Kind::Pid, &opts.pid),
        (Kind::Mnt, &opts.mount),
        (Kind::Time, &opts.time),
    ]
    .into_iter()
    .filter_map(|(kind, opt)| opt.clone().map(|file| (kind, file)))
    .collect()
}

/// Parses `PID`, `PID:INODE` (the inode of the process's pidfd, which pins it) or
/// a container, `ENGINE://NAME-OR-ID`.
fn parse_target(spec: &str) -> Result<Target, Failure> {
    if nsjoin::container::ContainerRef::is_spec(spec) {
        return Ok(Target::container(spec)?);
    }
    let bad = || own(format!("failed to parse pid: '{spec}'"));
    let (pid, inode) = match spec.split_once(':') {
        Some((pid, inode)) => (pid, Some(inode.parse::<u64>().map_err(|_| bad())?)),
        None => (spec, None),
    };
    let pid: i32 = pid.parse().map_err(|_| bad())?;
    if pid <= 0 {
        return Err(bad());
    }
    let Some(inode) = inode else {
        return Ok(Target::pid(pid));
    };
    let raw = rustix::process::Pid::from_raw(pid).ok_or_else(bad)?;
    let pidfd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty())
        .map_err(|e| own(format!("cannot open pidfd of {pid}: {}", os_error(e))))?;
    let st = rustix::fs::fstat(&pidfd)
        .map_err(|e| own(format!("cannot stat pidfd of {pid}: {}", os_error(e))))?;
    if st.st_ino != inode {
        return Err(own(format!("pidfd inode {inode} not found for pid {pid}")));
    }
    Ok(Target::Pidfd(pidfd))
}

fn parse_id(value: &str, what: &str) -> Result<Option<u32>, Failure> {
    if value == "follow" {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| own(format!("failed to parse {what}: '{value}'")))
}

/// The user's shell for "no program": $SHELL, the passwd entry, /bin/sh.
fn login_shell(env: Option<&[(OsString, OsString)]>) -> PathBuf {
    let from_env = match env {
        Some(env) => env
            .iter()
            .find(|(k, _)| k == "SHELL")
            .map(|(_, v)| v.clone()),
        None => std::env::var_os("SHELL"),
    };
    if let Some(shell) = from_env.filter(|s| !s.is_empty()) {
        return shell.into();
    }
    let uid = rustix::process::getuid().as_raw().to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.len() == 7 && fields[2] == uid && !fields[6].is_empty())
                    .then(|| PathBuf::from(fields[6]))
            })
        })
        .unwrap_or_else(|| PathBuf::from("/bin/sh"))
}

fn selinux_enabled() -> bool {
    std::fs::read_to_string("/sys/fs/selinux/enforce").is_ok()
}

/// Runs nsjoin. Returns only if it failed; otherwise the process has become the
/// program or ended the way the program did.
pub fn run(opts: Opts) -> Failure {
    match run_inner(opts) {
        Ok(never) => match never {},
        Err(f) => f,
    }
}

fn run_inner(opts: Opts) -> Result<std::convert::Infallible, Failure> {
    if opts.wd.is_some() && opts.wdns.is_some() {
        return Err(own("mutually exclusive arguments: --wdns --wd"));
    }
    if opts.follow_context {
        if selinux_enabled() {
            return Err(own(
                "--follow-context: SELinux contexts are not supported by nsjoin",
            ));
        }
        eprintln!(
            "nsjoin: warning: --follow-context ignored: SELinux is not enabled on this system"
        );
    }

    // Open everything first, while nothing has changed.
    let target = opts.target.as_deref().map(parse_target).transpose()?;
    let mut kinds: KindSet = KindSet::EMPTY;
    let mut from_target = KindSet::EMPTY;
    let mut files = Vec::new();
    for (kind, file) in requested(&opts) {
        kinds.insert(kind);
        match file {
            Some(path) => files.push((kind, path)),
            None => from_target.insert(kind),
        }
    }
    if opts.all {
        let all = KindSet::supported().difference(kinds);
        kinds = kinds | all;
        from_target = from_target | all;
    }
    let explicit_user = opts.user.is_some();
    let needs_target = !from_target.is_empty()
        || opts.net_socket.is_some()
        || opts.user_parent
        || opts.root == Some(None)
        || opts.wd == Some(None)
        || opts.env
        || opts.join_cgroup
        || opts.setuid.as_deref() == Some("follow")
        || opts.setgid.as_deref() == Some("follow");
    if needs_target && target.is_none() {
        return Err(match from_target.iter().next() {
            Some(kind) if opts.target.is_none() => own(format!(
                "neither filename nor target pid supplied for ns/{kind}"
            )),
            _ => own("no target PID specified"),
        });
    }
    let mut handles = match &target {
        Some(target) => target.open(from_target)?,
        None => Handles::new(),
    };
    for (kind, path) in files {
        handles.insert(Namespace::open_kind(&path, kind)?);
    }
    if opts.user_parent {
        let base = match handles.get(Kind::User) {
            Some(user) => user.try_clone()?,
            None => target
                .as_ref()
                .map(|t| t.open(Kind::User.into()))
                .transpose()?
                .and_then(|mut h| h.remove(Kind::User))
                .ok_or_else(|| own("no target PID specified"))?,
        };
        handles.insert(base.owner()?);
        kinds.insert(Kind::User);
    }
    if let Some(fd) = &opts.net_socket {
        let fd: i32 = fd
            .parse()
            .ok()
            .filter(|fd| *fd >= 0)
            .ok_or_else(|| own(format!("failed to parse file descriptor: '{fd}'")))?;
        handles.insert(handles.socket_net_namespace(fd)?);
        kinds.insert(Kind::Net);
    }
    if kinds.is_empty() {
        return Err(own("no namespace specified"));
    }

    // Which kinds will really be entered: --all skips a user namespace we are
    // already in; asking for it by name gets the kernel's answer, as in nsenter.
    for ns in handles.iter() {
        debug!(kind = %ns.kind(), ns = %ns.id(), path = %ns.path().display(), via = %ns.source(), "opened");
    }
    let plan = handles.plan(kinds)?;
    if explicit_user && plan.skipped().contains(Kind::User) {
        return Err(own(
            "reassociate to namespace 'ns/user' failed: Invalid argument",
        ));
    }
    debug!(enter = %plan.kinds(), skipped = %plan.skipped(), "plan");

    let mut spawn = Spawn::new(&handles);
    spawn.kinds(plan.kinds());
    match &opts.root {
        Some(None) => spawn.root(Dir::Target),
        Some(Some(dir)) => spawn.root(Dir::Path(dir.clone())),
        None => &mut spawn,
    };
    match (&opts.wd, &opts.wdns) {
        (Some(None), _) => spawn.cwd(Dir::Target),
        (Some(Some(dir)), _) => spawn.cwd(Dir::Path(dir.clone())),
        (None, Some(Some(dir))) => spawn.cwd(Dir::Inside(dir.clone())),
        _ => &mut spawn,
    };
    spawn.join_cgroup(opts.join_cgroup);

    // Credentials: forced to 0/0 in a user namespace unless preserved (nsenter).
    let entering_user = plan.kinds().contains(Kind::User);
    let mut uid = (entering_user && !opts.preserve_credentials).then_some(0);
    let mut gid = uid;
    if let Some(value) = &opts.setuid {
        uid = Some(match parse_id(value, "uid")? {
            Some(id) => id,
            None => handles.process_owner()?.0,
        });
    }
    if let Some(value) = &opts.setgid {
        gid = Some(match parse_id(value, "gid")? {
            Some(id) => id,
            None => handles.process_owner()?.1,
        });
    }
    if let Some(uid) = uid {
        spawn.uid(uid);
    }
    if let Some(gid) = gid {
        spawn.gid(gid);
    }
    spawn.keep_caps(opts.keep_caps && entering_user);

    // The target's environment replaces ours (read here, not by Spawn, because
    // the login shell is looked up in it).
    let env = opts.env.then(|| handles.environ()).transpose()?;
    let mut cmd = match opts.program.split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args);
            cmd
        }
        None => {
            let shell = login_shell(env.as_deref());
            let name = shell
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sh".into());
            let mut cmd = Command::new(&shell);
            cmd.arg0(format!("-{name}"));
            cmd
        }
    };
    if let Some(env) = env {
        cmd.env_clear().envs(env);
    }

    let fork = plan.kinds().contains(Kind::Pid) && !opts.no_fork;
    if !fork {
        debug!(program = ?cmd.get_program(), "exec in place");
        return Err(spawn.exec(cmd).into());
    }
    let signals = supervise::Signals::catch()
        .map_err(|e| own(format!("cannot set up signal handling: {}", os_error(e))))?;
    // Beyond nsenter: if nsjoin is killed, the program does not run on.
    spawn.die_with_parent(true);
    let child = spawn.spawn(cmd)?;
    debug!(pid = child.id(), "program started in the pid namespace");
    let error = supervise::wait(child, signals);
    Err(own(format!(
        "cannot wait for the program: {}",
        os_error(error)
    )))
}
