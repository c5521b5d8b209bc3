//! The GOG mock: auth, content-system, CDN and embed routes on one loopback origin, serving the
//! fixture products of [`fixtures`], with per-route-class fault injection ([`GogFaults`]).
//! See `docs/gog-protocol.md` section 16 for the behaviour it reproduces.

mod files;
pub mod fixtures;
pub mod game;
pub mod hostile;
pub mod patches;
mod routes;

pub use fixtures::{lang_matches, EntryKind, ExpectedBuild, ExpectedDependency, ExpectedEntry, Fixtures};
pub use patches::PatchMode;

use crate::server::{Server, Stats};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Configuration of a [`GogMock`].
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Nominal inflated chunk size of V2 fixtures (default 10 MiB; tests use e.g. 256 KiB).
    pub chunk_size: usize,
    /// `expires_in` of access tokens, in seconds (default 3600).
    pub token_ttl_secs: u64,
    /// Secure links expire `link_ttl_secs` after issue (default 3600).
    pub link_ttl_secs: u64,
    /// Size of Fixture Legacy's `main.bin` (default 64 MiB).
    pub v1_blob_size: u64,
    /// Total size of the "Bench V2" product (1000000004); `None` = product absent.
    pub bench_v2_size: Option<u64>,
    /// Number of files "Bench V2" is split into (default 4; the scale run uses 20,000).
    pub bench_v2_files: usize,
    /// Size of the "Bench V1" product's `main.bin` (1000000005); `None` = product absent.
    pub bench_v1_size: Option<u64>,
    /// How many pages of `fixtures/library/` `account/getFilteredProducts` serves: 0 (an
    /// empty library), 1, 2 or 3 (default 3).
    pub library_pages: usize,
    /// This library page (1-based) answers 200 with a body that is not the page's JSON.
    pub library_malformed_page: Option<usize>,
    /// Inflated size of the game-like "Bench Game" V2 product ([`game::GAME_V2`]); `None` = absent.
    pub game_v2_size: Option<u64>,
    /// Size of its V1 twin ([`game::GAME_V1`]; `main.bin` slightly larger); `None` = absent.
    pub game_v1_size: Option<u64>,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            chunk_size: 10 << 20,
            token_ttl_secs: 3600,
            link_ttl_secs: 3600,
            v1_blob_size: 64 << 20,
            bench_v2_size: None,
            bench_v2_files: 4,
            bench_v1_size: None,
            library_pages: 3,
            library_malformed_page: None,
            game_v2_size: None,
            game_v1_size: None,
        }
    }
}

impl MockConfig {
    /// Defaults with a small chunk size (256 KiB) and a 4 MiB V1 blob: fast for tests.
    pub fn small() -> MockConfig {
        MockConfig { chunk_size: 256 << 10, v1_blob_size: 4 << 20, ..MockConfig::default() }
    }
}

/// Counter-driven faults of one route class. Each `*_next` counter applies to the next N
/// successful GETs of the class (HEAD requests never consume counters).
#[derive(Debug, Clone)]
pub struct RouteFaults {
    /// The next N requests answer `fail_status` (default 503).
    pub fail_next: u32,
    /// Status used by `fail_next`.
    pub fail_status: u16,
    /// The next N bodies are cut after `reset_after` bytes (connection shut down).
    pub reset_next: u32,
    /// Bytes sent before a reset.
    pub reset_after: u64,
    /// The next N bodies announce the full length but stop after `truncate_to` bytes.
    pub truncate_next: u32,
    /// Bytes sent before truncation.
    pub truncate_to: u64,
    /// The next N bodies get their middle byte flipped.
    pub corrupt_next: u32,
    /// The next N bodies trickle at `trickle_rate` bytes/s.
    pub trickle_next: u32,
    /// Rate for `trickle_next` (default 100 B/s).
    pub trickle_rate: u64,
    /// The next N bodies send half their bytes, then fall silent for `silent_ms` and close.
    pub silent_next: u32,
    /// How long `silent_next` bodies stay silent (default 60 s).
    pub silent_ms: u64,
    /// Periodic faults, by the 1-based number of the GET in this class: every Nth body is cut
    /// after `reset_after` bytes (0 = off).
    pub every_reset: u32,
    /// Every Nth body gets its middle byte flipped (0 = off).
    pub every_corrupt: u32,
    /// Every Nth body announces the full length but stops at half (0 = off).
    pub every_truncate: u32,
    /// This percentage of GETs answer `fail_status` (deterministic for a given `seed`).
    pub fail_percent: u32,
    /// Seed of `fail_percent`.
    pub seed: u64,
    /// `Retry-After` value sent with `fail_next` and `fail_percent` failures.
    pub retry_after: Option<String>,
    /// Every Nth ranged GET is answered 200 with the whole object (0 = off).
    pub ignore_range_every: u32,
    /// Every Nth ranged GET is answered 206 with a `Content-Range` shifted by +1 (0 = off;
    /// `main.bin` and V2 chunk routes).
    pub wrong_content_range_every: u32,
    /// The next N `200` bodies are cut to their first half and sent complete, with a matching
    /// `Content-Length`: a truncated document that arrives "successfully" (for metadata).
    pub garble_next: u32,
    /// Every Nth `200` body is cut to its first half the same way (0 = off).
    pub every_garble: u32,
    /// The next N requests get no answer at all: held for `hold_ms`, then closed.
    pub hold_next: u32,
    /// How long `hold_next` requests are held (default 60 s).
    pub hold_ms: u64,
    /// GETs of this class seen so far (drives the periodic faults).
    pub seen: u64,
}

