//! Prints `GogMock::start` timings for a few configurations.
use galaxy_dl_mock::{GogMock, MockConfig};
use std::time::Instant;
fn main() {
    for (name, cfg) in [
        ("small", MockConfig::small()),
        ("256K chunks, 64 MiB v1", MockConfig { chunk_size: 256 << 10, ..MockConfig::default() }),
        ("256K chunks, 1 MiB v1", MockConfig { chunk_size: 256 << 10, v1_blob_size: 1 << 20, ..MockConfig::default() }),
        ("default", MockConfig::default()),
    ] {
        let t = Instant::now();
        let m = GogMock::start(cfg);
        println!("{name}: {:?}", t.elapsed());
        drop(m);
    }
}
