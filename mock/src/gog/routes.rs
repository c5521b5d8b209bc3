//! Request routing of the GOG mock: auth (`/auth`, `/token`), content-system (builds,
//! `secure_link`, `open_link`, dependencies, patches), CDN (meta, chunks, V1 manifests and
//! `main.bin`, under both signed endpoint forms), embed (`/user/data/games`), and fault hooks.

use super::{now_secs, LinkToken, RouteFaults, State};
use crate::data::Rng;
use crate::server::{range_response, Request, Response};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn err(status: u16, error: &str, desc: &str) -> Response {
    Response::json(status, &json!({"error": error, "error_description": desc}))
}

fn not_found() -> Response {
    err(404, "not_found", "no such resource")
}

fn take(c: &mut u32) -> bool {
    if *c > 0 {
        *c -= 1;
        true
    } else {
        false
    }
}

/// Count the GET and consume a `fail_next` or `fail_percent` fault (GET only); returns the
/// failure response.
fn pre_fault(req: &Request, rf: &mut RouteFaults) -> Option<Response> {
    if req.is_head() {
        return None;
    }
    rf.seen += 1;
    let unlucky = rf.fail_percent > 0
        && Rng::new(rf.seed.wrapping_mul(0x100_0000_01B3) ^ rf.seen).next_u64() % 100 < u64::from(rf.fail_percent);
    if take(&mut rf.fail_next) || unlucky {
        let mut r = Response::text(rf.fail_status, "injected failure");
        if let Some(ra) = &rf.retry_after {
            r = r.header("Retry-After", ra.clone());
        }
        return Some(r);
    }
    None
}

/// Apply body faults to a successful GET response.
fn post_fault(req: &Request, rf: &mut RouteFaults, mut r: Response) -> Response {
    if req.is_head() || r.status >= 300 {
        return r;
    }
    let len = r.body_len() as u64;
    if take(&mut rf.reset_next) {
        r = r.reset_after(rf.reset_after);
    }
    if take(&mut rf.truncate_next) {
        r = r.truncate_to(rf.truncate_to);
    }
    if take(&mut rf.corrupt_next) && len > 0 {
        r = r.corrupt_byte(len / 2);
    }
    if take(&mut rf.trickle_next) {
        r = r.trickle(rf.trickle_rate);
    }
    if take(&mut rf.silent_next) {
        r = r.silent_after(len / 2, rf.silent_ms);
    }
    if rf.nth(rf.every_reset) {
        r = r.reset_after(rf.reset_after.min(len / 2));
    }
    if rf.nth(rf.every_corrupt) && len > 0 {
        r = r.corrupt_byte(len / 2);
    }
    if rf.nth(rf.every_truncate) {
        r = r.truncate_to(len / 2);
    }
    if take(&mut rf.hold_next) {
        r = r.hold(rf.hold_ms);
    }
    if r.status == 200 && (take(&mut rf.garble_next) || rf.nth(rf.every_garble)) {
        r.range = r.range.start..r.range.start + r.range.len() / 2;
    }
    r
}

/// Replace a `206`'s `Content-Range` with one shifted by +1 byte (same length).
fn shift_content_range(mut r: Response, total: usize) -> Response {
    if r.status == 206 {
        let a = r.range.start as u64 + 1;
        let b = a + r.range.len() as u64 - 1;
        r.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-range"));
        r = r.header("Content-Range", format!("bytes {a}-{b}/{total}"));
    }
    r
}

/// Whether the current ranged GET of the class is one whose Range is ignored.
fn range_ignored(req: &Request, rf: &RouteFaults) -> bool {
    req.header("range").is_some() && rf.nth(rf.ignore_range_every)
}

fn hex_token(rng_seed: u64) -> String {
    let mut r = Rng::new(rng_seed);
    format!("{:016x}{:016x}", r.next_u64(), r.next_u64())
}

