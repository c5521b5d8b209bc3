//! Flags and figures that must say what the code does, end to end against the in-tree GOG
//! mock: `download --chunk-size` sets the V1 piece size (counted in main.bin Range requests),
//! and `info`, `download --dry-run` and the final `done` event agree on download and disk bytes
//! (game-directory dependencies included), V2 and V1; mistyped commands get a suggestion.

mod support;

use galaxy_dl_mock::gog::MockConfig;
use serde_json::Value;
use support::gog::{tree, Env};
use support::*;

const QUEST: &str = "1000000001";
const LEGACY: &str = "1000000003";

fn main_bin_gets(e: &Env) -> u64 {
    e.mock.stats().count_where(|l| l.method == "GET" && l.path.ends_with("/main.bin"))
}

#[test]
fn chunk_size_sets_the_v1_piece_size() {
    let e = Env::with(MockConfig { v1_blob_size: 4 << 20, ..MockConfig::small() });
    let d = Scratch::new("chunk-size");
    let mut counts = Vec::new();
    for (i, size) in ["4M", "256K", "64K"].iter().enumerate() {
        let dir = d.path(&format!("legacy-{i}"));
        let before = main_bin_gets(&e);
        let o = e.run(&[
            "download",
            LEGACY,
            "--dir",
            dir.to_str().unwrap(),
            "--chunk-size",
            size,
            "--quiet",
            "--workers",
            "1",
        ]);
        assert_code(&o, 0);
        let want: std::collections::BTreeMap<String, String> = tree(&dir);
        assert!(want.len() > 50, "installed");
        counts.push(main_bin_gets(&e) - before);
    }
    // main.bin is 4 MiB plus the small fixture files: a 4M piece takes a few requests, 256K
    // about 16, 64K about 64 (a piece never spans more than its size). One worker: with more,
    // idle workers split the largest remaining piece at the end, which adds requests.
    let (big, mid, small) = (counts[0], counts[1], counts[2]);
    assert!(big <= 10, "4M pieces: {counts:?}");
    assert!((16..=40).contains(&mid) && mid > 2 * big, "256K pieces: {counts:?}");
    assert!(small >= 64 && small > 2 * mid, "64K pieces: {counts:?}");
    // The same tree each time (the piece size changes requests, not content).
    assert_eq!(tree(&d.path("legacy-0")), tree(&d.path("legacy-2")));
}

/// Killed while fetching 64K pieces, resumed with 1M pieces: the journal of the other piece
/// size is only trusted where a piece is the same byte range, and the install ends verified.
#[test]
fn resume_with_another_chunk_size_ends_verified() {
    let e = Env::with(MockConfig { v1_blob_size: 4 << 20, ..MockConfig::small() });
    e.mock.faults(|f| f.per_conn_rate = Some(400_000));
    let d = Scratch::new("chunk-size-resume");
    let dir = d.path("legacy");
    let args = ["download", LEGACY, "--dir", dir.to_str().unwrap(), "--quiet", "--workers", "2", "--chunk-size", "64K"];
    let mut child = spawn(&e.env(), &[], &args);
    let journal = dir.join(".galaxy-dl/journal");
    let t = std::time::Instant::now();
    loop {
        let n = std::fs::read_to_string(&journal).map(|s| s.lines().count()).unwrap_or(0);
        if n >= 8 {
            break;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("finished before it could be interrupted: {st:?}");
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(60), "nothing journaled");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    e.mock.faults(|f| f.per_conn_rate = None);
    let o = e.run(&["download", LEGACY, "--dir", dir.to_str().unwrap(), "--quiet", "--chunk-size", "1M"]);
    assert_code(&o, 0);
    let want = d.path("fresh");
    let o = e.run(&["download", LEGACY, "--dir", want.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
    assert_eq!(tree(&dir), tree(&want));
    let o = e.run(&["verify", dir.to_str().unwrap(), "--quiet"]);
    assert_code(&o, 0);
}

#[test]
fn chunk_size_out_of_range_is_a_usage_error() {
    let e = Env::new();
    let d = Scratch::new("chunk-size-bad");
    for bad in ["32K", "2G", "abc", "0"] {
        let o = e.run(&["download", LEGACY, "--dir", d.path("x").to_str().unwrap(), "--chunk-size", bad]);
        assert_code(&o, 2);
        assert!(stderr(&o).contains("--chunk-size"), "{bad}: {}", stderr(&o));
    }
    assert!(!d.path("x").exists());
}

fn json_line(o: &std::process::Output, event: &str) -> Value {
    let line = stdout(o)
        .lines()
        .find(|l| l.contains(&format!("\"event\":\"{event}\"")))
        .unwrap_or_else(|| panic!("no {event} event in:\n{}", stdout(o)))
        .to_string();
    serde_json::from_str(&line).unwrap()
}

/// `info`, `--dry-run` and `done` give the same download and disk bytes for one install.
fn three_figures_agree(e: &Env, product: &str, game_deps: bool) -> (u64, u64) {
    let d = Scratch::new("agree");
    let dir = d.path("game");
    let o = e.run(&["info", product, "--json"]);
    assert_code(&o, 0);
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["sizes_from"], "plan");
    let o = e.run(&["download", product, "--dir", dir.to_str().unwrap(), "--dry-run", "--json"]);
    assert_code(&o, 0);
    let plan = json_line(&o, "plan");
    let o = e.run(&["download", product, "--dir", dir.to_str().unwrap(), "--json"]);
    assert_code(&o, 0);
    let start = json_line(&o, "start");
    let done = json_line(&o, "done");
    let disk = tree_bytes(&dir);
    let dl = info["download_size"].as_u64().unwrap();
    let inst = info["install_size"].as_u64().unwrap();
    assert_eq!(plan["download_bytes"].as_u64(), Some(dl), "dry run vs info (download)");
    assert_eq!(done["downloaded_bytes"].as_u64(), Some(dl), "done vs info (download)");
    assert_eq!(start["total_bytes"].as_u64(), Some(dl), "start total vs info (download)");
    assert_eq!(plan["final_bytes"].as_u64(), Some(inst), "dry run vs info (disk)");
    assert_eq!(done["total_bytes"].as_u64(), Some(inst), "done vs info (disk)");
    assert_eq!(disk, inst, "bytes really on disk");
    // Per-product totals add up, dependencies included.
    let by: Vec<&Value> = info["by_product"].as_array().unwrap().iter().collect();
    assert_eq!(by.iter().map(|p| p["install_size"].as_u64().unwrap()).sum::<u64>(), inst);
    assert_eq!(by.iter().any(|p| p["key"] == "dependencies"), game_deps, "game-directory dependencies: {by:?}");
    assert!(!info["by_language"].as_array().unwrap().is_empty());
    (dl, inst)
}

fn tree_bytes(dir: &std::path::Path) -> u64 {
    fn walk(d: &std::path::Path) -> u64 {
        let mut n = 0;
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if e.file_name() == ".galaxy-dl" {
                continue;
            }
            if ft.is_dir() {
                n += walk(&e.path());
            } else if ft.is_file() {
                n += e.metadata().unwrap().len();
            }
        }
        n
    }
    walk(dir)
}

#[test]
fn info_dry_run_and_done_agree_v2() {
    let e = Env::new();
    let (dl, inst) = three_figures_agree(&e, QUEST, true);
    assert!(dl > 0 && dl < inst, "V2 chunks are compressed: {dl} vs {inst}");
    let o = e.run(&["info", QUEST, "--json"]);
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    let by = info["by_product"].as_array().unwrap();
    assert!(by.iter().any(|p| p["key"] == "1000000002"), "owned DLC has its own total: {by:?}");
    let langs: Vec<&str> = info["by_language"].as_array().unwrap().iter().map(|l| l["key"].as_str().unwrap()).collect();
    assert!(langs.contains(&"en-US") && langs.contains(&"de-DE"), "{langs:?}");
}

#[test]
fn info_dry_run_and_done_agree_v1() {
    let e = Env::new();
    let (dl, inst) = three_figures_agree(&e, LEGACY, false);
    assert_eq!(dl, inst, "main.bin is not compressed");
}

#[test]
fn info_without_login_says_its_sizes_are_depot_sums() {
    let e = Env::new();
    std::fs::remove_file(e.home.path("auth.json")).unwrap();
    let o = e.run(&["info", QUEST, "--json"]);
    assert_code(&o, 0);
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["sizes_from"], "manifest");
    let o = e.run(&["info", QUEST]);
    assert!(stdout(&o).contains("depot sums; log in for exact figures"), "{}", stdout(&o));
}

