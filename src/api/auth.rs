//! Login and tokens: the public Galaxy OAuth client, the browser login URL, reading the code the
//! user pastes back, exchanging it at `/token`, refreshing (the rotated refresh token is stored),
//! and `<config_dir>/auth.json` (mode 0600, written atomically). Tokens never reach a log line
//! or an error message; [`Tokens`]' `Debug` hides them.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{now_secs, percent_decode, with_query, Client};
use crate::error::{Error, Result};
use crate::manifest::de;

/// The public GOG Galaxy client id (used by heroic-gogdl and lgogdownloader).
pub const CLIENT_ID: &str = "46899977096215655";
/// The public GOG Galaxy client secret (public by design: it ships in every Galaxy client).
pub const CLIENT_SECRET: &str = "9d85c43b1482497dbbce61f6e4aa173a433796eeae2ca8c5f6129f2dc4de46d9";
/// Where GOG sends the browser after login; the `code` is in its query string.
pub const REDIRECT_URI: &str = "https://embed.gog.com/on_login_success?origin=client";
/// Seconds taken off `expires_in` so a token is renewed before the server rejects it.
pub const EXPIRY_MARGIN: u64 = 60;
/// Name of the token file inside the config directory.
pub const AUTH_FILE: &str = "auth.json";

const NOT_LOGGED_IN: &str = "not logged in; run galaxy-dl login";
const LOGIN_EXPIRED: &str = "login expired; run galaxy-dl login";

/// The stored login.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tokens {
    /// Bearer token for API calls.
    pub access_token: String,
    /// Token to get the next access token (rotated on every refresh).
    pub refresh_token: String,
    /// Unix seconds after which the access token is treated as expired (already includes the
    /// [`EXPIRY_MARGIN`]).
    pub expires_at: u64,
    /// GOG user id.
    #[serde(default, deserialize_with = "de::string")]
    pub user_id: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<hidden>")
            .field("refresh_token", &"<hidden>")
            .field("expires_at", &self.expires_at)
            .field("user_id", &self.user_id)
            .finish()
    }
}

impl Tokens {
    /// True when the access token should be refreshed before use.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }
}

/// The browser login URL on `auth_base` (e.g. `https://auth.gog.com`).
pub fn login_url(auth_base: &str) -> String {
    with_query(
        &format!("{}/auth", auth_base.trim_end_matches('/')),
        &[("client_id", CLIENT_ID), ("redirect_uri", REDIRECT_URI), ("response_type", "code"), ("layout", "client2")],
    )
}

/// Read the login code from what the user pasted: a bare code, or any URL (typically
/// `https://embed.gog.com/on_login_success?origin=client&code=XYZ`) with a `code=` query
/// parameter. Empty input, a URL without a code, or characters a code never has are
/// [`Error::Usage`] (the message never repeats the input).
pub fn parse_code(input: &str) -> Result<String> {
    let s = input.trim();
    let bad = |why: &str| Error::Usage(format!("invalid login code: {why}"));
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let looks_like_url = s.contains("code=") || s.contains("://") || s.contains('?') || s.contains('&');
    let code = if looks_like_url {
        let query = s.split_once('?').map(|(_, q)| q).unwrap_or(s);
        let query = query.split('#').next().unwrap_or("");
        let raw = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("code="))
            .ok_or_else(|| bad("the URL has no code= parameter"))?;
        percent_decode(raw).ok_or_else(|| bad("malformed percent-encoding"))?
    } else {
        s.to_string()
    };
    if code.is_empty() {
        return Err(bad("empty code"));
    }
    if code.len() > 4096
        || !code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'='))
    {
        return Err(bad("unexpected characters (paste the code or the whole on_login_success URL)"));
    }
    Ok(code)
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_string")]
    user_id: Option<String>,
}

