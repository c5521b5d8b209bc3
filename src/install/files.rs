//! The files of an install while they are being built: the [`ChunkSink`] of the chunk engine.
//!
//! Each file is built in `DIR/.galaxy-dl/tmp/`, preallocated at its final size and mapped when
//! its first chunk arrives. Chunks are journaled as they land (after their bytes are written
//! back). A whole-file MD5/SHA-256 follows the chunks in order as they complete, reading the
//! bytes from the mapping while they are hot, so it is ready when the last chunk lands. One
//! hasher thread follows every file: the MD5s of all files with bytes ready advance together in
//! lock step ([`crate::md5x`]), so hashing several files costs little more than one. A file
//! that checks out gets its executable bits, is renamed to its final path atomically, and is
//! journaled as finished with its identity.

// unsafe: this file copies into and out of slices of memory-mapped files (disjoint per worker).
#![allow(unsafe_code)]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};
use md5::{Digest, Md5};
use sha2::Sha256;

use super::plan::{Plan, PlanFile, Source};
use super::state::{ensure_parents, JournalState, Stamp, StateDir};
use crate::error::{Error, Result};
use crate::fetch::blob::{BlobSink, Segment};
use crate::fetch::chunk::{ChunkJob, ChunkSink, Target};
use crate::journal::Record;
use crate::md5x::{update_many, Md5State};
use crate::progress::{Event, FileStatus, Progress};
use crate::sink::MappedFile;
use crate::verify::hex;

/// Build state of one file.
#[derive(Default)]
struct Slot {
    map: Option<Arc<MappedFile>>,
    done: Vec<bool>,
    next: usize,
    /// The whole-file MD5 so far, once it has started (`wants_md5`). Boxed and made on first
    /// use: most slots wait or are done, and a digest in each would cost ~100 bytes per file of
    /// the install (~2 MiB at 20,000 files).
    md5: Option<Box<Md5State>>,
    sha: Option<Box<Sha256>>,
    /// The file's whole-file MD5 is computed (its digest starts empty when `md5` is `None`).
    wants_md5: bool,
    /// The hasher has taken `md5` out to advance it over parts from `next` on.
    hashing: bool,
    finished: bool,
}

/// How far the hasher advances one file per lock-step round, so files that become ready
/// meanwhile join the next round soon.
const ROUND_BYTES: u64 = 16 << 20;

/// Files one lock-step round takes at most (the kernels advance 16 at a time; more only grow
/// the round's buffers: 20,000 small files ready at once were ~5 MiB of them).
const ROUND_FILES: usize = 256;

/// The set of files one run builds.
pub struct FileSet<'a> {
    state: &'a StateDir,
    plan: &'a Plan,
    parts: Vec<Vec<(u64, u64)>>,
    v1_part: u64,
    slots: Vec<Mutex<Slot>>,
    journal: Mutex<Option<Sender<Record>>>,
    progress: &'a Progress,
    /// Files finished in this run.
    pub finished: AtomicU64,
    bad: Mutex<Vec<(usize, Error)>>,
    hasher: Mutex<Option<Sender<HashMsg>>>,
    hash_error: Mutex<Option<Error>>,
    /// Finished large files go to the syncer thread ([`FileSet::run_syncer`]).
    syncer: Mutex<Option<Sender<(std::fs::File, String)>>>,
}

/// Files at least this large are synced as they finish ([`FileSet::run_syncer`]); smaller ones
/// are left to the install's final sync (one journal commit for all of them).
const SYNC_EARLY_MIN: u64 = 256 << 10;

/// Files waiting for the syncer at most (each holds an open descriptor).
const SYNC_QUEUE: usize = 64;

/// Work for the file hasher thread.
pub enum HashMsg {
    /// File `i` may have grown its finished prefix: hash it and finish the file if complete.
    File(usize),
    /// Answer once everything sent before is done.
    Sync(Sender<()>),
}

impl Slot {
    fn fresh(f: &PlanFile, parts: usize) -> Slot {
        Slot {
            done: vec![false; parts],
            wants_md5: f.md5.is_some(),
            sha: if f.md5.is_none() { f.sha256.as_ref().map(|_| Box::new(Sha256::new())) } else { None },
            ..Slot::default()
        }
    }
}

