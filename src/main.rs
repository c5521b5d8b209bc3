//! The `galaxy-dl` binary: everything user-facing is in `cli/`, everything else in the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
