//! Where the engines are and how long a resolution may take: [`Settings`], read
//! from the environment once ([`Settings::from_env`]) or made by the caller.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{one_line, ContainerError};
use crate::{Error, Result};

/// How long one resolution may take when neither [`set_timeout`] nor
/// [`TIMEOUT_ENV`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub use crate::error::TIMEOUT_ENV;

/// The limit set by [`set_timeout`], in nanoseconds; `u64::MAX`: none set.
static TIMEOUT_NANOS: AtomicU64 = AtomicU64::new(u64::MAX);

/// Sets the time limit of every later resolution in this process that takes its
/// settings from the environment ([`Settings::from_env`]): connecting to the
/// engine's socket, every request and answer, and the retries, together. `None`
/// goes back to [`TIMEOUT_ENV`], else [`DEFAULT_TIMEOUT`]. A zero limit makes
/// every resolution fail at once with the engine "not answering in time".
///
/// ```
/// use std::time::Duration;
/// nsjoin::container::set_timeout(Some(Duration::from_secs(3)));
/// assert_eq!(nsjoin::container::timeout().unwrap(), Duration::from_secs(3));
/// nsjoin::container::set_timeout(None);
/// ```
pub fn set_timeout(limit: Option<Duration>) {
    let nanos = limit.map_or(u64::MAX, |l| {
        u64::try_from(l.as_nanos()).map_or(u64::MAX - 1, |n| n.min(u64::MAX - 1))
    });
    TIMEOUT_NANOS.store(nanos, Ordering::Relaxed);
}

/// The time limit a resolution gets now: the one [`set_timeout`] set, else
/// [`TIMEOUT_ENV`]'s, else [`DEFAULT_TIMEOUT`]. Fails if the variable is set to
/// something other than a positive number of seconds.
pub fn timeout() -> Result<Duration> {
    timeout_from(&|name| std::env::var_os(name))
}

/// [`timeout`], with the variable looked up by `lookup`.
fn timeout_from(lookup: &dyn Fn(&str) -> Option<OsString>) -> Result<Duration> {
    let nanos = TIMEOUT_NANOS.load(Ordering::Relaxed);
    if nanos != u64::MAX {
        return Ok(Duration::from_nanos(nanos));
    }
    match lookup(TIMEOUT_ENV).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_TIMEOUT),
        Some(value) => value
            .to_str()
            .and_then(parse_seconds)
            .ok_or_else(|| Error::Container {
                target: format!("{TIMEOUT_ENV}={}", one_line(&value.to_string_lossy())),
                why: ContainerError::BadTimeout {
                    value: value.to_string_lossy().into_owned(),
                },
            }),
    }
}

/// A positive, finite number of seconds.
fn parse_seconds(text: &str) -> Option<Duration> {
    let text = text.trim();
    // Digits and at most one point: no signs, exponents, "inf" or "nan".
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || text.bytes().filter(|&b| b == b'.').count() > 1
    {
        return None;
    }
    let seconds: f64 = text.parse().ok()?;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
}

/// Where the engines are and how long a resolution may take. Every field left
/// `None` means the engine's default; [`Settings::default`] is the defaults
/// alone, whatever the environment says, and [`Settings::from_env`] what the
/// environment says.
///
/// ```
/// use nsjoin::container::Settings;
/// let mut settings = Settings::default();
/// settings.docker_host = Some("unix:///run/user/1000/docker.sock".into());
/// settings.timeout = std::time::Duration::from_secs(3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// The time limit of one resolution (`NSJOIN_ENGINE_TIMEOUT`, or
    /// [`set_timeout`]'s); [`DEFAULT_TIMEOUT`] by default.
    pub timeout: Duration,
    /// Docker's socket as `unix:///PATH` (`DOCKER_HOST`); else
    /// `/var/run/docker.sock`.
    pub docker_host: Option<String>,
    /// Podman's socket as `unix:///PATH` (`CONTAINER_HOST`); else
    /// `/run/podman/podman.sock` for root, `RUNTIME_DIR/podman/podman.sock` for
    /// others.
    pub podman_host: Option<String>,
    /// The user's runtime directory (`XDG_RUNTIME_DIR`), for Podman's socket;
    /// else `/run/user/UID`.
    pub runtime_dir: Option<PathBuf>,
    /// containerd's socket, a path with or without `unix://`
    /// (`CONTAINERD_ADDRESS`); else the first of the usual ones that is there.
    pub containerd_address: Option<String>,
    /// The containerd namespace for specs that name none (`CONTAINERD_NAMESPACE`);
    /// else `k8s.io`, `moby` and `default` are searched.
    pub containerd_namespace: Option<String>,
    /// The CRI runtime's endpoint for `cri://` (`CONTAINER_RUNTIME_ENDPOINT`);
    /// else crictl's defaults.
    pub cri_endpoint: Option<String>,
    /// LXC's lxcpath (`LXC_PATH`); else LXC's default.
    pub lxc_path: Option<PathBuf>,
    /// The home directory (`HOME`), for a non-root user's default lxcpath.
    pub home: Option<PathBuf>,
    /// The D-Bus address of the system bus, for systemd-machined
    /// (`DBUS_SYSTEM_BUS_ADDRESS`); else `unix:path=/run/dbus/system_bus_socket`.
    pub dbus_system_bus: Option<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            timeout: DEFAULT_TIMEOUT,
            docker_host: None,
            podman_host: None,
            runtime_dir: None,
            containerd_address: None,
            containerd_namespace: None,
            cri_endpoint: None,
            lxc_path: None,
            home: None,
            dbus_system_bus: None,
        }
    }
}

