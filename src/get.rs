//! `get URL -o FILE`: the generic segmented download of one resource, resumable and verified.
//!
//! The bytes go to `FILE.part` (preallocated and mapped) and a journal of finished ranges to
//! `FILE.part.state`; a range is journaled only after its bytes were written back (msync), so
//! after Ctrl-C, `kill -9` or a power cut the same command fetches only what is missing. The MD5
//! is computed while the data arrives (see [`crate::verify`](mod@crate::verify)); only when it (and `--md5`,
//! `--size`) check out is `FILE.part` renamed to `FILE` and the journal removed. A mismatch
//! removes both, so the next run starts clean instead of trusting corrupt bytes.
//!
//! Output safety: FILE must be a regular file or a new name (a directory, a block device or a
//! symlink is refused, never renamed over; a character device such as `/dev/null` or a named
//! pipe is written in place, streamed once without resume). `FILE.part` and `FILE.part.state`
//! are opened without following symlinks and must be regular files; `FILE.part` is locked
//! (flock) for the whole run, so a second `get` of the same FILE is refused ([`Error::Busy`])
//! instead of truncating the mapping under the first.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use md5::{Digest, Md5};

use crate::error::{redact_url, Error, Result};
use crate::fetch::range::{parse_content_range, RangeJob, RangeOutcome};
use crate::fetch::schedule::pieces;
use crate::fetch::{read_body, Engine, EngineOptions};
use crate::http;
use crate::journal::{Journal, Record};
use crate::progress::{Event, FileStatus, Progress};
use crate::sink::{kind_of, lock_exclusive, open_regular, MappedFile};
use crate::verify::{hex, DoneMap, PrefixHasher, BLOCK};

/// Default piece size: small pieces handed out in file order keep the hasher's prefix close
/// behind the download (engineering-notes Part 3: 4 MiB pieces reached 0.94 of the capped
/// ideal, 16 MiB 0.89, equal splits 0.76).
pub const DEFAULT_PIECE: u64 = 4 << 20;

/// Smallest piece the automatic sizing picks for small downloads.
pub const MIN_PIECE: u64 = 256 << 10;

/// How far (bytes) a writer may run ahead of the MD5 watermark before it waits. Bounds the
/// data the hasher still has to read after the last byte lands, and keeps the workers from
/// starving the single MD5 stream of CPU on small machines.
pub const HASH_LAG: u64 = 48 << 20;

/// Options of [`get`] (the [`GetterBuilder`] sets them one by one; the fields stay public so
/// that a default can be adjusted in place).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GetOptions {
    /// Engine settings (workers, rate limit, retries, timeouts).
    pub engine: EngineOptions,
    /// Piece size (`--chunk-size`); default [`DEFAULT_PIECE`].
    pub piece_size: Option<u64>,
    /// Expected MD5 (lower-case hex).
    pub md5: Option<String>,
    /// Expected size.
    pub size: Option<u64>,
    /// Where events go.
    pub events: Option<Sender<Event>>,
    /// How long the end waits for a full event channel [default: 1 s]; see
    /// [`crate::progress`].
    pub event_grace: Duration,
    /// Set to stop (Ctrl-C): state is kept for resume.
    pub cancel: Arc<AtomicBool>,
}

