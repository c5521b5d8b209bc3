//! Inflate + MD5 throughput on this machine, one thread, no I/O.
//!
//! Data: `MIB` MiB (default 256) of the mock's bench data (`galaxy_dl_mock::data::fill_compressible`,
//! the same generator as product 1000000004 "Bench V2"), cut into 10 MiB chunks and encoded with
//! `rle_zlib` exactly as the mock serves them. A second set (`REAL_MIB`, default 64) is the same
//! kind of data compressed by real deflate at level 6 through the selected backend, for a
//! corpus-independent comparison, and a third set (`CORPUS_MIB`, default 64) of real executables
//! and libraries read from `CORPUS_DIR` (default /usr/lib/x86_64-linux-gnu, then /usr/bin), also
//! level 6, as in engineering-notes Part 2 (c). Output: one JSON line per measurement on stdout.
//! The mock's data helpers are compiled in from `mock/src/data.rs` (no dependency on the mock
//! crate, whose flate2 feature would otherwise force zlib-rs into both builds).

#[path = "../../../mock/src/data.rs"]
#[allow(dead_code)]
mod data;

use flate2::{Compression, Decompress, FlushDecompress, Status};
use md5::{Digest, Md5};
use std::time::Instant;

const CHUNK: usize = 10 << 20;

fn backend() -> &'static str {
    if cfg!(feature = "zlib-rs") {
        "zlib-rs"
    } else if cfg!(feature = "rust_backend") {
        "rust_backend (miniz_oxide)"
    } else {
        "flate2 default"
    }
}

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

/// Inflate every chunk into `out` (preallocated, like galaxy-dl's mapped slice); returns seconds.
fn inflate_all(chunks: &[(Vec<u8>, usize)], out: &mut [u8]) -> f64 {
    let t = Instant::now();
    let mut off = 0;
    for (z, n) in chunks {
        let mut d = Decompress::new(true);
        let st = d.decompress(z, &mut out[off..off + n], FlushDecompress::Finish).expect("inflate");
        assert!(matches!(st, Status::StreamEnd), "stream did not end");
        assert_eq!(d.total_out() as usize, *n);
        off += n;
    }
    t.elapsed().as_secs_f64()
}

fn best_of<F: FnMut() -> f64>(reps: usize, mut f: F) -> (f64, f64) {
    let mut v: Vec<f64> = (0..reps).map(|_| f()).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[0], v[v.len() / 2])
}

fn report(what: &str, bytes: usize, best: f64, median: f64, extra: &str) {
    let mb = |s: f64| bytes as f64 / s / 1e6;
    let mib = |s: f64| bytes as f64 / s / 1048576.0;
    println!(
        "{{\"kind\":\"micro\",\"what\":\"{what}\",\"backend\":\"{}\",\"bytes\":{bytes},\"best_s\":{best:.4},\"median_s\":{median:.4},\"best_mb_s\":{:.1},\"median_mb_s\":{:.1},\"median_mib_s\":{:.1}{extra}}}",
        backend(),
        mb(best),
        mb(median),
        mib(median)
    );
}

/// Up to `limit` bytes of regular files under `dir` (sorted walk, no symlinks), for a corpus.
fn read_corpus(dir: &std::path::Path, limit: usize, out: &mut Vec<u8>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if out.len() >= limit {
            return;
        }
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            read_corpus(&e.path(), limit, out);
        } else if ft.is_file() {
            if let Ok(b) = std::fs::read(e.path()) {
                let n = b.len().min(limit - out.len());
                out.extend_from_slice(&b[..n]);
            }
        }
    }
}

fn deflate6(data: &[u8]) -> Vec<(Vec<u8>, usize)> {
    data.chunks(CHUNK)
        .map(|c| {
            use std::io::Write;
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), Compression::new(6));
            e.write_all(c).unwrap();
            (e.finish().unwrap(), c.len())
        })
        .collect()
}

fn main() {
    let mib = env_usize("MIB", 256);
    let real_mib = env_usize("REAL_MIB", 64);
    let reps = env_usize("REPS", 5);
    let only_md5 = std::env::var("ONLY_MD5").is_ok();

    // Bench-V2-style data: generate chunk by chunk with the mock's generator and encoder.
    let total = mib << 20;
    let mut plain = vec![0u8; total];
    for (i, c) in plain.chunks_mut(CHUNK).enumerate() {
        data::fill_compressible(0xBE4C_0000 + i as u64, c);
    }
    if only_md5 {
        let (b, m) = best_of(reps, || {
            let t = Instant::now();
            let mut h = Md5::new();
            for c in plain.chunks(1 << 20) {
                h.update(c);
            }
            std::hint::black_box(h.finalize());
            t.elapsed().as_secs_f64()
        });
        report("md5 (md-5 0.11, 1 MiB updates)", total, b, m, "");
        return;
    }
    let chunks: Vec<(Vec<u8>, usize)> = plain.chunks(CHUNK).map(|c| (data::rle_zlib(c), c.len())).collect();
    let zbytes: usize = chunks.iter().map(|c| c.0.len()).sum();
    let mut out = vec![0u8; total];
    out.fill(1); // prefault
    let (b, m) = best_of(reps, || inflate_all(&chunks, &mut out));
    assert!(out == plain, "inflated bytes differ");
    report(
        "inflate mock bench chunks (rle_zlib, 10 MiB)",
        total,
        b,
        m,
        &format!(",\"ratio\":{:.3}", total as f64 / zbytes as f64),
    );

    // Real deflate (level 6) of the same kind of data, through the selected backend.
    let rtotal = real_mib << 20;
    let rchunks = deflate6(&plain[..rtotal.min(total)]);
    let rz: usize = rchunks.iter().map(|c| c.0.len()).sum();
    let rn: usize = rchunks.iter().map(|c| c.1).sum();
    let (b, m) = best_of(reps, || inflate_all(&rchunks, &mut out[..rn]));
    report(
        "inflate same data, zlib level 6, 10 MiB chunks",
        rn,
        b,
        m,
        &format!(",\"ratio\":{:.3}", rn as f64 / rz as f64),
    );

    // Real executables and libraries, level 6.
    let cmib = env_usize("CORPUS_MIB", 64);
    let mut corpus = Vec::new();
    match std::env::var("CORPUS_DIR") {
        Ok(d) => read_corpus(std::path::Path::new(&d), cmib << 20, &mut corpus),
        Err(_) => {
            for d in ["/usr/lib/x86_64-linux-gnu", "/usr/bin"] {
                read_corpus(std::path::Path::new(d), cmib << 20, &mut corpus);
            }
        }
    }
    if corpus.len() >= 1 << 20 {
        let cchunks = deflate6(&corpus);
        let cz: usize = cchunks.iter().map(|c| c.0.len()).sum();
        let cn = corpus.len();
        if out.len() < cn {
            out.resize(cn, 1);
        }
        let (b, m) = best_of(reps, || inflate_all(&cchunks, &mut out[..cn]));
        assert!(out[..cn] == corpus[..], "corpus inflated bytes differ");
        report(
            "inflate real binaries (/usr), zlib level 6, 10 MiB chunks",
            cn,
            b,
            m,
            &format!(",\"ratio\":{:.3}", cn as f64 / cz as f64),
        );
    }
}
