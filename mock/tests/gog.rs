//! Raw-socket tests of the GOG mock's routes, fixtures and fault switches.

use flate2::read::ZlibDecoder;
use galaxy_dl_mock::client::{get, get_auth, request, ClientResponse};
use galaxy_dl_mock::data::md5_hex;
use galaxy_dl_mock::gog::fixtures::*;
use galaxy_dl_mock::gog::EntryKind;
use galaxy_dl_mock::{GogMock, MockConfig};
use serde_json::Value;
use std::io::Read;
use std::time::{Duration, Instant};

const CID: &str = "46899977096215655";
const SECRET: &str = "9d85c43b1482497dbbce61f6e4aa173a433796eeae2ca8c5f6129f2dc4de46d9";

fn mock() -> GogMock {
    GogMock::start(MockConfig::small())
}

fn inflate(z: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ZlibDecoder::new(z).read_to_end(&mut out).unwrap();
    out
}

fn meta_json(body: &[u8]) -> Value {
    if body.first() == Some(&0x78) {
        serde_json::from_slice(&inflate(body)).unwrap()
    } else {
        serde_json::from_slice(body).unwrap()
    }
}

fn login(m: &GogMock) -> Value {
    let r = get(&format!(
        "{}/token?client_id={CID}&client_secret={SECRET}&grant_type=authorization_code&code={}&redirect_uri=https%3A%2F%2Fembed.gog.com%2Fon_login_success%3Forigin%3Dclient",
        m.url(),
        GogMock::LOGIN_CODE
    ));
    assert_eq!(r.status, 200);
    r.json()
}

fn gp(h: &str) -> String {
    format!("{}/{}/{}", &h[..2], &h[2..4], h)
}

/// Format endpoint `e` of a secure link for `suffix` (appended to parameters.path).
fn chunk_url(endpoint: &Value, suffix: &str) -> String {
    let mut params = endpoint["parameters"].as_object().unwrap().clone();
    let p = format!("{}{}", params["path"].as_str().unwrap(), suffix);
    params.insert("path".into(), Value::String(p));
    let mut url = endpoint["url_format"].as_str().unwrap().to_string();
    for (k, v) in &params {
        let s = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        url = url.replace(&format!("{{{k}}}"), &s);
    }
    url
}

fn secure_link(m: &GogMock, at: &str, pid: u64) -> ClientResponse {
    get_auth(&format!("{}/products/{pid}/secure_link?_version=2&generation=2&path=/", m.url()), at)
}

fn build_manifest(m: &GogMock, build: &str) -> Value {
    let b = m.fixtures().build(QUEST, build).unwrap();
    meta_json(&get(&format!("{}{}", m.url(), b.link_path)).body)
}

fn first_chunk_of(m: &GogMock, build: &str, file: &str) -> (Value, Value) {
    let bm = build_manifest(m, build);
    for d in bm["depots"].as_array().unwrap() {
        let h = d["manifest"].as_str().unwrap();
        let dm = meta_json(&get(&format!("{}/content-system/v2/meta/{}", m.url(), gp(h))).body);
        for it in dm["depot"]["items"].as_array().unwrap() {
            if it["path"] == file {
                return (it["chunks"][0].clone(), d.clone());
            }
        }
    }
    panic!("{file} not found")
}

#[test]
fn startup_is_fast() {
    // Warm up page cache / allocator once, then measure.
    let t = Instant::now();
    let m = GogMock::start(MockConfig { chunk_size: 256 << 10, ..MockConfig::default() });
    let el = t.elapsed();
    eprintln!("GogMock::start (256 KiB chunks, 64 MiB V1 blob): {el:?}");
    assert!(m.fixtures().builds.len() >= 5);
    assert!(el < Duration::from_secs(3), "{el:?}");
}