impl Default for GetOptions {
    fn default() -> Self {
        GetOptions {
            engine: EngineOptions::default(),
            piece_size: None,
            md5: None,
            size: None,
            events: None,
            event_grace: crate::progress::FLUSH_GRACE,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// A configured `get`: `Getter::builder().workers(4).md5(sum).events(tx).build()?.get(url, out)?`.
///
/// ```
/// use galaxy_dl::{Event, Getter};
/// use galaxy_dl_mock::BlobServer;
///
/// let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
/// let blob = BlobServer::new(data.clone()); // a Range server on 127.0.0.1
/// let out = std::env::temp_dir().join(format!("galaxy-dl-doc-get-{}.bin", std::process::id()));
/// let (tx, rx) = crossbeam_channel::bounded(64);
/// let getter = Getter::builder().workers(4).piece_size(256 << 10).md5(blob.md5_hex()).events(tx).build()?;
/// let got = getter.get(&blob.url(), &out)?;
/// assert_eq!(got.size, data.len() as u64);
/// assert_eq!(std::fs::read(&out).unwrap(), data);
/// drop(getter);
/// assert!(rx.iter().any(|e| matches!(e, Event::Done { .. })));
/// // A wrong MD5 is refused before any request.
/// assert!(Getter::builder().md5("not-an-md5").build().is_err());
/// # std::fs::remove_file(&out).ok();
/// # Ok::<(), galaxy_dl::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Getter {
    opts: GetOptions,
}

impl Getter {
    /// Start building a getter; see [`GetterBuilder`].
    pub fn builder() -> GetterBuilder {
        GetterBuilder { opts: GetOptions::default() }
    }

    /// Download `url` to `out` (see [`get()`](fn@get)).
    ///
    /// # Errors
    /// As [`get()`](fn@get).
    pub fn get(&self, url: &str, out: &Path) -> Result<GetOutcome> {
        get(url, out, &self.opts)
    }

    /// The settings.
    pub fn options(&self) -> &GetOptions {
        &self.opts
    }
}

/// Builds a [`Getter`], checking its settings. Anything not set keeps its production default.
#[derive(Debug)]
#[must_use]
pub struct GetterBuilder {
    opts: GetOptions,
}

impl GetterBuilder {
    /// Parallel connections, 1 to 256 [default: 8].
    pub fn workers(mut self, n: usize) -> Self {
        self.opts.engine.workers = n;
        self
    }

    /// Global rate limit in bytes per second (at least 1) [default: none].
    pub fn limit_rate(mut self, bytes_per_sec: u64) -> Self {
        self.opts.engine.limit_rate = Some(bytes_per_sec);
        self
    }

    /// Retries of one piece after its first attempt [default: 5].
    pub fn max_retries(mut self, n: u32) -> Self {
        self.opts.engine.retry.max_retries = n;
        self
    }

    /// Size of the Range pieces (at least 4 KiB) [default: [`DEFAULT_PIECE`]].
    pub fn piece_size(mut self, bytes: u64) -> Self {
        self.opts.piece_size = Some(bytes);
        self
    }

    /// The MD5 the result must have (hex; checked at [`GetterBuilder::build`]).
    pub fn md5(mut self, hex: impl Into<String>) -> Self {
        self.opts.md5 = Some(hex.into());
        self
    }

    /// The size the result must have.
    pub fn size(mut self, bytes: u64) -> Self {
        self.opts.size = Some(bytes);
        self
    }

    /// Send progress events to `tx`; never blocking (see [`crate::progress`]).
    pub fn events(mut self, tx: Sender<Event>) -> Self {
        self.opts.events = Some(tx);
        self
    }

    /// Stop (keeping the resume state) when `flag` becomes true.
    pub fn cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.opts.cancel = flag;
        self
    }

    /// Replace every engine setting at once.
    pub fn engine(mut self, engine: EngineOptions) -> Self {
        self.opts.engine = engine;
        self
    }

    /// The getter.
    ///
    /// # Errors
    /// [`Error::Usage`] for workers outside 1–256, a zero rate limit, a piece under 4 KiB or an
    /// MD5 that is not 32 hex digits.
    pub fn build(mut self) -> Result<Getter> {
        let o = &mut self.opts;
        o.engine.check()?;
        if o.piece_size.is_some_and(|p| p < 4096) {
            return Err(Error::Usage("the piece size must be at least 4 KiB".into()));
        }
        if let Some(m) = &o.md5 {
            o.md5 = Some(crate::verify::parse_md5(m)?);
        }
        Ok(Getter { opts: self.opts })
    }
}

/// What [`get`] did.
#[derive(Clone, Debug)]
pub struct GetOutcome {
    /// Final size.
    pub size: u64,
    /// MD5 of the file, lower-case hex.
    pub md5: String,
    /// Bytes fetched in this run.
    pub downloaded: u64,
    /// Bytes that were already done (resume).
    pub resumed: u64,
    /// Whether Range requests were used.
    pub ranged: bool,
    /// Wall-clock time.
    pub elapsed: Duration,
}

/// What the server told us before the download.
#[derive(Debug, Clone)]
struct Probe {
    size: Option<u64>,
    ranges: bool,
    validator: String,
}

/// The data file and journal beside `out`.
#[doc(hidden)]
pub fn part_paths(out: &Path) -> (PathBuf, PathBuf) {
    let mut p = out.as_os_str().to_owned();
    p.push(".part");
    let part = PathBuf::from(p);
    let mut s = part.as_os_str().to_owned();
    s.push(".state");
    (part, PathBuf::from(s))
}

/// Download `url` to `out`. See the module docs.
///
/// # Errors
/// [`Error::Usage`] for a malformed URL; network, HTTP, range, disk and checksum errors as they
/// happen; [`Error::Interrupted`] after cancel (the partial state is kept).
pub fn get(url: &str, out: &Path, opts: &GetOptions) -> Result<GetOutcome> {
    let start = Instant::now();
    check_url(url)?;
    if is_stream_target(out) {
        return get_to_stream(url, out, opts, start);
    }
    if out.is_dir() {
        return Err(Error::Usage(format!("{} is a directory; -o takes a file name", out.display())));
    }
    check_target(out)?;
    let (part, state_path) = part_paths(out);
    let part_file = open_locked(&part, out)?;
    let r = get_locked(url, out, opts, (&part, &state_path), &part_file, start);
    if r.is_err() && part_file.metadata().is_ok_and(|m| m.len() == 0) {
        // Nothing was written (the probe failed, say): leave no empty `.part` behind.
        let _ = std::fs::remove_file(&part);
        let _ = std::fs::remove_file(&state_path);
    }
    r
}

fn get_locked(
    url: &str,
    out: &Path,
    opts: &GetOptions,
    (part, state_path): (&Path, &Path),
    part_file: &File,
    start: Instant,
) -> Result<GetOutcome> {
    let (part, state_path) = (part.to_path_buf(), state_path.to_path_buf());
    let progress = Arc::new(Progress::with_grace(opts.events.clone(), opts.event_grace));
    let engine = Engine::new(&opts.engine, progress.clone(), opts.cancel.clone())?;
    let probe = probe(&engine, url)?;
    debug!("probe answered after {:?}", start.elapsed());
    debug!("probe: {probe:?}");
    if let (Some(want), Some(have)) = (opts.size, probe.size) {
        if want != have {
            return Err(Error::Size { what: redact_url(url), expected: want, actual: have });
        }
    }
    let what = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| out.display().to_string());
    let Some(size) = probe.size else {
        return stream_unknown_size(&engine, url, out, (&part, part_file), &what, opts, start);
    };
    let piece = opts.piece_size.unwrap_or(DEFAULT_PIECE).max(BLOCK);
    let header = StateHeader { size, validator: probe.validator.clone(), url_id: url_id(url) };
    let mut resumed_ranges = if probe.ranges { load_state(&state_path, &part, &header) } else { Vec::new() };
    if resumed_ranges.is_empty() {
        let _ = std::fs::remove_file(&state_path);
    }
    let mut ranged = probe.ranges;
    loop {
        let handle = part_file.try_clone().map_err(|e| Error::io("open", &part, e))?;
        let (file, _) = MappedFile::from_file(handle, &part, size)?;
        let file = Arc::new(file);
        let done = DoneMap::new(size);
        for &(a, b) in &resumed_ranges {
            done.mark_range(a, b);
        }
        let resumed = done.done_bytes();
        progress.set_totals(size, resumed);
        progress.emit(Event::Start { what: what.clone(), total_bytes: size, resumed_bytes: resumed, files: 1 });
        // Enough pieces for every worker twice over, but never more than --chunk-size each.
        let missing = size - resumed;
        let piece = piece.min((missing / (2 * engine.workers as u64)).max(MIN_PIECE));
        let todo = missing_pieces(&done, size, piece, ranged);
        let journal = Journal::open(&state_path, &[STATE_MAGIC.to_string(), header.line()], resumed_ranges.is_empty())?;
        let hasher = PrefixHasher::default();
        let stop = AtomicBool::new(false);
        let (wake_tx, wake_rx) = crossbeam_channel::bounded::<()>(1);
        let (jtx, jrx) = crossbeam_channel::bounded::<Record>(crate::journal::CAPACITY);
        // The hasher starts at byte 0 and must read the resumed bytes too: they do not count
        // against the writers' lead, or a resumed run would look hash-bound from the start.
        let lag = HASH_LAG.max(2 * engine.workers as u64 * piece) + resumed;
        let (outcome, digest, jres) = std::thread::scope(|s| {
            let h = s.spawn(|| hasher.run(&file, &done, &wake_rx, &stop));
            let j = s.spawn(|| journal.run(jrx));
            let job = RangeJob {
                url,
                size,
                ranged,
                file: &file,
                done: &done,
                pieces: todo,
                hashed: Some(&hasher.hashed),
                lag_max: lag,
                wake: Some(&wake_tx),
                journal: if ranged { Some(&jtx) } else { None },
            };
            let outcome = engine.download_ranges(&job);
            debug!("last byte written after {:?}", start.elapsed());
            drop(jtx);
            if outcome.is_err() || matches!(outcome, Ok(RangeOutcome::NoRangeSupport)) {
                stop.store(true, Ordering::Release);
            }
            let digest = h.join().unwrap_or(None);
            debug!("digest ready after {:?}", start.elapsed());
            let jres = j.join().unwrap_or(Err(Error::Interrupted));
            debug!("journal closed after {:?}", start.elapsed());
            (outcome, digest, jres)
        });
        match outcome? {
            RangeOutcome::NoRangeSupport => {
                progress.emit(Event::Notice {
                    message: "the server ignores Range requests; downloading as one stream".into(),
                });
                drop(file);
                let _ = std::fs::remove_file(&state_path);
                resumed_ranges.clear();
                ranged = false;
                continue;
            }
            RangeOutcome::Complete => {}
        }
        jres?;
        let digest = match digest {
            Some(d) => hex(&d),
            None => return Err(Error::Interrupted),
        };
        if let Some(want) = &opts.md5 {
            if *want != digest {
                drop(file);
                let _ = std::fs::remove_file(&part);
                let _ = std::fs::remove_file(&state_path);
                return Err(Error::Checksum {
                    what: out.display().to_string(),
                    expected: want.clone(),
                    actual: digest,
                });
            }
        }
        let t = Instant::now();
        file.flush()?;
        debug!("download {:?}, final flush {:?}", start.elapsed() - t.elapsed(), t.elapsed());
        drop(file);
        check_target(out)?;
        std::fs::rename(&part, out).map_err(|e| Error::io("rename", out, e))?;
        let _ = std::fs::remove_file(&state_path);
        let elapsed = start.elapsed();
        progress.emit(Event::File {
            path: out.display().to_string(),
            size,
            md5: Some(digest.clone()),
            status: FileStatus::Done,
        });
        progress.emit(Event::Done {
            total_bytes: size,
            downloaded_bytes: progress.downloaded(),
            elapsed_secs: elapsed.as_secs_f64(),
            md5: Some(digest.clone()),
        });
        return Ok(GetOutcome { size, md5: digest, downloaded: progress.downloaded(), resumed, ranged, elapsed });
    }
}

