//! Updates by xdelta3 patch, end to end: the real binary updates Fixture Quest from the old to
//! the new build against the in-tree GOG mock, which serves patches it builds from its own
//! fixture files (`galaxy_dl_mock::gog::PatchMode`). Request logs prove which bytes came from
//! the patch store and which from the product store.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use galaxy_dl_mock::gog::{GogMock, PatchMode};
use support::gog::{tree, Env};
use support::*;

const GAME: &str = "1000000001";
const OWNED_DLC: u64 = 1000000002;
const OLD: &str = "1100000000000001";
const NEW: &str = "1100000000000002";

fn base() -> u64 {
    GAME.parse().unwrap()
}

/// Install the old build into a fresh directory.
fn install_old(e: &Env, d: &Scratch) -> std::path::PathBuf {
    let dir = d.path("game");
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet", "--build", OLD]);
    assert_code(&o, 0);
    dir
}

fn files(e: &Env, build: &str) -> BTreeMap<String, String> {
    let b = e.mock.fixtures().build(base(), build).unwrap();
    let mut m: BTreeMap<String, String> = b
        .select_files("en-US", "64", &[base(), OWNED_DLC])
        .into_iter()
        .map(|x| (x.path.clone(), x.md5.clone()))
        .collect();
    m.extend(e.dependency_files(&b.dependencies, false));
    m
}

/// Files of the new build whose old version differs (the ones a patch covers), with the
/// compressedMd5s of their chunks that the old build does not have.
fn changed(e: &Env) -> (Vec<String>, HashSet<String>) {
    let fx = e.mock.fixtures();
    let sel = |id: &str| fx.build(base(), id).unwrap().select_files("en-US", "64", &[base(), OWNED_DLC]);
    let old: BTreeMap<String, (String, Vec<String>)> =
        sel(OLD).into_iter().map(|x| (x.path.clone(), (x.md5.clone(), x.chunk_compressed_md5s.clone()))).collect();
    let mut paths = Vec::new();
    let mut chunks = HashSet::new();
    for x in sel(NEW) {
        if let Some((md5, old_chunks)) = old.get(&x.path) {
            if *md5 != x.md5 && x.size > 0 {
                paths.push(x.path.clone());
                chunks.extend(x.chunk_compressed_md5s.iter().filter(|c| !old_chunks.contains(c)).cloned());
            }
        }
    }
    (paths, chunks)
}

/// compressedMd5s of every chunk of the new build's selection that the old one lacks: all a
/// chunk update may fetch (unchanged chunks are copied from the old files).
fn new_chunks(e: &Env) -> HashSet<String> {
    let fx = e.mock.fixtures();
    let sel = |id: &str| fx.build(base(), id).unwrap().select_files("en-US", "64", &[base(), OWNED_DLC]);
    let old: HashSet<String> = sel(OLD).into_iter().flat_map(|x| x.chunk_compressed_md5s.clone()).collect();
    sel(NEW).into_iter().flat_map(|x| x.chunk_compressed_md5s.clone()).filter(|c| !old.contains(c)).collect()
}

/// Object names fetched from (the product store, the patch store) since the last reset.
fn fetched(mock: &GogMock) -> (Vec<String>, Vec<String>) {
    let mut store = Vec::new();
    let mut patches = Vec::new();
    for l in mock.stats().log().into_iter().filter(|l| l.method == "GET") {
        let name = l.path.rsplit('/').next().unwrap_or_default().to_string();
        if l.path.contains("/patches/store/") {
            patches.push(name);
        } else if l.path.contains("/v2/store/") {
            store.push(name);
        }
    }
    (store, patches)
}

fn update(e: &Env, dir: &std::path::Path) -> (std::process::Output, u64) {
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--json"]);
    let downloaded = stdout(&o)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "done")
        .and_then(|v| v["downloaded_bytes"].as_u64())
        .unwrap_or(u64::MAX);
    (o, downloaded)
}

fn assert_verifies(e: &Env, dir: &std::path::Path) {
    let o = e.run(&["verify", dir.to_str().unwrap()]);
    assert_code(&o, 0);
}

