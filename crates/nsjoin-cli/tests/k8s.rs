//! `nsjoin -t k8s://NAMESPACE/POD[/CONTAINER]`: pods made through the CRI of a
//! private containerd (see `crates/nsjoin/tests/k8s_node/`), entered by name from
//! the command line, as someone on a node would.

use nsjoin_test_support as common;
#[path = "../../nsjoin/tests/k8s_node/mod.rs"]
mod k8s_node;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};

use k8s_node::Node;

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

fn nsjoin(node: &Node, args: &[&str]) -> Output {
    Command::new(NSJOIN)
        .args(args)
        .env("CONTAINER_RUNTIME_ENDPOINT", node.endpoint())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run nsjoin")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{out:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The interface names in `ip -o link` output (`2: eth0@if7: <...> ...`).
fn link_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap().to_owned())
        .collect()
}

#[test]
fn a_pod_by_name_from_the_command_line() {
    let Some(mut node) = Node::start_or_skip("a_pod_by_name_from_the_command_line") else {
        return;
    };
    node.run_pod(
        "default",
        "web",
        "web-pod",
        &[("app", &["sleep", "100001"])],
    );

    // The check CI makes: the pod's interfaces, through the host's ip.
    let links = stdout(&nsjoin(
        &node,
        &["-t", "k8s://default/web", "-n", "ip", "-o", "link"],
    ));
    assert_eq!(
        link_names(&links),
        BTreeSet::from(["lo".to_owned(), "eth0".to_owned()]),
        "{links}"
    );
    // ...which are not the host's: the host has the pod's bridge.
    let host = Command::new("ip").args(["-o", "link"]).output().unwrap();
    assert!(link_names(&String::from_utf8_lossy(&host.stdout))
        .iter()
        .any(|l| l.starts_with("nsjk8s")));
    // The pod sandbox has the same network.
    let sandbox = stdout(&nsjoin(
        &node,
        &["-t", "k8s://default/web/", "-n", "ip", "-o", "link"],
    ));
    assert_eq!(link_names(&sandbox), link_names(&links));

    // Its hostname, and its processes (the container's own pid namespace and
    // mounts: its busybox ps and its /proc).
    let hostname = stdout(&nsjoin(&node, &["-t", "k8s://web", "-u", "hostname"]));
    assert_eq!(hostname.trim(), "web-pod");
    let ps = stdout(&nsjoin(
        &node,
        &["-t", "k8s://default/web/app", "-a", "ps", "-o", "pid,args"],
    ));
    let procs: Vec<String> = ps
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        procs.first().map(String::as_str),
        Some("1 sleep 100001"),
        "{ps}"
    );
    assert_eq!(procs.len(), 2, "sleep and ps only: {ps}");
    assert!(procs[1].ends_with("ps -o pid,args"), "{ps}");

    // A pod that is not there: one line, exit 1.
    let out = nsjoin(&node, &["-t", "k8s://default/nope", "-n", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "nsjoin: k8s://default/nope: no pod nope in namespace default (asked the CRI runtime at {})",
            node.socket().display()
        )
    );
}

/// `nsls -c` on the node names each container of a pod as `k8s://NS/POD/CONTAINER`
/// and its sandbox as `k8s://NS/POD/` (from the labels of the runtime's one
/// container list and one sandbox list), and each of those enters the pod.
#[test]
fn nsls_names_pods_as_k8s_targets() {
    let Some(mut node) = Node::start_or_skip("nsls_names_pods_as_k8s_targets") else {
        return;
    };
    let pod = node.run_kubelet_pod(
        "shop",
        "cart",
        "cart-pod",
        &[
            ("app", &["sleep", "100002"]),
            ("side", &["sleep", "100003"]),
        ],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_nsls"))
        .args(["-J", "-o", "NS,PID,CONTAINER", "-t", "pid"])
        .env("CONTAINER_RUNTIME_ENDPOINT", node.endpoint())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let named: BTreeSet<String> = json["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["container"].as_str())
        .filter(|c| c.starts_with("k8s://shop/cart/"))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        named,
        BTreeSet::from([
            "k8s://shop/cart/".to_owned(),
            "k8s://shop/cart/app".to_owned(),
            "k8s://shop/cart/side".to_owned(),
        ]),
        "{json}"
    );
    assert_eq!(pod.containers.len(), 2);
    for target in &named {
        let hostname = stdout(&nsjoin(&node, &["-t", target, "-u", "hostname"]));
        assert_eq!(hostname.trim(), "cart-pod", "{target}");
    }
}

/// The image scripts/image.sh builds.
const IMAGE: &str = concat!("nsjoin:", env!("CARGO_PKG_VERSION"));

fn docker() -> Command {
    let bin = if std::path::Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    };
    Command::new(bin)
}

