//! Prints `GogMock::start` timings (and the time until the background V1 products are ready)
//! for a few configurations: `cargo run -p galaxy-dl-mock --example startup [--release]`.
use galaxy_dl_mock::{GogMock, MockConfig};
use std::time::Instant;
fn main() {
    for (name, cfg) in [
        ("small()", MockConfig::small()),
        ("chunk 256K, V1 64M", MockConfig { chunk_size: 256 << 10, ..MockConfig::default() }),
        ("default (chunk 10M, V1 64M)", MockConfig::default()),
    ] {
        for _ in 0..2 {
            let t = Instant::now();
            let m = GogMock::start(cfg.clone());
            let started = t.elapsed();
            m.wait_ready();
            println!("{name}: start {started:?}, V1 ready {:?}", t.elapsed());
        }
    }
}
