//! The install plan: every file, directory and link of a selection with where its bytes come
//! from and how to check them, built from V2 depot manifests or V1 depot manifests. Pure: no
//! network, no disk. It is saved in the install's state directory, so `verify`, `repair` and
//! updates work from it without asking GOG again.
//!
//! Paths are made safe here (`manifest::path::safe_relative`), `support` files are moved under
//! `gog-support/<productId>/`, and on Windows builds paths are case-folded so two spellings of
//! one folder land in one folder (first spelling wins). A later depot's file replaces an
//! earlier one with the same path (a DLC overriding the base game's copy).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::manifest::path::{resolve_link_target, safe_relative, CaseFolder};
use crate::manifest::v1::V1File;
use crate::manifest::v2::{DepotManifest, Item, EMPTY_MD5};
use crate::md5hex::Md5Hex;

/// One chunk of a V2 file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// Offset in the file.
    pub offset: u64,
    /// Inflated size.
    pub size: u64,
    /// MD5 of the inflated bytes (inline, see [`Md5Hex`]: two digests per chunk as `String`s
    /// were a fifth of an install's memory per file).
    pub md5: Md5Hex,
    /// MD5 (and address) of the stored zlib object.
    pub compressed_md5: Md5Hex,
    /// Size of the stored object.
    pub compressed_size: u64,
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// V2 chunks of the file's product store, in order.
    Chunks {
        /// The chunks.
        chunks: Vec<ChunkRef>,
    },
    /// A V1 `main.bin` byte range.
    Blob {
        /// Offset of the file in the product's `main.bin`.
        offset: u64,
    },
}

/// A file to install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Safe relative path under the install directory (`/` separators).
    pub path: String,
    /// Final size.
    pub size: u64,
    /// Whole-file MD5, when the manifest gives one (or a single chunk's); inline.
    pub md5: Option<Md5Hex>,
    /// Whole-file SHA-256, when given.
    pub sha256: Option<String>,
    /// Set the executable bits.
    pub executable: bool,
    /// Product whose store (or `main.bin`) holds the bytes.
    pub product_id: String,
    /// Where the bytes come from.
    pub source: Source,
    /// Offset in the depot's small files container, when it is a member.
    pub sfc_offset: Option<u64>,
}

impl PlanFile {
    /// The V2 chunks, or an empty slice for V1 files.
    pub fn chunks(&self) -> &[ChunkRef] {
        match &self.source {
            Source::Chunks { chunks } => chunks,
            Source::Blob { .. } => &[],
        }
    }

    /// The digest that identifies this file's content: md5, else sha256, else the chunk list.
    pub fn content_id(&self) -> String {
        if let Some(m) = &self.md5 {
            return m.to_string();
        }
        if let Some(s) = &self.sha256 {
            return s.clone();
        }
        let mut h = String::new();
        for c in self.chunks() {
            h.push_str(&c.md5);
        }
        crate::verify::md5_hex(h.as_bytes())
    }
}

/// A symbolic link to create (after every file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLink {
    /// Safe relative path of the link.
    pub path: String,
    /// Target, relative to the install directory, already checked to stay inside it.
    pub target: String,
}

/// A small files container: many small files stored in one chunked blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSfc {
    /// Product store holding its chunks.
    pub product_id: String,
    /// Its chunks (offsets inside the inflated container).
    pub chunks: Vec<ChunkRef>,
    /// Inflated size.
    pub size: u64,
    /// Indices into [`Plan::files`] of the members.
    pub members: Vec<usize>,
}

/// Everything a selection installs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Files, in manifest order.
    pub files: Vec<PlanFile>,
    /// Directories to create (besides the parents of files).
    pub dirs: Vec<String>,
    /// Symbolic links.
    pub links: Vec<PlanLink>,
    /// Small files containers.
    pub sfcs: Vec<PlanSfc>,
}

