//! The V2 chunk engine: each chunk is one GET of a zlib object, streamed through MD5 (of the
//! wire bytes) and inflated straight into its file's mapped slice.
//!
//! Per worker the memory is one 64 KiB input buffer and one inflate state, whatever the chunk
//! size (GOG's tail chunks can exceed 10 MiB), so the whole install stays within a few MiB of
//! anonymous memory. Every chunk is checked three ways before it counts: MD5 of the bytes as
//! stored (`compressedMd5`), zlib's own Adler-32 of the inflated stream, and the inflated size;
//! the inflated MD5 is checked here too unless the caller covers those bytes with a whole-file
//! MD5 (which it then checks as the file completes) — so no inflated byte is hashed twice.
//!
//! URLs come from a [`ChunkUrls`] (secure links with endpoint failover and renewal, or the
//! token-less dependency store). A chunk used by several files (or twice in one) is fetched
//! once and copied to its other places.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use flate2::{Decompress, FlushDecompress, Status};
use md5::{Digest, Md5};

use super::Engine;
use crate::api::secure_link::{galaxy_path, LinkCache, SecureLink};
use crate::error::{redact_url, Error, Result};
use crate::http;
use crate::sink::MappedFile;
use crate::verify::hex;

/// Size of each worker's input buffer.
const INPUT_BUF: usize = 64 * 1024;

/// Where one chunk's inflated bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Index of the file in the caller's list.
    pub file: usize,
    /// Offset of the chunk in that file.
    pub offset: u64,
}

/// One chunk to fetch.
#[derive(Debug, Clone)]
pub struct ChunkJob {
    /// Product whose store holds the chunk (selects the secure link).
    pub product: String,
    /// MD5 of the stored zlib object (also its address).
    pub compressed_md5: String,
    /// Size of the stored object (informational; for progress).
    pub compressed_size: u64,
    /// MD5 of the inflated bytes.
    pub md5: String,
    /// Inflated size.
    pub size: u64,
    /// Where the inflated bytes go (at least one).
    pub targets: Vec<Target>,
    /// Check `md5` here (false when a whole-file MD5 covers every target).
    pub check_md5: bool,
    /// A local copy of the inflated bytes (a file of the installed build at an offset): used
    /// instead of the network when its MD5 matches (updates, repairs).
    pub local: Option<(std::path::PathBuf, u64)>,
}

/// Source of chunk URLs.
pub trait ChunkUrls: Sync {
    /// The URL of `job` through endpoint number `endpoint` (taken modulo the number of
    /// endpoints), plus the link it came from.
    fn url(&self, job: &ChunkJob, endpoint: usize) -> Result<(String, Arc<SecureLink>)>;
    /// Number of endpoints for `job`'s product.
    fn endpoints(&self, job: &ChunkJob) -> usize;
    /// The CDN refused a URL of `link` (401/403, expired): renew it. Errors when renewals are
    /// exhausted or the product is not owned.
    fn refused(&self, job: &ChunkJob, link: &Arc<SecureLink>) -> Result<()>;
}

/// Chunk URLs from per-product secure links (renewed before expiry and on refusal, one
/// renewal in flight per product), endpoints in priority order.
pub struct SecureLinkUrls<'a> {
    /// The per-product link cache.
    pub links: &'a LinkCache,
}

impl ChunkUrls for SecureLinkUrls<'_> {
    fn url(&self, job: &ChunkJob, endpoint: usize) -> Result<(String, Arc<SecureLink>)> {
        let link = self.links.get(&job.product)?;
        let n = link.endpoints.len();
        if n == 0 {
            return Err(Error::manifest(format!("secure link of product {}", job.product), "no endpoints"));
        }
        let rel = format!("/{}", galaxy_path(&job.compressed_md5)?);
        Ok((link.endpoints[endpoint % n].url_for(&rel), link))
    }

    fn endpoints(&self, job: &ChunkJob) -> usize {
        self.links.get(&job.product).map(|l| l.endpoints.len()).unwrap_or(1)
    }

    fn refused(&self, job: &ChunkJob, link: &Arc<SecureLink>) -> Result<()> {
        self.links.invalidate(&job.product, link).map(|_| ())
    }
}

/// Where chunks land and what happens when they are done.
pub trait ChunkSink: Sync {
    /// The mapped file for index `file` (opened lazily, preallocated to its final size).
    fn file(&self, file: usize) -> Result<Arc<MappedFile>>;
    /// `job` is written and checked at every target.
    fn done(&self, job: &ChunkJob) -> Result<()>;
}

