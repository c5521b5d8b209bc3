//! The download engine: a dedicated pool of blocking workers, the shared rate limit, retries,
//! and the careful body reader every path uses.
//!
//! - [`range`]: parallel HTTP Range GETs of one resource into one mapped file (`get`, V1 `main.bin`).
//! - [`schedule`]: the piece queue and work stealing behind it.
//! - [`chunk`]: V2 chunks (MD5, inflate into place); [`help`]: idle workers split the last ones.
//! - [`blob`]: V1 `main.bin` pieces.
//! - [`policy`]: the one policy every request follows (classification, endpoint health,
//!   budgets, `Retry-After`, metadata GETs); [`retry`]: the backoff schedule.
//! - [`ratelimit`]: the global token bucket.
//!
//! [`Engine`] holds what every download shares: the keep-alive agent, the worker pool (sized by
//! `--workers`, independent of the CPU count: workers block on sockets, not on CPU), the rate
//! limiter, the retry policy, the stall detector, progress and the cancel flag.

#[doc(hidden)]
pub mod blob;
#[doc(hidden)]
pub mod chunk;
#[doc(hidden)]
pub mod help;
#[doc(hidden)]
pub mod policy;
#[doc(hidden)]
pub mod range;
#[doc(hidden)]
pub mod ratelimit;
#[doc(hidden)]
pub mod retry;
#[doc(hidden)]
pub mod schedule;

pub use crate::http::HttpOptions;
pub use retry::RetryPolicy;

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::http;
use crate::progress::{Event, Progress};
use ratelimit::RateLimiter;

/// What a [`Urls`] source is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object<'a> {
    /// A V2 chunk of the store, by its compressed MD5.
    Chunk(&'a str),
    /// A V1 product's `main.bin`.
    MainBin,
}

/// The link a URL was built from, handed back to [`Urls::refused`] (opaque to the engine).
pub type LinkId = Arc<dyn std::any::Any + Send + Sync>;

/// Where the engine gets its URLs: per-key (product) links with several endpoints in priority
/// order. The engine decides which endpoint to use and when to renew ([`policy`]); the source
/// only builds URLs and renews links. Implemented by `api`'s secure-link cache.
pub trait Urls: Sync {
    /// Number of endpoints serving `obj` for `key` (at least 1 when a link exists).
    fn endpoints(&self, key: &str, obj: Object<'_>) -> usize;
    /// The URL of `obj` through endpoint number `endpoint`, and the link it came from.
    fn url(&self, key: &str, endpoint: usize, obj: Object<'_>) -> Result<(String, LinkId)>;
    /// The CDN refused a URL of `link` (401/403, expired): renew it. Errors when renewals are
    /// exhausted or the product is not owned.
    fn refused(&self, key: &str, obj: Object<'_>, link: &LinkId) -> Result<()>;
}

/// A connection delivering less than `limit` bytes/s for `time` is abandoned and retried
/// (curl's `--speed-limit`/`--speed-time`; lgogdownloader uses 200 B/s for 30 s).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct LowSpeed {
    /// Bytes per second below which a connection counts as stalled.
    pub limit: u64,
    /// How long it may stay below `limit`.
    pub time: Duration,
}

impl Default for LowSpeed {
    /// 1 KiB/s for 20 s (the CLI lets `GALAXY_DL_LOW_SPEED_LIMIT`/`_TIME_MS` override it).
    fn default() -> Self {
        LowSpeed { limit: 1024, time: Duration::from_secs(20) }
    }
}

/// Settings of an [`Engine`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EngineOptions {
    /// Parallel connections (default 8).
    pub workers: usize,
    /// Global rate limit in bytes per second.
    pub limit_rate: Option<u64>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Stall detection.
    pub low_speed: LowSpeed,
    /// HTTP timeouts.
    pub http: HttpOptions,
    /// How long an endpoint that kept failing is avoided (doubling per demotion, capped at
    /// [`policy::MAX_COOLDOWN`]) [default: [`policy::DEFAULT_COOLDOWN`]].
    pub endpoint_cooldown: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            workers: 8,
            limit_rate: None,
            retry: RetryPolicy::default(),
            low_speed: LowSpeed::default(),
            http: HttpOptions::default(),
            endpoint_cooldown: policy::DEFAULT_COOLDOWN,
        }
    }
}