/// Issue a new access/refresh token pair; returns (access, refresh).
pub(crate) fn issue_tokens(st: &State) -> (String, String) {
    let mut a = st.auth.lock().unwrap();
    a.counter += 1;
    let n = a.counter;
    let access = format!("mock-at-{}", hex_token(n * 2 + 1));
    let refresh = format!("mock-rt-{}", hex_token(n * 2 + 2));
    let exp = Instant::now() + Duration::from_secs(st.cfg.token_ttl_secs);
    a.access.insert(access.clone(), exp);
    a.refresh.insert(refresh.clone(), ());
    (access, refresh)
}

fn bearer_ok(st: &State, req: &Request) -> bool {
    let Some(t) = req.bearer() else { return false };
    let a = st.auth.lock().unwrap();
    a.access.get(t).is_some_and(|exp| Instant::now() < *exp)
}

fn unauthorized() -> Response {
    err(401, "invalid_token", "missing, unknown or expired access token").header("WWW-Authenticate", "Bearer")
}

/// Route one request.
pub(crate) fn handle(st: &Arc<State>, req: &Request) -> Response {
    let path = req.path.as_str();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if path.starts_with("/token=") {
        return cdn_fastly(st, req);
    }
    // Content-system API routes work without a token, but a token that is sent must be valid.
    let api = matches!(segs.as_slice(), ["products", ..] | ["open_link"] | ["dependencies", "repository"]);
    if api && req.header("authorization").is_some() && !bearer_ok(st, req) {
        return unauthorized();
    }
    if let Some(r) = super::hostile::route(st, req, &segs) {
        return r;
    }
    match segs.as_slice() {
        ["auth"] => {
            Response::bytes(200, "<html><body>Mock GOG login</body></html>").header("Content-Type", "text/html")
        }
        ["on_login_success"] => {
            Response::bytes(200, "<html><body>Logged in</body></html>").header("Content-Type", "text/html")
        }
        ["token"] => token(st, req),
        ["user", "data", "games"] => {
            if !bearer_ok(st, req) {
                return unauthorized();
            }
            let mut owned = st.owned.clone();
            if st.hostile.lock().unwrap().is_some() {
                owned.push(super::hostile::HOSTILE);
            }
            Response::json(200, &json!({"owned": owned}))
        }
        ["account", "getFilteredProducts"] => library(st, req),
        ["products", id, "os", os, "builds"] => builds(st, req, id, os),
        ["products", id, "secure_link"] => secure_link(st, req, id),
        ["products", id, "patches"] => patches_endpoint(st, req, id),
        ["content-system", "v2", "patches", "meta", aa, bb, h] => {
            let mode = st.faults.lock().unwrap().patches;
            meta(st, req, &st.patches(mode).meta, aa, bb, h)
        }
        ["open_link"] => open_link(st, req),
        ["dependencies", "repository"] => Response::json(
            200,
            &json!({
                "repository_manifest": format!("{}/content-system/v2/dependencies/meta/{}", st.base(), gp(&st.built.content.dep_repo_hash)),
                "build_id": super::fixtures::DEPS_BUILD,
                "generation": 2,
            }),
        ),
        ["content-system", "v2", "meta", aa, bb, h] => meta(st, req, &st.built.content.meta, aa, bb, h),
        ["content-system", "v2", "dependencies", "meta", aa, bb, h] => {
            meta(st, req, &st.built.content.dep_meta, aa, bb, h)
        }
        ["content-system", "v2", "dependencies", "store", aa, bb, h] => dep_chunk(st, req, aa, bb, h),
        ["content-system", "v1", "manifests", rest @ ..] => v1_manifest(st, req, &rest.join("/")),
        ["content-system", "v2", "store", ..]
        | ["content-system", "v2", "patches", "store", ..]
        | ["content-system", "v1", "depots", ..] => cdn_query_signed(st, req),
        _ => not_found(),
    }
}

fn gp(h: &str) -> String {
    if h.len() < 4 {
        return h.to_string();
    }
    format!("{}/{}/{}", &h[0..2], &h[2..4], h)
}