impl<'a> FileSet<'a> {
    /// A set over `plan`, journaling to `journal`. Whole-file digests and the finishing of
    /// files run on a hasher thread that the caller runs with [`FileSet::run_hasher`] on the
    /// returned receiver, so download workers never stop to hash.
    pub fn new(
        state: &'a StateDir,
        plan: &'a Plan,
        journal: Sender<Record>,
        progress: &'a Progress,
        v1_part: u64,
    ) -> (FileSet<'a>, Receiver<HashMsg>, Receiver<(std::fs::File, String)>) {
        let (htx, hrx) = crossbeam_channel::unbounded();
        // Bounded: each queued file holds a descriptor; a full queue leaves the file to the
        // final sync rather than wait.
        let (stx, srx) = crossbeam_channel::bounded(SYNC_QUEUE);
        let parts: Vec<Vec<(u64, u64)>> = plan.files.iter().map(|f| parts_of(f, v1_part)).collect();
        let slots = plan.files.iter().zip(&parts).map(|(f, p)| Mutex::new(Slot::fresh(f, p.len()))).collect();
        let set = FileSet {
            state,
            plan,
            parts,
            v1_part,
            slots,
            journal: Mutex::new(Some(journal)),
            progress,
            finished: AtomicU64::new(0),
            bad: Mutex::new(Vec::new()),
            hasher: Mutex::new(Some(htx)),
            hash_error: Mutex::new(None),
            syncer: Mutex::new(Some(stx)),
        };
        (set, hrx, srx)
    }

