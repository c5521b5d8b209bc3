//! Updates by patch: when a V2 install moves from build A to build B and GOG offers an xdelta3
//! patch A -> B, each changed file whose installed version is the patch's source is rebuilt
//! from the old file and a small delta instead of its changed chunks.
//!
//! Per file: the delta chunks are fetched through the one chunk-fetch entry point
//! ([`Engine::download_chunks`], same retries and link renewal as every chunk) into
//! `DIR/.galaxy-dl/tmp/<md5(path)>.delta`; the delta is applied to the old file into
//! `DIR/.galaxy-dl/tmp/<md5(path)>.patched`; the result must have the new manifest's MD5; only
//! then is it renamed over the old file and journaled as finished. A kill at any moment leaves
//! either the old file or the verified new one in place, never a half-patched file. Anything
//! that does not work out (no patch, a source that is not the installed file, a failed fetch,
//! a corrupt delta, a wrong result) sends the file back to the chunk update.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::Sender;

use super::plan::{Plan, PlanFile, Source};
use super::state::{self, JournalState, Stamp, StateDir};
use super::Links;
use crate::api::patches::FilePatch;
use crate::api::secure_link::LinkCache;
use crate::api::Client;
use crate::error::{Error, Result};
use crate::fetch::chunk::{ChunkJob, ChunkSink, Target};
use crate::fetch::Engine;
use crate::journal::Record;
use crate::progress::{Event, FileStatus, Progress};
use crate::sink::MappedFile;

/// File in the state directory naming the build an unfinished update started from.
pub const FROM_FILE: &str = "patch-from";

/// Largest delta used (it is mapped, not read into memory; this bounds its temporary space);
/// files with bigger ones are updated by chunks.
pub const MAX_DELTA: u64 = 256 << 20;

/// The builds of an update, for asking GOG for a patch.
#[derive(Debug, Clone)]
pub struct Update {
    /// Base product.
    pub product_id: String,
    /// Build installed before the update.
    pub from: String,
    /// Build being installed.
    pub to: String,
}

/// One file to update by patch.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Index of the file in the new plan.
    pub file: usize,
    /// The old file (absolute path).
    pub source: PathBuf,
    /// The patch.
    pub patch: FilePatch,
}

/// The build an update starts from: the one recorded in `root` when it began, else the
/// `installed` (build id, generation), V2 only.
pub fn update_from(root: &Path, installed: Option<(&str, u8)>) -> Option<String> {
    if let Ok(s) = std::fs::read_to_string(root.join(FROM_FILE)) {
        let s = s.trim();
        if !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Some(s.to_string());
        }
    }
    installed.filter(|i| i.1 == 2).map(|i| i.0.to_string())
}

/// Record the build an update starts from (kept until the update completes).
pub fn record_from(st: &StateDir, from: &str) -> Result<()> {
    let p = st.root().join(FROM_FILE);
    std::fs::write(&p, from).map_err(|e| Error::io("write", &p, e))
}

/// Forget the recorded start of an update (it is complete).
pub fn clear_from(st: &StateDir) {
    let _ = std::fs::remove_file(st.root().join(FROM_FILE));
}

fn md5_of(path: &Path) -> Option<String> {
    use md5::{Digest, Md5};
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(crate::verify::hex(&h.finalize()))
}

/// The file patches GOG offers for `up`, restricted to the products of `plan`; `Err` carries
/// the reason there are none to use (logged at info when none is offered).
pub fn fetch_patches(client: &Client, plan: &Plan, up: &Update) -> std::result::Result<Vec<FilePatch>, Option<Error>> {
    let products: HashSet<&str> = plan.files.iter().map(|f| f.product_id.as_str()).collect();
    match client.patches(&up.product_id, &up.from, &up.to, |p, _| products.contains(p)) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => {
            log::info!("no patch from build {} to {}", up.from, up.to);
            Err(None)
        }
        Err(e) => Err(Some(e)),
    }
}

/// The `todo` files of `plan` that one of `patches` rebuilds from a file of `old` (by the
/// manifests alone: target path, product and MD5, delta size, and a source the old build
/// has): (file index in `plan`, the old file, its patch).
pub fn match_patches<'a>(
    (plan, old): (&Plan, &'a Plan),
    patches: &'a [FilePatch],
    todo: &[usize],
) -> Vec<(usize, &'a PlanFile, &'a FilePatch)> {
    let by_target: HashMap<String, &FilePatch> = patches.iter().map(|p| (p.path_target.to_lowercase(), p)).collect();
    let old_by_path: HashMap<String, &PlanFile> = old.files.iter().map(|f| (f.path.to_lowercase(), f)).collect();
    let mut out = Vec::new();
    for &i in todo {
        let Some(f) = plan.files.get(i) else { continue };
        if !matches!(f.source, Source::Chunks { .. }) || f.size == 0 || f.sfc_offset.is_some() {
            continue;
        }
        let Some(p) = by_target.get(&f.path.to_lowercase()) else { continue };
        if p.product_id != f.product_id || f.md5.as_deref() != Some(p.md5_target.as_str()) {
            continue;
        }
        if p.delta_size() > MAX_DELTA || p.delta_size() == 0 {
            continue;
        }
        let Some(o) = old_by_path.get(&p.path_source.to_lowercase()) else { continue };
        out.push((i, *o, *p));
    }
    out
}

