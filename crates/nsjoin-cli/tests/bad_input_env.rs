//! `nsjoin -e` with target environments that are gigantic (~1 MiB), hold entries
//! without `=`, or are beyond what exec takes: one line and exit code 1 where it
//! cannot be done, never a panic.

use nsjoin_test_support as common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod bad_input_fixtures;
use bad_input_fixtures::*;

// ---------------------------------------------------------------------------
// -e and odd target environments.

/// A process started by `program args` that is waited for until its environ shows
/// `marker`; killed and reaped on drop.
struct EnvTarget(Child);

impl EnvTarget {
    fn start(cmd: &mut Command, marker: &str) -> EnvTarget {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut target = EnvTarget(child);
        let environ = format!("/proc/{}/environ", target.0.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let env = std::fs::read(&environ).unwrap_or_default();
            if env.split(|b| *b == 0).any(|e| e == marker.as_bytes()) {
                return target;
            }
            assert!(Instant::now() < deadline, "{environ} never showed {marker}");
            if let Some(status) = target.0.try_wait().unwrap() {
                let mut line = String::new();
                let _ = BufReader::new(target.0.stdout.take().unwrap()).read_line(&mut line);
                panic!("target exited early ({status}): {line}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for EnvTarget {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `nsjoin -e -t PID -n /bin/sh -c SCRIPT` on `target`: the script runs with the
/// target's environment.
fn sh_with_its_env(target: &EnvTarget, script: &str) -> Output {
    let pid = target.0.id().to_string();
    let args: Vec<String> = ["-e", "-t", &pid, "-n", "/bin/sh", "-c", script]
        .iter()
        .map(|s| s.to_string())
        .collect();
    run(NSJOIN, &args, &[])
}

/// One variable may be at most MAX_ARG_STRLEN (128 KiB) long, so a 1 MiB variable
/// cannot be passed by execve(2) at all: the target's environ is ~1 MiB made of
/// eight variables of 131000 bytes instead.
#[test]
fn env_flag_copies_a_one_mib_target_environ() {
    let Some(_lock) = common::root_shared("env_flag_copies_a_one_mib_target_environ") else {
        return;
    };
    let value = "x".repeat(131_000);
    let mut cmd = Command::new("env");
    cmd.arg("-i");
    for name in ["BIG", "P1", "P2", "P3", "P4", "P5", "P6", "P7"] {
        cmd.arg(format!("{name}={value}"));
    }
    cmd.args(["MARK=1", "sleep", "100000"]);
    let target = EnvTarget::start(&mut cmd, "MARK=1");
    let size = std::fs::read(format!("/proc/{}/environ", target.0.id()))
        .unwrap()
        .len();
    assert!(size > 1_000_000, "environ is only {size} bytes");
    let out = sh_with_its_env(&target, "echo ${#BIG} ${#P7}");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "131000 131000\n");
    assert!(out.stderr.is_empty(), "{out:?}");
}

/// Entries without `=` (and an empty one, and one with an empty name) in the
/// target's environ: made with python3's ctypes calling execve(2) directly, since
/// neither Rust's Command nor env(1) can. `-e` must skip them and keep the rest.
#[test]
fn env_flag_skips_target_environ_entries_without_equals() {
    let Some(_lock) = common::root_shared("env_flag_skips_target_environ_entries_without_equals")
    else {
        return;
    };
    let script = r#"
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def arr(l): return (ctypes.c_char_p * (len(l) + 1))(*l, None)
libc.execve(b"/bin/sleep", arr([b"sleep", b"100000"]),
            arr([b"NOEQUALS", b"A=1", b"", b"=lead", b"B=two", b"MARK=1"]))
print("execve failed", ctypes.get_errno(), flush=True)
"#;
    if Command::new("python3")
        .args(["-c", "import ctypes"])
        .status()
        .map_or(true, |s| !s.success())
    {
        eprintln!("skipped env_flag_skips_target_environ_entries_without_equals: needs python3");
        return;
    }
    let target = EnvTarget::start(Command::new("python3").args(["-c", script]), "MARK=1");
    let raw = std::fs::read(format!("/proc/{}/environ", target.0.id())).unwrap();
    assert!(raw.starts_with(b"NOEQUALS\0"), "{raw:?}");
    let out = sh_with_its_env(&target, "echo \"A=$A B=$B\"; env | grep -c NOEQUALS");
    // grep -c finds nothing: exit 1 from the shell, "0" printed.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "A=1 B=two\n0\n");
    assert!(out.stderr.is_empty(), "{out:?}");
}

/// A target can point its environment at any amount of memory it maps
/// (`prctl(PR_SET_MM_MAP)`, no privilege needed): here 1 GiB of untouched pages.
/// `-e` must refuse it in one line without reading it: nsjoin runs under a 256 MiB
/// address-space limit, which reading it all would exceed.
#[test]
fn env_flag_refuses_a_target_environ_beyond_execs_bound() {
    let Some(_lock) = common::root_shared("env_flag_refuses_a_target_environ_beyond_execs_bound")
    else {
        return;
    };
    let script = r#"
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.sbrk.restype = ctypes.c_void_p
size = 1 << 30
buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
buf[0:7] = b"BIG=1\0\0"
f = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
fld = lambda n: int(f[n - 3])
names = ("start_code end_code start_data end_data start_brk brk start_stack "
         "arg_start arg_end env_start env_end auxv").split()
class Map(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in names] + [
        ("auxv_size", ctypes.c_uint32), ("exe_fd", ctypes.c_uint32)]
m = Map(fld(26), fld(27), fld(45), fld(46), fld(47), libc.sbrk(0), fld(28),
        fld(48), fld(49), addr, addr + size, 0, 0, 0xffffffff)
PR_SET_MM, PR_SET_MM_MAP = 35, 14
if libc.prctl(PR_SET_MM, PR_SET_MM_MAP, ctypes.byref(m), ctypes.sizeof(m), 0):
    print("prctl failed", ctypes.get_errno(), flush=True)
    sys.exit(1)
print("ready", flush=True)
sys.stdin.read()
"#;
    let mut target = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(target.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "ready",
        "the target could not remap its environment"
    );
    let pid = target.id().to_string();
    let limit = (256u64 << 20).to_string();
    let as_limit = format!("--as={limit}");
    let args: Vec<String> = [&as_limit, "--", NSJOIN, "-e", "-t", &pid, "-u", "true"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = run("prlimit", &args, &[]);
    drop(target.stdin.take());
    let _ = target.kill();
    let _ = target.wait();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!("nsjoin: /proc/{pid}/environ is larger than 6291456 bytes; refusing to read it\n")
    );
    assert!(out.stdout.is_empty());
}
