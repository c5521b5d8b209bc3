//! The `galaxy-dl` binary: everything user-facing is in `cli/`, everything else in the library.
//!
//! Before anything else runs, glibc's malloc is told to use at most one arena per core (2 to 8)
//! instead of up to 8 per core: each download worker that meets a busy arena otherwise gets
//! one of its own, and the memory freed into one arena cannot serve another. That one call
//! (`mallopt`, hence the `unsafe` below) cut the peak memory of a 20,000-file install with 64
//! workers by ~6 MiB at the same CPU time (RELIABILITY.md, Scale). `MALLOC_ARENA_MAX` set in the
//! environment wins. The library never changes process-wide settings; musl has no arenas.

// Unsafe code is allowed only in the files that say why (`#![allow(unsafe_code)]` there, or on
// the one item, as below).
#![deny(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    cli::run()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cores.clamp(2, 8)).unwrap_or(2);
    // SAFETY: mallopt only sets a parameter of the allocator (it takes its own lock); no
    // pointer is passed and nothing is allocated or freed by this call.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
