//! A directory for DIR where the host has none, without writing on the host: its
//! deepest existing ancestor is covered, in the private mount namespace only, by
//! a tmpfs holding what the ancestor held (each entry bind-mounted back, symbolic
//! links copied) and the missing directories.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, CWD};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags};

use super::sys_err;
use crate::{Error, Result};

/// DIR's deepest existing ancestor (or DIR itself), and the components below it
/// that do not exist.
pub(super) fn split_existing(dir: &Path) -> (PathBuf, Vec<OsString>) {
    let mut existing = dir.to_path_buf();
    let mut missing = Vec::new();
    while std::fs::symlink_metadata(&existing).is_err() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    missing.reverse();
    (existing, missing)
}

/// What an entry of the covered directory becomes in the tmpfs.
enum Entry {
    /// A clone of the directory or file, attached over an empty one.
    Mount {
        name: OsString,
        tree: OwnedFd,
        dir: bool,
        mode: u32,
    },
    /// A symbolic link, copied.
    Link { name: OsString, to: OsString },
}

/// Covers `existing` with a tmpfs that holds what it held (each entry
/// bind-mounted back, links copied) and the directories `missing` below it.
pub(super) fn cover_with_skeleton(existing: &Path, missing: &[OsString]) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let list_err = |e: io::Error| Error::open(existing, e);
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(existing).map_err(list_err)? {
        let entry = entry.map_err(list_err)?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::open(&path, e))?;
        let name = entry.file_name();
        if meta.file_type().is_symlink() {
            let to = std::fs::read_link(&path).map_err(|e| Error::open(&path, e))?;
            entries.push(Entry::Link {
                name,
                to: to.into_os_string(),
            });
            continue;
        }
        let ft = meta.file_type();
        if !(ft.is_dir()
            || ft.is_file()
            || ft.is_socket()
            || ft.is_fifo()
            || ft.is_char_device()
            || ft.is_block_device())
        {
            continue;
        }
        let tree = rustix::mount::open_tree(
            CWD,
            &path,
            OpenTreeFlags::OPEN_TREE_CLONE
                | OpenTreeFlags::AT_RECURSIVE
                | OpenTreeFlags::OPEN_TREE_CLOEXEC
                | OpenTreeFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(sys_err(format!("cannot clone {}", path.display())))?;
        entries.push(Entry::Mount {
            name,
            tree,
            dir: ft.is_dir(),
            mode: meta.permissions().mode() & 0o7777,
        });
    }
    let mode = std::fs::metadata(existing)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o755);
    let fs = rustix::mount::fsopen(c"tmpfs", FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(sys_err("cannot make a tmpfs"))?;
    rustix::mount::fsconfig_set_string(&fs, c"mode", format!("{mode:o}"))
        .and_then(|()| rustix::mount::fsconfig_create(&fs))
        .map_err(sys_err("cannot make a tmpfs"))?;
    let tmpfs = rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())
        .map_err(sys_err("cannot make a tmpfs"))?;
    let covering_root = existing == Path::new("/");
    if covering_root {
        // The tmpfs is stacked on the root and becomes this thread's root: from
        // its own directory, chroot(".") after attaching.
        rustix::process::fchdir(&tmpfs).map_err(sys_err("cannot enter the tmpfs"))?;
    }
    rustix::mount::move_mount(
        &tmpfs,
        c"",
        CWD,
        existing,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(sys_err(format!("cannot cover {}", existing.display())))?;
    if covering_root {
        rustix::process::chroot(c".")
            .and_then(|()| rustix::process::chdir(c"/"))
            .map_err(sys_err("cannot change root to the tmpfs"))?;
    }
    let at = |name: &OsStr| existing.join(name);
    for entry in entries {
        match entry {
            Entry::Link { name, to } => rustix::fs::symlink(&to, at(&name))
                .map_err(sys_err(format!("cannot copy {}", at(&name).display())))?,
            Entry::Mount {
                name,
                tree,
                dir,
                mode,
            } => {
                let path = at(&name);
                if dir {
                    rustix::fs::mkdir(&path, Mode::from_raw_mode(mode))
                } else {
                    rustix::fs::open(
                        &path,
                        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC,
                        Mode::from_raw_mode(mode),
                    )
                    .map(drop)
                }
                .and_then(|()| {
                    rustix::mount::move_mount(
                        &tree,
                        c"",
                        CWD,
                        &path,
                        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
                    )
                })
                .map_err(sys_err(format!("cannot bind {} back", path.display())))?;
            }
        }
    }
    let mut path = existing.to_path_buf();
    for name in missing {
        path.push(name);
        rustix::fs::mkdir(&path, Mode::from_raw_mode(0o755))
            .map_err(sys_err(format!("cannot make {}", path.display())))?;
    }
    Ok(())
}
