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

/// Bit writer for deflate (LSB-first).
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    #[inline]
    fn put(&mut self, bits: u32, count: u32) {
        self.acc |= (bits as u64) << self.n;
        self.n += count;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }
    fn finish(mut self) -> Vec<u8> {
        while self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n = self.n.saturating_sub(8);
        }
        self.out
    }
}

fn reverse(code: u32, len: u32) -> u32 {
    code.reverse_bits() >> (32 - len)
}

/// Fixed-Huffman `(bits, count)` of literal/length symbol `s`, already bit-reversed.
fn fixed_lit(s: u32) -> (u32, u32) {
    let (code, len) = match s {
        0..=143 => (0x30 + s, 8),
        144..=255 => (0x190 + s - 144, 9),
        256..=279 => (s - 256, 7),
        _ => (0xC0 + s - 280, 8),
    };
    (reverse(code, len), len)
}

struct RleTables {
    lit: [(u32, u32); 256],
    /// For match length L (3..=258): symbol code + extra bits + distance-1 code, as one
    /// `(bits, count)` pair.
    len: Vec<(u32, u32)>,
    end: (u32, u32),
}

fn rle_tables() -> &'static RleTables {
    static T: std::sync::OnceLock<RleTables> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        const BASE: [u32; 29] = [
            3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
            227, 258,
        ];
        const EXTRA: [u32; 29] =
            [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
        let mut lit = [(0, 0); 256];
        for (s, l) in lit.iter_mut().enumerate() {
            *l = fixed_lit(s as u32);
        }
        let mut len = vec![(0, 0); 259];
        for (l, slot) in len.iter_mut().enumerate().skip(3) {
            let l = l as u32;
            let i = BASE.iter().rposition(|&b| b <= l).unwrap();
            let (code, clen) = fixed_lit(257 + i as u32);
            let extra = l - BASE[i];
            // symbol, extra bits, then distance code 0 (distance 1): five zero bits.
            let bits = code | (extra << clen);
            *slot = (bits, clen + EXTRA[i] + 5);
        }
        RleTables { lit, len, end: fixed_lit(256) }
    })
}

/// Adler-32 of `data`.
pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for block in data.chunks(5552) {
        for &x in block {
            a += x as u32;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// A valid zlib stream (one fixed-Huffman deflate block) that encodes only runs of a repeated
/// byte as distance-1 matches and everything else as literals, like zlib's `Z_RLE` strategy.
/// Several times faster than real zlib; [`fill_compressible`] data comes out ~1.56:1, random
/// data ~5% larger than the input.
pub fn rle_zlib(data: &[u8]) -> Vec<u8> {
    let t = rle_tables();
    let mut w = Bits { out: Vec::with_capacity(data.len() * 2 / 3 + 64), acc: 0, n: 0 };
    w.out.extend_from_slice(&[0x78, 0x01]);
    w.put(0b011, 3); // BFINAL=1, BTYPE=01 (fixed Huffman)
    let n = data.len();
    let mut i = 0;
    while i < n {
        if i > 0 {
            let prev = data[i - 1];
            let max = (n - i).min(258);
            let mut l = 0;
            while l < max && data[i + l] == prev {
                l += 1;
            }
            if l >= 3 {
                let (bits, count) = t.len[l];
                w.put(bits, count);
                i += l;
                continue;
            }
        }
        let (bits, count) = t.lit[data[i] as usize];
        w.put(bits, count);
        i += 1;
    }
    w.put(t.end.0, t.end.1);
    let mut out = w.finish();
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(z: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        flate2::read::ZlibDecoder::new(z).read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn rle_zlib_roundtrips() {
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![7],
            vec![1, 1],
            vec![1, 1, 1, 1],
            vec![0; 1000],
            vec![255; 259],
            random_bytes(1, 70_000),
            text_bytes("abc", 5000),
            compressible_bytes(2, 1 << 20),
            compressible_bytes(3, 1000),
        ];
        for l in [3usize, 4, 10, 11, 130, 131, 257, 258, 259, 600] {
            let mut v = vec![9u8];
            v.extend(std::iter::repeat_n(5u8, l));
            v.push(1);
            cases.push(v);
        }
        for c in &cases {
            assert_eq!(&inflate(&rle_zlib(c)), c, "len {}", c.len());
        }
        let c = compressible_bytes(4, 4 << 20);
        let ratio = c.len() as f64 / rle_zlib(&c).len() as f64;
        assert!((1.5..1.62).contains(&ratio), "{ratio}");
        let r = random_bytes(5, 1 << 20);
        assert!(rle_zlib(&r).len() > r.len());
    }
}
