//! Checking data: MD5 helpers, and the prefix hasher that digests a file *while* it downloads.
//!
//! MD5 can only absorb bytes in order, but ranges finish out of order. The file is divided into
//! [`BLOCK`]-sized blocks; writers mark each block in a [`DoneMap`] once its last byte is
//! written, and one hasher thread follows the contiguous done prefix, hashing straight from the
//! mapping while the bytes are still hot in the page cache. The digest is ready moments after the
//! last block lands, with no second pass over the file. Writers that run too far ahead of the
//! hasher wait (see `fetch::range`), so on a 2-core machine the download does not starve the
//! single MD5 stream.

// unsafe: this file reads and writes slices of memory-mapped files (`MappedFile::slice`/`slice_mut`).
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_channel::Receiver;
use md5::{Digest, Md5};

use crate::sink::MappedFile;

/// Granularity of done-tracking and of range boundaries (splits are aligned to it).
pub const BLOCK: u64 = 64 * 1024;

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

/// MD5 of `data` as lower-case hex.
pub fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

/// Validate and normalise a user-given MD5 (32 hex digits, any case).
pub fn parse_md5(s: &str) -> crate::Result<String> {
    let t = s.trim().to_ascii_lowercase();
    if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t)
    } else {
        Err(crate::Error::Usage(format!("invalid MD5 {s:?}: expected 32 hexadecimal digits")))
    }
}

/// One bit per [`BLOCK`] of a file: set once the block's bytes are all written.
#[derive(Debug)]
pub struct DoneMap {
    bits: Vec<AtomicU64>,
    blocks: u64,
    len: u64,
}

impl DoneMap {
    /// A map for a file of `len` bytes, nothing done.
    pub fn new(len: u64) -> DoneMap {
        let blocks = len.div_ceil(BLOCK);
        let words = blocks.div_ceil(64) as usize;
        DoneMap { bits: (0..words).map(|_| AtomicU64::new(0)).collect(), blocks, len }
    }

    /// Number of blocks.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Mark block `b` done.
    pub fn mark(&self, b: u64) {
        debug_assert!(b < self.blocks);
        self.bits[(b / 64) as usize].fetch_or(1 << (b % 64), Ordering::Release);
    }

    /// Mark every block wholly inside `start..end` done (`start` must be block-aligned; `end`
    /// is block-aligned or the file's end).
    pub fn mark_range(&self, start: u64, end: u64) {
        let first = start / BLOCK;
        let last = if end >= self.len { self.blocks } else { end / BLOCK };
        for b in first..last {
            self.mark(b);
        }
    }

    /// Whether block `b` is done.
    pub fn is_done(&self, b: u64) -> bool {
        self.bits[(b / 64) as usize].load(Ordering::Acquire) & (1 << (b % 64)) != 0
    }

    /// Byte range of block `b`.
    pub fn block_range(&self, b: u64) -> (u64, u64) {
        (b * BLOCK, ((b + 1) * BLOCK).min(self.len))
    }

    /// Bytes in done blocks.
    pub fn done_bytes(&self) -> u64 {
        (0..self.blocks)
            .filter(|&b| self.is_done(b))
            .map(|b| {
                let (s, e) = self.block_range(b);
                e - s
            })
            .sum()
    }
}

/// Follows the done prefix of a mapped file with one MD5 state.
#[derive(Debug, Default)]
pub struct PrefixHasher {
    /// Bytes hashed so far (the watermark); writers read it for backpressure.
    pub hashed: AtomicU64,
}

impl PrefixHasher {
    /// Hash `file` block by block as `done` fills, until every block is hashed (returns the
    /// digest) or `stop` is set (returns `None`). `wake` is nudged by writers after each block.
    pub fn run(&self, file: &MappedFile, done: &DoneMap, wake: &Receiver<()>, stop: &AtomicBool) -> Option<[u8; 16]> {
        let mut h = Md5::new();
        let mut next = 0u64;
        loop {
            let mut run_end = next;
            while run_end < done.blocks() && done.is_done(run_end) {
                run_end += 1;
                // Hash in spans of up to 4 MiB so the watermark moves smoothly.
                if run_end - next >= 64 {
                    break;
                }
            }
            if run_end > next {
                let (s, _) = done.block_range(next);
                let (_, e) = done.block_range(run_end - 1);
                // SAFETY: blocks below `run_end` are done: no writer touches them any more.
                let bytes = unsafe { file.slice(s, (e - s) as usize) };
                h.update(bytes);
                next = run_end;
                self.hashed.store(e, Ordering::Release);
                continue;
            }
            if next >= done.blocks() {
                return Some(h.finalize().into());
            }
            if stop.load(Ordering::Acquire) {
                return None;
            }
            let _ = wake.recv_timeout(std::time::Duration::from_millis(20));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_md5() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(parse_md5(" 900150983CD24FB0D6963F7D28E17F72 ").unwrap(), "900150983cd24fb0d6963f7d28e17f72");
        assert!(parse_md5("xyz").is_err());
        assert!(parse_md5("900150983cd24fb0d6963f7d28e17f7").is_err());
    }

    #[test]
    fn done_map_edges() {
        let m = DoneMap::new(BLOCK * 3 + 10);
        assert_eq!(m.blocks(), 4);
        m.mark_range(BLOCK, BLOCK * 3 + 10);
        assert!(!m.is_done(0) && m.is_done(1) && m.is_done(3));
        assert_eq!(m.done_bytes(), BLOCK * 2 + 10);
        assert_eq!(m.block_range(3), (BLOCK * 3, BLOCK * 3 + 10));
        let e = DoneMap::new(0);
        assert_eq!(e.blocks(), 0);
    }

    #[test]
    fn prefix_hasher_follows_out_of_order_blocks() {
        let p = std::env::temp_dir().join(format!("galaxy-dl-ph-{}", std::process::id()));
        let len = BLOCK * 5 + 123;
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let (f, _) = MappedFile::create(&p, len).unwrap();
        let done = DoneMap::new(len);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let stop = AtomicBool::new(false);
        let ph = PrefixHasher::default();
        let digest = std::thread::scope(|s| {
            let h = s.spawn(|| ph.run(&f, &done, &rx, &stop));
            for b in [3u64, 1, 5, 0, 2, 4] {
                let (a, e) = done.block_range(b);
                unsafe { f.slice_mut(a, (e - a) as usize) }.copy_from_slice(&data[a as usize..e as usize]);
                done.mark(b);
                let _ = tx.try_send(());
            }
            h.join().unwrap()
        });
        assert_eq!(hex(&digest.unwrap()), md5_hex(&data));
        std::fs::remove_file(&p).unwrap();
    }
}
