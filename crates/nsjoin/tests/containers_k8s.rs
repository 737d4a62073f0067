//! `k8s://` targets: Kubernetes pods by namespace and name, against a real CRI
//! runtime (containerd's CRI plugin, private to the test; see `k8s_node/`), with
//! pods made through the CRI as the kubelet makes them. There is no kubelet or
//! API server here: what is proven is the node side, from the CRI down.
//!
//! The runtime is named by engine settings (what CONTAINER_RUNTIME_ENDPOINT sets),
//! not the environment, so the tests run side by side.

use nsjoin_test_support as common;
mod k8s_node;

use std::collections::BTreeSet;

use nsjoin::container::{self, ContainerRef, Reason, Settings};
use nsjoin::{Error, Kind, KindSet, Target};

use common::ns_ino;
use k8s_node::Node;

fn resolve(settings: &Settings, spec: &str) -> container::Container {
    container::resolve_with(&spec.parse::<ContainerRef>().unwrap(), settings)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The one-line message of the error resolving `spec`, and its reason.
fn error_of(settings: &Settings, spec: &str) -> (String, Reason) {
    let e =
        container::resolve_with(&spec.parse::<ContainerRef>().unwrap(), settings).expect_err(spec);
    let text = e.to_string();
    assert!(!text.contains('\n'), "not one line: {text}");
    assert!(text.starts_with("k8s://"), "names the target: {text}");
    let Error::Container { why, .. } = e else {
        panic!("not a container error: {text}");
    };
    (text, why.reason())
}

fn cmdline(pid: i32) -> String {
    String::from_utf8(std::fs::read(format!("/proc/{pid}/cmdline")).unwrap())
        .unwrap()
        .trim_end_matches('\0')
        .replace('\0', " ")
}

/// The hostname and network interfaces seen inside the target's uts and net
/// namespaces, entered by nsjoin on a thread of its own.
fn inside(settings: &Settings, spec: &str) -> (String, BTreeSet<String>) {
    let target = Target::parse(spec);
    assert!(matches!(target, Target::Container(_)), "{spec}");
    let kinds = KindSet::from_iter([Kind::Uts, Kind::Net]);
    let handles = target
        .open_with(kinds, settings)
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    handles
        .run(kinds, || {
            let dev = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
            let links = dev
                .lines()
                .skip(2)
                .filter_map(|l| l.split(':').next())
                .map(|l| l.trim().to_owned())
                .collect();
            (common::thread_hostname(), links)
        })
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// The namespaces nsjoin opens for `spec` are those of process `pid`.
fn assert_opens_as(settings: &Settings, spec: &str, pid: i32) {
    let kinds = KindSet::from_iter([Kind::Net, Kind::Uts, Kind::Ipc, Kind::Pid, Kind::Mnt]);
    let handles = Target::container(spec)
        .unwrap()
        .open_with(kinds, settings)
        .unwrap();
    assert_eq!(handles.pid(), Some(pid), "{spec}");
    for ns in handles.iter() {
        assert_eq!(ns.id().ino, ns_ino(pid, ns.kind().name()), "{spec}");
    }
}

#[test]
fn pods_by_name_against_a_live_cri_containerd() {
    let _shared = common::shared();
    let Some(mut node) = Node::start_or_skip("pods_by_name_against_a_live_cri_containerd") else {
        return;
    };
    let web = node.run_pod(
        "default",
        "web",
        "web-pod",
        &[("app", &["sleep", "100001"])],
    );
    let staging = node.run_pod(
        "staging",
        "web",
        "web-staging",
        &[("app", &["sleep", "100002"])],
    );
    let duo = node.run_pod(
        "default",
        "duo",
        "duo-pod",
        &[
            ("main", &["sleep", "100003"]),
            ("side", &["sleep", "100004"]),
        ],
    );
    let s = &node.settings();
    let socket = node.socket().display().to_string();

    // The namespace defaults to `default`; a pod with one container needs no name.
    let app = resolve(s, "k8s://web");
    assert_eq!(app.id, web.container("app"));
    assert_eq!(app.name, "app");
    assert_eq!(cmdline(app.pid), "sleep 100001");
    assert!(app.env.unwrap().iter().any(|(k, _)| k == "PATH"));
    for spec in ["k8s://default/web", "k8s://default/web/app"] {
        assert_eq!(resolve(s, spec).pid, app.pid, "{spec}");
    }
    assert_opens_as(s, "k8s://default/web", app.pid);

    // What the pod has: its hostname, its own network (lo and the bridge's veth,
    // not the host's interfaces) and, for the container, its own processes.
    let (hostname, links) = inside(s, "k8s://default/web");
    assert_eq!(hostname, "web-pod");
    assert_eq!(
        links,
        BTreeSet::from(["lo".to_owned(), "eth0".to_owned()]),
        "the pod's interfaces"
    );
    assert_ne!(ns_ino(app.pid, "net"), common::thread_ns_ino("net"));

    // The sandbox: the pause process, whose net, uts and ipc every container
    // shares, in a pid namespace of its own (the kubelet's default).
    let pause = resolve(s, "k8s://default/web/");
    assert_eq!(pause.id, web.sandbox);
    assert_eq!(cmdline(pause.pid), "sleep 1000000");
    for kind in ["net", "uts", "ipc"] {
        assert_eq!(ns_ino(pause.pid, kind), ns_ino(app.pid, kind), "{kind}");
    }
    assert_ne!(ns_ino(pause.pid, "pid"), ns_ino(app.pid, "pid"));
    assert_opens_as(s, "k8s://default/web/", pause.pid);
    assert_eq!(inside(s, "k8s://web/").0, "web-pod");

    // Two pods named web, in two namespaces.
    let other = resolve(s, "k8s://staging/web");
    assert_eq!(other.id, staging.container("app"));
    assert_eq!(cmdline(other.pid), "sleep 100002");
    assert_eq!(inside(s, "k8s://staging/web").0, "web-staging");
    assert_ne!(ns_ino(other.pid, "net"), ns_ino(app.pid, "net"));

    // A pod with two containers: each by name; both in the pod's network, each in
    // its own pid namespace; without a name, the error lists them.
    let main = resolve(s, "k8s://default/duo/main");
    let side = resolve(s, "k8s://default/duo/side");
    assert_eq!(
        (main.id.as_str(), side.id.as_str()),
        (duo.container("main"), duo.container("side"))
    );
    assert_eq!(cmdline(main.pid), "sleep 100003");
    assert_eq!(cmdline(side.pid), "sleep 100004");
    assert_eq!(ns_ino(main.pid, "net"), ns_ino(side.pid, "net"));
    assert_ne!(ns_ino(main.pid, "pid"), ns_ino(side.pid, "pid"));
    assert_eq!(inside(s, "k8s://default/duo/side").0, "duo-pod");
    assert_eq!(
        error_of(s, "k8s://default/duo"),
        (
            "k8s://default/duo: ambiguous: pod default/duo runs 2 containers, name one: \
             k8s://default/duo/main, k8s://default/duo/side"
                .to_owned(),
            Reason::Ambiguous
        )
    );
    assert_eq!(
        error_of(s, "k8s://default/duo/db"),
        (
            "k8s://default/duo/db: pod default/duo has no container db (its containers: main, side)"
                .to_owned(),
            Reason::NotFound
        )
    );

    // A stopped container: named, it says so; unnamed, the pod's only running
    // container is taken.
    node.stop_container(duo.container("side"));
    let (e, reason) = error_of(s, "k8s://default/duo/side");
    assert_eq!(reason, Reason::NotRunning);
    assert!(
        e.starts_with(
            "k8s://default/duo/side: container side: container is not running (state: exited, exit code 137"
        ),
        "{e}"
    );
    assert_eq!(resolve(s, "k8s://default/duo").pid, main.pid);

    // No such pod: the namespace searched and the runtime asked.
    assert_eq!(
        error_of(s, "k8s://default/nope"),
        (
            format!(
                "k8s://default/nope: no pod nope in namespace default (asked the CRI runtime at {socket})"
            ),
            Reason::NotFound
        )
    );
    assert_eq!(
        error_of(s, "k8s://kube-system/web").0,
        format!(
            "k8s://kube-system/web: no pod web in namespace kube-system (asked the CRI runtime at {socket})"
        )
    );

    // A stopped pod: its sandbox is kept, not ready.
    node.stop_pod(&staging.sandbox);
    for spec in ["k8s://staging/web", "k8s://staging/web/"] {
        assert_eq!(
            error_of(s, spec),
            (
                format!(
                    "{}: pod staging/web is not running (none of its 1 sandbox is ready)",
                    spec.parse::<ContainerRef>().unwrap()
                ),
                Reason::NotRunning
            )
        );
    }
    // The other pods are untouched.
    assert_eq!(resolve(s, "k8s://web").pid, app.pid);
}

#[test]
fn k8s_errors_without_a_runtime_are_one_line() {
    let _shared = common::shared();
    let mut s = Settings::default();
    s.cri_endpoint = Some("unix:///nonexistent/containerd.sock".into());
    assert_eq!(
        error_of(&s, "k8s://prod/web"),
        (
            "k8s://prod/web: cannot connect to /nonexistent/containerd.sock: No such file or \
             directory (is the runtime running?)"
                .to_owned(),
            Reason::Unreachable
        )
    );
    // Malformed specs are refused before any runtime is asked.
    for (spec, why) in [
        ("k8s://", "no pod name given"),
        ("k8s://a//b", "empty part"),
        ("k8s://a/b/c/d", "too many parts"),
        ("k8s://a/b/c/", "too many parts"),
        ("k8s://a b", "spaces or control characters"),
    ] {
        let e = spec.parse::<ContainerRef>().unwrap_err();
        assert!(
            matches!(&e, Error::Container { why, .. } if why.reason() == Reason::BadSpec),
            "{spec}: {e:?}"
        );
        assert!(e.to_string().contains(why), "{spec}: {e}");
    }
    // Target::parse takes the same spellings; a malformed one is a path, as before.
    assert!(matches!(
        Target::parse("k8s://prod/web/nginx"),
        Target::Container(_)
    ));
}
