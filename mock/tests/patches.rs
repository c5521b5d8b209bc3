//! The GOG mock's patches over raw HTTP: the `patches` endpoint (off, offered, bad requests),
//! the root and `DepotDiff` manifests, delta chunks through a `root=/patches/store` secure link,
//! and (when the `xdelta3` tool is installed) the deltas turning the old fixture files into
//! the new ones with the reference decoder.

use flate2::read::ZlibDecoder;
use galaxy_dl_mock::client::{get, get_auth};
use galaxy_dl_mock::data::md5_hex;
use galaxy_dl_mock::gog::fixtures::{QUEST, QUEST_BUILD_NEW, QUEST_BUILD_OLD};
use galaxy_dl_mock::gog::PatchMode;
use galaxy_dl_mock::{GogMock, MockConfig};
use serde_json::Value;
use std::io::Read;

fn inflate(z: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ZlibDecoder::new(z).read_to_end(&mut out).unwrap();
    out
}

fn gp(h: &str) -> String {
    format!("{}/{}/{}", &h[..2], &h[2..4], h)
}

fn patches_url(m: &GogMock, from: &str, to: &str) -> String {
    format!("{}/products/{QUEST}/patches?_version=4&from_build_id={from}&to_build_id={to}", m.url())
}

/// The fastly-form URL of `rel` under a secure link's first endpoint.
fn chunk_url(link: &Value, rel: &str) -> String {
    let e = &link["urls"][0];
    let p = &e["parameters"];
    format!(
        "{}/token=nva={}~dirs={}~token={}{}{rel}",
        p["base_url"].as_str().unwrap(),
        p["expires_at"],
        p["dirs"],
        p["token"].as_str().unwrap(),
        p["path"].as_str().unwrap()
    )
}

#[test]
fn patches_endpoint_answers_as_gog_does() {
    let m = GogMock::start(MockConfig::small());
    let r = get(&patches_url(&m, QUEST_BUILD_OLD, QUEST_BUILD_NEW));
    assert_eq!(r.status, 404, "no patch unless asked for");
    assert_eq!(r.json()["error"], "not_found");
    m.faults(|f| f.patches = PatchMode::Offer);
    let r = get(&format!("{}/products/{QUEST}/patches?_version=4", m.url()));
    assert_eq!(r.status, 400);
    assert_eq!(get(&patches_url(&m, QUEST_BUILD_NEW, QUEST_BUILD_OLD)).status, 404, "no downgrade patch");
    let r = get(&patches_url(&m, QUEST_BUILD_OLD, QUEST_BUILD_NEW));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!((v["from"].as_str(), v["to"].as_str()), (Some(QUEST_BUILD_OLD), Some(QUEST_BUILD_NEW)));
    let link = v["link"].as_str().unwrap();
    assert!(link.contains("/content-system/v2/patches/meta/"), "{link}");
    let root: Value = serde_json::from_slice(&inflate(&get(link).body)).unwrap();
    assert_eq!(root["algorithm"], "xdelta3");
    assert_eq!(root["baseProductId"], QUEST.to_string());
    let depots = root["depots"].as_array().unwrap();
    assert!(!depots.is_empty());
    for d in depots {
        let url = format!("{}/content-system/v2/patches/meta/{}", m.url(), gp(d["manifest"].as_str().unwrap()));
        let dm: Value = serde_json::from_slice(&inflate(&get(&url).body)).unwrap();
        for it in dm["depot"]["items"].as_array().unwrap() {
            assert_eq!(it["type"], "DepotDiff");
            for k in ["md5_source", "md5_target", "path_source", "path_target", "md5"] {
                assert!(it[k].is_string(), "{k} missing: {it}");
            }
            assert!(!it["chunks"].as_array().unwrap().is_empty());
        }
    }
}

