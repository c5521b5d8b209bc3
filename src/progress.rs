//! Progress events: what the library tells an embedder (or the CLI's reporter) while it works.
//!
//! Nothing in the library ever blocks on the embedder's channel: byte counts go into an
//! [`AtomicU64`], and a ticker on the engine's calling thread turns them into
//! [`Event::Progress`] a few times per second. Every event is handed over with `try_send`
//! through one [`EventQueue`] per job. With `--json` the CLI prints each event as one line of
//! JSON; the schema is in the README.
//!
//! ## What an embedder can rely on
//! - A download, `get` or verify never waits for the embedder: an embedder that stops reading
//!   (or never reads) still gets its install, at full speed.
//! - [`Event::Progress`] and [`Event::Retry`] are *droppable*: when the channel is full they are
//!   discarded and counted ([`EventQueue::dropped`], `Downloader::dropped_events`). Progress
//!   is a running total, so the next one that gets through is exact again.
//! - [`Event::Start`], [`Event::File`], [`Event::Notice`] and [`Event::Done`] are *kept*: when
//!   the channel is full they wait, in order, in an in-memory queue (at most
//!   [`PENDING_CAPACITY`] events) that is handed over as soon as the channel has room (on the
//!   next event or tick). When the job ends, the library waits at most [`FLUSH_GRACE`] (or the
//!   `event_grace` option) for the embedder to take what is still queued, then counts the rest
//!   as dropped.
//! - Failures are not events: they are the `Err` the call returns.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};
use serde::Serialize;

/// Capacity of the event channel the CLI creates (events are small; ticks are dropped when full).
pub const CHANNEL_CAPACITY: usize = 1024;

/// How many kept events wait in memory for an embedder whose channel is full.
pub const PENDING_CAPACITY: usize = 1 << 16;

/// How long the end of a job waits for a full channel to take the kept events still queued.
pub const FLUSH_GRACE: Duration = Duration::from_secs(1);

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

impl Event {
    /// Whether the event may be discarded when the embedder's channel is full (see the module
    /// documentation): byte ticks and retries may, the rest are kept.
    pub fn droppable(&self) -> bool {
        matches!(self, Event::Progress { .. } | Event::Retry { .. })
    }
}

/// The one way events reach an embedder's channel: never blocking while the job runs, keeping
/// the important events in order, counting the dropped ones (see the module documentation).
#[derive(Debug)]
pub struct EventQueue {
    tx: Option<Sender<Event>>,
    pending: Mutex<VecDeque<Event>>,
    dropped: AtomicU64,
    grace: Duration,
}

impl EventQueue {
    /// A queue in front of `tx` (events are discarded when `None`).
    pub fn new(tx: Option<Sender<Event>>) -> EventQueue {
        EventQueue::with_grace(tx, FLUSH_GRACE)
    }

    /// A queue whose end-of-job flush waits up to `grace` instead of [`FLUSH_GRACE`] (the CLI,
    /// whose reporter always reads, waits as long as it takes so `--json` shows every file).
    pub fn with_grace(tx: Option<Sender<Event>>, grace: Duration) -> EventQueue {
        EventQueue { tx, pending: Mutex::new(VecDeque::new()), dropped: AtomicU64::new(0), grace }
    }

    /// Events discarded so far (droppable ones that met a full channel, kept ones beyond
    /// [`PENDING_CAPACITY`] or left over after [`FLUSH_GRACE`]).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Hand `ev` over without blocking: queued behind earlier kept events, or dropped and
    /// counted when droppable and the channel is full.
    pub fn send(&self, ev: Event) {
        let Some(tx) = &self.tx else { return };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if !Self::drain(tx, &mut pending) {
            return;
        }
        let ev = if pending.is_empty() {
            match tx.try_send(ev) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(ev)) => ev,
            }
        } else {
            ev
        };
        if ev.droppable() || pending.len() >= PENDING_CAPACITY {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            pending.push_back(ev);
        }
    }

    /// Move queued events into the channel while it has room. False when the receiver is gone
    /// (the queue is then emptied: nobody will read it).
    fn drain(tx: &Sender<Event>, pending: &mut VecDeque<Event>) -> bool {
        while let Some(ev) = pending.pop_front() {
            match tx.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(ev)) => {
                    pending.push_front(ev);
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => {
                    pending.clear();
                    return false;
                }
            }
        }
        true
    }

    /// Give the embedder at most `grace` to take the queued events; count the rest as dropped.
    pub fn flush(&self, grace: Duration) {
        let Some(tx) = &self.tx else { return };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = Instant::now().checked_add(grace);
        while let Some(ev) = pending.pop_front() {
            let sent = match deadline {
                Some(d) => tx.send_deadline(ev, d),
                None => tx.send(ev).map_err(|e| SendTimeoutError::Disconnected(e.0)),
            };
            match sent {
                Ok(()) => {}
                Err(SendTimeoutError::Timeout(_)) => {
                    self.dropped.fetch_add(1 + pending.len() as u64, Ordering::Relaxed);
                    pending.clear();
                }
                Err(SendTimeoutError::Disconnected(_)) => pending.clear(),
            }
        }
    }
}

