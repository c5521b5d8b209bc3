//! Build discovery: `GET {content_system}/products/{id}/os/{os}/builds?generation=N` and the
//! choice of one build (explicit id, else the newest public build of the default or named
//! branch).

use serde::{Deserialize, Serialize};

use super::{check_path_id, with_query, Bearer, Client};
use crate::error::{Error, Result};
use crate::manifest::de;

/// One build as listed by the builds endpoint.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Build {
    /// Build id (17 digits for V2, small for V1).
    #[serde(deserialize_with = "de::string")]
    pub build_id: String,
    /// Product id.
    #[serde(default, deserialize_with = "de::string")]
    pub product_id: String,
    /// `windows` or `osx`.
    #[serde(default, deserialize_with = "de::string")]
    pub os: String,
    /// Branch name; `None` (or empty) is the public default branch.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub branch: Option<String>,
    /// Human version string.
    #[serde(default, deserialize_with = "de::string")]
    pub version_name: String,
    /// Public build (absent counts as public).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub public: bool,
    /// `2016-03-09T10:16:11+0000`.
    #[serde(default, deserialize_with = "de::string")]
    pub date_published: String,
    /// 1 (V1 `main.bin`) or 2 (V2 chunks).
    #[serde(deserialize_with = "generation")]
    pub generation: u8,
    /// URL of the build manifest (V2 meta or V1 `repository.json`).
    #[serde(deserialize_with = "de::string")]
    pub link: String,
    /// V1 only: the repository timestamp.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub legacy_build_id: Option<String>,
}

fn yes() -> bool {
    true
}

fn generation<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<u8, D::Error> {
    match de::u64(d)? {
        g @ (1 | 2) => Ok(g as u8),
        g => Err(serde::de::Error::custom(format!("unknown generation {g}"))),
    }
}

impl Build {
    /// The branch, with `""` read as the default branch.
    pub fn branch_name(&self) -> Option<&str> {
        self.branch.as_deref().filter(|b| !b.is_empty())
    }
}

#[derive(Deserialize)]
struct BuildsAnswer {
    #[serde(default)]
    items: Vec<Build>,
}

/// Parse a builds answer.
#[doc(hidden)]
pub fn parse_builds(body: &[u8], what: &str) -> Result<Vec<Build>> {
    let a: BuildsAnswer =
        crate::manifest::json_from_slice(body).map_err(|e| Error::manifest(what, format!("builds: {e}")))?;
    Ok(a.items)
}

impl Client {
    /// List the builds of `product_id` for `os` (`windows`/`osx`) and `generation` (1 or 2),
    /// newest first as GOG lists them; `password` unlocks private branches. Sends the bearer
    /// token when logged in. A 404 is [`Error::NotFound`].
    pub fn builds(&self, product_id: &str, os: &str, generation: u8, password: Option<&str>) -> Result<Vec<Build>> {
        check_path_id("product id", product_id)?;
        check_path_id("os", os)?;
        if !matches!(generation, 1 | 2) {
            return Err(Error::Usage(format!("generation must be 1 or 2, not {generation}")));
        }
        let base = format!("{}/products/{product_id}/os/{os}/builds", self.endpoints.content_system);
        let g = generation.to_string();
        let mut q = vec![("generation", g.as_str())];
        if let Some(p) = password {
            q.push(("password", p));
        }
        let url = with_query(&base, &q);
        let body = match self.api_get(&url, Bearer::IfLoggedIn) {
            Err(Error::HttpStatus { status: 404, .. }) => {
                return Err(Error::NotFound(format!("product {product_id} has no builds for {os}")))
            }
            r => r?,
        };
        parse_builds(&body, &base)
    }
}

fn list_ids(builds: &[&Build]) -> String {
    if builds.is_empty() {
        return "none".into();
    }
    let mut s: Vec<&str> = builds.iter().map(|b| b.build_id.as_str()).take(20).collect();
    if builds.len() > 20 {
        s.push("...");
    }
    s.join(", ")
}