#[test]
fn token_flow_and_rotation() {
    let m = mock();
    let t = login(&m);
    for k in ["expires_in", "scope", "token_type", "access_token", "user_id", "refresh_token", "session_id"] {
        assert!(t.get(k).is_some(), "{k}");
    }
    assert_eq!(t["expires_in"], 3600);
    let bad = get(&format!(
        "{}/token?client_id={CID}&client_secret={SECRET}&grant_type=authorization_code&code=nope",
        m.url()
    ));
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json()["error"], "invalid_grant");
    let rt = t["refresh_token"].as_str().unwrap();
    let url = |rt: &str| {
        format!("{}/token?client_id={CID}&client_secret={SECRET}&grant_type=refresh_token&refresh_token={rt}&without_new_session=1", m.url())
    };
    let r = get(&url(rt));
    assert_eq!(r.status, 200);
    let t2 = r.json();
    assert_ne!(t2["refresh_token"], t["refresh_token"]);
    assert_eq!(get(&url(rt)).status, 401, "old refresh token must be invalid");
    let at = t2["access_token"].as_str().unwrap();
    let owned = get_auth(&format!("{}/user/data/games", m.url()), at);
    assert_eq!(owned.status, 200);
    let ids: Vec<u64> = owned.json()["owned"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert!(ids.contains(&QUEST) && ids.contains(&DLC_OWNED) && !ids.contains(&DLC_UNOWNED));
    assert_eq!(get(&format!("{}/user/data/games", m.url())).status, 401);
    m.faults(|f| f.expire_refresh_tokens = true);
    assert_eq!(get(&url(t2["refresh_token"].as_str().unwrap())).status, 401);
}

#[test]
fn access_token_expiry() {
    let m = GogMock::start(MockConfig { token_ttl_secs: 1, ..MockConfig::small() });
    let at = login(&m)["access_token"].as_str().unwrap().to_string();
    assert_eq!(secure_link(&m, &at, QUEST).status, 200);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(secure_link(&m, &at, QUEST).status, 401);
    let at = m.issue_access_token();
    assert_eq!(secure_link(&m, &at, QUEST).status, 200);
    m.faults(|f| f.expire_access_tokens_now = true);
    assert_eq!(secure_link(&m, &at, QUEST).status, 401);
}

