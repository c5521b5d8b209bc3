//! A tiny blocking HTTP/1.1 client on a raw `TcpStream`, enough for this crate's tests: one
//! keep-alive connection, `Content-Length` bodies, reports truncated bodies instead of failing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A parsed response.
#[derive(Debug, Clone)]
pub struct ClientResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes received (possibly fewer than announced).
    pub body: Vec<u8>,
    /// True when the whole announced body arrived.
    pub complete: bool,
}

impl ClientResponse {
    /// Case-insensitive header lookup.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// Body parsed as JSON (panics when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body[..self.body.len().min(200)]))
        })
    }
}

/// One keep-alive connection to `host:port`.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

/// Split `http://host:port/path?q` into (`host:port`, `/path?q`).
pub fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("http:// URL");
    match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
        None => (rest.to_string(), "/".to_string()),
    }
}

impl Conn {
    /// Connect to `host:port` (e.g. `127.0.0.1:1234`).
    pub fn connect(host: &str) -> std::io::Result<Conn> {
        let s = TcpStream::connect(host)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn { reader: BufReader::new(s.try_clone()?), writer: s, host: host.to_string() })
    }

    /// Send one request (`target` = path with query) with extra headers and read the answer.
    pub fn send(&mut self, method: &str, target: &str, headers: &[(&str, &str)]) -> std::io::Result<ClientResponse> {
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.writer.write_all(req.as_bytes())?;
        self.read_response(method.eq_ignore_ascii_case("HEAD"))
    }

    fn read_response(&mut self, head: bool) -> std::io::Result<ClientResponse> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 =
            line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or(std::io::ErrorKind::InvalidData)?;
        let mut headers = Vec::new();
        loop {
            let mut l = String::new();
            if self.reader.read_line(&mut l)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut resp = ClientResponse { status, headers, body: Vec::new(), complete: true };
        if head {
            return Ok(resp);
        }
        match resp.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            Some(n) => {
                let mut buf = vec![0u8; n];
                let mut off = 0;
                while off < n {
                    match self.reader.read(&mut buf[off..]) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => off += k,
                    }
                }
                buf.truncate(off);
                resp.complete = off == n;
                resp.body = buf;
            }
            None => {
                let _ = self.reader.read_to_end(&mut resp.body);
            }
        }
        Ok(resp)
    }
}

/// One request on a fresh connection to an absolute `http://` URL.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> ClientResponse {
    let (host, target) = split_url(url);
    let mut c = Conn::connect(&host).expect("connect");
    c.send(method, &target, headers).expect("request")
}

/// `GET url`.
pub fn get(url: &str) -> ClientResponse {
    request("GET", url, &[])
}

/// `GET url` with `Authorization: Bearer token`.
pub fn get_auth(url: &str, token: &str) -> ClientResponse {
    let h = format!("Bearer {token}");
    request("GET", url, &[("Authorization", &h)])
}
