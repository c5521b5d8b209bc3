//! The `galaxy-dl` binary: everything user-facing is in `cli/`, everything else in the library.

// Unsafe code is allowed only in the files that say why (`#![allow(unsafe_code)]` there).
#![deny(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