fn token(st: &State, req: &Request) -> Response {
    {
        let mut f = st.faults.lock().unwrap();
        if let Some(r) = pre_fault(req, &mut f.token) {
            return r;
        }
    }
    let r = token_grant(st, req);
    let mut f = st.faults.lock().unwrap();
    post_fault(req, &mut f.token, r)
}

fn token_grant(st: &State, req: &Request) -> Response {
    // Accept the parameters from the query or (for POST) a form body.
    let mut params = req.query.clone();
    if !req.body.is_empty() {
        params.extend(crate::server::parse_query(&String::from_utf8_lossy(&req.body)));
    }
    let p = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if p("client_id").unwrap_or("").is_empty() {
        return err(400, "invalid_request", "client_id missing");
    }
    match p("grant_type") {
        Some("authorization_code") => {
            if p("code") != Some(super::GogMock::LOGIN_CODE) {
                return err(401, "invalid_grant", "unknown authorization code");
            }
        }
        Some("refresh_token") => {
            let rt = p("refresh_token").unwrap_or("");
            if st.faults.lock().unwrap().expire_refresh_tokens {
                return err(401, "invalid_grant", "refresh token expired");
            }
            if st.auth.lock().unwrap().refresh.remove(rt).is_none() {
                return err(401, "invalid_grant", "unknown refresh token");
            }
        }
        _ => return err(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"),
    }
    let (access, refresh) = issue_tokens(st);
    Response::json(
        200,
        &json!({
            "expires_in": st.cfg.token_ttl_secs,
            "scope": "",
            "token_type": "bearer",
            "access_token": access,
            "user_id": super::GogMock::USER_ID,
            "refresh_token": refresh,
            "session_id": format!("mock-session-{}", &refresh[8..24]),
        }),
    )
}

fn builds(st: &State, req: &Request, id: &str, os: &str) -> Response {
    let Ok(pid) = id.parse::<u64>() else {
        return not_found();
    };
    let c = &st.built.content;
    if !c.listings.iter().any(|l| l.product_id == pid) {
        return err(404, "not_found", "unknown product");
    }
    let generation = req.query_param("generation").unwrap_or("1");
    let password = req.query_param("password");
    let items: Vec<Value> = c
        .listings
        .iter()
        .filter(|l| l.product_id == pid && l.os == os)
        .filter(|l| generation == "2" || l.generation == 1)
        .filter(|l| l.password.is_none() || l.password.as_deref() == password)
        .map(|l| {
            let mut v = json!({
                "build_id": l.build_id, "product_id": l.product_id.to_string(), "os": l.os,
                "branch": l.branch, "version_name": l.version_name, "tags": [],
                "public": l.password.is_none(), "date_published": l.date_published,
                "generation": l.generation, "link": format!("{}{}", st.base(), l.link_path),
            });
            if let Some(t) = l.legacy_build_id {
                v["legacy_build_id"] = json!(t);
            }
            v
        })
        .collect();
    Response::json(
        200,
        &json!({"total_count": items.len(), "count": items.len(), "items": items,
                "has_private_branches": c.private_products.contains(&pid)}),
    )
}

fn meta(
    st: &State,
    req: &Request,
    map: &std::collections::HashMap<String, Arc<[u8]>>,
    aa: &str,
    bb: &str,
    h: &str,
) -> Response {
    let Some(body) = map.get(h) else {
        return not_found();
    };
    if h.len() < 4 || &h[0..2] != aa || &h[2..4] != bb {
        return not_found();
    }
    let mut f = st.faults.lock().unwrap();
    if f.withheld_meta.iter().any(|w| w == h) {
        return not_found();
    }
    if let Some(r) = pre_fault(req, &mut f.meta) {
        return r;
    }
    let r = range_response(req, body.clone(), 0..body.len(), true)
        .header("ETag", format!("\"{h}\""))
        .header("Content-Type", "application/octet-stream");
    post_fault(req, &mut f.meta, r)
}

fn v1_manifest(st: &State, req: &Request, rest: &str) -> Response {
    let Some(body) = st.v1().manifests.get(rest) else {
        return not_found();
    };
    let mut f = st.faults.lock().unwrap();
    if let Some(r) = pre_fault(req, &mut f.meta) {
        return r;
    }
    let r = range_response(req, body.clone(), 0..body.len(), true).header("Content-Type", "application/json");
    post_fault(req, &mut f.meta, r)
}

/// The secure link's CDN endpoints: the shape of `fixtures/secure_link.json`, this link's values.
fn endpoints(st: &State, pid: u64, path: &str, expires_at: u64, token: &str, gens: &[u8]) -> Value {
    let mut urls = super::files::secure_link_urls(st.base(), pid, path, expires_at, token, gens);
    // A test may point one endpoint elsewhere (refused connections, DNS failures).
    let over = st.faults.lock().unwrap().endpoint_base.clone();
    if let Some((i, base)) = over {
        if let Some(u) = urls.get_mut(i) {
            u["parameters"]["base_url"] = json!(base);
        }
    }
    urls
}

fn secure_link(st: &State, req: &Request, id: &str) -> Response {
    if !bearer_ok(st, req) {
        return unauthorized();
    }
    let Ok(pid) = id.parse::<u64>() else {
        return not_found();
    };
    if !st.owned.contains(&pid) {
        return err(
            403,
            "invalid_licence",
            &format!("User #{} does not have the license for product #{pid}.", super::GogMock::USER_ID),
        );
    }
    {
        let mut f = st.faults.lock().unwrap();
        if let Some(r) = pre_fault(req, &mut f.secure_link) {
            return r;
        }
    }
    let rpath = req.query_param("path").unwrap_or("/");
    let (path, gens): (String, &[u8]) = if req.query_param("generation") == Some("2") {
        let root = req.query_param("root").unwrap_or("/store");
        let root = root.trim_end_matches('/');
        (format!("/content-system/v2{root}/{pid}"), &[2])
    } else if req.query_param("type") == Some("depot") {
        // V1: path=/{os}/{timestamp}/
        let p = rpath.trim_matches('/');
        if p.split('/').count() != 2 {
            return err(400, "invalid_request", "path must be /{os}/{timestamp}/");
        }
        (format!("/content-system/v1/depots/{pid}/{p}"), &[1, 2])
    } else {
        return err(400, "invalid_request", "generation=2 or type=depot required");
    };
    let expires_at = now_secs() + st.cfg.link_ttl_secs;
    let token = {
        let mut a = st.auth.lock().unwrap();
        a.counter += 1;
        let t = hex_token(0x5EC0_0000 + a.counter);
        a.links.insert(t.clone(), LinkToken { path: path.clone(), expires_at, revoked: false });
        t
    };
    let body = json!({"product_id": pid, "type": "depot",
        "urls": endpoints(st, pid, &path, expires_at, &token, gens)});
    let mut f = st.faults.lock().unwrap();
    post_fault(req, &mut f.secure_link, Response::json(200, &body))
}

fn open_link(st: &State, req: &Request) -> Response {
    {
        let mut f = st.faults.lock().unwrap();
        if let Some(r) = pre_fault(req, &mut f.secure_link) {
            return r;
        }
    }
    let rpath = req.query_param("path").unwrap_or("/dependencies/store/");
    if !rpath.starts_with("/dependencies/store") {
        return err(400, "invalid_request", "only /dependencies/store is open");
    }
    let path = format!("/content-system/v2{}", rpath.trim_end_matches('/'));
    let url = format!("{}{}", st.base(), path);
    let expires_at = now_secs() + st.cfg.link_ttl_secs;
    let body = json!({"product_id": null, "type": "open", "urls": [{
        "endpoint_name": "fastly", "url": url, "url_format": "{base_url}{path}",
        "parameters": {"base_url": st.base(), "path": path, "expires_at": expires_at},
        "priority": 10, "max_fails": 100, "supports_generation": [2], "fallback_only": false,
    }]});
    let mut f = st.faults.lock().unwrap();
    post_fault(req, &mut f.secure_link, Response::json(200, &body))
}

fn forbidden(why: &str) -> Response {
    err(403, "forbidden", why)
}

/// Validate a link token for `resource` (path under the CDN). `nva` is the expiry the URL
/// carries; `dirs` (fastly form) or `prefix` (query form) the scope.
fn check_token(
    st: &State,
    token: &str,
    nva: &str,
    resource: &str,
    dirs: Option<usize>,
    prefix: Option<&str>,
) -> Result<(), &'static str> {
    let a = st.auth.lock().unwrap();
    let Some(t) = a.links.get(token) else {
        return Err("unknown token");
    };
    if nva.parse::<u64>().ok() != Some(t.expires_at) {
        return Err("signature mismatch");
    }
    if t.revoked || now_secs() >= t.expires_at {
        return Err("link expired");
    }
    let tsegs: Vec<&str> = t.path.split('/').filter(|s| !s.is_empty()).collect();
    let rsegs: Vec<&str> = resource.split('/').filter(|s| !s.is_empty()).collect();
    if let Some(d) = dirs {
        if d != tsegs.len() {
            return Err("dirs mismatch");
        }
    }
    if let Some(p) = prefix {
        if p.trim_end_matches('/') != t.path {
            return Err("prefix mismatch");
        }
    }
    if rsegs.len() <= tsegs.len() || rsegs[..tsegs.len()] != tsegs[..] {
        return Err("path outside the token's scope");
    }
    Ok(())
}

