//! Retry policy, after cargo's `retry.rs`: which failures are *spurious* (worth another try) and
//! how long to wait before the next one.
//!
//! Spurious: connect/DNS/reset/timeout/truncated body, HTTP 5xx, 429 and 408, and data that
//! arrived corrupt (bad MD5 or length). Everything else (4xx, bad ranges, disk errors) is final.
//! Waits are jittered and capped near 10 s: first 500 ms + up to 1 s, then
//! `(attempt - 1) * 3 s + 500 ms`. [`RetryPolicy::fixed_sleep`] fixes the wait (the CLI sets it
//! from `GALAXY_DL_RETRY_SLEEP_MS`; tests use 0–20 ms).

use std::time::Duration;

use crate::error::Error;

/// Cap on a single backoff wait.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How many times and how patiently a request is retried.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts after the first one for one piece of work (a range, a chunk, a manifest).
    pub max_retries: u32,
    /// Fixed wait instead of the jittered schedule (the CLI: `GALAXY_DL_RETRY_SLEEP_MS`).
    pub fixed_sleep: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 5, fixed_sleep: None }
    }
}

impl RetryPolicy {
    /// Whether failure number `attempt` (1-based) of `err` should be retried.
    pub fn should_retry(&self, err: &Error, attempt: u32) -> bool {
        attempt <= self.max_retries && err.is_spurious()
    }

    /// How long to wait before retry number `attempt` (1-based). `jitter` is in [0, 1).
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        if let Some(d) = self.fixed_sleep {
            return d;
        }
        let ms =
            if attempt <= 1 { 500.0 + 1000.0 * jitter } else { (attempt - 1) as f64 * 3000.0 + 500.0 + 500.0 * jitter };
        Duration::from_millis(ms as u64).min(MAX_BACKOFF)
    }
}

/// A cheap jitter source in [0, 1) without a `rand` dependency (time + thread id hashed).
pub fn jitter() -> f64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_capped_and_grows() {
        let p = RetryPolicy { max_retries: 5, fixed_sleep: None };
        assert!(p.backoff(1, 0.0) >= Duration::from_millis(500));
        assert!(p.backoff(1, 0.999) < Duration::from_millis(1500));
        assert!(p.backoff(2, 0.0) >= Duration::from_millis(3500));
        assert_eq!(p.backoff(10, 0.5), MAX_BACKOFF);
        let f = RetryPolicy { max_retries: 1, fixed_sleep: Some(Duration::from_millis(3)) };
        assert_eq!(f.backoff(4, 0.9), Duration::from_millis(3));
    }

    #[test]
    fn only_spurious_errors_are_retried() {
        let p = RetryPolicy { max_retries: 2, fixed_sleep: None };
        let e503 = Error::status("http://h/x", 503, None);
        let e404 = Error::status("http://h/x", 404, None);
        assert!(p.should_retry(&e503, 1));
        assert!(p.should_retry(&e503, 2));
        assert!(!p.should_retry(&e503, 3));
        assert!(!p.should_retry(&e404, 1));
    }

    #[test]
    fn jitter_in_range() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
