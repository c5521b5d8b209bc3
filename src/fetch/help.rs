//! Idle workers help finish the last chunks.
//!
//! A chunk is one zlib object, inflated in order by the worker that fetches it, so chunks are
//! the unit of work: when the queue runs dry, the workers still fetching a chunk would finish
//! alone while the others sit idle (with 20 MiB/s per connection, a 6.4 MiB chunk is 0.3 s;
//! GOG's tail chunks are larger). So an idle worker picks the in-flight chunk with the most
//! time left, claims the second half of what its owner has not read yet, and fetches it with a
//! Range request into a buffer. The owner reads its own response up to the split point, then
//! continues from the helper's buffer (inflate sees the same bytes in the same order) and
//! drops its connection. If the helper fails (no Range support, an error), the owner simply
//! reads on from its own response.
//!
//! The split point is always at or past the end of the owner's current read, which the owner
//! announces before reading, so no byte is received twice. Helper buffers are bounded by
//! [`BUDGET`] in all, whatever the worker count and chunk size.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Bytes of helper buffers allowed at once (anonymous memory; the install's figure of merit
/// is ≤ 48 MiB with 8 workers).
pub const BUDGET: u64 = 24 << 20;

/// Smallest remainder worth splitting, in bytes and in expected time at the owner's rate.
const MIN_SPLIT_BYTES: u64 = 1 << 20;
const MIN_SPLIT_TIME: Duration = Duration::from_millis(100);

/// The in-flight chunk fetches of one download.
pub struct Tail {
    flights: Mutex<Vec<Arc<Flight>>>,
    budget: AtomicU64,
}

impl Default for Tail {
    fn default() -> Tail {
        Tail { flights: Mutex::new(Vec::new()), budget: AtomicU64::new(BUDGET) }
    }
}

/// One chunk fetch in progress (one attempt).
pub struct Flight {
    /// URL of the owner's request (the helper asks the same server).
    pub url: String,
    /// Expected wire length of the object.
    pub total: u64,
    started: Instant,
    st: Mutex<FlightState>,
    cv: Condvar,
}

#[derive(Default)]
struct FlightState {
    /// Wire bytes the owner has read.
    pos: u64,
    /// The owner's current read may reach this far.
    limit: u64,
    /// Where the helper's part starts (it runs to `total`).
    split: Option<u64>,
    /// Bytes reserved from the budget for the helper's buffer.
    reserved: u64,
    /// The helper's bytes (`split..total`), or `None` in the outer option until it is done
    /// and `Err` if it failed.
    handoff: Option<std::result::Result<Vec<u8>, ()>>,
    /// The owner is done (or gave up): the helper's bytes are no longer wanted.
    over: bool,
}

/// What an idle worker may help with.
pub enum Claim {
    /// Fetch bytes `at..end` (fields 1 and 2) of this flight's object.
    Range(Arc<Flight>, u64, u64),
    /// Nothing now; an unsplit chunk is still in flight (ask again shortly).
    Later,
    /// Nothing left that could be split.
    Never,
}

/// What the owner may do next.
pub enum Grant {
    /// Read at most this many bytes from its own response.
    Read(usize),
    /// It reached the split point: here is the rest of the object.
    Rest(Vec<u8>),
}

fn lock(st: &Mutex<FlightState>) -> std::sync::MutexGuard<'_, FlightState> {
    st.lock().unwrap_or_else(|p| p.into_inner())
}

impl Tail {
    /// Register a fetch of `total` wire bytes from `url`; dropping the guard ends it.
    pub fn start(&self, url: &str, total: u64) -> FlightGuard<'_> {
        let flight = Arc::new(Flight {
            url: url.to_string(),
            total,
            started: Instant::now(),
            st: Mutex::new(FlightState::default()),
            cv: Condvar::new(),
        });
        self.flights.lock().unwrap_or_else(|p| p.into_inner()).push(flight.clone());
        FlightGuard { tail: self, flight }
    }

    /// Claim the second half of the unread part of the in-flight chunk with the most time
    /// left, if any is worth it: the flight and the helper's byte range.
    pub fn claim(&self) -> Claim {
        let flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        let mut best: Option<(Duration, &Arc<Flight>)> = None;
        let mut unsplit = false;
        for f in flights.iter() {
            let st = lock(&f.st);
            let from = st.pos.max(st.limit);
            if st.split.is_some() || st.over || from >= f.total {
                continue;
            }
            unsplit = true;
            if st.pos == 0 {
                continue;
            }
            let left = f.total - from;
            let time_left = f.started.elapsed().mul_f64(left as f64 / st.pos as f64);
            if left < MIN_SPLIT_BYTES || time_left < MIN_SPLIT_TIME {
                continue;
            }
            if best.is_none_or(|(t, _)| time_left > t) {
                best = Some((time_left, f));
            }
        }
        let Some((_, f)) = best else {
            return if unsplit { Claim::Later } else { Claim::Never };
        };
        let mut st = lock(&f.st);
        let from = st.pos.max(st.limit);
        let at = from + (f.total - from) / 2;
        let need = f.total - at;
        if self.budget.fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_sub(need)).is_err() {
            return Claim::Later;
        }
        st.split = Some(at);
        st.reserved = need;
        Claim::Range(f.clone(), at, f.total)
    }

    fn release(&self, n: u64) {
        self.budget.fetch_add(n, Ordering::AcqRel);
    }
}