impl EngineOptions {
    /// Check the settings a caller may get wrong: workers 1 to 256, a rate limit of at least
    /// 1 byte per second. The `get` and `install` builders call this, and so does
    /// [`Engine::new`].
    ///
    /// # Errors
    /// [`Error::Usage`] naming the bad setting.
    pub fn check(&self) -> Result<()> {
        if !(1..=256).contains(&self.workers) {
            return Err(Error::Usage(format!("workers must be 1 to 256, not {}", self.workers)));
        }
        if self.limit_rate == Some(0) {
            return Err(Error::Usage("the rate limit must be at least 1 byte per second".into()));
        }
        Ok(())
    }
}

/// What every download shares. Cheap to share by reference across workers.
pub struct Engine {
    /// The keep-alive agent (pool ≥ workers).
    pub agent: ureq::Agent,
    /// The worker pool.
    pub pool: rayon::ThreadPool,
    /// Number of workers.
    pub workers: usize,
    /// Global rate limit.
    pub limiter: Option<Arc<RateLimiter>>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Endpoint health, one per URL source key (a product's secure link, the dependency
    /// store), shared by every request of the run: endpoint `i` of one source is not endpoint
    /// `i` of another (a dependency chunk served by the store's only endpoint must not undo the
    /// demotion of a product's dead mirror 0). See [`Engine::health`].
    health: std::sync::Mutex<std::collections::HashMap<Box<str>, Arc<policy::Health>>>,
    cooldown: Duration,
    /// Stall detection.
    pub low_speed: LowSpeed,
    /// Progress sink.
    pub progress: Arc<Progress>,
    /// Set to stop all work (Ctrl-C); work stops at the next block and state is kept.
    pub cancel: Arc<AtomicBool>,
}

impl Engine {
    /// Build the engine: agent, pool of `workers` named threads, limiter.
    pub fn new(opts: &EngineOptions, progress: Arc<Progress>, cancel: Arc<AtomicBool>) -> Result<Engine> {
        opts.check()?;
        let mut http_opts = opts.http.clone();
        http_opts.pool = opts.workers;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(opts.workers)
            .thread_name(|i| format!("galaxy-dl-worker-{i}"))
            .build()
            .map_err(|e| Error::Io {
                op: "start worker threads",
                path: Default::default(),
                source: std::io::Error::other(e.to_string()),
            })?;
        Ok(Engine {
            agent: http::agent(&http_opts)?,
            pool,
            workers: opts.workers,
            limiter: opts.limit_rate.map(|r| Arc::new(RateLimiter::new(r))),
            retry: opts.retry.clone(),
            health: Default::default(),
            cooldown: opts.endpoint_cooldown,
            low_speed: opts.low_speed,
            progress,
            cancel,
        })
    }

    /// The endpoint health of URL source `key` (see the field's doc).
    pub fn health(&self, key: &str) -> Arc<policy::Health> {
        let mut m = self.health.lock().unwrap_or_else(|p| p.into_inner());
        match m.get(key) {
            Some(h) => Arc::clone(h),
            None => {
                let h = Arc::new(policy::Health::new(self.cooldown));
                m.insert(key.into(), Arc::clone(&h));
                h
            }
        }
    }

    /// Whether the run was cancelled.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Report a retry (one [`Event::Retry`]: the reporter prints it; the log gets the detail at
    /// debug level only, so each retry is one line) and sleep `wait`, waking early on cancel.
    /// Returns false when cancelled.
    pub fn retry_wait(&self, what: &str, attempt: u32, err: &Error, wait: Duration) -> bool {
        debug!("retry {attempt} of {what} in {wait:?}: {err}");
        self.progress.emit(Event::Retry { what: what.to_string(), attempt, error: err.to_string() });
        policy::sleep_unless(Some(&self.cancel), wait) && !self.cancelled()
    }

