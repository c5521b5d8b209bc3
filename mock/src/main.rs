//! `galaxy-dl-mock`: runs the GOG mock (or, with `--blob`, a plain Range blob server) on
//! 127.0.0.1 and prints shell `export` lines pointing galaxy-dl at it, for demos and benchmarks.

use galaxy_dl_mock::data::fill_compressible;
use galaxy_dl_mock::{BlobServer, GogMock, MockConfig};
use std::io::{Read, Write};
use std::time::Instant;

const USAGE: &str = "usage: galaxy-dl-mock [--port N] [--chunk-size BYTES] [--v1-size BYTES]
                      [--bench-v2 BYTES] [--bench-v1 BYTES] [--token-ttl SECS] [--link-ttl SECS]
                      [--blob BYTES]
Serves until killed (or until stdin, when it is a pipe, reaches end of file).
BYTES accepts 1048576, 512K, 10M, 1G.";

/// Parse `123`, `512K`, `10M`, `1G` (binary units).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&s[..i], 1 << 20),
        (i, 'g' | 'G') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

fn fail(msg: &str) -> ! {
    eprintln!("galaxy-dl-mock: {msg}\n{USAGE}");
    std::process::exit(2)
}

fn main() {
    let mut cfg = MockConfig::default();
    let mut blob: Option<u64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        if key == "-h" || key == "--help" {
            println!("{USAGE}");
            return;
        }
        const KNOWN: &[&str] =
            &["--port", "--chunk-size", "--v1-size", "--bench-v2", "--bench-v1", "--token-ttl", "--link-ttl", "--blob"];
        if !KNOWN.contains(&key.as_str()) {
            fail(&format!("unknown argument: {key}"));
        }
        let val = inline.or_else(|| args.next()).unwrap_or_else(|| fail(&format!("{key} needs a value")));
        let size = || parse_size(&val).unwrap_or_else(|| fail(&format!("bad value for {key}: {val}")));
        match key.as_str() {
            "--port" => cfg.port = val.parse().unwrap_or_else(|_| fail(&format!("bad port: {val}"))),
            "--chunk-size" => cfg.chunk_size = size() as usize,
            "--v1-size" => cfg.v1_blob_size = size(),
            "--bench-v2" => cfg.bench_v2_size = Some(size()),
            "--bench-v1" => cfg.bench_v1_size = Some(size()),
            "--token-ttl" => cfg.token_ttl_secs = size(),
            "--link-ttl" => cfg.link_ttl_secs = size(),
            "--blob" => blob = Some(size()),
            _ => fail(&format!("unknown argument: {key}")),
        }
    }
    let t = Instant::now();
    let mut out = std::io::stdout().lock();
    // Keep the server alive for the rest of main.
    let _guard: Box<dyn std::any::Any> = if let Some(n) = blob {
        let mut data = vec![0u8; n as usize];
        fill_compressible(0xB10B, &mut data);
        let b = BlobServer::new_on(cfg.port, data);
        let _ = writeln!(out, "# url: {} md5: {} size: {n}", b.url(), b.md5_hex());
        Box::new(b)
    } else {
        let m = GogMock::start(cfg);
        m.wait_ready();
        for (k, v) in m.env() {
            let _ = writeln!(out, "export {k}={v}");
        }
        let _ = writeln!(out, "# login code: {}", GogMock::LOGIN_CODE);
        Box::new(m)
    };
    let _ = writeln!(out, "# ready in {:.0?}", t.elapsed());
    let _ = out.flush();
    drop(out);
    wait_for_end();
}

/// Block until stdin (if it is a pipe) reaches EOF; otherwise forever.
fn wait_for_end() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if let Ok(m) = std::fs::metadata("/dev/stdin") {
            if m.file_type().is_fifo() {
                let mut buf = [0u8; 4096];
                let mut stdin = std::io::stdin();
                while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
                return;
            }
        }
    }
    loop {
        std::thread::park();
    }
}
