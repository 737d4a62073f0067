#![no_main]
//! argv of `nsjoin` and `nsls` (NUL-separated arguments), through getopt and clap.
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut args: Vec<OsString> = vec!["nsjoin".into()];
    if !data.is_empty() {
        args.extend(
            data.split(|&b| b == 0)
                .map(|a| OsString::from_vec(a.to_vec())),
        );
    }
    let _ = nsjoin_cli::args::parse(&args);
    args[0] = "nsls".into();
    let _ = nsjoin_cli::nsls_args::parse(&args);
});
