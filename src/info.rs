//! What a build holds and what a download of it would take: the build list of a product (both
//! generations merged, as an archiver wants it) and, for one chosen build, its products, depots,
//! DLC with ownership, dependencies, and the download and install size of a [`Selection`].
//!
//! This is the library side of `galaxy-dl builds` and `galaxy-dl info`; launchers can call
//! [`list_builds`] and [`build_info`] directly and serialise the answers.
//!
//! ```no_run
//! use galaxy_dl::{api::Client, info, select::Selection};
//! let client = Client::from_env(galaxy_dl::http::agent(&Default::default())?)?;
//! let i = info::build_info(&client, "1207658930", &Selection::default())?;
//! println!("{} needs {} bytes of download", i.build_id, i.download_size);
//! # Ok::<(), galaxy_dl::Error>(())
//! ```

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

use crate::api::builds::{choose_build, Build};
use crate::api::Client;
use crate::error::{Error, Result};
use crate::manifest::v1::Repository;
use crate::manifest::v2::BuildManifest;
use crate::select::{select_v1_depots, select_v2_depots, DlcChoice, Notice, Selection};

/// List the builds of `product_id` for `os`.
///
/// With `generation: Some(g)` this is exactly GOG's list for that generation (generation 2
/// also lists V1 builds). With `None` both generations are asked and merged by `build_id`
/// (some builds show up under only one of them), newest `date_published` first; a failure of
/// the generation-1 query is ignored when generation 2 answered. `password` unlocks private
/// branches. An unknown product is [`Error::NotFound`].
pub fn list_builds(
    client: &Client,
    product_id: &str,
    os: &str,
    generation: Option<u8>,
    password: Option<&str>,
) -> Result<Vec<Build>> {
    if let Some(g) = generation {
        return client.builds(product_id, os, g, password);
    }
    let mut all = client.builds(product_id, os, 2, password)?;
    match client.builds(product_id, os, 1, password) {
        Ok(v1) => merge_builds(&mut all, v1),
        Err(e) => debug!("generation 1 build list of {product_id} failed, using generation 2 only: {e}"),
    }
    Ok(all)
}

/// Append the builds of `extra` whose `build_id` is not in `into` yet, then sort newest first
/// (stable: ties keep GOG's order).
pub fn merge_builds(into: &mut Vec<Build>, extra: Vec<Build>) {
    let mut seen: HashSet<String> = into.iter().map(|b| b.build_id.clone()).collect();
    for b in extra {
        if seen.insert(b.build_id.clone()) {
            into.push(b);
        }
    }
    into.sort_by(|a, b| b.date_published.cmp(&a.date_published));
}

/// The build just before `build` in `builds` (newest first by `date_published`, ties in
/// GOG's order) of the same generation: the one an update to `build` usually starts from.
pub fn previous_build<'a>(builds: &'a [Build], build: &Build) -> Option<&'a Build> {
    let mut sorted: Vec<&Build> = builds.iter().collect();
    sorted.sort_by(|a, b| b.date_published.cmp(&a.date_published));
    let at = sorted.iter().position(|b| b.build_id == build.build_id)?;
    sorted.get(at + 1..)?.iter().find(|b| b.generation == build.generation).copied()
}

/// A depot of the chosen build.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DepotInfo {
    /// Product (base game or DLC) the depot belongs to.
    pub product_id: String,
    /// Language codes or names as GOG lists them.
    pub languages: Vec<String>,
    /// `osBitness` (`["64"]`, `["32"]`); `None` = any (always V1).
    pub bitness: Option<Vec<String>>,
    /// Installed bytes.
    pub size: u64,
    /// Download bytes (V1: equal to `size`, `main.bin` is not compressed).
    pub compressed_size: u64,
    /// Depot manifest id (V2) or manifest file name (V1).
    pub manifest: String,
    /// GOG's own small depot (`goggame-*` files).
    pub gog_depot: bool,
    /// Taken by the selection.
    pub selected: bool,
}

/// Download and install bytes of one part of a selection.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SizeTotal {
    /// Product id (or `dependencies`), or language code.
    pub key: String,
    /// Bytes to download.
    pub download_size: u64,
    /// Bytes on disk.
    pub install_size: u64,
}

/// A DLC named by the chosen build.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DlcInfo {
    /// Product id.
    pub product_id: String,
    /// Display name (may be empty).
    pub name: String,
    /// Whether the account owns it; `None` when not logged in.
    pub owned: Option<bool>,
    /// Whether the selection takes it (requested, and owned or ownership unknown).
    pub selected: bool,
}

