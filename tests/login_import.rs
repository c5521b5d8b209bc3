//! `galaxy-dl login --import heroic|lgogdownloader|PATH` end to end: the real binary reads the
//! token files of `fixtures/tokens/` laid out where Heroic (native and Flatpak) and
//! lgogdownloader keep them, refreshes once against the in-tree mock, stores its own 0600
//! `auth.json`, and never writes the other program's file.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use galaxy_dl_mock::gog::{GogMock, MockConfig};
use serde_json::Value;
use support::*;

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tokens").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

struct Env {
    mock: GogMock,
    home: Scratch,
}

impl Env {
    fn new(name: &str) -> Env {
        Env { mock: GogMock::start(MockConfig::small()), home: Scratch::new(name) }
    }

    fn config(&self) -> PathBuf {
        self.home.path("galaxy-dl-config")
    }

    /// Put a fixture file at `rel` under HOME (with an old mtime so a rewrite would show).
    fn place(&self, rel: &str, fixture_name: &str) -> PathBuf {
        let p = self.home.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, fixture(fixture_name)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let f = std::fs::File::options().append(true).open(&p).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000)).unwrap();
        p
    }

    fn run(&self, args: &[&str], xdg: bool) -> Output {
        let mut env: Vec<(String, String)> = self.mock.env();
        env.push(("GALAXY_DL_CONFIG_DIR".into(), self.config().display().to_string()));
        env.push(("HOME".into(), self.home.0.display().to_string()));
        let xdg_dir = if xdg { self.home.path("xdg").display().to_string() } else { String::new() };
        env.push(("XDG_CONFIG_HOME".into(), xdg_dir));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_env(args, &env)
    }

    fn stored(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.config().join("auth.json")).unwrap()).unwrap()
    }

    fn refreshes(&self) -> u64 {
        self.mock.stats().path_count("/token")
    }
}

/// Bytes and mtime of a file, to prove it was not written.
fn snapshot(p: &Path) -> (Vec<u8>, std::time::SystemTime) {
    (std::fs::read(p).unwrap(), std::fs::metadata(p).unwrap().modified().unwrap())
}

