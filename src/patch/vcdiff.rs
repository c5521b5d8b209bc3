//! A VCDIFF (RFC 3284) decoder for the deltas GOG ships as xdelta3 patches: the header (with
//! xdelta3's application header skipped), windows with `VCD_SOURCE` or `VCD_TARGET` segments,
//! the default code table, the near/same address cache, ADD/RUN/COPY, and xdelta3's Adler-32
//! window checksum (`VCD_ADLER32`, window indicator bit `0x04`). Secondary compression
//! (`VCD_DECOMPRESS`, per-section compression) and custom code tables are refused: GOG builds
//! its deltas without them.
//!
//! Hostile input is expected: every length, position and address is checked before use, the
//! output can never exceed the expected target size, a target window is capped at
//! [`MAX_WINDOW`] bytes of memory, and malformed input is an [`Error::BadDelta`], never a panic.

use crate::error::{Error, Result};

/// Largest target window (and `VCD_TARGET` source segment) held in memory. xdelta3 encodes
/// windows of at most 16 MiB (`XD3_HARDMAXWINSIZE`); four times that leaves room.
pub const MAX_WINDOW: u64 = 64 << 20;

/// Where decoded bytes go: appended in order, and read back for `VCD_TARGET` windows.
pub trait Target {
    /// Append `data` at the end of the output.
    fn append(&mut self, data: &[u8]) -> Result<()>;
    /// Fill `buf` from the output already written, at `pos`.
    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> Result<()>;
}