    /// Run `f` (one whole request to the single URL `url`) under the policy until it succeeds,
    /// the failure is final, the budget is spent, or the run is cancelled.
    pub fn retrying<T>(&self, url: &str, mut f: impl FnMut() -> Result<T>) -> Result<T> {
        let health = policy::Health::new(Duration::ZERO);
        let mut piece = policy::Piece::default();
        loop {
            if self.cancelled() {
                return Err(Error::Interrupted);
            }
            let e = match f() {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match piece.on_error(&health, &self.retry, 0, 1, &e) {
                policy::Step::Retry { wait, .. } => {
                    if !self.retry_wait(&crate::error::redact_url(url), piece.attempts(), &e, wait) {
                        return Err(Error::Interrupted);
                    }
                }
                // One URL, no link to renew.
                policy::Step::Renew | policy::Step::GiveUp => return Err(e),
            }
        }
    }

    /// Read exactly `buf.len()` bytes of a response body into `buf`, through the rate limiter,
    /// counting progress, watching for stalls and cancel. `stall` carries the low-speed window
    /// across calls for one response.
    pub fn read_exact_into(
        &self,
        url: &str,
        body: &mut dyn Read,
        buf: &mut [u8],
        stall: &mut StallWatch,
    ) -> Result<()> {
        let step = self.limiter.as_ref().map(|l| l.read_size()).unwrap_or(usize::MAX);
        let mut off = 0;
        while off < buf.len() {
            if self.cancelled() {
                return Err(Error::Interrupted);
            }
            let want = (buf.len() - off).min(step);
            let r = match body.read(&mut buf[off..off + want]) {
                Ok(0) => Err(Error::network(url, "connection closed before the body was complete")),
                Ok(n) => Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(http::from_io(url, &e)),
            };
            let n = match r {
                Ok(n) => n,
                Err(e) => {
                    // The caller keeps only whole buffers: what this one got is fetched again.
                    self.progress.unadd(off as u64);
                    return Err(e);
                }
            };
            off += n;
            self.progress.add(n as u64);
            self.throttle(n);
            if let Err(r) = stall.feed(n as u64) {
                self.progress.unadd(off as u64);
                return Err(Error::network(url, r));
            }
        }
        Ok(())
    }

    /// Take `n` bytes of the global rate limit, sleeping as needed (waking on cancel).
    pub fn throttle(&self, n: usize) {
        if let Some(l) = &self.limiter {
            l.acquire_unless(n, &self.cancel);
        }
    }

    /// A fresh stall window for one response. Disabled when our own rate limit could push a
    /// connection below the threshold.
    pub fn stall_watch(&self) -> StallWatch {
        let per_conn = self.limiter.as_ref().map(|l| l.rate() / self.workers as u64);
        let enabled = per_conn.is_none_or(|r| r > self.low_speed.limit * 4);
        StallWatch { cfg: self.low_speed, enabled, start: Instant::now(), bytes: 0 }
    }
}

/// What the workers of one download share: the first failure stops them all.
#[derive(Debug, Default)]
pub struct Crew {
    failed: AtomicBool,
    first_error: std::sync::Mutex<Option<Error>>,
}

impl Crew {
    /// Whether some worker failed (the others should stop).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Record a failure (the first real error is what the download returns; a worker that
    /// merely saw the cancel flag only stops the others).
    pub fn fail(&self, e: Error) {
        if !matches!(e, Error::Interrupted) {
            let mut g = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
            if g.is_none() {
                *g = Some(e);
            }
        }
        self.failed.store(true, Ordering::Release);
    }
}

impl Engine {
    /// Run `workers` copies of `body` on the worker pool while the calling thread emits
    /// progress ticks. Returns the first error a worker recorded in the [`Crew`], or
    /// [`Error::Interrupted`] after cancel.
    pub fn run_crew<F>(&self, workers: usize, body: F) -> Result<()>
    where
        F: Fn(&Crew) + Sync,
    {
        let crew = Crew::default();
        let workers = workers.max(1);
        let live = std::sync::atomic::AtomicUsize::new(workers);
        let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(workers);
        self.pool.in_place_scope(|s| {
            for _ in 0..workers {
                let (crew, live, body, done_tx) = (&crew, &live, &body, done_tx.clone());
                s.spawn(move |_| {
                    body(crew);
                    live.fetch_sub(1, Ordering::AcqRel);
                    let _ = done_tx.send(());
                });
            }
            while live.load(Ordering::Acquire) > 0 {
                self.progress.tick();
                let _ = done_rx.recv_timeout(crate::progress::TICK);
            }
        });
        self.progress.tick();
        if let Some(e) = crew.first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        if self.cancelled() {
            return Err(Error::Interrupted);
        }
        Ok(())
    }
}

/// Read `body` to its end through `buf`, handing each piece read to `each`: the read loop of
/// the whole-body requests (metadata, `get`'s single stream). Stops with
/// [`Error::Interrupted`] when `cancelled()` (asked before each read), reads again after a
/// signal interrupted a read, turns read errors into network errors of `url`, and abandons
/// the connection when `stall` trips (after `each` has taken the piece). Returns the bytes
/// read.
pub fn read_body<R: Read + ?Sized>(
    body: &mut R,
    url: &str,
    buf: &mut [u8],
    cancelled: impl Fn() -> bool,
    stall: &mut StallWatch,
    mut each: impl FnMut(&[u8]) -> Result<()>,
) -> Result<u64> {
    let mut total = 0u64;
    loop {
        if cancelled() {
            return Err(Error::Interrupted);
        }
        let n = match body.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(http::from_io(url, &e)),
        };
        each(buf.get(..n).unwrap_or_default())?;
        total += n as u64;
        stall.feed(n as u64).map_err(|r| Error::network(url, r))?;
    }
}

/// Low-speed detector for one response.
#[derive(Debug)]
pub struct StallWatch {
    cfg: LowSpeed,
    enabled: bool,
    start: Instant,
    bytes: u64,
}

impl StallWatch {
    /// A stall window starting now.
    pub fn new(cfg: LowSpeed, enabled: bool) -> StallWatch {
        StallWatch { cfg, enabled, start: Instant::now(), bytes: 0 }
    }

