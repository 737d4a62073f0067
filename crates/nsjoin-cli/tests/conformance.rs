// Conformance of the `nsjoin` command with util-linux `nsenter`: each case runs
// `nsenter ARGS...` and `nsjoin ARGS...` on the same target and wants the same exit
// status and the same stdout; where the tool itself fails, nsjoin must say so in one
// line that starts with `nsjoin: ` and print nothing on stdout. Every case's
// expectation is also asserted on nsenter's run, so a case that nsenter does not
// meet is a broken case, not a pass.
//
// The flags that the machine's nsenter (util-linux 2.38) lacks (-e, -c, --keep-caps,
// --user-parent, -N, -S/-G follow) and where later util-linux differs from 2.38 (no
// namespace and -t twice are errors; -W takes its directory only attached, like
// -w) are tested against nsenter(1) of util-linux 2.41 and its source in the tests
// named `v241_*`, which run nsjoin alone.
//
// Targets: `Sandbox`es and `NetnsFile`s from the library's fixtures, processes of
// our own (`Proc`), and a Docker container (`Container`, needs scripts/docker.sh).

use nsjoin_test_support as common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{ns_link, reaped_pid, Container, NetnsFile, Reachable, Sandbox, TempDir};
use rustix::process::{kill_process, Pid, Signal};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// A process started from `argv` that prints one line when it is ready (what it
/// says is kept in `line`); killed and reaped on drop.
struct Proc {
    child: Child,
    pid: i32,
    line: String,
}

impl Proc {
    fn start(argv: &[&str]) -> Proc {
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
    fn as_nobody(argv: &[&str]) -> Proc {
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

/// A child cgroup of the cgroup v2 hierarchy, removed on drop (after its processes
/// are gone: declare it before the processes moved into it).
struct Cgroup {
    /// Its path from the hierarchy's root, as /proc/PID/cgroup shows it.
    name: String,
    dir: PathBuf,
}

impl Cgroup {
    /// None where no cgroup2 file system is mounted.
    fn new() -> Option<Cgroup> {
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
        let root = mounts.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(fields[1]))
        })?;
        let base = format!("nsjoin-conf-{}", std::process::id());
        let dir = root.join(&base);
        fs::create_dir(&dir).unwrap();
        Some(Cgroup {
            name: format!("/{base}"),
            dir,
        })
    }