/// Everything `galaxy-dl info` shows about one build and one selection.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BuildInfo {
    /// The base product id.
    pub product_id: String,
    /// Its display name, when the build manifest names it.
    pub product_name: Option<String>,
    /// Whether the account owns the base product; `None` when not logged in.
    pub owned: Option<bool>,
    /// The chosen build id.
    pub build_id: String,
    /// 1 (V1 `main.bin`) or 2 (V2 chunks).
    pub generation: u8,
    /// Human version string.
    pub version_name: String,
    /// Branch; `None` = the public default branch.
    pub branch: Option<String>,
    /// Public build.
    pub public: bool,
    /// Publication date as GOG gives it.
    pub date_published: String,
    /// `windows` or `osx`.
    pub os: String,
    /// Suggested install folder name.
    pub install_directory: String,
    /// Language of the selection.
    pub language: String,
    /// Bitness of the selection.
    pub bitness: u32,
    /// Every content depot of the build, with `selected` set for those the selection takes.
    pub depots: Vec<DepotInfo>,
    /// Every DLC the build names.
    pub dlcs: Vec<DlcInfo>,
    /// Dependency (redistributable) ids: V2 `dependencies`, V1 `redist` entries.
    pub dependencies: Vec<String>,
    /// Bytes to download for the selection. With `sizes_from == "plan"` (logged in, through
    /// [`crate::install::Downloader::info`]) exactly what a download into an empty directory
    /// fetches, game-directory dependencies included; with `"manifest"` the sum of the
    /// selected depots' compressed sizes.
    pub download_size: u64,
    /// Bytes on disk after install (same two sources as `download_size`).
    pub install_size: u64,
    /// Where the two sizes come from: `"plan"` (the files a download installs) or
    /// `"manifest"` (depot sums of the build manifest; dependencies not included).
    pub sizes_from: String,
    /// Download and install bytes per product of the selection (base game, each DLC, and
    /// `dependencies`); empty when `sizes_from` is `"manifest"`.
    pub by_product: Vec<SizeTotal>,
    /// Per language the build offers: the depots a `--lang` of it would take (with this
    /// selection's bitness and DLC), as depot sums of the build manifest.
    pub by_language: Vec<SizeTotal>,
    /// An update to this build from the build just before it in the build list, when GOG
    /// offers an xdelta3 patch between the two (logged in and owning the product, V2 only);
    /// `None` (`null`) when there is no such patch or it could not be evaluated.
    pub update_patch: Option<UpdatePatch>,
    /// Things the user should know (unowned DLC skipped, not logged in, missing language).
    pub notices: Vec<Notice>,
}

/// What an update of the selection from the previous build costs with GOG's patch and
/// without it (the figures `download --dry-run` of that update would show, for a complete
/// install of the previous build).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct UpdatePatch {
    /// The previous build (the one the update starts from).
    pub from_build: String,
    /// Its version string.
    pub from_version: String,
    /// Files of the selection the patch rebuilds from their previous version.
    pub patch_files: usize,
    /// Bytes of their deltas to download (compressed).
    pub patch_bytes: u64,
    /// Bytes an update by chunks alone downloads (chunks the previous build does not have).
    pub chunk_bytes: u64,
    /// Bytes the update downloads with the patch: `patch_bytes` plus the chunks of the changed
    /// files the patch does not cover.
    pub with_patch_bytes: u64,
}

/// Describe the build of `product_id` chosen by `selection` (`build`, else newest public build of
/// `branch`, with `password`; `os`), fetch its build manifest (V2 meta or V1 `repository.json`)
/// and apply the depot selection (language, bitness, DLC) as `download` would.
///
/// Ownership comes from [`Client::owned_products`] when logged in. When not logged in the
/// answer still lists everything: ownership is `None`, requested DLC counts as selected, and a
/// notice says so (a download needs a login and skips unowned DLC).
pub fn build_info(client: &Client, product_id: &str, selection: &Selection) -> Result<BuildInfo> {
    let builds = list_builds(client, product_id, &selection.os, None, selection.password.as_deref())?;
    let build = choose_build(&builds, selection.build.as_deref(), selection.branch.as_deref())?.clone();
    let owned = if client.is_logged_in() { Some(client.owned_products()?) } else { None };
    let mut notices = Vec::new();
    if owned.is_none() {
        notices.push(
            "not logged in: DLC ownership is unknown and every requested DLC is counted; \
             run galaxy-dl login (download needs it)"
                .to_string(),
        );
    }
    let mut info = match build.generation {
        2 => {
            let m: BuildManifest = client.fetch_meta(&build.link)?;
            v2_info(&m, product_id, selection, owned.as_ref(), &mut notices)
        }
        _ => {
            let body = client.meta_bytes(&build.link)?;
            let r = Repository::parse(&body, &build.link)?;
            v1_info(&r, product_id, selection, owned.as_ref(), &mut notices)?
        }
    };
    info.build_id = build.build_id.clone();
    info.generation = build.generation;
    info.version_name = build.version_name.clone();
    info.branch = build.branch_name().map(str::to_string);
    info.public = build.public;
    info.date_published = build.date_published.clone();
    info.os = selection.os.clone();
    info.owned = owned.as_ref().map(|o| o.contains(product_id));
    if info.owned == Some(false) {
        notices.push(format!("this account does not own product {product_id}; a download will fail"));
    }
    info.notices = notices;
    Ok(info)
}