/// Turn a `/token` answer into [`Tokens`]: `expires_at = now + expires_in - 60` (the margin is
/// at most half of `expires_in`; `expires_in` defaults to 3600 s); a missing refresh token or
/// user id keeps the one of `old`.
#[doc(hidden)]
pub fn tokens_from_answer(body: &[u8], now: u64, old: Option<&Tokens>) -> Result<Tokens> {
    let a: TokenAnswer =
        crate::manifest::json_from_slice(body).map_err(|_| Error::manifest("token answer", "not a JSON object"))?;
    let access_token =
        a.access_token.filter(|t| !t.is_empty()).ok_or_else(|| Error::manifest("token answer", "no access_token"))?;
    let refresh_token = a
        .refresh_token
        .filter(|t| !t.is_empty())
        .or_else(|| old.map(|o| o.refresh_token.clone()))
        .ok_or_else(|| Error::manifest("token answer", "no refresh_token"))?;
    let expires_in = a.expires_in.unwrap_or(3600);
    Ok(Tokens {
        access_token,
        refresh_token,
        // The margin shrinks to half the lifetime for very short tokens (test servers).
        expires_at: now.saturating_add(expires_in) - EXPIRY_MARGIN.min(expires_in / 2),
        user_id: a.user_id.or_else(|| old.map(|o| o.user_id.clone())).unwrap_or_default(),
    })
}

/// Path of the token file in `config_dir`.
pub fn auth_path(config_dir: &Path) -> PathBuf {
    config_dir.join(AUTH_FILE)
}

/// Load the stored tokens; `Ok(None)` when there is no token file.
pub fn load_tokens(config_dir: &Path) -> Result<Option<Tokens>> {
    let p = auth_path(config_dir);
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", &p, e)),
    };
    crate::manifest::json_from_slice(&bytes)
        .map(Some)
        .map_err(|_| Error::Auth(format!("{} is unreadable; run galaxy-dl login", p.display())))
}