/// FILE must be a regular file or not exist: the finished `.part` is renamed over it, and
/// renaming over a device, a directory or a symlink someone planted would replace it.
fn check_target(out: &Path) -> Result<()> {
    match std::fs::symlink_metadata(out) {
        Ok(m) if m.file_type().is_file() => Ok(()),
        Ok(m) => Err(Error::UnsafeTarget { path: out.to_path_buf(), reason: kind_of(m.file_type()) }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("stat", out, e)),
    }
}

/// Open `FILE.part` (no symlink, regular file) and lock it for this run. The lock is taken on
/// the open file, so after locking, the name must still be that file: a run that finished
/// meanwhile renamed it away (then take the new one).
fn open_locked(part: &Path, out: &Path) -> Result<File> {
    use std::os::unix::fs::MetadataExt;
    for _ in 0..5 {
        let f = open_regular(part)?;
        lock_exclusive(&f, out)?;
        let held = f.metadata().map_err(|e| Error::io("stat", part, e))?;
        match std::fs::symlink_metadata(part) {
            Ok(m) if m.dev() == held.dev() && m.ino() == held.ino() => return Ok(f),
            _ => continue,
        }
    }
    Err(Error::Busy { path: out.to_path_buf() })
}

fn check_url(url: &str) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !url.contains(char::is_whitespace) => Ok(()),
        _ => Err(Error::Usage(format!("invalid URL {:?}: expected http:// or https://", redact_url(url)))),
    }
}

