//! V2 (generation 2) manifests: the build manifest (`BuildManifest`, fetched from a build's
//! `link`) and the depot manifest (`DepotManifest`, fetched by depot hash), as serde types that
//! tolerate numbers-as-strings and ignore unknown fields. Paths are kept exactly as GOG wrote them
//! (Windows separators); make them safe with [`crate::manifest::path::safe_relative`].

use serde::{Deserialize, Serialize};

use super::de;
use crate::error::{Error, Result};

/// The build ("repository") manifest of a V2 build.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BuildManifest {
    /// Manifest format version (2).
    #[serde(default, deserialize_with = "de::u64")]
    pub version: u64,
    /// The game this build belongs to.
    #[serde(deserialize_with = "de::string")]
    pub base_product_id: String,
    /// The build id (absent in some old manifests).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub build_id: Option<String>,
    /// Folder name suggested for the install.
    #[serde(default, deserialize_with = "de::string")]
    pub install_directory: String,
    /// `windows` or `osx`.
    #[serde(default, deserialize_with = "de::string")]
    pub platform: String,
    /// Content depots of the base game and every DLC.
    #[serde(default, deserialize_with = "de::capped_vec::<_, _, { de::MAX_LIST }>")]
    pub depots: Vec<DepotRef>,
    /// The base game and every DLC of this build.
    #[serde(default, deserialize_with = "de::capped_vec::<_, _, { de::MAX_LIST }>")]
    pub products: Vec<ProductRef>,
    /// Dependency (redistributable) ids, e.g. `MSVC2017_x64`.
    #[serde(default, deserialize_with = "de::vec_string")]
    pub dependencies: Vec<String>,
    /// A depot that no downloader reads; kept for completeness.
    #[serde(default)]
    pub offline_depot: Option<DepotRef>,
    /// True when the GOG install script should be run by the `ISI` dependency.
    #[serde(default, deserialize_with = "de::bool")]
    pub script_interpreter: bool,
    /// The game's own OAuth client id (cloud saves). Its secret is deliberately not kept.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub client_id: Option<String>,
}

/// A product (base game or DLC) named by a build manifest.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProductRef {
    /// Product id.
    #[serde(deserialize_with = "de::string")]
    pub product_id: String,
    /// Display name.
    #[serde(default, deserialize_with = "de::string")]
    pub name: String,
}

/// A depot listed in a build manifest.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DepotRef {
    /// The product (base game or DLC) the depot belongs to; its secure link serves the chunks.
    #[serde(deserialize_with = "de::string")]
    pub product_id: String,
    /// Language codes (`*`, `en-US`, `en`, ...).
    #[serde(default, deserialize_with = "de::vec_string")]
    pub languages: Vec<String>,
    /// Depot manifest id (32 hex) or galaxy path.
    #[serde(deserialize_with = "de::string")]
    pub manifest: String,
    /// Installed bytes.
    #[serde(default, deserialize_with = "de::u64")]
    pub size: u64,
    /// Download bytes.
    #[serde(default, deserialize_with = "de::u64")]
    pub compressed_size: u64,
    /// `["64"]`, `["32"]`, `["*"]` or absent (any).
    #[serde(default, deserialize_with = "de::opt_vec_string")]
    pub os_bitness: Option<Vec<String>>,
    /// GOG's own small depot (`goggame-*.info`, `.hashdb`, `.script`).
    #[serde(default, deserialize_with = "de::bool")]
    pub is_gog_depot: bool,
}

impl BuildManifest {
    /// Decode a build manifest body (JSON or zlib JSON).
    pub fn parse(bytes: &[u8], what: &str) -> Result<BuildManifest> {
        let m: BuildManifest = super::decode_meta(bytes, what)?;
        m.validate(what)?;
        Ok(m)
    }

    fn validate(&self, what: &str) -> Result<()> {
        if self.version != 0 && self.version != 2 {
            return Err(Error::manifest(what, format!("build manifest version {} is not 2", self.version)));
        }
        for d in &self.depots {
            if d.manifest.is_empty() {
                return Err(Error::manifest(what, format!("a depot of product {} has no manifest id", d.product_id)));
            }
        }
        Ok(())
    }

