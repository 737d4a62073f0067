//! `--confine`: which other options it contradicts. It takes the target's
//! credentials, capabilities, root and working directory, so an option that sets
//! any of those another way is refused in one line, before anything is opened.

use crate::args::Opts;
use crate::failure::Failure;

/// Refuses the options `--confine` contradicts, naming the first one.
pub fn check(opts: &Opts) -> Result<(), Failure> {
    if !opts.confine {
        return Ok(());
    }
    let contradicting = [
        (opts.setuid.is_some(), "-S/--setuid", "the target's uids"),
        (opts.setgid.is_some(), "-G/--setgid", "the target's gids"),
        (
            opts.preserve_credentials,
            "--preserve-credentials",
            "the target's credentials",
        ),
        (opts.keep_caps, "--keep-caps", "the target's capabilities"),
        (
            matches!(opts.root, Some(Some(_))),
            "-r DIR/--root=DIR",
            "the target's root",
        ),
        (
            matches!(opts.wd, Some(Some(_))) || opts.wdns.is_some(),
            "-w DIR/-W",
            "the target's working directory",
        ),
    ];
    match contradicting.iter().find(|(set, _, _)| *set) {
        Some((_, option, takes)) => Err(Failure::Own(format!(
            "--confine cannot be combined with {option}: it takes {takes}"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;
    use crate::args::{parse, Parsed};

    fn checked(argv: &[&str]) -> Result<(), String> {
        let argv: Vec<OsString> = std::iter::once("nsjoin")
            .chain(argv.iter().copied())
            .map(OsString::from)
            .collect();
        let Ok(Parsed::Run(opts)) = parse(&argv) else {
            panic!("{argv:?} does not parse")
        };
        check(&opts).map_err(|f| match f {
            Failure::Own(msg) | Failure::Exec(msg, _) => msg,
        })
    }

    #[test]
    fn confine_refuses_what_it_would_override() {
        for (argv, option) in [
            (&["-S", "0"][..], "-S/--setuid"),
            (&["-S", "follow"], "-S/--setuid"),
            (&["-G", "0"], "-G/--setgid"),
            (&["--preserve-credentials"], "--preserve-credentials"),
            (&["--keep-caps"], "--keep-caps"),
            (&["-r/srv"], "-r DIR/--root=DIR"),
            (&["-w/srv"], "-w DIR/-W"),
            (&["-W/srv"], "-w DIR/-W"),
        ] {
            let mut full = vec!["--confine", "-a", "-t", "42"];
            full.extend_from_slice(argv);
            let err = checked(&full).unwrap_err();
            assert!(
                err.starts_with(&format!("--confine cannot be combined with {option}: ")),
                "{argv:?}: {err}"
            );
        }
        // What it implies anyway is fine.
        for argv in [&["-e"][..], &["-c"], &["-r", "-w"], &["-F"], &[]] {
            let mut full = vec!["--confine", "-a", "-t", "42"];
            full.extend_from_slice(argv);
            assert_eq!(checked(&full), Ok(()), "{argv:?}");
        }
        assert_eq!(checked(&["-a", "-t", "42", "-S", "0"]), Ok(()));
    }
}
