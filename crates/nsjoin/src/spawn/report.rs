//! The report pipe: what the child says to the parent between fork and exec. The
//! child writes fixed-size [`Message`]s (no allocation); the parent reads them into
//! a [`Report`] once the child has exec'd or failed.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;

use crate::netns::NetnsStep;
use crate::{Error, Kind};

/// What the child was doing when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Cgroup,
    Enter(Kind),
    Root,
    Cwd,
    Fork,
    Groups,
    Gid,
    Uid,
    Caps,
    DeathSignal,
    Confine(crate::confine::Step),
    Netns(NetnsStep),
    HostTools(crate::host_tools::ChildStep),
    Terminal,
}

/// One message from the child on the report pipe. Each is a fixed 12 bytes written
/// with one write(2) (atomic: under PIPE_BUF), encoded and decoded here only, with
/// no allocation on the child's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Message {
    /// The program was forked into the target's pid namespace with this PID (as
    /// the caller sees it).
    ProgramPid(i32),
    /// A step failed with this errno; nothing after it ran.
    Failed { step: Step, errno: i32 },
}

impl Message {
    const SIZE: usize = 12;

    /// `[tag, detail, value]` as three native-endian 32-bit words.
    pub(super) fn encode(self) -> [u8; Message::SIZE] {
        let (tag, detail, value): (u32, u32, i32) = match self {
            Message::ProgramPid(pid) => (0, 0, pid),
            Message::Failed { step, errno } => {
                let (tag, detail) = match step {
                    Step::Cgroup => (1, 0),
                    Step::Enter(kind) => (2, kind as u32),
                    Step::Root => (3, 0),
                    Step::Cwd => (4, 0),
                    Step::Fork => (5, 0),
                    Step::Groups => (6, 0),
                    Step::Gid => (7, 0),
                    Step::Uid => (8, 0),
                    Step::Caps => (9, 0),
                    Step::DeathSignal => (10, 0),
                    Step::Confine(step) => (11, step as u32),
                    Step::Netns(step) => (12, step as u32),
                    Step::HostTools(step) => (13, step as u32),
                    Step::Terminal => (14, 0),
                };
                (tag, detail, errno)
            }
        };
        let mut out = [0u8; Message::SIZE];
        out[..4].copy_from_slice(&tag.to_ne_bytes());
        out[4..8].copy_from_slice(&detail.to_ne_bytes());
        out[8..].copy_from_slice(&value.to_ne_bytes());
        out
    }

    pub(super) fn decode(msg: &[u8]) -> Option<Message> {
        let word = |i: usize| Some(u32::from_ne_bytes(msg.get(i..i + 4)?.try_into().ok()?));
        let (tag, detail, value) = (word(0)?, word(4)?, word(8)? as i32);
        let step = match tag {
            0 => return Some(Message::ProgramPid(value)),
            1 => Step::Cgroup,
            2 => Step::Enter(*Kind::ALL.get(detail as usize)?),
            3 => Step::Root,
            4 => Step::Cwd,
            5 => Step::Fork,
            6 => Step::Groups,
            7 => Step::Gid,
            8 => Step::Uid,
            9 => Step::Caps,
            10 => Step::DeathSignal,
            11 => Step::Confine(crate::confine::Step::from_u32(detail)?),
            12 => Step::Netns(NetnsStep::from_code(detail)?),
            13 => Step::HostTools(*crate::host_tools::ChildStep::ALL.get(detail as usize)?),
            14 => Step::Terminal,
            _ => return None,
        };
        Some(Message::Failed { step, errno: value })
    }
}

/// What the child said on the report pipe.
#[derive(Default)]
pub(super) struct Report {
    pub(super) program_pid: Option<i32>,
    /// The first failure (there is at most one: the child stops at it).
    failure: Option<(Step, i32)>,
}

impl Report {
    pub(super) fn read(fd: OwnedFd) -> Report {
        let mut data = Vec::new();
        let _ = File::from(fd).read_to_end(&mut data);
        let mut report = Report::default();
        for msg in data.chunks_exact(Message::SIZE).filter_map(Message::decode) {
            match msg {
                Message::ProgramPid(pid) => report.program_pid = Some(pid),
                Message::Failed { step, errno } => {
                    report.failure.get_or_insert((step, errno));
                }
            }
        }
        report
    }

    pub(super) fn error(&self) -> Option<Error> {
        let (step, errno) = self.failure?;
        let source = io::Error::from_raw_os_error(errno);
        let what = match step {
            Step::Enter(kind) => return Some(Error::Enter { kind, source }),
            Step::Cgroup => "cannot join the target's cgroup",
            Step::Root => "cannot change root directory",
            Step::Cwd => "cannot change directory",
            // What fork(2) says when the pid namespace's init has exited.
            Step::Fork if errno == libc::ENOMEM => {
                "cannot fork into the target's pid namespace (its init process has exited)"
            }
            Step::Fork => "cannot fork",
            Step::Groups => "setgroups failed",
            Step::Gid => "setgid failed",
            Step::Uid => "setuid failed",
            Step::DeathSignal => "cannot set the parent-death signal",
            Step::Caps => "cannot keep capabilities",
            Step::Confine(step) => {
                return Some(Error::sys(
                    format!("cannot apply the target's {}", step.what()),
                    source,
                ))
            }
            Step::Netns(step) => step.what(),
            Step::HostTools(step) => step.message(),
            Step::Terminal => "cannot make the terminal the program's controlling terminal",
        };
        Some(Error::sys(what, source))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_report_message_comes_back_as_it_was_sent() {
        use super::{Message, Step};
        use crate::Kind;
        let mut all = vec![Message::ProgramPid(4242), Message::ProgramPid(-1)];
        let steps = [
            Step::Cgroup,
            Step::Root,
            Step::Cwd,
            Step::Fork,
            Step::Groups,
            Step::Gid,
            Step::Uid,
            Step::Caps,
            Step::DeathSignal,
            Step::Confine(crate::confine::Step::Seccomp),
            Step::Confine(crate::confine::Step::Rlimit),
            Step::Netns(crate::netns::NetnsStep::Unshare),
            Step::Netns(crate::netns::NetnsStep::Slave),
            Step::Netns(crate::netns::NetnsStep::Sysfs),
            Step::Terminal,
        ];
        let enter = Kind::ALL.map(Step::Enter);
        let host = crate::host_tools::ChildStep::ALL.map(Step::HostTools);
        for step in steps.into_iter().chain(enter).chain(host) {
            all.push(Message::Failed { step, errno: 13 });
        }
        for msg in all {
            assert_eq!(Message::decode(&msg.encode()), Some(msg));
        }
        // A short or unknown message is no message.
        assert_eq!(Message::decode(&[0; 8]), None);
        let mut unknown = Message::ProgramPid(1).encode();
        unknown[0] = 99;
        assert_eq!(Message::decode(&unknown), None);
    }
}