    fn slot(&self, i: usize) -> std::sync::MutexGuard<'_, Slot> {
        self.slots[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the whole-file digest of file `i` covers its chunks (so the chunk engine need
    /// not hash the inflated bytes again): whenever the manifest gives one. It is computed by the
    /// hasher thread in lock step with other files, also for a file of one chunk, whose digest
    /// is that chunk's MD5: checked by a worker, it was a scalar MD5 of ~10 % of an install's
    /// bytes (measured, 512 MiB game-like install uncapped, 12 alternating runs: user CPU
    /// 1.15–1.66 s → 0.98–1.32 s, wall 3–5 % lower).
    pub fn file_hash_covers(&self, i: usize) -> bool {
        let f = &self.plan.files[i];
        f.md5.is_some() || f.sha256.is_some()
    }

    /// The V1 request size this set cuts `main.bin` files in (`download --chunk-size`).
    pub fn v1_part(&self) -> u64 {
        self.v1_part
    }

    /// The pieces file `i` is tracked in: its chunks (V2) or ranges of at most
    /// [`V1_JOURNAL_PART`] (V1).
    pub fn parts(&self, i: usize) -> &[(u64, u64)] {
        &self.parts[i]
    }

    /// The journal key of part `(offset, len)` of file `i`: the chunk's compressedMd5 (V2) or
    /// `r<len>` (V1).
    pub fn part_key(&self, i: usize, part: usize) -> String {
        match self.plan.files[i].chunks().get(part) {
            Some(c) => c.compressed_md5.to_string(),
            None => format!("r{}", self.parts[i][part].1),
        }
    }

    /// Whether file `i` is finished (verified and under its final name) in this run.
    pub fn is_finished(&self, i: usize) -> bool {
        self.slot(i).finished
    }

    /// Build file `i` from `bytes` (its whole content, e.g. cut from a small files container),
    /// checking each chunk's MD5 first. Returns false, leaving the file to be fetched normally,
    /// when any chunk differs.
    pub fn fill_from(&self, i: usize, bytes: &[u8]) -> Result<bool> {
        let f = &self.plan.files[i];
        if bytes.len() as u64 != f.size {
            return Ok(false);
        }
        for c in f.chunks() {
            let part = &bytes[c.offset as usize..(c.offset + c.size) as usize];
            if hex(&Md5::digest(part)) != c.md5 {
                return Ok(false);
            }
        }
        let mut s = self.slot(i);
        if s.finished {
            return Ok(true);
        }
        if let [one] = f.chunks() {
            if f.md5.as_deref() == Some(one.md5.as_str()) {
                // Its one chunk, checked just above, is the whole file: no second MD5.
                s.md5 = None;
                s.wants_md5 = false;
            }
        }
        let m = self.open(i, &mut s)?;
        // SAFETY: the file is not being fetched by any worker (its container is used instead).
        unsafe { m.fresh_mut(0, bytes.len()) }.copy_from_slice(bytes);
        for (pi, &(off, _)) in self.parts[i].iter().enumerate() {
            self.record(Record { data: None, line: JournalState::chunk_line(&f.path, off, &self.part_key(i, pi)) });
            s.done[pi] = true;
        }
        self.progress.add_local(0);
        self.advance(i, &mut s)?;
        Ok(s.finished)
    }

    /// Whether the part at `offset` of file `i` is written.
    pub fn is_part_done(&self, i: usize, offset: u64) -> bool {
        match self.parts[i].binary_search_by_key(&offset, |p| p.0) {
            Ok(idx) => self.slot(i).done[idx],
            Err(_) => false,
        }
    }

    /// Whether part number `part` of file `i` is written (and checked) in this run.
    pub fn is_part_index_done(&self, i: usize, part: usize) -> bool {
        self.slot(i).done.get(part) == Some(&true)
    }

    /// Mark part `part` of file `i` as already present (resumed from the journal).
    pub fn mark_resumed(&self, i: usize, part: usize) {
        self.slot(i).done[part] = true;
    }

    /// Record part at `offset` of file `i` as written: journal it, advance the file's digest
    /// (to `digest`, when the worker hashed the part with a lent digest).
    fn part_done(&self, i: usize, offset: u64, digest: Option<Md5State>) -> Result<()> {
        let f = &self.plan.files[i];
        let idx = self.parts[i]
            .binary_search_by_key(&offset, |p| p.0)
            .map_err(|_| Error::manifest(&f.path, "piece not in plan"))?;
        let mut s = self.slot(i);
        self.open(i, &mut s)?;
        // The bytes are in the page cache (safe against kill -9), and a chunk resumed after a
        // power cut is checked by content before it is trusted (`install::Work::build`), so the
        // journal need not wait for the disk. (Writing back still-mapped pages per chunk
        // tripled the kernel time of an install, measured 0.70 vs 0.18 s per 256 MiB; a range
        // is written back once it is hashed and unmapped instead, see `MappedFile::retire`.)
        self.record(Record { data: None, line: JournalState::chunk_line(&f.path, offset, &self.part_key(i, idx)) });
        s.done[idx] = true;
        if let Some(d) = digest {
            // The lent digest now covers this part (lent only when `next == idx`).
            s.md5 = Some(Box::new(d));
            s.next = idx + 1;
            s.hashing = false;
            if let Some(m) = &s.map {
                m.retire(offset, self.parts[i][idx].1);
            }
        }
        if s.done.get(s.next) == Some(&true) || s.next == self.parts[i].len() {
            drop(s);
            self.to_hasher(HashMsg::File(i));
        }
        Ok(())
    }

    fn record(&self, rec: Record) {
        if let Some(tx) = self.journal.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = tx.send(rec);
        }
    }

    fn to_hasher(&self, msg: HashMsg) {
        if let Some(tx) = self.hasher.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = tx.send(msg);
        }
    }

    /// The hasher thread: advance whole-file digests and finish files, until
    /// [`FileSet::close`]. Errors are kept for [`FileSet::sync_hasher`].
    pub fn run_hasher(&self, rx: Receiver<HashMsg>) {
        let mut ready: Vec<usize> = Vec::new();
        let mut acks: Vec<Sender<()>> = Vec::new();
        loop {
            let first = if ready.is_empty() {
                match rx.recv() {
                    Ok(msg) => Some(msg),
                    Err(_) => break,
                }
            } else {
                None
            };
            for msg in first.into_iter().chain(rx.try_iter()) {
                match msg {
                    HashMsg::File(i) if !ready.contains(&i) => ready.push(i),
                    HashMsg::File(_) => {}
                    HashMsg::Sync(ack) => acks.push(ack),
                }
            }
            if let Err(e) = self.hash_round(&mut ready) {
                let mut g = self.hash_error.lock().unwrap_or_else(|p| p.into_inner());
                if g.is_none() {
                    *g = Some(e);
                }
            }
            if ready.is_empty() {
                // Everything sent before these requests is done.
                for ack in acks.drain(..) {
                    let _ = ack.send(());
                }
            }
        }
    }

