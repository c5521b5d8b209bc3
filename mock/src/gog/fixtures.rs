//! The GOG mock's fixture products: turns the readable descriptions of `fixtures/` (loaded by
//! `super::files`) into file data, zlib chunks and served manifests; generates what is large or
//! random (V1 `main.bin` blobs and their depot records, the benchmark products); and builds the
//! public [`Fixtures`] description tests assert against.
//!
//! Sizes below use `cs` = [`MockConfig::chunk_size`]. Chunks are zlib level 1 (manifests level
//! 6); chunk `md5` = MD5 of the inflated bytes, `compressedMd5` = MD5 of the zlib object.
//! Automatic chunking emits `cs` pieces while at least `2*cs` remain, then one tail piece, so a
//! tail chunk may be up to 2x `cs` (as on GOG's CDN).
//!
//! **1000000001 "Fixture Quest"** (V2 builds, depots, DLCs, a private `beta` branch) and the
//! **dependency repository** are described by the committed files of `fixtures/quest/` and
//! `fixtures/dependencies/` (see `fixtures/README.md`); `super::files` loads them and this
//! module turns their content descriptions into chunks. The owned list is `fixtures/owned.json`.
//!
//! **1000000003 "Fixture Legacy"** (V1 build `3003`, timestamp 1600000003, windows; listing,
//! `repository.json` and the depot manifests' layout in `fixtures/legacy/`, laid out here): one
//! `main.bin` of [`MockConfig::v1_blob_size`] random bytes; Neutral depot with up to 1000 small
//! files (1-64 KiB, filling at most half the blob), `/Game.exe` (executable),
//! `/support/readme.txt` (support), 4 large files filling the rest, `/Data/empty.dat` (size 0),
//! `/Data/duplicate_of_3.dat` (same offset and hash as another file), directory records;
//! English depot with 5 files; a `redist` entry `MOCKREDIST`. Generated on a background thread.
//!
//! **1000000004 "Bench V2"** (build `1400000000000001`, only with `bench_v2_size`):
//! `bench_v2_files` files (default 4: `bench\file{0..3}.bin`; more: `bench\dNNN\fileNNNNN.bin`,
//! 100 per directory) of `size/files` each, ~1.56:1 compressible (chunks encoded by the
//! fast [`crate::data::rle_zlib`]). **1000000005 "Bench V1"**
//! (build `3005`, timestamp 1600000005, only with `bench_v1_size`): Fixture Legacy's Neutral
//! depot layout with ~1000 small files of 1-32 KiB and 8 large files.
//!

use crate::data::{compressible_bytes, fill_compressible, hex, md5_hex, Rng};
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;

use super::MockConfig;

/// Product id of "Fixture Quest" (V2, windows + osx, DLCs, beta branch).
pub const QUEST: u64 = 1000000001;
/// Owned DLC of Fixture Quest.
pub const DLC_OWNED: u64 = 1000000002;
/// "Fixture Legacy" (V1 only).
pub const LEGACY: u64 = 1000000003;
/// "Bench V2" (only when `bench_v2_size` is set).
pub const BENCH_V2: u64 = 1000000004;
/// "Bench V1" (only when `bench_v1_size` is set).
pub const BENCH_V1: u64 = 1000000005;
/// Unowned DLC of Fixture Quest.
pub const DLC_UNOWNED: u64 = 1000000009;

/// Fixture Quest's older public windows build.
pub const QUEST_BUILD_OLD: &str = "1100000000000001";
/// Fixture Quest's newer public windows build (listed first).
pub const QUEST_BUILD_NEW: &str = "1100000000000002";
/// Fixture Quest's private `beta` branch build.
pub const QUEST_BUILD_BETA: &str = "1100000000000003";
/// Fixture Quest's osx build.
pub const QUEST_BUILD_OSX: &str = "1100000000000021";
/// Branch name of the private build.
pub const BETA_BRANCH: &str = "beta";
/// Password of the private branch.
pub const BETA_PASSWORD: &str = "s3cret";
/// Fixture Legacy's V1 build id.
pub const LEGACY_BUILD: &str = "3003";
/// Fixture Legacy's V1 repository timestamp (`legacy_build_id`).
pub const LEGACY_TIMESTAMP: u64 = 1600000003;
/// Bench V2 build id.
pub const BENCH_V2_BUILD: &str = "1400000000000001";
/// Bench V1 build id.
pub const BENCH_V1_BUILD: &str = "3005";
/// Bench V1 repository timestamp.
pub const BENCH_V1_TIMESTAMP: u64 = 1600000005;
/// Build id reported by the dependency repository.
pub const DEPS_BUILD: &str = "1500000000000001";
/// The game's own OAuth client id written into V2 build manifests.
pub const GAME_CLIENT_ID: &str = "58000000000000001";
/// The game's own OAuth client secret written into V2 build manifests.
pub const GAME_CLIENT_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// What an expected install entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory (`DepotDirectory` / V1 `directory: true`).
    Directory,
    /// A symlink (`DepotLink`); `target` is relative to the install dir, forward slashes.
    Symlink {
        /// Link target as given in the manifest (converted to forward slashes).
        target: String,
    },
}

