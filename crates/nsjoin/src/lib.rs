//! Enter the Linux namespaces of a running process, and come back.
//!
//! The data path, one module a step:
//!
//! ```text
//! Target ──open──▶ Handles ──plan──▶ Plan ──▶ Guard    (this thread, restored on drop)
//!                                         ──▶ run_in   (a closure on a thread of its own)
//!                                         ──▶ Spawn    (a program inside; forks for pid)
//! ```
//!
//! * [`Target`] names what to enter: a PID, a pidfd, a namespace file or an fd.
//! * [`Target::open`] opens one O_CLOEXEC fd per [`Kind`] into [`Handles`], safely
//!   against PID reuse.
//! * [`Handles::enter`] returns a [`Guard`] that restores the calling thread on drop;
//!   [`Handles::run`]/[`run_in`] run a closure on a dedicated thread;
//!   [`Spawn`] starts a program inside (the only one of the three that can enter user
//!   and time namespaces, which the kernel reserves for single-threaded processes).
//!
//! ```
//! use nsjoin::{Kind, KindSet, NsId, Target};
//! # if rustix::process::geteuid().as_raw() != 0 { return; } // entering needs CAP_SYS_ADMIN
//!
//! // Any process will do; here, our own.
//! let target = Target::pid(std::process::id() as i32);
//! let uts = nsjoin::run_in(&target, KindSet::from(Kind::Uts), || {
//!     NsId::current(Kind::Uts).unwrap()
//! })
//! .unwrap();
//! assert_eq!(uts, NsId::current(Kind::Uts).unwrap());
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod cgroup;
mod confine;
#[cfg(feature = "containers")]
pub mod container;
mod error;
/// Entry points for the fuzz targets; not a stable API.
#[doc(hidden)]
#[cfg(feature = "scan")]
pub mod fuzz;
mod guard;
mod handles;
pub mod host_tools;
mod kind;
mod namespace;
mod netns;
#[cfg(feature = "scan")]
pub mod os;
#[cfg(feature = "scan")]
pub mod scan;
/// The discovery module under its earlier name.
#[cfg(feature = "scan")]
pub use scan as list;
mod plan;
mod procfs;
mod run;
mod spawn;
#[allow(unsafe_code)]
mod sys;
mod target;
mod terminal;

pub use error::{os_text, Error, Result};
pub use guard::{enter, forget_thread_home, unshare_thread_fs, EnteredBy, Guard, Home};
pub use handles::Handles;
pub use kind::{Kind, KindMap, KindSet};
pub use namespace::{Namespace, NsId};
pub use netns::{IpNetns, NETNS_ETC_DIR, NETNS_RUN_DIR};
pub use plan::Plan;
pub use procfs::{Source, FORCE_PROC_ENV};
pub use run::run_in;
#[cfg(feature = "scan")]
pub use scan::{
    CgroupPaths, ContainerId, ContainerResolver, EngineConfirmed, FdRef, Listing, NetnsId, NsInfo,
    ProcInfo, Scan,
};
pub use spawn::{login_shell, Child, Dir, Id, Spawn, SpawnOptions, ENVIRON_LIMIT};
pub use target::Target;

/// The README's examples, compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}
