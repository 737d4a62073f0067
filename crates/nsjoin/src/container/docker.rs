//! Docker and Podman: the Engine API (`GET /vX/containers/NAME/json`) on a unix
//! socket, with the version negotiated from `GET /_ping`'s `Api-Version`. The
//! engine itself resolves exact names, full IDs and unique ID prefixes, as the
//! docker CLI relies on.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::http;
use super::socket::Deadline;
use super::{
    env_pairs, no_valid_pid, Container, ContainerError, ContainerRef, Engine, Listed, Settings,
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    id: String,
    #[serde(default)]
    name: String,
    state: State,
    #[serde(default)]
    config: Option<Config>,
    #[serde(default)]
    host_config: Option<HostConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    #[serde(default)]
    running: bool,
    #[serde(default)]
    pid: i64,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    #[serde(default)]
    env: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HostConfig {
    #[serde(default)]
    runtime: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

/// Runtimes whose container processes are not host processes: their "PID" would
/// lead into the sandbox's helper, not the container.
const SANDBOXED_RUNTIMES: [&str; 4] = ["runsc", "kata", "kata-runtime", "io.containerd.kata"];

/// `GET /_ping` on `socket`: the path prefix of the API version it speaks
/// (`/v1.41`), from `header` (`Api-Version`, or Podman's `Libpod-Api-Version`).
fn negotiate(socket: &Path, header: &str, deadline: &Deadline) -> Result<String, ContainerError> {
    let ping = http::get(socket, "/_ping", deadline)?;
    if ping.status != 200 {
        return Err(ContainerError::bad(format!(
            "{} answered /_ping with HTTP {}",
            socket.display(),
            ping.status
        )));
    }
    Ok(match ping.header(header) {
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
            format!("/v{v}")
        }
        _ => String::new(),
    })
}

pub(crate) fn resolve(
    r: &ContainerRef,
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Container, ContainerError> {
    let socket = socket_path(r.engine, settings)?;
    let prefix = negotiate(&socket, "Api-Version", deadline)?;
    let path = format!("{prefix}/containers/{}/json", http::encode_segment(&r.name));
    let response = http::get(&socket, &path, deadline)?;
    if response.status != 200 {
        if response.status == 404 {
            return Err(ContainerError::NotFound {
                engine: r.engine,
                name: r.name.clone(),
                detail: None,
            });
        }
        let message = serde_json::from_slice::<ErrorBody>(&response.body)
            .map(|e| e.message)
            .unwrap_or_else(|_| format!("HTTP {}", response.status));
        return Err(ContainerError::Refused { message });
    }
    parse_inspect(r.engine, &response.body)
}

/// One entry of a container list: Docker's `GET /containers/json` (`Names` as
/// `/redis`) or Podman's `GET /libpod/containers/json` (`Names` as `redis`, and
/// `Pid`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListEntry {
    id: String,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    pid: Option<i64>,
    #[serde(default)]
    state: Option<String>,
}

/// The running containers of Docker or Podman: one `GET` of the engine's list
/// (Podman's own, which carries each container's PID), after `GET /_ping`.
pub(crate) fn list(
    engine: Engine,
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Vec<Listed>, ContainerError> {
    let socket = socket_path(engine, settings)?;
    let path = match engine {
        Engine::Podman => {
            let prefix = negotiate(&socket, "Libpod-Api-Version", deadline)?;
            format!("{prefix}/libpod/containers/json")
        }
        _ => format!(
            "{}/containers/json",
            negotiate(&socket, "Api-Version", deadline)?
        ),
    };
    let response = http::get(&socket, &path, deadline)?;
    if response.status != 200 {
        let message = serde_json::from_slice::<ErrorBody>(&response.body)
            .map(|e| e.message)
            .unwrap_or_else(|_| format!("HTTP {}", response.status));
        return Err(ContainerError::Refused { message });
    }
    parse_list(engine, &response.body)
}

/// Turns a list answer into the running containers it names.
pub(crate) fn parse_list(engine: Engine, body: &[u8]) -> Result<Vec<Listed>, ContainerError> {
    let entries: Vec<ListEntry> = serde_json::from_slice(body).map_err(|e| {
        ContainerError::bad(format!("the engine answered with unexpected JSON ({e})"))
    })?;
    Ok(entries
        .into_iter()
        // A paused container still has its processes (and nsjoin -t says why it
        // cannot be entered as it is).
        .filter(|e| {
            e.state
                .as_deref()
                .is_none_or(|s| s == "running" || s == "paused")
        })
        .map(|e| {
            // A name a target can carry (Docker's legacy links read `/web/db`).
            let name = e
                .names
                .unwrap_or_default()
                .into_iter()
                .map(|n| n.trim_start_matches('/').to_owned())
                .find(|n| {
                    !n.is_empty()
                        && !n.contains('/')
                        && !n.chars().any(|c| c.is_control() || c.is_whitespace())
                });
            Listed {
                engine,
                id: e.id,
                name,
                pid: e.pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 0),
            }
        })
        .collect())
}

/// Turns an inspect answer into a [`Container`], refusing what cannot be entered.
pub(crate) fn parse_inspect(engine: Engine, body: &[u8]) -> Result<Container, ContainerError> {
    let inspect: Inspect = serde_json::from_slice(body).map_err(|e| {
        ContainerError::bad(format!("the engine answered with unexpected JSON ({e})"))
    })?;
    if !inspect.state.running {
        let status = if inspect.state.status.is_empty() {
            "not running"
        } else {
            &inspect.state.status
        };
        return Err(ContainerError::not_running(format!("status: {status}")));
    }
    // Running without a process: the engine is wrong (or lying), not the container.
    if inspect.state.pid <= 0 {
        return Err(no_valid_pid(
            "the engine",
            format_args!("Pid {}", inspect.state.pid),
        ));
    }
    if let Some(runtime) = inspect.host_config.as_ref().map(|h| h.runtime.as_str()) {
        if SANDBOXED_RUNTIMES
            .iter()
            .any(|r| runtime == *r || runtime.starts_with(&format!("{r}.")))
            || runtime.contains("runsc")
            || runtime.contains("kata")
        {
            return Err(ContainerError::Unsupported {
                runtime: runtime.to_owned(),
            });
        }
    }
    let pid = i32::try_from(inspect.state.pid)
        .map_err(|_| no_valid_pid("the engine", format_args!("Pid {}", inspect.state.pid)))?;
    Ok(Container {
        engine,
        id: inspect.id,
        name: inspect.name.trim_start_matches('/').to_owned(),
        pid,
        env: inspect
            .config
            .and_then(|c| c.env)
            .map(|vars| env_pairs(vars.iter().map(String::as_str))),
    })
}

/// The engine's socket: `DOCKER_HOST` / `CONTAINER_HOST` (unix:// only), else the
/// engine's default path.
fn socket_path(engine: Engine, settings: &Settings) -> Result<PathBuf, ContainerError> {
    let (var, host) = match engine {
        Engine::Podman => ("CONTAINER_HOST", &settings.podman_host),
        _ => ("DOCKER_HOST", &settings.docker_host),
    };
    if let Some(host) = host.as_deref().filter(|h| !h.is_empty()) {
        return match host.strip_prefix("unix://") {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => Err(ContainerError::UnsupportedAddress {
                setting: format!("{var}={host}"),
                needs: "the engine's local unix socket \
                        (a container's PID is only meaningful on its own host)",
            }),
        };
    }
    Ok(match engine {
        Engine::Podman => {
            if rustix::process::geteuid().is_root() {
                PathBuf::from("/run/podman/podman.sock")
            } else {
                let runtime = settings.runtime_dir.clone().unwrap_or_else(|| {
                    PathBuf::from(format!("/run/user/{}", rustix::process::getuid().as_raw()))
                });
                runtime.join("podman/podman.sock")
            }
        }
        _ => PathBuf::from("/var/run/docker.sock"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_answers_are_checked() {
        let running =
            br#"{"Id":"abc","Name":"/redis","State":{"Running":true,"Pid":42,"Status":"running"},
            "Config":{"Env":["PATH=/bin","X=a=b","junk"]},"HostConfig":{"Runtime":"runc"}}"#;
        let c = parse_inspect(Engine::Docker, running).unwrap();
        assert_eq!(
            (c.id.as_str(), c.name.as_str(), c.pid),
            ("abc", "redis", 42)
        );
        assert_eq!(c.env.unwrap().len(), 2);
        let stopped = br#"{"Id":"abc","State":{"Running":false,"Pid":0,"Status":"exited"}}"#;
        assert_eq!(
            parse_inspect(Engine::Docker, stopped)
                .unwrap_err()
                .to_string(),
            "container is not running (status: exited)"
        );
        let gvisor =
            br#"{"Id":"abc","State":{"Running":true,"Pid":7},"HostConfig":{"Runtime":"runsc"}}"#;
        assert!(parse_inspect(Engine::Docker, gvisor)
            .unwrap_err()
            .to_string()
            .contains("runsc"));
        for lie in [0, -1] {
            let body = format!(
                r#"{{"Id":"abc","State":{{"Running":true,"Pid":{lie},"Status":"running"}}}}"#
            );
            assert_eq!(
                parse_inspect(Engine::Docker, body.as_bytes())
                    .unwrap_err()
                    .to_string(),
                format!(
                    "the engine reported the container running but with no valid PID (Pid {lie})"
                )
            );
        }
        let huge = br#"{"Id":"abc","State":{"Running":true,"Pid":99999999999}}"#;
        assert!(parse_inspect(Engine::Docker, huge).is_err());
        assert!(parse_inspect(Engine::Docker, b"[]")
            .unwrap_err()
            .to_string()
            .contains("unexpected JSON"));
    }

    #[test]
    fn list_answers_give_running_containers_and_their_names() {
        let docker = br#"[{"Id":"a1","Names":["/web/db","/db"],"State":"running"},
            {"Id":"b2","Names":["/x y"],"State":"running"},{"Id":"c3","Names":["/old"],"State":"exited"},{"Id":"f6","State":"paused"}]"#;
        let listed = parse_list(Engine::Docker, docker).unwrap();
        assert_eq!(listed.len(), 3);
        assert_eq!(
            (listed[0].id.as_str(), listed[0].name.as_deref()),
            ("a1", Some("db"))
        );
        assert_eq!((listed[1].name.as_deref(), listed[1].pid), (None, None));
        let podman =
            br#"[{"Id":"d4","Names":["web"],"Pid":42,"State":"running"},{"Id":"e5","Pid":-1}]"#;
        let listed = parse_list(Engine::Podman, podman).unwrap();
        assert_eq!(
            (listed[0].name.as_deref(), listed[0].pid),
            (Some("web"), Some(42))
        );
        assert_eq!(listed[1].pid, None);
        assert!(parse_list(Engine::Docker, b"{}").is_err());
    }
}
