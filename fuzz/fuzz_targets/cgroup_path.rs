#![no_main]
//! `/proc/PID/cgroup`: one path, and a whole file.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    if let Some(c) = nsjoin::fuzz::cgroup_path(s) {
        let _ = c.to_string();
    }
    if let Some(c) = nsjoin::fuzz::cgroup_file(s) {
        let _ = c.to_string();
    }
});
