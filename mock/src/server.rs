//! Minimal std-only HTTP/1.1 server: accept loop, one thread per connection, keep-alive, HEAD,
//! byte-range helpers, per-response fault injection (reset, truncation, trickle, corruption),
//! per-connection write pacing, and request statistics shared by every mock in this crate.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Largest accepted request head (request line plus headers), in bytes.
const MAX_HEAD: usize = 64 * 1024;

/// One parsed HTTP request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method as sent, e.g. `GET` or `HEAD`.
    pub method: String,
    /// Path without the query string, exactly as sent (not percent-decoded).
    pub path: String,
    /// The raw query string (without `?`), empty when absent.
    pub raw_query: String,
    /// Query parameters in order, percent-decoded (`+` is a space).
    pub query: Vec<(String, String)>,
    /// Header fields in order as `(name, value)`; use [`Request::header`] for lookup.
    pub headers: Vec<(String, String)>,
    /// Request body (only read when `Content-Length` is present).
    pub body: Vec<u8>,
    /// Id of the TCP connection this request arrived on (1-based, per server).
    pub conn_id: u64,
}

impl Request {
    /// Case-insensitive header lookup (first match).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// First query parameter named `name` (decoded).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// True for `HEAD` requests.
    pub fn is_head(&self) -> bool {
        self.method.eq_ignore_ascii_case("HEAD")
    }

    /// The bearer token of an `Authorization: Bearer <t>` header, if any.
    pub fn bearer(&self) -> Option<&str> {
        let v = self.header("authorization")?;
        let (scheme, tok) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| tok.trim())
    }
}

/// Decode `%XX` escapes and `+` (as space) in a query component.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse `a=1&b=2` into decoded pairs.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Faults applied while one response body is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyFaults {
    /// Write this many body bytes, then shut the socket down (both directions).
    pub reset_after: Option<u64>,
    /// Announce the full `Content-Length` but send only this many body bytes, then close.
    pub truncate_to: Option<u64>,
    /// Pace this body at this many bytes per second.
    pub trickle: Option<u64>,
    /// Flip (XOR 0xFF) the body byte at this offset (relative to the sent body).
    pub corrupt_byte: Option<u64>,
    /// Send this many body bytes, then fall silent for `silent_ms` and close (a stalled
    /// connection: headers and part of the body, then nothing).
    pub silent_after: Option<u64>,
    /// How long a `silent_after` connection stays silent, in milliseconds.
    pub silent_ms: u64,
    /// Send nothing for this many milliseconds, then close without an answer (a server that
    /// took the request and never answers).
    pub hold_ms: Option<u64>,
}

/// An HTTP response built by a handler.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Extra headers (`Content-Length` is always added by the server from the body slice unless
    /// the handler sets one itself).
    pub headers: Vec<(String, String)>,
    /// Shared body buffer; only `body[range]` is sent.
    pub body: Arc<[u8]>,
    /// The slice of `body` to send.
    pub range: std::ops::Range<usize>,
    /// Per-response faults.
    pub faults: BodyFaults,
    /// Pace this connection at this many bytes/s (`None` = the server-wide default set with
    /// [`Server::set_per_conn_rate`], `Some(0)` = unpaced). The pacing budget carries over
    /// between consecutive responses with the same rate on one connection.
    pub conn_rate: Option<u64>,
    /// Close the connection after this response.
    pub close: bool,
}

/// Canonical reason phrase for the status codes the mocks use.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

