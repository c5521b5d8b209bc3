//! V1 `main.bin` downloads: Range requests over one big uncompressed blob per product, each
//! answer cut into the files it covers as it streams.
//!
//! A [`BlobJob`] is one Range request `start..end` of a product's blob and the [`Segment`]s it
//! feeds: a large file is split into several jobs, and runs of small adjacent files are
//! coalesced into one request (so a thousand small files cost a handful of requests, not a
//! thousand). Each segment is written straight into its file's mapped slice and reported done
//! as soon as its last byte lands. Only `206` with the exact `Content-Range` is accepted; a
//! retry resumes at the first byte not yet written, on the endpoint [`super::policy`] picks. A
//! `200` or a wrong `Content-Range` is a fault of that response (retried, on another endpoint
//! when there is one); only a server refusing ranges consistently
//! ([`super::policy::RangeSupport`]) makes the engine stop and the caller stream the blob
//! once instead ([`Engine::stream_blob`], which fails over and resumes too).

// unsafe: this file writes `main.bin` segments straight into their slices of the mapped files.
#![allow(unsafe_code)]

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::policy::{Piece, RangeSupport, Step};
use super::range::{parse_content_range, MIN_SPLIT, STALL_TAKEOVER};
use super::schedule::{Next, Scheduler, Slot};
use super::{Crew, Engine, Object, Urls};
use crate::error::{redact_url, Error, Result};
use crate::http;

pub use crate::sinks::{BlobSink, Segment};

use super::policy::STALL_CUT;

/// One Range request of a product's blob.
#[derive(Debug, Clone)]
pub struct BlobJob {
    /// Product whose `main.bin` this is.
    pub product: String,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// The pieces it feeds, in blob order, inside `start..end`, not overlapping.
    pub segments: Vec<Segment>,
}

/// How a blob download ended.
#[derive(Debug, PartialEq, Eq)]
pub enum BlobOutcome {
    /// Every job is done.
    Complete,
    /// The server ignores Range: stream the blob instead ([`Engine::stream_blob`]).
    NoRangeSupport,
}

/// The jobs of one blob download laid end to end in one virtual byte space, so that the
/// range scheduler of `get` ([`super::schedule`]) hands them out, splits the largest remaining
/// one when a worker runs dry and lets an idle worker take over a stalled one. Job `i`
/// occupies `base[i]..base[i] + len`; a slot never spans two jobs (slots only subdivide).
struct Layout<'a> {
    jobs: &'a [BlobJob],
    base: Vec<u64>,
    /// Bytes of each segment not yet written (per job, per segment): whoever writes a
    /// segment's last byte reports it done, so a segment split between two workers is still
    /// journaled once, whole.
    left: Vec<Vec<AtomicU64>>,
}

impl Layout<'_> {
    fn new(jobs: &[BlobJob]) -> Layout<'_> {
        let mut base = Vec::with_capacity(jobs.len());
        let mut v = 0u64;
        for j in jobs {
            base.push(v);
            v += j.end.saturating_sub(j.start);
        }
        let left = jobs.iter().map(|j| j.segments.iter().map(|s| AtomicU64::new(s.len)).collect()).collect();
        Layout { jobs, base, left }
    }

    fn pieces(&self) -> Vec<(u64, u64)> {
        self.jobs.iter().zip(&self.base).map(|(j, &b)| (b, b + j.end.saturating_sub(j.start))).collect()
    }

    /// The job holding virtual byte `v`.
    fn job_at(&self, v: u64) -> usize {
        self.base.partition_point(|&b| b <= v).saturating_sub(1)
    }
}

impl Engine {
    /// Run `jobs` on all workers through the range scheduler: when the queue runs dry an idle
    /// worker splits the largest remaining job in flight, or takes over the rest of one that
    /// has made no progress for [`STALL_TAKEOVER`], as `get` does with its ranges.
    pub fn download_blob_jobs(&self, jobs: &[BlobJob], urls: &dyn Urls, sink: &dyn BlobSink) -> Result<BlobOutcome> {
        let layout = Layout::new(jobs);
        let sched = Scheduler::new(layout.pieces(), MIN_SPLIT, STALL_TAKEOVER);
        let ranges = RangeSupport::default();
        let total: u64 = jobs.iter().map(|j| j.end.saturating_sub(j.start)).sum();
        let workers = (self.workers as u64).min(jobs.len() as u64 + total / MIN_SPLIT).max(1) as usize;
        let r = self.run_crew(workers, |crew| loop {
            if crew.failed() || self.cancelled() {
                return;
            }
            match sched.next() {
                Next::Finished => return,
                Next::Wait => std::thread::sleep(Duration::from_millis(20)),
                Next::Work(slot) => {
                    let r = self.fetch_blob_slot(&layout, &slot, urls, sink, &ranges, crew);
                    sched.release(&slot);
                    if let Err(e) = r {
                        crew.fail(e);
                        return;
                    }
                }
            }
        });
        if ranges.is_refused() {
            return Ok(BlobOutcome::NoRangeSupport);
        }
        r.map(|()| BlobOutcome::Complete)
    }

