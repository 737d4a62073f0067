//! Hostile engines: stand-ins on unix sockets of the test's own, for every engine
//! whose socket can be pointed elsewhere (`docker://` and `podman://` through
//! DOCKER_HOST / CONTAINER_HOST, `containerd://` through CONTAINERD_ADDRESS,
//! `cri://` through CONTAINER_RUNTIME_ENDPOINT, `lxc://` through LXC_PATH, which
//! names the monitor's abstract socket, `nspawn://` through
//! DBUS_SYSTEM_BUS_ADDRESS). `cri-o://` has a fixed socket and is not here.
//!
//! What each kind of stand-in proves, with NSJOIN_ENGINE_TIMEOUT=1:
//!
//! * **never accepts** (a listener with its backlog filled): connect(2) is bounded
//!   by the deadline; the error says the engine did not answer in time and names
//!   the socket. Before, connect blocked forever.
//! * **trickles** (one byte every 2 s): the deadline covers the whole exchange,
//!   not each read. Before, a per-read timeout of 10 s never fired.
//! * **endless** and **huge** answers: refused with one line once over the bound
//!   (16 MiB for HTTP and gRPC; for D-Bus 1 MiB a message, 4 KiB an
//!   authentication line), the process's peak memory growing by less than
//!   [`MEMORY`]. Before, D-Bus had no bound but the protocol's 128 MiB a message
//!   and none at all on an authentication line.
//! * **lying** (a running container with PID 0 or -1): one line saying the engine
//!   gave no valid PID. Before, Docker's said "container is not running (status:
//!   running)".
//!
//! Every case is bounded: a resolution still running after [`HANG`] fails the
//! test (it is left behind on its thread). The engines' places and the limit are
//! passed as [`Settings`] made from the variables, not set in the process's
//! environment; each test still takes `common::exclusive()`, since the peak memory
//! is measured for the whole process (reset through /proc/self/clear_refs) and
//! [`container::set_timeout`] is process-wide.
//!
//! Longer than the tree's 500 lines on purpose: one case per way an engine can
//! misbehave, each a few lines over the shared stand-ins in engine_fakes/; the file
//! is the list, read top to bottom as SECURITY.md's table is.

use nsjoin_test_support as common;
mod engine_fakes;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::num::NonZeroU32;
use std::os::unix::net::UnixStream;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use nsjoin::container::{self, ContainerRef, Settings};
use prost::Message;
use rustix::net::SocketAddrUnix;

use common::TempDir;
use engine_fakes::grpc::{self, Reply, H2_SETTINGS};
use engine_fakes::{
    engine_api, inspect_with_pid, pause, pb, pour, trickle, Fake, Stuck, ENDLESS, HUGE,
};

/// NSJOIN_ENGINE_TIMEOUT in these tests.
const LIMIT: Duration = Duration::from_secs(1);
/// How much later than LIMIT a resolution may end.
const SLACK: Duration = Duration::from_secs(2);
/// A resolution still running after this has no deadline at all.
const HANG: Duration = Duration::from_secs(25);
/// The most a resolution may add to the process's peak memory (RSS).
const MEMORY: u64 = 64 << 20;

// ---------------------------------------------------------------------------
// Running a resolution
// ---------------------------------------------------------------------------

/// The settings nsjoin would read from an environment holding just `vars`.
fn settings_of(vars: &[(&str, String)]) -> nsjoin::Result<Settings> {
    Settings::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
}

/// A `/proc/self/status` field, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib << 10
}

/// How a resolution failed.
struct Outcome {
    spec: String,
    error: String,
    took: Duration,
    /// How much the process's peak RSS rose above its RSS at the start.
    memory: u64,
}

