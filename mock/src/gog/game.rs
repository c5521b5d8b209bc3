//! "Bench Game": benchmark products shaped like a real game (issue 13), beside the easy
//! "Bench V2"/"Bench V1" of [`super::fixtures`]. Generated only when
//! [`MockConfig::game_v2_size`](super::MockConfig::game_v2_size) /
//! [`game_v1_size`](super::MockConfig::game_v1_size) are set (`galaxy-dl-mock
//! --bench-game-v2 SIZE --bench-game-v1 SIZE`); deterministic for a given size and chunk size.
//!
//! **1000000021 "Bench Game"** (V2, build `1400000000000021`): 298 files with a long-tailed
//! size mix: 180 small files of 1–48 KiB (log-uniform; scripts, configs, icons, shaders) that
//! are also packed into one small-files container (each keeps its own chunk and an `sfcRef`,
//! as on GOG), 90 medium files (~48 KiB–4 MiB), 24 large ones (~4–24 MiB) and 4 very large
//! ones (the largest ~108 MiB at 512 MiB). Everything but the small files scales with the size
//! argument so that the inflated total is exactly SIZE (SIZE ≥ 4 MiB). About 40 % of the bytes
//! are incompressible (movies, music, voice: random bytes, zlib level 0 = stored blocks, as
//! zlib emits for such data); the rest is game-like compressible data (text tables, fixed
//! records, smooth "samples") at zlib level 6, together ≈ 2:1, so the whole product is ≈ 0.69
//! of SIZE on the wire. Chunks are at most `chunk_size` inflated (GOG: 10 MiB) — no 2×
//! tail chunk here. Two depots: `["*"]` and `["en-US"]` (localized text and voice).
//!
//! **1000000022 "Bench Game V1"** (build `3022`, timestamp 1600000022): the V1 twin — the same
//! 298 files with the same bytes plus 4 GOG/support files (302 in all) in one `main.bin`.

use super::fixtures::{Content, EntryKind, ExpectedBuild, ExpectedEntry, Listing, V1Content};
use crate::data::{md5_hex, Rng};
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// "Bench Game" (V2) product id.
pub const GAME_V2: u64 = 1000000021;
/// "Bench Game" V2 build id.
pub const GAME_V2_BUILD: &str = "1400000000000021";
/// "Bench Game V1" product id.
pub const GAME_V1: u64 = 1000000022;
/// "Bench Game V1" build id.
pub const GAME_V1_BUILD: &str = "3022";
/// "Bench Game V1" repository timestamp.
pub const GAME_V1_TIMESTAMP: u64 = 1600000022;

/// What a file's bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Already-compressed media: random bytes.
    Random,
    /// Text tables (`key_N = words…`), as scripts, configs, localization.
    Text,
    /// Fixed 64-byte records with ids, enums, quantized floats and some noise (meshes, levels).
    Records,
    /// Smooth 8-bit samples (a random walk), as raw textures or audio.
    Samples,
}

/// One file of the product.
#[derive(Debug, Clone)]
struct GameFile {
    /// Manifest path with `\` separators.
    path: String,
    size: usize,
    kind: Kind,
    seed: u64,
    /// In the `["en-US"]` depot.
    english: bool,
    /// Small enough for the small-files container.
    small: bool,
    executable: bool,
}

const SMALL_MAX: f64 = 48.0 * 1024.0;