/// One entry a correct install of a selection must contain.
#[derive(Debug, Clone)]
pub struct ExpectedEntry {
    /// Install-relative path, forward slashes; support files under `gog-support/<productId>/`;
    /// path segments differing only in case use the first spelling seen in the build (depot
    /// order, then item order).
    pub path: String,
    /// The path as written in the manifest, `\` converted to `/`, leading `/` stripped.
    pub manifest_path: String,
    /// File, directory or symlink.
    pub kind: EntryKind,
    /// File size in bytes (0 for directories and links).
    pub size: u64,
    /// Hex MD5 of the whole file content (always computed, even when the manifest omits it).
    pub md5: String,
    /// `executable` flag.
    pub executable: bool,
    /// `support` flag.
    pub support: bool,
    /// `hidden` flag.
    pub hidden: bool,
    /// Product the depot belongs to.
    pub product_id: u64,
    /// Depot manifest id (V2 hash) or V1 depot manifest file name.
    pub depot: String,
    /// The depot's `languages`.
    pub languages: Vec<String>,
    /// The depot's `osBitness`, if any.
    pub os_bitness: Option<Vec<String>>,
    /// The depot is marked `isGogDepot`.
    pub is_gog_depot: bool,
    /// The file is a member of a small-files container (`sfcRef`).
    pub sfc_member: bool,
    /// V2: hex MD5 of each inflated chunk in order; empty for V1.
    pub chunk_md5s: Vec<String>,
    /// V2: `compressedMd5` of each chunk in order (the CDN object names); empty for V1.
    pub chunk_compressed_md5s: Vec<String>,
    /// V1: offset into `main.bin`.
    pub v1_offset: Option<u64>,
}

/// One build of a product and everything its depots contain.
#[derive(Debug, Clone)]
pub struct ExpectedBuild {
    /// Product id.
    pub product_id: u64,
    /// `build_id` as listed.
    pub build_id: String,
    /// `windows` or `osx`.
    pub os: String,
    /// 1 (V1 `main.bin`) or 2 (V2 chunks).
    pub generation: u8,
    /// Branch name (`None` = public default).
    pub branch: Option<String>,
    /// Password needed to list the build.
    pub password: Option<String>,
    /// V1 repository timestamp.
    pub legacy_build_id: Option<u64>,
    /// Path (on the mock's origin) of the build's `link`.
    pub link_path: String,
    /// Dependency ids of the build manifest (V2) or V1 `redist` entries.
    pub dependencies: Vec<String>,
    /// `installDirectory`.
    pub install_directory: String,
    /// Every entry of every depot of the build (all languages, bitnesses and products).
    pub entries: Vec<ExpectedEntry>,
}

/// Does a depot language `depot_lang` match the wanted language `want`?
/// `*` and `Neutral` match everything; otherwise case-insensitive equality, primary-subtag
/// equality (`en-US` ~ `en`) or the English name (`en-US` ~ `English`, `de-DE` ~ `German`).
pub fn lang_matches(depot_lang: &str, want: &str) -> bool {
    if depot_lang == "*" || depot_lang.eq_ignore_ascii_case("neutral") {
        return true;
    }
    if depot_lang.eq_ignore_ascii_case(want) {
        return true;
    }
    let primary = |s: &str| {
        let p = s.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match p.as_str() {
            "english" => "en".to_string(),
            "german" => "de".to_string(),
            _ => p,
        }
    };
    primary(depot_lang) == primary(want)
}

impl ExpectedBuild {
    /// Entries selected by language `lang` (see [`lang_matches`]), bitness (`"32"`/`"64"`;
    /// depots without `osBitness` always match) and the set of product ids to install
    /// (base game and wanted owned DLCs).
    pub fn select(&self, lang: &str, bitness: &str, products: &[u64]) -> Vec<&ExpectedEntry> {
        self.entries
            .iter()
            .filter(|e| products.contains(&e.product_id))
            .filter(|e| e.languages.iter().any(|l| lang_matches(l, lang)))
            .filter(|e| match &e.os_bitness {
                None => true,
                Some(b) => b.iter().any(|x| x == "*" || x == bitness),
            })
            .collect()
    }

    /// Only the regular files of [`ExpectedBuild::select`].
    pub fn select_files(&self, lang: &str, bitness: &str, products: &[u64]) -> Vec<&ExpectedEntry> {
        self.select(lang, bitness, products).into_iter().filter(|e| e.kind == EntryKind::File).collect()
    }

    /// The entry with install path `path` (exact match).
    pub fn entry(&self, path: &str) -> Option<&ExpectedEntry> {
        self.entries.iter().find(|e| e.path == path)
    }
}

/// A dependency of the dependency repository.
#[derive(Debug, Clone)]
pub struct ExpectedDependency {
    /// `dependencyId`.
    pub id: String,
    /// `executable.path` (`__redist/...` = shared system redistributable).
    pub executable_path: String,
    /// `internal` flag.
    pub internal: bool,
    /// The dependency depot's files (paths as in the manifest, forward slashes).
    pub entries: Vec<ExpectedEntry>,
}

/// Everything the mock serves, described for assertions.
#[derive(Debug, Clone)]
pub struct Fixtures {
    /// All builds (every product, os, branch).
    pub builds: Vec<ExpectedBuild>,
    /// The dependency repository's entries.
    pub dependencies: Vec<ExpectedDependency>,
    /// Product ids owned by the fixture user.
    pub owned: Vec<u64>,
    /// `(productId, name)` of every product.
    pub products: Vec<(u64, String)>,
}

impl Fixtures {
    /// The build `build_id` of `product_id`.
    pub fn build(&self, product_id: u64, build_id: &str) -> Option<&ExpectedBuild> {
        self.builds.iter().find(|b| b.product_id == product_id && b.build_id == build_id)
    }

    /// A dependency by id.
    pub fn dependency(&self, id: &str) -> Option<&ExpectedDependency> {
        self.dependencies.iter().find(|d| d.id == id)
    }
}

// ---------------------------------------------------------------------------------------------
// Served content

/// A build as listed by the builds endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub product_id: u64,
    pub os: String,
    pub build_id: String,
    pub generation: u8,
    pub branch: Option<String>,
    pub password: Option<String>,
    pub version_name: String,
    pub date_published: String,
    pub link_path: String,
    pub legacy_build_id: Option<u64>,
}