    fn add(&self, pid: i32) {
        fs::write(self.dir.join("cgroup.procs"), pid.to_string()).unwrap();
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..100 {
            if fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The state letter of /proc/PID/stat (R, S, T, Z...), None once the PID is gone.
fn proc_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// The processes whose parent is `pid` (of any of its threads).
fn children(pid: i32) -> Vec<i32> {
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

/// Waits (up to 10 s) for a descendant of `pid` that runs `comm`.
fn wait_for_descendant(pid: i32, comm: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut todo = children(pid);
        while let Some(p) = todo.pop() {
            if fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm) {
                return p;
            }
            todo.extend(children(p));
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("no `{comm}` under process {pid} after 10 s");
}

/// Waits (up to 5 s) until `check` holds.
fn wait_until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

fn signal(pid: i32, sig: Signal) -> std::io::Result<()> {
    Ok(kill_process(Pid::from_raw(pid).unwrap(), sig)?)
}

// ---------------------------------------------------------------------------
// Running both tools
// ---------------------------------------------------------------------------

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

/// How a run ended and what it printed.
#[derive(Debug)]
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// What a case runs besides the arguments.
#[derive(Default, Clone)]
struct Opts {
    /// Standard input (else /dev/null).
    stdin: Option<String>,
    /// Extra environment.
    env: Vec<(String, String)>,
    /// A command to run the tool under (e.g. `setpriv --groups 1234`).
    wrapper: Vec<String>,
}

impl Opts {
    fn stdin(text: &str) -> Opts {
        Opts {
            stdin: Some(text.to_owned()),
            ..Opts::default()
        }
    }

    fn wrapper(argv: &[&str]) -> Opts {
        Opts {
            wrapper: argv.iter().map(|s| s.to_string()).collect(),
            ..Opts::default()
        }
    }

    fn env(mut self, key: &str, value: &str) -> Opts {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// Runs `bin ARGS...`; a run that takes more than 20 s is killed and fails the test.
fn run(bin: &str, args: &[String], opts: &Opts) -> Output {
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
enum Want<'a> {
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
struct Case<'a> {
    args: Vec<String>,
    want: Want<'a>,
    opts: Opts,
    /// Applied to both stdouts before they are compared (drops what differs by
    /// nature between two runs, like the PID of `ps` itself).
    filter: Option<fn(&str) -> String>,
}

fn case<'a>(want: Want<'a>, args: &[&str]) -> Case<'a> {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        want,
        opts: Opts::default(),
        filter: None,
    }
}

impl Case<'_> {
    fn opts(mut self, opts: Opts) -> Self {
        self.opts = opts;
        self
    }

    fn filter(mut self, filter: fn(&str) -> String) -> Self {
        self.filter = Some(filter);
        self
    }
}

/// Asserts that `out` (of `tool`) is what `want` says, with `stdout` for its
/// (filtered) stdout.
fn assert_want(tool: &str, label: &str, want: Want, out: &Output, stdout: &str) {
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
fn assert_error_line(label: &str, out: &Output) {
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
fn check(c: &Case) -> Output {
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

fn check_all(cases: &[Case]) {
    for c in cases {
        check(c);
    }
}

/// Runs nsjoin alone (for what the machine's nsenter 2.38 cannot do).
fn nsjoin(args: &[&str], opts: &Opts) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    run(NSJOIN, &args, opts)
}

// ---------------------------------------------------------------------------
// Namespace options on a PID target (-t with -a -m -u -i -n -p -C -T -F)
// ---------------------------------------------------------------------------

#[test]
fn each_namespace_option_enters_the_targets_namespace_like_nsenter() {
    if !common::root_or_skip("each_namespace_option_enters_the_targets_namespace_like_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let target_eq = format!("--target={t}");
    let host = &sb.hostname;
    let link = |kind| ns_link(sb.pid, kind);
    let (mnt, uts, ipc, net, pid, cgroup) = (
        link("mnt"),
        link("uts"),
        link("ipc"),
        link("net"),
        link("pid"),
        link("cgroup"),
    );
    let all_six = [&mnt, &uts, &ipc, &net, &pid, &cgroup]
        .map(String::as_str)
        .join("\n");
    let six = ["mnt", "uts", "ipc", "net", "pid", "cgroup"].map(|k| format!("/proc/self/ns/{k}"));
    let six = six.each_ref().map(String::as_str);
    // -F: the program stays in the caller's pid namespace, its children do not.
    let host_pid = ns_link(std::process::id() as i32, "pid");
    let pid_no_fork = format!("{host_pid}\n{pid}");
    let all_six_no_fork = [&mnt, &uts, &ipc, &net, &host_pid, &cgroup]
        .map(String::as_str)
        .join("\n");
    let (rl, p_pid, p_children) = (
        "readlink",
        "/proc/self/ns/pid",
        "/proc/self/ns/pid_for_children",
    );
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints(host), &["-t", &t, "-u", "hostname"]),
        case(Want::Prints(host), &["--target", &t, "--uts", "hostname"]),
        case(Want::Prints(host), &[&target_eq, "-u", "hostname"]),
        case(Want::Prints(host), &["--targ", &t, "--ut", "hostname"]),
        case(Want::Prints(host), &["-a", "-t", &t, "hostname"]),
        case(Want::Prints(host), &["-at", &t, "hostname"]),
        case(Want::Prints(host), &["--all", "--target", &t, "hostname"]),
        case(Want::Prints(&mnt), &["-t", &t, "-m", rl, "/proc/self/ns/mnt"]),
        case(Want::Prints(&mnt), &["-t", &t, "--mount", rl, "/proc/self/ns/mnt"]),
        case(Want::Prints(&ipc), &["-t", &t, "-i", rl, "/proc/self/ns/ipc"]),
        case(Want::Prints(&ipc), &["-t", &t, "--ipc", rl, "/proc/self/ns/ipc"]),
        case(Want::Prints(&net), &["-t", &t, "-n", rl, "/proc/self/ns/net"]),
        case(Want::Prints(&net), &["-t", &t, "--net", rl, "/proc/self/ns/net"]),
        case(Want::Prints(&cgroup), &["-t", &t, "-C", rl, "/proc/self/ns/cgroup"]),
        case(Want::Prints(&cgroup), &["-t", &t, "--cgroup", rl, "/proc/self/ns/cgroup"]),
        // -p forks, so that the program is inside the pid namespace...
        case(Want::Prints(&pid), &["-t", &t, "-p", rl, p_pid]),
        case(Want::Prints(&pid), &["-t", &t, "--pid", rl, p_pid]),
        // ... and -F/--no-fork leaves it outside, with only its children inside.
        case(Want::Prints(&pid_no_fork), &["-t", &t, "-p", "-F", rl, p_pid, p_children]),
        case(Want::Prints(&pid_no_fork), &["-t", &t, "--pid", "--no-fork", rl, p_pid, p_children]),
        case(Want::Prints(host), &["-t", &t, "-u", "-F", "hostname"]),
        case(Want::Prints(&all_six), &[&["-t", &t, "-m", "-u", "-i", "-n", "-p", "-C", rl][..], &six].concat()),
        case(Want::Prints(&all_six), &[&["-a", "-t", &t, rl][..], &six].concat()),
        case(Want::Prints(&all_six_no_fork), &[&["--all", "-t", &t, "-F", rl][..], &six].concat()),
    ];
    check_all(&cases);
}

#[test]
fn time_option_enters_the_targets_time_namespace_like_nsenter() {
    if !common::root_or_skip("time_option_enters_the_targets_time_namespace_like_nsenter") {
        return;
    }
    let sb = Sandbox::start(&["--time"], "");
    let t = sb.pid.to_string();
    let time = ns_link(sb.pid, "time");
    assert_ne!(time, ns_link(std::process::id() as i32, "time"));
    let file = format!("/proc/{t}/ns/time");
    let (rl, p_time) = ("readlink", "/proc/self/ns/time");
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints(&time), &["-t", &t, "-T", rl, p_time]),
        case(Want::Prints(&time), &["-t", &t, "--time", rl, p_time]),
        case(Want::Prints(&time), &["-a", "-t", &t, rl, p_time]),
        case(Want::Prints(&time), &[&format!("--time={file}"), rl, p_time]),
        case(Want::Prints(&time), &[&format!("-T{file}"), rl, p_time]),
    ];
    check_all(&cases);
}

#[test]
fn namespace_files_given_with_options_match_nsenter() {
    if !common::root_or_skip("namespace_files_given_with_options_match_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let host = &sb.hostname;
    // `--KIND=/proc/PID/ns/KIND` and `-K/proc/PID/ns/KIND`, and what to read back.
    let long = |kind: &str, opt: &str| format!("--{opt}=/proc/{t}/ns/{kind}");
    let short = |kind: &str, opt: char| format!("-{opt}/proc/{t}/ns/{kind}");
    let link = |kind| ns_link(sb.pid, kind);
    let (mnt, ipc, net, pid, cgroup) = (
        link("mnt"),
        link("ipc"),
        link("net"),
        link("pid"),
        link("cgroup"),
    );
    let own = |kind: &str| format!("/proc/self/ns/{kind}");
    let host_and_net = format!("{host}\n{net}");
    let rl = "readlink";
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints(host), &[&long("uts", "uts"), "hostname"]),
        case(Want::Prints(host), &[&short("uts", 'u'), "hostname"]),
        case(Want::Prints(&mnt), &[&long("mnt", "mount"), rl, &own("mnt")]),
        case(Want::Prints(&mnt), &[&short("mnt", 'm'), rl, &own("mnt")]),
        case(Want::Prints(&ipc), &[&long("ipc", "ipc"), rl, &own("ipc")]),
        case(Want::Prints(&ipc), &[&short("ipc", 'i'), rl, &own("ipc")]),
        case(Want::Prints(&net), &[&long("net", "net"), rl, &own("net")]),
        case(Want::Prints(&pid), &[&long("pid", "pid"), rl, &own("pid")]),
        case(Want::Prints(&pid), &[&short("pid", 'p'), rl, &own("pid")]),
        case(Want::Prints(&cgroup), &[&long("cgroup", "cgroup"), rl, &own("cgroup")]),
        case(Want::Prints(&cgroup), &[&short("cgroup", 'C'), rl, &own("cgroup")]),
        // A file for one kind and the target for another.
        case(Want::Prints(&host_and_net), &["-t", &t, "-n", &long("uts", "uts"), "sh", "-c", "hostname; readlink /proc/self/ns/net"]),
    ];
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// ip netns files
// ---------------------------------------------------------------------------

#[test]
fn ip_netns_files_match_nsenter() {
    if !common::root_or_skip("ip_netns_files_match_nsenter") {
        return;
    }
    let netns = NetnsFile::new();
    let path = netns.path.to_str().unwrap();
    let out = check(&case(
        Want::Same(0),
        &[&format!("--net={path}"), "ip", "-o", "link"],
    ));
    // A fresh network namespace: nothing but a loopback that is down.
    assert!(out.stdout.starts_with("1: lo: <LOOPBACK>"), "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    #[rustfmt::skip]
    let cases = [
        case(Want::Same(0), &[&format!("-n{path}"), "ip", "-o", "link"]),
        // An optional argument must be attached: `--net PATH` is --net without a
        // file (and no target), then PATH as the program.
        case(Want::Fails(1), &["--net", path, "ip", "-o", "link"]),
        // A namespace file of the wrong kind.
        case(Want::Fails(1), &[&format!("--uts={path}"), "hostname"]),
        case(Want::Fails(1), &[&format!("-m{path}"), "true"]),
        // Not a namespace file at all, and no file at all.
        case(Want::Fails(1), &["--net=/etc/hostname", "true"]),
        case(Want::Fails(1), &["--net=/nonexistent/nsjoin", "true"]),
    ];
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// -r -w -W
// ---------------------------------------------------------------------------

#[test]
fn root_and_working_directory_options_match_nsenter() {
    if !common::root_or_skip("root_and_working_directory_options_match_nsenter") {
        return;
    }
    // A root file system with only a static busybox in it.
    let rootfs = TempDir::new("rootfs");
    fs::create_dir(rootfs.path().join("bin")).unwrap();
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static (scripts/setup.sh)");
    fs::copy(busybox, rootfs.path().join("bin/busybox")).unwrap();
    let root = rootfs.path().to_str().unwrap();
    let other = TempDir::new("wd");
    let other = other.path().to_str().unwrap().to_owned();
    // The target works in the root file system's directory.
    let sb = Sandbox::start(&["--uts", "--mount"], &format!("cd {root}"));
    let t = sb.pid.to_string();
    let (r_root, w_other) = (format!("-r{root}"), format!("-w{other}"));
    #[rustfmt::skip]
    let cases = [
        // -w alone: the target's working directory.
        case(Want::Prints(root), &["-t", &t, "-u", "-w", "pwd"]),
        case(Want::Prints(root), &["-t", &t, "-u", "--wd", "pwd"]),
        case(Want::Prints(&other), &["-t", &t, "-u", &w_other, "pwd"]),
        case(Want::Prints(&other), &["-t", &t, "-u", &format!("--wd={other}"), "pwd"]),
        // -WDIR: a directory as seen inside the namespaces entered.
        case(Want::Prints(&other), &["-t", &t, "-m", &format!("-W{other}"), "pwd"]),
        case(Want::Prints(&other), &["-t", &t, "-m", &format!("--wdns={other}"), "pwd"]),
        case(Want::Fails(1), &["-t", &t, "-m", &format!("-W{other}"), "-w", "pwd"]),
        case(Want::Fails(1), &["-t", &t, "-m", &w_other, &format!("--wdns={other}"), "pwd"]),
        // -rDIR: the program is looked up, and runs, in the new root.
        case(Want::Prints("bin"), &["-t", &t, "-u", &r_root, "-w/", "/bin/busybox", "ls", "/"]),
        case(Want::Prints("/bin"), &["-t", &t, "-u", &format!("--root={root}"), "-W/bin", "/bin/busybox", "pwd"]),
        case(Want::Fails(127), &["-t", &t, "-u", &r_root, "ls"]),
        // With -r and -w, the target's working directory (the new root here) is kept.
        case(Want::Prints("/"), &["-t", &t, "-u", &r_root, "-w", "/bin/busybox", "pwd"]),
        // -r alone keeps the caller's working directory, outside the new root.
        case(Want::Exits(1, ""), &["-t", &t, "-u", &format!("--root={root}"), "/bin/busybox", "pwd"]),
        // -r alone: the target's root.
        case(Want::Prints("/bin"), &["-t", &t, "-u", "-r", "ls", "-d", "/bin"]),
        // Optional arguments must be attached: the directory becomes the program.
        case(Want::Fails(126), &["-t", &t, "-u", "-w", &other, "pwd"]),
        case(Want::Fails(126), &["-t", &t, "-u", "--wd", &other, "pwd"]),
        case(Want::Fails(126), &["-t", &t, "-u", "--root", &other, "pwd"]),
        case(Want::Fails(126), &["-t", &t, "-m", "--wdns", &other, "pwd"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-w/nonexistent/nsjoin", "pwd"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-r/nonexistent/nsjoin", "pwd"]),
        case(Want::Fails(1), &["-t", &t, "-m", "-W/nonexistent/nsjoin", "pwd"]),
    ];
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// User namespaces and credentials (-U -S -G --preserve-credentials)
// ---------------------------------------------------------------------------

#[test]
fn user_namespace_target_matches_nsenter() {
    if !common::root_or_skip("user_namespace_target_matches_nsenter") {
        return;
    }
    let sb = Sandbox::with_user();
    let t = sb.pid.to_string();
    let user = ns_link(sb.pid, "user");
    let both = format!("0\n{}", sb.hostname);
    let file = format!("--user=/proc/{t}/ns/user");
    // Supplementary groups, to see which runs drop them.
    let groups = || Opts::wrapper(&["setpriv", "--groups", "1234"]);
    let root = "uid=0(root) gid=0(root) groups=0(root)";
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints("0"), &["-U", "-t", &t, "id", "-u"]),
        case(Want::Prints(&user), &["--user", "-t", &t, "readlink", "/proc/self/ns/user"]),
        case(Want::Prints("0"), &[&file, "id", "-u"]),
        case(Want::Prints(&both), &["--all", "-t", &t, "sh", "-c", "id -u; hostname"]),
        case(Want::Prints(&both), &["-t", &t, "-U", "-u", "sh", "-c", "id -u; hostname"]),
        case(Want::Prints(root), &["-t", &t, "-U", "-S", "0", "-G", "0", "id"]),
        case(Want::Prints("0"), &["-t", &t, "-U", "id", "-G"]).opts(groups()),
        case(Want::Prints("0"), &["-a", "-t", &t, "id", "-G"]).opts(groups()),
        case(Want::Prints("0 65534"), &["-t", &t, "-U", "--preserve-credentials", "id", "-G"]).opts(groups()),
        case(Want::Prints("0"), &["-t", &t, "-U", "-F", "id", "-u"]),
        // 65534 is not mapped in the sandbox's user namespace.
        case(Want::Fails(1), &["-a", "-t", &t, "-S", "65534", "id"]),
        case(Want::Fails(1), &["-a", "-t", &t, "-G", "65534", "id"]),
    ];
    check_all(&cases);
}

#[test]
fn setuid_and_setgid_options_match_nsenter() {
    if !common::root_or_skip("setuid_and_setgid_options_match_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let groups = || Opts::wrapper(&["setpriv", "--groups", "1234"]);
    let nobody = "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)";
    let ids = "echo $(id -u) $(id -g)";
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints("65534 0"), &["-t", &t, "-u", "-S", "65534", "sh", "-c", ids]),
        case(Want::Prints("0 65534"), &["-t", &t, "-u", "-G", "65534", "sh", "-c", ids]),
        case(Want::Prints(nobody), &["-t", &t, "-u", "--setuid", "65534", "--setgid", "65534", "id"]),
        case(Want::Prints(nobody), &["-t", &t, "-u", "--setuid=65534", "--setgid=65534", "id"]),
        case(Want::Prints(nobody), &["-t", &t, "-u", "-S65534", "-G65534", "id"]),
        // Without -G the supplementary groups stay; -G drops them.
        case(Want::Prints("0 1234"), &["-t", &t, "-u", "id", "-G"]).opts(groups()),
        case(Want::Prints("0"), &["-t", &t, "-u", "-G", "0", "id", "-G"]).opts(groups()),
        case(Want::Prints("0 1234"), &["-t", &t, "-u", "--preserve-credentials", "id", "-G"]).opts(groups()),
        case(Want::Fails(1), &["-t", &t, "-u", "-S", "abc", "id"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-G", "abc", "id"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-S"]),
    ];
    check_all(&cases);
}

/// Runs as nobody (uid and gid 65534, no other groups).
fn nobody() -> Opts {
    Opts::wrapper(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ])
}

