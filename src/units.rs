//! Parsing and printing of byte sizes and rates (`1048576`, `512K`, `10M`, `1G`, binary units).

use crate::error::{Error, Result};

/// Parse a SIZE such as `1048576`, `512K`, `10M`, `1G` (binary units, optional `B`/`iB`).
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let bad = || Error::Usage(format!("invalid size {s:?}: expected a number with optional K, M or G suffix"));
    let lower = t.to_ascii_lowercase();
    let body = lower.strip_suffix("ib").or_else(|| lower.strip_suffix('b')).unwrap_or(&lower);
    let (num, mult) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 1u64 << 10),
        Some('m') => (&body[..body.len() - 1], 1 << 20),
        Some('g') => (&body[..body.len() - 1], 1 << 30),
        Some('t') => (&body[..body.len() - 1], 1 << 40),
        _ => (body, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let v = if num.contains('.') {
        let f: f64 = num.parse().map_err(|_| bad())?;
        let r = f * mult as f64;
        if !r.is_finite() || r < 0.0 || r > u64::MAX as f64 {
            return Err(bad());
        }
        r as u64
    } else {
        let n: u64 = num.parse().map_err(|_| bad())?;
        n.checked_mul(mult).ok_or_else(bad)?
    };
    Ok(v)
}

/// Parse a RATE (bytes per second), same syntax as SIZE, optional `/s`. Zero is refused.
pub fn parse_rate(s: &str) -> Result<u64> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let v = parse_size(t)
        .map_err(|_| Error::Usage(format!("invalid rate {s:?}: expected e.g. 512K or 10M (bytes per second)")))?;
    if v == 0 {
        return Err(Error::Usage(format!("invalid rate {s:?}: must be above zero")));
    }
    Ok(v)
}

/// Human-readable binary size: `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576").unwrap(), 1048576);
        assert_eq!(parse_size("512K").unwrap(), 512 * 1024);
        assert_eq!(parse_size("10M").unwrap(), 10 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("4MiB").unwrap(), 4 << 20);
        assert_eq!(parse_size("1.5M").unwrap(), 3 << 19);
        for bad in ["", "M", "-1", "1X", "abc", "99999999999999999999", "1..2M", "20000000000T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("20M").unwrap(), 20 << 20);
        assert_eq!(parse_rate("512K/s").unwrap(), 512 << 10);
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(10 << 20), "10.0 MiB");
    }
}
