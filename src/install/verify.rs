//! `verify` and `repair` of an install, from its saved plan only (no network for verify).
//!
//! Every file of `DIR/.galaxy-dl/plan.json` is read back and checked: V2 files chunk by chunk
//! (MD5 of each chunk's byte range against the manifest's chunk `md5`; the chunks cover every
//! byte, so the whole-file digest is not computed a second time), V1 files whole (`md5`).
//! Missing files, wrong sizes and anything that is not a regular file (a symlink in place of a
//! file) are bad; links must be symlinks to their target, directories must be directories.
//!
//! Hashing is CPU-bound: files are cut into units (a V1 file, or up to [`UNIT_BYTES`] of
//! consecutive V2 chunks) that a dedicated rayon pool hashes with plain `read`s into one
//! reused buffer per thread, after `posix_fadvise(SEQUENTIAL)`.
//!
//! [`repair`] keeps what verified: a V2 file with some good chunks is moved back to its
//! build path in `tmp/` and the journal vouches for its good chunks (`x` line, then one `c`
//! line per good chunk), so [`Downloader::complete_in`] fetches only the bad chunks; other
//! bad files are removed. Then the missing pieces are fetched, and what was bad is verified
//! again.

#![allow(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use md5::{Digest, Md5};
use rayon::prelude::*;
use serde::Serialize;

use super::plan::{Plan, PlanFile, Source};
use super::state::{JournalState, Stamp, StateDir, STATE_DIR};
use super::Downloader;
use crate::error::{Error, Result};
use crate::journal::{Journal, Record};
use crate::progress::{Event, FileStatus, Progress, TICK};
use crate::verify::hex;

/// Largest run of consecutive V2 chunks hashed as one unit of work.
pub const UNIT_BYTES: u64 = 32 << 20;

/// Read size of the hashing threads (one buffer per thread, reused).
pub const READ_BUF: usize = 256 << 10;

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

/// A unit of hashing work.
struct Unit {
    file: usize,
    kind: UnitKind,
}

enum UnitKind {
    /// Whole file against its MD5.
    Whole,
    /// Chunks `first..end` of a V2 file.
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
                    units.push(Unit { file: i, kind: UnitKind::Chunks(first, end) });
                    first = end;
                }
            }
            Source::Blob { .. } => {
                if c.reason.is_none() && f.md5.is_some() && f.size > 0 {
                    units.push(Unit { file: i, kind: UnitKind::Whole });
                } else {
                    progress.add_local(f.size);
                }
            }
        }
    }

    // Hash on a dedicated pool; the calling thread ticks progress.
    let workers = if workers == 0 { default_workers() } else { workers };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("galaxy-dl-verify-{i}"))
        .build()
        .map_err(|e| Error::io("start", dir, std::io::Error::other(e.to_string())))?;
    let results: Vec<UnitResult> = std::thread::scope(|s| {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let units = &units;
        s.spawn(move || {
            let r: Vec<UnitResult> =
                pool.install(|| units.par_iter().map(|u| run_unit(dir, plan, u, progress, cancel)).collect());
            let _ = tx.send(r);
        });
        loop {
            match rx.recv_timeout(TICK) {
                Ok(r) => break r,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => progress.tick(),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break Vec::new(),
            }
        }
    });
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    if results.len() != units.len() {
        return Err(Error::Io {
            op: "verify",
            path: dir.to_path_buf(),
            source: std::io::Error::other("a hashing thread failed"),
        });
    }
    let mut hashed = 0;
    for (u, r) in units.iter().zip(results) {
        let f = &plan.files[u.file];
        let c = &mut checks[u.file];
        match r {
            UnitResult::Whole(Ok(got)) => {
                hashed += f.size;
                let want = f.md5.clone().unwrap_or_default();
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
                    md5: f.md5.clone(),
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

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn run_unit(dir: &Path, plan: &Plan, u: &Unit, progress: &Progress, cancel: &AtomicBool) -> UnitResult {
    let f = &plan.files[u.file];
    BUF.with(|b| {
        let mut buf = b.borrow_mut();
        if buf.len() != READ_BUF {
            buf.resize(READ_BUF, 0);
        }
        match u.kind {
            UnitKind::Whole => UnitResult::Whole(hash_whole(dir, f, &mut buf, progress, cancel)),
            UnitKind::Chunks(a, b) => {
                let (bad, err) = hash_chunks(dir, f, a, b, &mut buf, progress, cancel);
                UnitResult::Chunks(bad, err)
            }
        }
    })
}

/// Open for reading, with the kernel told to read ahead aggressively over `off..off+len`.
fn open_seq(p: &Path, off: u64, len: u64) -> std::io::Result<File> {
    let file = File::open(p)?;
    // SAFETY: advisory call on a valid descriptor.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), off as libc::off_t, len as libc::off_t, libc::POSIX_FADV_SEQUENTIAL);
    }
    Ok(file)
}

fn hash_whole(
    dir: &Path,
    f: &PlanFile,
    buf: &mut [u8],
    progress: &Progress,
    cancel: &AtomicBool,
) -> std::result::Result<String, String> {
    let mut file = open_seq(&dir.join(&f.path), 0, f.size).map_err(|e| e.to_string())?;
    let mut h = Md5::new();
    let mut left = f.size;
    while left > 0 {
        if cancel.load(Ordering::Relaxed) {
            return Err("interrupted".into());
        }
        let want = left.min(buf.len() as u64) as usize;
        let n = file.read(&mut buf[..want]).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("file shrank while being read".into());
        }
        h.update(&buf[..n]);
        left -= n as u64;
        progress.add_local(n as u64);
    }
    Ok(hex(&h.finalize()))
}

/// Hash chunks `a..b` of `f`: the indices of bad chunks, and a read error if one stopped it
/// (the chunks not read are then counted bad).
fn hash_chunks(
    dir: &Path,
    f: &PlanFile,
    a: usize,
    b: usize,
    buf: &mut [u8],
    progress: &Progress,
    cancel: &AtomicBool,
) -> (Vec<usize>, Option<String>) {
    use std::io::{Seek, SeekFrom};
    let chunks = &f.chunks()[a..b];
    let start = chunks[0].offset;
    let span = chunks.iter().map(|c| c.size).sum();
    let all_bad = || (a..b).collect::<Vec<usize>>();
    let mut file = match open_seq(&dir.join(&f.path), start, span) {
        Ok(x) => x,
        Err(e) => return (all_bad(), Some(e.to_string())),
    };
    if let Err(e) = file.seek(SeekFrom::Start(start)) {
        return (all_bad(), Some(e.to_string()));
    }
    let mut bad = Vec::new();
    for (k, c) in chunks.iter().enumerate() {
        let mut h = Md5::new();
        let mut left = c.size;
        while left > 0 {
            if cancel.load(Ordering::Relaxed) {
                bad.extend(a + k..b);
                return (bad, Some("interrupted".into()));
            }
            let want = left.min(buf.len() as u64) as usize;
            match file.read(&mut buf[..want]) {
                Ok(0) => {
                    bad.extend(a + k..b);
                    return (bad, Some("file shrank while being read".into()));
                }
                Ok(n) => {
                    h.update(&buf[..n]);
                    left -= n as u64;
                    progress.add_local(n as u64);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    bad.extend(a + k..b);
                    return (bad, Some(e.to_string()));
                }
            }
        }
        if hex(&h.finalize()) != c.md5 {
            bad.push(a + k);
        }
    }
    (bad, None)
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
    let progress = Progress::new(downloader.opts.events.clone());
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
}
