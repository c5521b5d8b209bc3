//! `verify` and `repair` of an install, from its saved plan only (no network for verify).
//!
//! Every file of `DIR/.galaxy-dl/plan.json` is read back and checked: V2 files chunk by chunk
//! (MD5 of each chunk's byte range against the manifest's chunk `md5`; the chunks cover every
//! byte, so the whole-file digest is not computed a second time), V1 files whole (`md5`).
//! Missing files, wrong sizes and anything that is not a regular file (a symlink in place of a
//! file) are bad; links must be symlinks to their target, directories must be directories.
//!
//! Hashing is CPU-bound, and every V2 chunk and every V1 file is an MD5 stream of its own, so
//! each hashing thread advances up to [`LANES`] streams in lock step ([`crate::md5x`]): files
//! are cut into units (a V1 file, or up to [`UNIT_BYTES`] of consecutive V2 chunks), largest
//! first; each of a thread's lanes reads one unit front to back, [`PIECE`] bytes per round
//! (`pread` into the lane's own buffer, after `posix_fadvise(SEQUENTIAL)`), and one
//! [`update_many`] per round hashes every lane's piece. Memory: one piece buffer per lane, at
//! most `workers × LANES × PIECE` (1 MiB per thread). Few units (a V1 install that is one huge
//! file) mean few lanes, down to md-5's scalar speed for one stream.
//!
//! Files are read, not mapped: a mapping measured ~7 % faster with a warm page cache, but a
//! file truncated by another process while mapped would kill verify with SIGBUS, whereas
//! `pread` reports it ("file shrank while being read"). A file whose size differs from the
//! plan is bad without reading (a V2 file's chunks inside the shorter length are still
//! checked, so that `repair` keeps the good ones).
//!
//! [`repair`] keeps what verified: a V2 file with some good chunks is moved back to its
//! build path in `tmp/` and the journal vouches for its good chunks (`x` line, then one `c`
//! line per good chunk), so [`Downloader::complete_in`] fetches only the bad chunks; other
//! bad files are removed. Then the missing pieces are fetched, and what was bad is verified
//! again.

// unsafe: this file hashes and repairs through slices of memory-mapped files.
#![allow(unsafe_code)]

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
#[cfg(target_os = "linux")]
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use serde::Serialize;

use super::plan::{Plan, PlanFile, Source};
use super::state::{JournalState, Stamp, StateDir, STATE_DIR};
use super::Downloader;
use crate::error::{Error, Result};
use crate::journal::{Journal, Record};
use crate::md5x::{update_many, Md5State, LANES};
use crate::progress::{Event, FileStatus, Progress, TICK};
use crate::verify::hex;

/// Largest run of consecutive V2 chunks one lane reads as a unit of work (a larger chunk is a
/// unit by itself).
pub const UNIT_BYTES: u64 = 8 << 20;

/// Bytes each lane reads and hashes per lock-step round (one buffer of this size per lane).
pub const PIECE: usize = 64 << 10;

/// What kind of entry of the plan is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A file.
    File,
    /// A symbolic link.
    Link,
    /// A directory.
    Dir,
}

/// Why an entry is bad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Nothing at the path.
    Missing,
    /// Something else is at the path (a symlink, a directory, a file where a link belongs).
    WrongType {
        /// What was found: `symlink`, `directory`, `file`, `other`.
        found: String,
    },
    /// A file of the wrong size (chunks inside the shorter length are still checked).
    Size {
        /// Size from the plan.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// A whole-file digest (V1 `md5`) differs.
    Checksum {
        /// Expected MD5.
        expected: String,
        /// MD5 on disk.
        actual: String,
    },
    /// V2 chunks whose MD5 differs (indices into the file's chunk list).
    Chunks {
        /// Bad chunk indices.
        bad: Vec<usize>,
        /// Chunks of the file.
        total: usize,
    },
    /// A link pointing elsewhere.
    LinkTarget {
        /// Target from the plan (relative to DIR).
        expected: String,
        /// Target on disk, as written.
        actual: String,
    },
    /// A parent directory on disk is a symbolic link (the entry would lie outside DIR).
    SymlinkedParent {
        /// The parent, relative to DIR.
        dir: String,
    },
    /// The file could not be read.
    Unreadable {
        /// The error.
        error: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Missing => write!(f, "missing"),
            Reason::WrongType { found } => write!(f, "wrong type: found a {found}"),
            Reason::Size { expected, actual } => write!(f, "size {actual}, expected {expected}"),
            Reason::Checksum { expected, actual } => write!(f, "MD5 {actual}, expected {expected}"),
            Reason::Chunks { bad, total } => {
                let list: Vec<String> = bad.iter().take(8).map(|i| format!("#{i}")).collect();
                let more = if bad.len() > 8 { ", ..." } else { "" };
                write!(f, "{} of {total} chunks bad ({}{more})", bad.len(), list.join(", "))
            }
            Reason::LinkTarget { expected, actual } => write!(f, "link points to {actual:?}, expected {expected:?}"),
            Reason::SymlinkedParent { dir } => write!(f, "parent {dir} is a symbolic link"),
            Reason::Unreadable { error } => write!(f, "unreadable: {error}"),
        }
    }
}

