//! Link settings of the `nsjoin` and `nsls` binaries that a Cargo profile cannot
//! carry, so that `cargo build --release` and `cargo install` get them.
//!
//! Packed relative relocations (`-z pack-relative-relocs`, DT_RELR): a glibc,
//! dynamic, PIE build of `nsjoin` has about 14,000 relative relocations; as RELA
//! entries they are 330 KiB of `.rela.dyn` that the loader reads at every start (84
//! resident pages, 0.35 MiB of peak RSS: BENCHMARKS.md, "Build settings, measured
//! both ways"); as RELR they are 4 KiB. The linker then makes the binary require
//! glibc's `GLIBC_ABI_DT_RELR` (glibc 2.36 and later), so the flag is passed only
//! when building for the machine that builds, and only if its glibc has it. A
//! static build (`+crt-static`, scripts/build-static.sh) has no loader to read
//! them and is left alone.
//!
//! The functions a run executes, together (`hot-text/<binary>.ld`, for optimised
//! builds): a linker script for each binary that places them in one output section
//! before `.text`, where otherwise they lie spread over the whole text and
//! fault-around maps 64 KiB of it for each. BENCHMARKS.md, "Text layout",
//! measures the difference; bench/text-order.sh remakes the lists from traced
//! runs. A function a list does not name only stays where the linker would have
//! put it. rust-lld (rustc's default here) and GNU ld take such a script; mold and
//! gold reject it and fail the link, so where the build names either of them (in
//! its rustflags or linker, or under `mold -run`) the lists are left out and cargo
//! prints a warning saying so. Those builds also go without packed relocations:
//! gold does not know the flag, and mold 1.10 writes a binary glibc refuses.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=hot-text");
    println!("cargo:rerun-if-env-changed=MOLD_PATH");
    let linker = named_linker();
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && env::var("PROFILE").as_deref() == Ok("release")
    {
        match linker {
            Some(linker) => println!(
                "cargo:warning=linking with {linker}: nsjoin and nsls are built without their \
                 hot-text lists, which it rejects, and without packed relocations \
                 (BENCHMARKS.md, \"Text layout\")"
            ),
            None => {
                for bin in ["nsjoin", "nsls"] {
                    let script = format!("{}/hot-text/{bin}.ld", env!("CARGO_MANIFEST_DIR"));
                    println!("cargo:rustc-link-arg-bin={bin}=-Wl,-T,{script}");
                }
            }
        }
    }
    if linker.is_none() && relr_supported() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// mold or gold, if this build names one: in its rustflags (`-fuse-ld=mold`,
/// `--ld-path=/usr/bin/mold`), as its linker, or by running under `mold -run`.
/// Neither takes a linker script with SECTIONS. Nor does either pack relocations
/// the way glibc wants: gold does not know `-z pack-relative-relocs`, and mold
/// (1.10, Debian 12's) packs them without the `GLIBC_ABI_DT_RELR` dependency, so
/// the loader refuses the binary.
fn named_linker() -> Option<&'static str> {
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let linker = env::var("RUSTC_LINKER").unwrap_or_default();
    let named = |spellings: &[&str]| {
        flags
            .split('\x1f')
            .chain([linker.as_str()])
            .any(|arg| spellings.iter().any(|s| arg.contains(s)))
    };
    if env::var_os("MOLD_PATH").is_some() || named(&["fuse-ld=mold", "ld.mold", "/mold"]) {
        Some("mold")
    } else if named(&["fuse-ld=gold", "ld.gold"]) {
        Some("gold")
    } else {
        None
    }
}

fn relr_supported() -> bool {
    let var = |name: &str| env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return false;
    }
    if var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static")
    {
        return false;
    }
    // A cross build cannot ask the target's glibc.
    if var("HOST") != var("TARGET") {
        return false;
    }
    glibc_version().is_some_and(|v| v >= (2, 36))
}

/// The build machine's glibc, from `getconf GNU_LIBC_VERSION` ("glibc 2.36").
fn glibc_version() -> Option<(u32, u32)> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.trim().strip_prefix("glibc ")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
