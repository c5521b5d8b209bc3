//! Many MD5 digests at once.
//!
//! One MD5 stream is a chain of dependent 32-bit operations: a core runs it at ~4.7 cycles per
//! byte whatever its width (md-5 ≈ 640 MB/s on the benchmark machine), and the digest of a file
//! cannot be split. But an install has many independent streams — every file's whole-file
//! digest, every chunk checked by `verify` — so this module hashes up to [`LANES`] of them in
//! lock step, one stream per 32-bit lane of an AVX-512 register: one instruction advances all
//! of them, for about the cost of one scalar stream. Lanes are filled from whatever streams have
//! bytes ready; a single stream (or a CPU without AVX-512) takes md-5's scalar compression.
//!
//! [`Md5State`] is a plain MD5 (it buffers a partial block and pads at the end); [`update_many`]
//! feeds several states at once and gives exactly the digests that feeding them one by one
//! would.

// unsafe: this file the lock-step MD5 uses AVX2/AVX-512 intrinsics on raw pointers.
#![allow(unsafe_code)]

use md5::block_api::compress;

/// How many streams one SIMD step advances.
pub const LANES: usize = 16;

/// An MD5 being computed.
#[derive(Clone)]
pub struct Md5State {
    state: [u32; 4],
    /// Bytes absorbed so far (including `buf`).
    len: u64,
    buf: [u8; 64],
    buf_len: usize,
}

impl Default for Md5State {
    fn default() -> Md5State {
        Md5State::new()
    }
}

impl std::fmt::Debug for Md5State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Md5State").field("len", &self.len).finish_non_exhaustive()
    }
}

impl Md5State {
    /// A fresh digest.
    pub fn new() -> Md5State {
        Md5State { state: [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476], len: 0, buf: [0; 64], buf_len: 0 }
    }

    /// Bytes absorbed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was absorbed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Absorb `data` (one stream, scalar).
    pub fn update(&mut self, data: &[u8]) {
        let rest = self.top_up(data);
        let (blocks, tail) = rest.as_chunks::<64>();
        compress(&mut self.state, blocks);
        self.len += (blocks.len() * 64) as u64;
        self.stash(tail);
    }

    /// The digest of everything absorbed.
    pub fn finalize(mut self) -> [u8; 16] {
        let bits = self.len.wrapping_mul(8);
        let n = self.buf_len;
        self.buf[n] = 0x80;
        self.buf[n + 1..].fill(0);
        if n >= 56 {
            compress(&mut self.state, &[self.buf]);
            self.buf = [0; 64];
        }
        self.buf[56..].copy_from_slice(&bits.to_le_bytes());
        compress(&mut self.state, &[self.buf]);
        let mut out = [0; 16];
        for (o, v) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Complete a buffered partial block from the front of `data`; the rest of `data`.
    fn top_up<'d>(&mut self, data: &'d [u8]) -> &'d [u8] {
        if self.buf_len == 0 {
            return data;
        }
        let take = (64 - self.buf_len).min(data.len());
        self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
        self.buf_len += take;
        self.len += take as u64;
        if self.buf_len == 64 {
            compress(&mut self.state, &[self.buf]);
            self.buf_len = 0;
        }
        &data[take..]
    }

    /// Buffer a tail shorter than a block (the buffer is empty when this is called).
    fn stash(&mut self, tail: &[u8]) {
        debug_assert!(self.buf_len == 0 || tail.is_empty());
        self.buf[self.buf_len..self.buf_len + tail.len()].copy_from_slice(tail);
        self.buf_len += tail.len();
        self.len += tail.len() as u64;
    }
}

/// Feed `data[k]` into `states[k]` for every k, hashing the streams in lock step where the CPU
/// allows. The result is exactly that of `states[k].update(data[k])` for each k.
///
/// # Panics
///
/// When the two slices differ in length.
pub fn update_many(states: &mut [&mut Md5State], data: &[&[u8]]) {
    assert_eq!(states.len(), data.len(), "one input per digest");
    let mut lanes: Vec<Lane<'_>> = Vec::with_capacity(states.len());
    let mut tails: Vec<&[u8]> = Vec::with_capacity(states.len());
    for (s, d) in states.iter_mut().zip(data) {
        let rest = s.top_up(d);
        let (blocks, tail) = rest.as_chunks::<64>();
        s.len += (blocks.len() * 64) as u64;
        lanes.push(Lane { state: s.state, blocks });
        tails.push(tail);
    }
    compress_many(&mut lanes);
    for ((s, lane), tail) in states.iter_mut().zip(&lanes).zip(tails) {
        s.state = lane.state;
        s.stash(tail);
    }
}