#[test]
fn unprivileged_caller_in_its_own_user_namespace_matches_nsenter() {
    if !common::root_or_skip("unprivileged_caller_in_its_own_user_namespace_matches_nsenter") {
        return;
    }
    let target = Proc::as_nobody(&[
        "unshare",
        "--user",
        "--map-root-user",
        "sh",
        "-c",
        "echo ready; exec sleep 100000",
    ]);
    let t = target.pid.to_string();
    // The build tree may not be reachable by nobody: a copy that is.
    let bin = Reachable::new("bin");
    let ours = bin.copy(NSJOIN);
    let ours = ours.to_str().unwrap();
    let own = std::process::id().to_string();
    #[rustfmt::skip]
    let cases = [
        // setgroups is denied in that namespace, and nobody may not call it outside.
        case(Want::Fails(1), &["-t", &t, "-U", "id", "-u"]),
        case(Want::Prints("0"), &["-t", &t, "-U", "--preserve-credentials", "id", "-u"]),
        case(Want::Prints("CapAmb:\t0000000000000000"), &["-t", &t, "-U", "--preserve-credentials", "grep", "CapAmb", "/proc/self/status"]),
        // Not its namespace: nobody cannot enter the mount namespace of root's process.
        case(Want::Fails(1), &["-t", &own, "-m", "true"]),
    ];
    for c in cases {
        let label = c.args.join(" ");
        let theirs = run("nsenter", &c.args, &nobody());
        let tool = "nsenter (the case itself is wrong)";
        assert_want(tool, &label, c.want, &theirs, &theirs.stdout);
        let out = run(ours, &c.args, &nobody());
        assert_eq!(
            out.status.code(),
            theirs.status.code(),
            "{label}: {out:?} vs {theirs:?}"
        );
        assert_eq!(out.stdout, theirs.stdout, "{label}: {out:?} vs {theirs:?}");
        if let Want::Fails(_) = c.want {
            assert_error_line(&label, &out);
        }
    }
}

