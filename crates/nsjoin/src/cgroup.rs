//! What a `/proc/PID/cgroup` text says about containers: the one place that reads
//! it, for the container targets (is this process in container ID?) and for the
//! scan (which container is this process in?).
//!
//! The text has one `HIERARCHY:CONTROLLERS:PATH` line per hierarchy: `0::PATH` for
//! the unified (cgroup v2) one, one line per mounted v1 hierarchy besides.

#[cfg(feature = "scan")]
use crate::container::Engine;

/// The path of the unified (cgroup v2) hierarchy's line, if the process has one.
pub(crate) fn unified(cgroup: &str) -> Option<&str> {
    cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// Every hierarchy's path: the unified (v2) line's first, then each v1 line's in
/// the file's order. A line without two colons has none.
#[cfg(feature = "containers")]
pub(crate) fn paths(cgroup: &str) -> impl Iterator<Item = &str> {
    let lines = || {
        cgroup
            .lines()
            .filter_map(|l| Some((l.starts_with("0::"), l.splitn(3, ':').nth(2)?)))
    };
    let v2 = lines().filter(|(unified, _)| *unified);
    let v1 = lines().filter(|(unified, _)| !*unified);
    v2.chain(v1).map(|(_, path)| path)
}

/// Whether a `/proc/PID/cgroup` text puts the process in a cgroup named for the
/// container `id`: a path component that is `id`, or ends in `-<id>` or
/// `-<id>.scope` (the cgroupfs and systemd drivers' names). What a container
/// target checks of the process its engine named.
#[cfg(feature = "containers")]
pub(crate) fn names(cgroup: &str, id: &str) -> bool {
    if id.is_empty() {
        return false;
    }
    let dashed = format!("-{id}");
    paths(cgroup).flat_map(|path| path.split('/')).any(|part| {
        let unit = part.strip_suffix(".scope").unwrap_or(part);
        part == id || unit.ends_with(&dashed)
    })
}

/// The container a cgroup path names, as `(engine, id or name)`: the rules of
/// [`crate::scan::ContainerId::from_cgroup`], which documents them. What the scan
/// shows for a process before any engine is asked.
#[cfg(feature = "scan")]
pub(crate) fn container_in(path: &str) -> Option<(Engine, String)> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let make = |engine, id: &str| Some((engine, id.to_owned()));
    for (i, part) in parts.iter().enumerate().rev() {
        let prev = if i > 0 { parts[i - 1] } else { "" };
        let scoped = |prefix: &str| {
            part.strip_prefix(prefix)
                .map(|rest| rest.strip_suffix(".scope").unwrap_or(rest))
                .filter(|id| is_oci_id(id))
        };
        if let Some(id) = scoped("docker-") {
            return make(Engine::Docker, id);
        }
        if let Some(id) = scoped("libpod-") {
            return make(Engine::Podman, id);
        }
        if let Some(id) = scoped("cri-containerd-").or_else(|| scoped("nerdctl-")) {
            return make(Engine::Containerd, id);
        }
        if let Some(id) = scoped("crio-") {
            return make(Engine::CriO, id);
        }
        if is_oci_id(part) {
            if prev == "docker" {
                return make(Engine::Docker, part);
            }
            if prev.starts_with("pod") && parts[..i].iter().any(|p| p.starts_with("kubepods")) {
                return make(Engine::Cri, part);
            }
        }
        if let Some(name) = part.strip_prefix("lxc.payload.") {
            return make(Engine::Lxc, name);
        }
        if prev == "lxc" && i == 1 {
            return make(Engine::Lxc, part);
        }
        if let Some(name) = part
            .strip_prefix("systemd-nspawn@")
            .and_then(|r| r.strip_suffix(".service"))
        {
            return make(Engine::Nspawn, &unescape_systemd(name));
        }
        if prev == "machine.slice" {
            if let Some(name) = part
                .strip_prefix("machine-")
                .and_then(|r| r.strip_suffix(".scope"))
            {
                return make(Engine::Nspawn, &unescape_systemd(name));
            }
        }
    }
    None
}

/// Whether `s` is a 64-hex-digit OCI container ID.
#[cfg(feature = "scan")]
pub(crate) fn is_oci_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// systemd's `\x2d` unit-name escapes.
#[cfg(feature = "scan")]
fn unescape_systemd(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1] == b'x' {
            // Bytes, not `&s[..]`: a multi-byte character after `\x` is no escape
            // (and slicing the str inside it would panic).
            let hex = &b[i + 2..i + 4];
            if let Some(v) = std::str::from_utf8(hex)
                .ok()
                .filter(|_| hex.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(all(test, feature = "containers"))]
mod tests {
    use super::names as cgroup_names;

    #[test]
    fn a_cgroup_names_a_container_only_by_a_whole_component() {
        let id = "ab".repeat(32);
        let v1 = format!("12:pids:/docker/{id}\n11:cpu:/docker/{id}\n");
        let systemd = format!("0::/system.slice/docker-{id}.scope\n");
        let cri = format!("0::/kubepods/besteffort/pod1/{id}\n");
        let short = "0::/default/web\n";
        for (text, name) in [
            (&v1, id.as_str()),
            (&systemd, &id),
            (&cri, &id),
            (&short.to_owned(), "web"),
        ] {
            assert!(cgroup_names(text, name), "{text}");
        }
        // Not a component: a prefix, a longer name, a file-name lookalike, nothing.
        let other = format!("0::/system.slice/docker-{id}0.scope\n");
        assert!(!cgroup_names(&other, &id));
        assert!(!cgroup_names(&format!("0::/x/{id}-extra\n"), &id));
        assert!(!cgroup_names("0::/user.slice/session-1.scope\n", &id));
        assert!(!cgroup_names(&v1, ""));
        assert!(
            !cgroup_names(&format!("{id}\n"), &id),
            "a line without a path"
        );
    }
}
