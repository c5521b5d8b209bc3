//! `galaxy-dl download` end to end against the in-tree GOG mock: V2 installs with DLC,
//! languages, bitness, support files, links, resume, faults, link expiry and bad input.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use galaxy_dl_mock::gog::fixtures::{EntryKind, ExpectedEntry};
use galaxy_dl_mock::gog::MockConfig;
use support::gog::{tree, Env};
use support::*;

const GAME: &str = "1000000001";
const OWNED_DLC: u64 = 1000000002;
const UNOWNED_DLC: u64 = 1000000009;

fn expected(e: &Env, lang: &str, bitness: &str, products: &[u64]) -> BTreeMap<String, String> {
    e.expected_files(e.build(GAME.parse().unwrap(), "windows", 2), lang, bitness, products)
}

#[test]
fn v2_install_matches_the_selection_and_verifies() {
    let e = Env::new();
    let d = Scratch::new("v2");
    let dir = d.path("game");
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
    let base: u64 = GAME.parse().unwrap();
    let want = expected(&e, "en-US", "64", &[base, OWNED_DLC]);
    assert!(!want.is_empty());
    assert_eq!(tree(&dir), want);
    // The unowned DLC is skipped with a notice, not a failure.
    let err = stderr(&o);
    assert!(err.contains(&UNOWNED_DLC.to_string()) || !err.contains("error"), "{err}");
    // Executable bits, directories and links.
    let b = e.build(base, "windows", 2);
    for x in b.select("en-US", "64", &[base, OWNED_DLC]) {
        let p = dir.join(&x.path);
        match &x.kind {
            EntryKind::File if x.executable => {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&p).unwrap().permissions().mode();
                assert!(mode & 0o111 != 0, "{} not executable", x.path);
            }
            EntryKind::Directory => assert!(p.is_dir(), "{} missing", x.path),
            _ => {}
        }
    }
    // A second run is a no-op that downloads nothing.
    let chunks_before = e.mock.stats().count_containing("/store/");
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--json"]);
    assert_code(&o, 0);
    assert_eq!(e.mock.stats().count_containing("/store/"), chunks_before, "second run fetched chunks");
    let events: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.last().unwrap()["event"], "done");
}

#[test]
fn language_bitness_and_dlc_selection() {
    let e = Env::new();
    let d = Scratch::new("sel");
    let dir = d.path("game");
    let o = e.run(&[
        "download",
        GAME,
        "--dir",
        dir.to_str().unwrap(),
        "--quiet",
        "--lang",
        "de",
        "--bitness",
        "32",
        "--dlc",
        "none",
    ]);
    assert_code(&o, 0);
    let base: u64 = GAME.parse().unwrap();
    assert_eq!(tree(&dir), expected(&e, "de-DE", "32", &[base]));
    // Shared redistributables only on request.
    assert!(stderr(&o).contains("--with-redist") || o.status.success());
    let o = e.run(&[
        "download",
        GAME,
        "--dir",
        dir.to_str().unwrap(),
        "--quiet",
        "--lang",
        "de",
        "--bitness",
        "32",
        "--dlc",
        "none",
        "--with-redist",
    ]);
    assert_code(&o, 0);
    let mut want = expected(&e, "de-DE", "32", &[base]);
    let b = e.build(base, "windows", 2);
    want.extend(e.dependency_files(&b.dependencies, true));
    assert_eq!(tree(&dir), want);
}

#[test]
fn faults_are_survived_and_corrupt_chunks_refetched() {
    let e = Env::new();
    e.mock.faults(|f| {
        f.chunk.fail_next = 3;
        f.chunk.reset_next = 2;
        f.chunk.corrupt_next = 2;
        f.chunk.truncate_next = 1;
    });
    let d = Scratch::new("faults");
    let dir = d.path("game");
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet", "--workers", "4"]);
    assert_code(&o, 0);
    let base: u64 = GAME.parse().unwrap();
    assert_eq!(tree(&dir), expected(&e, "en-US", "64", &[base, OWNED_DLC]));
}

