//! `galaxy-dl login`, `builds` and `info` end to end: the real binary against the GOG mock,
//! each test with its own mock and a scratch config directory.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use galaxy_dl_mock::gog::fixtures::{
    BETA_PASSWORD, DLC_OWNED, DLC_UNOWNED, LEGACY, LEGACY_BUILD, QUEST, QUEST_BUILD_BETA, QUEST_BUILD_NEW,
    QUEST_BUILD_OLD,
};
use galaxy_dl_mock::gog::{GogMock, MockConfig};
use serde_json::Value;
use support::*;

struct Env {
    mock: GogMock,
    cfg: Scratch,
}

impl Env {
    fn new(name: &str) -> Env {
        Env::with(name, MockConfig::small())
    }

    fn with(name: &str, cfg: MockConfig) -> Env {
        Env { mock: GogMock::start(cfg), cfg: Scratch::new(name) }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut env: Vec<(String, String)> = self.mock.env();
        env.push(("GALAXY_DL_CONFIG_DIR".into(), self.cfg.0.to_string_lossy().into_owned()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_env(args, &env)
    }

    fn auth_file(&self) -> std::path::PathBuf {
        self.cfg.path("auth.json")
    }

    fn tokens(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.auth_file()).unwrap()).unwrap()
    }

    fn login(&self) {
        let o = self.run(&["login", "--code", GogMock::LOGIN_CODE]);
        assert_code(&o, 0);
    }

    fn json(&self, args: &[&str]) -> Value {
        let o = self.run(args);
        assert_code(&o, 0);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", stdout(&o)))
    }
}

/// Neither stream of `o` contains a token of `auth.json` or the login code.
fn assert_no_secrets(e: &Env, o: &Output) {
    let all = format!("{}{}", stdout(o), stderr(o));
    assert!(!all.contains(GogMock::LOGIN_CODE), "login code echoed:\n{all}");
    if e.auth_file().exists() {
        let t = e.tokens();
        for k in ["access_token", "refresh_token"] {
            let v = t[k].as_str().unwrap();
            assert!(!all.contains(v), "{k} printed:\n{all}");
        }
    }
}

// ---- login ----

