#![no_main]
//! systemd-machined's Machine properties (D-Bus `a{sv}`, as GetAll answers).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First line: the name asked for; the rest: the D-Bus body.
    let (name, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (
            String::from_utf8_lossy(&data[..i]).into_owned(),
            &data[i + 1..],
        ),
        None => ("box".to_owned(), data),
    };
    if let Some(Ok(c)) = nsjoin::fuzz::nspawn_answer(&name, body) {
        assert!(c.pid > 0);
    }
});
