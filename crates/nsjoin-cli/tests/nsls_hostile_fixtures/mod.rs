//! What the nsls_hostile_* and nsls_trees tests share: every run of nsls is bounded
//! in time (a deadline, then SIGKILL) and memory (RLIMIT_AS, CPU seconds).
// Each test binary that includes this module uses only some of it.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const NSLS: &str = env!("CARGO_BIN_EXE_nsls");

pub const DEADLINE: Duration = Duration::from_secs(60);

pub const MIB: u64 = 1 << 20;

/// The address space every run gets unless a test asks for less.
pub const DEFAULT_AS: u64 = 1024 * MIB;

#[derive(Debug)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl Out {
    /// Exit status 1 with nothing said: what lsns 2.38 does when a process it reads
    /// exits meanwhile (see `common::ask_lsns`).
    pub fn failed_silently(&self) -> bool {
        self.code == Some(1) && self.stderr.is_empty()
    }

    /// The one line of a failure: `nsls: ...`, exit status 1, nothing on stdout.
    pub fn one_line_failure(&self, what: &str) -> String {
        assert_eq!(self.code, Some(1), "{what}: {self:?}");
        assert_eq!(self.stdout, "", "{what}: printed as if it had succeeded");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: not one line: {:?}", self.stderr);
        assert!(lines[0].starts_with("nsls: "), "{what}: {:?}", self.stderr);
        lines[0].to_owned()
    }

    pub fn success(&self, what: &str) -> &str {
        assert_eq!(
            (self.code, self.stderr.as_str()),
            (Some(0), ""),
            "{what}: {self:?}"
        );
        &self.stdout
    }
}

/// Resource limits for one run (prlimit(1)).
#[derive(Clone, Copy)]
pub struct Limits {
    pub address_space: u64,
    pub nofile: Option<u64>,
    pub nproc: Option<u64>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            address_space: DEFAULT_AS,
            nofile: None,
            nproc: None,
        }
    }
}

/// `prlimit LIMITS -- PROGRAM ARGS`, after `prefix` (which must exec its last
/// arguments in the same process: setpriv, `sh -c 'exec "$@"'`).
pub fn limited(prefix: &[&str], limits: Limits, program: &str, args: &[&str]) -> Command {
    let mut argv: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
    argv.push("prlimit".into());
    argv.push(format!("--as={}", limits.address_space));
    argv.push("--cpu=60".into());
    if let Some(n) = limits.nofile {
        argv.push(format!("--nofile={n}"));
    }
    if let Some(n) = limits.nproc {
        argv.push(format!("--nproc={n}"));
    }
    argv.push("--".into());
    argv.push(program.into());
    argv.extend(args.iter().map(|s| s.to_string()));
    let mut cmd = Command::new(&argv[0]);
    // A panic is a failure whatever its backtrace: keep the message short.
    cmd.args(&argv[1..])
        .env("LC_ALL", "C.UTF-8")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` (stderr captured; stdout too if `capture_stdout`, else as set) and
/// waits for it at most [`DEADLINE`].
pub fn run(cmd: Command, capture_stdout: bool) -> Out {
    run_io(cmd, capture_stdout, true)
}

pub fn run_io(mut cmd: Command, capture_stdout: bool, capture_stderr: bool) -> Out {
    if capture_stdout {
        cmd.stdout(Stdio::piped());
    }
    if capture_stderr {
        cmd.stderr(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("cannot start the command");
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not end within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Out {
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        code: status.code(),
        signal: status.signal(),
    }
}

pub fn nsls(limits: Limits, args: &[&str]) -> Out {
    run(limited(&[], limits, NSLS, args), true)
}
