//! `Spawn::confine` through the library: a program started inside a process's
//! namespaces gets that process's security context (compared line by line with
//! what the process's own children get), and what contradicts it or cannot be
//! confined is refused. The command's side-by-side tests with `docker exec` are in
//! crates/nsjoin-cli/tests/confine.rs.

use std::process::Command;

use nsjoin_test_support as common;

use common::{security_lines, StatusTarget};
use nsjoin::{Dir, Error, Kind, KindSet, Spawn, Target};

#[test]
fn a_confined_program_has_the_targets_context() {
    if !common::root_or_skip("a_confined_program_has_the_targets_context") {
        return;
    }
    let target = StatusTarget::start(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--bounding-set=-all,+kill",
        "--inh-caps=-all",
        "--no-new-privs",
    ]);
    let handles = Target::pid(target.pid())
        .open(KindSet::from([Kind::Uts, Kind::Ipc, Kind::Mnt]))
        .unwrap();
    let mut cmd = Command::new("cat");
    cmd.arg("/proc/self/status");
    let out = Spawn::new(&handles).confine(true).output(cmd).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = security_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(got, security_lines(&target.status));
    assert!(got.contains(&"NoNewPrivs:\t1".to_owned()), "{got:?}");
    assert!(
        got.contains(&"CapBnd:\t0000000000000020".to_owned()),
        "{got:?}"
    );
    // The same Spawn without it: the caller's own context.
    let mut cmd = Command::new("cat");
    cmd.arg("/proc/self/status");
    let out = Spawn::new(&handles).output(cmd).unwrap();
    let free = security_lines(&String::from_utf8_lossy(&out.stdout));
    assert_ne!(free, got);
}

#[test]
fn confine_refuses_what_contradicts_it_and_namespace_files() {
    if !common::root_or_skip("confine_refuses_what_contradicts_it_and_namespace_files") {
        return;
    }
    let handles = Target::pid(std::process::id() as i32)
        .open(KindSet::from(Kind::Uts))
        .unwrap();
    let refused = |spawn: &mut Spawn| {
        let err = spawn.output(Command::new("true")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
        err.to_string()
    };
    let msg = refused(Spawn::new(&handles).confine(true).uid(0));
    assert!(msg.contains("contradicts a user ID"), "{msg}");
    let msg = refused(Spawn::new(&handles).confine(true).gid(0));
    assert!(msg.contains("contradicts a group ID"), "{msg}");
    let msg = refused(Spawn::new(&handles).confine(true).groups([0]));
    assert!(msg.contains("contradicts supplementary groups"), "{msg}");
    let msg = refused(Spawn::new(&handles).confine(true).keep_caps(true));
    assert!(msg.contains("contradicts keep_caps"), "{msg}");
    let msg = refused(
        Spawn::new(&handles)
            .confine(true)
            .root(Dir::Path("/".into())),
    );
    assert!(msg.contains("contradicts another root"), "{msg}");
    // The target's own root and cwd are what it takes anyway.
    let out = Spawn::new(&handles)
        .confine(true)
        .root(Dir::Target)
        .cwd(Dir::Target)
        .output(Command::new("true"))
        .unwrap();
    assert!(out.status.success());
    // A namespace file belongs to no process with a context to take.
    let file = Target::path("/proc/self/ns/uts")
        .open(KindSet::from(Kind::Uts))
        .unwrap();
    let err = Spawn::new(&file)
        .confine(true)
        .output(Command::new("true"))
        .unwrap_err();
    assert!(matches!(err, Error::NeedsProcess { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "Spawn::confine needs a process target, not a namespace file"
    );
}
