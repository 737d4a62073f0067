//! What `nsjoin` does, in util-linux nsenter's order: open the target and the
//! namespace files, work out the kinds, set up the program, then either exec it in
//! place or fork it into the pid namespace and wait. [`run`] reads like that
//! algorithm; what each option means was settled by [`crate::request`].

use std::process::Command;

use nsjoin::{Error, Handles, IpNetns, Kind, Namespace, Plan, Spawn, SpawnOptions};
use tracing::debug;

use crate::args::Opts;
use crate::host_tools;
use crate::pty;
use crate::request::{self, IpNetnsMounts, Request};
use crate::supervise;

pub use crate::failure::Failure;

fn own(msg: impl Into<String>) -> Failure {
    Failure::Own(msg.into())
}

/// An OS error as util-linux prints it: `No such process`, without Rust's
/// ` (os error 3)`.
fn os_error(e: impl Into<std::io::Error>) -> String {
    nsjoin::os_text(&e.into())
}

fn selinux_enabled() -> bool {
    std::fs::read_to_string("/sys/fs/selinux/enforce").is_ok()
}

/// Runs nsjoin. Returns only if it failed; otherwise the process has become the
/// program or ended the way the program did.
pub fn run(opts: Opts) -> Failure {
    match request::resolve(&opts).and_then(execute) {
        Ok(never) => match never {},
        Err(f) => f,
    }
}

/// Carries out a resolved request.
fn execute(req: Request) -> Result<std::convert::Infallible, Failure> {
    follow_context(req.follow_context)?;
    if req.pty {
        pty::check_terminal()?;
    }
    // Open everything first, while nothing has changed.
    let handles = open(&req)?;
    // Which kinds will really be entered: --all skips a user namespace we are
    // already in; asking for it by name gets the kernel's answer, as in nsenter.
    let plan = handles.plan(req.kinds)?;
    debug!(enter = %plan.kinds(), skipped = %plan.skipped(), "plan");
    let mut spawn = spawner(&req, &handles, plan)?;
    if let Some(setup) = ip_netns(&req)? {
        spawn.ip_netns(setup);
    }
    let cmd = program(&req, &handles)?;
    let hint = |e: Error| host_tools::hint_if_missing(e.into(), &req, plan);
    if req.pty {
        // The program's devpts: the target's if its mount namespace is entered.
        let in_target = plan.kinds().contains(Kind::Mnt) && req.spawn.host_tools.is_none();
        let pty = pty::open(&handles, in_target)?;
        return pty::run(spawn, cmd, pty).map_err(|f| host_tools::hint_if_missing(f, &req, plan));
    }
    if !plan.kinds().contains(Kind::Pid) || req.no_fork {
        debug!(program = ?cmd.get_program(), "exec in place");
        return Err(hint(spawn.exec(cmd)));
    }
    let signals = supervise::Signals::catch()
        .map_err(|e| own(format!("cannot set up signal handling: {}", os_error(e))))?;
    // Beyond nsenter: if nsjoin is killed, the program does not run on.
    spawn.die_with_parent(true);
    let child = spawn.spawn(cmd).map_err(hint)?;
    debug!(pid = child.id(), "program started in the pid namespace");
    let error = supervise::wait(child, signals);
    Err(own(format!(
        "cannot wait for the program: {}",
        os_error(error)
    )))
}

/// `-Z`: refused where SELinux is on (nsjoin cannot follow its contexts), a warning
/// where it is not.
fn follow_context(asked: bool) -> Result<(), Failure> {
    if !asked {
        return Ok(());
    }
    if selinux_enabled() {
        return Err(own(
            "--follow-context: SELinux contexts are not supported by nsjoin",
        ));
    }
    eprintln!("nsjoin: warning: --follow-context ignored: SELinux is not enabled on this system");
    Ok(())
}

/// The target's namespaces, then the files, then --user-parent and -N.
fn open(req: &Request) -> Result<Handles, Failure> {
    if let Some(nsjoin::Target::Container(spec)) = &req.target {
        say_cri_socket(spec);
    }
    let mut handles = match &req.target {
        Some(target) => target.open(req.from_target)?,
        None => Handles::new(),
    };
    if let Some(IpNetnsMounts::Named(name)) = &req.ip_netns {
        handles.insert(IpNetns::open(name)?);
    }
    for (kind, path) in &req.files {
        handles.insert(Namespace::open_kind(path, *kind)?);
    }
    if req.user_parent {
        handles.insert(handles.user_parent()?);
    }
    if let Some(fd) = req.net_socket {
        handles.insert(handles.socket_net_namespace(fd)?);
    }
    for ns in handles.iter() {
        debug!(kind = %ns.kind(), ns = %ns.id(), path = %ns.path().display(), via = %ns.source(), "opened");
    }
    Ok(handles)
}

/// With `-v`, which CRI socket a `cri://` or `k8s://` target is resolved through:
/// the one named by CONTAINER_RUNTIME_ENDPOINT, a default one, or one under `/host`
/// in a `kubectl debug node/...` pod. (Looked for once more only when asked.)
fn say_cri_socket(spec: &nsjoin::container::ContainerRef) {
    use nsjoin::container::{cri_socket, Engine, Settings};
    if !matches!(spec.engine, Engine::Cri | Engine::K8s)
        || !tracing::enabled!(tracing::Level::DEBUG)
    {
        return;
    }
    match Settings::from_env().and_then(|settings| cri_socket(&settings)) {
        Ok(socket) => debug!(target = %spec, socket = %socket.display(), "CRI runtime"),
        Err(e) => debug!(target = %spec, "no CRI runtime: {e}"),
    }
}

/// The program's set-up, by nsenter's rules (which live in the library's Spawn).
fn spawner<'a>(req: &Request, handles: &'a Handles, plan: Plan) -> Result<Spawn<'a>, Failure> {
    let options = SpawnOptions {
        kinds: plan.kinds(),
        ..req.spawn.clone()
    };
    Ok(Spawn::with_options(handles, &options)?)
}

/// `--netns NAME` / `--netns-mounts`: the mounts `ip netns exec` sets up, named
/// after the namespace when it is one of /run/netns.
fn ip_netns(req: &Request) -> Result<Option<IpNetns>, Failure> {
    let name = match &req.ip_netns {
        None => return Ok(None),
        Some(IpNetnsMounts::Named(name)) => Some(name.clone()),
        Some(IpNetnsMounts::ForNet) => req
            .files
            .iter()
            .find(|(kind, _)| *kind == Kind::Net)
            .and_then(|(_, path)| {
                (path.parent() == Some(std::path::Path::new(nsjoin::NETNS_RUN_DIR)))
                    .then(|| path.file_name().map(|n| n.to_os_string()))
                    .flatten()
            }),
    };
    Ok(Some(match name {
        Some(name) => IpNetns::named(name)?,
        None => IpNetns::unnamed(),
    }))
}

/// The program, or the login shell; with -e, in the target's environment (read
/// here, not by Spawn, because the login shell is looked up in it).
fn program(req: &Request, handles: &Handles) -> Result<Command, Failure> {
    let mut env = req.target_env.then(|| handles.environ()).transpose()?;
    if let (Some(env), Some(_)) = (&mut env, &req.spawn.host_tools) {
        nsjoin::host_tools::use_host_path(env);
    }
    let mut cmd = match req.program.split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args);
            cmd
        }
        // With this machine's root, its shell.
        None if req.spawn.host_tools.is_some() => nsjoin::login_shell(None),
        None => nsjoin::login_shell(env.as_deref()),
    };
    if let Some(env) = env {
        cmd.env_clear().envs(env);
    }
    Ok(cmd)
}
