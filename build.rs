//! Build script: linker flags for the static musl release binary, nothing else.
//!
//! The musl target links a static PIE: every pointer in a vtable or a static table gets a
//! relocation the startup code applies before `main`, 24 bytes each in `.rela.dyn` (~4,000 of
//! them, ~95 KB of a ~3 MB binary). `-z pack-relative-relocs` (DT_RELR) stores the same
//! relocations as a bitmap of a few hundred bytes; the binary stays position-independent (ASLR
//! unchanged). musl applies DT_RELR since 1.2.4 (Rust bundles 1.2.5); GNU ld has the flag since
//! 2.38, lld since 15. Other targets are left alone (glibc needs 2.36 for DT_RELR).
//!
//! Release builds only (the release profile has `panic = "abort"`): `link/discard-eh-frame.ld`
//! drops the DWARF unwind tables (`.eh_frame`, ~280 KB, and its ~40 KB index). With panics
//! aborting, nothing unwinds; the tables served only the backtrace of `RUST_BACKTRACE=1`
//! (addresses without names in a stripped binary) and debuggers' stack walks of the shipped
//! binary. `-C force-unwind-tables=no` cannot do this: the precompiled std keeps its tables.
//! A panic still prints its message and aborts (the message says "stack backtrace:" and lists
//! no frame). Not for dev/test builds, which unwind (`PROFILE` is "debug" for them).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/discard-eh-frame.ld");
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if env == "musl" && os == "linux" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        if std::env::var("PROFILE").as_deref() == Ok("release") {
            let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
            println!("cargo:rustc-link-arg-bins=-Wl,-T,{dir}/link/discard-eh-frame.ld");
        }
    }
}