/// Bytes the mock serves, keyed for the router.
#[derive(Default)]
pub(crate) struct Content {
    /// `/content-system/v2/meta/..` by hash.
    pub meta: HashMap<String, Arc<[u8]>>,
    /// `/content-system/v2/dependencies/meta/..` by hash.
    pub dep_meta: HashMap<String, Arc<[u8]>>,
    /// Product store chunks by (product id, compressedMd5).
    pub chunks: HashMap<(u64, String), Arc<[u8]>>,
    /// Dependency store chunks by compressedMd5.
    pub dep_chunks: HashMap<String, Arc<[u8]>>,
    /// Builds listing, newest first per product/os.
    pub listings: Vec<Listing>,
    /// Hash of the dependency repository manifest.
    pub dep_repo_hash: String,
    /// compressedMd5 of small-files containers.
    pub sfc_chunks: HashSet<String>,
    /// compressedMd5 of SFC member chunks.
    pub sfc_member_chunks: HashSet<String>,
    /// Products with private branches.
    pub private_products: HashSet<u64>,
}

/// V1 products, generated on a background thread (the 64 MiB blob and its hashes are the
/// slowest part of start-up).
#[derive(Default)]
pub(crate) struct V1Content {
    /// V1 manifests by path after `/content-system/v1/manifests/`.
    pub manifests: HashMap<String, Arc<[u8]>>,
    /// V1 blobs by `{id}/{os}/{ts}`.
    pub main_bins: HashMap<String, Arc<[u8]>>,
    /// The V1 builds' fixtures.
    pub builds: Vec<ExpectedBuild>,
}

fn v1_listing(product_id: u64, build_id: &str, ts: u64, version: &str, date: &str) -> Listing {
    Listing {
        product_id,
        os: "windows".into(),
        build_id: build_id.into(),
        generation: 1,
        branch: None,
        password: None,
        version_name: version.into(),
        date_published: date.into(),
        link_path: format!("/content-system/v1/manifests/{product_id}/windows/{ts}/repository.json"),
        legacy_build_id: Some(ts),
    }
}

/// A chunk record of a manifest.
#[derive(Debug, Clone)]
pub(crate) struct ChunkRec {
    md5: String,
    size: u64,
    pub(crate) cmd5: String,
    csize: u64,
}

impl ChunkRec {
    pub(crate) fn json(&self) -> Value {
        json!({"md5": self.md5, "size": self.size, "compressedMd5": self.cmd5, "compressedSize": self.csize})
    }
}

/// `None` product = dependency store.
pub(crate) type StoreKey = Option<u64>;

fn zlib(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::with_capacity(data.len() / 2 + 64), Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Compresses and stores chunks, deduplicating identical content per store.
pub(crate) struct Chunker<'a> {
    pub(crate) content: &'a mut Content,
    seen: HashMap<(StoreKey, String), ChunkRec>,
}

impl Chunker<'_> {
    pub(crate) fn chunk(&mut self, store: StoreKey, data: &[u8]) -> ChunkRec {
        let md5 = md5_hex(data);
        if let Some(r) = self.seen.get(&(store, md5.clone())) {
            return r.clone();
        }
        let z = zlib(data, 1);
        let rec = ChunkRec { md5: md5.clone(), size: data.len() as u64, cmd5: md5_hex(&z), csize: z.len() as u64 };
        self.insert(store, &rec, Arc::from(z));
        self.seen.insert((store, md5), rec.clone());
        rec
    }

    fn insert(&mut self, store: StoreKey, rec: &ChunkRec, z: Arc<[u8]>) {
        match store {
            Some(p) => {
                self.content.chunks.insert((p, rec.cmd5.clone()), z);
            }
            None => {
                self.content.dep_chunks.insert(rec.cmd5.clone(), z);
            }
        }
    }
}

/// Split `data` into chunk-size pieces; the tail piece absorbs a remainder below one chunk, so
/// the last chunk may be up to 2x `cs` (as on GOG's CDN).
fn auto_pieces(len: usize, cs: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut left = len;
    while left >= 2 * cs {
        v.push(cs);
        left -= cs;
    }
    if left > 0 {
        v.push(left);
    }
    v
}

#[derive(Default, Clone, Copy)]
pub(crate) struct Opts {
    pub(crate) md5: bool,
    pub(crate) sha256: bool,
    pub(crate) executable: bool,
    pub(crate) support: bool,
    pub(crate) hidden: bool,
}

pub(crate) struct DepotB {
    pub(crate) product_id: u64,
    pub(crate) languages: Vec<String>,
    pub(crate) bitness: Option<Vec<String>>,
    pub(crate) is_gog: bool,
    pub(crate) plain: bool,
    pub(crate) items: Vec<Value>,
    pub(crate) entries: Vec<ExpectedEntry>,
    pub(crate) size: u64,
    pub(crate) csize: u64,
    pub(crate) sfc: Option<Value>,
    pub(crate) store: StoreKey,
}

fn norm(p: &str) -> String {
    p.replace('\\', "/").trim_start_matches('/').to_string()
}

impl DepotB {
    pub(crate) fn new(product_id: u64, langs: &[&str]) -> DepotB {
        DepotB {
            product_id,
            languages: langs.iter().map(|s| s.to_string()).collect(),
            bitness: None,
            is_gog: false,
            plain: false,
            items: Vec::new(),
            entries: Vec::new(),
            size: 0,
            csize: 0,
            sfc: None,
            store: Some(product_id),
        }
    }