impl Response {
    /// Empty response with `status`.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Arc::from(Vec::new()),
            range: 0..0,
            faults: BodyFaults::default(),
            conn_rate: None,
            close: false,
        }
    }

    /// Response whose body is `body` (whole).
    pub fn bytes(status: u16, body: impl Into<Vec<u8>>) -> Response {
        let v: Vec<u8> = body.into();
        let n = v.len();
        let mut r = Response::new(status);
        r.body = Arc::from(v);
        r.range = 0..n;
        r
    }

    /// Response sending `body[range]` without copying the buffer.
    pub fn shared(status: u16, body: Arc<[u8]>, range: std::ops::Range<usize>) -> Response {
        let mut r = Response::new(status);
        r.body = body;
        r.range = range;
        r
    }

    /// JSON response (`Content-Type: application/json`).
    pub fn json(status: u16, v: &serde_json::Value) -> Response {
        Response::bytes(status, v.to_string()).header("Content-Type", "application/json")
    }

    /// Plain-text response.
    pub fn text(status: u16, s: &str) -> Response {
        Response::bytes(status, s.as_bytes().to_vec()).header("Content-Type", "text/plain")
    }

    /// Add a header.
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Response {
        self.headers.push((k.to_string(), v.into()));
        self
    }

    /// Cut the body after `n` bytes by shutting the connection down.
    pub fn reset_after(mut self, n: u64) -> Response {
        self.faults.reset_after = Some(n);
        self
    }

    /// Send the full `Content-Length` but only `n` body bytes, then close.
    pub fn truncate_to(mut self, n: u64) -> Response {
        self.faults.truncate_to = Some(n);
        self
    }

    /// Pace the body at `bps` bytes per second.
    pub fn trickle(mut self, bps: u64) -> Response {
        self.faults.trickle = Some(bps.max(1));
        self
    }

    /// Take the request, send nothing for `ms` milliseconds, then close without an answer.
    pub fn hold(mut self, ms: u64) -> Response {
        self.faults.hold_ms = Some(ms);
        self
    }

    /// Send `n` body bytes, then stay silent for `ms` milliseconds and close.
    pub fn silent_after(mut self, n: u64, ms: u64) -> Response {
        self.faults.silent_after = Some(n);
        self.faults.silent_ms = ms;
        self
    }

    /// Flip the body byte at `offset`.
    pub fn corrupt_byte(mut self, offset: u64) -> Response {
        self.faults.corrupt_byte = Some(offset);
        self
    }

    /// Close the connection after this response.
    pub fn close(mut self) -> Response {
        self.close = true;
        self
    }

    /// Length of the body slice that will be sent.
    pub fn body_len(&self) -> usize {
        self.range.len()
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }
}

/// Result of parsing a `Range` header against a resource of `total` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// No (usable) Range header: send everything with 200.
    Full,
    /// A satisfiable single range, inclusive `start..=end`.
    Partial(u64, u64),
    /// Syntactically valid but unsatisfiable: answer 416.
    Unsatisfiable,
}

/// Parse a single-range `bytes=a-b`, `bytes=a-` or `bytes=-n` header. Multi-range and
/// malformed headers yield [`RangeSpec::Full`] (as RFC 9110 allows).
pub fn parse_range(header: Option<&str>, total: u64) -> RangeSpec {
    let Some(h) = header else {
        return RangeSpec::Full;
    };
    let h = h.trim();
    let Some(spec) = h.strip_prefix("bytes=") else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return RangeSpec::Full;
        };
        if n == 0 || total == 0 {
            return RangeSpec::Unsatisfiable;
        }
        let n = n.min(total);
        return RangeSpec::Partial(total - n, total - 1);
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeSpec::Full;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return RangeSpec::Full,
        }
    };
    if start >= total {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Partial(start, end.min(total - 1))
}

/// Build a 200/206/416 response for `data[window]` honouring the request's `Range` (when
/// `honor_range`) and HEAD. `Accept-Ranges: bytes` is always set.
pub fn range_response(req: &Request, data: Arc<[u8]>, window: std::ops::Range<usize>, honor_range: bool) -> Response {
    let total = window.len() as u64;
    let spec = if honor_range { parse_range(req.header("range"), total) } else { RangeSpec::Full };
    match spec {
        RangeSpec::Full => Response::shared(200, data, window).header("Accept-Ranges", "bytes"),
        RangeSpec::Partial(a, b) => {
            let s = window.start + a as usize;
            let e = window.start + b as usize + 1;
            Response::shared(206, data, s..e)
                .header("Accept-Ranges", "bytes")
                .header("Content-Range", format!("bytes {a}-{b}/{total}"))
        }
        RangeSpec::Unsatisfiable => {
            Response::new(416).header("Accept-Ranges", "bytes").header("Content-Range", format!("bytes */{total}"))
        }
    }
}