impl Target for Vec<u8> {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.extend_from_slice(data);
        Ok(())
    }
    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> Result<()> {
        let src = usize::try_from(pos)
            .ok()
            .and_then(|p| self.get(p..p.checked_add(buf.len())?))
            .ok_or_else(|| bad(pos, "target segment outside the output"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

fn bad(offset: u64, reason: &'static str) -> Error {
    Error::BadDelta { what: String::new(), offset, reason }
}

/// Instruction types of the code table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Noop,
    Add,
    Run,
    Copy,
}

/// One half of a code table entry: type, size (0 = size follows in the instructions), mode.
#[derive(Clone, Copy, Debug)]
struct Half {
    op: Op,
    size: u8,
    mode: u8,
}

const NOOP: Half = Half { op: Op::Noop, size: 0, mode: 0 };

/// The default code table of RFC 3284 section 5.6.
const fn default_table() -> [[Half; 2]; 256] {
    let mut t = [[NOOP; 2]; 256];
    t[0][0] = Half { op: Op::Run, size: 0, mode: 0 };
    let mut i = 1;
    let mut s = 0;
    while s <= 17 {
        t[i][0] = Half { op: Op::Add, size: s, mode: 0 };
        i += 1;
        s += 1;
    }
    let mut m = 0;
    while m < 9 {
        t[i][0] = Half { op: Op::Copy, size: 0, mode: m };
        i += 1;
        let mut s = 4;
        while s <= 18 {
            t[i][0] = Half { op: Op::Copy, size: s, mode: m };
            i += 1;
            s += 1;
        }
        m += 1;
    }
    let mut m = 0;
    while m < 6 {
        let mut a = 1;
        while a <= 4 {
            let mut c = 4;
            while c <= 6 {
                t[i] = [Half { op: Op::Add, size: a, mode: 0 }, Half { op: Op::Copy, size: c, mode: m }];
                i += 1;
                c += 1;
            }
            a += 1;
        }
        m += 1;
    }
    let mut m = 6;
    while m < 9 {
        let mut a = 1;
        while a <= 4 {
            t[i] = [Half { op: Op::Add, size: a, mode: 0 }, Half { op: Op::Copy, size: 4, mode: m }];
            i += 1;
            a += 1;
        }
        m += 1;
    }
    let mut m = 0;
    while m < 9 {
        t[i] = [Half { op: Op::Copy, size: 4, mode: m }, Half { op: Op::Add, size: 1, mode: 0 }];
        i += 1;
        m += 1;
    }
    t
}

static TABLE: [[Half; 2]; 256] = default_table();

/// A cursor over one section of the delta; errors name the absolute offset.
struct Cur<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cur<'a> {
    fn new(buf: &'a [u8], base: u64) -> Cur<'a> {
        Cur { buf, pos: 0, base }
    }
    fn at(&self) -> u64 {
        self.base + self.pos as u64
    }
    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
    fn byte(&mut self, what: &'static str) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(|| bad(self.at(), what))?;
        self.pos += 1;
        Ok(b)
    }
    /// A VCDIFF integer: base-128 digits, most significant first, high bit = more follow.
    fn int(&mut self, what: &'static str) -> Result<u64> {
        let mut v: u64 = 0;
        for _ in 0..10 {
            let b = self.byte(what)?;
            if v > (u64::MAX >> 7) {
                return Err(bad(self.at(), "integer overflows 64 bits"));
            }
            v = (v << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad(self.at(), "integer longer than 10 bytes"))
    }
    fn bytes(&mut self, n: u64, what: &'static str) -> Result<&'a [u8]> {
        let end = usize::try_from(n).ok().and_then(|n| self.pos.checked_add(n)).filter(|&e| e <= self.buf.len());
        let Some(end) = end else { return Err(bad(self.at(), what)) };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

/// The address cache of RFC 3284 section 5.1 with the default sizes (near 4, same 3).
struct Cache {
    near: [u64; 4],
    next: usize,
    same: [u64; 3 * 256],
}

impl Cache {
    fn new() -> Cache {
        Cache { near: [0; 4], next: 0, same: [0; 3 * 256] }
    }
    fn decode(&mut self, mode: u8, here: u64, addrs: &mut Cur<'_>) -> Result<u64> {
        let at = addrs.at();
        let addr = match mode {
            0 => addrs.int("address section ends early")?,
            1 => here
                .checked_sub(addrs.int("address section ends early")?)
                .ok_or_else(|| bad(at, "HERE address before 0"))?,
            2..=5 => self.near[usize::from(mode - 2)]
                .checked_add(addrs.int("address section ends early")?)
                .ok_or_else(|| bad(at, "NEAR address overflows"))?,
            6..=8 => {
                let b = addrs.byte("address section ends early")?;
                self.same[usize::from(mode - 6) * 256 + usize::from(b)]
            }
            _ => return Err(bad(at, "unknown address mode")),
        };
        if addr >= here {
            return Err(bad(at, "COPY address at or past the current position"));
        }
        self.near[self.next] = addr;
        self.next = (self.next + 1) % self.near.len();
        self.same[(addr % self.same.len() as u64) as usize] = addr;
        Ok(addr)
    }
}

/// Adler-32 (RFC 1950) of `data`, as xdelta3 stores it per window.
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for block in data.chunks(5552) {
        for &x in block {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// What a decode produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes written to the target.
    pub bytes: u64,
    /// Windows decoded.
    pub windows: u64,
    /// Windows whose Adler-32 was present and checked.
    pub checked_windows: u64,
}

/// Decode the VCDIFF `delta` against `source` (the old file), appending exactly `target_size`
/// bytes to `out`.
///
/// # Errors
/// [`Error::BadDelta`] (with an empty `what`, for the caller to fill in) for any malformed,
/// unsupported or inconsistent input, a window checksum mismatch, or a result whose size is not
/// `target_size`; errors of `out`.
pub fn decode(delta: &[u8], source: &[u8], target_size: u64, out: &mut impl Target) -> Result<Decoded> {
    let mut cur = Cur::new(delta, 0);
    let magic = cur.bytes(4, "shorter than the VCDIFF header")?;
    if magic[..3] != [0xD6, 0xC3, 0xC4] {
        return Err(bad(0, "not a VCDIFF file (bad magic)"));
    }
    if magic[3] != 0 {
        return Err(bad(3, "unsupported VCDIFF version"));
    }
    let hdr = cur.byte("header ends early")?;
    if hdr & 0x01 != 0 {
        return Err(bad(4, "secondary compression (VCD_DECOMPRESS) is not supported"));
    }
    if hdr & 0x02 != 0 {
        return Err(bad(4, "custom code tables (VCD_CODETABLE) are not supported"));
    }
    if hdr & !0x07 != 0 {
        return Err(bad(4, "unknown header indicator bits"));
    }
    if hdr & 0x04 != 0 {
        // xdelta3's application header (file names); not needed.
        let n = cur.int("application header length missing")?;
        cur.bytes(n, "application header ends early")?;
    }
    let mut written: u64 = 0;
    let mut r = Decoded { bytes: 0, windows: 0, checked_windows: 0 };
    while !cur.is_empty() {
        let checked = window(&mut cur, source, target_size, &mut written, out)?;
        r.windows += 1;
        r.checked_windows += u64::from(checked);
    }
    if written != target_size {
        return Err(bad(cur.at(), "delta yields fewer bytes than the target size"));
    }
    r.bytes = written;
    Ok(r)
}

/// Decode one window; returns whether its checksum was checked.
fn window(
    cur: &mut Cur<'_>,
    source: &[u8],
    target_size: u64,
    written: &mut u64,
    out: &mut impl Target,
) -> Result<bool> {
    let start = cur.at();
    let ind = cur.byte("window ends early")?;
    if ind & !0x07 != 0 {
        return Err(bad(start, "unknown window indicator bits"));
    }
    if ind & 0x03 == 0x03 {
        return Err(bad(start, "window has both VCD_SOURCE and VCD_TARGET"));
    }
    let (seg_len, seg_pos) = if ind & 0x03 != 0 {
        (cur.int("segment length missing")?, cur.int("segment position missing")?)
    } else {
        (0, 0)
    };
    let enc_len = cur.int("delta encoding length missing")?;
    let enc_start = cur.pos;
    let tgt_len = cur.int("target window length missing")?;
    let delta_ind = cur.byte("delta indicator missing")?;
    if delta_ind != 0 {
        return Err(bad(cur.at() - 1, "secondary compression of sections (VCD_DECOMPRESS) is not supported"));
    }
    let data_len = cur.int("data length missing")?;
    let inst_len = cur.int("instructions length missing")?;
    let addr_len = cur.int("addresses length missing")?;
    let adler = if ind & 0x04 != 0 {
        let b = cur.bytes(4, "window checksum missing")?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    } else {
        None
    };
    let head = (cur.pos - enc_start) as u64;
    let total = head.checked_add(data_len).and_then(|x| x.checked_add(inst_len)).and_then(|x| x.checked_add(addr_len));
    if total != Some(enc_len) {
        return Err(bad(start, "delta encoding length does not match its sections"));
    }
    if tgt_len > target_size - *written {
        return Err(bad(start, "window writes past the expected target size"));
    }
    if tgt_len > MAX_WINDOW {
        return Err(bad(start, "target window too large"));
    }
    let data_at = cur.at();
    let data = cur.bytes(data_len, "data section ends early")?;
    let inst_at = cur.at();
    let inst = cur.bytes(inst_len, "instructions section ends early")?;
    let addr_at = cur.at();
    let addrs = cur.bytes(addr_len, "addresses section ends early")?;

    // The source segment: a slice of the old file, or of the target written so far.
    let target_seg;
    let seg: &[u8] = if ind & 0x01 != 0 {
        let end = seg_pos.checked_add(seg_len).filter(|&e| e <= source.len() as u64);
        let Some(end) = end else { return Err(bad(start, "source segment outside the source file")) };
        &source[seg_pos as usize..end as usize]
    } else if ind & 0x02 != 0 {
        if seg_pos.checked_add(seg_len).is_none_or(|e| e > *written) || seg_len > MAX_WINDOW {
            return Err(bad(start, "target segment outside the output"));
        }
        let mut b = vec![0u8; seg_len as usize];
        out.read_at(seg_pos, &mut b)?;
        target_seg = b;
        &target_seg
    } else {
        &[]
    };
    let seg_len = seg.len() as u64;
    let tgt_len = tgt_len as usize;
    let mut t: Vec<u8> = Vec::with_capacity(tgt_len);
    let (mut data, mut inst, mut addrs) = (Cur::new(data, data_at), Cur::new(inst, inst_at), Cur::new(addrs, addr_at));
    let mut cache = Cache::new();
    while !inst.is_empty() {
        let code = inst.byte("instructions end early")?;
        for h in TABLE[usize::from(code)] {
            if h.op == Op::Noop {
                continue;
            }
            let size = if h.size == 0 { inst.int("instruction size missing")? } else { u64::from(h.size) };
            if size > (tgt_len - t.len()) as u64 {
                return Err(bad(inst.at(), "instruction writes past the target window"));
            }
            let size = size as usize;
            match h.op {
                Op::Add => t.extend_from_slice(data.bytes(size as u64, "data section ends early (ADD)")?),
                Op::Run => {
                    let b = data.byte("data section ends early (RUN)")?;
                    t.resize(t.len() + size, b);
                }
                Op::Copy => {
                    let here = seg_len + t.len() as u64;
                    let mut a = cache.decode(h.mode, here, &mut addrs)?;
                    let mut left = size;
                    if a < seg_len {
                        let n = left.min((seg_len - a) as usize);
                        t.extend_from_slice(&seg[a as usize..a as usize + n]);
                        a += n as u64;
                        left -= n;
                    }
                    // From the target window itself; may overlap what it writes (a run).
                    while left > 0 {
                        let from = (a - seg_len) as usize;
                        let n = left.min(t.len() - from);
                        t.extend_from_within(from..from + n);
                        a += n as u64;
                        left -= n;
                    }
                }
                Op::Noop => {}
            }
        }
    }
    if t.len() != tgt_len {
        return Err(bad(inst.at(), "instructions yield fewer bytes than the target window"));
    }
    if !data.is_empty() || !addrs.is_empty() {
        return Err(bad(start, "data or addresses left over after the instructions"));
    }
    if let Some(want) = adler {
        if adler32(&t) != want {
            return Err(bad(start, "window checksum (Adler-32) mismatch"));
        }
    }
    out.append(&t)?;
    *written += tgt_len as u64;
    Ok(adler.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_matches_rfc_3284() {
        // Spot checks from the table in RFC 3284 section 5.6.
        assert_eq!(TABLE[0][0].op, Op::Run);
        assert_eq!((TABLE[1][0].op, TABLE[1][0].size), (Op::Add, 0));
        assert_eq!((TABLE[18][0].op, TABLE[18][0].size), (Op::Add, 17));
        assert_eq!((TABLE[19][0].op, TABLE[19][0].size, TABLE[19][0].mode), (Op::Copy, 0, 0));
        assert_eq!((TABLE[34][0].size, TABLE[34][0].mode), (18, 0));
        assert_eq!((TABLE[35][0].size, TABLE[35][0].mode), (0, 1));
        assert_eq!((TABLE[162][0].size, TABLE[162][0].mode), (18, 8));
        assert_eq!((TABLE[163][0].size, TABLE[163][1].size, TABLE[163][1].mode), (1, 4, 0));
        assert_eq!((TABLE[234][0].size, TABLE[234][1].size, TABLE[234][1].mode), (4, 6, 5));
        assert_eq!((TABLE[235][0].size, TABLE[235][1].size, TABLE[235][1].mode), (1, 4, 6));
        assert_eq!((TABLE[246][0].size, TABLE[246][1].mode), (4, 8));
        assert_eq!((TABLE[247][0].op, TABLE[247][0].mode, TABLE[247][1].op), (Op::Copy, 0, Op::Add));
        assert_eq!((TABLE[255][0].mode, TABLE[255][1].size), (8, 1));
    }

    #[test]
    fn adler32_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        let big = vec![0xffu8; 100_000];
        // Reference computed without blocking (u64 sums).
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &big {
            a = (a + x as u64) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(adler32(&big), ((b << 16) | a) as u32);
    }

    /// A hand-made delta: header, one VCD_SOURCE window with ADD, COPY (source), RUN and an
    /// overlapping COPY from the target.
    fn hand_delta(adler: bool) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let source = b"0123456789abcdef".to_vec();
        // Target: "XY" + source[4..12] + "zzzz" + "zzzzzz" (copy of target overlapping).
        let mut want = b"XY".to_vec();
        want.extend_from_slice(&source[4..12]);
        want.extend_from_slice(b"zzzz");
        want.extend_from_slice(b"zzzzzz");
        let data = b"XYz".to_vec();
        // ADD 2 = code 3; COPY size 8 mode 0 = code 19 + 1 + (8-4) = 24; RUN size 4 = code 0 + size 4;
        // COPY size 6 mode 1 (HERE) = 35 + 1 + 2 = 38.
        let inst = vec![3, 24, 0, 4, 38];
        // addresses: COPY1 self addr 4; COPY2 HERE: here = 16 + 14 = 30, target pos 10 -> addr 26, here-addr = 4.
        let addrs = vec![4, 4];
        let mut w = vec![if adler { 0x05 } else { 0x01 }, 16, 0];
        let mut enc = vec![want.len() as u8, 0, data.len() as u8, inst.len() as u8, addrs.len() as u8];
        if adler {
            enc.extend_from_slice(&adler32(&want).to_be_bytes());
        }
        enc.extend_from_slice(&data);
        enc.extend_from_slice(&inst);
        enc.extend_from_slice(&addrs);
        w.push(enc.len() as u8);
        w.extend_from_slice(&enc);
        let mut d = vec![0xD6, 0xC3, 0xC4, 0, 0];
        d.extend_from_slice(&w);
        (d, source, want)
    }

    #[test]
    fn decodes_a_hand_made_delta_with_and_without_checksum() {
        for adler in [false, true] {
            let (d, s, want) = hand_delta(adler);
            let mut out = Vec::new();
            let r = decode(&d, &s, want.len() as u64, &mut out).unwrap();
            assert_eq!(out, want);
            assert_eq!(r.checked_windows, u64::from(adler));
        }
    }

    #[test]
    fn vcd_target_windows_copy_from_earlier_output() {
        // Window 1: ADD "abcdefgh" (code 9 = ADD size 8). Window 2: VCD_TARGET segment
        // [2, 6) of the output, COPY 4 from its start (code 19 + 1 = COPY size 4, mode SELF).
        let mut d = vec![0xD6, 0xC3, 0xC4, 0, 0];
        d.extend_from_slice(&[0x00, 14, 8, 0, 8, 1, 0]);
        d.extend_from_slice(b"abcdefgh");
        d.push(9);
        d.extend_from_slice(&[0x02, 4, 2, 7, 4, 0, 0, 1, 1, 20, 0]);
        let mut out = Vec::new();
        let r = decode(&d, &[], 12, &mut out).unwrap();
        assert_eq!(out, b"abcdefghcdef");
        assert_eq!(r.windows, 2);
        // A target segment reaching past the output written so far is refused.
        let mut x = d.clone();
        let i = x.len() - 9; // segment position of window 2
        x[i] = 5;
        assert!(decode(&x, &[], 12, &mut Vec::new()).is_err());
    }

    #[test]
    fn refuses_bad_headers_and_wrong_sizes() {
        let (d, s, want) = hand_delta(true);
        let n = want.len() as u64;
        let reason = |d: &[u8], size: u64| match decode(d, &s, size, &mut Vec::new()) {
            Err(Error::BadDelta { reason, .. }) => reason,
            other => panic!("expected BadDelta, got {other:?}"),
        };
        assert_eq!(reason(&d[..3], n), "shorter than the VCDIFF header");
        let mut x = d.clone();
        x[4] = 0x01;
        assert!(reason(&x, n).contains("VCD_DECOMPRESS"));
        x[4] = 0x02;
        assert!(reason(&x, n).contains("code tables"));
        assert!(reason(&d, n - 1).contains("past the expected target size"));
        assert!(reason(&d, n + 1).contains("fewer bytes"));
        // Wrong checksum.
        let mut x = d.clone();
        let last = x.len() - 1;
        x[last - 5 - 3] ^= 0x55; // a data byte ("z" of the RUN)
        assert!(reason(&x, n).contains("checksum") || reason(&x, n).contains("Adler"));
        // Source segment beyond the source file.
        let mut x = d.clone();
        x[6] = 17;
        assert_eq!(reason(&x, n), "source segment outside the source file");
        // Every truncation is an error, never a panic.
        for cut in 0..d.len() {
            assert!(decode(&d[..cut], &s, n, &mut Vec::new()).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        let (d, s, want) = hand_delta(true);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let mut m = d.clone();
            for _ in 0..1 + rnd() % 4 {
                let i = (rnd() % m.len() as u64) as usize;
                m[i] = rnd() as u8;
            }
            let _ = decode(&m, &s, want.len() as u64, &mut Vec::new());
            let _ = decode(&m, &s, rnd() % 64, &mut Vec::new());
        }
        // The same on a real multi-window xdelta3 delta (every instruction kind it emits).
        let (d, s, n) = (fixture("multi.vcdiff"), fixture("multi.old"), fixture("multi.new").len() as u64);
        for _ in 0..3_000 {
            let mut m = d.clone();
            for _ in 0..1 + rnd() % 3 {
                let i = (rnd() % m.len() as u64) as usize;
                m[i] = rnd() as u8;
            }
            if rnd() % 4 == 0 {
                m.truncate((rnd() % m.len() as u64) as usize);
            }
            let _ = decode(&m, &s, n, &mut Vec::new());
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/patches").join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn applies_deltas_made_by_xdelta3() {
        for (delta, old, new, windows, checked) in [
            ("small.vcdiff", "small.old", "small.new", 1, 1),
            ("small-nocksum.vcdiff", "small.old", "small.new", 1, 0),
            ("multi.vcdiff", "multi.old", "multi.new", 3, 3),
            ("nosource.vcdiff", "", "small.new", 1, 1),
        ] {
            let d = fixture(delta);
            let src = if old.is_empty() { Vec::new() } else { fixture(old) };
            let want = fixture(new);
            let mut out = Vec::new();
            let r = decode(&d, &src, want.len() as u64, &mut out).unwrap_or_else(|e| panic!("{delta}: {e}"));
            assert!(out == want, "{delta}: output differs");
            assert_eq!((r.windows, r.checked_windows), (windows, checked), "{delta}");
        }
    }

    #[test]
    fn xdelta3_deltas_corrupted_are_refused() {
        let reason = |d: &[u8], src: &[u8], n: usize| match decode(d, src, n as u64, &mut Vec::new()) {
            Err(Error::BadDelta { reason, .. }) => reason,
            Ok(_) => "decoded",
            Err(e) => panic!("unexpected error {e}"),
        };
        let (old, new) = (fixture("multi.old"), fixture("multi.new"));
        assert!(reason(&fixture("multi-djw.vcdiff"), &old, new.len()).contains("VCD_DECOMPRESS"));
        let d = fixture("multi.vcdiff");
        // Truncated anywhere: an error.
        for cut in (0..d.len()).step_by(7) {
            assert_ne!(reason(&d[..cut], &old, new.len()), "decoded", "cut at {cut}");
        }
        // A wrong source (one byte changed where the target copies from) fails the checksum.
        let mut src = old.clone();
        src[100] ^= 1;
        assert_eq!(reason(&d, &src, new.len()), "window checksum (Adler-32) mismatch");
        // A source that is too short: the segment is outside it.
        assert_eq!(reason(&d, &old[..1000], new.len()), "source segment outside the source file");
        // Flipping bytes never panics; most are caught.
        let mut caught = 0;
        for i in 0..d.len() {
            let mut m = d.clone();
            m[i] ^= 0x41;
            caught += usize::from(reason(&m, &old, new.len()) != "decoded");
        }
        assert!(caught * 10 >= d.len() * 9, "only {caught} of {} flips caught", d.len());
    }

    #[test]
    fn applies_a_multi_window_delta_of_12_mib_when_xdelta3_is_installed() {
        let dir = std::env::temp_dir().join(format!("galaxy-dl-vcdiff-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut old = vec![0u8; 12 << 20];
        for b in old.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 56) as u8 & 0x3f;
        }
        let mut new = old.clone();
        for k in 0..50 {
            let p = (k * 251_003) % (new.len() - 5000);
            new[p..p + 3000].fill(k as u8);
        }
        new.extend_from_slice(&old[..1 << 20]);
        std::fs::write(dir.join("old"), &old).unwrap();
        std::fs::write(dir.join("new"), &new).unwrap();
        let st = std::process::Command::new("xdelta3")
            .args(["-e", "-S", "none", "-f", "-s"])
            .arg(dir.join("old"))
            .arg(dir.join("new"))
            .arg(dir.join("delta"))
            .status();
        if !matches!(st, Ok(s) if s.success()) {
            eprintln!("SKIP: xdelta3 is not installed; the 12 MiB multi-window case is not run");
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        let d = std::fs::read(dir.join("delta")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let mut out = Vec::new();
        let r = decode(&d, &old, new.len() as u64, &mut out).unwrap();
        assert!(out == new);
        assert!(r.windows >= 2, "{r:?}");
        assert!(d.len() < new.len() / 10, "delta {} bytes", d.len());
    }
}
