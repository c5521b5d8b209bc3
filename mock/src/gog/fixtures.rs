//! The GOG mock's deterministic fixture products: generates file data, zlib chunks, V2 depot and
//! build manifests, V1 repository/depot manifests and `main.bin` blobs, the dependency
//! repository, and the public [`Fixtures`] description tests assert against.
//!
//! Sizes below use `cs` = [`MockConfig::chunk_size`]. Chunks are zlib level 1 (manifests level
//! 6); chunk `md5` = MD5 of the inflated bytes, `compressedMd5` = MD5 of the zlib object.
//! Automatic chunking emits `cs` pieces while at least `2*cs` remain, then one tail piece, so a
//! tail chunk may be up to 2x `cs` (as on GOG's CDN).
//!
//! **1000000001 "Fixture Quest"** (V2). Windows builds `1100000000000002` (newest public,
//! listed first), `1100000000000001` (older public), `1100000000000003` (private branch `beta`,
//! password `s3cret`, listed first when the password is given); osx build `1100000000000021`.
//! Build manifests list `dependencies: ["MOCKDEP_GAME","MOCKREDIST"]` and `products` 1000000001,
//! 1000000002, 1000000009. Windows depots, in order:
//! 1. game depot `["*"]`: `Game.exe` (executable), `Data\big.pak` (chunks cs, cs, 1.5cs; the
//!    middle chunk differs between the two public builds), `Data\a.txt` (changed between
//!    builds), `DATA\b.txt` (case-variant directory), `Data\empty.dat` (zero chunks),
//!    `Data\nomd5.bin` (2 chunks, no `md5`/`sha256`), `Data\sha_only.bin` (2 chunks, `sha256`
//!    only), `Data\repeat.bin` (chunks R,R,S) and `Data\shared_r.bin` (chunk R),
//!    `Data\random.bin` (incompressible: `compressedSize > size`), `Data\hidden.cfg` (hidden),
//!    `Data\Sub\Deep\nested.txt`, `app\settings.ini` (support -> installs to
//!    `gog-support/1000000001/app/settings.ini`), `Data\old_only_b1.txt` (old build only) or
//!    `Data\new_in_b2.txt` (new + beta), `Data\beta.txt` (beta only), `DepotDirectory`s
//!    `Data`, `saves`, `saves\empty` (empty);
//! 2. `["en-US"]`: `lang\en\strings.txt`, `lang\en\voice.bin` (one 1.2cs chunk);
//! 3. `["de-DE"]`: `lang\de\strings.txt` - this depot manifest is served as *plain* JSON;
//! 4. `osBitness ["32"]`: `bin32\engine.dll`; 5. `osBitness ["64"]`: `bin64\engine.dll`;
//! 6. `isGogDepot`: `goggame-1000000001.info`, `goggame-1000000001.script`;
//! 7. small-files container: `sfc\small_000.txt` .. `small_049.txt` (200-4000 bytes, each with
//!    its own chunk and `sfcRef`), `smallFilesContainer` = one chunk of their concatenation;
//! 8. DLC 1000000002 (owned): `DLC\owned\pack.dat` (1.2cs), `DLC\owned\readme.txt`;
//! 9. DLC 1000000009 (not owned): `DLC\unowned\pack.dat`.
//!
//! osx: `Fixture Quest.app/Contents/MacOS/FixtureQuest` and `.../launcher.sh` (executable),
//! `.../Resources/data.pak` (1.5cs), `.../Info.plist`, directories, `DepotLink`s
//! `Fixture Quest.app/Contents/Frameworks/Current` -> `Fixture Quest.app/Contents/Resources` and
//! `game.sh` -> `Fixture Quest.app/Contents/MacOS/launcher.sh` (targets relative to the install
//! dir), plus an `["en-US"]` depot with one file.
//!
//! **1000000003 "Fixture Legacy"** (V1 build `3003`, timestamp 1600000003, windows): one
//! `main.bin` of [`MockConfig::v1_blob_size`] random bytes; Neutral depot with up to 1000 small
//! files (1-64 KiB, filling at most half the blob), `/Game.exe` (executable),
//! `/support/readme.txt` (support), 4 large files filling the rest, `/Data/empty.dat` (size 0),
//! `/Data/duplicate_of_3.dat` (same offset and hash as another file), directory records;
//! English depot with 5 files; a `redist` entry `MOCKREDIST`. Generated on a background thread.
//!
//! **1000000004 "Bench V2"** (build `1400000000000001`, only with `bench_v2_size`): 4 files
//! `bench\file{0..3}.bin` of `size/4` each, ~1.56:1 compressible (chunks encoded by the
//! fast [`crate::data::rle_zlib`]). **1000000005 "Bench V1"**
//! (build `3005`, timestamp 1600000005, only with `bench_v1_size`): ~1000 small files
//! (1-32 KiB) and up to 8 large files.
//!
//! **Dependencies** (build `1500000000000001`): `MOCKREDIST` (`__redist/MOCKREDIST/setup.exe`),
//! `MOCKDEP_GAME` (game-dir: `MOCKDEP_GAME/bin/helper.exe`), `MOCKISI` (internal,
//! `__redist/ISI/scriptinterpreter.exe`).
//!
//! Owned by the fixture user: 1000000001, 1000000002, 1000000003, 1000000004, 1000000005.

