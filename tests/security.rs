//! Hostile input end to end (issue 11): tampered install state and `get` journals, planted symbolic links, hostile
//! manifests served by the in-tree mock (traversal, absolute paths, drive letters, NUL, long
//! names, escaping links, zlib bombs, absurd sizes and counts), proxies (HTTP CONNECT and SOCKS5
//! proxies run here on loopback, a dead proxy, an unusable one), `SSL_CERT_FILE`, and secrets in
//! every output. Every case checks a sentinel directory beside DIR: nothing may be written there.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use galaxy_dl_mock::gog::hostile::HOSTILE;
use galaxy_dl_mock::gog::GogMock;
use support::gog::Env;
use support::*;

const GAME: &str = "1000000001";

/// Peak RSS budget of the binary on any hostile input.
const RSS_LIMIT_KIB: u64 = 64 << 10;

/// Run the binary with `env`, returning its output and its peak RSS (KiB): `VmHWM` of
/// `/proc/<pid>/status`, polled every millisecond while it runs. (`wait4`'s `ru_maxrss` would
/// include this test process's own RSS, inherited across the spawn.)
fn run_measured(args: &[&str], env: &[(String, String)]) -> (Output, u64) {
    let mut child = spawn(env, &[], args);
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let out = Output { status, stdout: t1.join().unwrap(), stderr: t2.join().unwrap() };
    (out, peak)
}