/// One bad entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadFile {
    /// Path relative to DIR.
    pub path: String,
    /// File, link or directory.
    pub entry: EntryKind,
    /// Why.
    pub reason: Reason,
    /// V2 chunks that verified (kept by `repair`); empty for V1 files.
    #[serde(skip)]
    pub good_chunks: Vec<usize>,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerifyReport {
    /// Files checked.
    pub files: usize,
    /// Links checked.
    pub links: usize,
    /// Directories checked.
    pub dirs: usize,
    /// Bytes the files should hold.
    pub bytes: u64,
    /// Bytes read and hashed.
    pub hashed_bytes: u64,
    /// Seconds spent.
    pub elapsed_secs: f64,
    /// Bad entries, in plan order (files, then links, then directories).
    pub bad: Vec<BadFile>,
}

impl VerifyReport {
    /// Whether everything matched.
    pub fn is_clean(&self) -> bool {
        self.bad.is_empty()
    }
}

/// The outcome of [`repair`].
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    /// The first verification.
    pub before: VerifyReport,
    /// Bytes fetched from the network.
    pub downloaded_bytes: u64,
    /// V2 chunks kept from bad files (not fetched again).
    pub kept_chunks: usize,
    /// The verification after the repair (of what was bad, and of every link and directory).
    pub after: VerifyReport,
}

/// A unit of hashing work: what one lane reads, front to back.
struct Unit {
    file: usize,
    kind: UnitKind,
    /// Bytes to read.
    bytes: u64,
}

enum UnitKind {
    /// Whole file against its MD5 (one stream).
    Whole,
    /// Chunks `first..end` of a V2 file (one stream per chunk).
    Chunks(usize, usize),
}

/// What a unit found.
enum UnitResult {
    Whole(std::result::Result<String, String>),
    Chunks(Vec<usize>, Option<String>),
}

/// Per-file state gathered before hashing.
struct FileCheck {
    reason: Option<Reason>,
    bad_chunks: Vec<usize>,
    stamp: Option<Stamp>,
}

/// Check the install in `dir` against its saved plan with `workers` hashing threads
/// (0 = available parallelism). Takes the install's lock: no verify during a download.
///
/// # Errors
/// [`Error::NotFound`] when `dir` holds no galaxy-dl install; a held lock;
/// [`Error::Interrupted`] when `cancel` is set. Bad files are not errors: see
/// [`VerifyReport::bad`].
pub fn verify(
    dir: &Path,
    workers: usize,
    events: Option<Sender<Event>>,
    cancel: Arc<AtomicBool>,
) -> Result<VerifyReport> {
    let state = StateDir::open_existing(dir)?;
    let plan = load_plan(&state)?;
    let progress = Progress::new(events);
    Ok(verify_in(&state, &plan, workers, &progress, &cancel, None)?.0)
}

fn load_plan(state: &StateDir) -> Result<Plan> {
    state.plan()?.ok_or_else(|| {
        Error::NotFound(format!("no galaxy-dl plan in {} (no {STATE_DIR}/plan.json)", state.install_dir().display()))
    })
}

/// Default number of hashing threads.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

