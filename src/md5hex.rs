//! [`Md5Hex`]: an MD5 digest as its 32 hex digits, stored inline (32 bytes, no allocation).
//!
//! A plan and a work list hold two digests per chunk (and a V2 install has at least one chunk
//! per file); as `String`s each cost 24 bytes plus a 48-byte heap block. Inline they cost 32
//! bytes and nothing on the heap, which is most of the per-file memory saved at 20,000 files
//! (see RELIABILITY.md, Scale). The digits are kept exactly as given (either case), so it reads
//! and compares like the `&str` it replaces ([`std::ops::Deref`] to `str`), and it serializes as
//! that string: `plan.json` keeps its format.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 32 ASCII hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Md5Hex([u8; 32]);

impl Md5Hex {
    /// `s` if it is exactly 32 hex digits.
    pub fn parse(s: &str) -> Option<Md5Hex> {
        let b: [u8; 32] = s.as_bytes().try_into().ok()?;
        b.iter().all(u8::is_ascii_hexdigit).then_some(Md5Hex(b))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored (`parse`), so this never fails.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::ops::Deref for Md5Hex {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Md5Hex {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Md5Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Md5Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

// Only by reference: `Error::manifest(&job.compressed_md5, ...)` reads as with the `String` it
// replaces (a by-value conversion would have clippy ask to drop the `&` at every such call).
impl From<&Md5Hex> for String {
    fn from(h: &Md5Hex) -> String {
        h.as_str().to_string()
    }
}

impl PartialEq<str> for Md5Hex {
    fn eq(&self, o: &str) -> bool {
        self.as_str() == o
    }
}

impl PartialEq<&str> for Md5Hex {
    fn eq(&self, o: &&str) -> bool {
        self.as_str() == *o
    }
}

impl PartialEq<String> for Md5Hex {
    fn eq(&self, o: &String) -> bool {
        self.as_str() == o
    }
}

impl PartialEq<Md5Hex> for String {
    fn eq(&self, o: &Md5Hex) -> bool {
        self == o.as_str()
    }
}

impl PartialEq<Md5Hex> for str {
    fn eq(&self, o: &Md5Hex) -> bool {
        self == o.as_str()
    }
}

impl PartialEq<Md5Hex> for &str {
    fn eq(&self, o: &Md5Hex) -> bool {
        *self == o.as_str()
    }
}

impl Serialize for Md5Hex {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Md5Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Md5Hex, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Md5Hex;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an MD5 as 32 hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Md5Hex, E> {
                Md5Hex::parse(v).ok_or_else(|| E::custom("digest is not 32 hex digits"))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_32_hex_digits_and_reads_like_the_string() {
        let s = "0123456789abcdefABCDEF0123456789";
        let h = Md5Hex::parse(s).unwrap();
        assert_eq!(h, s);
        assert_eq!(h.to_string(), s);
        assert_eq!(&*h, s);
        assert!(Md5Hex::parse(&s[1..]).is_none());
        assert!(Md5Hex::parse("g123456789abcdefABCDEF0123456789").is_none());
        assert!(Md5Hex::parse("é123456789abcdefABCDEF012345678").is_none());
        let j = serde_json::to_string(&h).unwrap();
        assert_eq!(j, format!("\"{s}\""));
        assert_eq!(serde_json::from_str::<Md5Hex>(&j).unwrap(), h);
        assert!(serde_json::from_str::<Md5Hex>("\"abc\"").is_err());
        assert_eq!(std::mem::size_of::<Md5Hex>(), 32);
    }
}