#[test]
fn a_mistyped_command_gets_a_suggestion() {
    let o = run(&["donwload", "1", "--dir", "x"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("unknown command 'donwload'; did you mean 'download'?"), "{}", stderr(&o));
    let o = run(&["libary"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("did you mean 'library'?"), "{}", stderr(&o));
    let o = run(&["zzzzzz"]);
    assert_code(&o, 2);
    assert!(!stderr(&o).contains("did you mean"), "{}", stderr(&o));
}

/// `--flags` named in `text`.
fn flags_in(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for (i, _) in text.match_indices("--") {
        let name: String = text[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect::<String>();
        let name = name.trim_end_matches('-');
        if !name.is_empty() && name != "help" && name != "version" {
            out.insert(format!("--{name}"));
        }
    }
    out
}

#[test]
fn readme_command_list_matches_every_help() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("### Commands\n\n```\n").expect("README has a Commands block") + 17;
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    // One entry per command: a `galaxy-dl CMD` line and its indented continuation lines.
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if let Some(rest) = line.strip_prefix("galaxy-dl ") {
            let cmd = rest.split_whitespace().next().unwrap_or("").to_string();
            entries.push((cmd, rest.to_string()));
        } else if let Some(last) = entries.last_mut() {
            last.1.push_str(line);
        }
    }
    let commands: Vec<&str> = entries.iter().map(|(c, _)| c.as_str()).filter(|c| !c.starts_with('-')).collect();
    assert_eq!(commands, ["login", "library", "builds", "info", "download", "verify", "repair", "get"]);
    for (cmd, usage) in entries.iter().filter(|(c, _)| !c.starts_with('-')) {
        let o = run(&[cmd, "--help"]);
        assert_code(&o, 0);
        let help = stdout(&o);
        let options = &help[help.find("Options:").unwrap_or_else(|| panic!("{cmd} --help has Options"))..];
        let options: String =
            options.lines().take_while(|l| !l.is_empty()).filter(|l| l.trim_start().starts_with('-')).collect();
        // `-o FILE` is the short form of `--output`.
        let usage = usage.replace(" -o ", " --output ");
        assert_eq!(flags_in(&usage), flags_in(&options), "README vs `galaxy-dl {cmd} --help`");
        let main = stdout(&run(&["--help"]));
        assert!(main.lines().any(|l| l.trim_start().starts_with(cmd.as_str())), "{cmd} missing from --help:\n{main}");
    }
}
