//! The library as a launcher embeds it, over real loopback HTTP against the in-tree mock GOG:
//! an embedder that never reads its event channel must not stall the download.

use std::sync::Arc;
use std::time::Duration;

use galaxy_dl::api::{Client, Endpoints};
use galaxy_dl::install::Downloader;
use galaxy_dl::select::Selection;
use galaxy_dl::Event;
use galaxy_dl_mock::gog::{GogMock, MockConfig};

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("galaxy-dl-embed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn client(gog: &GogMock, dir: &std::path::Path) -> Arc<Client> {
    let client = Client::connect(Endpoints::single(&gog.url()), dir.join("config")).unwrap();
    client.exchange_code(GogMock::LOGIN_CODE).unwrap();
    Arc::new(client)
}

/// Events to a channel of capacity 1 that nobody reads: the install still completes (before
/// the non-blocking queue, the second `File` event blocked a worker forever), the byte ticks are
/// counted as dropped, and the one event that fit is the first one.
#[test]
fn an_embedder_that_never_reads_still_gets_its_install() {
    let gog = GogMock::start(MockConfig::small());
    let dir = scratch("never-reads");
    let client = client(&gog, &dir);
    let (tx, rx) = crossbeam_channel::bounded::<Event>(1);
    let game = dir.join("game");
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    let worker = {
        let game = game.clone();
        std::thread::spawn(move || {
            let dl = Downloader::builder(client).events(tx).build().unwrap();
            let r = dl.download("1000000001", &game, &Selection::default());
            let dropped = dl.dropped_events();
            let _ = done_tx.send((r.map(|s| (s.files, s.install_bytes)), dropped));
        })
    };
    // Generous: the machine is loaded; a blocked send would never finish.
    let (r, dropped) =
        done_rx.recv_timeout(Duration::from_secs(180)).expect("download stalled on a full event channel");
    worker.join().unwrap();
    let (files, bytes) = r.unwrap();
    assert!(files > 1, "{files}");
    assert!(dropped > 0, "a full channel must drop something: {dropped}");
    // The one event that got through is the first one sent, a `Start` (or an early notice).
    let first = rx.try_recv().unwrap();
    assert!(matches!(first, Event::Start { .. } | Event::Notice { .. }), "{first:?}");
    assert!(rx.try_recv().is_err(), "capacity 1, never read: nothing else fits");
    // The install is complete and verifies.
    let on_disk: u64 = walk(&game).iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum();
    assert!(on_disk >= bytes, "{on_disk} < {bytes}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A slow embedder (reads late, after the download has finished) still sees every file event
/// and the final `Done`, in order: kept events wait, they are not dropped.
#[test]
fn a_slow_embedder_sees_every_file_and_done() {
    let gog = GogMock::start(MockConfig::small());
    let dir = scratch("slow");
    let client = client(&gog, &dir);
    let (tx, rx) = crossbeam_channel::bounded::<Event>(2);
    let dl = Downloader::builder(client).workers(4).events(tx).build().unwrap();
    let game = dir.join("game");
    let reader = std::thread::spawn(move || {
        // Start reading only after a while; then read everything until the sender is gone.
        std::thread::sleep(Duration::from_millis(300));
        rx.iter().collect::<Vec<_>>()
    });
    let summary = dl.download("1000000001", &game, &Selection::default()).unwrap();
    drop(dl);
    let events = reader.join().unwrap();
    let files = events.iter().filter(|e| matches!(e, Event::File { .. })).count();
    assert_eq!(files, summary.files);
    assert!(matches!(events.last(), Some(Event::Done { .. })), "{:?}", events.last());
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![d.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.file_name().is_some_and(|n| n == ".galaxy-dl") {
            continue;
        }
        if let Ok(rd) = std::fs::read_dir(&p) {
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(path);
                }
            }
        }
    }
    out
}

/// The builder checks what a launcher passes: bad values are usage errors, never a panic or a
/// silently clamped setting; good ones build.
#[test]
fn the_builder_refuses_bad_settings() {
    let client = || Client::connect(Endpoints::single("http://127.0.0.1:9"), std::env::temp_dir()).unwrap();
    for b in [
        Downloader::builder(client()).workers(0),
        Downloader::builder(client()).workers(257),
        Downloader::builder(client()).limit_rate(0),
        Downloader::builder(client()).v1_piece_size(1),
    ] {
        let e = b.build().err().expect("a bad setting must not build");
        assert!(e.is_usage(), "{e}");
    }
    assert!(Downloader::builder(client()).workers(256).limit_rate(1).v1_piece_size(64 << 10).build().is_ok());
    assert!(galaxy_dl::Getter::builder().piece_size(100).build().err().is_some_and(|e| e.is_usage()));
    assert!(galaxy_dl::Getter::builder().md5("xyz").build().err().is_some_and(|e| e.is_usage()));
    let g = galaxy_dl::Getter::builder().md5("9E107D9D372BB6826BD81D3542A419D6").build().unwrap();
    assert_eq!(g.options().md5.as_deref(), Some("9e107d9d372bb6826bd81d3542a419d6"));
}

/// The library's defaults are the production values even when the CLI's test knobs are set in
/// the environment: only the CLI reads `GALAXY_DL_*`.
#[test]
fn library_defaults_ignore_the_environment() {
    // This test binary is its own process; nothing in it reads these knobs any more (before,
    // `RetryPolicy::default()` and friends did, and these asserts failed).
    for (k, v) in [
        ("GALAXY_DL_RETRY_SLEEP_MS", "1"),
        ("GALAXY_DL_READ_TIMEOUT_MS", "1"),
        ("GALAXY_DL_LOW_SPEED_TIME_MS", "1"),
        ("GALAXY_DL_LOW_SPEED_LIMIT", "1"),
        ("GALAXY_DL_ENDPOINT_COOLDOWN_MS", "1"),
    ] {
        std::env::set_var(k, v);
    }
    let e = galaxy_dl::EngineOptions::default();
    assert_eq!(e.retry.fixed_sleep, None);
    assert_eq!(e.http.read_timeout, Duration::from_secs(15));
    assert_eq!(e.low_speed.time, Duration::from_secs(20));
    assert_eq!(e.low_speed.limit, 1024);
    assert_eq!(e.endpoint_cooldown, Duration::from_secs(30));
}
