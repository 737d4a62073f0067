use nsjoin_test_support as common;

// Discovery (`nsjoin::Scan`) against namespaces these tests make: sandboxes in fresh
// namespaces, a user namespace, `ip netns add` files, and namespaces that only an
// fd or a socket of this process keeps alive.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{wait_gone, NetnsFile, Sandbox};
use nsjoin::container::Engine;
use nsjoin::{ContainerId, ContainerResolver, Kind, KindSet, Scan, Target};

/// The unshare process that holds a sandbox (the sandboxed process's parent).
fn holder_of(sandbox: &Sandbox) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", sandbox.pid)).unwrap();
    // `PID (COMM) STATE PPID ...`: COMM may hold anything; the last ')' ends it.
    let after_comm = &stat[stat.rfind(')').expect("sandbox has a parent") + 1..];
    after_comm
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn scan_counts_a_sandboxs_processes_and_lowest_pid() {
    let Some(_g) = common::root_shared("scan_counts_a_sandboxs_processes_and_lowest_pid") else {
        return;
    };
    let sandbox = Sandbox::new();
    let holder = holder_of(&sandbox);
    let listing = Scan::new().run().unwrap();
    for kind in [Kind::Uts, Kind::Net, Kind::Ipc, Kind::Mnt, Kind::Cgroup] {
        let ns = listing.get(sandbox.ns_ino(kind.name())).unwrap();
        assert_eq!(ns.kind, kind);
        // unshare itself and the sandboxed process.
        assert_eq!(
            (ns.nprocs, ns.pid),
            (2, Some(holder.min(sandbox.pid))),
            "{kind}"
        );
        let members: Vec<i32> = listing.members(ns).map(|p| p.pid).collect();
        assert_eq!(members, [holder.min(sandbox.pid), holder.max(sandbox.pid)]);
        assert_eq!(
            ns.path().unwrap(),
            std::path::PathBuf::from(format!("/proc/{}/ns/{kind}", ns.pid.unwrap()))
        );
        assert!(!ns.only_related());
    }
    // The pid namespace holds only the forked child.
    let pid_ns = listing.get(sandbox.ns_ino("pid")).unwrap();
    assert_eq!((pid_ns.nprocs, pid_ns.pid), (1, Some(sandbox.pid)));
    assert_eq!(
        pid_ns.parent,
        Some(common::ns_ino(std::process::id() as i32, "pid"))
    );
    let net = listing.get(sandbox.ns_ino("net")).unwrap();
    assert!(
        net.netnsid.is_some(),
        "a NETNSID (or 'unassigned') for {net:?}"
    );
    // The listing is plain data.
    let json = serde_json::to_value(net).unwrap();
    assert_eq!(json["type"], "net");
    assert_eq!(json["nprocs"], 2);
}

#[test]
fn scan_of_some_kinds_lists_only_those() {
    let Some(_g) = common::root_shared("scan_of_some_kinds_lists_only_those") else {
        return;
    };
    let sandbox = Sandbox::new();
    let listing = Scan::new()
        .kinds(KindSet::from([Kind::Net, Kind::Pid]))
        .run()
        .unwrap();
    assert!(listing
        .namespaces
        .iter()
        .all(|ns| matches!(ns.kind, Kind::Net | Kind::Pid)));
    assert!(listing.get(sandbox.ns_ino("net")).is_some());
    assert!(listing.get(sandbox.ns_ino("uts")).is_none());
    let me = listing.process(sandbox.pid).unwrap();
    assert_eq!(me.ns(Kind::Uts), None);
    assert_eq!(me.ns(Kind::Net), Some(sandbox.ns_ino("net")));
}

#[test]
fn user_namespace_owns_the_sandbox_and_has_a_parent() {
    let Some(_g) = common::root_shared("user_namespace_owns_the_sandbox_and_has_a_parent") else {
        return;
    };
    let sandbox = Sandbox::with_user();
    let listing = Scan::new().run().unwrap();
    let user = listing.get(sandbox.ns_ino("user")).unwrap();
    let host_user = common::ns_ino(std::process::id() as i32, "user");
    assert_eq!(user.kind, Kind::User);
    assert_eq!(user.parent, Some(host_user));
    assert_eq!(
        user.owner,
        Some(host_user),
        "a user namespace's owner is its parent"
    );
    assert_eq!(user.owner_uid, Some(0));
    for kind in ["net", "uts", "ipc", "mnt", "pid"] {
        let ns = listing.get(sandbox.ns_ino(kind)).unwrap();
        assert_eq!(ns.owner, Some(user.ino), "{kind}");
    }
    assert_eq!(listing.get(host_user).unwrap().owner, None);
}

#[test]
fn bind_mounted_netns_without_processes_is_listed_with_its_mount() {
    let Some(_g) =
        common::root_shared("bind_mounted_netns_without_processes_is_listed_with_its_mount")
    else {
        return;
    };
    let netns = NetnsFile::new();
    let ino = std::fs::metadata(&netns.path).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.ino()
    });
    let listing = Scan::new().run().unwrap();
    let ns = listing.get(ino.unwrap()).unwrap();
    assert_eq!((ns.kind, ns.nprocs, ns.pid), (Kind::Net, 0, None));
    assert_eq!(ns.mounts, std::slice::from_ref(&netns.path));
    assert_eq!(ns.path().as_deref(), Some(netns.path.as_path()));
    assert!(ns.netnsid.is_some());
    assert!(!ns.only_related());
    // Without mounts, nothing holds it that a scan can see.
    let without = Scan::new().mounts(false).fds(false).run().unwrap();
    assert!(without.get(ns.ino).is_none());
}