/// Resolves `spec` with the settings of `vars` and NSJOIN_ENGINE_TIMEOUT=LIMIT;
/// it must fail.
fn attempt(spec: &str, vars: &[(&'static str, String)]) -> Outcome {
    let mut all = vec![("NSJOIN_ENGINE_TIMEOUT", LIMIT.as_secs_f64().to_string())];
    all.extend(vars.iter().cloned());
    attempt_with(spec, settings_of(&all).unwrap())
}

/// Resolves `spec` with `settings`; it must fail.
fn attempt_with(spec: &str, settings: Settings) -> Outcome {
    let before = status_bytes("VmRSS:");
    // "5": reset the peak RSS to the current RSS.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let r: ContainerRef = spec.parse().unwrap();
    let start = Instant::now();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(container::resolve_with(&r, &settings));
    });
    let result = rx
        .recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{spec}: still waiting for the engine after {HANG:?}"));
    let took = start.elapsed();
    let memory = status_bytes("VmHWM:").saturating_sub(before);
    let error = match result {
        Ok(c) => panic!("{spec}: resolved to {c:?}"),
        Err(e) => e.to_string(),
    };
    eprintln!("{error} ({took:?}, peak +{} KiB)", memory >> 10);
    Outcome {
        spec: spec.to_owned(),
        error,
        took,
        memory,
    }
}

impl Outcome {
    fn one_line(&self) {
        assert!(
            !self.error.is_empty() && !self.error.contains(['\n', '\r']),
            "{}: not one line: {:?}",
            self.spec,
            self.error
        );
        assert!(
            self.error.starts_with(&format!("{}: ", self.spec)),
            "the error does not name the target: {}",
            self.error
        );
        assert!(
            self.memory < MEMORY,
            "{}: peak memory rose by {} MiB",
            self.spec,
            self.memory >> 20
        );
    }

    /// Gave up at the deadline, saying the engine at `socket` did not answer.
    fn late(&self, socket: &str) {
        self.late_after(socket, LIMIT);
    }

    /// Gave up at a deadline of `limit`, saying the engine at `socket` did not answer.
    fn late_after(&self, socket: &str, limit: Duration) {
        self.one_line();
        assert!(
            self.error.contains("did not answer in time") && self.error.contains(socket),
            "wanted \"did not answer in time\" and {socket}: {}",
            self.error
        );
        assert!(
            self.error.contains("NSJOIN_ENGINE_TIMEOUT"),
            "the error does not say how to wait longer: {}",
            self.error
        );
        assert!(
            self.took + Duration::from_millis(50) >= limit,
            "{}: gave up after {:?}, before the deadline",
            self.spec,
            self.took
        );
        assert!(
            self.took < limit + SLACK,
            "{}: took {:?}, over the deadline ({limit:?}) and {SLACK:?}",
            self.spec,
            self.took
        );
    }

    /// Refused with a line containing `wanted`, well within the deadline's slack.
    fn refused(&self, wanted: &str) {
        self.one_line();
        assert!(
            self.error.contains(wanted),
            "wanted {wanted:?}: {}",
            self.error
        );
        self.soon();
    }

    fn soon(&self) {
        assert!(
            self.took < LIMIT + SLACK,
            "{}: took {:?}, over the deadline ({LIMIT:?}) and {SLACK:?}",
            self.spec,
            self.took
        );
    }
}

// ---------------------------------------------------------------------------
// Where each engine is looked for
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Engine {
    Docker,
    Podman,
    Containerd,
    Cri,
    Lxc,
    Nspawn,
}

