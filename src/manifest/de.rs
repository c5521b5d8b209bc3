//! Lenient serde helpers for GOG JSON: ids, sizes and timestamps arrive as numbers in one answer
//! and as strings in another (V1 `size` is `"1255672"`, V2 `osBitness` is `["64"]` or `[64]`).
//! Every helper here accepts both and normalises to one Rust type.

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// A JSON scalar that may stand for a string or a number. Deserialized by hand (not
/// `#[serde(untagged)]`, which would buffer whatever arrives, e.g. a list of a million elements,
/// before trying the variants): a list or an object is an error at its first byte.
enum Scalar {
    Str(String),
    U(u64),
    I(i64),
    F(f64),
    B(bool),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::U(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(if v >= 0 { Scalar::U(v as u64) } else { Scalar::I(v) })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::F(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::B(v))
            }
        }
        d.deserialize_any(V)
    }
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
    Ok(capped_vec::<D, Scalar, MAX_LIST>(d)?.into_iter().map(Scalar::into_string).collect())
}

/// Most elements in a list of strings (languages, flags, dependency ids).
pub const MAX_LIST: usize = 4096;

/// An optional list of strings or numbers, as strings.
pub fn opt_vec_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("null or a list")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            vec_string(d).map(Some)
        }
    }
    d.deserialize_option(V)
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

/// A list of at most `N` elements: a longer list is an error as soon as element `N + 1` is seen,
/// so a hostile manifest cannot make us allocate for an unbounded list.
pub fn capped_vec<'de, D, T, const N: usize>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T, const N: usize>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>, const N: usize> de::Visitor<'de> for V<T, N> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {N} elements")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(x) = seq.next_element()? {
                if out.len() >= N {
                    return Err(de::Error::custom(format!("more than {N} elements in a list")));
                }
                out.push(x);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V::<T, N>(std::marker::PhantomData))
}

/// A display name given as a string or as `{"en": "...", ...}`; anything else (or a map with
/// more than 64 entries) is skipped without being materialised and becomes `null`.
pub fn name_value<'de, D: Deserializer<'de>>(d: D) -> Result<serde_json::Value, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = serde_json::Value;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a name or a map of names")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(serde_json::Value::String(v.to_string()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(serde_json::Value::String(v))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(serde_json::Value::Null)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(serde_json::Value::Null)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(serde_json::Value::Null)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(serde_json::Value::Null)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(serde_json::Value::Null)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(serde_json::Value::Null)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = serde_json::Map::new();
            while let Some(k) = map.next_key::<String>()? {
                let v = map.next_value::<StrOrSkip>()?;
                if out.len() < 64 {
                    if let StrOrSkip(Some(v)) = v {
                        out.insert(k, serde_json::Value::String(v));
                    }
                }
            }
            Ok(serde_json::Value::Object(out))
        }
    }
    d.deserialize_any(V)
}

/// A string, or anything else skipped without being materialised.
struct StrOrSkip(Option<String>);

impl<'de> Deserialize<'de> for StrOrSkip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = StrOrSkip;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrOrSkip, E> {
                Ok(StrOrSkip(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<StrOrSkip, E> {
                Ok(StrOrSkip(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<StrOrSkip, E> {
                Ok(StrOrSkip(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<StrOrSkip, E> {
                Ok(StrOrSkip(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<StrOrSkip, E> {
                Ok(StrOrSkip(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<StrOrSkip, E> {
                Ok(StrOrSkip(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<StrOrSkip, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(StrOrSkip(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<StrOrSkip, A::Error> {
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(StrOrSkip(None))
            }
        }
        d.deserialize_any(V)
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