/// Request counters and log, shared by a server and its handler.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests handled.
    pub requests: AtomicU64,
    /// Requests that carried a `Range` header.
    pub range_requests: AtomicU64,
    /// HEAD requests.
    pub head_requests: AtomicU64,
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// Response body bytes actually written.
    pub body_bytes: AtomicU64,
    per_path: Mutex<HashMap<String, u64>>,
    log: Mutex<Vec<LogEntry>>,
}

/// One entry of the request log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// The `Range` header, if sent.
    pub range: Option<String>,
    /// Status answered.
    pub status: u16,
    /// Connection id.
    pub conn_id: u64,
}

impl Stats {
    fn record(&self, req: &Request, status: u16) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let range = req.header("range").map(str::to_string);
        if range.is_some() {
            self.range_requests.fetch_add(1, Ordering::Relaxed);
        }
        if req.is_head() {
            self.head_requests.fetch_add(1, Ordering::Relaxed);
        }
        *self.per_path.lock().unwrap().entry(req.path.clone()).or_insert(0) += 1;
        self.log.lock().unwrap().push(LogEntry {
            method: req.method.clone(),
            path: req.path.clone(),
            range,
            status,
            conn_id: req.conn_id,
        });
    }

    /// Total requests.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    /// Requests with a Range header.
    pub fn range_requests(&self) -> u64 {
        self.range_requests.load(Ordering::Relaxed)
    }
    /// HEAD requests.
    pub fn head_requests(&self) -> u64 {
        self.head_requests.load(Ordering::Relaxed)
    }
    /// Accepted connections.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
    /// Body bytes written.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes.load(Ordering::Relaxed)
    }
    /// Requests for exactly `path` (query excluded).
    pub fn path_count(&self, path: &str) -> u64 {
        self.per_path.lock().unwrap().get(path).copied().unwrap_or(0)
    }
    /// Requests whose path starts with `prefix`.
    pub fn count(&self, prefix: &str) -> u64 {
        self.log.lock().unwrap().iter().filter(|e| e.path.starts_with(prefix)).count() as u64
    }
    /// Requests whose path contains `needle`.
    pub fn count_containing(&self, needle: &str) -> u64 {
        self.log.lock().unwrap().iter().filter(|e| e.path.contains(needle)).count() as u64
    }
    /// Requests whose log entry satisfies `f`.
    pub fn count_where(&self, f: impl Fn(&LogEntry) -> bool) -> u64 {
        self.log.lock().unwrap().iter().filter(|e| f(e)).count() as u64
    }
    /// A copy of the request log.
    pub fn log(&self) -> Vec<LogEntry> {
        self.log.lock().unwrap().clone()
    }
    /// Clear all counters and the log (connections included).
    pub fn reset(&self) {
        for c in [&self.requests, &self.range_requests, &self.head_requests, &self.connections, &self.body_bytes] {
            c.store(0, Ordering::Relaxed);
        }
        self.per_path.lock().unwrap().clear();
        self.log.lock().unwrap().clear();
    }
}

/// A request handler.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

struct Shared {
    stop: AtomicBool,
    stats: Arc<Stats>,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    /// Server-wide default pacing per connection (bytes/s, 0 = none).
    conn_rate: AtomicU64,
}