    fn entry(&self, path: &str, kind: EntryKind) -> ExpectedEntry {
        ExpectedEntry {
            path: norm(path),
            manifest_path: norm(path),
            kind,
            size: 0,
            md5: String::new(),
            executable: false,
            support: false,
            hidden: false,
            product_id: self.product_id,
            depot: String::new(),
            languages: self.languages.clone(),
            os_bitness: self.bitness.clone(),
            is_gog_depot: self.is_gog,
            sfc_member: false,
            chunk_md5s: Vec::new(),
            chunk_compressed_md5s: Vec::new(),
            v1_offset: None,
        }
    }

    /// Add a file made of `pieces` (each one chunk).
    pub(crate) fn file_pieces(&mut self, ch: &mut Chunker, path: &str, pieces: &[&[u8]], o: Opts) -> usize {
        let mut recs = Vec::new();
        let mut all = Vec::new();
        for p in pieces {
            recs.push(ch.chunk(self.store, p));
            all.extend_from_slice(p);
        }
        let mut item = json!({"type": "DepotFile", "path": path,
            "chunks": recs.iter().map(ChunkRec::json).collect::<Vec<_>>()});
        let md5 = md5_hex(&all);
        if o.md5 {
            item["md5"] = json!(md5);
        }
        if o.sha256 {
            use sha2::{Digest, Sha256};
            item["sha256"] = json!(hex(&Sha256::digest(&all)));
        }
        let mut flags = Vec::new();
        if o.executable {
            flags.push("executable");
        }
        if o.support {
            flags.push("support");
        }
        if o.hidden {
            flags.push("hidden");
        }
        if !flags.is_empty() {
            item["flags"] = json!(flags);
        }
        self.items.push(item);
        self.size += all.len() as u64;
        self.csize += recs.iter().map(|r| r.csize).sum::<u64>();
        let mut e = self.entry(path, EntryKind::File);
        if o.support {
            e.path = format!("gog-support/{}/{}", self.product_id, e.path);
        }
        e.size = all.len() as u64;
        e.md5 = md5;
        e.executable = o.executable;
        e.support = o.support;
        e.hidden = o.hidden;
        e.chunk_md5s = recs.iter().map(|r| r.md5.clone()).collect();
        e.chunk_compressed_md5s = recs.iter().map(|r| r.cmd5.clone()).collect();
        self.entries.push(e);
        self.items.len() - 1
    }

    /// Add a file chunked automatically by `cs`.
    pub(crate) fn file(&mut self, ch: &mut Chunker, cs: usize, path: &str, data: &[u8], o: Opts) {
        let mut pieces = Vec::new();
        let mut off = 0;
        for n in auto_pieces(data.len(), cs) {
            pieces.push(&data[off..off + n]);
            off += n;
        }
        self.file_pieces(ch, path, &pieces, o);
    }

    pub(crate) fn dir(&mut self, path: &str) {
        self.items.push(json!({"type": "DepotDirectory", "path": path}));
        self.entries.push(self.entry(path, EntryKind::Directory));
    }

    pub(crate) fn link(&mut self, path: &str, target: &str) {
        self.items.push(json!({"type": "DepotLink", "path": path, "target": target}));
        self.entries.push(self.entry(path, EntryKind::Symlink { target: norm(target) }));
    }

    /// Serialize, store under `meta` (zlib unless `plain`), return (hash, entries, depot json).
    pub(crate) fn finish(
        mut self,
        meta: &mut HashMap<String, Arc<[u8]>>,
        version: u32,
    ) -> (String, Vec<ExpectedEntry>, Value) {
        let mut depot = json!({"items": self.items});
        if let Some(s) = self.sfc.take() {
            depot["smallFilesContainer"] = s;
        }
        let body = json!({"version": version, "depot": depot}).to_string();
        let served = if self.plain { body.into_bytes() } else { zlib(body.as_bytes(), 6) };
        let hash = md5_hex(&served);
        meta.insert(hash.clone(), Arc::from(served));
        for e in &mut self.entries {
            e.depot = hash.clone();
        }
        let mut dj = json!({"productId": self.product_id.to_string(), "languages": self.languages,
            "manifest": hash, "size": self.size, "compressedSize": self.csize});
        if let Some(b) = &self.bitness {
            dj["osBitness"] = json!(b);
        }
        if self.is_gog {
            dj["isGogDepot"] = json!(true);
        }
        (hash, self.entries, dj)
    }
}

/// Rewrite each entry's path so that segments differing only in case use the first spelling.
pub(crate) fn canonicalize_case(entries: &mut [ExpectedEntry]) {
    let mut seen: HashMap<String, String> = HashMap::new();
    for e in entries.iter_mut() {
        let mut out = String::new();
        let mut key = String::new();
        for seg in e.path.split('/') {
            if !key.is_empty() {
                key.push('/');
                out.push('/');
            }
            key.push_str(&seg.to_lowercase());
            let spelled = seen.entry(key.clone()).or_insert_with(|| format!("{out}{seg}")).clone();
            out = spelled;
        }
        e.path = out;
    }
}

pub(crate) fn galaxy_path(h: &str) -> String {
    format!("{}/{}/{}", &h[0..2], &h[2..4], h)
}