fn unit(r: &mut Rng) -> f64 {
    (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn log_uniform(r: &mut Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + unit(r) * (hi.ln() - lo.ln())).exp()
}

/// The file list for an inflated total of `total` bytes.
fn layout(total: u64) -> Vec<GameFile> {
    const MIB: f64 = 1048576.0;
    let total = total.max(4 << 20) as usize;
    let mut r = Rng::new(0x6A3E_0001);
    let mut files = Vec::new();
    let mk = |path: String, size: usize, small: bool| GameFile {
        path,
        size,
        kind: Kind::Text,
        seed: 0,
        english: false,
        small,
        executable: false,
    };
    // 180 small files: fixed sizes (a game's small files do not grow with the game).
    for i in 0..180 {
        let size = log_uniform(&mut r, 1024.0, SMALL_MAX) as usize;
        let (path, kind) = match i % 6 {
            0 => (format!("data\\scripts\\quest_{i:03}.lua"), Kind::Text),
            1 => (format!("data\\config\\entity_{i:03}.ini"), Kind::Text),
            2 => (format!("data\\ui\\icon_{i:03}.dds"), Kind::Samples),
            3 => (format!("data\\shaders\\shader_{i:03}.bin"), Kind::Records),
            4 => (format!("data\\audio\\ui\\click_{i:03}.ogg"), Kind::Random),
            _ => (format!("localization\\en\\dialog_{i:03}.txt"), Kind::Text),
        };
        let mut f = mk(path, size, true);
        f.kind = kind;
        f.english = i % 6 == 5;
        files.push(f);
    }
    // 118 bigger files with raw sizes, scaled below to fill the rest of `total`.
    let mut big: Vec<(String, f64)> = Vec::new();
    for i in 0..90 {
        let name = match i % 5 {
            0 => format!("data\\textures\\tex_{i:03}.dds"),
            1 => format!("data\\meshes\\mesh_{i:03}.msh"),
            2 => format!("data\\audio\\sfx_{i:03}.ogg"),
            3 => format!("localization\\en\\voice_{i:03}.wem"),
            _ => format!("data\\anim\\anim_{i:03}.ani"),
        };
        big.push((name, log_uniform(&mut r, SMALL_MAX * 1.4, 4.0 * MIB)));
    }
    for i in 0..23 {
        let name = match i % 3 {
            0 => format!("data\\maps\\map_{i:02}.pak"),
            1 => format!("data\\audio\\music_{i:02}.ogg"),
            _ => format!("data\\textures\\atlas_{i:02}.pak"),
        };
        big.push((name, log_uniform(&mut r, 4.0 * MIB, 24.0 * MIB)));
    }
    big.push(("bin\\Game.exe".into(), 9.0 * MIB));
    for (name, mib) in [
        ("movies\\intro.bik", 120.0),
        ("data\\world.pak", 70.0),
        ("data\\textures.pak", 45.0),
        ("movies\\credits.bik", 35.0),
    ] {
        big.push((name.into(), mib * MIB));
    }
    let small_total: usize = files.iter().map(|f| f.size).sum();
    // Tiny totals: shrink the small files too (keeps the shape, sizes ≥ 1 byte).
    if small_total * 4 > total {
        for f in &mut files {
            f.size = (f.size * total / (small_total * 8)).max(1);
        }
    }
    let small_total: usize = files.iter().map(|f| f.size).sum();
    let left = total - small_total;
    let raw: f64 = big.iter().map(|b| b.1).sum();
    let mut sizes: Vec<usize> = big.iter().map(|b| ((b.1 * left as f64 / raw) as usize).max(1)).collect();
    // The largest file absorbs the rounding.
    let imax = (0..sizes.len()).max_by_key(|&i| sizes[i]).unwrap_or(0);
    let others: usize = sizes.iter().sum::<usize>() - sizes[imax];
    sizes[imax] = left.saturating_sub(others).max(1);
    // ~40 % of all bytes incompressible: media by name, then greedily in a seeded order.
    let target = total * 2 / 5;
    let mut random: usize = files.iter().filter(|f| f.kind == Kind::Random).map(|f| f.size).sum();
    let mut order: Vec<usize> = (0..big.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, (r.next_u64() % (i as u64 + 1)) as usize);
    }
    let media = |p: &str| p.ends_with(".bik") || p.ends_with(".ogg") || p.ends_with(".wem");
    order.sort_by_key(|&i| !media(&big[i].0)); // media first, stable within
    let mut kinds = vec![Kind::Text; big.len()];
    let cycle = [Kind::Records, Kind::Samples, Kind::Text, Kind::Records, Kind::Samples];
    for (n, &i) in order.iter().enumerate() {
        kinds[i] = if random + sizes[i] <= target {
            random += sizes[i];
            Kind::Random
        } else {
            cycle[n % cycle.len()]
        };
    }
    for (i, (name, _)) in big.into_iter().enumerate() {
        let mut f = mk(name, sizes[i], false);
        f.kind = kinds[i];
        f.english = f.path.starts_with("localization\\");
        f.executable = f.path.ends_with(".exe");
        files.push(f);
    }
    for (i, f) in files.iter_mut().enumerate() {
        f.seed = 0x6A3E_0000_0000 ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    files
}

/// Words of the product's "language" (deterministic pseudo-words).
fn vocabulary() -> &'static [Vec<u8>] {
    static V: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let mut r = Rng::new(0x0007_0CAB);
        (0..512)
            .map(|_| {
                let n = 2 + (r.next_u64() % 9) as usize;
                (0..n)
                    .map(|_| {
                        // Skewed towards the first (most frequent) letters.
                        let (a, b) = (r.next_u64() % 26, r.next_u64() % 26);
                        b"etaoinshrdlucmfwypvbgkqjxz"[(a * b / 26) as usize]
                    })
                    .collect()
            })
            .collect()
    })
}

