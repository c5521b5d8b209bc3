//! The V2 chunk engine: each chunk is one GET of a zlib object, inflated straight into its
//! file's mapped slice as it streams in.
//!
//! Per worker the memory is one 64 KiB input buffer and one inflate state, whatever the chunk
//! size (GOG's tail chunks can exceed 10 MiB), so the whole install stays within a few MiB of
//! anonymous memory. Every chunk is checked as it lands: a well-formed zlib stream whose
//! Adler-32 (of the inflated bytes, checked by zlib) matches, nothing after it, and the
//! inflated size of the manifest — which catches damage in transit at the chunk, so only that
//! chunk is fetched again. Its content is then checked by MD5 exactly once: the chunk's
//! own inflated MD5 here, unless the caller covers those bytes with a whole-file MD5 (which it
//! checks as the file completes, and which localises a bad chunk by its inflated MD5 if it
//! fails). The MD5 of the bytes as stored (`compressedMd5`, the chunk's address) is not
//! computed: it would hash 70 % as many bytes again (0.5 CPU-s per 512 MiB install, measured)
//! for a check the inflated bytes' MD5 already makes.
//! For the last requests of a download the sink may lend a file's digest to the worker
//! ([`ChunkSink::lend_digest`]), which then hashes the chunk while inflating it, so no hashing
//! is left when the last byte arrives.
//!
//! When no chunk is left to start, idle workers help the ones still in flight ([`super::help`]):
//! they fetch the second half of a slow chunk with a Range request, and its owner continues
//! from their bytes.
//!
//! URLs come from a [`Urls`] source (secure links, or the token-less dependency store); which
//! endpoint each attempt uses, renewals and waits are decided by [`super::policy`]. A chunk used by several files (or twice in one) is fetched
//! once and copied to its other places.

// unsafe: this file inflates chunks straight into their slices of the mapped files.
#![allow(unsafe_code)]

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use flate2::{Decompress, FlushDecompress, Status};
use md5::{Digest, Md5};

use super::help::{Claim, Flight, Grant, Tail};
use super::policy::{Piece, Step};
use super::{Engine, Object, Urls};
use crate::error::{redact_url, Error, Result};
use crate::http;
use crate::md5x::Md5State;
use crate::sink::MappedFile;
use crate::verify::hex;

/// Size of each worker's input buffer.
const INPUT_BUF: usize = 64 * 1024;

pub use crate::sinks::{ChunkJob, ChunkSink, Target};

/// A digest lent for a chunk's first target: `base` is the digest just before the chunk.
/// Handed back unadvanced if the chunk fails.
struct Loan<'s> {
    sink: &'s dyn ChunkSink,
    target: Target,
    base: Option<Md5State>,
}

/// How often (wire bytes) a chunk asks for its file's digest while it has none.
const LEND_EVERY: u64 = 512 << 10;

impl Loan<'_> {
    /// Ask the sink for the target file's digest (see [`ChunkSink::lend_digest`]).
    fn ask(&self) -> Option<Md5State> {
        self.sink.lend_digest(self.target)
    }
}

impl Drop for Loan<'_> {
    fn drop(&mut self) {
        if self.base.is_some() {
            self.sink.end_loan(self.target);
        }
    }
}

impl Engine {
    /// Fetch every job with all workers, in order of the slice (callers order them file by
    /// file so few files are open at once and whole-file hashes can follow).
    pub fn download_chunks(&self, jobs: &[ChunkJob], urls: &dyn Urls, sink: &dyn ChunkSink) -> Result<()> {
        let next = AtomicUsize::new(0);
        // Workers busy with a job: helpers keep looking while any is.
        let busy = AtomicUsize::new(0);
        let tail = Tail::default();
        // Every worker, even with fewer jobs: the idle ones help the slow chunks finish.
        self.run_crew(self.workers, |crew| {
            // zlib streams: zlib reads the header and checks the Adler-32 trailer.
            let mut w = ChunkWorker { buf: vec![0u8; INPUT_BUF], inflate: Decompress::new(true) };
            while !crew.failed() && !self.cancelled() {
                busy.fetch_add(1, Ordering::AcqRel);
                let Some(job) = jobs.get(next.fetch_add(1, Ordering::AcqRel)) else {
                    busy.fetch_sub(1, Ordering::AcqRel);
                    // Nothing left to start: help the chunks still in flight finish sooner.
                    if self.help(&tail) || busy.load(Ordering::Acquire) > 0 {
                        continue;
                    }
                    break;
                };
                let r = self.fetch_chunk(&mut w, job, urls, sink, &tail);
                busy.fetch_sub(1, Ordering::AcqRel);
                if let Err(e) = r {
                    crew.fail(e);
                    break;
                }
            }
        })
    }