/// Everything (recursively) under `d`, as relative paths.
fn listing(d: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            }
        }
    }
    walk(d, d, &mut out);
    out.sort();
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A zlib stream of `prefix`, then `fill` repeated to `n` bytes, then `suffix`.
fn zlib_bomb(prefix: &str, fill: &[u8], n: usize, suffix: &str) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(prefix.as_bytes()).unwrap();
    let block: Vec<u8> = fill.iter().copied().cycle().take((1 << 20) / fill.len() * fill.len()).collect();
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        e.write_all(&block[..k]).unwrap();
        left -= k;
    }
    e.write_all(suffix.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn depot(items: &str) -> Vec<u8> {
    zlib(format!(r#"{{"version":2,"depot":{{"items":[{items}]}}}}"#).as_bytes())
}

fn empty_file(path: &str) -> String {
    format!(r#"{{"type":"DepotFile","path":{},"chunks":[]}}"#, serde_json::to_string(path).unwrap())
}

/// `fixtures/hostile/depot-NAME.json`, zlib-compressed as GOG serves depot manifests.
fn hostile_fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/hostile/depot-{name}.json"));
    zlib(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

/// A scratch with `dir/` (the install) and `outside/` (the sentinel beside it).
struct Site {
    s: Scratch,
}

impl Site {
    fn new(name: &str) -> Site {
        let s = Scratch::new(name);
        std::fs::create_dir_all(s.path("outside")).unwrap();
        std::fs::write(s.path("outside/victim.txt"), b"precious").unwrap();
        Site { s }
    }
    fn dir(&self) -> String {
        self.s.path("dir").display().to_string()
    }
    fn outside(&self) -> std::path::PathBuf {
        self.s.path("outside")
    }
    /// The sentinel is exactly as planted.
    fn assert_untouched(&self, case: &str) {
        assert_eq!(listing(&self.outside()), vec!["victim.txt".to_string()], "{case}: something written outside DIR");
        assert_eq!(std::fs::read(self.outside().join("victim.txt")).unwrap(), b"precious", "{case}: victim changed");
        let m = std::fs::metadata(self.outside().join("victim.txt")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(m.permissions().mode() & 0o111, 0, "{case}: victim made executable");
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile manifests
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_manifests_write_nothing_outside_dir_and_stay_small() {
    let e = Env::new();
    let long_name = "n".repeat(300);
    let long_path = format!("{}/x", "d/".repeat(2100));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("dotdot", hostile_fixture("dotdot"), "`..`"),
        ("dotdot-deep", hostile_fixture("dotdot-deep"), "`..`"),
        ("absolute", hostile_fixture("absolute"), "absolute"),
        ("drive", hostile_fixture("drive"), "drive letter"),
        ("nul", hostile_fixture("nul"), "NUL"),
        ("long-name", depot(&empty_file(&long_name)), "255"),
        ("long-path", depot(&empty_file(&long_path)), "4096"),
        ("state-dir", hostile_fixture("state-dir"), "state directory"),
        ("link-out", hostile_fixture("link-out"), "escapes the install directory"),
        ("absurd-size", hostile_fixture("absurd-size"), "chunk of"),
        ("not-an-item", depot("0,0,0,0"), "item 0"),
        ("path-is-a-list", hostile_fixture("path-is-a-list"), "item 0"),
        ("bomb-zeros", zlib_bomb(r#"{"depot":{"items":["#, b"0,", 300 << 20, "0]}}"), "item 0"),
        ("bomb-spaces", zlib_bomb(r#"{"depot":{"items":["#, b" ", 300 << 20, "]}}"), "larger than"),
        (
            "bomb-items",
            zlib_bomb(r#"{"depot":{"items":["#, br#"{"type":"X"},"#, 1_000_001 * 13, r#"{"type":"X"}]}}"#),
            "more than 1000000 items",
        ),
        ("truncated", depot(&empty_file("ok"))[..20].to_vec(), "truncated"),
    ];
    for (name, body, needle) in cases {
        let site = Site::new(name);
        e.mock.serve_hostile(&[body], &[], "windows");
        let (o, rss) = run_measured(&["download", &HOSTILE.to_string(), "--dir", &site.dir(), "--quiet"], &e.env());
        assert_code(&o, 1);
        assert_clean_error(&o, needle);
        site.assert_untouched(name);
        assert!(rss < RSS_LIMIT_KIB, "{name}: peak RSS {rss} KiB");
        if name.starts_with("bomb") {
            assert!(rss > 0, "{name}: the run was too short to measure: not a bomb?");
        }
        eprintln!("{name}: refused ({}), peak RSS {rss} KiB", stderr(&o).lines().last().unwrap_or(""));
    }
}

#[test]
fn unknown_items_are_skipped_with_a_few_log_lines_and_case_collisions_fold() {
    let e = Env::new();
    let site = Site::new("unknown");
    let mut items: Vec<String> = (0..50_000).map(|i| format!(r#"{{"type":"Weird{}"}}"#, i % 7)).collect();
    items.push(empty_file("Data/a.txt"));
    items.push(empty_file("DATA/A.TXT"));
    items.push(empty_file("data/b.txt"));
    e.mock.serve_hostile(&[depot(&items.join(","))], &[], "windows");
    let (o, rss) = run_measured(&["download", &HOSTILE.to_string(), "--dir", &site.dir(), "--quiet"], &e.env());
    assert_code(&o, 0);
    let err = stderr(&o);
    assert!(err.lines().count() <= 10, "too many log lines: {}", err.lines().count());
    assert!(err.contains("skipped") && err.contains("unknown type"), "{err}");
    let mut files = listing(Path::new(&site.dir()));
    files.retain(|f| !f.starts_with(".galaxy-dl"));
    assert_eq!(files, ["Data", "Data/a.txt", "Data/b.txt"]);
    site.assert_untouched("unknown");
    assert!(rss < RSS_LIMIT_KIB, "peak RSS {rss} KiB");
}

#[test]
fn a_symlink_already_inside_dir_is_never_followed() {
    let e = Env::new();
    let site = Site::new("planted");
    std::fs::create_dir_all(site.dir()).unwrap();
    std::os::unix::fs::symlink(site.outside(), Path::new(&site.dir()).join("sub")).unwrap();
    std::os::unix::fs::symlink(site.outside().join("victim.txt"), Path::new(&site.dir()).join("f.txt")).unwrap();
    for (name, item) in [("parent", empty_file("sub/new.txt")), ("file", empty_file("f.txt"))] {
        e.mock.serve_hostile(&[depot(&item)], &[], "windows");
        let o = e.run(&["download", &HOSTILE.to_string(), "--dir", &site.dir(), "--quiet"]);
        assert_code(&o, 1);
        assert_clean_error(&o, "symbolic link");
        site.assert_untouched(name);
    }
}

#[test]
fn meta_not_matching_its_hash_is_refused() {
    // The hostile product names depots by MD5; a mirror serving other bytes under that name is
    // caught. Checked at the library boundary, where the body and the name meet.
    let body = depot(&empty_file("a"));
    let name = galaxy_dl::verify::md5_hex(&body);
    assert!(galaxy_dl::manifest::check_meta_hash(&body, &name, "u").is_ok());
    let other = depot(&empty_file("b"));
    let e = galaxy_dl::manifest::check_meta_hash(&other, &name, "http://h/meta?sig=S").unwrap_err();
    assert!(matches!(e, galaxy_dl::Error::Checksum { .. }), "{e}");
    assert!(!e.to_string().contains("sig=S"));
}

// ---------------------------------------------------------------------------------------------
// Tampered state
// ---------------------------------------------------------------------------------------------

fn install_quest(e: &Env, dir: &str) {
    assert_code(&e.run(&["download", GAME, "--dir", dir, "--quiet"]), 0);
}

fn edit_json(p: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(p, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn tampered_state_is_refused_by_repair_and_verify_and_rebuilt_by_download() {
    let e = Env::new();
    let site = Site::new("tamper");
    let dir = site.dir();
    install_quest(&e, &dir);
    let plan = Path::new(&dir).join(".galaxy-dl/plan.json");
    let info = Path::new(&dir).join(".galaxy-dl/install.json");
    let pristine_plan = std::fs::read(&plan).unwrap();
    let pristine_info = std::fs::read(&info).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let multi_chunk = |v: &serde_json::Value| {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .position(|f| f["source"]["chunks"].as_array().is_some_and(|c| c.len() > 1))
    };
    let _ = multi_chunk;
    let plan_edits: Vec<(&str, Edit)> = vec![
        ("dotdot", Box::new(|v| v["files"][0]["path"] = "../outside/victim.txt".into())),
        ("absolute", Box::new(|v| v["files"][0]["path"] = "/etc/passwd".into())),
        ("link-out", Box::new(|v| v["links"] = serde_json::json!([{"path": "l", "target": "../outside"}]))),
        ("dir-out", Box::new(|v| v["dirs"] = serde_json::json!(["../outside/newdir"]))),
        (
            "overlapping-chunks",
            Box::new(|v| {
                let files = v["files"].as_array_mut().unwrap();
                let f =
                    files.iter_mut().find(|f| f["source"]["chunks"].as_array().is_some_and(|c| c.len() > 1)).unwrap();
                f["source"]["chunks"][1]["offset"] = 0.into();
            }),
        ),
        (
            "chunk-past-end",
            Box::new(|v| {
                let f = &mut v["files"][0];
                f["size"] = (f["size"].as_u64().unwrap() + 1).into();
            }),
        ),
        (
            "sfc-member-outside",
            Box::new(|v| {
                v["sfcs"] = serde_json::json!([{"product_id": GAME, "chunks": [], "size": 0, "members": [0]}]);
                v["files"][0]["sfc_offset"] = 5.into();
            }),
        ),
        (
            "sfc-member-missing",
            Box::new(|v| {
                v["sfcs"] = serde_json::json!([{"product_id": GAME, "chunks": [], "size": 0, "members": [999999]}])
            }),
        ),
        (
            "duplicate",
            Box::new(|v| {
                let f = v["files"][0].clone();
                v["files"].as_array_mut().unwrap().push(f);
            }),
        ),
        ("not-json", Box::new(|v| *v = serde_json::json!([0, 0, 0]))),
    ];
    for (name, edit) in &plan_edits {
        std::fs::write(&plan, &pristine_plan).unwrap();
        edit_json(&plan, |v| edit(v));
        for cmdname in ["repair", "verify"] {
            let o = e.run(&[cmdname, &dir]);
            assert_code(&o, 1);
            assert_clean_error(&o, "plan.json");
            assert_clean_error(&o, "tampered");
            site.assert_untouched(&format!("{name} {cmdname}"));
        }
    }
    // install.json steering URLs and paths.
    std::fs::write(&plan, &pristine_plan).unwrap();
    for (name, field, value) in
        [("os", "os", "../../x"), ("product", "product_id", "1/../2"), ("gen", "generation", "7")]
    {
        std::fs::write(&info, &pristine_info).unwrap();
        edit_json(&info, |v| {
            v[field] = if field == "generation" { value.parse::<u64>().unwrap().into() } else { value.into() }
        });
        let o = e.run(&["repair", &dir]);
        assert_code(&o, 1);
        assert_clean_error(&o, "install.json");
        site.assert_untouched(name);
    }
    std::fs::write(&info, &pristine_info).unwrap();
    // `download` discards a tampered plan and rebuilds it from the server.
    std::fs::write(&plan, &pristine_plan).unwrap();
    edit_json(&plan, |v| v["files"][0]["path"] = "../outside/victim.txt".into());
    let o = e.run(&["download", GAME, "--dir", &dir, "--quiet"]);
    assert_code(&o, 0);
    site.assert_untouched("download after tamper");
    assert_code(&e.run(&["verify", &dir]), 0);
    let rebuilt: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    assert!(!rebuilt.to_string().contains("../"), "plan rebuilt from the server");
    // A hostile journal (unsafe paths, overlong lines) is not trusted either.
    let j = Path::new(&dir).join(".galaxy-dl/journal");
    let mut text = std::fs::read_to_string(&j).unwrap();
    text.insert_str(0, &format!("f\t8\t0\t0\tx\t../outside/victim.txt\nc\t0\t{}\tzz\n", "0".repeat(10_000)));
    std::fs::write(&j, text).unwrap();
    assert_code(&e.run(&["repair", &dir]), 0);
    site.assert_untouched("journal");
}

#[test]
fn symlinked_state_dir_or_tmp_is_refused() {
    let e = Env::new();
    // `.galaxy-dl` itself a symlink out of DIR.
    let site = Site::new("stlink");
    std::fs::create_dir_all(site.dir()).unwrap();
    std::os::unix::fs::symlink(site.outside(), Path::new(&site.dir()).join(".galaxy-dl")).unwrap();
    let o = e.run(&["download", GAME, "--dir", &site.dir(), "--quiet"]);
    assert_code(&o, 1);
    assert_clean_error(&o, "symbolic link");
    site.assert_untouched("state dir link");
    for c in ["verify", "repair"] {
        let o = e.run(&[c, &site.dir()]);
        assert_code(&o, 1);
        site.assert_untouched(c);
    }
    // `.galaxy-dl/tmp` a symlink out of DIR.
    let site = Site::new("tmplink");
    std::fs::create_dir_all(Path::new(&site.dir()).join(".galaxy-dl")).unwrap();
    std::os::unix::fs::symlink(site.outside(), Path::new(&site.dir()).join(".galaxy-dl/tmp")).unwrap();
    let o = e.run(&["download", GAME, "--dir", &site.dir(), "--quiet"]);
    assert_code(&o, 1);
    assert_clean_error(&o, "symbolic link");
    site.assert_untouched("tmp link");
    // A planted link at a state file name is removed, never written through.
    let site = Site::new("filelink");
    let st = Path::new(&site.dir()).join(".galaxy-dl");
    std::fs::create_dir_all(st.join("tmp")).unwrap();
    for n in ["plan.json", "plan.json.tmp", "install.json.tmp", "journal", "journal.tmp", "lock"] {
        std::os::unix::fs::symlink(site.outside().join("victim.txt"), st.join(n)).unwrap();
    }
    let o = e.run(&["download", GAME, "--dir", &site.dir(), "--quiet"]);
    assert_code(&o, 0);
    site.assert_untouched("state file links");
    assert_code(&e.run(&["verify", &site.dir()]), 0);
}

// ---------------------------------------------------------------------------------------------
// Proxies and trust
// ---------------------------------------------------------------------------------------------

fn pipe(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let (mut a, mut b) = (a, b);
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a2);
    let _ = a2.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
}

/// A loopback HTTP proxy (CONNECT tunnels, and absolute-URI GETs forwarded as they are);
/// counts the connections it served.
fn http_proxy() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            n2.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16384 {
                    if c.read(&mut b).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let first = text.lines().next().unwrap_or("").to_string();
                let mut parts = first.split(' ');
                let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                if method == "CONNECT" {
                    let Ok(up) = TcpStream::connect(target) else {
                        let _ = c.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                        return;
                    };
                    let _ = c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                    pipe(c, up);
                } else if let Some(rest) = target.strip_prefix("http://") {
                    let (host, path) =
                        rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
                    let Ok(mut up) = TcpStream::connect(host) else { return };
                    let rewritten = text.replacen(target, &path, 1);
                    let _ = up.write_all(rewritten.as_bytes());
                    pipe(c, up);
                }
            });
        }
    });
    (format!("http://127.0.0.1:{}", addr.port()), n)
}

/// A loopback SOCKS5 proxy: no authentication, CONNECT only; counts its connections.
fn socks5_proxy() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            n2.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut h = [0u8; 2];
                c.read_exact(&mut h)?;
                let mut methods = vec![0u8; h[1] as usize];
                c.read_exact(&mut methods)?;
                if h[0] != 5 || !methods.contains(&0) {
                    return c.write_all(&[5, 0xff]);
                }
                c.write_all(&[5, 0])?;
                let mut req = [0u8; 4];
                c.read_exact(&mut req)?;
                let host = match req[3] {
                    1 => {
                        let mut a = [0u8; 4];
                        c.read_exact(&mut a)?;
                        std::net::Ipv4Addr::from(a).to_string()
                    }
                    3 => {
                        let mut len = [0u8; 1];
                        c.read_exact(&mut len)?;
                        let mut name = vec![0u8; len[0] as usize];
                        c.read_exact(&mut name)?;
                        String::from_utf8_lossy(&name).into_owned()
                    }
                    _ => return c.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]),
                };
                let mut port = [0u8; 2];
                c.read_exact(&mut port)?;
                let port = u16::from_be_bytes(port);
                if req[1] != 1 || host != "127.0.0.1" {
                    return c.write_all(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
                }
                let up = TcpStream::connect((host.as_str(), port))?;
                c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
                pipe(c, up);
                Ok(())
            });
        }
    });
    (format!("socks5://127.0.0.1:{}", addr.port()), n)
}

fn with(e: &Env, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v = e.env();
    v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    v
}

fn run_with(args: &[&str], env: &[(String, String)]) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut c = cmd(args);
    for k in
        ["ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"]
    {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn http_and_socks5_proxies_carry_every_request() {
    let e = Env::new();
    let (http, hn) = http_proxy();
    let (socks, sn) = socks5_proxy();
    for (var, url, n) in [("HTTP_PROXY", &http, &hn), ("https_proxy", &http, &hn), ("ALL_PROXY", &socks, &sn)] {
        let before = n.load(Ordering::SeqCst);
        let site = Site::new("proxied");
        let o = run_with(&["download", GAME, "--dir", &site.dir(), "--quiet"], &with(&e, &[(var, url)]));
        assert_code(&o, 0);
        assert!(n.load(Ordering::SeqCst) > before, "{var}={url}: no connection went through the proxy");
    }
    // NO_PROXY exempts the mock's host: nothing goes through the proxy.
    let before = sn.load(Ordering::SeqCst);
    let o = run_with(&["builds", GAME], &with(&e, &[("ALL_PROXY", &socks), ("NO_PROXY", "127.0.0.1")]));
    assert_code(&o, 0);
    assert_eq!(sn.load(Ordering::SeqCst), before, "NO_PROXY ignored");
}

#[test]
fn a_dead_or_unusable_proxy_is_a_fast_clear_error_never_a_direct_connection() {
    let e = Env::new();
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for scheme in ["http", "socks5"] {
        let proxy = format!("{scheme}://user:hunter2@127.0.0.1:{dead}");
        e.mock.stats().reset();
        let t = Instant::now();
        let o = run_with(&["builds", GAME], &with(&e, &[("ALL_PROXY", &proxy)]));
        let took = t.elapsed();
        assert_code(&o, 1);
        assert_clean_error(&o, &format!("proxy {scheme}://127.0.0.1:{dead}"));
        assert!(!stderr(&o).contains("hunter2"), "proxy password leaked: {}", stderr(&o));
        assert!(took < Duration::from_secs(10), "{scheme}: took {took:?}");
        assert_eq!(e.mock.stats().log().len(), 0, "{scheme}: a request went out directly");
    }
    for bad in ["ftp://127.0.0.1:21", "gopher://u:hunter2@h:70"] {
        e.mock.stats().reset();
        let o = run_with(&["builds", GAME], &with(&e, &[("HTTPS_PROXY", bad)]));
        assert_code(&o, 1);
        assert_clean_error(&o, "refusing to connect directly");
        assert!(!stderr(&o).contains("hunter2"));
        assert_eq!(e.mock.stats().log().len(), 0, "{bad}: a request went out directly");
    }
}

#[test]
fn ssl_cert_file_must_name_a_pem_bundle() {
    let e = Env::new();
    let d = Scratch::new("certs");
    std::fs::write(d.path("empty.pem"), "no certificates here\n").unwrap();
    std::fs::write(d.path("bad.pem"), "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").unwrap();
    for (f, needle) in [("missing.pem", "SSL_CERT_FILE"), ("empty.pem", "no certificate"), ("bad.pem", "SSL_CERT_FILE")]
    {
        let p = d.path(f).display().to_string();
        let o = run_with(&["builds", GAME], &with(&e, &[("SSL_CERT_FILE", &p)]));
        assert_ne!(o.status.code(), Some(0), "{f}");
        assert_clean_error(&o, needle);
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

#[test]
fn no_secret_in_any_output_even_at_trace_level() {
    let e = Env::new();
    let site = Site::new("secrets");
    let dir = site.dir();
    let trace = [("RUST_LOG", "trace")];
    let mut outputs: Vec<(String, Output)> = Vec::new();
    let mut go = |args: &[&str]| {
        let o = run_with(args, &with(&e, &trace));
        outputs.push((args.join(" "), o));
    };
    go(&["login", "--code", GogMock::LOGIN_CODE]);
    go(&["builds", GAME]);
    go(&["builds", GAME, "--json"]);
    go(&["builds", GAME, "--password", "s3cret", "--json"]);
    go(&["info", GAME]);
    go(&["info", GAME, "--json"]);
    go(&["download", GAME, "--dir", &dir, "--json"]);
    go(&["download", GAME, "--dir", &dir, "--branch", "beta", "--password", "s3cret", "--json"]);
    go(&["verify", &dir, "--json"]);
    go(&["repair", &dir, "--json"]);
    let meta = e.build(GAME.parse().unwrap(), "windows", 2).link_path.clone();
    let url = format!("{}{meta}", e.mock.url()).replacen("http://", "http://user:hunter2@", 1);
    let out = site.s.path("got.bin").display().to_string();
    go(&["get", &url, "-o", &out, "--json"]);
    // A refused link (bad CDN) and a bad login code produce errors: those must be clean too.
    go(&["get", &url.replace("/content-system", "/nope"), "-o", &out, "--json"]);
    go(&["login", "--code", "wrong-code-sesame"]);
    // What must never appear: the tokens the mock issued, the login code, link tokens, the
    // branch password, the URL credentials.
    let auth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.home.path("auth.json")).unwrap_or_default()).unwrap_or_default();
    let mut secrets: Vec<String> = vec![
        GogMock::LOGIN_CODE.into(),
        "s3cret".into(),
        "hunter2".into(),
        "sesame".into(),
        "mock-at-".into(),
        "mock-rt-".into(),
        "~token=".into(),
        "wsSecret=".into(),
    ];
    for k in ["access_token", "refresh_token"] {
        if let Some(s) = auth[k].as_str() {
            secrets.push(s.to_string());
        }
    }
    let mut ran = 0;
    for (what, o) in &outputs {
        let text = format!("{}{}", stdout(o), stderr(o));
        ran += text.len();
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "`{what}` printed the secret {s:?}:\n{text}");
        }
        assert!(!text.contains("panicked"), "`{what}` panicked:\n{text}");
    }
    assert!(ran > 10_000, "trace output expected ({ran} bytes)");
}

// ---------------------------------------------------------------------------------------------
// Property tests: bounded (a few thousand cases each, a fixed seed), no crate needed. Never a
// panic, and the invariants the rest of the code relies on hold for whatever is accepted.
// ---------------------------------------------------------------------------------------------

/// xorshift64*: small, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    /// A string of `max_len` or fewer pieces drawn from `alphabet`.
    fn string(&mut self, alphabet: &[&str], max_len: usize) -> String {
        let n = self.below(max_len + 1);
        (0..n).map(|_| *self.pick(alphabet)).collect()
    }
}

const PATH_PIECES: &[&str] =
    &["a", "B", "/", "\\", ".", "..", "C:", ":", "\0", " ", "é", ".galaxy-dl", "x/", "//", "../", "ñ/", "\u{202e}"];

#[test]
fn prop_path_sanitising_never_escapes() {
    use galaxy_dl::manifest::path::{link_target_inside, resolve_link_target, safe_relative};
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..5000 {
        let p = r.string(PATH_PIECES, 12);
        if let Ok(s) = safe_relative(&p) {
            assert!(!s.is_empty() && !s.starts_with('/') && !s.contains('\\') && !s.contains('\0'), "{p:?} -> {s:?}");
            assert!(s.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".."), "{p:?} -> {s:?}");
            assert!(!s
                .split('/')
                .next()
                .is_some_and(|f| f.len() >= 2 && f.as_bytes()[1] == b':' && f.as_bytes()[0].is_ascii_alphabetic()));
            assert_eq!(safe_relative(&s).unwrap(), s, "not idempotent: {p:?}");
        }
        if let Ok(t) = resolve_link_target(&p) {
            assert!(t.split('/').all(|seg| !seg.is_empty() && seg != ".." && seg != "."), "{p:?} -> {t:?}");
        }
        let dir = r.string(&["a", "b", "/"], 4);
        if let (Ok(d), Ok(t)) = (safe_relative(&dir), link_target_inside(dir.trim_matches('/'), &p)) {
            // Resolving the written target from the link's directory stays inside DIR.
            let mut depth = d.split('/').count() as i64;
            for seg in t.split('/') {
                match seg {
                    ".." => depth -= 1,
                    "." | "" => {}
                    _ => depth += 1,
                }
                assert!(depth >= 0, "link in {d:?} to {p:?} written as {t:?} climbs out");
            }
        }
    }
}