// ---------------------------------------------------------------------------
// A Docker container
// ---------------------------------------------------------------------------

/// Drops the line of `ps` itself (its PID differs from run to run).
fn without_ps(stdout: &str) -> String {
    stdout
        .lines()
        .filter(|line| !line.trim_end().ends_with(" ps"))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn docker_container_matches_nsenter() {
    if !common::root_or_skip("docker_container_matches_nsenter") {
        return;
    }
    let Some(c) = Container::start_or_skip("docker_container_matches_nsenter") else {
        return;
    };
    let t = c.pid.to_string();
    // The container shares the host's user namespace: --all skips it.
    assert_eq!(
        ns_link(c.pid, "user"),
        ns_link(std::process::id() as i32, "user")
    );
    let (ps, rootfs) = ("PID   COMMAND\n    1 sleep", "bin\ndev\netc\nproc\nsys");
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints(&c.hostname), &["--all", "-t", &t, "hostname"]),
        case(Want::Prints(&c.hostname), &["-a", "-t", &t, "/bin/hostname"]),
        case(Want::Prints("0"), &["--all", "-t", &t, "id", "-u"]),
        case(Want::Same(0), &["-m", "-u", "-i", "-n", "-p", "-t", &t, "ps"]).filter(without_ps),
        case(Want::Prints(ps), &["-m", "-u", "-i", "-n", "-p", "-t", &t, "ps", "-o", "pid,comm"]).filter(without_ps),
        case(Want::Prints(rootfs), &["-m", "-u", "-i", "-n", "-p", "-t", &t, "ls", "/"]),
        // The container's root without its mount namespace.
        case(Want::Prints(rootfs), &["-t", &t, "-u", "-r", "ls", "/"]),
        case(Want::Prints("/etc"), &["-t", &t, "-m", "-W/etc", "pwd"]),
        case(Want::Same(0), &["-t", &t, "-n", "ip", "-o", "link"]),
        case(Want::Exits(3, ""), &["-a", "-t", &t, "sh", "-c", "exit 3"]),
        // Asked for explicitly, the caller's own user namespace cannot be entered.
        case(Want::Fails(1), &["-U", "-t", &t, "true"]),
    ];
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// Programs, arguments, exit codes
// ---------------------------------------------------------------------------

