//! What an xdelta3 patch saves over a chunk update, on a synthetic game file: an old file of
//! 64 MiB (compressible, like game data), a new one with scattered small edits and some bytes
//! appended; GOG-style 10 MiB chunks (zlib) against a VCDIFF delta (made by the mock's encoder,
//! zlib'd in 10 MiB pieces like delta chunks), and the speed of our decoder applying it.
//! `cargo run --release --example patch_ratio [EDITS]`.

use std::io::Write;

const CHUNK: usize = 10 << 20;

fn zlen(data: &[u8]) -> usize {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    let _ = e.write_all(data);
    e.finish().map(|z| z.len()).unwrap_or(0)
}

fn main() {
    let edits: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let old = galaxy_dl_mock::data::compressible_bytes(11, 64 << 20);
    let mut new = old.clone();
    let mut rng = galaxy_dl_mock::data::Rng::new(5);
    for _ in 0..edits {
        let len = rng.range(16, 4096) as usize;
        let at = rng.range(0, (new.len() - len) as u64) as usize;
        rng.fill(&mut new[at..at + len]);
    }
    new.extend_from_slice(&galaxy_dl_mock::data::compressible_bytes(12, 1 << 20));
    let old_chunks: std::collections::HashSet<[u8; 16]> = old.chunks(CHUNK).map(chunk_id).collect();
    let mut chunk_bytes = 0;
    for c in new.chunks(CHUNK) {
        if !old_chunks.contains(&chunk_id(c)) {
            chunk_bytes += zlen(c);
        }
    }
    let t = std::time::Instant::now();
    let delta = galaxy_dl_mock::vcdiff::encode(&old, &new);
    let enc = t.elapsed();
    let patch_bytes: usize = delta.chunks(CHUNK).map(zlen).sum();
    let t = std::time::Instant::now();
    let mut out = Vec::with_capacity(new.len());
    let r = galaxy_dl::patch::vcdiff::decode(&delta, &old, new.len() as u64, &mut out);
    let dec = t.elapsed();
    assert!(r.is_ok() && out == new, "round trip failed: {r:?}");
    println!(
        "{} MiB file, {edits} edits of 16 B..4 KiB + 1 MiB appended: chunk update {chunk_bytes} bytes, \
         patch {patch_bytes} bytes ({:.1}%); encode {enc:?}, decode {dec:?} ({:.0} MiB/s)",
        new.len() >> 20,
        100.0 * patch_bytes as f64 / chunk_bytes.max(1) as f64,
        new.len() as f64 / (1 << 20) as f64 / dec.as_secs_f64()
    );
}

/// A chunk's identity, as the manifest's inflated `md5`.
fn chunk_id(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}