/// Cut what is not done into pieces (in file order).
fn missing_pieces(done: &DoneMap, size: u64, piece: u64, ranged: bool) -> Vec<(u64, u64)> {
    if !ranged {
        return vec![(0, size)];
    }
    let mut out = Vec::new();
    let mut b = 0;
    while b < done.blocks() {
        if done.is_done(b) {
            b += 1;
            continue;
        }
        let s = b;
        while b < done.blocks() && !done.is_done(b) {
            b += 1;
        }
        let (start, _) = done.block_range(s);
        let (_, end) = done.block_range(b - 1);
        out.extend(pieces(start, end, piece));
    }
    out
}

/// Ask for the size and range support: HEAD first; if it does not say both, a 1-byte ranged GET.
fn probe(engine: &Engine, url: &str) -> Result<Probe> {
    engine.retrying(url, || probe_once(engine, url))
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string())
}

fn validator_of(resp: &ureq::http::Response<ureq::Body>) -> String {
    header(resp, "etag").or_else(|| header(resp, "last-modified")).unwrap_or_default()
}

fn probe_once(engine: &Engine, url: &str) -> Result<Probe> {
    let resp = engine.agent.head(url).call().map_err(|e| http::from_ureq(url, e))?;
    let status = resp.status().as_u16();
    let mut head_size = None;
    let mut validator = String::new();
    if (200..300).contains(&status) {
        head_size = header(&resp, "content-length").and_then(|v| v.parse::<u64>().ok());
        validator = validator_of(&resp);
        let accepts = header(&resp, "accept-ranges").is_some_and(|v| v.eq_ignore_ascii_case("bytes"));
        if let (Some(size), true) = (head_size, accepts) {
            return Ok(Probe { size: Some(size), ranges: true, validator });
        }
    } else if status != 405 && status != 501 && status != 403 {
        // 403 on HEAD happens with some signed URLs that are valid only for GET.
        return Err(Error::status(url, status, None));
    }
    let mut resp = engine.agent.get(url).header("Range", "bytes=0-0").call().map_err(|e| http::from_ureq(url, e))?;
    let status = resp.status().as_u16();
    let v = validator_of(&resp);
    if !v.is_empty() {
        validator = v;
    }
    match status {
        206 => {
            let cr = header(&resp, "content-range").unwrap_or_default();
            let total = match parse_content_range(&cr) {
                Some((0, 0, Some(t))) => t,
                _ => {
                    return Err(Error::BadRange {
                        url: redact_url(url),
                        start: 0,
                        end: 1,
                        got: format!("206 with Content-Range {cr:?}"),
                    })
                }
            };
            let mut sink = [0u8; 2];
            let _ = resp.body_mut().as_reader().read(&mut sink);
            Ok(Probe { size: Some(total), ranges: true, validator })
        }
        200 => {
            let size = header(&resp, "content-length").and_then(|v| v.parse::<u64>().ok()).or(head_size);
            // Dropping the response closes this connection; the download opens a fresh one.
            Ok(Probe { size, ranges: false, validator })
        }
        416 => Ok(Probe { size: Some(0), ranges: false, validator }),
        s => {
            let mut body = Vec::new();
            let _ = resp.body_mut().as_reader().take(4096).read_to_end(&mut body);
            Err(Error::status(url, s, http::error_detail(&body)))
        }
    }
}