impl RouteFaults {
    /// Whether the current GET (number `seen`) is an `every`th one.
    pub fn nth(&self, every: u32) -> bool {
        every > 0 && self.seen > 0 && self.seen.is_multiple_of(u64::from(every))
    }
}

impl Default for RouteFaults {
    fn default() -> Self {
        RouteFaults {
            fail_next: 0,
            fail_status: 503,
            reset_next: 0,
            reset_after: 0,
            truncate_next: 0,
            truncate_to: 0,
            corrupt_next: 0,
            trickle_next: 0,
            trickle_rate: 100,
            silent_next: 0,
            silent_ms: 60_000,
            every_reset: 0,
            every_corrupt: 0,
            every_truncate: 0,
            fail_percent: 0,
            seed: 0,
            retry_after: None,
            ignore_range_every: 0,
            wrong_content_range_every: 0,
            garble_next: 0,
            every_garble: 0,
            hold_next: 0,
            hold_ms: 60_000,
            seen: 0,
        }
    }
}

/// All fault switches of the GOG mock; change them with [`GogMock::faults`].
#[derive(Debug, Clone, Default)]
pub struct GogFaults {
    /// V2 product and dependency chunk GETs.
    pub chunk: RouteFaults,
    /// V2 meta (build, depot, dependency manifests) and V1 manifests.
    pub meta: RouteFaults,
    /// `secure_link` and `open_link`.
    pub secure_link: RouteFaults,
    /// V1 `main.bin`.
    pub main_bin: RouteFaults,
    /// The small-files container chunks (applied after `chunk`'s faults).
    pub sfc: RouteFaults,
    /// The `/token` route (login and refresh grants).
    pub token: RouteFaults,
    /// `main.bin` answers 200 with the whole blob to Range requests.
    pub ignore_range_on_main_bin: bool,
    /// V2 store chunks answer 200 with the whole object to Range requests.
    pub ignore_range_on_chunks: bool,
    /// `main.bin` answers 206 with a `Content-Range` start shifted by +1.
    pub wrong_content_range_on_main_bin: bool,
    /// Every ranged V2 chunk GET is answered 206 with a `Content-Range` shifted by +1.
    pub wrong_content_range_on_chunks: bool,
    /// The next N whole-object GETs of product chunks are answered with a forged object: the
    /// inflated bytes with one byte changed, stored (zlib level 0) — a valid zlib stream with a
    /// matching Adler-32 and the right inflated size; only an MD5 of the content tells it from
    /// the real one.
    pub forge_chunk_next: u32,
    /// Only this chunk (`compressedMd5`) is forged by `forge_chunk_next`; `None`: any chunk.
    pub forge_chunk: Option<String>,
    /// Set to true to expire every secure-link token issued so far (consumed immediately by
    /// [`GogMock::faults`]; tokens issued later are valid).
    pub expire_links_now: bool,
    /// Set to true to expire every access token issued so far (consumed immediately).
    pub expire_access_tokens_now: bool,
    /// Every refresh-token grant answers 401 `invalid_grant`.
    pub expire_refresh_tokens: bool,
    /// Endpoint index (0 = first/path-token, 1 = query-signed) whose chunk and `main.bin`
    /// requests answer 404.
    pub failing_endpoint: Option<usize>,
    /// Member chunks of the small-files container answer 404 (only the SFC works).
    pub withhold_sfc_members: bool,
    /// The small-files container chunk answers 404.
    pub withhold_sfc: bool,
    /// Pace each connection serving chunks or `main.bin` at this many bytes/s.
    pub per_conn_rate: Option<u64>,
    /// What the `patches` endpoint offers (default: no patch; see [`PatchMode`]).
    pub patches: PatchMode,
    /// V2 meta objects (build, depot and patch manifests, by hash) that answer 404.
    pub withheld_meta: Vec<String>,
    /// Secure links issued from now on give endpoint `.0` this `base_url` instead of the
    /// mock's (e.g. `http://127.0.0.1:1` for refused connections, a `.invalid` host for DNS
    /// failures).
    pub endpoint_base: Option<(usize, String)>,
}

