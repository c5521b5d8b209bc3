//! The download engine: a dedicated pool of blocking workers, the shared rate limit, retries,
//! and the careful body reader every path uses.
//!
//! - [`range`]: parallel HTTP Range GETs of one resource into one mapped file (`get`, V1 `main.bin`).
//! - [`schedule`]: the piece queue and work stealing behind it.
//! - [`chunk`]: V2 chunks (MD5, inflate into place); [`help`]: idle workers split the last ones.
//! - [`blob`]: V1 `main.bin` pieces.
//! - [`retry`]: which failures are retried and how long to wait.
//! - [`ratelimit`]: the global token bucket.
//!
//! [`Engine`] holds what every download shares: the keep-alive agent, the worker pool (sized by
//! `--workers`, independent of the CPU count: workers block on sockets, not on CPU), the rate
//! limiter, the retry policy, the stall detector, progress and the cancel flag.

pub mod blob;
pub mod chunk;
pub mod help;
pub mod range;
pub mod ratelimit;
pub mod retry;
pub mod schedule;

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::http::{self, HttpOptions};
use crate::progress::{Event, Progress};
use ratelimit::RateLimiter;
use retry::RetryPolicy;

/// A connection delivering less than `limit` bytes/s for `time` is abandoned and retried
/// (curl's `--speed-limit`/`--speed-time`; lgogdownloader uses 200 B/s for 30 s).
#[derive(Clone, Copy, Debug)]
pub struct LowSpeed {
    /// Bytes per second below which a connection counts as stalled.
    pub limit: u64,
    /// How long it may stay below `limit`.
    pub time: Duration,
}

impl Default for LowSpeed {
    fn default() -> Self {
        let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        LowSpeed {
            limit: env("GALAXY_DL_LOW_SPEED_LIMIT").unwrap_or(1024),
            time: Duration::from_millis(env("GALAXY_DL_LOW_SPEED_TIME_MS").unwrap_or(20_000)),
        }
    }
}

/// Settings of an [`Engine`].
#[derive(Clone, Debug)]
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
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            workers: 8,
            limit_rate: None,
            retry: RetryPolicy::default(),
            low_speed: LowSpeed::default(),
            http: HttpOptions::default(),
        }
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
        if opts.workers == 0 || opts.workers > 256 {
            return Err(Error::Usage(format!("invalid worker count {}: expected 1 to 256", opts.workers)));
        }
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
            low_speed: opts.low_speed,
            progress,
            cancel,
        })
    }

    /// Whether the run was cancelled.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Sleep before retry `attempt`, waking early on cancel. Emits a [`Event::Retry`].
    pub fn backoff(&self, what: &str, attempt: u32, err: &Error) {
        log::info!("retry {attempt} of {what}: {err}");
        self.progress.emit(Event::Retry { what: what.to_string(), attempt, error: err.to_string() });
        let until = Instant::now() + self.retry.backoff(attempt, retry::jitter());
        while Instant::now() < until && !self.cancelled() {
            std::thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
        }
    }

    /// Run `f` (one whole request to `url`) until it succeeds, a failure is not spurious, the
    /// attempts run out, or the run is cancelled; waits between attempts as [`RetryPolicy`] says.
    pub fn retrying<T>(&self, url: &str, mut f: impl FnMut() -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e) => {
                    attempt += 1;
                    if !self.retry.should_retry(&e, attempt) || self.cancelled() {
                        return Err(e);
                    }
                    self.backoff(&crate::error::redact_url(url), attempt, &e);
                }
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
            let n = match body.read(&mut buf[off..off + want]) {
                Ok(0) => return Err(Error::network(url, "connection closed before the body was complete")),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(http::from_io(url, &e)),
            };
            off += n;
            self.progress.add(n as u64);
            if let Some(l) = &self.limiter {
                l.acquire(n);
            }
            stall.feed(n as u64).map_err(|r| Error::network(url, r))?;
        }
        Ok(())
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

/// Low-speed detector for one response.
#[derive(Debug)]
pub struct StallWatch {
    cfg: LowSpeed,
    enabled: bool,
    start: Instant,
    bytes: u64,
}

impl StallWatch {
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
    fn zero_workers_is_usage_error() {
        let opts = EngineOptions { workers: 0, ..Default::default() };
        let e = Engine::new(&opts, Arc::new(Progress::new(None)), Arc::new(AtomicBool::new(false))).err().unwrap();
        assert!(e.is_usage());
    }
}