impl Plan {
    /// Bytes on disk when installed.
    pub fn install_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Bytes to download for all files (V2: compressed chunk sizes, each distinct chunk once;
    /// V1: file sizes).
    pub fn download_size(&self) -> u64 {
        let mut seen = std::collections::HashSet::new();
        let mut n = 0;
        for f in &self.files {
            match &f.source {
                Source::Chunks { chunks } => {
                    for c in chunks {
                        if seen.insert((f.product_id.as_str(), c.compressed_md5.as_str())) {
                            n += c.compressed_size;
                        }
                    }
                }
                Source::Blob { .. } => n += f.size,
            }
        }
        n
    }
}

/// Most files, directories or links a saved plan may hold (a manifest's item cap, times the
/// depots of a build).
pub const MAX_PLAN_ENTRIES: usize = 4 * crate::manifest::v2::MAX_ITEMS;

fn is_hex(s: &str, len: usize) -> bool {
    crate::manifest::de::is_hex(s, len)
}

/// A plan path must already be in the normal form [`PlanBuilder`] produces: safe, relative,
/// `/`-separated, outside `.galaxy-dl`.
fn check_path(p: &str) -> std::result::Result<(), String> {
    match safe_relative(p) {
        Ok(n) if n == p => {}
        Ok(_) => return Err(format!("path {:?} is not in normal form", short(p))),
        Err(e) => return Err(e.to_string()),
    }
    let lower = p.to_ascii_lowercase();
    if lower == ".galaxy-dl" || lower.starts_with(".galaxy-dl/") {
        return Err(format!("path {:?} is inside galaxy-dl's state directory", short(p)));
    }
    Ok(())
}

fn short(p: &str) -> String {
    p.chars().take(200).collect()
}

/// Chunks must lie end to end from offset 0, each of a sane size, and add up to `size`.
fn check_chunks(chunks: &[ChunkRef], size: u64, what: &str) -> std::result::Result<(), String> {
    if chunks.len() > crate::manifest::v2::MAX_CHUNKS {
        return Err(format!("{what}: too many chunks"));
    }
    let mut off = 0u64;
    for (i, c) in chunks.iter().enumerate() {
        if c.offset != off {
            return Err(format!(
                "{what}: chunk {i} at offset {} where {off} was expected (chunks must be contiguous)",
                c.offset
            ));
        }
        if c.size > crate::manifest::v2::MAX_CHUNK_SIZE {
            return Err(format!("{what}: chunk {i} of absurd size {}", c.size));
        }
        off = off.checked_add(c.size).ok_or_else(|| format!("{what}: chunk sizes overflow"))?;
    }
    if off != size {
        return Err(format!("{what}: chunks add up to {off} bytes, not {size}"));
    }
    Ok(())
}

impl Plan {
    /// Check a plan read back from disk as hostile input: `plan.json` can be edited by anyone who
    /// can write the install directory (shared install archives), and a plan is obeyed by code
    /// that writes files and slices mappings. Refused: unsafe or non-normal paths, duplicate
    /// paths, links whose targets leave DIR, chunks that are not contiguous or do not add up to
    /// the file size, absurd sizes and counts, bad digests or product ids, containers whose
    /// members do not exist, are not theirs, or lie outside them.
    ///
    /// # Errors
    /// The first problem found, in words.
    pub fn validate(&self) -> std::result::Result<(), String> {
        use crate::manifest::v2::MAX_FILE_SIZE;
        if self.files.len() > MAX_PLAN_ENTRIES
            || self.dirs.len() > MAX_PLAN_ENTRIES
            || self.links.len() > MAX_PLAN_ENTRIES
        {
            return Err("too many entries".into());
        }
        let mut seen = std::collections::HashSet::with_capacity(self.files.len());
        for (i, f) in self.files.iter().enumerate() {
            check_path(&f.path).map_err(|e| format!("file {i}: {e}"))?;
            if !seen.insert(f.path.as_str()) {
                return Err(format!("file {i}: path {:?} appears twice", short(&f.path)));
            }
            if f.size > MAX_FILE_SIZE {
                return Err(format!("file {i}: absurd size {}", f.size));
            }
            if f.product_id.is_empty()
                || f.product_id.len() > 32
                || !f.product_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(format!("file {i}: bad product id {:?}", short(&f.product_id)));
            }
            if f.md5.as_deref().is_some_and(|m| !is_hex(m, 32)) || f.sha256.as_deref().is_some_and(|m| !is_hex(m, 64)) {
                return Err(format!("file {i}: bad digest"));
            }
            match &f.source {
                Source::Chunks { chunks } => check_chunks(chunks, f.size, &format!("file {i}"))?,
                Source::Blob { offset } => {
                    offset.checked_add(f.size).ok_or_else(|| format!("file {i}: offset + size overflows"))?;
                }
            }
        }
        for (i, d) in self.dirs.iter().enumerate() {
            check_path(d).map_err(|e| format!("directory {i}: {e}"))?;
        }
        for (i, l) in self.links.iter().enumerate() {
            check_path(&l.path).map_err(|e| format!("link {i}: {e}"))?;
            match resolve_link_target(&l.target) {
                Ok(t) if t == l.target => {}
                Ok(_) => return Err(format!("link {i}: target is not in normal form")),
                Err(e) => return Err(format!("link {i}: {e}")),
            }
        }
        if self.sfcs.len() > self.files.len() {
            return Err("more small files containers than files".into());
        }
        let mut member_of = std::collections::HashSet::new();
        for (si, s) in self.sfcs.iter().enumerate() {
            let what = format!("small files container {si}");
            if s.size > MAX_FILE_SIZE {
                return Err(format!("{what}: absurd size {}", s.size));
            }
            check_chunks(&s.chunks, s.size, &what)?;
            for &m in &s.members {
                let f = self.files.get(m).ok_or_else(|| format!("{what}: member {m} is not a file of the plan"))?;
                if !member_of.insert(m) {
                    return Err(format!("{what}: file {m} is a member twice"));
                }
                if f.product_id != s.product_id || !matches!(f.source, Source::Chunks { .. }) {
                    return Err(format!("{what}: file {m} belongs to another store"));
                }
                let inside = f.sfc_offset.and_then(|o| o.checked_add(f.size)).is_some_and(|end| end <= s.size);
                if !inside {
                    return Err(format!("{what}: file {m} does not lie inside the container"));
                }
            }
        }
        Ok(())
    }
}

