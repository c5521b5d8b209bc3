//! Secure links: the per-product CDN URL templates (`secure_link` for V2 chunks and V1
//! `main.bin`, `open_link` for dependencies), building a URL for one object without breaking
//! query-signed CDNs, galaxy paths, and [`LinkCache`], which renews a product's link before it
//! expires or after the CDN refuses it, with one renewal in flight per product.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::{check_path_id, now_secs, Bearer, Client};
use crate::error::{Error, Result};
use crate::manifest::de;

/// One CDN endpoint of a secure link. Its `Debug` shows only the endpoint name, the priority
/// and the parameter names: the values (tokens, signatures) and the ready URL are secrets.
#[derive(Clone, PartialEq)]
pub struct Endpoint {
    /// `endpoint_name` (`fastly`, `akamai_edgecast_proxy`, ...).
    pub name: String,
    /// Template with `{name}` placeholders (e.g. `{base_url}/token=...{path}`).
    pub url_format: String,
    /// Values for the placeholders (`base_url`, `path`, `token`, `expires_at`, ...).
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Lower is preferred.
    pub priority: i64,
    /// A ready URL (only `open_link` answers carry it); used when `url_format` is empty.
    pub url: Option<String>,
}

/// A product's secure link (`Debug` redacts its endpoints' tokens, see [`Endpoint`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SecureLink {
    /// The product the link is scoped to.
    pub product_id: String,
    /// Endpoints sorted by ascending priority (ties keep GOG's order).
    pub endpoints: Vec<Endpoint>,
    /// The earliest `parameters.expires_at` over the endpoints, if any carries one.
    pub expires_at: Option<u64>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let base =
            self.parameters.get("base_url").and_then(|v| v.as_str()).map(crate::error::redact_url).unwrap_or_default();
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("base_url", &base)
            .field("parameters", &self.parameters.keys().collect::<Vec<_>>())
            .field("priority", &self.priority)
            .field("url", &self.url.as_ref().map(|_| "<hidden>"))
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// The URL of `rel_path` (e.g. `/ab/cd/abcd...` or `/main.bin`): `rel_path` is appended to
    /// `parameters.path` first (without doubling a `/`), then every `{name}` in `url_format` is
    /// replaced (strings as is, numbers in decimal). Unknown placeholders are left in place.
    /// Never appends to a formatted URL: query-signed CDNs would answer 403. (A template without
    /// `{path}` therefore names the same URL for every object; GOG does not send such templates.)
    /// An endpoint with an empty `url_format` but a ready `url` (`open_link`) gets `rel_path`
    /// joined to that `url`.
    pub fn url_for(&self, rel_path: &str) -> String {
        if self.url_format.is_empty() {
            let base = self.url.as_deref().unwrap_or("");
            return join_path(base, rel_path);
        }
        let base_path = self.parameters.get("path").map(scalar).unwrap_or_default();
        let path = join_path(&base_path, rel_path);
        let f = &self.url_format;
        let mut out = String::with_capacity(f.len() + path.len() + 128);
        let mut rest = f.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) if !after[..close].contains('{') => {
                    let name = &after[..close];
                    if name == "path" {
                        out.push_str(&path);
                    } else if let Some(v) = self.parameters.get(name) {
                        out.push_str(&scalar(v));
                    } else {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                    rest = &after[close + 1..];
                }
                _ => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

fn join_path(base: &str, rel: &str) -> String {
    match (base.ends_with('/'), rel.starts_with('/')) {
        (true, true) => format!("{base}{}", &rel[1..]),
        (false, false) if !base.is_empty() && !rel.is_empty() => format!("{base}/{rel}"),
        _ => format!("{base}{rel}"),
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub use crate::manifest::galaxy_path;

#[derive(Deserialize)]
struct RawLink {
    #[serde(default, deserialize_with = "de::opt_string")]
    product_id: Option<String>,
    #[serde(default)]
    urls: Vec<RawEndpoint>,
}

#[derive(Deserialize)]
struct RawEndpoint {
    #[serde(default, deserialize_with = "de::string")]
    endpoint_name: String,
    #[serde(default, deserialize_with = "de::string")]
    url_format: String,
    #[serde(default)]
    parameters: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    priority: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "de::opt_string")]
    url: Option<String>,
}

/// Parse a `secure_link` / `open_link` answer. `product_id` is used when the answer has none.
#[doc(hidden)]
pub fn parse_secure_link(body: &[u8], product_id: &str, what: &str) -> Result<SecureLink> {
    let raw: RawLink =
        crate::manifest::json_from_slice(body).map_err(|e| Error::manifest(what, format!("secure link: {e}")))?;
    let mut endpoints = Vec::with_capacity(raw.urls.len());
    let mut expires_at: Option<u64> = None;
    for (i, u) in raw.urls.into_iter().enumerate() {
        if u.url_format.is_empty() && u.url.as_deref().unwrap_or("").is_empty() {
            return Err(Error::manifest(what, format!("endpoint {i} has neither url_format nor url")));
        }
        let priority = match &u.priority {
            None | Some(serde_json::Value::Null) => 0,
            Some(v) => scalar(v).parse::<f64>().map(|p| p as i64).unwrap_or(0),
        };
        if let Some(e) = u.parameters.get("expires_at") {
            let e = match e {
                serde_json::Value::Number(n) => n.as_u64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| Error::manifest(what, format!("endpoint {i}: expires_at is not a Unix time")))?;
            expires_at = Some(expires_at.map_or(e, |x| x.min(e)));
        }
        endpoints.push(Endpoint {
            name: u.endpoint_name,
            url_format: u.url_format,
            parameters: u.parameters,
            priority,
            url: u.url,
        });
    }
    if endpoints.is_empty() {
        return Err(Error::manifest(what, "secure link without endpoints"));
    }
    endpoints.sort_by_key(|e| e.priority);
    Ok(SecureLink { product_id: raw.product_id.unwrap_or_else(|| product_id.to_string()), endpoints, expires_at })
}

impl Client {
    fn secure_link_at(&self, product_id: &str, url: &str, what: &str) -> Result<SecureLink> {
        let body = match self.api_get(url, Bearer::Required) {
            Err(Error::HttpStatus { status: 403, detail, .. }) if detail.as_deref() == Some("invalid_licence") => {
                return Err(Error::NotOwned { product_id: product_id.to_string() })
            }
            r => r?,
        };
        parse_secure_link(&body, product_id, what)
    }

    /// The V2 secure link of `product_id` (chunks under `/content-system/v2/store/<id>`).
    /// A 403 `invalid_licence` is [`Error::NotOwned`]; a 401 refreshes the token once.
    pub fn secure_link_v2(&self, product_id: &str) -> Result<SecureLink> {
        check_path_id("product id", product_id)?;
        let base = format!("{}/products/{product_id}/secure_link", self.endpoints.content_system);
        // Ids are validated plain tokens and `/` is legal in a query: sent as GOG clients do.
        let url = format!("{base}?_version=2&generation=2&path=/");
        self.secure_link_at(product_id, &url, &base)
    }

    /// The V1 secure link of `product_id` for the repository `timestamp` (serves `main.bin`).
    pub fn secure_link_v1(&self, product_id: &str, os: &str, timestamp: &str) -> Result<SecureLink> {
        check_path_id("product id", product_id)?;
        check_path_id("os", os)?;
        check_path_id("timestamp", timestamp)?;
        let base = format!("{}/products/{product_id}/secure_link", self.endpoints.content_system);
        let url = format!("{base}?_version=2&type=depot&path=/{os}/{timestamp}/");
        self.secure_link_at(product_id, &url, &base)
    }

    /// The open link for dependency chunks (`/dependencies/store/`); no ownership needed, the
    /// token is sent when logged in.
    pub fn open_link_deps(&self) -> Result<SecureLink> {
        let base = format!("{}/open_link", self.endpoints.content_system);
        let url = format!("{base}?generation=2&_version=2&path=/dependencies/store/");
        parse_secure_link(&self.api_get(&url, Bearer::IfLoggedIn)?, "dependencies", &base)
    }
}

/// The relative path of `obj` under a link's `path`.
fn object_path(obj: crate::fetch::Object<'_>) -> Result<String> {
    match obj {
        crate::fetch::Object::Chunk(md5) => Ok(format!("/{}", galaxy_path(md5)?)),
        crate::fetch::Object::MainBin => Ok("/main.bin".to_string()),
    }
}

/// The download engine reaches CDN URLs through this: the cache builds them from the current
/// link of the key (product) and renews it when the engine reports a refusal. Which endpoint
/// and when to renew is the engine's policy (`fetch::policy`).
impl crate::fetch::Urls for LinkCache {
    fn endpoints(&self, key: &str, _obj: crate::fetch::Object<'_>) -> usize {
        self.get(key).map(|l| l.endpoints.len()).unwrap_or(1)
    }

    fn url(&self, key: &str, endpoint: usize, obj: crate::fetch::Object<'_>) -> Result<(String, crate::fetch::LinkId)> {
        let link = self.get(key)?;
        let n = link.endpoints.len();
        let ep = link
            .endpoints
            .get(endpoint % n.max(1))
            .ok_or_else(|| Error::manifest(format!("secure link of product {key}"), "no endpoints"))?;
        let url = ep.url_for(&object_path(obj)?);
        Ok((url, link))
    }

    fn refused(&self, key: &str, _obj: crate::fetch::Object<'_>, link: &crate::fetch::LinkId) -> Result<()> {
        match link.clone().downcast::<SecureLink>() {
            Ok(l) => self.invalidate(key, &l).map(|_| ()),
            Err(_) => Err(Error::manifest(format!("secure link of product {key}"), "not a link of this cache")),
        }
    }
}

/// Fetches a fresh link for a cache key.
pub type LinkFetcher = Box<dyn Fn(&str) -> Result<SecureLink> + Send + Sync>;

/// Seconds before `expires_at` at which a link is renewed.
pub const RENEW_MARGIN: u64 = 60;
/// Lifetime assumed for a link that carries no `expires_at`.
pub const DEFAULT_LINK_TTL: u64 = 3600;
/// Forced renewals (after a CDN refusal) plus failed fetches allowed per key within
/// [`RENEWAL_WINDOW`] seconds; beyond that `get`/`invalidate` fail instead of hammering GOG.
/// Renewals because a link reached its expiry are not counted (the server's TTL bounds them).
pub const MAX_RENEWALS: usize = 5;
/// Window of the renewal bound, in seconds.
pub const RENEWAL_WINDOW: u64 = 60;

#[derive(Default)]
struct Slot {
    link: Option<Arc<SecureLink>>,
    valid_until: u64,
    attempts: VecDeque<u64>,
    not_owned: bool,
}

/// Per-product cache of secure links. `get` returns the current link or renews it when
/// `now >= expires_at - 60`; `invalidate` renews after the CDN refused a URL built from a given
/// link, unless another thread already replaced it. Each key has its own lock, so one renewal is
/// in flight per product while its other callers wait (other products are not blocked). Forced
/// renewals and failed fetches per key are bounded ([`MAX_RENEWALS`] per [`RENEWAL_WINDOW`] s);
/// a product the account does not own is remembered and never asked again. See [`valid_until`]
/// for when a link counts as expired.
pub struct LinkCache {
    fetch: LinkFetcher,
    clock: Box<dyn Fn() -> u64 + Send + Sync>,
    slots: Mutex<HashMap<String, Arc<Mutex<Slot>>>>,
}

impl std::fmt::Debug for LinkCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkCache").finish_non_exhaustive()
    }
}