impl Drop for EventQueue {
    fn drop(&mut self) {
        self.flush(self.grace);
    }
}

/// Shared progress state: atomics for bytes, the job's [`EventQueue`].
#[derive(Debug)]
#[doc(hidden)]
pub struct Progress {
    events: std::sync::Arc<EventQueue>,
    done: AtomicU64,
    net: AtomicU64,
    total: AtomicU64,
    window: Mutex<VecDeque<(Instant, u64)>>,
}

impl Progress {
    /// A progress sink sending to `tx` (or discarding events when `None`).
    pub fn new(tx: Option<Sender<Event>>) -> Progress {
        Progress::with_queue(std::sync::Arc::new(EventQueue::new(tx)))
    }

    /// [`Progress::new`] whose end-of-job flush waits up to `grace` ([`EventQueue::with_grace`]).
    pub fn with_grace(tx: Option<Sender<Event>>, grace: Duration) -> Progress {
        Progress::with_queue(std::sync::Arc::new(EventQueue::with_grace(tx, grace)))
    }

    /// A progress sink sending through `events` (shared with whoever else emits for the job).
    pub fn with_queue(events: std::sync::Arc<EventQueue>) -> Progress {
        Progress {
            events,
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

    /// Send a discrete event, never blocking (see the module documentation for what is kept).
    /// [`Event::Done`] ends the job: what is still queued gets [`FLUSH_GRACE`] to go through.
    pub fn emit(&self, ev: Event) {
        let done = matches!(ev, Event::Done { .. });
        self.events.send(ev);
        if done {
            self.events.flush(self.events.grace);
        }
    }

    /// Events discarded so far because the embedder's channel was full.
    pub fn dropped(&self) -> u64 {
        self.events.dropped()
    }

    /// Emit a [`Event::Progress`] now, computed over the last few seconds.
    pub fn tick(&self) {
        if self.events.tx.is_none() {
            return;
        }
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
        self.events.send(Event::Progress { done_bytes: done, total_bytes: total, rate, eta_secs });
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
        assert_eq!(p.dropped(), 1);
    }

    fn file(n: u64) -> Event {
        Event::File { path: format!("f{n}"), size: n, md5: None, status: FileStatus::Done }
    }

    #[test]
    fn kept_events_wait_in_order_and_ticks_are_dropped() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let q = EventQueue::new(Some(tx));
        q.send(file(1));
        q.send(file(2)); // full: queued
        q.send(Event::Retry { what: "x".into(), attempt: 1, error: "e".into() }); // full: dropped
        q.send(file(3));
        assert_eq!(q.dropped(), 1);
        assert_eq!(rx.try_recv().unwrap(), file(1));
        assert!(rx.try_recv().is_err());
        q.send(Event::Notice { message: "n".into() }); // drains one queued event first
        assert_eq!(rx.try_recv().unwrap(), file(2));
        let reader = std::thread::spawn(move || rx.iter().collect::<Vec<_>>());
        drop(q); // flushes within the grace, in order
        let rest = reader.join().unwrap();
        assert_eq!(rest, vec![file(3), Event::Notice { message: "n".into() }]);
    }

    #[test]
    fn a_reader_that_never_reads_costs_at_most_the_grace() {
        let (tx, _rx) = crossbeam_channel::bounded(1);
        let q = EventQueue::new(Some(tx));
        for n in 0..10 {
            q.send(file(n));
        }
        let t = Instant::now();
        q.flush(Duration::from_millis(50));
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(q.dropped(), 9);
        drop(q); // nothing left: no further wait
    }
}