#[test]
fn update_applies_patches_and_fetches_deltas_instead_of_changed_chunks() {
    let e = Env::new();
    let d = Scratch::new("patch-applied");
    let dir = install_old(&e, &d);
    let (paths, changed_chunks) = changed(&e);
    assert!(paths.len() >= 2, "the fixture update changes files: {paths:?}");
    e.mock.faults(|f| f.patches = PatchMode::Offer);
    e.mock.stats().reset();
    let (o, patched_bytes) = update(&e, &dir);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), files(&e, NEW));
    let (store, patch_store) = fetched(&e.mock);
    assert!(!patch_store.is_empty(), "no delta chunk was fetched");
    for c in &store {
        assert!(!changed_chunks.contains(c), "changed chunk {c} of a patched file fetched: {store:?}");
    }
    assert_verifies(&e, &dir);

    // The same update without patches, for the figure (bytes from the network).
    let d2 = Scratch::new("patch-none");
    let dir2 = install_old(&e, &d2);
    e.mock.faults(|f| f.patches = PatchMode::Off);
    let (o, chunk_bytes) = update(&e, &dir2);
    assert_code(&o, 0);
    assert_eq!(tree(&dir2), files(&e, NEW));
    eprintln!(
        "FIGURE update {OLD} -> {NEW} (chunk size {} KiB): {patched_bytes} bytes with patches ({} files patched), {chunk_bytes} bytes by chunks",
        e.mock.config().chunk_size >> 10,
        paths.len()
    );
    assert!(patched_bytes > 0 && chunk_bytes > 0);
}

#[test]
fn no_patch_offered_updates_by_chunks() {
    let e = Env::new();
    let d = Scratch::new("patch-off");
    let dir = install_old(&e, &d);
    let (_, changed_chunks) = changed(&e);
    e.mock.faults(|f| f.patches = PatchMode::Off);
    e.mock.stats().reset();
    let (o, _) = update(&e, &dir);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), files(&e, NEW));
    let log = e.mock.stats().log();
    assert!(log.iter().any(|l| l.path.ends_with("/patches") && l.status == 404), "the patch was not asked for");
    let (store, patch_store) = fetched(&e.mock);
    assert!(patch_store.is_empty());
    let store: HashSet<String> = store.into_iter().collect();
    assert!(changed_chunks.iter().all(|c| store.contains(c)), "changed chunks not fetched");
    assert_verifies(&e, &dir);
}

#[test]
fn corrupt_delta_falls_back_to_chunks_and_loses_nothing() {
    let e = Env::new();
    let d = Scratch::new("patch-corrupt");
    let dir = install_old(&e, &d);
    let (_, changed_chunks) = changed(&e);
    e.mock.faults(|f| f.patches = PatchMode::CorruptDelta);
    e.mock.stats().reset();
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap()]);
    assert_code(&o, 0);
    assert!(stderr(&o).contains("not applied"), "{}", stderr(&o));
    assert_eq!(tree(&dir), files(&e, NEW));
    let (store, patch_store) = fetched(&e.mock);
    assert!(!patch_store.is_empty(), "the deltas were fetched");
    let store: HashSet<String> = store.into_iter().collect();
    assert!(changed_chunks.iter().all(|c| store.contains(c)), "fallback did not fetch the changed chunks");
    let allowed = new_chunks(&e);
    assert!(store.iter().all(|c| allowed.contains(c)), "the fallback fetched unchanged chunks: {store:?}");
    assert!(!stdout(&o).contains("updated by patch"), "{}", stdout(&o));
    assert_verifies(&e, &dir);
}

#[test]
fn missing_delta_chunks_fall_back_to_chunks() {
    let e = Env::new();
    let d = Scratch::new("patch-withheld");
    let dir = install_old(&e, &d);
    let (_, changed_chunks) = changed(&e);
    e.mock.faults(|f| f.patches = PatchMode::WithheldDeltas);
    e.mock.stats().reset();
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap()]);
    assert_code(&o, 0);
    assert!(stderr(&o).contains("patch deltas unavailable"), "{}", stderr(&o));
    assert_eq!(tree(&dir), files(&e, NEW));
    let (store, patch_store) = fetched(&e.mock);
    assert!(!patch_store.is_empty(), "the deltas were asked for");
    let store: HashSet<String> = store.into_iter().collect();
    assert!(changed_chunks.iter().all(|c| store.contains(c)), "fallback did not fetch the changed chunks");
    assert_verifies(&e, &dir);
}