impl LinkCache {
    /// A cache that fetches with `fetch` (given the key, usually a product id).
    pub fn new(fetch: impl Fn(&str) -> Result<SecureLink> + Send + Sync + 'static) -> LinkCache {
        LinkCache::with_clock(fetch, now_secs)
    }

    /// A cache with an explicit clock (Unix seconds), for tests.
    pub fn with_clock(
        fetch: impl Fn(&str) -> Result<SecureLink> + Send + Sync + 'static,
        clock: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> LinkCache {
        LinkCache { fetch: Box::new(fetch), clock: Box::new(clock), slots: Mutex::new(HashMap::new()) }
    }

    /// A cache of V2 secure links of `client`, keyed by product id.
    pub fn v2(client: Arc<Client>) -> LinkCache {
        LinkCache::new(move |p| client.secure_link_v2(p))
    }

    fn slot(&self, key: &str) -> Arc<Mutex<Slot>> {
        let mut m = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(key.to_string()).or_default().clone()
    }

    /// The current link for `key`, renewed if missing or about to expire.
    pub fn get(&self, key: &str) -> Result<Arc<SecureLink>> {
        let slot = self.slot(key);
        let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = &s.link {
            if (self.clock)() < s.valid_until {
                return Ok(l.clone());
            }
        }
        self.renew(key, &mut s, false)
    }

    /// The CDN refused a URL built from `used`: renew the link unless it was already replaced,
    /// and return the link to retry with.
    pub fn invalidate(&self, key: &str, used: &Arc<SecureLink>) -> Result<Arc<SecureLink>> {
        let slot = self.slot(key);
        let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
        match &s.link {
            Some(cur) if !Arc::ptr_eq(cur, used) && (self.clock)() < s.valid_until => Ok(cur.clone()),
            _ => self.renew(key, &mut s, true),
        }
    }

    fn renew(&self, key: &str, s: &mut Slot, forced: bool) -> Result<Arc<SecureLink>> {
        if s.not_owned {
            return Err(Error::NotOwned { product_id: key.to_string() });
        }
        let now = (self.clock)();
        while s.attempts.front().is_some_and(|&t| t + RENEWAL_WINDOW <= now) {
            s.attempts.pop_front();
        }
        if s.attempts.len() >= MAX_RENEWALS {
            return Err(Error::Auth(format!(
                "cannot get a working secure link for product {key} ({MAX_RENEWALS} refused or failed renewals within {RENEWAL_WINDOW} s)"
            )));
        }
        if forced {
            s.attempts.push_back(now);
        }
        let link = match (self.fetch)(key) {
            Ok(l) => l,
            Err(e) => {
                if !forced {
                    s.attempts.push_back(now);
                }
                if matches!(e, Error::NotOwned { .. }) {
                    s.not_owned = true;
                }
                return Err(e);
            }
        };
        s.valid_until = valid_until(link.expires_at, now);
        let l = Arc::new(link);
        s.link = Some(l.clone());
        Ok(l)
    }
}

/// Until when a link fetched at `now` is used: `expires_at - 60`, with the margin shrunk to half
/// the lifetime for short-lived links (so a 30 s link is used for 15 s instead of never), and at
/// least one second for a link that arrives already expired (the CDN then decides).
#[doc(hidden)]
pub fn valid_until(expires_at: Option<u64>, now: u64) -> u64 {
    let expires = expires_at.unwrap_or(now + DEFAULT_LINK_TTL);
    let lifetime = expires.saturating_sub(now);
    (expires - RENEW_MARGIN.min(lifetime / 2)).max(now + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_server::{client_for, log_in, TestServer};
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    const MD5: &str = "0123456789abcdef0123456789abcdef";

    fn ep(format: &str, params: serde_json::Value) -> Endpoint {
        Endpoint {
            name: "x".into(),
            url_format: format.into(),
            parameters: params.as_object().unwrap().clone(),
            priority: 0,
            url: None,
        }
    }

    #[test]
    fn debug_never_shows_tokens() {
        let mut e = ep(
            "{base_url}/token=nva={expires_at}~token={token}{path}?ws={ws_secret}",
            serde_json::json!({"base_url": "https://cdn.example/token=nva=1~token=BASESECRET", "token": "TOKSECRET",
                               "ws_secret": "WSSECRET", "expires_at": 5, "path": "/x"}),
        );
        e.url = Some("https://h/x?sig=URLSECRET".into());
        let link = SecureLink { product_id: "1".into(), endpoints: vec![e], expires_at: Some(5) };
        let d = format!("{link:?} {link:#?}");
        for s in ["BASESECRET", "TOKSECRET", "WSSECRET", "URLSECRET"] {
            assert!(!d.contains(s), "{s} in {d}");
        }
        assert!(d.contains("token") && d.contains("cdn.example"), "names and host stay: {d}");
    }

    #[test]
    fn url_for_path_token_template() {
        let e = ep(
            "{base_url}/token=nva={expires_at}~dirs={dirs}~token={token}{path}",
            serde_json::json!({"base_url":"https://a.example","path":"/content-system/v2/store/1","token":"T","expires_at":2000000000u64,"dirs":2}),
        );
        let rel = format!("/{}", galaxy_path(MD5).unwrap());
        assert_eq!(
            e.url_for(&rel),
            format!("https://a.example/token=nva=2000000000~dirs=2~token=T/content-system/v2/store/1/01/23/{MD5}")
        );
        // Immutable inputs: a second call gives the same URL (no doubled path).
        assert_eq!(e.url_for(&rel), e.url_for(&rel));
    }

    #[test]
    fn url_for_query_signed_template() {
        let e = ep(
            "{base_url}{path}?wsSecret={ws_secret}&wsTime={ws_time}&prefix={prefix}",
            serde_json::json!({"base_url":"https://gcore.example","path":"/content-system/v1/depots/1/windows/37794096/",
                               "ws_secret":"S","ws_time":"5f00","prefix":"/content-system/v1/depots/1/"}),
        );
        assert_eq!(
            e.url_for("/main.bin"),
            "https://gcore.example/content-system/v1/depots/1/windows/37794096/main.bin?wsSecret=S&wsTime=5f00&prefix=/content-system/v1/depots/1/"
        );
        let e2 = ep("{base_url}{path}{unknown}{", serde_json::json!({"base_url":"b","path":"/p"}));
        assert_eq!(e2.url_for("x"), "b/p/x{unknown}{");
        let ready = Endpoint { url_format: String::new(), url: Some("https://d/deps/store".into()), ..e2 };
        assert_eq!(ready.url_for("/ab/cd/abcd"), "https://d/deps/store/ab/cd/abcd");
    }

    #[test]
    fn galaxy_paths() {
        assert_eq!(galaxy_path("92AB42631ff4742b309bb62c175e6306").unwrap(), "92/ab/92ab42631ff4742b309bb62c175e6306");
        assert_eq!(galaxy_path("92/ab/92ab").unwrap(), "92/ab/92ab");
        for bad in ["", "abc", "xyz12345", "../etc", "a//b", "92/ab/..", "ab?cd"] {
            assert!(galaxy_path(bad).is_err(), "{bad}");
        }
    }

    const LINK: &str = r#"{"product_id":1207658930,"type":"depot","urls":[
      {"endpoint_name":"b","url_format":"{base_url}{path}","parameters":{"base_url":"http://b","path":"/p","expires_at":"1787511700"},"priority":"5"},
      {"endpoint_name":"a","url_format":"{base_url}/token=nva={expires_at}~token={token}{path}",
       "parameters":{"base_url":"http://a","path":"/p","token":"T","expires_at":1787511612,"dirs":4},
       "priority":1,"max_fails":100,"supports_generation":[1,2],"fallback_only":false}]}"#;

