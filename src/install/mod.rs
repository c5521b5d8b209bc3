//! Installing GOG builds: the [`Downloader`] that a launcher embeds and the CLI's `download`
//! drives. It picks the build, detects V1 (`main.bin`) or V2 (chunks), builds the [`plan::Plan`]
//! of the selection, subtracts what the state directory proves done, fetches the rest on the
//! shared engine, and records everything in `DIR/.galaxy-dl/`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use galaxy_dl::install::Downloader;
//! use galaxy_dl::select::Selection;
//! let client = Arc::new(galaxy_dl::api::Client::from_env(galaxy_dl::http::agent(&Default::default())?)?);
//! let (tx, rx) = crossbeam_channel::bounded(1024);
//! std::thread::spawn(move || for ev in rx { println!("{ev:?}") });
//! let dl = Downloader::builder(client).workers(8).events(tx).build()?;
//! let summary = dl.download("1207658930", std::path::Path::new("witcher2"), &Selection::default())?;
//! println!("{} files, {} bytes downloaded", summary.files, summary.downloaded_bytes);
//! # Ok::<(), galaxy_dl::Error>(())
//! ```

#[doc(hidden)]
pub mod files;
#[doc(hidden)]
pub mod patch;
#[doc(hidden)]
pub mod plan;
#[doc(hidden)]
pub mod state;
pub mod verify;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use serde::Serialize;

use crate::api::builds::{choose_build, Build};
use crate::api::secure_link::LinkCache;
use crate::api::Client;
use crate::error::{Error, Result};
use crate::fetch::blob::{BlobJob, BlobOutcome};
use crate::fetch::chunk::{ChunkJob, Target};
use crate::fetch::{Engine, EngineOptions};
use crate::journal::{Journal, Record};
use crate::manifest::v1::{Repository, V1DepotManifest};
use crate::manifest::v2::{BuildManifest, DepotManifest};
use crate::manifest::{v1_depot_manifest_url, v2_meta_url};
use crate::md5x;
use crate::progress::{Event, EventQueue, FileStatus, Progress};
use crate::select::{select_v1_depots, select_v2_depots, Selection};
use files::FileSet;
use plan::{Plan, PlanBuilder, PlanFile, Source};
use state::{InstallInfo, Stamp, StateDir};

/// Settings of a [`Downloader`] (the [`DownloaderBuilder`] sets them one by one; the fields
/// stay public so that a default can be adjusted in place).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Engine settings (workers, rate limit, retries, timeouts).
    pub engine: EngineOptions,
    /// Where progress events go.
    pub events: Option<Sender<Event>>,
    /// How long the end of a job waits for a full event channel to take the kept events
    /// still queued [default: [`crate::progress::FLUSH_GRACE`], 1 s; the CLI waits for ever].
    pub event_grace: std::time::Duration,
    /// Set to stop (Ctrl-C); the install stays resumable.
    pub cancel: Arc<AtomicBool>,
    /// Also install the build's shared redistributables (`__redist/...`); the dependencies
    /// the game needs in its own directory are always installed.
    pub with_redist: bool,
    /// Size of the pieces a V1 `main.bin` is fetched (one Range request each) and journaled
    /// in; [`V1_PIECE_RANGE`] bounds it [default: [`files::V1_PART`], 4 MiB].
    pub v1_piece_size: u64,
}

/// The V1 piece sizes `download --chunk-size` accepts: 64 KiB to 1 GiB.
pub const V1_PIECE_RANGE: std::ops::RangeInclusive<u64> = (64 << 10)..=(1 << 30);

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            engine: EngineOptions::default(),
            events: None,
            event_grace: crate::progress::FLUSH_GRACE,
            cancel: Arc::new(AtomicBool::new(false)),
            with_redist: false,
            v1_piece_size: files::V1_PART,
        }
    }
}

/// Builds a [`Downloader`], checking its settings:
/// `Downloader::builder(client).workers(8).limit_rate(10 << 20).events(tx).build()?`.
/// Anything not set keeps its production default ([`DownloadOptions::default`]).
#[derive(Debug)]
#[must_use]
pub struct DownloaderBuilder {
    client: Arc<Client>,
    opts: DownloadOptions,
}

impl DownloaderBuilder {
    /// Parallel connections, 1 to 256 [default: 8].
    pub fn workers(mut self, n: usize) -> Self {
        self.opts.engine.workers = n;
        self
    }

    /// Global rate limit in bytes per second (at least 1) [default: none].
    pub fn limit_rate(mut self, bytes_per_sec: u64) -> Self {
        self.opts.engine.limit_rate = Some(bytes_per_sec);
        self
    }

    /// Retries of one piece of work (range, chunk, manifest) after its first attempt [default: 5].
    pub fn max_retries(mut self, n: u32) -> Self {
        self.opts.engine.retry.max_retries = n;
        self
    }

    /// Send progress events to `tx`. The library never blocks on it: see [`crate::progress`]
    /// for what is kept and what may be dropped when the channel is full.
    pub fn events(mut self, tx: Sender<Event>) -> Self {
        self.opts.events = Some(tx);
        self
    }

    /// Stop (leaving a resumable install) when `flag` becomes true.
    pub fn cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.opts.cancel = flag;
        self
    }

    /// Also install the build's shared redistributables (`__redist`) [default: no].
    pub fn with_redist(mut self, on: bool) -> Self {
        self.opts.with_redist = on;
        self
    }

    /// Size of the pieces a V1 `main.bin` is fetched in, within [`V1_PIECE_RANGE`].
    pub fn v1_piece_size(mut self, bytes: u64) -> Self {
        self.opts.v1_piece_size = bytes;
        self
    }

    /// Replace every engine setting at once (timeouts, stall limit, endpoint cooldown...).
    pub fn engine(mut self, engine: EngineOptions) -> Self {
        self.opts.engine = engine;
        self
    }

    /// Replace every setting at once.
    pub fn options(mut self, opts: DownloadOptions) -> Self {
        self.opts = opts;
        self
    }

    /// The downloader.
    ///
    /// # Errors
    /// [`Error::Usage`] for workers outside 1–256, a zero rate limit or a V1 piece size outside
    /// [`V1_PIECE_RANGE`].
    pub fn build(self) -> Result<Downloader> {
        let o = &self.opts;
        o.engine.check()?;
        if !V1_PIECE_RANGE.contains(&o.v1_piece_size) {
            return Err(Error::Usage(format!("V1 piece size {} is outside 64 KiB to 1 GiB", o.v1_piece_size)));
        }
        Ok(Downloader::new(self.client, self.opts))
    }
}

/// Pseudo product id under which dependency depots are planned (their chunks come from the
/// token-less dependency store through `open_link`).
pub const DEPENDENCIES: &str = "dependencies";

/// What a download did.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadSummary {
    /// Base product.
    pub product_id: String,
    /// Build installed.
    pub build_id: String,
    /// 1 or 2.
    pub generation: u8,
    /// Files in the install.
    pub files: usize,
    /// Files that were already present and verified.
    pub skipped_files: usize,
    /// Files removed because the new build no longer has them.
    pub removed_files: usize,
    /// Files updated by applying an xdelta3 patch to the old file.
    pub patched_files: usize,
    /// Bytes fetched from the network.
    pub downloaded_bytes: u64,
    /// Bytes of the finished install.
    pub install_bytes: u64,
    /// Notices (skipped unowned DLC, fallbacks).
    pub notices: Vec<String>,
}

/// A build chosen and planned, not yet installed.
struct Prepared {
    plan: Plan,
    info: InstallInfo,
    notices: Vec<String>,
    /// (file name, body as served: zlib or JSON), saved inflated into `DIR/.galaxy-dl/manifests/`.
    manifests: Vec<(String, Vec<u8>)>,
}

/// What a download would do (`download --dry-run`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DryRun {
    /// Bytes to fetch from the network (compressed chunks, or main.bin ranges).
    pub download_bytes: u64,
    /// Bytes of files to (re)build.
    pub write_bytes: u64,
    /// Bytes copied from files already on disk instead of downloaded (updates).
    pub reused_bytes: u64,
    /// New temporary space the run needs (files are built beside the old ones).
    pub temp_bytes: u64,
    /// Bytes the previous install occupies now.
    pub current_bytes: u64,
    /// Peak disk use of the install during the run.
    pub peak_bytes: u64,
    /// Bytes of the finished install.
    pub final_bytes: u64,
    /// Free bytes on the filesystem of DIR, when known.
    pub free_bytes: Option<u64>,
    /// Whether the free space covers the temporary need.
    pub fits: bool,
    /// Files to fetch or rebuild.
    pub files_to_fetch: usize,
    /// Files already present and verified.
    pub files_present: usize,
    /// Files of the previous build to remove.
    pub files_to_remove: usize,
    /// Files an update rebuilds by patch (old file + xdelta3 delta) instead of by chunks.
    pub patch_files: usize,
    /// Bytes of deltas to fetch for them (part of `download_bytes`).
    pub patch_bytes: u64,
    /// Notices (skipped DLC, redistributables).
    pub notices: Vec<String>,
}