/// Which of the `todo` files of `plan` can be updated by patch from `old`'s files in `dir`.
/// Never fails: a patch that cannot be fetched or used only means a chunk update (logged, and
/// a notice in `notices`).
pub fn plan_patches(
    client: &Client,
    dir: &Path,
    (plan, old): (&Plan, &Plan),
    up: &Update,
    journal: &JournalState,
    todo: &[usize],
    notices: &mut Vec<String>,
) -> Vec<Planned> {
    if up.from == up.to || todo.is_empty() {
        return Vec::new();
    }
    let patches = match fetch_patches(client, plan, up) {
        Ok(p) => p,
        Err(None) => return Vec::new(),
        Err(Some(e)) => {
            notices.push(format!("patch from build {} to {} unavailable ({e}); updating by chunks", up.from, up.to));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, o, p) in match_patches((plan, old), &patches, todo) {
        let source = dir.join(&o.path);
        let proven = o.md5.as_deref() == Some(p.md5_source.as_str()) && journal.file_ok(dir, &o.path, &o.content_id());
        if !proven && md5_of(&source).as_deref() != Some(p.md5_source.as_str()) {
            let target = plan.files.get(i).map_or("", |f| f.path.as_str());
            log::info!("patch for {target} not used: the installed {} is not its source", o.path);
            continue;
        }
        out.push(Planned { file: i, source, patch: p.clone() });
    }
    log::info!("{} of {} files to update have a usable patch", out.len(), todo.len());
    out
}

/// Mapped delta files being downloaded, one per planned patch.
struct DeltaSink(Vec<Arc<MappedFile>>);

impl ChunkSink for DeltaSink {
    fn file(&self, file: usize) -> Result<Arc<MappedFile>> {
        self.0.get(file).cloned().ok_or_else(|| Error::manifest("patch", "no such delta"))
    }
    fn done(&self, _: &ChunkJob, _: Option<crate::md5x::Md5State>) -> Result<()> {
        Ok(())
    }
}

/// Fetch the deltas of `list` and apply them. Returns the plan indices of the files that must
/// be updated by chunks instead. Finished files are journaled through `jtx`.
///
/// # Errors
/// Only [`Error::Interrupted`] and errors that would stop any update (disk); patch problems
/// are fallbacks.
pub fn apply_patches(
    client: &Arc<Client>,
    engine: &Engine,
    st: &StateDir,
    (plan, list): (&Plan, &[Planned]),
    progress: &Progress,
    jtx: &Sender<Record>,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Vec<usize>> {
    let dir = st.install_dir();
    let tmp = st.root().join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    let name = |p: &Planned, ext: &str| {
        let path = plan.files.get(p.file).map(|f| f.path.as_str()).unwrap_or_default();
        tmp.join(format!("{}.{ext}", crate::verify::md5_hex(path.as_bytes())))
    };
    let mut maps = Vec::with_capacity(list.len());
    let mut jobs = Vec::new();
    for (k, p) in list.iter().enumerate() {
        let (m, _) = MappedFile::create(&name(p, "delta"), p.patch.delta_size())?;
        maps.push(Arc::new(m));
        let mut off = 0;
        for c in &p.patch.chunks {
            let digest = |s: &str| {
                crate::md5hex::Md5Hex::parse(s)
                    .ok_or_else(|| Error::manifest(s, "patch chunk digest is not 32 hex digits"))
            };
            jobs.push(ChunkJob {
                product: p.patch.product_id.as_str().into(),
                compressed_md5: digest(&c.compressed_md5)?,
                compressed_size: c.compressed_size,
                md5: digest(&c.md5)?,
                size: c.size,
                targets: vec![Target { file: k, offset: off }],
                check_md5: true,
                local: None,
                hash_inline: false,
            });
            off += c.size;
        }
    }
    let c = client.clone();
    let links_cache = LinkCache::new(move |p| c.secure_link_patches(p));
    let links = Links { v2: Some(&links_cache), v1: None };
    let sink = DeltaSink(maps);
    let fetched = engine.download_chunks(&jobs, &links, &sink);
    drop(sink);
    let all: Vec<usize> = list.iter().map(|p| p.file).collect();
    match fetched {
        Ok(()) => {}
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(e) => {
            progress.emit(Event::Notice { message: format!("patch deltas unavailable ({e}); updating by chunks") });
            for p in list {
                let _ = std::fs::remove_file(name(p, "delta"));
            }
            return Ok(all);
        }
    }
    // Apply on a few threads (each holds at most one target window, 64 MiB, in memory); each
    // file is journaled as soon as it is in place.
    let failed = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4).min(list.len());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let Some(p) = list.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) else { break };
                let Some(f) = plan.files.get(p.file) else { continue };
                let (delta_path, out) = (name(p, "delta"), name(p, "patched"));
                let r = apply_one(p, f, &delta_path, &out, dir);
                let _ = std::fs::remove_file(&delta_path);
                match r {
                    Ok(stamp) => {
                        let _ = jtx.send(Record { data: None, line: JournalState::file_line(&f.path, &stamp) });
                        progress.emit(Event::File {
                            path: f.path.clone(),
                            size: f.size,
                            md5: f.md5.as_ref().map(String::from),
                            status: FileStatus::Done,
                        });
                    }
                    Err(e) => {
                        let _ = std::fs::remove_file(&out);
                        progress.emit(Event::Notice {
                            message: format!("patch for {} not applied ({e}); fetching its chunks", f.path),
                        });
                        if let Ok(mut v) = failed.lock() {
                            v.push(p.file);
                        }
                    }
                }
            });
        }
    });
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    let mut failed = failed.into_inner().unwrap_or_default();
    failed.sort_unstable();
    Ok(failed)
}