    fn fetch_chunk(
        &self,
        w: &mut ChunkWorker,
        job: &ChunkJob,
        urls: &dyn Urls,
        sink: &dyn ChunkSink,
        tail: &Tail,
    ) -> Result<()> {
        let first = *job.targets.first().ok_or_else(|| Error::manifest(&job.compressed_md5, "chunk without target"))?;
        let file = sink.file(first.file)?;
        let reused = match job.local.as_deref() {
            Some((path, off)) => copy_local(job, path, *off, &file, first.offset),
            None => false,
        };
        if reused {
            self.progress.add_local(job.compressed_size);
        }
        let mut loan = Loan { sink, target: first, base: None };
        let mut digest = None;
        if !reused {
            let obj = Object::Chunk(&job.compressed_md5);
            let n = urls.endpoints(&job.product, obj).max(1);
            let mut piece = Piece::default();
            let health = self.health(&job.product);
            let mut endpoint = piece.endpoint(&health, n, self.retry.max_retries).unwrap_or(0);
            loop {
                let (url, link) = urls.url(&job.product, endpoint, obj)?;
                let mut counted = 0u64;
                let r = self.fetch_chunk_once(w, job, &url, &file, first.offset, &mut loan, tail, &mut counted);
                let e = match r {
                    Ok(d) => {
                        piece.on_success(&health, endpoint);
                        digest = d;
                        break;
                    }
                    Err(e) => e,
                };
                // Bytes of a failed attempt are fetched again: progress counts verified bytes.
                self.progress.unadd(counted);
                if matches!(e, Error::Interrupted) {
                    return Err(e);
                }
                match piece.on_error(&health, &self.retry, endpoint, n, &e) {
                    Step::GiveUp => return Err(e),
                    // Expired or revoked link: renew (bounded, one renewal per product in
                    // flight) and try again at once.
                    Step::Renew => urls.refused(&job.product, obj, &link)?,
                    Step::Retry { endpoint: next, wait } => {
                        let what = format!("chunk {} (endpoint {endpoint})", job.compressed_md5);
                        if !self.retry_wait(&what, piece.attempts(), &e, wait) {
                            return Err(Error::Interrupted);
                        }
                        endpoint = next;
                    }
                }
            }
        }
        // Copy to the chunk's other places.
        for t in &job.targets[1..] {
            let dst = sink.file(t.file)?;
            // Refused before the target is claimed: `fresh_mut` gives up a range's old bytes,
            // which here would be the source's.
            if Arc::ptr_eq(&file, &dst) && ranges_overlap(first.offset, t.offset, job.size) {
                return Err(Error::manifest(&job.compressed_md5, "chunk placed over itself"));
            }
            // SAFETY: the first target's bytes are finished and owned by this worker; every
            // target range belongs to this job alone (the planner gives each file range one chunk).
            let src = unsafe { file.slice(first.offset, job.size as usize) };
            let out = unsafe { dst.fresh_mut(t.offset, job.size as usize) };
            out.copy_from_slice(src);
            self.progress.add_local(0);
        }
        loan.base = None;
        let r = sink.done(job, digest);
        drop(loan);
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn fetch_chunk_once(
        &self,
        w: &mut ChunkWorker,
        job: &ChunkJob,
        url: &str,
        file: &MappedFile,
        offset: u64,
        loan: &mut Loan<'_>,
        tail: &Tail,
        counted: &mut u64,
    ) -> Result<Option<Md5State>> {
        let t0 = std::time::Instant::now();
        // A chunk body silent for `STALL_CUT` is cut and fetched again (not held for the 15 s
        // read timeout), unless a low rate limit makes long waits normal.
        let mut resp = if self.stall_watch().enabled {
            http::get_data_cut(&self.agent, url, None, super::policy::STALL_CUT)?
        } else {
            http::get(&self.agent, url, None, None)?
        };
        let headers_after = t0.elapsed();
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(http::status_error(url, &mut resp));
        }
        if let Some(enc) = resp.headers().get("content-encoding").and_then(|v| v.to_str().ok()) {
            if !enc.eq_ignore_ascii_case("identity") {
                return Err(Error::network(url, format!("unexpected Content-Encoding {enc}")));
            }
        }
        let size = usize::try_from(job.size).map_err(|_| Error::manifest(&job.compressed_md5, "chunk too large"))?;
        // SAFETY: this chunk's range of its first target file is written by this worker only.
        let out = unsafe { file.fresh_mut(offset, size) };
        let mut body = resp.body_mut().as_reader();
        let mut stall = self.stall_watch();
        // The whole-file digest, once lent: each attempt hashes into a fresh copy.
        if job.hash_inline && loan.base.is_none() {
            loan.base = loan.ask();
        }
        let mut d = Decoder {
            job,
            url,
            out,
            inflated: job.check_md5.then(Md5::new),
            digest: loan.base.clone(),
            produced: 0,
            wire_len: 0,
            ended: false,
            next_ask: LEND_EVERY,
        };
        w.inflate.reset(true);
        let step = self.limiter.as_ref().map(|l| l.read_size()).unwrap_or(INPUT_BUF).min(INPUT_BUF);
        let flight = tail.start(url, job.compressed_size);
        let mut helped = 0usize;
        loop {
            if self.cancelled() {
                return Err(Error::Interrupted);
            }
            let k = match flight.grant(step, || self.cancelled()) {
                Grant::Read(k) => k,
                Grant::Rest(rest) => {
                    // A helper fetched the rest: finish from its bytes, leave our response.
                    helped = rest.len();
                    self.progress.add_local(helped as u64);
                    *counted += helped as u64;
                    d.feed(&mut w.inflate, &rest, loan)?;
                    break;
                }
            };
            let n = match body.read(&mut w.buf[..k]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(http::from_io(url, &e)),
            };
            flight.advance(n);
            self.progress.add(n as u64);
            *counted += n as u64;
            self.throttle(n);
            stall.feed(n as u64).map_err(|r| Error::network(url, r))?;
            d.feed(&mut w.inflate, &w.buf[..n], loan)?;
        }
        drop(flight);
        let digest = d.finish()?;
        trace!(
            "chunk {} (file {} at {}{}{}) ok: {} bytes on the wire, headers after {headers_after:?}, done after {:?} ({:?})",
            job.compressed_md5,
            job.targets[0].file,
            job.targets[0].offset,
            if digest.is_some() { ", hashed inline" } else { "" },
            if helped > 0 { format!(", last {helped} bytes by a helper") } else { String::new() },
            job.compressed_size,
            t0.elapsed(),
            std::thread::current().name().unwrap_or("")
        );
        Ok(digest)
    }