/// Verify `plan` in `state`'s directory; `only` restricts the files checked (links and
/// directories are always checked). Also returns the stamps (taken before hashing) of the
/// files that verified.
fn verify_in(
    state: &StateDir,
    plan: &Plan,
    workers: usize,
    progress: &Progress,
    cancel: &AtomicBool,
    only: Option<&HashSet<String>>,
) -> Result<(VerifyReport, Vec<Option<Stamp>>)> {
    let started = Instant::now();
    let dir = state.install_dir();
    let selected: Vec<usize> =
        (0..plan.files.len()).filter(|&i| only.is_none_or(|o| o.contains(&plan.files[i].path))).collect();
    let total: u64 = selected.iter().map(|&i| plan.files[i].size).sum();
    progress.set_totals(total, 0);
    progress.emit(Event::Start {
        what: format!("verify {}", dir.display()),
        total_bytes: total,
        resumed_bytes: 0,
        files: selected.len() as u64,
    });

    // Stat every file, decide the units of work.
    let mut checks: Vec<FileCheck> =
        plan.files.iter().map(|_| FileCheck { reason: None, bad_chunks: Vec::new(), stamp: None }).collect();
    let mut units = Vec::new();
    let mut parents = ParentCheck::default();
    for &i in &selected {
        let f = &plan.files[i];
        let c = &mut checks[i];
        let p = dir.join(&f.path);
        if let Some(bad) = parents.symlinked_parent(dir, &f.path) {
            c.reason = Some(Reason::SymlinkedParent { dir: bad });
            progress.add_local(f.size);
            continue;
        }
        let m = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                c.reason = Some(Reason::Missing);
                progress.add_local(f.size);
                continue;
            }
            Err(e) => {
                c.reason = Some(Reason::Unreadable { error: e.to_string() });
                progress.add_local(f.size);
                continue;
            }
        };
        if !m.is_file() {
            c.reason = Some(Reason::WrongType { found: type_name(&m) });
            progress.add_local(f.size);
            continue;
        }
        c.stamp = Stamp::of(&p, &f.content_id());
        let len = m.len();
        if len != f.size {
            c.reason = Some(Reason::Size { expected: f.size, actual: len });
        }
        match &f.source {
            Source::Chunks { chunks } => {
                // Chunks that do not fit in what is on disk are bad without reading.
                let fit = chunks.iter().take_while(|ch| ch.offset + ch.size <= len).count();
                c.bad_chunks.extend(fit..chunks.len());
                let skipped: u64 = chunks[fit..].iter().map(|ch| ch.size).sum();
                progress.add_local(skipped);
                let mut first = 0;
                while first < fit {
                    let mut end = first;
                    let mut bytes = 0;
                    while end < fit && (end == first || bytes + chunks[end].size <= UNIT_BYTES) {
                        bytes += chunks[end].size;
                        end += 1;
                    }
                    units.push(Unit { file: i, kind: UnitKind::Chunks(first, end), bytes });
                    first = end;
                }
            }
            Source::Blob { .. } => {
                if c.reason.is_none() && f.md5.is_some() && f.size > 0 {
                    units.push(Unit { file: i, kind: UnitKind::Whole, bytes: f.size });
                } else {
                    progress.add_local(f.size);
                }
            }
        }
    }

    // Hash on `workers` threads (largest units first); the calling thread ticks progress.
    let workers = if workers == 0 { default_workers() } else { workers };
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by_key(|&u| std::cmp::Reverse(units[u].bytes));
    let next = AtomicUsize::new(0);
    let job = Job { dir, plan, units: &units, order: &order, next: &next, progress, cancel };
    let mut results: Vec<Option<UnitResult>> = units.iter().map(|_| None).collect();
    let mut failed = false;
    std::thread::scope(|s| {
        let (tx, rx) = crossbeam_channel::unbounded::<Vec<(usize, UnitResult)>>();
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let tx = tx.clone();
            let job = &job;
            let h = std::thread::Builder::new().name(format!("galaxy-dl-verify-{i}")).spawn_scoped(s, move || {
                let _ = tx.send(job.run());
            });
            // Threads take units until none are left, so any one of them covers the rest if
            // another cannot start; a unit without a result fails the run below.
            if let Ok(h) = h {
                handles.push(h);
            }
        }
        drop(tx);
        loop {
            match rx.recv_timeout(TICK) {
                Ok(done) => {
                    for (u, r) in done {
                        results[u] = Some(r);
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => progress.tick(),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        }
        for h in handles {
            failed |= h.join().is_err();
        }
    });
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    if failed || results.iter().any(Option::is_none) {
        return Err(Error::Io {
            op: "verify",
            path: dir.to_path_buf(),
            source: std::io::Error::other("a hashing thread failed"),
        });
    }
    let mut hashed = 0;
    for (u, r) in units.iter().zip(results.into_iter().flatten()) {
        let f = &plan.files[u.file];
        let c = &mut checks[u.file];
        match r {
            UnitResult::Whole(Ok(got)) => {
                hashed += f.size;
                let want = f.md5.as_ref().map(String::from).unwrap_or_default();
                if got != want {
                    c.reason = Some(Reason::Checksum { expected: want, actual: got });
                }
            }
            UnitResult::Whole(Err(e)) => c.reason = Some(Reason::Unreadable { error: e }),
            UnitResult::Chunks(bad, err) => {
                if let UnitKind::Chunks(a, b) = u.kind {
                    hashed += f.chunks()[a..b].iter().map(|ch| ch.size).sum::<u64>();
                }
                c.bad_chunks.extend(bad);
                if let Some(e) = err {
                    c.reason.get_or_insert(Reason::Unreadable { error: e });
                }
            }
        }
    }

    let mut report = VerifyReport {
        files: selected.len(),
        links: plan.links.len(),
        dirs: plan.dirs.len(),
        bytes: total,
        hashed_bytes: hashed,
        ..VerifyReport::default()
    };
    let mut stamps = Vec::with_capacity(plan.files.len());
    for (i, (f, c)) in plan.files.iter().zip(checks).enumerate() {
        let mut bad_chunks = c.bad_chunks;
        bad_chunks.sort_unstable();
        bad_chunks.dedup();
        let reason = match c.reason {
            Some(r) => Some(r),
            None if !bad_chunks.is_empty() => Some(Reason::Chunks { bad: bad_chunks.clone(), total: f.chunks().len() }),
            None => None,
        };
        match reason {
            Some(reason) if selected.binary_search(&i).is_ok() => {
                let good_chunks = if matches!(
                    reason,
                    Reason::Missing
                        | Reason::WrongType { .. }
                        | Reason::Unreadable { .. }
                        | Reason::SymlinkedParent { .. }
                ) {
                    Vec::new()
                } else {
                    (0..f.chunks().len()).filter(|k| bad_chunks.binary_search(k).is_err()).collect()
                };
                progress.emit(Event::File {
                    path: f.path.clone(),
                    size: f.size,
                    md5: f.md5.as_ref().map(String::from),
                    status: FileStatus::Failed,
                });
                report.bad.push(BadFile { path: f.path.clone(), entry: EntryKind::File, reason, good_chunks });
                stamps.push(None);
            }
            _ => stamps.push(c.stamp),
        }
    }
    for l in &plan.links {
        let parent = parents.symlinked_parent(dir, &l.path).map(|d| Reason::SymlinkedParent { dir: d });
        if let Some(reason) = parent.or_else(|| check_link(dir, &l.path, &l.target)) {
            progress.emit(Event::File { path: l.path.clone(), size: 0, md5: None, status: FileStatus::Failed });
            report.bad.push(BadFile { path: l.path.clone(), entry: EntryKind::Link, reason, good_chunks: Vec::new() });
        }
    }
    for d in &plan.dirs {
        let reason = match parents.symlinked_parent(dir, d) {
            Some(p) => Some(Reason::SymlinkedParent { dir: p }),
            None => match std::fs::symlink_metadata(dir.join(d)) {
                Ok(m) if m.is_dir() => None,
                Ok(m) => Some(Reason::WrongType { found: type_name(&m) }),
                Err(_) => Some(Reason::Missing),
            },
        };
        if let Some(reason) = reason {
            progress.emit(Event::File { path: d.clone(), size: 0, md5: None, status: FileStatus::Failed });
            report.bad.push(BadFile { path: d.clone(), entry: EntryKind::Dir, reason, good_chunks: Vec::new() });
        }
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    progress.emit(Event::Done {
        total_bytes: total,
        downloaded_bytes: 0,
        elapsed_secs: report.elapsed_secs,
        md5: None,
    });
    Ok((report, stamps))
}

/// Remembers which directories of DIR are symbolic links.
#[derive(Default)]
struct ParentCheck {
    symlink: std::collections::HashMap<String, bool>,
}

impl ParentCheck {
    /// The first parent directory of `rel` that is a symbolic link on disk, if any.
    fn symlinked_parent(&mut self, dir: &Path, rel: &str) -> Option<String> {
        let mut end = 0;
        while let Some(k) = rel[end..].find('/') {
            end += k;
            let parent = &rel[..end];
            let is_link = *self.symlink.entry(parent.to_string()).or_insert_with(|| {
                std::fs::symlink_metadata(dir.join(parent)).map(|m| m.file_type().is_symlink()).unwrap_or(false)
            });
            if is_link {
                return Some(parent.to_string());
            }
            end += 1;
        }
        None
    }
}

fn type_name(m: &std::fs::Metadata) -> String {
    let t = m.file_type();
    if t.is_symlink() {
        "symlink"
    } else if t.is_dir() {
        "directory"
    } else if t.is_file() {
        "file"
    } else {
        "special file"
    }
    .to_string()
}

/// Whether the link at `rel` points at `target` (relative to DIR), written relative or absolute.
fn check_link(dir: &Path, rel: &str, target: &str) -> Option<Reason> {
    let p = dir.join(rel);
    let m = match std::fs::symlink_metadata(&p) {
        Ok(m) => m,
        Err(_) => return Some(Reason::Missing),
    };
    if !m.file_type().is_symlink() {
        return Some(Reason::WrongType { found: type_name(&m) });
    }
    let actual = match std::fs::read_link(&p) {
        Ok(t) => t,
        Err(e) => return Some(Reason::Unreadable { error: e.to_string() }),
    };
    let want: Vec<&str> = target.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let resolved = if actual.is_absolute() {
        let canon = dir.canonicalize().ok();
        let inside =
            actual.strip_prefix(dir).ok().or_else(|| canon.as_deref().and_then(|c| actual.strip_prefix(c).ok()));
        inside.map(|r| normalise(&[], r))
    } else {
        let base: Vec<&str> = rel.split('/').collect();
        Some(normalise(&base[..base.len() - 1], &actual))
    };
    match resolved {
        Some(Some(r)) if r == want => None,
        _ => Some(Reason::LinkTarget { expected: target.to_string(), actual: actual.display().to_string() }),
    }
}

/// Lexically apply `path` to `base` segments; `None` when it climbs out of DIR.
fn normalise<'a>(base: &[&'a str], path: &'a Path) -> Option<Vec<&'a str>> {
    let mut out: Vec<&str> = base.to_vec();
    for c in path.components() {
        match c {
            std::path::Component::Normal(s) => out.push(s.to_str()?),
            std::path::Component::ParentDir => {
                out.pop()?;
            }
            _ => {}
        }
    }
    Some(out)
}

/// What every hashing thread shares.
struct Job<'a> {
    dir: &'a Path,
    plan: &'a Plan,
    units: &'a [Unit],
    /// Unit indices, largest first: the order in which threads take them.
    order: &'a [usize],
    /// Next position in `order`.
    next: &'a AtomicUsize,
    progress: &'a Progress,
    cancel: &'a AtomicBool,
}