#[test]
fn patch_whose_source_is_not_the_installed_file_is_not_used() {
    let e = Env::new();
    let d = Scratch::new("patch-mismatch");
    let dir = install_old(&e, &d);
    e.mock.faults(|f| f.patches = PatchMode::SourceMismatch);
    e.mock.stats().reset();
    let (o, _) = update(&e, &dir);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), files(&e, NEW));
    let (_, patch_store) = fetched(&e.mock);
    assert!(patch_store.is_empty(), "deltas fetched for a patch that cannot apply: {patch_store:?}");
    assert_verifies(&e, &dir);
}

#[test]
fn dry_run_shows_patch_bytes_and_changes_nothing() {
    let e = Env::new();
    let d = Scratch::new("patch-dry");
    let dir = install_old(&e, &d);
    let (paths, _) = changed(&e);
    e.mock.faults(|f| f.patches = PatchMode::Offer);
    let before = tree(&dir);
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--dry-run"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.contains(&format!("{} files by patch", paths.len())), "{out}");
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--dry-run", "--json"]);
    assert_code(&o, 0);
    let v: serde_json::Value = stdout(&o)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "plan")
        .expect("plan line");
    assert_eq!(v["patch_files"].as_u64(), Some(paths.len() as u64), "{v}");
    assert!(v["patch_bytes"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(v["download_bytes"].as_u64() >= v["patch_bytes"].as_u64(), "{v}");
    let deltas = galaxy_dl::units::human_bytes(v["patch_bytes"].as_u64().unwrap_or(0));
    assert!(out.contains(&format!(", {deltas} of deltas;")), "{out}");
    assert_eq!(tree(&dir), before);
    let (_, patch_store) = fetched(&e.mock);
    assert!(patch_store.is_empty(), "a dry run fetched deltas");
}

/// Every file in `dir` is either its old or its new version (or absent when only one build
/// has it): nothing half-patched.
fn old_or_new(e: &Env, dir: &std::path::Path) {
    let (old, new) = (files(e, OLD), files(e, NEW));
    for (p, md5) in tree(dir) {
        assert!(old.get(&p) == Some(&md5) || new.get(&p) == Some(&md5), "{p} is neither old nor new ({md5})");
    }
}

#[test]
fn kill_9_while_patching_leaves_no_half_patched_file_and_resumes() {
    let e = Env::new();
    let d = Scratch::new("patch-kill");
    let dir = install_old(&e, &d);
    e.mock.faults(|f| {
        f.patches = PatchMode::Offer;
        // The first chunk GETs of the update are the deltas: make them crawl.
        f.chunk.trickle_next = 2;
        f.chunk.trickle_rate = 4_000;
    });
    e.mock.stats().reset();
    let env = e.env();
    let mut child = spawn(&env, &[], &["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet"]);
    let t = Instant::now();
    while fetched(&e.mock).1.is_empty() && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    assert!(!fetched(&e.mock).1.is_empty(), "the kill did not land while deltas were fetched");
    old_or_new(&e, &dir);

    // More kills at growing delays, each leaving only whole files.
    e.mock.faults(|f| f.chunk.trickle_next = 0);
    for ms in [30u64, 90, 200] {
        let mut child = spawn(&env, &[], &["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet"]);
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
        old_or_new(&e, &dir);
    }
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), files(&e, NEW));
    assert_verifies(&e, &dir);
}

/// `info GAME --json` with `args`: the document.
fn info_json(e: &Env, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["info", GAME, "--json"];
    a.extend_from_slice(args);
    let o = e.run(&a);
    assert_code(&o, 0);
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|err| panic!("info --json: {err}: {}", stdout(&o)))
}