/// The owner's handle on its [`Flight`]; unregisters it when dropped.
pub struct FlightGuard<'t> {
    tail: &'t Tail,
    flight: Arc<Flight>,
}

impl FlightGuard<'_> {
    /// Before each read: how far the owner may read, or the helper's bytes once it reached the
    /// split point (waiting for them, while `cancelled` is false). A failed helper lifts the
    /// split.
    pub fn grant(&self, step: usize, cancelled: impl Fn() -> bool) -> Grant {
        let f = &self.flight;
        let mut st = lock(&f.st);
        loop {
            match st.split {
                Some(at) if st.pos >= at => match st.handoff.take() {
                    Some(Ok(rest)) => {
                        let n = std::mem::take(&mut st.reserved);
                        self.tail.release(n);
                        return Grant::Rest(rest);
                    }
                    Some(Err(())) => {
                        st.split = None;
                        let n = std::mem::take(&mut st.reserved);
                        self.tail.release(n);
                    }
                    None => {
                        if cancelled() {
                            st.split = None;
                            return Grant::Read(step);
                        }
                        st =
                            f.cv.wait_timeout(st, Duration::from_millis(50))
                                .map(|r| r.0)
                                .unwrap_or_else(|p| p.into_inner().0);
                    }
                },
                Some(at) => {
                    let k = step.min(usize::try_from(at - st.pos).unwrap_or(usize::MAX));
                    st.limit = st.pos + k as u64;
                    return Grant::Read(k);
                }
                None => {
                    st.limit = st.pos + step as u64;
                    return Grant::Read(step);
                }
            }
        }
    }

    /// The owner read `n` bytes.
    pub fn advance(&self, n: usize) {
        lock(&self.flight.st).pos += n as u64;
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        {
            let mut st = lock(&self.flight.st);
            st.over = true;
            st.handoff = None;
            let n = std::mem::take(&mut st.reserved);
            self.tail.release(n);
        }
        self.flight.cv.notify_all();
        let mut flights = self.tail.flights.lock().unwrap_or_else(|p| p.into_inner());
        flights.retain(|f| !Arc::ptr_eq(f, &self.flight));
    }
}

impl Flight {
    /// Whether the owner no longer wants the helper's bytes.
    pub fn is_over(&self) -> bool {
        lock(&self.st).over
    }

    /// The helper's result: the bytes of its range, or `None` when it failed. False when the
    /// owner no longer wanted them (the bytes are dropped).
    pub fn deliver(&self, bytes: Option<Vec<u8>>) -> bool {
        let ok = bytes.is_some();
        {
            let mut st = lock(&self.st);
            if st.over {
                return false;
            }
            st.handoff = Some(bytes.ok_or(()));
        }
        self.cv.notify_all();
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_never_reads_past_the_split_and_takes_the_helpers_bytes_there() {
        let tail = Tail::default();
        let owner = tail.start("http://x/c", 10 << 20);
        assert!(matches!(tail.claim(), Claim::Later), "nothing read yet: no rate to judge by");
        let Grant::Read(k) = owner.grant(64 << 10, || false) else { panic!() };
        owner.advance(k);
        std::thread::sleep(Duration::from_millis(20));
        // Read 64 KiB in ≥ 20 ms: ~10 MiB left is well over 100 ms.
        let Grant::Read(k) = owner.grant(64 << 10, || false) else { panic!() };
        let Claim::Range(flight, at, end) = tail.claim() else { panic!("worth splitting") };
        assert_eq!(end, 10 << 20);
        assert!(at >= (64 << 10) + k as u64, "split after the owner's current read");
        assert!(matches!(tail.claim(), Claim::Never), "one split per chunk");
        owner.advance(k);
        let mut pos = (64 << 10) + k as u64;
        while pos < at {
            let Grant::Read(k) = owner.grant(1 << 20, || false) else { panic!() };
            assert!(pos + k as u64 <= at);
            owner.advance(k);
            pos += k as u64;
        }
        let helper = std::thread::spawn(move || assert!(flight.deliver(Some(vec![7; (end - at) as usize]))));
        match owner.grant(64 << 10, || false) {
            Grant::Rest(rest) => assert_eq!(rest.len() as u64, end - at),
            Grant::Read(_) => panic!("expected the helper's bytes"),
        }
        helper.join().unwrap();
        assert_eq!(tail.budget.load(Ordering::Acquire), BUDGET, "budget returned");
    }

    #[test]
    fn a_failed_helper_lets_the_owner_read_on() {
        let tail = Tail::default();
        let owner = tail.start("http://x/c", 4 << 20);
        owner.grant(1 << 10, || false);
        owner.advance(1 << 10);
        std::thread::sleep(Duration::from_millis(20));
        let Claim::Range(flight, at, _) = tail.claim() else { panic!("worth splitting") };
        let mut pos = 1u64 << 10;
        while pos < at {
            let Grant::Read(k) = owner.grant(1 << 20, || false) else { panic!() };
            owner.advance(k);
            pos += k as u64;
        }
        assert!(!flight.deliver(None));
        assert!(matches!(owner.grant(1 << 20, || false), Grant::Read(n) if n == 1 << 20));
        drop(owner);
        assert!(flight.is_over());
        assert_eq!(tail.budget.load(Ordering::Acquire), BUDGET);
        assert!(tail.flights.lock().unwrap().is_empty());
    }
}