pub(crate) fn gen_seed(tag: &str) -> u64 {
    // FNV-1a of the tag: stable per-file seeds.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in tag.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

pub(crate) fn cdata(tag: &str, len: usize) -> Vec<u8> {
    compressible_bytes(gen_seed(tag), len)
}

/// Serialize `v` compactly, zlib it (level 6, as GOG's meta) and store it under its MD5 in
/// `meta`; returns the hash.
pub(crate) fn store_meta(meta: &mut HashMap<String, Arc<[u8]>>, v: &Value) -> String {
    let z = zlib(v.to_string().as_bytes(), 6);
    let hash = md5_hex(&z);
    meta.insert(hash.clone(), Arc::from(z));
    hash
}

/// Bench V2's build manifest around its one depot `d` (the shape of `fixtures/quest/*.json`).
fn bench_v2_finish(content: &mut Content, d: DepotB) -> ExpectedBuild {
    let (_, mut entries, dj) = d.finish(&mut content.meta, 2);
    canonicalize_case(&mut entries);
    let pid = BENCH_V2.to_string();
    let manifest = json!({
        "version": 2, "baseProductId": pid, "buildId": BENCH_V2_BUILD,
        "clientId": GAME_CLIENT_ID, "clientSecret": GAME_CLIENT_SECRET,
        "dependencies": [], "depots": [dj], "installDirectory": "Bench V2",
        "offlineDepot": {"productId": pid, "languages": ["*"], "manifest": "00000000000000000000000000000000", "size": 0, "compressedSize": 0},
        "platform": "windows", "products": [{"productId": pid, "name": "Bench V2"}],
        "scriptInterpreter": false, "tags": [],
    });
    let hash = store_meta(&mut content.meta, &manifest);
    ExpectedBuild {
        product_id: BENCH_V2,
        build_id: BENCH_V2_BUILD.to_string(),
        os: "windows".to_string(),
        generation: 2,
        branch: None,
        password: None,
        legacy_build_id: None,
        link_path: format!("/content-system/v2/meta/{}", galaxy_path(&hash)),
        dependencies: Vec::new(),
        install_directory: "Bench V2".to_string(),
        entries,
    }
}

fn listing(b: &ExpectedBuild, version: &str, date: &str) -> Listing {
    Listing {
        product_id: b.product_id,
        os: b.os.clone(),
        build_id: b.build_id.clone(),
        generation: b.generation,
        branch: b.branch.clone(),
        password: b.password.clone(),
        version_name: version.to_string(),
        date_published: date.to_string(),
        link_path: b.link_path.clone(),
        legacy_build_id: b.legacy_build_id,
    }
}

/// Output of one V1 product generation.
struct V1Out {
    blob: Arc<[u8]>,
    build: ExpectedBuild,
    manifests: Vec<(String, Vec<u8>)>,
}

/// One file record of a V1 depot being laid out over `main.bin`.
struct V1File {
    path: String,
    off: u64,
    size: u64,
    /// `""`, `"executable"` or `"support"`.
    flag: &'static str,
    /// A second path for bytes already listed: not counted in the depot's size.
    duplicate: bool,
}

/// A record of a V1 depot manifest: literal (directories, `/Data/empty.dat`) or a file whose
/// offset, size and hash depend on the generated `main.bin`.
enum V1Rec {
    Literal(Value),
    File(V1File),
}

/// `{name}` / `{name:0W}` placeholders of a fixture path template.
fn fill_path(template: &str, vars: &[(&str, usize)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), &v.to_string());
        for w in 1..=8 {
            out = out.replace(&format!("{{{k}:0{w}}}"), &format!("{v:0w$}"));
        }
    }
    out
}

/// Lay out the records of a V1 depot manifest fixture (`fixtures/legacy/<uuid>.json`): literal
/// records are kept; `_small_files`, `_size`, `_large_files` and `_same_bytes_as` are turned into
/// file records over `main.bin` (`total` bytes, next free offset `off`). `listed` collects the
/// regions of the files laid out so far in order (what `_same_bytes_as` refers to).
fn v1_layout(
    depot: &Value,
    product_id: u64,
    total: usize,
    off: &mut usize,
    listed: &mut Vec<(u64, u64)>,
    ctx: &str,
) -> Vec<V1Rec> {
    let mut recs = Vec::new();
    let earlier = listed.clone();
    let mut push = |recs: &mut Vec<V1Rec>, path: String, o: usize, len: usize, flag: &'static str| {
        recs.push(V1Rec::File(V1File { path, off: o as u64, size: len as u64, flag, duplicate: false }));
        listed.push((o as u64, len as u64));
    };
    for r in depot["depot"]["files"].as_array().into_iter().flatten() {
        let flag = if r["executable"] == true {
            "executable"
        } else if r["support"] == true {
            "support"
        } else {
            ""
        };
        if let Some(g) = r.get("_small_files") {
            // Files of random sizes in min..=max (seeded by the product id), while they fit in
            // the first half of main.bin; `duplicate` repeats one of them under another path.
            let mut rng = Rng::new(product_id);
            let (min, max) = (g["min_size"].as_u64().unwrap_or(1024), g["max_size"].as_u64().unwrap_or(65536));
            let dirs = g["dirs"].as_u64().unwrap_or(1).max(1) as usize;
            let template = g["path"].as_str().unwrap_or_else(|| panic!("{ctx}: _small_files.path missing"));
            let dup_of = g["duplicate"]["of"].as_u64().map(|n| n as usize);
            for i in 0..g["count"].as_u64().unwrap_or(0) as usize {
                let len = rng.range(min, max) as usize;
                if *off + len > total / 2 {
                    break;
                }
                push(&mut recs, fill_path(template, &[("i", i), ("dir", i % dirs)]), *off, len, "");
                if dup_of == Some(i) {
                    let path = g["duplicate"]["path"].as_str().unwrap_or("/duplicate").to_string();
                    recs.push(V1Rec::File(V1File {
                        path,
                        off: *off as u64,
                        size: len as u64,
                        flag: "",
                        duplicate: true,
                    }));
                }
                *off += len;
            }
        } else if let Some(n) = r["_size"].as_u64() {
            let len = (n as usize).min(total - *off);
            let path = r["path"].as_str().unwrap_or_else(|| panic!("{ctx}: record without path")).to_string();
            push(&mut recs, path, *off, len, flag);
            *off += len;
        } else if let Some(g) = r.get("_large_files") {
            // The rest of main.bin in `count` equal files (the last takes the remainder).
            let n = g["count"].as_u64().unwrap_or(1).max(1) as usize;
            let template = g["path"].as_str().unwrap_or_else(|| panic!("{ctx}: _large_files.path missing"));
            let rest = total - *off;
            let each = rest / n;
            for i in 0..n {
                let len = if i + 1 == n { rest - each * i } else { each };
                push(&mut recs, fill_path(template, &[("i", i)]), *off, len, "");
                *off += len;
            }
        } else if let Some(g) = r.get("_same_bytes_as") {
            // Files that reuse the bytes of files listed before (different bytes would need
            // more space in main.bin).
            let template = g["path"].as_str().unwrap_or_else(|| panic!("{ctx}: _same_bytes_as.path missing"));
            for (i, k) in g["neutral_files"].as_array().into_iter().flatten().enumerate() {
                let k = (k.as_u64().unwrap_or(0) as usize).min(earlier.len().saturating_sub(1));
                let Some(&(o, len)) = earlier.get(k) else { panic!("{ctx}: _same_bytes_as before any file") };
                push(&mut recs, fill_path(template, &[("i", i)]), o as usize, len as usize, "");
            }
        } else {
            let mut lit = r.clone();
            lit["url"] = json!(format!("{product_id}/main.bin"));
            recs.push(V1Rec::Literal(lit));
        }
    }
    recs
}

