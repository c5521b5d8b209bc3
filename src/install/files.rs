//! The files of an install while they are being built: the [`ChunkSink`] of the chunk engine.
//!
//! Each file is built in `DIR/.galaxy-dl/tmp/`, preallocated at its final size and mapped when
//! its first chunk arrives. Chunks are journaled as they land (after their bytes are written
//! back). A whole-file MD5/SHA-256 follows the chunks in order as they complete, reading the
//! bytes from the mapping while they are hot, so it is ready when the last chunk lands. A file
//! that checks out gets its executable bits, is renamed to its final path atomically, and is
//! journaled as finished with its identity.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;
use md5::{Digest, Md5};
use sha2::Sha256;

use super::plan::{Plan, PlanFile};
use super::state::{ensure_parents, JournalState, Stamp, StateDir};
use crate::error::{Error, Result};
use crate::fetch::chunk::{ChunkJob, ChunkSink};
use crate::journal::Record;
use crate::progress::{Event, FileStatus, Progress};
use crate::sink::MappedFile;
use crate::verify::hex;

/// Build state of one file.
#[derive(Default)]
struct Slot {
    map: Option<Arc<MappedFile>>,
    done: Vec<bool>,
    next: usize,
    md5: Option<Md5>,
    sha: Option<Sha256>,
    finished: bool,
}

/// The set of files one run builds.
pub struct FileSet<'a> {
    state: &'a StateDir,
    plan: &'a Plan,
    slots: Vec<Mutex<Slot>>,
    journal: Sender<Record>,
    progress: &'a Progress,
    /// Files finished in this run.
    pub finished: AtomicU64,
}

