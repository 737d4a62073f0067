//! The kinds of [`ContainerError`], for callers that branch on them.

use std::fmt;
use std::io;

use super::{ContainerError, PERMISSION_DENIED};

/// The kind of a [`ContainerError`], for callers that branch on it (and the
/// Python package's `reason` attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The spec or a setting is malformed.
    BadSpec,
    /// The engine does not know the container.
    NotFound,
    /// The container is not running.
    NotRunning,
    /// An ID prefix matches several containers.
    Ambiguous,
    /// The engine cannot be reached.
    Unreachable,
    /// The engine's socket or the engine refused for lack of permission.
    PermissionDenied,
    /// The engine, its address or the container's runtime is not one nsjoin can use.
    Unsupported,
    /// The engine did not answer in time.
    TimedOut,
    /// The engine's answer is not usable (garbage, too large, no valid PID, a
    /// process that is not the container's).
    BadAnswer,
    /// The engine answered with an error of its own.
    EngineError,
    /// Anything else.
    Other,
}

impl Reason {
    /// The name, in snake case: `not_found`, `timed_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadSpec => "bad_spec",
            Reason::NotFound => "not_found",
            Reason::NotRunning => "not_running",
            Reason::Ambiguous => "ambiguous",
            Reason::Unreachable => "unreachable",
            Reason::PermissionDenied => "permission_denied",
            Reason::Unsupported => "unsupported",
            Reason::TimedOut => "timed_out",
            Reason::BadAnswer => "bad_answer",
            Reason::EngineError => "engine_error",
            Reason::Other => "other",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ContainerError {
    /// What kind of failure this is.
    pub fn reason(&self) -> Reason {
        use ContainerError as E;
        match self {
            E::BadSpec { .. } | E::BadTimeout { .. } | E::BadBusAddress { .. } => Reason::BadSpec,
            E::NotFound { .. } | E::NoPod { .. } | E::NoPodContainer { .. } => Reason::NotFound,
            E::NotRunning { .. }
            | E::Stopped
            | E::PodNotRunning { .. }
            | E::NoRunningContainer { .. } => Reason::NotRunning,
            E::Ambiguous { .. } | E::PodContainers { .. } | E::PodSandboxes { .. } => {
                Reason::Ambiguous
            }
            E::InPod { source, .. } => source.reason(),
            E::Unreachable { .. } | E::NoSocket { .. } | E::NoBus { .. } | E::NoMachined => {
                Reason::Unreachable
            }
            E::PermissionDenied { .. } => Reason::PermissionDenied,
            E::Status { code, .. } if *code == PERMISSION_DENIED => Reason::PermissionDenied,
            E::MonitorRefused { source } if source.kind() == io::ErrorKind::PermissionDenied => {
                Reason::PermissionDenied
            }
            E::UnsupportedAddress { .. } | E::Unsupported { .. } | E::NoCriApi { .. } => {
                Reason::Unsupported
            }
            E::TimedOut { .. } => Reason::TimedOut,
            E::TooLarge { .. }
            | E::BadAnswer { .. }
            | E::NoValidPid { .. }
            | E::PidNotHere { .. }
            | E::InitChanged { .. }
            | E::NotInCgroup { .. } => Reason::BadAnswer,
            E::Refused { .. }
            | E::Status { .. }
            | E::DbusError { .. }
            | E::MonitorRefused { .. } => Reason::EngineError,
            E::Io { .. } | E::Other { .. } => Reason::Other,
        }
    }
}
