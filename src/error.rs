//! The one error type of the library: every failure carries the context a user needs to act
//! (the URL, the byte range, the expected and actual digests, the path), and never a secret.
//!
//! URLs are stored already redacted (see [`redact_url`]): signed CDN tokens, query strings and
//! OAuth codes never reach a message, a log line or a test's output.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in galaxy-dl.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A malformed argument or value given by the user (CLI exit code 2).
    Usage(String),
    /// The server answered with a status we cannot use.
    HttpStatus {
        /// Redacted URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// A short, sanitised excerpt of the body (e.g. GOG's `error` field), if any.
        detail: Option<String>,
        /// The server's `Retry-After`, in seconds (already capped by the caller), if it sent one.
        retry_after: Option<u32>,
    },
    /// Connecting, sending or receiving failed (DNS, refused, reset, timeout, truncated body).
    Network {
        /// Redacted URL.
        url: String,
        /// What failed, in words.
        reason: String,
    },
    /// A ranged request was answered with the wrong range, length or status.
    BadRange {
        /// Redacted URL.
        url: String,
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// What the server sent instead.
        got: String,
    },
    /// Data did not match its expected MD5 (or SHA-256).
    Checksum {
        /// The file, chunk or URL that was checked.
        what: String,
        /// Expected digest, lower-case hex.
        expected: String,
        /// Actual digest, lower-case hex.
        actual: String,
    },
    /// Data did not have its expected length.
    Size {
        /// The file, chunk or URL that was checked.
        what: String,
        /// Expected length in bytes.
        expected: u64,
        /// Actual length in bytes.
        actual: u64,
    },
    /// A filesystem operation failed.
    Io {
        /// What we were doing ("create", "map", "rename", ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Not enough disk space to reserve the output.
    DiskFull {
        /// The file or directory that needed the space.
        path: PathBuf,
        /// Bytes that had to be reserved.
        needed: u64,
    },
    /// A manifest or API answer could not be understood.
    Manifest {
        /// What was being parsed (a URL or a description).
        what: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A manifest path would write outside the install directory.
    UnsafePath {
        /// The offending path as the manifest gave it.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Not logged in, or the stored login can no longer be refreshed.
    Auth(String),
    /// The account does not own a product it asked for (GOG `invalid_licence`).
    NotOwned {
        /// The product id.
        product_id: String,
    },
    /// A product, build or branch that does not exist.
    NotFound(String),
    /// The run was cancelled (Ctrl-C); state is kept for resume.
    Interrupted,
    /// Another galaxy-dl process is writing the same output (`get` FILE or install DIR).
    Busy {
        /// The output that is locked.
        path: PathBuf,
    },
    /// An output target that must not be written: a device, a directory, a planted symlink.
    UnsafeTarget {
        /// The path that was refused.
        path: PathBuf,
        /// What is there instead of a regular file.
        reason: &'static str,
    },
    /// The configured proxy (`ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY`) is unusable or unreachable.
    /// Never retried and never bypassed: traffic does not go out directly instead.
    Proxy {
        /// The proxy as `scheme://host:port`, without credentials.
        proxy: String,
        /// What failed, in words.
        reason: String,
    },
    /// A state file under `DIR/.galaxy-dl/` failed validation (tampered, damaged or from an
    /// incompatible version). It is never obeyed.
    BadState {
        /// The state file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// A VCDIFF (xdelta3) patch could not be applied: malformed, unsupported, or its checksum or
    /// result does not match.
    BadDelta {
        /// The patch or file it was meant for.
        what: String,
        /// Byte offset in the delta where decoding stopped.
        offset: u64,
        /// Why it was refused.
        reason: &'static str,
    },
}

impl Error {
    /// An I/O error with the operation and path it happened on.
    pub fn io(op: &'static str, path: impl AsRef<Path>, source: io::Error) -> Error {
        let path = path.as_ref().to_path_buf();
        if source.raw_os_error() == Some(libc::ENOSPC) {
            return Error::DiskFull { path, needed: 0 };
        }
        Error::Io { op, path, source }
    }

    /// A network error on `url` (redacted here).
    pub fn network(url: &str, reason: impl Into<String>) -> Error {
        Error::Network { url: redact_url(url), reason: reason.into() }
    }

    /// A bad HTTP status on `url` (redacted here).
    pub fn status(url: &str, status: u16, detail: Option<String>) -> Error {
        Error::HttpStatus { url: redact_url(url), status, detail, retry_after: None }
    }

    /// A bad HTTP status on `url` that came with a `Retry-After` of `retry_after` seconds.
    pub fn status_retry_after(url: &str, status: u16, detail: Option<String>, retry_after: Option<u32>) -> Error {
        Error::HttpStatus { url: redact_url(url), status, detail, retry_after }
    }

    /// A manifest/API parsing error.
    pub fn manifest(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Manifest { what: redact_url(&what.into()), reason: reason.into() }
    }

    /// True when retrying the same request may succeed (connect/reset/timeout/5xx/429/truncation,
    /// and data that arrived corrupt). Used by the retry loop; see `fetch::retry`.
    pub fn is_spurious(&self) -> bool {
        match self {
            Error::Network { .. } => true,
            Error::HttpStatus { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Error::Checksum { .. } | Error::Size { .. } => true,
            _ => false,
        }
    }

    /// True when the usage was wrong (CLI exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => write!(f, "{m}"),
            Error::HttpStatus { url, status, detail, .. } => {
                write!(f, "HTTP {status} from {url}")?;
                if let Some(d) = detail {
                    write!(f, " ({d})")?;
                }
                Ok(())
            }
            Error::Network { url, reason } => write!(f, "network error on {url}: {reason}"),
            Error::BadRange { url, start, end, got } => {
                let last = end.saturating_sub(1);
                write!(f, "bad answer to range bytes={start}-{last} from {url}: {got}")
            }
            Error::Checksum { what, expected, actual } => {
                write!(f, "checksum mismatch for {what}: expected {expected}, got {actual}")
            }
            Error::Size { what, expected, actual } => {
                write!(f, "size mismatch for {what}: expected {expected} bytes, got {actual}")
            }
            Error::Io { op, path, source } => {
                write!(f, "cannot {op} {}: {source}", path.display())
            }
            Error::DiskFull { path, needed } => {
                if *needed > 0 {
                    write!(f, "disk full: cannot reserve {needed} bytes for {}", path.display())
                } else {
                    write!(f, "disk full while writing {}", path.display())
                }
            }
            Error::Manifest { what, reason } => write!(f, "bad manifest {what}: {reason}"),
            Error::UnsafePath { path, reason } => {
                write!(f, "refusing unsafe path {path:?}: {reason}")
            }
            Error::Auth(m) => write!(f, "authentication: {m}"),
            Error::NotOwned { product_id } => {
                write!(f, "this account does not own product {product_id} (invalid_licence)")
            }
            Error::NotFound(m) => write!(f, "not found: {m}"),
            Error::Interrupted => write!(f, "interrupted; run the same command again to resume"),
            Error::Busy { path } => write!(
                f,
                "another galaxy-dl process is already writing {}; wait for it to finish or choose another output",
                path.display()
            ),
            Error::UnsafeTarget { path, reason } => {
                write!(f, "refusing to write {}: {reason}", path.display())
            }
            Error::Proxy { proxy, reason } => write!(f, "proxy {proxy}: {reason}"),
            Error::BadState { path, reason } => write!(
                f,
                "refusing damaged or tampered install state {}: {reason} (run `download` again to rebuild it)",
                path.display()
            ),
            Error::BadDelta { what, offset, reason } => {
                write!(f, "bad patch delta {what} at byte {offset}: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Remove everything secret from a URL before it is shown: the query string (signed CDN
/// parameters, OAuth codes and secrets) and any path segment carrying a token
/// (`token=nva=...~token=...`). Keeps scheme, host and the rest of the path, which is what a
/// user needs to tell which server and object failed.
pub fn redact_url(url: &str) -> String {
    let (base, had_query) = match url.find(['?', '#']) {
        Some(i) => (&url[..i], true),
        None => (url, false),
    };
    // `scheme://user:password@host/...`: the credentials never leave.
    let stripped;
    let base = match base.find("://") {
        Some(s) => {
            let auth_end = base[s + 3..].find('/').map_or(base.len(), |e| s + 3 + e);
            match base[s + 3..auth_end].rfind('@') {
                Some(at) => {
                    stripped = format!("{}<credentials>@{}", &base[..s + 3], &base[s + 3 + at + 1..]);
                    stripped.as_str()
                }
                None => base,
            }
        }
        None => base,
    };
    let mut out = String::with_capacity(base.len() + 8);
    for (i, seg) in base.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if seg.contains("token=") || seg.contains("~hmac=") || seg.contains("wsSecret") {
            out.push_str("<token>");
        } else {
            out.push_str(seg);
        }
    }
    if had_query {
        out.push_str("?<redacted>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_and_sync() {
        fn check<T: Send + Sync + std::error::Error + 'static>() {}
        check::<Error>();
    }

    #[test]
    fn error_stays_small() {
        assert!(std::mem::size_of::<Error>() <= 96, "{}", std::mem::size_of::<Error>());
    }

    #[test]
    fn redacts_tokens_and_queries() {
        let u = "https://cdn.example/token=nva=1~dirs=4~token=SECRET/content-system/v2/store/1/ab/cd/abcd";
        let r = redact_url(u);
        assert!(!r.contains("SECRET"), "{r}");
        assert!(r.ends_with("/content-system/v2/store/1/ab/cd/abcd"), "{r}");
        let q = "http://127.0.0.1:8/a/b?wsSecret=abc&wsTime=1&code=XYZ";
        let r = redact_url(q);
        assert_eq!(r, "http://127.0.0.1:8/a/b?<redacted>");
        assert_eq!(redact_url("http://h/x"), "http://h/x");
        // URL credentials never leave.
        let r = redact_url("http://user:hunter2@127.0.0.1:8/a@b/c?x=1");
        assert_eq!(r, "http://<credentials>@127.0.0.1:8/a@b/c?<redacted>");
        assert_eq!(redact_url("socks5://u:p@h:1"), "socks5://<credentials>@h:1");
        assert_eq!(redact_url("user@host"), "user@host", "no scheme: not a URL with userinfo");
    }

    #[test]
    fn enospc_becomes_disk_full() {
        let e = Error::io("write", "/x", io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(matches!(e, Error::DiskFull { .. }));
        assert!(e.to_string().contains("disk full"));
    }

    #[test]
    fn spurious_classification() {
        assert!(Error::status("http://h", 503, None).is_spurious());
        assert!(Error::status("http://h", 429, None).is_spurious());
        assert!(!Error::status("http://h", 404, None).is_spurious());
        assert!(!Error::status("http://h", 403, None).is_spurious());
        assert!(Error::network("http://h", "reset").is_spurious());
        assert!(!Error::Usage("x".into()).is_spurious());
    }
}