impl Job<'_> {
    /// One hashing thread. It keeps up to [`LANES`] units open, one per lane, each read front
    /// to back [`PIECE`] bytes per round; a round advances the current MD5 stream of every lane
    /// together ([`update_many`]), and a lane that finishes its unit takes the next one. At most
    /// one unit larger than a piece is taken per round, so a thread's lanes start and end
    /// staggered and the threads take the remaining units in turn (an even split, not one
    /// thread grabbing 16 at once). Returns the result of every unit it took.
    fn run(&self) -> Vec<(usize, UnitResult)> {
        let mut done = Vec::new();
        let mut lanes: Vec<Lane<'_>> = Vec::with_capacity(LANES);
        let mut spare: Vec<Vec<u8>> = Vec::new();
        let mut exhausted = false;
        loop {
            let mut took_big = false;
            while lanes.len() < LANES && !took_big && !exhausted && !self.cancel.load(Ordering::Relaxed) {
                let Some(&u) = self.order.get(self.next.fetch_add(1, Ordering::Relaxed)) else {
                    exhausted = true;
                    break;
                };
                let mut lane = match Lane::open(self, u, spare.pop().unwrap_or_default()) {
                    Ok(lane) => lane,
                    Err(r) => {
                        done.push((u, r));
                        continue;
                    }
                };
                match lane.settle() {
                    Some(r) => {
                        done.push((u, r));
                        spare.push(lane.buf);
                    }
                    None => {
                        took_big = self.units[u].bytes > PIECE as u64;
                        lanes.push(lane);
                    }
                }
            }
            if lanes.is_empty() {
                // Every unit is taken (or verify is cancelled).
                break;
            }
            if self.cancel.load(Ordering::Relaxed) {
                done.extend(lanes.drain(..).map(|l| (l.unit, l.fail("interrupted".into()))));
                break;
            }
            // One piece per lane; a lane that cannot read is done, its unfinished streams bad.
            let mut i = 0;
            while i < lanes.len() {
                match lanes[i].fill() {
                    Ok(()) => i += 1,
                    Err(e) => {
                        let lane = lanes.swap_remove(i);
                        done.push((lane.unit, lane.fail(e)));
                    }
                }
            }
            let mut bytes = 0;
            {
                let mut states: Vec<&mut Md5State> = Vec::with_capacity(lanes.len());
                let mut pieces: Vec<&[u8]> = Vec::with_capacity(lanes.len());
                for l in lanes.iter_mut() {
                    bytes += l.got as u64;
                    pieces.push(&l.buf[..l.got]);
                    states.push(&mut l.md5);
                }
                update_many(&mut states, &pieces);
            }
            self.progress.add_local(bytes);
            let mut i = 0;
            while i < lanes.len() {
                lanes[i].pos += lanes[i].got as u64;
                match lanes[i].settle() {
                    Some(r) => {
                        let lane = lanes.swap_remove(i);
                        done.push((lane.unit, r));
                        spare.push(lane.buf);
                    }
                    None => i += 1,
                }
            }
        }
        done
    }
}