/// The socket a stand-in for `engine` listens on, and how nsjoin is sent there.
struct Place {
    _dir: TempDir,
    addr: SocketAddrUnix,
    /// The socket as the messages show it.
    shown: String,
    vars: Vec<(&'static str, String)>,
    spec: &'static str,
}

impl Place {
    fn new(engine: Engine) -> Place {
        let dir = TempDir::new("hostile");
        let socket = dir.path().join("engine.sock");
        let path = socket.display().to_string();
        let (var, value, spec) = match engine {
            Engine::Docker => ("DOCKER_HOST", format!("unix://{path}"), "docker://web"),
            Engine::Podman => ("CONTAINER_HOST", format!("unix://{path}"), "podman://web"),
            Engine::Containerd => ("CONTAINERD_ADDRESS", path.clone(), "containerd://moby/web"),
            Engine::Cri => (
                "CONTAINER_RUNTIME_ENDPOINT",
                format!("unix://{path}"),
                "cri://web",
            ),
            Engine::Nspawn => (
                "DBUS_SYSTEM_BUS_ADDRESS",
                format!("unix:path={path}"),
                "nspawn://web",
            ),
            Engine::Lxc => {
                // The monitor of container "web" of lxcpath DIR listens on the
                // abstract socket DIR/web/command.
                let name = format!("{}/web/command", dir.path().display());
                return Place {
                    addr: SocketAddrUnix::new_abstract_name(name.as_bytes()).unwrap(),
                    shown: format!("@{name}"),
                    vars: vec![("LXC_PATH", dir.path().display().to_string())],
                    spec: "lxc://web",
                    _dir: dir,
                };
            }
        };
        Place {
            addr: SocketAddrUnix::new(&socket).unwrap(),
            shown: path,
            vars: vec![(var, value)],
            spec,
            _dir: dir,
        }
    }

    fn attempt(&self) -> Outcome {
        attempt(self.spec, &self.vars)
    }
}

// ---------------------------------------------------------------------------
// Stand-ins
// ---------------------------------------------------------------------------

// --- gRPC (containerd, CRI) ---

/// A gRPC server (h2) answering every call with `answer(path)`.
fn grpc_server(answer: fn(&str) -> Reply) -> impl Fn(UnixStream, Arc<AtomicBool>) + Send + Sync {
    grpc::serving(move |path, _, _| answer(path))
}

// --- D-Bus (nspawn) ---

/// The bus's side of D-Bus authentication: OK to AUTH, AGREE_UNIX_FD to
/// NEGOTIATE_UNIX_FD, until BEGIN. False if the client went away.
fn dbus_handshake(conn: &mut BufReader<UnixStream>) -> bool {
    let mut nul = [0u8; 1];
    if conn.read_exact(&mut nul).is_err() {
        return false;
    }
    loop {
        let mut line = Vec::new();
        if conn.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            return false;
        }
        let reply: &[u8] = if line.starts_with(b"AUTH") {
            b"OK 0123456789abcdef0123456789abcdef\r\n"
        } else if line.starts_with(b"NEGOTIATE_UNIX_FD") {
            b"AGREE_UNIX_FD\r\n"
        } else if line.starts_with(b"BEGIN") {
            return true;
        } else {
            b"ERROR\r\n"
        };
        if conn.get_mut().write_all(reply).is_err() {
            return false;
        }
    }
}

/// The next message from the client: its serial and all of its bytes.
fn dbus_message(conn: &mut BufReader<UnixStream>) -> Option<(u32, Vec<u8>)> {
    let mut message = vec![0u8; 16];
    conn.read_exact(&mut message).ok()?;
    assert_eq!(message[0], b'l', "nsjoin sends little-endian messages");
    let field = |at: usize| u32::from_le_bytes(message[at..at + 4].try_into().unwrap());
    let (body, serial, fields) = (field(4), field(8), field(12));
    let rest = fields.next_multiple_of(8) + body;
    message.resize(16 + rest as usize, 0);
    conn.read_exact(&mut message[16..]).ok()?;
    Some((serial, message))
}

/// Answers call `serial` with `body`.
fn dbus_reply<B>(conn: &mut BufReader<UnixStream>, serial: u32, body: &B)
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    let call = zbus::Message::method_call("/", "Call")
        .unwrap()
        .serial(NonZeroU32::new(serial).unwrap())
        .build(&())
        .unwrap();
    let reply = zbus::Message::method_return(&call.header())
        .unwrap()
        .sender("org.freedesktop.DBus")
        .unwrap()
        .build(body)
        .unwrap();
    let _ = conn.get_mut().write_all(reply.data().bytes());
}

