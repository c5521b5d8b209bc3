//! The one fetch policy every request follows: what a failure means, where the next attempt
//! goes, and how long to wait first.
//!
//! - [`classify`] sorts an error once: the link was refused (401/403: renew it), the object is
//!   missing on this mirror (404/410: the mirror's fault), the response was bad (reset,
//!   truncation, 5xx/429/408, corrupt data, 200 to a Range request, a wrong `Content-Range`:
//!   worth another try), or the failure is final.
//! - [`Health`] is shared by every worker of a run: an endpoint that fails [`DEMOTE_AFTER`]
//!   times in a row (or answers 404) is demoted for a cooldown, healthy endpoints are tried
//!   first, and a demoted one is tried again when its cooldown is over (a failure then demotes
//!   it again, for twice as long). A `Retry-After` holds the endpoint back for every worker.
//! - [`Piece`] is one piece of work's budget: at most `max_retries + 1` failed attempts per
//!   endpoint, so a piece fails only when every endpoint has failed it (or 404'd it) — a dead
//!   mirror costs one request per piece at most, and after the first 404 none at all.
//! - [`Piece::on_error`] turns all of that into the next step: retry on endpoint `i` after a
//!   wait, renew the link, or give up.
//! - [`fetch_bytes`]: metadata GETs (manifests, API answers, secure links, tokens) under the
//!   same policy, with the low-speed limit applied to their bodies too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::retry::{jitter, RetryPolicy};
use super::{read_body, LowSpeed, StallWatch};
use crate::error::{Error, Result};
use crate::http;

/// Consecutive failures after which an endpoint is demoted.
pub const DEMOTE_AFTER: u32 = 3;
/// Longest wait a `Retry-After` may impose.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Longest cooldown of a demoted endpoint (it doubles with each demotion from this base).
pub const MAX_COOLDOWN: Duration = Duration::from_secs(300);

/// Default cooldown of a demoted endpoint (the CLI lets `GALAXY_DL_ENDPOINT_COOLDOWN_MS`
/// override it through [`super::EngineOptions::endpoint_cooldown`]).
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);

/// What a failure means for the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The CDN refused the signed URL (401/403): renew the link.
    Refused,
    /// This endpoint does not have the object (404/410): its fault, not the piece's.
    Missing,
    /// A bad response (network, 5xx/429/408, corrupt or short data, wrong range): try again.
    Transient,
    /// Nothing another attempt can fix (or the run was cancelled).
    Final,
}

/// Sort `e` (see [`Class`]).
pub fn classify(e: &Error) -> Class {
    match e {
        Error::Interrupted => Class::Final,
        Error::HttpStatus { status: 401 | 403, .. } => Class::Refused,
        Error::HttpStatus { status: 404 | 410, .. } => Class::Missing,
        // A response that ignored Range or carried a wrong Content-Range is a fault of that
        // response; 416 means the resource is shorter than we think: final.
        Error::BadRange { got, .. } if !got.starts_with("416") => Class::Transient,
        e if e.is_spurious() => Class::Transient,
        _ => Class::Final,
    }
}

/// The `Retry-After` of an error, capped at [`MAX_RETRY_AFTER`].
pub fn retry_after(e: &Error) -> Option<Duration> {
    match e {
        Error::HttpStatus { retry_after: Some(s), .. } => Some(Duration::from_secs(u64::from(*s)).min(MAX_RETRY_AFTER)),
        _ => None,
    }
}

#[derive(Debug, Clone, Default)]
struct EndpointState {
    /// Failures in a row.
    fails: u32,
    /// Times demoted (the cooldown doubles with each).
    demotions: u32,
    /// Demoted until then.
    demoted_until: Option<Instant>,
    /// Held back by a `Retry-After` until then.
    not_before: Option<Instant>,
    /// Pieces delivered in all.
    delivered: u64,
    /// The last failure was a 404 (the mirror lacks the content): ranked after every
    /// endpoint that is merely flaky.
    dead: bool,
}