    /// The display name of `product_id`, if the manifest lists it.
    pub fn product_name(&self, product_id: &str) -> Option<&str> {
        self.products.iter().find(|p| p.product_id == product_id).map(|p| p.name.as_str())
    }
}

/// A depot manifest: the items (files, directories, links) of one depot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DepotManifest {
    /// Known items in manifest order (unknown item types are skipped with a warning).
    pub items: Vec<Item>,
    /// The small files container, if the depot has one.
    pub small_files_container: Option<Sfc>,
}

/// One item of a depot manifest; variants are named after GOG's `type` values.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum Item {
    /// A regular file.
    DepotFile(DepotFile),
    /// A directory to create.
    DepotDirectory {
        /// Raw manifest path.
        path: String,
    },
    /// A symbolic link (macOS builds); `target` is relative to the install directory.
    DepotLink {
        /// Raw manifest path of the link.
        path: String,
        /// Raw target.
        target: String,
    },
}

impl Item {
    /// The raw manifest path of the item.
    pub fn path(&self) -> &str {
        match self {
            Item::DepotFile(f) => &f.path,
            Item::DepotDirectory { path } | Item::DepotLink { path, .. } => path,
        }
    }
}

/// A `DepotFile` item.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DepotFile {
    /// Raw manifest path (Windows separators).
    #[serde(deserialize_with = "de::string")]
    pub path: String,
    /// The file is the concatenation of these chunks, inflated, in order. Empty = empty file.
    #[serde(default, deserialize_with = "de::capped_vec::<_, _, MAX_CHUNKS>")]
    pub chunks: Vec<Chunk>,
    /// MD5 of the whole file (lower-case hex), if given.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub md5: Option<String>,
    /// SHA-256 of the whole file (lower-case hex), if given.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub sha256: Option<String>,
    /// `executable`, `hidden`, `support`.
    #[serde(default, deserialize_with = "de::vec_string")]
    pub flags: Vec<String>,
    /// Where the file lies inside the inflated small files container.
    #[serde(default)]
    pub sfc_ref: Option<SfcRef>,
}

/// A byte range inside the inflated small files container.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct SfcRef {
    /// First byte.
    #[serde(deserialize_with = "de::u64")]
    pub offset: u64,
    /// Length.
    #[serde(deserialize_with = "de::u64")]
    pub size: u64,
}

/// The small files container of a depot.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Sfc {
    /// The container's chunks.
    #[serde(default, deserialize_with = "de::capped_vec::<_, _, MAX_CHUNKS>")]
    pub chunks: Vec<Chunk>,
    /// MD5 of the whole inflated container, if given.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub md5: Option<String>,
}

impl Sfc {
    /// Inflated size of the container.
    pub fn size(&self) -> u64 {
        self.chunks.iter().map(|c| c.size).sum()
    }
}

/// One chunk: a zlib object on the CDN (`compressed_md5`) that inflates to `size` bytes (`md5`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Chunk {
    /// MD5 of the inflated bytes.
    #[serde(deserialize_with = "de::string")]
    pub md5: String,
    /// Inflated length.
    #[serde(deserialize_with = "de::u64")]
    pub size: u64,
    /// MD5 of the stored zlib object; also its CDN name.
    #[serde(deserialize_with = "de::string")]
    pub compressed_md5: String,
    /// Stored length (may exceed `size` for incompressible data).
    #[serde(default, deserialize_with = "de::u64")]
    pub compressed_size: u64,
}

impl DepotFile {
    /// Size of the file: the sum of its chunks' inflated sizes.
    pub fn size(&self) -> u64 {
        self.chunks.iter().map(|c| c.size).sum()
    }

