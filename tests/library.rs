//! `galaxy-dl library` end to end: the real binary against the in-tree GOG mock serving the
//! pages of `fixtures/library/` (0, 1 or 3 pages, a malformed page, an expired token).

mod support;

use galaxy_dl_mock::gog::MockConfig;
use serde_json::Value;
use support::gog::Env;
use support::*;

const LIB: &str = "/account/getFilteredProducts";

fn env_with_pages(pages: usize) -> Env {
    Env::with(MockConfig { library_pages: pages, ..MockConfig::small() })
}

fn json(e: &Env, args: &[&str]) -> Value {
    let o = e.run(args);
    assert_code(&o, 0);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|err| panic!("not one JSON document ({err}):\n{}", stdout(&o)))
}

fn titles(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|g| g["title"].as_str().unwrap().to_string()).collect()
}

/// Terminal columns of `s` for the characters the fixtures use (CJK wide, the rest narrow).
fn width(s: &str) -> usize {
    s.chars().map(|c| if ('\u{3000}'..='\u{9fff}').contains(&c) { 2 } else { 1 }).sum()
}

/// Terminal column where each cell of a table line starts (cells are separated by 2+ spaces).
fn cell_starts(line: &str) -> Vec<usize> {
    let (mut starts, mut col, mut spaces) = (vec![0], 0, 0);
    for c in line.chars() {
        if c == ' ' {
            spaces += 1;
        } else {
            if spaces >= 2 {
                starts.push(col);
            }
            spaces = 0;
        }
        col += width(&c.to_string());
    }
    starts
}

#[test]
fn three_pages_make_one_table_sorted_by_title() {
    let e = env_with_pages(3);
    let o = e.run(&["library"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1 + 8, "header + every game of the 3 pages:\n{out}");
    assert!(lines[0].starts_with("ID") && lines[0].contains("TITLE") && lines[0].contains("UPDATE"), "{out}");
    assert_eq!(e.mock.stats().path_count(LIB), 3, "one request per page");
    let order: Vec<&str> = lines[1..].iter().map(|l| l.split("  ").nth(1).unwrap_or("").trim()).collect();
    assert_eq!(
        order,
        vec![
            "Arctic Penguin Rescue",
            "Fixture Legacy",
            "Fixture Quest",
            "Mécanique Céleste",
            "Quest for the Lost Byte",
            "Über Café Tycoon",
            "Żółw: Ścieżka Ninja",
            "東方の剣 (Sword of the East)",
        ],
        "{out}"
    );
    // The PLATFORMS column starts at the same terminal column on every line, wide CJK title
    // included.
    let col = cell_starts(lines[0])[2];
    for l in &lines[1..] {
        assert_eq!(cell_starts(l)[2], col, "misaligned line {l:?} in\n{out}");
    }
    let quest = lines.iter().find(|l| l.contains("Fixture Quest")).unwrap();
    assert!(
        quest.starts_with("1000000001") && quest.contains("win,mac") && quest.trim_end().ends_with("yes"),
        "{quest}"
    );
}

#[test]
fn json_is_one_array_with_the_documented_fields() {
    let e = env_with_pages(3);
    let v = json(&e, &["library", "--json"]);
    let games = v.as_array().unwrap();
    assert_eq!(games.len(), 8);
    for g in games {
        let o = g.as_object().unwrap();
        let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, vec!["dlc_count", "id", "is_new", "platforms", "title", "update"], "{g}");
        assert!(g["id"].as_str().unwrap().bytes().all(|b| b.is_ascii_digit()), "{g}");
        assert!(g["dlc_count"].is_u64() && g["update"].is_boolean() && g["is_new"].is_boolean(), "{g}");
        for p in g["platforms"].as_array().unwrap() {
            assert!(["windows", "osx", "linux"].contains(&p.as_str().unwrap()), "{g}");
        }
    }
    let quest = games.iter().find(|g| g["id"] == "1000000001").unwrap();
    assert_eq!(quest["title"], "Fixture Quest");
    assert_eq!(quest["platforms"], serde_json::json!(["windows", "osx"]));
    assert_eq!((quest["dlc_count"].as_u64(), quest["update"].as_bool()), (Some(1), Some(true)));
    let cjk = games.iter().find(|g| g["id"] == "1000000012").unwrap();
    assert_eq!(cjk["title"], "東方の剣 (Sword of the East)", "UTF-8 title kept exactly");
    let updated: Vec<&str> = games.iter().filter(|g| g["update"] == true).map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(updated, vec!["1000000001", "1000000016"]);
}

