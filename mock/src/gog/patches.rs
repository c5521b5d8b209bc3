//! xdelta3 patches between the mock's own fixture builds (Fixture Quest windows, old -> new),
//! as GOG serves them (`docs/gog-protocol.md` section 10): the `patches` endpoint, the root
//! patch manifest and per-depot `DepotDiff` manifests under `/content-system/v2/patches/meta/`,
//! and the delta chunks under `/content-system/v2/patches/store/{productId}/` (reached through a
//! secure link asked for with `root=/patches/store`). Deltas are made by [`crate::vcdiff`] from
//! the fixture files at the first patch request, once per [`PatchMode`].

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde_json::{json, Value};

use super::fixtures::{EntryKind, ExpectedBuild, QUEST, QUEST_BUILD_NEW, QUEST_BUILD_OLD};
use super::Built;
use crate::data::md5_hex;

/// What the mock's `patches` endpoint offers (a [`super::GogFaults`] switch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PatchMode {
    /// No patch for any pair of builds (404 `not_found`), the default: update tests that count
    /// store requests see only chunk updates unless they ask for patches.
    #[default]
    Off,
    /// Correct patches for Fixture Quest windows old -> new.
    Offer,
    /// As `Offer`, but every delta has one byte flipped (its chunks still match their
    /// `compressedMd5`, so only applying the delta can notice).
    CorruptDelta,
    /// As `Offer`, but every `md5_source` names a file the client does not have.
    SourceMismatch,
    /// As `Offer`, but the patch store answers 404 for every delta chunk.
    WithheldDeltas,
}

/// Build pairs that have a patch.
pub const PATCHED_BUILDS: [(u64, &str, &str); 1] = [(QUEST, QUEST_BUILD_OLD, QUEST_BUILD_NEW)];

/// The served patch content of one [`PatchMode`].
#[derive(Default)]
pub(crate) struct Patches {
    /// Root and depot patch manifests (zlib JSON) by hash.
    pub meta: HashMap<String, Arc<[u8]>>,
    /// Delta chunks (zlib) by (product id, compressedMd5).
    pub chunks: HashMap<(u64, String), Arc<[u8]>>,
    /// Root manifest hash by (product, from build, to build).
    pub roots: HashMap<(u64, String, String), String>,
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::new(6));
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

fn galaxy_path(h: &str) -> String {
    format!("{}/{}/{}", &h[0..2], &h[2..4], h)
}

/// The bytes of a fixture file, from its stored chunks.
fn file_bytes(built: &Built, product: u64, cmd5s: &[String]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for c in cmd5s {
        let z = built.content.chunks.get(&(product, c.clone()))?;
        ZlibDecoder::new(&z[..]).read_to_end(&mut out).ok()?;
    }
    Some(out)
}

fn manifest_path(p: &str) -> String {
    p.replace('/', "\\")
}

/// Build the patches of `mode` (empty for [`PatchMode::Off`]).
pub(crate) fn build(built: &Built, cs: usize, mode: PatchMode) -> Patches {
    let mut p = Patches::default();
    if mode == PatchMode::Off {
        return p;
    }
    let builds = &built.v2_fixtures.builds;
    let find = |pid: u64, id: &str| builds.iter().find(|b| b.product_id == pid && b.build_id == id);
    for (pid, from, to) in PATCHED_BUILDS {
        let (Some(old), Some(new)) = (find(pid, from), find(pid, to)) else { continue };
        let root = pair(built, cs, mode, old, new, &mut p);
        p.roots.insert((pid, from.to_string(), to.to_string()), root);
    }
    p
}

fn pair(
    built: &Built,
    cs: usize,
    mode: PatchMode,
    old: &ExpectedBuild,
    new: &ExpectedBuild,
    p: &mut Patches,
) -> String {
    let old_files: HashMap<(u64, String), &super::ExpectedEntry> = old
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| ((e.product_id, e.manifest_path.to_lowercase()), e))
        .collect();
    // DepotDiffs per depot of the new build, in depot order.
    let mut depots: Vec<(String, u64, Vec<String>, Vec<Value>)> = Vec::new();
    for e in new.entries.iter().filter(|e| e.kind == EntryKind::File && e.size > 0) {
        let Some(o) = old_files.get(&(e.product_id, e.manifest_path.to_lowercase())) else { continue };
        if o.md5 == e.md5 {
            continue;
        }
        let (Some(src), Some(tgt)) = (
            file_bytes(built, o.product_id, &o.chunk_compressed_md5s),
            file_bytes(built, e.product_id, &e.chunk_compressed_md5s),
        ) else {
            continue;
        };
        let mut delta = crate::vcdiff::encode(&src, &tgt);
        if mode == PatchMode::CorruptDelta {
            // A byte of the last window's sections: the window checksum no longer matches.
            let i = delta.len() - 1;
            delta[i] ^= 0x5a;
        }
        let mut chunks = Vec::new();
        for piece in delta.chunks(cs.max(1024)) {
            let z = zlib(piece);
            let cmd5 = md5_hex(&z);
            chunks.push(
                json!({"md5": md5_hex(piece), "size": piece.len(), "compressedMd5": cmd5, "compressedSize": z.len()}),
            );
            p.chunks.insert((e.product_id, cmd5), Arc::from(z));
        }
        let md5_source = if mode == PatchMode::SourceMismatch { md5_hex(b"not the old file") } else { o.md5.clone() };
        let item = json!({
            "type": "DepotDiff",
            "path_source": manifest_path(&o.manifest_path),
            "path_target": manifest_path(&e.manifest_path),
            "md5_source": md5_source,
            "md5_target": e.md5,
            "md5": md5_hex(&delta),
            "chunks": chunks,
        });
        match depots.iter_mut().find(|d| d.0 == e.depot) {
            Some(d) => d.3.push(item),
            None => depots.push((e.depot.clone(), e.product_id, e.languages.clone(), vec![item])),
        }
    }
    let mut depots_json = Vec::new();
    for (_, pid, langs, items) in depots {
        let z = zlib(json!({"version": 2, "depot": {"items": items}}).to_string().as_bytes());
        let h = md5_hex(&z);
        p.meta.insert(h.clone(), Arc::from(z));
        depots_json.push(json!({"productId": pid.to_string(), "languages": langs, "manifest": h}));
    }
    let root = json!({
        "algorithm": "xdelta3",
        "baseProductId": new.product_id.to_string(),
        "clientId": super::fixtures::GAME_CLIENT_ID,
        "clientSecret": super::fixtures::GAME_CLIENT_SECRET,
        "depots": depots_json,
    });
    let z = zlib(root.to_string().as_bytes());
    let h = md5_hex(&z);
    p.meta.insert(h.clone(), Arc::from(z));
    h
}

/// The path of a root patch manifest on the mock's origin.
pub(crate) fn root_link(base: &str, hash: &str) -> String {
    format!("{base}/content-system/v2/patches/meta/{}", galaxy_path(hash))
}
