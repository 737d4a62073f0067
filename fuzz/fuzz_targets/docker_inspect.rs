#![no_main]
//! Docker/Podman Engine API inspect JSON.
use libfuzzer_sys::fuzz_target;
use nsjoin::container::Engine;

fuzz_target!(|data: &[u8]| {
    for engine in [Engine::Docker, Engine::Podman] {
        if let Ok(c) = nsjoin::fuzz::docker_inspect(engine, data) {
            assert!(c.pid > 0);
        }
    }
});