/// Generate a V1 product: a `main.bin` of `total` random bytes laid out by `depots` (the depot
/// manifest name, the fixture describing it, its languages); `template` is a committed
/// `repository.json` to serve (with depot sizes filled in), else one is built here.
#[allow(clippy::too_many_arguments)]
fn gen_v1(
    product_id: u64,
    name: &str,
    build_id: &str,
    ts: u64,
    total: u64,
    depots: Vec<(String, Value, Vec<String>)>,
    template: Option<Value>,
) -> V1Out {
    let total = total.max(64 * 1024) as usize;
    let mut blob = crate::data::zeroed_arc(total);
    crate::data::par_fill(gen_seed(name), Arc::get_mut(&mut blob).unwrap(), false);
    let mut off = 0usize;
    let mut listed = Vec::new();
    let laid: Vec<(String, Value, Vec<String>, Vec<V1Rec>)> = depots
        .into_iter()
        .map(|(file, d, langs)| {
            let recs = v1_layout(&d, product_id, total, &mut off, &mut listed, &format!("V1 depot {file}"));
            (file, d, langs, recs)
        })
        .collect();
    let regions: Vec<(u64, u64)> = laid
        .iter()
        .flat_map(|l| l.3.iter())
        .filter_map(|r| match r {
            V1Rec::File(f) => Some((f.off, f.size)),
            V1Rec::Literal(_) => None,
        })
        .collect();
    let hashes = crate::data::par_md5(&blob, &regions);
    let md5_of: HashMap<(u64, u64), String> = regions.into_iter().zip(hashes).collect();
    let os = "windows";
    let url = format!("{product_id}/main.bin");
    let mut entries = Vec::new();
    let mut manifests = Vec::new();
    let mut depots_json = Vec::new();
    for (file, d, langs, recs) in laid {
        let mut out = Vec::new();
        let mut size = 0u64;
        let mut entry = |path: &str, kind: EntryKind, size: u64, md5: String, flag: &str, off: Option<u64>| {
            let mp = norm(path);
            let support = flag == "support";
            entries.push(ExpectedEntry {
                path: if support { format!("gog-support/{product_id}/{mp}") } else { mp.clone() },
                manifest_path: mp,
                kind,
                size,
                md5,
                executable: flag == "executable",
                support,
                hidden: false,
                product_id,
                depot: file.clone(),
                languages: langs.clone(),
                os_bitness: None,
                is_gog_depot: false,
                sfc_member: false,
                chunk_md5s: Vec::new(),
                chunk_compressed_md5s: Vec::new(),
                v1_offset: off,
            });
        };
        for r in recs {
            match r {
                V1Rec::Literal(v) => {
                    let path = v["path"].as_str().unwrap_or_default().to_string();
                    if v["directory"] == true {
                        entry(&path, EntryKind::Directory, 0, String::new(), "", None);
                    } else {
                        let md5 = v["hash"].as_str().unwrap_or_default().to_string();
                        entry(&path, EntryKind::File, v["size"].as_u64().unwrap_or(0), md5, "", v["offset"].as_u64());
                    }
                    out.push(v);
                }
                V1Rec::File(f) => {
                    let h = md5_of.get(&(f.off, f.size)).cloned().unwrap_or_default();
                    let mut v = json!({"url": url, "size": f.size, "hash": h, "path": f.path, "offset": f.off});
                    if !f.flag.is_empty() {
                        v[f.flag] = json!(true);
                    }
                    if !f.duplicate {
                        size += f.size;
                    }
                    entry(&f.path, EntryKind::File, f.size, h, f.flag, Some(f.off));
                    out.push(v);
                }
            }
        }
        let dname = d["depot"]["name"].as_str().unwrap_or_default();
        manifests.push((
            file.clone(),
            json!({"version": 1, "depot": {"name": dname, "files": out}}).to_string().into_bytes(),
        ));
        depots_json.push(json!({"languages": langs, "size": size.to_string(), "gameIDs": [product_id.to_string()], "systems": ["Windows"], "manifest": file}));
    }
    let repo = match template {
        // A committed repository.json (Fixture Legacy's) is served as written, with each
        // depot's `size` computed from its laid-out records.
        Some(mut t) => {
            for d in t["product"]["depots"].as_array_mut().into_iter().flatten() {
                let Some(m) = d["manifest"].as_str() else { continue };
                if let Some(g) = depots_json.iter().find(|g| g["manifest"] == m) {
                    d["size"] = g["size"].clone();
                }
            }
            t
        }
        None => {
            depots_json.push(json!({"redist": "MOCKREDIST", "executable": "__redist/MOCKREDIST/setup.exe", "argument": "/quiet", "size": "0"}));
            json!({"version": 1, "product": {
                "timestamp": ts, "rootGameID": product_id.to_string(), "installDirectory": name, "projectName": name,
                "gameIDs": [{"gameID": product_id.to_string(), "name": {"en": name}, "standalone": true, "dependencies": []}],
                "depots": depots_json,
                "support_commands": [{"languages": ["Neutral"], "executable": "/support/readme.txt", "gameID": product_id.to_string(), "systems": ["Windows"], "argument": ""}],
            }})
        }
    };
    manifests.push(("repository.json".to_string(), repo.to_string().into_bytes()));
    let prefix = format!("{product_id}/{os}/{ts}");
    let manifests = manifests.into_iter().map(|(n, b)| (format!("{prefix}/{n}"), b)).collect();
    let mut build = ExpectedBuild {
        product_id,
        build_id: build_id.to_string(),
        os: os.to_string(),
        generation: 1,
        branch: None,
        password: None,
        legacy_build_id: Some(ts),
        link_path: format!("/content-system/v1/manifests/{prefix}/repository.json"),
        dependencies: vec!["MOCKREDIST".into()],
        install_directory: name.to_string(),
        entries,
    };
    canonicalize_case(&mut build.entries);
    V1Out { blob, build, manifests }
}

