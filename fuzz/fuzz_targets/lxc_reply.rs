#![no_main]
//! LXC monitor replies to GET_INIT_PID.
use libfuzzer_sys::fuzz_target;
use nsjoin::fuzz::LXC_REPLY_LEN;

fuzz_target!(|data: &[u8]| {
    let mut reply = [0u8; LXC_REPLY_LEN];
    let n = data.len().min(LXC_REPLY_LEN);
    reply[..n].copy_from_slice(&data[..n]);
    if let Ok(pid) = nsjoin::fuzz::lxc_reply(&reply) {
        assert!(pid > 0);
    }
});
