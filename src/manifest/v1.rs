//! V1 (generation 1) manifests: `repository.json` (the build's `link`, plain JSON) with its
//! content depots and its `redist` entries kept apart, and the per-depot file list whose records
//! point into the product's uncompressed `main.bin` by `offset` and `size`.

use serde::{Deserialize, Serialize};

use super::de;
use crate::error::{Error, Result};

/// Largest `main.bin` a V1 depot manifest may point into (4 TiB).
pub const MAX_MAIN_BIN: u64 = 1 << 42;

/// A V1 `repository.json`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Repository {
    /// The `product` object.
    pub product: V1Product,
}

/// The `product` object of a V1 repository.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct V1Product {
    /// Repository timestamp (also the build's `legacy_build_id`), as a decimal string.
    pub timestamp: String,
    /// The base game id.
    pub root_game_id: String,
    /// Folder name suggested for the install.
    pub install_directory: String,
    /// Games (base and DLC) of the repository.
    pub game_ids: Vec<V1GameId>,
    /// Content depots.
    pub depots: Vec<V1Depot>,
    /// Redistributable entries (depots with a `redist` key).
    pub redists: Vec<V1Redist>,
}

/// An entry of `product.gameIDs`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct V1GameId {
    /// Product id.
    #[serde(rename = "gameID", deserialize_with = "de::string")]
    pub game_id: String,
    /// Display names by language (`{"en": "..."}`), or a plain string (anything else: `null`).
    #[serde(default, deserialize_with = "de::name_value")]
    pub name: serde_json::Value,
    /// True for a standalone game (false for DLC).
    #[serde(default, deserialize_with = "de::bool")]
    pub standalone: bool,
}

/// A V1 content depot.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct V1Depot {
    /// English language names plus `Neutral` (= all).
    #[serde(default, deserialize_with = "de::vec_string")]
    pub languages: Vec<String>,
    /// Installed bytes (a string in GOG's JSON).
    #[serde(default, deserialize_with = "de::u64")]
    pub size: u64,
    /// Products of the depot; the first is the product whose `main.bin` holds the files.
    #[serde(rename = "gameIDs", default, deserialize_with = "de::vec_string")]
    pub game_ids: Vec<String>,
    /// `Windows`, `Mac`, ...
    #[serde(default, deserialize_with = "de::vec_string")]
    pub systems: Vec<String>,
    /// Depot manifest file name (ends in `.json`).
    #[serde(deserialize_with = "de::string")]
    pub manifest: String,
}

impl V1Depot {
    /// The product whose `main.bin` holds this depot's files (`gameIDs[0]`).
    pub fn product_id(&self) -> Option<&str> {
        self.game_ids.first().map(String::as_str)
    }
}

/// A V1 redistributable entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct V1Redist {
    /// Redist id (e.g. `MSVC2010`).
    #[serde(deserialize_with = "de::string")]
    pub redist: String,
    /// Installer path inside the game folder.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub executable: Option<String>,
    /// Installer arguments.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub argument: Option<String>,
    /// Size in bytes.
    #[serde(default, deserialize_with = "de::u64")]
    pub size: u64,
}

