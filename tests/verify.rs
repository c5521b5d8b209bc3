//! `galaxy-dl verify` and `galaxy-dl repair` end to end against the in-tree GOG mock: damage
//! of every kind is listed, and repair fetches only what is bad (the bad chunk of a damaged
//! multi-chunk V2 file, the range of a bad V1 file).

mod support;

use std::collections::{BTreeMap, HashSet};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use galaxy_dl_mock::gog::fixtures::EntryKind;
use support::gog::{tree, Env};
use support::*;

const GAME: &str = "1000000001";
const OWNED_DLC: u64 = 1000000002;
const LEGACY: &str = "1000000003";

fn flip_byte(p: &Path, at: u64) {
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(p).unwrap();
    let mut b = [0u8];
    f.seek(SeekFrom::Start(at)).unwrap();
    std::io::Read::read_exact(&mut f, &mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 0x5a]).unwrap();
}

#[test]
fn v2_damage_is_listed_and_repair_fetches_only_bad_chunks() {
    let e = Env::new();
    let d = Scratch::new("v2verify");
    let dir = d.path("game");
    let ds = dir.to_str().unwrap();
    assert_code(&e.run(&["download", GAME, "--dir", ds, "--quiet"]), 0);
    let base: u64 = GAME.parse().unwrap();
    let b = e.build(base, "windows", 2);
    let mut want: BTreeMap<String, String> = b
        .select_files("en-US", "64", &[base, OWNED_DLC])
        .into_iter()
        .map(|x| (x.path.clone(), x.md5.clone()))
        .collect();
    // The build's game-directory dependency is installed with it (shared redistributables are not).
    for id in &b.dependencies {
        let dep = e.mock.fixtures().dependency(id).unwrap();
        if !dep.executable_path.starts_with("__redist") {
            want.extend(
                dep.entries.iter().filter(|x| x.kind == EntryKind::File).map(|x| (x.path.clone(), x.md5.clone())),
            );
        }
    }
    assert_eq!(tree(&dir), want);

    // A clean install verifies.
    for workers in ["1", "3"] {
        let o = e.run(&["verify", ds, "--workers", workers]);
        assert_code(&o, 0);
        assert!(stdout(&o).contains(&format!("{} files, 0 bad", want.len())), "{}", stdout(&o));
    }

    // Damage: one byte in the middle chunk of a 3-chunk file, a deleted file, a truncated
    // file, a file replaced by a symlink (to a file outside DIR), a missing directory.
    let big = b.entry("Data/big.pak").expect("big.pak");
    assert_eq!(big.chunk_compressed_md5s.len(), 3);
    let cs = (big.size as f64 / 3.5) as u64; // chunks cs, cs, 1.5cs
    flip_byte(&dir.join("Data/big.pak"), cs + cs / 2);
    std::fs::remove_file(dir.join("Data/a.txt")).unwrap();
    let voice = dir.join("lang/en/voice.bin");
    let vlen = std::fs::metadata(&voice).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&voice).unwrap().set_len(vlen / 2).unwrap();
    let outside = d.path("outside.txt");
    std::fs::write(&outside, b"not part of the game").unwrap();
    std::fs::remove_file(dir.join("Game.exe")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("Game.exe")).unwrap();
    std::fs::remove_dir(dir.join("saves/empty")).unwrap();

    let o = e.run(&["verify", ds]);
    assert_code(&o, 1);
    let out = stdout(&o);
    for (path, why) in [
        ("Data/big.pak", "1 of 3 chunks bad (#1)"),
        ("Data/a.txt", "missing"),
        ("lang/en/voice.bin", "size"),
        ("Game.exe", "symlink"),
        ("saves/empty (directory)", "missing"),
    ] {
        assert!(out.lines().any(|l| l.starts_with(&format!("BAD {path}: ")) && l.contains(why)), "{path}: {out}");
    }
    assert!(out.contains(&format!("{} files, 5 bad", want.len())), "{out}");
    assert_clean_error(&o, "5 bad");

    // --json: file events with status failed, and a report with reasons.
    let o = e.run(&["verify", ds, "--json"]);
    assert_code(&o, 1);
    let events: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let failed: HashSet<&str> = events
        .iter()
        .filter(|v| v["event"] == "file" && v["status"] == "failed")
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    assert_eq!(failed, HashSet::from(["Data/big.pak", "Data/a.txt", "lang/en/voice.bin", "Game.exe", "saves/empty"]));
    let report = events.iter().find(|v| v["event"] == "verify").expect("verify event");
    assert_eq!(report["bad"].as_array().unwrap().len(), 5);
    assert!(events.iter().any(|v| v["event"] == "done"));
    assert_eq!(events.last().unwrap()["event"], "error");

    // Repair fetches the bad chunk of big.pak only, plus the chunks of the other bad files.
    e.mock.stats().reset();
    let o = e.run(&["repair", ds, "--quiet"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), want);
    assert!(std::fs::symlink_metadata(dir.join("Game.exe")).unwrap().is_file());
    {
        use std::os::unix::fs::PermissionsExt;
        assert!(std::fs::metadata(dir.join("Game.exe")).unwrap().permissions().mode() & 0o111 != 0);
    }
    assert_eq!(std::fs::read(&outside).unwrap(), b"not part of the game");
    assert!(dir.join("saves/empty").is_dir());
    let fetched = e.fetched_chunks();
    assert!(fetched.contains(&big.chunk_compressed_md5s[1]), "{fetched:?}");
    assert!(!fetched.contains(&big.chunk_compressed_md5s[0]), "good chunk 0 of big.pak fetched again");
    assert!(!fetched.contains(&big.chunk_compressed_md5s[2]), "good chunk 2 of big.pak fetched again");
    let mut allowed: HashSet<String> = HashSet::from([big.chunk_compressed_md5s[1].clone()]);
    for p in ["Data/a.txt", "lang/en/voice.bin", "Game.exe"] {
        allowed.extend(b.entry(p).unwrap().chunk_compressed_md5s.iter().cloned());
    }
    for c in &fetched {
        assert!(allowed.contains(c), "repair fetched chunk {c} of a good file");
    }
    assert!(fetched.len() <= allowed.len(), "{fetched:?}");
    assert!(stdout(&o).contains(&format!("re-verified: {} files, 0 bad", 3 + 1)), "{}", stdout(&o));

    // And all is well now, without the network.
    e.mock.stats().reset();
    assert_code(&e.run(&["verify", ds]), 0);
    assert_eq!(e.mock.stats().log().len(), 0);
    // A repair of a clean install fetches nothing.
    let o = e.run(&["repair", ds, "--workers", "2"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("nothing to repair"), "{}", stdout(&o));
    assert_eq!(e.fetched_chunks().len(), 0);
}