    #[test]
    fn parse_links() {
        let l = parse_secure_link(LINK.as_bytes(), "x", "sl").unwrap();
        assert_eq!(l.product_id, "1207658930");
        assert_eq!(l.endpoints[0].name, "a", "sorted by ascending priority");
        assert_eq!(l.endpoints[1].priority, 5);
        assert_eq!(l.expires_at, Some(1787511612));
        let none = parse_secure_link(br#"{"urls":[{"url_format":"{path}","parameters":{}}]}"#, "7", "sl").unwrap();
        assert_eq!((none.product_id.as_str(), none.expires_at), ("7", None));
        assert!(parse_secure_link(br#"{"urls":[]}"#, "7", "sl").is_err());
        assert!(parse_secure_link(br#"{"urls":[{"parameters":{}}]}"#, "7", "sl").is_err());
        assert!(parse_secure_link(br#"{"urls":[{"url_format":"x","parameters":{"expires_at":"soon"}}]}"#, "7", "sl")
            .is_err());
        assert!(parse_secure_link(b"nope", "7", "sl").is_err());
    }

    #[test]
    fn against_server() {
        let srv = TestServer::start(vec![
            (401, br#"{"error":"invalid_token"}"#.to_vec()),
            (200, br#"{"access_token":"AT2","refresh_token":"RT2","expires_in":3600}"#.to_vec()),
            (200, LINK.into()),
            (403, br#"{"error":"invalid_licence","error_description":"User #1 does not have the license"}"#.to_vec()),
            (200, LINK.into()),
            (200, LINK.into()),
        ]);
        let c = client_for(&srv, "secure-link");
        assert!(matches!(c.secure_link_v2("1"), Err(Error::Auth(_))), "needs login, no request sent");
        log_in(&c, "AT1", "RT1");
        let l = c.secure_link_v2("1207658930").unwrap();
        assert_eq!(l.endpoints.len(), 2);
        let e = c.secure_link_v2("99").unwrap_err();
        assert!(matches!(&e, Error::NotOwned { product_id } if product_id == "99"), "{e}");
        c.secure_link_v1("1207658930", "windows", "37794096").unwrap();
        c.open_link_deps().unwrap();
        let r = srv.requests();
        assert_eq!(r[0].path, "/products/1207658930/secure_link?_version=2&generation=2&path=/");
        assert_eq!(r[0].authorization.as_deref(), Some("Bearer AT1"));
        assert!(r[1].path.contains("grant_type=refresh_token&refresh_token=RT1"));
        assert_eq!(r[2].authorization.as_deref(), Some("Bearer AT2"));
        assert_eq!(r[4].path, "/products/1207658930/secure_link?_version=2&type=depot&path=/windows/37794096/");
        assert_eq!(r[5].path, "/open_link?generation=2&_version=2&path=/dependencies/store/");
    }

    fn link(n: u64, expires_at: Option<u64>) -> SecureLink {
        SecureLink { product_id: n.to_string(), endpoints: vec![], expires_at }
    }

    #[test]
    fn cache_renews_on_expiry_and_invalidate() {
        let now = Arc::new(AtomicU64::new(1000));
        let calls = Arc::new(AtomicUsize::new(0));
        let (n2, c2) = (now.clone(), calls.clone());
        let cache = LinkCache::with_clock(
            move |_k| {
                let i = c2.fetch_add(1, Ordering::SeqCst) as u64;
                Ok(link(i, Some(n2.load(Ordering::SeqCst) + 600)))
            },
            {
                let n = now.clone();
                move || n.load(Ordering::SeqCst)
            },
        );
        let a = cache.get("p").unwrap();
        assert!(Arc::ptr_eq(&a, &cache.get("p").unwrap()));
        now.store(1000 + 539, Ordering::SeqCst);
        assert!(Arc::ptr_eq(&a, &cache.get("p").unwrap()), "still valid before expires_at - 60");
        now.store(1000 + 540, Ordering::SeqCst);
        let b = cache.get("p").unwrap();
        assert!(!Arc::ptr_eq(&a, &b), "renewed at expires_at - 60");
        // A stale caller's invalidate does not renew again.
        let b2 = cache.invalidate("p", &a).unwrap();
        assert!(Arc::ptr_eq(&b, &b2));
        let c = cache.invalidate("p", &b).unwrap();
        assert!(!Arc::ptr_eq(&b, &c));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // Other keys are independent.
        cache.get("q").unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn cache_bounds_renewals_and_remembers_not_owned() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c2 = calls.clone();
        let cache = LinkCache::with_clock(
            move |k| {
                c2.fetch_add(1, Ordering::SeqCst);
                if k == "unowned" {
                    Err(Error::NotOwned { product_id: k.into() })
                } else {
                    Ok(link(0, None))
                }
            },
            || 5000,
        );
        let mut l = cache.get("p").unwrap();
        for _ in 0..MAX_RENEWALS {
            l = cache.invalidate("p", &l).unwrap();
        }
        assert!(matches!(cache.invalidate("p", &l), Err(Error::Auth(_))), "bounded");
        assert!(Arc::ptr_eq(&l, &cache.get("p").unwrap()), "the last link is still served");
        assert!(matches!(cache.get("unowned"), Err(Error::NotOwned { .. })));
        assert!(matches!(cache.get("unowned"), Err(Error::NotOwned { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), MAX_RENEWALS + 2, "not_owned asked once");
    }

    #[test]
    fn valid_until_margins() {
        assert_eq!(valid_until(Some(10_000), 1000), 9940, "hours-long link: 60 s early");
        assert_eq!(valid_until(Some(1030), 1000), 1015, "30 s link: used for 15 s");
        assert_eq!(valid_until(Some(900), 1000), 1001, "already expired: one second");
        assert_eq!(valid_until(None, 1000), 1000 + DEFAULT_LINK_TTL - RENEW_MARGIN);
    }

    #[test]
    fn short_lived_links_renew_on_expiry_without_hitting_the_bound() {
        let now = Arc::new(AtomicU64::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let (n2, c2) = (now.clone(), calls.clone());
        let n3 = now.clone();
        let cache = LinkCache::with_clock(
            move |_| {
                c2.fetch_add(1, Ordering::SeqCst);
                Ok(link(0, Some(n2.load(Ordering::SeqCst) + 4)))
            },
            move || n3.load(Ordering::SeqCst),
        );
        for t in 0..40 {
            now.store(t, Ordering::SeqCst);
            cache.get("p").unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 20, "renewed every 2 s of a 4 s link");
    }

    #[test]
    fn failed_fetches_are_bounded() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c2 = calls.clone();
        let cache = LinkCache::with_clock(
            move |_| {
                c2.fetch_add(1, Ordering::SeqCst);
                Err(Error::status("http://h/secure_link", 500, None))
            },
            || 7,
        );
        for _ in 0..MAX_RENEWALS {
            assert!(matches!(cache.get("p"), Err(Error::HttpStatus { .. })));
        }
        assert!(matches!(cache.get("p"), Err(Error::Auth(_))));
        assert_eq!(calls.load(Ordering::SeqCst), MAX_RENEWALS);
    }

    #[test]
    fn cache_one_renewal_in_flight() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c2 = calls.clone();
        let cache = Arc::new(LinkCache::new(move |_| {
            c2.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(50));
            Ok(link(1, None))
        }));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let c = cache.clone();
                std::thread::spawn(move || c.get("p").unwrap())
            })
            .collect();
        let links: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(links.iter().all(|l| Arc::ptr_eq(l, &links[0])));
        // Eight workers all failing with the same link cause one renewal.
        let old = links[0].clone();
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (c, o) = (cache.clone(), old.clone());
                std::thread::spawn(move || c.invalidate("p", &o).unwrap())
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