#[test]
fn builds_listing() {
    let m = mock();
    let r = get(&format!("{}/products/{QUEST}/os/windows/builds?generation=2", m.url())).json();
    let ids: Vec<&str> = r["items"].as_array().unwrap().iter().map(|i| i["build_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![QUEST_BUILD_NEW, QUEST_BUILD_OLD]);
    assert_eq!(r["has_private_branches"], true);
    assert_eq!(r["total_count"], 2);
    let item = &r["items"][0];
    for k in [
        "build_id",
        "product_id",
        "os",
        "branch",
        "version_name",
        "tags",
        "public",
        "date_published",
        "generation",
        "link",
    ] {
        assert!(item.get(k).is_some(), "{k}");
    }
    assert!(item["link"].as_str().unwrap().starts_with(&format!("{}/content-system/v2/meta/", m.url())));
    let r = get(&format!("{}/products/{QUEST}/os/windows/builds?generation=2&password=s3cret", m.url())).json();
    assert_eq!(r["items"][0]["build_id"], QUEST_BUILD_BETA);
    assert_eq!(r["items"][0]["branch"], "beta");
    let r = get(&format!("{}/products/{QUEST}/os/windows/builds?generation=2&password=wrong", m.url())).json();
    assert_eq!(r["count"], 2);
    let r = get(&format!("{}/products/{QUEST}/os/windows/builds?generation=1", m.url())).json();
    assert_eq!(r["total_count"], 0);
    let r = get(&format!("{}/products/{QUEST}/os/osx/builds?generation=2", m.url())).json();
    assert_eq!(r["items"][0]["build_id"], QUEST_BUILD_OSX);
    for g in ["1", "2"] {
        let r = get(&format!("{}/products/{LEGACY}/os/windows/builds?generation={g}", m.url())).json();
        assert_eq!(r["items"][0]["generation"], 1);
        assert_eq!(r["items"][0]["legacy_build_id"], LEGACY_TIMESTAMP);
        assert!(r["items"][0]["link"].as_str().unwrap().ends_with("/repository.json"));
    }
    assert_eq!(get(&format!("{}/products/123/os/windows/builds?generation=2", m.url())).status, 404);
}

#[test]
fn meta_hash_matches_link_and_manifests_parse() {
    let m = mock();
    let r = get(&format!("{}/products/{QUEST}/os/windows/builds?generation=2", m.url())).json();
    let link = r["items"][0]["link"].as_str().unwrap();
    let hash = link.rsplit('/').next().unwrap();
    let resp = get(link);
    assert_eq!(resp.status, 200);
    assert_eq!(md5_hex(&resp.body), hash);
    assert_eq!(resp.header("etag"), Some(format!("\"{hash}\"").as_str()));
    assert!(resp.header("content-encoding").is_none());
    assert_eq!(&resp.body[..1], &[0x78]);
    let bm = meta_json(&resp.body);
    assert_eq!(bm["version"], 2);
    assert_eq!(bm["buildId"], QUEST_BUILD_NEW);
    assert_eq!(bm["dependencies"], serde_json::json!(["MOCKDEP_GAME", "MOCKREDIST"]));
    let products: Vec<&str> =
        bm["products"].as_array().unwrap().iter().map(|p| p["productId"].as_str().unwrap()).collect();
    assert_eq!(products, vec!["1000000001", "1000000002", "1000000009"]);
    let mut plain = 0;
    let mut files = 0;
    for d in bm["depots"].as_array().unwrap() {
        let h = d["manifest"].as_str().unwrap();
        let resp = get(&format!("{}/content-system/v2/meta/{}", m.url(), gp(h)));
        assert_eq!(md5_hex(&resp.body), h);
        if resp.body[0] == b'{' {
            plain += 1;
        }
        let dm = meta_json(&resp.body);
        files += dm["depot"]["items"].as_array().unwrap().len();
    }
    assert_eq!(plain, 1);
    let b = m.fixtures().build(QUEST, QUEST_BUILD_NEW).unwrap();
    assert_eq!(files, b.entries.len());
    assert_eq!(get(&format!("{}/content-system/v2/meta/00/00/0000ffff", m.url())).status, 404);
}

#[test]
fn fixtures_shape() {
    let m = mock();
    let cs = m.config().chunk_size as u64;
    let b = m.fixtures().build(QUEST, QUEST_BUILD_NEW).unwrap();
    let big = b.entry("Data/big.pak").unwrap();
    assert_eq!(big.chunk_md5s.len(), 3);
    assert_eq!(big.size, 3 * cs + cs / 2);
    // case-folded path keeps the first spelling
    assert!(b.entry("Data/b.txt").is_some());
    assert_eq!(b.entry("Data/b.txt").unwrap().manifest_path, "DATA/b.txt");
    assert!(b.entry("gog-support/1000000001/app/settings.ini").unwrap().support);
    assert!(b.entry("Game.exe").unwrap().executable);
    assert_eq!(b.entry("Data/empty.dat").unwrap().size, 0);
    assert_eq!(b.entry("saves/empty").unwrap().kind, EntryKind::Directory);
    // incompressible chunk: compressedSize > size
    let (rc, _) = first_chunk_of(&m, QUEST_BUILD_NEW, "Data\\random.bin");
    assert!(rc["compressedSize"].as_u64() > rc["size"].as_u64(), "{rc}");
    // repeated chunk inside one file and shared with another
    let rep = b.entry("Data/repeat.bin").unwrap();
    assert_eq!(rep.chunk_md5s[0], rep.chunk_md5s[1]);
    assert_eq!(b.entry("Data/shared_r.bin").unwrap().chunk_md5s[0], rep.chunk_md5s[0]);
    let sel = b.select_files("en-US", "64", &[QUEST, DLC_OWNED]);
    assert!(sel.iter().any(|e| e.path == "lang/en/strings.txt"));
    assert!(!sel.iter().any(|e| e.path.starts_with("lang/de")));
    assert!(sel.iter().any(|e| e.path == "bin64/engine.dll"));
    assert!(!sel.iter().any(|e| e.path == "bin32/engine.dll"));
    assert!(sel.iter().any(|e| e.path.starts_with("DLC/owned")));
    assert!(!sel.iter().any(|e| e.path.starts_with("DLC/unowned")));
    assert_eq!(sel.iter().filter(|e| e.sfc_member).count(), 50);
    let old = m.fixtures().build(QUEST, QUEST_BUILD_OLD).unwrap();
    let ob = old.entry("Data/big.pak").unwrap();
    assert_eq!(ob.chunk_md5s[0], big.chunk_md5s[0]);
    assert_ne!(ob.chunk_md5s[1], big.chunk_md5s[1]);
    assert_eq!(ob.chunk_md5s[2], big.chunk_md5s[2]);
    assert!(old.entry("Data/old_only_b1.txt").is_some() && b.entry("Data/old_only_b1.txt").is_none());
    let osx = m.fixtures().build(QUEST, QUEST_BUILD_OSX).unwrap();
    assert!(osx
        .entries
        .iter()
        .any(|e| matches!(&e.kind, EntryKind::Symlink { target } if target == "Fixture Quest.app/Contents/Resources")));
    let v1 = m.fixtures().build(LEGACY, LEGACY_BUILD).unwrap();
    assert!(v1.entries.len() > 50, "{}", v1.entries.len());
    assert!(v1.entry("gog-support/1000000003/support/readme.txt").is_some());
    assert_eq!(v1.select("English", "64", &[LEGACY]).len(), v1.entries.len());
    assert!(v1.select("de-DE", "64", &[LEGACY]).len() < v1.entries.len());
}

#[test]
fn secure_link_auth_and_chunks() {
    let m = mock();
    assert_eq!(get(&format!("{}/products/{QUEST}/secure_link?_version=2&generation=2&path=/", m.url())).status, 401);
    assert_eq!(secure_link(&m, "bogus", QUEST).status, 401);
    let at = login(&m)["access_token"].as_str().unwrap().to_string();
    let r = secure_link(&m, &at, DLC_UNOWNED);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "invalid_licence");
    let link = secure_link(&m, &at, QUEST).json();
    assert_eq!(link["product_id"], QUEST);
    assert_eq!(link["type"], "depot");
    let urls = link["urls"].as_array().unwrap();
    assert_eq!(urls.len(), 2);
    assert!(urls[0]["priority"].as_i64() < urls[1]["priority"].as_i64());
    for k in ["endpoint_name", "supports_generation", "max_fails", "fallback_only", "url_format", "parameters"] {
        assert!(urls[0].get(k).is_some(), "{k}");
    }
    let (chunk, _) = first_chunk_of(&m, QUEST_BUILD_NEW, "Data\\big.pak");
    let cmd5 = chunk["compressedMd5"].as_str().unwrap();
    let suffix = format!("/{}", gp(cmd5));
    for e in urls {
        let u = chunk_url(e, &suffix);
        let r = get(&u);
        assert_eq!(r.status, 200, "{u}");
        assert!(r.header("content-encoding").is_none());
        assert_eq!(md5_hex(&r.body), cmd5);
        assert_eq!(md5_hex(&inflate(&r.body)), chunk["md5"].as_str().unwrap());
        assert_eq!(r.body.len() as u64, chunk["compressedSize"].as_u64().unwrap());
        let rr = request("GET", &u, &[("Range", "bytes=10-")]);
        assert_eq!(rr.status, 206);
        assert_eq!(rr.body, &r.body[10..]);
        let h = request("HEAD", &u, &[]);
        assert_eq!(h.header("content-length").unwrap(), r.body.len().to_string());
    }
    // Tampered token / wrong product scope / unsigned.
    let u = chunk_url(&urls[0], &suffix).replace("token=", "token=x");
    assert_eq!(get(&u).status, 403);
    let dlc_link = secure_link(&m, &at, DLC_OWNED).json();
    assert_eq!(get(&chunk_url(&dlc_link["urls"][0], &suffix).replace("1000000002", "1000000001")).status, 403);
    assert_eq!(get(&chunk_url(&dlc_link["urls"][0], &suffix)).status, 404, "chunk not in the DLC store");
    assert_eq!(get(&format!("{}/content-system/v2/store/{QUEST}{suffix}", m.url())).status, 403);
    // Expiry via the switch, then renewal.
    m.faults(|f| f.expire_links_now = true);
    assert_eq!(get(&chunk_url(&urls[0], &suffix)).status, 403);
    assert_eq!(get(&chunk_url(&urls[1], &suffix)).status, 403);
    let link2 = secure_link(&m, &at, QUEST).json();
    assert_eq!(get(&chunk_url(&link2["urls"][0], &suffix)).status, 200);
    assert_eq!(m.stats().count(&format!("/products/{QUEST}/secure_link")), 4);
}

#[test]
fn link_ttl_expiry() {
    let m = GogMock::start(MockConfig { link_ttl_secs: 1, ..MockConfig::small() });
    let at = m.issue_access_token();
    let link = secure_link(&m, &at, QUEST).json();
    let (chunk, _) = first_chunk_of(&m, QUEST_BUILD_NEW, "Game.exe");
    let u = chunk_url(&link["urls"][0], &format!("/{}", gp(chunk["compressedMd5"].as_str().unwrap())));
    let exp = link["urls"][0]["parameters"]["expires_at"].as_u64().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(exp > now - 1 && exp <= now + 1);
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(get(&u).status, 403);
}

#[test]
fn chunk_faults_and_failover() {
    let m = mock();
    let at = m.issue_access_token();
    let link = secure_link(&m, &at, QUEST).json();
    let (chunk, _) = first_chunk_of(&m, QUEST_BUILD_NEW, "Data\\big.pak");
    let cmd5 = chunk["compressedMd5"].as_str().unwrap().to_string();
    let u0 = chunk_url(&link["urls"][0], &format!("/{}", gp(&cmd5)));
    let u1 = chunk_url(&link["urls"][1], &format!("/{}", gp(&cmd5)));
    m.faults(|f| f.chunk.fail_next = 2);
    assert_eq!(get(&u0).status, 503);
    assert_eq!(get(&u1).status, 503);
    assert_eq!(get(&u0).status, 200);
    m.faults(|f| {
        f.chunk.reset_next = 1;
        f.chunk.reset_after = 1000;
    });
    let r = get(&u0);
    assert!(!r.complete && r.body.len() == 1000);
    m.faults(|f| {
        f.chunk.truncate_next = 1;
        f.chunk.truncate_to = 10;
    });
    assert!(!get(&u0).complete);
    m.faults(|f| f.chunk.corrupt_next = 1);
    let r = get(&u0);
    assert!(r.complete);
    assert_ne!(md5_hex(&r.body), cmd5);
    assert_eq!(md5_hex(&get(&u0).body), cmd5);
    m.faults(|f| f.fail_endpoint(0));
    assert_eq!(get(&u0).status, 404);
    assert_eq!(get(&u1).status, 200);
    m.faults(|f| {
        f.failing_endpoint = None;
        f.chunk.trickle_next = 1;
        f.chunk.trickle_rate = 200_000;
    });
    let t = Instant::now();
    assert!(get(&u0).complete);
    assert!(t.elapsed() > Duration::from_millis(100));
    assert_eq!(m.stats().count_containing(&cmd5), 10);
}

#[test]
fn small_files_container_switches() {
    let m = mock();
    let at = m.issue_access_token();
    let link = secure_link(&m, &at, QUEST).json();
    let bm = build_manifest(&m, QUEST_BUILD_NEW);
    let mut found = None;
    for d in bm["depots"].as_array().unwrap() {
        let dm = meta_json(
            &get(&format!("{}/content-system/v2/meta/{}", m.url(), gp(d["manifest"].as_str().unwrap()))).body,
        );
        if dm["depot"].get("smallFilesContainer").is_some() {
            found = Some(dm);
        }
    }
    let dm = found.unwrap();
    let sfc = dm["depot"]["smallFilesContainer"]["chunks"][0].clone();
    let items = dm["depot"]["items"].as_array().unwrap();
    let member = items.iter().find(|i| i.get("sfcRef").is_some()).unwrap();
    assert_eq!(items.iter().filter(|i| i.get("sfcRef").is_some()).count(), 50);
    let url = |c: &Value| chunk_url(&link["urls"][0], &format!("/{}", gp(c["compressedMd5"].as_str().unwrap())));
    let sfc_data = inflate(&get(&url(&sfc)).body);
    let off = member["sfcRef"]["offset"].as_u64().unwrap() as usize;
    let size = member["sfcRef"]["size"].as_u64().unwrap() as usize;
    assert_eq!(md5_hex(&sfc_data[off..off + size]), member["md5"].as_str().unwrap());
    assert_eq!(get(&url(&member["chunks"][0])).status, 200);
    m.faults(|f| f.withhold_sfc_members = true);
    assert_eq!(get(&url(&member["chunks"][0])).status, 404);
    assert_eq!(get(&url(&sfc)).status, 200);
    m.faults(|f| {
        f.withhold_sfc_members = false;
        f.withhold_sfc = true
    });
    assert_eq!(get(&url(&sfc)).status, 404);
    assert_eq!(get(&url(&member["chunks"][0])).status, 200);
}

#[test]
fn v1_manifests_and_main_bin() {
    let m = mock();
    let at = m.issue_access_token();
    let b = m.fixtures().build(LEGACY, LEGACY_BUILD).unwrap();
    let repo = get(&format!("{}{}", m.url(), b.link_path)).json();
    let depots = repo["product"]["depots"].as_array().unwrap();
    assert!(depots.iter().any(|d| d.get("redist").is_some()));
    assert!(depots[0]["size"].is_string());
    let man = depots[0]["manifest"].as_str().unwrap();
    let base = b.link_path.trim_end_matches("repository.json");
    let dm = get(&format!("{}{base}{man}", m.url())).json();
    let files = dm["depot"]["files"].as_array().unwrap();
    assert!(files.iter().any(|f| f["directory"] == true));
    assert!(files.iter().any(|f| f["executable"] == true));
    assert!(files.iter().any(|f| f["support"] == true));
    let link = get_auth(
        &format!("{}/products/{LEGACY}/secure_link?_version=2&type=depot&path=/windows/{LEGACY_TIMESTAMP}/", m.url()),
        &at,
    )
    .json();
    assert_eq!(
        link["urls"][0]["parameters"]["path"],
        format!("/content-system/v1/depots/{LEGACY}/windows/{LEGACY_TIMESTAMP}")
    );
    let f = files.iter().find(|f| f["size"].as_u64().unwrap_or(0) > 5000 && f.get("directory").is_none()).unwrap();
    let (o, s) = (f["offset"].as_u64().unwrap(), f["size"].as_u64().unwrap());
    for (e, suffix) in [(0, "/main.bin"), (1, "/main.bin"), (0, "//main.bin")] {
        let u = chunk_url(&link["urls"][e], suffix);
        let r = request("GET", &u, &[("Range", &format!("bytes={o}-{}", o + s - 1))]);
        assert_eq!(r.status, 206, "{u}");
        assert_eq!(r.header("content-range").unwrap(), format!("bytes {o}-{}/{}", o + s - 1, m.config().v1_blob_size));
        assert_eq!(md5_hex(&r.body), f["hash"].as_str().unwrap());
        let h = request("HEAD", &u, &[]);
        assert_eq!(h.header("content-length").unwrap(), m.config().v1_blob_size.to_string());
    }
    let u = chunk_url(&link["urls"][0], "/main.bin");
    m.faults(|f| f.wrong_content_range_on_main_bin = true);
    let r = request("GET", &u, &[("Range", "bytes=0-9")]);
    assert_eq!(r.header("content-range"), Some(format!("bytes 1-10/{}", m.config().v1_blob_size).as_str()));
    m.faults(|f| {
        f.wrong_content_range_on_main_bin = false;
        f.ignore_range_on_main_bin = true;
    });
    let r = request("GET", &u, &[("Range", "bytes=0-9")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len() as u64, m.config().v1_blob_size);
    m.faults(|f| {
        f.ignore_range_on_main_bin = false;
        f.main_bin.fail_next = 1;
    });
    assert_eq!(request("GET", &u, &[("Range", "bytes=0-9")]).status, 503);
    assert_eq!(request("GET", &u, &[("Range", "bytes=0-9")]).status, 206);
    let r = get_auth(
        &format!("{}/products/{DLC_UNOWNED}/secure_link?_version=2&type=depot&path=/windows/1/", m.url()),
        &at,
    );
    assert_eq!(r.status, 403);
}

#[test]
fn dependencies_and_open_link() {
    let m = mock();
    let r = get(&format!("{}/dependencies/repository?generation=2", m.url())).json();
    assert_eq!(r["generation"], 2);
    let repo_url = r["repository_manifest"].as_str().unwrap();
    let body = get(repo_url).body;
    assert_eq!(md5_hex(&body), repo_url.rsplit('/').next().unwrap());
    let repo = meta_json(&body);
    let deps = repo["depots"].as_array().unwrap();
    assert_eq!(deps.len(), 3);
    assert!(deps.iter().any(|d| d["executable"]["path"].as_str().unwrap().starts_with("__redist/")));
    assert!(deps.iter().any(|d| d["dependencyId"] == "MOCKDEP_GAME"));
    let ol = get(&format!("{}/open_link?generation=2&_version=2&path=/dependencies/store/", m.url())).json();
    let e = &ol["urls"][0];
    let dep = &deps[0];
    let dm = meta_json(
        &get(&format!("{}/content-system/v2/dependencies/meta/{}", m.url(), gp(dep["manifest"].as_str().unwrap())))
            .body,
    );
    let ch = &dm["depot"]["items"][0]["chunks"][0];
    let cmd5 = ch["compressedMd5"].as_str().unwrap();
    let a = get(&format!("{}/{}", e["url"].as_str().unwrap(), gp(cmd5)));
    let b = get(&chunk_url(e, &format!("/{}", gp(cmd5))));
    assert_eq!(md5_hex(&a.body), cmd5);
    assert_eq!(a.body, b.body);
    let fx = m.fixtures().dependency(dep["dependencyId"].as_str().unwrap()).unwrap();
    assert_eq!(fx.entries.len(), dm["depot"]["items"].as_array().unwrap().len());
}

#[test]
fn patches_not_found_and_auth_page() {
    let m = mock();
    let r = get(&format!(
        "{}/products/{QUEST}/patches?_version=4&from_build_id={QUEST_BUILD_OLD}&to_build_id={QUEST_BUILD_NEW}",
        m.url()
    ));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not_found");
    assert_eq!(get(&format!("{}/auth?client_id=1", m.url())).status, 200);
    assert_eq!(m.env().len(), 4);
}
