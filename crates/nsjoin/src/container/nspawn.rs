//! systemd-nspawn (and any machine registered with systemd-machined): D-Bus on
//! the system bus, `org.freedesktop.machine1.Manager.GetMachine(name)` → the
//! machine's object path, whose `org.freedesktop.machine1.Machine` properties
//! give `Leader`, the host PID of its init process.
//!
//! zbus speaks D-Bus; it runs on a tokio runtime made for the one query and
//! dropped after it, which joins every thread it started. That matters: the
//! caller may go on to enter user, mount or time namespaces, which the kernel
//! refuses to a multithreaded process, so nothing may be left running.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::str::FromStr;

use rustix::net::SocketAddrUnix;
use zbus::address::transport::{Transport, UnixSocket};
use zbus::connection::socket::{BoxedSplit, ReadHalf, Split};
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use super::socket::{self, Deadline};
use super::{no_valid_pid, Container, ContainerRef, Engine};

const MACHINED: &str = "org.freedesktop.machine1";
const MANAGER_PATH: &str = "/org/freedesktop/machine1";
const MANAGER: &str = "org.freedesktop.machine1.Manager";
const MACHINE: &str = "org.freedesktop.machine1.Machine";
const DEFAULT_SYSTEM_BUS: &str = "unix:path=/run/dbus/system_bus_socket";
/// The most bytes taken from the bus in one resolution (the authentication,
/// `Hello`, `GetMachine` and `GetAll` answers are a few KiB). A single D-Bus
/// message may announce up to 128 MiB, the protocol's limit, which zbus enforces.
const MAX_ANSWERS: usize = 16 << 20;

pub(crate) fn resolve(r: &ContainerRef, deadline: &Deadline) -> Result<Container, String> {
    let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| DEFAULT_SYSTEM_BUS.to_owned());
    resolve_on(&address, &r.name, deadline)
}

/// Asks the machined on the bus at `address` (a D-Bus address such as
/// `unix:path=/run/dbus/system_bus_socket`) for machine `name`, before `deadline`.
pub(crate) fn resolve_on(
    address: &str,
    name: &str,
    deadline: &Deadline,
) -> Result<Container, String> {
    // A runtime cannot be started on a thread that already drives one: a caller
    // inside tokio gets the query on a thread of its own, joined before returning.
    if tokio::runtime::Handle::try_current().is_ok() {
        return std::thread::scope(|s| {
            s.spawn(|| run(address, name, deadline))
                .join()
                .unwrap_or_else(|_| Err("the D-Bus query failed unexpectedly".to_owned()))
        });
    }
    run(address, name, deadline)
}

fn run(address: &str, name: &str, deadline: &Deadline) -> Result<Container, String> {
    // Connected here, bounded by the deadline, rather than by zbus: zbus connects
    // on a blocking thread that nothing can stop, and dropping the runtime would
    // wait for it for as long as the listener's backlog stays full.
    let stream = connect(address, deadline)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the D-Bus client: {e}"))?;
    let end = tokio::time::Instant::from_std(deadline.end());
    let answer = runtime.block_on(async {
        tokio::time::timeout_at(end, query(stream, address, name))
            .await
            .unwrap_or_else(|_| {
                Err(deadline.late(&format!(
                    "systemd-machined (on the D-Bus system bus at {address})"
                )))
            })
    });
    // Dropping the runtime waits for its blocking threads: none outlives the query.
    drop(runtime);
    answer
}

/// Connects to the bus at `address`, a `unix:path=` or `unix:abstract=` address.
fn connect(address: &str, deadline: &Deadline) -> Result<UnixStream, String> {
    let parsed = zbus::Address::from_str(address)
        .map_err(|e| format!("bad D-Bus system bus address {address:?}: {}", short(&e)))?;
    let unsupported = || {
        format!(
            "D-Bus system bus address {address:?} is not supported: nsjoin needs the bus's \
             local unix socket (unix:path= or unix:abstract=)"
        )
    };
    let addr = match parsed.transport() {
        Transport::Unix(unix) => match unix.path() {
            UnixSocket::File(path) => SocketAddrUnix::new(path.as_path()),
            UnixSocket::Abstract(name) => SocketAddrUnix::new_abstract_name(name.as_bytes()),
            _ => return Err(unsupported()),
        },
        _ => return Err(unsupported()),
    };
    let unreachable = |e: io::Error| {
        format!(
            "cannot reach systemd-machined: no D-Bus system bus at {address}: {}",
            short(&e)
        )
    };
    let addr = addr.map_err(|e| unreachable(e.into()))?;
    socket::connect(&addr, deadline).map_err(|e| {
        if socket::is_timeout(&e) {
            deadline.late(&format!("the D-Bus system bus at {address}"))
        } else {
            unreachable(e)
        }
    })
}