fn empty_info(product_id: &str, selection: &Selection) -> BuildInfo {
    BuildInfo {
        product_id: product_id.to_string(),
        product_name: None,
        owned: None,
        build_id: String::new(),
        generation: 0,
        version_name: String::new(),
        branch: None,
        public: true,
        date_published: String::new(),
        os: selection.os.clone(),
        install_directory: String::new(),
        language: selection.lang.clone(),
        bitness: selection.bitness,
        depots: Vec::new(),
        dlcs: Vec::new(),
        dependencies: Vec::new(),
        download_size: 0,
        install_size: 0,
        sizes_from: "manifest".into(),
        by_product: Vec::new(),
        by_language: Vec::new(),
        update_patch: None,
        notices: Vec::new(),
    }
}

/// The owned set the depot selection uses: the real one, or (not logged in) every product.
fn effective_owned<'a>(owned: Option<&HashSet<String>>, all: impl Iterator<Item = &'a str>) -> HashSet<String> {
    match owned {
        Some(o) => o.clone(),
        None => all.map(str::to_string).collect(),
    }
}

fn dlc_requested(choice: &DlcChoice, id: &str) -> bool {
    match choice {
        DlcChoice::All => true,
        DlcChoice::None => false,
        DlcChoice::Ids(ids) => ids.iter().any(|i| i == id),
    }
}

/// [`BuildInfo`] of a V2 build manifest (build listing fields left empty).
pub fn v2_info(
    m: &BuildManifest,
    product_id: &str,
    selection: &Selection,
    owned: Option<&HashSet<String>>,
    notices: &mut Vec<Notice>,
) -> BuildInfo {
    let mut ids: BTreeSet<&str> = m.products.iter().map(|p| p.product_id.as_str()).collect();
    ids.extend(m.depots.iter().map(|d| d.product_id.as_str()));
    let eff = effective_owned(owned, ids.iter().copied());
    let (picked, n) = select_v2_depots(m, product_id, selection, &eff);
    notices.extend(n);
    let mut langs: BTreeSet<&str> = BTreeSet::new();
    for d in &m.depots {
        langs.extend(d.languages.iter().map(String::as_str).filter(|l| *l != "*"));
    }
    let by_language = langs
        .into_iter()
        .map(|l| {
            let sel = Selection { lang: l.to_string(), ..selection.clone() };
            let (p, _) = select_v2_depots(m, product_id, &sel, &eff);
            SizeTotal {
                key: l.to_string(),
                download_size: p.iter().map(|d| d.compressed_size).sum(),
                install_size: p.iter().map(|d| d.size).sum(),
            }
        })
        .collect();
    let mut info = empty_info(product_id, selection);
    info.by_language = by_language;
    info.product_name = m.product_name(product_id).map(str::to_string);
    info.install_directory = m.install_directory.clone();
    info.dependencies = m.dependencies.clone();
    for d in &m.depots {
        let selected = picked.iter().any(|p| std::ptr::eq(*p, d));
        if selected {
            info.download_size += d.compressed_size;
            info.install_size += d.size;
        }
        info.depots.push(DepotInfo {
            product_id: d.product_id.clone(),
            languages: d.languages.clone(),
            bitness: d.os_bitness.clone(),
            size: d.size,
            compressed_size: d.compressed_size,
            manifest: d.manifest.clone(),
            gog_depot: d.is_gog_depot,
            selected,
        });
    }
    for id in ids.into_iter().filter(|id| *id != product_id) {
        let is_owned = owned.map(|o| o.contains(id));
        info.dlcs.push(DlcInfo {
            product_id: id.to_string(),
            name: m.product_name(id).unwrap_or_default().to_string(),
            owned: is_owned,
            selected: dlc_requested(&selection.dlc, id) && is_owned != Some(false),
        });
    }
    info
}