/// Install the fixture game with the first served copy of chunk `victim` forged (right sizes,
/// valid zlib with a matching Adler-32, wrong content): it must install exactly, with the forged
/// object fetched twice and every other object once (whole-object GETs of store chunks, by hash:
/// the two endpoints' paths differ), and verify clean. Returns the run's stderr.
fn install_with_a_forged_chunk(name: &str, pick: impl Fn(&ExpectedEntry) -> Option<String>) -> String {
    let e = Env::new();
    let base: u64 = GAME.parse().unwrap();
    let b = e.build(base, "windows", 2);
    let victim = b.select("en-US", "64", &[base, OWNED_DLC]).into_iter().find_map(pick).expect("a chunk to forge");
    e.mock.faults(|f| {
        f.forge_chunk_next = 1;
        f.forge_chunk = Some(victim.clone());
    });
    let d = Scratch::new(name);
    let dir = d.path("game");
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--workers", "4"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), expected(&e, "en-US", "64", &[base, OWNED_DLC]));
    let mut left = u32::MAX;
    e.mock.faults(|f| left = f.forge_chunk_next);
    assert_eq!(left, 0, "the forged object was never served");
    let gets: Vec<String> = e
        .mock
        .stats()
        .log()
        .into_iter()
        .filter(|l| l.path.contains("/store/") && l.method == "GET" && l.range.is_none())
        .filter_map(|l| l.path.rsplit('/').next().map(str::to_string))
        .collect();
    assert_eq!(gets.iter().filter(|g| **g == victim).count(), 2, "{gets:?}");
    let unique: std::collections::BTreeSet<&String> = gets.iter().collect();
    assert_eq!(gets.len(), unique.len() + 1, "only the forged object is fetched twice: {gets:?}");
    assert_code(&e.run(&["verify", dir.to_str().unwrap(), "--quiet"]), 0);
    stderr(&o)
}

#[test]
fn forged_chunks_are_caught_by_md5_and_only_they_are_fetched_again() {
    // Only an MD5 of the content catches a forged object: its file's whole-file MD5, after which
    // the file's chunks are checked one by one. Here: the second chunk of a file with several.
    let err = install_with_a_forged_chunk("forged", |x| {
        (x.chunk_compressed_md5s.len() >= 2 && !x.sfc_member).then(|| x.chunk_compressed_md5s[1].clone())
    });
    assert!(err.contains("chunks that differ"), "a multi-chunk file was refetched whole or not checked: {err}");
}

#[test]
fn a_forged_chunk_of_a_single_chunk_file_is_caught_and_fetched_again() {
    // A single-chunk file's MD5 is its chunk's, taken by the whole-file hasher: the forged
    // object fails it, and the file (its one chunk) is fetched again.
    let err = install_with_a_forged_chunk("forged-one", |x| {
        (x.chunk_compressed_md5s.len() == 1 && !x.sfc_member && x.size > 0).then(|| x.chunk_compressed_md5s[0].clone())
    });
    assert!(err.contains("failed its checksum"), "{err}");
}

#[test]
fn expired_links_are_renewed_and_failover_works() {
    let e = Env::new();
    e.mock.faults(|f| f.fail_endpoint(0));
    let d = Scratch::new("failover");
    let dir = d.path("game");
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
    let base: u64 = GAME.parse().unwrap();
    assert_eq!(tree(&dir), expected(&e, "en-US", "64", &[base, OWNED_DLC]));
}

#[test]
fn link_expiry_mid_run_renews_once_per_product() {
    let mut cfg = MockConfig::small();
    cfg.link_ttl_secs = 2;
    let e = Env::with(cfg);
    e.mock.faults(|f| f.per_conn_rate = Some(400_000));
    let d = Scratch::new("expiry");
    let dir = d.path("game");
    let t = Instant::now();
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet", "--workers", "2"]);
    assert_code(&o, 0);
    let base: u64 = GAME.parse().unwrap();
    assert_eq!(tree(&dir), expected(&e, "en-US", "64", &[base, OWNED_DLC]));
    let _ = t;
}

#[test]
fn unknown_product_and_bad_usage() {
    let e = Env::new();
    let d = Scratch::new("bad");
    let dir = d.path("x");
    let o = e.run(&["download", "1999999999", "--dir", dir.to_str().unwrap()]);
    assert_code(&o, 1);
    assert_clean_error(&o, "not found");
    for args in [
        vec!["download", "abc", "--dir", "x"],
        vec!["download", GAME],
        vec!["download", GAME, "--dir", "x", "--bitness", "16"],
        vec!["download", GAME, "--dir", "x", "--os", "amiga"],
        vec!["download", GAME, "--dir", "x", "--dlc", "x,y"],
        vec!["download", GAME, "--dir", "x", "--workers", "0"],
        vec!["download", GAME, "--dir", "x", "--build", "1", "--branch", "b"],
    ] {
        let o = e.run(&args);
        assert_code(&o, 2);
    }
}