async fn query(stream: UnixStream, address: &str, name: &str) -> Result<Container, String> {
    let io_error = |e: io::Error| format!("D-Bus system bus at {address}: {}", short(&e));
    stream.set_nonblocking(true).map_err(io_error)?;
    let (read, write) = tokio::net::UnixStream::from_std(stream)
        .map_err(io_error)?
        .into_split();
    let split: BoxedSplit = Split::new(
        Box::new(Bounded {
            inner: read,
            framing: Framing::default(),
        }),
        Box::new(write),
    );
    let connection = zbus::connection::Builder::socket(split)
        .internal_executor(false)
        .build()
        .await
        .map_err(|e| {
            let why = match &e {
                zbus::Error::InputOutput(io) => short(io),
                other => short(other),
            };
            format!(
                "cannot reach systemd-machined through the D-Bus system bus at {address}: {why}"
            )
        })?;
    let reply = connection
        .call_method(
            Some(MACHINED),
            MANAGER_PATH,
            Some(MANAGER),
            "GetMachine",
            &(name,),
        )
        .await
        .map_err(method_error)?;
    let path: OwnedObjectPath = reply
        .body()
        .deserialize()
        .map_err(|e| format!("machined answered GetMachine unexpectedly ({})", short(&e)))?;
    let reply = connection
        .call_method(
            Some(MACHINED),
            path.as_str(),
            Some("org.freedesktop.DBus.Properties"),
            "GetAll",
            &(MACHINE,),
        )
        .await
        .map_err(method_error)?;
    let properties: HashMap<String, OwnedValue> = reply.body().deserialize().map_err(|e| {
        format!(
            "machined answered GetAll on {} unexpectedly ({})",
            path.as_str(),
            short(&e)
        )
    })?;
    machine(name, &properties)
}

/// A [`Container`] from a Machine's properties (`GetAll` on
/// `org.freedesktop.machine1.Machine`).
pub(crate) fn machine(
    name: &str,
    properties: &HashMap<String, OwnedValue>,
) -> Result<Container, String> {
    let leader = properties
        .get("Leader")
        .ok_or("machined reported no Leader for the machine")?;
    let leader = u32::try_from(leader)
        .map_err(|_| format!("machined reported a Leader that is not a uint32 ({leader:?})"))?;
    if let Some(state) = properties
        .get("State")
        .and_then(|s| <&str>::try_from(s).ok())
    {
        if state == "closing" {
            return Err("container is not running (status: closing)".to_owned());
        }
    }
    let pid = i32::try_from(leader)
        .ok()
        .filter(|pid| *pid > 0)
        .ok_or_else(|| no_valid_pid("machined", format_args!("Leader {leader}")))?;
    let name = properties
        .get("Name")
        .and_then(|n| <&str>::try_from(n).ok())
        .unwrap_or(name)
        .to_owned();
    // The machine's 128-bit ID, as `machinectl status` prints it; zero when unset.
    let id = properties
        .get("Id")
        .and_then(|v| Vec::<u8>::try_from(v.try_clone().ok()?).ok())
        .filter(|id| id.iter().any(|&b| b != 0))
        .map(|id| id.iter().map(|b| format!("{b:02x}")).collect())
        .unwrap_or_else(|| name.clone());
    Ok(Container {
        engine: Engine::Nspawn,
        id,
        name,
        pid,
        env: None,
    })
}

/// The bus's side of the connection, read through a check of what arrives before
/// zbus sees it: zbus would take an authentication line without end, and makes
/// room for a message as large as its header announces (up to 128 MiB) before
/// reading it. Here a line over [`MAX_LINE`], a message over [`MAX_MESSAGE`] or
/// more than [`MAX_ANSWERS`] bytes in all end the query, and file descriptors
/// (nsjoin asks for none) are closed at once.
#[derive(Debug)]
struct Bounded {
    inner: tokio::net::unix::OwnedReadHalf,
    framing: Framing,
}

impl ReadHalf for Bounded {
    // zbus's trait is an #[async_trait]; this is what that expands to.
    fn recvmsg<'a, 'b, 'r>(
        &'a mut self,
        buf: &'b mut [u8],
    ) -> Pin<Box<dyn Future<Output = io::Result<(usize, Vec<OwnedFd>)>> + Send + 'r>>
    where
        'a: 'r,
        'b: 'r,
        Self: 'r,
    {
        Box::pin(async move {
            let (n, fds) = ReadHalf::recvmsg(&mut self.inner, buf).await?;
            drop(fds);
            self.framing.take(&buf[..n]).map_err(io::Error::other)?;
            Ok((n, Vec::new()))
        })
    }
}

/// The longest authentication line taken from the bus (`OK <32 hex digits>`).
const MAX_LINE: usize = 4 << 10;
/// The largest message taken from the bus; machined's answers are a few KiB.
const MAX_MESSAGE: u64 = 1 << 20;

