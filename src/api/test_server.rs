//! A tiny HTTP/1.1 responder for unit tests (std only): it answers the Nth connection with the
//! Nth canned `(status, body)` and `Connection: close`, and records each request line and its
//! `Authorization` header. Not a GOG mock: the full mock is the `galaxy-dl-mock` crate.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Client, Endpoints};
use crate::fetch::retry::RetryPolicy;

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// Path with query string.
    pub path: String,
    /// The `Authorization` header, if sent.
    pub authorization: Option<String>,
}

/// A running responder.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Arc<Mutex<Vec<Request>>>,
    /// Config dirs of the clients made for this server ([`client_for`]), removed with it.
    dirs: Mutex<Vec<TempDir>>,
}

impl TestServer {
    /// Start serving `answers` in order, one per connection.
    pub fn start(answers: Vec<(u16, Vec<u8>)>) -> TestServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for (status, body) in answers {
                let Ok((mut s, _)) = l.accept() else { return };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let mut lines = text.lines();
                let mut first = lines.next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_string();
                let path = first.next().unwrap_or("").to_string();
                let authorization = lines.find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization").then(|| v.trim().to_string())
                });
                log2.lock().unwrap().push(Request { method, path, authorization });
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
                let _ = s.flush();
            }
        });
        TestServer { base, log, dirs: Mutex::new(Vec::new()) }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

/// A directory removed (with everything in it) when dropped.
pub struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

/// A fresh, empty directory under the system temp dir, removed when the guard is dropped.
pub fn temp_dir(name: &str) -> TempDir {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let d = std::env::temp_dir().join(format!(
        "galaxy-dl-test-{name}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

/// A client whose every endpoint is `srv`, with no retries and its own empty config dir.
pub fn client_for(srv: &TestServer, name: &str) -> Client {
    let agent = crate::http::agent(&crate::http::HttpOptions::default()).expect("agent");
    let dir = temp_dir(name);
    let path = dir.to_path_buf();
    srv.dirs.lock().unwrap().push(dir);
    Client::new(
        agent,
        Endpoints::single(&srv.base),
        RetryPolicy { max_retries: 0, fixed_sleep: Some(std::time::Duration::ZERO) },
        path,
    )
}

/// Store a valid (not expired) login in `c`'s config dir.
pub fn log_in(c: &Client, access: &str, refresh: &str) {
    let t = super::Tokens {
        access_token: access.into(),
        refresh_token: refresh.into(),
        expires_at: super::now_secs() + 3000,
        user_id: "1".into(),
    };
    super::auth::save_tokens(c.config_dir(), &t).unwrap();
}
