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
use std::time::Duration;

use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use super::{Container, ContainerRef, Engine};

const MACHINED: &str = "org.freedesktop.machine1";
const MANAGER_PATH: &str = "/org/freedesktop/machine1";
const MANAGER: &str = "org.freedesktop.machine1.Manager";
const MACHINE: &str = "org.freedesktop.machine1.Machine";
const DEFAULT_SYSTEM_BUS: &str = "unix:path=/run/dbus/system_bus_socket";
const TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn resolve(r: &ContainerRef) -> Result<Container, String> {
    let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| DEFAULT_SYSTEM_BUS.to_owned());
    resolve_on(&address, &r.name)
}

/// Asks the machined on the bus at `address` (a D-Bus address such as
/// `unix:path=/run/dbus/system_bus_socket`) for machine `name`.
pub(crate) fn resolve_on(address: &str, name: &str) -> Result<Container, String> {
    // A runtime cannot be started on a thread that already drives one: a caller
    // inside tokio gets the query on a thread of its own, joined before returning.
    if tokio::runtime::Handle::try_current().is_ok() {
        return std::thread::scope(|s| {
            s.spawn(|| run(address, name))
                .join()
                .unwrap_or_else(|_| Err("the D-Bus query failed unexpectedly".to_owned()))
        });
    }
    run(address, name)
}

fn run(address: &str, name: &str) -> Result<Container, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the D-Bus client: {e}"))?;
    let answer = runtime.block_on(async {
        tokio::time::timeout(TIMEOUT, query(address, name))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "systemd-machined did not answer within {} s",
                    TIMEOUT.as_secs()
                ))
            })
    });
    // Dropping the runtime waits for its blocking threads: none outlives the query.
    drop(runtime);
    answer
}

async fn query(address: &str, name: &str) -> Result<Container, String> {
    let connection = zbus::connection::Builder::address(address)
        .map_err(|e| format!("bad D-Bus system bus address {address:?}: {}", short(&e)))?
        .internal_executor(false)
        .build()
        .await
        .map_err(|e| {
            let why = match &e {
                zbus::Error::Connection(io, _) | zbus::Error::InputOutput(io) => short(io),
                other => short(other),
            };
            format!("cannot reach systemd-machined: no D-Bus system bus at {address}: {why}")
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
        .ok_or_else(|| format!("container is not running (machined reported Leader {leader})"))?;
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
        assert!(machine("nsjt2", &no_leader)
            .unwrap_err()
            .contains("not running"));
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
    fn no_bus_is_one_clear_line() {
        let e = resolve_on("unix:path=/nonexistent/nsjoin-bus", "x").unwrap_err();
        assert_eq!(
            e,
            "cannot reach systemd-machined: no D-Bus system bus at \
             unix:path=/nonexistent/nsjoin-bus: No such file or directory"
        );
        assert!(resolve_on("bogus", "x")
            .unwrap_err()
            .starts_with("bad D-Bus system bus address"));
    }

    #[test]
    fn callers_inside_tokio_get_an_answer_not_a_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let e = runtime.block_on(async { resolve_on("unix:path=/nonexistent/nsjoin-bus", "x") });
        assert!(e.unwrap_err().starts_with("cannot reach systemd-machined"));
    }
}
