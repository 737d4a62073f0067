//! LXC: the command socket of the container's monitor (`lxc-start`), asked
//! `LXC_CMD_GET_INIT_PID` as LXC's own tools ask it (LXC's `src/lxc/commands.c`).
//!
//! The monitor listens on an abstract unix socket named `LXCPATH/NAME/command`
//! (no trailing NUL), or, when that does not fit in `sun_path` with LXC's two
//! bytes of margin, `lxc/HASH/command` where HASH is the 64-bit FNV-1a of
//! `LXCPATH/NAME` in 16 hex digits. A request is `struct lxc_cmd_req { int cmd;
//! int datalen; const void *data; }` sent with SCM_CREDENTIALS; the answer is
//! `struct lxc_cmd_rsp { int ret; int datalen; void *data; }`, the init PID
//! carried in `data` itself. The socket exists only while the container runs.

use std::ffi::{OsStr, OsString};
use std::io::{ErrorKind, IoSlice};
use std::mem::{size_of, MaybeUninit};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix, UCred};

use super::socket::{self, Deadline};
use super::{no_valid_pid, Container, ContainerError, ContainerRef, Engine, Peer, Settings};

/// `LXC_CMD_GET_INIT_PID` in LXC's `lxc_cmd_t`; its value has not changed since
/// the command socket was introduced.
const LXC_CMD_GET_INIT_PID: i32 = 4;
/// `int` + `int` + a pointer, as the C structs are laid out on this platform.
pub(crate) const MESSAGE_LEN: usize = 2 * size_of::<i32>() + size_of::<usize>();
/// `sizeof(sun_path)`.
const SUN_PATH_LEN: usize = 108;

pub(crate) fn resolve(
    r: &ContainerRef,
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Container, ContainerError> {
    resolve_in(&lxc_path(settings), &r.name, deadline)
}

/// Resolves container `name` of the LXC path `lxcpath` before `deadline`.
pub(crate) fn resolve_in(
    lxcpath: &Path,
    name: &str,
    deadline: &Deadline,
) -> Result<Container, ContainerError> {
    let socket = socket_name(lxcpath.as_os_str(), name);
    let shown = format!("@{}", String::from_utf8_lossy(&socket));
    let late = || deadline.late(&format!("the container's LXC monitor at {shown}"));
    let addr = SocketAddrUnix::new_abstract_name(&socket).map_err(|e| {
        ContainerError::other(format!(
            "cannot make the socket address {shown}: {}",
            crate::error::os_text(&e.into())
        ))
    })?;
    let stream = match socket::connect(&addr, deadline) {
        Ok(stream) => stream,
        // Nothing listens: the container is stopped, or there is none by that name.
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            let config = lxcpath.join(name).join("config");
            return Err(if config.exists() {
                ContainerError::NotRunning { state: None }
            } else {
                ContainerError::NotFound {
                    engine: Engine::Lxc,
                    name: name.to_owned(),
                    detail: Some(format!(
                        "in lxcpath {} (LXC_PATH selects another)",
                        lxcpath.display()
                    )),
                }
            });
        }
        Err(e) if socket::is_timeout(&e) => return Err(late()),
        Err(e) => return Err(ContainerError::connect(&shown, e, Peer::Other)),
    };
    let io_error = |e: std::io::Error| {
        if socket::is_timeout(&e) {
            late()
        } else {
            ContainerError::Io {
                socket: shown.clone(),
                source: e,
            }
        }
    };

    // The monitor refuses a peer whose credentials are not its own or root's;
    // send them as LXC's clients do.
    let request = request(LXC_CMD_GET_INIT_PID);
    let creds = UCred {
        pid: rustix::process::getpid(),
        uid: rustix::process::getuid(),
        gid: rustix::process::getgid(),
    };
    let sent = loop {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        control.push(SendAncillaryMessage::ScmCredentials(creds));
        let left = deadline.remaining().map_err(io_error)?;
        stream.set_write_timeout(Some(left)).map_err(io_error)?;
        match rustix::net::sendmsg(
            &stream,
            &[IoSlice::new(&request)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(sent) => break sent,
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Err(late()),
            Err(e) => return Err(io_error(e.into())),
        }
    };
    if sent != request.len() {
        return Err(ContainerError::other(format!(
            "{shown}: short write of the request"
        )));
    }

    let mut response = [0u8; MESSAGE_LEN];
    let mut got = 0;
    while got < response.len() {
        match socket::read(&stream, &mut response[got..], deadline) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(io_error(e)),
        }
    }
    if got == 0 {
        return Err(ContainerError::Stopped);
    }
    if got < response.len() {
        return Err(ContainerError::bad(format!(
            "{shown}: the monitor answered {got} bytes, not {MESSAGE_LEN}"
        )));
    }
    let pid = parse_response(&response)?;
    Ok(Container {
        engine: Engine::Lxc,
        id: name.to_owned(),
        name: name.to_owned(),
        pid,
        env: None,
    })
}

/// A request without data: `{ cmd, datalen = 0, data = NULL }`.
fn request(cmd: i32) -> [u8; MESSAGE_LEN] {
    let mut out = [0u8; MESSAGE_LEN];
    out[..4].copy_from_slice(&cmd.to_ne_bytes());
    out
}