    /// An idle worker helps the in-flight chunk with the most time left (see [`super::help`]):
    /// false when nothing is left to help with.
    fn help(&self, tail: &Tail) -> bool {
        let (flight, at, end) = match tail.claim() {
            Claim::Range(f, a, b) => (f, a, b),
            Claim::Later => {
                std::thread::sleep(std::time::Duration::from_millis(10));
                return true;
            }
            Claim::Never => {
                // (The caller asks again while chunks are being started.)
                std::thread::sleep(std::time::Duration::from_millis(10));
                return false;
            }
        };
        let t0 = std::time::Instant::now();
        let r = self.fetch_rest(&flight, at, end);
        match &r {
            Ok(_) => trace!("helped: bytes {at}-{} of {} in {:?}", end - 1, redact_url(&flight.url), t0.elapsed()),
            Err(e) => debug!("helping with bytes {at}-{} failed: {e}", end - 1),
        }
        flight.deliver(r.ok());
        true
    }

    /// Fetch bytes `at..end` of `flight`'s object into a buffer.
    fn fetch_rest(&self, flight: &Flight, at: u64, end: u64) -> Result<Vec<u8>> {
        let url = &flight.url;
        let bad = |got: String| Error::BadRange { url: redact_url(url), start: at, end, got };
        let mut resp = if self.stall_watch().enabled {
            http::get_data_cut(&self.agent, url, Some((at, end - 1)), super::policy::STALL_CUT)?
        } else {
            http::get(&self.agent, url, None, Some((at, end - 1)))?
        };
        let status = resp.status().as_u16();
        if status != 206 {
            return Err(bad(format!("status {status}")));
        }
        let cr = resp.headers().get("content-range").and_then(|v| v.to_str().ok()).unwrap_or("");
        match super::range::parse_content_range(cr) {
            Some((a, b, total)) if a == at && b == end - 1 && total.is_none_or(|t| t == end) => {}
            _ => return Err(bad(format!("206 with Content-Range {cr:?}"))),
        }
        let len = usize::try_from(end - at).map_err(|_| bad("range too large".into()))?;
        let mut buf = vec![0u8; len];
        let mut body = resp.body_mut().as_reader();
        let mut stall = self.stall_watch();
        // In 1 MiB steps, to stop early when the owner no longer wants the bytes.
        let mut got = 0u64;
        for piece in buf.chunks_mut(1 << 20) {
            let r = if flight.is_over() {
                Err(Error::Interrupted)
            } else {
                self.read_exact_into(url, &mut body, piece, &mut stall)
            };
            if let Err(e) = r {
                // Not delivered: none of it counts as progress.
                self.progress.unadd(got);
                return Err(e);
            }
            got += piece.len() as u64;
        }
        // The owner counts these bytes as done when it takes them (it may never need them).
        self.progress.unadd(got);
        Ok(buf)
    }
}