    /// The whole-file MD5 to check: `md5`, else the single chunk's `md5` (a zero-chunk file is
    /// the empty file's MD5). `None` for a multi-chunk file without `md5` (check `sha256` or the
    /// chunks instead).
    pub fn expected_md5(&self) -> Option<&str> {
        if let Some(m) = &self.md5 {
            return Some(m);
        }
        match self.chunks.as_slice() {
            [] => Some(EMPTY_MD5),
            [c] => Some(&c.md5),
            _ => None,
        }
    }

    /// `flags` contains `executable`.
    pub fn is_executable(&self) -> bool {
        self.has_flag("executable")
    }

    /// `flags` contains `support` (goes under `gog-support/<productId>/`).
    pub fn is_support(&self) -> bool {
        self.has_flag("support")
    }

    fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x.eq_ignore_ascii_case(f))
    }
}

/// MD5 of zero bytes.
pub const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// Most items in one depot manifest (a large real game has well under 200 000).
pub const MAX_ITEMS: usize = 1_000_000;
/// Most chunks of one file (10 MiB chunks: 10 TiB).
pub const MAX_CHUNKS: usize = 1 << 20;
/// Largest inflated size of one chunk (GOG's are ≤ 10 MiB, a tail chunk a little more).
pub const MAX_CHUNK_SIZE: u64 = 1 << 30;
/// Largest file (or small files container) a manifest may describe.
pub const MAX_FILE_SIZE: u64 = 1 << 40;
/// Distinct unknown item types named in the log; the rest are only counted.
const MAX_UNKNOWN_KINDS: usize = 4;

#[derive(Deserialize)]
struct RawDepotManifest {
    #[serde(default, deserialize_with = "de::u64")]
    #[allow(dead_code)]
    version: u64,
    depot: RawDepot,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDepot {
    #[serde(default)]
    items: ItemList,
    #[serde(default)]
    small_files_container: Option<Sfc>,
}

/// The `items` list, decoded one item at a time: each item is buffered alone as raw JSON text,
/// its `type` sniffed, and only known types are decoded into typed structs. Unknown items are
/// counted, never materialised; more than [`MAX_ITEMS`] items is an error.
#[derive(Default)]
struct ItemList {
    items: Vec<Item>,
    /// (type, count) of skipped items, the first few types only.
    unknown: Vec<(String, u64)>,
    /// Skipped items of further types.
    unknown_other: u64,
}

#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type", default, deserialize_with = "de::opt_string")]
    ty: Option<String>,
}