/// A running loopback HTTP server. Dropping it stops accepting and closes live connections.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Bind `127.0.0.1:0` and serve `handler`.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Server {
        Server::start_on(0, Arc::new(handler))
    }

    /// Bind `127.0.0.1:port` (0 = any free port) and serve `handler`.
    pub fn start_on(port: u16, handler: Handler) -> Server {
        Server::start_with_stats(port, handler, Arc::new(Stats::default()))
    }

    /// Like [`Server::start_on`] with a caller-provided [`Stats`].
    pub fn start_with_stats(port: u16, handler: Handler, stats: Arc<Stats>) -> Server {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            stats,
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            conn_rate: AtomicU64::new(0),
        });
        let sh = shared.clone();
        let accept = thread::Builder::new()
            .name("mock-accept".into())
            .spawn(move || accept_loop(listener, sh, handler))
            .expect("spawn accept thread");
        Server { addr, shared, accept: Some(accept) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Request statistics.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Shared handle to the statistics.
    pub fn stats_arc(&self) -> Arc<Stats> {
        self.shared.stats.clone()
    }

    /// Pace every connection at `bps` bytes/s (None = unlimited); applies to new writes.
    pub fn set_per_conn_rate(&self, bps: Option<u64>) {
        self.shared.conn_rate.store(bps.unwrap_or(0), Ordering::Relaxed);
    }

    /// Forcefully close all currently open connections (the server keeps accepting).
    pub fn drop_connections(&self) {
        for (_, s) in self.shared.conns.lock().unwrap().drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        self.drop_connections();
    }
}

fn accept_loop(listener: TcpListener, sh: Arc<Shared>, handler: Handler) {
    for stream in listener.incoming() {
        if sh.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = sh.next_conn.fetch_add(1, Ordering::Relaxed);
        sh.stats.connections.fetch_add(1, Ordering::Relaxed);
        if let Ok(c) = stream.try_clone() {
            sh.conns.lock().unwrap().insert(id, c);
        }
        let sh2 = sh.clone();
        let h = handler.clone();
        let _ = thread::Builder::new().name(format!("mock-conn-{id}")).spawn(move || {
            let _ = serve_conn(stream, id, &sh2, &h);
            sh2.conns.lock().unwrap().remove(&id);
        });
    }
}

/// Token-bucket style pacer: `wait(n)` blocks until `n` more bytes may be sent.
struct Pacer {
    rate: u64,
    next: Instant,
}

impl Pacer {
    fn new(rate: u64) -> Pacer {
        Pacer { rate: rate.max(1), next: Instant::now() }
    }
    /// Account for `n` bytes about to be sent; sleeps (in small steps, watching `stop`) first.
    fn pace(&mut self, n: usize, stop: &AtomicBool) -> bool {
        let now = Instant::now();
        if self.next + Duration::from_millis(200) < now {
            self.next = now;
        }
        while Instant::now() < self.next {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let left = self.next.saturating_duration_since(Instant::now());
            thread::sleep(left.min(Duration::from_millis(20)));
        }
        self.next += Duration::from_secs_f64(n as f64 / self.rate as f64);
        true
    }
    fn piece(&self) -> usize {
        ((self.rate / 20) as usize).clamp(1, 64 * 1024)
    }
}

fn read_head(r: &mut BufReader<TcpStream>, sh: &Shared) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        loop {
            match r.read_until(b'\n', &mut line) {
                Ok(0) => return Ok(None),
                Ok(_) => break,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if sh.stop.load(Ordering::Relaxed) {
                        return Ok(None);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if !line.is_empty() && line.ends_with(b"\n") {
                break;
            }
        }
        if head.is_empty() && (line == b"\r\n" || line == b"\n") {
            continue; // tolerate stray CRLF between requests
        }
        head.extend_from_slice(&line);
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        if line == b"\r\n" || line == b"\n" {
            return Ok(Some(head));
        }
    }
}

fn parse_head(head: &[u8], conn_id: u64) -> Option<Request> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let first = lines.next()?;
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let (path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Request { method, query: parse_query(&raw_query), path, raw_query, headers, body: Vec::new(), conn_id })
}

