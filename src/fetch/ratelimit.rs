//! One token bucket shared by every worker: `--limit-rate` is a global limit on the whole
//! download, not a per-connection one (aria2's `--max-overall-download-limit`).
//!
//! Workers ask for tokens before each read; a request larger than the bucket simply goes into
//! debt and the caller sleeps until the debt is paid, so the long-run rate is exact whatever the
//! read size, and bursts are bounded by [`BURST_SECS`] of traffic.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How much unused allowance may accumulate, in seconds of traffic.
pub const BURST_SECS: f64 = 0.05;

/// A shared token bucket.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A limiter allowing `bytes_per_sec` on average.
    pub fn new(bytes_per_sec: u64) -> RateLimiter {
        RateLimiter { rate: bytes_per_sec.max(1) as f64, state: Mutex::new((0.0, Instant::now())) }
    }

    /// The configured rate.
    pub fn rate(&self) -> u64 {
        self.rate as u64
    }

    /// Largest read a worker should make at a time under this limit (keeps pacing smooth).
    pub fn read_size(&self) -> usize {
        ((self.rate * BURST_SECS) as usize).clamp(4096, 64 * 1024)
    }

    /// Take `n` bytes of allowance, returning how long the caller must wait first.
    pub fn reserve(&self, n: usize) -> Duration {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(st.1).as_secs_f64();
        st.1 = now;
        st.0 = (st.0 + elapsed * self.rate).min(self.rate * BURST_SECS);
        st.0 -= n as f64;
        if st.0 >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-st.0 / self.rate)
        }
    }

    /// Take `n` bytes of allowance, sleeping as long as needed.
    pub fn acquire(&self, n: usize) {
        let d = self.reserve(n);
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }

    /// [`RateLimiter::acquire`], but the sleep ends as soon as `cancel` is set (checked every
    /// 20 ms): `--limit-rate 1` must not keep a cancelled run alive for hours.
    pub fn acquire_unless(&self, n: usize, cancel: &std::sync::atomic::AtomicBool) {
        let d = self.reserve(n);
        if !d.is_zero() {
            super::policy::sleep_unless(Some(cancel), d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn debt_is_paid_by_waiting() {
        let r = RateLimiter::new(1000);
        let d = r.reserve(500);
        assert!(d >= Duration::from_millis(400) && d <= Duration::from_millis(510), "{d:?}");
    }

    #[test]
    fn cancel_wakes_a_long_wait() {
        let r = RateLimiter::new(1);
        let c = std::sync::atomic::AtomicBool::new(false);
        let t = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                c.store(true, std::sync::atomic::Ordering::Relaxed);
            });
            r.acquire_unless(4096, &c);
        });
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[test]
    fn shared_rate_is_global() {
        let r = Arc::new(RateLimiter::new(400_000));
        let start = Instant::now();
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        r.acquire(4000);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        // 160 kB at 400 kB/s = 0.4 s whatever the thread count (minus the small burst).
        let t = start.elapsed().as_secs_f64();
        assert!((0.33..0.8).contains(&t), "{t}");
    }
}