impl<'de> Deserialize<'de> for ItemList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ItemList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of depot items")
            }
            fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<ItemList, E> {
                Ok(ItemList::default())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<ItemList, A::Error> {
                use serde::de::Error as _;
                let mut out = ItemList::default();
                let mut i = 0usize;
                while let Some(raw) = seq.next_element::<Box<serde_json::value::RawValue>>()? {
                    if i >= MAX_ITEMS {
                        return Err(A::Error::custom(format!("more than {MAX_ITEMS} items")));
                    }
                    let text = raw.get();
                    let bad = |e: serde_json::Error| A::Error::custom(format!("item {i}: {e}"));
                    let ty = serde_json::from_str::<TypeOnly>(text).map_err(bad)?.ty.unwrap_or_default();
                    let item = match ty.as_str() {
                        "DepotFile" => {
                            let mut f: DepotFile = serde_json::from_str(text).map_err(bad)?;
                            normalize_file(&mut f)
                                .map_err(|r| A::Error::custom(format!("item {i} {:?}: {r}", short(&f.path))))?;
                            Some(Item::DepotFile(f))
                        }
                        "DepotDirectory" => {
                            Some(Item::DepotDirectory { path: serde_json::from_str::<RawDir>(text).map_err(bad)?.path })
                        }
                        "DepotLink" => {
                            let l: RawLink = serde_json::from_str(text).map_err(bad)?;
                            Some(Item::DepotLink { path: l.path, target: l.target })
                        }
                        other => {
                            let known = out.unknown.len();
                            match out.unknown.iter_mut().find(|(t, _)| t == other) {
                                Some((_, n)) => *n += 1,
                                None if known < MAX_UNKNOWN_KINDS => {
                                    out.unknown.push((other.chars().take(64).collect(), 1))
                                }
                                None => out.unknown_other += 1,
                            }
                            None
                        }
                    };
                    if let Some(item) = item {
                        check_item_path(item.path()).map_err(|r| A::Error::custom(format!("item {i}: {r}")))?;
                        out.items.push(item);
                    }
                    i += 1;
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

/// A path for a message: at most 200 characters.
fn short(p: &str) -> String {
    if p.len() <= 200 {
        return p.to_string();
    }
    let mut s: String = p.chars().take(200).collect();
    s.push('…');
    s
}

fn check_item_path(p: &str) -> std::result::Result<(), String> {
    if p.len() > super::path::MAX_PATH {
        return Err(format!("path of {} bytes is longer than {} bytes", p.len(), super::path::MAX_PATH));
    }
    Ok(())
}

#[derive(Deserialize)]
struct RawLink {
    #[serde(deserialize_with = "de::string")]
    path: String,
    #[serde(deserialize_with = "de::string")]
    target: String,
}

#[derive(Deserialize)]
struct RawDir {
    #[serde(deserialize_with = "de::string")]
    path: String,
}

impl DepotManifest {
    /// Decode a depot manifest body (JSON or zlib JSON) shaped
    /// `{"version":2,"depot":{"items":[..],"smallFilesContainer":{..}}}`, with bounded memory:
    /// streamed, at most [`MAX_ITEMS`] items, [`MAX_CHUNKS`] chunks per file, chunk, file and
    /// container sizes capped, unknown item types skipped (a few log lines in all).
    pub fn parse(bytes: &[u8], what: &str) -> Result<DepotManifest> {
        DepotManifest::parse_cancel(bytes, what, None)
    }

    /// As [`DepotManifest::parse`], ending with [`Error::Interrupted`] once `cancel` is set.
    pub fn parse_cancel(
        bytes: &[u8],
        what: &str,
        cancel: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<DepotManifest> {
        let raw: RawDepotManifest = super::decode_meta_cancel(bytes, what, cancel).map_err(|e| match e {
            Error::Manifest { what, reason } => Error::Manifest { what, reason: format!("depot manifest: {reason}") },
            e => e,
        })?;
        let list = raw.depot.items;
        let shown = crate::error::redact_url(what);
        for (ty, n) in &list.unknown {
            log::warn!("{shown}: skipped {n} item(s) of unknown type {ty:?}");
        }
        if list.unknown_other > 0 {
            log::warn!("{shown}: skipped {} more item(s) of other unknown types", list.unknown_other);
        }
        let mut sfc = raw.depot.small_files_container;
        if let Some(s) = &mut sfc {
            for c in &mut s.chunks {
                normalize_chunk(c).map_err(|r| Error::manifest(what, format!("small files container: {r}")))?;
            }
            normalize_opt_hex(&mut s.md5, 32, "md5").map_err(|r| Error::manifest(what, r))?;
            sized(&s.chunks).map_err(|r| Error::manifest(what, format!("small files container: {r}")))?;
        }
        Ok(DepotManifest { items: list.items, small_files_container: sfc })
    }

    /// The `DepotFile` items.
    pub fn files(&self) -> impl Iterator<Item = &DepotFile> {
        self.items.iter().filter_map(|i| match i {
            Item::DepotFile(f) => Some(f),
            _ => None,
        })
    }
}

/// The total of `chunks`' sizes, refusing absurd ones.
fn sized(chunks: &[Chunk]) -> std::result::Result<u64, String> {
    let mut total = 0u64;
    for c in chunks {
        if c.size > MAX_CHUNK_SIZE {
            return Err(format!("chunk of {} bytes (more than {MAX_CHUNK_SIZE})", c.size));
        }
        total = total.saturating_add(c.size);
    }
    if total > MAX_FILE_SIZE {
        return Err(format!("{total} bytes (more than {MAX_FILE_SIZE})"));
    }
    Ok(total)
}

fn normalize_opt_hex(v: &mut Option<String>, len: usize, name: &str) -> std::result::Result<(), String> {
    if let Some(s) = v {
        if s.is_empty() {
            *v = None;
        } else if !de::is_hex(s, len) {
            return Err(format!("{name} {s:?} is not {len} hex digits"));
        } else {
            s.make_ascii_lowercase();
        }
    }
    Ok(())
}

fn normalize_chunk(c: &mut Chunk) -> std::result::Result<(), String> {
    for (name, v) in [("md5", &mut c.md5), ("compressedMd5", &mut c.compressed_md5)] {
        if !de::is_hex(v, 32) {
            return Err(format!("chunk {name} {v:?} is not 32 hex digits"));
        }
        v.make_ascii_lowercase();
    }
    Ok(())
}

fn normalize_file(f: &mut DepotFile) -> std::result::Result<(), String> {
    for c in &mut f.chunks {
        normalize_chunk(c)?;
    }
    sized(&f.chunks)?;
    normalize_opt_hex(&mut f.md5, 32, "md5")?;
    normalize_opt_hex(&mut f.sha256, 64, "sha256")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::zlib::deflate;

    const BUILD: &str = r#"{
      "version": 2, "baseProductId": "1207658930", "buildId": 48906206523382029,
      "clientId": "4821", "clientSecret": "SECRET", "installDirectory": "The Witcher 2",
      "platform": "windows", "scriptInterpreter": true, "tags": [], "unknownField": {"x": 1},
      "dependencies": ["MSVC2010", "DirectX"],
      "products": [{"productId": 1207658930, "name": "The Witcher 2"}, {"productId": "1207659000", "name": "DLC"}],
      "depots": [
        {"productId": "1207658930", "languages": ["*"], "manifest": "c4f5e5b2a1e5c4d1a4b7c8d9e0f1a2b3",
         "size": 1024, "compressedSize": "351", "isGogDepot": true},
        {"productId": 1207658930, "languages": ["en-US"], "manifest": "92ab42631ff4742b309bb62c175e6306",
         "size": "24450928280", "compressedSize": 1, "osBitness": [64]}
      ],
      "offlineDepot": {"productId": "1", "languages": ["*"], "manifest": "00112233445566778899aabbccddeeff", "size": 1, "compressedSize": 1}
    }"#;

    #[test]
    fn build_manifest_lenient() {
        let m = BuildManifest::parse(&deflate(BUILD.as_bytes()), "build").unwrap();
        assert_eq!(m.base_product_id, "1207658930");
        assert_eq!(m.build_id.as_deref(), Some("48906206523382029"));
        assert_eq!(m.depots[0].compressed_size, 351);
        assert!(m.depots[0].is_gog_depot);
        assert_eq!(m.depots[1].size, 24450928280);
        assert_eq!(m.depots[1].os_bitness, Some(vec!["64".to_string()]));
        assert_eq!(m.depots[0].os_bitness, None);
        assert_eq!(m.products[0].product_id, "1207658930");
        assert_eq!(m.product_name("1207659000"), Some("DLC"));
        assert!(m.script_interpreter);
        assert_eq!(m.dependencies, vec!["MSVC2010", "DirectX"]);
        assert!(!format!("{m:?}").contains("SECRET"));
        // round trip through our own serialisation
        let again: BuildManifest = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn build_manifest_bad_input() {
        assert!(BuildManifest::parse(br#"{"version":2}"#, "b").is_err(), "baseProductId missing");
        assert!(BuildManifest::parse(br#"{"version":1,"baseProductId":"1"}"#, "b").is_err());
        let no_manifest = r#"{"baseProductId":"1","depots":[{"productId":"1","manifest":""}]}"#;
        assert!(BuildManifest::parse(no_manifest.as_bytes(), "b").is_err());
        let bad_size = r#"{"baseProductId":"1","depots":[{"productId":"1","manifest":"a","size":"big"}]}"#;
        assert!(BuildManifest::parse(bad_size.as_bytes(), "b").is_err());
        let z = deflate(BUILD.as_bytes());
        assert!(BuildManifest::parse(&z[..z.len() / 2], "b").is_err());
    }

    const MD5A: &str = "0123456789abcdef0123456789abcdef";
    const MD5B: &str = "FEDCBA9876543210FEDCBA9876543210";

    fn depot_json() -> String {
        format!(
            r#"{{"version":2,"depot":{{"items":[
            {{"type":"DepotFile","path":"CookedPC\\pack0.dzip","chunks":[
                {{"md5":"{MD5A}","size":10485760,"compressedMd5":"{MD5B}","compressedSize":9507293}},
                {{"md5":"{MD5B}","size":"5","compressedMd5":"{MD5A}","compressedSize":"7"}}],
              "md5":"{MD5A}","flags":["executable"],"extra":1}},
            {{"type":"DepotFile","path":"empty.txt","chunks":[]}},
            {{"type":"DepotFile","path":"one.bin","chunks":[{{"md5":"{MD5B}","size":3,"compressedMd5":"{MD5A}","compressedSize":3}}],
              "flags":["support","hidden"],"sfcRef":{{"offset":"10","size":3}}}},
            {{"type":"DepotDirectory","path":"saves"}},
            {{"type":"DepotLink","path":"Game.app/Current","target":"Game.app/Versions/A"}},
            {{"type":"DepotDiff","path":"x"}}
            ],"smallFilesContainer":{{"chunks":[{{"md5":"{MD5A}","size":100,"compressedMd5":"{MD5B}","compressedSize":50}}]}}}}}}"#
        )
    }

    #[test]
    fn depot_manifest_items() {
        let m = DepotManifest::parse(&deflate(depot_json().as_bytes()), "depot").unwrap();
        assert_eq!(m.items.len(), 5, "DepotDiff skipped");
        let files: Vec<_> = m.files().collect();
        assert_eq!(files[0].path, "CookedPC\\pack0.dzip");
        assert_eq!(files[0].size(), 10485765);
        assert_eq!(files[0].chunks[0].compressed_md5, MD5B.to_ascii_lowercase());
        assert_eq!(files[0].expected_md5(), Some(MD5A));
        assert!(files[0].is_executable() && !files[0].is_support());
        assert_eq!(files[1].size(), 0);
        assert_eq!(files[1].expected_md5(), Some(EMPTY_MD5));
        assert_eq!(files[2].expected_md5(), Some(MD5B.to_ascii_lowercase().as_str()));
        assert!(files[2].is_support());
        assert_eq!(files[2].sfc_ref, Some(SfcRef { offset: 10, size: 3 }));
        assert_eq!(m.items[3], Item::DepotDirectory { path: "saves".into() });
        assert_eq!(m.items[4].path(), "Game.app/Current");
        assert_eq!(m.small_files_container.as_ref().unwrap().size(), 100);
        let multi_no_md5 = DepotFile { md5: None, ..files[0].clone() };
        assert_eq!(multi_no_md5.expected_md5(), None);
    }

    #[test]
    fn depot_manifest_bad_input() {
        let bad_md5 = depot_json().replacen(MD5A, "0123", 1);
        let e = DepotManifest::parse(bad_md5.as_bytes(), "d").unwrap_err();
        assert!(e.to_string().contains("hex"), "{e}");
        assert!(DepotManifest::parse(br#"{"version":2}"#, "d").is_err(), "depot missing");
        assert!(DepotManifest::parse(br#"{"depot":{"items":[{"type":"DepotFile"}]}}"#, "d").is_err());
        assert!(DepotManifest::parse(br#"{"depot":{"items":[{"type":"DepotLink","path":"a"}]}}"#, "d").is_err());
        let m = DepotManifest::parse(br#"{"depot":{}}"#, "d").unwrap();
        assert!(m.items.is_empty() && m.small_files_container.is_none());
        let sha = r#"{"depot":{"items":[{"type":"DepotFile","path":"a","chunks":[],"sha256":"abc"}]}}"#;
        assert!(DepotManifest::parse(sha.as_bytes(), "d").is_err());
    }
}
