#![no_main]
//! `/proc/PID/environ`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for (k, v) in nsjoin::fuzz::environ(data) {
        assert!(!k.is_empty());
        assert!(k.len() + v.len() < data.len().max(1));
    }
});
