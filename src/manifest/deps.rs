//! The dependency repository (redistributables and GOG helpers): which dependency ids exist,
//! where their depot manifests are, and whether they install into the game directory or
//! under `__redist/` (system-wide installers, fetched only on request).

use serde::Deserialize;

use super::de;
use crate::error::Result;

/// Answer of `/dependencies/repository?generation=2`.
#[derive(Debug, Clone, Deserialize)]
pub struct RepositoryLink {
    /// URL of the (zlib JSON) repository manifest.
    pub repository_manifest: String,
}

/// The repository manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct DependencyRepository {
    /// Every dependency.
    #[serde(default, deserialize_with = "de::capped_vec::<_, _, { de::MAX_LIST }>")]
    pub depots: Vec<DependencyDepot>,
}

/// One dependency.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DependencyDepot {
    /// Id as build manifests name it (`MSVC2017_x64`).
    #[serde(deserialize_with = "de::string")]
    pub dependency_id: String,
    /// Human name.
    #[serde(default, deserialize_with = "de::string")]
    pub readable_name: String,
    /// Installer to run after install.
    #[serde(default)]
    pub executable: Option<Executable>,
    /// GOG-internal helper.
    #[serde(default, deserialize_with = "de::bool")]
    pub internal: bool,
    /// Depot manifest id.
    #[serde(deserialize_with = "de::string")]
    pub manifest: String,
    /// Installed bytes.
    #[serde(default, deserialize_with = "de::u64")]
    pub size: u64,
    /// Download bytes.
    #[serde(default, deserialize_with = "de::u64")]
    pub compressed_size: u64,
}

/// A dependency's installer.
#[derive(Debug, Clone, Deserialize)]
pub struct Executable {
    /// Path relative to the install directory (`__redist/...` for shared redistributables).
    #[serde(default, deserialize_with = "de::string")]
    pub path: String,
    /// Arguments.
    #[serde(default, deserialize_with = "de::string")]
    pub arguments: String,
}

impl DependencyDepot {
    /// A shared system redistributable (installed under `__redist/`), as opposed to files the
    /// game itself needs in its directory.
    pub fn is_redist(&self) -> bool {
        self.executable.as_ref().is_some_and(|e| {
            let p = e.path.replace('\\', "/");
            p.trim_start_matches('/').to_ascii_lowercase().starts_with("__redist")
        })
    }
}

impl DependencyRepository {
    /// Decode the repository manifest (zlib or plain JSON).
    pub fn parse(bytes: &[u8], what: &str) -> Result<DependencyRepository> {
        super::decode_meta(bytes, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_classifies() {
        let j = br#"{"depots":[
            {"dependencyId":"MSVC2017_x64","executable":{"path":"__redist/MSVC2017_x64/vc.exe","arguments":"/q"},"manifest":"0123456789abcdef0123456789abcdef","size":"10","compressedSize":5},
            {"dependencyId":"GAME_HELPER","executable":{"path":"helper/x.exe","arguments":""},"manifest":"0123456789abcdef0123456789abcdee","size":1,"internal":false},
            {"dependencyId":"ISI","internal":true,"manifest":"0123456789abcdef0123456789abcded"}]}"#;
        let r = DependencyRepository::parse(j, "t").unwrap();
        assert_eq!(r.depots.len(), 3);
        assert!(r.depots[0].is_redist());
        assert!(!r.depots[1].is_redist());
        assert_eq!(r.depots[0].size, 10);
        assert!(r.depots[2].internal);
        assert!(DependencyRepository::parse(b"{\"depots\":[{}]}", "t").is_err());
    }
}