    /// Fetch what is left of `slot` (its end may move down under it when another worker
    /// takes part of it over), retrying under the policy from the first unwritten byte.
    fn fetch_blob_slot(
        &self,
        layout: &Layout<'_>,
        slot: &Slot,
        urls: &dyn Urls,
        sink: &dyn BlobSink,
        ranges: &RangeSupport,
        crew: &Crew,
    ) -> Result<()> {
        let ji = layout.job_at(slot.bounds().0);
        let Some(job) = layout.jobs.get(ji) else { return Ok(()) };
        let n = urls.endpoints(&job.product, Object::MainBin).max(1);
        let mut piece = Piece::default();
        let health = self.health(&job.product);
        let mut endpoint = piece.endpoint(&health, n, self.retry.max_retries).unwrap_or(0);
        let t0 = std::time::Instant::now();
        loop {
            let (pos, end) = slot.bounds();
            if pos >= end {
                break;
            }
            let (url, link) = urls.url(&job.product, endpoint, Object::MainBin)?;
            let e = match self.fetch_blob_once(layout, ji, slot, &url, sink, ranges, crew) {
                Ok(()) => {
                    piece.on_success(&health, endpoint);
                    continue;
                }
                Err(e) => e,
            };
            if matches!(e, Error::Interrupted) || ranges.is_refused() || crew.failed() {
                return Err(e);
            }
            let (now, end) = slot.bounds();
            if now > pos {
                piece.progressed(endpoint);
            }
            slot.touch();
            match piece.on_error(&health, &self.retry, endpoint, n, &e) {
                Step::GiveUp => return Err(e),
                Step::Renew => urls.refused(&job.product, Object::MainBin, &link)?,
                Step::Retry { endpoint: next, wait } => {
                    let b = |v: u64| job.start + v - layout.base.get(ji).copied().unwrap_or(0);
                    let what = format!(
                        "main.bin of {} bytes {}-{} (endpoint {endpoint})",
                        job.product,
                        b(now),
                        b(end).saturating_sub(1)
                    );
                    if !self.retry_wait(&what, piece.attempts(), &e, wait) {
                        return Err(Error::Interrupted);
                    }
                    endpoint = next;
                }
            }
        }
        trace!(
            "main.bin {}-{} slot done after {:?} ({:?})",
            job.start,
            job.end - 1,
            t0.elapsed(),
            std::thread::current().name().unwrap_or("")
        );
        Ok(())
    }

