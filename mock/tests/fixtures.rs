//! What `fixtures/` says is what the mock serves: every build list, build manifest and depot
//! manifest fetched over HTTP equals its committed file once the `_` instructions are removed and
//! the computed values (hashes, sizes, chunk lists, manifest references) are set aside; the
//! content descriptions are realized byte for byte; the owned list and secure link follow
//! `owned.json` and `secure_link.json`.

use flate2::read::ZlibDecoder;
use galaxy_dl_mock::client::{get, get_auth};
use galaxy_dl_mock::data::{md5_hex, text_bytes};
use galaxy_dl_mock::{GogMock, MockConfig};
use serde_json::{Map, Value};
use std::io::Read;
use std::path::Path;

fn fixture(rel: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn meta_json(body: &[u8]) -> Value {
    if body.first() == Some(&0x78) {
        let mut out = Vec::new();
        ZlibDecoder::new(body).read_to_end(&mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    } else {
        serde_json::from_slice(body).unwrap()
    }
}

fn gp(h: &str) -> String {
    format!("{}/{}/{}", &h[..2], &h[2..4], h)
}

/// `v` without the keys starting with `_` and without `computed` (top level of an object).
fn literal(v: &Value, computed: &[&str]) -> Map<String, Value> {
    v.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.starts_with('_') && !computed.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn served_quest_builds_and_depots_are_the_committed_files() {
    let m = GogMock::start(MockConfig::small());
    let list = fixture("quest/builds.json");
    let r = get(&format!("{}/products/1000000001/os/windows/builds?generation=2&password=s3cret", m.url()));
    let served = r.json();
    assert_eq!(served["has_private_branches"], list["has_private_branches"]);
    let windows: Vec<&Value> = list["items"].as_array().unwrap().iter().filter(|i| i["os"] == "windows").collect();
    assert_eq!(served["items"].as_array().unwrap().len(), windows.len());
    let mut depots_seen = 0;
    for (want, got) in windows.iter().zip(served["items"].as_array().unwrap()) {
        assert_eq!(literal(want, &["link"]), literal(got, &["link"]), "listing of {}", want["build_id"]);
        let build_file = format!("quest/{}", want["link"].as_str().unwrap());
        let b = meta_json(&get(got["link"].as_str().unwrap()).body);
        let f = fixture(&build_file);
        assert_eq!(literal(&f, &["depots"]), literal(&b, &["depots"]), "{build_file}");
        let (fd, bd) = (f["depots"].as_array().unwrap(), b["depots"].as_array().unwrap());
        assert_eq!(fd.len(), bd.len(), "{build_file}");
        for (fdep, bdep) in fd.iter().zip(bd) {
            let computed = ["manifest", "size", "compressedSize"];
            assert_eq!(literal(fdep, &computed), literal(bdep, &computed), "{build_file}");
            let h = bdep["manifest"].as_str().unwrap();
            let body = get(&format!("{}/content-system/v2/meta/{}", m.url(), gp(h))).body;
            assert_eq!(md5_hex(&body), h, "a manifest is addressed by the MD5 of what is served");
            let dfile = format!("quest/{}", fdep["manifest"].as_str().unwrap());
            let dm = fixture(&dfile);
            assert_eq!(body.first() == Some(&b'{'), dm["_serve"] == "plain", "{dfile}: plain or zlib");
            let sd = meta_json(&body);
            assert_eq!(sd["version"], dm["version"], "{dfile}");
            let (fi, si) = (dm["depot"]["items"].as_array().unwrap(), sd["depot"]["items"].as_array().unwrap());
            assert_eq!(fi.len(), si.len(), "{dfile}");
            let mut size = 0;
            for (a, b) in fi.iter().zip(si) {
                let computed = ["chunks", "md5", "sha256", "sfcRef"];
                assert_eq!(literal(a, &computed), literal(b, &computed), "{dfile}");
                if a["type"] != "DepotFile" {
                    continue;
                }
                let hashes: Vec<&str> = match a.get("_hashes") {
                    Some(h) => h.as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect(),
                    None => vec!["md5"],
                };
                assert_eq!(b.get("md5").is_some(), hashes.contains(&"md5"), "{dfile} {}", a["path"]);
                assert_eq!(b.get("sha256").is_some(), hashes.contains(&"sha256"), "{dfile} {}", a["path"]);
                assert_eq!(b.get("sfcRef").is_some(), a["_sfc"] == true, "{dfile} {}", a["path"]);
                let file_size: u64 = b["chunks"].as_array().unwrap().iter().map(|c| c["size"].as_u64().unwrap()).sum();
                size += file_size;
                // A `text` description is realized as its numbered lines, a `literal` as itself.
                let c = &a["_content"];
                if let Some(label) = c["text"].as_str() {
                    let want = text_bytes(label, c["size"].as_u64().unwrap() as usize);
                    assert_eq!(file_size, want.len() as u64, "{dfile} {}", a["path"]);
                    if let Some(md5) = b["md5"].as_str() {
                        assert_eq!(md5, md5_hex(&want), "{dfile} {}", a["path"]);
                    }
                }
                if let Some(lit) = c["literal"].as_str() {
                    assert_eq!(b["md5"].as_str().unwrap(), md5_hex(lit.as_bytes()), "{dfile} {}", a["path"]);
                }
            }
            assert_eq!(bdep["size"].as_u64().unwrap(), size, "{dfile}: depot size is the sum of its files");
            assert_eq!(sd["depot"].get("smallFilesContainer").is_some(), fi.iter().any(|i| i["_sfc"] == true));
            depots_seen += 1;
        }
    }
    assert!(depots_seen >= 27, "three windows builds of nine depots each: {depots_seen}");
}

#[test]
fn served_dependency_repository_legacy_repository_owned_list_and_secure_link_follow_their_files() {
    let m = GogMock::start(MockConfig::small());
    m.wait_ready();
    // Dependency repository.
    let r = get(&format!("{}/dependencies/repository", m.url())).json();
    let repo = meta_json(&get(r["repository_manifest"].as_str().unwrap()).body);
    let f = fixture("dependencies/repository.json");
    assert_eq!(r["build_id"], f["build_id"]);
    assert_eq!(literal(&repo, &["depots"]), literal(&f, &["depots"]));
    for (a, b) in f["depots"].as_array().unwrap().iter().zip(repo["depots"].as_array().unwrap()) {
        let computed = ["manifest", "size", "compressedSize"];
        assert_eq!(literal(a, &computed), literal(b, &computed));
    }
    // V1 repository: served as written except each depot's size.
    let list = fixture("legacy/builds.json");
    let served = get(&format!("{}/products/1000000003/os/windows/builds", m.url())).json();
    assert_eq!(literal(&list["items"][0], &["link"]), literal(&served["items"][0], &["link"]));
    let repo = get(served["items"][0]["link"].as_str().unwrap()).json();
    let f = fixture("legacy/repository.json");
    assert_eq!(literal(&repo["product"], &["depots"]), literal(&f["product"], &["depots"]));
    for (a, b) in f["product"]["depots"].as_array().unwrap().iter().zip(repo["product"]["depots"].as_array().unwrap()) {
        assert_eq!(literal(a, &["size"]), literal(b, &["size"]));
    }
    // V1 depot manifests: literal records served as written, generated ones where the
    // instructions put them.
    let base = served["items"][0]["link"].as_str().unwrap().trim_end_matches("repository.json").to_string();
    for d in f["product"]["depots"].as_array().unwrap().iter().filter(|d| d.get("manifest").is_some()) {
        let name = d["manifest"].as_str().unwrap();
        let want = fixture(&format!("legacy/{name}"));
        let got = get(&format!("{base}{name}")).json();
        assert_eq!(got["depot"]["name"], want["depot"]["name"]);
        let recs = got["depot"]["files"].as_array().unwrap();
        let literal_recs: Vec<&Value> = want["depot"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| literal(r, &[]) == *r.as_object().unwrap())
            .collect();
        for r in &literal_recs {
            assert!(recs.contains(r), "{name}: literal record {r} not served");
        }
        for r in want["depot"]["files"].as_array().unwrap().iter().filter(|r| r.get("_size").is_some()) {
            let s =
                recs.iter().find(|x| x["path"] == r["path"]).unwrap_or_else(|| panic!("{name}: {} missing", r["path"]));
            assert_eq!(s["size"], r["_size"]);
            assert_eq!(literal(r, &[]), literal(s, &["size", "hash", "offset"]));
        }
        if let Some(g) = want["depot"]["files"].as_array().unwrap().iter().find_map(|r| r.get("_large_files")) {
            let n = g["count"].as_u64().unwrap() as usize;
            assert_eq!(
                recs.iter().filter(|x| x["path"].as_str().unwrap().starts_with("/Data/Large/large_")).count(),
                n
            );
        }
        let total: u64 = recs.iter().map(|x| x["size"].as_u64().unwrap()).sum();
        assert!(total > 0, "{name}");
    }
    // Owned list and the secure link's shape.
    let token = m.issue_access_token();
    let owned = get_auth(&format!("{}/user/data/games", m.url()), &token).json();
    assert_eq!(owned, fixture("owned.json"));
    let link =
        get_auth(&format!("{}/products/1000000001/secure_link?generation=2&_version=2&path=/", m.url()), &token).json();
    let f = fixture("secure_link.json");
    let (fu, su) = (f["urls"].as_array().unwrap(), link["urls"].as_array().unwrap());
    assert_eq!(fu.len(), su.len());
    for (a, b) in fu.iter().zip(su) {
        assert_eq!(literal(a, &["parameters"]), literal(b, &["parameters"]));
        let keys = |v: &Value| v["parameters"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(a), keys(b));
        assert_eq!(b["parameters"]["base_url"], m.url().as_str());
        assert_eq!(b["parameters"]["path"], "/content-system/v2/store/1000000001");
    }
}
