//! The segmented Range engine: many workers, one resource, one mapped output file.
//!
//! Each worker loops: take a slot from the [`Scheduler`], send `Range: bytes=a-b`, accept only a
//! `206` whose `Content-Range` and length match exactly, and stream the body block by block
//! straight into the slot's slice of the mapping (no intermediate buffer). After each block the
//! [`DoneMap`] is marked and the prefix hasher nudged; finished spans go to the resume journal.
//! A failure is classified once by [`super::policy`]: bad responses (resets, 5xx, a wrong
//! `Content-Range`, one `200` to a ranged request) are retried from the first byte not yet
//! written, everything else stops the download. Only a server ignoring Range consistently
//! ([`super::policy::RangeSupport`]) makes the engine stop and the caller fall back to one
//! stream (a full body is never written at a range's offset).

// unsafe: this file writes a ranged answer straight into its slice of the mapped output file.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;

use super::policy::{Piece, RangeSupport, Step};
use super::schedule::{Next, Scheduler, Slot};
use super::{Crew, Engine};
use crate::error::{Error, Result};
use crate::http;
use crate::journal::Record;
use crate::sink::MappedFile;
use crate::verify::{DoneMap, BLOCK};

/// Journal a long-running slot at least every this many bytes...
const JOURNAL_EVERY: u64 = 16 << 20;

/// ...and, on a slow link, whatever it wrote at least this often (so a `kill -9` loses little
/// more than this much time of data in flight; see `journal::COMMIT_EVERY`).
const JOURNAL_AFTER: Duration = Duration::from_millis(100);

/// How far ahead of its writes a range owner gives up the file's bytes (`Slot::claim_fresh`,
/// `MappedFile::give_up`): one `pwrite` and one `madvise` per MiB instead of per 64 KiB block.
const FRESH_WINDOW: u64 = 1 << 20;

/// Smallest half a slot is split into when a worker runs dry.
pub const MIN_SPLIT: u64 = 512 << 10;

/// A slot silent this long may be taken over by an idle worker.
pub const STALL_TAKEOVER: Duration = Duration::from_secs(2);

/// One resource to fetch into one mapped file.
pub struct RangeJob<'a> {
    /// The URL (signed URLs are fine: it is redacted in every message).
    pub url: &'a str,
    /// Total size of the resource (and of `file`).
    pub size: u64,
    /// Send Range requests (false: one plain GET of the whole body).
    pub ranged: bool,
    /// Destination.
    pub file: &'a Arc<MappedFile>,
    /// Blocks done (pre-marked for resumed ranges).
    pub done: &'a DoneMap,
    /// Byte ranges to fetch, in order (block-aligned starts).
    pub pieces: Vec<(u64, u64)>,
    /// Watermark of the prefix hasher, for backpressure.
    pub hashed: Option<&'a AtomicU64>,
    /// Writers further than this ahead of the hasher wait for it.
    pub lag_max: u64,
    /// Nudged after each block (wakes the prefix hasher).
    pub wake: Option<&'a Sender<()>>,
    /// Journal: finished spans are sent as records `"start end"` covering their bytes.
    pub journal: Option<&'a Sender<Record>>,
}

impl RangeJob<'_> {
    fn journal_span(&self, a: u64, b: u64) {
        // Drop the span's page-table entries before its writeback starts: cleaning pages that
        // are still mapped write-protects each one with a cross-CPU TLB flush (perf of `get`
        // on loopback: 15 % of all CPU in `sync_file_range` → `flush_tlb_mm_range`). The
        // prefix hasher maps what it has not read yet again, read-only (no flush to clean).
        self.file.retire(a, b - a);
        if let Some(j) = self.journal {
            let _ = j.send(Record { data: Some((self.file.clone(), a, b - a)), line: format!("{a} {b}") });
        }
    }
}

/// How a range download ended.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Every byte is written.
    Complete,
    /// The server answered a ranged request with `200`: fall back to one stream.
    NoRangeSupport,
}

struct RunState<'a> {
    crew: &'a Crew,
    ranges: &'a RangeSupport,
    /// Workers allowed to take new pieces (see [`HASH_BOUND_WORKERS`]).
    active: &'a AtomicUsize,
    /// Hands out worker numbers.
    ids: &'a AtomicUsize,
}

/// Connections kept once the data arrives faster than the single MD5 stream can digest it
/// (a writer had to wait for the hasher): more connections then only take CPU from the
/// hasher on small machines (engineering-notes Part 3: 1–2 workers beat 8 on loopback).
pub const HASH_BOUND_WORKERS: usize = 2;