impl Engine {
    /// Fetch every job with all workers, in order of the slice (callers order them file by
    /// file so few files are open at once and whole-file hashes can follow).
    pub fn download_chunks(&self, jobs: &[ChunkJob], urls: &dyn ChunkUrls, sink: &dyn ChunkSink) -> Result<()> {
        let next = AtomicUsize::new(0);
        self.run_crew(self.workers.min(jobs.len()), |crew| {
            let mut w = ChunkWorker { buf: vec![0u8; INPUT_BUF], inflate: Decompress::new(true) };
            while !crew.failed() && !self.cancelled() {
                let Some(job) = jobs.get(next.fetch_add(1, Ordering::AcqRel)) else { break };
                if let Err(e) = self.fetch_chunk(&mut w, job, urls, sink) {
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
        urls: &dyn ChunkUrls,
        sink: &dyn ChunkSink,
    ) -> Result<()> {
        let first = *job.targets.first().ok_or_else(|| Error::manifest(&job.compressed_md5, "chunk without target"))?;
        let file = sink.file(first.file)?;
        let mut endpoint = 0usize;
        let mut attempt = 0u32;
        let reused = match &job.local {
            Some((path, off)) => copy_local(job, path, *off, &file, first.offset),
            None => false,
        };
        if reused {
            self.progress.add_local(job.compressed_size);
        }
        if !reused {
            loop {
                let (url, link) = urls.url(job, endpoint)?;
                match self.fetch_chunk_once(w, job, &url, &file, first.offset) {
                    Ok(()) => break,
                    Err(Error::Interrupted) => return Err(Error::Interrupted),
                    Err(e) => {
                        let refused = matches!(e, Error::HttpStatus { status: 401 | 403, .. });
                        let missing = matches!(e, Error::HttpStatus { status: 404 | 410, .. });
                        attempt += 1;
                        if refused {
                            // Expired or revoked link: renew (bounded, one renewal per product in
                            // flight) and try again without counting it as a failure of the data.
                            urls.refused(job, &link)?;
                            if attempt > self.retry.max_retries + 3 {
                                return Err(e);
                            }
                            continue;
                        }
                        let n = urls.endpoints(job).max(1);
                        if missing && attempt < n as u32 {
                            endpoint += 1;
                            log::info!(
                                "chunk {} missing on endpoint {}; trying the next",
                                job.compressed_md5,
                                endpoint - 1
                            );
                            continue;
                        }
                        if !(e.is_spurious() || missing) || attempt > self.retry.max_retries {
                            return Err(e);
                        }
                        if n > 1 {
                            endpoint += 1;
                        }
                        self.backoff(&format!("chunk {}", job.compressed_md5), attempt, &e);
                        if self.cancelled() {
                            return Err(Error::Interrupted);
                        }
                    }
                }
            }
        }
        // Copy to the chunk's other places.
        for t in &job.targets[1..] {
            let dst = sink.file(t.file)?;
            // SAFETY: the first target's bytes are finished and owned by this worker; every
            // target range belongs to this job alone (the planner gives each file range one chunk).
            let src = unsafe { file.slice(first.offset, job.size as usize) };
            let out = unsafe { dst.slice_mut(t.offset, job.size as usize) };
            if Arc::ptr_eq(&file, &dst) && ranges_overlap(first.offset, t.offset, job.size) {
                return Err(Error::manifest(&job.compressed_md5, "chunk placed over itself"));
            }
            out.copy_from_slice(src);
            self.progress.add_local(0);
        }
        sink.done(job)
    }

    fn fetch_chunk_once(
        &self,
        w: &mut ChunkWorker,
        job: &ChunkJob,
        url: &str,
        file: &MappedFile,
        offset: u64,
    ) -> Result<()> {
        let t0 = std::time::Instant::now();
        let mut resp = self.agent.get(url).call().map_err(|e| http::from_ureq(url, e))?;
        let headers_after = t0.elapsed();
        let status = resp.status().as_u16();
        if status != 200 {
            let mut body = Vec::new();
            let _ = resp.body_mut().as_reader().take(4096).read_to_end(&mut body);
            return Err(Error::status(url, status, http::error_detail(&body)));
        }
        if let Some(enc) = resp.headers().get("content-encoding").and_then(|v| v.to_str().ok()) {
            if !enc.eq_ignore_ascii_case("identity") {
                return Err(Error::network(url, format!("unexpected Content-Encoding {enc}")));
            }
        }
        let size = usize::try_from(job.size).map_err(|_| Error::manifest(&job.compressed_md5, "chunk too large"))?;
        file.prefault(offset, job.size);
        // SAFETY: this chunk's range of its first target file is written by this worker only.
        let out = unsafe { file.slice_mut(offset, size) };
        let mut body = resp.body_mut().as_reader();
        let mut wire = Md5::new();
        let mut inflated = job.check_md5.then(Md5::new);
        let mut produced = 0usize;
        let mut wire_len = 0u64;
        let mut ended = false;
        let mut stall = self.stall_watch();
        w.inflate.reset(true);
        let step = self.limiter.as_ref().map(|l| l.read_size()).unwrap_or(INPUT_BUF).min(INPUT_BUF);
        loop {
            if self.cancelled() {
                return Err(Error::Interrupted);
            }
            let n = match body.read(&mut w.buf[..step]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(http::from_io(url, &e)),
            };
            wire.update(&w.buf[..n]);
            wire_len += n as u64;
            self.progress.add(n as u64);
            if let Some(l) = &self.limiter {
                l.acquire(n);
            }
            stall.feed(n as u64).map_err(|r| Error::network(url, r))?;
            if ended {
                // Bytes after the end of the zlib stream: the object is not what it claims.
                continue;
            }
            let mut input = &w.buf[..n];
            while !input.is_empty() && !ended {
                let (in0, out0) = (w.inflate.total_in(), w.inflate.total_out());
                let mut scratch = [0u8; 64];
                let dst: &mut [u8] = if produced < size { &mut out[produced..] } else { &mut scratch };
                let status = w.inflate.decompress(input, dst, FlushDecompress::None).map_err(|e| Error::Checksum {
                    what: format!("chunk {} (inflate: {e})", job.compressed_md5),
                    expected: job.compressed_md5.clone(),
                    actual: "invalid zlib data".into(),
                })?;
                let consumed = (w.inflate.total_in() - in0) as usize;
                let made = (w.inflate.total_out() - out0) as usize;
                if produced >= size && made > 0 {
                    return Err(Error::Size {
                        what: format!("chunk {}", job.compressed_md5),
                        expected: job.size,
                        actual: job.size + made as u64,
                    });
                }
                if let Some(h) = inflated.as_mut() {
                    h.update(&out[produced..produced + made]);
                }
                produced += made;
                input = &input[consumed..];
                match status {
                    Status::StreamEnd => ended = true,
                    _ if consumed == 0 && made == 0 => break,
                    _ => {}
                }
            }
        }
        let actual = hex(&wire.finalize());
        if actual != job.compressed_md5 {
            return Err(Error::Checksum {
                what: format!("chunk {} from {}", job.compressed_md5, redact_url(url)),
                expected: job.compressed_md5.clone(),
                actual,
            });
        }
        if !ended || produced != size {
            return Err(Error::Size {
                what: format!("inflated chunk {}", job.compressed_md5),
                expected: job.size,
                actual: produced as u64,
            });
        }
        if let Some(h) = inflated {
            let actual = hex(&h.finalize());
            if actual != job.md5 {
                return Err(Error::Checksum {
                    what: format!("inflated chunk {}", job.compressed_md5),
                    expected: job.md5.clone(),
                    actual,
                });
            }
        }
        log::trace!(
            "chunk {} ok: {wire_len} bytes on the wire, headers after {headers_after:?}, done after {:?} ({:?})",
            job.compressed_md5,
            t0.elapsed(),
            std::thread::current().name().unwrap_or("")
        );
        Ok(())
    }
}

/// Copy a chunk's inflated bytes from a local file into place and check their MD5; false (and
/// nothing trusted) when the local copy is missing or different.
fn copy_local(job: &ChunkJob, path: &std::path::Path, off: u64, file: &MappedFile, at: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(src) = std::fs::File::open(path) else { return false };
    let Ok(size) = usize::try_from(job.size) else { return false };
    // SAFETY: this chunk's range of its first target is written by this worker only.
    let out = unsafe { file.slice_mut(at, size) };
    if src.read_exact_at(out, off).is_err() {
        return false;
    }
    let ok = hex(&Md5::digest(&*out)) == job.md5;
    if ok {
        log::debug!("chunk {} reused from {}", job.compressed_md5, path.display());
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
