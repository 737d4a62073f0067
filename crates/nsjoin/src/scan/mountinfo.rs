//! Namespaces bind-mounted somewhere (`ip netns add`, `unshare --net=FILE`): the
//! nsfs entries of `/proc/self/mountinfo`.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::fs::OFlags;

use super::processes::{exhausted, parse_ns_link};
use crate::{procfs, Error, Result};

/// An nsfs bind mount from mountinfo.
pub(crate) struct NsfsMount {
    pub(super) kind: String,
    pub(super) ino: u64,
    pub(super) target: PathBuf,
}

/// The nsfs mounts of `/proc/self/mountinfo`, read a line at a time: memory
/// grows with the nsfs mounts, not with the mount table.
pub(super) fn read_nsfs_mounts() -> Result<Vec<NsfsMount>> {
    const PATH: &str = "/proc/self/mountinfo";
    let file = match procfs::open_at("self/mountinfo", OFlags::RDONLY)? {
        Ok(fd) => File::from(fd),
        Err(e) if exhausted(e) => return Err(Error::open(PATH, e)),
        // No /proc/self (an odd chroot): no mounts to list.
        Err(_) => return Ok(Vec::new()),
    };
    let mut reader = io::BufReader::new(file);
    let mut line = Vec::new();
    let mut out = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(out),
            Ok(_) => out.extend(parse_nsfs_line(&line)),
            Err(e) => return Err(Error::sys(format!("cannot read {PATH}"), e)),
        }
    }
}

/// The nsfs entries of a mountinfo text: `ID PARENT MAJ:MIN ROOT TARGET ... - nsfs ...`
/// where ROOT is `KIND:[INODE]`.
pub(crate) fn parse_nsfs_mounts(text: &[u8]) -> Vec<NsfsMount> {
    text.split(|&b| b == b'\n')
        .filter_map(parse_nsfs_line)
        .collect()
}

/// One line of mountinfo, if it is an nsfs mount.
fn parse_nsfs_line(line: &[u8]) -> Option<NsfsMount> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let sep = fields.iter().position(|f| *f == b"-")?;
    if sep < 5 || fields.get(sep + 1) != Some(&&b"nsfs"[..]) {
        return None;
    }
    let root = unescape(fields[3]);
    let (kind, ino) = parse_ns_link(&root)?;
    Some(NsfsMount {
        kind: String::from_utf8_lossy(kind).into_owned(),
        ino,
        target: PathBuf::from(OsStr::from_bytes(&unescape(fields[4]))),
    })
}

/// Undoes mountinfo's `\ooo` octal escapes (space, tab, newline, backslash).
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\'
            && i + 4 <= field.len()
            && field[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = field[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            out.push(v as u8);
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_nsfs_entries() {
        let text = b"22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
            611 30 0:4 net:[4026532290] /run/netns/a\\040b rw shared:5 - nsfs nsfs rw\n\
            612 30 0:4 mnt:[4026532300] /tmp/m rw - nsfs nsfs rw\n";
        let m = parse_nsfs_mounts(text);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].kind.as_str(), m[0].ino), ("net", 4026532290));
        assert_eq!(m[0].target, PathBuf::from("/run/netns/a b"));
        assert_eq!((m[1].kind.as_str(), m[1].ino), ("mnt", 4026532300));
    }
}