#[test]
fn kill_and_resume_fetches_only_missing_chunks() {
    let e = Env::new();
    e.mock.faults(|f| f.per_conn_rate = Some(300_000));
    let d = Scratch::new("resume");
    let dir = d.path("game");
    let env = e.env();
    let mut child = spawn(&env, &[], &["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet", "--workers", "2"]);
    let journal = dir.join(".galaxy-dl/journal");
    let t = Instant::now();
    loop {
        let n = std::fs::read_to_string(&journal).map(|s| s.lines().count()).unwrap_or(0);
        if n >= 6 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "nothing journaled");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    e.mock.faults(|f| f.per_conn_rate = None);
    let journaled: std::collections::HashSet<String> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("c\t"))
        .map(|l| l.split('\t').nth(2).unwrap().to_string())
        .collect();
    e.mock.stats().reset();
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
    let base: u64 = GAME.parse().unwrap();
    assert_eq!(tree(&dir), expected(&e, "en-US", "64", &[base, OWNED_DLC]));
    for l in e.mock.stats().log() {
        if let Some(md5) = l.path.rsplit('/').next() {
            if l.path.contains("/store/") {
                assert!(!journaled.contains(md5), "journaled chunk {md5} fetched again");
            }
        }
    }
}

fn v1_expected(e: &Env) -> BTreeMap<String, String> {
    let b =
        e.mock.fixtures().builds.iter().find(|b| b.product_id == 1000000003 && b.generation == 1).expect("V1 fixture");
    b.select_files("en-US", "64", &[1000000003]).into_iter().map(|x| (x.path.clone(), x.md5.clone())).collect()
}