/// Endpoint health shared by all workers of a run (one entry per endpoint index). Consulted
/// once per request, never per block.
#[derive(Debug)]
pub struct Health {
    eps: Mutex<Vec<EndpointState>>,
    cooldown: Duration,
    /// Pieces delivered by any endpoint: the run is making progress.
    delivered: std::sync::atomic::AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Health::new(DEFAULT_COOLDOWN)
    }
}

impl Health {
    /// Fresh health with the given base cooldown.
    pub fn new(cooldown: Duration) -> Health {
        Health { eps: Mutex::new(Vec::new()), cooldown, delivered: Default::default() }
    }

    fn with<T>(&self, i: usize, f: impl FnOnce(&mut EndpointState) -> T) -> T {
        let mut v = self.eps.lock().unwrap_or_else(|p| p.into_inner());
        if v.len() <= i {
            v.resize(i + 1, EndpointState::default());
        }
        match v.get_mut(i) {
            Some(s) => f(s),
            None => f(&mut EndpointState::default()),
        }
    }

    /// Endpoint `i` delivered.
    pub fn success(&self, i: usize) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.with(i, |s| {
            s.fails = 0;
            s.demotions = 0;
            s.demoted_until = None;
            s.delivered += 1;
            s.dead = false;
        });
    }

    /// Pieces endpoint `i` has delivered so far.
    pub fn delivered_by(&self, i: usize) -> u64 {
        self.with(i, |s| s.delivered)
    }

    /// Whether endpoint `i` delivered pieces in this run and has not failed [`BROKEN_AFTER`]
    /// times in a row since: a mirror that works, if not every time. A piece that keeps failing
    /// there is unlucky, even when nothing else is in flight to show it (the last piece of a run).
    pub fn is_delivering(&self, i: usize) -> bool {
        self.with(i, |s| s.delivered > 0 && s.fails < BROKEN_AFTER)
    }

    /// Pieces delivered so far by any endpoint.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Endpoint `i` failed; `dead` (a 404) demotes it at once. `retry_after` holds it back.
    /// Returns true when this failure demoted it.
    pub fn failure(&self, i: usize, dead: bool, retry_after: Option<Duration>, now: Instant) -> bool {
        let base = self.cooldown;
        self.with(i, |s| {
            s.fails = s.fails.saturating_add(1);
            s.dead = dead;
            if let Some(ra) = retry_after {
                s.not_before = Some(now + ra);
            }
            let demoted = s.demoted_until.is_some_and(|t| now < t);
            if !demoted && (dead || s.fails >= DEMOTE_AFTER) {
                let d = base.saturating_mul(1 << s.demotions.min(8)).min(MAX_COOLDOWN);
                s.demotions = s.demotions.saturating_add(1);
                s.demoted_until = Some(now + d);
                return true;
            }
            false
        })
    }

    /// Whether endpoint `i` is demoted at `now`.
    pub fn is_demoted(&self, i: usize, now: Instant) -> bool {
        self.with(i, |s| s.demoted_until.is_some_and(|t| now < t))
    }

    /// When endpoint `i` may be asked again after a `Retry-After` (None: now).
    pub fn not_before(&self, i: usize, now: Instant) -> Option<Instant> {
        self.with(i, |s| s.not_before.filter(|t| now < *t))
    }

    /// The best of `0..n` for which `usable` holds: healthy before demoted, demoted for
    /// flakiness before demoted for a 404, not held back by
    /// `Retry-After` before held back, `avoid` last among equals, then the lowest index
    /// (the link's priority order). A demoted endpoint is ranked by the end of its cooldown.
    pub fn choose(
        &self,
        n: usize,
        usable: impl Fn(usize) -> bool,
        avoid: Option<usize>,
        now: Instant,
    ) -> Option<usize> {
        let v = self.eps.lock().unwrap_or_else(|p| p.into_inner());
        let key = |i: usize| {
            let s = v.get(i);
            let demoted = s.and_then(|s| s.demoted_until).filter(|t| now < *t);
            let held = s.and_then(|s| s.not_before).filter(|t| now < *t);
            let dead = demoted.is_some() && s.is_some_and(|s| s.dead);
            (dead, demoted.is_some(), demoted, held.is_some(), avoid == Some(i), i)
        };
        (0..n).filter(|&i| usable(i)).min_by_key(|&i| key(i))
    }
}