/// Apply one downloaded delta into `out`, check it, and rename it into place.
fn apply_one(p: &Planned, f: &PlanFile, delta_path: &Path, out: &Path, dir: &Path) -> Result<Stamp> {
    use std::os::unix::fs::PermissionsExt;
    let df = std::fs::File::open(delta_path).map_err(|e| Error::io("open", delta_path, e))?;
    // SAFETY: read-only mapping of our own temporary file, written completely and no longer
    // written by anyone (the chunk fetch is over); it is removed only after this returns.
    #[allow(unsafe_code)]
    let delta = unsafe { memmap2::Mmap::map(&df) }.map_err(|e| Error::io("map", delta_path, e))?;
    // Every delta chunk was checked against its MD5 on arrival. The DepotDiff's own `md5` is
    // read by heroic-gogdl but never used, so what GOG puts there is unverified: a mismatch is
    // only logged. The window checksums and the target MD5 below decide.
    if let Some(want) = &p.patch.md5 {
        let got = crate::verify::md5_hex(&delta);
        if &got != want {
            debug!("delta for {}: md5 {got} differs from the DepotDiff's md5 {want}", f.path);
        }
    }
    let file = crate::patch::apply_file(&f.path, &delta, &p.source, out, f.size)?;
    drop(delta);
    if !super::verify_file(out, f)? {
        return Err(Error::Checksum {
            what: format!("{} after patching", f.path),
            expected: f.md5.as_ref().map(String::from).unwrap_or_default(),
            actual: md5_of(out).unwrap_or_default(),
        });
    }
    let mode = if f.executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(out, std::fs::Permissions::from_mode(mode)).map_err(|e| Error::io("chmod", out, e))?;
    file.sync_all().map_err(|e| Error::io("sync", out, e))?;
    drop(file);
    let target = state::ensure_parents(dir, &f.path)?;
    std::fs::rename(out, &target).map_err(|e| Error::io("rename", &target, e))?;
    Stamp::of(&target, &f.content_id()).ok_or_else(|| Error::NotFound(format!("{} after patching", f.path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_start_comes_from_the_record_else_the_installed_v2_build() {
        let d = std::env::temp_dir().join(format!("galaxy-dl-patch-from-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(update_from(&d, Some(("11", 2))).as_deref(), Some("11"));
        assert_eq!(update_from(&d, Some(("3003", 1))), None, "V1 installs have no patches");
        assert_eq!(update_from(&d, None), None);
        std::fs::write(d.join(FROM_FILE), "42\n").unwrap();
        assert_eq!(update_from(&d, Some(("11", 2))).as_deref(), Some("42"));
        // A record that is not a build id is ignored, never put into a URL.
        for bad in ["../../x", "1&root=/x", "", &"9".repeat(41)] {
            std::fs::write(d.join(FROM_FILE), bad).unwrap();
            assert_eq!(update_from(&d, Some(("11", 2))).as_deref(), Some("11"), "{bad:?}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