fn add_v1(v1: &mut V1Content, v: V1Out) {
    let key = format!("{}/{}/{}", v.build.product_id, v.build.os, v.build.legacy_build_id.unwrap());
    v1.main_bins.insert(key, v.blob);
    for (p, b) in v.manifests {
        v1.manifests.insert(p, Arc::from(b));
    }
    v1.builds.push(v.build);
}

/// Path of bench file `f` of `n`: `bench\\file{f}.bin` for the default 4 files; with more files
/// a tree of 100 files per directory (`bench\\d{f/100:03}\\file{f:05}.bin`).
fn bench_v2_path(f: usize, n: usize) -> String {
    if n <= 4 {
        format!("bench\\file{f}.bin")
    } else {
        format!("bench\\d{:03}\\file{f:05}.bin", f / 100)
    }
}

fn bench_v2(content: &mut Content, cs: usize, size: u64, files: usize) -> ExpectedBuild {
    let files = files.max(1);
    let per = (size / files as u64).max(1) as usize;
    // A pool of one thread per core takes files in order: generate, hash and compress their
    // chunks. Seeds depend only on the file index and offset, so output is thread-independent.
    type FileOut = (String, Vec<(ChunkRec, Arc<[u8]>)>);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<FileOut>>> = (0..files).map(|_| Default::default()).collect();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 16).min(files);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                use md5::Digest;
                let mut buf = Vec::new();
                loop {
                    let f = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(slot) = slots.get(f) else { break };
                    let mut h = md5::Md5::new();
                    let mut chunks = Vec::new();
                    let mut off = 0;
                    for n in auto_pieces(per, cs) {
                        buf.resize(n, 0);
                        fill_compressible(gen_seed(&format!("bench/{f}/{off}")), &mut buf);
                        h.update(&buf);
                        let z = crate::data::rle_zlib(&buf);
                        let rec =
                            ChunkRec { md5: md5_hex(&buf), size: n as u64, cmd5: md5_hex(&z), csize: z.len() as u64 };
                        chunks.push((rec, Arc::from(z)));
                        off += n;
                    }
                    *slot.lock().unwrap() = Some((hex(&h.finalize()), chunks));
                }
            });
        }
    });
    let mut d = DepotB::new(BENCH_V2, &["*"]);
    for (f, slot) in slots.into_iter().enumerate() {
        let Some((md5, chunks)) = slot.into_inner().unwrap() else { continue };
        let path = bench_v2_path(f, files);
        d.items.push(json!({"type": "DepotFile", "path": path, "md5": md5,
            "chunks": chunks.iter().map(|c| c.0.json()).collect::<Vec<_>>()}));
        let size: u64 = chunks.iter().map(|c| c.0.size).sum();
        d.size += size;
        d.csize += chunks.iter().map(|c| c.0.csize).sum::<u64>();
        let mut e = d.entry(&path, EntryKind::File);
        e.size = size;
        e.md5 = md5;
        e.chunk_md5s = chunks.iter().map(|c| c.0.md5.clone()).collect();
        e.chunk_compressed_md5s = chunks.iter().map(|c| c.0.cmd5.clone()).collect();
        d.entries.push(e);
        for (rec, z) in chunks {
            content.chunks.insert((BENCH_V2, rec.cmd5), z);
        }
    }
    bench_v2_finish(content, d)
}