/// Fill `buf` with the bytes of a file of `kind` (deterministic in `seed` and `buf.len()`).
fn fill(kind: Kind, seed: u64, buf: &mut [u8]) {
    let mut r = Rng::new(seed);
    match kind {
        Kind::Random => r.fill(buf),
        Kind::Text => {
            let words = vocabulary();
            let mut i = 0;
            let mut line = 0u64;
            let mut out = Vec::with_capacity(256);
            while i < buf.len() {
                out.clear();
                let _ = write!(out, "key_{line} = ");
                let n = 3 + r.next_u64() % 12;
                for k in 0..n {
                    if k > 0 {
                        out.push(b' ');
                    }
                    // Zipf-like: low indices much more often.
                    let x = r.next_u64();
                    let idx = ((x % 512) * ((x >> 32) % 512) / 512) as usize;
                    out.extend_from_slice(&words[idx]);
                }
                if r.next_u64().is_multiple_of(4) {
                    let _ = write!(out, " {}", r.next_u64() % 100000);
                }
                out.push(b'\n');
                let n = out.len().min(buf.len() - i);
                buf[i..i + n].copy_from_slice(&out[..n]);
                i += n;
                line += 1;
            }
        }
        Kind::Records => {
            for (id, rec) in buf.chunks_mut(64).enumerate() {
                let mut b = [0u8; 64];
                b[0..4].copy_from_slice(&(id as u32).to_le_bytes());
                b[4..8].copy_from_slice(&((r.next_u64() % 12) as u32).to_le_bytes());
                for k in 0..6 {
                    let q = (r.next_u64() % 2048) as f32 / 16.0;
                    b[8 + 4 * k..12 + 4 * k].copy_from_slice(&q.to_le_bytes());
                }
                r.fill(&mut b[32..44]);
                b[44..48].copy_from_slice(&0x3F80_0000u32.to_le_bytes());
                let n = rec.len();
                rec.copy_from_slice(&b[..n]);
            }
        }
        Kind::Samples => {
            let mut v: i32 = 128;
            let mut bits = 0u64;
            let mut left = 0;
            for x in buf.iter_mut() {
                if left == 0 {
                    bits = r.next_u64();
                    left = 16;
                }
                v += (bits & 7) as i32 - 3 - (v - 128) / 64;
                bits >>= 4;
                left -= 1;
                *x = v.clamp(0, 255) as u8;
            }
        }
    }
}

fn zlib(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::with_capacity(data.len() / 2 + 64), Compression::new(level));
    // Writing into a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

fn galaxy_path(h: &str) -> String {
    format!("{}/{}/{}", &h[0..2], &h[2..4], h)
}

fn threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 16)
}

/// Run `f(i)` for `0..n` on all cores, biggest-first order given by `order`.
fn par_each<T: Send>(order: &[usize], n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let out: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads() {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                let v = f(i);
                if let Ok(mut slot) = out[i].lock() {
                    *slot = Some(v);
                }
            });
        }
    });
    out.into_iter().filter_map(|m| m.into_inner().ok().flatten()).collect()
}

fn by_size_desc(files: &[GameFile]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(files[i].size));
    order
}

/// A chunk record: inflated md5/size, compressed md5/size.
struct Chunk {
    md5: String,
    size: usize,
    cmd5: String,
    z: Arc<[u8]>,
}