#[test]
fn osx_links_are_checked_and_recreated() {
    let e = Env::new();
    let d = Scratch::new("v2links");
    let dir = d.path("mac");
    let ds = dir.to_str().unwrap();
    assert_code(&e.run(&["download", GAME, "--os", "osx", "--dir", ds, "--quiet"]), 0);
    assert_code(&e.run(&["verify", ds]), 0);
    std::fs::remove_file(dir.join("game.sh")).unwrap();
    let current = dir.join("Fixture Quest.app/Contents/Frameworks/Current");
    std::fs::remove_file(&current).unwrap();
    std::os::unix::fs::symlink("../MacOS", &current).unwrap();
    let o = e.run(&["verify", ds]);
    assert_code(&o, 1);
    let out = stdout(&o);
    assert!(out.contains("BAD game.sh (link): missing"), "{out}");
    assert!(out.contains("BAD Fixture Quest.app/Contents/Frameworks/Current (link): link points to"), "{out}");
    e.mock.stats().reset();
    assert_code(&e.run(&["repair", ds, "--quiet"]), 0);
    assert_eq!(e.fetched_chunks().len(), 0);
    assert!(dir.join("game.sh").is_file(), "game.sh does not resolve");
    assert!(current.join("Info.plist").exists() || current.is_dir());
    assert_code(&e.run(&["verify", ds]), 0);
}

