//! nsenter's options resolved into what to do: a plain value, made without opening,
//! entering or executing anything, so that every rule of the command line is
//! unit-tested without root (the tests below). [`crate::enter`] then carries it out.

use std::ffi::OsString;
use std::path::PathBuf;

use nsjoin::{Dir, Id, Kind, KindSet, SpawnOptions, Target};

use crate::args::Opts;
use crate::failure::Failure;

/// What `nsjoin` will do.
#[derive(Debug)]
pub struct Request {
    /// `-t`: the process or container whose namespaces are asked for.
    pub target: Option<Target>,
    /// The kinds to take from the target.
    pub from_target: KindSet,
    /// The kinds to take from files (`--net=FILE`), in nsenter's order.
    pub files: Vec<(Kind, PathBuf)>,
    /// `--user-parent`: enter the parent of the target's user namespace.
    pub user_parent: bool,
    /// `-N FD`: the network namespace of the target's socket FD.
    pub net_socket: Option<i32>,
    /// Every kind to enter.
    pub kinds: KindSet,
    /// The program's set-up (`-U` by name, `-r`, `-w`/`-W`, `-S`, `-G`,
    /// `--preserve-credentials`, `-c`, `--keep-caps`), by the library's nsenter
    /// rules. Its kinds are filled in once the plan is known; its `target_env` is
    /// left off (see `target_env` below).
    pub spawn: SpawnOptions,
    /// `-e`: the target's environment.
    pub target_env: bool,
    /// The program and its arguments; empty: the login shell.
    pub program: Vec<OsString>,
    /// `-F`: exec in place even when a pid namespace is entered.
    pub no_fork: bool,
    /// `-Z`.
    pub follow_context: bool,
    /// `--pty`: a pseudo-terminal relayed to ours.
    pub pty: bool,
    /// `--netns`/`--netns-mounts`: what `ip netns exec` does around the program.
    pub ip_netns: Option<IpNetnsMounts>,
}

/// `--netns NAME` or `--netns-mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpNetnsMounts {
    /// `--netns NAME`: the namespace `/run/netns/NAME`, and its `/etc/netns/NAME`.
    Named(OsString),
    /// `--netns-mounts`: for the network namespace entered otherwise (`-n`); named
    /// if its file is `/run/netns/NAME`.
    ForNet,
}

