#![no_main]
//! Target specs: `Target::parse` and `ContainerRef::from_str` (and back to text).
use libfuzzer_sys::fuzz_target;
use nsjoin::container::ContainerRef;

fuzz_target!(|s: &str| {
    let _ = ContainerRef::is_spec(s);
    if let Ok(r) = s.parse::<ContainerRef>() {
        // What parses prints back to something that parses to the same.
        assert_eq!(r.to_string().parse::<ContainerRef>().ok(), Some(r));
    }
    let t = nsjoin::Target::parse(s);
    let _ = t.label();
});