impl GogFaults {
    /// Make CDN endpoint `i` (in `urls[]` order) answer 404 for chunks and `main.bin`.
    pub fn fail_endpoint(&mut self, i: usize) {
        self.failing_endpoint = Some(i);
    }
}

/// An issued secure-link token.
#[derive(Debug, Clone)]
pub(crate) struct LinkToken {
    /// Path prefix the token covers, without trailing `/`.
    pub path: String,
    /// Unix expiry time.
    pub expires_at: u64,
    /// Force-expired by `expire_links_now`.
    pub revoked: bool,
}

/// Mutable auth state.
#[derive(Default)]
pub(crate) struct AuthState {
    pub access: HashMap<String, Instant>,
    pub refresh: HashMap<String, ()>,
    pub links: HashMap<String, LinkToken>,
    pub counter: u64,
}

/// Generated, immutable content for one size configuration; shared by every mock of the
/// process that uses the same sizes (generation is deterministic).
pub(crate) struct Built {
    pub v2_fixtures: Fixtures,
    pub content: fixtures::Content,
    /// V1 content, available once the background generation finished (see [`Built::v1`]).
    v1: OnceLock<fixtures::V1Content>,
    v1_pending: Mutex<Option<std::thread::JoinHandle<fixtures::V1Content>>>,
}

impl Built {
    /// V1 content; blocks until the background generation is done.
    pub fn v1(&self) -> &fixtures::V1Content {
        self.v1.get_or_init(|| {
            let h = self.v1_pending.lock().unwrap().take();
            h.map(|h| h.join().expect("V1 fixture generation panicked")).unwrap_or_default()
        })
    }
}

/// Sizes that determine the generated content.
type BuildKey = (usize, u64, Option<u64>, usize, Option<u64>, Option<u64>, Option<u64>);

/// Process-wide cache of generated content, so that many mocks in one test binary pay the
/// generation cost once per configuration.
fn built_for(cfg: &MockConfig) -> Arc<Built> {
    static CACHE: OnceLock<Mutex<HashMap<BuildKey, Arc<Built>>>> = OnceLock::new();
    let key = (
        cfg.chunk_size,
        cfg.v1_blob_size,
        cfg.bench_v2_size,
        cfg.bench_v2_files,
        cfg.bench_v1_size,
        cfg.game_v2_size,
        cfg.game_v1_size,
    );
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(key)
        .or_insert_with(|| {
            let (v2_fixtures, content, v1) = fixtures::build_all(cfg);
            Arc::new(Built { v2_fixtures, content, v1: OnceLock::new(), v1_pending: Mutex::new(Some(v1)) })
        })
        .clone()
}

pub(crate) struct State {
    pub cfg: MockConfig,
    pub built: Arc<Built>,
    pub owned: Vec<u64>,
    pub base: OnceLock<String>,
    pub faults: Mutex<GogFaults>,
    pub auth: Mutex<AuthState>,
    /// Content of the hostile product, when a test set it ([`GogMock::serve_hostile`]).
    pub hostile: Mutex<Option<hostile::HostileContent>>,
    /// Patch content per mode, made at the first request that needs it.
    pub patches: Mutex<HashMap<PatchMode, Arc<patches::Patches>>>,
}

impl State {
    /// V1 content; blocks until the background generation is done.
    pub fn v1(&self) -> &fixtures::V1Content {
        self.built.v1()
    }

    pub fn base(&self) -> &str {
        self.base.get().map(String::as_str).unwrap_or("")
    }