use crate::data::{compressible_bytes, fill_compressible, hex, md5_hex, random_bytes, text_bytes, Rng};
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
struct ChunkRec {
    md5: String,
    size: u64,
    cmd5: String,
    csize: u64,
}

impl ChunkRec {
    fn json(&self) -> Value {
        json!({"md5": self.md5, "size": self.size, "compressedMd5": self.cmd5, "compressedSize": self.csize})
    }
}

/// `None` product = dependency store.
type StoreKey = Option<u64>;

fn zlib(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::with_capacity(data.len() / 2 + 64), Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Compresses and stores chunks, deduplicating identical content per store.
struct Chunker<'a> {
    content: &'a mut Content,
    seen: HashMap<(StoreKey, String), ChunkRec>,
}

impl Chunker<'_> {
    fn chunk(&mut self, store: StoreKey, data: &[u8]) -> ChunkRec {
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
struct Opts {
    md5: bool,
    sha256: bool,
    executable: bool,
    support: bool,
    hidden: bool,
}

const MD5: Opts = Opts { md5: true, sha256: false, executable: false, support: false, hidden: false };

struct DepotB {
    product_id: u64,
    languages: Vec<String>,
    bitness: Option<Vec<String>>,
    is_gog: bool,
    plain: bool,
    items: Vec<Value>,
    entries: Vec<ExpectedEntry>,
    size: u64,
    csize: u64,
    sfc: Option<Value>,
    store: StoreKey,
}

fn norm(p: &str) -> String {
    p.replace('\\', "/").trim_start_matches('/').to_string()
}

impl DepotB {
    fn new(product_id: u64, langs: &[&str]) -> DepotB {
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
    fn file_pieces(&mut self, ch: &mut Chunker, path: &str, pieces: &[&[u8]], o: Opts) -> usize {
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
    fn file(&mut self, ch: &mut Chunker, cs: usize, path: &str, data: &[u8], o: Opts) {
        let mut pieces = Vec::new();
        let mut off = 0;
        for n in auto_pieces(data.len(), cs) {
            pieces.push(&data[off..off + n]);
            off += n;
        }
        self.file_pieces(ch, path, &pieces, o);
    }

    fn dir(&mut self, path: &str) {
        self.items.push(json!({"type": "DepotDirectory", "path": path}));
        self.entries.push(self.entry(path, EntryKind::Directory));
    }

    fn link(&mut self, path: &str, target: &str) {
        self.items.push(json!({"type": "DepotLink", "path": path, "target": target}));
        self.entries.push(self.entry(path, EntryKind::Symlink { target: norm(target) }));
    }

    /// Serialize, store under `meta` (zlib unless `plain`), return (hash, entries, depot json).
    fn finish(mut self, meta: &mut HashMap<String, Arc<[u8]>>, version: u32) -> (String, Vec<ExpectedEntry>, Value) {
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
fn canonicalize_case(entries: &mut [ExpectedEntry]) {
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

fn galaxy_path(h: &str) -> String {
    format!("{}/{}/{}", &h[0..2], &h[2..4], h)
}

fn gen_seed(tag: &str) -> u64 {
    // FNV-1a of the tag: stable per-file seeds.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in tag.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn cdata(tag: &str, len: usize) -> Vec<u8> {
    compressible_bytes(gen_seed(tag), len)
}

/// Which variant of Fixture Quest's windows build.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Old,
    New,
    Beta,
}

struct V2Build {
    product_id: u64,
    build_id: &'static str,
    os: &'static str,
    depots: Vec<DepotB>,
    dependencies: Vec<&'static str>,
    products: Vec<(u64, &'static str)>,
    install_dir: &'static str,
}

fn quest_windows(ch: &mut Chunker, cs: usize, v: Variant) -> Vec<DepotB> {
    let mut depots = Vec::new();
    // Game depot, every language, no bitness.
    let mut g = DepotB::new(QUEST, &["*"]);
    g.file(ch, cs, "Game.exe", &text_bytes("Game.exe", 40_000), Opts { executable: true, ..MD5 });
    g.dir("Data");
    let p0 = cdata("big.pak/0", cs);
    let p1 = match v {
        Variant::Old => cdata("big.pak/1-old", cs),
        _ => cdata("big.pak/1-new", cs),
    };
    let p2 = cdata("big.pak/2", cs + cs / 2);
    g.file_pieces(ch, "Data\\big.pak", &[&p0, &p1, &p2], MD5);
    let a = match v {
        Variant::Old => text_bytes("a.txt old", 3000),
        _ => text_bytes("a.txt new version", 3500),
    };
    g.file(ch, cs, "Data\\a.txt", &a, MD5);
    g.file(ch, cs, "DATA\\b.txt", &text_bytes("b.txt", 1200), MD5);
    g.file_pieces(ch, "Data\\empty.dat", &[], MD5);
    let n0 = cdata("nomd5/0", cs);
    let n1 = cdata("nomd5/1", cs / 3);
    g.file_pieces(ch, "Data\\nomd5.bin", &[&n0, &n1], Opts::default());
    let s0 = cdata("sha/0", cs);
    let s1 = cdata("sha/1", cs / 2);
    g.file_pieces(ch, "Data\\sha_only.bin", &[&s0, &s1], Opts { sha256: true, ..Opts::default() });
    let r = cdata("repeat/R", cs / 4);
    let s = cdata("repeat/S", cs / 8);
    g.file_pieces(ch, "Data\\repeat.bin", &[&r, &r, &s], MD5);
    g.file_pieces(ch, "Data\\shared_r.bin", &[&r], MD5);
    g.file(ch, cs, "Data\\random.bin", &random_bytes(gen_seed("random.bin"), cs / 2), MD5);
    g.file(ch, cs, "Data\\hidden.cfg", &text_bytes("hidden", 300), Opts { hidden: true, ..MD5 });
    g.file(ch, cs, "Data\\Sub\\Deep\\nested.txt", &text_bytes("nested", 700), MD5);
    g.file(ch, cs, "app\\settings.ini", &text_bytes("support settings", 500), Opts { support: true, ..MD5 });
    match v {
        Variant::Old => g.file(ch, cs, "Data\\old_only_b1.txt", &text_bytes("old only", 900), MD5),
        _ => g.file(ch, cs, "Data\\new_in_b2.txt", &text_bytes("new in b2", 950), MD5),
    }
    if v == Variant::Beta {
        g.file(ch, cs, "Data\\beta.txt", &text_bytes("beta branch", 640), MD5);
    }
    g.dir("saves");
    g.dir("saves\\empty");
    depots.push(g);

    let mut en = DepotB::new(QUEST, &["en-US"]);
    en.file(ch, cs, "lang\\en\\strings.txt", &text_bytes("english strings", 5000), MD5);
    en.file(ch, cs, "lang\\en\\voice.bin", &cdata("voice en", cs + cs / 5), MD5);
    depots.push(en);

    let mut de = DepotB::new(QUEST, &["de-DE"]);
    de.plain = true;
    de.file(ch, cs, "lang\\de\\strings.txt", &text_bytes("deutsche texte", 5200), MD5);
    depots.push(de);

    let mut b32 = DepotB::new(QUEST, &["*"]);
    b32.bitness = Some(vec!["32".into()]);
    b32.file(ch, cs, "bin32\\engine.dll", &cdata("engine32", 20_000), Opts { executable: true, ..MD5 });
    depots.push(b32);
    let mut b64 = DepotB::new(QUEST, &["*"]);
    b64.bitness = Some(vec!["64".into()]);
    b64.file(ch, cs, "bin64\\engine.dll", &cdata("engine64", 24_000), Opts { executable: true, ..MD5 });
    depots.push(b64);

    let mut gd = DepotB::new(QUEST, &["*"]);
    gd.is_gog = true;
    let build_id = match v {
        Variant::Old => QUEST_BUILD_OLD,
        Variant::New => QUEST_BUILD_NEW,
        Variant::Beta => QUEST_BUILD_BETA,
    };
    let info = json!({"buildId": build_id, "gameId": QUEST.to_string(), "name": "Fixture Quest", "rootGameId": QUEST.to_string(), "version": 1});
    gd.file(ch, cs, &format!("goggame-{QUEST}.info"), info.to_string().as_bytes(), MD5);
    gd.file(ch, cs, &format!("goggame-{QUEST}.script"), &text_bytes("script", 400), MD5);
    depots.push(gd);

    // Small-files container depot.
    let mut sd = DepotB::new(QUEST, &["*"]);
    let mut rng = Rng::new(gen_seed("sfc"));
    let mut container = Vec::new();
    sd.dir("sfc");
    for i in 0..50 {
        let len = rng.range(200, 4000) as usize;
        let data = text_bytes(&format!("small file {i}"), len);
        let off = container.len() as u64;
        container.extend_from_slice(&data);
        let idx = sd.file_pieces(ch, &format!("sfc\\small_{i:03}.txt"), &[&data], MD5);
        sd.items[idx]["sfcRef"] = json!({"offset": off, "size": len});
        let e = sd.entries.last_mut().unwrap();
        e.sfc_member = true;
        ch.content.sfc_member_chunks.insert(sd.items[idx]["chunks"][0]["compressedMd5"].as_str().unwrap().to_string());
    }
    let rec = ch.chunk(sd.store, &container);
    ch.content.sfc_chunks.insert(rec.cmd5.clone());
    sd.sfc = Some(json!({"chunks": [rec.json()], "md5": md5_hex(&container)}));
    depots.push(sd);

    let mut dlc = DepotB::new(DLC_OWNED, &["*"]);
    dlc.file(ch, cs, "DLC\\owned\\pack.dat", &cdata("dlc owned", cs + cs / 5), MD5);
    dlc.file(ch, cs, "DLC\\owned\\readme.txt", &text_bytes("owned dlc", 800), MD5);
    depots.push(dlc);
    let mut un = DepotB::new(DLC_UNOWNED, &["*"]);
    un.file(ch, cs, "DLC\\unowned\\pack.dat", &cdata("dlc unowned", cs / 2), MD5);
    depots.push(un);
    depots
}

fn quest_osx(ch: &mut Chunker, cs: usize) -> Vec<DepotB> {
    let mut g = DepotB::new(QUEST, &["*"]);
    g.dir("Fixture Quest.app/Contents/MacOS");
    g.file(
        ch,
        cs,
        "Fixture Quest.app/Contents/MacOS/FixtureQuest",
        &cdata("osx bin", 30_000),
        Opts { executable: true, ..MD5 },
    );
    g.file(
        ch,
        cs,
        "Fixture Quest.app/Contents/MacOS/launcher.sh",
        &text_bytes("#!/bin/sh launcher", 200),
        Opts { executable: true, ..MD5 },
    );
    g.file(ch, cs, "Fixture Quest.app/Contents/Resources/data.pak", &cdata("osx data", cs + cs / 2), MD5);
    g.file(ch, cs, "Fixture Quest.app/Contents/Info.plist", &text_bytes("plist", 900), MD5);
    g.dir("Fixture Quest.app/Contents/Frameworks");
    g.link("Fixture Quest.app/Contents/Frameworks/Current", "Fixture Quest.app/Contents/Resources");
    g.link("game.sh", "Fixture Quest.app/Contents/MacOS/launcher.sh");
    let mut en = DepotB::new(QUEST, &["en-US"]);
    en.file(ch, cs, "Fixture Quest.app/Contents/Resources/en.lproj/strings.txt", &text_bytes("osx english", 1000), MD5);
    vec![g, en]
}

fn finish_v2(content: &mut Content, b: V2Build) -> ExpectedBuild {
    let mut entries = Vec::new();
    let mut depots_json = Vec::new();
    for d in b.depots {
        let (_, e, dj) = d.finish(&mut content.meta, 2);
        entries.extend(e);
        depots_json.push(dj);
    }
    canonicalize_case(&mut entries);
    let manifest = json!({
        "version": 2,
        "baseProductId": b.product_id.to_string(),
        "buildId": b.build_id,
        "clientId": GAME_CLIENT_ID,
        "clientSecret": GAME_CLIENT_SECRET,
        "dependencies": b.dependencies,
        "depots": depots_json,
        "installDirectory": b.install_dir,
        "offlineDepot": {"productId": b.product_id.to_string(), "languages": ["*"], "manifest": "00000000000000000000000000000000", "size": 0, "compressedSize": 0},
        "platform": b.os,
        "products": b.products.iter().map(|(id, n)| json!({"productId": id.to_string(), "name": n})).collect::<Vec<_>>(),
        "scriptInterpreter": false,
        "tags": [],
    });
    let z = zlib(manifest.to_string().as_bytes(), 6);
    let hash = md5_hex(&z);
    content.meta.insert(hash.clone(), Arc::from(z));
    ExpectedBuild {
        product_id: b.product_id,
        build_id: b.build_id.to_string(),
        os: b.os.to_string(),
        generation: 2,
        branch: None,
        password: None,
        legacy_build_id: None,
        link_path: format!("/content-system/v2/meta/{}", galaxy_path(&hash)),
        dependencies: b.dependencies.iter().map(|s| s.to_string()).collect(),
        install_directory: b.install_dir.to_string(),
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

fn dependencies(ch: &mut Chunker, cs: usize) -> (Vec<ExpectedDependency>, Value) {
    struct D {
        id: &'static str,
        name: &'static str,
        exe: &'static str,
        args: &'static str,
        internal: bool,
        files: Vec<(&'static str, Vec<u8>, bool)>,
    }
    let deps = vec![
        D {
            id: "MOCKREDIST",
            name: "Mock Redistributable",
            exe: "__redist/MOCKREDIST/setup.exe",
            args: "/quiet /norestart",
            internal: false,
            files: vec![
                ("__redist\\MOCKREDIST\\setup.exe", cdata("redist setup", cs + cs / 3), true),
                ("__redist\\MOCKREDIST\\data.cab", cdata("redist cab", 9000), false),
            ],
        },
        D {
            id: "MOCKDEP_GAME",
            name: "Mock Game-Dir Dependency",
            exe: "MOCKDEP_GAME/bin/helper.exe",
            args: "",
            internal: false,
            files: vec![
                ("MOCKDEP_GAME\\bin\\helper.exe", cdata("helper exe", 15_000), true),
                ("MOCKDEP_GAME\\bin\\helper.dat", text_bytes("helper dat", 2000), false),
            ],
        },
        D {
            id: "MOCKISI",
            name: "Mock Script Interpreter",
            exe: "__redist/ISI/scriptinterpreter.exe",
            args: "",
            internal: true,
            files: vec![("__redist\\ISI\\scriptinterpreter.exe", cdata("isi", 12_000), true)],
        },
    ];
    let mut out = Vec::new();
    let mut repo = Vec::new();
    let mut dep_meta = std::mem::take(&mut ch.content.dep_meta);
    for d in deps {
        let mut db = DepotB::new(0, &["*"]);
        db.store = None;
        for (p, data, exe) in &d.files {
            db.file(ch, cs, p, data, Opts { executable: *exe, ..MD5 });
        }
        let (hash, entries, dj) = db.finish(&mut dep_meta, 1);
        repo.push(json!({
            "dependencyId": d.id, "readableName": d.name,
            "executable": {"path": d.exe, "arguments": d.args},
            "internal": d.internal, "languages": ["*"], "osBitness": ["32", "64"],
            "manifest": hash, "size": dj["size"], "compressedSize": dj["compressedSize"],
            "signature": format!("mock-signature-{}", d.id),
        }));
        out.push(ExpectedDependency {
            id: d.id.to_string(),
            executable_path: d.exe.to_string(),
            internal: d.internal,
            entries,
        });
    }
    let body = json!({"depots": repo, "build_id": DEPS_BUILD});
    let z = zlib(body.to_string().as_bytes(), 6);
    let hash = md5_hex(&z);
    dep_meta.insert(hash.clone(), Arc::from(z));
    ch.content.dep_meta = dep_meta;
    ch.content.dep_repo_hash = hash;
    (out, body)
}

/// Output of one V1 product generation.
struct V1Out {
    blob: Arc<[u8]>,
    build: ExpectedBuild,
    manifests: Vec<(String, Vec<u8>)>,
}

/// Generate a V1 product: a `main.bin` of `total` bytes with `n_small` small files (sizes in
/// `small_min..=small_max`, capped to half the blob), a few large files, plus directory,
/// support, executable, zero-size and duplicate records.
#[allow(clippy::too_many_arguments)]
fn gen_v1(
    product_id: u64,
    name: &str,
    build_id: &str,
    ts: u64,
    total: u64,
    n_small: usize,
    small_max: u64,
    n_large: usize,
    with_english: bool,
) -> V1Out {
    let total = total.max(64 * 1024) as usize;
    let mut blob = crate::data::zeroed_arc(total);
    crate::data::par_fill(gen_seed(name), Arc::get_mut(&mut blob).unwrap(), false);
    let mut rng = Rng::new(product_id);
    // (path, offset, size, flags)
    let mut files: Vec<(String, u64, u64, &'static str)> = Vec::new();
    let budget = total / 2;
    let mut off = 0usize;
    for i in 0..n_small {
        let len = rng.range(1024, small_max) as usize;
        if off + len > budget {
            break;
        }
        let dir = i % 17;
        files.push((format!("/Data/Small{dir:02}/file_{i:04}.dat"), off as u64, len as u64, ""));
        off += len;
    }
    // Special records inside the small area (already covered bytes are fine to reuse).
    let exe_len = 4096.min(total - off);
    files.push(("/Game.exe".into(), off as u64, exe_len as u64, "executable"));
    off += exe_len;
    let sup_len = 2048.min(total - off);
    files.push(("/support/readme.txt".into(), off as u64, sup_len as u64, "support"));
    off += sup_len;
    let rest = total - off;
    let n_large = n_large.max(1);
    let each = rest / n_large;
    for i in 0..n_large {
        let len = if i + 1 == n_large { rest - each * i } else { each };
        files.push((format!("/Data/Large/large_{i}.pak"), off as u64, len as u64, ""));
        off += len;
    }
    let english: Vec<(String, u64, u64, &'static str)> = if with_english {
        // English files reuse regions of the blob (different bytes would need more space).
        (0..5)
            .map(|i| {
                let (_, o, s, _) = files[i.min(files.len() - 1)].clone();
                (format!("/lang/english/speech_{i}.dat"), o, s, "")
            })
            .collect()
    } else {
        Vec::new()
    };
    let os = "windows";
    let neutral_uuid = format!("{:08x}-0000-4000-8000-000000000001.json", product_id % 0xffff_ffff);
    let english_uuid = format!("{:08x}-0000-4000-8000-000000000002.json", product_id % 0xffff_ffff);
    let url = format!("{product_id}/main.bin");
    let mut entries = Vec::new();
    let mut mk = |path: &str,
                  kind: EntryKind,
                  size: u64,
                  md5: String,
                  flag: &str,
                  langs: &[&str],
                  depot: &str,
                  off: Option<u64>| {
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
            depot: depot.to_string(),
            languages: langs.iter().map(|s| s.to_string()).collect(),
            os_bitness: None,
            is_gog_depot: false,
            sfc_member: false,
            chunk_md5s: Vec::new(),
            chunk_compressed_md5s: Vec::new(),
            v1_offset: off,
        });
    };
    let regions: Vec<(u64, u64)> = files.iter().chain(english.iter()).map(|f| (f.1, f.2)).collect();
    let hashes = crate::data::par_md5(&blob, &regions);
    let mut md5_cache: HashMap<(u64, u64), String> = regions.into_iter().zip(hashes).collect();
    let mut records = |list: &[(String, u64, u64, &'static str)], langs: &[&str], depot: &str, extra: bool| {
        let mut recs = Vec::new();
        if extra {
            for d in ["/Data", "/Data/Large", "/saves", "/saves/empty"] {
                recs.push(json!({"path": d, "directory": true, "size": 0, "url": url, "offset": 0, "hash": ""}));
                mk(d, EntryKind::Directory, 0, String::new(), "", langs, depot, None);
            }
            let empty = md5_hex(&[]);
            recs.push(json!({"path": "/Data/empty.dat", "size": 0, "hash": empty, "url": url, "offset": 0}));
            mk("/Data/empty.dat", EntryKind::File, 0, empty, "", langs, depot, Some(0));
        }
        for (i, (p, o, s, flag)) in list.iter().enumerate() {
            let h =
                md5_cache.entry((*o, *s)).or_insert_with(|| md5_hex(&blob[*o as usize..(*o + *s) as usize])).clone();
            let mut r = json!({"url": url, "size": s, "hash": h, "path": p, "offset": o});
            if !flag.is_empty() {
                r[*flag] = json!(true);
            }
            recs.push(r);
            mk(p, EntryKind::File, *s, h.clone(), flag, langs, depot, Some(*o));
            if extra && i == 3 {
                // A duplicate: same bytes and hash, another path.
                let dp = "/Data/duplicate_of_3.dat";
                recs.push(json!({"url": url, "size": s, "hash": h, "path": dp, "offset": o}));
                mk(dp, EntryKind::File, *s, h, "", langs, depot, Some(*o));
            }
        }
        recs
    };
    let neutral = records(&files, &["Neutral"], &neutral_uuid, true);
    let english_recs = records(&english, &["English"], &english_uuid, false);
    let size_of = |l: &[(String, u64, u64, &'static str)]| l.iter().map(|f| f.2).sum::<u64>();
    let mut depots = vec![
        json!({"languages": ["Neutral"], "size": size_of(&files).to_string(), "gameIDs": [product_id.to_string()], "systems": ["Windows"], "manifest": neutral_uuid}),
    ];
    let mut manifests = vec![(
        neutral_uuid.clone(),
        json!({"version": 1, "depot": {"name": format!("{name} Neutral"), "files": neutral}}).to_string().into_bytes(),
    )];
    if with_english {
        depots.push(json!({"languages": ["English"], "size": size_of(&english).to_string(), "gameIDs": [product_id.to_string()], "systems": ["Windows"], "manifest": english_uuid}));
        manifests.push((
            english_uuid.clone(),
            json!({"version": 1, "depot": {"name": format!("{name} English"), "files": english_recs}})
                .to_string()
                .into_bytes(),
        ));
    }
    depots.push(json!({"redist": "MOCKREDIST", "executable": "__redist/MOCKREDIST/setup.exe", "argument": "/quiet", "size": "0"}));
    let repo = json!({"version": 1, "product": {
        "timestamp": ts, "rootGameID": product_id.to_string(), "installDirectory": name, "projectName": name,
        "gameIDs": [{"gameID": product_id.to_string(), "name": {"en": name}, "standalone": true, "dependencies": []}],
        "depots": depots,
        "support_commands": [{"languages": ["Neutral"], "executable": "/support/readme.txt", "gameID": product_id.to_string(), "systems": ["Windows"], "argument": ""}],
    }});
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

fn bench_v2(content: &mut Content, cs: usize, size: u64) -> ExpectedBuild {
    let per = (size / 4).max(1) as usize;
    // One thread per file: generate, hash and compress its chunks in order.
    type FileOut = (String, Vec<(ChunkRec, Arc<[u8]>)>);
    let outs: Vec<FileOut> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|f| {
                s.spawn(move || {
                    use md5::Digest;
                    let mut h = md5::Md5::new();
                    let mut chunks = Vec::new();
                    let mut buf = Vec::new();
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
                    (hex(&h.finalize()), chunks)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut d = DepotB::new(BENCH_V2, &["*"]);
    for (f, (md5, chunks)) in outs.into_iter().enumerate() {
        let path = format!("bench\\file{f}.bin");
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
    finish_v2(
        content,
        V2Build {
            product_id: BENCH_V2,
            build_id: BENCH_V2_BUILD,
            os: "windows",
            depots: vec![d],
            dependencies: vec![],
            products: vec![(BENCH_V2, "Bench V2")],
            install_dir: "Bench V2",
        },
    )
}

/// Build all fixtures and the served content for `cfg`.
/// The V1 products are generated on a background thread returned as the third value.
pub(crate) fn build_all(cfg: &MockConfig) -> (Fixtures, Content, std::thread::JoinHandle<V1Content>) {
    let cs = cfg.chunk_size.max(1024);
    let v1_size = cfg.v1_blob_size;
    let bench_v1_size = cfg.bench_v1_size;
    let game_v1_size = cfg.game_v1_size;
    let v1 = std::thread::spawn(move || {
        let bench = bench_v1_size.map(|size| {
            std::thread::spawn(move || {
                gen_v1(BENCH_V1, "Bench V1", BENCH_V1_BUILD, BENCH_V1_TIMESTAMP, size, 1000, 32 * 1024, 8, false)
            })
        });
        let mut out = V1Content::default();
        add_v1(
            &mut out,
            gen_v1(LEGACY, "Fixture Legacy", LEGACY_BUILD, LEGACY_TIMESTAMP, v1_size, 1000, 64 * 1024, 4, true),
        );
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
    let quest_products = vec![
        (QUEST, "Fixture Quest"),
        (DLC_OWNED, "Fixture Quest: Owned DLC"),
        (DLC_UNOWNED, "Fixture Quest: Unowned DLC"),
    ];
    let fixture_deps;
    {
        let mut ch = Chunker { content: &mut content, seen: HashMap::new() };
        let mut raw = Vec::new();
        for (v, id) in
            [(Variant::New, QUEST_BUILD_NEW), (Variant::Old, QUEST_BUILD_OLD), (Variant::Beta, QUEST_BUILD_BETA)]
        {
            raw.push((v, id, quest_windows(&mut ch, cs, v)));
        }
        let osx = quest_osx(&mut ch, cs);
        let (deps, _) = dependencies(&mut ch, cs);
        fixture_deps = deps;
        for (v, id, depots) in raw {
            let mut b = finish_v2(
                &mut content,
                V2Build {
                    product_id: QUEST,
                    build_id: id,
                    os: "windows",
                    depots,
                    dependencies: vec!["MOCKDEP_GAME", "MOCKREDIST"],
                    products: quest_products.clone(),
                    install_dir: "Fixture Quest",
                },
            );
            if v == Variant::Beta {
                b.branch = Some(BETA_BRANCH.into());
                b.password = Some(BETA_PASSWORD.into());
            }
            builds.push(b);
        }
        let b = finish_v2(
            &mut content,
            V2Build {
                product_id: QUEST,
                build_id: QUEST_BUILD_OSX,
                os: "osx",
                depots: osx,
                dependencies: vec![],
                products: quest_products.clone(),
                install_dir: "Fixture Quest",
            },
        );
        builds.push(b);
    }
    // Listings, newest first.
    let order = [
        (QUEST_BUILD_BETA, "1.2.0-beta", "2025-03-01T12:00:00+0000"),
        (QUEST_BUILD_NEW, "1.1.0", "2025-02-01T12:00:00+0000"),
        (QUEST_BUILD_OLD, "1.0.0", "2025-01-01T12:00:00+0000"),
        (QUEST_BUILD_OSX, "1.1.0", "2025-02-01T12:00:00+0000"),
    ];
    for (id, ver, date) in order {
        let b = builds.iter().find(|b| b.build_id == id).unwrap();
        content.listings.push(listing(b, ver, date));
    }
    content.private_products.insert(QUEST);
    if let Some(size) = cfg.bench_v2_size {
        let b = bench_v2(&mut content, cs, size);
        content.listings.push(listing(&b, "1.0", "2025-04-01T12:00:00+0000"));
        builds.push(b);
    }
    content.listings.push(v1_listing(LEGACY, LEGACY_BUILD, LEGACY_TIMESTAMP, "1.0 legacy", "2020-09-13T12:26:43+0000"));
    if cfg.bench_v1_size.is_some() {
        content.listings.push(v1_listing(
            BENCH_V1,
            BENCH_V1_BUILD,
            BENCH_V1_TIMESTAMP,
            "1.0",
            "2020-09-13T12:26:45+0000",
        ));
    }
    let mut products = vec![
        (QUEST, "Fixture Quest".to_string()),
        (DLC_OWNED, "Fixture Quest: Owned DLC".to_string()),
        (LEGACY, "Fixture Legacy".to_string()),
        (DLC_UNOWNED, "Fixture Quest: Unowned DLC".to_string()),
    ];
    if cfg.bench_v2_size.is_some() {
        products.push((BENCH_V2, "Bench V2".into()));
    }
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
    let fixtures = Fixtures {
        builds,
        dependencies: fixture_deps,
        owned: vec![QUEST, DLC_OWNED, LEGACY, BENCH_V2, BENCH_V1, super::game::GAME_V2, super::game::GAME_V1],
        products,
    };
    (fixtures, content, v1)
}
