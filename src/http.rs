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
#[non_exhaustive]
pub struct HttpOptions {
    /// Connections kept alive (≥ the number of workers).
    pub pool: usize,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Longest silence on a socket read before the request is abandoned as stalled.
    pub read_timeout: Duration,
}

impl Default for HttpOptions {
    /// Pool 8, connect 10 s, read 15 s (the CLI lets `GALAXY_DL_READ_TIMEOUT_MS` override it).
    fn default() -> Self {
        HttpOptions { pool: 8, connect_timeout: Duration::from_secs(10), read_timeout: Duration::from_secs(15) }
    }
}

/// Build the agent. Status codes are not errors here: callers look at them (a 200 to a ranged
/// request means something different from a 206).
///
/// The proxy comes from the environment ([`proxy_from_env`]: `ALL_PROXY`, `HTTPS_PROXY`,
/// `HTTP_PROXY`, lower-case forms too, `NO_PROXY` honoured; `http`, `https`, `socks4`, `socks4a`,
/// `socks5`, `socks5h` schemes). `SSL_CERT_FILE` names a PEM bundle of trusted roots
/// ([`roots_from_env`]); certificate checks are always on.
///
/// # Errors
/// [`Error::Proxy`] when a proxy variable is set but unusable (we never fall back to a direct
/// connection), [`Error::Usage`] when `SSL_CERT_FILE` cannot be read or holds no certificate.
pub fn agent(opts: &HttpOptions) -> Result<ureq::Agent> {
    let pool = opts.pool.max(1) * 2;
    let proxy = proxy_from_env()?;
    set_active_proxy(proxy.as_ref());
    let mut tls = ureq::tls::TlsConfig::builder().unversioned_rustls_crypto_provider(crypto_provider());
    if let Some(roots) = roots_from_env()? {
        tls = tls.root_certs(roots);
    }
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(pool.max(16))
        .max_idle_connections_per_host(pool)
        .max_idle_age(Duration::from_secs(30))
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_per_read(Some(opts.read_timeout))
        .timeout_recv_response(Some(opts.read_timeout * 2))
        .user_agent(USER_AGENT)
        .input_buffer_size(128 * 1024)
        .proxy(proxy)
        .tls_config(tls.build())
        .build()
        .into())
}

/// The TLS crypto: rustls on *ring*, built here instead of by ureq (whose `rustls` feature links
/// ring's whole default provider) so that only what a download client uses is in the binary:
/// TLS 1.3 and 1.2 with AES-GCM (every TLS 1.3 server must offer AES-128-GCM, RFC 8446 §9.1;
/// every CDN offers ECDHE-AES-GCM on 1.2), X25519/P-256/P-384 key exchange, and the same
/// certificate signature algorithms as rustls' ring provider ([`SIG_ALGS`]), so no server
/// certificate is refused that the default provider accepts. Left out: the ChaCha20-Poly1305
/// suites (a server picks them only when no AES-GCM suite is offered) and the loading of
/// private keys for client certificates, which galaxy-dl never sends.
fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::{cipher_suite as cs, kx_group};
    std::sync::Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        signature_verification_algorithms: SIG_ALGS,
        secure_random: &SystemRandom,
        key_provider: &NoClientKeys,
    })
}

/// The certificate signature algorithms of rustls' ring provider (its table is private: a copy
/// of rustls 0.23's `SUPPORTED_SIG_ALGS`). Calling `rustls::crypto::ring::default_provider()`
/// for it would link every cipher suite that provider lists.
static SIG_ALGS: rustls::crypto::WebPkiSupportedAlgorithms = {
    use rustls::SignatureScheme as S;
    use webpki::ring as a;
    rustls::crypto::WebPkiSupportedAlgorithms {
        all: &[
            a::ECDSA_P256_SHA256,
            a::ECDSA_P256_SHA384,
            a::ECDSA_P384_SHA256,
            a::ECDSA_P384_SHA384,
            a::ED25519,
            a::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            a::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            a::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            a::RSA_PKCS1_2048_8192_SHA256,
            a::RSA_PKCS1_2048_8192_SHA384,
            a::RSA_PKCS1_2048_8192_SHA512,
            a::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            a::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            a::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ],
        mapping: &[
            // For TLS 1.2 the curve is not fixed by the scheme; for TLS 1.3 it is.
            (S::ECDSA_NISTP384_SHA384, &[a::ECDSA_P384_SHA384, a::ECDSA_P256_SHA384]),
            (S::ECDSA_NISTP256_SHA256, &[a::ECDSA_P256_SHA256, a::ECDSA_P384_SHA256]),
            (S::ED25519, &[a::ED25519]),
            (S::RSA_PSS_SHA512, &[a::RSA_PSS_2048_8192_SHA512_LEGACY_KEY]),
            (S::RSA_PSS_SHA384, &[a::RSA_PSS_2048_8192_SHA384_LEGACY_KEY]),
            (S::RSA_PSS_SHA256, &[a::RSA_PSS_2048_8192_SHA256_LEGACY_KEY]),
            (S::RSA_PKCS1_SHA512, &[a::RSA_PKCS1_2048_8192_SHA512]),
            (S::RSA_PKCS1_SHA384, &[a::RSA_PKCS1_2048_8192_SHA384]),
            (S::RSA_PKCS1_SHA256, &[a::RSA_PKCS1_2048_8192_SHA256]),
        ],
    }
};