/// Downloads, verifies and repairs installs. Cheap to keep; one per launcher.
///
/// ## Example: dry run, install, verify, repair (against the in-tree mock GOG)
///
/// ```
/// use galaxy_dl::api::{Client, Endpoints};
/// use galaxy_dl::install::verify::{repair, verify};
/// use galaxy_dl::select::Selection;
/// use galaxy_dl::Downloader;
/// use galaxy_dl_mock::gog::{GogMock, MockConfig};
///
/// let gog = GogMock::start(MockConfig::small());
/// let scratch = std::env::temp_dir().join(format!("galaxy-dl-doc-dl-{}", std::process::id()));
/// let client = Client::connect(Endpoints::single(&gog.url()), scratch.join("config"))?;
/// client.exchange_code(GogMock::LOGIN_CODE)?;
/// let dl = Downloader::builder(client).workers(4).build()?;
/// let game = scratch.join("game");
///
/// // What would it take? Nothing is written.
/// let plan = dl.dry_run("1000000001", &game, &Selection::default())?;
/// assert!(plan.download_bytes > 0 && plan.files_to_fetch > 0);
///
/// let summary = dl.download("1000000001", &game, &Selection::default())?;
/// assert_eq!(summary.files, plan.files_to_fetch);
///
/// // Verify (4 hashing threads, no events, no cancel flag): clean.
/// let report = verify(&game, 4, None, Default::default())?;
/// assert!(report.is_clean());
///
/// // Damage a file, then repair: only the bad part is fetched again.
/// let victim = std::fs::read_dir(&game).unwrap().flatten().map(|e| e.path()).find(|p| p.is_file()).unwrap();
/// std::fs::write(&victim, b"damaged")?;
/// let fixed = repair(&dl, &game, 4)?;
/// assert!(!fixed.before.is_clean() && fixed.after.is_clean());
/// # std::fs::remove_dir_all(&scratch).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Downloader {
    client: Arc<Client>,
    opts: DownloadOptions,
    /// Every event of this downloader goes through here: never blocking, see [`crate::progress`].
    events: Arc<EventQueue>,
}

impl Downloader {
    /// Start building a downloader on `client` (endpoints and login); see [`DownloaderBuilder`].
    pub fn builder(client: impl Into<Arc<Client>>) -> DownloaderBuilder {
        DownloaderBuilder { client: client.into(), opts: DownloadOptions::default() }
    }

    /// A downloader using `client` (endpoints and login) and `opts` as given (unchecked;
    /// [`Downloader::builder`] checks them).
    pub fn new(client: Arc<Client>, opts: DownloadOptions) -> Downloader {
        // Ctrl-C stops metadata requests and their waits too.
        client.set_cancel(opts.cancel.clone());
        let events = Arc::new(EventQueue::with_grace(opts.events.clone(), opts.event_grace));
        Downloader { client, opts, events }
    }

    /// Events discarded so far because the embedder's channel was full (byte ticks and
    /// retries; kept events only beyond the limits [`crate::progress`] documents).
    pub fn dropped_events(&self) -> u64 {
        self.events.dropped()
    }

    /// Secure-link caches: V2 store links per product (plus the dependency store's open
    /// link) and V1 depot links for `os`/`timestamp`.
    fn link_caches(&self, os: &str, timestamp: &str) -> (LinkCache, LinkCache) {
        let c2 = self.client.clone();
        let v2 = LinkCache::new(move |p| if p == DEPENDENCIES { c2.open_link_deps() } else { c2.secure_link_v2(p) });
        let c1 = self.client.clone();
        let (os, ts) = (os.to_string(), timestamp.to_string());
        let v1 = LinkCache::new(move |p| c1.secure_link_v1(p, &os, &ts));
        (v2, v1)
    }

