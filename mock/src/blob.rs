//! `BlobServer`: one byte buffer served at `/blob` and `/blob2` with runtime-switchable faults
//! (Range ignored, HEAD refused, wrong Content-Range, 5xx, resets, truncation, corruption,
//! trickle, per-connection rate), for the segmented `get` engine's tests and benchmarks.

use crate::data::md5_hex;
use crate::server::{range_response, Request, Response, Server, Stats};
use std::sync::{Arc, Mutex};

/// Fault knobs of a [`BlobServer`]; change them with [`BlobServer::faults`].
#[derive(Debug, Clone)]
pub struct BlobFaults {
    /// Answer Range requests with 206 (default true); false = 200 with the whole body.
    pub honor_range: bool,
    /// Answer HEAD (default true); false = 405.
    pub head_supported: bool,
    /// Answer 206 with a `Content-Range` whose start is shifted by +1.
    pub wrong_content_range: bool,
    /// The next N GETs answer 503.
    pub fail_first: u32,
    /// Every request answers this status (empty body).
    pub status_override: Option<u16>,
    /// The next N GET bodies are cut after `reset_after` bytes by closing the connection.
    pub reset_next: u32,
    /// Bytes sent before a reset.
    pub reset_after: u64,
    /// The next N GET bodies announce the full length but stop after `truncate_to` bytes.
    pub truncate_next: u32,
    /// Bytes sent before truncation.
    pub truncate_to: u64,
    /// The next N GET bodies have their middle byte flipped.
    pub corrupt_next: u32,
    /// Pace every body at this many bytes/s.
    pub trickle: Option<u64>,
    /// Only the next N bodies trickle, at `trickle_next_rate` bytes/s.
    pub trickle_next: u32,
    /// Rate used by `trickle_next` (default 100 B/s).
    pub trickle_next_rate: u64,
    /// Pace each TCP connection at this many bytes/s.
    pub per_conn_rate: Option<u64>,
    /// `ETag` header value (quoted form is sent as given).
    pub etag: String,
    /// The next N ranged GETs are answered 200 with the whole blob.
    pub ignore_range_next: u32,
    /// The next N ranged GETs are answered 206 with a `Content-Range` shifted by +1.
    pub wrong_content_range_next: u32,
    /// `Retry-After` value sent with `fail_first` failures.
    pub retry_after: Option<String>,
    /// `Last-Modified` header value.
    pub last_modified: String,
}

impl Default for BlobFaults {
    fn default() -> Self {
        BlobFaults {
            honor_range: true,
            head_supported: true,
            wrong_content_range: false,
            fail_first: 0,
            status_override: None,
            reset_next: 0,
            reset_after: 0,
            truncate_next: 0,
            truncate_to: 0,
            corrupt_next: 0,
            trickle: None,
            trickle_next: 0,
            trickle_next_rate: 100,
            per_conn_rate: None,
            etag: "\"mock-blob-1\"".into(),
            ignore_range_next: 0,
            wrong_content_range_next: 0,
            retry_after: None,
            last_modified: "Wed, 01 Jan 2025 00:00:00 GMT".into(),
        }
    }
}

struct BlobState {
    data: Arc<[u8]>,
    faults: Mutex<BlobFaults>,
}

/// A loopback server for one byte buffer at `/blob` (and an identical `/blob2`).
pub struct BlobServer {
    server: Server,
    state: Arc<BlobState>,
    md5: String,
}

impl BlobServer {
    /// Serve `data` on a free loopback port.
    pub fn new(data: Vec<u8>) -> BlobServer {
        BlobServer::new_on(0, data)
    }

    /// Serve `data` on `port` (0 = any free port).
    pub fn new_on(port: u16, data: Vec<u8>) -> BlobServer {
        BlobServer::from_arc(port, Arc::from(data))
    }

    /// Serve an already shared buffer on `port` (0 = any free port) without copying it.
    pub fn from_arc(port: u16, data: Arc<[u8]>) -> BlobServer {
        let md5 = md5_hex(&data);
        let state = Arc::new(BlobState { data, faults: Mutex::new(BlobFaults::default()) });
        let st = state.clone();
        let server = Server::start_on(port, Arc::new(move |req: &Request| handle(&st, req)));
        BlobServer { server, state, md5 }
    }

    /// Full URL of `/blob`.
    pub fn url(&self) -> String {
        format!("{}/blob", self.server.url())
    }

    /// Full URL of `/blob2` (same bytes, separate path counter).
    pub fn url2(&self) -> String {
        format!("{}/blob2", self.server.url())
    }

    /// The underlying server (address, base URL).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Request statistics.
    pub fn stats(&self) -> &Stats {
        self.server.stats()
    }

    /// Hex MD5 of the whole blob.
    pub fn md5_hex(&self) -> &str {
        &self.md5
    }

    /// The served bytes.
    pub fn data(&self) -> &[u8] {
        &self.state.data
    }

    /// Change fault knobs at runtime.
    pub fn faults(&self, f: impl FnOnce(&mut BlobFaults)) {
        f(&mut self.state.faults.lock().unwrap());
    }
}

fn take(counter: &mut u32) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}

fn handle(st: &BlobState, req: &Request) -> Response {
    if req.path != "/blob" && req.path != "/blob2" {
        return Response::text(404, "not found");
    }
    let mut f = st.faults.lock().unwrap();
    let rate = f.per_conn_rate;
    if let Some(s) = f.status_override {
        let mut r = Response::text(s, "status override");
        r.conn_rate = rate;
        return r;
    }
    let is_head = req.is_head();
    if !is_head && !req.method.eq_ignore_ascii_case("GET") {
        return Response::text(405, "method not allowed").header("Allow", "GET, HEAD");
    }
    if is_head && !f.head_supported {
        return Response::new(405).header("Allow", "GET");
    }
    if !is_head && take(&mut f.fail_first) {
        let mut r = Response::text(503, "try again later");
        if let Some(ra) = &f.retry_after {
            r = r.header("Retry-After", ra.clone());
        }
        r.conn_rate = rate;
        return r;
    }
    let total = st.data.len();
    let ranged = !is_head && req.header("range").is_some();
    let ignore = ranged && take(&mut f.ignore_range_next);
    let mut r = range_response(req, st.data.clone(), 0..total, f.honor_range && !ignore);
    r = r
        .header("ETag", f.etag.clone())
        .header("Last-Modified", f.last_modified.clone())
        .header("Content-Type", "application/octet-stream");
    let wrong = f.wrong_content_range || (r.status == 206 && take(&mut f.wrong_content_range_next));
    if r.status == 206 && wrong {
        let a = r.range.start as u64 + 1;
        let b = a + r.range.len() as u64 - 1;
        r.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-range"));
        r = r.header("Content-Range", format!("bytes {a}-{b}/{total}"));
    }
    r.conn_rate = rate;
    if is_head || r.status >= 300 {
        return r;
    }
    let len = r.body_len() as u64;
    if take(&mut f.reset_next) {
        r = r.reset_after(f.reset_after);
    }
    if take(&mut f.truncate_next) {
        r = r.truncate_to(f.truncate_to);
    }
    if take(&mut f.corrupt_next) && len > 0 {
        r = r.corrupt_byte(len / 2);
    }
    if let Some(t) = f.trickle {
        r = r.trickle(t);
    }
    if take(&mut f.trickle_next) {
        r = r.trickle(f.trickle_next_rate);
    }
    r
}
