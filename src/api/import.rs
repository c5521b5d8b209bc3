//! `login --import`: take the GOG login another client already holds. Reads heroic-gogdl's
//! token file (a map keyed by client id, each entry with `loginTime` + `expires_in`) or
//! lgogdownloader's `galaxy_tokens.json` (flat, with `expires_at`), picks the Galaxy client's
//! entry, refreshes it once to prove it works, and stores the result as our own `auth.json`
//! (0600, atomic, through [`super::auth::save_tokens`]). The other program's file is only ever
//! opened for reading. No token value reaches an error message.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::auth::{Tokens, CLIENT_ID};
use super::{now_secs, Client};
use crate::error::{Error, Result};

/// Token files larger than this are not token files.
const MAX_TOKEN_FILE: u64 = 1 << 20;

/// Where `login --import` reads from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportSource {
    /// heroic-gogdl's `gog_store/auth.json` (native or Flatpak Heroic).
    Heroic,
    /// lgogdownloader's `galaxy_tokens.json`.
    Lgogdownloader,
    /// A token file in either format.
    Path(PathBuf),
}

/// Which format a token file was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFormat {
    /// heroic-gogdl: `{client_id: {access_token, refresh_token, expires_in, loginTime, ...}}`.
    Heroic,
    /// lgogdownloader: `{access_token, refresh_token, expires_at, ...}`.
    Lgogdownloader,
}

impl ImportSource {
    /// The files this source names, in the order they are tried, from an environment lookup
    /// (`XDG_CONFIG_HOME`, `HOME`; empty values count as unset).
    pub fn candidates(&self, get: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        let home = get("HOME").map(PathBuf::from);
        let config = get("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".config")));
        match self {
            ImportSource::Path(p) => vec![p.clone()],
            ImportSource::Heroic => {
                let mut v: Vec<PathBuf> =
                    config.iter().map(|c| c.join("heroic").join("gog_store").join("auth.json")).collect();
                if let Some(h) = &home {
                    v.push(h.join(".var/app/com.heroicgameslauncher.hgl/config/heroic/gog_store/auth.json"));
                }
                v
            }
            ImportSource::Lgogdownloader => {
                config.iter().map(|c| c.join("lgogdownloader").join("galaxy_tokens.json")).collect()
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ImportSource::Heroic => "Heroic",
            ImportSource::Lgogdownloader => "lgogdownloader",
            ImportSource::Path(_) => "the token file",
        }
    }
}

fn bad(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Auth(format!("cannot import {}: {why}", path.display()))
}

fn str_field<'a>(o: &'a Value, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn num_field(o: &Value, k: &str) -> Option<f64> {
    match o.get(k)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite() && *f >= 0.0)
}

fn secs(f: f64) -> u64 {
    // `as` saturates; the value is finite and non-negative.
    f as u64
}

/// Read another client's token file (contents, not path lookup): the tokens of the Galaxy
/// client id and the format they were in. `expires_at` is the access token's expiry as that
/// client recorded it (0 when it did not say).
#[doc(hidden)]
pub fn parse_foreign_tokens(bytes: &[u8], path: &Path) -> Result<(Tokens, TokenFormat)> {
    let v: Value = crate::manifest::json_from_slice(bytes).map_err(|e| {
        bad(
            path,
            format!(
                "not JSON (line {}, column {}); expected a heroic or lgogdownloader token file",
                e.line(),
                e.column()
            ),
        )
    })?;
    if !v.is_object() {
        return Err(bad(path, "not a JSON object; expected a heroic or lgogdownloader token file"));
    }
    let (entry, format) = if v.get("refresh_token").is_some() {
        (&v, TokenFormat::Lgogdownloader)
    } else if let Some(e) = v.get(CLIENT_ID) {
        (e, TokenFormat::Heroic)
    } else {
        return Err(bad(path, format!("no login of the GOG Galaxy client (id {CLIENT_ID}) in it")));
    };
    let access_token = str_field(entry, "access_token").ok_or_else(|| bad(path, "no access_token"))?;
    let refresh_token = str_field(entry, "refresh_token").ok_or_else(|| bad(path, "no refresh_token"))?;
    if let Some(c) = entry.get("client_id").and_then(Value::as_str) {
        if c != CLIENT_ID {
            return Err(bad(path, format!("the tokens belong to client {c:?}, not the GOG Galaxy client")));
        }
    }
    let expires_at = match format {
        TokenFormat::Lgogdownloader => num_field(entry, "expires_at").map(secs).unwrap_or(0),
        TokenFormat::Heroic => match (num_field(entry, "loginTime"), num_field(entry, "expires_in")) {
            (Some(t), Some(e)) => secs(t).saturating_add(secs(e)),
            _ => 0,
        },
    };
    let user_id = match entry.get("user_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let t = Tokens {
        access_token: access_token.to_string(),
        refresh_token: refresh_token.to_string(),
        expires_at,
        user_id,
    };
    Ok((t, format))
}

/// Read a token file without ever opening it for writing (bounded size).
fn read_token_file(path: &Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => bad(path, "no such file"),
        _ => Error::io("open", path, e),
    })?;
    let meta = f.metadata().map_err(|e| Error::io("stat", path, e))?;
    if !meta.is_file() {
        return Err(bad(path, "not a regular file"));
    }
    let mut buf = Vec::new();
    f.take(MAX_TOKEN_FILE + 1).read_to_end(&mut buf).map_err(|e| Error::io("read", path, e))?;
    if buf.len() as u64 > MAX_TOKEN_FILE {
        return Err(bad(path, "larger than 1 MiB; not a token file"));
    }
    Ok(buf)
}

