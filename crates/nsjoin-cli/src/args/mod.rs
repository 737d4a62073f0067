//! The command line: nsenter's options, parsed the way getopt parses them.
//!
//! clap holds the definition (help, man page and completions come from it), but it
//! cannot read getopt's optional arguments (`-n/path` attached, `-nu` meaning
//! "net from the file `u`"), its abbreviated long options (`--tar`), or stop at the
//! first non-option. So [`normalize`] first rewrites argv by getopt's rules
//! ([`crate::getopt`] in `+` mode, with the clap definition as its option table)
//! into a form clap reads unambiguously: every option as `--long` or
//! `--long=value`, then `--`, then the program. nsenter's own check, `--target`
//! given only once, is made there too.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, CommandFactory, Parser};

use crate::getopt::{self, Item, OptSpec, Takes};

/// Run a program with namespaces of other processes.
///
/// A drop-in for util-linux nsenter: the same options and exit codes. Without a
/// program, runs $SHELL (or the user's login shell, or /bin/sh) as a login shell.
#[derive(Parser, Debug, Default)]
#[command(
    name = "nsjoin",
    version,
    override_usage = "nsjoin [options] [<program> [<argument>...]]",
    args_override_self = true,
    after_help = "Exit status: 1 for nsjoin's own errors, 126 if the program cannot be \
                  executed, 127 if it is not found, otherwise the program's own status; a \
                  program killed by a signal makes nsjoin end by the same signal."
)]
pub struct Opts {
    /// Enter all namespaces of the target (a user namespace that is already ours
    /// is skipped)
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Target process to get namespaces from: PID, PID:INODE (checks the process's
    /// pidfd inode), or a container: docker://NAME, podman://NAME,
    /// containerd://[NS/]ID, cri-o://ID, cri://ID, lxc://NAME, nspawn://NAME, or a
    /// Kubernetes pod on this node: k8s://[NAMESPACE/]POD[/CONTAINER] (POD/: the pod
    /// sandbox)
    #[arg(short = 't', long, value_name = "PID")]
    pub target: Option<String>,

    /// Enter mount namespace
    #[arg(short = 'm', long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub mount: Option<Option<PathBuf>>,

    /// Enter UTS namespace (hostname etc)
    #[arg(short = 'u', long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub uts: Option<Option<PathBuf>>,

    /// Enter System V IPC namespace
    #[arg(short = 'i', long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub ipc: Option<Option<PathBuf>>,

    /// Enter network namespace
    #[arg(short = 'n', long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub net: Option<Option<PathBuf>>,

    /// Enter the network namespace of the target's socket FD (needs --target)
    #[arg(short = 'N', long = "net-socket", value_name = "FD")]
    pub net_socket: Option<String>,

    /// Enter pid namespace (the program is forked into it unless --no-fork)
    #[arg(short = 'p', long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub pid: Option<Option<PathBuf>>,

    /// Enter cgroup namespace
    #[arg(short = 'C', long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub cgroup: Option<Option<PathBuf>>,

    /// Enter user namespace
    #[arg(short = 'U', long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub user: Option<Option<PathBuf>>,

    /// Enter the named network namespace NAME (/run/netns/NAME) the way
    /// `ip netns exec NAME` does: see --netns-mounts
    #[arg(long = "netns", value_name = "NAME")]
    pub netns: Option<OsString>,

    /// Set the program's mounts up as `ip netns exec` does: a mount namespace of its
    /// own (mounts made slaves), /sys remounted for the network namespace, and, for
    /// a namespace under /run/netns, /etc/netns/NAME/* bound over /etc/*
    #[arg(long = "netns-mounts")]
    pub netns_mounts: bool,

    /// Enter the parent of the user namespace
    #[arg(long = "user-parent")]
    pub user_parent: bool,

    /// Enter time namespace
    #[arg(short = 'T', long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub time: Option<Option<PathBuf>>,

    /// Set uid in entered namespace ("follow": the uid owning the target)
    #[arg(short = 'S', long = "setuid", value_name = "UID")]
    pub setuid: Option<String>,

    /// Set gid in entered namespace ("follow": the gid owning the target)
    #[arg(short = 'G', long = "setgid", value_name = "GID")]
    pub setgid: Option<String>,

    /// Do not touch uids or gids
    #[arg(long = "preserve-credentials")]
    pub preserve_credentials: bool,

    /// Retain capabilities granted in user namespaces (as ambient capabilities)
    #[arg(long = "keep-caps")]
    pub keep_caps: bool,

    /// Set the root directory (default: the target's)
    #[arg(short = 'r', long, value_name = "DIR", num_args = 0..=1, require_equals = true)]
    pub root: Option<Option<PathBuf>>,

    /// Set the working directory (default: the target's)
    #[arg(short = 'w', long = "wd", value_name = "DIR", num_args = 0..=1, require_equals = true)]
    pub wd: Option<Option<PathBuf>>,

    /// Set the working directory in namespace (resolved after entering)
    #[arg(short = 'W', long = "wdns", value_name = "DIR", num_args = 0..=1, require_equals = true)]
    pub wdns: Option<Option<PathBuf>>,

    /// Inherit environment variables from target process
    #[arg(short = 'e', long)]
    pub env: bool,

    /// Run this machine's programs: the root is this machine's, the target's root
    /// shows at DIR (default /target), /proc and /sys are the target's; every other
    /// namespace asked for is entered. With -e, PATH stays this machine's
    #[arg(long = "host-tools", value_name = "DIR", num_args = 0..=1, require_equals = true)]
    pub host_tools: Option<Option<PathBuf>>,

    /// Give the program a pseudo-terminal of its own (from the devpts it sees) in a
    /// session of its own, relayed to ours in raw mode; needs a terminal
    #[arg(long)]
    pub pty: bool,

    /// Do not fork before exec'ing <program>
    #[arg(short = 'F', long = "no-fork")]
    pub no_fork: bool,

    /// Join the cgroup of the target process (cgroup v2)
    #[arg(short = 'c', long = "join-cgroup")]
    pub join_cgroup: bool,

    /// Set SELinux context according to --target PID (unsupported: refused where
    /// SELinux is enabled, ignored with a warning where it is not)
    #[arg(short = 'Z', long = "follow-context")]
    pub follow_context: bool,

    /// Give the program the target's security context, as docker exec does: its
    /// uid, gids and groups, capabilities, no_new_privs, seccomp filters, LSM
    /// label, cgroup, environment, root, working directory, resource limits and
    /// oom_score_adj
    #[arg(long)]
    pub confine: bool,

    /// Trace what is opened and entered on stderr (-vv for more; RUST_LOG also works)
    #[arg(short = 'v', long, action = ArgAction::Count)]
    pub verbose: u8,

    /// The program to run, and its arguments
    #[arg(
        value_name = "PROGRAM",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub program: Vec<OsString>,
}

/// A usage error, in getopt's words.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

/// Rewrites argv by getopt_long's rules (`+` mode: options end at the first
/// non-option or at `--`) into `--long[=value]... -- program...`.
pub fn normalize(cmd: &clap::Command, args: &[OsString]) -> Result<Vec<OsString>, UsageError> {
    let table = getopt::option_table(cmd);
    let mut out = vec![args.first().cloned().unwrap_or_else(|| "nsjoin".into())];
    let mut program = Vec::new();
    let mut targets = 0;
    for item in getopt::getopt(&table, args, false) {
        match item {
            Item::Opt(spec, value) => {
                targets += usize::from(spec.long == "target");
                out.push(getopt::long_arg(&spec.long, value.as_deref()));
            }
            Item::Operand(arg) => program.push(arg),
            Item::Error(e) => return Err(UsageError(e)),
        }
    }
    if targets > 1 {
        return Err(UsageError("option --target may be given only once".into()));
    }
    out.push("--".into());
    out.extend(program);
    Ok(out)
}

/// What parsing the command line led to.
pub enum Parsed {
    /// Options to act on.
    Run(Box<Opts>),
    /// `--help` or `--version`: print this on stdout and exit 0.
    Print(String),
}

/// Parses argv as nsenter would.
///
/// A run's options are read straight into [`Opts`] from getopt's items, over
/// [`option_table`]: building clap's `Command` and matching against it cost more
/// than everything else nsjoin does in user space before it starts the program.
/// clap still answers `--help` and `--version` and anything the direct reading
/// does not take (a value that is not UTF-8 where clap wants text, an empty
/// value), through the same definition; the unit tests hold both readings equal.
pub fn parse(args: &[OsString]) -> Result<Parsed, UsageError> {
    match read_directly(args) {
        Some(result) => result.map(|opts| Parsed::Run(Box::new(opts))),
        None => parse_with_clap(args),
    }
}

/// The table getopt reads nsenter's options with: what [`getopt::option_table`]
/// makes of the built clap command, in its order, without building it.
pub fn option_table() -> Vec<OptSpec> {
    use Takes::{Nothing, OptionalValue, Value};
    const TABLE: [(&str, Option<char>, Takes); 31] = [
        ("all", Some('a'), Nothing),
        ("target", Some('t'), Value),
        ("mount", Some('m'), OptionalValue),
        ("uts", Some('u'), OptionalValue),
        ("ipc", Some('i'), OptionalValue),
        ("net", Some('n'), OptionalValue),
        ("net-socket", Some('N'), Value),
        ("pid", Some('p'), OptionalValue),
        ("cgroup", Some('C'), OptionalValue),
        ("user", Some('U'), OptionalValue),
        ("netns", None, Value),
        ("netns-mounts", None, Nothing),
        ("user-parent", None, Nothing),
        ("time", Some('T'), OptionalValue),
        ("setuid", Some('S'), Value),
        ("setgid", Some('G'), Value),
        ("preserve-credentials", None, Nothing),
        ("keep-caps", None, Nothing),
        ("root", Some('r'), OptionalValue),
        ("wd", Some('w'), OptionalValue),
        ("wdns", Some('W'), OptionalValue),
        ("env", Some('e'), Nothing),
        ("host-tools", None, OptionalValue),
        ("pty", None, Nothing),
        ("no-fork", Some('F'), Nothing),
        ("join-cgroup", Some('c'), Nothing),
        ("follow-context", Some('Z'), Nothing),
        ("confine", None, Nothing),
        ("verbose", Some('v'), Nothing),
        ("help", Some('h'), Nothing),
        ("version", Some('V'), Nothing),
    ];
    TABLE
        .iter()
        .map(|&(long, short, takes)| OptSpec {
            long: long.to_owned(),
            short,
            takes,
        })
        .collect()
}

/// argv read by getopt's rules straight into [`Opts`], as clap would fill it from
/// the normalized form; `None` for what is left to clap (see [`parse`]).
fn read_directly(args: &[OsString]) -> Option<Result<Opts, UsageError>> {
    if args.is_empty() {
        return None;
    }
    let table = option_table();
    let mut opts = Opts::default();
    let mut targets = 0;
    for item in getopt::getopt(&table, args, false) {
        let (spec, value) = match item {
            Item::Opt(spec, value) => (spec, value),
            Item::Operand(arg) => {
                opts.program.push(arg);
                continue;
            }
            Item::Error(e) => return Some(Err(UsageError(e))),
        };
        if value.as_ref().is_some_and(|v| v.is_empty()) {
            return None;
        }
        let text = || value.clone().map(OsString::into_string).transpose();
        let file = || Some(value.clone().map(PathBuf::from));
        match spec.long.as_str() {
            "all" => opts.all = true,
            "target" => {
                targets += 1;
                opts.target = Some(text().ok()??);
            }
            "mount" => opts.mount = file(),
            "uts" => opts.uts = file(),
            "ipc" => opts.ipc = file(),
            "net" => opts.net = file(),
            "net-socket" => opts.net_socket = Some(text().ok()??),
            "pid" => opts.pid = file(),
            "cgroup" => opts.cgroup = file(),
            "user" => opts.user = file(),
            "netns" => opts.netns = Some(value.clone()?),
            "netns-mounts" => opts.netns_mounts = true,
            "user-parent" => opts.user_parent = true,
            "time" => opts.time = file(),
            "setuid" => opts.setuid = Some(text().ok()??),
            "setgid" => opts.setgid = Some(text().ok()??),
            "preserve-credentials" => opts.preserve_credentials = true,
            "keep-caps" => opts.keep_caps = true,
            "root" => opts.root = file(),
            "wd" => opts.wd = file(),
            "wdns" => opts.wdns = file(),
            "env" => opts.env = true,
            "host-tools" => opts.host_tools = file(),
            "pty" => opts.pty = true,
            "no-fork" => opts.no_fork = true,
            "join-cgroup" => opts.join_cgroup = true,
            "follow-context" => opts.follow_context = true,
            "confine" => opts.confine = true,
            "verbose" => opts.verbose = opts.verbose.saturating_add(1),
            // --help, --version.
            _ => return None,
        }
    }
    if targets > 1 {
        return Some(Err(UsageError(
            "option --target may be given only once".into(),
        )));
    }
    Some(Ok(opts))
}

/// Parses argv with clap, over the normalized form: `--help` and `--version`, and
/// the cases [`read_directly`] leaves to it.
fn parse_with_clap(args: &[OsString]) -> Result<Parsed, UsageError> {
    // One clap Command serves as the option table and as the parser.
    let mut cmd = Opts::command();
    cmd.build();
    let normalized = normalize(&cmd, args)?;
    let parsed = cmd
        .try_get_matches_from_mut(&normalized)
        .and_then(|mut matches| <Opts as clap::FromArgMatches>::from_arg_matches_mut(&mut matches));
    match parsed {
        Ok(opts) => Ok(Parsed::Run(Box::new(opts))),
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                Ok(Parsed::Print(e.render().to_string()))
            }
            _ => Err(UsageError(getopt::clap_error(&e))),
        },
    }
}

#[cfg(test)]
mod tests;