#[test]
fn login_without_code_prints_the_browser_url() {
    let e = Env::new("login-url");
    let o = e.run(&["login"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.trim().starts_with(&format!("{}/auth?client_id=46899977096215655", e.mock.url())), "{out}");
    assert!(out.contains("response_type=code"), "{out}");
    assert!(stderr(&o).contains("galaxy-dl login --code '<the whole redirect URL or the code>'"), "{}", stderr(&o));
    assert!(!e.auth_file().exists());
}

#[test]
fn login_with_bare_code_stores_0600_tokens() {
    let e = Env::new("login-bare");
    let o = e.run(&["login", "--code", GogMock::LOGIN_CODE]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), format!("logged in as user {}", GogMock::USER_ID));
    let mode = std::fs::metadata(e.auth_file()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let t = e.tokens();
    assert!(t["access_token"].as_str().unwrap().starts_with("mock-at-"));
    assert_eq!(t["user_id"], GogMock::USER_ID);
    assert_no_secrets(&e, &o);
}

#[test]
fn login_with_the_whole_redirect_url() {
    let e = Env::new("login-url-code");
    let url = format!("https://embed.gog.com/on_login_success?origin=client&code={}", GogMock::LOGIN_CODE);
    let o = e.run(&["login", "--code", &url]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("logged in as user"), "{}", stdout(&o));
    assert!(e.auth_file().exists());
    assert_no_secrets(&e, &o);
}

#[test]
fn refused_code_fails_without_echoing_it() {
    let e = Env::new("login-bad");
    let o = e.run(&["login", "--code", "not-the-code-SECRET42"]);
    assert_code(&o, 1);
    assert_clean_error(&o, "login code was refused");
    assert!(!format!("{}{}", stdout(&o), stderr(&o)).contains("SECRET42"));
    assert!(!e.auth_file().exists());
}

#[test]
fn login_bad_usage() {
    let e = Env::new("login-usage");
    for args in [
        &["login", "--code", ""][..],
        &["login", "--code"],
        &["login", "--code", "https://embed.gog.com/on_login_success?origin=client"],
        &["login", "--code", "two words SECRET42"],
        &["login", "stray"],
        &["login", "--bogus"],
    ] {
        let o = e.run(args);
        assert_code(&o, 2);
        assert!(!stderr(&o).contains("SECRET42"), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
    assert!(!e.auth_file().exists());
}

// ---- builds ----

fn build_ids(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|b| b["build_id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn builds_table_and_private_branch() {
    let e = Env::new("builds-table");
    let o = e.run(&["builds", &QUEST.to_string()]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("BUILD") && lines[0].contains("BRANCH") && lines[0].contains("PUBLIC"), "{out}");
    assert!(lines[1].starts_with(QUEST_BUILD_NEW) && lines[1].contains("1.1.0"), "{out}");
    assert!(lines[1].contains("2025-02-01T12:00:00+0000") && lines[1].ends_with("yes"), "{out}");
    assert!(lines[2].starts_with(QUEST_BUILD_OLD), "{out}");
    assert!(!out.contains(QUEST_BUILD_BETA));

    let o = e.run(&["builds", &QUEST.to_string(), "--password", "wrong"]);
    assert_code(&o, 0);
    assert!(!stdout(&o).contains(QUEST_BUILD_BETA));

    let o = e.run(&["builds", &QUEST.to_string(), "--password", BETA_PASSWORD]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let beta = out.lines().find(|l| l.starts_with(QUEST_BUILD_BETA)).unwrap_or_else(|| panic!("{out}"));
    assert!(beta.contains(" beta ") && beta.ends_with("no"), "{beta}");
    assert!(!format!("{out}{}", stderr(&o)).contains(BETA_PASSWORD), "password printed");
}

#[test]
fn builds_json() {
    let e = Env::new("builds-json");
    let q = QUEST.to_string();
    let v = e.json(&["builds", &q, "--json"]);
    assert_eq!(build_ids(&v), [QUEST_BUILD_NEW, QUEST_BUILD_OLD]);
    let b = &v[0];
    assert_eq!(b["generation"], 2);
    assert_eq!(b["product_id"], q.as_str());
    assert_eq!(b["os"], "windows");
    assert_eq!(b["branch"], Value::Null);
    assert_eq!(b["version_name"], "1.1.0");
    assert_eq!(b["public"], true);
    assert!(b["link"].as_str().unwrap().contains("/content-system/v2/meta/"));

    let v = e.json(&["builds", &q, "--json", "--password", BETA_PASSWORD, "--generation", "2"]);
    assert_eq!(build_ids(&v)[0], QUEST_BUILD_BETA);
    assert_eq!(v[0]["branch"], "beta");
    assert_eq!(v[0]["public"], false);

    assert_eq!(e.json(&["builds", &q, "--generation", "1", "--json"]), serde_json::json!([]));
    let v = e.json(&["builds", &q, "--os", "osx", "--json"]);
    assert_eq!(v.as_array().unwrap().len(), 1);

    let v = e.json(&["builds", &LEGACY.to_string(), "--json"]);
    assert_eq!(build_ids(&v), [LEGACY_BUILD]);
    assert_eq!(v[0]["generation"], 1);
    assert!(v[0]["legacy_build_id"].is_string());
}

#[test]
fn builds_of_an_unknown_product_fail() {
    let e = Env::new("builds-404");
    let o = e.run(&["builds", "1999999999"]);
    assert_code(&o, 1);
    assert_clean_error(&o, "not found: product 1999999999");
    let o = e.run(&["builds", "1999999999", "--json"]);
    assert_code(&o, 1);
    let ev: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ev["event"], "error");
}

#[test]
fn builds_bad_usage() {
    let e = Env::new("builds-usage");
    for args in [
        &["builds"][..],
        &["builds", "abc"],
        &["builds", "12a"],
        &["builds", "1", "2"],
        &["builds", "1", "--os", "linux"],
        &["builds", "1", "--os"],
        &["builds", "1", "--generation", "3"],
        &["builds", "1", "--generation", "two"],
        &["builds", "1", "--password", ""],
        &["builds", "1", "--frob"],
    ] {
        let o = e.run(args);
        assert_code(&o, 2);
        let err = stderr(&o);
        assert!(err.starts_with("galaxy-dl: ") && !err.contains("panicked"), "{args:?}: {err}");
    }
    assert_eq!(e.mock.stats().requests(), 0, "bad usage must not reach the network");
}

// ---- info ----

/// Expected (download, install) bytes of `build`'s depots for en-US, 64-bit and `products`,
/// computed from the build manifest the mock serves.
fn expected_sizes(e: &Env, build_id: &str, products: &[u64]) -> (u64, u64) {
    let b = e.mock.fixtures().build(QUEST, build_id).unwrap();
    let url = format!("{}{}", e.mock.url(), b.link_path);
    let body = ureq::get(&url).call().unwrap().into_body().read_to_vec().unwrap();
    let m = galaxy_dl::manifest::decode_meta_value(&body, "build").unwrap();
    let (mut dl, mut inst) = (0, 0);
    for d in m["depots"].as_array().unwrap() {
        let pid: u64 = d["productId"].as_str().unwrap().parse().unwrap();
        let langs: Vec<&str> = d["languages"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        let lang_ok = langs.iter().any(|l| *l == "*" || l.eq_ignore_ascii_case("en-US") || *l == "en");
        let bits_ok =
            d.get("osBitness").and_then(Value::as_array).is_none_or(|b| b.iter().any(|x| x == "64" || x == "*"));
        if products.contains(&pid) && lang_ok && bits_ok {
            dl += d["compressedSize"].as_u64().unwrap();
            inst += d["size"].as_u64().unwrap();
        }
    }
    (dl, inst)
}

fn dlc(v: &Value, id: u64) -> &Value {
    v["dlcs"].as_array().unwrap().iter().find(|d| d["product_id"] == id.to_string().as_str()).unwrap()
}

#[test]
fn info_v2_logged_in_shows_ownership_and_selection_sizes() {
    let e = Env::new("info-v2");
    e.login();
    let q = QUEST.to_string();
    let v = e.json(&["info", &q, "--json"]);
    assert_eq!(v["product_id"], q.as_str());
    assert_eq!(v["product_name"], "Fixture Quest");
    assert_eq!(v["owned"], true);
    assert_eq!(v["build_id"], QUEST_BUILD_NEW);
    assert_eq!(v["generation"], 2);
    assert_eq!(v["version_name"], "1.1.0");
    assert_eq!(v["install_directory"], "Fixture Quest");
    assert_eq!(v["dependencies"], serde_json::json!(["MOCKDEP_GAME", "MOCKREDIST"]));
    assert_eq!(dlc(&v, DLC_OWNED)["owned"], true);
    assert_eq!(dlc(&v, DLC_OWNED)["selected"], true);
    assert_eq!(dlc(&v, DLC_OWNED)["name"], "Fixture Quest: Owned DLC");
    assert_eq!(dlc(&v, DLC_UNOWNED)["owned"], false);
    assert_eq!(dlc(&v, DLC_UNOWNED)["selected"], false);
    let (dl, inst) = expected_sizes(&e, QUEST_BUILD_NEW, &[QUEST, DLC_OWNED]);
    assert!(dl > 0 && inst > dl, "{dl} {inst}");
    // Logged in, the sizes are those of the install plan (dependencies included; they agree
    // with --dry-run and the done event: tests/flags.rs); the selected depots add up to the
    // manifest's sizes.
    assert_eq!(v["sizes_from"], "plan");
    assert!(v["install_size"].as_u64().unwrap() > inst, "game-directory dependencies included");
    let depots = v["depots"].as_array().unwrap();
    let sum = |k: &str| depots.iter().filter(|d| d["selected"] == true).map(|d| d[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("compressed_size"), sum("size")), (dl, inst));
    let all_install = v["install_size"].as_u64().unwrap();
    let all_download = v["download_size"].as_u64().unwrap();
    assert!(depots.iter().any(|d| d["product_id"] == DLC_UNOWNED.to_string().as_str() && d["selected"] == false));

    // Without DLC only the base game counts; 32-bit picks another depot.
    let v = e.json(&["info", &q, "--json", "--dlc", "none"]);
    let none: u64 = v["depots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["selected"] == true)
        .map(|d| d["compressed_size"].as_u64().unwrap())
        .sum();
    assert_eq!(none, expected_sizes(&e, QUEST_BUILD_NEW, &[QUEST]).0);
    assert!(v["install_size"].as_u64().unwrap() < all_install);
    assert_eq!(dlc(&v, DLC_OWNED)["selected"], false);
    let v32 = e.json(&["info", &q, "--json", "--dlc", "none", "--bitness", "32"]);
    assert_ne!(v32["install_size"], v["install_size"]);

    // The readable form.
    let o = e.run(&["info", &q]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("Fixture Quest (1000000001)"), "{out}");
    assert!(out.contains(&format!("download size {}", human(all_download))), "{out}");
    assert!(out.contains(&format!("({all_install} bytes)")), "{out}");
    assert!(out.contains("  dependencies "), "per-product lines: {out}");
    let owned_line = out.lines().find(|l| l.starts_with(&DLC_OWNED.to_string()) && l.contains("Owned DLC")).unwrap();
    assert!(owned_line.contains(" yes "), "{owned_line}");
    let unowned_line = out.lines().find(|l| l.starts_with(&DLC_UNOWNED.to_string()) && l.contains("Unowned")).unwrap();
    assert!(unowned_line.contains(" no "), "{unowned_line}");
    assert!(stderr(&o).contains("is not owned by this account"), "{}", stderr(&o));
    assert_no_secrets(&e, &o);
}

fn human(n: u64) -> String {
    galaxy_dl::units::human_bytes(n)
}

#[test]
fn info_without_login_shows_unknown_ownership() {
    let e = Env::new("info-anon");
    let o = e.run(&["info", &QUEST.to_string(), "--json"]);
    assert_code(&o, 0);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["owned"], Value::Null);
    assert_eq!(dlc(&v, DLC_UNOWNED)["owned"], Value::Null);
    assert!(stderr(&o).contains("not logged in"), "{}", stderr(&o));
    let (dl, _) = expected_sizes(&e, QUEST_BUILD_NEW, &[QUEST, DLC_OWNED, DLC_UNOWNED]);
    assert_eq!(v["download_size"].as_u64().unwrap(), dl);
    assert!(!e.auth_file().exists());
}

#[test]
fn info_build_and_branch_choice() {
    let e = Env::new("info-branch");
    let q = QUEST.to_string();
    let v = e.json(&["info", &q, "--build", QUEST_BUILD_OLD, "--json"]);
    assert_eq!(v["build_id"], QUEST_BUILD_OLD);
    assert_eq!(v["version_name"], "1.0.0");

    let o = e.run(&["info", &q, "--branch", "beta"]);
    assert_code(&o, 1);
    assert_clean_error(&o, "not found");
    let v = e.json(&["info", &q, "--branch", "beta", "--password", BETA_PASSWORD, "--json"]);
    assert_eq!(v["build_id"], QUEST_BUILD_BETA);
    assert_eq!(v["branch"], "beta");
    assert_eq!(v["public"], false);

    let o = e.run(&["info", &q, "--build", "12345"]);
    assert_code(&o, 1);
    assert_clean_error(&o, "no build 12345");
    let o = e.run(&["info", "1999999999"]);
    assert_code(&o, 1);
    assert_clean_error(&o, "not found");
}

#[test]
fn info_v1_product() {
    let e = Env::new("info-v1");
    e.login();
    let v = e.json(&["info", &LEGACY.to_string(), "--json"]);
    assert_eq!(v["generation"], 1);
    assert_eq!(v["build_id"], LEGACY_BUILD);
    assert_eq!(v["product_name"], "Fixture Legacy");
    assert_eq!(v["owned"], true);
    let fx = e.mock.fixtures().build(LEGACY, LEGACY_BUILD).unwrap();
    assert_eq!(v["install_directory"], fx.install_directory.as_str());
    // Repository depot sizes: download == install == sum over the selected depots.
    let url = format!("{}{}", e.mock.url(), fx.link_path);
    let repo: Value =
        serde_json::from_slice(&ureq::get(&url).call().unwrap().into_body().read_to_vec().unwrap()).unwrap();
    let want: u64 = repo["product"]["depots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d.get("redist").is_none())
        .filter(|d| d["languages"].as_array().unwrap().iter().any(|l| l == "Neutral" || l == "English"))
        .map(|d| d["size"].as_str().map(|s| s.parse::<u64>().unwrap()).or(d["size"].as_u64()).unwrap())
        .sum();
    assert!(want > 0);
    let depots = v["depots"].as_array().unwrap();
    let sum: u64 = depots.iter().filter(|d| d["selected"] == true).map(|d| d["size"].as_u64().unwrap()).sum();
    assert_eq!(sum, want);
    // The plan's figures: at least the depots (support files come on top), download == install.
    assert!(v["install_size"].as_u64().unwrap() >= want);
    assert_eq!(v["download_size"], v["install_size"]);
    let o = e.run(&["info", &LEGACY.to_string()]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("generation 1"), "{}", stdout(&o));
}

#[test]
fn info_bad_usage() {
    let e = Env::new("info-usage");
    let q = QUEST.to_string();
    for args in [
        &["info"][..],
        &["info", "x"],
        &["info", &q, &q],
        &["info", &q, "--build", "abc"],
        &["info", &q, "--build", "1", "--branch", "beta"],
        &["info", &q, "--branch", ""],
        &["info", &q, "--os", "linux"],
        &["info", &q, "--lang", ""],
        &["info", &q, "--bitness", "16"],
        &["info", &q, "--dlc", "some"],
        &["info", &q, "--dlc", ""],
        &["info", &q, "--password"],
        &["info", &q, "--unknown"],
    ] {
        let o = e.run(args);
        assert_code(&o, 2);
        let err = stderr(&o);
        assert!(err.starts_with("galaxy-dl: ") && !err.contains("panicked"), "{args:?}: {err}");
    }
    assert_eq!(e.mock.stats().requests(), 0, "bad usage must not reach the network");
}

// ---- token lifetime ----

#[test]
fn rejected_access_token_is_refreshed_and_rotated() {
    let e = Env::new("refresh-401");
    e.login();
    let before = e.tokens();
    e.mock.faults(|f| f.expire_access_tokens_now = true);
    let o = e.run(&["info", &QUEST.to_string(), "--json"]);
    assert_code(&o, 0);
    let after = e.tokens();
    assert_ne!(after["refresh_token"], before["refresh_token"], "rotated refresh token stored");
    assert_ne!(after["access_token"], before["access_token"]);
    assert_no_secrets(&e, &o);
    let mode = std::fs::metadata(e.auth_file()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn expired_access_token_is_refreshed_before_use() {
    let e = Env::with("refresh-ttl", MockConfig { token_ttl_secs: 2, ..MockConfig::small() });
    e.login();
    let before = e.tokens();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let v = e.json(&["info", &QUEST.to_string(), "--json"]);
    assert_eq!(v["owned"], true);
    let after = e.tokens();
    assert_ne!(after["refresh_token"], before["refresh_token"]);
    assert!(after["expires_at"].as_u64() > before["expires_at"].as_u64());
}

#[test]
fn expired_refresh_token_asks_for_a_new_login() {
    let e = Env::new("refresh-dead");
    e.login();
    e.mock.faults(|f| {
        f.expire_access_tokens_now = true;
        f.expire_refresh_tokens = true;
    });
    let o = e.run(&["info", &QUEST.to_string()]);
    assert_code(&o, 1);
    assert_clean_error(&o, "login expired");
    assert_no_secrets(&e, &o);
}

// ---- help ----

#[test]
fn help_texts() {
    let e = Env::new("help");
    let o = e.run(&["--help"]);
    assert_code(&o, 0);
    for c in ["login", "builds PRODUCT_ID", "info PRODUCT_ID", "get URL"] {
        assert!(stdout(&o).contains(c), "{c} missing from main help");
    }
    for (cmd, needle) in [
        ("login", "Usage: galaxy-dl login"),
        ("builds", "Usage: galaxy-dl builds PRODUCT_ID"),
        ("info", "Usage: galaxy-dl info PRODUCT_ID"),
    ] {
        let o = e.run(&[cmd, "--help"]);
        assert_code(&o, 0);
        assert!(stdout(&o).contains(needle), "{}", stdout(&o));
    }
}