#[test]
fn v1_bad_file_is_fetched_again_from_its_range_only() {
    let e = Env::new();
    let d = Scratch::new("v1verify");
    let dir = d.path("legacy");
    let ds = dir.to_str().unwrap();
    assert_code(&e.run(&["download", LEGACY, "--dir", ds, "--quiet"]), 0);
    assert_code(&e.run(&["verify", ds]), 0);
    let b = e.build(LEGACY.parse().unwrap(), "windows", 1);
    let want: BTreeMap<String, String> = b
        .select_files("en-US", "64", &[LEGACY.parse().unwrap()])
        .into_iter()
        .map(|x| (x.path.clone(), x.md5.clone()))
        .collect();
    // The largest file, corrupted in its middle.
    let big = b.select_files("en-US", "64", &[LEGACY.parse().unwrap()]).into_iter().max_by_key(|x| x.size).unwrap();
    assert!(big.size > 100_000, "{}", big.size);
    flip_byte(&dir.join(&big.path), big.size / 2);
    let o = e.run(&["verify", ds]);
    assert_code(&o, 1);
    assert!(stdout(&o).contains(&format!("BAD {}: MD5 ", big.path)), "{}", stdout(&o));
    assert!(stdout(&o).contains(", 1 bad"), "{}", stdout(&o));

    e.mock.stats().reset();
    let o = e.run(&["repair", ds, "--quiet"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), want);
    let ranges: Vec<_> = e.mock.stats().log().into_iter().filter(|l| l.path.contains("main.bin")).collect();
    assert!(!ranges.is_empty() && ranges.len() <= 2, "{} main.bin requests", ranges.len());
    let bytes: u64 = ranges
        .iter()
        .map(|l| {
            let r = l.range.as_deref().expect("range request").trim_start_matches("bytes=");
            let (a, z) = r.split_once('-').unwrap();
            z.parse::<u64>().unwrap() + 1 - a.parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(bytes, big.size, "repair fetched more than the bad file");
    assert_code(&e.run(&["verify", ds]), 0);
}

#[test]
fn no_install_usage_and_lock() {
    let e = Env::new();
    let d = Scratch::new("vnone");
    let empty = d.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for cmd in ["verify", "repair"] {
        let o = e.run(&[cmd, empty.to_str().unwrap()]);
        assert_code(&o, 1);
        assert_clean_error(&o, "not found: no galaxy-dl install in");
        let o = e.run(&[cmd]);
        assert_code(&o, 2);
        assert!(stderr(&o).contains("needs a directory"), "{}", stderr(&o));
        let o = e.run(&[cmd, "a", "b"]);
        assert_code(&o, 2);
        let o = e.run(&[cmd, "--bogus", "a"]);
        assert_code(&o, 2);
        let o = e.run(&[cmd, "a", "--workers", "0"]);
        assert_code(&o, 2);
        assert!(stderr(&o).contains("invalid --workers"), "{}", stderr(&o));
        let o = e.run(&[cmd, "--help"]);
        assert_code(&o, 0);
        assert!(stdout(&o).contains(&format!("galaxy-dl {cmd} DIR")));
    }
    let o = e.run(&["verify", d.path("does-not-exist").to_str().unwrap()]);
    assert_code(&o, 1);
    assert_clean_error(&o, "not found");

    // Another process holds the install's lock: a clear error, nothing touched.
    let dir = d.path("game");
    let ds = dir.to_str().unwrap();
    assert_code(&e.run(&["download", GAME, "--dir", ds, "--quiet"]), 0);
    std::fs::remove_file(dir.join("Data/a.txt")).unwrap();
    let held = galaxy_dl::install::state::StateDir::open(&dir).unwrap();
    for cmd in ["verify", "repair"] {
        let o = e.run(&[cmd, ds]);
        assert_code(&o, 1);
        assert_clean_error(&o, "another galaxy-dl process");
    }
    assert!(!dir.join("Data/a.txt").exists());
    drop(held);
    // Processes that other tests spawn at this moment may briefly share the lock's open file
    // description (inherited between fork and exec): retry for a moment.
    let mut o = e.run(&["repair", ds, "--quiet"]);
    for _ in 0..50 {
        if !stderr(&o).contains("another galaxy-dl process") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        o = e.run(&["repair", ds, "--quiet"]);
    }
    assert_code(&o, 0);
    assert!(dir.join("Data/a.txt").is_file());

    // A directory replaced by a symlink (to a copy outside DIR): its files are bad; repair
    // removes the link, never what it points to, and fetches the files again.
    let outside = d.path("outside-sub");
    std::fs::rename(dir.join("Data/Sub"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("Data/Sub")).unwrap();
    let o = e.run(&["verify", ds]);
    assert_code(&o, 1);
    assert!(stdout(&o).contains("BAD Data/Sub/Deep/nested.txt: parent Data/Sub is a symbolic link"), "{}", stdout(&o));
    assert_code(&e.run(&["repair", ds, "--quiet"]), 0);
    assert!(!std::fs::symlink_metadata(dir.join("Data/Sub")).unwrap().file_type().is_symlink());
    assert!(dir.join("Data/Sub/Deep/nested.txt").is_file());
    assert!(outside.join("Deep/nested.txt").is_file(), "the link's target was touched");
    assert_code(&e.run(&["verify", ds]), 0);
}