/// `/token=nva=..~dirs=..~token=..{path}` (endpoint 0).
fn cdn_fastly(st: &State, req: &Request) -> Response {
    let rest = &req.path[1..];
    let (seg, resource) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return forbidden("no resource"),
    };
    let mut nva = "";
    let mut dirs = None;
    let mut token = "";
    for kv in seg.trim_start_matches("token=").split('~') {
        match kv.split_once('=') {
            Some(("nva", v)) => nva = v,
            Some(("dirs", v)) => dirs = v.parse().ok(),
            Some(("token", v)) => token = v,
            _ => {}
        }
    }
    if dirs.is_none() {
        return forbidden("dirs missing");
    }
    if let Err(why) = check_token(st, token, nva, resource, dirs, None) {
        return forbidden(why);
    }
    cdn_resource(st, req, resource, 0)
}

/// `{path}?wsSecret=..&wsTime=..&prefix=..` (endpoint 1).
fn cdn_query_signed(st: &State, req: &Request) -> Response {
    let (Some(token), Some(time), Some(prefix)) =
        (req.query_param("wsSecret"), req.query_param("wsTime"), req.query_param("prefix"))
    else {
        return forbidden("unsigned request");
    };
    if !req.path.starts_with(prefix) {
        return forbidden("path outside prefix");
    }
    if let Err(why) = check_token(st, token, time, &req.path, None, Some(prefix)) {
        return forbidden(why);
    }
    cdn_resource(st, req, &req.path, 1)
}

