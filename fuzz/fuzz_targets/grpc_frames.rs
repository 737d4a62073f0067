#![no_main]
//! gRPC response bodies (framing, grpc-message) and the messages inside them: CRI
//! ContainerStatus (with its verbose info JSON) and containerd's Containers/Tasks.
use libfuzzer_sys::fuzz_target;
use nsjoin::container::Engine;

fuzz_target!(|data: &[u8]| {
    let _ = nsjoin::fuzz::grpc_message(data);
    // A framed body, or (so that the fuzzer need not learn the frame) a bare message.
    let message = nsjoin::fuzz::grpc_unframe(data).unwrap_or_else(|_| data.to_vec());
    for engine in [Engine::Cri, Engine::CriO] {
        if let Some(Ok(c)) = nsjoin::fuzz::cri_status(engine, &message) {
            assert!(c.pid > 0);
        }
    }
    let _ = nsjoin::fuzz::containerd_container(&message);
    let _ = nsjoin::fuzz::containerd_task(&message);
    let _ = nsjoin::fuzz::containerd_tasks(&message);
});
