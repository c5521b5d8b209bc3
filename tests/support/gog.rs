//! A logged-in GOG mock for the install tests, and helpers to compare install trees with the
//! mock's fixtures.

use std::collections::BTreeMap;
use std::path::Path;

use galaxy_dl_mock::gog::fixtures::{EntryKind, ExpectedBuild};
use galaxy_dl_mock::gog::{GogMock, MockConfig};

use super::{md5_file, run_env, Scratch};

/// A mock with a logged-in config directory.
pub struct Env {
    pub mock: GogMock,
    pub home: Scratch,
}

impl Env {
    pub fn new() -> Env {
        Env::with(MockConfig::small())
    }

    pub fn with(cfg: MockConfig) -> Env {
        let e = Env { mock: GogMock::start(cfg), home: Scratch::new("home") };
        let o = e.run(&["login", "--code", GogMock::LOGIN_CODE]);
        assert_eq!(o.status.code(), Some(0), "login failed: {}", String::from_utf8_lossy(&o.stderr));
        e
    }

    /// The environment the binary runs with: the mock's endpoints and the config directory.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v = self.mock.env();
        v.push(("GALAXY_DL_CONFIG_DIR".into(), self.home.0.display().to_string()));
        v
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_env(args, &env)
    }

    /// The newest public build of `product` for `os` and `generation`.
    pub fn build(&self, product: u64, os: &str, generation: u8) -> &ExpectedBuild {
        self.mock
            .fixtures()
            .builds
            .iter()
            .filter(|b| b.product_id == product && b.os == os && b.branch.is_none() && b.generation == generation)
            .max_by_key(|b| b.build_id.clone())
            .expect("fixture build")
    }

    /// compressedMd5s of the chunks fetched from the store since the last stats reset.
    pub fn fetched_chunks(&self) -> Vec<String> {
        self.mock
            .stats()
            .log()
            .into_iter()
            .filter(|l| l.path.contains("/store/") && l.method == "GET")
            .filter_map(|l| l.path.rsplit('/').next().map(str::to_string))
            .collect()
    }

    /// Files of the build's dependencies that install into the game directory (and the
    /// shared `__redist` ones when `redist`), with their MD5s.
    pub fn dependency_files(&self, ids: &[String], redist: bool) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for id in ids {
            let d = self.mock.fixtures().dependency(id).expect("fixture dependency");
            if d.executable_path.starts_with("__redist") && !redist {
                continue;
            }
            m.extend(d.entries.iter().filter(|x| x.kind == EntryKind::File).map(|x| (x.path.clone(), x.md5.clone())));
        }
        m
    }

    /// What a correct install of `build` for the selection holds: files and MD5s, with the
    /// game-directory dependencies.
    pub fn expected_files(
        &self,
        build: &ExpectedBuild,
        lang: &str,
        bitness: &str,
        products: &[u64],
    ) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> =
            build.select_files(lang, bitness, products).into_iter().map(|x| (x.path.clone(), x.md5.clone())).collect();
        m.extend(self.dependency_files(&build.dependencies, false));
        m
    }
}

/// Every regular file under `dir` (except galaxy-dl's state) with its MD5.
pub fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
            if rel == ".galaxy-dl" {
                continue;
            }
            let ft = std::fs::symlink_metadata(&p).unwrap().file_type();
            if ft.is_dir() {
                walk(base, &p, out);
            } else if ft.is_file() {
                out.insert(rel, md5_file(&p));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}