/// A system bus on which "machined" answers GetMachine and GetAll for machine
/// `web` with `Leader`.
fn lying_machined(leader: u32) -> impl Fn(UnixStream, Arc<AtomicBool>) + Send + Sync + 'static {
    move |conn, _stop| {
        let mut conn = BufReader::new(conn);
        if !dbus_handshake(&mut conn) {
            return;
        }
        while let Some((serial, message)) = dbus_message(&mut conn) {
            let has = |name: &[u8]| message.windows(name.len()).any(|w| w == name);
            if has(b"Hello") {
                dbus_reply(&mut conn, serial, &":1.42");
            } else if has(b"GetMachine") {
                let path =
                    zbus::zvariant::ObjectPath::try_from("/org/freedesktop/machine1/machine/web")
                        .unwrap();
                dbus_reply(&mut conn, serial, &path);
            } else if has(b"GetAll") {
                let properties: HashMap<&str, zbus::zvariant::Value> = HashMap::from([
                    ("Name", zbus::zvariant::Value::from("web")),
                    ("Leader", zbus::zvariant::Value::U32(leader)),
                    ("State", zbus::zvariant::Value::from("running")),
                ]);
                dbus_reply(&mut conn, serial, &properties);
            } else {
                dbus_reply(&mut conn, serial, &());
            }
        }
    }
}

// --- LXC ---

/// A `GET_INIT_PID` answer: ret 0, datalen 0, the PID in the data pointer.
fn lxc_answer(pid: isize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0i32.to_ne_bytes());
    out.extend_from_slice(&0i32.to_ne_bytes());
    out.extend_from_slice(&pid.to_ne_bytes());
    out
}

// ---------------------------------------------------------------------------
// A listener that never accepts
// ---------------------------------------------------------------------------

fn never_accepts(engine: Engine) {
    let _x = common::exclusive();
    let place = Place::new(engine);
    let _stuck = Stuck::at(&place.addr);
    place.attempt().late(&place.shown);
}

#[test]
fn docker_listener_that_never_accepts() {
    never_accepts(Engine::Docker);
}

#[test]
fn podman_listener_that_never_accepts() {
    never_accepts(Engine::Podman);
}

#[test]
fn containerd_listener_that_never_accepts() {
    never_accepts(Engine::Containerd);
}

#[test]
fn cri_listener_that_never_accepts() {
    never_accepts(Engine::Cri);
}

#[test]
fn lxc_monitor_that_never_accepts() {
    never_accepts(Engine::Lxc);
}

#[test]
fn nspawn_bus_that_never_accepts() {
    never_accepts(Engine::Nspawn);
}

// ---------------------------------------------------------------------------
// One byte every 2 s
// ---------------------------------------------------------------------------

fn trickles(engine: Engine, bytes: &'static [u8]) {
    let _x = common::exclusive();
    let place = Place::new(engine);
    let _fake = Fake::at(&place.addr, move |conn, stop| trickle(conn, bytes, &stop));
    place.attempt().late(&place.shown);
}

#[test]
fn docker_engine_that_trickles() {
    trickles(
        Engine::Docker,
        b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK",
    );
}

#[test]
fn podman_engine_that_trickles() {
    trickles(
        Engine::Podman,
        b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK",
    );
}

#[test]
fn containerd_that_trickles() {
    trickles(Engine::Containerd, H2_SETTINGS);
}

#[test]
fn cri_runtime_that_trickles() {
    trickles(Engine::Cri, H2_SETTINGS);
}

#[test]
fn lxc_monitor_that_trickles() {
    static ANSWER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    trickles(Engine::Lxc, ANSWER.get_or_init(|| lxc_answer(4242)));
}

#[test]
fn nspawn_bus_that_trickles() {
    trickles(Engine::Nspawn, b"OK 0123456789abcdef0123456789abcdef\r\n");
}

// ---------------------------------------------------------------------------
// Endless and huge answers
// ---------------------------------------------------------------------------