/// Where the bytes from the bus stand: D-Bus is authentication lines (`OK ...`,
/// `AGREE_UNIX_FD`, each ending in `\r\n`), then messages, each a 16-byte fixed
/// header (endianness `l` or `B`, then the body's length at 4 and the header
/// fields' length at 12) followed by the fields, padding to 8 and the body.
#[derive(Debug, Default)]
struct Framing {
    /// Bytes taken so far.
    total: usize,
    /// Inside an authentication line: its length so far.
    line: Option<usize>,
    /// The fixed header of the next message, as far as it has arrived.
    header: Vec<u8>,
    /// What is left of the current message after its fixed header.
    rest: u64,
}

impl Framing {
    /// Follows `data`; Err once the bus has sent more than nsjoin takes.
    fn take(&mut self, mut data: &[u8]) -> Result<(), String> {
        self.total += data.len();
        if self.total > MAX_ANSWERS {
            return Err(format!(
                "the bus's answers are larger than {}; refused",
                super::mib(MAX_ANSWERS)
            ));
        }
        while let Some(&first) = data.first() {
            if let Some(len) = self.line {
                let end = data.iter().position(|&b| b == b'\n');
                let used = end.map_or(data.len(), |e| e + 1);
                if len + used > MAX_LINE {
                    return Err(format!(
                        "the bus sent an authentication line longer than {MAX_LINE} bytes; refused"
                    ));
                }
                self.line = end.is_none().then_some(len + used);
                data = &data[used..];
            } else if self.rest > 0 {
                let used = self.rest.min(data.len() as u64);
                self.rest -= used;
                data = &data[used as usize..];
            } else if self.header.is_empty() && !matches!(first, b'l' | b'B') {
                self.line = Some(0);
            } else {
                let used = (16 - self.header.len()).min(data.len());
                self.header.extend_from_slice(&data[..used]);
                data = &data[used..];
                if self.header.len() == 16 {
                    let field = |at: usize| {
                        let raw: [u8; 4] = self.header[at..at + 4].try_into().unwrap_or_default();
                        u64::from(if self.header[0] == b'l' {
                            u32::from_le_bytes(raw)
                        } else {
                            u32::from_be_bytes(raw)
                        })
                    };
                    let (body, fields) = (field(4), field(12));
                    let after_header = fields.next_multiple_of(8) + body;
                    if 16 + after_header > MAX_MESSAGE {
                        return Err(format!(
                            "the bus announced a message of {} bytes, over the {} nsjoin takes; refused",
                            16 + after_header,
                            MAX_MESSAGE
                        ));
                    }
                    self.header.clear();
                    self.rest = after_header;
                }
            }
        }
        Ok(())
    }
}

fn method_error(e: zbus::Error) -> String {
    match &e {
        zbus::Error::MethodError(error, message, _) => match error.as_str() {
            "org.freedesktop.machine1.NoSuchMachine" => "no such container".to_owned(),
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner" => {
                "systemd-machined is not running (org.freedesktop.machine1 is not on the system bus)"
                    .to_owned()
            }
            other => format!(
                "machined answered {other}{}",
                message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
        },
        _ => format!("D-Bus: {}", short(&e)),
    }
}

