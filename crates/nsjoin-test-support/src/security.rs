//! A process's security context as `/proc/PID/status` shows it, and a target
//! that reports the one its own programs get: for the `confine` tests of the
//! library and of the command.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// The lines of `/proc/PID/status` that make up a process's security context.
pub const SECURITY_LINES: [&str; 11] = [
    "Uid",
    "Gid",
    "Groups",
    "CapInh",
    "CapPrm",
    "CapEff",
    "CapBnd",
    "CapAmb",
    "NoNewPrivs",
    "Seccomp",
    "Seccomp_filters",
];

/// The security lines of a `/proc/PID/status`, in [`SECURITY_LINES`]' order;
/// each must be there.
pub fn security_lines(status: &str) -> Vec<String> {
    SECURITY_LINES
        .iter()
        .map(|name| {
            status
                .lines()
                .find(|line| line.split(':').next() == Some(name))
                .unwrap_or_else(|| panic!("no {name} line in:\n{status}"))
                .trim_end()
                .to_owned()
        })
        .collect()
}

/// A process started with `argv` (`setpriv …`, `unshare …`) that writes its own
/// status (through a `cat` it runs with the same context) to a file, then
/// becomes `sleep`; killed on drop.
pub struct StatusTarget {
    pub child: Child,
    /// The status its context gives a program.
    pub status: String,
    _dir: TempDir,
}

impl StatusTarget {
    pub fn start(argv: &[&str]) -> StatusTarget {
        let dir = TempDir::new("confine-target");
        // The target may be another user.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let file = dir.path().join("status");
        let script = format!(
            "cat /proc/self/status > {0}.tmp && mv {0}.tmp {0} && exec sleep 100000",
            file.display()
        );
        let child = Command::new(argv[0])
            .args(&argv[1..])
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", argv[0]));
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Ok(s) = std::fs::read_to_string(&file) {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the target never wrote its status"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        // Wait for the exec of sleep, so that the target is what it will stay.
        let pid = child.id();
        while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap() != "sleep\n" {
            assert!(Instant::now() < deadline, "the target never became sleep");
            std::thread::sleep(Duration::from_millis(10));
        }
        StatusTarget {
            child,
            status,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for StatusTarget {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
