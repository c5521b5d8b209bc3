//! Lenient serde helpers for GOG JSON: ids, sizes and timestamps arrive as numbers in one answer
//! and as strings in another (V1 `size` is `"1255672"`, V2 `osBitness` is `["64"]` or `[64]`).
//! Every helper here accepts both and normalises to one Rust type.

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// A JSON scalar that may stand for a string or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Str(String),
    U(u64),
    I(i64),
    F(f64),
    B(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Str(s) => s,
            Scalar::U(n) => n.to_string(),
            Scalar::I(n) => n.to_string(),
            Scalar::F(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
            Scalar::F(f) => f.to_string(),
            Scalar::B(b) => b.to_string(),
        }
    }

    fn into_u64<E: de::Error>(self) -> Result<u64, E> {
        match self {
            Scalar::U(n) => Ok(n),
            Scalar::Str(s) => {
                let t = s.trim();
                if t.is_empty() {
                    return Ok(0);
                }
                t.parse().map_err(|_| E::custom(format!("expected a non-negative integer, got {s:?}")))
            }
            Scalar::I(n) => Err(E::custom(format!("expected a non-negative integer, got {n}"))),
            Scalar::F(f) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Ok(f as u64),
            Scalar::F(f) => Err(E::custom(format!("expected a non-negative integer, got {f}"))),
            Scalar::B(b) => Err(E::custom(format!("expected an integer, got {b}"))),
        }
    }
}

/// A string or a number, as a `String` (numbers in decimal).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Scalar::deserialize(d)?.into_string())
}

/// An optional string or number; `null` and absent become `None`, `""` stays `Some("")`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(d)?.map(Scalar::into_string))
}

/// A non-negative integer given as a number or a decimal string (`""` and `null` are 0).
pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Option::<Scalar>::deserialize(d)? {
        None => Ok(0),
        Some(s) => s.into_u64(),
    }
}

/// An optional non-negative integer given as a number or a decimal string.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Scalar>::deserialize(d)? {
        None => Ok(None),
        Some(s) => s.into_u64().map(Some),
    }
}

/// A list of strings or numbers, as strings; `null` is an empty list.
pub fn vec_string<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Option::<Vec<Scalar>>::deserialize(d)?;
    Ok(v.unwrap_or_default().into_iter().map(Scalar::into_string).collect())
}

/// An optional list of strings or numbers, as strings.
pub fn opt_vec_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let v = Option::<Vec<Scalar>>::deserialize(d)?;
    Ok(v.map(|v| v.into_iter().map(Scalar::into_string).collect()))
}

/// A boolean that may be `null` (false), a bool, `0`/`1` or `"true"`/`"false"`.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Option::<Scalar>::deserialize(d)? {
        None => Ok(false),
        Some(Scalar::B(b)) => Ok(b),
        Some(Scalar::U(n)) => Ok(n != 0),
        Some(Scalar::I(n)) => Ok(n != 0),
        Some(Scalar::F(f)) => Ok(f != 0.0),
        Some(Scalar::Str(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" | "" => Ok(false),
            _ => Err(de::Error::custom(format!("expected a boolean, got {s:?}"))),
        },
    }
}

/// True when `s` is exactly `len` hex digits.
pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct T {
        #[serde(deserialize_with = "string")]
        id: String,
        #[serde(default, deserialize_with = "u64")]
        size: u64,
        #[serde(default, deserialize_with = "opt_u64")]
        off: Option<u64>,
        #[serde(default, deserialize_with = "vec_string")]
        bits: Vec<String>,
        #[serde(default, deserialize_with = "bool")]
        flag: bool,
    }

    fn t(s: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn numbers_and_strings() {
        let a = t(r#"{"id":1207658930,"size":"24450928280","off":"5","bits":[64,"32"],"flag":1}"#).unwrap();
        assert_eq!(a.id, "1207658930");
        assert_eq!(a.size, 24450928280);
        assert_eq!(a.off, Some(5));
        assert_eq!(a.bits, vec!["64", "32"]);
        assert!(a.flag);
        let b = t(r#"{"id":"x","size":12,"off":null,"bits":null,"flag":"false"}"#).unwrap();
        assert_eq!((b.size, b.off, b.bits.len(), b.flag), (12, None, 0, false));
        let c = t(r#"{"id":"x"}"#).unwrap();
        assert_eq!((c.size, c.off), (0, None));
    }

    #[test]
    fn bad_numbers_are_errors() {
        assert!(t(r#"{"id":"x","size":"12a"}"#).is_err());
        assert!(t(r#"{"id":"x","size":-1}"#).is_err());
        assert!(t(r#"{"id":"x","size":1.5}"#).is_err());
        assert!(t(r#"{"id":"x","flag":"maybe"}"#).is_err());
        assert!(t(r#"{"size":1}"#).is_err(), "id is required");
    }

    #[test]
    fn hex_check() {
        assert!(is_hex("0123456789abcdefABCDEF0123456789", 32));
        assert!(!is_hex("0123", 32));
        assert!(!is_hex("g123456789abcdef0123456789abcdef", 32));
    }
}
