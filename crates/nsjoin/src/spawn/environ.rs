//! The program's environment and shell: the target's `/proc/PID/environ`, and
//! the login shell nsenter runs when no program is given.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Command;

use crate::{sys, Handles, Result};

/// What nsenter runs when no program is given: the user's shell as a login shell
/// (`argv[0]` is `-NAME`). The shell is `SHELL` from `env` (the program's
/// environment; `None` for this process's), else the caller's passwd entry
/// (getpwuid_r, so NSS sources count), else `/bin/sh`.
pub fn login_shell(env: Option<&[(OsString, OsString)]>) -> Command {
    let from_env = match env {
        Some(env) => env
            .iter()
            .find(|(k, _)| k == "SHELL")
            .map(|(_, v)| v.clone()),
        None => std::env::var_os("SHELL"),
    };
    let shell: PathBuf = from_env
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            sys::passwd(rustix::process::getuid().as_raw())
                .map(|p| p.shell)
                .filter(|s| !s.as_os_str().is_empty())
        })
        .unwrap_or_else(|| PathBuf::from("/bin/sh"));
    let name = shell
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sh".into());
    let mut cmd = Command::new(&shell);
    std::os::unix::process::CommandExt::arg0(&mut cmd, format!("-{name}"));
    cmd
}

/// The most a `/proc/PID/environ` is read: execve(2) takes at most three quarters of
/// the kernel's 8 MiB default stack limit for arguments and environment together
/// (fs/exec.c: `_STK_LIM / 4 * 3`), so an environment a process got by exec'ing fits.
/// One that is larger was pointed elsewhere with `prctl(PR_SET_MM)`, and could be
/// any size the target likes.
pub const ENVIRON_LIMIT: usize = 6 << 20;

impl Handles {
    /// The target's environment, as pairs: a container's as its engine reports
    /// it, otherwise the process's `/proc/PID/environ`; entries without `=` are
    /// dropped. A `/proc/PID/environ` larger than [`ENVIRON_LIMIT`] is refused
    /// ([`Error::TooLarge`](crate::Error::TooLarge)) without being read.
    pub fn environ(&self) -> Result<Vec<(OsString, OsString)>> {
        #[cfg(feature = "containers")]
        if let Some(env) = self.container().and_then(|c| c.env.clone()) {
            return Ok(env);
        }
        let data = self.read_proc_file("environ", ENVIRON_LIMIT, "the target's environment")?;
        Ok(parse_environ(&data))
    }
}

/// Splits `/proc/PID/environ` (NUL-separated `KEY=VALUE`) into pairs, dropping
/// entries without `=` or with an empty key.
pub(crate) fn parse_environ(data: &[u8]) -> Vec<(OsString, OsString)> {
    data.split(|&b| b == 0)
        .filter_map(|entry| {
            let eq = entry.iter().position(|&b| b == b'=')?;
            (eq > 0).then(|| {
                (
                    OsStr::from_bytes(&entry[..eq]).to_owned(),
                    OsStr::from_bytes(&entry[eq + 1..]).to_owned(),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn environ_parsing_drops_malformed_entries() {
        let env = parse_environ(b"A=1\0B=\0noequals\0=x\0C=a=b\0\0");
        let env: Vec<_> = env
            .into_iter()
            .map(|(k, v)| (k.into_vec(), v.into_vec()))
            .collect();
        assert_eq!(
            env,
            [
                (b"A".to_vec(), b"1".to_vec()),
                (b"B".to_vec(), b"".to_vec()),
                (b"C".to_vec(), b"a=b".to_vec()),
            ]
        );
    }
}
