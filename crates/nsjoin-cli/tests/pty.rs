//! `nsjoin --pty` under a real terminal: a tmux server of the test's own (its own
//! socket), keys sent to its pane and the pane read back. The target is a Docker
//! container of the busybox image (its shell has job control with a terminal).

use nsjoin_test_support as common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::Container;

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

/// A tmux server on a socket of its own with one pane, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start_or_skip(test: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            if std::env::var("NSJOIN_REQUIRE_ROOT").as_deref() == Ok("1") {
                panic!("{test} needs tmux (scripts/setup.sh installs it)");
            }
            eprintln!("skipped {test}: needs tmux (scripts/setup.sh)");
            return None;
        }
        let t = Tmux {
            socket: format!("nsjoin-pty-{}-{test}", std::process::id()),
        };
        let out = t.cmd(&["new-session", "-d", "-x", "100", "-y", "30", "sh"]);
        assert!(out.status.success(), "tmux: {out:?}");
        // Type nothing before the shell's first prompt.
        let start = Instant::now();
        while t.pane().trim().is_empty() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(t)
    }

    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .stdin(Stdio::null())
            .output()
            .expect("cannot run tmux")
    }

    /// Types `line` and Enter.
    fn line(&self, line: &str) {
        self.cmd(&["send-keys", "-l", line]);
        self.cmd(&["send-keys", "Enter"]);
    }

    /// Types `cmd` followed by an end marker and returns the lines it printed.
    fn run(&self, cmd: &str) -> Vec<String> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        // Quoted so that the typed line does not itself show the marker.
        let typed = format!("echo end\"\"-{n}");
        let mark = format!("end-{n}");
        self.line(&format!("{cmd}; {typed}"));
        let start = Instant::now();
        loop {
            let pane = self.pane();
            let lines: Vec<&str> = pane.lines().map(str::trim_end).collect();
            if let Some(end) = lines.iter().rposition(|l| l.ends_with(&mark)) {
                let from = lines[..end]
                    .iter()
                    .rposition(|l| l.contains(&typed))
                    .expect("the typed line");
                return lines[from + 1..end].iter().map(|l| l.to_string()).collect();
            }
            if start.elapsed() > Duration::from_secs(10) {
                panic!("{cmd:?} never ended:\n{pane}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn key(&self, key: &str) {
        self.cmd(&["send-keys", key]);
    }

    fn pane(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-J", "-S", "-200"]).stdout)
            .into_owned()
    }

    /// Waits until the pane shows `text` (up to 10 s) and returns it.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let pane = self.pane();
            if pane.contains(text) {
                return pane;
            }
            if start.elapsed() > Duration::from_secs(10) {
                panic!("the pane never showed {text:?}:\n{pane}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd(&["kill-server"]);
    }
}

#[test]
fn a_terminal_inside_a_container() {
    if !common::root_or_skip("a_terminal_inside_a_container") {
        return;
    }
    let Some(c) = Container::start_or_skip("pty_terminal") else {
        return;
    };
    let Some(t) = Tmux::start_or_skip("terminal") else {
        return;
    };
    // The caller's terminal modes, before and after.
    t.run("PS1='$ '");
    let before = t.run("stty -g");

    t.line(&format!(
        "{NSJOIN} --pty -a -t docker://{} /bin/sh; echo \"exit=$?\"",
        c.name
    ));
    t.wait_for("built-in shell");
    t.run("PS1='in# '");

    // tty names a device of the container's devpts.
    let lines = t.run("tty; stat -c dev=%d $(tty)");
    assert!(lines[0].starts_with("/dev/pts/"), "{lines:?}");
    let theirs = std::fs::metadata(format!("/proc/{}/root/dev/pts", c.pid)).unwrap();
    assert_eq!(
        lines[1],
        format!("dev={}", std::os::unix::fs::MetadataExt::dev(&theirs))
    );

    // stty size follows a resize of the outer terminal.
    assert_eq!(t.run("stty size"), ["30 100"]);
    t.cmd(&["resize-window", "-x", "120", "-y", "40"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(t.run("stty size"), ["40 120"]);

    // Ctrl-C reaches the program (its shell lives on, nsjoin too).
    t.line("sleep 100");
    std::thread::sleep(Duration::from_millis(300));
    t.key("C-c");
    assert_eq!(t.run("echo still-here"), ["still-here"]);

    // Ctrl-Z stops a job of the shell inside; fg brings it back.
    t.line("sleep 100");
    std::thread::sleep(Duration::from_millis(300));
    t.key("C-z");
    t.wait_for("Stopped");
    let jobs = t.run("jobs");
    assert!(jobs.iter().any(|l| l.contains("sleep 100")), "{jobs:?}");
    t.line("fg");
    std::thread::sleep(Duration::from_millis(300));
    t.key("C-c");
    assert_eq!(t.run("jobs"), Vec::<String>::new());

    // The program's exit status is nsjoin's; the caller's modes are restored.
    t.line("exit 7");
    t.wait_for("exit=7");
    assert_eq!(t.run("stty -g"), before);
}

#[test]
fn the_terminal_is_restored_when_nsjoin_is_killed_by_sigterm() {
    if !common::root_or_skip("the_terminal_is_restored_when_nsjoin_is_killed_by_sigterm") {
        return;
    }
    let Some(c) = Container::start_or_skip("pty_sigterm") else {
        return;
    };
    let Some(t) = Tmux::start_or_skip("sigterm") else {
        return;
    };
    t.run("PS1='$ '");
    let before = t.run("stty -g");
    let pidfile = common::TempDir::new("pty-sigterm");
    let pidfile = pidfile.path().join("pid");
    t.line(&format!(
        "sh -c 'echo $$ > {}; exec {NSJOIN} --pty -a -t docker://{} sleep 100'; echo \"exit=$?\"",
        pidfile.display(),
        c.name
    ));
    let start = Instant::now();
    let pid = loop {
        if let Ok(pid) = std::fs::read_to_string(&pidfile) {
            if !pid.trim().is_empty() {
                break pid.trim().to_owned();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no pid");
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(700));
    // nsjoin passes SIGTERM on, the program dies of it, nsjoin restores the
    // terminal and dies of it too (143 = 128 + SIGTERM).
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    t.wait_for("exit=143");
    assert_eq!(t.run("stty -g"), before);
}
#[test]
fn without_a_terminal_pty_is_an_error_not_a_hang() {
    if !common::root_or_skip("without_a_terminal_pty_is_an_error_not_a_hang") {
        return;
    }
    let me = std::process::id().to_string();
    let out = Command::new(NSJOIN)
        .args(["--pty", "-u", "-t", &me, "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "nsjoin: --pty needs a terminal on standard input\n"
    );
}
