#![no_main]
//! HTTP/1.1 responses from the engines' unix sockets.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, body)) = nsjoin::fuzz::http_response(data) {
        assert!(body.len() <= data.len());
    }
});