/// One unit being read and hashed by one lane of a hashing thread.
struct Lane<'a> {
    unit: usize,
    f: &'a PlanFile,
    file: File,
    /// A V1 file: the one stream `0..1` is the whole file.
    whole: bool,
    /// The current stream is chunk `k` of `k..end`.
    k: usize,
    end: usize,
    /// File offset and length of the current stream, and bytes of it hashed so far.
    start: u64,
    len: u64,
    pos: u64,
    md5: Md5State,
    bad: Vec<usize>,
    /// [`PIECE`] bytes; the first `got` hold the piece read this round.
    buf: Vec<u8>,
    got: usize,
}

impl<'a> Lane<'a> {
    /// Open unit `unit` for reading (with `buf` as its buffer); its result if that fails.
    fn open(job: &Job<'a>, unit: usize, mut buf: Vec<u8>) -> std::result::Result<Lane<'a>, UnitResult> {
        let u = &job.units[unit];
        let f = &job.plan.files[u.file];
        let (whole, k, end) = match u.kind {
            UnitKind::Whole => (true, 0, 1),
            UnitKind::Chunks(a, b) => (false, a, b),
        };
        let first = if whole { 0 } else { f.chunks()[k].offset };
        let file = match open_seq(&job.dir.join(&f.path), first, u.bytes) {
            Ok(file) => file,
            Err(e) if whole => return Err(UnitResult::Whole(Err(e.to_string()))),
            Err(e) => return Err(UnitResult::Chunks((k..end).collect(), Some(e.to_string()))),
        };
        buf.resize(PIECE, 0);
        let mut lane = Lane {
            unit,
            f,
            file,
            whole,
            k,
            end,
            start: 0,
            len: 0,
            pos: 0,
            md5: Md5State::new(),
            bad: Vec::new(),
            buf,
            got: 0,
        };
        lane.set_stream();
        Ok(lane)
    }

    /// Start stream `k`.
    fn set_stream(&mut self) {
        (self.start, self.len) = if self.whole {
            (0, self.f.size)
        } else {
            let c = &self.f.chunks()[self.k];
            (c.offset, c.size)
        };
        self.pos = 0;
        self.md5 = Md5State::new();
    }

    /// Read the next piece of the current stream into `buf` (never past the stream's end).
    fn fill(&mut self) -> std::result::Result<(), String> {
        use std::os::unix::fs::FileExt;
        let want = (self.len - self.pos).min(PIECE as u64) as usize;
        let at = self.start + self.pos;
        let mut got = 0;
        while got < want {
            match self.file.read_at(&mut self.buf[got..want], at + got as u64) {
                Ok(0) => return Err("file shrank while being read".into()),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        self.got = got;
        Ok(())
    }

    /// Check the streams that are complete; the unit's result once its last stream is.
    fn settle(&mut self) -> Option<UnitResult> {
        while self.pos == self.len {
            let digest = hex(&std::mem::take(&mut self.md5).finalize());
            if self.whole {
                return Some(UnitResult::Whole(Ok(digest)));
            }
            if digest != self.f.chunks()[self.k].md5 {
                self.bad.push(self.k);
            }
            self.k += 1;
            if self.k == self.end {
                return Some(UnitResult::Chunks(std::mem::take(&mut self.bad), None));
            }
            self.set_stream();
        }
        None
    }

    /// The unit's result when reading stopped with `error`: the streams not finished are bad.
    fn fail(mut self, error: String) -> UnitResult {
        if self.whole {
            UnitResult::Whole(Err(error))
        } else {
            self.bad.extend(self.k..self.end);
            UnitResult::Chunks(self.bad, Some(error))
        }
    }
}

/// Open for reading, with the kernel told to read ahead aggressively over `off..off+len`.
#[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
fn open_seq(p: &Path, off: u64, len: u64) -> std::io::Result<File> {
    let file = File::open(p)?;
    // SAFETY: advisory call on a valid descriptor. (Linux only: macOS has no posix_fadvise.)
    #[cfg(target_os = "linux")]
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), off as libc::off_t, len as libc::off_t, libc::POSIX_FADV_SEQUENTIAL);
    }
    Ok(file)
}

