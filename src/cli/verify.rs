//! `verify` and `repair`: argument parsing and the calls into [`galaxy_dl::install::verify`].

use std::path::PathBuf;
use std::sync::Arc;

use galaxy_dl::fetch::EngineOptions;
use galaxy_dl::install::verify::{self, EntryKind, VerifyReport};
use galaxy_dl::install::{DownloadOptions, Downloader};
use galaxy_dl::units::human_bytes;
use galaxy_dl::Error;

use super::args::{engine_flags, finish, output_mode, workers_flag};
use super::report::{OutputMode, Reporter};
use super::signal;

pub const VERIFY_HELP: &str = "\
Check every file of an install against its saved manifest (no network).

Usage: galaxy-dl verify DIR [OPTIONS]

V2 files are checked chunk by chunk (MD5 of each chunk), V1 files by their whole-file MD5;
links and directories of the manifest must exist. Each bad or missing entry is printed on
stdout as `BAD path: reason`, then a summary `N files, M bad`. Exits 0 when everything
matches, 1 otherwise (run `galaxy-dl repair DIR` to fix it).

Options:
      --workers N  Hashing threads [default: one per CPU]
      --json       Newline-delimited JSON events on stdout
      --quiet      No progress on stderr
  -h, --help       Print help
";

pub const REPAIR_HELP: &str = "\
Verify an install, fetch exactly what is bad or missing, and verify it again.

Usage: galaxy-dl repair DIR [OPTIONS]

Good chunks of a damaged V2 file are kept: only its bad chunks are downloaded. A bad V1
file is fetched again from its main.bin range. Missing links and directories are
recreated. Exits 0 only when the final verification is clean.

Options:
      --workers N        Parallel connections and hashing threads
                         [default: 8 connections, one hashing thread per CPU]
      --limit-rate RATE  Overall limit, bytes per second, e.g. 512K, 10M
      --json             Newline-delimited JSON events on stdout
      --quiet            No progress on stderr
  -h, --help             Print help
";

/// Validated arguments of `verify`.
#[derive(Debug)]
pub struct VerifyArgs {
    pub dir: PathBuf,
    /// Hashing threads (0 = available parallelism).
    pub workers: usize,
    pub output_mode: OutputMode,
}

/// Validated arguments of `repair`.
#[derive(Debug)]
pub struct RepairArgs {
    pub dir: PathBuf,
    pub engine: EngineOptions,
    /// Hashing threads (0 = available parallelism).
    pub hash_workers: usize,
    pub output_mode: OutputMode,
}

fn one_dir(cmd: &str, free: Vec<String>) -> Result<PathBuf, String> {
    match free.as_slice() {
        [d] if !d.is_empty() => Ok(PathBuf::from(d)),
        [] | [_] => Err(format!("{cmd} needs a directory: galaxy-dl {cmd} DIR")),
        [_, extra, ..] => Err(format!("unexpected argument {extra:?}")),
    }
}

pub fn parse_verify(mut p: pico_args::Arguments) -> Result<VerifyArgs, String> {
    let workers = workers_flag(&mut p)?.unwrap_or(0);
    let output_mode = output_mode(&mut p);
    let dir = one_dir("verify", finish(p)?)?;
    Ok(VerifyArgs { dir, workers, output_mode })
}

pub fn parse_repair(mut p: pico_args::Arguments) -> Result<RepairArgs, String> {
    let (engine, chunk) = engine_flags(&mut p)?;
    if chunk.is_some() {
        return Err("repair does not take --chunk-size".into());
    }
    let output_mode = output_mode(&mut p);
    let dir = one_dir("repair", finish(p)?)?;
    // Without --workers, hashing uses every CPU (the connection default is 8).
    let given = engine.workers != EngineOptions::default().workers;
    let hash_workers = if given { engine.workers } else { 0 };
    Ok(RepairArgs { dir, engine, hash_workers, output_mode })
}

/// Print the bad entries (`BAD path: reason`) and the summary, or the report as JSON.
fn print_report(r: &VerifyReport, json: bool) {
    if json {
        let bad: Vec<serde_json::Value> = r
            .bad
            .iter()
            .map(|b| {
                serde_json::json!({ "path": b.path, "entry": b.entry, "reason": b.reason, "message": b.reason.to_string() })
            })
            .collect();
        let line = serde_json::json!({
            "event": "verify",
            "files": r.files,
            "links": r.links,
            "dirs": r.dirs,
            "bytes": r.bytes,
            "hashed_bytes": r.hashed_bytes,
            "elapsed_secs": r.elapsed_secs,
            "bad": bad,
        });
        outln!("{line}");
        return;
    }
    for b in &r.bad {
        let what = match b.entry {
            EntryKind::File => "",
            EntryKind::Link => " (link)",
            EntryKind::Dir => " (directory)",
        };
        outln!("BAD {}{what}: {}", b.path, b.reason);
    }
    let rate = if r.elapsed_secs > 0.0 { (r.hashed_bytes as f64 / r.elapsed_secs) as u64 } else { 0 };
    outln!(
        "{} files, {} bad ({} checked in {:.1}s, {}/s)",
        r.files,
        r.bad.len(),
        human_bytes(r.hashed_bytes),
        r.elapsed_secs,
        human_bytes(rate)
    );
}

fn failed(dir: &std::path::Path, r: &VerifyReport) -> Error {
    Error::Checksum {
        what: dir.display().to_string(),
        expected: format!("{} files intact", r.files),
        actual: format!("{} bad or missing", r.bad.len()),
    }
}

pub fn run_verify(a: VerifyArgs) -> Result<(), Error> {
    let cancel = signal::install();
    let reporter = Reporter::start(a.output_mode);
    let r = verify::verify(&a.dir, a.workers, Some(reporter.sender()), cancel);
    reporter.finish();
    let r = r?;
    print_report(&r, a.output_mode.json);
    if r.is_clean() {
        Ok(())
    } else {
        Err(failed(&a.dir, &r))
    }
}

pub fn run_repair(a: RepairArgs) -> Result<(), Error> {
    let cancel = signal::install();
    let reporter = Reporter::start(a.output_mode);
    let client = Arc::new(super::knobs::client(&a.engine)?);
    let mut opts = DownloadOptions::default();
    opts.engine = a.engine;
    opts.events = Some(reporter.sender());
    opts.event_grace = std::time::Duration::MAX; // the reporter always reads: `--json` shows every file
    opts.cancel = cancel;
    let dl = Downloader::new(client, opts);
    let r = verify::repair(&dl, &a.dir, a.hash_workers);
    drop(dl);
    reporter.finish();
    let r = r?;
    if !a.output_mode.json {
        if r.before.is_clean() {
            outln!("nothing to repair: {} files verified", r.before.files);
        } else {
            outln!(
                "repaired {} bad entries: {} downloaded, {} good chunks kept",
                r.before.bad.len(),
                human_bytes(r.downloaded_bytes),
                r.kept_chunks
            );
        }
    }
    if !a.output_mode.json && !r.before.is_clean() {
        out!("re-verified: ");
    }
    print_report(&r.after, a.output_mode.json);
    if r.after.is_clean() {
        Ok(())
    } else {
        Err(failed(&a.dir, &r.after))
    }
}