#[test]
fn delta_chunks_come_through_the_patch_store_and_rebuild_the_new_files() {
    let m = GogMock::start(MockConfig::small());
    m.faults(|f| f.patches = PatchMode::Offer);
    let token = m.issue_access_token();
    let v = get(&patches_url(&m, QUEST_BUILD_OLD, QUEST_BUILD_NEW)).json();
    let root: Value = serde_json::from_slice(&inflate(&get(v["link"].as_str().unwrap()).body)).unwrap();
    let fx = m.fixtures();
    let (old, new) = (fx.build(QUEST, QUEST_BUILD_OLD).unwrap(), fx.build(QUEST, QUEST_BUILD_NEW).unwrap());
    let mut checked = 0;
    for d in root["depots"].as_array().unwrap() {
        let pid = d["productId"].as_str().unwrap();
        let link = get_auth(
            &format!("{}/products/{pid}/secure_link?_version=2&generation=2&path=/&root=/patches/store", m.url()),
            &token,
        );
        assert_eq!(link.status, 200);
        let link = link.json();
        assert!(link["urls"][0]["parameters"]["path"].as_str().unwrap().ends_with(&format!("/patches/store/{pid}")));
        let url = format!("{}/content-system/v2/patches/meta/{}", m.url(), gp(d["manifest"].as_str().unwrap()));
        let dm: Value = serde_json::from_slice(&inflate(&get(&url).body)).unwrap();
        for it in dm["depot"]["items"].as_array().unwrap() {
            let mut delta = Vec::new();
            for c in it["chunks"].as_array().unwrap() {
                let cmd5 = c["compressedMd5"].as_str().unwrap();
                let r = get(&chunk_url(&link, &format!("/{}", gp(cmd5))));
                assert_eq!(r.status, 200);
                assert_eq!(md5_hex(&r.body), cmd5);
                // The product store does not serve delta chunks.
                let wrong = chunk_url(&link, &format!("/{}", gp(cmd5))).replace("/patches/store/", "/store/");
                assert_ne!(get(&wrong).status, 200);
                delta.extend(inflate(&r.body));
            }
            assert_eq!(md5_hex(&delta), it["md5"].as_str().unwrap());
            let path = it["path_target"].as_str().unwrap().replace('\\', "/");
            let o = old.entries.iter().find(|e| e.manifest_path == path).unwrap();
            let n = new.entries.iter().find(|e| e.manifest_path == path).unwrap();
            assert_eq!((it["md5_source"].as_str(), it["md5_target"].as_str()), (Some(&*o.md5), Some(&*n.md5)));
            if apply_with_xdelta3(&m, o, &delta, &n.md5) {
                checked += 1;
            }
        }
    }
    if checked == 0 {
        eprintln!("SKIP: xdelta3 is not installed; deltas not applied with the reference decoder");
    }
}

/// Rebuild the old file from its chunks, apply `delta` with the `xdelta3` tool, compare MD5s.
/// False when the tool is not installed.
fn apply_with_xdelta3(m: &GogMock, old: &galaxy_dl_mock::gog::ExpectedEntry, delta: &[u8], want_md5: &str) -> bool {
    let token = m.issue_access_token();
    let link = get_auth(
        &format!("{}/products/{}/secure_link?_version=2&generation=2&path=/", m.url(), old.product_id),
        &token,
    )
    .json();
    let mut src = Vec::new();
    for c in &old.chunk_compressed_md5s {
        src.extend(inflate(&get(&chunk_url(&link, &format!("/{}", gp(c)))).body));
    }
    let dir = std::env::temp_dir().join(format!("mock-patch-{}-{}", std::process::id(), md5_hex(delta)));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("old"), &src).unwrap();
    std::fs::write(dir.join("delta"), delta).unwrap();
    let st = std::process::Command::new("xdelta3")
        .args(["-d", "-f", "-s"])
        .arg(dir.join("old"))
        .arg(dir.join("delta"))
        .arg(dir.join("new"))
        .status();
    let ok = match st {
        Ok(s) => {
            assert!(s.success(), "xdelta3 refused the mock's delta for {}", old.path);
            assert_eq!(md5_hex(&std::fs::read(dir.join("new")).unwrap()), want_md5, "{}", old.path);
            true
        }
        Err(_) => false,
    };
    let _ = std::fs::remove_dir_all(&dir);
    ok
}