/// A manifest's chunk list laid out end to end: the chunks with their offsets, and the size.
fn chunk_refs(chunks: &[crate::manifest::v2::Chunk], what: &str) -> Result<(Vec<ChunkRef>, u64)> {
    let mut out = Vec::with_capacity(chunks.len());
    let mut off = 0u64;
    for c in chunks {
        let digest =
            |s: &str| Md5Hex::parse(s).ok_or_else(|| Error::manifest(what, "chunk digest is not 32 hex digits"));
        out.push(ChunkRef {
            offset: off,
            size: c.size,
            md5: digest(&c.md5)?,
            compressed_md5: digest(&c.compressed_md5)?,
            compressed_size: c.compressed_size,
        });
        off = off.checked_add(c.size).ok_or_else(|| Error::manifest(what, "size overflows"))?;
    }
    Ok((out, off))
}

/// A whole-file MD5 from a manifest (already checked there: 32 hex digits).
fn file_md5(m: &str, path: &str) -> Result<Md5Hex> {
    Md5Hex::parse(m).ok_or_else(|| Error::manifest(path, "file md5 is not 32 hex digits"))
}

/// Builds a [`Plan`] depot by depot.
#[derive(Debug)]
pub struct PlanBuilder {
    plan: Plan,
    index: HashMap<String, usize>,
    folder: Option<CaseFolder>,
}

impl PlanBuilder {
    /// A builder; `case_insensitive` for Windows builds.
    pub fn new(case_insensitive: bool) -> PlanBuilder {
        PlanBuilder { plan: Plan::default(), index: HashMap::new(), folder: case_insensitive.then(CaseFolder::new) }
    }

    fn place(&mut self, raw: &str, support_of: Option<&str>) -> Result<String> {
        let rel = safe_relative(raw)?;
        let rel = match support_of {
            Some(pid) => format!("gog-support/{pid}/{rel}"),
            None => rel,
        };
        if rel == ".galaxy-dl" || rel.starts_with(".galaxy-dl/") || rel.to_ascii_lowercase().starts_with(".galaxy-dl/")
        {
            return Err(Error::UnsafePath {
                path: raw.to_string(),
                reason: "collides with galaxy-dl's state directory",
            });
        }
        Ok(match &mut self.folder {
            Some(f) => f.fold(&rel),
            None => rel,
        })
    }

    fn key(&self, path: &str) -> String {
        if self.folder.is_some() {
            path.to_lowercase()
        } else {
            path.to_string()
        }
    }

    fn push_file(&mut self, f: PlanFile) -> usize {
        let key = self.key(&f.path);
        match self.index.get(&key) {
            Some(&i) => {
                self.plan.files[i] = f;
                i
            }
            None => {
                self.plan.files.push(f);
                let i = self.plan.files.len() - 1;
                self.index.insert(key, i);
                i
            }
        }
    }