/// [`BuildInfo`] of a V1 `repository.json` (build listing fields left empty). Fails when the
/// repository belongs to another product.
pub fn v1_info(
    r: &Repository,
    product_id: &str,
    selection: &Selection,
    owned: Option<&HashSet<String>>,
    notices: &mut Vec<Notice>,
) -> Result<BuildInfo> {
    let p = &r.product;
    if p.root_game_id != product_id {
        return Err(Error::manifest(
            "V1 repository",
            format!("it belongs to product {}, not {product_id}", p.root_game_id),
        ));
    }
    let mut ids: BTreeSet<&str> = p.game_ids.iter().map(|g| g.game_id.as_str()).collect();
    ids.extend(p.depots.iter().filter_map(|d| d.product_id()));
    let eff = effective_owned(owned, ids.iter().copied());
    let (picked, n) = select_v1_depots(r, selection, &eff);
    notices.extend(n);
    let mut langs: BTreeSet<&str> = BTreeSet::new();
    for d in &p.depots {
        langs.extend(d.languages.iter().map(String::as_str).filter(|l| *l != "*"));
    }
    let by_language: Vec<SizeTotal> = langs
        .into_iter()
        .map(|l| {
            let sel = Selection { lang: l.to_string(), ..selection.clone() };
            let (picked, _) = select_v1_depots(r, &sel, &eff);
            let n: u64 = picked.iter().map(|d| d.size).sum();
            SizeTotal { key: l.to_string(), download_size: n, install_size: n }
        })
        .collect();
    let name = |id: &str| -> String {
        let Some(g) = p.game_ids.iter().find(|g| g.game_id == id) else { return String::new() };
        match &g.name {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(o) => {
                o.get("en").or_else(|| o.values().next()).and_then(|v| v.as_str()).unwrap_or_default().to_string()
            }
            _ => String::new(),
        }
    };
    let mut info = empty_info(product_id, selection);
    let base_name = name(product_id);
    info.product_name = (!base_name.is_empty()).then_some(base_name);
    info.by_language = by_language;
    info.install_directory = p.install_directory.clone();
    info.dependencies = p.redists.iter().map(|r| r.redist.clone()).collect();
    for d in &p.depots {
        let selected = picked.iter().any(|p| std::ptr::eq(*p, d));
        if selected {
            info.download_size += d.size;
            info.install_size += d.size;
        }
        info.depots.push(DepotInfo {
            product_id: d.product_id().unwrap_or_default().to_string(),
            languages: d.languages.clone(),
            bitness: None,
            size: d.size,
            compressed_size: d.size,
            manifest: d.manifest.clone(),
            gog_depot: false,
            selected,
        });
    }
    for id in ids.into_iter().filter(|id| *id != product_id) {
        let is_owned = owned.map(|o| o.contains(id));
        info.dlcs.push(DlcInfo {
            product_id: id.to_string(),
            name: name(id),
            owned: is_owned,
            selected: dlc_requested(&selection.dlc, id) && is_owned != Some(false),
        });
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> BuildManifest {
        serde_json::from_str(
            r#"{"baseProductId":"1","installDirectory":"Game","dependencies":["MSVC2017_x64"],
             "products":[{"productId":"1","name":"Base"},{"productId":"2","name":"Owned DLC"},
              {"productId":"3","name":"Unowned DLC"}],
             "depots":[
              {"productId":"1","languages":["*"],"manifest":"g","size":10,"compressedSize":5,"isGogDepot":true},
              {"productId":"1","languages":["en-US"],"manifest":"a","osBitness":["64"],"size":1000,"compressedSize":600},
              {"productId":"1","languages":["en-US"],"manifest":"a32","osBitness":["32"],"size":900,"compressedSize":500},
              {"productId":"1","languages":["de-DE"],"manifest":"b","size":100,"compressedSize":80},
              {"productId":"2","languages":["en"],"manifest":"c","size":50,"compressedSize":40},
              {"productId":"3","languages":["*"],"manifest":"d","size":7,"compressedSize":7}]}"#,
        )
        .unwrap()
    }

    fn set(v: &[&str]) -> HashSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn v2_sizes_and_dlc() {
        let m = manifest();
        let owned = set(&["1", "2"]);
        let mut n = Vec::new();
        let i = v2_info(&m, "1", &Selection::default(), Some(&owned), &mut n);
        assert_eq!((i.download_size, i.install_size), (5 + 600 + 40, 10 + 1000 + 50));
        let sel: Vec<&str> = i.depots.iter().filter(|d| d.selected).map(|d| d.manifest.as_str()).collect();
        assert_eq!(sel, ["g", "a", "c"]);
        assert_eq!(i.product_name.as_deref(), Some("Base"));
        assert_eq!(i.dependencies, ["MSVC2017_x64"]);
        assert_eq!(i.dlcs.len(), 2);
        assert_eq!((i.dlcs[0].owned, i.dlcs[0].selected), (Some(true), true));
        assert_eq!((i.dlcs[1].owned, i.dlcs[1].selected), (Some(false), false));
        assert!(n.iter().any(|x| x.contains("DLC 3 (Unowned DLC) is not owned")), "{n:?}");

        let mut n = Vec::new();
        let s32 = Selection { bitness: 32, dlc: DlcChoice::None, ..Selection::default() };
        let i = v2_info(&m, "1", &s32, None, &mut n);
        assert_eq!((i.download_size, i.install_size), (505, 910));
        assert!(i.dlcs.iter().all(|d| d.owned.is_none() && !d.selected));

        let mut n = Vec::new();
        let i = v2_info(&m, "1", &Selection::default(), None, &mut n);
        assert_eq!(i.install_size, 10 + 1000 + 50 + 7, "ownership unknown: every DLC counted");
    }

    #[test]
    fn v1_sizes() {
        let r = Repository::parse(
            br#"{"product":{"timestamp":1,"rootGameID":"1","installDirectory":"Old","gameIDs":[{"gameID":"1","name":{"en":"Base"}},{"gameID":"2","name":"Dlc"}],
              "depots":[{"languages":["Neutral"],"gameIDs":["1"],"manifest":"n.json","size":"100"},
                        {"languages":["German"],"gameIDs":["1"],"manifest":"g.json","size":"20"},
                        {"languages":["English"],"gameIDs":["2"],"manifest":"d.json","size":"3"},
                        {"redist":"MSVC2010","size":"0"}]}}"#,
            "r",
        )
        .unwrap();
        let mut n = Vec::new();
        let i = v1_info(&r, "1", &Selection::default(), Some(&set(&["1"])), &mut n).unwrap();
        assert_eq!((i.download_size, i.install_size), (100, 100));
        assert_eq!(i.product_name.as_deref(), Some("Base"));
        assert_eq!(i.install_directory, "Old");
        assert_eq!(i.dependencies, ["MSVC2010"]);
        assert_eq!(i.dlcs[0].name, "Dlc");
        assert_eq!(i.dlcs[0].owned, Some(false));
        assert!(v1_info(&r, "9", &Selection::default(), None, &mut n).is_err());
    }

    fn build(id: &str, date: &str, generation: u8) -> Build {
        Build {
            build_id: id.into(),
            product_id: "1".into(),
            os: "windows".into(),
            branch: None,
            version_name: String::new(),
            public: true,
            date_published: date.into(),
            generation,
            link: String::new(),
            legacy_build_id: None,
        }
    }

    #[test]
    fn previous_build_is_the_next_older_one_of_the_same_generation() {
        let b = build;
        // Out of order, a V1 build in between, a tie with the chosen build kept in list order.
        let list = vec![b("2", "2020-02", 2), b("4", "2020-04", 2), b("v1", "2020-03", 1), b("3", "2020-02", 2)];
        assert_eq!(previous_build(&list, &list[1]).map(|x| x.build_id.as_str()), Some("2"));
        assert_eq!(previous_build(&list, &list[0]).map(|x| x.build_id.as_str()), Some("3"));
        assert_eq!(previous_build(&list, &list[3]), None);
        assert_eq!(previous_build(&list, &list[2]), None, "no older V1 build");
        assert_eq!(previous_build(&list, &b("9", "2021", 2)), None, "not in the list");
    }

    #[test]
    fn merging() {
        let b = |id: &str, date: &str| build(id, date, 2);
        let mut v = vec![b("a", "2020-02"), b("b", "2020-01")];
        merge_builds(&mut v, vec![b("b", "2020-01"), b("c", "2021-01"), b("d", "2019")]);
        let ids: Vec<&str> = v.iter().map(|b| b.build_id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b", "d"]);
    }
}