    /// One lock-step round over the files in `ready`: advance each file's MD5 over up to
    /// [`ROUND_BYTES`] of finished parts, all files at once; finish files that are complete.
    /// Files with nothing left to do leave `ready`.
    fn hash_round(&self, ready: &mut Vec<usize>) -> Result<()> {
        struct Job {
            file: usize,
            state: Md5State,
            /// Keeps the mapping alive while it is read.
            map: Arc<MappedFile>,
            off: u64,
            len: u64,
            next: usize,
        }
        let mut jobs: Vec<Job> = Vec::new();
        let mut result = Ok(());
        ready.retain(|&i| {
            if jobs.len() >= ROUND_FILES {
                // Next round: a round's buffers stay small however many files are ready.
                return true;
            }
            let mut s = self.slot(i);
            let parts = &self.parts[i];
            let mut k = s.next;
            let mut len = 0;
            while k < parts.len() && s.done[k] && len < ROUND_BYTES {
                len += parts[k].1;
                k += 1;
            }
            if s.hashing || !s.wants_md5 || k == s.next || len == 0 {
                // Nothing to hash in lock step: SHA-256, no digest, or nothing new (this also
                // finishes a complete file).
                if let Err(e) = self.advance(i, &mut s) {
                    result = Err(e);
                }
                return false;
            }
            match self.open(i, &mut s) {
                Ok(map) => {
                    let state = s.md5.take().map(|b| *b).unwrap_or_default();
                    s.hashing = true;
                    jobs.push(Job { file: i, state, map, off: parts[s.next].0, len, next: k });
                    true
                }
                Err(e) => {
                    result = Err(e);
                    false
                }
            }
        });
        // The files this round took stay first in `ready` (all before any file past the cap):
        // move them behind those it left for the next round, so every ready file gets its turn.
        let taken = jobs.len().min(ready.len());
        ready.rotate_left(taken);
        if !jobs.is_empty() {
            let mut digests: Vec<Md5State> = jobs.iter_mut().map(|j| std::mem::take(&mut j.state)).collect();
            // SAFETY: parts `next..k` of each file are finished; no writer touches them again.
            let data: Vec<&[u8]> = jobs.iter().map(|j| unsafe { j.map.slice(j.off, j.len as usize) }).collect();
            let mut states: Vec<&mut Md5State> = digests.iter_mut().collect();
            let bytes: u64 = jobs.iter().map(|j| j.len).sum();
            update_many(&mut states, &data);
            trace!("hashed {} MiB of {} files in lock step", bytes >> 20, jobs.len());
            drop(data);
            for (job, state) in jobs.into_iter().zip(digests) {
                // Hashed bytes are final: let the disk have them now rather than all at the
                // final sync (measured, 20 MiB/s per connection: that sync 0.19 → 0.04 s).
                job.map.retire(job.off, job.len);
                let mut s = self.slot(job.file);
                s.md5 = Some(Box::new(state));
                s.hashing = false;
                s.next = job.next;
                if s.next == self.parts[job.file].len() && !s.finished {
                    if let Err(e) = self.finish(job.file, &mut s) {
                        result = Err(e);
                    }
                }
            }
        }
        result
    }

    /// Wait until the hasher has handled everything sent so far; its first error, if any.
    pub fn sync_hasher(&self) -> Result<()> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.to_hasher(HashMsg::Sync(tx));
        let _ = rx.recv();
        match self.hash_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The syncer thread: write finished large files to disk while the download goes on, so
    /// the install's final sync (which must wait for every byte) finds little left to do.
    /// Ends when [`FileSet::close`] has been called and its queue is empty. A failed sync is
    /// only logged: the final sync reports a disk that cannot write.
    pub fn run_syncer(rx: Receiver<(std::fs::File, String)>) {
        for (file, path) in rx {
            if let Err(e) = file.sync_data() {
                log::warn!("syncing {path}: {e}");
            }
        }
    }