/// No length known and no ranges: one stream, written sequentially, hashed inline.
fn stream_unknown_size(
    engine: &Engine,
    url: &str,
    out: &Path,
    (part, part_file): (&Path, &File),
    what: &str,
    opts: &GetOptions,
    start: Instant,
) -> Result<GetOutcome> {
    engine
        .progress
        .emit(Event::Notice { message: "the server sends no length; downloading as one stream without resume".into() });
    engine.progress.emit(Event::Start { what: what.to_string(), total_bytes: 0, resumed_bytes: 0, files: 1 });
    let (size, digest) = engine.retrying(url, || stream_once(engine, url, part, part_file))?;
    if let Some(want) = opts.size {
        if want != size {
            let _ = std::fs::remove_file(part);
            return Err(Error::Size { what: out.display().to_string(), expected: want, actual: size });
        }
    }
    if let Some(want) = &opts.md5 {
        if *want != digest {
            let _ = std::fs::remove_file(part);
            return Err(Error::Checksum { what: out.display().to_string(), expected: want.clone(), actual: digest });
        }
    }
    check_target(out)?;
    std::fs::rename(part, out).map_err(|e| Error::io("rename", out, e))?;
    let elapsed = start.elapsed();
    engine.progress.emit(Event::File {
        path: out.display().to_string(),
        size,
        md5: Some(digest.clone()),
        status: FileStatus::Done,
    });
    engine.progress.emit(Event::Done {
        total_bytes: size,
        downloaded_bytes: size,
        elapsed_secs: elapsed.as_secs_f64(),
        md5: Some(digest.clone()),
    });
    Ok(GetOutcome { size, md5: digest, downloaded: size, resumed: 0, ranged: false, elapsed })
}

