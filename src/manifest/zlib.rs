//! Bounded, strict zlib (RFC 1950) inflation of metadata: `flate2::read::ZlibDecoder` over the
//! whole body, capped at a maximum output size; a stream cut short (no end marker / Adler-32) is
//! an error, never a short result.

use std::io::Read;

/// Largest inflated metadata we accept (a depot manifest of a 100 GB game is a few MB).
pub const INFLATE_LIMIT: usize = 256 << 20;

/// True when `b` starts with a zlib header GOG uses (`78 01`, `78 5e`, `78 9c`, `78 da`).
pub fn is_zlib_header(b: &[u8]) -> bool {
    matches!(b, [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..])
}

/// Inflate a complete zlib stream, refusing more than `limit` output bytes. The error is a short
/// reason in words ("truncated zlib stream", "invalid zlib data: ...").
pub fn inflate(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).clamp(1024, 64 << 20).min(limit + 1));
    let dec = flate2::read::ZlibDecoder::new(data);
    match dec.take(limit as u64 + 1).read_to_end(&mut out) {
        Ok(_) if out.len() > limit => Err(format!("inflates to more than {limit} bytes")),
        Ok(_) => Ok(out),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err("truncated zlib stream (no end marker)".into()),
        Err(e) => Err(format!("invalid zlib data: {e}")),
    }
}

#[cfg(test)]
pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_header() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let z = deflate(&data);
        assert!(is_zlib_header(&z));
        assert_eq!(inflate(&z, INFLATE_LIMIT).unwrap(), data);
        assert_eq!(inflate(&deflate(b""), 10).unwrap(), b"");
    }

    #[test]
    fn truncated_is_an_error() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 13) as u8).collect();
        let z = deflate(&data);
        for cut in [2, z.len() / 2, z.len() - 1] {
            let e = inflate(&z[..cut], INFLATE_LIMIT).unwrap_err();
            assert!(e.contains("truncated"), "{cut}: {e}");
        }
    }

    #[test]
    fn garbage_and_limit() {
        assert!(inflate(b"\x78\x9cnot deflate at all", 1000).unwrap_err().contains("invalid"));
        assert!(!is_zlib_header(b"{}"));
        assert!(!is_zlib_header(b"\x78"));
        let z = deflate(&vec![0u8; 100_000]);
        assert!(inflate(&z, 1000).unwrap_err().contains("more than"));
        assert_eq!(inflate(&z, 100_000).unwrap().len(), 100_000);
        let mut bad_sum = deflate(b"some json text");
        *bad_sum.last_mut().unwrap() ^= 0xff;
        assert!(inflate(&bad_sum, 1000).is_err(), "Adler-32 checked");
    }
}
