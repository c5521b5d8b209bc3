//! Measures the zlib ratio of `fill_compressible` data.
use std::io::Write;
fn main() {
    let v = galaxy_dl_mock::data::compressible_bytes(3, 16 << 20);
    for lvl in [1, 6] {
        let t = std::time::Instant::now();
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(lvl));
        e.write_all(&v).unwrap();
        let z = e.finish().unwrap();
        println!("level {lvl}: ratio {:.3} in {:?}", v.len() as f64 / z.len() as f64, t.elapsed());
    }
}