#[test]
fn program_and_its_arguments_match_nsenter() {
    if !common::root_or_skip("program_and_its_arguments_match_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let dir = TempDir::new("exec");
    let plain = dir.path().join("not-executable");
    fs::write(&plain, "#!/bin/sh\necho never\n").unwrap();
    fs::set_permissions(&plain, fs::Permissions::from_mode(0o644)).unwrap();
    let plain = plain.to_str().unwrap();
    let dir = dir.path().to_str().unwrap();
    #[rustfmt::skip]
    let cases = [
        // Options end at the program: what follows is its own.
        case(Want::Prints("-x"), &["-t", &t, "-u", "sh", "-c", "echo $0", "-x"]),
        case(Want::Prints("-x"), &["-t", &t, "-u", "--", "sh", "-c", "echo $0", "-x"]),
        case(Want::Prints("-u -t --all"), &["-t", &t, "-u", "echo", "-u", "-t", "--all"]),
        // `--` ends the options: `-h` is a program's name there.
        case(Want::Fails(127), &["-t", &t, "-u", "--", "-h"]),
        case(Want::Fails(127), &["-t", &t, "-u", "nsjoin-no-such-program"]),
        case(Want::Fails(127), &["-t", &t, "-u", "/nonexistent/nsjoin"]),
        case(Want::Fails(127), &["-t", &t, "-p", "nsjoin-no-such-program"]),
        case(Want::Fails(126), &["-t", &t, "-u", plain]),
        case(Want::Fails(126), &["-t", &t, "-u", dir]),
        case(Want::Fails(126), &["-t", &t, "-p", dir]),
        case(Want::Exits(3, ""), &["-t", &t, "-u", "sh", "-c", "exit 3"]),
        case(Want::Exits(3, "out"), &["-t", &t, "-p", "sh", "-c", "echo out; exit 3"]),
        case(Want::Exits(255, ""), &["-t", &t, "-u", "-F", "sh", "-c", "exit 255"]),
        // Killed by a signal: the tool ends by the same signal (directly with exec,
        // by re-raising it after the fork of -p).
        case(Want::Killed(15), &["-t", &t, "-u", "sh", "-c", "kill -TERM $$"]),
        case(Want::Killed(15), &["-t", &t, "-p", "sh", "-c", "kill -TERM $$"]),
        case(Want::Killed(9), &["-t", &t, "-p", "sh", "-c", "kill -KILL $$"]),
        case(Want::Killed(10), &["-t", &t, "-m", "-p", "sh", "-c", "kill -USR1 $$"]),
    ];
    check_all(&cases);
}

#[test]
fn no_program_runs_shell_as_login_shell_like_nsenter() {
    if !common::root_or_skip("no_program_runs_shell_as_login_shell_like_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let shell = || Opts::stdin("echo $0; hostname; exit 4\n").env("SHELL", "/bin/sh");
    let out = format!("-sh\n{}", sb.hostname);
    #[rustfmt::skip]
    let cases = [
        case(Want::Exits(4, &out), &["-t", &t, "-u"]).opts(shell()),
        case(Want::Exits(4, &out), &["-t", &t, "-u", "-p"]).opts(shell()),
        case(Want::Exits(4, &out), &["-t", &t, "-u", "--"]).opts(shell()),
    ];
    check_all(&cases);
}

#[test]
fn usage_errors_match_nsenter() {
    if !common::root_or_skip("usage_errors_match_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let gone = reaped_pid().to_string();
    #[rustfmt::skip]
    let cases = [
        // No target to take the namespace from.
        case(Want::Fails(1), &["-u", "hostname"]),
        case(Want::Fails(1), &["--net", "ip", "link"]),
        // Bad targets.
        case(Want::Fails(1), &["-t", &gone, "-u", "true"]),
        case(Want::Fails(1), &["-t", &gone, "-a", "true"]),
        case(Want::Fails(1), &["-t", "0", "-u", "true"]),
        case(Want::Fails(1), &["-t", "abc", "-u", "true"]),
        case(Want::Fails(1), &["-t", "-5", "-u", "true"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-t"]),
        // Bad options.
        case(Want::Fails(1), &["-t", &t, "-u", "--bogus", "true"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-x", "true"]),
        case(Want::Fails(1), &["--bogus"]),
        case(Want::Fails(1), &["-t", &t, "--all=yes", "true"]),
        // Ambiguous abbreviation (--net, --no-fork...).
        case(Want::Fails(1), &["-t", &t, "--n", "true"]),
    ];
    check_all(&cases);
}

#[test]
fn help_and_version_exit_zero_like_nsenter() {
    // Neither needs root, nor a target; their text is nsjoin's own.
    for flag in ["-h", "--help", "-V", "--version"] {
        let args = vec![flag.to_owned()];
        let theirs = run("nsenter", &args, &Opts::default());
        assert_eq!(theirs.status.code(), Some(0), "nsenter {flag}: {theirs:?}");
        let ours = run(NSJOIN, &args, &Opts::default());
        assert_eq!(ours.status.code(), Some(0), "nsjoin {flag}: {ours:?}");
        assert!(!ours.stdout.is_empty(), "nsjoin {flag} printed nothing");
        assert_eq!(ours.stderr, "", "nsjoin {flag}");
    }
    for flag in ["-V", "--version"] {
        let out = nsjoin(&[flag], &Opts::default());
        let want = format!("nsjoin {}", env!("CARGO_PKG_VERSION"));
        assert!(out.stdout.starts_with(&want), "nsjoin {flag}: {out:?}");
    }
    // -h and -V win over a target that does not exist, like in nsenter.
    let gone = reaped_pid().to_string();
    for flag in ["-h", "-V"] {
        let args = vec![
            "-t".to_owned(),
            gone.clone(),
            "-u".to_owned(),
            flag.to_owned(),
        ];
        let theirs = run("nsenter", &args, &Opts::default());
        let ours = run(NSJOIN, &args, &Opts::default());
        assert_eq!(
            theirs.status.code(),
            Some(0),
            "nsenter {args:?}: {theirs:?}"
        );
        assert_eq!(ours.status.code(), Some(0), "nsjoin {args:?}: {ours:?}");
    }
}

#[test]
fn selinux_follow_context_is_accepted_like_nsenter() {
    if !common::root_or_skip("selinux_follow_context_is_accepted_like_nsenter") {
        return;
    }
    // Without SELinux nsenter ignores -Z; nsjoin may say so on stderr.
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints(&sb.hostname), &["-t", &t, "-u", "-Z", "hostname"]),
        case(Want::Prints(&sb.hostname), &["-t", &t, "-u", "--follow-context", "hostname"]),
    ];
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

/// Waits (up to `secs`) for `child` to end; kills it (and `program`) and fails
/// the test if it does not.
fn wait_or_kill(child: &mut Child, program: i32, secs: u64, what: &str) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = signal(program, Signal::KILL);
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {secs} s");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// What a tool does when its program (in a pid namespace, so after a fork) stops:
/// whether the tool stopped too, then, once the tool got SIGCONT, how it ended.
fn stop_and_continue(bin: &str, target: i32) -> (bool, Output) {
    let mut child = Command::new(bin)
        .args([
            "-t",
            &target.to_string(),
            "-p",
            "sh",
            "-c",
            "sleep 1; echo done",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tool = child.id() as i32;
    let program = wait_for_descendant(tool, "sh");
    signal(program, Signal::STOP).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut tool_stopped = false;
    while !tool_stopped && Instant::now() < deadline {
        tool_stopped = proc_state(tool) == Some('T');
        thread::sleep(Duration::from_millis(10));
    }
    // Continue the tool (it continues the program), or, if it did not stop, the
    // program itself, so that the run ends either way.
    signal(if tool_stopped { tool } else { program }, Signal::CONT).unwrap();
    let status = wait_or_kill(&mut child, program, 10, &format!("{bin} after SIGCONT"));
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (
        tool_stopped,
        Output {
            status,
            stdout,
            stderr,
        },
    )
}

#[test]
fn stopped_program_stops_the_tool_and_continues_with_it_like_nsenter() {
    if !common::root_or_skip("stopped_program_stops_the_tool_and_continues_with_it_like_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    for bin in ["nsenter", NSJOIN] {
        let (stopped, out) = stop_and_continue(bin, sb.pid);
        assert!(
            stopped,
            "{bin}: did not stop when its program stopped: {out:?}"
        );
        assert_eq!(out.status.code(), Some(0), "{bin}: {out:?}");
        assert_eq!(out.stdout, "done\n", "{bin}: {out:?}");
    }
}

#[test]
fn sigterm_to_nsjoin_reaches_the_program_and_ends_nsjoin_by_it() {
    if !common::root_or_skip("sigterm_to_nsjoin_reaches_the_program_and_ends_nsjoin_by_it") {
        return;
    }
    // nsenter does not forward signals (its forked program keeps running);
    // nsjoin forwards TERM, INT, HUP and QUIT, then ends by the same signal.
    let sb = Sandbox::new();
    for (sig, number) in [
        (Signal::TERM, 15),
        (Signal::INT, 2),
        (Signal::HUP, 1),
        (Signal::QUIT, 3),
    ] {
        let mut child = Command::new(NSJOIN)
            .args(["-t", &sb.pid.to_string(), "-p", "sleep", "30"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let tool = child.id() as i32;
        let program = wait_for_descendant(tool, "sleep");
        signal(tool, sig).unwrap();
        let status = wait_or_kill(&mut child, program, 10, "nsjoin after the signal");
        // Gone: reaped, or at least dead (left to the namespace's init, a `sleep`
        // that never reaps).
        let gone = || matches!(proc_state(program), None | Some('Z') | Some('X'));
        let deadline = Instant::now() + Duration::from_secs(2);
        while !gone() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let running = !gone();
        if running {
            let _ = signal(program, Signal::KILL);
        }
        assert_eq!(
            status.signal(),
            Some(number),
            "{sig:?}: nsjoin ended with {status:?}"
        );
        assert!(
            !running,
            "{sig:?}: the program was still running after nsjoin ended"
        );
    }
}

#[test]
fn sigkill_to_nsjoin_leaves_no_program_running() {
    if !common::root_or_skip("sigkill_to_nsjoin_leaves_no_program_running") {
        return;
    }
    // SIGKILL cannot be forwarded: the program dies with nsjoin instead
    // (PR_SET_PDEATHSIG), where nsenter's would keep running.
    let sb = Sandbox::new();
    let mut child = Command::new(NSJOIN)
        .args(["-t", &sb.pid.to_string(), "-p", "-n", "sleep", "30"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tool = child.id() as i32;
    let program = wait_for_descendant(tool, "sleep");
    signal(tool, Signal::KILL).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "nsjoin ended with {status:?}");
    let gone = || matches!(proc_state(program), None | Some('Z') | Some('X'));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let running = !gone();
    if running {
        let _ = signal(program, Signal::KILL);
    }
    assert!(
        !running,
        "the program was still running after nsjoin was killed"
    );
}

// ---------------------------------------------------------------------------
// util-linux 2.41 behaviour that the machine's nsenter (2.38) lacks: nsjoin alone
// ---------------------------------------------------------------------------

/// Asserts one of nsjoin's own failures: this exit code, nothing on stdout, one
/// error line.
fn assert_fails(code: i32, args: &[&str], opts: &Opts) {
    let out = nsjoin(args, opts);
    let label = args.join(" ");
    assert_eq!(out.status.code(), Some(code), "nsjoin {label}: {out:?}");
    assert_eq!(out.stdout, "", "nsjoin {label}: {out:?}");
    assert_error_line(&label, &out);
}

/// Asserts that nsjoin exits 0 and prints `want` (one trailing newline aside).
fn assert_prints(want: &str, args: &[&str], opts: &Opts) {
    let out = nsjoin(args, opts);
    assert_eq!(
        out.status.code(),
        Some(0),
        "nsjoin {}: {out:?}",
        args.join(" ")
    );
    assert_eq!(
        out.stdout.strip_suffix('\n').unwrap_or(&out.stdout),
        want,
        "nsjoin {}: {out:?}",
        args.join(" ")
    );
}

#[test]
fn v241_no_namespace_to_enter_is_an_error() {
    if !common::root_or_skip("v241_no_namespace_to_enter_is_an_error") {
        return;
    }
    // nsenter 2.41: "no namespace specified" (2.38 ran the program as it was);
    // -r and -w are not namespaces.
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    assert_fails(1, &["-t", &t, "hostname"], &Opts::default());
    assert_fails(1, &["-t", &t, "-r", "-w", "pwd"], &Opts::default());
    assert_fails(1, &["-t", &t], &Opts::stdin("echo ran\n"));
    assert_fails(1, &[], &Opts::stdin("echo ran\n"));
}

#[test]
fn v241_target_given_twice_is_an_error() {
    if !common::root_or_skip("v241_target_given_twice_is_an_error") {
        return;
    }
    // nsenter 2.41: "option --target may be given only once" (2.38 took the last).
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    assert_fails(1, &["-t", &t, "-t", &t, "-u", "hostname"], &Opts::default());
    assert_fails(
        1,
        &["-t", &t, "--target", &t, "-u", "hostname"],
        &Opts::default(),
    );
}

#[test]
fn v241_wdns_takes_its_directory_only_attached() {
    if !common::root_or_skip("v241_wdns_takes_its_directory_only_attached") {
        return;
    }
    // 2.41: -W, --wdns[=directory], like -w (2.38 also took `-W DIR`): the
    // directory becomes the program, which cannot be executed.
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let dir = TempDir::new("wdns");
    let dir = dir.path().to_str().unwrap();
    assert_fails(126, &["-t", &t, "-m", "-W", dir, "pwd"], &Opts::default());
}

#[test]
fn v241_env_option_takes_the_targets_environment() {
    if !common::root_or_skip("v241_env_option_takes_the_targets_environment") {
        return;
    }
    let sb = Sandbox::start(&["--uts"], "export NSJOIN_TARGET_MARK=from-target");
    let t = sb.pid.to_string();
    let opts = || Opts::default().env("NSJOIN_CALLER_MARK", "from-caller");
    for flag in ["-e", "--env"] {
        let out = nsjoin(&["-t", &t, "-u", flag, "env"], &opts());
        assert_eq!(out.status.code(), Some(0), "{flag}: {out:?}");
        let vars: Vec<&str> = out.stdout.lines().collect();
        assert!(
            vars.contains(&"NSJOIN_TARGET_MARK=from-target"),
            "{flag}: {out:?}"
        );
        assert!(
            !out.stdout.contains("NSJOIN_CALLER_MARK"),
            "{flag}: {out:?}"
        );
    }
    // Without -e the caller's environment stays, as in nsenter.
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints("from-caller"), &["-t", &t, "-u", "printenv", "NSJOIN_CALLER_MARK"]).opts(opts()),
        case(Want::Exits(1, ""), &["-t", &t, "-u", "printenv", "NSJOIN_TARGET_MARK"]).opts(opts()),
    ];
    check_all(&cases);
}

#[test]
fn v241_join_cgroup_moves_the_program_into_the_targets_cgroup() {
    if !common::root_or_skip("v241_join_cgroup_moves_the_program_into_the_targets_cgroup") {
        return;
    }
    let Some(cgroup) = Cgroup::new() else {
        eprintln!(
            "skipped v241_join_cgroup_moves_the_program_into_the_targets_cgroup: needs cgroup v2"
        );
        return;
    };
    let sb = Sandbox::new();
    cgroup.add(sb.pid);
    let line = format!("0::{}", cgroup.name);
    let t = sb.pid.to_string();
    for args in [
        &["-t", &t, "-u", "-c", "cat", "/proc/self/cgroup"][..],
        &["-t", &t, "-u", "--join-cgroup", "cat", "/proc/self/cgroup"],
        &["-t", &t, "-p", "-c", "cat", "/proc/self/cgroup"],
    ] {
        let out = nsjoin(args, &Opts::default());
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(
            out.stdout.lines().any(|l| l == line),
            "{args:?}: want {line}: {out:?}"
        );
    }
    // Without -c the program stays in the caller's cgroup.
    let out = nsjoin(
        &["-t", &t, "-u", "cat", "/proc/self/cgroup"],
        &Opts::default(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!out.stdout.lines().any(|l| l == line), "{out:?}");
}

/// The capability set `name` (CapPrm, CapAmb...) of a `grep ^Cap /proc/self/status`.
fn caps(out: &Output, name: &str) -> u64 {
    let value = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:\t")))
        .unwrap_or_else(|| panic!("no {name} in {out:?}"));
    u64::from_str_radix(value, 16).unwrap()
}

#[test]
fn v241_keep_caps_makes_the_user_namespace_caps_ambient() {
    if !common::root_or_skip("v241_keep_caps_makes_the_user_namespace_caps_ambient") {
        return;
    }
    // Root entering a user namespace it owns.
    let sb = Sandbox::with_user();
    let t = sb.pid.to_string();
    let status = ["grep", "^Cap", "/proc/self/status"];
    let out = nsjoin(
        &[&["-t", &t, "-U", "--keep-caps"][..], &status].concat(),
        &Opts::default(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_ne!(caps(&out, "CapPrm"), 0, "{out:?}");
    assert_eq!(caps(&out, "CapAmb"), caps(&out, "CapPrm"), "{out:?}");
    // nobody entering a user namespace that nobody made (the same without
    // --keep-caps: unprivileged_caller_in_its_own_user_namespace_matches_nsenter).
    let target = Proc::as_nobody(&[
        "unshare",
        "--user",
        "--map-root-user",
        "sh",
        "-c",
        "echo ready; exec sleep 100000",
    ]);
    // The build tree may not be reachable by nobody: a copy that is.
    let bin = Reachable::new("bin");
    let ours = bin.copy(NSJOIN);
    let ours = ours.to_str().unwrap();
    let t = target.pid.to_string();
    let args: Vec<String> = [
        &["-t", &t, "-U", "--preserve-credentials", "--keep-caps"][..],
        &status,
    ]
    .concat()
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run(ours, &args, &nobody());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_ne!(caps(&out, "CapPrm"), 0, "{out:?}");
    assert_eq!(caps(&out, "CapAmb"), caps(&out, "CapPrm"), "{out:?}");
}

#[test]
fn v241_user_parent_enters_the_parent_of_the_targets_user_namespace() {
    if !common::root_or_skip("v241_user_parent_enters_the_parent_of_the_targets_user_namespace") {
        return;
    }
    // A process in a user namespace nested in another; it first prints the outer one.
    let nested = "readlink /proc/self/ns/user; exec unshare --user --map-root-user sleep 100000";
    let target = Proc::start(&["unshare", "--user", "--map-root-user", "sh", "-c", nested]);
    let outer = target.line.clone();
    let t = target.pid.to_string();
    wait_until("the target is in its inner user namespace", || {
        fs::read_to_string(format!("/proc/{t}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    assert_ne!(ns_link(target.pid, "user"), outer);
    let rl = ["readlink", "/proc/self/ns/user"];
    assert_prints(
        &outer,
        &[&["-t", &t, "-U", "--user-parent"][..], &rl].concat(),
        &Opts::default(),
    );
    assert_prints(
        &outer,
        &[&["-t", &t, "--user-parent"][..], &rl].concat(),
        &Opts::default(),
    );
    // The parent of the sandbox's user namespace is the caller's own: it cannot be
    // entered.
    let sb = Sandbox::with_user();
    assert_fails(
        1,
        &["-t", &sb.pid.to_string(), "-U", "--user-parent", "true"],
        &Opts::default(),
    );
}

#[test]
fn v241_net_socket_enters_the_network_namespace_of_the_targets_socket() {
    if !common::root_or_skip("v241_net_socket_enters_the_network_namespace_of_the_targets_socket") {
        return;
    }
    // A process that made a socket in the netns file, then moved to a fresh network
    // namespace of its own; it prints the socket's fd.
    let netns = NetnsFile::new();
    let script = r#"
import ctypes, os, socket, sys, time
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
if libc.setns(fd, CLONE_NEWNET) != 0:
    sys.exit("setns: errno %d" % ctypes.get_errno())
os.close(fd)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if libc.unshare(CLONE_NEWNET) != 0:
    sys.exit("unshare: errno %d" % ctypes.get_errno())
print(s.fileno(), flush=True)
time.sleep(100000)
"#;
    let target = Proc::start(&[
        "/usr/bin/python3",
        "-c",
        script,
        netns.path.to_str().unwrap(),
    ]);
    let fd = target.line.clone();
    let t = target.pid.to_string();
    let socket_ns = {
        use std::os::unix::fs::MetadataExt;
        format!("net:[{}]", fs::metadata(&netns.path).unwrap().ino())
    };
    let own_ns = ns_link(target.pid, "net");
    assert_ne!(socket_ns, own_ns);
    let rl = ["readlink", "/proc/self/ns/net"];
    let none = Opts::default();
    assert_prints(
        &socket_ns,
        &[&["-t", &t, "-N", &fd][..], &rl].concat(),
        &none,
    );
    assert_prints(
        &socket_ns,
        &[&["-t", &t, &format!("--net-socket={fd}")][..], &rl].concat(),
        &none,
    );
    assert_prints(
        &socket_ns,
        &[&["-t", &t, "--net-socket", &fd][..], &rl].concat(),
        &none,
    );
    // -n is the process's own network namespace, as in nsenter.
    check(&case(
        Want::Prints(&own_ns),
        &[&["-t", &t, "-n"][..], &rl].concat(),
    ));
    // -N needs a target, a number, and an open fd that is a socket.
    assert_fails(1, &["-N", &fd, "true"], &none);
    assert_fails(1, &["-t", &t, "-N", "abc", "true"], &none);
    assert_fails(1, &["-t", &t, "-N", "999", "true"], &none);
    assert_fails(1, &["-t", &t, "-N", "0", "true"], &none);
}

#[test]
fn v241_setuid_and_setgid_follow_take_the_owner_of_the_target() {
    if !common::root_or_skip("v241_setuid_and_setgid_follow_take_the_owner_of_the_target") {
        return;
    }
    let target = Proc::as_nobody(&["sh", "-c", "echo ready; exec sleep 100000"]);
    let t = target.pid.to_string();
    // The same as nsenter with the owner's ids spelled out.
    let spelled = ["-t", &t, "-u", "-S", "65534", "-G", "65534", "id"].map(String::from);
    let spelled = run("nsenter", &spelled, &Opts::default());
    let nobody = "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)";
    assert_eq!(spelled.stdout, format!("{nobody}\n"), "{spelled:?}");
    let none = Opts::default();
    let ids = "echo $(id -u) $(id -g)";
    assert_prints(
        nobody,
        &["-t", &t, "-u", "-S", "follow", "-G", "follow", "id"],
        &none,
    );
    assert_prints(
        "65534 0",
        &["-t", &t, "-u", "--setuid=follow", "sh", "-c", ids],
        &none,
    );
    assert_prints(
        "0 65534",
        &["-t", &t, "-u", "--setgid=follow", "sh", "-c", ids],
        &none,
    );
}