/// Store tokens in `<config_dir>/auth.json` atomically with mode 0600: a temporary file created
/// 0600, written, fsynced, then renamed over the old one (and the directory fsynced).
pub fn save_tokens(config_dir: &Path, t: &Tokens) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(config_dir)
        .map_err(|e| Error::io("create directory", config_dir, e))?;
    let path = auth_path(config_dir);
    let tmp = config_dir.join(format!(".{AUTH_FILE}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let json = serde_json::to_vec_pretty(t).map_err(|e| Error::manifest("tokens", e.to_string()))?;
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("write", &tmp, e));
    }
    if let Err(e) = std::fs::rename(&tmp, &path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("rename", &path, e));
    }
    if let Ok(d) = std::fs::File::open(config_dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl Client {
    /// The browser login URL for this client's auth host.
    pub fn login_url(&self) -> String {
        login_url(&self.endpoints.auth)
    }

    /// Path of this client's token file.
    pub fn auth_file(&self) -> PathBuf {
        auth_path(&self.config_dir)
    }

    fn token_url(&self, grant: &[(&str, &str)]) -> String {
        let mut p = vec![("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)];
        p.extend_from_slice(grant);
        with_query(&format!("{}/token", self.endpoints.auth), &p)
    }

    /// Exchange a login code (see [`parse_code`]) for tokens and store them.
    pub fn exchange_code(&self, code: &str) -> Result<Tokens> {
        let url =
            self.token_url(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT_URI)]);
        let body =
            match self.get(&url, None) {
                Err(Error::HttpStatus { status: 400 | 401 | 403, .. }) => return Err(Error::Auth(
                    "the login code was refused (codes are single-use and expire quickly); run galaxy-dl login again"
                        .into(),
                )),
                r => r?,
            };
        let t = tokens_from_answer(&body, now_secs(), None)?;
        save_tokens(&self.config_dir, &t)?;
        *self.lock_auth() = Some(t.clone());
        Ok(t)
    }

    fn lock_auth(&self) -> std::sync::MutexGuard<'_, Option<Tokens>> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn loaded<'a>(&self, g: &'a mut Option<Tokens>) -> Result<&'a Tokens> {
        if g.is_none() {
            *g = load_tokens(&self.config_dir)?;
        }
        g.as_ref().ok_or_else(|| Error::Auth(NOT_LOGGED_IN.into()))
    }

    /// True when a login is stored (it may still need a refresh).
    pub fn is_logged_in(&self) -> bool {
        let mut g = self.lock_auth();
        self.loaded(&mut g).is_ok()
    }

    /// Refresh the access token now (even if not expired), store and return the new tokens.
    pub fn refresh(&self) -> Result<Tokens> {
        let mut g = self.lock_auth();
        let old = self.loaded(&mut g)?.clone();
        self.refresh_locked(&mut g, &old)
    }

    /// Refresh with tokens that are not (yet) stored here (`login --import`); the rotated
    /// tokens are stored as this client's login.
    pub(crate) fn refresh_from(&self, old: &Tokens) -> Result<Tokens> {
        let mut g = self.lock_auth();
        self.refresh_locked(&mut g, old)
    }

    fn refresh_locked(&self, g: &mut Option<Tokens>, old: &Tokens) -> Result<Tokens> {
        let url = self.token_url(&[("grant_type", "refresh_token"), ("refresh_token", &old.refresh_token)]);
        let body = match self.get(&url, None) {
            Err(Error::HttpStatus { status: 400 | 401, .. }) => return Err(Error::Auth(LOGIN_EXPIRED.into())),
            r => r?,
        };
        let t = tokens_from_answer(&body, now_secs(), Some(old))?;
        save_tokens(&self.config_dir, &t)?;
        *g = Some(t.clone());
        debug!("access token refreshed");
        Ok(t)
    }

    /// A valid access token: loaded from `auth.json` on first use, refreshed (and the rotated
    /// refresh token stored) when expired. Only one refresh runs at a time.
    pub fn access_token(&self) -> Result<String> {
        let mut g = self.lock_auth();
        let t = self.loaded(&mut g)?.clone();
        if !t.is_expired(now_secs()) {
            return Ok(t.access_token);
        }
        Ok(self.refresh_locked(&mut g, &t)?.access_token)
    }

    /// After the server answered 401 to `used`: refresh unless another thread already did.
    pub(crate) fn refresh_after_401(&self, used: &str) -> Result<String> {
        let mut g = self.lock_auth();
        let t = self.loaded(&mut g)?.clone();
        if t.access_token != used && !t.is_expired(now_secs()) {
            return Ok(t.access_token);
        }
        Ok(self.refresh_locked(&mut g, &t)?.access_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_server::{client_for, temp_dir, TestServer};

    #[test]
    fn login_url_shape() {
        let u = login_url("http://127.0.0.1:5/");
        assert!(
            u.starts_with("http://127.0.0.1:5/auth?client_id=46899977096215655&redirect_uri=https%3A%2F%2Fembed"),
            "{u}"
        );
        assert!(u.ends_with("&response_type=code&layout=client2"), "{u}");
    }

    #[test]
    fn parse_code_forms() {
        assert_eq!(parse_code("  abcDEF-_123 \n").unwrap(), "abcDEF-_123");
        assert_eq!(parse_code("https://embed.gog.com/on_login_success?origin=client&code=XYZ").unwrap(), "XYZ");
        assert_eq!(parse_code("https://embed.gog.com/on_login_success?code=X%2DY&origin=client#frag").unwrap(), "X-Y");
        assert_eq!(parse_code("http://other/?a=1&code=Q").unwrap(), "Q");
        assert_eq!(parse_code("code=Z").unwrap(), "Z");
        assert_eq!(parse_code("YWJj==").unwrap(), "YWJj==", "padding is not a URL");
        for bad in [
            "",
            "   ",
            "https://embed.gog.com/on_login_success?origin=client",
            "a?code=",
            "two words",
            "<html>",
            "x?code=a%zz",
            "x?code=a b",
        ] {
            let e = parse_code(bad).unwrap_err();
            assert!(e.is_usage(), "{bad:?}: {e}");
        }
        let e = parse_code("SECRET CODE").unwrap_err();
        assert!(!e.to_string().contains("SECRET"));
    }

    #[test]
    fn token_answers() {
        let t = tokens_from_answer(
            br#"{"expires_in":3600,"access_token":"A","refresh_token":"R","user_id":48}"#,
            1000,
            None,
        )
        .unwrap();
        assert_eq!(
            (t.access_token.as_str(), t.refresh_token.as_str(), t.expires_at, t.user_id.as_str()),
            ("A", "R", 4540, "48")
        );
        let t2 = tokens_from_answer(br#"{"access_token":"B"}"#, 0, Some(&t)).unwrap();
        assert_eq!((t2.refresh_token.as_str(), t2.expires_at, t2.user_id.as_str()), ("R", 3540, "48"));
        assert!(tokens_from_answer(br#"{"refresh_token":"R"}"#, 0, None).is_err());
        assert!(tokens_from_answer(br#"{"access_token":"A"}"#, 0, None).is_err());
        assert!(tokens_from_answer(b"<html>", 0, None).is_err());
        let short = tokens_from_answer(br#"{"access_token":"A","refresh_token":"R","expires_in":"30"}"#, 100, None);
        assert_eq!(short.unwrap().expires_at, 115, "short tokens keep half their life");
        let huge = tokens_from_answer(
            br#"{"access_token":"A","refresh_token":"R","expires_in":18446744073709551615}"#,
            100,
            None,
        );
        assert!(huge.unwrap().expires_at > 100);
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("\"A\"") && !dbg.contains("\"R\"") && dbg.contains("hidden"), "{dbg}");
    }

    #[test]
    fn save_is_0600_and_round_trips() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = temp_dir("auth-save");
        let dir = tmp.join("nested");
        let t = Tokens { access_token: "A".into(), refresh_token: "R".into(), expires_at: 5, user_id: "u".into() };
        assert_eq!(load_tokens(&dir).unwrap(), None);
        save_tokens(&dir, &t).unwrap();
        save_tokens(&dir, &t).unwrap();
        let mode = std::fs::metadata(auth_path(&dir)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_tokens(&dir).unwrap(), Some(t));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temp file left");
        std::fs::write(auth_path(&dir), b"garbage").unwrap();
        assert!(matches!(load_tokens(&dir), Err(Error::Auth(_))));
    }

    const TOKEN_OK: &str = r#"{"expires_in":3600,"scope":"","token_type":"bearer","access_token":"AT1","user_id":"4862","refresh_token":"RT1","session_id":"s"}"#;

    #[test]
    fn exchange_and_refresh_against_server() {
        let srv = TestServer::start(vec![
            (200, TOKEN_OK.into()),
            (200, r#"{"expires_in":3600,"access_token":"AT2","refresh_token":"RT2","user_id":"4862"}"#.into()),
            (401, r#"{"error":"invalid_grant"}"#.into()),
        ]);
        let c = client_for(&srv, "auth-flow");
        assert!(matches!(c.access_token(), Err(Error::Auth(m)) if m.contains("not logged in")));
        assert!(!c.is_logged_in());
        let t = c.exchange_code("CODE1").unwrap();
        assert_eq!(t.access_token, "AT1");
        assert_eq!(c.access_token().unwrap(), "AT1", "fresh token used without a request");
        let t2 = c.refresh().unwrap();
        assert_eq!(t2.refresh_token, "RT2");
        assert_eq!(load_tokens(c.config_dir()).unwrap().unwrap().refresh_token, "RT2", "rotated token stored");
        let e = c.refresh().unwrap_err();
        assert!(matches!(&e, Error::Auth(m) if m.contains("login expired")), "{e}");
        let reqs = srv.requests();
        assert_eq!(reqs.len(), 3);
        assert!(reqs[0].path.starts_with("/token?client_id=46899977096215655&client_secret="));
        assert!(reqs[0]
            .path
            .contains("&grant_type=authorization_code&code=CODE1&redirect_uri=https%3A%2F%2Fembed.gog.com"));
        assert!(reqs[1].path.contains("grant_type=refresh_token&refresh_token=RT1"));
        assert!(reqs[2].path.contains("refresh_token=RT2"));
    }

    #[test]
    fn expired_token_is_refreshed_on_use() {
        let srv = TestServer::start(vec![(200, TOKEN_OK.into())]);
        let c = client_for(&srv, "auth-expired");
        let old = Tokens { access_token: "OLD".into(), refresh_token: "R0".into(), expires_at: 1, user_id: "u".into() };
        save_tokens(c.config_dir(), &old).unwrap();
        assert_eq!(c.access_token().unwrap(), "AT1");
        assert!(srv.requests()[0].path.contains("refresh_token=R0"));
        assert_eq!(load_tokens(c.config_dir()).unwrap().unwrap().refresh_token, "RT1");
    }

    #[test]
    fn refused_code() {
        let srv = TestServer::start(vec![(401, r#"{"error":"invalid_grant"}"#.into())]);
        let c = client_for(&srv, "auth-refused");
        let e = c.exchange_code("BAD").unwrap_err();
        assert!(matches!(e, Error::Auth(_)), "{e}");
        assert!(!e.to_string().contains("BAD"));
        assert!(!c.is_logged_in());
    }
}