/// An error's text without Rust's ` (os error N)` suffix, on one line.
fn short(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string().replace('\n', " ");
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::zvariant::{Str, Value};

    fn owned(v: Value<'_>) -> OwnedValue {
        v.try_to_owned().unwrap()
    }

    /// GetAll on org.freedesktop.machine1.Machine as systemd 252's machined
    /// answered it for a container started with `systemd-nspawn --keep-unit
    /// --register=yes -M nsjt2 -D ROOTFS /bin/sleep 100000`, recorded with busctl:
    ///
    /// ```text
    /// a{sv} 11 "Name" s "nsjt2" "Id" ay 16 133 133 244 66 38 99 67 140 183 70 212 97 67 57 25 124
    /// "Timestamp" t 1795981883882736 "TimestampMonotonic" t 3529056246 "Service" s "systemd-nspawn"
    /// "Unit" s "nsjt-nspawn.scope" "Leader" u 32557 "Class" s "container"
    /// "RootDirectory" s "/tmp/bbroot" "NetworkInterfaces" ai 0 "State" s "running"
    /// ```
    fn recorded() -> HashMap<String, OwnedValue> {
        let id: Vec<u8> = vec![
            133, 133, 244, 66, 38, 99, 67, 140, 183, 70, 212, 97, 67, 57, 25, 124,
        ];
        let mut p = HashMap::new();
        p.insert("Name".into(), owned(Value::Str(Str::from("nsjt2"))));
        p.insert("Id".into(), owned(Value::from(id)));
        p.insert("Timestamp".into(), owned(Value::U64(1795981883882736)));
        p.insert("TimestampMonotonic".into(), owned(Value::U64(3529056246)));
        p.insert("Service".into(), owned(Value::from("systemd-nspawn")));
        p.insert("Unit".into(), owned(Value::from("nsjt-nspawn.scope")));
        p.insert("Leader".into(), owned(Value::U32(32557)));
        p.insert("Class".into(), owned(Value::from("container")));
        p.insert("RootDirectory".into(), owned(Value::from("/tmp/bbroot")));
        p.insert(
            "NetworkInterfaces".into(),
            owned(Value::from(Vec::<i32>::new())),
        );
        p.insert("State".into(), owned(Value::from("running")));
        p
    }

    #[test]
    fn machine_properties_are_checked() {
        let c = machine("nsjt2", &recorded()).unwrap();
        assert_eq!(
            (c.engine, c.id.as_str(), c.name.as_str(), c.pid),
            (
                Engine::Nspawn,
                "8585f4422663438cb746d4614339197c",
                "nsjt2",
                32557
            )
        );
        let mut no_id = recorded();
        no_id.insert("Id".into(), owned(Value::from(vec![0u8; 16])));
        assert_eq!(machine("nsjt2", &no_id).unwrap().id, "nsjt2");
        let mut closing = recorded();
        closing.insert("State".into(), owned(Value::from("closing")));
        assert!(machine("nsjt2", &closing)
            .unwrap_err()
            .contains("not running"));
        let mut no_leader = recorded();
        no_leader.insert("Leader".into(), owned(Value::U32(0)));
        assert_eq!(
            machine("nsjt2", &no_leader).unwrap_err(),
            "machined reported the container running but with no valid PID (Leader 0)"
        );
        no_leader.remove("Leader");
        assert!(machine("nsjt2", &no_leader)
            .unwrap_err()
            .contains("no Leader"));
        let mut wrong = recorded();
        wrong.insert("Leader".into(), owned(Value::from("42")));
        assert!(machine("nsjt2", &wrong).unwrap_err().contains("uint32"));
        let mut huge = recorded();
        huge.insert("Leader".into(), owned(Value::U32(u32::MAX)));
        assert!(machine("nsjt2", &huge).is_err());
    }

    #[test]
    fn what_the_bus_sends_is_bounded() {
        // A real exchange: the OK line, then a message of 16 + 8 (fields) + 4 (body).
        let mut f = Framing::default();
        f.take(b"OK 0123456789abcdef0123456789abcdef\r\n").unwrap();
        let mut message = vec![b'l', 2, 1, 1];
        message.extend_from_slice(&4u32.to_le_bytes());
        message.extend_from_slice(&1u32.to_le_bytes());
        message.extend_from_slice(&5u32.to_le_bytes());
        message.extend_from_slice(&[0; 8]);
        message.extend_from_slice(b"abcd");
        // Byte by byte as well as at once.
        for b in &message {
            f.take(std::slice::from_ref(b)).unwrap();
        }
        f.take(&message).unwrap();
        f.take(b"AGREE_UNIX_FD\r\n").unwrap();
        f.take(&message).unwrap();
        // Big-endian, announcing 128 MiB: refused on its 16th byte.
        let mut huge = vec![b'B', 2, 1, 1];
        huge.extend_from_slice(&(128u32 << 20).to_be_bytes());
        huge.extend_from_slice(&[0; 8]);
        assert!(f.take(&huge).unwrap_err().contains("refused"));
        // A line without end.
        let mut f = Framing::default();
        assert!(f.take(&[b'O'; MAX_LINE + 1]).unwrap_err().contains("line"));
        // Endless small messages.
        let mut f = Framing::default();
        let err = (0..).find_map(|_| f.take(&message).err()).unwrap();
        assert!(err.contains("16 MiB"), "{err}");
    }

    #[test]
    fn no_bus_is_one_clear_line() {
        let deadline = Deadline::after(std::time::Duration::from_secs(10));
        let e = resolve_on("unix:path=/nonexistent/nsjoin-bus", "x", &deadline).unwrap_err();
        assert_eq!(
            e,
            "cannot reach systemd-machined: no D-Bus system bus at \
             unix:path=/nonexistent/nsjoin-bus: No such file or directory"
        );
        assert!(resolve_on("bogus", "x", &deadline)
            .unwrap_err()
            .starts_with("bad D-Bus system bus address"));
    }

    #[test]
    fn callers_inside_tokio_get_an_answer_not_a_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let deadline = Deadline::after(std::time::Duration::from_secs(10));
        let e = runtime
            .block_on(async { resolve_on("unix:path=/nonexistent/nsjoin-bus", "x", &deadline) });
        assert!(e.unwrap_err().starts_with("cannot reach systemd-machined"));
    }
}
