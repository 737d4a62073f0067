//! The kubectl plugin, kubernetes/kubectl-nsjoin, against a stand-in `kubectl` on
//! PATH that records every call and answers `get pod` with a pod as kubectl
//! prints it (tests/data/pod-web.json, written in the shape of `kubectl get pod -o
//! json`). There is no cluster here: what is checked is the exact `kubectl debug`
//! command the plugin runs, and that it deletes the debug pod afterwards.

use nsjoin_test_support as common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::TempDir;

const KUBECTL: &str = r#"#!/bin/sh
echo "$*" >> "$KUBECTL_LOG"
if [ "$1" = --context ]; then shift 2; fi
case $1 in
  get) cat "$KUBECTL_POD_JSON" ;;
  debug)
    echo "Creating debugging pod node-debugger-node-1-x7k2p with container debugger on node node-1." >&2
    echo "output of the command"
    exit "${KUBECTL_DEBUG_EXIT:-0}" ;;
  delete) echo "pod \"$3\" deleted" ;;
esac
"#;

struct Kubectl {
    dir: TempDir,
}

impl Kubectl {
    fn new() -> Kubectl {
        let dir = TempDir::new("kubectl");
        let bin = dir.path().join("kubectl");
        std::fs::write(&bin, KUBECTL).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        Kubectl { dir }
    }

    fn with_pod(&self, json: &str) -> PathBuf {
        let path = self.dir.path().join("pod.json");
        std::fs::write(&path, json).unwrap();
        path
    }

    /// Runs the plugin with `args`; its output and the kubectl calls it made.
    fn plugin(&self, args: &[&str], env: &[(&str, &str)]) -> (Output, Vec<String>) {
        let log = self.dir.path().join("calls");
        let _ = std::fs::remove_file(&log);
        let pod = self.dir.path().join("pod.json");
        if !pod.exists() {
            std::fs::copy(data("pod-web.json"), &pod).unwrap();
        }
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        cmd.arg(plugin())
            .args(args)
            .env("PATH", path)
            .env("KUBECTL_LOG", &log)
            .env("KUBECTL_POD_JSON", &pod)
            .env_remove("NSJOIN_IMAGE")
            .env_remove("KUBECTL")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let calls = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        (out, calls)
    }
}

fn plugin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kubernetes/kubectl-nsjoin")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn the_plugin_runs_kubectl_debug_on_the_pods_node_and_cleans_up() {
    let kubectl = Kubectl::new();
    let (out, calls) = kubectl.plugin(
        &[
            "-n", "prod", "web", "-c", "nginx", "-n", "--", "ip", "-o", "link",
        ],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        calls,
        [
            "get pod web -n prod -o json",
            "debug node/node-1 --profile=sysadmin --image=nsjoin:0.1.0 -it -- \
             nsjoin -t k8s://prod/web/nginx -n -- ip -o link",
            "delete pod node-debugger-node-1-x7k2p --wait=false",
        ]
    );
    // The command's output and kubectl's messages pass through.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "output of the command\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Creating debugging pod"));
}

#[test]
fn the_plugin_takes_the_namespace_from_the_pod_and_the_image_from_the_environment() {
    let kubectl = Kubectl::new();
    let (out, calls) = kubectl.plugin(
        &["web", "-a", "ps"],
        &[
            ("NSJOIN_IMAGE", "registry.example/nsjoin:dev"),
            ("KUBECTL_DEBUG_EXIT", "7"),
        ],
    );
    // The command's status, and the debug pod deleted all the same.
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_eq!(
        calls,
        [
            "get pod web -o json",
            "debug node/node-1 --profile=sysadmin --image=registry.example/nsjoin:dev -it -- \
             nsjoin -t k8s://prod/web -a ps",
            "delete pod node-debugger-node-1-x7k2p --wait=false",
        ]
    );
    // --image wins over the environment; --sandbox names the pod sandbox;
    // --context goes to every kubectl call.
    let (out, calls) = kubectl.plugin(
        &[
            "--context",
            "staging",
            "--image",
            "nsjoin:x",
            "web",
            "--sandbox",
            "-n",
            "tcpdump",
        ],
        &[("NSJOIN_IMAGE", "registry.example/nsjoin:dev")],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        calls,
        [
            "--context staging get pod web -o json",
            "--context staging debug node/node-1 --profile=sysadmin --image=nsjoin:x -it -- \
             nsjoin -t k8s://prod/web/ -n tcpdump",
            "--context staging delete pod node-debugger-node-1-x7k2p --wait=false",
        ]
    );
}

#[test]
fn the_plugin_refuses_what_it_cannot_do_before_making_a_pod() {
    let kubectl = Kubectl::new();
    // A pod not scheduled yet: no node to debug.
    let pending = std::fs::read_to_string(data("pod-web.json"))
        .unwrap()
        .replace("\"nodeName\": \"node-1\",", "");
    kubectl.with_pod(&pending);
    let (out, calls) = kubectl.plugin(&["web", "--", "true"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(calls, ["get pod web -o json"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "kubectl-nsjoin: pod web has no node yet (is it scheduled?)\n"
    );
    // Usage errors make no kubectl call at all.
    for args in [&[][..], &["-x", "web"], &["prod/web"]] {
        let (out, calls) = kubectl.plugin(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(calls.is_empty(), "{args:?}: {calls:?}");
    }
}
