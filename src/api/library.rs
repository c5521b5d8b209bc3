//! The owned-games library: every page of `GET {embed}/account/getFilteredProducts?mediaType=1`
//! (bearer), parsed into typed [`LibraryEntry`]s with id, title, platforms, DLC count and GOG's
//! update flag. Bounded: at most [`MAX_PAGES`] pages and [`MAX_ENTRIES`] entries; a page that is
//! not the expected JSON is an error naming the page, never a partial list.
//!
//! ```
//! use galaxy_dl::api::library::LibraryQuery;
//! use galaxy_dl::api::{Client, Endpoints};
//! use galaxy_dl_mock::gog::{GogMock, MockConfig};
//!
//! let gog = GogMock::start(MockConfig::small()); // serves fixtures/library/ on 127.0.0.1
//! let config = std::env::temp_dir().join(format!("galaxy-dl-doc-lib-{}", std::process::id()));
//! let client = Client::connect(Endpoints::single(&gog.url()), config.clone())?;
//! client.exchange_code(GogMock::LOGIN_CODE)?;
//! let games = client.library(&LibraryQuery::all().os("linux"))?;
//! assert!(games.iter().all(|g| g.platforms.iter().any(|p| p == "linux")));
//! assert!(games.iter().any(|g| g.title == "Über Café Tycoon" && g.dlc_count == 3));
//! # std::fs::remove_dir_all(&config).ok();
//! # Ok::<(), galaxy_dl::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::{with_query, Bearer, Client};
use crate::error::{Error, Result};
use crate::manifest::de;

/// At most this many pages are walked (GOG pages by 100: 100,000 games).
pub const MAX_PAGES: u64 = 1000;
/// At most this many entries are kept.
pub const MAX_ENTRIES: usize = 100_000;
/// Longest title kept (longer ones are cut at a character boundary).
const MAX_TITLE: usize = 1024;

/// What to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LibraryQuery {
    /// Only titles matching this text (GOG searches server-side).
    pub search: Option<String>,
    /// Only games that run on this platform: `windows`, `osx` or `linux`.
    pub os: Option<String>,
}

impl LibraryQuery {
    /// Every owned game.
    pub fn all() -> LibraryQuery {
        LibraryQuery::default()
    }

    /// Only titles matching `text`.
    pub fn search(mut self, text: impl Into<String>) -> LibraryQuery {
        self.search = Some(text.into());
        self
    }

    /// Only games for `os` (`windows`, `osx` or `linux`).
    pub fn os(mut self, os: impl Into<String>) -> LibraryQuery {
        self.os = Some(os.into());
        self
    }
}

/// One owned game.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LibraryEntry {
    /// Product id.
    pub id: String,
    /// Title as GOG spells it (UTF-8).
    pub title: String,
    /// Platforms it runs on, in the order `windows`, `osx`, `linux`.
    pub platforms: Vec<String>,
    /// Number of DLCs GOG lists for it.
    pub dlc_count: u64,
    /// GOG flags an update the user has not seen (`updates > 0`).
    pub update: bool,
    /// GOG marks it new in the library.
    pub is_new: bool,
}

#[derive(Deserialize)]
struct WorksOn {
    #[serde(default, rename = "Windows", deserialize_with = "de::bool")]
    windows: bool,
    #[serde(default, rename = "Mac", deserialize_with = "de::bool")]
    mac: bool,
    #[serde(default, rename = "Linux", deserialize_with = "de::bool")]
    linux: bool,
}

#[derive(Deserialize)]
struct Product {
    #[serde(deserialize_with = "de::string")]
    id: String,
    #[serde(deserialize_with = "de::string")]
    title: String,
    #[serde(default, rename = "worksOn")]
    works_on: Option<WorksOn>,
    #[serde(default, rename = "dlcCount", deserialize_with = "de::u64")]
    dlc_count: u64,
    #[serde(default, deserialize_with = "de::u64")]
    updates: u64,
    #[serde(default, rename = "isNew", deserialize_with = "de::bool")]
    is_new: bool,
}

#[derive(Deserialize)]
struct Page {
    #[serde(rename = "totalPages", deserialize_with = "de::u64")]
    total_pages: u64,
    products: Vec<Product>,
}

fn cut(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl Product {
    fn into_entry(self) -> Result<LibraryEntry> {
        if self.id.is_empty() || self.id.len() > 20 || !self.id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::manifest("library", "a product id is not a number"));
        }
        let w = self.works_on.unwrap_or(WorksOn { windows: false, mac: false, linux: false });
        let platforms = [(w.windows, "windows"), (w.mac, "osx"), (w.linux, "linux")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| n.to_string())
            .collect();
        // Control characters would garble a terminal table.
        let title: String = self.title.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        Ok(LibraryEntry {
            id: self.id,
            title: cut(title, MAX_TITLE),
            platforms,
            dlc_count: self.dlc_count,
            update: self.updates > 0,
            is_new: self.is_new,
        })
    }
}

/// Parse one page: its entries and the `totalPages` it announces.
#[doc(hidden)]
pub fn parse_page(body: &[u8], page: u64) -> Result<(Vec<LibraryEntry>, u64)> {
    let what = format!("library page {page} (account/getFilteredProducts)");
    let p: Page = crate::manifest::json_from_slice(body).map_err(|e| Error::manifest(what.clone(), e.to_string()))?;
    let entries = p
        .products
        .into_iter()
        .map(Product::into_entry)
        .collect::<Result<Vec<_>>>()
        .map_err(|e| Error::manifest(what, e.to_string()))?;
    Ok((entries, p.total_pages))
}

