//! The shared HTTP client: one `ureq::Agent` whose idle pool holds at least one connection per
//! worker (ureq keeps only 3 per host by default, which would re-open 5 of 8 connections after
//! every request), per-read timeouts so a stalled connection is noticed, no transparent
//! decompression, and the conversion of ureq failures into our [`Error`].
//!
//! Also small helpers for metadata requests (JSON, manifests) with the retry policy applied.

use std::io::Read;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::fetch::retry::{jitter, RetryPolicy};

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

/// GET `url` into memory (bounded by [`META_LIMIT`]), with optional bearer token, retrying
/// spurious failures. Returns the body of a 2xx answer; other statuses become
/// [`Error::HttpStatus`] with GOG's error code as detail (403 `invalid_licence` becomes
/// [`Error::NotOwned`] at the API layer, which knows the product).
pub fn get_bytes(agent: &ureq::Agent, url: &str, bearer: Option<&str>, retry: &RetryPolicy) -> Result<Vec<u8>> {
    let mut attempt = 0;
    loop {
        match get_bytes_once(agent, url, bearer) {
            Ok(b) => return Ok(b),
            Err(e) => {
                attempt += 1;
                if !retry.should_retry(&e, attempt) {
                    return Err(e);
                }
                log::debug!("retrying after: {e}");
                std::thread::sleep(retry.backoff(attempt, jitter()));
            }
        }
    }
}

fn get_bytes_once(agent: &ureq::Agent, url: &str, bearer: Option<&str>) -> Result<Vec<u8>> {
    let mut req = agent.get(url);
    if let Some(t) = bearer {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().map_err(|e| from_ureq(url, e))?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    resp.body_mut().as_reader().take(META_LIMIT + 1).read_to_end(&mut body).map_err(|e| from_io(url, &e))?;
    if body.len() as u64 > META_LIMIT {
        return Err(Error::manifest(url, format!("answer larger than {META_LIMIT} bytes")));
    }
    if !(200..300).contains(&status) {
        return Err(Error::status(url, status, error_detail(&body)));
    }
    Ok(body)
}