/// `docker run` of the image the way `kubectl debug node/NODE --profile=sysadmin`
/// runs its pod: host pid namespace, privileged, the node's root at /host.
/// "Privileged" as far as this machine allows: `--privileged` asks for every
/// capability, and the machine's own bounding set lacks CAP_SYS_RESOURCE, so runc
/// fails with "unable to apply caps"; every other capability, and no seccomp,
/// AppArmor or masked /proc paths, is what it gives.
fn debug_pod(host_root: &std::path::Path, env: &[&str], args: &[&str]) -> Output {
    let mut cmd = docker();
    cmd.args([
        "run",
        "--rm",
        "--pid=host",
        "--cap-add=ALL",
        "--cap-drop=SYS_RESOURCE",
    ])
    .args(["--security-opt", "seccomp=unconfined"])
    .args(["--security-opt", "apparmor=unconfined"])
    .args(["--security-opt", "systempaths=unconfined", "-v"])
    .arg(format!("{}:/host", host_root.display()));
    for e in env {
        cmd.args(["-e", e]);
    }
    cmd.arg(IMAGE)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run docker")
}

#[test]
fn the_image_enters_a_pod_as_the_debug_pod_of_kubectl_debug_node() {
    let test = "the_image_enters_a_pod_as_the_debug_pod_of_kubectl_debug_node";
    if !common::root_or_skip(test) {
        return;
    }
    let has_image = docker()
        .args(["image", "inspect", IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_image {
        if std::env::var("NSJOIN_REQUIRE_IMAGE").as_deref() == Ok("1") {
            panic!("{test} needs the image {IMAGE} (scripts/image.sh) and NSJOIN_REQUIRE_IMAGE=1 is set");
        }
        eprintln!("skipped {test}: needs the image {IMAGE} (run scripts/image.sh)");
        return;
    }
    let Some(mut node) = Node::start_or_skip(test) else {
        return;
    };
    node.run_pod(
        "default",
        "web",
        "web-pod",
        &[("app", &["sleep", "100001"])],
    );

    // A node's root as the debug pod sees it, with the runtime's socket where
    // containerd puts it: a hard link to the private containerd's socket (this
    // machine's /run/containerd has none, and a test must not make one there).
    let root = common::TempDir::new("node-root");
    std::fs::create_dir_all(root.path().join("run/containerd")).unwrap();
    std::fs::hard_link(
        node.socket(),
        root.path().join("run/containerd/containerd.sock"),
    )
    .unwrap();

    // No socket given: nsjoin finds it under /host, and -v says so. The image has
    // no programs of its own; -a runs the container's.
    let out = debug_pod(
        root.path(),
        &[],
        &["nsjoin", "-v", "-t", "k8s://default/web", "-a", "hostname"],
    );
    assert_eq!(stdout(&out).trim(), "web-pod");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("socket=/host/run/containerd/containerd.sock"),
        "{err}"
    );
    let out = debug_pod(
        root.path(),
        &[],
        &[
            "nsjoin",
            "-t",
            "k8s://default/web",
            "-a",
            "ip",
            "-o",
            "link",
        ],
    );
    assert_eq!(
        link_names(&stdout(&out)),
        BTreeSet::from(["lo".to_owned(), "eth0".to_owned()])
    );

    // With the whole of this machine at /host (as a node's), its own tools run in
    // the pod's network through -r/host. The socket is named here: it is in a
    // temporary directory, not where a node has it.
    let endpoint = format!(
        "CONTAINER_RUNTIME_ENDPOINT=unix:///host{}",
        node.socket().display()
    );
    let out = debug_pod(
        std::path::Path::new("/"),
        &[&endpoint],
        &[
            "nsjoin",
            "-t",
            "k8s://default/web",
            "-n",
            "-r/host",
            "ip",
            "-o",
            "link",
        ],
    );
    assert_eq!(
        link_names(&stdout(&out)),
        BTreeSet::from(["lo".to_owned(), "eth0".to_owned()])
    );
}