    /// Let the hasher and syncer threads end once they have drained their queues, and release
    /// the journal (its thread ends when every sender is gone).
    pub fn close(&self) {
        self.syncer.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.hasher.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.journal.lock().unwrap_or_else(|p| p.into_inner()).take();
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
        if let (true, Some(want)) = (std::mem::take(&mut s.wants_md5), &f.md5) {
            let h = s.md5.take().map(|b| *b).unwrap_or_default();
            let got = hex(&h.finalize());
            if &got != want {
                self.bad_file(i, s, want, got);
                return Ok(());
            }
        }
        if let (Some(h), Some(want)) = (s.sha.take(), &f.sha256) {
            let got = hex(&h.finalize());
            if !got.eq_ignore_ascii_case(want) {
                self.bad_file(i, s, want, got);
                return Ok(());
            }
        }
        // No msync here: the install ends with one sync of the filesystem before it records
        // files as finished for good, and a file without a trusted record is re-checked by
        // content on the next run. Files of 256 KiB or more are synced now, beside the
        // download, so that final sync has little left (measured, 512 MiB game-like install,
        // uncapped: 0.12–0.15 s → 7–8 ms; with 4 MiB or more only: 40 ms).
        if let Some(m) = s.map.take() {
            if f.size >= SYNC_EARLY_MIN {
                if let (Some(file), Some(tx)) =
                    (m.dup_file(), self.syncer.lock().unwrap_or_else(|p| p.into_inner()).as_ref())
                {
                    let _ = tx.try_send((file, f.path.clone()));
                }
            }
        }
        let tmp = self.state.tmp_path(&f.path);
        install_file(self.state, f, &tmp)?;
        s.finished = true;
        self.finished.fetch_add(1, Ordering::Relaxed);
        trace!("{} finished", f.path);
        let dest = self.state.install_dir().join(&f.path);
        if let Some(stamp) = Stamp::of(&dest, &f.content_id()) {
            self.record(Record { data: None, line: JournalState::file_line(&f.path, &stamp) });
        }
        self.progress.emit(Event::File {
            path: f.path.clone(),
            size: f.size,
            md5: f.md5.as_ref().map(String::from),
            status: FileStatus::Done,
        });
        Ok(())
    }

    /// A finished file failed its whole-file check. A V2 file's chunks are checked one by one
    /// against their own inflated MD5s: the ones that match stay (journaled again, in place),
    /// only the others are fetched again. Otherwise (V1 pieces carry no MD5 of their own; or no
    /// chunk, or every chunk, differs) nothing of the file may be trusted, now or on the next
    /// run: it is forgotten and fetched whole. Either way it is recorded for another fetch.
    fn bad_file(&self, i: usize, s: &mut Slot, want: &str, got: String) {
        let f = &self.plan.files[i];
        let chunks = f.chunks();
        let keep: Vec<bool> = match &s.map {
            // SAFETY: every part of the file is written; no writer touches them any more.
            Some(m) if !chunks.is_empty() && chunks.len() == self.parts[i].len() => chunks
                .iter()
                .map(|c| hex(&Md5::digest(unsafe { m.slice(c.offset, c.size as usize) })) == c.md5)
                .collect(),
            _ => Vec::new(),
        };
        let good = keep.iter().filter(|&&k| k).count();
        self.record(Record { data: None, line: format!("x\t{}", f.path) });
        let mut fresh = Slot::fresh(f, self.parts[i].len());
        if good > 0 && good < keep.len() {
            log::warn!(
                "{} failed its checksum (expected {want}, got {got}); fetching again the {} of its {} chunks that differ",
                f.path,
                keep.len() - good,
                keep.len()
            );
            for (pi, &k) in keep.iter().enumerate() {
                if k {
                    let line = JournalState::chunk_line(&f.path, self.parts[i][pi].0, &self.part_key(i, pi));
                    self.record(Record { data: None, line });
                }
            }
            fresh.map = s.map.take();
            fresh.done = keep;
        } else {
            log::warn!("{} failed its checksum (expected {want}, got {got}); fetching it again", f.path);
            s.map = None;
            let _ = std::fs::remove_file(self.state.tmp_path(&f.path));
        }
        *s = fresh;
        let err = Error::Checksum { what: f.path.clone(), expected: want.to_string(), actual: got };
        self.bad.lock().unwrap_or_else(|p| p.into_inner()).push((i, err));
    }