/// Docker/Podman: an inspect answer without end (no length, never closed).
fn endless_engine_api(engine: Engine) {
    let _x = common::exclusive();
    let place = Place::new(engine);
    let _fake = Fake::at(
        &place.addr,
        engine_api(|conn, stop| {
            if conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
                .is_ok()
            {
                pour(conn, b' ', ENDLESS, stop);
            }
        }),
    );
    place
        .attempt()
        .refused("the engine's answer is larger than 16 MiB; refused");
}

#[test]
fn docker_endless_answer() {
    endless_engine_api(Engine::Docker);
}

#[test]
fn podman_endless_answer() {
    endless_engine_api(Engine::Podman);
}

#[test]
fn docker_huge_answer() {
    let _x = common::exclusive();
    let place = Place::new(Engine::Docker);
    let _fake = Fake::at(
        &place.addr,
        engine_api(|conn, stop| {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {HUGE}\r\n\r\n");
            if conn.write_all(head.as_bytes()).is_ok() {
                pour(conn, b' ', HUGE, stop);
            }
        }),
    );
    place
        .attempt()
        .refused("the engine's answer is larger than 16 MiB; refused");
}

#[test]
fn containerd_endless_answer() {
    let _x = common::exclusive();
    let place = Place::new(Engine::Containerd);
    let _fake = Fake::at(
        &place.addr,
        grpc_server(|_| Reply::Announced(u32::MAX as usize)),
    );
    place
        .attempt()
        .refused("the engine's answer is larger than 16 MiB; refused");
}

#[test]
fn cri_huge_answer() {
    let _x = common::exclusive();
    let place = Place::new(Engine::Cri);
    let _fake = Fake::at(&place.addr, grpc_server(|_| Reply::Announced(HUGE)));
    place
        .attempt()
        .refused("the engine's answer is larger than 16 MiB; refused");
}

#[test]
fn nspawn_bus_with_an_endless_line() {
    let _x = common::exclusive();
    let place = Place::new(Engine::Nspawn);
    let _fake = Fake::at(&place.addr, |mut conn, stop| {
        pour(&mut conn, b'O', ENDLESS, &stop)
    });
    place
        .attempt()
        .refused("authentication line longer than 4096 bytes; refused");
}

#[test]
fn nspawn_bus_with_a_huge_message() {
    let _x = common::exclusive();
    let place = Place::new(Engine::Nspawn);
    let _fake = Fake::at(&place.addr, |conn, stop| {
        let mut conn = BufReader::new(conn);
        if !dbus_handshake(&mut conn) || dbus_message(&mut conn).is_none() {
            return;
        }
        // A method return announcing a body of HUGE bytes, then the bytes.
        let mut head = vec![b'l', 2, 0, 1];
        head.extend_from_slice(&(HUGE as u32).to_le_bytes());
        head.extend_from_slice(&1u32.to_le_bytes());
        head.extend_from_slice(&0u32.to_le_bytes());
        let mut conn = conn.into_inner();
        if conn.write_all(&head).is_ok() {
            pour(&mut conn, 0, HUGE, &stop);
        }
    });
    place
        .attempt()
        .refused("over the 1048576 nsjoin takes; refused");
}

// ---------------------------------------------------------------------------
// Lying about the PID
// ---------------------------------------------------------------------------

const NO_VALID_PID: &str = "reported the container running but with no valid PID";

fn engine_api_lying(engine: Engine, pid: i64) {
    let _x = common::exclusive();
    let place = Place::new(engine);
    let _fake = Fake::at(
        &place.addr,
        engine_api(move |conn, _| {
            let _ = conn.write_all(inspect_with_pid(pid).as_bytes());
        }),
    );
    let outcome = place.attempt();
    outcome.refused(&format!("the engine {NO_VALID_PID} (Pid {pid})"));
    assert!(!outcome.error.contains("not running"), "{}", outcome.error);
}

#[test]
fn docker_lying_about_the_pid() {
    engine_api_lying(Engine::Docker, 0);
    engine_api_lying(Engine::Docker, -1);
}

