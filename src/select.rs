//! Depot selection: which depots of a build a download takes, from the user's choice of OS,
//! language, bitness and DLC ([`Selection`]) and the account's owned products. Unowned or
//! unknown DLC never fails a download: it is skipped with a [`Notice`] for the user.

use std::collections::{BTreeSet, HashSet};

use crate::manifest::v1::{Repository, V1Depot};
use crate::manifest::v2::{BuildManifest, DepotRef};

/// A message for the user about something skipped (printed, never fatal).
pub type Notice = String;

/// Which DLC to include.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DlcChoice {
    /// Every DLC of the build the account owns.
    #[default]
    All,
    /// No DLC.
    None,
    /// Only these DLC product ids (unowned ones are skipped with a notice).
    Ids(Vec<String>),
}

impl DlcChoice {
    /// Parse `all`, `none` or `ID,ID,...` (the `--dlc` value).
    pub fn parse(s: &str) -> crate::Result<DlcChoice> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "all" => return Ok(DlcChoice::All),
            "none" => return Ok(DlcChoice::None),
            _ => {}
        }
        let ids: Vec<String> = t.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
        if ids.is_empty() || ids.iter().any(|i| !i.bytes().all(|b| b.is_ascii_digit())) {
            return Err(crate::Error::Usage(format!(
                "invalid --dlc value {s:?}: expected all, none or product ids like 1207659000,1207659001"
            )));
        }
        Ok(DlcChoice::Ids(ids))
    }
}

impl std::fmt::Display for DlcChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DlcChoice::All => f.write_str("all"),
            DlcChoice::None => f.write_str("none"),
            DlcChoice::Ids(ids) => f.write_str(&ids.join(",")),
        }
    }
}

/// What the user asked for.
#[derive(Clone, PartialEq, Eq)]
pub struct Selection {
    /// `windows` or `osx`.
    pub os: String,
    /// Wanted language (any alias: `en-US`, `en`, `English`, ...).
    pub lang: String,
    /// 32 or 64.
    pub bitness: u32,
    /// DLC to include.
    pub dlc: DlcChoice,
    /// An explicit build id.
    pub build: Option<String>,
    /// A named branch.
    pub branch: Option<String>,
    /// Password of a private branch.
    pub password: Option<String>,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            os: "windows".into(),
            lang: "en-US".into(),
            bitness: 64,
            dlc: DlcChoice::All,
            build: None,
            branch: None,
            password: None,
        }
    }
}

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selection")
            .field("os", &self.os)
            .field("lang", &self.lang)
            .field("bitness", &self.bitness)
            .field("dlc", &self.dlc)
            .field("build", &self.build)
            .field("branch", &self.branch)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// Language alias groups: the GOG code first, then short/legacy codes and names.
const LANGUAGES: &[&[&str]] = &[
    &["en-US", "en", "en_US", "eng", "English"],
    &["de-DE", "de", "deu", "ger", "German", "Deutsch"],
    &["fr-FR", "fr", "fra", "fre", "French", "Français"],
    &["es-ES", "es", "spa", "Spanish", "Español"],
    &["es-MX", "es_mx", "Latin American Spanish", "Spanish (Latin American)"],
    &["it-IT", "it", "ita", "Italian", "Italiano"],
    &["pl-PL", "pl", "pol", "Polish", "Polski"],
    &["ru-RU", "ru", "rus", "Russian"],
    &["pt-BR", "br", "Brazilian", "Brazilian Portuguese", "Portuguese (Brazilian)"],
    &["pt-PT", "pt", "por", "Portuguese"],
    &["zh-Hans", "zh", "cn", "zh-CN", "chi", "Chinese", "Chinese Simplified", "Simplified Chinese"],
    &["zh-Hant", "zh-TW", "Chinese Traditional", "Traditional Chinese"],
    &["ja-JP", "ja", "jp", "jpn", "Japanese"],
    &["ko-KR", "ko", "kor", "Korean"],
    &["cs-CZ", "cs", "cz", "Czech"],
    &["hu-HU", "hu", "Hungarian"],
    &["tr-TR", "tr", "Turkish"],
    &["nl-NL", "nl", "Dutch"],
    &["sv-SE", "sv", "Swedish"],
    &["uk-UA", "uk", "Ukrainian"],
    &["ar", "ar-SA", "Arabic"],
];

fn norm(s: &str) -> String {
    s.trim().to_lowercase().replace('_', "-")
}

/// The alias group of a language (normalised), or just the language itself.
fn aliases(lang: &str) -> Vec<String> {
    let n = norm(lang);
    LANGUAGES
        .iter()
        .find(|g| g.iter().any(|a| norm(a) == n))
        .map(|g| g.iter().map(|a| norm(a)).collect())
        .unwrap_or_else(|| vec![n])
}