#[test]
fn v1_install_coalesces_small_files_and_checks_every_md5() {
    let e = Env::with(MockConfig { v1_blob_size: 64 << 20, ..MockConfig::small() });
    let d = Scratch::new("v1");
    let dir = d.path("legacy");
    e.mock.stats().reset();
    let o = e.run(&["download", "1000000003", "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
    let want = v1_expected(&e);
    assert!(want.len() > 500, "fixture has many small files");
    assert_eq!(tree(&dir), want);
    let ranges = e.mock.stats().count_containing("main.bin");
    // ~1000 small files cost a handful of requests, not one each.
    assert!(ranges < want.len() as u64 / 20, "{ranges} requests for {} files", want.len());
    let execs = e
        .mock
        .fixtures()
        .builds
        .iter()
        .find(|b| b.product_id == 1000000003)
        .unwrap()
        .entries
        .iter()
        .filter(|x| x.executable)
        .count();
    assert!(execs > 0);
}

#[test]
fn v1_server_ignoring_range_is_streamed_once() {
    let e = Env::new();
    e.mock.faults(|f| f.ignore_range_on_main_bin = true);
    let d = Scratch::new("v1norange");
    let dir = d.path("legacy");
    let o = e.run(&["download", "1000000003", "--dir", dir.to_str().unwrap()]);
    assert_code(&o, 0);
    assert!(stderr(&o).contains("ignores Range"), "{}", stderr(&o));
    assert_eq!(tree(&dir), v1_expected(&e));
}

#[test]
fn v1_wrong_content_range_fails_cleanly_and_corruption_is_caught() {
    let e = Env::new();
    e.mock.faults(|f| f.wrong_content_range_on_main_bin = true);
    let d = Scratch::new("v1wcr");
    let dir = d.path("legacy");
    let o = e.run(&["download", "1000000003", "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 1);
    assert_clean_error(&o, "Content-Range");
    e.mock.faults(|f| {
        f.wrong_content_range_on_main_bin = false;
        f.main_bin.corrupt_next = 1;
    });
    // One worker: no idle worker splits the corrupted range before its middle byte lands.
    let o = e.run(&["download", "1000000003", "--dir", dir.to_str().unwrap(), "--quiet", "--workers", "1"]);
    // A V1 piece has no checksum of its own: the corrupt file fails its MD5, is thrown away
    // and fetched again.
    assert_code(&o, 0);
    assert!(stderr(&o).contains("failed its checksum"), "{}", stderr(&o));
    assert_eq!(tree(&dir), v1_expected(&e));
}

#[test]
fn persistently_corrupt_data_fails_and_is_never_installed() {
    let e = Env::new();
    e.mock.faults(|f| f.main_bin.corrupt_next = 10_000);
    let d = Scratch::new("v1corrupt");
    let dir = d.path("legacy");
    let o = e.run(&["download", "1000000003", "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 1);
    assert_clean_error(&o, "checksum mismatch");
    // Whatever is on disk verifies: no file with wrong content under its final name.
    let want = v1_expected(&e);
    for (p, md5) in tree(&dir) {
        assert_eq!(want.get(&p), Some(&md5), "{p} has wrong content");
    }
    e.mock.faults(|f| f.main_bin.corrupt_next = 0);
    let o = e.run(&["download", "1000000003", "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), want);
}

#[test]
fn update_fetches_only_changed_chunks_and_removes_dropped_files() {
    let e = Env::new();
    let d = Scratch::new("update");
    let dir = d.path("game");
    let base: u64 = GAME.parse().unwrap();
    let old = "1100000000000001";
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet", "--build", old]);
    assert_code(&o, 0);
    let fx = e.mock.fixtures();
    let old_b = fx.build(base, old).unwrap();
    let mut old_files: BTreeMap<String, String> = old_b
        .select_files("en-US", "64", &[base, OWNED_DLC])
        .into_iter()
        .map(|x| (x.path.clone(), x.md5.clone()))
        .collect();
    old_files.extend(e.dependency_files(&old_b.dependencies, false));
    assert_eq!(tree(&dir), old_files);
    let new_b = e.build(base, "windows", 2);
    let old_chunks: std::collections::HashSet<String> = old_b
        .select_files("en-US", "64", &[base, OWNED_DLC])
        .into_iter()
        .flat_map(|x| x.chunk_compressed_md5s.clone())
        .collect();
    let changed: std::collections::HashSet<String> = new_b
        .select_files("en-US", "64", &[base, OWNED_DLC])
        .into_iter()
        .flat_map(|x| x.chunk_compressed_md5s.clone())
        .filter(|c| !old_chunks.contains(c))
        .collect();
    assert!(!changed.is_empty());
    e.mock.stats().reset();
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), expected(&e, "en-US", "64", &[base, OWNED_DLC]));
    let fetched: Vec<String> = e
        .mock
        .stats()
        .log()
        .into_iter()
        .filter(|l| l.path.contains("/store/"))
        .map(|l| l.path.rsplit('/').next().unwrap().to_string())
        .collect();
    for f in &fetched {
        assert!(changed.contains(f), "unchanged chunk {f} downloaded again");
    }
    assert_eq!(fetched.len(), changed.len(), "fetched {fetched:?}, changed {changed:?}");
    assert!(stdout(&o).contains("removed"), "{}", stdout(&o));
}

fn member_chunks(e: &Env) -> std::collections::HashSet<String> {
    let base: u64 = GAME.parse().unwrap();
    e.build(base, "windows", 2)
        .select_files("en-US", "64", &[base, OWNED_DLC])
        .into_iter()
        .filter(|x| x.sfc_member)
        .flat_map(|x| x.chunk_compressed_md5s.clone())
        .collect()
}

fn store_requests(e: &Env) -> Vec<String> {
    e.mock
        .stats()
        .log()
        .into_iter()
        .filter(|l| l.path.contains("/store/"))
        .map(|l| l.path.rsplit('/').next().unwrap().to_string())
        .collect()
}

#[test]
fn small_files_container_saves_requests_and_falls_back() {
    let base: u64 = GAME.parse().unwrap();
    // The container alone delivers its members (their own chunks are withheld).
    let e = Env::new();
    let members = member_chunks(&e);
    assert!(members.len() > 10);
    e.mock.faults(|f| f.withhold_sfc_members = true);
    let d = Scratch::new("sfc");
    let dir = d.path("game");
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), expected(&e, "en-US", "64", &[base, OWNED_DLC]));
    assert!(store_requests(&e).iter().all(|c| !members.contains(c)), "member chunks fetched despite the container");
    // Without the container, members come chunk by chunk.
    let e = Env::new();
    e.mock.faults(|f| f.withhold_sfc = true);
    let d = Scratch::new("nosfc");
    let dir = d.path("game");
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap()]);
    assert_code(&o, 0);
    assert!(stderr(&o).contains("small files container unavailable"), "{}", stderr(&o));
    assert_eq!(tree(&dir), expected(&e, "en-US", "64", &[base, OWNED_DLC]));
}

#[test]
fn dry_run_reports_the_update_budget_and_changes_nothing() {
    let e = Env::new();
    let d = Scratch::new("dry");
    let dir = d.path("game");
    let base: u64 = GAME.parse().unwrap();
    // Nothing installed yet: the whole selection, and DIR is not even created.
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--dry-run", "--json"]);
    assert_code(&o, 0);
    assert!(!dir.exists(), "dry run created DIR");
    let plan: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().find(|l| l.contains("\"plan\"")).unwrap()).unwrap();
    let want = expected(&e, "en-US", "64", &[base, OWNED_DLC]);
    assert_eq!(plan["files_to_fetch"].as_u64(), Some(want.len() as u64));
    assert_eq!(plan["final_bytes"], plan["write_bytes"]);
    // Old build installed: the update needs only the changed chunks.
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--quiet", "--build", "1100000000000001"]);
    assert_code(&o, 0);
    let before = tree(&dir);
    let journal = std::fs::read(dir.join(".galaxy-dl/journal")).unwrap();
    e.mock.stats().reset();
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--dry-run", "--json"]);
    assert_code(&o, 0);
    let plan: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().find(|l| l.contains("\"plan\"")).unwrap()).unwrap();
    assert_eq!(plan["files_to_remove"].as_u64(), Some(1));
    assert!(plan["reused_bytes"].as_u64().unwrap() > 0);
    assert!(plan["download_bytes"].as_u64().unwrap() < plan["write_bytes"].as_u64().unwrap());
    assert_eq!(e.mock.stats().count_containing("/store/"), 0, "dry run fetched chunks");
    assert_eq!(tree(&dir), before);
    assert_eq!(std::fs::read(dir.join(".galaxy-dl/journal")).unwrap(), journal);
    // The real update then downloads what the dry run announced.
    let o = e.run(&["download", GAME, "--dir", dir.to_str().unwrap(), "--json"]);
    assert_code(&o, 0);
    let done: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["downloaded_bytes"], plan["download_bytes"]);
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Ctrl-C in the middle of an update: every file on disk is the old or the new version (never
/// a mix), the same command then finishes the update, and files the manifest does not know
/// are left alone.
#[test]
fn interrupted_update_is_never_corrupt_and_resumes() {
    let e = Env::new();
    let d = Scratch::new("update-int");
    let dir = d.path("game");
    let ds = dir.to_str().unwrap().to_string();
    let base: u64 = GAME.parse().unwrap();
    let old = "1100000000000001";
    assert_code(&e.run(&["download", GAME, "--dir", &ds, "--quiet", "--build", old]), 0);
    std::fs::write(dir.join("my-save.dat"), b"precious").unwrap();
    let old_b = e.mock.fixtures().build(base, old).unwrap();
    let old_files = e.expected_files(old_b, "en-US", "64", &[base, OWNED_DLC]);
    let new_files = expected(&e, "en-US", "64", &[base, OWNED_DLC]);

    e.mock.faults(|f| f.per_conn_rate = Some(60_000));
    let child = spawn(&e.env(), &[], &["download", GAME, "--dir", &ds, "--quiet", "--workers", "2"]);
    std::thread::sleep(Duration::from_millis(1200));
    unsafe { libc_kill(child.id() as i32, 2) };
    let o = child.wait_with_output().unwrap();
    assert_code(&o, 130);
    assert_clean_error(&o, "interrupted");
    for (p, md5) in tree(&dir) {
        if p == "my-save.dat" {
            continue;
        }
        let ok = old_files.get(&p) == Some(&md5) || new_files.get(&p) == Some(&md5);
        assert!(ok, "{p} is neither the old nor the new version after the interrupt");
    }

    e.mock.faults(|f| f.per_conn_rate = None);
    let o = e.run(&["download", GAME, "--dir", &ds, "--quiet"]);
    assert_code(&o, 0);
    let mut want = new_files.clone();
    want.insert("my-save.dat".into(), galaxy_dl::verify::md5_hex(b"precious"));
    assert_eq!(tree(&dir), want);
}

/// The bench product with 4 chunks (one per file, ~2.7 MiB on the wire each) on a 4 MiB/s
/// connection, so every chunk takes ~0.7 s and 8 workers have 4 idle ones from the start.
fn split_env() -> Env {
    let e = Env::with(MockConfig { chunk_size: 4 << 20, bench_v2_size: Some(16 << 20), ..MockConfig::small() });
    e.mock.faults(|f| f.per_conn_rate = Some(4 << 20));
    e
}

fn bench_expected(e: &Env) -> BTreeMap<String, String> {
    let b = e.build(1000000004, "windows", 2);
    b.select_files("en-US", "64", &[1000000004]).into_iter().map(|x| (x.path.clone(), x.md5.clone())).collect()
}

#[test]
fn idle_workers_fetch_the_rest_of_slow_chunks_with_range_requests() {
    let e = split_env();
    let d = Scratch::new("split");
    let dir = d.path("bench");
    e.mock.stats().reset();
    let o = e.run(&["download", "1000000004", "--dir", dir.to_str().unwrap(), "--quiet", "--workers", "8"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), bench_expected(&e));
    let log = e.mock.stats().log();
    let store: Vec<_> = log.iter().filter(|l| l.path.contains("/store/")).collect();
    let helped = store.iter().filter(|l| l.range.is_some() && l.status == 206).count();
    assert!(helped >= 2, "idle workers should split the slow chunks: {store:?}");
    // Each chunk is fetched whole once, plus at most one helper range per chunk.
    let whole = store.iter().filter(|l| l.range.is_none()).count();
    assert_eq!(whole, 4, "{store:?}");
    assert!(helped <= whole, "{store:?}");
    let o = e.run(&["verify", dir.to_str().unwrap()]);
    assert_code(&o, 0);
}

/// Install the split fixture with 8 workers under the chunk fault `fault`; the install must be
/// exact. Returns the mock's request log of the run.
fn split_install_under(
    fault: impl FnOnce(&mut galaxy_dl_mock::gog::GogFaults),
    name: &str,
) -> Vec<galaxy_dl_mock::server::LogEntry> {
    let e = split_env();
    e.mock.faults(fault);
    let d = Scratch::new(name);
    let dir = d.path("bench");
    e.mock.stats().reset();
    let o = e.run(&["download", "1000000004", "--dir", dir.to_str().unwrap(), "--quiet", "--workers", "8"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), bench_expected(&e));
    e.mock.stats().log()
}

#[test]
fn a_cdn_ignoring_range_on_chunks_only_costs_the_helpers_their_time() {
    let log = split_install_under(|f| f.ignore_range_on_chunks = true, "split-norange");
    let tried = log.iter().filter(|l| l.path.contains("/store/") && l.range.is_some()).count();
    assert!(tried >= 1, "helpers should have tried: {log:?}");
}

/// A CDN answering every ranged chunk request with a wrong `Content-Range` (issue 10's matrix):
/// the helpers' ranged requests are refused as bad answers, nothing of theirs is written, the
/// owners read their own responses on, and the install is exact.
#[test]
fn a_wrong_content_range_on_chunks_is_never_written() {
    let log = split_install_under(|f| f.wrong_content_range_on_chunks = true, "split-wrongcr");
    let wrong = log.iter().filter(|l| l.path.contains("/store/") && l.range.is_some() && l.status == 206).count();
    assert!(wrong >= 1, "no helper asked for a range, so no wrong Content-Range was served: {log:?}");
}

/// An update interrupted (here: at its very end, before it was recorded complete) and then
/// redirected to a third build removes what only the interrupted build added.
#[test]
fn an_interrupted_update_redirected_to_another_build_removes_what_it_added() {
    let e = Env::new();
    let d = Scratch::new("update-redirect");
    let dir = d.path("game");
    let ds = dir.to_str().unwrap().to_string();
    let base: u64 = GAME.parse().unwrap();
    assert_code(&e.run(&["download", GAME, "--dir", &ds, "--quiet", "--build", "1100000000000001"]), 0);
    let state = dir.join(".galaxy-dl");
    let old_plan = std::fs::read(state.join("plan.json")).unwrap();
    // The beta build adds Data/beta.txt; pretend its update was cut off before it completed.
    let beta = ["--branch", "beta", "--password", "s3cret"];
    assert_code(&e.run(&[&["download", GAME, "--dir", &ds, "--quiet"][..], &beta[..]].concat()), 0);
    assert!(dir.join("Data/beta.txt").is_file());
    std::fs::write(state.join("plan.prev.json"), &old_plan).unwrap();
    // Redirected to the newest public build, which has no beta.txt.
    let o = e.run(&["download", GAME, "--dir", &ds, "--quiet"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), expected(&e, "en-US", "64", &[base, OWNED_DLC]));
    assert!(!state.join("plan.prev.json").exists());
}
