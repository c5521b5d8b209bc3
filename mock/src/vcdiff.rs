//! A small VCDIFF (RFC 3284) encoder, so the mock can serve xdelta3-style patches between its
//! own fixture builds: greedy COPY of 16-byte blocks found in the source (exact block index,
//! extended both ways), ADD for the rest, the default code table (only `ADD size 0` and
//! `COPY size 0 mode SELF` entries), no secondary compression, and xdelta3's Adler-32 window
//! checksum (`VCD_ADLER32`). Output is valid input for any RFC 3284 decoder that accepts the
//! xdelta3 checksum extension (xdelta3 itself does).

use std::collections::HashMap;

const BLOCK: usize = 16;

/// Target bytes per window (xdelta3's default window is 8 MiB).
pub const WINDOW: usize = 4 << 20;

/// Adler-32 of `data`.
pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for block in data.chunks(5552) {
        for &x in block {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// Append a VCDIFF integer (base 128, most significant digit first).
pub fn put_int(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 10];
    let mut n = 0;
    loop {
        digits[n] = (v & 0x7f) as u8;
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(digits[i] | if i > 0 { 0x80 } else { 0 });
    }
}

/// Encode `target` as a delta against `source`.
pub fn encode(source: &[u8], target: &[u8]) -> Vec<u8> {
    let mut index: HashMap<[u8; BLOCK], u32> = HashMap::new();
    for (i, b) in source.chunks_exact(BLOCK).enumerate() {
        let mut k = [0u8; BLOCK];
        k.copy_from_slice(b);
        index.entry(k).or_insert((i * BLOCK) as u32);
    }
    let mut out = vec![0xD6, 0xC3, 0xC4, 0x00, 0x00];
    for (w, win) in target.chunks(WINDOW).enumerate() {
        let _ = w;
        window(&mut out, source, win, &index);
    }
    out
}

fn window(out: &mut Vec<u8>, source: &[u8], t: &[u8], index: &HashMap<[u8; BLOCK], u32>) {
    let (mut data, mut inst, mut addrs) = (Vec::new(), Vec::new(), Vec::new());
    let mut add_from = 0;
    let mut i = 0;
    let flush_add = |data: &mut Vec<u8>, inst: &mut Vec<u8>, from: usize, to: usize| {
        if to > from {
            inst.push(1); // ADD, size follows
            put_int(inst, (to - from) as u64);
            data.extend_from_slice(&t[from..to]);
        }
    };
    while i + BLOCK <= t.len() {
        let mut k = [0u8; BLOCK];
        k.copy_from_slice(&t[i..i + BLOCK]);
        let Some(&at) = index.get(&k) else {
            i += 1;
            continue;
        };
        let (mut s, mut ts) = (at as usize, i);
        // Extend backwards into the pending ADD, then forwards.
        while s > 0 && ts > add_from && source[s - 1] == t[ts - 1] {
            s -= 1;
            ts -= 1;
        }
        let mut len = i + BLOCK - ts;
        while s + len < source.len() && ts + len < t.len() && source[s + len] == t[ts + len] {
            len += 1;
        }
        flush_add(&mut data, &mut inst, add_from, ts);
        inst.push(19); // COPY, size follows, mode SELF
        put_int(&mut inst, len as u64);
        put_int(&mut addrs, s as u64);
        i = ts + len;
        add_from = i;
    }
    flush_add(&mut data, &mut inst, add_from, t.len());

    let mut enc = Vec::new();
    put_int(&mut enc, t.len() as u64);
    enc.push(0); // no compressed sections
    put_int(&mut enc, data.len() as u64);
    put_int(&mut enc, inst.len() as u64);
    put_int(&mut enc, addrs.len() as u64);
    enc.extend_from_slice(&adler32(t).to_be_bytes());
    enc.extend_from_slice(&data);
    enc.extend_from_slice(&inst);
    enc.extend_from_slice(&addrs);
    if source.is_empty() {
        out.push(0x04); // VCD_ADLER32 only
    } else {
        out.push(0x05); // VCD_SOURCE | VCD_ADLER32: the whole old file is the segment
        put_int(out, source.len() as u64);
        put_int(out, 0);
    }
    put_int(out, enc.len() as u64);
    out.extend_from_slice(&enc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian_base_128() {
        let mut v = Vec::new();
        put_int(&mut v, 123_456_789);
        assert_eq!(v, [0xBA, 0xEF, 0x9A, 0x15]); // the example of RFC 3284 section 2
        v.clear();
        put_int(&mut v, 0);
        assert_eq!(v, [0]);
    }

    #[test]
    fn copies_shared_blocks_and_stays_small() {
        let source = crate::data::random_bytes(7, 100_000);
        let mut target = source[5000..60_000].to_vec();
        target.extend_from_slice(b"something new");
        target.extend_from_slice(&source[70_000..]);
        let d = encode(&source, &target);
        // Round trip with xdelta3 when it is installed (the real decoder).
        let dir = std::env::temp_dir().join(format!("mock-vcdiff-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("old"), &source).unwrap();
        std::fs::write(dir.join("d"), &d).unwrap();
        let st = std::process::Command::new("xdelta3")
            .args(["-d", "-f", "-s"])
            .arg(dir.join("old"))
            .arg(dir.join("d"))
            .arg(dir.join("new"))
            .status();
        match st {
            Ok(s) if s.success() => assert!(std::fs::read(dir.join("new")).unwrap() == target),
            Ok(s) => panic!("xdelta3 refused the delta: {s}"),
            Err(_) => eprintln!("SKIP: xdelta3 is not installed; round trip not checked"),
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(d.len() < 200, "{} bytes", d.len());
    }
}