/// True when a depot with `depot_langs` serves `wanted`: it lists `*` or `Neutral`, or the wanted
/// language under any alias (case-insensitive, `_` = `-`): `en-US` ≈ `en` ≈ `English` ≈ `en_US`.
pub fn language_matches(wanted: &str, depot_langs: &[String]) -> bool {
    if depot_langs.iter().any(|l| l.trim() == "*" || l.trim().eq_ignore_ascii_case("neutral")) {
        return true;
    }
    let group = aliases(wanted);
    depot_langs.iter().any(|l| group.contains(&norm(l)))
}

/// True when a depot fits `wanted` bitness: no `osBitness`, an empty list, `*`, or the wanted one.
pub fn bitness_matches(wanted: u32, os_bitness: Option<&[String]>) -> bool {
    match os_bitness {
        None | Some([]) => true,
        Some(list) => list.iter().any(|b| {
            let b = b.trim();
            b == "*" || b.trim_end_matches("-bit").parse::<u32>().ok() == Some(wanted)
        }),
    }
}

/// Which DLC ids (other than the base) to include, with notices for unowned or unknown ones.
fn wanted_dlcs(
    base: &str,
    known: &BTreeSet<String>,
    name: impl Fn(&str) -> Option<String>,
    choice: &DlcChoice,
    owned: &HashSet<String>,
    notices: &mut Vec<Notice>,
) -> HashSet<String> {
    let label = |id: &str| match name(id) {
        Some(n) if !n.is_empty() => format!("DLC {id} ({n})"),
        _ => format!("DLC {id}"),
    };
    let asked: Vec<String> = match choice {
        DlcChoice::None => return HashSet::new(),
        DlcChoice::All => known.iter().filter(|id| id.as_str() != base).cloned().collect(),
        DlcChoice::Ids(ids) => {
            let mut v = Vec::new();
            for id in ids {
                if id == base {
                    continue;
                } else if !known.contains(id) {
                    notices.push(format!("{} is not part of this build; skipped", label(id)));
                } else if !v.contains(id) {
                    v.push(id.clone());
                }
            }
            v
        }
    };
    let mut out = HashSet::new();
    for id in asked {
        if owned.contains(&id) {
            out.insert(id);
        } else {
            notices.push(format!("{} is not owned by this account; skipped", label(&id)));
        }
    }
    out
}