impl Chunk {
    fn new(data: &[u8], kind: Kind) -> Chunk {
        let z = zlib(data, if kind == Kind::Random { 0 } else { 6 });
        Chunk { md5: md5_hex(data), size: data.len(), cmd5: md5_hex(&z), z: Arc::from(z) }
    }
    fn json(&self) -> Value {
        json!({"md5": self.md5, "size": self.size, "compressedMd5": self.cmd5, "compressedSize": self.z.len()})
    }
}

/// One generated file: whole-file md5, its chunks, and (small files) its bytes for the SFC.
struct Built {
    md5: String,
    chunks: Vec<Chunk>,
    bytes: Option<Vec<u8>>,
}

fn entry(f: &GameFile, product_id: u64, depot: &str, langs: &[&str]) -> ExpectedEntry {
    let p = f.path.replace('\\', "/");
    ExpectedEntry {
        path: p.clone(),
        manifest_path: p,
        kind: EntryKind::File,
        size: f.size as u64,
        md5: String::new(),
        executable: f.executable,
        support: false,
        hidden: false,
        product_id,
        depot: depot.to_string(),
        languages: langs.iter().map(|s| s.to_string()).collect(),
        os_bitness: None,
        is_gog_depot: false,
        sfc_member: false,
        chunk_md5s: Vec::new(),
        chunk_compressed_md5s: Vec::new(),
        v1_offset: None,
    }
}

