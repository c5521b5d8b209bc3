//! Owned products: `GET {embed}/user/data/games` -> `{"owned":[ids]}`, used to skip DLC the
//! account does not own before any secure link is asked for.

use std::collections::HashSet;

use serde::Deserialize;

use super::{Bearer, Client};
use crate::error::{Error, Result};
use crate::manifest::de;

#[derive(Deserialize)]
struct OwnedAnswer {
    #[serde(deserialize_with = "de::vec_string")]
    owned: Vec<String>,
}

/// Parse a `/user/data/games` answer into product ids.
#[doc(hidden)]
pub fn parse_owned(body: &[u8]) -> Result<HashSet<String>> {
    let a: OwnedAnswer =
        crate::manifest::json_from_slice(body).map_err(|e| Error::manifest("owned games answer", e.to_string()))?;
    Ok(a.owned.into_iter().collect())
}

impl Client {
    /// The product ids the logged-in account owns (needs a login).
    pub fn owned_products(&self) -> Result<HashSet<String>> {
        let url = format!("{}/user/data/games", self.endpoints.embed);
        parse_owned(&self.api_get(&url, Bearer::Required)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_server::{client_for, log_in, TestServer};

    #[test]
    fn parse() {
        let s = parse_owned(br#"{"owned":[1207658930,"1207659000"]}"#).unwrap();
        assert!(s.contains("1207658930") && s.contains("1207659000"));
        assert!(parse_owned(br#"{"owned":[]}"#).unwrap().is_empty());
        assert!(parse_owned(br#"{}"#).is_err());
        assert!(parse_owned(br#"{"owned":{}}"#).is_err());
    }

    #[test]
    fn against_server() {
        let srv = TestServer::start(vec![(200, br#"{"owned":[1,2]}"#.to_vec())]);
        let c = client_for(&srv, "owned");
        assert!(matches!(c.owned_products(), Err(Error::Auth(_))), "not logged in");
        log_in(&c, "AT", "RT");
        assert_eq!(c.owned_products().unwrap().len(), 2);
        let r = srv.requests();
        assert_eq!((r[0].method.as_str(), r[0].path.as_str()), ("GET", "/user/data/games"));
        assert_eq!(r[0].authorization.as_deref(), Some("Bearer AT"));
    }
}
