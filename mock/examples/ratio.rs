//! Measures the compression ratio and speed of `fill_compressible` data under zlib and
//! `rle_zlib`: `cargo run --release -p galaxy-dl-mock --example ratio`.
use galaxy_dl_mock::data::{compressible_bytes, rle_zlib};
use std::io::Write;
fn main() {
    let v = compressible_bytes(3, 64 << 20);
    for lvl in [1, 6] {
        let t = std::time::Instant::now();
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(lvl));
        e.write_all(&v).unwrap();
        let z = e.finish().unwrap();
        println!("zlib level {lvl}: ratio {:.3} in {:?}", v.len() as f64 / z.len() as f64, t.elapsed());
    }
    let t = std::time::Instant::now();
    let z = rle_zlib(&v);
    println!("rle_zlib: ratio {:.3} in {:?}", v.len() as f64 / z.len() as f64, t.elapsed());
}
