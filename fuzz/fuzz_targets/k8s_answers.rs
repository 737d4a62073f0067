#![no_main]
//! CRI `ListPodSandbox` / `ListContainers` answers, as `k8s://` targets choose the
//! pod's sandbox and container from them (framed or bare).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let message = nsjoin::fuzz::grpc_unframe(data).unwrap_or_else(|_| data.to_vec());
    for picked in nsjoin::fuzz::k8s_answers(&message) {
        // Every refusal reaches the user as one line without control characters,
        // whatever names the runtime gave.
        if let Err(e) = picked {
            assert!(!e.chars().any(char::is_control), "{e:?}");
        }
    }
});
