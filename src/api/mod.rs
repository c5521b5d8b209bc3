//! The GOG API client: base URLs ([`Endpoints`], overridable by environment so tests and
//! mirrors work), the config directory, and [`Client`], which owns the HTTP agent, the retry
//! policy and the login ([`auth`]), and answers builds ([`builds`]), secure links
//! ([`secure_link`]), owned products ([`owned`]) and the library listing ([`library`]).
//!
//! Every API GET goes through [`Client::api_get`]: it adds the bearer token (refreshing an
//! expired one first) and, on a 401, refreshes once and retries once.

pub mod auth;
pub mod builds;
pub mod import;
pub mod library;
pub mod owned;
#[doc(hidden)]
pub mod patches;
#[doc(hidden)]
pub mod secure_link;
#[cfg(test)]
pub(crate) mod test_server;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::fetch::retry::RetryPolicy;

pub use auth::Tokens;

/// Base URLs of the four GOG hosts, without a trailing `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// `GALAXY_DL_AUTH_URL`: `/auth`, `/token`.
    pub auth: String,
    /// `GALAXY_DL_CONTENT_SYSTEM_URL`: builds, `secure_link`, `open_link`, dependencies, patches.
    pub content_system: String,
    /// `GALAXY_DL_CDN_URL`: meta fetched by hash.
    pub cdn: String,
    /// `GALAXY_DL_EMBED_URL`: `/user/data/games`, `/account/getFilteredProducts`.
    pub embed: String,
}

/// Default auth host.
pub const DEFAULT_AUTH_URL: &str = "https://auth.gog.com";
/// Default content-system host.
pub const DEFAULT_CONTENT_SYSTEM_URL: &str = "https://content-system.gog.com";
/// Default CDN host for meta.
pub const DEFAULT_CDN_URL: &str = "https://gog-cdn-fastly.gog.com";
/// Default embed host.
pub const DEFAULT_EMBED_URL: &str = "https://embed.gog.com";

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints::from_lookup(|_| None)
    }
}

impl Endpoints {
    /// From the `GALAXY_DL_*_URL` environment variables, defaulting to GOG's hosts.
    pub fn from_env() -> Endpoints {
        Endpoints::from_lookup(|k| std::env::var(k).ok())
    }

    /// From any variable lookup (empty values count as unset); trailing `/` trimmed.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Endpoints {
        let pick = |k: &str, d: &str| {
            let v = get(k).filter(|v| !v.trim().is_empty()).unwrap_or_else(|| d.to_string());
            v.trim().trim_end_matches('/').to_string()
        };
        Endpoints {
            auth: pick("GALAXY_DL_AUTH_URL", DEFAULT_AUTH_URL),
            content_system: pick("GALAXY_DL_CONTENT_SYSTEM_URL", DEFAULT_CONTENT_SYSTEM_URL),
            cdn: pick("GALAXY_DL_CDN_URL", DEFAULT_CDN_URL),
            embed: pick("GALAXY_DL_EMBED_URL", DEFAULT_EMBED_URL),
        }
    }

    /// Every host on one origin (a loopback mock).
    pub fn single(base: &str) -> Endpoints {
        let b = base.trim_end_matches('/').to_string();
        Endpoints { auth: b.clone(), content_system: b.clone(), cdn: b.clone(), embed: b }
    }
}

/// The config directory: `GALAXY_DL_CONFIG_DIR`, else `$XDG_CONFIG_HOME/galaxy-dl`, else
/// `~/.config/galaxy-dl`.
pub fn config_dir() -> Result<PathBuf> {
    config_dir_from(|k| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned()))
}

/// [`config_dir`] with any variable lookup (empty values count as unset).
#[doc(hidden)]
pub fn config_dir_from(get: impl Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let get = |k: &str| get(k).filter(|v| !v.is_empty());
    if let Some(d) = get("GALAXY_DL_CONFIG_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(x) = get("XDG_CONFIG_HOME") {
        return Ok(Path::new(&x).join("galaxy-dl"));
    }
    if let Some(h) = get("HOME") {
        return Ok(Path::new(&h).join(".config").join("galaxy-dl"));
    }
    Err(Error::Usage("cannot find a config directory: set GALAXY_DL_CONFIG_DIR or HOME".into()))
}

/// How an API request authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bearer {
    /// A login is needed; not logged in is an [`Error::Auth`].
    Required,
    /// Send the token when logged in, go anonymous when not.
    IfLoggedIn,
    /// Never send a token.
    Never,
}

/// The GOG API client. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Client {
    agent: ureq::Agent,
    endpoints: Endpoints,
    retry: RetryPolicy,
    /// Stall detection of API and metadata requests.
    low_speed: crate::fetch::LowSpeed,
    /// Loaded on demand from `<config_dir>/auth.json`; `None` = not loaded (or not logged in).
    auth: Mutex<Option<Tokens>>,
    config_dir: PathBuf,
    /// Stops retries, backoff waits and body reads of API and metadata requests (Ctrl-C).
    cancel: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("endpoints", &self.endpoints).field("config_dir", &self.config_dir).finish()
    }
}

