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
use std::io;
use std::os::unix::net::UnixStream;

use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use super::dbus::{self, short};
use super::socket::Deadline;
use super::{no_valid_pid, Container, ContainerError, ContainerRef, Engine, Listed, Settings};

const MACHINED: &str = "org.freedesktop.machine1";
const MANAGER_PATH: &str = "/org/freedesktop/machine1";
const MANAGER: &str = "org.freedesktop.machine1.Manager";
const MACHINE: &str = "org.freedesktop.machine1.Machine";
const DEFAULT_SYSTEM_BUS: &str = "unix:path=/run/dbus/system_bus_socket";

/// What machined is asked: one machine by name, or the list of them.
#[derive(Clone, Copy)]
enum Ask<'a> {
    Machine(&'a str),
    List,
}

/// What machined answered to an [`Ask`].
enum Answer {
    Machine(Container),
    Machines(Vec<Listed>),
}

fn bus_address(settings: &Settings) -> &str {
    settings
        .dbus_system_bus
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or(DEFAULT_SYSTEM_BUS)
}

pub(crate) fn resolve(
    r: &ContainerRef,
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Container, ContainerError> {
    resolve_on(bus_address(settings), &r.name, deadline)
}

/// The machines systemd-machined knows (`ListMachines`: names, no PIDs).
pub(crate) fn list(
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Vec<Listed>, ContainerError> {
    match on_bus(bus_address(settings), Ask::List, deadline)? {
        Answer::Machines(listed) => Ok(listed),
        Answer::Machine(_) => Err(ContainerError::other("the D-Bus query failed unexpectedly")),
    }
}

/// Asks the machined on the bus at `address` (a D-Bus address such as
/// `unix:path=/run/dbus/system_bus_socket`) for machine `name`, before `deadline`.
pub(crate) fn resolve_on(
    address: &str,
    name: &str,
    deadline: &Deadline,
) -> Result<Container, ContainerError> {
    match on_bus(address, Ask::Machine(name), deadline)? {
        Answer::Machine(container) => Ok(container),
        Answer::Machines(_) => Err(ContainerError::other("the D-Bus query failed unexpectedly")),
    }
}

fn on_bus(address: &str, ask: Ask<'_>, deadline: &Deadline) -> Result<Answer, ContainerError> {
    // A runtime cannot be started on a thread that already drives one: a caller
    // inside tokio gets the query on a thread of its own, joined before returning.
    if tokio::runtime::Handle::try_current().is_ok() {
        return std::thread::scope(|s| {
            s.spawn(|| run(address, ask, deadline))
                .join()
                .unwrap_or_else(|_| {
                    Err(ContainerError::other("the D-Bus query failed unexpectedly"))
                })
        });
    }
    run(address, ask, deadline)
}

fn run(address: &str, ask: Ask<'_>, deadline: &Deadline) -> Result<Answer, ContainerError> {
    // Connected here, bounded by the deadline, rather than by zbus: zbus connects
    // on a blocking thread that nothing can stop, and dropping the runtime would
    // wait for it for as long as the listener's backlog stays full.
    let stream = dbus::connect(address, deadline)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| ContainerError::other(format!("cannot start the D-Bus client: {e}")))?;
    let end = tokio::time::Instant::from_std(deadline.end());
    let answer = runtime.block_on(async {
        tokio::time::timeout_at(end, query(stream, address, ask))
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

async fn query(stream: UnixStream, address: &str, ask: Ask<'_>) -> Result<Answer, ContainerError> {
    let io_error = |e: io::Error| ContainerError::Io {
        socket: format!("D-Bus system bus at {address}"),
        source: e,
    };
    stream.set_nonblocking(true).map_err(io_error)?;
    let stream = tokio::net::UnixStream::from_std(stream).map_err(io_error)?;
    let connection = zbus::connection::Builder::socket(dbus::split(stream))
        .internal_executor(false)
        .build()
        .await
        .map_err(|e| {
            let why = match &e {
                zbus::Error::InputOutput(io) => short(io),
                other => short(other),
            };
            ContainerError::other(format!(
                "cannot reach systemd-machined through the D-Bus system bus at {address}: {why}"
            ))
        })?;
    let name = match ask {
        Ask::Machine(name) => name,
        Ask::List => return list_machines(&connection).await.map(Answer::Machines),
    };
    let reply = connection
        .call_method(
            Some(MACHINED),
            MANAGER_PATH,
            Some(MANAGER),
            "GetMachine",
            &(name,),
        )
        .await
        .map_err(|e| method_error(e, name))?;
    let path: OwnedObjectPath = reply.body().deserialize().map_err(|e| {
        ContainerError::bad(format!(
            "machined answered GetMachine unexpectedly ({})",
            short(&e)
        ))
    })?;
    let reply = connection
        .call_method(
            Some(MACHINED),
            path.as_str(),
            Some("org.freedesktop.DBus.Properties"),
            "GetAll",
            &(MACHINE,),
        )
        .await
        .map_err(|e| method_error(e, name))?;
    let properties: HashMap<String, OwnedValue> = reply.body().deserialize().map_err(|e| {
        ContainerError::bad(format!(
            "machined answered GetAll on {} unexpectedly ({})",
            path.as_str(),
            short(&e)
        ))
    })?;
    machine(name, &properties).map(Answer::Machine)
}

/// `ListMachines`: `a(ssso)`, each machine's name, class, service and object path.
async fn list_machines(connection: &zbus::Connection) -> Result<Vec<Listed>, ContainerError> {
    let reply = connection
        .call_method(
            Some(MACHINED),
            MANAGER_PATH,
            Some(MANAGER),
            "ListMachines",
            &(),
        )
        .await
        .map_err(|e| method_error(e, ""))?;
    let machines: Vec<(String, String, String, OwnedObjectPath)> =
        reply.body().deserialize().map_err(|e| {
            ContainerError::bad(format!(
                "machined answered ListMachines unexpectedly ({})",
                short(&e)
            ))
        })?;
    Ok(machines
        .into_iter()
        // The host itself is listed too, as class "host".
        .filter(|(name, class, _, _)| class != "host" && !name.is_empty())
        .map(|(name, ..)| Listed {
            engine: Engine::Nspawn,
            id: name.clone(),
            name: Some(name),
            pid: None,
        })
        .collect())
}

/// A [`Container`] from a Machine's properties (`GetAll` on
/// `org.freedesktop.machine1.Machine`).
pub(crate) fn machine(
    name: &str,
    properties: &HashMap<String, OwnedValue>,
) -> Result<Container, ContainerError> {
    let leader = properties
        .get("Leader")
        .ok_or_else(|| ContainerError::bad("machined reported no Leader for the machine"))?;
    let leader = u32::try_from(leader).map_err(|_| {
        ContainerError::bad(format!(
            "machined reported a Leader that is not a uint32 ({leader:?})"
        ))
    })?;
    if let Some(state) = properties
        .get("State")
        .and_then(|s| <&str>::try_from(s).ok())
    {
        if state == "closing" {
            return Err(ContainerError::not_running("status: closing"));
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

fn method_error(e: zbus::Error, name: &str) -> ContainerError {
    match &e {
        zbus::Error::MethodError(error, message, _) => match error.as_str() {
            "org.freedesktop.machine1.NoSuchMachine" => ContainerError::NotFound {
                engine: Engine::Nspawn,
                name: name.to_owned(),
                detail: None,
            },
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner" => ContainerError::NoMachined,
            other => ContainerError::DbusError {
                name: other.to_owned(),
                message: message.clone(),
            },
        },
        _ => ContainerError::other(format!("D-Bus: {}", short(&e))),
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
            .to_string()
            .contains("not running"));
        let mut no_leader = recorded();
        no_leader.insert("Leader".into(), owned(Value::U32(0)));
        assert_eq!(
            machine("nsjt2", &no_leader).unwrap_err().to_string(),
            "machined reported the container running but with no valid PID (Leader 0)"
        );
        no_leader.remove("Leader");
        assert!(machine("nsjt2", &no_leader)
            .unwrap_err()
            .to_string()
            .contains("no Leader"));
        let mut wrong = recorded();
        wrong.insert("Leader".into(), owned(Value::from("42")));
        assert!(machine("nsjt2", &wrong)
            .unwrap_err()
            .to_string()
            .contains("uint32"));
        let mut huge = recorded();
        huge.insert("Leader".into(), owned(Value::U32(u32::MAX)));
        assert!(machine("nsjt2", &huge).is_err());
    }

    #[test]
    fn no_bus_is_one_clear_line() {
        let deadline = Deadline::after(std::time::Duration::from_secs(10));
        let e = resolve_on("unix:path=/nonexistent/nsjoin-bus", "x", &deadline).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot reach systemd-machined: no D-Bus system bus at \
             unix:path=/nonexistent/nsjoin-bus: No such file or directory"
        );
        assert!(resolve_on("bogus", "x", &deadline)
            .unwrap_err()
            .to_string()
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
        assert!(e
            .unwrap_err()
            .to_string()
            .starts_with("cannot reach systemd-machined"));
    }
}