#[derive(Deserialize)]
struct RawRepository {
    product: RawProduct,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProduct {
    #[serde(deserialize_with = "de::string")]
    timestamp: String,
    #[serde(rename = "rootGameID", deserialize_with = "de::string")]
    root_game_id: String,
    #[serde(default, deserialize_with = "de::string")]
    install_directory: String,
    #[serde(rename = "gameIDs", default, deserialize_with = "de::capped_vec::<_, _, { de::MAX_LIST }>")]
    game_ids: Vec<V1GameId>,
    #[serde(default, deserialize_with = "de::capped_vec::<_, _, { de::MAX_LIST }>")]
    depots: Vec<RawV1Depot>,
}

/// A `depots` entry: a content depot, or a redistributable when `redist` is present.
#[derive(Deserialize)]
struct RawV1Depot {
    #[serde(default, deserialize_with = "de::opt_string")]
    redist: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    executable: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    argument: Option<String>,
    #[serde(default, deserialize_with = "de::vec_string")]
    languages: Vec<String>,
    #[serde(default, deserialize_with = "de::u64")]
    size: u64,
    #[serde(rename = "gameIDs", default, deserialize_with = "de::vec_string")]
    game_ids: Vec<String>,
    #[serde(default, deserialize_with = "de::vec_string")]
    systems: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    manifest: Option<String>,
}

impl Repository {
    /// Decode a `repository.json` body (plain JSON; zlib tolerated).
    pub fn parse(bytes: &[u8], what: &str) -> Result<Repository> {
        let raw: RawRepository = super::decode_meta(bytes, what)?;
        let p = raw.product;
        if p.timestamp.is_empty() || p.root_game_id.is_empty() {
            return Err(Error::manifest(what, "V1 repository without timestamp or rootGameID"));
        }
        let mut depots = Vec::new();
        let mut redists = Vec::new();
        for (i, d) in p.depots.into_iter().enumerate() {
            if let Some(redist) = d.redist {
                redists.push(V1Redist { redist, executable: d.executable, argument: d.argument, size: d.size });
            } else {
                let manifest = d.manifest.unwrap_or_default();
                if d.game_ids.is_empty() || manifest.is_empty() {
                    return Err(Error::manifest(what, format!("depot {i} has no gameIDs or manifest")));
                }
                depots.push(V1Depot {
                    languages: d.languages,
                    size: d.size,
                    game_ids: d.game_ids,
                    systems: d.systems,
                    manifest,
                });
            }
        }
        Ok(Repository {
            product: V1Product {
                timestamp: p.timestamp,
                root_game_id: p.root_game_id,
                install_directory: p.install_directory,
                game_ids: p.game_ids,
                depots,
                redists,
            },
        })
    }
}

/// A V1 depot manifest.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct V1DepotManifest {
    /// The `depot` object.
    pub depot: V1DepotBody,
}

/// The `depot` object of a V1 depot manifest.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct V1DepotBody {
    /// Depot name.
    #[serde(default, deserialize_with = "de::string")]
    pub name: String,
    /// File and directory records.
    #[serde(default, deserialize_with = "de::capped_vec::<_, _, { crate::manifest::v2::MAX_ITEMS }>")]
    pub files: Vec<V1File>,
}

/// A file (or directory) record of a V1 depot manifest.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct V1File {
    /// Raw path (leading `/`).
    #[serde(deserialize_with = "de::string")]
    pub path: String,
    /// Bytes.
    #[serde(default, deserialize_with = "de::u64")]
    pub size: u64,
    /// MD5 of the whole file (lower-case hex).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub hash: Option<String>,
    /// Offset of the file inside `main.bin`.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub offset: Option<u64>,
    /// `<productId>/main.bin`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub url: Option<String>,
    /// A directory record.
    #[serde(default, deserialize_with = "de::bool")]
    pub directory: bool,
    /// A support file (goes under `gog-support/<productId>/`).
    #[serde(default, deserialize_with = "de::bool")]
    pub support: bool,
    /// Should be made executable.
    #[serde(default, deserialize_with = "de::bool")]
    pub executable: bool,
}

