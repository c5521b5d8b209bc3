//! The `galaxy-dl` binary: see `src/cli/`.
fn main() {}
