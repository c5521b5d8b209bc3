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

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Largest metadata JSON we parse (plain, or after inflation): a depot manifest of a 100 GB
/// game is a few MB.
pub const META_JSON_LIMIT: u64 = 256 << 20;

/// Decode a metadata body into `T`: plain JSON (first byte `{`, `[` or whitespace) is parsed as
/// is; a body starting with a zlib header is inflated while it is parsed (streaming, bounded by
/// [`META_JSON_LIMIT`]; never held whole in memory). `what` names the document in errors (a URL
/// is redacted).
pub fn decode_meta<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    decode_meta_cancel(bytes, what, None)
}

/// As [`decode_meta`], checking `cancel` between reads: a set flag ends the parse with
/// [`Error::Interrupted`].
pub fn decode_meta_cancel<T: DeserializeOwned>(bytes: &[u8], what: &str, cancel: Option<&AtomicBool>) -> Result<T> {
    match bytes.first() {
        None => Err(Error::manifest(what, "empty body")),
        // One reader type (`&mut dyn Read`) for both: every `T` is then instantiated once, not
        // once per reader (this halved the serde code of the binary); one virtual call per
        // 64 KiB refill costs nothing.
        Some(b'{' | b'[' | b' ' | b'\t' | b'\r' | b'\n') => parse_stream(&mut { bytes }, what, cancel),
        Some(_) if zlib::is_zlib_header(bytes) => {
            parse_stream(&mut flate2::read::ZlibDecoder::new(bytes), what, cancel)
        }
        Some(b) => Err(Error::manifest(what, format!("neither JSON nor zlib (first byte 0x{b:02x})"))),
    }
}

/// The error a [`Guard`] ends with once its cancel flag is set.
#[derive(Debug)]
struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// A reader that ends with an error past `left` bytes or once `cancel` is set.
struct Guard<'a, R> {
    inner: R,
    left: u64,
    limit: u64,
    cancel: Option<&'a AtomicBool>,
}

impl<R: Read> Read for Guard<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            // Not `ErrorKind::Interrupted`: readers retry that kind forever.
            return Err(std::io::Error::other(Cancelled));
        }
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(format!("metadata larger than {} bytes", self.limit)));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Parse one JSON document from `r` (at most `limit` bytes, `cancel` checked between reads).
///
/// Every JSON document the crate reads whole goes through here, so each `Deserialize` type is
/// compiled for this one deserializer type only (`serde_json::from_slice` and `from_reader`
/// would each add a copy of every type they parse; the copies cost ~100 KB of binary).
/// Parsing speed is the same: the `BufReader` is concrete, only its refill is a virtual call.
pub(crate) fn json_from_reader<T: DeserializeOwned>(
    r: &mut dyn Read,
    limit: u64,
    cancel: Option<&AtomicBool>,
    buf: usize,
) -> serde_json::Result<T> {
    let g = Guard { inner: r, left: limit, limit, cancel };
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(buf, g));
    T::deserialize(&mut de).and_then(|v| de.end().map(|()| v))
}

/// `serde_json::from_slice` through [`json_from_reader`]'s deserializer type.
pub(crate) fn json_from_slice<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    json_from_reader(&mut { bytes }, u64::MAX, None, bytes.len().clamp(1, 64 << 10))
}

fn parse_stream<T: DeserializeOwned>(r: &mut dyn Read, what: &str, cancel: Option<&AtomicBool>) -> Result<T> {
    json_from_reader(r, META_JSON_LIMIT, cancel, 64 << 10).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            // Broken or cut-off text: what a corrupt transfer looks like ([`is_garbled`]).
            return Error::manifest(what, format!("{GARBLED_JSON}: {e}"));
        }
        if !e.is_io() {
            return Error::manifest(what, format!("invalid JSON: {e}"));
        }
        let io = std::io::Error::from(e);
        if io.get_ref().is_some_and(|x| x.is::<Cancelled>()) {
            return Error::Interrupted;
        }
        match io.kind() {
            std::io::ErrorKind::UnexpectedEof => Error::manifest(what, "truncated zlib stream (no end marker)"),
            _ => Error::manifest(what, format!("invalid zlib data: {io}")),
        }
    })
}

const GARBLED_JSON: &str = "invalid JSON syntax";

/// Whether `e` (from decoding a metadata body) says the bytes are garbled — empty, neither
/// JSON nor zlib, a broken or truncated zlib stream, JSON cut off or with broken syntax — as a
/// corrupt transfer would leave them, rather than well-formed content that is refused (wrong
/// types, unsafe paths, a body over the size limit). The fetch policy fetches a garbled body
/// again.
pub fn is_garbled(e: &Error) -> bool {
    let Error::Manifest { reason, .. } = e else { return false };
    ["empty body", "neither JSON nor zlib", "truncated zlib stream", GARBLED_JSON].iter().any(|p| reason.starts_with(p))
        || (reason.starts_with("invalid zlib data") && !reason.contains("larger than"))
}