/// One chunk being checked and inflated: inflate (with zlib's Adler-32) into the mapped slice,
/// the inflated MD5 and/or the lent whole-file digest.
struct Decoder<'a> {
    job: &'a ChunkJob,
    url: &'a str,
    out: &'a mut [u8],
    inflated: Option<Md5>,
    digest: Option<Md5State>,
    produced: usize,
    wire_len: u64,
    /// zlib saw the end of the stream (and its Adler-32 matched).
    ended: bool,
    next_ask: u64,
}

impl Decoder<'_> {
    /// Take the next wire bytes.
    fn feed(&mut self, inflate: &mut Decompress, bytes: &[u8], loan: &mut Loan<'_>) -> Result<()> {
        let job = self.job;
        if self.ended && !bytes.is_empty() {
            return Err(self.invalid("bytes after the end of the stream"));
        }
        self.wire_len += bytes.len() as u64;
        if job.hash_inline && loan.base.is_none() && self.wire_len >= self.next_ask {
            // The digest may have caught up with this chunk meanwhile: take it, hash what is
            // already inflated, and go on inline.
            self.next_ask = self.wire_len + LEND_EVERY;
            if let Some(b) = loan.ask() {
                let mut d = b.clone();
                d.update(&self.out[..self.produced]);
                loan.base = Some(b);
                self.digest = Some(d);
            }
        }
        let size = self.out.len();
        let mut input = bytes;
        while !input.is_empty() && !self.ended {
            let (in0, out0) = (inflate.total_in(), inflate.total_out());
            let mut scratch = [0u8; 64];
            let dst: &mut [u8] = if self.produced < size { &mut self.out[self.produced..] } else { &mut scratch };
            let status =
                inflate.decompress(input, dst, FlushDecompress::None).map_err(|e| self.invalid(&e.to_string()))?;
            let consumed = (inflate.total_in() - in0) as usize;
            let made = (inflate.total_out() - out0) as usize;
            if self.produced >= size && made > 0 {
                return Err(Error::Size {
                    what: format!("chunk {}", job.compressed_md5),
                    expected: job.size,
                    actual: job.size + made as u64,
                });
            }
            let new = &self.out[self.produced..self.produced + made];
            if let Some(h) = self.inflated.as_mut() {
                h.update(new);
            }
            if let Some(d) = self.digest.as_mut() {
                d.update(new);
            }
            self.produced += made;
            input = &input[consumed..];
            match status {
                Status::StreamEnd => self.ended = true,
                _ if consumed == 0 && made == 0 => break,
                _ => {}
            }
        }
        if self.ended && !input.is_empty() {
            return Err(self.invalid("bytes after the end of the stream"));
        }
        Ok(())
    }

    fn invalid(&self, why: &str) -> Error {
        Error::Checksum {
            what: format!("chunk {} from {} (inflate: {why})", self.job.compressed_md5, redact_url(self.url)),
            expected: self.job.compressed_md5.to_string(),
            actual: "invalid zlib data".into(),
        }
    }

    /// All wire bytes are in: check everything; the advanced whole-file digest, if lent.
    fn finish(self) -> Result<Option<Md5State>> {
        let job = self.job;
        if !self.ended {
            return Err(self.invalid("stream incomplete"));
        }
        if self.produced != self.out.len() {
            return Err(Error::Size {
                what: format!("inflated chunk {}", job.compressed_md5),
                expected: job.size,
                actual: self.produced as u64,
            });
        }
        if let Some(h) = self.inflated {
            let actual = hex(&h.finalize());
            if actual != job.md5 {
                return Err(Error::Checksum {
                    what: format!("inflated chunk {}", job.compressed_md5),
                    expected: job.md5.to_string(),
                    actual,
                });
            }
        }
        Ok(self.digest)
    }
}

/// Copy a chunk's inflated bytes from a local file into place and check their MD5; false (and
/// nothing trusted) when the local copy is missing or different.
fn copy_local(job: &ChunkJob, path: &std::path::Path, off: u64, file: &MappedFile, at: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(src) = std::fs::File::open(path) else { return false };
    let Ok(size) = usize::try_from(job.size) else { return false };
    // SAFETY: this chunk's range of its first target is written by this worker only.
    let out = unsafe { file.fresh_mut(at, size) };
    if src.read_exact_at(out, off).is_err() {
        return false;
    }
    let ok = hex(&Md5::digest(&*out)) == job.md5;
    if ok {
        debug!("chunk {} reused from {}", job.compressed_md5, path.display());
    }
    ok
}

fn ranges_overlap(a: u64, b: u64, len: u64) -> bool {
    a < b + len && b < a + len
}

struct ChunkWorker {
    buf: Vec<u8>,
    inflate: Decompress,
}