#[test]
fn podman_lying_about_the_pid() {
    engine_api_lying(Engine::Podman, 0);
    engine_api_lying(Engine::Podman, -1);
}

/// An engine that answers in full, then keeps the connection open (as one
/// ignoring `Connection: close` would): the answer is taken when complete, not
/// after the engine's silence (before: 10 s, then "Resource temporarily
/// unavailable").
#[test]
fn docker_answer_without_close_is_taken_when_complete() {
    let _x = common::exclusive();
    let place = Place::new(Engine::Docker);
    let _fake = Fake::at(
        &place.addr,
        engine_api(|conn, stop| {
            if conn.write_all(inspect_with_pid(0).as_bytes()).is_ok() {
                pause(HANG, stop);
            }
        }),
    );
    let outcome = place.attempt();
    outcome.refused(NO_VALID_PID);
    assert!(
        outcome.took < LIMIT,
        "waited {:?} for the engine to close",
        outcome.took
    );
}

#[test]
fn containerd_lying_about_the_pid() {
    let _x = common::exclusive();
    let place = Place::new(Engine::Containerd);
    let _fake = Fake::at(
        &place.addr,
        grpc_server(|path| {
            Reply::Ok(if path.ends_with("Containers/Get") {
                pb::GetContainerResponse {
                    container: Some(pb::ContainerdContainer {
                        id: "web".into(),
                        runtime: Some(pb::Runtime {
                            name: "io.containerd.runc.v2".into(),
                        }),
                        ..Default::default()
                    }),
                }
                .encode_to_vec()
            } else {
                pb::GetResponse {
                    process: Some(pb::Process {
                        container_id: "web".into(),
                        id: "web".into(),
                        pid: 0,
                        status: 2, // running
                        exit_status: 0,
                    }),
                }
                .encode_to_vec()
            })
        }),
    );
    place
        .attempt()
        .refused(&format!("containerd {NO_VALID_PID} (pid 0)"));
}

fn cri_lying(pid: i64) {
    let _x = common::exclusive();
    let place = Place::new(Engine::Cri);
    let answer: fn(&str) -> Reply = if pid == 0 {
        |_| cri_status_with_pid(0)
    } else {
        |_| cri_status_with_pid(-1)
    };
    let _fake = Fake::at(&place.addr, grpc_server(answer));
    place
        .attempt()
        .refused(&format!("the runtime {NO_VALID_PID} (pid {pid})"));
}