/// Like [`decode_meta`] into a generic JSON value (small, trusted documents only: a value of
/// untrusted size is what [`decode_meta`] into typed structs avoids).
pub fn decode_meta_value(bytes: &[u8], what: &str) -> Result<serde_json::Value> {
    decode_meta(bytes, what)
}

/// A reader of the JSON text of a metadata body (plain JSON, or zlib inflated as it is read,
/// at most [`zlib::INFLATE_LIMIT`] bytes): lets a caller save a manifest without holding its
/// inflated text. Read errors are the zlib stream's.
pub fn meta_json_reader<'a>(bytes: &'a [u8], what: &str) -> Result<Box<dyn Read + 'a>> {
    match bytes.first() {
        None => Err(Error::manifest(what, "empty body")),
        Some(b'{' | b'[' | b' ' | b'\t' | b'\r' | b'\n') => Ok(Box::new(bytes)),
        Some(_) if zlib::is_zlib_header(bytes) => {
            Ok(Box::new(flate2::read::ZlibDecoder::new(bytes).take(zlib::INFLATE_LIMIT as u64)))
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

/// Check a metadata body fetched by its hash: GOG names V2 meta (build and depot manifests,
/// dependency manifests) by the MD5 of the bytes served (the zlib stream, not the JSON in it).
/// `id` is the manifest id or galaxy path (`aa/bb/<md5>`); an id that is not an MD5 is not
/// checked (V1 manifests are named by UUID).
///
/// # Errors
/// [`Error::Checksum`] when the body is not what its name promises (a hostile mirror).
pub fn check_meta_hash(body: &[u8], id: &str, what: &str) -> Result<()> {
    let name = id.rsplit('/').next().unwrap_or(id);
    if !de::is_hex(name, 32) {
        return Ok(());
    }
    let actual = crate::verify::md5_hex(body);
    // GOG names meta by the MD5 of the zlib bytes it serves; should a name ever be the MD5 of
    // the JSON inside instead, that matches too (streamed, bounded: no copy of the text):
    // either way the content is tied to its name.
    let inflated_matches =
        || zlib::is_zlib_header(body) && inflated_md5(body).is_some_and(|h| h == name.to_ascii_lowercase());
    if !actual.eq_ignore_ascii_case(name) && !inflated_matches() {
        return Err(Error::Checksum {
            what: format!("metadata {}", crate::error::redact_url(what)),
            expected: name.to_ascii_lowercase(),
            actual,
        });
    }
    Ok(())
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

/// MD5 (hex) of the inflated zlib stream `body`, read in blocks and bounded by
/// [`META_JSON_LIMIT`]; `None` when the stream is bad or too large.
fn inflated_md5(body: &[u8]) -> Option<String> {
    use md5::{Digest, Md5};
    let mut z = flate2::read::ZlibDecoder::new(body);
    let mut h = Md5::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        let n = z.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > META_JSON_LIMIT {
            return None;
        }
        h.update(buf.get(..n)?);
    }
    Some(crate::verify::hex(&h.finalize()))
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
    fn cancel_and_hash_check() {
        let z = zlib::deflate(br#"{"depot":{"items":[]}}"#);
        let stop = AtomicBool::new(true);
        let e = decode_meta_cancel::<serde_json::Value>(&z, "x", Some(&stop)).unwrap_err();
        assert!(matches!(e, Error::Interrupted), "{e}");
        let go = AtomicBool::new(false);
        assert!(decode_meta_cancel::<serde_json::Value>(&z, "x", Some(&go)).is_ok());
        let h = crate::verify::md5_hex(&z);
        assert!(check_meta_hash(&z, &h, "x").is_ok());
        assert!(check_meta_hash(&z, &format!("{}/{}/{h}", &h[..2], &h[2..4]), "x").is_ok());
        assert!(check_meta_hash(&z, &h.to_ascii_uppercase(), "x").is_ok());
        let e = check_meta_hash(b"other bytes", &h, "x").unwrap_err();
        assert!(matches!(e, Error::Checksum { .. }), "{e}");
        assert!(check_meta_hash(b"anything", "a0e35d92-2a0f-40db.json", "x").is_ok(), "V1 names are not hashes");
        // A name that is the MD5 of the JSON inside also ties the content to it; another
        // document under that name does not pass.
        let json = br#"{"version":2,"b":[1,2]}"#;
        let z2 = zlib::deflate(json);
        let hj = crate::verify::md5_hex(json);
        assert!(check_meta_hash(&z2, &hj, "x").is_ok());
        let other = zlib::deflate(br#"{"version":2,"b":[1,3]}"#);
        assert!(check_meta_hash(&other, &hj, "x").is_err());
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