fn serve_conn(stream: TcpStream, id: u64, sh: &Shared, handler: &Handler) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut conn_pacer: Option<Pacer> = None;
    loop {
        if sh.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Some(head) = read_head(&mut reader, sh)? else {
            return Ok(());
        };
        let Some(mut req) = parse_head(&head, id) else {
            let _ = out.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return Ok(());
        };
        if let Some(n) = req.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            let mut body = vec![0u8; n.min(16 << 20)];
            read_exact_patient(&mut reader, &mut body, sh)?;
            req.body = body;
        }
        let resp = handler(&req);
        sh.stats.record(&req, resp.status);
        let close_req = req.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let default_rate = sh.conn_rate.load(Ordering::Relaxed);
        let want = match resp.conn_rate {
            Some(r) => r,
            None => default_rate,
        };
        if want == 0 {
            conn_pacer = None;
        } else if conn_pacer.as_ref().map(|p| p.rate) != Some(want) {
            conn_pacer = Some(Pacer::new(want));
        }
        let keep = write_response(&mut out, &req, &resp, close_req, sh, &mut conn_pacer)?;
        if !keep {
            let _ = out.flush();
            let _ = out.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}

fn read_exact_patient(r: &mut impl Read, buf: &mut [u8], sh: &Shared) -> io::Result<()> {
    let mut off = 0;
    while off < buf.len() {
        match r.read(&mut buf[off..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => off += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                if sh.stop.load(Ordering::Relaxed) {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes the response; returns whether the connection may be kept alive.
fn write_response(
    out: &mut TcpStream,
    req: &Request,
    resp: &Response,
    close_req: bool,
    sh: &Shared,
    conn_pacer: &mut Option<Pacer>,
) -> io::Result<bool> {
    if let Some(ms) = resp.faults.hold_ms {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        while std::time::Instant::now() < until {
            if sh.stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        return Ok(false);
    }
    let body = &resp.body[resp.range.clone()];
    let close = close_req || resp.close;
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    if !resp.has_header("content-length") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if req.is_head() || resp.status == 204 || resp.status == 304 {
        return Ok(!close);
    }
    let f = resp.faults;
    let mut limit = body.len() as u64;
    let mut cut = false;
    if let Some(k) = f.reset_after {
        if k < limit {
            limit = k;
            cut = true;
        }
    }
    if let Some(k) = f.truncate_to {
        if k < limit {
            limit = k;
            cut = true;
        }
    }
    let mut silent = false;
    if let Some(k) = f.silent_after {
        if k < limit {
            limit = k;
            cut = true;
            silent = true;
        }
    }
    let limit = limit as usize;
    let mut trickle = f.trickle.map(Pacer::new);
    let mut piece = 256 * 1024;
    if let Some(p) = &trickle {
        piece = piece.min(p.piece());
    }
    if let Some(p) = conn_pacer.as_ref() {
        piece = piece.min(p.piece());
    }
    let mut sent = 0usize;
    let mut scratch = Vec::new();
    while sent < limit {
        let n = piece.min(limit - sent);
        if let Some(p) = trickle.as_mut() {
            if !p.pace(n, &sh.stop) {
                return Ok(false);
            }
        }
        if let Some(p) = conn_pacer.as_mut() {
            if !p.pace(n, &sh.stop) {
                return Ok(false);
            }
        }
        let mut chunk = &body[sent..sent + n];
        if let Some(c) = f.corrupt_byte {
            let c = c as usize;
            if c >= sent && c < sent + n {
                scratch.clear();
                scratch.extend_from_slice(chunk);
                scratch[c - sent] ^= 0xFF;
                chunk = &scratch;
            }
        }
        // Counted before the write so a client that saw the bytes also sees the counter.
        sh.stats.body_bytes.fetch_add(n as u64, Ordering::Relaxed);
        out.write_all(chunk)?;
        sent += n;
        if sh.stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
    }
    if cut {
        out.flush()?;
        if silent {
            let until = Instant::now() + Duration::from_millis(f.silent_ms);
            while Instant::now() < until && !sh.stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = out.shutdown(Shutdown::Both);
        return Ok(false);
    }
    Ok(!close)
}
