//! GOG's V2 -> V2 binary patches (`docs/gog-protocol.md` section 10): the `patches` endpoint,
//! the root patch manifest (`algorithm: xdelta3`, `depots[]`), the per-depot `DepotDiff`
//! manifests under `{cdn}/content-system/v2/patches/meta/`, and the secure link to the patch
//! store (`root=/patches/store`) through which the delta chunks are fetched.

use serde::Deserialize;

use super::secure_link::{parse_secure_link, SecureLink};
use super::{Bearer, Client};
use crate::error::{Error, Result};
use crate::manifest::de;
use crate::manifest::v2::Chunk;

/// The `patches` endpoint's answer when a patch exists.
#[derive(Debug, Clone, Deserialize)]
struct PatchLink {
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// A depot of the root patch manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchDepot {
    #[serde(deserialize_with = "de::string")]
    product_id: String,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(deserialize_with = "de::string")]
    manifest: String,
}

/// The root patch manifest (the `link`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchRoot {
    #[serde(default)]
    algorithm: String,
    #[serde(default)]
    depots: Vec<PatchDepot>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawDiffManifest {
    depot: RawDiffItems,
}

#[derive(Debug, Clone, Deserialize)]
struct RawDiffItems {
    #[serde(default)]
    items: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawDepotDiff {
    #[serde(deserialize_with = "de::string")]
    md5_source: String,
    #[serde(deserialize_with = "de::string")]
    md5_target: String,
    #[serde(deserialize_with = "de::string")]
    path_source: String,
    #[serde(deserialize_with = "de::string")]
    path_target: String,
    #[serde(default)]
    md5: Option<String>,
    #[serde(default)]
    chunks: Vec<Chunk>,
}

/// One file's patch: the delta (its chunks concatenated after inflating) turns the old file
/// `path_source` (MD5 `md5_source`) into `path_target` (MD5 `md5_target`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// Product whose patch store holds the delta chunks.
    pub product_id: String,
    /// Old file, safe relative path with `/` separators.
    pub path_source: String,
    /// New file, safe relative path with `/` separators.
    pub path_target: String,
    /// MD5 of the old file (lower-case hex).
    pub md5_source: String,
    /// MD5 of the new file (lower-case hex).
    pub md5_target: String,
    /// MD5 of the whole delta, when given.
    pub md5: Option<String>,
    /// The delta's chunks, in order.
    pub chunks: Vec<Chunk>,
}

impl FilePatch {
    /// Bytes of the delta (inflated).
    pub fn delta_size(&self) -> u64 {
        self.chunks.iter().map(|c| c.size).sum()
    }
    /// Bytes fetched for the delta (compressed chunks).
    pub fn download_size(&self) -> u64 {
        self.chunks.iter().map(|c| c.compressed_size).sum()
    }
}

