//! Stand-in engines and what the engine tests share: sockets that never accept,
//! trickle or pour, and a Docker Engine API ([`sockets`], which the command's
//! tests include alone); gRPC servers and a client ([`grpc`]), the protobuf
//! messages of containerd and the CRI ([`pb`]), and a real private containerd
//! with its CRI plugin ([`containerd`]).
#![allow(dead_code)]

pub mod containerd;
pub mod grpc;
pub mod pb;
mod sockets;

pub use sockets::*;

use nsjoin::container::{self, ContainerRef, Settings};
use nsjoin::{Kind, KindSet, Target};

/// The settings a test resolves containers with (never the process's
/// environment, which every test shares), and the calls it makes with them.
pub struct Engines(pub Settings);

impl Engines {
    /// The engines' defaults.
    pub fn defaults() -> Engines {
        Engines(Settings::default())
    }

    /// The settings nsjoin would read from an environment holding just `vars`
    /// (`("CONTAINERD_ADDRESS", "/run/x.sock")`).
    pub fn with(vars: &[(&str, &str)]) -> Engines {
        let settings = Settings::from_lookup(|name| {
            vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into())
        });
        Engines(settings.unwrap())
    }

    pub fn resolve(&self, spec: &str) -> nsjoin::Result<container::Container> {
        container::resolve_with(&spec.parse::<ContainerRef>()?, &self.0)
    }

    /// The error resolving `spec` ends in, which must be one line.
    pub fn error_of(&self, spec: &str) -> String {
        let e = self.resolve(spec).expect_err(spec).to_string();
        assert!(!e.contains('\n'), "not one line: {e}");
        e
    }

    /// The namespaces the target opens as are those of `pid`.
    pub fn assert_opens_as(&self, spec: &str, pid: i32) {
        let kinds = KindSet::from_iter([Kind::Net, Kind::Uts, Kind::Ipc, Kind::Pid, Kind::Mnt]);
        let handles = Target::container(spec)
            .unwrap()
            .open_with(kinds, &self.0)
            .unwrap();
        assert_eq!(handles.pid(), Some(pid), "{spec}");
        for ns in handles.iter() {
            assert_eq!(
                ns.id().ino,
                crate::common::ns_ino(pid, ns.kind().name()),
                "{spec}: {}",
                ns.kind().name()
            );
        }
        assert_eq!(handles.kinds(), kinds);
        assert_eq!(handles.container().map(|c| c.pid), Some(pid));
    }
}