impl Engine {
    /// Download `job` with all workers. Returns when every byte is written, on the first fatal
    /// error, or on cancel ([`Error::Interrupted`]).
    pub fn download_ranges(&self, job: &RangeJob<'_>) -> Result<RangeOutcome> {
        let sched = Scheduler::new(job.pieces.clone(), MIN_SPLIT, STALL_TAKEOVER);
        let ranges = RangeSupport::default();
        let workers = if job.ranged { self.workers } else { 1 };
        let (active, ids) = (AtomicUsize::new(workers), AtomicUsize::new(0));
        let r = self.run_crew(workers, |crew| {
            self.worker(job, &sched, &RunState { crew, ranges: &ranges, active: &active, ids: &ids })
        });
        if ranges.is_refused() {
            return Ok(RangeOutcome::NoRangeSupport);
        }
        r?;
        let missing = (0..job.done.blocks()).find(|&b| !job.done.is_done(b));
        if let Some(b) = missing {
            let (s, e) = job.done.block_range(b);
            return Err(Error::BadRange {
                url: crate::error::redact_url(job.url),
                start: s,
                end: e,
                got: "bytes never arrived".into(),
            });
        }
        Ok(RangeOutcome::Complete)
    }

    fn worker(&self, job: &RangeJob<'_>, sched: &Scheduler, st: &RunState<'_>) {
        let id = st.ids.fetch_add(1, Ordering::AcqRel);
        loop {
            if st.crew.failed() || self.cancelled() {
                return;
            }
            if id >= st.active.load(Ordering::Acquire) {
                // Parked: the download is bound by hashing, not by the network.
                return;
            }
            match sched.next() {
                Next::Finished => return,
                Next::Wait => std::thread::sleep(Duration::from_millis(25)),
                Next::Work(slot) => {
                    let r = self.fetch_slot(job, &slot, st);
                    sched.release(&slot);
                    if let Err(e) = r {
                        st.crew.fail(e);
                        return;
                    }
                }
            }
        }
    }

    fn fetch_slot(&self, job: &RangeJob<'_>, slot: &Arc<Slot>, st: &RunState<'_>) -> Result<()> {
        // One URL: its health is this slot's alone (a `get` has no mirror to fail over to).
        let health = super::policy::Health::new(Duration::ZERO);
        let mut piece = Piece::default();
        let mut journaled = slot.bounds().0;
        loop {
            let (pos, end) = slot.bounds();
            if pos >= end {
                return Ok(());
            }
            let r = self.fetch_once(job, slot, pos, end, &mut journaled, st);
            let (now, _) = slot.bounds();
            if now > journaled {
                job.journal_span(journaled, now);
                journaled = now;
            }
            let e = match r {
                Ok(()) => continue,
                Err(e) => e,
            };
            if matches!(e, Error::Interrupted) || st.ranges.is_refused() || st.crew.failed() {
                return Err(e);
            }
            if now > pos {
                piece.progressed(0);
            }
            match piece.on_error(&health, &self.retry, 0, 1, &e) {
                Step::Retry { wait, .. } => {
                    let (p, e2) = slot.bounds();
                    let what = format!("{} bytes {}-{}", crate::error::redact_url(job.url), p, e2.saturating_sub(1));
                    if !self.retry_wait(&what, piece.attempts(), &e, wait) {
                        return Err(Error::Interrupted);
                    }
                }
                Step::Renew | Step::GiveUp => return Err(e),
            }
        }
    }

