//! The text of `/proc/PID/status`, `limits` and `uid_map`/`gid_map`, as
//! [`super::Confinement::capture`] reads it.

use rustix::process::{Resource, Rlimit};

/// A `/proc/PID/status` line's value.
pub(super) fn field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}

/// `[real, effective, saved]` of a `Uid:`/`Gid:` line.
pub(super) fn ids(status: &str, name: &str) -> Option<[u32; 3]> {
    let mut it = field(status, name)?.split_whitespace().map(str::parse);
    Some([it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?])
}

pub(super) fn caps(status: &str, name: &str) -> Option<u64> {
    u64::from_str_radix(field(status, name)?, 16).ok()
}

/// The `inside outside count` ranges of a `uid_map`/`gid_map` read from this
/// process's user namespace.
pub(super) fn parse_map(map: &str) -> Vec<(u32, u32, u32)> {
    map.lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace().map(str::parse::<u32>);
            Some((it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?))
        })
        .collect()
}

/// An ID as this process sees it, as the target's user namespace sees it.
pub(super) fn map_inside(map: &[(u32, u32, u32)], id: u32) -> Option<u32> {
    map.iter().find_map(|&(inside, outside, count)| {
        (id >= outside && id - outside < count).then(|| inside + (id - outside))
    })
}

/// `/proc/PID/limits` into one limit per resource; every resource must be there.
pub(super) fn parse_limits(limits: &str) -> std::result::Result<Vec<(Resource, Rlimit)>, String> {
    const NAMES: [(&str, Resource); 16] = [
        ("Max cpu time", Resource::Cpu),
        ("Max file size", Resource::Fsize),
        ("Max data size", Resource::Data),
        ("Max stack size", Resource::Stack),
        ("Max core file size", Resource::Core),
        ("Max resident set", Resource::Rss),
        ("Max processes", Resource::Nproc),
        ("Max open files", Resource::Nofile),
        ("Max locked memory", Resource::Memlock),
        ("Max address space", Resource::As),
        ("Max file locks", Resource::Locks),
        ("Max pending signals", Resource::Sigpending),
        ("Max msgqueue size", Resource::Msgqueue),
        ("Max nice priority", Resource::Nice),
        ("Max realtime priority", Resource::Rtprio),
        ("Max realtime timeout", Resource::Rttime),
    ];
    let value = |s: Option<&str>| match s {
        Some("unlimited") => Ok(None),
        Some(n) => n
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("bad value {n:?}")),
        None => Err("a value is missing".to_owned()),
    };
    NAMES
        .iter()
        .map(|&(name, resource)| {
            let line = limits
                .lines()
                .find_map(|l| l.strip_prefix(name).filter(|rest| rest.starts_with("  ")))
                .ok_or_else(|| format!("no {name:?} line"))?;
            let mut it = line.split_whitespace();
            let current = value(it.next())?;
            let maximum = value(it.next())?;
            Ok((resource, Rlimit { current, maximum }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_by_name() {
        let status = "Name:\tsleep\nUid:\t1000\t1001\t1002\t1003\nGid:\t10\t10\t10\t10\n\
                      Groups:\t10 20 \nCapEff:\t00000000a80425fb\nNoNewPrivs:\t1\n";
        assert_eq!(ids(status, "Uid"), Some([1000, 1001, 1002]));
        assert_eq!(ids(status, "Gid"), Some([10, 10, 10]));
        assert_eq!(field(status, "Groups"), Some("10 20"));
        assert_eq!(caps(status, "CapEff"), Some(0xa80425fb));
        assert_eq!(caps(status, "CapPrm"), None);
        assert_eq!(field(status, "NoNewPrivs"), Some("1"));
        // A prefix of another field's name is not that field.
        assert_eq!(field(status, "Cap"), None);
    }

    #[test]
    fn ids_are_translated_through_the_map() {
        let map = parse_map("         0     100000      65536\n 65536 5000 1\n");
        assert_eq!(map_inside(&map, 100000), Some(0));
        assert_eq!(map_inside(&map, 101000), Some(1000));
        assert_eq!(map_inside(&map, 5000), Some(65536));
        assert_eq!(map_inside(&map, 99999), None);
        assert_eq!(map_inside(&map, 165536), None);
    }

    #[test]
    fn limits_are_read_for_every_resource() {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let parsed = parse_limits(&limits).unwrap();
        assert_eq!(parsed.len(), 16);
        for (resource, limit) in parsed {
            let own = rustix::process::getrlimit(resource);
            assert_eq!(
                (own.current, own.maximum),
                (limit.current, limit.maximum),
                "{resource:?}"
            );
        }
        assert!(parse_limits("Limit  Soft Limit  Hard Limit  Units\n").is_err());
    }
}