/// Build all fixtures and the served content for `cfg`.
/// The V1 products are generated on a background thread returned as the third value.
pub(crate) fn build_all(cfg: &MockConfig) -> (Fixtures, Content, std::thread::JoinHandle<V1Content>) {
    use super::files;
    let cs = cfg.chunk_size.max(1024);
    let v1_size = cfg.v1_blob_size;
    let bench_v1_size = cfg.bench_v1_size;
    // Fixture Legacy: its listing and repository.json are committed; main.bin and the depot
    // records are generated (random bytes, MD5s of them).
    let legacy_list = files::file("legacy/builds.json");
    let legacy_repo = files::file("legacy/repository.json");
    let legacy_name = legacy_repo["product"]["projectName"].as_str().unwrap_or("Fixture Legacy").to_string();
    // Its depots: (manifest file name, the fixture describing it, languages).
    let legacy_depots: Vec<(String, Value, Vec<String>)> = legacy_repo["product"]["depots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let m = d["manifest"].as_str()?.to_string();
            let langs = d["languages"].as_array()?.iter().filter_map(|l| l.as_str().map(str::to_string)).collect();
            Some((m.clone(), files::file(&format!("legacy/{m}")), langs))
        })
        .collect();
    // Bench V1 has the shape of Fixture Legacy's first (Neutral) depot: files of up to 32 KiB,
    // 8 large files, no English depot.
    let bench_depot = legacy_depots.first().map(|(_, d, _)| {
        let mut d = d.clone();
        d["depot"]["name"] = json!("Bench V1 Neutral");
        for r in d["depot"]["files"].as_array_mut().into_iter().flatten() {
            if let Some(g) = r.get_mut("_small_files") {
                g["max_size"] = json!(32 * 1024);
            }
            if let Some(g) = r.get_mut("_large_files") {
                g["count"] = json!(8);
            }
        }
        (format!("{:08x}-0000-4000-8000-000000000001.json", BENCH_V1 % 0xffff_ffff), d, vec!["Neutral".to_string()])
    });
    let name = legacy_name.clone();
    let game_v1_size = cfg.game_v1_size;
    let v1 = std::thread::spawn(move || {
        let bench = bench_v1_size.map(|size| {
            std::thread::spawn(move || {
                let depots = bench_depot.into_iter().collect();
                gen_v1(BENCH_V1, "Bench V1", BENCH_V1_BUILD, BENCH_V1_TIMESTAMP, size, depots, None)
            })
        });
        let mut out = V1Content::default();
        let ts = legacy_repo["product"]["timestamp"].as_u64().unwrap_or(LEGACY_TIMESTAMP);
        add_v1(&mut out, gen_v1(LEGACY, &name, LEGACY_BUILD, ts, v1_size, legacy_depots, Some(legacy_repo)));
        if let Some(h) = bench {
            add_v1(&mut out, h.join().unwrap());
        }
        if let Some(size) = game_v1_size {
            super::game::add_v1(&mut out, size); // game-like V1 twin (game.rs)
        }
        out
    });
    let mut content = Content::default();
    let mut builds = Vec::new();
    let fixture_deps;
    {
        let mut ch = Chunker { content: &mut content, seen: HashMap::new() };
        let mut listings = Vec::new();
        for (b, l) in files::v2_product(&mut ch, cs, "quest") {
            builds.push(b);
            listings.push(l);
        }
        let (deps, hash) = files::dependencies(&mut ch, cs);
        fixture_deps = deps;
        ch.content.dep_repo_hash = hash;
        ch.content.listings.extend(listings);
    }
    if let Some(size) = cfg.bench_v2_size {
        let b = bench_v2(&mut content, cs, size, cfg.bench_v2_files);
        content.listings.push(listing(&b, "1.0", "2025-04-01T12:00:00+0000"));
        builds.push(b);
    }
    for it in legacy_list["items"].as_array().into_iter().flatten() {
        let ts = it["legacy_build_id"].as_u64().unwrap_or(LEGACY_TIMESTAMP);
        let build_id = it["build_id"].as_str().unwrap_or(LEGACY_BUILD);
        let mut l = v1_listing(LEGACY, build_id, ts, "", "");
        l.version_name = it["version_name"].as_str().unwrap_or_default().to_string();
        l.date_published = it["date_published"].as_str().unwrap_or_default().to_string();
        content.listings.push(l);
    }
    if cfg.bench_v1_size.is_some() {
        content.listings.push(v1_listing(
            BENCH_V1,
            BENCH_V1_BUILD,
            BENCH_V1_TIMESTAMP,
            "1.0",
            "2020-09-13T12:26:45+0000",
        ));
    }
    // Titles: every product a build manifest names, then the V1 product.
    let mut products: Vec<(u64, String)> = Vec::new();
    for b in &builds {
        for (id, name) in product_names(&content, b) {
            if !products.iter().any(|(p, _)| *p == id) {
                products.push((id, name));
            }
        }
    }
    products.push((LEGACY, legacy_name));
    if cfg.bench_v1_size.is_some() {
        products.push((BENCH_V1, "Bench V1".into()));
    }
    // Game-like bench products (game.rs).
    if let Some(size) = cfg.game_v2_size {
        builds.push(super::game::add_v2(&mut content, cs, size));
        products.push((super::game::GAME_V2, "Bench Game".into()));
    }
    if cfg.game_v1_size.is_some() {
        content.listings.push(super::game::v1_listing());
        products.push((super::game::GAME_V1, "Bench Game V1".into()));
    }
    let fixtures = Fixtures { builds, dependencies: fixture_deps, owned: files::owned(), products };
    (fixtures, content, v1)
}

/// `(productId, name)` of the `products` of build `b`'s served manifest.
fn product_names(content: &Content, b: &ExpectedBuild) -> Vec<(u64, String)> {
    use std::io::Read;
    let Some(z) = b.link_path.rsplit('/').next().and_then(|h| content.meta.get(h)) else { return Vec::new() };
    let mut text = Vec::new();
    if flate2::read::ZlibDecoder::new(&z[..]).read_to_end(&mut text).is_err() {
        return Vec::new();
    }
    let v: Value = serde_json::from_slice(&text).unwrap_or_default();
    v["products"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["productId"].as_str()?.parse().ok()?, p["name"].as_str()?.to_string())))
        .collect()
}