#[test]
fn prop_content_range_parsing() {
    use galaxy_dl::fetch::range::parse_content_range;
    let mut r = Rng(42);
    let pieces = ["bytes", " ", "0", "1", "9", "-", "/", "*", "18446744073709551615", "18446744073709551616", "+", "x"];
    for _ in 0..5000 {
        let s = r.string(&pieces, 10);
        if let Some((a, b, t)) = parse_content_range(&s) {
            assert!(a <= b, "{s:?}");
            let _ = t;
        }
        let (a, len) = (r.next() >> r.below(64), r.next() >> r.below(64));
        let b = a.saturating_add(len);
        assert_eq!(parse_content_range(&format!("bytes {a}-{b}/*")), Some((a, b, None)));
    }
}

#[test]
fn prop_size_and_rate_parsing() {
    use galaxy_dl::units::{parse_rate, parse_size};
    let mut r = Rng(7);
    let pieces =
        ["0", "1", "5", "9", ".", "k", "K", "M", "G", "T", "i", "B", "b", "/s", " ", "-", "e", "+", "99999999999"];
    for _ in 0..5000 {
        let s = r.string(&pieces, 8);
        let _ = parse_size(&s);
        if let Ok(v) = parse_rate(&s) {
            assert!(v > 0, "{s:?}: a zero rate is refused");
        }
        let n = r.next() >> r.below(64);
        assert_eq!(parse_size(&n.to_string()).unwrap(), n);
        assert_eq!(parse_size(&format!("{}K", n >> 10)).unwrap(), (n >> 10) << 10);
    }
}

