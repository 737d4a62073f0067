//! How the conformance_* tests run `nsjoin` next to util-linux `nsenter`: each case
//! runs `nsenter ARGS...` and `nsjoin ARGS...` on the same target and wants the same
//! exit status and the same stdout; where the tool itself fails, nsjoin must say so
//! in one line that starts with `nsjoin: ` and print nothing on stdout. Every case's
//! expectation is also asserted on nsenter's run, so a case that nsenter does not
//! meet is a broken case, not a pass.
//!
//! Targets: `Sandbox`es and `NetnsFile`s from nsjoin-test-support, processes of
//! our own (`Proc`), and a Docker container (`Container`, needs scripts/docker.sh).
// Each test binary that includes this module uses only some of it.
#![allow(dead_code)]

use rustix::process::{kill_process, Pid, Signal};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A process started from `argv` that prints one line when it is ready (what it
/// says is kept in `line`); killed and reaped on drop.
pub struct Proc {
    pub child: Child,
    pub pid: i32,
    pub line: String,
}

impl Proc {
    pub fn start(argv: &[&str]) -> Proc {
        let mut child = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.is_empty() {
            let _ = child.kill();
            panic!("{argv:?} exited before it was ready: {:?}", child.wait());
        }
        Proc {
            pid: child.id() as i32,
            child,
            line: line.trim().to_owned(),
        }
    }

    /// `Proc::start(argv)` as nobody (uid and gid 65534, no other groups).
    pub fn as_nobody(argv: &[&str]) -> Proc {
        let mut all = vec![
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ];
        all.extend_from_slice(argv);
        Proc::start(&all)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes whose parent is `pid` (of any of its threads).
pub fn children(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    found
}

pub fn signal(pid: i32, sig: Signal) -> std::io::Result<()> {
    Ok(kill_process(Pid::from_raw(pid).unwrap(), sig)?)
}

// ---------------------------------------------------------------------------
// Running both tools
// ---------------------------------------------------------------------------

pub const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

/// How a run ended and what it printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// What a case runs besides the arguments.
#[derive(Default, Clone)]
pub struct Opts {
    /// Standard input (else /dev/null).
    pub stdin: Option<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// A command to run the tool under (e.g. `setpriv --groups 1234`).
    pub wrapper: Vec<String>,
}

impl Opts {
    pub fn stdin(text: &str) -> Opts {
        Opts {
            stdin: Some(text.to_owned()),
            ..Opts::default()
        }
    }

    pub fn wrapper(argv: &[&str]) -> Opts {
        Opts {
            wrapper: argv.iter().map(|s| s.to_string()).collect(),
            ..Opts::default()
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Opts {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// Runs `bin ARGS...`; a run that takes more than 20 s is killed and fails the test.
pub fn run(bin: &str, args: &[String], opts: &Opts) -> Output {
    let mut command = match opts.wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    command
        .args(args)
        .envs(opts.env.iter().map(|(k, v)| (k, v)))
        .stdin(if opts.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    if let Some(text) = &opts.stdin {
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(text.as_bytes());
    }
    let read = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{bin} {args:?} did not finish in 20 s");
        }
        thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// What both tools must do in a case.
#[derive(Debug, Clone, Copy)]
pub enum Want<'a> {
    /// Exit 0 and print exactly this (one trailing newline aside).
    Prints(&'a str),
    /// Exit with the program's code and print exactly this.
    Exits(i32, &'a str),
    /// Exit with this code; stdout only compared between the tools.
    Same(i32),
    /// The tool's own failure (or its exec's, 126/127): this code, empty stdout,
    /// and for nsjoin one line of stderr that starts with `nsjoin: `.
    Fails(i32),
    /// End by this signal, like the program did.
    Killed(i32),
}

/// One comparison: the arguments (the same for both tools), what to expect, how to run.
pub struct Case<'a> {
    pub args: Vec<String>,
    pub want: Want<'a>,
    pub opts: Opts,
    /// Applied to both stdouts before they are compared (drops what differs by
    /// nature between two runs, like the PID of `ps` itself).
    pub filter: Option<fn(&str) -> String>,
}

pub fn case<'a>(want: Want<'a>, args: &[&str]) -> Case<'a> {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        want,
        opts: Opts::default(),
        filter: None,
    }
}

impl Case<'_> {
    pub fn opts(mut self, opts: Opts) -> Self {
        self.opts = opts;
        self
    }

    pub fn filter(mut self, filter: fn(&str) -> String) -> Self {
        self.filter = Some(filter);
        self
    }
}

/// Asserts that `out` (of `tool`) is what `want` says, with `stdout` for its
/// (filtered) stdout.
pub fn assert_want(tool: &str, label: &str, want: Want, out: &Output, stdout: &str) {
    let stdout = stdout.strip_suffix('\n').unwrap_or(stdout);
    let ctx = || format!("{tool} {label}: {out:?}");
    match want {
        Want::Prints(text) => {
            assert_eq!(out.status.code(), Some(0), "{}", ctx());
            assert_eq!(stdout, text, "{}", ctx());
        }
        Want::Exits(code, text) => {
            assert_eq!(out.status.code(), Some(code), "{}", ctx());
            assert_eq!(stdout, text, "{}", ctx());
        }
        Want::Same(code) => assert_eq!(out.status.code(), Some(code), "{}", ctx()),
        Want::Fails(code) => {
            assert_eq!(out.status.code(), Some(code), "{}", ctx());
            assert_eq!(out.stdout, "", "{}", ctx());
        }
        Want::Killed(sig) => assert_eq!(out.status.signal(), Some(sig), "{}", ctx()),
    }
}

/// Asserts the shape of one of nsjoin's own errors: one line, `nsjoin: ...`, no
/// panic message or backtrace.
pub fn assert_error_line(label: &str, out: &Output) {
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "nsjoin {label}: want one line of stderr: {out:?}"
    );
    assert!(
        lines[0].starts_with("nsjoin: ") && lines[0].len() > "nsjoin: ".len(),
        "nsjoin {label}: the error must start with `nsjoin: `: {out:?}"
    );
    assert!(
        !out.stderr.contains("panicked") && !out.stderr.contains("RUST_BACKTRACE"),
        "nsjoin {label}: panicked: {out:?}"
    );
}

/// Runs one case with nsenter, then with nsjoin, and compares. Returns nsjoin's run.
pub fn check(c: &Case) -> Output {
    let label = c.args.join(" ");
    let filter = |s: &str| c.filter.map_or_else(|| s.to_owned(), |f| f(s));
    let theirs = run("nsenter", &c.args, &c.opts);
    let tool = "nsenter (the case itself is wrong)";
    assert_want(tool, &label, c.want, &theirs, &filter(&theirs.stdout));
    let ours = run(NSJOIN, &c.args, &c.opts);
    assert_eq!(
        (ours.status.code(), ours.status.signal()),
        (theirs.status.code(), theirs.status.signal()),
        "{label}: exit status differs from nsenter's\nnsjoin: {ours:?}\nnsenter: {theirs:?}"
    );
    assert_eq!(
        filter(&ours.stdout),
        filter(&theirs.stdout),
        "{label}: stdout differs from nsenter's\nnsjoin: {ours:?}\nnsenter: {theirs:?}"
    );
    assert_want("nsjoin", &label, c.want, &ours, &filter(&ours.stdout));
    if let Want::Fails(_) = c.want {
        assert_error_line(&label, &ours);
    }
    ours
}

pub fn check_all(cases: &[Case]) {
    for c in cases {
        check(c);
    }
}

/// Runs nsjoin alone (for what the machine's nsenter 2.38 cannot do).
pub fn nsjoin(args: &[&str], opts: &Opts) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    run(NSJOIN, &args, opts)
}

/// Runs as nobody (uid and gid 65534, no other groups).
pub fn nobody() -> Opts {
    Opts::wrapper(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ])
}