/// Randomness for TLS (client random, key shares): the kernel's `getrandom`, as ring's own
/// `SystemRandom` does.
#[derive(Debug)]
struct SystemRandom;

impl rustls::crypto::SecureRandom for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> std::result::Result<(), rustls::crypto::GetRandomFailed> {
        getrandom::getrandom(buf).map_err(|_| rustls::crypto::GetRandomFailed)
    }
}

/// The key provider of [`crypto_provider`]: galaxy-dl authenticates with OAuth tokens, never
/// with a TLS client certificate, so loading a private key is refused.
#[derive(Debug)]
struct NoClientKeys;

impl rustls::crypto::KeyProvider for NoClientKeys {
    fn load_private_key(
        &self,
        _key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> std::result::Result<std::sync::Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General("client certificates are not supported".into()))
    }
}

/// The proxy variables, in the order ureq reads them (the first one set wins).
const PROXY_VARS: [&str; 6] = ["ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];

/// The proxy the environment asks for: the first non-empty of `ALL_PROXY`, `all_proxy`,
/// `HTTPS_PROXY`, `https_proxy`, `HTTP_PROXY`, `http_proxy` (with `NO_PROXY`/`no_proxy`
/// exclusions), or `None` when none is set.
///
/// # Errors
/// [`Error::Proxy`] when the first variable set does not parse as a proxy URL with a supported
/// scheme; ureq alone would skip it silently and connect directly.
pub fn proxy_from_env() -> Result<Option<ureq::Proxy>> {
    let Some((var, value)) =
        PROXY_VARS.iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()).map(|s| (*v, s)))
    else {
        return Ok(None);
    };
    if let Err(e) = ureq::Proxy::new(&value) {
        return Err(Error::Proxy {
            proxy: format!("{var}={}", crate::error::redact_url(&value)),
            reason: format!(
                "{e}: supported schemes are http, https, socks4, socks4a, socks5 and socks5h; \
                 refusing to connect directly while a proxy is configured"
            ),
        });
    }
    // Same variable, same order: ureq's reader also attaches the NO_PROXY list.
    match ureq::Proxy::try_from_env() {
        Some(p) => Ok(Some(p)),
        None => Err(Error::Proxy { proxy: var.to_string(), reason: "could not be read".into() }),
    }
}

/// `scheme://host:port` of a proxy: what error messages name (never its credentials).
pub fn proxy_name(p: &ureq::Proxy) -> String {
    let scheme = match p.protocol() {
        ureq::ProxyProtocol::Http => "http",
        ureq::ProxyProtocol::Https => "https",
        ureq::ProxyProtocol::Socks4 => "socks4",
        ureq::ProxyProtocol::Socks4A => "socks4a",
        ureq::ProxyProtocol::Socks5 => "socks5",
        ureq::ProxyProtocol::Socks5h => "socks5h",
        _ => "proxy",
    };
    format!("{scheme}://{}:{}", p.host(), p.port())
}

static ACTIVE_PROXY: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn set_active_proxy(p: Option<&ureq::Proxy>) {
    if let Ok(mut g) = ACTIVE_PROXY.lock() {
        *g = p.map(proxy_name);
    }
}

fn active_proxy() -> Option<String> {
    ACTIVE_PROXY.lock().ok().and_then(|g| g.clone())
}