fn valid_depot_json() -> String {
    let c = |i: u32, size: u32| {
        format!(r#"{{"md5":"{i:032x}","size":{size},"compressedMd5":"{:032x}","compressedSize":{size}}}"#, i + 1000)
    };
    format!(
        r#"{{"version":2,"depot":{{"items":[
        {{"type":"DepotFile","path":"Data\\a.bin","chunks":[{},{}],"md5":"{:032x}","flags":["executable"]}},
        {{"type":"DepotFile","path":"data/B.bin","chunks":[{}],"sfcRef":{{"offset":0,"size":7}}}},
        {{"type":"DepotFile","path":"s.txt","chunks":[],"flags":["support"]}},
        {{"type":"DepotDirectory","path":"saves"}},
        {{"type":"DepotLink","path":"l","target":"Data/a.bin"}},
        {{"type":"Other","x":[1,2]}}
        ],"smallFilesContainer":{{"chunks":[{}]}}}}}}"#,
        c(1, 10),
        c(2, 5),
        7,
        c(3, 7),
        c(4, 20)
    )
}

/// Mutate JSON text: flip, drop, duplicate or insert tricky tokens.
fn mutate(r: &mut Rng, s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let tokens: &[&[u8]] = &[
        b"..",
        b"\\\\",
        b"/",
        b"0",
        b"-1",
        b"18446744073709551615",
        b"[",
        b"]",
        b"{",
        b"}",
        b",",
        b"\"",
        b"null",
        b"1e999",
    ];
    for _ in 0..1 + r.below(4) {
        if b.is_empty() {
            break;
        }
        let at = r.below(b.len());
        match r.below(4) {
            0 => {
                let alphabet = b"0123456789\",:[]{}./\\ ab";
                b[at] = alphabet[r.below(alphabet.len())];
            }
            1 => {
                b.remove(at);
            }
            2 => {
                let t = *r.pick(tokens);
                b.splice(at..at, t.iter().copied());
            }
            _ => b.truncate(at),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn prop_manifest_parsing_and_plans_built_from_it_validate() {
    use galaxy_dl::install::plan::PlanBuilder;
    use galaxy_dl::manifest::v2::DepotManifest;
    let base = valid_depot_json();
    let m = DepotManifest::parse(base.as_bytes(), "base").unwrap();
    let mut b = PlanBuilder::new(true);
    b.add_v2_depot("1", &m).unwrap();
    let p = b.finish();
    assert_eq!(p.validate(), Ok(()), "the builder's own plan validates");
    let mut r = Rng(1234);
    let (mut parsed, mut planned) = (0, 0);
    for _ in 0..3000 {
        let s = mutate(&mut r, &base);
        let Ok(m) = DepotManifest::parse(s.as_bytes(), "fuzz") else { continue };
        parsed += 1;
        for ci in [true, false] {
            let mut b = PlanBuilder::new(ci);
            if b.add_v2_depot("1", &m).is_ok() {
                planned += 1;
                let p = b.finish();
                assert_eq!(p.validate(), Ok(()), "a plan the builder made from {s} fails validation");
            }
        }
    }
    assert!(parsed > 100 && planned > 100, "mutations too destructive: {parsed} parsed, {planned} planned");
}

#[test]
fn prop_state_validation_never_panics_and_journal_paths_stay_safe() {
    use galaxy_dl::install::plan::{Plan, PlanBuilder};
    use galaxy_dl::install::state::JournalState;
    use galaxy_dl::manifest::v2::DepotManifest;
    let m = DepotManifest::parse(valid_depot_json().as_bytes(), "base").unwrap();
    let mut b = PlanBuilder::new(true);
    b.add_v2_depot("1", &m).unwrap();
    let base = serde_json::to_string(&b.finish()).unwrap();
    let mut r = Rng(99);
    let mut accepted = 0;
    for _ in 0..3000 {
        let s = mutate(&mut r, &base);
        let Ok(p) = serde_json::from_str::<Plan>(&s) else { continue };
        if p.validate().is_ok() {
            accepted += 1;
            for f in &p.files {
                assert!(!f.path.split('/').any(|x| x == ".."), "{s}");
                let mut off = 0;
                for c in f.chunks() {
                    assert_eq!(c.offset, off, "{s}");
                    off += c.size;
                }
                assert_eq!(off, if f.chunks().is_empty() { off } else { f.size });
            }
            for sfc in &p.sfcs {
                for &mi in &sfc.members {
                    let f = &p.files[mi];
                    assert!(f.sfc_offset.unwrap() + f.size <= sfc.size, "{s}");
                }
            }
        }
    }
    assert!(accepted > 10, "{accepted}");
    let pieces =
        ["c\t", "f\t", "x\t", "0", "12", "\t", "\n", "../", "a/b", "/abs", "\0", "0123456789abcdef0123456789abcdef"];
    for _ in 0..3000 {
        let st = JournalState::parse(r.string(&pieces, 30).as_bytes());
        for p in st.files.keys().chain(st.chunks.keys()) {
            assert!(galaxy_dl::manifest::path::safe_relative(p).is_ok_and(|n| &n == p), "{p:?}");
        }
    }
}

/// `FILE.part.state` is input: a real journal's header (from a killed `get`) followed by lines a
/// tamperer wrote. Every bad line ends the journal there, so a plausible "done" claim after it is
/// never obeyed (the claimed bytes are zeros: obeying it would fail `--md5`); an 80 MiB line
/// without a newline is not read into memory; a header for another URL discards the journal; a
/// "done" claim the bytes do not back is caught by `--md5` and nothing wrong is kept.
#[test]
fn tampered_get_state_is_validated_like_network_input() {
    use galaxy_dl_mock::data::random_bytes;
    let size = 1usize << 20;
    const BLOCK: usize = 64 << 10;
    let b = galaxy_dl_mock::BlobServer::new(random_bytes(7, size));
    let md5 = b.md5_hex().to_string();
    let url = b.url();
    let d = Scratch::new("get-state");
    let out = d.path("out.bin");
    let outs = out.to_str().unwrap().to_string();
    let (part, state) = (d.path("out.bin.part"), d.path("out.bin.part.state"));
    let args = ["get", url.as_str(), "-o", outs.as_str(), "--quiet", "--md5", md5.as_str(), "--workers", "2"];

    // A real header: start a slow get and kill it once the journal has its two header lines.
    b.faults(|f| f.per_conn_rate = Some(16 << 10));
    let mut child = cmd(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    let header = loop {
        let s = std::fs::read_to_string(&state).unwrap_or_default();
        if s.lines().count() >= 2 && s.ends_with('\n') {
            break s.lines().take(2).map(|l| format!("{l}\n")).collect::<String>();
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no journal header written");
        std::thread::sleep(Duration::from_millis(10));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    b.faults(|f| f.per_conn_rate = None);
    assert!(header.starts_with("galaxy-dl get state v1\n"), "{header}");
    assert!(!header.contains(url.as_str()), "the URL is stored hashed: {header}");

    let zeros = vec![0u8; size];
    let claim = format!("0 {BLOCK}\n");
    let tamper = |body: &[u8]| {
        let _ = std::fs::remove_file(&out);
        std::fs::write(&part, &zeros).unwrap();
        let mut f = std::fs::File::create(&state).unwrap();
        f.write_all(body).unwrap();
    };
    let bad_lines = [
        format!("0 {}\n", size + BLOCK),              // past the end of the file
        format!("{} {}\n", 2 * BLOCK, BLOCK),         // reversed
        format!("{BLOCK} {BLOCK}\n"),                 // empty
        format!("1 {BLOCK}\n"),                       // not on a block boundary
        format!("-{BLOCK} {BLOCK}\n"),                // negative
        "0 99999999999999999999999999\n".to_string(), // overflows u64
        format!("0\0 {BLOCK}\n"),                     // a NUL
        format!("0 {BLOCK} {BLOCK}\n"),               // an extra field
        "\u{fffd}\u{202e}\n".to_string(),             // not numbers at all
    ];
    for bad in &bad_lines {
        tamper(format!("{header}{bad}{claim}").as_bytes());
        let o = run(&args);
        assert_code(&o, 0);
        assert_eq!(md5_file(&out), md5, "after {bad:?}");
        assert_eq!(d.entries(), vec!["out.bin".to_string()], "leftovers after {bad:?}");
    }

    // An 80 MiB line without a newline: bounded memory, the claim after it never reached.
    let mut body = header.clone().into_bytes();
    body.extend(std::iter::repeat_n(b'1', 80 << 20));
    body.extend_from_slice(claim.as_bytes());
    tamper(&body);
    drop(body);
    let (o, peak) = run_measured(&args, &[]);
    assert_code(&o, 0);
    assert_eq!(md5_file(&out), md5);
    eprintln!("get over an 80 MiB state line: peak RSS {peak} KiB");
    assert!(peak > 0 && peak < RSS_LIMIT_KIB, "peak RSS {peak} KiB");

    // The journal of another URL (same size and validator) is discarded, not obeyed.
    let other: String = header
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 1 {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["url"] = serde_json::json!("0123456789abcdef0123456789abcdef");
                format!("{v}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_ne!(other, header);
    tamper(format!("{other}0 {size}\n").as_bytes());
    let o = run(&args);
    assert_code(&o, 0);
    assert_eq!(md5_file(&out), md5);

    // A well-formed claim the bytes do not back: --md5 catches it, nothing is kept, and the
    // same command then downloads the file.
    tamper(format!("{header}0 {size}\n").as_bytes());
    let o = run(&args);
    assert_code(&o, 1);
    assert_clean_error(&o, "checksum mismatch");
    assert!(d.entries().is_empty(), "unverified data kept: {:?}", d.entries());
    let o = run(&args);
    assert_code(&o, 0);
    assert_eq!(md5_file(&out), md5);
}

// ---------------------------------------------------------------------------------------------
// Hostile V1 builds
// ---------------------------------------------------------------------------------------------

/// A V1 repository naming one depot manifest `d.json` for the hostile product.
fn v1_repository() -> Vec<u8> {
    use galaxy_dl_mock::gog::hostile::HOSTILE_V1_TS;
    serde_json::json!({"version": 1, "product": {
        "timestamp": HOSTILE_V1_TS, "rootGameID": HOSTILE.to_string(), "installDirectory": "Hostile",
        "gameIDs": [{"gameID": HOSTILE.to_string(), "name": {"en": "Hostile"}, "standalone": true}],
        "depots": [{"languages": ["Neutral"], "gameIDs": [HOSTILE.to_string()], "systems": ["Windows"],
                    "manifest": "d.json"}],
    }})
    .to_string()
    .into_bytes()
}

/// A V1 depot manifest of `files` (`path`, `offset`, `size`, `hash`).
fn v1_depot(files: &[(&str, u64, u64, &str)]) -> Vec<u8> {
    let files: Vec<_> = files
        .iter()
        .map(|(p, o, s, h)| {
            serde_json::json!({"path": p, "offset": o, "size": s, "hash": h,
                               "url": format!("{HOSTILE}/main.bin")})
        })
        .collect();
    serde_json::json!({"version": 1, "depot": {"name": "hostile", "files": files}}).to_string().into_bytes()
}

/// V1 builds served by the mock with traversal paths, absolute paths, drive letters, the state
/// directory, absurd sizes and offsets beyond `main.bin`: refused with a clear error, nothing
/// written outside DIR, small memory. Overlapping ranges of `main.bin` are legitimate (GOG dedups
/// that way): they install when their MD5s hold, and fail the checksum when they do not.
#[test]
fn hostile_v1_builds_write_nothing_outside_dir_and_stay_small() {
    let e = Env::new();
    let main: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
    let md5 = |a: usize, b: usize| galaxy_dl_mock::data::md5_hex(&main[a..b]);
    let (h0, h1) = (md5(0, 1000), md5(500, 1500));
    let big = 1u64 << 62;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("dotdot", v1_depot(&[("/../outside/victim.txt", 0, 1000, &h0)]), "`..`"),
        ("dotdot-deep", v1_depot(&[("/a/../../outside/evil", 0, 1000, &h0)]), "`..`"),
        ("backslash-dotdot", v1_depot(&[("\\..\\outside\\victim.txt", 0, 1000, &h0)]), "`..`"),
        ("absolute", v1_depot(&[("//tmp/evil", 0, 1000, &h0)]), "absolute"),
        ("drive", v1_depot(&[("C:\\evil", 0, 1000, &h0)]), "drive letter"),
        ("nul", v1_depot(&[("/a\u{0}b", 0, 1000, &h0)]), "NUL"),
        ("state-dir", v1_depot(&[("/.galaxy-dl/journal", 0, 1000, &h0)]), "state directory"),
        ("absurd-size", v1_depot(&[("/big", 0, big, &h0)]), "absurd size"),
        ("absurd-offset", v1_depot(&[("/far", big, 1000, &h0)]), "absurd offset"),
        ("beyond-main-bin", v1_depot(&[("/past", 4000, 1000, &h0)]), "bad answer to range"),
        ("overlap-wrong-md5", v1_depot(&[("/a", 0, 1000, &h0), ("/b", 500, 1000, &h0)]), "checksum"),
        ("not-a-manifest", b"[0,0,0,0]".to_vec(), "d.json"),
    ];
    for (name, body, needle) in cases {
        let site = Site::new(&format!("v1-{name}"));
        e.mock.serve_hostile_v1(&v1_repository(), &[("d.json".to_string(), body)], &main);
        let (o, rss) = run_measured(&["download", &HOSTILE.to_string(), "--dir", &site.dir(), "--quiet"], &e.env());
        eprintln!("v1 {name}: exit {:?}, peak RSS {rss} KiB: {}", o.status.code(), stderr(&o).trim());
        assert_code(&o, 1);
        assert_clean_error(&o, needle);
        site.assert_untouched(name);
        assert!(rss < RSS_LIMIT_KIB, "{name}: peak RSS {rss} KiB");
    }
    // Overlapping ranges with the right MD5s install, byte for byte.
    let site = Site::new("v1-overlap");
    let body = v1_depot(&[("/a", 0, 1000, &h0), ("/sub/b", 500, 1000, &h1)]);
    e.mock.serve_hostile_v1(&v1_repository(), &[("d.json".to_string(), body)], &main);
    let o = run_with(&["download", &HOSTILE.to_string(), "--dir", &site.dir(), "--quiet"], &e.env());
    assert_code(&o, 0);
    assert_eq!(std::fs::read(site.s.path("dir/a")).unwrap(), &main[0..1000]);
    assert_eq!(std::fs::read(site.s.path("dir/sub/b")).unwrap(), &main[500..1500]);
    site.assert_untouched("overlap");
}