/// Ranged answers in a row that ignored Range (200) before a download gives up on ranges.
pub const RANGE_REFUSALS: u32 = 8;

/// A request whose answer falls silent this long is cut and asked for again (on the healthiest
/// endpoint; ranges and chunks resume at their first unwritten byte): metadata, API answers,
/// secure links, tokens, V2 chunks and helper ranges, `get` and V1 `main.bin` ranges. No request
/// sits until the 15 s read timeout (issue 13 item 4); a resumed range loses nothing written.
pub const STALL_CUT: Duration = Duration::from_secs(3);

/// Whether a server honours Range, judged over a whole download: one `200` to a ranged request
/// is a fault of that response (retried), only [`RANGE_REFUSALS`] in a row (no good `206` in
/// between, whatever the worker or endpoint) mean it does not do ranges at all.
#[derive(Debug, Default)]
pub struct RangeSupport {
    in_a_row: std::sync::atomic::AtomicU32,
    refused: AtomicBool,
}

impl RangeSupport {
    /// A correct `206` arrived.
    pub fn honoured(&self) {
        self.in_a_row.store(0, Ordering::Relaxed);
    }

    /// A `200` answered a ranged request; true when that settles it: ranges are refused.
    pub fn ignored(&self) -> bool {
        let n = self.in_a_row.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= RANGE_REFUSALS {
            self.refused.store(true, Ordering::Release);
        }
        self.is_refused()
    }

    /// Whether ranges are refused for good.
    pub fn is_refused(&self) -> bool {
        self.refused.load(Ordering::Acquire)
    }
}

/// The next step after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Try again on endpoint `endpoint` after `wait`.
    Retry {
        /// Endpoint to use.
        endpoint: usize,
        /// How long to wait first.
        wait: Duration,
    },
    /// Renew the link (the CDN refused it), then try again at once.
    Renew,
    /// Give up: return the error.
    GiveUp,
}

/// How many times the budget a piece may fail on an endpoint while the run keeps delivering
/// other pieces, or the endpoint has delivered and is not failing everything (bad luck on a
/// flaky mirror, not a dead one), before it gives up anyway.
pub const LUCK_FACTOR: u32 = 4;

/// Failures in a row, over all pieces, after which an endpoint that delivered earlier in the
/// run counts as broken now rather than flaky (a mirror that went down mid-run: the pieces
/// then fail on the plain budget). Measured against a mirror that fails ~45 % of requests at
/// random (`tests/reliability.rs`, dead mirror + flaky mirror): the last chunk of the run,
/// retried alone, used up the plain budget of 6 attempts in 1 run of 40; 16 in a row at that
/// rate is ~3 in a million.
pub const BROKEN_AFTER: u32 = 16;

/// The retry budget of one piece of work (a chunk, a range, a document).
#[derive(Debug, Clone, Default)]
pub struct Piece {
    /// Failed attempts per endpoint that count against the budget (`u32::MAX` once the
    /// endpoint answered 404 for it).
    fails: Vec<u32>,
    /// Failed attempts per endpoint while it delivered other pieces (bounded by
    /// [`LUCK_FACTOR`] times the budget).
    unlucky: Vec<u32>,
    /// The endpoint's delivered count at the piece's first failure there.
    marks: Vec<Option<u64>>,
    /// Transient failures in all (drives the backoff).
    transient: u32,
    /// Renewals asked for.
    renewals: u32,
    /// Refusals (401/403) per endpoint.
    refused: Vec<u32>,
}