/// Generate the V2 product of `size` inflated bytes in chunks of at most `cs`, store its
/// manifests and chunks in `content`, list it, and return its description.
pub(crate) fn add_v2(content: &mut Content, cs: usize, size: u64) -> ExpectedBuild {
    let cs = cs.max(1024);
    let files = layout(size);
    let order = by_size_desc(&files);
    let built: Vec<Built> = par_each(&order, files.len(), |i| {
        let f = &files[i];
        let mut buf = vec![0u8; f.size];
        fill(f.kind, f.seed, &mut buf);
        let chunks = buf.chunks(cs).map(|c| Chunk::new(c, f.kind)).collect();
        Built { md5: md5_hex(&buf), chunks, bytes: f.small.then_some(buf) }
    });
    let mut entries = Vec::new();
    let mut depots_json = Vec::new();
    for (langs, english) in [(&["*"][..], false), (&["en-US"][..], true)] {
        let mut items = Vec::new();
        let (mut dsize, mut dcsize) = (0u64, 0u64);
        let mut dentries = Vec::new();
        // This depot's small-files container: its small files in order while the container
        // stays within one chunk.
        let mut container = Vec::new();
        let mut sfc_ref: Vec<Option<(usize, usize)>> = vec![None; files.len()];
        for (i, b) in built.iter().enumerate().filter(|(i, _)| files[*i].english == english) {
            if let Some(bytes) = &b.bytes {
                if container.len() + bytes.len() <= cs {
                    sfc_ref[i] = Some((container.len(), bytes.len()));
                    container.extend_from_slice(bytes);
                }
            }
        }
        let has_sfc = !container.is_empty();
        for (i, f) in files.iter().enumerate().filter(|(_, f)| f.english == english) {
            let b = &built[i];
            let mut item = json!({"type": "DepotFile", "path": f.path, "md5": b.md5,
                "chunks": b.chunks.iter().map(Chunk::json).collect::<Vec<_>>()});
            if f.executable {
                item["flags"] = json!(["executable"]);
            }
            let mut e = entry(f, GAME_V2, "", langs);
            if let Some((off, len)) = sfc_ref[i] {
                item["sfcRef"] = json!({"offset": off, "size": len});
                e.sfc_member = true;
                for c in &b.chunks {
                    content.sfc_member_chunks.insert(c.cmd5.clone());
                }
            }
            items.push(item);
            dsize += f.size as u64;
            dcsize += b.chunks.iter().map(|c| c.z.len() as u64).sum::<u64>();
            e.md5 = b.md5.clone();
            e.chunk_md5s = b.chunks.iter().map(|c| c.md5.clone()).collect();
            e.chunk_compressed_md5s = b.chunks.iter().map(|c| c.cmd5.clone()).collect();
            dentries.push(e);
            for c in &b.chunks {
                content.chunks.insert((GAME_V2, c.cmd5.clone()), c.z.clone());
            }
        }
        let mut depot = json!({"items": items});
        if has_sfc {
            let c = Chunk::new(&container, Kind::Text);
            depot["smallFilesContainer"] = json!({"chunks": [c.json()], "md5": md5_hex(&container)});
            content.sfc_chunks.insert(c.cmd5.clone());
            content.chunks.insert((GAME_V2, c.cmd5.clone()), c.z.clone());
        }
        let z = zlib(json!({"version": 2, "depot": depot}).to_string().as_bytes(), 6);
        let hash = md5_hex(&z);
        content.meta.insert(hash.clone(), Arc::from(z));
        for e in &mut dentries {
            e.depot = hash.clone();
        }
        entries.extend(dentries);
        depots_json.push(json!({"productId": GAME_V2.to_string(), "languages": langs,
            "manifest": hash, "size": dsize, "compressedSize": dcsize}));
    }
    let manifest = json!({
        "version": 2,
        "baseProductId": GAME_V2.to_string(),
        "buildId": GAME_V2_BUILD,
        "clientId": super::fixtures::GAME_CLIENT_ID,
        "clientSecret": super::fixtures::GAME_CLIENT_SECRET,
        "dependencies": [],
        "depots": depots_json,
        "installDirectory": "Bench Game",
        "offlineDepot": {"productId": GAME_V2.to_string(), "languages": ["*"], "manifest": "00000000000000000000000000000000", "size": 0, "compressedSize": 0},
        "platform": "windows",
        "products": [{"productId": GAME_V2.to_string(), "name": "Bench Game"}],
        "scriptInterpreter": false,
        "tags": [],
    });
    let z = zlib(manifest.to_string().as_bytes(), 6);
    let hash = md5_hex(&z);
    content.meta.insert(hash.clone(), Arc::from(z));
    let link_path = format!("/content-system/v2/meta/{}", galaxy_path(&hash));
    content.listings.push(Listing {
        product_id: GAME_V2,
        os: "windows".into(),
        build_id: GAME_V2_BUILD.into(),
        generation: 2,
        branch: None,
        password: None,
        version_name: "1.0".into(),
        date_published: "2025-05-01T12:00:00+0000".into(),
        link_path: link_path.clone(),
        legacy_build_id: None,
    });
    ExpectedBuild {
        product_id: GAME_V2,
        build_id: GAME_V2_BUILD.into(),
        os: "windows".into(),
        generation: 2,
        branch: None,
        password: None,
        legacy_build_id: None,
        link_path,
        dependencies: Vec::new(),
        install_directory: "Bench Game".into(),
        entries,
    }
}

/// The V1 twin's listing (the content itself comes from [`add_v1`], in the background).
pub(crate) fn v1_listing() -> Listing {
    Listing {
        product_id: GAME_V1,
        os: "windows".into(),
        build_id: GAME_V1_BUILD.into(),
        generation: 1,
        branch: None,
        password: None,
        version_name: "1.0".into(),
        date_published: "2020-09-13T12:26:52+0000".into(),
        link_path: format!("/content-system/v1/manifests/{GAME_V1}/windows/{GAME_V1_TIMESTAMP}/repository.json"),
        legacy_build_id: Some(GAME_V1_TIMESTAMP),
    }
}