/// The init PID from a `GET_INIT_PID` answer.
pub(crate) fn parse_response(rsp: &[u8; MESSAGE_LEN]) -> Result<i32, ContainerError> {
    let ret = i32::from_ne_bytes(rsp[0..4].try_into().unwrap_or_default());
    if ret < 0 {
        return Err(ContainerError::MonitorRefused {
            source: std::io::Error::from_raw_os_error(ret.saturating_neg()),
        });
    }
    let mut data = [0u8; size_of::<usize>()];
    data.copy_from_slice(&rsp[8..]);
    // PID_TO_PTR: the pid_t widened to a pointer, sign included.
    let value = isize::from_ne_bytes(data);
    match i32::try_from(value) {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(no_valid_pid("the container's LXC monitor", value)),
    }
}

/// The abstract socket name (without the leading NUL) of container `name`'s
/// monitor in `lxcpath`.
pub(crate) fn socket_name(lxcpath: &OsStr, name: &str) -> Vec<u8> {
    let mut path = lxcpath.as_bytes().to_vec();
    path.push(b'/');
    path.extend_from_slice(name.as_bytes());
    let plain_len = path.len() + b"/command".len();
    // LXC formats into sun_path minus the leading NUL and a terminating one.
    if plain_len < SUN_PATH_LEN - 2 {
        path.extend_from_slice(b"/command");
        return path;
    }
    format!("lxc/{:016x}/command", fnv1a_64(&path)).into_bytes()
}

/// 64-bit FNV-1a.
fn fnv1a_64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The lxcpath: `LXC_PATH`, else `lxc.lxcpath` from /etc/lxc/lxc.conf or
/// /var/lib/lxc for root, `~/.local/share/lxc` for other users (LXC's defaults).
fn lxc_path(settings: &Settings) -> PathBuf {
    if let Some(path) = settings
        .lxc_path
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
    {
        return path;
    }
    if rustix::process::geteuid().is_root() {
        let configured = std::fs::read("/etc/lxc/lxc.conf")
            .ok()
            .and_then(|conf| config_lxcpath(&conf));
        return configured.unwrap_or_else(|| PathBuf::from("/var/lib/lxc"));
    }
    settings
        .home
        .clone()
        .unwrap_or_default()
        .join(".local/share/lxc")
}

/// `lxc.lxcpath = DIR` from a system lxc.conf.
fn config_lxcpath(conf: &[u8]) -> Option<PathBuf> {
    conf.split(|&b| b == b'\n').rev().find_map(|line| {
        let (key, value) = line.split_at(line.iter().position(|&b| b == b'=')?);
        (key.trim_ascii() == b"lxc.lxcpath")
            .then(|| value[1..].trim_ascii())
            .filter(|v| !v.is_empty())
            .map(|v| PathBuf::from(OsString::from_vec(v.to_vec())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_names_are_lxcs() {
        // Seen in /proc/net/unix while `lxc-start -P /tmp/lxcp -n nsjt` ran.
        assert_eq!(
            socket_name(OsStr::new("/tmp/lxcp"), "nsjt"),
            b"/tmp/lxcp/nsjt/command"
        );
        // 105 bytes still fit; 106 are hashed.
        let dir = format!("/{}", "d".repeat(90));
        let fits = socket_name(OsStr::new(&dir), "n2345");
        assert_eq!(fits.len(), 105);
        let hashed = socket_name(OsStr::new(&dir), "n23456");
        assert_eq!(
            hashed,
            format!(
                "lxc/{:016x}/command",
                fnv1a_64(format!("{dir}/n23456").as_bytes())
            )
            .as_bytes()
        );
        // FNV-1a 64 reference values.
        assert_eq!(fnv1a_64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn answers_are_checked() {
        // A real answer (x86_64) of an LXC 5.0.2 monitor to GET_INIT_PID: ret 0,
        // datalen 0, data = the init PID, 13580.
        let recorded: [u8; MESSAGE_LEN] = [0, 0, 0, 0, 0, 0, 0, 0, 0x0c, 0x35, 0, 0, 0, 0, 0, 0];
        if cfg!(all(target_endian = "little", target_pointer_width = "64")) {
            assert_eq!(parse_response(&recorded).unwrap(), 13580);
        }
        let mut refused = [0u8; MESSAGE_LEN];
        refused[..4].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert!(parse_response(&refused)
            .unwrap_err()
            .to_string()
            .contains("Operation not permitted"));
        let mut none = [0u8; MESSAGE_LEN];
        none[8..].copy_from_slice(&(-1isize).to_ne_bytes());
        assert_eq!(
            parse_response(&none).unwrap_err().to_string(),
            "the container's LXC monitor reported the container running but with no valid PID (-1)"
        );
        assert_eq!(
            &request(LXC_CMD_GET_INIT_PID)[..],
            &[&4i32.to_ne_bytes()[..], &[0u8; MESSAGE_LEN - 4][..]].concat()[..]
        );
    }

    #[test]
    fn lxcpath_from_lxc_conf() {
        assert_eq!(
            config_lxcpath(b"# x\nlxc.lxcpath = /srv/lxc \nlxc.bdev.lvm.vg = v\n"),
            Some(PathBuf::from("/srv/lxc"))
        );
        assert_eq!(config_lxcpath(b"lxc.lxcpathx = /a\n"), None);
        assert_eq!(config_lxcpath(b""), None);
    }
}