/// One stream for [`compress_many`]: its chaining state and the whole blocks still to absorb.
struct Lane<'d> {
    state: [u32; 4],
    blocks: &'d [[u8; 64]],
}

/// Absorb every lane's blocks: rounds of up to [`LANES`] streams in lock step for as many
/// blocks as the shortest of them has, until fewer than two streams are left.
fn compress_many(lanes: &mut [Lane<'_>]) {
    let (has16, has8) = (simd::has16(), simd::has8());
    let mut order: Vec<usize> = Vec::with_capacity(lanes.len());
    if has16 || has8 {
        loop {
            order.clear();
            order.extend((0..lanes.len()).filter(|&i| !lanes[i].blocks.is_empty()));
            if order.len() < 2 {
                break;
            }
            // The longest streams first, so the last round leaves as little as possible to a
            // single scalar stream.
            order.sort_unstable_by_key(|&i| std::cmp::Reverse(lanes[i].blocks.len()));
            // A 16-lane step costs ~1.4 times an 8-lane one on this kind of CPU (measured by
            // `examples/md5x_speed.rs`), so up to 8 streams take the narrower kernel.
            if has16 && (order.len() > 8 || !has8) {
                order.truncate(16);
                lock_step::<16>(lanes, &order, simd::compress16);
            } else {
                order.truncate(8);
                lock_step::<8>(lanes, &order, simd::compress8);
            }
        }
    }
    for lane in lanes.iter_mut().filter(|l| !l.blocks.is_empty()) {
        compress(&mut lane.state, lane.blocks);
        lane.blocks = &[];
    }
}

/// The kernels' shape: states, one block pointer and stride per lane, block count.
type Kernel<const N: usize> = unsafe fn(&mut [[u32; 4]; N], [*const u8; N], [usize; N], usize);

/// Advance lanes `order` (at most `N`, each with blocks left) by as many blocks as the shortest
/// has, with `kernel`.
fn lock_step<const N: usize>(lanes: &mut [Lane<'_>], order: &[usize], kernel: Kernel<N>) {
    let n = order.iter().map(|&i| lanes[i].blocks.len()).min().unwrap_or(0);
    let mut states = [[0u32; 4]; N];
    let mut ptrs = [simd::ZERO_BLOCK.as_ptr(); N];
    let mut stride = [0usize; N];
    for (l, &i) in order.iter().enumerate() {
        states[l] = lanes[i].state;
        ptrs[l] = lanes[i].blocks.as_ptr().cast();
        stride[l] = 64;
    }
    // SAFETY: `kernel` is only passed when the CPU has its features (`has16`/`has8`); every
    // used lane points at `n` readable blocks, unused lanes at one block read again (stride 0).
    unsafe { kernel(&mut states, ptrs, stride, n) };
    for (l, &i) in order.iter().enumerate() {
        lanes[i].state = states[l];
        lanes[i].blocks = &lanes[i].blocks[n..];
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    /// What unused lanes read.
    pub static ZERO_BLOCK: [u8; 64] = [0; 64];

    /// Whether this CPU runs [`compress16`].
    pub fn has16() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
    }

    /// Whether this CPU runs [`compress8`].
    pub fn has8() -> bool {
        has16() && std::arch::is_x86_feature_detected!("avx512vl")
    }

    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8,
        0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
        0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87,
        0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
        0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039,
        0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
        0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];

    /// Transpose 16 rows of 16 words (row = one lane's block) into 16 columns (column j =
    /// word j of every lane).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn transpose(r: [__m512i; 16]) -> [__m512i; 16] {
        let mut t = [_mm512_setzero_si512(); 16];
        for p in 0..8 {
            t[2 * p] = _mm512_unpacklo_epi32(r[2 * p], r[2 * p + 1]);
            t[2 * p + 1] = _mm512_unpackhi_epi32(r[2 * p], r[2 * p + 1]);
        }
        // u[4g + w]: word w (of each 128-bit quarter) of rows 4g..4g+4.
        let mut u = [_mm512_setzero_si512(); 16];
        for g in 0..4 {
            let (t0, t1, t2, t3) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
            u[4 * g] = _mm512_unpacklo_epi64(t0, t2);
            u[4 * g + 1] = _mm512_unpackhi_epi64(t0, t2);
            u[4 * g + 2] = _mm512_unpacklo_epi64(t1, t3);
            u[4 * g + 3] = _mm512_unpackhi_epi64(t1, t3);
        }
        let mut m = [_mm512_setzero_si512(); 16];
        for w in 0..4 {
            let v0 = _mm512_shuffle_i32x4::<0x88>(u[w], u[4 + w]);
            let v1 = _mm512_shuffle_i32x4::<0xDD>(u[w], u[4 + w]);
            let v2 = _mm512_shuffle_i32x4::<0x88>(u[8 + w], u[12 + w]);
            let v3 = _mm512_shuffle_i32x4::<0xDD>(u[8 + w], u[12 + w]);
            m[w] = _mm512_shuffle_i32x4::<0x88>(v0, v2);
            m[8 + w] = _mm512_shuffle_i32x4::<0xDD>(v0, v2);
            m[4 + w] = _mm512_shuffle_i32x4::<0x88>(v1, v3);
            m[12 + w] = _mm512_shuffle_i32x4::<0xDD>(v1, v3);
        }
        m
    }

    /// Transpose 8 rows of 8 words into 8 columns (AVX2 shuffles).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn transpose8(r: [__m256i; 8]) -> [__m256i; 8] {
        let mut t = [_mm256_setzero_si256(); 8];
        for p in 0..4 {
            t[2 * p] = _mm256_unpacklo_epi32(r[2 * p], r[2 * p + 1]);
            t[2 * p + 1] = _mm256_unpackhi_epi32(r[2 * p], r[2 * p + 1]);
        }
        // u[4g + w]: word w (of each 128-bit half) of rows 4g..4g+4.
        let mut u = [_mm256_setzero_si256(); 8];
        for g in 0..2 {
            let (t0, t1, t2, t3) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
            u[4 * g] = _mm256_unpacklo_epi64(t0, t2);
            u[4 * g + 1] = _mm256_unpackhi_epi64(t0, t2);
            u[4 * g + 2] = _mm256_unpacklo_epi64(t1, t3);
            u[4 * g + 3] = _mm256_unpackhi_epi64(t1, t3);
        }
        let mut m = [_mm256_setzero_si256(); 8];
        for w in 0..4 {
            m[w] = _mm256_permute2x128_si256::<0x20>(u[w], u[4 + w]);
            m[4 + w] = _mm256_permute2x128_si256::<0x31>(u[w], u[4 + w]);
        }
        m
    }

    /// The 16 message words of one block of each of 16 lanes, word-major.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn words16(ptrs: &[*const u8; 16]) -> [__m512i; 16] {
        // SAFETY: the caller guarantees 64 readable bytes at every lane's pointer.
        transpose(std::array::from_fn(|l| unsafe { _mm512_loadu_si512(ptrs[l].cast()) }))
    }

    /// The 16 message words of one block of each of 8 lanes, word-major.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn words8(ptrs: &[*const u8; 8]) -> [__m256i; 16] {
        // SAFETY: the caller guarantees 64 readable bytes at every lane's pointer.
        let lo = transpose8(std::array::from_fn(|l| unsafe { _mm256_loadu_si256(ptrs[l].cast()) }));
        let hi = transpose8(std::array::from_fn(|l| unsafe { _mm256_loadu_si256(ptrs[l].add(32).cast()) }));
        std::array::from_fn(|j| if j < 8 { lo[j] } else { hi[j - 8] })
    }

    /// Defines `$name(states, ptrs, stride, blocks)`: run `blocks` MD5 compressions on `$n`
    /// streams at once, lane `l` reading its blocks from `ptrs[l]` and advancing `stride[l]`
    /// bytes per block, with the given vector type and operations.
    macro_rules! kernel {
        ($name:ident, $n:literal, $v:ty, $feat:literal, $load:ident, $store:ident, $add:ident, $set1:ident,
         $tern:ident, $rol:ident, $words:ident) => {
            /// # Safety
            ///
            /// The CPU has the features named in the attribute, and `ptrs[l] + k * stride[l]
            /// .. + 64` is readable for every `k < blocks`.
            #[target_feature(enable = $feat)]
            pub unsafe fn $name(
                states: &mut [[u32; 4]; $n],
                mut ptrs: [*const u8; $n],
                stride: [usize; $n],
                blocks: usize,
            ) {
                let col = |j: usize| -> $v {
                    let v: [u32; $n] = std::array::from_fn(|l| states[l][j]);
                    // SAFETY: `v` is one vector of readable bytes.
                    unsafe { $load(v.as_ptr().cast()) }
                };
                let (mut a, mut b, mut c, mut d) = (col(0), col(1), col(2), col(3));

                macro_rules! step {
                    ($a:ident, $b:ident, $c:ident, $d:ident, $f:literal, $m:expr, $i:expr, $s:literal) => {
                        let x = $add($add($a, $set1(K[$i] as i32)), $m);
                        let x = $add(x, $tern::<$f>($b, $c, $d));
                        $a = $add($b, $rol::<$s>(x));
                    };
                }
                macro_rules! round {
                    ($m:ident, $f:literal, $base:literal, [$s0:literal, $s1:literal, $s2:literal, $s3:literal],
                     [$i0:literal, $i1:literal, $i2:literal, $i3:literal, $i4:literal, $i5:literal, $i6:literal,
                      $i7:literal, $i8:literal, $i9:literal, $i10:literal, $i11:literal, $i12:literal, $i13:literal,
                      $i14:literal, $i15:literal]) => {
                        step!(a, b, c, d, $f, $m[$i0], $base, $s0);
                        step!(d, a, b, c, $f, $m[$i1], $base + 1, $s1);
                        step!(c, d, a, b, $f, $m[$i2], $base + 2, $s2);
                        step!(b, c, d, a, $f, $m[$i3], $base + 3, $s3);
                        step!(a, b, c, d, $f, $m[$i4], $base + 4, $s0);
                        step!(d, a, b, c, $f, $m[$i5], $base + 5, $s1);
                        step!(c, d, a, b, $f, $m[$i6], $base + 6, $s2);
                        step!(b, c, d, a, $f, $m[$i7], $base + 7, $s3);
                        step!(a, b, c, d, $f, $m[$i8], $base + 8, $s0);
                        step!(d, a, b, c, $f, $m[$i9], $base + 9, $s1);
                        step!(c, d, a, b, $f, $m[$i10], $base + 10, $s2);
                        step!(b, c, d, a, $f, $m[$i11], $base + 11, $s3);
                        step!(a, b, c, d, $f, $m[$i12], $base + 12, $s0);
                        step!(d, a, b, c, $f, $m[$i13], $base + 13, $s1);
                        step!(c, d, a, b, $f, $m[$i14], $base + 14, $s2);
                        step!(b, c, d, a, $f, $m[$i15], $base + 15, $s3);
                    };
                }

                for _ in 0..blocks {
                    // SAFETY: forwarded from the caller.
                    let m = unsafe { $words(&ptrs) };
                    for l in 0..$n {
                        ptrs[l] = ptrs[l].wrapping_add(stride[l]);
                    }
                    let (a0, b0, c0, d0) = (a, b, c, d);
                    // F = b ? c : d (0xCA); G = d ? b : c (0xE4); H = b ^ c ^ d (0x96); I = c ^ (b | !d) (0x39).
                    round!(m, 0xCA, 0, [7, 12, 17, 22], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
                    round!(m, 0xE4, 16, [5, 9, 14, 20], [1, 6, 11, 0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12]);
                    round!(m, 0x96, 32, [4, 11, 16, 23], [5, 8, 11, 14, 1, 4, 7, 10, 13, 0, 3, 6, 9, 12, 15, 2]);
                    round!(m, 0x39, 48, [6, 10, 15, 21], [0, 7, 14, 5, 12, 3, 10, 1, 8, 15, 6, 13, 4, 11, 2, 9]);
                    a = $add(a, a0);
                    b = $add(b, b0);
                    c = $add(c, c0);
                    d = $add(d, d0);
                }

                let mut out = [[0u32; $n]; 4];
                for (o, v) in out.iter_mut().zip([a, b, c, d]) {
                    // SAFETY: `o` is one vector of writable bytes.
                    unsafe { $store(o.as_mut_ptr().cast(), v) };
                }
                for (l, s) in states.iter_mut().enumerate() {
                    *s = [out[0][l], out[1][l], out[2][l], out[3][l]];
                }
            }
        };
    }

    kernel!(
        compress16,
        16,
        __m512i,
        "avx512f",
        _mm512_loadu_si512,
        _mm512_storeu_si512,
        _mm512_add_epi32,
        _mm512_set1_epi32,
        _mm512_ternarylogic_epi32,
        _mm512_rol_epi32,
        words16
    );
    kernel!(
        compress8,
        8,
        __m256i,
        "avx512f,avx512vl",
        _mm256_loadu_si256,
        _mm256_storeu_si256,
        _mm256_add_epi32,
        _mm256_set1_epi32,
        _mm256_ternarylogic_epi32,
        _mm256_rol_epi32,
        words8
    );
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    pub static ZERO_BLOCK: [u8; 64] = [0; 64];

    pub fn has16() -> bool {
        false
    }

    pub fn has8() -> bool {
        false
    }

    pub unsafe fn compress16(_: &mut [[u32; 4]; 16], _: [*const u8; 16], _: [usize; 16], _: usize) {
        unreachable!("no SIMD MD5 on this architecture")
    }

    pub unsafe fn compress8(_: &mut [[u32; 4]; 8], _: [*const u8; 8], _: [usize; 8], _: usize) {
        unreachable!("no SIMD MD5 on this architecture")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    fn data(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn scalar_matches_md5_for_every_padding_case() {
        for len in (0..200).chain([1000, 4096, 65535, 65536, 65537]) {
            let d = data(len as u64, len);
            let mut s = Md5State::new();
            // Odd pieces to exercise the partial-block buffer.
            for piece in d.chunks(37) {
                s.update(piece);
            }
            assert_eq!(s.len(), len as u64);
            assert_eq!(s.finalize(), <[u8; 16]>::from(Md5::digest(&d)), "len {len}");
        }
    }

    #[test]
    fn many_streams_match_one_by_one() {
        // 1..=40 streams of uneven lengths (more than LANES, some empty, some unaligned),
        // fed in several uneven rounds so partial blocks carry over between calls.
        for n in [1usize, 2, 3, 15, 16, 17, 40] {
            let inputs: Vec<Vec<u8>> = (0..n).map(|k| data(k as u64 + 7, (k * 4099 + 63 * k * k) % 70_000)).collect();
            let mut states: Vec<Md5State> = (0..n).map(|_| Md5State::new()).collect();
            let cuts = [0.0, 0.13, 0.5, 0.51, 1.0];
            for w in cuts.windows(2) {
                let pieces: Vec<&[u8]> = inputs
                    .iter()
                    .map(|d| &d[(d.len() as f64 * w[0]) as usize..(d.len() as f64 * w[1]) as usize])
                    .collect();
                let mut refs: Vec<&mut Md5State> = states.iter_mut().collect();
                update_many(&mut refs, &pieces);
            }
            for (k, (s, d)) in states.into_iter().zip(&inputs).enumerate() {
                assert_eq!(s.finalize(), <[u8; 16]>::from(Md5::digest(d)), "{n} streams, stream {k}");
            }
        }
    }

    #[test]
    fn simd_kernels_match_scalar_compression_when_present() {
        fn check<const N: usize>(kernel: Kernel<N>) {
            let bufs: Vec<Vec<u8>> = (0..N).map(|l| data(l as u64 + 100, 64 * 9)).collect();
            let mut states = [[0u32; 4]; N];
            let mut want = [[0u32; 4]; N];
            for l in 0..N {
                states[l] = [l as u32, 1 << l, !(l as u32), 0x1234_5678 ^ l as u32];
                want[l] = states[l];
                let (blocks, _) = bufs[l].as_chunks::<64>();
                compress(&mut want[l], blocks);
            }
            let ptrs = std::array::from_fn(|l| bufs[l].as_ptr());
            unsafe { kernel(&mut states, ptrs, [64; N], 9) };
            assert_eq!(states, want, "{N}-lane kernel");
        }
        if simd::has16() {
            check::<16>(simd::compress16);
        } else {
            eprintln!("no AVX-512F on this CPU: the 16-lane kernel is not exercised here");
        }
        if simd::has8() {
            check::<8>(simd::compress8);
        } else {
            eprintln!("no AVX-512VL on this CPU: the 8-lane kernel is not exercised here");
        }
    }
}
