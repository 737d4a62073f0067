// `nsjoin --netns NAME` (and `--net=/run/netns/NAME --netns-mounts`) side by side
// with `ip netns exec NAME` on this machine: the same /etc/resolv.conf, the same
// /sys/class/net, the same exit codes, the same warning for an /etc/netns entry
// that has nothing to cover, mounts that stay with the program, and a missing
// name refused with ip's reason.
//
// Needs root and iproute2; skipped otherwise (failed with NSJOIN_REQUIRE_ROOT=1).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

fn root_or_skip(test: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    let ip = Command::new("ip").arg("-V").output().is_ok();
    if root && ip {
        return true;
    }
    if std::env::var_os("NSJOIN_REQUIRE_ROOT").is_some_and(|v| v == "1") {
        panic!("{test}: needs root and iproute2, and NSJOIN_REQUIRE_ROOT=1 is set");
    }
    eprintln!("{test}: skipped (needs root and iproute2)");
    false
}

/// A named network namespace with a veth pair and its own /etc/netns
/// directory; both removed on drop.
struct Named {
    name: String,
    etc: PathBuf,
}

impl Named {
    fn new() -> Named {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "nsj-ipx-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let ok = |cmd: &mut Command| {
            let out = cmd.output().expect("cannot run ip");
            assert!(out.status.success(), "{cmd:?}: {out:?}");
        };
        ok(Command::new("ip").args(["netns", "add", &name]));
        // Made now, so that a failure below still removes what was made.
        let named = Named {
            etc: PathBuf::from("/etc/netns").join(&name),
            name,
        };
        ok(Command::new("ip").args([
            "-n",
            &named.name,
            "link",
            "add",
            "nsjd0",
            "type",
            "veth",
            "peer",
            "name",
            "nsjd1",
        ]));
        std::fs::create_dir_all(&named.etc).unwrap();
        std::fs::write(
            named.etc.join("resolv.conf"),
            format!("nameserver 10.77.0.1\n# {}\n", named.name),
        )
        .unwrap();
        named
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .args(["-s", "KILL", "10", program])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run timeout (coreutils)")
}

/// `ip netns exec NAME cmd...` and the nsjoin forms of it.
fn both(name: &str, cmd: &[&str]) -> (Output, Vec<Output>) {
    let mut ip = vec!["netns", "exec", name];
    ip.extend_from_slice(cmd);
    let net = format!("--net=/run/netns/{name}");
    let forms: [Vec<&str>; 3] = [
        vec!["--netns", name],
        vec![&net, "--netns-mounts"],
        // Forking into a pid namespace takes the other way through Spawn.
        vec!["--netns", name, "-t", "self-pid", "-p"],
    ];
    let pid = std::process::id().to_string();
    let ours = forms
        .iter()
        .map(|form| {
            let mut args: Vec<&str> = form
                .iter()
                .map(|a| if *a == "self-pid" { pid.as_str() } else { a })
                .collect();
            args.extend_from_slice(cmd);
            run(NSJOIN, &args)
        })
        .collect();
    (run("ip", &ip), ours)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn resolv_conf_sys_class_net_and_exit_codes_are_ips() {
    if !root_or_skip("resolv_conf_sys_class_net_and_exit_codes_are_ips") {
        return;
    }
    let ns = Named::new();
    let script = "cat /etc/resolv.conf; ls /sys/class/net; exit 7";
    let (ip, ours) = both(&ns.name, &["sh", "-c", script]);
    assert_eq!(ip.status.code(), Some(7), "{ip:?}");
    let expected = format!("nameserver 10.77.0.1\n# {}\nlo\nnsjd0\nnsjd1\n", ns.name);
    assert_eq!(text(&ip.stdout), expected);
    for out in ours {
        assert_eq!(text(&out.stdout), expected, "{out:?}");
        assert_eq!(out.status.code(), Some(7), "{out:?}");
        assert_eq!(text(&out.stderr), text(&ip.stderr));
    }
}

#[test]
fn the_sysfs_mount_and_propagation_are_ips_and_nothing_reaches_the_host() {
    if !root_or_skip("the_sysfs_mount_and_propagation_are_ips_and_nothing_reaches_the_host") {
        return;
    }
    let ns = Named::new();
    // Mount points as the program sees them, without mount ids (they differ), and a
    // mount of its own that must not reach the host.
    let script = "mount -t tmpfs nsjoin-ipx-leak /mnt && \
                  awk '{$1=\"\"; $2=\"\"; $3=\"\"; print}' /proc/self/mountinfo | \
                  grep -E ' /(sys|etc/resolv.conf|mnt) '";
    let (ip, ours) = both(&ns.name, &["sh", "-c", script]);
    assert!(ip.status.success(), "{ip:?}");
    let lines = text(&ip.stdout);
    assert!(
        lines.contains(&format!("- sysfs {} rw", ns.name)),
        "{lines}"
    );
    for out in ours {
        assert!(out.status.success(), "{out:?}");
        assert_eq!(text(&out.stdout), lines);
    }
    let host_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host_after.contains("nsjoin-ipx-leak"), "{host_after}");
}

#[test]
fn an_etc_entry_with_nothing_to_cover_is_ips_warning() {
    if !root_or_skip("an_etc_entry_with_nothing_to_cover_is_ips_warning") {
        return;
    }
    let ns = Named::new();
    std::fs::write(ns.etc.join("nsjoin-not-in-etc"), "x\n").unwrap();
    let (ip, ours) = both(&ns.name, &["cat", "/etc/resolv.conf"]);
    assert!(ip.status.success(), "{ip:?}");
    assert!(
        text(&ip.stderr).contains("nsjoin-not-in-etc failed: No such file or directory"),
        "{ip:?}"
    );
    for out in ours {
        assert!(out.status.success(), "{out:?}");
        assert_eq!(text(&out.stdout), text(&ip.stdout));
        assert_eq!(text(&out.stderr), text(&ip.stderr));
    }
}

#[test]
fn a_missing_name_is_refused_for_ips_reason() {
    if !root_or_skip("a_missing_name_is_refused_for_ips_reason") {
        return;
    }
    let name = format!("nsj-ipx-missing-{}", std::process::id());
    let ip = run("ip", &["netns", "exec", &name, "true"]);
    let ours = run(NSJOIN, &["--netns", &name, "true"]);
    // ip: 255 and "Cannot open network namespace "NAME": REASON"; nsjoin keeps
    // nsenter's exit code for its own errors, 1, and its own prefix.
    assert_eq!(ip.status.code(), Some(255));
    assert_eq!(ours.status.code(), Some(1));
    let ip_line = text(&ip.stderr);
    let our_line = text(&ours.stderr);
    assert_eq!(
        our_line.strip_prefix("nsjoin: c"),
        ip_line.strip_prefix("C"),
        "{our_line:?} vs {ip_line:?}"
    );
    assert!(ours.stdout.is_empty());
    // A program that cannot be found: ip says so and exits 1; nsjoin, like nsenter, 127.
    let ns = Named::new();
    let ours = run(NSJOIN, &["--netns", &ns.name, "nsjoin-no-such-program"]);
    assert_eq!(ours.status.code(), Some(127));
}