    fn fetch_once(
        &self,
        job: &RangeJob<'_>,
        slot: &Slot,
        pos: u64,
        end: u64,
        journaled: &mut u64,
        st: &RunState<'_>,
    ) -> Result<()> {
        let url = job.url;
        // A silent range is cut after `STALL_CUT` and resumed at its first unwritten byte (its
        // unclaimed rest may be taken over sooner, see `STALL_TAKEOVER`); one whole stream keeps
        // the agent's read timeout, since a new attempt reads its prefix again.
        let mut resp = if job.ranged && self.stall_watch().enabled {
            http::get_data_cut(&self.agent, url, Some((pos, end - 1)), super::policy::STALL_CUT)?
        } else {
            http::get(&self.agent, url, None, job.ranged.then(|| (pos, end - 1)))?
        };
        let status = resp.status().as_u16();
        let content_length = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut skip = 0u64;
        if job.ranged {
            match status {
                206 => {
                    let cr = resp.headers().get("content-range").and_then(|v| v.to_str().ok()).unwrap_or("");
                    let ok = parse_content_range(cr) == Some((pos, end - 1, Some(job.size)))
                        || (parse_content_range(cr) == Some((pos, end - 1, None)));
                    if !ok {
                        return Err(Error::BadRange {
                            url: crate::error::redact_url(url),
                            start: pos,
                            end,
                            got: format!("206 with Content-Range {cr:?}"),
                        });
                    }
                    if let Some(cl) = content_length {
                        if cl != end - pos {
                            return Err(Error::BadRange {
                                url: crate::error::redact_url(url),
                                start: pos,
                                end,
                                got: format!("206 with Content-Length {cl}"),
                            });
                        }
                    }
                    st.ranges.honoured();
                }
                200 if pos == 0 && end == job.size && content_length == Some(job.size) => {}
                200 => {
                    let settled = st.ranges.ignored();
                    return Err(Error::BadRange {
                        url: crate::error::redact_url(url),
                        start: pos,
                        end,
                        got: if settled {
                            "200 OK: the server ignores Range".into()
                        } else {
                            "200 OK to a Range request".into()
                        },
                    });
                }
                416 => {
                    return Err(Error::BadRange {
                        url: crate::error::redact_url(url),
                        start: pos,
                        end,
                        got: "416 Range Not Satisfiable (the file changed size?)".into(),
                    });
                }
                _ => return Err(http::status_error(url, &mut resp)),
            }
        } else {
            if status != 200 {
                return Err(http::status_error(url, &mut resp));
            }
            if let Some(cl) = content_length {
                if cl != job.size {
                    return Err(Error::Size { what: crate::error::redact_url(url), expected: job.size, actual: cl });
                }
            }
            skip = pos;
        }
        let mut body = resp.body_mut().as_reader();
        if skip > 0 {
            let copied =
                std::io::copy(&mut (&mut body).take(skip), &mut std::io::sink()).map_err(|e| http::from_io(url, &e))?;
            if copied != skip {
                return Err(Error::network(url, "connection closed before the body was complete"));
            }
        }
        let mut stall = self.stall_watch();
        let mut last = pos;
        let mut since = std::time::Instant::now();
        loop {
            if let Some(h) = job.hashed {
                if last > h.load(Ordering::Acquire) + job.lag_max {
                    let a = st.active.load(Ordering::Acquire);
                    if a > HASH_BOUND_WORKERS {
                        debug!("hashing is the bottleneck: keeping {HASH_BOUND_WORKERS} of {a} connections");
                        st.active.store(HASH_BOUND_WORKERS, Ordering::Release);
                    }
                }
                while last > h.load(Ordering::Acquire) + job.lag_max {
                    if self.cancelled() || st.crew.failed() {
                        return Err(Error::Interrupted);
                    }
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
            if st.crew.failed() {
                return Err(Error::Interrupted);
            }
            // SAFETY (both): the bytes given up lie ahead of the owner's writes and below `end`
            // while the slot's lock is held, so they are this owner's to give up; `a..b` was
            // claimed from this slot, and the scheduler never hands any byte of a claimed block
            // to another writer; the hasher reads only done blocks.
            let claim = slot.claim_fresh(FRESH_WINDOW, |x, y| unsafe { job.file.give_up(x, y - x) });
            let Some((a, b)) = claim else { break };
            let buf = unsafe { job.file.slice_mut(a, (b - a) as usize) };
            self.read_exact_into(url, &mut body, buf, &mut stall)?;
            slot.advance(b);
            job.done.mark(a / BLOCK);
            last = b;
            if let Some(w) = job.wake {
                let _ = w.try_send(());
            }
            if b - *journaled >= JOURNAL_EVERY || (b > *journaled && since.elapsed() >= JOURNAL_AFTER) {
                job.journal_span(*journaled, b);
                *journaled = b;
                since = std::time::Instant::now();
            }
        }
        if last == end {
            // The whole answer was consumed: one more read sees its end, so ureq can put the
            // connection back in the pool. A slot whose end was stolen drops the rest instead.
            use std::io::Read;
            let mut probe = [0u8; 1];
            if let Ok(n) = body.read(&mut probe) {
                if n != 0 {
                    debug!("extra bytes after the requested range of {}", crate::error::redact_url(url));
                }
            }
        }
        Ok(())
    }
}

use std::io::Read as _;

/// Parse `bytes a-b/total` (total may be `*`). Returns `(a, b, total)`.
pub fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.trim().split_once('-')?;
    let a = a.trim().parse().ok()?;
    let b = b.trim().parse().ok()?;
    if b < a {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((a, b, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(parse_content_range("bytes 0-99/1000"), Some((0, 99, Some(1000))));
        assert_eq!(parse_content_range("bytes 5-5/*"), Some((5, 5, None)));
        assert_eq!(parse_content_range("bytes */1000"), None);
        assert_eq!(parse_content_range("bytes 9-3/10"), None);
        assert_eq!(parse_content_range(""), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
