//! `galaxy-dl-mock`: runs the GOG mock (or, with `--blob`, a plain Range blob server) on
//! 127.0.0.1 and prints shell `export` lines pointing galaxy-dl at it, for demos and benchmarks.

use galaxy_dl_mock::data::{par_fill, zeroed_arc};
use galaxy_dl_mock::{BlobServer, GogMock, MockConfig};
use std::io::{Read, Write};
use std::time::Instant;

const USAGE: &str = "usage: galaxy-dl-mock [--port N] [--chunk-size BYTES] [--v1-size BYTES]
                      [--bench-v2 BYTES] [--bench-v2-files N] [--bench-v1 BYTES]
                      [--bench-game-v2 BYTES] [--bench-game-v1 BYTES]
                      [--token-ttl SECS] [--link-ttl SECS]
                      [--blob BYTES] [--pace BYTES_PER_SEC] [--stats-file PATH]
--bench-v2-files splits Bench V2 (1000000004) into N files (default 4; bench/scale.sh
uses 20000); --bench-v1 sizes Bench V1's (1000000005) main.bin (held in memory).
--bench-game-v2/-v1: the game-like products 1000000021 (V2, 298 files, ~40% incompressible,
chunks up to --chunk-size) and 1000000022 (its V1 twin, 302 files in one main.bin).
--pace sets SO_MAX_PACING_RATE on the listening socket: every accepted TCP connection is
paced by the kernel at that rate (benchmarks' per-connection cap).
--stats-file (GOG mode) rewrites PATH every 50 ms with one line:
`requests=N range_requests=N connections=N body_bytes=N main_bin_requests=N chunk_requests=N`.
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
    let mut port: u16 = 0;
    let mut pace: Option<u64> = None;
    let mut stats_file: Option<String> = None;
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
        const KNOWN: &[&str] = &[
            "--port",
            "--chunk-size",
            "--v1-size",
            "--bench-v2",
            "--bench-v2-files",
            "--bench-v1",
            "--bench-game-v2",
            "--bench-game-v1",
            "--token-ttl",
            "--link-ttl",
            "--blob",
            "--pace",
            "--stats-file",
        ];
        if !KNOWN.contains(&key.as_str()) {
            fail(&format!("unknown argument: {key}"));
        }
        let val = inline.or_else(|| args.next()).unwrap_or_else(|| fail(&format!("{key} needs a value")));
        let size = || parse_size(&val).unwrap_or_else(|| fail(&format!("bad value for {key}: {val}")));
        match key.as_str() {
            "--port" => port = val.parse().unwrap_or_else(|_| fail(&format!("bad port: {val}"))),
            "--chunk-size" => cfg.chunk_size = size() as usize,
            "--v1-size" => cfg.v1_blob_size = size(),
            "--bench-v2" => cfg.bench_v2_size = Some(size()),
            "--bench-v2-files" => {
                cfg.bench_v2_files = val.parse().unwrap_or_else(|_| fail(&format!("bad file count: {val}")))
            }
            "--bench-v1" => cfg.bench_v1_size = Some(size()),
            "--bench-game-v2" => cfg.game_v2_size = Some(size()),
            "--bench-game-v1" => cfg.game_v1_size = Some(size()),
            "--token-ttl" => cfg.token_ttl_secs = size(),
            "--link-ttl" => cfg.link_ttl_secs = size(),
            "--blob" => blob = Some(size()),
            "--pace" => pace = Some(size()),
            "--stats-file" => stats_file = Some(val.clone()),
            _ => fail(&format!("unknown argument: {key}")),
        }
    }
    let t = Instant::now();
    let mut out = std::io::stdout().lock();
    // Keep the server alive for the rest of main.
    let _guard: Box<dyn std::any::Any> = if let Some(n) = blob {
        let mut data = zeroed_arc(n as usize);
        par_fill(0xB10B, std::sync::Arc::get_mut(&mut data).unwrap(), true);
        let b = BlobServer::from_arc(port, data);
        if let Some(bps) = pace {
            let got = pace_listener(b.server().addr().port(), bps).unwrap_or_else(|e| fail(&e));
            let _ = writeln!(out, "# pace: SO_MAX_PACING_RATE {got} B/s per connection");
        }
        let _ = writeln!(out, "# url: {} md5: {} size: {n}", b.url(), b.md5_hex());
        Box::new(b)
    } else {
        let m = GogMock::start_on_port(cfg, port);
        m.wait_ready();
        if let Some(bps) = pace {
            let got = pace_listener(m.server().addr().port(), bps).unwrap_or_else(|e| fail(&e));
            let _ = writeln!(out, "# pace: SO_MAX_PACING_RATE {got} B/s per connection");
        }
        if let Some(path) = stats_file {
            let stats = m.server().stats_arc();
            std::thread::spawn(move || write_stats_loop(&path, &stats));
        }
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

/// Set `SO_MAX_PACING_RATE` (bytes/s) on the listening socket bound to 127.0.0.1:`port`.
/// Accepted sockets inherit it (the kernel clones `sk_max_pacing_rate` into each child), so
/// every connection is capped by TCP's internal pacing. The listener is bound inside
/// `Server` (mock/src/server.rs) and not exposed, so it is found among this process's fds by
/// its local address and `SO_ACCEPTCONN`. Returns the value read back.
fn pace_listener(port: u16, bps: u64) -> Result<u64, String> {
    const SO_MAX_PACING_RATE: libc::c_int = 47; // Linux, all architectures but a few exotic ones
    let mut found = None;
    for e in std::fs::read_dir("/proc/self/fd").map_err(|e| format!("--pace: /proc/self/fd: {e}"))? {
        let Some(fd) = e.ok().and_then(|e| e.file_name().to_str().and_then(|n| n.parse::<libc::c_int>().ok())) else {
            continue;
        };
        // SAFETY: plain socket calls on an fd of this process with correctly sized out-params.
        unsafe {
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            if libc::getsockname(fd, &mut sa as *mut _ as *mut libc::sockaddr, &mut len) != 0
                || sa.sin_family != libc::AF_INET as libc::sa_family_t
                || u16::from_be(sa.sin_port) != port
            {
                continue;
            }
            let mut acc: libc::c_int = 0;
            let mut alen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            if libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ACCEPTCONN,
                &mut acc as *mut _ as *mut libc::c_void,
                &mut alen,
            ) != 0
                || acc == 0
            {
                continue;
            }
            // 64-bit value first (kernel >= 5.x reads an unsigned long when optlen is 8).
            let v64: u64 = bps;
            let mut rc =
                libc::setsockopt(fd, libc::SOL_SOCKET, SO_MAX_PACING_RATE, &v64 as *const _ as *const libc::c_void, 8);
            if rc != 0 {
                let v32: u32 = bps.min(u32::MAX as u64) as u32;
                rc = libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    SO_MAX_PACING_RATE,
                    &v32 as *const _ as *const libc::c_void,
                    4,
                );
            }
            if rc != 0 {
                return Err(format!("--pace: setsockopt(SO_MAX_PACING_RATE): {}", std::io::Error::last_os_error()));
            }
            let mut got: u64 = 0;
            let mut glen: libc::socklen_t = 8;
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                SO_MAX_PACING_RATE,
                &mut got as *mut _ as *mut libc::c_void,
                &mut glen,
            );
            if glen == 4 {
                got &= 0xFFFF_FFFF;
            }
            found = Some(got);
        }
    }
    found.ok_or_else(|| format!("--pace: no listening socket on port {port} among /proc/self/fd"))
}

/// Rewrite `path` (atomically, via a temporary file) every 50 ms with the request counters.
fn write_stats_loop(path: &str, stats: &galaxy_dl_mock::Stats) {
    let tmp = format!("{path}.tmp");
    let mut last = None;
    loop {
        let key = (stats.requests(), stats.body_bytes(), stats.connections());
        if last != Some(key) {
            let line = format!(
                "requests={} range_requests={} connections={} body_bytes={} main_bin_requests={} chunk_requests={}\n",
                stats.requests(),
                stats.range_requests(),
                stats.connections(),
                stats.body_bytes(),
                stats.count_containing("main.bin"),
                stats.count_containing("/content-system/v2/store/"),
            );
            if std::fs::write(&tmp, line).and_then(|_| std::fs::rename(&tmp, path)).is_ok() {
                last = Some(key);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
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