impl Piece {
    /// Failures recorded so far (for the retry event's attempt number).
    pub fn attempts(&self) -> u32 {
        self.transient + self.renewals + self.fails.iter().filter(|&&f| f == u32::MAX).count() as u32
    }

    fn usable(&self, i: usize, max: u32) -> bool {
        let unlucky = self.unlucky.get(i).copied().unwrap_or(0);
        self.fails.get(i).is_none_or(|&f| f <= max && f.saturating_add(unlucky) <= (max + 1) * LUCK_FACTOR)
    }

    /// The endpoint for the first attempt (or the next, without a failure in between).
    pub fn endpoint(&self, health: &Health, n: usize, max_retries: u32) -> Option<usize> {
        health.choose(n.max(1), |i| self.usable(i, max_retries), None, Instant::now())
    }

    /// Endpoint `ep` (of `n`) delivered this piece.
    pub fn on_success(&mut self, health: &Health, ep: usize) {
        health.success(ep);
    }

    /// Bytes of the piece arrived before the failure: the attempt made progress, so the
    /// budget of `ep` starts over (a long range is not failed by resets spread over hours).
    pub fn progressed(&mut self, ep: usize) {
        if let Some(f) = self.fails.get_mut(ep) {
            if *f != u32::MAX {
                *f = 0;
            }
        }
        if let Some(u) = self.unlucky.get_mut(ep) {
            *u = 0;
        }
        if let Some(m) = self.marks.get_mut(ep) {
            *m = None;
        }
    }

    /// Attempt on endpoint `ep` (of `n`) failed with `e`: what next.
    pub fn on_error(&mut self, health: &Health, retry: &RetryPolicy, ep: usize, n: usize, e: &Error) -> Step {
        self.on_error_as(health, retry, ep, n, e, classify(e))
    }

    /// [`Piece::on_error`] with the class decided by the caller (a metadata body that arrived
    /// but does not check out is a fault of that response: [`Class::Transient`]).
    pub fn on_error_as(
        &mut self,
        health: &Health,
        retry: &RetryPolicy,
        ep: usize,
        n: usize,
        e: &Error,
        class: Class,
    ) -> Step {
        let n = n.max(1);
        let now = Instant::now();
        if self.fails.len() < n {
            self.fails.resize(n, 0);
            self.unlucky.resize(n, 0);
            self.marks.resize(n, None);
            self.refused.resize(n, 0);
        }
        let max = retry.max_retries;
        match class {
            Class::Final => return Step::GiveUp,
            Class::Refused => {
                self.renewals += 1;
                let refusals = self.refused.get_mut(ep).map(|r| {
                    *r += 1;
                    *r
                });
                // Refused again with a fresh link: this mirror refuses us, the link is fine.
                // Another endpoint takes over, as after a 404.
                if n > 1 && refusals.is_some_and(|r| r > 2) {
                    health.failure(ep, true, None, now);
                    if let Some(f) = self.fails.get_mut(ep) {
                        *f = u32::MAX;
                    }
                } else {
                    return if self.renewals > max + 3 { Step::GiveUp } else { Step::Renew };
                }
            }
            Class::Missing => {
                health.failure(ep, true, None, now);
                if let Some(f) = self.fails.get_mut(ep) {
                    *f = u32::MAX;
                }
            }
            Class::Transient => {
                let ra = retry_after(e);
                if health.failure(ep, false, ra, now) {
                    debug!("endpoint {ep} demoted after repeated failures");
                }
                self.transient += 1;
                // Did the run deliver other pieces since this one first failed here? Then this
                // failure is the response's bad luck, not a sign that nothing can be delivered:
                // it counts against the (larger) luck bound only.
                let delivered = health.delivered();
                let mark = self.marks.get_mut(ep).map(|m| *m.get_or_insert(delivered));
                let lucky_others = mark.is_some_and(|m| delivered > m) || health.is_delivering(ep);
                let slot = if lucky_others { self.unlucky.get_mut(ep) } else { self.fails.get_mut(ep) };
                if let Some(f) = slot {
                    *f = f.saturating_add(1);
                }
            }
        }
        let Some(next) = health.choose(n, |i| self.usable(i, max), Some(ep), now) else {
            return Step::GiveUp;
        };
        let held = health.not_before(next, now).map(|t| t.saturating_duration_since(now));
        let wait = match held {
            Some(d) => d,
            // Another endpoint that is healthy: fail over at once.
            None if next != ep && !health.is_demoted(next, now) => Duration::ZERO,
            None if class == Class::Missing => Duration::ZERO,
            None => retry.backoff(self.transient.max(1), jitter()),
        };
        Step::Retry { endpoint: next, wait }
    }
}