    /// One request for what is left of `slot` (job `ji`), written block by block as the
    /// scheduler hands the blocks out: segment bytes into their files, gap bytes dropped.
    #[allow(clippy::too_many_arguments)]
    fn fetch_blob_once(
        &self,
        layout: &Layout<'_>,
        ji: usize,
        slot: &Slot,
        url: &str,
        sink: &dyn BlobSink,
        ranges: &RangeSupport,
        crew: &Crew,
    ) -> Result<()> {
        let (Some(job), Some(&b0), Some(left)) = (layout.jobs.get(ji), layout.base.get(ji), layout.left.get(ji)) else {
            return Ok(());
        };
        let blob = |v: u64| job.start + (v - b0);
        let (vpos, vend) = slot.bounds();
        let (start, end) = (blob(vpos), blob(vend));
        // A silent range is cut after `STALL_CUT` (not the 15 s read timeout) and resumed at its
        // first unwritten byte, unless a low rate limit makes long waits normal.
        let mut resp = if self.stall_watch().enabled {
            http::get_data_cut(&self.agent, url, Some((start, end - 1)), STALL_CUT)?
        } else {
            http::get(&self.agent, url, None, Some((start, end - 1)))?
        };
        let status = resp.status().as_u16();
        match status {
            206 => {
                let cr = resp.headers().get("content-range").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                match parse_content_range(&cr) {
                    Some((a, b, _)) if a == start && b == end - 1 => ranges.honoured(),
                    _ => {
                        return Err(Error::BadRange {
                            url: redact_url(url),
                            start,
                            end,
                            got: format!("206 with Content-Range {cr:?}"),
                        });
                    }
                }
            }
            200 => {
                let settled = ranges.ignored();
                return Err(Error::BadRange {
                    url: redact_url(url),
                    start,
                    end,
                    got: if settled {
                        "200 OK: the server ignores Range".into()
                    } else {
                        "200 OK to a Range request".into()
                    },
                });
            }
            _ => return Err(http::status_error(url, &mut resp)),
        }
        let mut body = resp.body_mut().as_reader();
        let mut stall = self.stall_watch();
        // A range resumes where it stopped: judge its speed over a shorter window than the
        // whole-blob stream, which would have to read its prefix again.
        stall.cfg.time = stall.cfg.time.min(2 * STALL_CUT);
        // The first segment that ends past `start`.
        let mut si = job.segments.partition_point(|s| s.blob_offset + s.len <= start);
        let mut file: Option<(usize, Arc<crate::sink::MappedFile>)> = None;
        // Segment bytes written in the current block: counted once the block is whole.
        let mut wrote: Vec<(usize, u64)> = Vec::new();
        let mut last = vpos;
        loop {
            if crew.failed() {
                return Err(Error::Interrupted);
            }
            let Some((va, vb)) = slot.claim() else { break };
            let (ba, bb) = (blob(va), blob(vb));
            wrote.clear();
            let mut counted = 0u64;
            let r = (|| -> Result<()> {
                let mut p = ba;
                while p < bb {
                    let Some(seg) = job.segments.get(si) else {
                        // Past the last segment (cannot happen: a job ends with its last segment).
                        self.skip_bytes(url, &mut body, bb - p)?;
                        counted += bb - p;
                        break;
                    };
                    if seg.blob_offset > p {
                        // A gap between coalesced files: read past it.
                        let q = seg.blob_offset.min(bb);
                        self.skip_bytes(url, &mut body, q - p)?;
                        counted += q - p;
                        p = q;
                        continue;
                    }
                    let seg_end = seg.blob_offset + seg.len;
                    let q = seg_end.min(bb);
                    let f = match &file {
                        Some((i, f)) if *i == seg.file => f.clone(),
                        _ => {
                            let f = sink.file(seg.file)?;
                            file = Some((seg.file, f.clone()));
                            f
                        }
                    };
                    let off = seg.file_offset + (p - seg.blob_offset);
                    // SAFETY: `va..vb` was claimed from this slot; the scheduler never hands a
                    // claimed byte to another writer, and each virtual byte is one blob byte of one
                    // job, which lands in one segment's file range: no other writer touches it.
                    let buf = unsafe { f.fresh_mut(off, (q - p) as usize) };
                    self.read_exact_into(url, &mut body, buf, &mut stall)?;
                    counted += q - p;
                    wrote.push((si, q - p));
                    p = q;
                    if p == seg_end {
                        si += 1;
                    }
                }
                Ok(())
            })();
            if let Err(e) = r {
                // The block is fetched again whole: what landed of it does not count yet.
                self.progress.unadd(counted);
                return Err(e);
            }
            slot.advance(vb);
            last = vb;
            for &(i, n) in &wrote {
                let (Some(seg), Some(l)) = (job.segments.get(i), left.get(i)) else { continue };
                if l.fetch_sub(n, Ordering::AcqRel) == n {
                    sink.segment_done(seg)?;
                }
            }
        }
        if last == vend {
            // The whole answer was consumed: one more read sees its end, so ureq can put the
            // connection back in the pool. A slot whose end was taken over drops the rest.
            let mut probe = [0u8; 1];
            let _ = body.read(&mut probe);
        }
        Ok(())
    }

    /// Read `n` bytes of `body` that no file wants (a gap between coalesced files).
    fn skip_bytes(&self, url: &str, body: &mut dyn Read, n: u64) -> Result<()> {
        let got = std::io::copy(&mut body.take(n), &mut std::io::sink()).map_err(|e| http::from_io(url, &e))?;
        if got != n {
            return Err(Error::network(url, "connection closed before the body was complete"));
        }
        self.progress.add(got);
        Ok(())
    }

