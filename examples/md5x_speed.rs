//! Throughput of `galaxy_dl::md5x` against md-5 on this CPU, in memory:
//! `cargo run --release --example md5x_speed [MiB per stream]`.

use std::time::Instant;

use galaxy_dl::md5x::{update_many, Md5State};
use md5::{Digest, Md5};

fn main() {
    let mib: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let total = mib << 20;
    let data: Vec<u8> = (0..total).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3]).collect();
    let t = Instant::now();
    let d = Md5::digest(&data);
    let base = total as f64 / t.elapsed().as_secs_f64() / 1e6;
    println!("md-5, one stream: {base:.0} MB/s ({:02x?}..)", &d[..2]);
    for streams in [1usize, 2, 4, 8, 16, 32] {
        // The same bytes cut into `streams` equal streams.
        let per = total / streams;
        let parts: Vec<&[u8]> = data.chunks(per).take(streams).collect();
        let mut states: Vec<Md5State> = (0..streams).map(|_| Md5State::new()).collect();
        let t = Instant::now();
        // Fed in 1 MiB pieces per stream, as the install hasher does.
        for off in (0..per).step_by(1 << 20) {
            let pieces: Vec<&[u8]> = parts.iter().map(|p| &p[off..(off + (1 << 20)).min(per)]).collect();
            let mut refs: Vec<&mut Md5State> = states.iter_mut().collect();
            update_many(&mut refs, &pieces);
        }
        let rate = (per * streams) as f64 / t.elapsed().as_secs_f64() / 1e6;
        println!("md5x, {streams:2} streams: {rate:6.0} MB/s = {:.2} x md-5", rate / base);
    }
}