#[test]
fn namespaces_held_only_by_an_fd_and_their_owner_are_listed() {
    let Some(_g) = common::root_shared("namespaces_held_only_by_an_fd_and_their_owner_are_listed")
    else {
        return;
    };
    let sandbox = Sandbox::with_user();
    let (uts_ino, user_ino) = (sandbox.ns_ino("uts"), sandbox.ns_ino("user"));
    let uts = std::fs::File::open(format!("/proc/{}/ns/uts", sandbox.pid)).unwrap();
    let pids = [holder_of(&sandbox), sandbox.pid];
    drop(sandbox);
    pids.into_iter().for_each(wait_gone);

    let listing = Scan::new().run().unwrap();
    let ns = listing
        .get(uts_ino)
        .expect("the fd keeps the uts namespace");
    let me = std::process::id() as i32;
    assert_eq!((ns.kind, ns.nprocs, ns.pid), (Kind::Uts, 0, None));
    let fd = ns.fd.expect("held by an fd");
    assert_eq!(listing.get(uts_ino).unwrap().owner, Some(user_ino));
    // Our fd, or an fd another test of this process opened on it meanwhile.
    assert_eq!(fd.pid, me);
    assert_eq!(
        ns.path().unwrap(),
        std::path::PathBuf::from(format!("/proc/{me}/fd/{}", fd.fd))
    );
    // The path opens the same namespace (what `nsjoin --uts=PATH` does).
    let reopened = nsjoin::Namespace::open(ns.path().unwrap()).unwrap();
    assert_eq!(reopened.id().ino, uts_ino);
    // Its owner is held by nothing but that reference.
    let owner = listing.get(user_ino).expect("the owner is listed");
    assert!(owner.only_related(), "{owner:?}");
    assert_eq!(owner.owner_uid, Some(0));
    drop(uts);
}

#[test]
fn network_namespace_held_only_by_a_socket_is_listed() {
    let Some(_g) = common::root_shared("network_namespace_held_only_by_a_socket_is_listed") else {
        return;
    };
    let sandbox = Sandbox::new();
    let net_ino = sandbox.ns_ino("net");
    let sock = nsjoin::run_in(&Target::pid(sandbox.pid), Kind::Net.into(), || {
        UnixDatagram::unbound()
    })
    .unwrap()
    .unwrap();
    let pids = [holder_of(&sandbox), sandbox.pid];
    drop(sandbox);
    pids.into_iter().for_each(wait_gone);

    let listing = Scan::new().run().unwrap();
    let ns = listing
        .get(net_ino)
        .expect("the socket keeps the network namespace");
    // (`fd` may be set too: a scan running concurrently in another test of this
    // process holds an fd on it for a moment.)
    assert_eq!((ns.kind, ns.nprocs, ns.pid), (Kind::Net, 0, None));
    let socket = ns.socket.expect("held by a socket");
    assert_eq!(socket.pid, std::process::id() as i32);
    assert_eq!(socket.fd, sock.as_raw_fd());
    if ns.fd.is_none() {
        assert_eq!(ns.path(), None, "enter it with nsjoin -t PID -N FD");
    }
    let with_kinds = Scan::new().kinds(KindSet::from(Kind::Uts)).run().unwrap();
    assert!(with_kinds.get(net_ino).is_none());
    drop(sock);
}

#[test]
fn processes_that_vanish_mid_scan_are_skipped() {
    let Some(_g) = common::root_shared("processes_that_vanish_mid_scan_are_skipped") else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 2000 {
                let _ = std::process::Command::new("true").status();
                n += 1;
            }
            n
        })
    };
    for _ in 0..20 {
        let listing = Scan::new().threads(2).run().unwrap();
        assert!(listing.process(std::process::id() as i32).is_some());
    }
    stop.store(true, Ordering::Relaxed);
    assert!(churn.join().unwrap() > 0);
}

/// A resolver standing in for an engine lookup.
struct Fixed(i32);

impl ContainerResolver for Fixed {
    fn resolve(&self, pid: i32, _cgroup: &str) -> Option<ContainerId> {
        (pid == self.0).then(|| ContainerId {
            engine: Engine::Docker,
            id: "c0ffee".repeat(10) + "c0ff",
            name: Some("redis".into()),
            confirmed: true,
        })
    }
}

#[test]
fn container_resolvers_plug_into_the_scan() {
    let Some(_g) = common::root_shared("container_resolvers_plug_into_the_scan") else {
        return;
    };
    let sandbox = Sandbox::new();
    let holder = holder_of(&sandbox);
    let listing = Scan::new()
        .containers(Some(Arc::new(Fixed(holder))))
        .run()
        .unwrap();
    let uts = listing.get(sandbox.ns_ino("uts")).unwrap();
    let c = uts.container.as_ref().unwrap();
    assert_eq!(c.to_string(), "docker://redis");
    // The pid namespace's lowest PID is the sandboxed process, not the holder.
    assert!(listing
        .get(sandbox.ns_ino("pid"))
        .unwrap()
        .container
        .is_none());
    let none = Scan::new().containers(None).run().unwrap();
    assert!(none.namespaces.iter().all(|ns| ns.container.is_none()));
}
