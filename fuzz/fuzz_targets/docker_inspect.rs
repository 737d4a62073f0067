#![no_main]
//! Docker/Podman Engine API JSON: inspect answers and container lists.
use libfuzzer_sys::fuzz_target;
use nsjoin::container::Engine;

fuzz_target!(|data: &[u8]| {
    for engine in [Engine::Docker, Engine::Podman] {
        if let Ok(c) = nsjoin::fuzz::docker_inspect(engine, data) {
            assert!(c.pid > 0);
        }
        if let Ok(list) = nsjoin::fuzz::docker_list(engine, data) {
            for c in list {
                // A name is one a target can carry; a PID is a real one.
                assert!(c.name.is_none_or(|n| !n.is_empty() && !n.contains('/')));
                assert!(c.pid.is_none_or(|p| p > 0));
            }
        }
    }
});