/// Choose a build: an explicit `build_id` (or V1 `legacy_build_id`) wins; otherwise the newest
/// public build of `branch` (`None` = the default branch; a named branch also accepts
/// non-public builds, which only a correct password lists). "Newest" = latest
/// `date_published`, ties kept in GOG's order (newest first).
pub fn choose_build<'a>(builds: &'a [Build], build_id: Option<&str>, branch: Option<&str>) -> Result<&'a Build> {
    if let Some(id) = build_id {
        return builds
            .iter()
            .find(|b| b.build_id == id)
            .or_else(|| builds.iter().find(|b| b.legacy_build_id.as_deref() == Some(id)))
            .ok_or_else(|| {
                Error::NotFound(format!("no build {id}; available: {}", list_ids(&builds.iter().collect::<Vec<_>>())))
            });
    }
    let branch = branch.filter(|b| !b.is_empty());
    let on_branch: Vec<&Build> = builds.iter().filter(|b| b.branch_name() == branch).collect();
    let candidates: Vec<&Build> = match branch {
        None => on_branch.iter().copied().filter(|b| b.public).collect(),
        Some(_) => {
            let public: Vec<&Build> = on_branch.iter().copied().filter(|b| b.public).collect();
            if public.is_empty() {
                on_branch
            } else {
                public
            }
        }
    };
    let mut best: Option<&Build> = None;
    for b in candidates {
        if best.is_none_or(|x| b.date_published > x.date_published) {
            best = Some(b);
        }
    }
    best.ok_or_else(|| {
        let mut names: Vec<&str> = builds.iter().filter_map(|b| b.branch_name()).collect();
        names.sort_unstable();
        names.dedup();
        let names = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        match branch {
            Some(br) => Error::NotFound(format!(
                "no build on branch {br:?}; branches: {names} (private branches need --password)"
            )),
            None => Error::NotFound(format!(
                "no public build on the default branch; available: {}; branches: {names}",
                list_ids(&builds.iter().collect::<Vec<_>>())
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_server::{client_for, log_in, TestServer};

    const ANSWER: &str = r#"{"total_count":4,"count":4,"has_private_branches":true,"items":[
      {"build_id":"3","product_id":1207658930,"os":"windows","branch":"beta","version_name":"3b","tags":[],
       "public":false,"date_published":"2020-03-01T00:00:00+0000","generation":2,"link":"http://h/content-system/v2/meta/aa/bb/aabb","x":1},
      {"build_id":48906206523382029,"product_id":"1207658930","os":"windows","branch":null,"version_name":"2",
       "public":true,"date_published":"2020-02-01T00:00:00+0000","generation":"2","link":"http://h/m2"},
      {"build_id":"1","product_id":"1207658930","os":"windows","branch":"","version_name":"1",
       "public":true,"date_published":"2020-01-01T00:00:00+0000","generation":1,"link":"http://h/r.json","legacy_build_id":37794096},
      {"build_id":"0","product_id":"1207658930","os":"windows","branch":null,"version_name":"0-private",
       "public":false,"date_published":"2021-01-01T00:00:00+0000","generation":2,"link":"http://h/m0"}]}"#;

    fn builds() -> Vec<Build> {
        parse_builds(ANSWER.as_bytes(), "b").unwrap()
    }

    #[test]
    fn parses_lenient() {
        let b = builds();
        assert_eq!(b.len(), 4);
        assert_eq!(b[1].build_id, "48906206523382029");
        assert_eq!(b[1].generation, 2);
        assert_eq!(b[0].product_id, "1207658930");
        assert_eq!(b[2].legacy_build_id.as_deref(), Some("37794096"));
        assert_eq!(b[2].branch_name(), None);
        assert!(parse_builds(br#"{"items":[{"build_id":"1","generation":3,"link":"x"}]}"#, "b").is_err());
        assert!(parse_builds(br#"{"items":[{"generation":2,"link":"x"}]}"#, "b").is_err());
        assert!(parse_builds(b"\"x\"", "b").is_err());
        assert!(parse_builds(br#"{"total_count":0}"#, "b").unwrap().is_empty());
    }

    #[test]
    fn choosing() {
        let b = builds();
        assert_eq!(choose_build(&b, None, None).unwrap().build_id, "48906206523382029");
        assert_eq!(choose_build(&b, None, Some("beta")).unwrap().build_id, "3");
        assert_eq!(choose_build(&b, Some("1"), None).unwrap().version_name, "1");
        assert_eq!(choose_build(&b, Some("37794096"), None).unwrap().build_id, "1");
        assert_eq!(choose_build(&b, Some("0"), Some("beta")).unwrap().build_id, "0", "explicit id wins");
        let e = choose_build(&b, Some("9"), None).unwrap_err().to_string();
        assert!(e.contains("no build 9; available: 3, 48906206523382029, 1, 0"), "{e}");
        let e = choose_build(&b, None, Some("nope")).unwrap_err().to_string();
        assert!(e.contains("branches: beta"), "{e}");
        assert!(matches!(choose_build(&[], None, None), Err(Error::NotFound(_))));
    }

    #[test]
    fn against_server() {
        let srv = TestServer::start(vec![
            (200, ANSWER.into()),
            (404, r#"{"error":"not_found"}"#.into()),
            (401, b"{}".to_vec()),
            (200, r#"{"access_token":"AT2","refresh_token":"RT2","expires_in":3600}"#.into()),
            (200, ANSWER.into()),
        ]);
        let c = client_for(&srv, "builds");
        let b = c.builds("1207658930", "windows", 2, Some("p w&")).unwrap();
        assert_eq!(b.len(), 4);
        let e = c.builds("1", "osx", 1, None).unwrap_err();
        assert!(matches!(&e, Error::NotFound(m) if m == "product 1 has no builds for osx"), "{e}");
        log_in(&c, "AT1", "RT1");
        assert_eq!(c.builds("1207658930", "windows", 2, None).unwrap().len(), 4);
        let r = srv.requests();
        assert_eq!(r[0].path, "/products/1207658930/os/windows/builds?generation=2&password=p%20w%26");
        assert_eq!(r[0].authorization, None, "anonymous when not logged in");
        assert_eq!(r[2].authorization.as_deref(), Some("Bearer AT1"));
        assert!(r[3].path.starts_with("/token?"), "401 -> refresh");
        assert_eq!(r[4].authorization.as_deref(), Some("Bearer AT2"), "retried with the new token");
        assert!(c.builds("../x", "windows", 2, None).unwrap_err().is_usage());
        assert!(c.builds("1", "windows", 3, None).unwrap_err().is_usage());
    }
}
