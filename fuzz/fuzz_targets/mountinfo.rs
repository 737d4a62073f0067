#![no_main]
//! `/proc/self/mountinfo` (nsfs entries), ns/fd link text, /proc entry names.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nsjoin::fuzz::mountinfo(data);
    let _ = nsjoin::fuzz::ns_link(data);
    let _ = nsjoin::fuzz::proc_pid(data);
});