    /// Add a V2 depot of `product_id`.
    pub fn add_v2_depot(&mut self, product_id: &str, depot: &DepotManifest) -> Result<()> {
        let mut members = Vec::new();
        for item in &depot.items {
            match item {
                Item::DepotFile(df) => {
                    let support = df.is_support().then_some(product_id);
                    let path = self.place(&df.path, support)?;
                    let (chunks, off) = chunk_refs(&df.chunks, &df.path)?;
                    let md5 = match (&df.md5, chunks.as_slice()) {
                        (Some(m), _) => Some(file_md5(m, &df.path)?),
                        (None, [one]) => Some(one.md5),
                        (None, []) => Some(file_md5(EMPTY_MD5, &df.path)?),
                        (None, _) => None,
                    };
                    let i = self.push_file(PlanFile {
                        path,
                        size: off,
                        md5,
                        sha256: df.sha256.clone(),
                        executable: df.is_executable(),
                        product_id: product_id.to_string(),
                        source: Source::Chunks { chunks },
                        sfc_offset: df.sfc_ref.as_ref().map(|r| r.offset),
                    });
                    if let Some(r) = &df.sfc_ref {
                        if r.size != off {
                            return Err(Error::manifest(&df.path, "sfcRef size differs from the file size"));
                        }
                        members.push(i);
                    }
                }
                Item::DepotDirectory { path } => {
                    let p = self.place(path, None)?;
                    self.plan.dirs.push(p);
                }
                Item::DepotLink { path, target } => {
                    let p = self.place(path, None)?;
                    let t = resolve_link_target(target)?;
                    self.plan.links.push(PlanLink { path: p, target: t });
                }
            }
        }
        if let Some(sfc) = &depot.small_files_container {
            if !members.is_empty() {
                let (chunks, off) = chunk_refs(&sfc.chunks, "small files container")?;
                for &m in &members {
                    let f = &self.plan.files[m];
                    let end = f.sfc_offset.unwrap_or(u64::MAX).checked_add(f.size);
                    if end.is_none_or(|e| e > off) {
                        return Err(Error::manifest(&f.path, "sfcRef lies outside the small files container"));
                    }
                }
                self.plan.sfcs.push(PlanSfc { product_id: product_id.to_string(), chunks, size: off, members });
            }
        }
        Ok(())
    }

    /// Add V1 files of `product_id` (its `main.bin`). Directory records become directories.
    pub fn add_v1_files(&mut self, product_id: &str, files: &[V1File]) -> Result<()> {
        for f in files {
            if f.directory {
                let p = self.place(&f.path, None)?;
                self.plan.dirs.push(p);
                continue;
            }
            let support = f.support.then_some(product_id);
            let path = self.place(&f.path, support)?;
            let offset = match (f.offset, f.size) {
                (Some(o), _) => o,
                (None, 0) => 0,
                (None, _) => return Err(Error::manifest(&f.path, "V1 file without offset")),
            };
            offset.checked_add(f.size).ok_or_else(|| Error::manifest(&f.path, "offset + size overflows"))?;
            let md5 = match (&f.hash, f.size) {
                (Some(h), _) => Some(file_md5(h, &f.path)?),
                (None, 0) => Some(file_md5(EMPTY_MD5, &f.path)?),
                (None, _) => None,
            };
            self.push_file(PlanFile {
                path,
                size: f.size,
                md5,
                sha256: None,
                executable: f.executable,
                product_id: product_id.to_string(),
                source: Source::Blob { offset },
                sfc_offset: None,
            });
        }
        Ok(())
    }