fn cdn_resource(st: &State, req: &Request, resource: &str, endpoint: usize) -> Response {
    let segs: Vec<&str> = resource.split('/').filter(|s| !s.is_empty()).collect();
    if segs.get(1) == Some(&"v1") {
        st.v1(); // wait for background generation before taking the faults lock
    }
    let mut f = st.faults.lock().unwrap();
    if f.failing_endpoint == Some(endpoint) {
        return Response::text(404, "endpoint unavailable");
    }
    let rate = f.per_conn_rate;
    match segs.as_slice() {
        ["content-system", "v2", "store", pid, aa, bb, h] => {
            let Ok(pid) = pid.parse::<u64>() else {
                return not_found();
            };
            if h.len() < 4 || &h[0..2] != *aa || &h[2..4] != *bb {
                return not_found();
            }
            let Some(z) = st.built.content.chunks.get(&(pid, h.to_string())) else {
                return not_found();
            };
            if (f.withhold_sfc && st.built.content.sfc_chunks.contains(*h))
                || (f.withhold_sfc_members && st.built.content.sfc_member_chunks.contains(*h))
            {
                return not_found();
            }
            if let Some(r) = pre_fault(req, &mut f.chunk) {
                return r;
            }
            let sfc = st.built.content.sfc_chunks.contains(*h);
            if sfc {
                if let Some(r) = pre_fault(req, &mut f.sfc) {
                    return r;
                }
            }
            let honor = !f.ignore_range_on_chunks && !range_ignored(req, &f.chunk);
            let z = match (f.forge_chunk_next > 0
                && req.header("range").is_none()
                && f.forge_chunk.as_deref().is_none_or(|c| c == *h))
            .then(|| forge(&z[..]))
            .flatten()
            {
                Some(forged) => {
                    f.forge_chunk_next -= 1;
                    forged
                }
                None => z.clone(),
            };
            let mut r = range_response(req, z.clone(), 0..z.len(), honor)
                .header("Content-Type", "application/octet-stream")
                .header("ETag", format!("\"{h}\""));
            if f.wrong_content_range_on_chunks
                || (req.header("range").is_some() && f.chunk.nth(f.chunk.wrong_content_range_every))
            {
                r = shift_content_range(r, z.len());
            }
            r.conn_rate = rate;
            let r = post_fault(req, &mut f.chunk, r);
            if sfc {
                post_fault(req, &mut f.sfc, r)
            } else {
                r
            }
        }
        ["content-system", "v2", "patches", "store", pid, aa, bb, h] => {
            let Ok(pid) = pid.parse::<u64>() else {
                return not_found();
            };
            if h.len() < 4 || &h[0..2] != *aa || &h[2..4] != *bb {
                return not_found();
            }
            let mode = f.patches;
            drop(f);
            if mode == super::PatchMode::WithheldDeltas {
                return not_found();
            }
            let set = st.patches(mode);
            let Some(z) = set.chunks.get(&(pid, h.to_string())) else {
                return not_found();
            };
            let mut f = st.faults.lock().unwrap();
            if let Some(r) = pre_fault(req, &mut f.chunk) {
                return r;
            }
            let mut r =
                range_response(req, z.clone(), 0..z.len(), true).header("Content-Type", "application/octet-stream");
            r.conn_rate = rate;
            post_fault(req, &mut f.chunk, r)
        }
        ["content-system", "v1", "depots", pid, os, ts, "main.bin"] => {
            let key = format!("{pid}/{os}/{ts}");
            let Some(blob) = st.v1().main_bins.get(&key) else {
                return not_found();
            };
            if let Some(r) = pre_fault(req, &mut f.main_bin) {
                return r;
            }
            let honor = !f.ignore_range_on_main_bin && !range_ignored(req, &f.main_bin);
            let mut r = range_response(req, blob.clone(), 0..blob.len(), honor)
                .header("Content-Type", "application/octet-stream")
                .header("Last-Modified", "Sun, 13 Sep 2020 12:26:40 GMT");
            let wrong = f.wrong_content_range_on_main_bin || f.main_bin.nth(f.main_bin.wrong_content_range_every);
            if wrong {
                r = shift_content_range(r, blob.len());
            }
            r.conn_rate = rate;
            post_fault(req, &mut f.main_bin, r)
        }
        _ => not_found(),
    }
}