fn own(msg: impl Into<String>) -> Failure {
    Failure::Own(msg.into())
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

fn parse_id(value: &str, what: &str) -> Result<Id, Failure> {
    if value == "follow" {
        return Ok(Id::Target);
    }
    value
        .parse()
        .map(Id::Of)
        .map_err(|_| own(format!("failed to parse {what}: '{value}'")))
}

/// Resolves the options by nsenter's rules, in nsenter's order of complaints.
pub fn resolve(opts: &Opts) -> Result<Request, Failure> {
    if opts.wd.is_some() && opts.wdns.is_some() {
        return Err(own("mutually exclusive arguments: --wdns --wd"));
    }
    crate::confine::check(opts)?;
    let target = opts.target.as_deref().map(Target::from_arg).transpose()?;
    let ip_netns = match (&opts.netns, opts.netns_mounts) {
        (Some(_), _) if opts.net.is_some() || opts.net_socket.is_some() => {
            return Err(own("mutually exclusive arguments: --netns --net"));
        }
        (Some(name), _) => Some(IpNetnsMounts::Named(name.clone())),
        (None, true) if opts.net.is_none() && opts.net_socket.is_none() && !opts.all => {
            return Err(own(
                "--netns-mounts needs a network namespace to enter (--net or --netns)",
            ));
        }
        (None, true) => Some(IpNetnsMounts::ForNet),
        (None, false) => None,
    };
    let mut kinds = KindSet::EMPTY;
    let mut from_target = KindSet::EMPTY;
    let mut files = Vec::new();
    for (kind, file) in requested(opts) {
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
    let needs_target = !from_target.is_empty()
        || opts.net_socket.is_some()
        || opts.user_parent
        || opts.root == Some(None)
        || opts.wd == Some(None)
        || opts.env
        || opts.confine
        || opts.join_cgroup
        || opts.host_tools.is_some()
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
    if opts.user_parent {
        kinds.insert(Kind::User);
    }
    let net_socket = opts
        .net_socket
        .as_deref()
        .map(|fd| {
            fd.parse::<i32>()
                .ok()
                .filter(|fd| *fd >= 0)
                .ok_or_else(|| own(format!("failed to parse file descriptor: '{fd}'")))
        })
        .transpose()?;
    if net_socket.is_some() || matches!(ip_netns, Some(IpNetnsMounts::Named(_))) {
        kinds.insert(Kind::Net);
    }
    if kinds.is_empty() {
        return Err(own("no namespace specified"));
    }
    if opts.host_tools.is_some() {
        if opts.root.is_some() {
            return Err(own("--host-tools and --root are mutually exclusive"));
        }
        // Each of these also decides the program's root or mounts: --confine gives
        // it the target's root, --netns its own /sys and /etc overlay, where
        // --host-tools mounts this machine's root with a fresh /sys of its own.
        if opts.confine {
            return Err(own(
                "--host-tools cannot be combined with --confine: --confine gives the program \
                 the target's root, --host-tools this machine's",
            ));
        }
        if opts.netns.is_some() || opts.netns_mounts {
            return Err(own(
                "--host-tools cannot be combined with --netns or --netns-mounts: --host-tools \
                 makes the program's mounts itself (for a named network namespace, use \
                 --net=/run/netns/NAME)",
            ));
        }
        // The target's root is cloned from inside its mount namespace, which is
        // opened whether or not it is entered (it is not: the program gets a
        // private one).
        if !files.iter().any(|(kind, _)| *kind == Kind::Mnt) {
            from_target.insert(Kind::Mnt);
        }
    }
    Ok(Request {
        target,
        from_target,
        files,
        user_parent: opts.user_parent,
        net_socket,
        kinds,
        spawn: SpawnOptions {
            kinds: KindSet::EMPTY,
            strict_user: opts.user.is_some(),
            root: match &opts.root {
                Some(None) => Some(Dir::Target),
                Some(Some(dir)) => Some(Dir::Path(dir.clone())),
                None => None,
            },
            cwd: match (&opts.wd, &opts.wdns) {
                (Some(None), _) => Some(Dir::Target),
                (Some(Some(dir)), _) => Some(Dir::Path(dir.clone())),
                (None, Some(Some(dir))) => Some(Dir::Inside(dir.clone())),
                _ => None,
            },
            join_cgroup: opts.join_cgroup,
            uid: opts
                .setuid
                .as_deref()
                .map(|v| parse_id(v, "uid"))
                .transpose()?,
            gid: opts
                .setgid
                .as_deref()
                .map(|v| parse_id(v, "gid"))
                .transpose()?,
            preserve_credentials: opts.preserve_credentials,
            keep_caps: opts.keep_caps,
            // The command reads the environment itself: the login shell is
            // looked up in it.
            target_env: false,
            confine: opts.confine,
            host_tools: opts.host_tools.clone(),
        },
        target_env: opts.env || opts.confine,
        program: opts.program.clone(),
        no_fork: opts.no_fork,
        follow_context: opts.follow_context,
        pty: opts.pty,
        ip_netns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(argv: &[&str]) -> Result<Request, String> {
        let mut full = vec!["nsjoin"];
        full.extend_from_slice(argv);
        let argv: Vec<OsString> = full.iter().map(OsString::from).collect();
        let opts = match crate::args::parse(&argv) {
            Ok(crate::args::Parsed::Run(opts)) => opts,
            Ok(crate::args::Parsed::Print(_)) => return Err("printed".into()),
            Err(e) => return Err(format!("usage: {}", e.0)),
        };
        resolve(&opts).map_err(|f| match f {
            Failure::Own(msg) | Failure::Exec(msg, _) => msg,
        })
    }

    #[test]
    fn kinds_come_from_the_target_or_from_files() {
        let r = resolved(&["-t", "42", "-n", "-u/run/uts", "--mount=/m", "true"]).unwrap();
        assert!(matches!(r.target, Some(Target::Pid { pid: 42, .. })));
        assert_eq!(r.from_target, KindSet::from(Kind::Net));
        assert_eq!(
            r.files,
            [(Kind::Uts, "/run/uts".into()), (Kind::Mnt, "/m".into())]
        );
        assert_eq!(r.kinds, KindSet::from([Kind::Net, Kind::Uts, Kind::Mnt]));
        assert_eq!(r.program, [OsString::from("true")]);
        assert!(!r.spawn.strict_user);
    }

    #[test]
    fn all_adds_every_supported_kind_and_user_by_name_is_strict() {
        let r = resolved(&["-a", "-t", "42"]).unwrap();
        assert_eq!(r.kinds, KindSet::supported());
        assert!(!r.spawn.strict_user && r.program.is_empty());
        let r = resolved(&["-U", "-t", "42"]).unwrap();
        assert!(r.spawn.strict_user);
    }

    #[test]
    fn credentials_directories_and_flags() {
        let r = resolved(&["-t", "1", "-n", "-S", "follow", "-G", "7", "-r", "-W/srv"]).unwrap();
        assert_eq!(
            (r.spawn.uid, r.spawn.gid),
            (Some(Id::Target), Some(Id::Of(7)))
        );
        assert_eq!(r.spawn.root, Some(Dir::Target));
        assert_eq!(r.spawn.cwd, Some(Dir::Inside("/srv".into())));
        let r = resolved(&["-t", "1", "-p", "-F", "-e", "-c", "--preserve-credentials"]).unwrap();
        assert!(r.no_fork && r.target_env && r.spawn.join_cgroup && r.spawn.preserve_credentials);
        let r = resolved(&["-t", "1", "--user-parent", "-N", "3"]).unwrap();
        assert_eq!(r.kinds, KindSet::from([Kind::User, Kind::Net]));
        assert_eq!(r.net_socket, Some(3));
    }

    #[test]
    fn netns_names_a_network_namespace_and_its_mounts() {
        let r = resolved(&["--netns", "blue", "ip", "a"]).unwrap();
        assert_eq!(r.kinds, KindSet::from(Kind::Net));
        assert!(r.files.is_empty() && r.target.is_none());
        assert_eq!(r.ip_netns, Some(IpNetnsMounts::Named("blue".into())));
        let r = resolved(&["-t", "1", "-u", "--netns=blue"]).unwrap();
        assert_eq!(r.kinds, KindSet::from([Kind::Net, Kind::Uts]));
        let r = resolved(&["--net=/run/netns/blue", "--netns-mounts"]).unwrap();
        assert_eq!(r.ip_netns, Some(IpNetnsMounts::ForNet));
        assert_eq!(r.files, [(Kind::Net, "/run/netns/blue".into())]);
        assert_eq!(resolved(&["-n/x"]).unwrap().ip_netns, None);
        for (argv, message) in [
            (
                &["--netns", "blue", "-n/x"][..],
                "mutually exclusive arguments: --netns --net",
            ),
            (
                &["-t", "1", "-u", "--netns-mounts"],
                "--netns-mounts needs a network namespace to enter (--net or --netns)",
            ),
        ] {
            assert_eq!(resolved(argv).unwrap_err(), message, "{argv:?}");
        }
    }

    #[test]
    fn nsenters_complaints_in_nsenters_order() {
        for (argv, message) in [
            (
                &["-n"][..],
                "neither filename nor target pid supplied for ns/net",
            ),
            (&["-r"], "no target PID specified"),
            (&["-t", "42"], "no namespace specified"),
            (&["-t", "4x", "-n"], "failed to parse pid: '4x'"),
            (&["-t", "0", "-n"], "failed to parse pid: '0'"),
            (&["-t", "1", "-n", "-S", "x"], "failed to parse uid: 'x'"),
            (
                &["-t", "1", "-N", "-3"],
                "failed to parse file descriptor: '-3'",
            ),
            (
                &["-t", "1", "-n", "-w/a", "-W/b"],
                "mutually exclusive arguments: --wdns --wd",
            ),
        ] {
            assert_eq!(resolved(argv).unwrap_err(), message, "{argv:?}");
        }
    }
}