    /// Stream `*pos..job.end` of a body positioned at `*pos` into the job's segments.
    fn feed_segments(
        &self,
        job: &BlobJob,
        url: &str,
        body: &mut dyn Read,
        pos: &mut u64,
        sink: &dyn BlobSink,
    ) -> Result<()> {
        let mut stall = self.stall_watch();
        for seg in &job.segments {
            let seg_end = seg.blob_offset + seg.len;
            if seg_end <= *pos {
                continue;
            }
            if seg.blob_offset > *pos {
                // A gap between coalesced files: read past it.
                let gap = seg.blob_offset - *pos;
                let got =
                    std::io::copy(&mut body.take(gap), &mut std::io::sink()).map_err(|e| http::from_io(url, &e))?;
                self.progress.add(got);
                if got != gap {
                    return Err(Error::network(url, "connection closed before the body was complete"));
                }
                *pos = seg.blob_offset;
            }
            let file = sink.file(seg.file)?;
            let within = *pos - seg.blob_offset;
            const STEP: u64 = 1 << 20;
            while *pos < seg_end {
                let n = (seg_end - *pos).min(STEP);
                let off = seg.file_offset + (*pos - seg.blob_offset);
                // SAFETY: each segment's file range belongs to one job, and within the job to
                // one segment: no other writer touches it.
                let buf = unsafe { file.fresh_mut(off, n as usize) };
                self.read_exact_into(url, body, buf, &mut stall)?;
                *pos += n;
            }
            let _ = within;
            sink.segment_done(seg)?;
        }
        if *pos < job.end {
            let rest = job.end - *pos;
            let got = std::io::copy(&mut body.take(rest), &mut std::io::sink()).map_err(|e| http::from_io(url, &e))?;
            *pos += got;
        }
        Ok(())
    }

    /// Fallback for servers that ignore Range: one GET of the whole blob, cutting every job's
    /// segments out of the stream in blob order (`jobs` must not overlap). A failed stream is
    /// retried under the policy (failing over to another endpoint), skipping what is written.
    pub fn stream_blob(&self, product: &str, jobs: &[BlobJob], urls: &dyn Urls, sink: &dyn BlobSink) -> Result<()> {
        let mut ordered: Vec<&BlobJob> = jobs.iter().filter(|j| j.product == product).collect();
        ordered.sort_by_key(|j| j.start);
        for w in ordered.windows(2) {
            if let [a, b] = w {
                if b.start < a.end {
                    return Err(Error::BadRange {
                        url: format!("main.bin of {product}"),
                        start: b.start,
                        end: b.end,
                        got: "overlapping pieces in one stream".into(),
                    });
                }
            }
        }
        let n = urls.endpoints(product, Object::MainBin).max(1);
        let mut piece = Piece::default();
        let health = self.health(product);
        let mut endpoint = piece.endpoint(&health, n, self.retry.max_retries).unwrap_or(0);
        let (mut idx, mut pos) = (0usize, 0u64);
        while idx < ordered.len() {
            let (url, link) = urls.url(product, endpoint, Object::MainBin)?;
            let before = pos;
            let e = match self.stream_blob_once(&url, &ordered, &mut idx, &mut pos, sink) {
                Ok(()) => {
                    piece.on_success(&health, endpoint);
                    continue;
                }
                Err(e) => e,
            };
            if matches!(e, Error::Interrupted) {
                return Err(e);
            }
            if pos > before {
                piece.progressed(endpoint);
            }
            match piece.on_error(&health, &self.retry, endpoint, n, &e) {
                Step::GiveUp => return Err(e),
                Step::Renew => urls.refused(product, Object::MainBin, &link)?,
                Step::Retry { endpoint: next, wait } => {
                    let what = format!("main.bin of {product} from byte {pos} (endpoint {endpoint})");
                    if !self.retry_wait(&what, piece.attempts(), &e, wait) {
                        return Err(Error::Interrupted);
                    }
                    endpoint = next;
                }
            }
        }
        Ok(())
    }

    /// One GET of the whole blob: skip to `*pos`, then feed `ordered[*idx..]`.
    fn stream_blob_once(
        &self,
        url: &str,
        ordered: &[&BlobJob],
        idx: &mut usize,
        pos: &mut u64,
        sink: &dyn BlobSink,
    ) -> Result<()> {
        let mut resp = http::get(&self.agent, url, None, None)?;
        if resp.status().as_u16() != 200 {
            return Err(http::status_error(url, &mut resp));
        }
        let mut body = resp.body_mut().as_reader();
        let skip = |body: &mut dyn Read, n: u64| -> Result<()> {
            let got = std::io::copy(&mut body.take(n), &mut std::io::sink()).map_err(|e| http::from_io(url, &e))?;
            if got != n {
                return Err(Error::network(url, "connection closed before the body was complete"));
            }
            Ok(())
        };
        // What earlier attempts wrote is skipped, not written again.
        skip(&mut body, *pos)?;
        while let Some(job) = ordered.get(*idx) {
            if *pos < job.start {
                skip(&mut body, job.start - *pos)?;
                *pos = job.start;
            }
            self.feed_segments(job, url, &mut body, pos, sink)?;
            *idx += 1;
        }
        Ok(())
    }
}