fn stream_once(engine: &Engine, url: &str, part: &Path, part_file: &File) -> Result<(u64, String)> {
    let mut resp = engine.agent.get(url).call().map_err(|e| http::from_ureq(url, e))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(Error::status(url, status, None));
    }
    part_file.set_len(0).map_err(|e| Error::io("truncate", part, e))?;
    (&*part_file).seek(std::io::SeekFrom::Start(0)).map_err(|e| Error::io("seek", part, e))?;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, part_file);
    let r = copy_body(engine, url, &mut resp, &mut f, part)?;
    f.flush().map_err(|e| Error::io("write", part, e))?;
    part_file.sync_data().map_err(|e| Error::io("sync", part, e))?;
    Ok(r)
}

/// Copy a response body into `out`, hashing it; the byte count and the MD5.
fn copy_body(
    engine: &Engine,
    url: &str,
    resp: &mut ureq::http::Response<ureq::Body>,
    out: &mut dyn Write,
    path: &Path,
) -> Result<(u64, String)> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut h = Md5::new();
    let mut stall = engine.stall_watch();
    let total = read_body(
        &mut resp.body_mut().as_reader(),
        url,
        &mut buf,
        || engine.cancelled(),
        &mut stall,
        |chunk| {
            out.write_all(chunk).map_err(|e| Error::io("write", path, e))?;
            h.update(chunk);
            engine.progress.add(chunk.len() as u64);
            engine.throttle(chunk.len());
            Ok(())
        },
    )?;
    Ok((total, hex(&h.finalize())))
}

/// Whether `out` itself (not through a symlink) is a character device or a named pipe.
fn is_stream_target(out: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(out).is_ok_and(|m| m.file_type().is_char_device() || m.file_type().is_fifo())
}

/// `-o` is a character device or a named pipe (`/dev/null`, a FIFO): there is nothing to
/// rename or resume, so the body is streamed into it once, in place, and hashed on the way.
/// One attempt: bytes already written into a pipe cannot be taken back for a retry.
fn get_to_stream(url: &str, out: &Path, opts: &GetOptions, start: Instant) -> Result<GetOutcome> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let dev = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(out)
        .map_err(|e| Error::io("open", out, e))?;
    let ft = dev.metadata().map_err(|e| Error::io("stat", out, e))?.file_type();
    if !(ft.is_char_device() || ft.is_fifo()) {
        return Err(Error::UnsafeTarget { path: out.to_path_buf(), reason: kind_of(ft) });
    }
    let progress = Arc::new(Progress::with_grace(opts.events.clone(), opts.event_grace));
    let engine = Engine::new(&opts.engine, progress.clone(), opts.cancel.clone())?;
    progress.emit(Event::Notice {
        message: format!("{} is a device or a pipe: streaming into it once, without resume", out.display()),
    });
    let mut resp = engine.agent.get(url).call().map_err(|e| http::from_ureq(url, e))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(Error::status(url, status, None));
    }
    let announced = header(&resp, "content-length").and_then(|v| v.parse::<u64>().ok());
    progress.set_totals(announced.unwrap_or(0), 0);
    progress.emit(Event::Start {
        what: out.display().to_string(),
        total_bytes: announced.unwrap_or(0),
        resumed_bytes: 0,
        files: 1,
    });
    let mut w = std::io::BufWriter::with_capacity(1 << 20, &dev);
    let (size, digest) = copy_body(&engine, url, &mut resp, &mut w, out)?;
    w.flush().map_err(|e| Error::io("write", out, e))?;
    for (want, what) in [(opts.size, "size"), (announced, "Content-Length")] {
        if let Some(want) = want {
            if want != size {
                debug!("{what} says {want}");
                return Err(Error::Size { what: redact_url(url), expected: want, actual: size });
            }
        }
    }
    if let Some(want) = &opts.md5 {
        if *want != digest {
            return Err(Error::Checksum { what: redact_url(url), expected: want.clone(), actual: digest });
        }
    }
    let elapsed = start.elapsed();
    progress.emit(Event::Done {
        total_bytes: size,
        downloaded_bytes: size,
        elapsed_secs: elapsed.as_secs_f64(),
        md5: Some(digest.clone()),
    });
    Ok(GetOutcome { size, md5: digest, downloaded: size, resumed: 0, ranged: false, elapsed })
}