/// `GET /products/{id}/patches?_version=4&from_build_id=&to_build_id=`.
fn patches_endpoint(st: &State, req: &Request, id: &str) -> Response {
    let mode = st.faults.lock().unwrap().patches;
    let (Ok(pid), Some(from), Some(to)) =
        (id.parse::<u64>(), req.query_param("from_build_id"), req.query_param("to_build_id"))
    else {
        return err(400, "invalid_request", "from_build_id and to_build_id are required");
    };
    if mode == super::PatchMode::Off {
        return err(404, "not_found", "no patch available");
    }
    let set = st.patches(mode);
    let Some(root) = set.roots.get(&(pid, from.to_string(), to.to_string())) else {
        return err(404, "not_found", "no patch available");
    };
    Response::json(
        200,
        &json!({"id": root, "from": from, "to": to, "link": super::patches::root_link(st.base(), root)}),
    )
}

fn dep_chunk(st: &State, req: &Request, aa: &str, bb: &str, h: &str) -> Response {
    let Some(z) = st.built.content.dep_chunks.get(h) else {
        return not_found();
    };
    if h.len() < 4 || &h[0..2] != aa || &h[2..4] != bb {
        return not_found();
    }
    let mut f = st.faults.lock().unwrap();
    if let Some(r) = pre_fault(req, &mut f.chunk) {
        return r;
    }
    let mut r = range_response(req, z.clone(), 0..z.len(), true).header("Content-Type", "application/octet-stream");
    r.conn_rate = f.per_conn_rate;
    post_fault(req, &mut f.chunk, r)
}