    /// Add the build's dependencies to the plan: game-directory ones always, `__redist` ones
    /// only with [`DownloadOptions::with_redist`]. Returns notices.
    fn add_dependencies(
        &self,
        ids: &[String],
        builder: &mut PlanBuilder,
        manifests: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<String>> {
        let mut notices = Vec::new();
        if ids.is_empty() {
            return Ok(notices);
        }
        let link_url = format!("{}/dependencies/repository?generation=2", self.client.endpoints().content_system);
        let link: crate::manifest::deps::RepositoryLink =
            crate::manifest::json_from_slice(&self.client.api_get(&link_url, crate::api::Bearer::IfLoggedIn)?)
                .map_err(|e| Error::manifest(&link_url, e.to_string()))?;
        let (_, repo) = self.client.meta_parsed(&link.repository_manifest, |raw| {
            crate::manifest::deps::DependencyRepository::parse(raw, &link.repository_manifest)
        })?;
        for id in ids {
            let Some(dep) = repo.depots.iter().find(|d| d.dependency_id.eq_ignore_ascii_case(id)) else {
                notices.push(format!("dependency {id} is not in GOG's dependency repository; skipped"));
                continue;
            };
            if dep.is_redist() && !self.opts.with_redist {
                notices.push(format!(
                    "dependency {id} is a shared redistributable (__redist); use --with-redist to download it"
                ));
                continue;
            }
            let url = crate::manifest::v2_dependency_meta_url(&self.client.endpoints().cdn, &dep.manifest)?;
            let (raw, dm) = self.client.meta_parsed(&url, |raw| {
                crate::manifest::check_meta_hash(raw, &dep.manifest, &url)?;
                DepotManifest::parse_cancel(raw, &url, Some(&self.opts.cancel))
            })?;
            builder.add_v2_depot(DEPENDENCIES, &dm)?;
            manifests.push((format!("dependency-{}.json", dep.manifest), raw));
        }
        Ok(notices)
    }

    fn emit(&self, ev: Event) {
        self.events.send(ev);
    }

    /// Install (or resume, or update) `product_id` into `dir` as `sel` says.
    ///
    /// # Errors
    /// Usage errors for a malformed product id; [`Error::NotFound`] for unknown products,
    /// builds and branches; [`Error::NotOwned`]; network, disk and checksum errors;
    /// [`Error::Interrupted`] on cancel (the install resumes on the next call).
    pub fn download(&self, product_id: &str, dir: &Path, sel: &Selection) -> Result<DownloadSummary> {
        let started = Instant::now();
        let mut prep = self.prepare(product_id, sel)?;
        let state = StateDir::open(dir)?;
        // A state file that does not parse only means no patch (the update goes by chunks).
        let installed = state.info().ok().flatten();
        let installed = installed.as_ref().map(|i| (i.build_id.as_str(), i.generation));
        // Saved as JSON, one at a time, and dropped before the install starts: the inflated
        // text of a 20,000-file depot manifest is ~8 MiB the workers have no use for.
        for (name, raw) in std::mem::take(&mut prep.manifests) {
            state.save_manifest(&name, &raw)?;
        }
        // An unfinished update keeps the plan it replaces until it completes.
        // State is input: a saved plan that fails validation is discarded, never obeyed (this
        // run rebuilds everything from the server's manifests).
        // `resumed`: the saved plan is this very plan (a resumed install). It then stands for the
        // old plan by reference: a second copy of every file would double the memory per file.
        let mut resumed = false;
        let old_plan = match state.prev_plan_or_discard()? {
            Some(mut prev) => {
                // ...and when it is now redirected to yet another build, the files only the
                // interrupted build added are among those to remove, too.
                if let Some(cur) = state.plan_or_discard()?.filter(|p| *p != prep.plan) {
                    let known: std::collections::HashSet<String> =
                        prev.files.iter().map(|f| f.path.to_lowercase()).collect();
                    let extra: Vec<_> =
                        cur.files.into_iter().filter(|f| !known.contains(&f.path.to_lowercase())).collect();
                    if !extra.is_empty() {
                        prev.files.extend(extra);
                        state.save_prev_plan(&prev)?;
                    }
                }
                Some(prev)
            }
            None => {
                let p = state.plan_or_discard()?;
                if let Some(p) = p.as_ref().filter(|p| **p != prep.plan) {
                    patch::clear_from(&state);
                    if let Some(from) = patch::update_from(state.root(), installed) {
                        patch::record_from(&state, &from)?;
                    }
                    state.save_prev_plan(p)?;
                }
                match p {
                    Some(p) if p == prep.plan => {
                        resumed = true;
                        None
                    }
                    p => p,
                }
            }
        };
        let old_plan = if resumed { Some(&prep.plan) } else { old_plan.as_ref() };
        let update = match (old_plan, prep.info.generation) {
            (Some(_), 2) => patch::update_from(state.root(), installed).map(|from| patch::Update {
                product_id: product_id.to_string(),
                from,
                to: prep.info.build_id.clone(),
            }),
            _ => None,
        };
        let (v2, v1) = self.link_caches(&sel.os, prep.info.v1_timestamp.as_deref().unwrap_or_default());
        let links = Links { v2: Some(&v2), v1: (prep.info.generation == 1).then_some(&v1) };
        let mut summary = self.run_plan(&state, &prep.plan, old_plan, &prep.info, &links, update.as_ref())?;
        patch::clear_from(&state);
        summary.notices.splice(0..0, prep.notices);
        log::info!("install finished in {:?}", started.elapsed());
        Ok(summary)
    }

    /// What [`Downloader::download`] would do in `dir`, without changing anything: bytes to
    /// download and to write, the peak and final disk use, given what `dir` already holds.
    ///
    /// # Errors
    /// As [`Downloader::download`] (network and manifest errors).
    pub fn dry_run(&self, product_id: &str, dir: &Path, sel: &Selection) -> Result<DryRun> {
        let prep = self.prepare(product_id, sel)?;
        let plan = &prep.plan;
        let mut notices = prep.notices.clone();
        // An update: the files a patch would rebuild (as `download` decides it).
        let journal = state::peek_journal(dir);
        let old_plan = state::peek_plan(dir);
        let root = dir.join(state::STATE_DIR);
        let installed: Option<InstallInfo> =
            std::fs::read(root.join("install.json")).ok().and_then(|b| crate::manifest::json_from_slice(&b).ok());
        let installed = installed.as_ref().map(|i| (i.build_id.as_str(), i.generation));
        let prev: Option<Plan> =
            std::fs::read(root.join("plan.prev.json")).ok().and_then(|b| crate::manifest::json_from_slice(&b).ok());
        let before = prev.as_ref().or(old_plan.as_ref()).filter(|p| *p != plan);
        let patches = match (before, prep.info.generation, patch::update_from(&root, installed)) {
            (Some(old), 2, Some(from)) => {
                let up = patch::Update { product_id: product_id.to_string(), from, to: prep.info.build_id.clone() };
                let mut todo = Vec::new();
                for (i, f) in plan.files.iter().enumerate() {
                    if !(journal.file_ok(dir, &f.path, &f.content_id()) || check_existing(dir, f)?.is_some()) {
                        todo.push(i);
                    }
                }
                patch::plan_patches(&self.client, dir, (plan, old), &up, &journal, &todo, &mut notices)
            }
            _ => Vec::new(),
        };
        let mut r = dry_run_of(plan, Base::Dir(dir), &patches)?;
        r.patch_files = patches.len();
        r.patch_bytes = patches.iter().map(|p| p.patch.download_size()).sum();
        r.download_bytes += r.patch_bytes;
        r.temp_bytes += patches.iter().map(|p| p.patch.delta_size()).sum::<u64>();
        r.peak_bytes = r.current_bytes + r.temp_bytes;
        r.fits = r.free_bytes.is_none_or(|f| f >= r.temp_bytes);
        r.notices = notices;
        Ok(r)
    }

    /// [`crate::info::build_info`] with the sizes a download of the selection really takes:
    /// when logged in, `download_size`/`install_size` are those of an install into an empty
    /// directory (game-directory dependencies included, chunks shared between files counted
    /// once, small-files containers as a download fetches them: the figures of
    /// [`Downloader::dry_run`] and of the final `done` event), with per-product totals
    /// (`by_product`, DLC and dependencies included). Without a login, the manifest's depot
    /// sums (see [`crate::info::BuildInfo::sizes_from`]).
    ///
    /// # Errors
    /// As [`crate::info::build_info`] and [`Downloader::dry_run`].
    pub fn info(&self, product_id: &str, sel: &Selection) -> Result<crate::info::BuildInfo> {
        let mut i = crate::info::build_info(&self.client, product_id, sel)?;
        if i.owned != Some(true) {
            return Ok(i);
        }
        let (builds, build) = self.choose(product_id, sel)?;
        let prep = self.prepare_build(product_id, &build, sel)?;
        let d = dry_run_of(&prep.plan, Base::Empty, &[])?;
        i.download_size = d.download_bytes;
        i.install_size = d.final_bytes;
        i.sizes_from = "plan".into();
        let mut by: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
        let mut seen = std::collections::HashSet::new();
        for f in &prep.plan.files {
            let e = by.entry(f.product_id.as_str()).or_default();
            e.1 += f.size;
            match &f.source {
                Source::Chunks { chunks } => {
                    for c in chunks {
                        if seen.insert((f.product_id.as_str(), c.compressed_md5.as_str())) {
                            e.0 += c.compressed_size;
                        }
                    }
                }
                Source::Blob { .. } => e.0 += f.size,
            }
        }
        i.by_product = by
            .into_iter()
            .map(|(p, (dl, inst))| crate::info::SizeTotal { key: p.to_string(), download_size: dl, install_size: inst })
            .collect();
        i.update_patch = self.update_patch(product_id, sel, (&builds, &build), &prep.plan);
        Ok(i)
    }

    /// `info`'s estimate of an update to `build` (planned as `plan`) from the build just before
    /// it in `builds`, when GOG offers a patch between them that rebuilds files of the
    /// selection. Asks the patches endpoint first (no patch: nothing more is fetched), then
    /// plans the previous build from its manifests. Never fails: whatever goes wrong only
    /// means no estimate (logged at debug).
    fn update_patch(
        &self,
        product_id: &str,
        sel: &Selection,
        (builds, build): (&[Build], &Build),
        plan: &Plan,
    ) -> Option<crate::info::UpdatePatch> {
        if build.generation != 2 {
            return None;
        }
        let from = crate::info::previous_build(builds, build)?;
        let up = patch::Update {
            product_id: product_id.to_string(),
            from: from.build_id.clone(),
            to: build.build_id.clone(),
        };
        let patches = match patch::fetch_patches(&self.client, plan, &up) {
            Ok(p) => p,
            Err(e) => {
                if let Some(e) = e {
                    debug!("patch {} -> {} not evaluated: {e}", up.from, up.to);
                }
                return None;
            }
        };
        let estimate = || -> Result<Option<crate::info::UpdatePatch>> {
            let old = self.prepare_build(product_id, from, sel)?.plan;
            let have = file_ids(&old);
            let todo: Vec<usize> =
                (plan.files.iter().enumerate()).filter(|(_, f)| !have.contains(&file_id(f))).map(|(i, _)| i).collect();
            let planned: Vec<patch::Planned> = patch::match_patches((plan, &old), &patches, &todo)
                .into_iter()
                .filter(|(_, o, p)| o.md5.as_deref() == Some(p.md5_source.as_str()))
                .map(|(file, o, p)| patch::Planned {
                    file,
                    source: std::path::PathBuf::from(&o.path),
                    patch: p.clone(),
                })
                .collect();
            if planned.is_empty() {
                return Ok(None);
            }
            let by_chunks = dry_run_of(plan, Base::Installed(&old), &[])?;
            let with_patch = dry_run_of(plan, Base::Installed(&old), &planned)?;
            let patch_bytes: u64 = planned.iter().map(|p| p.patch.download_size()).sum();
            Ok(Some(crate::info::UpdatePatch {
                from_build: from.build_id.clone(),
                from_version: from.version_name.clone(),
                patch_files: planned.len(),
                patch_bytes,
                chunk_bytes: by_chunks.download_bytes,
                with_patch_bytes: with_patch.download_bytes + patch_bytes,
            }))
        };
        estimate().unwrap_or_else(|e| {
            debug!("update {} -> {} not evaluated: {e}", up.from, up.to);
            None
        })
    }

    /// Finish the install in `dir` from its saved plan (no manifests are fetched): whatever
    /// the journal and the disk do not prove done is fetched. `repair` uses this after it
    /// has marked the bad files.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `dir` holds no galaxy-dl install; as [`Downloader::download`].
    pub fn complete_install(&self, dir: &Path) -> Result<DownloadSummary> {
        let state = StateDir::open_existing(dir)?;
        self.complete_in(&state)
    }

    /// As [`Downloader::complete_install`] with the state directory already open (and locked).
    pub fn complete_in(&self, state: &StateDir) -> Result<DownloadSummary> {
        let info = state.info()?.ok_or_else(|| Error::NotFound("install.json".into()))?;
        let plan = state.plan()?.ok_or_else(|| Error::NotFound(format!("{}/plan.json", state::STATE_DIR)))?;
        let (v2, v1) = self.link_caches(&info.os, info.v1_timestamp.as_deref().unwrap_or_default());
        let links = Links { v2: Some(&v2), v1: (info.generation == 1).then_some(&v1) };
        self.run_plan(state, &plan, None, &info, &links, None)
    }

    /// Choose the build, fetch its manifests and build the plan (network only; no disk).
    fn prepare(&self, product_id: &str, sel: &Selection) -> Result<Prepared> {
        let (_, build) = self.choose(product_id, sel)?;
        self.prepare_build(product_id, &build, sel)
    }

    /// The build list (generation 2, which names V1 builds too) and the build `sel` picks.
    fn choose(&self, product_id: &str, sel: &Selection) -> Result<(Vec<Build>, Build)> {
        check_product_id(product_id)?;
        let builds = self.client.builds(product_id, &sel.os, 2, sel.password.as_deref())?;
        let build = choose_build(&builds, sel.build.as_deref(), sel.branch.as_deref())?.clone();
        Ok((builds, build))
    }

    /// Fetch the manifests of `build` and build its plan (network only; no disk).
    fn prepare_build(&self, product_id: &str, build: &Build, sel: &Selection) -> Result<Prepared> {
        let build = build.clone();
        match build.generation {
            2 => self.prepare_v2(product_id, &build, sel),
            1 => self.prepare_v1(product_id, &build, sel),
            g => Err(Error::manifest(format!("build {}", build.build_id), format!("unknown generation {g}"))),
        }
    }

    fn info_for(product_id: &str, build: &Build, sel: &Selection, generation: u8, ts: Option<String>) -> InstallInfo {
        InstallInfo {
            version: 1,
            product_id: product_id.to_string(),
            build_id: build.build_id.clone(),
            generation,
            os: sel.os.clone(),
            lang: sel.lang.clone(),
            bitness: sel.bitness,
            dlc: sel.dlc.to_string(),
            version_name: build.version_name.clone(),
            v1_timestamp: ts,
            complete: false,
        }
    }

    fn prepare_v2(&self, product_id: &str, build: &Build, sel: &Selection) -> Result<Prepared> {
        // A manifest that arrives corrupt is fetched again (`Client::meta_parsed`).
        let (raw, bm) = self.client.meta_parsed(&build.link, |raw| {
            if build.link.contains("/content-system/v2/meta/") {
                let id = build.link.split(['?', '#']).next().unwrap_or_default();
                crate::manifest::check_meta_hash(raw, id, &build.link)?;
            }
            BuildManifest::parse(raw, &build.link)
        })?;
        let owned = self.client.owned_products()?;
        let (depots, mut notices) = select_v2_depots(&bm, product_id, sel, &owned);
        // Manifests are kept as served (zlib: a tenth of the JSON) until they are saved.
        let mut manifests = vec![("build.json".to_string(), raw.clone())];
        let mut builder = PlanBuilder::new(!sel.os.eq_ignore_ascii_case("osx"));
        for d in &depots {
            let url = v2_meta_url(&self.client.endpoints().cdn, &d.manifest)?;
            let (raw, dm) = self.client.meta_parsed(&url, |raw| {
                crate::manifest::check_meta_hash(raw, &d.manifest, &url)?;
                DepotManifest::parse_cancel(raw, &url, Some(&self.opts.cancel))
            })?;
            manifests.push((format!("{}.json", d.manifest), raw));
            builder.add_v2_depot(&d.product_id, &dm)?;
        }
        notices.extend(self.add_dependencies(&bm.dependencies, &mut builder, &mut manifests)?);
        for n in &notices {
            self.emit(Event::Notice { message: n.clone() });
        }
        let info = Self::info_for(product_id, build, sel, 2, None);
        Ok(Prepared { plan: builder.finish(), info, notices, manifests })
    }

    fn prepare_v1(&self, product_id: &str, build: &Build, sel: &Selection) -> Result<Prepared> {
        let (raw, repo) = self.client.meta_parsed(&build.link, |raw| Repository::parse(raw, &build.link))?;
        let owned = self.client.owned_products()?;
        let (depots, mut notices) = select_v1_depots(&repo, sel, &owned);
        let mut manifests = vec![("repository.json".to_string(), raw.clone())];
        let ts = repo.product.timestamp.clone();
        let mut builder = PlanBuilder::new(!sel.os.eq_ignore_ascii_case("osx"));
        for d in &depots {
            let pid = d.product_id().unwrap_or(product_id).to_string();
            let url = v1_depot_manifest_url(&self.client.endpoints().cdn, &pid, &sel.os, &ts, &d.manifest)?;
            let (raw, m) = self.client.meta_parsed(&url, |raw| V1DepotManifest::parse(raw, &url))?;
            manifests.push((d.manifest.clone(), raw));
            builder.add_v1_files(&pid, &m.depot.files)?;
        }
        let redists: Vec<String> = repo.product.redists.iter().map(|r| r.redist.clone()).collect();
        notices.extend(self.add_dependencies(&redists, &mut builder, &mut manifests)?);
        for n in &notices {
            self.emit(Event::Notice { message: n.clone() });
        }
        let info = Self::info_for(product_id, build, sel, 1, Some(ts));
        Ok(Prepared { plan: builder.finish(), info, notices, manifests })
    }

    /// Download small files containers and cut their members out of them. The containers'
    /// chunks are fetched in one go, with every worker (one after the other, a 1 MiB container
    /// had one connection of eight busy for 40 ms before the next started: measured, 20 MiB/s
    /// per connection); if any of them fails, the members of every container are fetched one
    /// by one instead.
    // unsafe: reads members out of the containers' memory mappings once every chunk is written.
    #[allow(unsafe_code)]
    fn fetch_sfcs(
        &self,
        engine: &Engine,
        state: &StateDir,
        plan: &Plan,
        sfcs: &[usize],
        links: &Links<'_>,
        set: &FileSet<'_>,
    ) -> Result<()> {
        // The containers are scratch: removed however this ends (an error creating a later
        // one, an interrupt, a member that cannot be written), not only on success.
        let mut scratch = RemoveOnDrop(Vec::with_capacity(sfcs.len()));
        let mut maps = Vec::with_capacity(sfcs.len());
        let mut jobs: Vec<ChunkJob> = Vec::new();
        for (k, &si) in sfcs.iter().enumerate() {
            let sfc = &plan.sfcs[si];
            let path = state.root().join("tmp").join(format!("sfc-{si}"));
            scratch.0.push(path.clone());
            let (m, _) = crate::sink::MappedFile::create(&path, sfc.size)?;
            maps.push(Arc::new(m));
            let product: Arc<str> = sfc.product_id.as_str().into();
            jobs.extend(sfc.chunks.iter().map(|c| ChunkJob {
                product: Arc::clone(&product),
                compressed_md5: c.compressed_md5,
                compressed_size: c.compressed_size,
                md5: c.md5,
                size: c.size,
                targets: vec![Target { file: k, offset: c.offset }],
                check_md5: true,
                local: None,
                hash_inline: false,
            }));
        }
        let sink = SfcSink(maps);
        match engine.download_chunks(&jobs, links, &sink) {
            Ok(()) => {
                for (k, &si) in sfcs.iter().enumerate() {
                    let sfc = &plan.sfcs[si];
                    let mut cut = 0;
                    for &i in &sfc.members {
                        let f = &plan.files[i];
                        let Some(off) = f.sfc_offset else { continue };
                        // A member must lie inside the container (plan.json is input too).
                        if off.checked_add(f.size).is_none_or(|end| end > sfc.size) {
                            continue;
                        }
                        // SAFETY: every chunk of the container is written; nothing writes it now,
                        // and `off..off + size` lies inside the mapping (checked above).
                        let bytes = unsafe { sink.0[k].slice(off, f.size as usize) };
                        if set.fill_from(i, bytes)? {
                            cut += 1;
                        }
                    }
                    log::info!(
                        "small files container {si}: {cut} of {} files cut out of {} requests",
                        sfc.members.len(),
                        sfc.chunks.len()
                    );
                }
            }
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => {
                self.emit(Event::Notice {
                    message: format!("small files container unavailable ({e}); fetching its files one by one"),
                });
            }
        }
        drop(sink);
        drop(scratch);
        Ok(())
    }

    fn fetch_work(
        &self,
        engine: &Engine,
        work: &Work,
        links: &Links<'_>,
        set: &FileSet<'_>,
        progress: &Progress,
    ) -> Result<()> {
        for &i in &work.settle {
            set.settle(i)?;
        }
        if !work.chunks.is_empty() {
            engine.download_chunks(&work.chunks, links, set)?;
        }
        if !work.blobs.is_empty() && engine.download_blob_jobs(&work.blobs, links, set)? == BlobOutcome::NoRangeSupport
        {
            progress.emit(Event::Notice {
                message: "the CDN ignores Range requests on main.bin; streaming it whole".into(),
            });
            let mut rest: Vec<BlobJob> = work
                .blobs
                .iter()
                .filter_map(|j| {
                    let segments: Vec<_> =
                        j.segments.iter().copied().filter(|sg| !set.is_part_done(sg.file, sg.file_offset)).collect();
                    let start = segments.first()?.blob_offset;
                    let end = segments.last().map(|sg| sg.blob_offset + sg.len)?;
                    Some(BlobJob { segments, start, end, product: j.product.clone() })
                })
                .collect();
            // One pass per product per layer of overlapping pieces (files may share blob bytes).
            while !rest.is_empty() {
                rest.sort_by_key(|j| (j.product.clone(), j.start));
                let mut pass = Vec::new();
                let mut later = Vec::new();
                let mut last: Option<(String, u64)> = None;
                for j in rest {
                    match &last {
                        Some((p, end)) if *p == j.product && j.start < *end => later.push(j),
                        _ => {
                            last = Some((j.product.clone(), j.end));
                            pass.push(j);
                        }
                    }
                }
                let products: std::collections::BTreeSet<String> = pass.iter().map(|j| j.product.clone()).collect();
                for p in products {
                    engine.stream_blob(&p, &pass, links, set)?;
                }
                rest = later;
            }
        }
        Ok(())
    }

    /// Fetch what `plan` still needs into `state`'s directory, then finish the install.
    fn run_plan(
        &self,
        state: &StateDir,
        plan: &Plan,
        old_plan: Option<&Plan>,
        info: &InstallInfo,
        links: &Links<'_>,
        update: Option<&patch::Update>,
    ) -> Result<DownloadSummary> {
        let started = Instant::now();
        let dir = state.install_dir();
        let journal_state = state.journal();
        state.save_info(info)?;
        state.save_plan(plan)?;
        let progress = Arc::new(Progress::with_queue(self.events.clone()));
        let engine = Engine::new(&self.opts.engine, progress.clone(), self.opts.cancel.clone())?;
        let journal = Journal::open(&state.journal_path(), &[], !state.journal_path().exists())?;
        let (jtx, jrx) = crossbeam_channel::bounded::<Record>(crate::journal::CAPACITY);
        let v1_part = self.opts.v1_piece_size.clamp(*V1_PIECE_RANGE.start(), *V1_PIECE_RANGE.end());
        let (set, hrx, srx) = FileSet::new(state, plan, jtx.clone(), &progress, v1_part);

        // What is already done: finished files (journal identity, or checked on disk).
        let mut todo = Vec::new();
        let mut skipped = 0;
        for (i, f) in plan.files.iter().enumerate() {
            let content = f.content_id();
            let done = if journal_state.file_ok(dir, &f.path, &content) {
                true
            } else if let Some(stamp) = check_existing(dir, f)? {
                let _ = jtx.send(Record { data: None, line: state::JournalState::file_line(&f.path, &stamp) });
                true
            } else {
                false
            };
            if done {
                skipped += 1;
                progress.emit(Event::File {
                    path: f.path.clone(),
                    size: f.size,
                    md5: f.md5.as_ref().map(String::from),
                    status: FileStatus::Skipped,
                });
            } else {
                todo.push(i);
            }
        }
        // Updates: files a patch can rebuild from their old version leave the chunk work.
        let mut notices = Vec::new();
        let patches = match (update, old_plan) {
            (Some(up), Some(old)) => {
                patch::plan_patches(&self.client, dir, (plan, old), up, &journal_state, &todo, &mut notices)
            }
            _ => Vec::new(),
        };
        for n in &notices {
            progress.emit(Event::Notice { message: n.clone() });
        }
        let by_patch: std::collections::HashSet<usize> = patches.iter().map(|p| p.file).collect();
        let patch_sources: std::collections::HashSet<&Path> = patches.iter().map(|p| p.source.as_path()).collect();
        todo.retain(|i| !by_patch.contains(i));
        let delta_bytes: u64 = patches.iter().map(|p| p.patch.download_size()).sum();
        let sfcs = worthwhile_sfcs(plan, &todo, &journal_state);
        let mut plans = vec![plan];
        plans.extend(old_plan.filter(|o| !std::ptr::eq(*o, plan)));
        let mut local = local_chunks(dir, &plans, &journal_state, Some(&wanted_chunks(plan, &todo)));
        // A patched file is replaced in place: its old chunks are not a reliable source.
        local.retain(|_, (p, _)| !patch_sources.contains(p.as_path()));
        let mut work = Work::build(state, plan, &set, &todo, Some(&journal_state), &local);
        // Each patch needs its delta and the patched copy beside the old file.
        work.need_space +=
            patches.iter().map(|p| p.patch.delta_size() + plan.files.get(p.file).map_or(0, |f| f.size)).sum::<u64>();
        work.balance_tail(self.opts.engine.workers);
        let reused: u64 = work.chunks.iter().filter(|j| j.local.is_some()).map(|j| j.compressed_size).sum();
        if reused > 0 {
            log::info!("{} of chunks may be reused from files on disk", crate::units::human_bytes(reused));
        }
        if let Some(free) = crate::sink::free_space(dir) {
            if free < work.need_space {
                return Err(Error::DiskFull { path: dir.to_path_buf(), needed: work.need_space });
            }
        }
        // Members of the containers come out of them: their chunks are not fetched (unless a
        // container fails), so the total is what `dry_run` announces.
        let in_sfc: std::collections::HashSet<usize> =
            sfcs.iter().flat_map(|&s| plan.sfcs[s].members.iter().copied()).collect();
        let through_sfc: u64 = work
            .chunks
            .iter()
            .filter(|j| j.targets.iter().all(|t| in_sfc.contains(&t.file)))
            .map(|j| j.compressed_size)
            .sum();
        let sfc_bytes =
            sfcs.iter().map(|&s| plan.sfcs[s].chunks.iter().map(|c| c.compressed_size).sum::<u64>()).sum::<u64>();
        let download = work.bytes().saturating_sub(through_sfc) + delta_bytes + sfc_bytes;
        // The resume line counts what is really reused: pieces of unfinished files and the
        // files already complete (wire bytes, like the download), which a user saw done.
        let mut pending = vec![false; plan.files.len()];
        for &i in &todo {
            if let Some(p) = pending.get_mut(i) {
                *p = true;
            }
        }
        let complete: u64 = plan.files.iter().zip(&pending).filter(|(_, p)| !**p).map(|(f, _)| wire_size(f)).sum();
        let reused_total = work.resumed_bytes + complete;
        progress.set_totals(download + reused_total, reused_total);
        progress.emit(Event::Start {
            what: format!("{} build {}", info.product_id, info.build_id),
            total_bytes: download + reused_total,
            resumed_bytes: reused_total,
            files: plan.files.len() as u64,
        });
        log::info!("{} chunk requests, {} main.bin range requests", work.chunks.len(), work.blobs.len());
        let failed_patches = std::sync::atomic::AtomicUsize::new(0);
        let result = std::thread::scope(|s| {
            let j = s.spawn(|| journal.run(jrx));
            let set = &set;
            s.spawn(move || set.run_hasher(hrx));
            let syncer = s.spawn(move || FileSet::run_syncer(srx));
            let r = (|| {
                let mut work = work;
                let mut todo = todo;
                if !patches.is_empty() {
                    let failed = patch::apply_patches(
                        &self.client,
                        &engine,
                        state,
                        (plan, &patches),
                        &progress,
                        &jtx,
                        &self.opts.cancel,
                    )?;
                    failed_patches.store(failed.len(), std::sync::atomic::Ordering::Relaxed);
                    if !failed.is_empty() {
                        // Patches that did not work out: those files are updated by chunks.
                        // Their old files are still in place (as are the other unpatched ones):
                        // unchanged chunks are copied from them again.
                        let fresh = local_chunks(dir, &plans, &journal_state, Some(&wanted_chunks(plan, &failed)));
                        let extra = Work::build(state, plan, set, &failed, Some(&journal_state), &fresh);
                        let rest = work.bytes().saturating_sub(through_sfc) + extra.bytes() + sfc_bytes;
                        progress.set_totals(progress.done() + rest, progress.done());
                        work.chunks.extend(extra.chunks);
                        work.settle.extend(extra.settle);
                        work.blobs.extend(extra.blobs);
                        todo.extend(failed);
                    }
                }
                if !sfcs.is_empty() {
                    self.fetch_sfcs(&engine, state, plan, &sfcs, links, set)?;
                    set.sync_hasher()?;
                    // Members the containers did not deliver are fetched chunk by chunk.
                    let rest: Vec<usize> = todo.iter().copied().filter(|&i| !set.is_finished(i)).collect();
                    work = Work::build(state, plan, set, &rest, Some(&journal_state), &local);
                }
                for round in 0.. {
                    self.fetch_work(&engine, &work, links, set, &progress)?;
                    set.sync_hasher()?;
                    let bad = set.take_bad();
                    let Some((_, first)) = bad.first() else { break };
                    if round >= MAX_FILE_REFETCH {
                        return Err(clone_err(first));
                    }
                    let again: Vec<usize> = bad.iter().map(|(i, _)| *i).collect();
                    work = Work::build(state, plan, set, &again, None, &LocalChunks::new());
                }
                Ok(())
            })();
            debug!("downloads ended after {:?}", started.elapsed());
            // The hasher may still finish files (and journal them) until its queue is empty.
            let _ = set.sync_hasher();
            debug!("files finished after {:?}", started.elapsed());
            set.close();
            drop(jtx);
            let _ = syncer.join();
            debug!("files synced after {:?}", started.elapsed());
            let jr = j.join().unwrap_or(Err(Error::Interrupted));
            r.and(jr)
        });
        result?;
        let mut summary = self.finish_install(state, plan, old_plan, info, &progress, (started, skipped))?;
        summary.patched_files = patches.len() - failed_patches.load(std::sync::atomic::Ordering::Relaxed);
        summary.notices = notices;
        Ok(summary)
    }

    /// Directories, links, removal of files the new build dropped, and the final records.
    fn finish_install(
        &self,
        state: &StateDir,
        plan: &Plan,
        old_plan: Option<&Plan>,
        info: &InstallInfo,
        progress: &Progress,
        (started, skipped): (Instant, usize),
    ) -> Result<DownloadSummary> {
        let dir = state.install_dir();
        for d in &plan.dirs {
            let p = state::ensure_parents(dir, &format!("{d}/x"))?;
            let _ = p;
        }
        for l in &plan.links {
            let at = state::ensure_parents(dir, &l.path)?;
            let link_dir = l.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            let rel = crate::manifest::path::link_target_inside(link_dir, &l.target)?;
            if let Ok(m) = std::fs::symlink_metadata(&at) {
                if m.file_type().is_symlink() {
                    let _ = std::fs::remove_file(&at);
                } else {
                    return Err(Error::Io {
                        op: "create link",
                        path: at,
                        source: std::io::Error::other("a file is in the way"),
                    });
                }
            }
            std::os::unix::fs::symlink(&rel, &at).map_err(|e| Error::io("create link", &at, e))?;
        }
        let mut removed = 0;
        if let Some(old) = old_plan {
            let keep: std::collections::HashSet<String> = plan.files.iter().map(|f| f.path.to_lowercase()).collect();
            for f in &old.files {
                if !keep.contains(&f.path.to_lowercase()) {
                    let p = dir.join(&f.path);
                    if std::fs::symlink_metadata(&p).map(|m| m.is_file()).unwrap_or(false) {
                        std::fs::remove_file(&p).map_err(|e| Error::io("remove", &p, e))?;
                        removed += 1;
                        progress.emit(Event::File {
                            path: f.path.clone(),
                            size: f.size,
                            md5: None,
                            status: FileStatus::Removed,
                        });
                    }
                }
            }
        }
        let mut stamps = Vec::with_capacity(plan.files.len());
        for f in &plan.files {
            let p = dir.join(&f.path);
            let stamp = Stamp::of(&p, &f.content_id())
                .ok_or_else(|| Error::NotFound(format!("{} missing after download", f.path)))?;
            stamps.push((f.path.clone(), stamp));
        }
        // Everything written in this run reaches the disk before the install is recorded as
        // complete. One syncfs lets the kernel's flusher do the writeback (measured: +0.09 s
        // wall, no extra CPU of ours per 256 MiB).
        let t = Instant::now();
        sync_filesystem(dir)?;
        debug!("final sync took {:?}", t.elapsed());
        state.compact_journal(&stamps)?;
        state.clear_prev_plan();
        let _ = std::fs::remove_dir_all(state.root().join("tmp"));
        let _ = std::fs::create_dir_all(state.root().join("tmp"));
        state.save_info(&InstallInfo { complete: true, ..info.clone() })?;
        let elapsed = started.elapsed().as_secs_f64();
        progress.emit(Event::Done {
            total_bytes: plan.install_size(),
            downloaded_bytes: progress.downloaded(),
            elapsed_secs: elapsed,
            md5: None,
        });
        Ok(DownloadSummary {
            product_id: info.product_id.clone(),
            build_id: info.build_id.clone(),
            generation: info.generation,
            files: plan.files.len(),
            skipped_files: skipped,
            removed_files: removed,
            patched_files: 0,
            downloaded_bytes: progress.downloaded(),
            install_bytes: plan.install_size(),
            notices: Vec::new(),
        })
    }
}

/// Bytes file `f` costs on the wire: its compressed chunks (V2) or its size (V1).
fn wire_size(f: &PlanFile) -> u64 {
    match &f.source {
        Source::Chunks { chunks } => chunks.iter().map(|c| c.compressed_size).sum(),
        Source::Blob { .. } => f.size,
    }
}

/// Rounds of re-fetching files that failed their whole-file check.
const MAX_FILE_REFETCH: usize = 2;

fn clone_err(e: &Error) -> Error {
    match e {
        Error::Checksum { what, expected, actual } => {
            Error::Checksum { what: what.clone(), expected: expected.clone(), actual: actual.clone() }
        }
        other => Error::manifest("install", other.to_string()),
    }
}

/// Small files containers being downloaded: one mapped temporary file each.
struct SfcSink(Vec<Arc<crate::sink::MappedFile>>);

impl crate::fetch::chunk::ChunkSink for SfcSink {
    fn file(&self, k: usize) -> Result<Arc<crate::sink::MappedFile>> {
        self.0.get(k).cloned().ok_or_else(|| Error::manifest("small files container", "chunk of no container"))
    }
    fn done(&self, _: &ChunkJob, _: Option<crate::md5x::Md5State>) -> Result<()> {
        Ok(())
    }
}

/// A file as a complete install holds it: (lower-case path, content id).
fn file_id(f: &PlanFile) -> (String, String) {
    (f.path.to_lowercase(), f.content_id())
}

/// [`file_id`] of every file of `plan`: what a complete install of it holds.
fn file_ids(plan: &Plan) -> std::collections::HashSet<(String, String)> {
    plan.files.iter().map(file_id).collect()
}

/// What [`dry_run_of`] compares a plan with.
#[derive(Clone, Copy)]
enum Base<'a> {
    /// An empty directory (nothing on disk is read).
    Empty,
    /// The install in this directory, as its journal and the disk show it.
    Dir(&'a Path),
    /// A complete install of this (previous build's) plan, taken on trust; nothing on disk is
    /// read (`info`'s estimate of an update).
    Installed(&'a Plan),
}

/// What a run of `plan` over `base` would do. Download bytes follow the run exactly: distinct
/// chunks once, chunks on disk or in a kept temporary file not at all, and small-files
/// containers (as [`worthwhile_sfcs`] picks them) instead of their members' chunks.
/// `patched`: files an update rebuilds from a patch (written, none of their chunks fetched,
/// and their old files no source of chunks, as in [`Downloader::run_plan`]).
fn dry_run_of(plan: &Plan, base: Base<'_>, patched: &[patch::Planned]) -> Result<DryRun> {
    let dir = match base {
        Base::Dir(d) => Some(d),
        _ => None,
    };
    let journal = dir.map(state::peek_journal).unwrap_or_default();
    let old_plan = dir.and_then(state::peek_plan);
    let mut plans = vec![plan];
    plans.extend(old_plan.as_ref());
    let mut local = match base {
        Base::Empty => LocalChunks::new(),
        Base::Dir(d) => local_chunks(d, &plans, &journal, None),
        Base::Installed(old) => {
            let mut m = LocalChunks::new();
            for f in &old.files {
                for c in f.chunks() {
                    m.entry((c.md5, c.size)).or_insert_with(|| (std::path::PathBuf::from(&f.path), c.offset));
                }
            }
            m
        }
    };
    let sources: std::collections::HashSet<&Path> = patched.iter().map(|p| p.source.as_path()).collect();
    local.retain(|_, (p, _)| !sources.contains(p.as_path()));
    let by_patch: std::collections::HashSet<usize> = patched.iter().map(|p| p.file).collect();
    let installed = match base {
        Base::Installed(old) => file_ids(old),
        _ => Default::default(),
    };
    let mut r = DryRun { final_bytes: plan.install_size(), ..DryRun::default() };
    let mut todo = Vec::new();
    for (i, f) in plan.files.iter().enumerate() {
        let present = match base {
            Base::Dir(d) => journal.file_ok(d, &f.path, &f.content_id()) || check_existing(d, f)?.is_some(),
            Base::Installed(_) => installed.contains(&file_id(f)),
            Base::Empty => false,
        };
        if present {
            r.files_present += 1;
        } else if by_patch.contains(&i) {
            r.files_to_fetch += 1;
            r.write_bytes += f.size;
            r.temp_bytes += f.size;
        } else {
            todo.push(i);
        }
    }
    let sfcs = worthwhile_sfcs(plan, &todo, &journal);
    let in_sfc: std::collections::HashSet<usize> =
        sfcs.iter().flat_map(|&s| plan.sfcs[s].members.iter().copied()).collect();
    r.download_bytes += sfcs.iter().flat_map(|&s| &plan.sfcs[s].chunks).map(|c| c.compressed_size).sum::<u64>();
    let mut seen = std::collections::HashSet::new();
    for &i in &todo {
        let f = &plan.files[i];
        r.files_to_fetch += 1;
        r.write_bytes += f.size;
        let have_tmp = dir.is_some_and(|d| {
            let tmp = d.join(state::STATE_DIR).join("tmp").join(crate::verify::md5_hex(f.path.as_bytes()));
            std::fs::metadata(&tmp).map(|m| m.len() == f.size).unwrap_or(false)
        });
        if !have_tmp {
            r.temp_bytes += f.size;
        }
        if in_sfc.contains(&i) {
            continue;
        }
        match &f.source {
            Source::Chunks { chunks } => {
                for c in chunks {
                    if have_tmp && journal.has_chunk(&f.path, c.offset, &c.compressed_md5) {
                        continue;
                    }
                    if local.contains_key(&(c.md5, c.size)) {
                        r.reused_bytes += c.size;
                    } else if seen.insert((f.product_id.clone(), c.compressed_md5)) {
                        r.download_bytes += c.compressed_size;
                    }
                }
            }
            Source::Blob { .. } => r.download_bytes += f.size,
        }
    }
    let keep: std::collections::HashSet<String> = plan.files.iter().map(|f| f.path.to_lowercase()).collect();
    if let Some(d) = dir {
        for f in old_plan.iter().flat_map(|p| &p.files) {
            let on_disk = std::fs::symlink_metadata(d.join(&f.path)).map(|m| m.len()).ok();
            if let Some(n) = on_disk {
                r.current_bytes += n;
                if !keep.contains(&f.path.to_lowercase()) {
                    r.files_to_remove += 1;
                }
            }
        }
    }
    // Old files stay until their replacements are verified: at the peak both are on disk.
    r.peak_bytes = r.current_bytes + r.temp_bytes;
    r.free_bytes = dir.and_then(crate::sink::free_space);
    r.fits = r.free_bytes.is_none_or(|f| f >= r.temp_bytes);
    Ok(r)
}

/// Containers worth downloading: at least two members still to fetch and fewer requests than
/// fetching those members' chunks one by one (and nothing of them resumed already).
fn worthwhile_sfcs(plan: &Plan, todo: &[usize], journal: &state::JournalState) -> Vec<usize> {
    let todo: std::collections::HashSet<usize> = todo.iter().copied().collect();
    let mut out = Vec::new();
    for (si, sfc) in plan.sfcs.iter().enumerate() {
        let pending: Vec<usize> = sfc.members.iter().copied().filter(|m| todo.contains(m)).collect();
        if pending.iter().any(|&m| journal.chunks.contains_key(plan.files[m].path.as_str())) {
            continue;
        }
        let member_chunks: std::collections::HashSet<&str> =
            pending.iter().flat_map(|&m| plan.files[m].chunks().iter().map(|c| c.compressed_md5.as_str())).collect();
        if pending.len() >= 2 && member_chunks.len() > sfc.chunks.len() {
            out.push(si);
        }
    }
    out
}

/// Whether a journaled V2 chunk really is on disk (after a power cut the journal may be ahead
/// of the data). Chunks covered by a whole-file digest are checked when the file completes.
fn chunk_on_disk(tmp: &Path, off: u64, chunk: Option<&plan::ChunkRef>) -> bool {
    use md5::{Digest, Md5};
    use std::os::unix::fs::FileExt;
    let Some(c) = chunk else { return true };
    let Ok(f) = std::fs::File::open(tmp) else { return false };
    let mut buf = vec![0u8; c.size as usize];
    f.read_exact_at(&mut buf, off).is_ok() && crate::verify::hex(&Md5::digest(&buf)) == c.md5
}

/// Inflated chunks available on disk, by (md5, size): a verified file and the offset.
type LocalChunks = HashMap<(crate::md5hex::Md5Hex, u64), (std::path::PathBuf, u64)>;

/// Index the chunks of files that are on disk and unchanged since they were verified: the
/// previous build's files (updates) and this plan's finished files. With `wanted`, only those
/// chunks (the ones some file to fetch needs): a resumed install does not index every chunk
/// of every finished file, nor stat files none of whose chunks are needed.
fn local_chunks(
    dir: &Path,
    plans: &[&Plan],
    journal: &state::JournalState,
    wanted: Option<&std::collections::HashSet<(crate::md5hex::Md5Hex, u64)>>,
) -> LocalChunks {
    let mut m = LocalChunks::new();
    // Only files the journal records as finished can serve (`file_ok`).
    if journal.files.is_empty() || wanted.is_some_and(|w| w.is_empty()) {
        return m;
    }
    let wants = |c: &plan::ChunkRef| wanted.is_none_or(|w| w.contains(&(c.md5, c.size)));
    for plan in plans {
        for f in &plan.files {
            if !f.chunks().iter().any(wants) || !journal.file_ok(dir, &f.path, &f.content_id()) {
                continue;
            }
            for c in f.chunks().iter().filter(|c| wants(c)) {
                m.entry((c.md5, c.size)).or_insert_with(|| (dir.join(&f.path), c.offset));
            }
        }
    }
    m
}

/// The inflated chunks `files` of `plan` are made of.
fn wanted_chunks(plan: &Plan, files: &[usize]) -> std::collections::HashSet<(crate::md5hex::Md5Hex, u64)> {
    files.iter().filter_map(|&i| plan.files.get(i)).flat_map(|f| f.chunks().iter().map(|c| (c.md5, c.size))).collect()
}

/// The requests one round makes.
struct Work {
    chunks: Vec<ChunkJob>,
    blobs: Vec<BlobJob>,
    settle: Vec<usize>,
    resumed_bytes: u64,
    need_space: u64,
}

impl Work {
    /// Requests for `files` of `plan`, minus pieces the journal proves written (when given).
    fn build(
        state: &StateDir,
        plan: &Plan,
        set: &FileSet<'_>,
        files: &[usize],
        journal: Option<&state::JournalState>,
        local: &LocalChunks,
    ) -> Work {
        let mut w = Work { chunks: Vec::new(), blobs: Vec::new(), settle: Vec::new(), resumed_bytes: 0, need_space: 0 };
        let mut by_chunk: HashMap<(&str, crate::md5hex::Md5Hex), usize> = HashMap::new();
        let mut products: HashMap<&str, Arc<str>> = HashMap::new();
        let mut blob_files: HashMap<&str, Vec<crate::fetch::blob::BlobFile>> = HashMap::new();
        for &i in files {
            if set.is_finished(i) {
                continue;
            }
            let f = &plan.files[i];
            let tmp = state.tmp_path(&f.path);
            // Chunks of a file that failed its whole-file check but matched their own MD5 stay
            // (`FileSet::bad_file`): only the others are fetched again, into the same file.
            let kept = journal.is_none() && (0..set.parts(i).len()).any(|pi| set.is_part_index_done(i, pi));
            let tmp_ok =
                (journal.is_some() || kept) && std::fs::metadata(&tmp).map(|m| m.len() == f.size).unwrap_or(false);
            if !tmp_ok {
                w.need_space += f.size;
            }
            let covers = set.file_hash_covers(i);
            let mut missing_parts = Vec::new();
            let mut pending = false;
            for (pi, &(off, len)) in set.parts(i).iter().enumerate() {
                let chunk = f.chunks().get(pi);
                if kept && set.is_part_index_done(i, pi) {
                    continue;
                }
                if tmp_ok
                    && journal.is_some_and(|j| j.has_chunk(&f.path, off, &set.part_key(i, pi)))
                    && (covers || chunk.is_none() || chunk_on_disk(&tmp, off, chunk))
                {
                    set.mark_resumed(i, pi);
                    w.resumed_bytes += chunk.map(|c| c.compressed_size).unwrap_or(len);
                    continue;
                }
                pending = true;
                let Some(c) = chunk else {
                    missing_parts.push((off, len));
                    continue;
                };
                let key = (f.product_id.as_str(), c.compressed_md5);
                let target = Target { file: i, offset: c.offset };
                match by_chunk.get(&key) {
                    Some(&j) => {
                        w.chunks[j].targets.push(target);
                        w.chunks[j].check_md5 |= !covers;
                    }
                    None => {
                        by_chunk.insert(key, w.chunks.len());
                        // One shared name per product, not a String per job.
                        let product = match products.get(f.product_id.as_str()) {
                            Some(p) => Arc::clone(p),
                            None => {
                                let p: Arc<str> = f.product_id.as_str().into();
                                products.insert(f.product_id.as_str(), Arc::clone(&p));
                                p
                            }
                        };
                        w.chunks.push(ChunkJob {
                            product,
                            compressed_md5: c.compressed_md5,
                            compressed_size: c.compressed_size,
                            md5: c.md5,
                            size: c.size,
                            targets: vec![target],
                            check_md5: !covers,
                            local: local.get(&(c.md5, c.size)).cloned().map(Box::new),
                            hash_inline: false,
                        });
                    }
                }
            }
            if let (Source::Blob { offset }, false) = (&f.source, missing_parts.is_empty()) {
                blob_files.entry(f.product_id.as_str()).or_default().push((i, *offset, missing_parts));
            }
            if !pending {
                // Empty, or every piece resumed: finish it without the network.
                w.settle.push(i);
            }
        }
        for (product, files) in blob_files {
            w.blobs.extend(crate::fetch::blob::plan_blob_jobs(product, files, set.v1_part(), BLOB_GAP));
        }
        // Local copies first: they finish fast and are read before any rename could replace
        // the file they come from (a stale copy fails its MD5 and is fetched instead).
        // (Without local copies, as in a fresh install, the list is striped as it is: no sort
        // buffer and no second list of every job at once.)
        if w.chunks.iter().any(|j| j.local.is_some()) {
            w.chunks.sort_by_key(|j| j.local.is_none());
        }
        let first_net = w.chunks.iter().position(|j| j.local.is_none()).unwrap_or(w.chunks.len());
        let net = largest_files_first(w.chunks.split_off(first_net), |j| j.targets[0].file, |j| j.size);
        let mut net = stripe(net, |j| j.targets[0].file, md5x::LANES / 2);
        // Then by stored size, in whole MiB, largest first (a stable sort: chunks of one size
        // keep the order above, and a file's full chunks stay in order). Without it the largest
        // file's last 10 MiB chunks, striped beside ever smaller files, were among the last
        // requests: 0.5 s each at 20 MiB/s per connection, the other connections idle (measured,
        // 512 MiB game-like install paced at 20 MiB/s, 4 alternating runs each: 2.39–2.43 s →
        // 2.33–2.34 s; uncapped 1.04–1.15 s → 1.10–1.18 s, within the noise).
        net.sort_by_key(|j| std::cmp::Reverse(j.compressed_size >> 20));
        w.chunks.extend(net);
        w.blobs = stripe(std::mem::take(&mut w.blobs), |j| j.segments.first().map_or(0, |g| g.file), md5x::LANES / 2);
        w
    }

    /// Prepare the last requests: chunks (already smallest last, see [`Work::build`]) hash
    /// their files inline, and idle workers split the slowest of them (`fetch::help`);
    /// `main.bin` pieces, which nobody splits, go largest first (longest-processing-time order),
    /// so no connection is left alone with a big piece while the others sit idle.
    /// The inline hashing covers the last 8 requests per worker: the hasher thread, sharing the
    /// CPU with the workers, was still hashing ~120 MiB of the larger files when the last chunk
    /// landed (measured before the size order, 512 MiB game-like install
    /// uncapped, 5 alternating runs each: 1.12–1.21 s with 2 per worker, 1.04–1.14 s with 4, 8
    /// or 16 per worker; with the size order, lending for every chunk measured the same).
    fn balance_tail(&mut self, workers: usize) {
        let tail = (8 * workers).min(self.chunks.len());
        let start = self.chunks.len() - tail;
        for j in &mut self.chunks[start..] {
            j.hash_inline = true;
        }
        let tail = (2 * workers).min(self.blobs.len());
        let start = self.blobs.len() - tail;
        self.blobs[start..].sort_by_key(|j| std::cmp::Reverse(j.end - j.start));
    }

    /// Bytes the requests fetch.
    fn bytes(&self) -> u64 {
        self.chunks.iter().map(|j| j.compressed_size).sum::<u64>()
            + self.blobs.iter().map(|j| j.end - j.start).sum::<u64>()
    }
}

/// Files removed when this is dropped.
struct RemoveOnDrop(Vec<std::path::PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Reorder `jobs` (in file order) so that up to `width` files are fetched side by side: the
/// jobs of the first `width` files alternate, and when a file runs out the next one joins.
/// Their whole-file digests then advance together in lock step (`crate::md5x`), while the
/// number of files open at once stays bounded. `file` names the file a job feeds; the jobs of
/// one file keep their order.
///
/// Runs of one file are kept as index ranges into one list (a queue per file cost a small heap
/// block per file of the install: ~3 MiB at 20,000 files, left behind in the allocator).
fn stripe<T>(jobs: Vec<T>, file: impl Fn(&T) -> usize, width: usize) -> Vec<T> {
    // Start of each run of consecutive jobs of one file, and the end.
    let mut starts: Vec<usize> = Vec::new();
    for (k, job) in jobs.iter().enumerate() {
        if k == 0 || jobs.get(k - 1).map(&file) != Some(file(job)) {
            starts.push(k);
        }
    }
    starts.push(jobs.len());
    let mut slots: Vec<Option<T>> = jobs.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    let mut groups = starts.windows(2).map(|w| (w[0], w[1]));
    // Runs being interleaved: (next job, end).
    let mut active: std::collections::VecDeque<(usize, usize)> = Default::default();
    loop {
        while active.len() < width.max(1) {
            match groups.next() {
                Some(g) => active.push_back(g),
                None => break,
            }
        }
        let Some((next, end)) = active.pop_front() else { break };
        if let Some(job) = slots.get_mut(next).and_then(Option::take) {
            out.push(job);
        }
        if next + 1 < end {
            active.push_back((next + 1, end));
        }
    }
    out
}

/// Reorder `jobs` (runs of consecutive jobs per file) so that the files with the most bytes
/// come first, each file's jobs kept in order, files of equal size in their old order.
///
/// A file's whole-file MD5 is one sequential stream that can only follow its chunks in order.
/// Fetched last, the largest file (~100 MiB in a game) is still being hashed alone on one core
/// long after the last byte landed (uncapped game-like install: a 0.27 s tail of 1.42 s);
/// fetched first, its hashing overlaps the rest of the download and the last requests are
/// small files, hashed in lock step.
fn largest_files_first<T>(jobs: Vec<T>, file: impl Fn(&T) -> usize, size: impl Fn(&T) -> u64) -> Vec<T> {
    // (bytes, start, end) of each run of one file.
    let mut runs: Vec<(u64, usize, usize)> = Vec::new();
    for (k, job) in jobs.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if k > 0 && jobs.get(k - 1).map(&file) == Some(file(job)) => {
                r.0 += size(job);
                r.2 = k + 1;
            }
            _ => runs.push((size(job), k, k + 1)),
        }
    }
    if runs.windows(2).all(|w| w[0].0 >= w[1].0) {
        return jobs;
    }
    runs.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut slots: Vec<Option<T>> = jobs.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    for (_, a, b) in runs {
        out.extend(slots[a..b].iter_mut().filter_map(Option::take));
    }
    out
}

/// Largest gap between two small V1 files that are still fetched in one request.
const BLOB_GAP: u64 = 64 << 10;

/// Where chunk and `main.bin` URLs come from: per-product secure links (V2 store, V1 depots).
#[doc(hidden)]
pub struct Links<'a> {
    /// V2 store links.
    pub v2: Option<&'a LinkCache>,
    /// V1 depot links.
    pub v1: Option<&'a LinkCache>,
}