/// Identity of the download a journal belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StateHeader {
    size: u64,
    validator: String,
    url_id: String,
}

const STATE_MAGIC: &str = "galaxy-dl get state v1";

/// Longest range line a journal can hold ("START END", two u64 in decimal).
const STATE_LINE_MAX: usize = 41;

/// One `\n`-terminated line of at most `max` bytes (UTF-8, newline stripped); `None` at the
/// end, for a longer line, a line without its newline, or a read error. Reads at most `max + 1`
/// bytes, so a hostile file cannot make it allocate more.
fn read_line_capped(r: &mut impl BufRead, max: usize) -> Option<String> {
    let mut buf = Vec::new();
    r.take(max as u64 + 1).read_until(b'\n', &mut buf).ok()?;
    if buf.pop() != Some(b'\n') {
        return None;
    }
    String::from_utf8(buf).ok()
}

impl StateHeader {
    fn line(&self) -> String {
        serde_json::json!({ "size": self.size, "validator": self.validator, "url": self.url_id }).to_string()
    }
}

/// The URL without its query (signed parameters change between runs), hashed so the journal
/// holds no part of it in the clear.
fn url_id(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or(url);
    crate::verify::md5_hex(base.as_bytes())
}

/// Read the journal if it belongs to this download and the part file is intact; returns the
/// finished ranges, merged. Anything doubtful returns nothing (start over).
fn load_state(state: &Path, part: &Path, header: &StateHeader) -> Vec<(u64, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(f) = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(state)
    else {
        return Vec::new();
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Vec::new();
    }
    match std::fs::metadata(part) {
        Ok(m) if m.len() == header.size => {}
        _ => return Vec::new(),
    }
    // The journal is input like any network body: every line is read with a length cap, the
    // number of range lines is capped, and a line without its newline (torn, or planted) ends it.
    let mut r = BufReader::new(f);
    if read_line_capped(&mut r, STATE_MAGIC.len()).as_deref() != Some(STATE_MAGIC) {
        return Vec::new();
    }
    let want = header.line();
    if read_line_capped(&mut r, want.len()).as_deref() != Some(want.as_str()) {
        log::info!("resume state is for another version of the file; starting over");
        return Vec::new();
    }
    let blocks = header.size.div_ceil(BLOCK);
    let max_lines = blocks.saturating_mul(2).saturating_add(1024);
    let mut ranges = Vec::new();
    while (ranges.len() as u64) < max_lines {
        let Some(l) = read_line_capped(&mut r, STATE_LINE_MAX) else { break };
        let mut it = l.split(' ');
        let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
            break;
        };
        // Decimal digits only (`parse` would also take a sign).
        let num = |t: &str| t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse::<u64>().ok()).flatten();
        let (Some(a), Some(b)) = (num(a), num(b)) else {
            break;
        };
        if a >= b || b > header.size || a % BLOCK != 0 || (b % BLOCK != 0 && b != header.size) {
            break;
        }
        ranges.push((a, b));
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_validation() {
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("HTTPS://example.com").is_ok());
        for bad in ["", "ftp://x", "http://", "example.com/x", "http:///x", "http://a b"] {
            assert!(check_url(bad).unwrap_err().is_usage(), "{bad}");
        }
    }

    #[test]
    fn state_roundtrip_and_rejection() {
        let dir = std::env::temp_dir().join(format!("galaxy-dl-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (part, state) = part_paths(&dir.join("f.bin"));
        let size = 10 * BLOCK + 7;
        std::fs::write(&part, vec![0u8; size as usize]).unwrap();
        let h = StateHeader { size, validator: "\"e\"".into(), url_id: url_id("http://h/f?sig=1") };
        assert_eq!(url_id("http://h/f?sig=1"), url_id("http://h/f?sig=2"));
        {
            let mut f = File::create(&state).unwrap();
            writeln!(f, "{STATE_MAGIC}\n{}", h.line()).unwrap();
            f.write_all(format!("{} {}\n0 {}\n{} {}\n", 2 * BLOCK, 4 * BLOCK, BLOCK, 9 * BLOCK, size).as_bytes())
                .unwrap();
            // A torn last line is ignored.
            f.write_all(b"123").unwrap();
        }
        assert_eq!(load_state(&state, &part, &h), vec![(0, BLOCK), (2 * BLOCK, 4 * BLOCK), (9 * BLOCK, size)]);
        let other = StateHeader { validator: "\"f\"".into(), ..h.clone() };
        assert!(load_state(&state, &part, &other).is_empty());
        std::fs::write(&part, b"short").unwrap();
        assert!(load_state(&state, &part, &h).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn state_content_is_bounded_input() {
        let dir = std::env::temp_dir().join(format!("galaxy-dl-state-bounds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (part, state) = part_paths(&dir.join("f.bin"));
        let size = 4 * BLOCK;
        std::fs::write(&part, vec![0u8; size as usize]).unwrap();
        let h = StateHeader { size, validator: "\"e\"".into(), url_id: url_id("http://h/f") };
        let head = format!("{STATE_MAGIC}\n{}\n", h.line());
        let load = |body: &[u8]| {
            let mut f = File::create(&state).unwrap();
            f.write_all(body).unwrap();
            drop(f);
            load_state(&state, &part, &h)
        };
        // An overlong line (no newline for megabytes) ends the journal without reading it all.
        let mut long = head.clone().into_bytes();
        long.extend_from_slice(format!("0 {BLOCK}\n").as_bytes());
        long.extend(std::iter::repeat_n(b'7', 8 << 20));
        assert_eq!(load(&long), vec![(0, BLOCK)]);
        // Range lines past the cap are not read (a legitimate journal never has that many).
        let mut many = head.clone();
        for _ in 0..5000 {
            many.push_str(&format!("{BLOCK} {}\n", 2 * BLOCK));
        }
        many.push_str(&format!("0 {BLOCK}\n"));
        assert_eq!(load(many.as_bytes()), vec![(BLOCK, 2 * BLOCK)]);
        // Beyond the file, reversed, empty, unaligned, signed, extra fields, a last line
        // without its newline: each ends the journal there.
        for bad in [
            format!("0 {}\n", size + 1),
            format!("{} {}\n", 2 * BLOCK, BLOCK),
            format!("{BLOCK} {BLOCK}\n"),
            format!("1 {BLOCK}\n"),
            format!("+0 {BLOCK}\n"),
            format!("0 {BLOCK} 1\n"),
            format!("0  {BLOCK}\n"),
            format!("0 {BLOCK}"),
            "\u{e9}\n".to_string(),
        ] {
            assert!(load(format!("{head}{bad}").as_bytes()).is_empty(), "{bad:?}");
        }
        // A header line longer than ours, or for another URL, discards the journal.
        let other = StateHeader { url_id: url_id("http://h/g"), ..h.clone() };
        assert!(load(format!("{STATE_MAGIC}\n{}\n0 {BLOCK}\n", other.line()).as_bytes()).is_empty());
        assert!(load(format!("{STATE_MAGIC}\n{} \n0 {BLOCK}\n", h.line()).as_bytes()).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_pieces_skip_done_blocks() {
        let d = DoneMap::new(8 * BLOCK);
        d.mark_range(2 * BLOCK, 4 * BLOCK);
        let p = missing_pieces(&d, 8 * BLOCK, 3 * BLOCK, true);
        assert_eq!(p, vec![(0, 2 * BLOCK), (4 * BLOCK, 7 * BLOCK), (7 * BLOCK, 8 * BLOCK)]);
        assert_eq!(missing_pieces(&d, 8 * BLOCK, BLOCK, false), vec![(0, 8 * BLOCK)]);
    }
}