fn assert_imported(e: &Env, o: &Output, source: &Path, from: &str) {
    assert_code(o, 0);
    assert!(
        stdout(o).contains(&format!("logged in as user {} (imported from {from})", GogMock::USER_ID)),
        "{}",
        stdout(o)
    );
    assert!(stderr(o).contains(&source.display().to_string()), "{}", stderr(o));
    assert_eq!(e.refreshes(), 1, "refreshed exactly once");
    let t = e.stored();
    let rt = t["refresh_token"].as_str().unwrap();
    assert!(rt.starts_with("mock-rt-"), "our own rotated refresh token stored: {t}");
    assert_eq!(t["user_id"], GogMock::USER_ID);
    let mode = std::fs::metadata(e.config().join("auth.json")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let all = format!("{}{}", stdout(o), stderr(o));
    for secret in [GogMock::IMPORT_REFRESH_TOKEN, rt, t["access_token"].as_str().unwrap()] {
        assert!(!all.contains(secret), "token printed:\n{all}");
    }
    // The imported login works for a bearer call.
    let l = e.run(&["library", "--json"], true);
    assert_code(&l, 0);
}

#[test]
fn heroic_native_file_is_imported_and_left_untouched() {
    let e = Env::new("import-heroic");
    let src = e.place("xdg/heroic/gog_store/auth.json", "heroic-auth.json");
    let before = snapshot(&src);
    let o = e.run(&["login", "--import", "heroic"], true);
    assert_imported(&e, &o, &src, "heroic");
    assert_eq!(snapshot(&src), before, "Heroic's file: same bytes, same mtime");
    assert_eq!(std::fs::read_dir(src.parent().unwrap()).unwrap().count(), 1, "nothing created beside it");
}

#[test]
fn heroic_flatpak_file_is_found_without_xdg() {
    let e = Env::new("import-flatpak");
    let src = e.place(".var/app/com.heroicgameslauncher.hgl/config/heroic/gog_store/auth.json", "heroic-auth.json");
    let before = snapshot(&src);
    let o = e.run(&["login", "--import", "heroic"], false);
    assert_imported(&e, &o, &src, "heroic");
    assert_eq!(snapshot(&src), before);
}

#[test]
fn lgogdownloader_file_and_a_path_are_imported() {
    let e = Env::new("import-lgog");
    let src = e.place(".config/lgogdownloader/galaxy_tokens.json", "lgogdownloader-galaxy_tokens.json");
    let before = snapshot(&src);
    let o = e.run(&["login", "--import", "lgogdownloader"], false);
    assert_imported(&e, &o, &src, "lgogdownloader");
    assert_eq!(snapshot(&src), before);

    let e = Env::new("import-path");
    let src = e.place("somewhere/tokens.json", "heroic-auth.json");
    let o = e.run(&["login", "--import", &src.display().to_string()], true);
    assert_imported(&e, &o, &src, "heroic");
}

#[test]
fn missing_files_are_clear_errors() {
    let e = Env::new("import-missing");
    let o = e.run(&["login", "--import", "heroic"], true);
    assert_code(&o, 1);
    assert_clean_error(&o, "no Heroic login found");
    assert!(stderr(&o).contains("heroic/gog_store/auth.json"), "names where it looked: {}", stderr(&o));
    let o = e.run(&["login", "--import", "lgogdownloader"], false);
    assert_code(&o, 1);
    assert_clean_error(&o, "no lgogdownloader login found");
    let o = e.run(&["login", "--import", "/nonexistent/tokens.json"], false);
    assert_code(&o, 1);
    assert_clean_error(&o, "/nonexistent/tokens.json: no such file");
    assert_eq!(e.refreshes(), 0);
    assert!(!e.config().join("auth.json").exists());
}

#[test]
fn malformed_files_are_clear_errors() {
    let e = Env::new("import-malformed");
    let cases: [(&str, &[u8], &str); 4] = [
        ("garbage.json", b"{\"46899977096215655\": {\"access_token\": \"SECRETX", "not JSON"),
        ("array.json", b"[]", "not a JSON object"),
        ("other.json", &fixture("heroic-other-client-only.json"), "no login of the GOG Galaxy client"),
        ("empty.json", b"", "not JSON"),
    ];
    for (name, body, needle) in cases {
        let p = e.home.path(name);
        std::fs::write(&p, body).unwrap();
        let o = e.run(&["login", "--import", &p.display().to_string()], false);
        assert_code(&o, 1);
        assert_clean_error(&o, needle);
        assert!(!stderr(&o).contains("SECRETX") && !stderr(&o).contains("fixture-game-client"), "{}", stderr(&o));
    }
    let o = e.run(&["login", "--import", &e.home.0.display().to_string()], false);
    assert_code(&o, 1);
    assert_clean_error(&o, "not a regular file");
    assert_eq!(e.refreshes(), 0);
    assert!(!e.config().join("auth.json").exists());
}

#[test]
fn refused_refresh_tokens_are_clear_errors() {
    // A revoked login (the server does not know the refresh token) ...
    let e = Env::new("import-revoked");
    let src = e.place("xdg/heroic/gog_store/auth.json", "heroic-revoked.json");
    let before = snapshot(&src);
    let o = e.run(&["login", "--import", "heroic"], true);
    assert_code(&o, 1);
    assert_clean_error(&o, "GOG refused its refresh token");
    assert!(!stderr(&o).contains("fixture-revoked"), "{}", stderr(&o));
    assert_eq!(snapshot(&src), before);
    assert!(!e.config().join("auth.json").exists(), "nothing stored");
    // ... and an expired one (the server refuses every refresh).
    let e = Env::new("import-expired");
    e.place("xdg/heroic/gog_store/auth.json", "heroic-auth.json");
    e.mock.faults(|f| f.expire_refresh_tokens = true);
    let o = e.run(&["login", "--import", "heroic"], true);
    assert_code(&o, 1);
    assert_clean_error(&o, "expired, revoked, or already used");
    assert!(!e.config().join("auth.json").exists());
}

#[test]
fn import_and_code_are_exclusive() {
    let e = Env::new("import-usage");
    let o = e.run(&["login", "--import", "heroic", "--code", "X"], true);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--code and --import cannot be used together"), "{}", stderr(&o));
}