/// A file to cut into blob jobs: its index, its offset in the blob, and the
/// `(file_offset, len)` parts still to fetch.
pub type BlobFile = (usize, u64, Vec<(u64, u64)>);

/// Cut files into blob jobs: files larger than `piece` are split into `piece`-sized jobs; runs
/// of smaller files that follow each other in the blob (gaps up to `max_gap`) are coalesced
/// into jobs of at most `piece` bytes. `files` are `(file index, blob offset, parts)` where
/// `parts` are the `(file_offset, len)` pieces the caller tracks (already cut at `piece`).
///
/// A file larger than `piece` shares no job with another file: its first bytes in the tail job
/// of the file before it would wait for that file's last request, and its whole-file MD5, which
/// can only follow it from its first byte, with them (measured, the 512 MiB game-like V1 twin
/// paced at 20 MiB/s per connection: two large files were hashed only after the last byte, a
/// 0.18 s tail).
pub fn plan_blob_jobs(product: &str, mut files: Vec<BlobFile>, piece: u64, max_gap: u64) -> Vec<BlobJob> {
    files.sort_by_key(|f| f.1);
    let mut jobs: Vec<BlobJob> = Vec::new();
    let mut run: Option<BlobJob> = None;
    // Whether every file in `run` is small enough to share a job.
    let mut run_small = true;
    for (file, blob_off, parts) in files {
        let small = parts.iter().map(|p| p.1).sum::<u64>() <= piece;
        for (fo, len) in parts {
            if len == 0 {
                continue;
            }
            let seg = Segment { blob_offset: blob_off + fo, file, file_offset: fo, len };
            let seg_end = seg.blob_offset + len;
            let fits = run.as_ref().is_some_and(|r| {
                let same_file = r.segments.last().is_some_and(|l| l.file == file);
                seg.blob_offset >= r.end
                    && seg.blob_offset - r.end <= max_gap
                    && seg_end - r.start <= piece
                    && (same_file || (small && run_small))
            });
            if fits {
                let r = run.as_mut().expect("run exists");
                run_small &= small;
                r.end = seg_end;
                r.segments.push(seg);
            } else {
                if let Some(r) = run.take() {
                    jobs.push(r);
                }
                run_small = small;
                run = Some(BlobJob {
                    product: product.to_string(),
                    start: seg.blob_offset,
                    end: seg_end,
                    segments: vec![seg],
                });
            }
        }
    }
    if let Some(r) = run {
        jobs.push(r);
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesces_small_files_and_splits_large_ones() {
        let files = vec![
            (0, 0, vec![(0, 100)]),
            (1, 100, vec![(0, 50)]),
            (2, 160, vec![(0, 40)]), // 10-byte gap
            (3, 1000, vec![(0, 300), (300, 300), (600, 10)]),
            (4, 2000, vec![]), // empty
        ];
        let jobs = plan_blob_jobs("p", files, 300, 16);
        let spans: Vec<(u64, u64, usize)> = jobs.iter().map(|j| (j.start, j.end, j.segments.len())).collect();
        assert_eq!(spans, vec![(0, 200, 3), (1000, 1300, 1), (1300, 1600, 1), (1600, 1610, 1)]);
        assert_eq!(jobs[0].segments[2], Segment { blob_offset: 160, file: 2, file_offset: 0, len: 40 });
    }

    #[test]
    fn a_large_file_shares_no_job_with_its_neighbours() {
        // Small, large (3 pieces of 300), small, small: the large file's head does not ride in
        // the small files' job before it, nor does the next small file ride in its tail.
        let files = vec![
            (0, 0, vec![(0, 100)]),
            (1, 100, vec![(0, 300), (300, 300), (600, 50)]),
            (2, 750, vec![(0, 40)]),
            (3, 790, vec![(0, 60)]),
        ];
        let jobs = plan_blob_jobs("p", files, 300, 16);
        let spans: Vec<(u64, u64, Vec<usize>)> =
            jobs.iter().map(|j| (j.start, j.end, j.segments.iter().map(|s| s.file).collect())).collect();
        assert_eq!(
            spans,
            vec![
                (0, 100, vec![0]),
                (100, 400, vec![1]),
                (400, 700, vec![1]),
                (700, 750, vec![1]),
                (750, 850, vec![2, 3])
            ]
        );
    }

    #[test]
    fn overlapping_files_are_not_coalesced() {
        let files = vec![(0, 0, vec![(0, 100)]), (1, 50, vec![(0, 100)])];
        let jobs = plan_blob_jobs("p", files, 1000, 16);
        assert_eq!(jobs.len(), 2);
    }
}
