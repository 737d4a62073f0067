//! The library's one error type. Every variant names what it is about.

use std::io;
use std::path::PathBuf;
use std::str::FromStr;

use crate::{Kind, KindSet};

#[cfg(feature = "containers")]
mod container;
#[cfg(feature = "containers")]
mod engine;
#[cfg(feature = "containers")]
mod reason;
#[cfg(feature = "containers")]
mod wording;

#[cfg(feature = "containers")]
pub use container::ContainerError;
#[cfg(feature = "containers")]
pub(crate) use engine::{code_name, PERMISSION_DENIED};
#[cfg(feature = "containers")]
pub use engine::{Engine, TIMEOUT_ENV};
#[cfg(feature = "containers")]
pub use reason::Reason;
#[cfg(feature = "containers")]
pub use wording::Peer;

/// Everything that can go wrong while opening, entering or leaving namespaces.
///
/// Messages read like util-linux's: `cannot open /proc/42/ns/net: No such process`.
/// [`Error::raw_os_error`] gives the errno where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A namespace kind name that is not one of the eight.
    #[error(
        "unknown namespace type {0:?} (expected cgroup, ipc, mnt, net, pid, time, user or uts)"
    )]
    UnknownKind(String),

    /// The kernel has no such kind of namespace.
    #[error("{0} namespaces are not supported by this kernel")]
    KindUnsupported(Kind),

    /// A file, process or directory could not be opened or read.
    #[error("cannot open {path}: {}", os_text(source))]
    Open {
        /// What was being opened.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },

    /// A target given as `PID` or `PID:INODE` that is neither.
    #[error("failed to parse pid: '{spec}'")]
    BadPid {
        /// As given.
        spec: String,
    },

    /// `PID:INODE`: the process with that PID is not the one whose pidfd has that
    /// inode (it was replaced since the inode was taken).
    #[error("pidfd inode {inode} not found for pid {pid}")]
    PidInode {
        /// The PID.
        pid: i32,
        /// The pidfd inode asked for.
        inode: u64,
    },

    /// The target process ended (or its PID was reused) after nsjoin had got hold of
    /// it: while its namespaces were being opened (nothing of it was kept), or before a
    /// later read of its `/proc` directory. A process that was already gone when the
    /// call began is [`Error::Open`] with ESRCH instead; [`Error::is_target_gone`]
    /// answers for both.
    #[error("{target} exited while its namespaces were being opened")]
    TargetExited {
        /// The target, as given (`process 42`, `pidfd target`, `docker://redis`).
        target: String,
    },

    /// A file the target controls is larger than any real one can be; it was not
    /// read (its size is the target's to choose, and so would be our memory use).
    #[error("{path} is larger than {limit} bytes; refusing to read it")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound.
        limit: usize,
    },

    /// The file is not a namespace file (not on nsfs).
    #[error("{path} is not a namespace file")]
    NotNamespace {
        /// The file.
        path: PathBuf,
    },

    /// The namespace file is of another kind than the one asked for.
    #[error("{path} is a {actual} namespace, not {expected}")]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// The kind asked for.
        expected: Kind,
        /// The kind the kernel says the file is.
        actual: Kind,
    },

    /// A kind was asked for that the target does not provide (a namespace file
    /// provides only its own kind).
    #[error("{target} has no {kind} namespace to enter")]
    NotProvided {
        /// The target, as given.
        target: String,
        /// The missing kind.
        kind: Kind,
    },

    /// setns(2) failed.
    #[error("reassociate to namespace 'ns/{kind}' failed: {}", os_text(source))]
    Enter {
        /// The namespace that could not be entered.
        kind: Kind,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// Going back to an original namespace failed; see [`crate::Guard`] for what
    /// that means for the thread.
    #[error("cannot return to the original {kind} namespace: {}", os_text(source))]
    Restore {
        /// The namespace that could not be restored.
        kind: Kind,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The kind cannot be entered by this API; the message names the one that can.
    #[error("{kind} namespace cannot be entered here: {why}")]
    NeedsOtherApi {
        /// The kind.
        kind: Kind,
        /// Why, and which API to use instead.
        why: &'static str,
    },

    /// A spawn option that needs a process target was used with a namespace file.
    #[error("{what} needs a process target, not a namespace file")]
    NeedsProcess {
        /// The option.
        what: &'static str,
    },

    /// The program could not be executed (not found, not executable, ...).
    #[error("failed to execute {program}: {}", os_text(source))]
    Exec {
        /// The program, as given.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A container target could not be resolved: unknown, ambiguous, stopped,
    /// engine unreachable or answering nonsense. One line, naming the target
    /// (what an engine says reaches the user's terminal: no control characters).
    #[cfg(feature = "containers")]
    #[error("{target}: {}", one_line(&why.to_string()))]
    Container {
        /// The target as given (`docker://redis`).
        target: String,
        /// Why, typed: [`ContainerError::reason`](crate::container::ContainerError::reason)
        /// tells the cases apart; the socket and the OS error are attached.
        #[source]
        why: ContainerError,
    },

    /// Any other system call failure, with what was being done.
    #[error("{what}: {}", os_text(source))]
    Sys {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The OS error number behind this error, if there is one (for `OSError(errno)`
    /// in the Python package and exit-code mapping in the command).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Open { source, .. }
            | Error::Enter { source, .. }
            | Error::Restore { source, .. }
            | Error::Exec { source, .. }
            | Error::Sys { source, .. } => source.raw_os_error(),
            Error::TargetExited { .. } => Some(libc::ESRCH),
            Error::TooLarge { .. } => Some(libc::E2BIG),
            Error::NotNamespace { .. } | Error::WrongKind { .. } | Error::NotProvided { .. } => {
                Some(libc::EINVAL)
            }
            Error::KindUnsupported(_) => Some(libc::ENOSYS),
            Error::NeedsOtherApi { .. } => Some(libc::EINVAL),
            Error::PidInode { .. } => Some(libc::ESRCH),
            Error::UnknownKind(_) | Error::BadPid { .. } | Error::NeedsProcess { .. } => None,
            #[cfg(feature = "containers")]
            Error::Container { .. } => None,
        }
    }

    /// Whether this error says that the target process no longer exists, however
    /// the timing fell: gone before the call ([`Error::Open`] of `/proc/PID` with
    /// ESRCH), exited while it was being opened or later ([`Error::TargetExited`]).
    pub fn is_target_gone(&self) -> bool {
        match self {
            Error::TargetExited { .. } => true,
            Error::Open { source, .. } | Error::Sys { source, .. } => {
                source.raw_os_error() == Some(libc::ESRCH)
            }
            _ => false,
        }
    }

    /// Why a container target failed, if this is about one.
    #[cfg(feature = "containers")]
    pub fn container_error(&self) -> Option<&ContainerError> {
        match self {
            Error::Container { why, .. } => Some(why),
            _ => None,
        }
    }

    pub(crate) fn open(path: impl Into<PathBuf>, source: impl Into<io::Error>) -> Error {
        Error::Open {
            path: path.into(),
            source: source.into(),
        }
    }

    pub(crate) fn sys(what: impl Into<String>, source: impl Into<io::Error>) -> Error {
        Error::Sys {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// Parsing lives here, above [`Kind`], so that `kind` needs nothing of `error`.
impl FromStr for Kind {
    type Err = Error;

    /// Parses a kind name as util-linux and the original Python package spell them:
    /// `cgroup ipc mnt mount net pid time user uts`.
    fn from_str(s: &str) -> Result<Kind, Error> {
        Kind::from_name(s).ok_or_else(|| Error::UnknownKind(s.to_owned()))
    }
}

impl FromStr for KindSet {
    type Err = Error;

    /// Parses a comma-separated list of kind names; `all` means every supported kind.
    fn from_str(s: &str) -> Result<KindSet, Error> {
        if s == "all" {
            return Ok(KindSet::supported());
        }
        s.split(',').map(str::parse).collect()
    }
}

/// An OS error as util-linux prints it: `No such process`, without Rust's
/// ` (os error 3)` suffix. Every message of the library, the commands and the
/// Python package is written with it.
pub fn os_text(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(n) => text
            .strip_suffix(&format!(" (os error {n})"))
            .map(str::to_owned)
            .unwrap_or(text),
        None => text,
    }
}

/// `size` bytes as the messages say it: `16 MiB`.
#[cfg(feature = "containers")]
pub(crate) fn mib(size: usize) -> String {
    format!("{} MiB", size >> 20)
}

/// `text` on one line, without control characters (an engine's message must not
/// move the cursor or colour the user's terminal), and not endless.
#[cfg(feature = "containers")]
pub(crate) fn one_line(text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect();
    if text.chars().count() > 500 {
        line.push('…');
    }
    line.trim().to_owned()
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