impl<'a> FileSet<'a> {
    /// A set over `plan`, journaling to `journal`.
    pub fn new(state: &'a StateDir, plan: &'a Plan, journal: Sender<Record>, progress: &'a Progress) -> FileSet<'a> {
        let slots = plan
            .files
            .iter()
            .map(|f| {
                let fh = needs_file_hash(f);
                Mutex::new(Slot {
                    done: vec![false; f.chunks().len()],
                    md5: f.md5.as_ref().filter(|_| fh).map(|_| Md5::new()),
                    sha: if f.md5.is_none() && fh { f.sha256.as_ref().map(|_| Sha256::new()) } else { None },
                    ..Slot::default()
                })
            })
            .collect();
        FileSet { state, plan, slots, journal, progress, finished: AtomicU64::new(0) }
    }

    fn slot(&self, i: usize) -> std::sync::MutexGuard<'_, Slot> {
        self.slots[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the whole-file digest of file `i` covers its chunks (so the chunk engine need
    /// not hash the inflated bytes again).
    pub fn file_hash_covers(&self, i: usize) -> bool {
        let f = &self.plan.files[i];
        needs_file_hash(f) && (f.md5.is_some() || f.sha256.is_some())
    }

    /// Mark chunk `chunk` of file `i` as already present (resumed from the journal).
    pub fn mark_resumed(&self, i: usize, chunk: usize) {
        self.slot(i).done[chunk] = true;
    }

    /// Open (create, preallocate, map) file `i` under construction.
    fn open(&self, i: usize, s: &mut Slot) -> Result<Arc<MappedFile>> {
        if let Some(m) = &s.map {
            return Ok(m.clone());
        }
        let f = &self.plan.files[i];
        let tmp = self.state.tmp_path(&f.path);
        let (m, _) = MappedFile::create(&tmp, f.size)?;
        let m = Arc::new(m);
        s.map = Some(m.clone());
        Ok(m)
    }

    /// Finish a file whose chunks are all in place: check the whole-file digest, set bits,
    /// rename to the final path, journal it.
    fn finish(&self, i: usize, s: &mut Slot) -> Result<()> {
        let f = &self.plan.files[i];
        if let (Some(h), Some(want)) = (s.md5.take(), &f.md5) {
            let got = hex(&h.finalize());
            if &got != want {
                return Err(self.bad_file(f, want, got));
            }
        }
        if let (Some(h), Some(want)) = (s.sha.take(), &f.sha256) {
            let got = hex(&h.finalize());
            if !got.eq_ignore_ascii_case(want) {
                return Err(self.bad_file(f, want, got));
            }
        }
        let map = s.map.take();
        let tmp = self.state.tmp_path(&f.path);
        if let Some(m) = &map {
            m.flush_range(0, f.size)?;
        }
        drop(map);
        install_file(self.state, f, &tmp)?;
        s.finished = true;
        self.finished.fetch_add(1, Ordering::Relaxed);
        let dest = self.state.install_dir().join(&f.path);
        if let Some(stamp) = Stamp::of(&dest, &f.content_id()) {
            let _ = self.journal.send(Record { data: None, line: JournalState::file_line(&f.path, &stamp) });
        }
        self.progress.emit(Event::File {
            path: f.path.clone(),
            size: f.size,
            md5: f.md5.clone(),
            status: FileStatus::Done,
        });
        Ok(())
    }

    fn bad_file(&self, f: &PlanFile, want: &str, got: String) -> Error {
        // Nothing of it may be trusted on the next run.
        let _ = std::fs::remove_file(self.state.tmp_path(&f.path));
        let _ = self.journal.send(Record { data: None, line: format!("x\t{}", f.path) });
        Error::Checksum { what: f.path.clone(), expected: want.to_string(), actual: got }
    }

    /// Advance file `i`'s whole-file digest over chunks done in order; finish it when complete.
    fn advance(&self, i: usize, s: &mut Slot) -> Result<()> {
        let f = &self.plan.files[i];
        let chunks = f.chunks();
        while s.next < chunks.len() && s.done[s.next] {
            if s.md5.is_some() || s.sha.is_some() {
                let c = &chunks[s.next];
                let m = self.open(i, s)?;
                // SAFETY: chunk `next` is finished; no writer touches it any more.
                let bytes = unsafe { m.slice(c.offset, c.size as usize) };
                if let Some(h) = s.md5.as_mut() {
                    h.update(bytes);
                }
                if let Some(h) = s.sha.as_mut() {
                    h.update(bytes);
                }
            }
            s.next += 1;
        }
        if s.next == chunks.len() && !s.finished {
            self.finish(i, s)?;
        }
        Ok(())
    }

    /// Finish files that need no download (empty files, all chunks resumed).
    pub fn settle(&self, i: usize) -> Result<()> {
        let mut s = self.slot(i);
        if self.plan.files[i].size == 0 {
            let tmp = self.state.tmp_path(&self.plan.files[i].path);
            std::fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        }
        self.advance(i, &mut s)
    }
}

impl ChunkSink for FileSet<'_> {
    fn file(&self, file: usize) -> Result<Arc<MappedFile>> {
        let mut s = self.slot(file);
        self.open(file, &mut s)
    }

    fn done(&self, job: &ChunkJob) -> Result<()> {
        for t in &job.targets {
            let f = &self.plan.files[t.file];
            let idx = f
                .chunks()
                .binary_search_by_key(&t.offset, |c| c.offset)
                .map_err(|_| Error::manifest(&f.path, "chunk target not in plan"))?;
            let mut s = self.slot(t.file);
            let m = self.open(t.file, &mut s)?;
            let _ = self.journal.send(Record {
                data: Some((m, t.offset, job.size)),
                line: JournalState::chunk_line(&f.path, t.offset, &job.compressed_md5),
            });
            s.done[idx] = true;
            self.advance(t.file, &mut s)?;
        }
        Ok(())
    }
}

/// Whether a file's whole-file digest must be computed: always for several chunks (or V1
/// data); for one chunk only when the file digest is not simply that chunk's MD5, which the
/// chunk engine checks anyway.
fn needs_file_hash(f: &PlanFile) -> bool {
    match f.chunks() {
        [] => true,
        [one] => f.md5.as_deref() != Some(one.md5.as_str()),
        _ => true,
    }
}

/// Give a finished file its bits and its final name.
pub fn install_file(state: &StateDir, f: &PlanFile, tmp: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dest = ensure_parents(state.install_dir(), &f.path)?;
    if dest.is_dir() {
        return Err(Error::Io {
            op: "replace",
            path: dest,
            source: std::io::Error::other("a directory is in the way"),
        });
    }
    let mode = if f.executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(mode)).map_err(|e| Error::io("chmod", tmp, e))?;
    std::fs::rename(tmp, &dest).map_err(|e| Error::io("rename", &dest, e))
}
