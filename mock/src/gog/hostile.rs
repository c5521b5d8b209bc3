//! Hostile content on demand: a test hands the mock arbitrary depot manifest bodies (and chunk
//! bodies) and the mock serves them as the one build of the "Hostile" product
//! ([`HOSTILE`]), with a build manifest that names each depot by the MD5 of its served bytes,
//! exactly as GOG does. Used by `tests/security.rs` to drive the real binary through traversal
//! paths, zlib bombs, absurd counts and the like over real HTTP. Or, with
//! [`HostileContent::v1`], a V1 (generation 1) build: a test-written `repository.json`, depot
//! manifests and `main.bin`.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use super::State;
use crate::data::md5_hex;
use crate::server::{range_response, Request, Response};

/// Product id of the hostile product (owned by the mock account only while content is set).
pub const HOSTILE: u64 = 1000000066;
/// Its one build id.
pub const HOSTILE_BUILD: &str = "66000000000000066";
/// The timestamp under which a V1 hostile build's manifests and `main.bin` are served (the
/// served `repository.json` names its own; a different one finds 404s).
pub const HOSTILE_V1_TS: &str = "1600000066";

/// A V1 hostile build.
pub(crate) struct HostileV1 {
    pub repository: Arc<[u8]>,
    pub manifests: HashMap<String, Arc<[u8]>>,
    pub main_bin: Arc<[u8]>,
}

/// What the hostile product serves.
#[derive(Default)]
pub(crate) struct HostileContent {
    pub build_hash: String,
    pub meta: HashMap<String, Arc<[u8]>>,
    /// Stored (zlib) chunk objects by compressedMd5.
    pub chunks: HashMap<String, Arc<[u8]>>,
    /// Set: the build is V1 (generation 1) and the V2 fields are unused.
    pub v1: Option<HostileV1>,
}

impl HostileContent {
    /// Content whose build lists `depots` (served bodies, plain or zlib JSON) for `os`, plus
    /// stored chunk objects.
    pub fn new(depots: &[Vec<u8>], chunks: &[Vec<u8>], os: &str) -> HostileContent {
        let mut meta = HashMap::new();
        let mut refs = Vec::new();
        for body in depots {
            let h = md5_hex(body);
            meta.insert(h.clone(), Arc::from(body.clone()));
            refs.push(json!({"productId": HOSTILE.to_string(), "languages": ["*"], "manifest": h, "size": 1, "compressedSize": 1}));
        }
        let build = json!({
            "version": 2, "baseProductId": HOSTILE.to_string(), "buildId": HOSTILE_BUILD,
            "installDirectory": "Hostile", "platform": os, "depots": refs,
            "products": [{"productId": HOSTILE.to_string(), "name": "Hostile"}],
            "dependencies": [], "scriptInterpreter": false, "tags": [],
        });
        let body = build.to_string().into_bytes();
        let build_hash = md5_hex(&body);
        meta.insert(build_hash.clone(), Arc::from(body));
        let chunks = chunks.iter().map(|c| (md5_hex(c), Arc::from(c.clone()))).collect();
        HostileContent { build_hash, meta, chunks, v1: None }
    }

    /// A V1 build: `repository` (served as the build's `repository.json`), depot manifests by
    /// file name, and the bytes of `main.bin` (Range requests honoured).
    pub fn v1(repository: &[u8], manifests: &[(String, Vec<u8>)], main_bin: &[u8]) -> HostileContent {
        HostileContent {
            v1: Some(HostileV1 {
                repository: Arc::from(repository),
                manifests: manifests.iter().map(|(n, b)| (n.clone(), Arc::from(b.as_slice()))).collect(),
                main_bin: Arc::from(main_bin),
            }),
            ..HostileContent::default()
        }
    }
}

fn gp(h: &str) -> String {
    format!("{}/{}/{h}", &h[0..2], &h[2..4])
}

