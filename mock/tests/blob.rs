//! Raw-socket tests of the HTTP server core and the fault-injecting `BlobServer`.

use galaxy_dl_mock::client::{get, request, split_url, Conn};
use galaxy_dl_mock::data::{md5_hex, random_bytes};
use galaxy_dl_mock::{BlobServer, Response, Server};
use std::time::{Duration, Instant};

fn blob(n: usize) -> BlobServer {
    BlobServer::new(random_bytes(7, n))
}

#[test]
fn full_get_and_md5() {
    let b = blob(100_000);
    let r = get(&b.url());
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b.data());
    assert_eq!(md5_hex(&r.body), b.md5_hex());
    assert!(r.header("content-encoding").is_none());
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(b.stats().requests(), 1);
    assert_eq!(b.stats().body_bytes(), 100_000);
}

#[test]
fn ranges() {
    let b = blob(1000);
    let d = b.data().to_vec();
    let r = request("GET", &b.url(), &[("Range", "bytes=10-19")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/1000"));
    assert_eq!(r.header("content-length"), Some("10"));
    assert_eq!(r.body, &d[10..20]);
    let r = request("GET", &b.url(), &[("Range", "bytes=990-")]);
    assert_eq!(r.header("content-range"), Some("bytes 990-999/1000"));
    assert_eq!(r.body, &d[990..]);
    let r = request("GET", &b.url(), &[("Range", "bytes=-5")]);
    assert_eq!(r.header("content-range"), Some("bytes 995-999/1000"));
    assert_eq!(r.body, &d[995..]);
    let r = request("GET", &b.url(), &[("Range", "bytes=900-5000")]);
    assert_eq!(r.header("content-range"), Some("bytes 900-999/1000"));
    let r = request("GET", &b.url(), &[("Range", "bytes=1000-1001")]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */1000"));
    assert_eq!(b.stats().range_requests(), 5);
}

#[test]
fn head() {
    let b = blob(1234);
    let r = request("HEAD", &b.url(), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("1234"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(b.stats().head_requests(), 1);
    b.faults(|f| f.head_supported = false);
    assert_eq!(request("HEAD", &b.url(), &[]).status, 405);
}

#[test]
fn keep_alive_and_close() {
    let b = blob(5000);
    let (host, path) = split_url(&b.url());
    let mut c = Conn::connect(&host).unwrap();
    let r1 = c.send("GET", &path, &[("Range", "bytes=0-99")]).unwrap();
    let r2 = c.send("HEAD", &path, &[]).unwrap();
    let r3 = c.send("GET", "/blob2", &[]).unwrap();
    assert_eq!((r1.status, r2.status, r3.status), (206, 200, 200));
    assert_eq!(r3.body.len(), 5000);
    assert_eq!(b.stats().connections(), 1);
    assert_eq!(b.stats().requests(), 3);
    assert_eq!(b.stats().path_count("/blob2"), 1);
    assert_eq!(b.stats().count("/blob"), 3);
    let r4 = c.send("GET", &path, &[("Connection", "close")]).unwrap();
    assert_eq!(r4.header("connection"), Some("close"));
    assert!(c.send("GET", &path, &[]).is_err());
}

#[test]
fn range_ignored_and_wrong_content_range() {
    let b = blob(1000);
    b.faults(|f| f.honor_range = false);
    let r = request("GET", &b.url(), &[("Range", "bytes=10-19")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 1000);
    b.faults(|f| {
        f.honor_range = true;
        f.wrong_content_range = true
    });
    let r = request("GET", &b.url(), &[("Range", "bytes=10-19")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 11-20/1000"));
    assert_eq!(r.body.len(), 10);
}

#[test]
fn fail_first_and_status_override() {
    let b = blob(100);
    b.faults(|f| f.fail_first = 2);
    assert_eq!(get(&b.url()).status, 503);
    assert_eq!(get(&b.url()).status, 503);
    assert_eq!(get(&b.url()).status, 200);
    b.faults(|f| f.status_override = Some(404));
    assert_eq!(get(&b.url()).status, 404);
    assert_eq!(request("HEAD", &b.url(), &[]).status, 404);
}

#[test]
fn reset_truncate_corrupt() {
    let b = blob(10_000);
    b.faults(|f| {
        f.reset_next = 1;
        f.reset_after = 100;
    });
    let r = get(&b.url());
    assert_eq!(r.status, 200);
    assert!(!r.complete);
    assert_eq!(r.body.len(), 100);
    assert!(get(&b.url()).complete);

    b.faults(|f| {
        f.truncate_next = 1;
        f.truncate_to = 2500;
    });
    let r = get(&b.url());
    assert_eq!(r.header("content-length"), Some("10000"));
    assert_eq!(r.body.len(), 2500);
    assert!(!r.complete);

    b.faults(|f| f.corrupt_next = 1);
    let r = get(&b.url());
    assert!(r.complete);
    assert_ne!(md5_hex(&r.body), b.md5_hex());
    let diff: Vec<usize> = (0..r.body.len()).filter(|&i| r.body[i] != b.data()[i]).collect();
    assert_eq!(diff, vec![5000]);
    assert_eq!(md5_hex(&get(&b.url()).body), b.md5_hex());
}

#[test]
fn trickle_next_and_rate() {
    let b = blob(2000);
    b.faults(|f| {
        f.trickle_next = 1;
        f.trickle_next_rate = 4000;
    });
    let t = Instant::now();
    let r = get(&b.url());
    assert!(r.complete);
    let el = t.elapsed();
    assert!(el >= Duration::from_millis(350), "{el:?}");
    let t = Instant::now();
    get(&b.url());
    assert!(t.elapsed() < Duration::from_millis(300));

    let b = blob(50_000);
    b.faults(|f| f.per_conn_rate = Some(100_000));
    let t = Instant::now();
    assert!(get(&b.url()).complete);
    let el = t.elapsed();
    assert!(el >= Duration::from_millis(400), "{el:?}");
}

#[test]
fn drop_stops_trickle_promptly() {
    let b = blob(100_000);
    b.faults(|f| f.trickle = Some(100));
    let (host, path) = split_url(&b.url());
    let h = std::thread::spawn(move || {
        let mut c = Conn::connect(&host).unwrap();
        c.send("GET", &path, &[]).map(|r| r.complete)
    });
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    drop(b);
    let res = h.join().unwrap();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(!res.unwrap_or(false));
}

#[test]
fn generic_server_query_and_headers() {
    let s = Server::start(|req| {
        let body = format!(
            "{}|{}|{:?}|{}|{}",
            req.method,
            req.path,
            req.query,
            req.header("X-TEST").unwrap_or("-"),
            req.conn_id
        );
        Response::text(200, &body)
    });
    let r = request("GET", &format!("{}/p/a?x=1&y=a%20b+c&z", s.url()), &[("x-test", "v")]);
    let b = String::from_utf8(r.body).unwrap();
    assert_eq!(b, r#"GET|/p/a|[("x", "1"), ("y", "a b c"), ("z", "")]|v|1"#);
    s.stats().reset();
    assert_eq!(s.stats().requests(), 0);
}

#[test]
fn parallel_ranges_reassemble_and_rate_is_per_connection() {
    let b = blob(400_000);
    b.faults(|f| f.per_conn_rate = Some(400_000));
    let url = b.url();
    let t = Instant::now();
    let parts: Vec<Vec<u8>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let url = url.clone();
                s.spawn(move || {
                    let (host, path) = split_url(&url);
                    let mut c = Conn::connect(&host).unwrap();
                    let mut out = Vec::new();
                    // two keep-alive requests per connection
                    for k in 0..2 {
                        let a = i * 100_000 + k * 50_000;
                        let r = c.send("GET", &path, &[("Range", &format!("bytes={a}-{}", a + 49_999))]).unwrap();
                        assert_eq!(r.status, 206);
                        out.extend(r.body);
                    }
                    out
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let el = t.elapsed();
    assert_eq!(parts.concat(), b.data());
    // 100 KB per connection at 400 KB/s each: ~0.25 s if per connection, ~1 s if global.
    assert!(el >= Duration::from_millis(180) && el < Duration::from_millis(800), "{el:?}");
    assert_eq!(b.stats().connections(), 4);
    assert_eq!(b.stats().range_requests(), 8);
}