/// Select the V2 depots to download: depots of `base_product_id` plus those of the DLC chosen by
/// `selection.dlc` that `owned` contains, filtered by language and bitness; duplicates (same
/// depot manifest) are taken once. Unowned/unknown DLC and products with no depot in the wanted
/// language give notices, never errors.
pub fn select_v2_depots<'a>(
    manifest: &'a BuildManifest,
    base_product_id: &str,
    selection: &Selection,
    owned: &HashSet<String>,
) -> (Vec<&'a DepotRef>, Vec<Notice>) {
    let mut notices = Vec::new();
    let mut known: BTreeSet<String> = manifest.products.iter().map(|p| p.product_id.clone()).collect();
    known.extend(manifest.depots.iter().map(|d| d.product_id.clone()));
    let dlcs = wanted_dlcs(
        base_product_id,
        &known,
        |id| manifest.product_name(id).map(str::to_string),
        &selection.dlc,
        owned,
        &mut notices,
    );
    let mut seen = HashSet::new();
    let mut picked = Vec::new();
    let mut products_with_depots: BTreeSet<&str> = BTreeSet::new();
    let mut products_served: HashSet<&str> = HashSet::new();
    for d in &manifest.depots {
        let pid = d.product_id.as_str();
        if pid != base_product_id && !dlcs.contains(pid) {
            continue;
        }
        if !d.is_gog_depot {
            products_with_depots.insert(pid);
        }
        if !language_matches(&selection.lang, &d.languages)
            || !bitness_matches(selection.bitness, d.os_bitness.as_deref())
        {
            continue;
        }
        if !d.is_gog_depot {
            products_served.insert(pid);
        }
        if seen.insert(d.manifest.to_ascii_lowercase()) {
            picked.push(d);
        }
    }
    for p in products_with_depots {
        if !products_served.contains(p) {
            let langs: BTreeSet<&str> = manifest
                .depots
                .iter()
                .filter(|d| d.product_id == p)
                .flat_map(|d| d.languages.iter().map(String::as_str))
                .collect();
            notices.push(format!(
                "product {p} has no depot for language {} and {}-bit; languages available: {}",
                selection.lang,
                selection.bitness,
                langs.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    (picked, notices)
}

/// Select the V1 depots to download (languages are English names plus `Neutral`; a depot
/// belongs to its `gameIDs[0]`), with the same DLC and notice rules as [`select_v2_depots`].
pub fn select_v1_depots<'a>(
    repo: &'a Repository,
    selection: &Selection,
    owned: &HashSet<String>,
) -> (Vec<&'a V1Depot>, Vec<Notice>) {
    let p = &repo.product;
    let base = p.root_game_id.as_str();
    let mut notices = Vec::new();
    let mut known: BTreeSet<String> = p.game_ids.iter().map(|g| g.game_id.clone()).collect();
    known.extend(p.depots.iter().filter_map(|d| d.product_id().map(str::to_string)));
    let name = |id: &str| {
        let g = p.game_ids.iter().find(|g| g.game_id == id)?;
        match &g.name {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(m) => m.get("en").or_else(|| m.values().next())?.as_str().map(str::to_string),
            _ => None,
        }
    };
    let dlcs = wanted_dlcs(base, &known, name, &selection.dlc, owned, &mut notices);
    let mut seen = HashSet::new();
    let mut picked = Vec::new();
    let mut served = false;
    for d in &p.depots {
        let pid = d.product_id().unwrap_or("");
        if pid != base && !dlcs.contains(pid) {
            continue;
        }
        if !language_matches(&selection.lang, &d.languages) {
            continue;
        }
        served |= pid == base;
        if seen.insert(d.manifest.clone()) {
            picked.push(d);
        }
    }
    if !served && p.depots.iter().any(|d| d.product_id() == Some(base)) {
        notices.push(format!("product {base} has no depot for language {}", selection.lang));
    }
    (picked, notices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn language_aliases() {
        for w in ["en-US", "en", "English", "en_US", "EN-us", "english"] {
            assert!(language_matches(w, &s(&["en"])), "{w}");
            assert!(language_matches(w, &s(&["English"])), "{w}");
            assert!(language_matches(w, &s(&["en-US"])), "{w}");
        }
        assert!(language_matches("de", &s(&["*"])));
        assert!(language_matches("de", &s(&["Neutral"])));
        assert!(language_matches("German", &s(&["de-DE"])));
        assert!(language_matches("pt-BR", &s(&["Brazilian"])));
        assert!(!language_matches("pt-BR", &s(&["pt-PT"])));
        assert!(language_matches("zh-Hans", &s(&["zh"])));
        assert!(language_matches("Japanese", &s(&["ja-JP"])));
        assert!(language_matches("fr", &s(&["French"])));
        assert!(language_matches("es", &s(&["es-ES"])));
        assert!(language_matches("it-IT", &s(&["Italian"])));
        assert!(language_matches("pl", &s(&["Polish"])));
        assert!(language_matches("ru", &s(&["Russian"])));
        assert!(!language_matches("de-DE", &s(&["en-US", "English"])));
        assert!(!language_matches("en-US", &s(&[])));
        assert!(language_matches("xx-YY", &s(&["XX_yy"])), "unknown languages compare as themselves");
    }

    #[test]
    fn bitness() {
        assert!(bitness_matches(64, None));
        assert!(bitness_matches(64, Some(&[])));
        assert!(bitness_matches(64, Some(&s(&["*"]))));
        assert!(bitness_matches(64, Some(&s(&["32", "64"]))));
        assert!(!bitness_matches(64, Some(&s(&["32"]))));
        assert!(bitness_matches(32, Some(&s(&["32"]))));
    }

    #[test]
    fn dlc_choice_parse() {
        assert_eq!(DlcChoice::parse("ALL").unwrap(), DlcChoice::All);
        assert_eq!(DlcChoice::parse("none").unwrap(), DlcChoice::None);
        assert_eq!(DlcChoice::parse("1, 2,").unwrap(), DlcChoice::Ids(s(&["1", "2"])));
        for bad in ["", ",", "x", "1,abc"] {
            assert!(DlcChoice::parse(bad).unwrap_err().is_usage(), "{bad}");
        }
    }

    fn manifest() -> BuildManifest {
        serde_json::from_str(
            r#"{"baseProductId":"1","products":[{"productId":"1","name":"Base"},{"productId":"2","name":"Owned DLC"},
              {"productId":"3","name":"Unowned DLC"}],
             "depots":[
              {"productId":"1","languages":["*"],"manifest":"g","isGogDepot":true},
              {"productId":"1","languages":["en-US"],"manifest":"a","osBitness":["64"]},
              {"productId":"1","languages":["en-US"],"manifest":"a32","osBitness":["32"]},
              {"productId":"1","languages":["de-DE"],"manifest":"b"},
              {"productId":"2","languages":["en"],"manifest":"c"},
              {"productId":"2","languages":["de-DE"],"manifest":"c-de"},
              {"productId":"3","languages":["*"],"manifest":"d"},
              {"productId":"1","languages":["English"],"manifest":"A"}]}"#,
        )
        .unwrap()
    }

    fn ids(v: &[&DepotRef]) -> Vec<String> {
        v.iter().map(|d| d.manifest.clone()).collect()
    }

    #[test]
    fn v2_selection() {
        let m = manifest();
        let owned: HashSet<String> = s(&["1", "2"]).into_iter().collect();
        let (d, n) = select_v2_depots(&m, "1", &Selection::default(), &owned);
        assert_eq!(ids(&d), s(&["g", "a", "c"]), "{n:?}");
        assert_eq!(n.len(), 1, "{n:?}");
        assert!(n[0].contains("DLC 3 (Unowned DLC) is not owned"), "{n:?}");

        let sel = Selection { lang: "German".into(), bitness: 32, dlc: DlcChoice::None, ..Selection::default() };
        let (d, n) = select_v2_depots(&m, "1", &sel, &owned);
        assert_eq!(ids(&d), s(&["g", "b"]));
        assert!(n.is_empty(), "{n:?}");

        let sel = Selection { dlc: DlcChoice::Ids(s(&["3", "9", "2", "2"])), ..Selection::default() };
        let (d, n) = select_v2_depots(&m, "1", &sel, &owned);
        assert_eq!(ids(&d), s(&["g", "a", "c"]));
        assert_eq!(n.len(), 2, "{n:?}");
        assert!(n.iter().any(|x| x.contains("DLC 9 is not part of this build")));
        assert!(n.iter().any(|x| x.contains("DLC 3 (Unowned DLC) is not owned")));

        let sel = Selection { lang: "ja".into(), ..Selection::default() };
        let (d, n) = select_v2_depots(&m, "1", &sel, &owned);
        assert_eq!(ids(&d), s(&["g"]));
        assert!(n.iter().any(|x| x.contains("product 1 has no depot for language ja")), "{n:?}");
        assert!(n.iter().any(|x| x.contains("product 2 has no depot")), "{n:?}");

        // Nothing owned: base still selected (ownership of the base is checked by secure_link).
        let (d, n) = select_v2_depots(&m, "1", &Selection::default(), &HashSet::new());
        assert_eq!(ids(&d), s(&["g", "a"]));
        assert_eq!(n.len(), 2);
    }

    #[test]
    fn v1_selection() {
        let r = Repository::parse(
            br#"{"product":{"timestamp":1,"rootGameID":"1","gameIDs":[{"gameID":"1","name":{"en":"Base"}},{"gameID":"2","name":{"en":"Dlc"}},{"gameID":"3","name":"Other"}],
              "depots":[{"languages":["Neutral"],"gameIDs":["1"],"manifest":"n.json","size":"1"},
                        {"languages":["English"],"gameIDs":["1"],"manifest":"e.json"},
                        {"languages":["German"],"gameIDs":["1"],"manifest":"g.json"},
                        {"languages":["English"],"gameIDs":["2","1"],"manifest":"d.json"},
                        {"languages":["Neutral"],"gameIDs":["3"],"manifest":"o.json"},
                        {"redist":"MSVC2010","size":"0"}]}}"#,
            "r",
        )
        .unwrap();
        let owned: HashSet<String> = s(&["1", "2"]).into_iter().collect();
        let (d, n) = select_v1_depots(&r, &Selection::default(), &owned);
        let m: Vec<&str> = d.iter().map(|d| d.manifest.as_str()).collect();
        assert_eq!(m, ["n.json", "e.json", "d.json"]);
        assert_eq!(n, vec!["DLC 3 (Other) is not owned by this account; skipped".to_string()]);
        let sel = Selection { lang: "de".into(), dlc: DlcChoice::None, ..Selection::default() };
        let (d, _) = select_v1_depots(&r, &sel, &owned);
        let m: Vec<&str> = d.iter().map(|d| d.manifest.as_str()).collect();
        assert_eq!(m, ["n.json", "g.json"]);
        let sel = Selection { dlc: DlcChoice::Ids(s(&["3"])), ..Selection::default() };
        let (_, n) = select_v1_depots(&r, &sel, &owned);
        assert!(n[0].contains("DLC 3 (Other) is not owned"), "{n:?}");
        assert!(!format!("{:?}", Selection { password: Some("PW".into()), ..Selection::default() }).contains("PW"));
    }
}
