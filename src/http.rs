//! The shared HTTP client: one `ureq::Agent` whose idle pool holds at least one connection per
//! worker (ureq keeps only 3 per host by default, which would re-open 5 of 8 connections after
//! every request), per-read timeouts so a stalled connection is noticed, no transparent
//! decompression, and the conversion of ureq failures into our [`Error`].
//!
//! One request and nothing more: retries, failover and stall detection are `fetch::policy`'s.

use std::io::Read;
use std::time::Duration;

use crate::error::{Error, Result};

/// User-Agent sent with every request.
pub const USER_AGENT: &str = concat!("galaxy-dl/", env!("CARGO_PKG_VERSION"));

/// Largest metadata body (manifest, API answer) we accept into memory.
pub const META_LIMIT: u64 = 256 << 20;

/// Timeouts and pool size of the agent.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Connections kept alive (≥ the number of workers).
    pub pool: usize,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Longest silence on a socket read before the request is abandoned as stalled.
    pub read_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        let read_ms = std::env::var("GALAXY_DL_READ_TIMEOUT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(15_000);
        HttpOptions { pool: 8, connect_timeout: Duration::from_secs(10), read_timeout: Duration::from_millis(read_ms) }
    }
}

/// Build the agent. Status codes are not errors here: callers look at them (a 200 to a ranged
/// request means something different from a 206).
pub fn agent(opts: &HttpOptions) -> ureq::Agent {
    let pool = opts.pool.max(1) * 2;
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(pool.max(16))
        .max_idle_connections_per_host(pool)
        .max_idle_age(Duration::from_secs(30))
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_per_read(Some(opts.read_timeout))
        .timeout_recv_response(Some(opts.read_timeout * 2))
        .user_agent(USER_AGENT)
        .input_buffer_size(128 * 1024)
        .build()
        .into()
}

/// Convert a ureq failure on `url` into our error (redacting the URL).
pub fn from_ureq(url: &str, e: ureq::Error) -> Error {
    match e {
        ureq::Error::StatusCode(s) => Error::status(url, s, None),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
            Error::Usage(format!("invalid URL {}", crate::error::redact_url(url)))
        }
        ureq::Error::HostNotFound => Error::network(url, "host not found (DNS)"),
        ureq::Error::ConnectionFailed => Error::network(url, "connection failed"),
        ureq::Error::Timeout(t) => Error::network(url, format!("timed out ({t})")),
        ureq::Error::Io(io) => from_io(url, &io),
        other => Error::network(url, other.to_string()),
    }
}

/// Convert an I/O error that happened while reading a response body.
pub fn from_io(url: &str, io: &std::io::Error) -> Error {
    use std::io::ErrorKind::*;
    let reason = match io.kind() {
        UnexpectedEof => "connection closed before the body was complete".to_string(),
        TimedOut | WouldBlock => "stalled: no data within the read timeout".to_string(),
        ConnectionReset | ConnectionAborted | BrokenPipe => "connection reset".to_string(),
        ConnectionRefused => "connection refused".to_string(),
        _ => io.to_string(),
    };
    Error::network(url, reason)
}

/// Pull GOG's `error`/`error_description` out of a JSON error body, for messages.
pub fn error_detail(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error").and_then(|e| e.as_str())?;
    // error_description may name the user: keep only the error code.
    Some(e.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect())
}

/// Send one GET of `url`, with an optional bearer token and an optional `Range: bytes=a-b`
/// (`range` = `(a, b)` inclusive). One request, no retry: the policy is `fetch::policy`'s.
pub fn get(
    agent: &ureq::Agent,
    url: &str,
    bearer: Option<&str>,
    range: Option<(u64, u64)>,
) -> Result<ureq::http::Response<ureq::Body>> {
    let mut req = agent.get(url);
    if let Some(t) = bearer {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    if let Some((a, b)) = range {
        req = req.header("Range", &format!("bytes={a}-{b}"));
    }
    req.call().map_err(|e| from_ureq(url, e))
}

/// Longest `Retry-After` we keep from a header, in seconds (the policy caps it further).
const RETRY_AFTER_MAX: u64 = 24 * 3600;

/// The error for an answer with an unusable `status`: GOG's error code from the first 4 KiB of
/// the body as detail, and the server's `Retry-After` (seconds or an HTTP date).
pub fn status_error(url: &str, resp: &mut ureq::http::Response<ureq::Body>) -> Error {
    let status = resp.status().as_u16();
    let ra = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()))
        .map(|d| d.as_secs().min(RETRY_AFTER_MAX) as u32);
    let mut body = Vec::new();
    let _ = resp.body_mut().as_reader().take(4096).read_to_end(&mut body);
    Error::status_retry_after(url, status, error_detail(&body), ra)
}

/// Parse a `Retry-After` value: delay-seconds, or an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37
/// GMT`) turned into the time left after `now` (zero when in the past). `None` when malformed.
pub fn parse_retry_after(v: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX).min(RETRY_AFTER_MAX)));
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    let (_, rest) = v.split_once(", ")?;
    let mut it = rest.split_ascii_whitespace();
    let day: u64 = it.next()?.parse().ok()?;
    let mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| Some(*m) == it.clone().next())? as u64
        + 1;
    it.next()?;
    let year: u64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|x| x.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if it.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 || !(1970..=9999).contains(&year) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), years >= 1970 only.
    let (y, mp) = if mon > 2 { (year, mon - 3) } else { (year - 1, mon + 9) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    let at = days * 86_400 + h * 3600 + m * 60 + s;
    let now = now.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now).min(RETRY_AFTER_MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_retry_after("Thu, 29 Feb 1996 00:00:00 GMT", now).map(|d| d.as_secs()), Some(RETRY_AFTER_MAX));
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(Duration::from_secs(RETRY_AFTER_MAX)));
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }
}