/// Verify the install in `dir`, then fetch exactly what is bad or missing (keeping the good
/// chunks of damaged V2 files), then verify again what was bad. Uses `downloader`'s endpoints,
/// login, engine options, events and cancel flag; `workers` hashing threads (0 = available
/// parallelism).
///
/// # Errors
/// As [`verify`], and as [`Downloader::complete_in`] (network, disk, checksum). A repair that
/// ran but left bad entries is not an error: check [`RepairReport::after`].
pub fn repair(downloader: &Downloader, dir: &Path, workers: usize) -> Result<RepairReport> {
    let state = StateDir::open_existing(dir)?;
    let plan = load_plan(&state)?;
    let info = state.info()?.ok_or_else(|| Error::NotFound(format!("{STATE_DIR}/install.json")))?;
    let cancel = downloader.opts.cancel.clone();
    let progress = Progress::with_queue(downloader.events.clone());
    let (before, stamps) = verify_in(&state, &plan, workers, &progress, &cancel, None)?;
    if before.is_clean() && info.complete {
        return Ok(RepairReport { after: before.clone(), before, downloaded_bytes: 0, kept_chunks: 0 });
    }
    let kept_chunks = prepare(&state, &plan, &before, &stamps)?;
    let summary = downloader.complete_in(&state)?;
    let only: HashSet<String> =
        before.bad.iter().filter(|b| b.entry == EntryKind::File).map(|b| b.path.clone()).collect();
    let (after, _) = verify_in(&state, &plan, workers, &progress, &cancel, Some(&only))?;
    Ok(RepairReport { before, downloaded_bytes: summary.downloaded_bytes, kept_chunks, after })
}