/// The library pages of `fixtures/library/`, as files so a reader sees what GOG sends.
const LIBRARY_PAGES: [&str; 3] = [
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/library/page-1.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/library/page-2.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/library/page-3.json")),
];

/// `account/getFilteredProducts?mediaType=1&page=N[&search=TEXT]` (bearer): the first
/// `library_pages` fixture pages, `totalPages`/`totalProducts` rewritten to match; `search`
/// filters titles case-insensitively (GOG does it server-side).
fn library(st: &State, req: &Request) -> Response {
    if !bearer_ok(st, req) {
        return unauthorized();
    }
    if req.query_param("mediaType") != Some("1") {
        return err(400, "invalid_request", "mediaType=1 expected");
    }
    let page: usize = match req.query_param("page").unwrap_or("1").parse() {
        Ok(p) if p >= 1 => p,
        _ => return err(400, "invalid_request", "bad page"),
    };
    if st.cfg.library_malformed_page == Some(page) {
        return Response::bytes(200, "{\"page\":2,\"totalPages\":3,\"products\":[{\"id\":")
            .header("Content-Type", "application/json");
    }
    let n = st.cfg.library_pages.min(LIBRARY_PAGES.len());
    let search = req.query_param("search").map(str::to_lowercase).filter(|s| !s.is_empty());
    let pages: Vec<Value> = LIBRARY_PAGES[..n]
        .iter()
        .map(|p| serde_json::from_str::<Value>(p).expect("fixtures/library page is JSON"))
        .collect();
    let mut products: Vec<Value> = pages
        .iter()
        .flat_map(|p| p["products"].as_array().cloned().unwrap_or_default())
        .filter(|p| {
            search.as_ref().is_none_or(|s| p["title"].as_str().unwrap_or("").to_lowercase().contains(s.as_str()))
        })
        .collect();
    // Searching re-pages the matches, as GOG does.
    let per_page = 3;
    let total = products.len();
    let total_pages = total.div_ceil(per_page);
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = (start + per_page).min(total);
    let items: Vec<Value> = products.drain(start..end).collect();
    let mut body = pages.first().cloned().unwrap_or_else(|| json!({"productsPerPage": per_page}));
    body["page"] = json!(page);
    body["totalPages"] = json!(total_pages);
    body["totalProducts"] = json!(total);
    body["products"] = json!(items);
    Response::json(200, &body)
}

/// A forged zlib object: `z` inflated, one byte changed, stored again (level 0) with its own
/// valid Adler-32. `None` if `z` does not inflate.
fn forge(z: &[u8]) -> Option<Arc<[u8]>> {
    use std::io::{Read, Write};
    let mut data = Vec::new();
    flate2::read::ZlibDecoder::new(z).read_to_end(&mut data).ok()?;
    let mid = data.len().checked_sub(1)? / 2;
    data[mid] ^= 0x5a;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(0));
    e.write_all(&data).ok()?;
    Some(e.finish().ok()?.into())
}
