//! Manifests: decoding GOG metadata (plain JSON or zlib JSON, sniffed), the V2 build and depot
//! manifest types ([`v2`]), the V1 repository and depot manifest types ([`v1`]), safe path
//! handling for everything a manifest names ([`path`]), and metadata URLs. No I/O: fetching is
//! `api::Client::fetch_meta`'s.

pub(crate) mod de;
pub mod deps;
pub mod path;
pub mod v1;
pub mod v2;
pub mod zlib;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Decode a metadata body into `T`: plain JSON (first byte `{`, `[` or whitespace) is parsed as
/// is; a body starting with a zlib header is inflated first (bounded by
/// [`zlib::INFLATE_LIMIT`]). `what` names the document in errors (a URL is redacted).
pub fn decode_meta<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    let json = meta_json_bytes(bytes, what)?;
    serde_json::from_slice(&json).map_err(|e| Error::manifest(what, format!("invalid JSON: {e}")))
}

/// Like [`decode_meta`] into a generic JSON value.
pub fn decode_meta_value(bytes: &[u8], what: &str) -> Result<serde_json::Value> {
    decode_meta(bytes, what)
}

/// The JSON text of a metadata body: the body itself, or its inflated zlib stream.
pub fn meta_json_bytes<'a>(bytes: &'a [u8], what: &str) -> Result<std::borrow::Cow<'a, [u8]>> {
    match bytes.first() {
        None => Err(Error::manifest(what, "empty body")),
        Some(b'{' | b'[' | b' ' | b'\t' | b'\r' | b'\n') => Ok(bytes.into()),
        Some(_) if zlib::is_zlib_header(bytes) => {
            zlib::inflate(bytes, zlib::INFLATE_LIMIT).map(Into::into).map_err(|r| Error::manifest(what, r))
        }
        Some(b) => Err(Error::manifest(what, format!("neither JSON nor zlib (first byte 0x{b:02x})"))),
    }
}

/// The galaxy path of a hex id: `h[0:2]/h[2:4]/h` (lower-cased), or `h` unchanged when it
/// already contains `/` (its segments must be plain names). Refuses non-hex ids and ids shorter
/// than 4 characters.
pub fn galaxy_path(h: &str) -> Result<String> {
    if h.contains('/') {
        if h.split('/').any(|s| s.is_empty() || s == "." || s == ".." || s.contains(['\\', '?', '#'])) {
            return Err(Error::manifest("galaxy path", format!("{h:?} is not a plain path")));
        }
        return Ok(h.to_string());
    }
    if h.len() < 4 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::manifest("galaxy path", format!("{h:?} is not a hex id")));
    }
    let h = h.to_ascii_lowercase();
    Ok(format!("{}/{}/{h}", &h[0..2], &h[2..4]))
}

/// URL of a V2 meta document (build or depot manifest) on `cdn`, by its hash or galaxy path.
pub fn v2_meta_url(cdn: &str, hash: &str) -> Result<String> {
    Ok(format!("{}/content-system/v2/meta/{}", cdn.trim_end_matches('/'), galaxy_path(hash)?))
}

/// URL of a V2 dependency depot manifest on `cdn`.
pub fn v2_dependency_meta_url(cdn: &str, hash: &str) -> Result<String> {
    Ok(format!("{}/content-system/v2/dependencies/meta/{}", cdn.trim_end_matches('/'), galaxy_path(hash)?))
}

/// URL of a V1 depot manifest: `{cdn}/content-system/v1/manifests/{product}/{os}/{timestamp}/{manifest}`.
/// `manifest` (e.g. `a0e3...-...json`) must be a single safe path segment.
pub fn v1_depot_manifest_url(cdn: &str, product_id: &str, os: &str, timestamp: &str, manifest: &str) -> Result<String> {
    for (name, seg) in [("product id", product_id), ("os", os), ("timestamp", timestamp), ("manifest", manifest)] {
        if seg.is_empty() || seg == "." || seg == ".." || seg.contains(['/', '\\', '?', '#']) {
            return Err(Error::manifest("V1 repository", format!("bad {name} {seg:?} for a manifest URL")));
        }
    }
    Ok(format!("{}/content-system/v1/manifests/{product_id}/{os}/{timestamp}/{manifest}", cdn.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_json_and_zlib() {
        let v: serde_json::Value = decode_meta(b" {\"a\":1}", "x").unwrap();
        assert_eq!(v["a"], 1);
        let z = zlib::deflate(br#"{"version":2,"b":[1,2]}"#);
        let v = decode_meta_value(&z, "x").unwrap();
        assert_eq!(v["b"][1], 2);
    }

    #[test]
    fn bad_meta_is_a_manifest_error() {
        let z = zlib::deflate(br#"{"version":2,"b":[1,2,3,4,5,6,7,8,9,10,11,12]}"#);
        let e = decode_meta_value(&z[..z.len() - 3], "http://h/meta?sig=SECRET").unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, Error::Manifest { .. }));
        assert!(m.contains("truncated"), "{m}");
        assert!(!m.contains("SECRET"), "{m}");
        let e = decode_meta_value(b"{\"a\":", "x").unwrap_err();
        assert!(e.to_string().contains("invalid JSON"), "{e}");
        let e = decode_meta_value(b"<html>", "x").unwrap_err();
        assert!(e.to_string().contains("neither JSON nor zlib"), "{e}");
        assert!(decode_meta_value(b"", "x").is_err());
        // zlib of something that is not JSON
        assert!(decode_meta_value(&zlib::deflate(b"hello"), "x").is_err());
    }

    #[test]
    fn urls() {
        let h = "92ab42631ff4742b309bb62c175e6306";
        assert_eq!(
            v2_meta_url("http://127.0.0.1:9/", h).unwrap(),
            format!("http://127.0.0.1:9/content-system/v2/meta/92/ab/{h}")
        );
        assert!(v2_meta_url("http://h", "zz").is_err());
        assert_eq!(
            v1_depot_manifest_url("https://c", "1207658930", "windows", "37794096", "a0.json").unwrap(),
            "https://c/content-system/v1/manifests/1207658930/windows/37794096/a0.json"
        );
        assert!(v1_depot_manifest_url("https://c", "1", "windows", "2", "../x.json").is_err());
        assert!(v1_depot_manifest_url("https://c", "1", "windows", "2", "..").is_err());
    }
}