impl V1DepotManifest {
    /// Decode a V1 depot manifest body; validates hashes and that non-empty files have an offset.
    pub fn parse(bytes: &[u8], what: &str) -> Result<V1DepotManifest> {
        let mut m: V1DepotManifest = super::decode_meta(bytes, what)?;
        for f in &mut m.depot.files {
            if let Some(h) = &mut f.hash {
                if h.is_empty() {
                    f.hash = None;
                } else if !de::is_hex(h, 32) {
                    return Err(Error::manifest(what, format!("{:?}: hash {h:?} is not 32 hex digits", f.path)));
                } else {
                    h.make_ascii_lowercase();
                }
            }
            if f.path.len() > crate::manifest::path::MAX_PATH {
                return Err(Error::manifest(what, format!("a path of {} bytes is too long", f.path.len())));
            }
            if f.size > crate::manifest::v2::MAX_FILE_SIZE {
                return Err(Error::manifest(what, format!("{:?}: absurd size {}", f.path, f.size)));
            }
            if !f.directory && f.size > 0 && f.offset.is_none() {
                return Err(Error::manifest(what, format!("{:?}: {} bytes but no offset", f.path, f.size)));
            }
            if let Some(o) = f.offset {
                // A main.bin holds a whole product: a record ending past 4 TiB is not GOG's.
                if o.checked_add(f.size).is_none_or(|end| end > MAX_MAIN_BIN) {
                    return Err(Error::manifest(what, format!("{:?}: absurd offset {o} in main.bin", f.path)));
                }
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: &str = r#"{"version": 1, "product": {"timestamp": 37794096, "rootGameID": "1207658930",
      "installDirectory": "The Witcher 2", "projectName": "x",
      "gameIDs": [{"gameID": "1207658930", "name": {"en": "The Witcher 2"}, "standalone": true, "dependencies": []},
                  {"gameID": 1207659000, "name": "DLC"}],
      "depots": [
        {"languages": ["Neutral"], "size": "1255672", "gameIDs": ["1207658930"], "systems": ["Windows"],
         "manifest": "a0e35d92-2a0f-40db-8a47-47cbbad0bac0.json"},
        {"languages": ["English"], "size": 24450928280, "gameIDs": [1207659000], "systems": ["Windows"], "manifest": "b.json"},
        {"redist": "MSVC2010", "executable": "__redist/MSVC2010/vcredist_x86.exe", "argument": "/q", "size": "0"}],
      "support_commands": []}}"#;

    #[test]
    fn repository() {
        let r = Repository::parse(REPO.as_bytes(), "repo").unwrap();
        let p = &r.product;
        assert_eq!(p.timestamp, "37794096");
        assert_eq!(p.root_game_id, "1207658930");
        assert_eq!(p.depots.len(), 2);
        assert_eq!(p.depots[0].size, 1255672);
        assert_eq!(p.depots[1].product_id(), Some("1207659000"));
        assert_eq!(p.redists.len(), 1);
        assert_eq!(p.redists[0].redist, "MSVC2010");
        assert_eq!(p.game_ids[1].game_id, "1207659000");
        assert!(p.game_ids[0].standalone);
    }

    #[test]
    fn repository_bad_input() {
        assert!(Repository::parse(br#"{"product":{"rootGameID":"1"}}"#, "r").is_err());
        assert!(Repository::parse(br#"{"version":1}"#, "r").is_err());
        let no_ids = r#"{"product":{"timestamp":1,"rootGameID":"1","depots":[{"manifest":"a.json"}]}}"#;
        assert!(Repository::parse(no_ids.as_bytes(), "r").is_err());
        let bad_size = r#"{"product":{"timestamp":1,"rootGameID":"1","depots":[{"manifest":"a.json","gameIDs":["1"],"size":"x"}]}}"#;
        assert!(Repository::parse(bad_size.as_bytes(), "r").is_err());
    }

    #[test]
    fn depot_manifest() {
        let j = r#"{"version":1,"depot":{"name":"en","files":[
          {"url":"1207658930/main.bin","size":128,"hash":"4D1D0000000000000000000000000000","path":"/CookedPC/dlc.dzip","offset":13944149457},
          {"path":"/CookedPC","directory":true,"size":0},
          {"path":"/empty.txt","size":"0","hash":""},
          {"path":"/setup.exe","size":"5","offset":"7","support":true,"executable":true}]}}"#;
        let m = V1DepotManifest::parse(j.as_bytes(), "d").unwrap();
        let f = &m.depot.files;
        assert_eq!(f[0].offset, Some(13944149457));
        assert_eq!(f[0].hash.as_deref(), Some("4d1d0000000000000000000000000000"));
        assert!(f[1].directory);
        assert_eq!(f[2].hash, None);
        assert_eq!((f[3].size, f[3].offset, f[3].support, f[3].executable), (5, Some(7), true, true));
    }

    #[test]
    fn depot_manifest_bad_input() {
        let no_off = r#"{"depot":{"files":[{"path":"/a","size":5}]}}"#;
        assert!(V1DepotManifest::parse(no_off.as_bytes(), "d").is_err());
        let bad_hash = r#"{"depot":{"files":[{"path":"/a","size":0,"hash":"xyz"}]}}"#;
        assert!(V1DepotManifest::parse(bad_hash.as_bytes(), "d").is_err());
        let overflow = r#"{"depot":{"files":[{"path":"/a","size":2,"offset":18446744073709551615}]}}"#;
        assert!(V1DepotManifest::parse(overflow.as_bytes(), "d").is_err());
        assert!(V1DepotManifest::parse(br#"{"version":1}"#, "d").is_err());
        assert!(V1DepotManifest::parse(br#"{"depot":{"files":[{"size":1}]}}"#, "d").is_err());
    }
}