    /// The patch content of `mode`.
    pub fn patches(&self, mode: PatchMode) -> Arc<patches::Patches> {
        let mut m = self.patches.lock().unwrap();
        m.entry(mode).or_insert_with(|| Arc::new(patches::build(&self.built, self.cfg.chunk_size, mode))).clone()
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A running GOG mock.
pub struct GogMock {
    server: Server,
    state: Arc<State>,
    /// All fixtures; V1 builds are appended on first access of [`GogMock::fixtures`].
    fixtures: OnceLock<Fixtures>,
    startup: std::time::Duration,
}

impl GogMock {
    /// The one valid authorization code (reusable).
    pub const LOGIN_CODE: &'static str = "fixture-login-code";
    /// `user_id` of the fixture user.
    pub const USER_ID: &'static str = "48620000000000001";
    /// A refresh token every mock accepts once (the one in `fixtures/tokens/`, standing in for
    /// a token another GOG client already holds).
    pub const IMPORT_REFRESH_TOKEN: &'static str = "fixture-imported-refresh-token";

    /// Generate the fixtures and start serving on a free 127.0.0.1 port. Generated content is
    /// cached per process and size configuration (`chunk_size`, `v1_blob_size`, bench sizes),
    /// so later mocks with the same sizes start in about a millisecond; auth state, tokens,
    /// faults and statistics are always per mock.
    pub fn start(cfg: MockConfig) -> GogMock {
        GogMock::start_on_port(cfg, 0)
    }

    /// Like [`GogMock::start`] on a given port (0 = any free port).
    pub fn start_on_port(cfg: MockConfig, port: u16) -> GogMock {
        let t = Instant::now();
        let built = built_for(&cfg);
        let state = Arc::new(State {
            owned: built.v2_fixtures.owned.clone(),
            cfg: cfg.clone(),
            built,
            base: OnceLock::new(),
            faults: Mutex::new(GogFaults::default()),
            auth: Mutex::new(AuthState::default()),
            hostile: Mutex::new(None),
            patches: Mutex::new(HashMap::new()),
        });
        state.auth.lock().unwrap().refresh.insert(GogMock::IMPORT_REFRESH_TOKEN.to_string(), ());
        let st = state.clone();
        let server = Server::start_on(port, Arc::new(move |req: &crate::server::Request| routes::handle(&st, req)));
        let _ = state.base.set(server.url());
        GogMock { server, state, fixtures: OnceLock::new(), startup: t.elapsed() }
    }

    /// Serve product [`hostile::HOSTILE`] (owned) with one build of `os` whose depots are
    /// `depots` (served bodies: plain or zlib JSON, named by their MD5 like GOG's) and whose
    /// store holds `chunks` (stored zlib objects, named by their MD5).
    pub fn serve_hostile(&self, depots: &[Vec<u8>], chunks: &[Vec<u8>], os: &str) {
        *self.state.hostile.lock().unwrap() = Some(hostile::HostileContent::new(depots, chunks, os));
    }

    /// Serve the hostile product as a V1 build instead: `repository` as its `repository.json`
    /// (name timestamp [`hostile::HOSTILE_V1_TS`] in it), depot manifests by file name, and
    /// `main_bin`.
    pub fn serve_hostile_v1(&self, repository: &[u8], manifests: &[(String, Vec<u8>)], main_bin: &[u8]) {
        *self.state.hostile.lock().unwrap() = Some(hostile::HostileContent::v1(repository, manifests, main_bin));
    }

    /// `http://127.0.0.1:PORT` (the one origin for every route).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The environment pointing galaxy-dl at this mock: `GALAXY_DL_AUTH_URL`,
    /// `GALAXY_DL_CONTENT_SYSTEM_URL`, `GALAXY_DL_CDN_URL`, `GALAXY_DL_EMBED_URL`.
    pub fn env(&self) -> Vec<(String, String)> {
        ["GALAXY_DL_AUTH_URL", "GALAXY_DL_CONTENT_SYSTEM_URL", "GALAXY_DL_CDN_URL", "GALAXY_DL_EMBED_URL"]
            .iter()
            .map(|k| (k.to_string(), self.url()))
            .collect()
    }

    /// Description of every served product/build for assertions (the first call waits for
    /// the background V1 generation).
    pub fn fixtures(&self) -> &Fixtures {
        self.fixtures.get_or_init(|| {
            let mut f = self.state.built.v2_fixtures.clone();
            f.builds.extend(self.state.v1().builds.iter().cloned());
            f
        })
    }

    /// Block until the V1 products (generated in the background) are ready.
    pub fn wait_ready(&self) {
        self.state.v1();
    }

    /// Change fault switches. `expire_links_now` / `expire_access_tokens_now` act at once.
    pub fn faults(&self, f: impl FnOnce(&mut GogFaults)) {
        let (links, access) = {
            let mut g = self.state.faults.lock().unwrap();
            f(&mut g);
            let r = (g.expire_links_now, g.expire_access_tokens_now);
            g.expire_links_now = false;
            g.expire_access_tokens_now = false;
            r
        };
        let mut a = self.state.auth.lock().unwrap();
        if links {
            for t in a.links.values_mut() {
                t.revoked = true;
            }
        }
        if access {
            let past = Instant::now();
            for v in a.access.values_mut() {
                *v = past;
            }
        }
    }

    /// Request statistics and log.
    pub fn stats(&self) -> &Stats {
        self.server.stats()
    }

    /// The underlying HTTP server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The configuration in use.
    pub fn config(&self) -> &MockConfig {
        &self.state.cfg
    }

    /// How long fixture generation and server start took (V1 products excluded: they are
    /// generated in the background; see [`GogMock::wait_ready`]).
    pub fn startup_time(&self) -> std::time::Duration {
        self.startup
    }

    /// Issue an access token directly (skips `/token`), for tests of bearer routes.
    pub fn issue_access_token(&self) -> String {
        routes::issue_tokens(&self.state).0
    }

    /// Number of secure-link tokens issued so far.
    pub fn links_issued(&self) -> usize {
        self.state.auth.lock().unwrap().links.len()
    }
}
