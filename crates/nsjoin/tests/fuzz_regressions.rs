//! Inputs the fuzz targets (fuzz/, `bash fuzz/run.sh`) found to crash a parser, kept
//! so that the fixes stay fixed.

use nsjoin::fuzz;

/// fuzz target lxc_reply: a monitor answering `ret = i32::MIN` overflowed the
/// negation into an errno (a panic in debug builds).
#[test]
fn lxc_reply_with_i32_min_ret_is_an_error() {
    // crash-70f8a41e36ad6dbbf40aecb1a00421e154b7a345 (base64 AAAAgAAArQAAAAih).
    let mut reply = [0u8; fuzz::LXC_REPLY_LEN];
    reply[..4].copy_from_slice(&i32::MIN.to_ne_bytes());
    reply[4..12].copy_from_slice(&[0x00, 0xad, 0x00, 0x00, 0x00, 0x08, 0xa1, 0x00]);
    let why = fuzz::lxc_reply(&reply).unwrap_err();
    assert!(why.contains("refused"), "{why}");
}

/// fuzz target cgroup_path: `\x` followed by a multi-byte character in an nspawn
/// unit name sliced the str inside the character (a panic, in release builds too);
/// `ContainerId::from_cgroup` runs on every process's /proc/PID/cgroup in `nsls`.
#[test]
fn systemd_escape_before_multibyte_char() {
    // crash-e3ebfdbcbf024bd97ff128342b1765dc1813c504, a whole /proc/PID/cgroup text.
    let found = "0::/m/systemd-nspawn@my\\x@\u{a3}xsx1xsery\\x@my\\xspx.service\nb";
    assert_eq!(
        fuzz::cgroup_file(found).map(|c| c.to_string()),
        // From the cgroup alone, not confirmed by any engine: a trailing '?'.
        Some("nspawn://my\\x@\u{a3}xsx1xsery\\x@my\\xspx?".to_owned())
    );
    assert_eq!(
        fuzz::cgroup_path("/machine.slice/machine-a\\x2db\\x+a.scope").map(|c| c.id),
        Some("a-b\\x+a".to_owned())
    );
    for path in [
        "/machine.slice/systemd-nspawn@\\xaé.service",
        "/machine.slice/machine-\\x2é.scope",
        "/systemd-nspawn@\\x\u{1F600}.service",
    ] {
        let _ = fuzz::cgroup_path(path);
    }
}

/// fuzz target k8s_answers: two ready sandboxes whose IDs and pod UIDs are
/// newlines (a runtime may answer anything) made the "ambiguous" refusal span
/// several lines where the target asserted on the bare `ContainerError`. What the
/// user sees is `nsjoin::Error`'s line, which has no control characters: the target
/// now checks that, and this input keeps it checked.
#[test]
fn k8s_sandbox_ids_with_newlines_stay_on_one_line() {
    // crash-18f0446434228f42ab8310385a25dc4534fc8c2a
    let input = b";<\n\n;<\n\x02;<\n\x02 \n \n\n\x02 \n \n";
    let answers = fuzz::k8s_answers(input);
    assert!(answers.iter().any(|a| a.is_err()), "{answers:?}");
    for answer in answers {
        if let Err(line) = answer {
            assert!(!line.chars().any(char::is_control), "{line:?}");
            assert!(line.starts_with("k8s://ns/pod: "), "{line}");
        }
    }
}
