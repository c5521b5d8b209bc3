//! Shared helpers for the integration tests: scratch directories and running the real binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("galaxy-dl-test-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    /// Names of the entries in the directory, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_galaxy-dl")
}

/// A command for the binary with fast retries and test-friendly timeouts.
pub fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .env("GALAXY_DL_RETRY_SLEEP_MS", "5")
        .env("GALAXY_DL_READ_TIMEOUT_MS", "3000")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    c
}

/// Start the binary with `args`, the variables of `env` and then of `extra` (a later one wins),
/// stdout and stderr piped.
pub fn spawn(env: &[(String, String)], extra: &[(&str, &str)], args: &[&str]) -> std::process::Child {
    let mut c = cmd(args);
    c.envs(env.iter().map(|(k, v)| (k, v))).envs(extra.iter().copied());
    c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Run to completion.
pub fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = cmd(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert the exit code, printing the output on failure.
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

/// No panic, no backtrace, and (for errors) one line naming the cause.
pub fn assert_clean_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "panic: {err}");
    let last = err.lines().last().unwrap_or("");
    assert!(last.starts_with("galaxy-dl: "), "no error line: {err}");
    assert!(err.to_lowercase().contains(&needle.to_lowercase()), "expected {needle:?} in:\n{err}");
}

pub fn md5_file(p: &Path) -> String {
    galaxy_dl::verify::md5_hex(&std::fs::read(p).unwrap())
}
pub mod gog;

/// Wait for `child` at most `limit`; kill it and fail the test when it takes longer.
pub fn finish_within(mut child: std::process::Child, limit: std::time::Duration, what: &str) -> Output {
    let t = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!("{what}: still running after {limit:?} (hang)\nstderr:\n{}", stderr(&o));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
