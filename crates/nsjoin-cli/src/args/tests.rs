//! The command line read both ways (directly and by clap) must agree.

use super::*;

fn norm(args: &[&str]) -> Result<Vec<String>, UsageError> {
    let args: Vec<OsString> = std::iter::once("nsjoin")
        .chain(args.iter().copied())
        .map(OsString::from)
        .collect();
    let mut cmd = Opts::command();
    cmd.build();
    normalize(&cmd, &args).map(|v| {
        v[1..]
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    })
}

#[test]
fn getopt_optional_arguments_attach_only() {
    assert_eq!(norm(&["-n/x", "ip"]).unwrap(), ["--net=/x", "--", "ip"]);
    assert_eq!(norm(&["-n", "/x"]).unwrap(), ["--net", "--", "/x"]);
    assert_eq!(norm(&["--net=/x"]).unwrap(), ["--net=/x", "--"]);
    assert_eq!(norm(&["--net", "/x"]).unwrap(), ["--net", "--", "/x"]);
    // -nu: net from the file "u", as getopt reads it.
    assert_eq!(norm(&["-nu"]).unwrap(), ["--net=u", "--"]);
}

#[test]
fn getopt_required_arguments_attach_or_follow() {
    assert_eq!(
        norm(&["-t42", "-n"]).unwrap(),
        ["--target=42", "--net", "--"]
    );
    assert_eq!(
        norm(&["-at", "42", "sh"]).unwrap(),
        ["--all", "--target=42", "--", "sh"]
    );
    assert_eq!(norm(&["--tar", "42"]).unwrap(), ["--target=42", "--"]);
    assert_eq!(
        norm(&["-t"]),
        Err(UsageError("option requires an argument -- 't'".into()))
    );
    assert_eq!(
        norm(&["--target"]),
        Err(UsageError("option '--target' requires an argument".into()))
    );
}

#[test]
fn options_stop_at_the_program_or_double_dash() {
    assert_eq!(
        norm(&["-n", "sh", "-c", "x"]).unwrap(),
        ["--net", "--", "sh", "-c", "x"]
    );
    assert_eq!(norm(&["--", "-a"]).unwrap(), ["--", "-a"]);
    assert_eq!(norm(&["-"]).unwrap(), ["--", "-"]);
}

#[test]
fn bad_options_are_named_like_getopt() {
    assert_eq!(
        norm(&["-x"]),
        Err(UsageError("invalid option -- 'x'".into()))
    );
    assert_eq!(
        norm(&["--foo"]),
        Err(UsageError("unrecognized option '--foo'".into()))
    );
    assert_eq!(
        norm(&["--all=1"]),
        Err(UsageError(
            "option '--all' doesn't allow an argument".into()
        ))
    );
    assert!(norm(&["--u"]).unwrap_err().0.contains("ambiguous"));
    assert_eq!(
        norm(&["-t1", "--target=2"]),
        Err(UsageError("option --target may be given only once".into()))
    );
}

#[test]
fn the_option_table_is_the_one_clap_defines() {
    let mut cmd = Opts::command();
    cmd.build();
    assert_eq!(option_table(), getopt::option_table(&cmd));
}

#[test]
fn reading_directly_fills_what_clap_fills() {
    use std::os::unix::ffi::OsStringExt;
    // One command line per entry, split at spaces.
    let cases = [
        "",
        "-t 42 --net --uts --ipc --mount --pid /bin/true",
        "-at42 -n/x -- sh -c echo",
        "-t1 -m -u/u -i -n -p -C -U -T/t true",
        "--target=1 --mount=/m --user-parent --net-socket 3 x",
        "-t 1 -S follow -G 7 --preserve-credentials --keep-caps",
        "-t 1 -r -w -W/srv -e -F -c -Z -vvv",
        "-t 1 -r/x --root=/y --wd=/a --wdns -v --verbose",
        "--tar 5 --all -- -a --net",
        "-n sh -c x",
        "-t -5 -N -1 prog -t",
        "-",
        "-t1 --target=2",
        "-x",
        "--foo",
        "--all=1",
        "--u",
        "-t",
        "--net=",
        "--help",
        "-V",
        "-t 1 --version",
    ];
    let as_args = |argv: Vec<OsString>| -> Vec<OsString> {
        std::iter::once(OsString::from("nsjoin"))
            .chain(argv)
            .collect()
    };
    let mut all: Vec<Vec<OsString>> = cases
        .iter()
        .map(|c| as_args(c.split_whitespace().map(OsString::from).collect()))
        .collect();
    // An empty value, given as its own word.
    all.push(as_args(vec!["-t".into(), "".into()]));
    // Not UTF-8: a target (text for clap) and a file (a path).
    all.push(as_args(vec![
        "-t".into(),
        OsString::from_vec(vec![b'4', 0xff]),
    ]));
    all.push(as_args(vec![OsString::from_vec(b"-n/\xff".to_vec())]));
    all.push(as_args(vec![OsString::from_vec(vec![b'-', b'n', 0xff])]));
    let show = |r: Result<Parsed, UsageError>| match r {
        Ok(Parsed::Run(opts)) => format!("run {opts:?}"),
        Ok(Parsed::Print(text)) => format!("print {text}"),
        Err(e) => format!("error {e:?}"),
    };
    let mut direct = 0;
    for args in &all {
        let by_clap = show(parse_with_clap(args));
        if let Some(r) = read_directly(args) {
            direct += 1;
            let r = r.map(|opts| Parsed::Run(Box::new(opts)));
            assert_eq!(show(r), by_clap, "{args:?}");
        }
        assert_eq!(show(parse(args)), by_clap, "{args:?}");
    }
    // The plain runs are read directly, not handed to clap.
    assert!(direct >= cases.len() - 7, "{direct}");
}

#[test]
fn clap_reads_the_normalized_form() {
    let args: Vec<OsString> = ["nsjoin", "-at42", "-n/x", "--", "sh", "-c", "echo"]
        .into_iter()
        .map(OsString::from)
        .collect();
    let Parsed::Run(opts) = parse(&args).unwrap() else {
        panic!("expected options")
    };
    assert!(opts.all);
    assert_eq!(opts.target.as_deref(), Some("42"));
    assert_eq!(opts.net, Some(Some(PathBuf::from("/x"))));
    assert_eq!(opts.mount, None);
    assert_eq!(opts.program, ["sh", "-c", "echo"]);
}