fn cri_status_with_pid(pid: i64) -> Reply {
    Reply::Ok(
        pb::ContainerStatusResponse {
            status: Some(pb::ContainerStatus {
                id: "web".into(),
                state: 1, // CONTAINER_RUNNING
                ..Default::default()
            }),
            info: HashMap::from([("info".into(), format!(r#"{{"pid":{pid}}}"#))]),
        }
        .encode_to_vec(),
    )
}

#[test]
fn cri_runtime_lying_about_the_pid() {
    cri_lying(0);
    cri_lying(-1);
}

#[test]
fn lxc_monitor_lying_about_the_pid() {
    for pid in [0, -1] {
        let _x = common::exclusive();
        let place = Place::new(Engine::Lxc);
        let _fake = Fake::at(&place.addr, move |mut conn, _| {
            // As a monitor: the request first (closing before it is read would
            // make nsjoin's send fail with EPIPE), then the answer.
            let mut request = [0u8; 16];
            if conn.read_exact(&mut request).is_ok() {
                let _ = conn.write_all(&lxc_answer(pid));
            }
        });
        place.attempt().refused(&format!(
            "the container's LXC monitor {NO_VALID_PID} ({pid})"
        ));
    }
}

#[test]
fn nspawn_machined_lying_about_the_pid() {
    let _x = common::exclusive();
    let place = Place::new(Engine::Nspawn);
    let _fake = Fake::at(&place.addr, lying_machined(0));
    place
        .attempt()
        .refused(&format!("machined {NO_VALID_PID} (Leader 0)"));
}

// ---------------------------------------------------------------------------
// The limit itself
// ---------------------------------------------------------------------------

/// The library's setting wins over the variable, and the message says the limit.
#[test]
fn the_library_setting_overrides_the_variable() {
    let _x = common::exclusive();
    let place = Place::new(Engine::Docker);
    let _stuck = Stuck::at(&place.addr);
    let mut vars = place.vars.clone();
    vars.push(("NSJOIN_ENGINE_TIMEOUT", "100".into()));
    container::set_timeout(Some(Duration::from_millis(500)));
    let settings = settings_of(&vars);
    container::set_timeout(None);
    let outcome = attempt_with(place.spec, settings.unwrap());
    outcome.late_after(&place.shown, Duration::from_millis(500));
    assert!(
        outcome.error.contains("nsjoin waits 0.5 s"),
        "{}",
        outcome.error
    );
}

#[test]
fn a_malformed_limit_is_one_line() {
    let _x = common::exclusive();
    for bad in ["abc", "0", "-1", "inf", "10s"] {
        let error = settings_of(&[
            ("NSJOIN_ENGINE_TIMEOUT", bad.into()),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock".into()),
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            format!("NSJOIN_ENGINE_TIMEOUT={bad}: not a time limit in seconds (such as 10 or 0.5)")
        );
    }
}

/// In a scan (`nsls -c`), an engine that accepts and says nothing holds up only
/// the processes of its own containers: another engine's list, asked for by
/// another scan thread meanwhile, is not kept waiting behind it.
#[test]
fn a_silent_engine_holds_up_only_its_own_containers_in_a_scan() {
    use nsjoin::ContainerResolver;
    let _x = common::exclusive();
    let (silent, answering) = (Place::new(Engine::Docker), Place::new(Engine::Podman));
    let _docker = Fake::at(&silent.addr, |conn, stop| {
        let _held = conn;
        while pause(Duration::from_millis(50), &stop) {}
    });
    let _podman = Fake::at(
        &answering.addr,
        engine_api(|conn, _| {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]");
        }),
    );
    let mut vars = [silent.vars.clone(), answering.vars.clone()].concat();
    vars.push(("NSJOIN_ENGINE_TIMEOUT", "1.5".into()));
    let resolver = Arc::new(nsjoin::EngineConfirmed::with_settings(
        settings_of(&vars).unwrap(),
    ));
    let me = std::process::id() as i32;
    let (done, finished) = mpsc::channel();
    let ask = |name: &'static str, cgroup: String| {
        let (resolver, done) = (Arc::clone(&resolver), done.clone());
        thread::spawn(move || {
            let start = Instant::now();
            let found = resolver.resolve(me, &cgroup);
            done.send((name, start.elapsed(), found)).unwrap();
        })
    };
    let docker_id = "d0".repeat(32);
    let podman_id = "f0".repeat(32);
    let a = ask("docker", format!("0::/docker/{docker_id}\n"));
    // Docker's list is being waited for when Podman's is asked for.
    thread::sleep(Duration::from_millis(300));
    let b = ask(
        "podman",
        format!("0::/machine.slice/libpod-{podman_id}.scope\n"),
    );
    let first = finished.recv_timeout(HANG).expect("no answer");
    let second = finished.recv_timeout(HANG).expect("no second answer");
    a.join().unwrap();
    b.join().unwrap();
    assert_eq!(first.0, "podman", "{first:?} then {second:?}");
    assert!(first.1 < Duration::from_secs(1), "{first:?}");
    assert!(second.1 >= Duration::from_millis(1400), "{second:?}");
    // Neither engine confirmed anything: both rows keep their cgroup's ID.
    assert_eq!(
        first.2.map(|c| (c.confirmed, c.target())),
        Some((false, format!("podman://{}", &podman_id[..12])))
    );
    assert_eq!(
        second.2.map(|c| (c.confirmed, c.target())),
        Some((false, format!("docker://{}", &docker_id[..12])))
    );
}