    /// Files that failed their check since the last call (they are reset and need fetching).
    pub fn take_bad(&self) -> Vec<(usize, Error)> {
        std::mem::take(&mut *self.bad.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Advance file `i`'s whole-file digest over chunks done in order; finish it when complete.
    fn advance(&self, i: usize, s: &mut Slot) -> Result<()> {
        if s.hashing {
            // The hasher holds the digest; it advances and finishes the file itself.
            return Ok(());
        }
        let parts = &self.parts[i];
        while s.next < parts.len() && s.done[s.next] {
            if s.wants_md5 || s.sha.is_some() {
                let (off, len) = parts[s.next];
                let m = self.open(i, s)?;
                // SAFETY: part `next` is finished; no writer touches it any more.
                let bytes = unsafe { m.slice(off, len as usize) };
                if s.wants_md5 {
                    s.md5.get_or_insert_with(Box::default).update(bytes);
                }
                if let Some(h) = s.sha.as_mut() {
                    h.update(bytes);
                }
                m.retire(off, len);
            }
            s.next += 1;
        }
        if s.next == parts.len() && !s.finished {
            self.finish(i, s)?;
        }
        Ok(())
    }

    /// Finish files that need no download (empty files, all chunks resumed).
    pub fn settle(&self, i: usize) -> Result<()> {
        let mut s = self.slot(i);
        if self.plan.files[i].size == 0 {
            let tmp = self.state.tmp_path(&self.plan.files[i].path);
            // No symlink planted at the temporary name is followed; an old one is emptied.
            let f = crate::sink::open_regular(&tmp)?;
            f.set_len(0).map_err(|e| Error::io("truncate", &tmp, e))?;
        }
        self.advance(i, &mut s)
    }
}

impl ChunkSink for FileSet<'_> {
    fn file(&self, file: usize) -> Result<Arc<MappedFile>> {
        let mut s = self.slot(file);
        self.open(file, &mut s)
    }

    fn done(&self, job: &ChunkJob, mut digest: Option<Md5State>) -> Result<()> {
        for t in &job.targets {
            self.part_done(t.file, t.offset, digest.take())?;
        }
        Ok(())
    }

    fn lend_digest(&self, t: Target) -> Option<Md5State> {
        let idx = self.parts[t.file].binary_search_by_key(&t.offset, |p| p.0).ok()?;
        let mut s = self.slot(t.file);
        if s.hashing || s.finished || s.sha.is_some() || s.next != idx || s.done[idx] {
            return None;
        }
        if !s.wants_md5 {
            return None;
        }
        let d = s.md5.as_deref().cloned().unwrap_or_default();
        s.hashing = true;
        Some(d)
    }

    fn end_loan(&self, t: Target) {
        self.slot(t.file).hashing = false;
        self.to_hasher(HashMsg::File(t.file));
    }
}

impl BlobSink for FileSet<'_> {
    fn file(&self, file: usize) -> Result<Arc<MappedFile>> {
        let mut s = self.slot(file);
        self.open(file, &mut s)
    }

    fn segment_done(&self, seg: &Segment) -> Result<()> {
        self.part_done(seg.file, seg.file_offset, None)
    }
}

/// Default size of the requests a V1 file is fetched in (`download --chunk-size` sets another;
/// adjacent journal parts are coalesced into one request up to this size, see
/// `fetch::blob::plan_blob_jobs`).
pub const V1_PART: u64 = 4 << 20;

/// Largest part a V1 file is journaled in: a piece in flight is journaled part by part as
/// it streams, so a `kill -9` or Ctrl-C loses at most one part per connection (plus the
/// journal's tenth-of-a-second batch), not the whole request.
pub const V1_JOURNAL_PART: u64 = 256 << 10;

/// The pieces a file is tracked in (V1: parts of `min(v1_part, V1_JOURNAL_PART)`; a journal of
/// another part size is simply not matched, so resume refetches).
pub fn parts_of(f: &PlanFile, v1_part: u64) -> Vec<(u64, u64)> {
    let part = v1_part.clamp(1, V1_JOURNAL_PART);
    match &f.source {
        Source::Chunks { chunks } => chunks.iter().map(|c| (c.offset, c.size)).collect(),
        Source::Blob { .. } => {
            let mut v = Vec::new();
            let mut o = 0;
            while o < f.size {
                let n = part.min(f.size - o);
                v.push((o, n));
                o += n;
            }
            v
        }
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