/// Generate the V1 twin of `size` (the V2 product's files and bytes, plus 4 GOG/support
/// files) into `v1`.
pub(crate) fn add_v1(v1: &mut V1Content, size: u64) {
    let mut files = layout(size);
    let info = json!({"buildId": GAME_V1_BUILD, "gameId": GAME_V1.to_string(), "name": "Bench Game V1",
        "rootGameId": GAME_V1.to_string(), "version": 1})
    .to_string();
    let extras: [(&str, usize, Kind); 4] = [
        ("goggame-1000000022.info", info.len(), Kind::Text),
        ("goggame-1000000022.hashdb", 12_000, Kind::Random),
        ("webcache.zip", 300_000, Kind::Random),
        ("support\\readme.txt", 3_000, Kind::Text),
    ];
    for (i, (p, n, k)) in extras.into_iter().enumerate() {
        files.push(GameFile {
            path: p.into(),
            size: n,
            kind: k,
            seed: 0x6A3E_1000 + i as u64,
            english: false,
            small: true,
            executable: false,
        });
    }
    let mut offsets = Vec::with_capacity(files.len());
    let mut total = 0usize;
    for f in &files {
        offsets.push(total);
        total += f.size;
    }
    let mut blob = vec![0u8; total];
    {
        // Disjoint slices of the blob, one per file, filled on all cores.
        let mut rest: &mut [u8] = &mut blob;
        let mut slices = Vec::with_capacity(files.len());
        for f in &files {
            let (a, b) = rest.split_at_mut(f.size);
            slices.push(Mutex::new(a));
            rest = b;
        }
        let order = by_size_desc(&files);
        let md5s = par_each(&order, files.len(), |i| {
            let f = &files[i];
            let Ok(mut s) = slices[i].lock() else { return String::new() };
            if f.path.ends_with(".info") {
                s.copy_from_slice(info.as_bytes());
            } else {
                fill(f.kind, f.seed, &mut s);
            }
            md5_hex(&s)
        });
        drop(slices);
        let depot_name = format!("{:08x}-0000-4000-8000-000000000021.json", GAME_V1 % 0xffff_ffff);
        let url = format!("{GAME_V1}/main.bin");
        let mut recs = Vec::new();
        let mut entries = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let p = format!("/{}", f.path.replace('\\', "/"));
            let support = f.path.starts_with("support\\");
            let mut r = json!({"url": url, "size": f.size, "hash": md5s[i], "path": p, "offset": offsets[i]});
            if f.executable {
                r["executable"] = json!(true);
            }
            if support {
                r["support"] = json!(true);
            }
            recs.push(r);
            let mut e = entry(f, GAME_V1, &depot_name, &["Neutral"]);
            if support {
                e.path = format!("gog-support/{GAME_V1}/{}", e.manifest_path);
                e.support = true;
            }
            e.md5 = md5s[i].clone();
            e.v1_offset = Some(offsets[i] as u64);
            entries.push(e);
        }
        let repo = json!({"version": 1, "product": {
            "timestamp": GAME_V1_TIMESTAMP, "rootGameID": GAME_V1.to_string(), "installDirectory": "Bench Game V1",
            "projectName": "Bench Game V1",
            "gameIDs": [{"gameID": GAME_V1.to_string(), "name": {"en": "Bench Game V1"}, "standalone": true, "dependencies": []}],
            "depots": [{"languages": ["Neutral"], "size": total.to_string(), "gameIDs": [GAME_V1.to_string()],
                        "systems": ["Windows"], "manifest": depot_name}],
            "support_commands": [{"languages": ["Neutral"], "executable": "/support/readme.txt",
                                  "gameID": GAME_V1.to_string(), "systems": ["Windows"], "argument": ""}],
        }});
        let depot = json!({"version": 1, "depot": {"name": "Bench Game V1 Neutral", "files": recs}});
        let prefix = format!("{GAME_V1}/windows/{GAME_V1_TIMESTAMP}");
        v1.manifests.insert(format!("{prefix}/repository.json"), Arc::from(repo.to_string().into_bytes()));
        v1.manifests.insert(format!("{prefix}/{depot_name}"), Arc::from(depot.to_string().into_bytes()));
        v1.builds.push(ExpectedBuild {
            product_id: GAME_V1,
            build_id: GAME_V1_BUILD.into(),
            os: "windows".into(),
            generation: 1,
            branch: None,
            password: None,
            legacy_build_id: Some(GAME_V1_TIMESTAMP),
            link_path: format!("/content-system/v1/manifests/{prefix}/repository.json"),
            dependencies: Vec::new(),
            install_directory: "Bench Game V1".into(),
            entries,
        });
        v1.main_bins.insert(prefix, Arc::from(std::mem::take(&mut blob)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_has_the_game_shape_at_any_size() {
        for size in [4u64 << 20, 64 << 20, 512 << 20] {
            let files = layout(size);
            assert_eq!(files.len(), 298);
            let total: usize = files.iter().map(|f| f.size).sum();
            assert_eq!(total as u64, size);
            let random: usize = files.iter().filter(|f| f.kind == Kind::Random).map(|f| f.size).sum();
            let share = random as f64 / total as f64;
            assert!((0.35..=0.42).contains(&share), "{size}: random share {share}");
            assert!(files.iter().all(|f| f.size >= 1));
            let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
            paths.sort();
            paths.dedup();
            assert_eq!(paths.len(), 298, "paths are unique");
        }
        let files = layout(512 << 20);
        let max = files.iter().map(|f| f.size).max().unwrap_or(0);
        assert!((80 << 20..=110 << 20).contains(&max), "largest {max}");
        assert!(files.iter().filter(|f| f.size <= 48 << 10).count() >= 180);
        assert!(files.iter().filter(|f| f.size >= 4 << 20).count() >= 20);
    }

    #[test]
    fn compressible_kinds_compress_about_two_to_one() {
        for kind in [Kind::Text, Kind::Records, Kind::Samples] {
            let mut b = vec![0u8; 1 << 20];
            fill(kind, 7, &mut b);
            let r = b.len() as f64 / zlib(&b, 6).len() as f64;
            eprintln!("{kind:?}: {r:.2}");
            assert!((1.6..=3.6).contains(&r), "{kind:?} ratio {r}");
        }
    }
}

#[cfg(test)]
mod served {
    use super::*;
    use std::io::Read;

    fn inflate(z: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        flate2::read::ZlibDecoder::new(z).read_to_end(&mut v).expect("valid zlib");
        v
    }

    /// What the mock serves for the V2 product agrees with itself: chunks within the chunk
    /// size and stored under their compressed MD5, every `sfcRef` pointing at its file's bytes
    /// in the container, file MD5s over the inflated chunks.
    #[test]
    fn served_v2_manifests_chunks_and_containers_agree() {
        let cs = 64 << 10;
        let mut content = Content::default();
        let b = add_v2(&mut content, cs, 6 << 20);
        let meta = |h: &str| -> Value {
            serde_json::from_slice(&inflate(content.meta.get(h).expect("served manifest"))).expect("json")
        };
        let hash = b.link_path.rsplit('/').next().unwrap_or("");
        let build = meta(hash);
        let (mut files, mut members, mut total) = (0, 0, 0u64);
        for d in build["depots"].as_array().expect("depots") {
            let depot = meta(d["manifest"].as_str().expect("manifest"));
            let chunk = |c: &Value| -> Vec<u8> {
                let z = content.chunks.get(&(GAME_V2, c["compressedMd5"].as_str().unwrap_or("").to_string()));
                let z = z.expect("served chunk");
                assert_eq!(md5_hex(z), c["compressedMd5"].as_str().unwrap_or(""));
                assert_eq!(z.len() as u64, c["compressedSize"].as_u64().unwrap_or(0));
                let data = inflate(z);
                assert!(data.len() <= cs, "chunk of {} > {cs}", data.len());
                assert_eq!(md5_hex(&data), c["md5"].as_str().unwrap_or(""));
                data
            };
            let container: Vec<u8> = depot["depot"]["smallFilesContainer"]["chunks"]
                .as_array()
                .map(|cs| cs.iter().flat_map(chunk).collect())
                .unwrap_or_default();
            for it in depot["depot"]["items"].as_array().expect("items") {
                let data: Vec<u8> = it["chunks"].as_array().expect("chunks").iter().flat_map(chunk).collect();
                assert_eq!(md5_hex(&data), it["md5"].as_str().unwrap_or(""), "{}", it["path"]);
                if let Some(r) = it.get("sfcRef") {
                    let (o, n) = (r["offset"].as_u64().unwrap_or(0) as usize, r["size"].as_u64().unwrap_or(0) as usize);
                    assert_eq!(container.get(o..o + n), Some(&data[..]), "{}", it["path"]);
                    members += 1;
                }
                files += 1;
                total += data.len() as u64;
            }
        }
        assert_eq!((files, total), (298, 6 << 20));
        assert!(members > 0);
    }
}