fn hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parse a `DepotDiff` manifest of `product_id`; items of other types are refused (as
/// heroic-gogdl does: a patch it does not understand is not used).
#[doc(hidden)]
pub fn parse_depot_diffs(bytes: &[u8], product_id: &str, what: &str) -> Result<Vec<FilePatch>> {
    let raw: RawDiffManifest = crate::manifest::decode_meta(bytes, what)?;
    let mut out = Vec::with_capacity(raw.depot.items.len());
    for (i, it) in raw.depot.items.into_iter().enumerate() {
        let ty = it.get("type").and_then(|t| t.as_str()).unwrap_or("");
        if ty != "DepotDiff" {
            return Err(Error::manifest(what, format!("item {i}: unknown patch item type {ty:?}")));
        }
        let d: RawDepotDiff =
            serde_json::from_value(it).map_err(|e| Error::manifest(what, format!("item {i} (DepotDiff): {e}")))?;
        let (ms, mt) = (d.md5_source.to_ascii_lowercase(), d.md5_target.to_ascii_lowercase());
        if !hex32(&ms) || !hex32(&mt) || d.md5.as_deref().is_some_and(|m| !hex32(m)) {
            return Err(Error::manifest(what, format!("item {i}: a DepotDiff digest is not 32 hex digits")));
        }
        if d.chunks.is_empty() || d.chunks.iter().any(|c| !hex32(&c.md5) || !hex32(&c.compressed_md5)) {
            return Err(Error::manifest(what, format!("item {i}: a DepotDiff without valid chunks")));
        }
        out.push(FilePatch {
            product_id: product_id.to_string(),
            path_source: crate::manifest::path::safe_relative(&d.path_source)?,
            path_target: crate::manifest::path::safe_relative(&d.path_target)?,
            md5_source: ms,
            md5_target: mt,
            md5: d.md5.map(|m| m.to_ascii_lowercase()),
            chunks: d.chunks,
        });
    }
    Ok(out)
}

impl Client {
    /// The file patches GOG offers from build `from` to build `to` of `product_id`, for the
    /// depots `wanted(product_id, languages)` accepts; `None` when there is no usable patch
    /// (404 `not_found`, an `error` answer, an empty manifest, another algorithm).
    ///
    /// # Errors
    /// Network errors and malformed manifests (the caller falls back to chunk updates).
    pub fn patches(
        &self,
        product_id: &str,
        from: &str,
        to: &str,
        wanted: impl Fn(&str, &[String]) -> bool,
    ) -> Result<Option<Vec<FilePatch>>> {
        for (name, v) in [("product id", product_id), ("build id", from), ("build id", to)] {
            if v.is_empty() || v.len() > 40 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(Error::manifest("patches", format!("bad {name} {v:?}")));
            }
        }
        let url = format!(
            "{}/products/{product_id}/patches?_version=4&from_build_id={from}&to_build_id={to}",
            self.endpoints().content_system
        );
        let body = match self.api_get(&url, Bearer::IfLoggedIn) {
            Err(Error::HttpStatus { status: 404, .. }) => return Ok(None),
            r => r?,
        };
        let link: PatchLink = crate::manifest::decode_meta(&body, &url)?;
        let Some(link) = link.link.filter(|_| link.error.is_none()) else { return Ok(None) };
        let (_, root) = self.meta_parsed(&link, |raw| crate::manifest::decode_meta::<PatchRoot>(raw, &link))?;
        if root.algorithm != "xdelta3" {
            if !root.algorithm.is_empty() {
                log::info!("patch {from} -> {to} uses {:?}, not xdelta3; not used", root.algorithm);
            }
            return Ok(None);
        }
        let mut files = Vec::new();
        for d in root.depots.iter().filter(|d| wanted(&d.product_id, &d.languages)) {
            let url = format!(
                "{}/content-system/v2/patches/meta/{}",
                self.endpoints().cdn.trim_end_matches('/'),
                super::secure_link::galaxy_path(&d.manifest)?
            );
            let (_, diffs) = self.meta_parsed(&url, |raw| parse_depot_diffs(raw, &d.product_id, &url))?;
            files.extend(diffs);
        }
        Ok((!files.is_empty()).then_some(files))
    }

    /// The secure link to `product_id`'s patch store (`root=/patches/store`), which serves
    /// delta chunks.
    pub fn secure_link_patches(&self, product_id: &str) -> Result<SecureLink> {
        if product_id.is_empty() || !product_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::manifest("patch secure link", format!("bad product id {product_id:?}")));
        }
        let base = format!("{}/products/{product_id}/secure_link", self.endpoints().content_system);
        let url = format!("{base}?_version=2&generation=2&path=/&root=/patches/store");
        let body = match self.api_get(&url, Bearer::Required) {
            Err(Error::HttpStatus { status: 403, detail, .. }) if detail.as_deref() == Some("invalid_licence") => {
                return Err(Error::NotOwned { product_id: product_id.to_string() })
            }
            r => r?,
        };
        parse_secure_link(&body, product_id, &base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(extra: serde_json::Value) -> Vec<u8> {
        let mut it = serde_json::json!({
            "type": "DepotDiff",
            "md5_source": "0123456789abcdef0123456789abcdef",
            "md5_target": "FEDCBA9876543210FEDCBA9876543210",
            "path_source": "Data\\a.txt", "path_target": "\\Data\\a.txt",
            "chunks": [{"md5": "0123456789abcdef0123456789abcdef", "size": 10,
                        "compressedMd5": "00112233445566778899aabbccddeeff", "compressedSize": 12}],
        });
        if let (Some(o), Some(e)) = (it.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                o.insert(k.clone(), v.clone());
            }
        }
        serde_json::json!({"depot": {"items": [it]}}).to_string().into_bytes()
    }

    #[test]
    fn parses_depot_diffs_and_normalises_paths_and_digests() {
        let v = parse_depot_diffs(&item(serde_json::json!({})), "1", "t").unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].path_source.as_str(), v[0].path_target.as_str()), ("Data/a.txt", "Data/a.txt"));
        assert_eq!(v[0].md5_target, "fedcba9876543210fedcba9876543210");
        assert_eq!((v[0].delta_size(), v[0].download_size()), (10, 12));
    }

    #[test]
    fn refuses_hostile_depot_diffs() {
        for bad in [
            serde_json::json!({"path_target": "..\\..\\etc\\passwd"}),
            serde_json::json!({"path_source": "C:\\x"}),
            serde_json::json!({"md5_source": "zz"}),
            serde_json::json!({"md5": "short"}),
            serde_json::json!({"chunks": []}),
            serde_json::json!({"type": "DepotFile"}),
            serde_json::json!({"chunks": "nope"}),
        ] {
            assert!(parse_depot_diffs(&item(bad.clone()), "1", "t").is_err(), "{bad}");
        }
    }
}