/// Answer the hostile product's routes; `None` for everything else.
pub(crate) fn route(st: &Arc<State>, req: &Request, segs: &[&str]) -> Option<Response> {
    let guard = st.hostile.lock().unwrap();
    let c = guard.as_ref()?;
    let pid = HOSTILE.to_string();
    if let Some(v1) = &c.v1 {
        return route_v1(st, req, segs, v1);
    }
    match segs {
        ["products", id, "os", os, "builds"] if *id == pid => Some(Response::json(
            200,
            &json!({"total_count": 1, "count": 1, "has_private_branches": false, "items": [{
                "build_id": HOSTILE_BUILD, "product_id": pid, "os": os, "branch": null,
                "version_name": "hostile", "tags": [], "public": true,
                "date_published": "2026-01-01T00:00:00+0000", "generation": 2,
                "link": format!("{}/content-system/v2/meta/{}", st.base(), gp(&c.build_hash)),
            }]}),
        )),
        ["products", id, "secure_link"] if *id == pid => Some(Response::json(
            200,
            &json!({"product_id": HOSTILE, "type": "depot", "urls": [{
                "endpoint_name": "hostile", "url_format": "{base_url}/hostile-store{path}",
                "parameters": {"base_url": st.base(), "path": format!("/content-system/v2/store/{pid}")},
                "priority": 1, "max_fails": 100, "supports_generation": [2], "fallback_only": false,
            }]}),
        )),
        ["content-system", "v2", "meta", _, _, h] => {
            c.meta.get(*h).map(|b| Response::bytes(200, b.to_vec()).header("Content-Type", "application/octet-stream"))
        }
        ["hostile-store", "content-system", "v2", "store", id, _, _, h] if *id == pid => Some(
            c.chunks
                .get(*h)
                .map_or_else(|| Response::bytes(404, "no such chunk"), |b| Response::bytes(200, b.to_vec())),
        ),
        _ => None,
    }
}

fn route_v1(st: &Arc<State>, req: &Request, segs: &[&str], v1: &HostileV1) -> Option<Response> {
    let pid = HOSTILE.to_string();
    let bytes = |b: &Arc<[u8]>| range_response(req, b.clone(), 0..b.len(), true);
    match segs {
        ["products", id, "os", os, "builds"] if *id == pid => Some(Response::json(
            200,
            &json!({"total_count": 1, "count": 1, "has_private_branches": false, "items": [{
                "build_id": HOSTILE_BUILD, "product_id": pid, "os": os, "branch": null,
                "version_name": "hostile v1", "tags": [], "public": true,
                "date_published": "2026-01-01T00:00:00+0000", "generation": 1,
                "link": format!("{}/content-system/v1/manifests/{pid}/{os}/{HOSTILE_V1_TS}/repository.json", st.base()),
            }]}),
        )),
        ["products", id, "secure_link"] if *id == pid => {
            let os = req.query_param("path").unwrap_or("/").trim_matches('/').split('/').next().unwrap_or("");
            Some(Response::json(
                200,
                &json!({"product_id": HOSTILE, "type": "depot", "urls": [{
                    "endpoint_name": "hostile", "url_format": "{base_url}/hostile-store{path}",
                    "parameters": {"base_url": st.base(),
                                   "path": format!("/content-system/v1/depots/{pid}/{os}/{HOSTILE_V1_TS}")},
                    "priority": 1, "max_fails": 100, "supports_generation": [1, 2], "fallback_only": false,
                }]}),
            ))
        }
        ["content-system", "v1", "manifests", id, _, ts, name] if *id == pid => Some(if *ts != HOSTILE_V1_TS {
            Response::bytes(404, "no such build")
        } else if *name == "repository.json" {
            bytes(&v1.repository)
        } else {
            v1.manifests.get(*name).map_or_else(|| Response::bytes(404, "no such manifest"), bytes)
        }),
        ["hostile-store", "content-system", "v1", "depots", id, _, _, "main.bin"] if *id == pid => {
            Some(bytes(&v1.main_bin))
        }
        _ => None,
    }
}