/// The `plan` line of `download --dry-run --json` into `dir`.
fn dry_run_plan(e: &Env, dir: &std::path::Path) -> serde_json::Value {
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--dry-run", "--json"]);
    assert_code(&o, 0);
    stdout(&o)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "plan")
        .expect("plan line")
}

#[test]
fn info_shows_the_patch_from_the_previous_build_as_the_dry_run_of_that_update() {
    let e = Env::new();
    // No patch offered: nothing said, the field is null.
    e.mock.stats().reset();
    let v = info_json(&e, &[]);
    assert!(v.get("update_patch").is_some_and(|u| u.is_null()), "{v}");
    let requests_without = e.mock.stats().log().len();
    let o = e.run(&["info", GAME]);
    assert!(!stdout(&o).contains("update  "), "{}", stdout(&o));

    e.mock.faults(|f| f.patches = PatchMode::Offer);
    e.mock.stats().reset();
    let v = info_json(&e, &[]);
    let requests_with = e.mock.stats().log().len();
    let u = &v["update_patch"];
    assert_eq!(u["from_build"], OLD, "{v}");
    assert_eq!(u["from_version"], "1.0.0", "{v}");
    assert_eq!(u["patch_files"].as_u64(), Some(changed(&e).0.len() as u64), "{v}");
    let (patch, chunks, with) = (
        u["patch_bytes"].as_u64().unwrap(),
        u["chunk_bytes"].as_u64().unwrap(),
        u["with_patch_bytes"].as_u64().unwrap(),
    );
    assert!(patch > 0 && chunks > 0 && with >= patch, "{u}");
    let o = e.run(&["info", GAME]);
    assert_code(&o, 0);
    let text = stdout(&o);
    assert!(text.contains(&format!("update        from build {OLD} (1.0.0): patch ")), "{text}");
    let human = galaxy_dl::units::human_bytes;
    assert!(text.contains(&format!(": patch {} (", human(patch))), "{text}");
    assert!(text.contains(&format!(" vs chunks {}; {} in all", human(chunks), human(with))), "{text}");
    // The build before the old one: none, so nothing to say.
    assert!(info_json(&e, &["--build", OLD])["update_patch"].is_null());

    // The same figures as `download --dry-run` of that update over a real install of it.
    let d = Scratch::new("patch-info");
    let dir = install_old(&e, &d);
    let p = dry_run_plan(&e, &dir);
    assert_eq!((p["patch_bytes"].as_u64(), p["download_bytes"].as_u64()), (Some(patch), Some(with)), "{p} vs {u}");
    e.mock.faults(|f| f.patches = PatchMode::Off);
    let p = dry_run_plan(&e, &dir);
    assert_eq!(p["download_bytes"].as_u64(), Some(chunks), "{p} vs {u}");
    eprintln!(
        "FIGURE info update {OLD} -> {NEW}: patch {patch} B, by chunks {chunks} B, with the patch {with} B; \
         info made {requests_without} requests without a patch, {requests_with} with one"
    );
}

#[test]
fn info_omits_the_patch_when_the_previous_build_cannot_be_read() {
    let e = Env::new();
    let old_manifest = e.mock.fixtures().build(base(), OLD).unwrap().link_path.rsplit('/').next().unwrap().to_string();
    e.mock.faults(|f| {
        f.patches = PatchMode::Offer;
        f.withheld_meta = vec![old_manifest.clone()];
    });
    e.mock.stats().reset();
    let v = info_json(&e, &[]);
    assert_eq!(v["build_id"], NEW);
    assert!(v["update_patch"].is_null(), "{v}");
    assert!(v["download_size"].as_u64().unwrap_or(0) > 0, "{v}");
    // It was the previous build that failed, after the patch was found.
    let log = e.mock.stats().log();
    assert!(log.iter().any(|l| l.path.contains("/patches/meta/")), "the patch was not asked for");
    assert!(
        log.iter().any(|l| l.path.ends_with(&old_manifest) && l.status == 404),
        "the old manifest was not asked for"
    );
}