fn cache<'a>(c: Option<&'a LinkCache>, what: &str) -> Result<&'a LinkCache> {
    c.ok_or_else(|| Error::manifest(what, "no secure link source for this kind of content"))
}

impl Links<'_> {
    fn cache_for(&self, obj: crate::fetch::Object<'_>) -> Result<&LinkCache> {
        match obj {
            crate::fetch::Object::Chunk(_) => cache(self.v2, "chunk"),
            crate::fetch::Object::MainBin => cache(self.v1, "main.bin"),
        }
    }
}

/// V2 chunks come from the V2 store links, `main.bin` from the V1 depot links.
impl crate::fetch::Urls for Links<'_> {
    fn endpoints(&self, key: &str, obj: crate::fetch::Object<'_>) -> usize {
        self.cache_for(obj).map(|c| c.endpoints(key, obj)).unwrap_or(1)
    }
    fn url(&self, key: &str, endpoint: usize, obj: crate::fetch::Object<'_>) -> Result<(String, crate::fetch::LinkId)> {
        self.cache_for(obj)?.url(key, endpoint, obj)
    }
    fn refused(&self, key: &str, obj: crate::fetch::Object<'_>, link: &crate::fetch::LinkId) -> Result<()> {
        self.cache_for(obj)?.refused(key, obj, link)
    }
}