impl Settings {
    /// The settings the environment gives: `DOCKER_HOST`, `CONTAINER_HOST`,
    /// `XDG_RUNTIME_DIR`, `CONTAINERD_ADDRESS`, `CONTAINERD_NAMESPACE`,
    /// `CONTAINER_RUNTIME_ENDPOINT`, `LXC_PATH`, `HOME`,
    /// `DBUS_SYSTEM_BUS_ADDRESS`, and the time limit of [`timeout`]. Fails if
    /// [`TIMEOUT_ENV`] is not a number of seconds.
    pub fn from_env() -> Result<Settings> {
        Settings::from_lookup(|name| std::env::var_os(name))
    }

    /// [`Settings::from_env`], with each variable looked up by `lookup` instead of
    /// in the process's environment.
    ///
    /// ```
    /// use nsjoin::container::Settings;
    /// let s = Settings::from_lookup(|name| match name {
    ///     "DOCKER_HOST" => Some("unix:///tmp/d.sock".into()),
    ///     "NSJOIN_ENGINE_TIMEOUT" => Some("0.5".into()),
    ///     _ => None,
    /// })
    /// .unwrap();
    /// assert_eq!(s.docker_host.as_deref(), Some("unix:///tmp/d.sock"));
    /// assert_eq!(s.timeout, std::time::Duration::from_millis(500));
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Settings> {
        let timeout = timeout_from(&lookup)?;
        Ok(Settings {
            timeout,
            ..Settings::engines_from(&lookup)
        })
    }

    /// Everything but the time limit, from `lookup`.
    pub(crate) fn engines_from(lookup: &dyn Fn(&str) -> Option<OsString>) -> Settings {
        let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let lossy = |name: &str| set(name).map(|v| v.to_string_lossy().into_owned());
        let utf8 = |name: &str| set(name).and_then(|v| v.into_string().ok());
        Settings {
            timeout: DEFAULT_TIMEOUT,
            docker_host: lossy("DOCKER_HOST"),
            podman_host: lossy("CONTAINER_HOST"),
            runtime_dir: lookup("XDG_RUNTIME_DIR").map(PathBuf::from),
            containerd_address: lossy("CONTAINERD_ADDRESS"),
            containerd_namespace: utf8("CONTAINERD_NAMESPACE"),
            cri_endpoint: lossy("CONTAINER_RUNTIME_ENDPOINT"),
            lxc_path: set("LXC_PATH").map(PathBuf::from),
            home: lookup("HOME").map(PathBuf::from),
            dbus_system_bus: utf8("DBUS_SYSTEM_BUS_ADDRESS"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_are_positive_seconds() {
        assert_eq!(parse_seconds("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_seconds(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_seconds("2."), Some(Duration::from_secs(2)));
        for bad in [
            "", "0", "0.0", "-1", "+1", "1e3", "inf", "nan", "1.2.3", "abc", "1s",
        ] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
        // Too large for a Duration.
        assert_eq!(parse_seconds(&"9".repeat(400)), None);
    }

    #[test]
    fn settings_come_from_the_variables_once() {
        use std::os::unix::ffi::OsStringExt;
        let vars = |name: &str| -> Option<OsString> {
            match name {
                "DOCKER_HOST" => Some("unix:///d.sock".into()),
                // Empty is unset; a namespace must be text.
                "CONTAINER_HOST" => Some("".into()),
                "CONTAINERD_NAMESPACE" => Some(OsString::from_vec(vec![0xff])),
                "LXC_PATH" => Some("/srv/lxc".into()),
                _ => None,
            }
        };
        let s = Settings::engines_from(&vars);
        assert_eq!(s.docker_host.as_deref(), Some("unix:///d.sock"));
        assert_eq!(s.podman_host, None);
        assert_eq!(s.containerd_namespace, None);
        assert_eq!(s.lxc_path, Some(PathBuf::from("/srv/lxc")));
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        assert_eq!(Settings::engines_from(&|_| None), Settings::default());
    }
}