/// True when `os` is one of the platform names an entry can carry.
pub fn valid_os(os: &str) -> bool {
    matches!(os, "windows" | "osx" | "linux")
}

impl Client {
    /// Every owned game across all pages of the library (needs a login), in GOG's order,
    /// without duplicates, filtered by `q`. An expired token is refreshed as for any API call.
    pub fn library(&self, q: &LibraryQuery) -> Result<Vec<LibraryEntry>> {
        if let Some(os) = &q.os {
            if !valid_os(os) {
                return Err(Error::Usage(format!("invalid os {os:?}: expected windows, osx or linux")));
            }
        }
        let base = format!("{}/account/getFilteredProducts", self.endpoints.embed);
        let mut out: Vec<LibraryEntry> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut total = 1u64;
        let mut page = 1u64;
        while page <= total.min(MAX_PAGES) {
            let n = page.to_string();
            let mut params = vec![("mediaType", "1"), ("page", n.as_str())];
            if let Some(s) = q.search.as_deref().filter(|s| !s.is_empty()) {
                params.push(("search", s));
            }
            let body = self.api_get(&with_query(&base, &params), Bearer::Required)?;
            let (entries, pages) = parse_page(&body, page)?;
            if page == 1 {
                total = pages;
                if total > MAX_PAGES {
                    log::warn!("the library announces {total} pages; listing the first {MAX_PAGES}");
                }
            }
            let mut fresh = 0usize;
            for e in entries {
                if out.len() >= MAX_ENTRIES {
                    log::warn!("library longer than {MAX_ENTRIES} games; the rest is not listed");
                    return Ok(filter(out, q));
                }
                if seen.insert(e.id.clone()) {
                    out.push(e);
                    fresh += 1;
                }
            }
            // A page with nothing new (empty, or a server that ignores `page`) ends the walk
            // instead of asking up to MAX_PAGES pages.
            if fresh == 0 && page > 1 {
                debug!("library page {page} adds nothing; stopping before page {total}");
                break;
            }
            page += 1;
        }
        Ok(filter(out, q))
    }
}

fn filter(v: Vec<LibraryEntry>, q: &LibraryQuery) -> Vec<LibraryEntry> {
    match &q.os {
        Some(os) => v.into_iter().filter(|e| e.platforms.iter().any(|p| p == os)).collect(),
        None => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_page() {
        let body = r#"{"page":1,"totalPages":"2","products":[
            {"id":7,"title":"Caf\u00e9\u0007","worksOn":{"Windows":true,"Mac":false,"Linux":true},
             "dlcCount":2,"updates":1,"isNew":false},
            {"id":"8","title":"B"}]}"#;
        let (v, total) = parse_page(body.as_bytes(), 1).unwrap();
        assert_eq!(total, 2);
        assert_eq!(v[0].id, "7");
        assert_eq!(v[0].title, "Café ");
        assert_eq!(v[0].platforms, vec!["windows", "linux"]);
        assert_eq!((v[0].dlc_count, v[0].update), (2, true));
        assert_eq!((v[1].platforms.len(), v[1].update, v[1].dlc_count), (0, false, 0));
    }

    #[test]
    fn rejects_malformed_pages() {
        for bad in [
            &b"<html>"[..],
            br#"{"totalPages":1}"#,
            br#"{"totalPages":1,"products":{}}"#,
            br#"{"totalPages":-1,"products":[]}"#,
            br#"{"totalPages":1,"products":[{"id":"../x","title":"t"}]}"#,
            br#"{"totalPages":1,"products":[{"title":"t"}]}"#,
            br#"{"page":2,"totalPages":3,"products":[{"id":"#,
        ] {
            let e = parse_page(bad, 3).unwrap_err();
            assert!(e.to_string().contains("library page 3"), "{e}");
        }
    }

    #[test]
    fn a_walk_stops_at_a_page_with_nothing_new() {
        use crate::api::test_server::{client_for, log_in, TestServer};
        let p1 = br#"{"totalPages":500,"products":[{"id":1,"title":"A"},{"id":2,"title":"B"}]}"#.to_vec();
        let p2 = br#"{"totalPages":500,"products":[{"id":2,"title":"B"},{"id":3,"title":"C"}]}"#.to_vec();
        let srv = TestServer::start(vec![(200, p1.clone()), (200, p2), (200, p1)]);
        let c = client_for(&srv, "library-stop");
        log_in(&c, "AT", "RT");
        let v = c.library(&LibraryQuery::all().search("a b")).unwrap();
        assert_eq!(v.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["1", "2", "3"], "deduplicated");
        let r = srv.requests();
        assert_eq!(r.len(), 3, "page 3 repeated page 1: stop, not 500 pages");
        assert_eq!(r[0].path, "/account/getFilteredProducts?mediaType=1&page=1&search=a%20b");
        assert_eq!(r[2].authorization.as_deref(), Some("Bearer AT"));
        assert!(c.library(&LibraryQuery::all().os("amiga")).unwrap_err().is_usage());
    }

    #[test]
    fn long_titles_are_cut_on_a_char_boundary() {
        let t = "é".repeat(MAX_TITLE);
        let body = serde_json::json!({"totalPages":1,"products":[{"id":1,"title":t}]}).to_string();
        let (v, _) = parse_page(body.as_bytes(), 1).unwrap();
        assert_eq!(v[0].title.len(), MAX_TITLE);
    }
}