/// Sleep `d`, waking early when `cancel` is set. Returns false if cancelled.
pub fn sleep_unless(cancel: Option<&AtomicBool>, d: Duration) -> bool {
    let until = Instant::now() + d;
    loop {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// How metadata requests are made: retry budget, low-speed limit, cancel flag.
#[derive(Debug, Clone, Copy)]
pub struct MetaPolicy<'a> {
    /// Retry budget and backoff.
    pub retry: &'a RetryPolicy,
    /// The low-speed limit applied to the body.
    pub low_speed: LowSpeed,
    /// Stops retries and reads early.
    pub cancel: Option<&'a AtomicBool>,
}

/// GET `url` into memory (bounded by [`http::META_LIMIT`]) with an optional bearer token, under
/// the policy: spurious failures, bad responses and slow bodies are retried with backoff
/// (honouring `Retry-After`); other statuses become [`Error::HttpStatus`] with GOG's error code
/// as detail.
pub fn fetch_bytes(agent: &ureq::Agent, url: &str, bearer: Option<&str>, p: MetaPolicy<'_>) -> Result<Vec<u8>> {
    fetch_parsed(agent, url, bearer, p, |_| Ok(())).map(|(b, ())| b)
}

/// Whether `e`, raised while checking or decoding a body that arrived whole, says the body
/// is corrupt (zlib garbage, truncated or broken JSON, an MD5 that does not match the hash
/// the document is named by): a fault of that response, worth another request.
pub fn is_corrupt_body(e: &Error) -> bool {
    matches!(e, Error::Checksum { .. } | Error::Size { .. }) || crate::manifest::is_garbled(e)
}

/// [`fetch_bytes`], then `parse` the body (check its hash, decode it). A body that arrived
/// but does not check out ([`is_corrupt_body`]) is retried under the same budget as a
/// network failure; only a body that is corrupt every time ends in `parse`'s error. Returns
/// the body and what `parse` made of it.
pub fn fetch_parsed<T>(
    agent: &ureq::Agent,
    url: &str,
    bearer: Option<&str>,
    p: MetaPolicy<'_>,
    mut parse: impl FnMut(&[u8]) -> Result<T>,
) -> Result<(Vec<u8>, T)> {
    let health = Health::new(Duration::ZERO);
    let mut piece = Piece::default();
    loop {
        if p.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Error::Interrupted);
        }
        let (e, class) = match fetch_bytes_once(agent, url, bearer, &p) {
            Ok(b) => match parse(&b) {
                Ok(t) => return Ok((b, t)),
                Err(e) if is_corrupt_body(&e) => (e, Class::Transient),
                Err(e) => return Err(e),
            },
            Err(e) => {
                let c = classify(&e);
                (e, c)
            }
        };
        match piece.on_error_as(&health, p.retry, 0, 1, &e, class) {
            // A metadata URL carries no signed link to renew, and has no mirror.
            Step::Retry { wait, .. } if class == Class::Transient => {
                debug!("retry {} of {}: {e}", piece.attempts(), crate::error::redact_url(url));
                if !sleep_unless(p.cancel, wait) {
                    return Err(Error::Interrupted);
                }
            }
            _ => return Err(e),
        }
    }
}