    /// Count `n` bytes; `Err(reason)` when the connection has been too slow for too long.
    pub fn feed(&mut self, n: u64) -> std::result::Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        self.bytes += n;
        let el = self.start.elapsed();
        if el >= self.cfg.time {
            let rate = self.bytes as f64 / el.as_secs_f64();
            if rate < self.cfg.limit as f64 {
                return Err(format!(
                    "stalled: {:.0} B/s for {:.1} s (below {} B/s)",
                    rate,
                    el.as_secs_f64(),
                    self.cfg.limit
                ));
            }
            self.start = Instant::now();
            self.bytes = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_watch_trips_on_slow_connections_only() {
        let cfg = LowSpeed { limit: 1000, time: Duration::from_millis(30) };
        let mut w = StallWatch { cfg, enabled: true, start: Instant::now(), bytes: 0 };
        w.feed(10).unwrap();
        std::thread::sleep(Duration::from_millis(35));
        assert!(w.feed(1).is_err());
        let mut fast = StallWatch { cfg, enabled: true, start: Instant::now(), bytes: 0 };
        std::thread::sleep(Duration::from_millis(35));
        fast.feed(1_000_000).unwrap();
        let mut off = StallWatch { cfg, enabled: false, start: Instant::now(), bytes: 0 };
        std::thread::sleep(Duration::from_millis(35));
        off.feed(0).unwrap();
    }

    #[test]
    fn endpoint_health_is_kept_per_url_source() {
        let opts = EngineOptions { workers: 1, ..Default::default() };
        let e = Engine::new(&opts, Arc::new(Progress::new(None)), Arc::new(AtomicBool::new(false))).unwrap();
        let now = Instant::now();
        // A product's mirror 0 fails until it is demoted...
        let product = e.health("1000000001");
        while !product.failure(0, false, None, now) {}
        // ...and the dependency store's only endpoint (also number 0) delivering changes nothing.
        e.health("dependencies").success(0);
        assert!(e.health("1000000001").is_demoted(0, now));
        assert!(!e.health("dependencies").is_demoted(0, now));
        assert!(Arc::ptr_eq(&product, &e.health("1000000001")));
    }

    #[test]
    fn zero_workers_is_usage_error() {
        let opts = EngineOptions { workers: 0, ..Default::default() };
        let e = Engine::new(&opts, Arc::new(Progress::new(None)), Arc::new(AtomicBool::new(false))).err().unwrap();
        assert!(e.is_usage());
    }
}