/// Flush every dirty page of the filesystem holding `dir` (syncfs; `sync` where there is no
/// syncfs, e.g. macOS).
fn sync_filesystem(dir: &Path) -> Result<()> {
    #[cfg(target_os = "linux")]
    use std::os::unix::io::AsRawFd;
    let d = std::fs::File::open(dir).map_err(|e| Error::io("open", dir, e))?;
    // SAFETY: plain syscall on a valid descriptor.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    let rc = unsafe { libc::syncfs(d.as_raw_fd()) };
    #[cfg(not(target_os = "linux"))]
    let rc = {
        drop(d);
        // SAFETY: plain syscall without arguments.
        #[allow(unsafe_code)]
        unsafe {
            libc::sync()
        };
        0
    };
    if rc != 0 {
        return Err(Error::io("sync", dir, std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Product ids are decimal numbers.
pub fn check_product_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Usage(format!("invalid product id {id:?}: expected a number")));
    }
    Ok(())
}

/// A file already at its final path without a journal record: accept it only if its content
/// checks out (whole-file digest, or every chunk's MD5).
fn check_existing(dir: &Path, f: &plan::PlanFile) -> Result<Option<Stamp>> {
    let p = dir.join(&f.path);
    let Some(stamp) = Stamp::of(&p, &f.content_id()) else { return Ok(None) };
    if stamp.size != f.size {
        return Ok(None);
    }
    Ok(verify_file(&p, f)?.then_some(stamp))
}

/// Whether the file at `p` has `f`'s content (MD5, SHA-256, or each chunk's MD5).
pub fn verify_file(p: &Path, f: &plan::PlanFile) -> Result<bool> {
    use md5::{Digest, Md5};
    use std::io::Read;
    let mut file = match std::fs::File::open(p) {
        Ok(x) => x,
        Err(_) => return Ok(false),
    };
    if file.metadata().map(|m| m.len()).unwrap_or(u64::MAX) != f.size {
        return Ok(false);
    }
    let mut buf = vec![0u8; 1 << 20];
    if let Some(want) = &f.md5 {
        let mut h = Md5::new();
        loop {
            let n = file.read(&mut buf).map_err(|e| Error::io("read", p, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        return Ok(&crate::verify::hex(&h.finalize()) == want);
    }
    if let Some(want) = &f.sha256 {
        use sha2::Sha256;
        let mut h = Sha256::new();
        loop {
            let n = file.read(&mut buf).map_err(|e| Error::io("read", p, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        return Ok(crate::verify::hex(&h.finalize()).eq_ignore_ascii_case(want));
    }
    for c in f.chunks() {
        let mut h = Md5::new();
        let mut left = c.size;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            file.read_exact(&mut buf[..want]).map_err(|e| Error::io("read", p, e))?;
            h.update(&buf[..want]);
            left -= want as u64;
        }
        if crate::verify::hex(&h.finalize()) != c.md5 {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::{largest_files_first, stripe};

    #[test]
    fn largest_files_first_keeps_each_files_order_and_ties_in_place() {
        // (file, size): file 0 has 2 + 1, file 1 has 5, file 2 has 3, file 3 has 3.
        let jobs = vec![(0, 2), (0, 1), (1, 5), (2, 3), (3, 3)];
        let got = largest_files_first(jobs, |j| j.0, |j| j.1);
        assert_eq!(got, vec![(1, 5), (0, 2), (0, 1), (2, 3), (3, 3)]);
        let sorted = vec![(0, 9), (1, 4), (1, 1), (2, 1)];
        assert_eq!(largest_files_first(sorted.clone(), |j| j.0, |j| j.1), sorted);
        assert_eq!(largest_files_first(Vec::<(usize, u64)>::new(), |j| j.0, |j| j.1), vec![]);
    }

    #[test]
    fn stripe_alternates_files_within_the_width_and_keeps_each_files_order() {
        // (file, piece): file 0 has 3 pieces, 1 has 1, 2 has 2, 3 has 2.
        let jobs = vec![(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (2, 1), (3, 0), (3, 1)];
        let got = stripe(jobs.clone(), |j| j.0, 2);
        assert_eq!(got, vec![(0, 0), (1, 0), (0, 1), (2, 0), (0, 2), (2, 1), (3, 0), (3, 1)]);
        assert_eq!(stripe(jobs.clone(), |j| j.0, 1), jobs, "width 1 is file order");
        assert_eq!(stripe(Vec::<(usize, usize)>::new(), |j| j.0, 4), vec![]);
    }
}