/// Make the disk and the journal say exactly what is good: bad V2 files with good chunks go
/// back to `tmp/` with their good chunks journaled, other bad files are removed, things in
/// the way of links and directories are removed, and good files get a fresh identity record
/// (so the download does not hash them again). Returns the number of chunks kept.
fn prepare(state: &StateDir, plan: &Plan, report: &VerifyReport, stamps: &[Option<Stamp>]) -> Result<usize> {
    let dir = state.install_dir();
    let journal_state = state.journal();
    let mut lines = Vec::new();
    let mut kept = 0;
    let by_path: std::collections::HashMap<&str, usize> =
        plan.files.iter().enumerate().map(|(i, f)| (f.path.as_str(), i)).collect();
    for b in &report.bad {
        if let Reason::SymlinkedParent { dir: parent } = &b.reason {
            // Remove the link (never what it points to); what was under it is fetched again.
            let lp = dir.join(parent);
            if std::fs::symlink_metadata(&lp).map(|m| m.file_type().is_symlink()).unwrap_or(false) {
                std::fs::remove_file(&lp).map_err(|e| Error::io("remove", &lp, e))?;
            }
            continue;
        }
        if b.reason == Reason::Missing && b.entry == EntryKind::File {
            // Nothing to move or remove; a build in tmp/ that the journal vouches for (an
            // interrupted repair or download) is resumed as it is.
            continue;
        }
        let p = dir.join(&b.path);
        let is_dir = std::fs::symlink_metadata(&p).map(|m| m.is_dir()).unwrap_or(false);
        match b.entry {
            EntryKind::File => {
                let f = &plan.files[by_path[b.path.as_str()]];
                let tmp = state.tmp_path(&f.path);
                lines.push(format!("x\t{}", f.path));
                if !b.good_chunks.is_empty() {
                    std::fs::rename(&p, &tmp).map_err(|e| Error::io("move", &p, e))?;
                    let file =
                        std::fs::OpenOptions::new().write(true).open(&tmp).map_err(|e| Error::io("open", &tmp, e))?;
                    if file.metadata().map(|m| m.len()).unwrap_or(0) != f.size {
                        file.set_len(f.size).map_err(|e| Error::io("resize", &tmp, e))?;
                        file.sync_all().map_err(|e| Error::io("sync", &tmp, e))?;
                    }
                    for &k in &b.good_chunks {
                        let c = &f.chunks()[k];
                        lines.push(JournalState::chunk_line(&f.path, c.offset, &c.compressed_md5));
                    }
                    kept += b.good_chunks.len();
                } else {
                    let _ = std::fs::remove_file(&tmp);
                    if !is_dir && std::fs::symlink_metadata(&p).is_ok() {
                        std::fs::remove_file(&p).map_err(|e| Error::io("remove", &p, e))?;
                    }
                }
            }
            EntryKind::Link | EntryKind::Dir => {
                if !is_dir && std::fs::symlink_metadata(&p).is_ok() {
                    std::fs::remove_file(&p).map_err(|e| Error::io("remove", &p, e))?;
                }
            }
        }
    }
    for (f, s) in plan.files.iter().zip(stamps) {
        let Some(s) = s else { continue };
        if !journal_state.file_ok(dir, &f.path, &f.content_id())
            && Stamp::of(&dir.join(&f.path), &s.content).as_ref() == Some(s)
        {
            lines.push(JournalState::file_line(&f.path, s));
        }
    }
    // The moves must be durable before the journal vouches for the chunks in `tmp/`.
    let tmp_dir = state.root().join("tmp");
    if let Ok(d) = File::open(&tmp_dir) {
        let _ = d.sync_all();
    }
    let jp = state.journal_path();
    let journal = Journal::open(&jp, &[], !jp.exists())?;
    let mut batch: Vec<Record> = lines.into_iter().map(|line| Record { data: None, line }).collect();
    journal.commit(&mut batch)?;
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_relative_absolute_and_wrong() {
        let d = std::env::temp_dir().join(format!("galaxy-dl-verify-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::create_dir_all(d.join("t")).unwrap();
        std::os::unix::fs::symlink("../../t/x", d.join("a/b/rel")).unwrap();
        std::os::unix::fs::symlink(d.join("t/x"), d.join("a/abs")).unwrap();
        std::os::unix::fs::symlink("../t/y", d.join("a/wrong")).unwrap();
        std::os::unix::fs::symlink("../../../../etc/passwd", d.join("a/out")).unwrap();
        std::fs::write(d.join("a/file"), b"x").unwrap();
        assert_eq!(check_link(&d, "a/b/rel", "t/x"), None);
        assert_eq!(check_link(&d, "a/abs", "t/x"), None);
        assert!(matches!(check_link(&d, "a/wrong", "t/x"), Some(Reason::LinkTarget { .. })));
        assert!(matches!(check_link(&d, "a/out", "t/x"), Some(Reason::LinkTarget { .. })));
        assert!(matches!(check_link(&d, "a/file", "t/x"), Some(Reason::WrongType { .. })));
        assert_eq!(check_link(&d, "a/none", "t/x"), Some(Reason::Missing));
        std::os::unix::fs::symlink(d.join("t"), d.join("a/c")).unwrap();
        let mut pc = ParentCheck::default();
        assert_eq!(pc.symlinked_parent(&d, "a/c/deep/f"), Some("a/c".to_string()));
        assert_eq!(pc.symlinked_parent(&d, "a/b/f"), None);
        assert_eq!(pc.symlinked_parent(&d, "top"), None);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn reasons_read_well() {
        let r = Reason::Chunks { bad: (0..10).collect(), total: 12 };
        assert_eq!(r.to_string(), "10 of 12 chunks bad (#0, #1, #2, #3, #4, #5, #6, #7, ...)");
        assert_eq!(Reason::Size { expected: 5, actual: 3 }.to_string(), "size 3, expected 5");
        let j = serde_json::to_value(Reason::Missing).unwrap();
        assert_eq!(j["kind"], "missing");
    }

    /// Deterministic bytes.
    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn md5_of(b: &[u8]) -> String {
        use md5::{Digest, Md5};
        hex(&Md5::digest(b))
    }

    /// A V2 file of chunks of the given sizes, written to `dir`.
    fn v2_file(dir: &Path, path: &str, seed: u64, sizes: &[usize]) -> PlanFile {
        let data = bytes(seed, sizes.iter().sum());
        let mut chunks = Vec::new();
        let mut off = 0;
        for &n in sizes {
            chunks.push(super::super::plan::ChunkRef {
                offset: off as u64,
                size: n as u64,
                md5: crate::md5hex::Md5Hex::parse(&md5_of(&data[off..off + n])).unwrap(),
                compressed_md5: crate::md5hex::Md5Hex::parse(&md5_of(&[seed as u8, chunks.len() as u8])).unwrap(),
                compressed_size: n as u64,
            });
            off += n;
        }
        std::fs::write(dir.join(path), &data).unwrap();
        PlanFile {
            path: path.into(),
            size: data.len() as u64,
            md5: crate::md5hex::Md5Hex::parse(&md5_of(&data)),
            sha256: None,
            executable: false,
            product_id: "1".into(),
            source: Source::Chunks { chunks },
            sfc_offset: None,
        }
    }

    /// A V1 file of `len` bytes, written to `dir`.
    fn v1_file(dir: &Path, path: &str, seed: u64, len: usize) -> PlanFile {
        let data = bytes(seed, len);
        std::fs::write(dir.join(path), &data).unwrap();
        PlanFile {
            path: path.into(),
            size: len as u64,
            md5: crate::md5hex::Md5Hex::parse(&md5_of(&data)),
            sha256: None,
            executable: false,
            product_id: "1".into(),
            source: Source::Blob { offset: 0 },
            sfc_offset: None,
        }
    }

    fn flip(p: &Path, at: u64) {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().read(true).write(true).open(p).unwrap();
        let mut b = [0u8];
        f.read_exact_at(&mut b, at).unwrap();
        f.write_all_at(&[b[0] ^ 0x5a], at).unwrap();
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("galaxy-dl-verify-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// More units than lanes (so lanes are refilled), chunks of uneven sizes (smaller and
    /// larger than a piece, not multiples of 64, one empty), a file of many chunks cut into
    /// several units, V1 files of every padding case: exactly the damaged chunks and files are
    /// reported, with any number of threads, and progress counts every planned byte.
    #[test]
    fn lock_step_verify_reports_exactly_the_damage() {
        let d = scratch("lanes");
        let state = StateDir::open(&d).unwrap();
        let mut plan = Plan::default();
        // 60 chunks of ~150 KiB: two units (UNIT_BYTES), chunk 37 corrupt in its last byte.
        let sizes: Vec<usize> = (0..60).map(|k| 140_000 + k * 997).collect();
        assert!(sizes.iter().sum::<usize>() as u64 > UNIT_BYTES);
        plan.files.push(v2_file(&d, "many.bin", 1, &sizes));
        let c37 = &plan.files[0].chunks()[37];
        flip(&d.join("many.bin"), c37.offset + c37.size - 1);
        // 30 small V2 files (more units than LANES); file 11 has a corrupt middle chunk.
        for i in 0..30u64 {
            let sizes = [1 + (i as usize * 7919) % 90_000, 0, 65_536, 64 * (i as usize + 1) + 3];
            plan.files.push(v2_file(&d, &format!("v2-{i}.bin"), 100 + i, &sizes));
        }
        let c = &plan.files[12].chunks()[2];
        flip(&d.join("v2-11.bin"), c.offset + c.size / 2);
        // V1 files around block and piece boundaries; one corrupt.
        for (i, len) in [1usize, 55, 56, 63, 64, 65, 119, 128, 65_535, 65_536, 65_537, 300_001].into_iter().enumerate()
        {
            plan.files.push(v1_file(&d, &format!("v1-{i}.bin"), 500 + i as u64, len));
        }
        flip(&d.join("v1-10.bin"), 40_000);
        // A V2 file shorter than planned (cut inside chunk 2 of 5) and a V1 one: bad by size,
        // the V2 file's chunks inside the shorter length still checked.
        plan.files.push(v2_file(&d, "short2.bin", 900, &[70_000, 70_000, 70_000, 70_000, 70_000]));
        std::fs::OpenOptions::new().write(true).open(d.join("short2.bin")).unwrap().set_len(150_000).unwrap();
        plan.files.push(v1_file(&d, "short1.bin", 901, 200_000));
        std::fs::OpenOptions::new().write(true).open(d.join("short1.bin")).unwrap().set_len(10).unwrap();

        let total: u64 = plan.files.iter().map(|f| f.size).sum();
        for workers in [1, 2, 5] {
            let progress = Progress::new(None);
            let cancel = AtomicBool::new(false);
            let (r, stamps) = verify_in(&state, &plan, workers, &progress, &cancel, None).unwrap();
            assert_eq!(progress.done(), total, "{workers} workers");
            assert_eq!(r.files, plan.files.len());
            let bad: Vec<(&str, &Reason)> = r.bad.iter().map(|b| (b.path.as_str(), &b.reason)).collect();
            assert_eq!(bad.len(), 5, "{workers} workers: {bad:?}");
            assert_eq!(bad[0], ("many.bin", &Reason::Chunks { bad: vec![37], total: 60 }));
            assert_eq!(r.bad[0].good_chunks, (0..60).filter(|&k| k != 37).collect::<Vec<_>>());
            assert_eq!(bad[1], ("v2-11.bin", &Reason::Chunks { bad: vec![2], total: 4 }));
            assert_eq!(bad[2].0, "v1-10.bin");
            assert!(matches!(bad[2].1, Reason::Checksum { .. }), "{:?}", bad[2]);
            assert_eq!(bad[3], ("short2.bin", &Reason::Size { expected: 350_000, actual: 150_000 }));
            assert_eq!(r.bad[3].good_chunks, vec![0, 1]);
            assert_eq!(bad[4], ("short1.bin", &Reason::Size { expected: 200_000, actual: 10 }));
            // Everything but the short V1 file and the chunks past the short V2 file's end.
            assert_eq!(r.hashed_bytes, total - 200_000 - 3 * 70_000, "{workers} workers");
            assert_eq!(stamps.iter().filter(|s| s.is_some()).count(), plan.files.len() - 5);
        }
        let cancel = AtomicBool::new(true);
        let r = verify_in(&state, &plan, 2, &Progress::new(None), &cancel, None);
        assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
        drop(state);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A file that shrinks after it was sized (here: units planned for more bytes than are
    /// on disk) is reported, not hashed past its end, and its unread chunks are bad.
    #[test]
    fn a_file_shorter_than_its_units_is_reported_not_read_past_its_end() {
        let d = scratch("shrank");
        let mut plan = Plan::default();
        plan.files.push(v2_file(&d, "c.bin", 7, &[100_000, 100_000, 100_000, 100_000]));
        plan.files.push(v1_file(&d, "w.bin", 8, 300_000));
        for p in ["c.bin", "w.bin"] {
            std::fs::OpenOptions::new().write(true).open(d.join(p)).unwrap().set_len(150_000).unwrap();
        }
        let units = vec![
            Unit { file: 0, kind: UnitKind::Chunks(0, 4), bytes: 400_000 },
            Unit { file: 1, kind: UnitKind::Whole, bytes: 300_000 },
        ];
        let order = [0, 1];
        let next = AtomicUsize::new(0);
        let progress = Progress::new(None);
        let cancel = AtomicBool::new(false);
        let job = Job {
            dir: &d,
            plan: &plan,
            units: &units,
            order: &order,
            next: &next,
            progress: &progress,
            cancel: &cancel,
        };
        let mut got = job.run();
        got.sort_by_key(|(u, _)| *u);
        assert_eq!(got.len(), 2);
        match &got[0].1 {
            UnitResult::Chunks(bad, Some(e)) => {
                assert_eq!(bad, &vec![1, 2, 3]);
                assert!(e.contains("shrank"), "{e}");
            }
            _ => panic!("chunks unit not reported"),
        }
        match &got[1].1 {
            UnitResult::Whole(Err(e)) => assert!(e.contains("shrank"), "{e}"),
            _ => panic!("whole unit not reported"),
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
