//! Progress events: what the library tells an embedder (or the CLI's reporter) while it works.
//!
//! Workers never block on progress: byte counts go into an [`AtomicU64`], and a ticker on the
//! engine's calling thread turns them into [`Event::Progress`] a few times per second with
//! `try_send` (a dropped tick is harmless). Discrete events (start, file, retry, notice, done)
//! use a blocking `send` on a bounded channel so the consumer sees every one. With `--json` the
//! CLI prints each event as one line of JSON; the schema is in the README.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use serde::Serialize;

/// Capacity of the event channel the CLI creates (events are small; ticks are dropped when full).
pub const CHANNEL_CAPACITY: usize = 1024;

/// How often the ticker emits [`Event::Progress`].
pub const TICK: Duration = Duration::from_millis(200);

/// Outcome of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Downloaded (or rebuilt) and verified.
    Done,
    /// Already present and verified; nothing fetched.
    Skipped,
    /// Missing or bad (verify), or could not be completed.
    Failed,
    /// Removed (update: the new build no longer has it).
    Removed,
}

/// One progress event. Serialised with an `"event"` tag, e.g.
/// `{"event":"progress","done_bytes":1048576,"total_bytes":4194304,"rate":20971520,"eta_secs":0.15}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// Work begins: what, how many bytes in all, how many were already done (resume).
    Start {
        /// A short description (file name, product and build).
        what: String,
        /// Bytes the finished job holds.
        total_bytes: u64,
        /// Bytes already present and verified (resume, update).
        resumed_bytes: u64,
        /// Number of files the job produces.
        files: u64,
    },
    /// Periodic byte counts.
    Progress {
        /// Bytes written so far (including resumed ones).
        done_bytes: u64,
        /// Bytes the finished job holds.
        total_bytes: u64,
        /// Recent rate in bytes per second.
        rate: u64,
        /// Estimated seconds left, when a rate is known.
        eta_secs: Option<f64>,
    },
    /// A file was finished, skipped, removed or found bad.
    File {
        /// Path relative to the install directory (or the output file for `get`).
        path: String,
        /// Size in bytes.
        size: u64,
        /// Verified MD5, lower-case hex, when known.
        md5: Option<String>,
        /// What happened.
        status: FileStatus,
    },
    /// A request failed spuriously and will be retried.
    Retry {
        /// What was being fetched (redacted URL, range or chunk).
        what: String,
        /// Attempt number that failed (1-based).
        attempt: u32,
        /// The error.
        error: String,
    },
    /// Something the user should know that is not an error (an unowned DLC skipped, a fallback).
    Notice {
        /// The message.
        message: String,
    },
    /// The job finished successfully.
    Done {
        /// Bytes the finished job holds.
        total_bytes: u64,
        /// Bytes fetched from the network in this run.
        downloaded_bytes: u64,
        /// Wall-clock seconds.
        elapsed_secs: f64,
        /// MD5 of the result (for `get`).
        md5: Option<String>,
    },
}

/// Shared progress state: atomics for bytes, an optional channel for events.
#[derive(Debug)]
pub struct Progress {
    tx: Option<Sender<Event>>,
    done: AtomicU64,
    net: AtomicU64,
    total: AtomicU64,
    window: Mutex<VecDeque<(Instant, u64)>>,
}

impl Progress {
    /// A progress sink sending to `tx` (or discarding events when `None`).
    pub fn new(tx: Option<Sender<Event>>) -> Progress {
        Progress {
            tx,
            done: AtomicU64::new(0),
            net: AtomicU64::new(0),
            total: AtomicU64::new(0),
            window: Mutex::new(VecDeque::new()),
        }
    }

    /// Set the total and the bytes already done (resume) before work begins.
    pub fn set_totals(&self, total: u64, already: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(already, Ordering::Relaxed);
    }

    /// Count `n` bytes written from the network.
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
        self.net.fetch_add(n, Ordering::Relaxed);
    }

    /// Take back `n` bytes counted by [`Progress::add`] that a failed attempt will fetch again
    /// (they stay counted as network traffic): done bytes never exceed the total.
    pub fn unadd(&self, n: u64) {
        if n > 0 {
            let _ = self.done.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| Some(d.saturating_sub(n)));
        }
    }

    /// Count `n` bytes done without network traffic (reused local data).
    pub fn add_local(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes done so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Bytes fetched from the network so far.
    pub fn downloaded(&self) -> u64 {
        self.net.load(Ordering::Relaxed)
    }

    /// Send a discrete event (blocking while the channel is full, so none is lost).
    pub fn emit(&self, ev: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(ev);
        }
    }

    /// Emit a [`Event::Progress`] now, computed over the last few seconds.
    pub fn tick(&self) {
        let Some(tx) = &self.tx else { return };
        let done = self.done();
        let total = self.total.load(Ordering::Relaxed);
        let now = Instant::now();
        let rate = {
            let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
            w.push_back((now, done));
            while w.len() > 2 && now.duration_since(w[0].0) > Duration::from_secs(3) {
                w.pop_front();
            }
            let (t0, d0) = w[0];
            let dt = now.duration_since(t0).as_secs_f64();
            if dt > 0.05 {
                (done.saturating_sub(d0) as f64 / dt) as u64
            } else {
                0
            }
        };
        let eta_secs = (rate > 0).then(|| total.saturating_sub(done) as f64 / rate as f64);
        let _ = tx.try_send(Event::Progress { done_bytes: done, total_bytes: total, rate, eta_secs });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_tag() {
        let e = Event::File { path: "a/b".into(), size: 3, md5: Some("x".into()), status: FileStatus::Done };
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(s, r#"{"event":"file","path":"a/b","size":3,"md5":"x","status":"done"}"#);
    }

    #[test]
    fn ticks_report_rate_and_never_block() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let p = Progress::new(Some(tx));
        p.set_totals(1000, 100);
        p.tick();
        std::thread::sleep(Duration::from_millis(60));
        p.add(100);
        p.tick(); // channel full: dropped, not blocked
        match rx.try_recv().unwrap() {
            Event::Progress { done_bytes, total_bytes, .. } => assert_eq!((done_bytes, total_bytes), (100, 1000)),
            e => panic!("{e:?}"),
        }
        p.tick();
        match rx.try_recv().unwrap() {
            Event::Progress { done_bytes, rate, eta_secs, .. } => {
                assert_eq!(done_bytes, 200);
                assert!(rate > 0);
                assert!(eta_secs.unwrap() > 0.0);
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(p.downloaded(), 100);
    }
}