#[test]
fn zero_and_one_page() {
    let e = env_with_pages(0);
    let o = e.run(&["library"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("library is empty"), "{}", stderr(&o));
    assert_eq!(json(&e, &["library", "--json"]), serde_json::json!([]));
    assert_eq!(e.mock.stats().path_count(LIB), 2, "one page asked per run");

    let e = env_with_pages(1);
    let v = json(&e, &["library", "--json"]);
    assert_eq!(titles(&v), vec!["Fixture Legacy", "Fixture Quest", "Über Café Tycoon"]);
    assert_eq!(e.mock.stats().path_count(LIB), 1);
}

#[test]
fn search_and_os_filter() {
    let e = env_with_pages(3);
    let v = json(&e, &["library", "--search", "QUEST", "--json"]);
    assert_eq!(titles(&v), vec!["Fixture Quest", "Quest for the Lost Byte"], "GOG's search, all pages");
    let v = json(&e, &["library", "--search", "café", "--json"]);
    assert_eq!(titles(&v), vec!["Über Café Tycoon"], "non-ASCII search text is encoded and matched");
    let v = json(&e, &["library", "--os", "linux", "--json"]);
    assert_eq!(
        titles(&v),
        vec!["Arctic Penguin Rescue", "Mécanique Céleste", "Quest for the Lost Byte", "Über Café Tycoon"]
    );
    let v = json(&e, &["library", "--os", "osx", "--search", "quest", "--json"]);
    assert_eq!(titles(&v), vec!["Fixture Quest"]);
    let o = e.run(&["library", "--search", "no such game"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("no owned game matches"), "{}", stderr(&o));
    let o = e.run(&["library", "--os", "amiga"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("invalid --os \"amiga\": expected windows, osx or linux"), "{}", stderr(&o));
}

#[test]
fn an_expired_access_token_is_refreshed() {
    let e = env_with_pages(3);
    let before: Value = serde_json::from_slice(&std::fs::read(e.home.path("auth.json")).unwrap()).unwrap();
    e.mock.faults(|f| f.expire_access_tokens_now = true);
    let tokens_before = e.mock.stats().path_count("/token");
    let v = json(&e, &["library", "--json"]);
    assert_eq!(v.as_array().unwrap().len(), 8);
    assert_eq!(e.mock.stats().path_count("/token"), tokens_before + 1, "refreshed once");
    let after: Value = serde_json::from_slice(&std::fs::read(e.home.path("auth.json")).unwrap()).unwrap();
    assert_ne!(before["refresh_token"], after["refresh_token"], "rotated refresh token stored");
}

#[test]
fn a_malformed_page_is_a_clear_error() {
    let e = Env::with(MockConfig { library_malformed_page: Some(2), ..MockConfig::small() });
    let o = e.run(&["library"]);
    assert_code(&o, 1);
    assert_clean_error(&o, "library page 2");
    assert_eq!(stdout(&o), "", "no partial table");
    let o = e.run(&["library", "--json"]);
    assert_code(&o, 1);
    let last = stdout(&o).lines().last().unwrap_or("").to_string();
    let ev: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(ev["event"], "error");
}

#[test]
fn not_logged_in() {
    let e = env_with_pages(3);
    std::fs::remove_file(e.home.path("auth.json")).unwrap();
    let o = e.run(&["library"]);
    assert_code(&o, 1);
    assert_clean_error(&o, "not logged in");
    assert_eq!(e.mock.stats().path_count(LIB), 0);
}
