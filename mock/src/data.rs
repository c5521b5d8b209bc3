//! Deterministic test data: a SplitMix64 PRNG, fast random fills, ~1.56:1 compressible fills,
//! and hex MD5 helpers.

use md5::{Digest, Md5};

/// SplitMix64: tiny, fast, deterministic PRNG.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform value in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    /// Fill `buf` with random bytes (8 bytes per step).
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut it = buf.chunks_exact_mut(8);
        for c in &mut it {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = it.into_remainder();
        let w = self.next_u64().to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&w[..n]);
    }
}

/// `len` incompressible bytes from `seed`.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    Rng::new(seed).fill(&mut v);
    v
}

/// Fill `buf` so that zlib compresses it roughly 1.56:1 (level 1; ~1.64:1 at level 6): every 256-byte unit is 152 random
/// bytes followed by 104 copies of one byte.
pub fn fill_compressible(seed: u64, buf: &mut [u8]) {
    let mut r = Rng::new(seed);
    for unit in buf.chunks_mut(256) {
        let n = unit.len().min(152);
        r.fill(&mut unit[..n]);
        let b = unit[0];
        unit[n..].fill(b);
    }
}

/// `len` bytes of [`fill_compressible`] data.
pub fn compressible_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill_compressible(seed, &mut v);
    v
}

/// Readable, very compressible text of `len` bytes (line-numbered).
pub fn text_bytes(label: &str, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while v.len() < len {
        v.extend_from_slice(format!("{label} line {i}\n").as_bytes());
        i += 1;
    }
    v.truncate(len);
    v
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

/// Hex MD5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

/// Block size used by [`par_fill`]: each block has its own seed, so results do not depend on
/// the number of threads.
const PAR_BLOCK: usize = 1 << 20;

fn threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 16)
}

/// Fill `buf` on all cores: random bytes, or [`fill_compressible`] data when `compressible`.
/// Deterministic for a given `seed` and length.
pub fn par_fill(seed: u64, buf: &mut [u8], compressible: bool) {
    let blocks: Vec<(usize, &mut [u8])> = buf.chunks_mut(PAR_BLOCK).enumerate().collect();
    let queue = std::sync::Mutex::new(blocks);
    std::thread::scope(|s| {
        for _ in 0..threads() {
            s.spawn(|| loop {
                let Some((i, b)) = queue.lock().unwrap().pop() else {
                    break;
                };
                let sd = seed ^ (i as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93);
                if compressible {
                    fill_compressible(sd, b);
                } else {
                    Rng::new(sd).fill(b);
                }
            });
        }
    });
}

/// A zero-filled shared buffer of `n` bytes, allocated once (no copy into the `Arc`).
pub fn zeroed_arc(n: usize) -> std::sync::Arc<[u8]> {
    std::iter::repeat_n(0u8, n).collect()
}

/// Hex MD5 of each `data[offset..offset+len]` region, computed on all cores.
pub fn par_md5(data: &[u8], regions: &[(u64, u64)]) -> Vec<String> {
    let mut order: Vec<usize> = (0..regions.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(regions[i].1));
    let out: Vec<std::sync::Mutex<String>> = regions.iter().map(|_| Default::default()).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads() {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                let (o, l) = regions[i];
                *out[i].lock().unwrap() = md5_hex(&data[o as usize..(o + l) as usize]);
            });
        }
    });
    out.into_iter().map(|m| m.into_inner().unwrap()).collect()
}