/// What an import did.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The file read.
    pub path: PathBuf,
    /// Its format.
    pub format: TokenFormat,
    /// Our tokens after the proving refresh (already stored).
    pub tokens: Tokens,
}

impl Client {
    /// `login --import`: find the source's token file, read the Galaxy client's tokens,
    /// refresh them once (which proves they work and gives us our own rotated refresh token),
    /// and store them in this client's `auth.json`. The source file is never written.
    pub fn import_tokens(&self, src: &ImportSource) -> Result<Imported> {
        self.import_tokens_with(src, |k| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned()))
    }

    /// [`Client::import_tokens`] with any environment lookup (for `XDG_CONFIG_HOME`, `HOME`).
    pub fn import_tokens_with(&self, src: &ImportSource, env: impl Fn(&str) -> Option<String>) -> Result<Imported> {
        let candidates = src.candidates(env);
        let path = match candidates.iter().find(|p| p.exists()) {
            Some(p) => p.clone(),
            None if matches!(src, ImportSource::Path(_)) => candidates.into_iter().next().unwrap_or_default(),
            None => {
                let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
                return Err(Error::Auth(format!(
                    "no {} login found (looked for {}); log in there first, or run galaxy-dl login",
                    src.name(),
                    if tried.is_empty() { "nothing: HOME is not set".into() } else { tried.join(" and ") }
                )));
            }
        };
        let bytes = read_token_file(&path)?;
        let (foreign, format) = parse_foreign_tokens(&bytes, &path)?;
        drop(bytes);
        if foreign.expires_at > 0 && foreign.expires_at <= now_secs() {
            log::info!("the imported access token has expired; its refresh token is tried");
        }
        let tokens = match self.refresh_from(&foreign) {
            Err(Error::Auth(_)) => {
                return Err(bad(
                    &path,
                    "GOG refused its refresh token (expired, revoked, or already used); \
                     log in again in that client, or run galaxy-dl login",
                ))
            }
            r => r?,
        };
        Ok(Imported { path, format, tokens })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PathBuf {
        PathBuf::from("/t/auth.json")
    }

    #[test]
    fn heroic_format() {
        let body = format!(
            r#"{{"1234":{{"access_token":"X","refresh_token":"Y"}},
               "{CLIENT_ID}":{{"expires_in":3600,"access_token":"AT","refresh_token":"RT","user_id":"42",
               "loginTime":1700000000.75,"token_type":"bearer","session_id":"s"}}}}"#
        );
        let (t, f) = parse_foreign_tokens(body.as_bytes(), &p()).unwrap();
        assert_eq!(f, TokenFormat::Heroic);
        assert_eq!((t.access_token.as_str(), t.refresh_token.as_str()), ("AT", "RT"));
        assert_eq!((t.expires_at, t.user_id.as_str()), (1700003600, "42"));
    }

    #[test]
    fn lgogdownloader_format() {
        let body = br#"{"access_token":"AT","expires_at":1700003600,"expires_in":3600,"refresh_token":"RT",
            "session_id":"s","token_type":"bearer","user_id":"42"}"#;
        let (t, f) = parse_foreign_tokens(body, &p()).unwrap();
        assert_eq!(f, TokenFormat::Lgogdownloader);
        assert_eq!((t.refresh_token.as_str(), t.expires_at), ("RT", 1700003600));
    }

    #[test]
    fn malformed_files_name_the_file_and_never_a_token() {
        for (body, needle) in [
            (&b"{\"access_token\":\"SECRET\","[..], "not JSON"),
            (b"[1,2]", "not a JSON object"),
            (b"{\"1234\":{\"access_token\":\"SECRET\",\"refresh_token\":\"SECRET\"}}", "no login of the GOG Galaxy"),
            (b"{\"refresh_token\":\"SECRET\"}", "no access_token"),
            (b"{\"refresh_token\":\"\",\"access_token\":\"SECRET\"}", "no refresh_token"),
            (b"{\"refresh_token\":7,\"access_token\":\"SECRET\"}", "no refresh_token"),
            (
                b"{\"refresh_token\":\"SECRET\",\"access_token\":\"SECRET\",\"client_id\":\"99\"}",
                "not the GOG Galaxy client",
            ),
        ] {
            let e = parse_foreign_tokens(body, &p()).unwrap_err().to_string();
            assert!(e.contains(needle) && e.contains("/t/auth.json"), "{e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
    }

    #[test]
    fn candidate_paths() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let h = ImportSource::Heroic.candidates(env(&[("HOME", "/h")]));
        assert_eq!(
            h,
            vec![
                PathBuf::from("/h/.config/heroic/gog_store/auth.json"),
                PathBuf::from("/h/.var/app/com.heroicgameslauncher.hgl/config/heroic/gog_store/auth.json")
            ]
        );
        let l = ImportSource::Lgogdownloader.candidates(env(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")]));
        assert_eq!(l, vec![PathBuf::from("/x/lgogdownloader/galaxy_tokens.json")]);
        assert!(ImportSource::Lgogdownloader.candidates(env(&[])).is_empty());
        assert_eq!(ImportSource::Path("f".into()).candidates(env(&[])), vec![PathBuf::from("f")]);
    }
}
