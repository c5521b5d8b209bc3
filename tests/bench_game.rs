//! The game-like benchmark products of the mock (`mock/src/gog/game.rs`, issue 13) installed
//! end to end by the real binary at a small size: the V2 product with its small-files
//! containers and the V1 twin, checked file by file against the fixtures and the mock's
//! request log.

mod support;

use std::collections::BTreeMap;

use galaxy_dl_mock::gog::game::{GAME_V1, GAME_V2};
use galaxy_dl_mock::gog::MockConfig;
use support::gog::{tree, Env};
use support::*;

const CHUNK: u64 = 1 << 20;

fn env() -> Env {
    Env::with(MockConfig {
        chunk_size: CHUNK as usize,
        game_v2_size: Some(12 << 20),
        game_v1_size: Some(12 << 20),
        ..MockConfig::small()
    })
}

#[test]
fn the_game_like_v2_product_installs_through_its_small_files_containers() {
    let e = env();
    let b = e.build(GAME_V2, "windows", 2).clone();
    let files: Vec<_> = b.entries.iter().collect();
    // The shape the benchmark relies on.
    assert_eq!(files.len(), 298);
    assert_eq!(files.iter().map(|f| f.size).sum::<u64>(), 12 << 20);
    let members = files.iter().filter(|f| f.sfc_member).count();
    // (each container is one chunk: 1 MiB here holds ~120 of the 180 small files)
    assert!(members >= 100, "{members} small-files container members");
    assert!(files.iter().all(|f| !f.chunk_md5s.is_empty()), "every file has chunks");
    assert!(b.entries.iter().any(|f| f.languages == ["en-US"]), "an en-US depot");

    let d = Scratch::new("game-v2");
    let dir = d.path("game");
    e.mock.stats().reset();
    let o = e.run(&["download", "1000000021", "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
    let want: BTreeMap<String, String> = e.expected_files(&b, "en-US", "64", &[GAME_V2]);
    assert_eq!(want.len(), 298);
    assert_eq!(tree(&dir), want);
    // The small files come from the containers (one per depot), not one request each.
    let fetched = e.fetched_chunks();
    let member_chunks: Vec<&String> =
        files.iter().filter(|f| f.sfc_member).flat_map(|f| f.chunk_compressed_md5s.iter()).collect();
    let member_fetches = fetched.iter().filter(|c| member_chunks.contains(c)).count();
    assert_eq!(member_fetches, 0, "small files fetched one by one: {member_fetches}");
    let big_chunks: usize = files.iter().filter(|f| !f.sfc_member).map(|f| f.chunk_md5s.len()).sum();
    assert!(fetched.len() <= big_chunks + 2 + 8, "{} chunk GETs for {big_chunks} chunks", fetched.len());
}

#[test]
fn the_v1_twin_holds_the_same_files_plus_four_in_one_main_bin() {
    let e = env();
    let v2 = e.build(GAME_V2, "windows", 2).clone();
    let v1 = e.build(GAME_V1, "windows", 1).clone();
    assert_eq!(v1.entries.len(), 302);
    let v2_md5: BTreeMap<&str, &str> = v2.entries.iter().map(|x| (x.path.as_str(), x.md5.as_str())).collect();
    let same = v1.entries.iter().filter(|x| v2_md5.get(x.path.as_str()) == Some(&x.md5.as_str())).count();
    assert_eq!(same, 298, "the twin has the V2 product's bytes");

    let d = Scratch::new("game-v1");
    let dir = d.path("game");
    e.mock.stats().reset();
    let o = e.run(&["download", "1000000022", "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), e.expected_files(&v1, "en-US", "64", &[GAME_V1]));
    let main_bin = e.mock.stats().log().iter().filter(|l| l.path.ends_with("/main.bin")).count();
    assert!(main_bin >= 1, "no main.bin request");
}

#[test]
fn small_files_containers_are_removed_when_the_install_fails_midway() {
    // Several containers (one per depot); the second cannot be created (its scratch path is a
    // directory), so the install fails after the first one was created: that one must not be
    // left behind in the state dir.
    let e = env();
    let d = Scratch::new("sfc-fail");
    let dir = d.path("game");
    let tmp = dir.join(".galaxy-dl").join("tmp");
    std::fs::create_dir_all(tmp.join("sfc-1").join("x")).unwrap();
    let o = e.run(&["download", "1000000021", "--dir", dir.to_str().unwrap(), "--quiet"]);
    assert_ne!(o.status.code(), Some(0), "the blocked container did not fail the install");
    let left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sfc-") && n != "sfc-1")
        .collect();
    assert!(left.is_empty(), "scratch containers left behind: {left:?}; {}", stderr(&o));
}