    /// The finished plan. Members of a container whose file was later replaced by another
    /// depot's copy are dropped from the container.
    pub fn finish(mut self) -> Plan {
        let files = &self.plan.files;
        // A file replaced by a later depot's copy belongs (at most) to the later container.
        let mut claimed = std::collections::HashSet::new();
        for s in self.plan.sfcs.iter_mut().rev() {
            s.members.retain(|&m| claimed.insert(m));
        }
        for s in &mut self.plan.sfcs {
            let size = s.size;
            s.members.retain(|&m| {
                files.get(m).is_some_and(|f| {
                    f.product_id == s.product_id
                        && f.sfc_offset.and_then(|o| o.checked_add(f.size)).is_some_and(|end| end <= size)
                })
            });
        }
        self.plan.sfcs.retain(|s| !s.members.is_empty());
        self.plan.dirs.sort();
        self.plan.dirs.dedup();
        self.plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depot(json: &str) -> DepotManifest {
        DepotManifest::parse(json.as_bytes(), "test").unwrap()
    }

    const C1: &str = r#"{"md5":"00000000000000000000000000000001","size":10,"compressedMd5":"10000000000000000000000000000001","compressedSize":5}"#;
    const C2: &str = r#"{"md5":"00000000000000000000000000000002","size":7,"compressedMd5":"10000000000000000000000000000002","compressedSize":7}"#;

    #[test]
    fn v2_files_offsets_support_and_case() {
        let j = format!(
            r#"{{"version":2,"depot":{{"items":[
            {{"type":"DepotFile","path":"Data\\a.bin","chunks":[{C1},{C2}],"md5":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}},
            {{"type":"DepotFile","path":"DATA\\b.bin","chunks":[{C1}]}},
            {{"type":"DepotFile","path":"empty.txt","chunks":[]}},
            {{"type":"DepotFile","path":"readme.txt","chunks":[{C2}],"flags":["support"]}},
            {{"type":"DepotFile","path":"game.exe","chunks":[{C2}],"flags":["executable"]}},
            {{"type":"DepotDirectory","path":"saves"}},
            {{"type":"DepotLink","path":"link","target":"Data/a.bin"}}
        ]}}}}"#
        );
        let mut b = PlanBuilder::new(true);
        b.add_v2_depot("7", &depot(&j)).unwrap();
        let p = b.finish();
        let paths: Vec<&str> = p.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["Data/a.bin", "Data/b.bin", "empty.txt", "gog-support/7/readme.txt", "game.exe"]);
        assert_eq!(p.files[0].size, 17);
        assert_eq!(p.files[0].chunks()[1].offset, 10);
        assert_eq!(p.files[1].md5.as_deref(), Some("00000000000000000000000000000001"));
        assert_eq!(p.files[2].md5.as_deref(), Some(EMPTY_MD5));
        assert!(p.files[4].executable);
        assert_eq!(p.dirs, ["saves"]);
        assert_eq!(p.links[0].target, "Data/a.bin");
        assert_eq!(p.install_size(), 17 + 10 + 7 + 7);
        // C1 and C2 are each downloaded once.
        assert_eq!(p.download_size(), 5 + 7);
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in [r#"..\\evil"#, r#"a\\..\\..\\b"#, "C:\\\\x", ".galaxy-dl/journal"] {
            let j =
                format!(r#"{{"version":2,"depot":{{"items":[{{"type":"DepotFile","path":"{bad}","chunks":[]}}]}}}}"#);
            let mut b = PlanBuilder::new(false);
            assert!(b.add_v2_depot("1", &depot(&j)).is_err(), "{bad}");
        }
        let j = r#"{"version":2,"depot":{"items":[{"type":"DepotLink","path":"l","target":"../../etc/passwd"}]}}"#;
        assert!(PlanBuilder::new(false).add_v2_depot("1", &depot(j)).is_err());
    }

    #[test]
    fn later_depot_overrides_same_path() {
        let a =
            format!(r#"{{"version":2,"depot":{{"items":[{{"type":"DepotFile","path":"x.dat","chunks":[{C1}]}}]}}}}"#);
        let b2 =
            format!(r#"{{"version":2,"depot":{{"items":[{{"type":"DepotFile","path":"X.DAT","chunks":[{C2}]}}]}}}}"#);
        let mut b = PlanBuilder::new(true);
        b.add_v2_depot("1", &depot(&a)).unwrap();
        b.add_v2_depot("2", &depot(&b2)).unwrap();
        let p = b.finish();
        assert_eq!(p.files.len(), 1);
        assert_eq!(p.files[0].product_id, "2");
        assert_eq!(p.files[0].size, 7);
    }

    #[test]
    fn plan_roundtrips_through_json() {
        let j = format!(r#"{{"version":2,"depot":{{"items":[{{"type":"DepotFile","path":"x","chunks":[{C1}]}}]}}}}"#);
        let mut b = PlanBuilder::new(false);
        b.add_v2_depot("1", &depot(&j)).unwrap();
        let p = b.finish();
        let s = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Plan>(&s).unwrap(), p);
    }
}