/// Extra trust: `SSL_CERT_FILE` names a PEM bundle whose certificates become the trusted roots
/// (as with OpenSSL, the bundle replaces the built-in Mozilla roots; put both in it to keep
/// them). `None` when the variable is unset or empty.
///
/// # Errors
/// [`Error::Usage`] when the file cannot be read, is not PEM, or holds no certificate: a user who
/// names a CA file means it, and silently using other roots would hide the mistake.
pub fn roots_from_env() -> Result<Option<ureq::tls::RootCerts>> {
    let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let shown = std::path::Path::new(&path).display().to_string();
    let meta = std::fs::metadata(&path).map_err(|e| Error::Usage(format!("SSL_CERT_FILE {shown}: {e}")))?;
    if !meta.is_file() || meta.len() > META_LIMIT {
        return Err(Error::Usage(format!("SSL_CERT_FILE {shown}: not a regular file of at most {META_LIMIT} bytes")));
    }
    let pem = std::fs::read(&path).map_err(|e| Error::Usage(format!("SSL_CERT_FILE {shown}: {e}")))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(Error::Usage(format!("SSL_CERT_FILE {shown}: invalid PEM: {e}"))),
        }
    }
    if certs.is_empty() {
        return Err(Error::Usage(format!("SSL_CERT_FILE {shown}: no certificate in the file")));
    }
    debug!("trusting {} root certificate(s) from SSL_CERT_FILE {shown}", certs.len());
    Ok(Some(ureq::tls::RootCerts::new_with_certs(&certs)))
}

/// Convert a ureq failure on `url` into our error (redacting the URL). With a proxy configured,
/// a failure to reach it (or a refusal by it) is an [`Error::Proxy`] naming the proxy, not a
/// network error blamed on the game host, and is not retried.
pub fn from_ureq(url: &str, e: ureq::Error) -> Error {
    if let Some(proxy) = active_proxy() {
        let reason = match &e {
            ureq::Error::ConnectionFailed => Some("cannot connect to the proxy".to_string()),
            ureq::Error::HostNotFound => Some("proxy host not found (DNS), or it could not resolve the target".into()),
            ureq::Error::ConnectProxyFailed(m) => Some(format!("the proxy refused the tunnel: {m}")),
            ureq::Error::InvalidProxyUrl => Some("invalid proxy URL".into()),
            ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
                Some("timed out connecting to the proxy".into())
            }
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                Some("connection refused by the proxy".into())
            }
            ureq::Error::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::InvalidData
                        | std::io::ErrorKind::InvalidInput
                        | std::io::ErrorKind::PermissionDenied
                ) || io.kind() == std::io::ErrorKind::Other && io.to_string().contains("auth") =>
            {
                Some(format!("proxy handshake failed: {io}"))
            }
            _ => None,
        };
        if let Some(reason) = reason {
            return Error::Proxy { proxy, reason: format!("{reason} (requesting {})", crate::error::redact_url(url)) };
        }
    }
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

/// [`get`] whose per-read timeout is `per_read` for this request only (never longer than the
/// agent's): a body that falls silent this long is cut, and the policy asks again, instead of
/// the request sitting until the agent's read timeout.
pub fn get_cut(
    agent: &ureq::Agent,
    url: &str,
    bearer: Option<&str>,
    range: Option<(u64, u64)>,
    per_read: Duration,
) -> Result<ureq::http::Response<ureq::Body>> {
    let per_read = agent.config().timeout_per_read().map_or(per_read, |d| d.min(per_read));
    let mut req = agent.get(url);
    if let Some(t) = bearer {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    if let Some((a, b)) = range {
        req = req.header("Range", &format!("bytes={a}-{b}"));
    }
    req.config().timeout_per_read(Some(per_read)).build().call().map_err(|e| from_ureq(url, e))
}

/// [`get_cut`] for CDN data (chunks, `main.bin` and `get` ranges), whose answer headers are
/// also awaited for at most twice `per_read` (not the agent's 2 × read timeout): a server that
/// takes the request and never answers costs seconds, and a new attempt nothing. (Not for API
/// calls: a token refresh cut after the server answered it would lose the rotated token.)
pub fn get_data_cut(
    agent: &ureq::Agent,
    url: &str,
    range: Option<(u64, u64)>,
    per_read: Duration,
) -> Result<ureq::http::Response<ureq::Body>> {
    let per_read = agent.config().timeout_per_read().map_or(per_read, |d| d.min(per_read));
    let headers = agent.config().timeouts().recv_response.map_or(2 * per_read, |d| d.min(2 * per_read));
    let mut req = agent.get(url);
    if let Some((a, b)) = range {
        req = req.header("Range", &format!("bytes={a}-{b}"));
    }
    req.config()
        .timeout_per_read(Some(per_read))
        .timeout_recv_response(Some(headers))
        .build()
        .call()
        .map_err(|e| from_ureq(url, e))
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