impl Client {
    /// A client on GOG's hosts (or a mock's, with [`Endpoints::single`]) keeping its login in
    /// `config_dir`, with the default HTTP settings: what a launcher calls.
    ///
    /// # Errors
    /// As [`Client::connect_with`].
    pub fn connect(endpoints: Endpoints, config_dir: PathBuf) -> Result<Client> {
        Client::connect_with(&crate::http::HttpOptions::default(), endpoints, config_dir)
    }

    /// [`Client::connect`] with explicit HTTP settings (timeouts, pool).
    ///
    /// # Errors
    /// [`Error::Proxy`] when a proxy variable is set but unusable; [`Error::Usage`] when
    /// `SSL_CERT_FILE` cannot be read.
    pub fn connect_with(http: &crate::http::HttpOptions, endpoints: Endpoints, config_dir: PathBuf) -> Result<Client> {
        Ok(Client::new(crate::http::agent(http)?, endpoints, RetryPolicy::default(), config_dir))
    }

    /// A client with explicit parts (the agent is the library's HTTP stack: not part of the
    /// launcher surface, see [`Client::connect`]).
    #[doc(hidden)]
    pub fn new(agent: ureq::Agent, endpoints: Endpoints, retry: RetryPolicy, config_dir: PathBuf) -> Client {
        Client {
            agent,
            endpoints,
            retry,
            low_speed: crate::fetch::LowSpeed::default(),
            auth: Mutex::new(None),
            config_dir,
            cancel: std::sync::OnceLock::new(),
        }
    }

    /// The same client with `retry` for its API and metadata requests.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
    }

    /// The same client with `low_speed` as the stall limit of its API and metadata requests.
    pub fn with_low_speed(mut self, low_speed: crate::fetch::LowSpeed) -> Client {
        self.low_speed = low_speed;
        self
    }

    /// Let `flag` (the run's cancel flag) stop this client's requests and waits. Set once; later
    /// calls are ignored.
    pub fn set_cancel(&self, flag: std::sync::Arc<std::sync::atomic::AtomicBool>) {
        let _ = self.cancel.set(flag);
    }

    fn meta_policy(&self) -> crate::fetch::policy::MetaPolicy<'_> {
        crate::fetch::policy::MetaPolicy {
            retry: &self.retry,
            low_speed: self.low_speed,
            cancel: self.cancel.get().map(|c| &**c),
        }
    }

    /// GET `url` under the fetch policy (retries, `Retry-After`, low-speed limit, cancel).
    fn get(&self, url: &str, bearer: Option<&str>) -> Result<Vec<u8>> {
        crate::fetch::policy::fetch_bytes(&self.agent, url, bearer, self.meta_policy())
    }

    /// GET a public metadata document and `parse` it (check its hash, decode it): a body that
    /// arrives corrupt (zlib garbage, broken JSON, MD5 not matching its hash name) is fetched
    /// again under the fetch policy's budget; only consistent corruption is an error. Returns
    /// the body as served and what `parse` made of it.
    pub fn meta_parsed<T>(&self, url: &str, parse: impl FnMut(&[u8]) -> Result<T>) -> Result<(Vec<u8>, T)> {
        crate::fetch::policy::fetch_parsed(&self.agent, url, None, self.meta_policy(), parse)
    }

    /// GET a public metadata document (CDN meta, manifests; no bearer) as bytes.
    pub fn meta_bytes(&self, url: &str) -> Result<Vec<u8>> {
        self.get(url, None)
    }

    /// GET a metadata document (no bearer: CDN meta is public) and decode it (JSON or zlib JSON).
    /// Meta named by its hash (`/content-system/v2/…/meta/aa/bb/<md5>`) is checked against it.
    pub fn fetch_meta<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T> {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        let hashed = path.contains("/content-system/v2/") && path.contains("/meta/");
        let (_, t) = self.meta_parsed(url, |body| {
            if hashed {
                crate::manifest::check_meta_hash(body, path, url)?;
            }
            crate::manifest::decode_meta(body, url)
        })?;
        Ok(t)
    }

    /// GET a metadata document as a generic JSON value.
    pub fn fetch_meta_value(&self, url: &str) -> Result<serde_json::Value> {
        self.fetch_meta(url)
    }

    /// A client configured from the environment: the `GALAXY_DL_*_URL` endpoints and the config
    /// directory ([`config_dir`]); default retry policy. The only place the library reads the
    /// environment for a client (a launcher calls [`Client::new`] instead).
    #[doc(hidden)]
    pub fn from_env(agent: ureq::Agent) -> Result<Client> {
        Ok(Client::new(agent, Endpoints::from_env(), RetryPolicy::default(), config_dir()?))
    }

    /// The HTTP agent (shared with the download engine). Not part of the launcher surface.
    #[doc(hidden)]
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// The base URLs.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The retry policy used for API and meta requests.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The config directory (holds `auth.json`).
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// GET an API URL with the given bearer mode. On a 401 with a token, refreshes the token
    /// once and retries once; a second 401 is an [`Error::Auth`].
    pub fn api_get(&self, url: &str, bearer: Bearer) -> Result<Vec<u8>> {
        let token = match bearer {
            Bearer::Never => None,
            Bearer::Required => Some(self.access_token()?),
            Bearer::IfLoggedIn => match self.access_token() {
                Ok(t) => Some(t),
                Err(Error::Auth(_)) if !self.is_logged_in() => None,
                Err(e) => return Err(e),
            },
        };
        match self.get(url, token.as_deref()) {
            Err(Error::HttpStatus { status: 401, .. }) if token.is_some() => {
                debug!("HTTP 401 with a bearer token: refreshing the login once");
                let fresh = self.refresh_after_401(token.as_deref().unwrap_or_default())?;
                match self.get(url, Some(&fresh)) {
                    Err(Error::HttpStatus { status: 401, .. }) => {
                        Err(Error::Auth("the server rejected a fresh access token; run galaxy-dl login".into()))
                    }
                    other => other,
                }
            }
            Err(Error::HttpStatus { status: 401, .. }) if bearer == Bearer::IfLoggedIn => {
                Err(Error::Auth("not logged in; run galaxy-dl login".into()))
            }
            other => other,
        }
    }
}