/// [`fetch_bytes`] with the default low-speed limit and no cancel flag (API and metadata callers
/// outside a download).
pub fn get_bytes(agent: &ureq::Agent, url: &str, bearer: Option<&str>, retry: &RetryPolicy) -> Result<Vec<u8>> {
    fetch_bytes(agent, url, bearer, MetaPolicy { retry, low_speed: LowSpeed::default(), cancel: None })
}

fn fetch_bytes_once(agent: &ureq::Agent, url: &str, bearer: Option<&str>, p: &MetaPolicy<'_>) -> Result<Vec<u8>> {
    // A metadata answer that falls silent is cut after `STALL_CUT` and asked for again: it is
    // small, so a new request costs little, and nothing waits for the 15 s read timeout.
    let mut resp = if p.low_speed.limit > 0 {
        http::get_cut(agent, url, bearer, None, STALL_CUT)?
    } else {
        http::get(agent, url, bearer, None)?
    };
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(http::status_error(url, &mut resp));
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    let cancelled = || p.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let mut stall = StallWatch::new(p.low_speed, true);
    read_body(&mut resp.body_mut().as_reader(), url, &mut buf, cancelled, &mut stall, |piece| {
        out.extend_from_slice(piece);
        if out.len() as u64 > http::META_LIMIT {
            return Err(Error::manifest(url, format!("answer larger than {} bytes", http::META_LIMIT)));
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e404() -> Error {
        Error::status("http://h/x", 404, None)
    }
    fn e503() -> Error {
        Error::status("http://h/x", 503, None)
    }
    fn policy(max: u32) -> RetryPolicy {
        RetryPolicy { max_retries: max, fixed_sleep: Some(Duration::from_millis(7)) }
    }

    #[test]
    fn classification() {
        assert_eq!(classify(&e404()), Class::Missing);
        assert_eq!(classify(&Error::status("u", 403, None)), Class::Refused);
        assert_eq!(classify(&e503()), Class::Transient);
        assert_eq!(classify(&Error::network("u", "reset")), Class::Transient);
        let bad = |got: &str| Error::BadRange { url: "u".into(), start: 0, end: 1, got: got.into() };
        assert_eq!(classify(&bad("206 with Content-Range \"bytes 1-2/3\"")), Class::Transient);
        assert_eq!(classify(&bad("200 OK: the server ignores Range")), Class::Transient);
        assert_eq!(classify(&bad("416 Range Not Satisfiable")), Class::Final);
        assert_eq!(classify(&Error::status("u", 400, None)), Class::Final);
        assert_eq!(classify(&Error::Interrupted), Class::Final);
    }

    #[test]
    fn a_404_demotes_the_endpoint_for_every_piece_and_costs_no_wait() {
        let h = Health::new(Duration::from_secs(30));
        let r = policy(5);
        let mut a = Piece::default();
        assert_eq!(a.endpoint(&h, 2, 5), Some(0), "priority order first");
        assert_eq!(a.on_error(&h, &r, 0, 2, &e404()), Step::Retry { endpoint: 1, wait: Duration::ZERO });
        // Another piece starts on the healthy endpoint straight away.
        let b = Piece::default();
        assert_eq!(b.endpoint(&h, 2, 5), Some(1));
        // The piece whose endpoint 1 also 404s has nowhere left to go.
        assert_eq!(a.on_error(&h, &r, 1, 2, &e404()), Step::GiveUp);
    }

    #[test]
    fn budget_counts_per_endpoint_and_fails_only_when_every_endpoint_is_spent() {
        let h = Health::new(Duration::from_secs(30));
        let r = policy(2);
        let mut a = Piece::default();
        // Endpoint 0 dead, endpoint 1 flaky: 3 failures on endpoint 1 allowed (1 + 2 retries).
        assert!(matches!(a.on_error(&h, &r, 0, 2, &e404()), Step::Retry { endpoint: 1, .. }));
        for _ in 0..2 {
            let s = a.on_error(&h, &r, 1, 2, &e503());
            assert_eq!(s, Step::Retry { endpoint: 1, wait: Duration::from_millis(7) });
        }
        assert_eq!(a.on_error(&h, &r, 1, 2, &e503()), Step::GiveUp);
        // Progress resets the budget of the endpoint.
        let mut b = Piece::default();
        let h = Health::new(Duration::from_secs(30));
        for _ in 0..50 {
            h.success(0); // other pieces get through too: failures count as bad luck
            assert!(matches!(b.on_error(&h, &r, 0, 1, &e503()), Step::Retry { endpoint: 0, .. }));
            b.progressed(0);
        }
    }

    #[test]
    fn failures_while_the_endpoint_delivers_other_pieces_are_bad_luck_within_a_bound() {
        let h = Health::new(Duration::from_secs(30));
        let r = policy(2);
        let mut a = Piece::default();
        // First failure counts (nothing delivered since the piece started).
        assert!(matches!(a.on_error(&h, &r, 0, 1, &e503()), Step::Retry { .. }));
        let mut n = 1;
        loop {
            h.success(0); // another piece got through meanwhile
            n += 1;
            match a.on_error(&h, &r, 0, 1, &e503()) {
                Step::Retry { .. } => {}
                Step::GiveUp => break,
                s => panic!("{s:?}"),
            }
            assert!(n < 100);
        }
        // Up to (2 + 1) * LUCK_FACTOR failures in all, then one more gives up.
        assert_eq!(n, 3 * LUCK_FACTOR as usize + 1);
        // Without deliveries elsewhere the plain budget applies.
        let mut b = Piece::default();
        let h = Health::new(Duration::from_secs(30));
        let mut m = 0;
        while matches!(b.on_error(&h, &r, 0, 1, &e503()), Step::Retry { .. }) {
            m += 1;
        }
        assert_eq!(m, 2);
    }

    #[test]
    fn the_last_piece_on_a_mirror_that_delivers_gets_the_luck_bound_until_the_mirror_fails_everything() {
        let r = policy(2);
        // The mirror delivered earlier pieces; this one now fails alone (nothing else in
        // flight): bad luck, up to the luck bound.
        let h = Health::new(Duration::from_secs(30));
        h.success(0);
        let mut a = Piece::default();
        let mut n = 0;
        while matches!(a.on_error(&h, &r, 0, 1, &e503()), Step::Retry { .. }) {
            n += 1;
            assert!(n < 100);
        }
        assert_eq!(n, 3 * LUCK_FACTOR as usize, "the luck bound, then one more failure gives up");
        // A mirror that delivered once and then failed BROKEN_AFTER times in a row (over all
        // pieces) is broken now: a piece failing there gets the plain budget.
        let h = Health::new(Duration::from_secs(30));
        h.success(0);
        let t = Instant::now();
        for _ in 0..BROKEN_AFTER {
            h.failure(0, false, None, t);
        }
        assert!(!h.is_delivering(0));
        let mut b = Piece::default();
        let mut m = 0;
        while matches!(b.on_error(&h, &r, 0, 1, &e503()), Step::Retry { .. }) {
            m += 1;
        }
        assert_eq!(m, 2);
        // Never delivered: the plain budget.
        assert!(!Health::new(Duration::from_secs(30)).is_delivering(0));
    }

    #[test]
    fn repeated_failures_demote_and_the_cooldown_brings_the_endpoint_back() {
        let h = Health::new(Duration::from_millis(40));
        let t = Instant::now();
        for _ in 0..DEMOTE_AFTER - 1 {
            assert!(!h.failure(0, false, None, t));
        }
        assert!(h.failure(0, false, None, t), "demoted on the third failure in a row");
        assert_eq!(h.choose(2, |_| true, None, t), Some(1), "healthy first");
        h.failure(1, true, None, t);
        assert_eq!(h.choose(2, |_| true, None, t), Some(0), "flaky before dead");
        h.success(1);
        assert_eq!(h.choose(1, |_| true, None, t), Some(0), "a demoted endpoint beats none");
        let later = t + Duration::from_millis(50);
        assert_eq!(h.choose(2, |_| true, None, later), Some(0), "cooldown over: priority order again");
        // Failing again right after the cooldown demotes it for twice as long.
        assert!(h.failure(0, false, None, later));
        assert!(h.is_demoted(0, later + Duration::from_millis(70)));
        assert!(!h.is_demoted(0, later + Duration::from_millis(90)));
        h.success(0);
        assert!(!h.is_demoted(0, later));
    }

    #[test]
    fn failover_is_immediate_and_avoids_the_endpoint_that_just_failed() {
        let h = Health::new(Duration::from_secs(30));
        let r = policy(5);
        let mut a = Piece::default();
        assert_eq!(a.on_error(&h, &r, 0, 2, &e503()), Step::Retry { endpoint: 1, wait: Duration::ZERO });
        assert_eq!(a.on_error(&h, &r, 1, 2, &e503()), Step::Retry { endpoint: 0, wait: Duration::ZERO });
    }

    #[test]
    fn retry_after_holds_the_endpoint_back_for_everyone_and_is_capped() {
        let h = Health::new(Duration::from_secs(30));
        let r = policy(5);
        let mut a = Piece::default();
        let e = Error::status_retry_after("u", 503, None, Some(1));
        match a.on_error(&h, &r, 0, 1, &e) {
            Step::Retry { endpoint: 0, wait } => assert!(wait > Duration::from_millis(900), "{wait:?}"),
            s => panic!("{s:?}"),
        }
        assert!(h.not_before(0, Instant::now()).is_some());
        let big = Error::status_retry_after("u", 429, None, Some(86_400));
        assert_eq!(retry_after(&big), Some(MAX_RETRY_AFTER));
        // With a second endpoint free, the piece goes there without waiting.
        let h = Health::new(Duration::from_secs(30));
        let mut b = Piece::default();
        assert_eq!(b.on_error(&h, &r, 0, 2, &e), Step::Retry { endpoint: 1, wait: Duration::ZERO });
    }

    #[test]
    fn refusals_renew_a_bounded_number_of_times() {
        let h = Health::default();
        let r = policy(1);
        let mut a = Piece::default();
        let e = Error::status("u", 403, None);
        for _ in 0..4 {
            assert_eq!(a.on_error(&h, &r, 0, 1, &e), Step::Renew);
        }
        assert_eq!(a.on_error(&h, &r, 0, 1, &e), Step::GiveUp);
    }

    #[test]
    fn range_support_needs_refusals_in_a_row() {
        let r = RangeSupport::default();
        for _ in 0..100 {
            for _ in 0..RANGE_REFUSALS - 1 {
                assert!(!r.ignored());
            }
            r.honoured();
        }
        assert!(!r.is_refused());
        for _ in 0..RANGE_REFUSALS - 1 {
            r.ignored();
        }
        assert!(r.ignored());
        assert!(r.is_refused());
    }

    #[test]
    fn a_mirror_refusing_fresh_links_is_left_for_another() {
        let h = Health::default();
        let r = policy(5);
        let mut a = Piece::default();
        let e = Error::status("u", 403, None);
        assert_eq!(a.on_error(&h, &r, 0, 2, &e), Step::Renew);
        assert_eq!(a.on_error(&h, &r, 0, 2, &e), Step::Renew);
        assert_eq!(a.on_error(&h, &r, 0, 2, &e), Step::Retry { endpoint: 1, wait: Duration::ZERO });
        assert!(h.is_demoted(0, Instant::now()));
    }

    #[test]
    fn sleep_wakes_on_cancel() {
        let c = AtomicBool::new(true);
        let t = Instant::now();
        assert!(!sleep_unless(Some(&c), Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(sleep_unless(None, Duration::from_millis(1)));
    }
}
