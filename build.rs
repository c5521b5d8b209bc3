//! Build script: one linker flag for the static musl binary, nothing else.
//!
//! The musl target links a static PIE: every pointer in a vtable or a static table gets a
//! relocation the startup code applies before `main`, 24 bytes each in `.rela.dyn` (~4,000 of
//! them, ~95 KB of a ~3 MB binary). `-z pack-relative-relocs` (DT_RELR) stores the same
//! relocations as a bitmap of a few hundred bytes; the binary stays position-independent (ASLR
//! unchanged). musl applies DT_RELR since 1.2.4 (Rust bundles 1.2.5); GNU ld has the flag since
//! 2.38, lld since 15. Other targets are left alone (glibc needs 2.36 for DT_RELR).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if env == "musl" && os == "linux" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