/// Seconds since the Unix epoch.
#[doc(hidden)]
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Everything but RFC 3986's unreserved characters is escaped in a query component.
const QUERY_COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encode a query-string component (RFC 3986: everything but unreserved characters).
#[doc(hidden)]
pub fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_COMPONENT).to_string()
}

/// Decode `%XX` escapes and `+` (as space) in a query-string component; `None` if malformed.
/// (Hand-written: `percent_encoding` passes malformed escapes through and keeps `+`.)
#[doc(hidden)]
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                out.push(v);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Build `base?k=v&k=v` with every value percent-encoded.
#[doc(hidden)]
pub fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut u = base.to_string();
    for (i, (k, v)) in params.iter().enumerate() {
        u.push(if i == 0 && !base.contains('?') { '?' } else { '&' });
        u.push_str(k);
        u.push('=');
        u.push_str(&percent_encode(v));
    }
    u
}

/// Check that an id that goes into a URL path is a plain token (digits, letters, `_`, `-`).
pub(crate) fn check_path_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(Error::Usage(format!("invalid {what} {id:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_lookup() {
        let e = Endpoints::from_lookup(|_| None);
        assert_eq!(e.auth, DEFAULT_AUTH_URL);
        assert_eq!(e.cdn, DEFAULT_CDN_URL);
        let e = Endpoints::from_lookup(|k| match k {
            "GALAXY_DL_AUTH_URL" => Some("http://127.0.0.1:1234/".into()),
            "GALAXY_DL_CDN_URL" => Some("".into()),
            "GALAXY_DL_EMBED_URL" => Some("http://e//".into()),
            _ => None,
        });
        assert_eq!(e.auth, "http://127.0.0.1:1234");
        assert_eq!(e.cdn, DEFAULT_CDN_URL);
        assert_eq!(e.embed, "http://e");
        assert_eq!(e.content_system, DEFAULT_CONTENT_SYSTEM_URL);
        assert_eq!(Endpoints::single("http://h:1/").cdn, "http://h:1");
    }

    #[test]
    fn config_dir_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let all = env(&[("GALAXY_DL_CONFIG_DIR", "/c"), ("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(config_dir_from(all).unwrap(), PathBuf::from("/c"));
        let xdg = env(&[("GALAXY_DL_CONFIG_DIR", ""), ("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(config_dir_from(xdg).unwrap(), PathBuf::from("/x/galaxy-dl"));
        assert_eq!(config_dir_from(env(&[("HOME", "/h")])).unwrap(), PathBuf::from("/h/.config/galaxy-dl"));
        assert!(config_dir_from(env(&[])).unwrap_err().is_usage());
    }

    #[test]
    fn percent_coding() {
        assert_eq!(
            percent_encode("https://embed.gog.com/on_login_success?origin=client"),
            "https%3A%2F%2Fembed.gog.com%2Fon_login_success%3Forigin%3Dclient"
        );
        assert_eq!(percent_encode("aZ09-._~ é&="), "aZ09-._~%20%C3%A9%26%3D");
        assert_eq!(percent_decode("a%2Fb+c%C3%A9").as_deref(), Some("a/b cé"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%FF"), None, "not UTF-8");
        assert_eq!(with_query("http://h/t", &[("a", "1 2"), ("b", "&")]), "http://h/t?a=1%202&b=%26");
        assert_eq!(with_query("http://h/t?x=1", &[("a", "b")]), "http://h/t?x=1&a=b");
    }

    #[test]
    fn shared_across_threads() {
        fn check<T: Send + Sync>() {}
        check::<Client>();
        check::<secure_link::LinkCache>();
        check::<secure_link::SecureLink>();
    }

    #[test]
    fn path_ids() {
        assert!(check_path_id("product id", "1207658930").is_ok());
        assert!(check_path_id("os", "windows").is_ok());
        for bad in ["", "../1", "1/2", "1?x", "a b"] {
            assert!(check_path_id("product id", bad).unwrap_err().is_usage(), "{bad}");
        }
    }
}
