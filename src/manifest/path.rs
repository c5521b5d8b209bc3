//! Safe paths: every path a manifest names is turned into a normalised relative path with `/`
//! before anything touches the disk, so nothing can be written outside the install directory.
//! Also the case folding of Windows builds (first spelling seen wins) and `DepotLink` targets.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// Longest path (in bytes) a manifest or a state file may name.
pub const MAX_PATH: usize = 4096;
/// Longest single path segment (in bytes): what Linux and macOS file systems accept.
pub const MAX_NAME: usize = 255;

fn unsafe_path(path: &str, reason: &'static str) -> Error {
    let mut shown: String = path.chars().take(200).collect();
    if shown.len() < path.len() {
        shown.push('…');
    }
    Error::UnsafePath { path: shown, reason }
}

/// Normalise a manifest path into a safe relative path: `\` becomes `/`, ONE leading `/` is
/// stripped, `.` and empty segments are dropped. Refused: empty paths, NUL bytes, absolute paths
/// (a second leading `/`, a drive letter like `C:`), and any `..` segment.
pub fn safe_relative(path: &str) -> Result<String> {
    if path.contains('\0') {
        return Err(unsafe_path(path, "contains a NUL byte"));
    }
    if path.len() > MAX_PATH {
        return Err(unsafe_path(path, "longer than 4096 bytes"));
    }
    let p = path.replace('\\', "/");
    let rest = p.strip_prefix('/').unwrap_or(&p);
    if rest.starts_with('/') {
        return Err(unsafe_path(path, "absolute path"));
    }
    let mut out = String::with_capacity(rest.len());
    for seg in rest.split('/') {
        // A drive letter as the first real segment (`C:\x`, `./C:/x`): absolute on Windows.
        if out.is_empty() && is_drive(seg) {
            return Err(unsafe_path(path, "absolute path with a drive letter"));
        }
        match seg {
            "" | "." => continue,
            ".." => return Err(unsafe_path(path, "contains a `..` segment")),
            s if s.len() > MAX_NAME => return Err(unsafe_path(path, "has a name longer than 255 bytes")),
            s => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(s);
            }
        }
    }
    if out.is_empty() {
        return Err(unsafe_path(path, "empty path"));
    }
    Ok(out)
}

fn is_drive(seg: &str) -> bool {
    let b = seg.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// Case folding for case-insensitive (Windows) builds: each path prefix is keyed by its
/// lower-cased form and mapped to the first spelling seen, so `Data/a.txt` then `DATA/b.txt`
/// become `Data/a.txt` and `Data/b.txt`, and `data/A.TXT` after them names `Data/a.txt`.
#[derive(Debug, Default, Clone)]
pub struct CaseFolder {
    seen: HashMap<String, String>,
}

impl CaseFolder {
    /// An empty folder map.
    pub fn new() -> CaseFolder {
        CaseFolder::default()
    }

    /// Map a safe relative path (from [`safe_relative`]) to its folded spelling, recording new
    /// prefixes as they appear.
    pub fn fold(&mut self, rel: &str) -> String {
        let mut key = String::with_capacity(rel.len());
        let mut out = String::with_capacity(rel.len());
        for seg in rel.split('/') {
            if !key.is_empty() {
                key.push('/');
            }
            key.push_str(&seg.to_lowercase());
            match self.seen.get(&key) {
                Some(spelled) => {
                    out.clear();
                    out.push_str(spelled);
                }
                None => {
                    if !out.is_empty() {
                        out.push('/');
                    }
                    out.push_str(seg);
                    self.seen.insert(key.clone(), out.clone());
                }
            }
        }
        out
    }

    /// The folded spelling of `rel` if every prefix of it has been seen, without recording.
    pub fn lookup(&self, rel: &str) -> Option<&str> {
        self.seen.get(&rel.to_lowercase()).map(String::as_str)
    }
}

/// Lexically resolve `path` (relative to the install directory) allowing `..` as long as it
/// never climbs above the root. Returns the normalised segments.
fn resolve_inside<'a>(original: &str, path: &'a str) -> Result<Vec<&'a str>> {
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if segs.pop().is_none() {
                    return Err(unsafe_path(original, "link target escapes the install directory"));
                }
            }
            s => segs.push(s),
        }
    }
    Ok(segs)
}

/// Resolve a `DepotLink` target to a safe path relative to the install directory. Per the SPEC
/// the target is relative to the install directory (as heroic-gogdl reads it): `\` becomes `/`,
/// one leading `/` is tolerated, `..` is resolved lexically. Refused: NUL, absolute targets (a
/// second leading `/`, a drive letter), targets that climb out of the install directory, and the
/// install directory itself.
pub fn resolve_link_target(target: &str) -> Result<String> {
    if target.contains('\0') {
        return Err(unsafe_path(target, "contains a NUL byte"));
    }
    if target.len() > MAX_PATH {
        return Err(unsafe_path(target, "longer than 4096 bytes"));
    }
    let t = target.replace('\\', "/");
    let rest = t.strip_prefix('/').unwrap_or(&t);
    if rest.starts_with('/') || rest.split('/').next().is_some_and(is_drive) {
        return Err(unsafe_path(target, "absolute link target"));
    }
    let tgt = resolve_inside(target, rest)?;
    if tgt.is_empty() {
        return Err(unsafe_path(target, "link target is the install directory itself"));
    }
    Ok(tgt.join("/"))
}

/// What to write into a `DepotLink` symlink so that it stays inside the install directory:
/// `target` is resolved with [`resolve_link_target`], then expressed relative to
/// `link_dir_rel`, the directory holding the link (a safe relative path from [`safe_relative`],
/// `""` for the install directory itself). E.g. a link in `a/b` to `c/d` gives `../../c/d`.
/// A relative symlink keeps working when the install directory moves; for an absolute one, join
/// [`resolve_link_target`]'s result to the install directory instead.
pub fn link_target_inside(link_dir_rel: &str, target: &str) -> Result<String> {
    let resolved = resolve_link_target(target)?;
    let tgt: Vec<&str> = resolved.split('/').collect();
    let dir = resolve_inside(link_dir_rel, link_dir_rel)?;
    let common = dir.iter().zip(&tgt).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; dir.len() - common];
    parts.extend(&tgt[common..]);
    if parts.is_empty() {
        // The target is the link's own directory.
        return Ok(".".into());
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(safe_relative("CookedPC\\pack0.dzip").unwrap(), "CookedPC/pack0.dzip");
        assert_eq!(safe_relative("/CookedPC/dlc.dzip").unwrap(), "CookedPC/dlc.dzip");
        assert_eq!(safe_relative("a//./b/").unwrap(), "a/b");
        assert_eq!(safe_relative("\\a\\b").unwrap(), "a/b");
        assert_eq!(safe_relative("a/..b/c..").unwrap(), "a/..b/c..");
        assert_eq!(safe_relative("dir:x/y").unwrap(), "dir:x/y");
    }

    #[test]
    fn refuses_unsafe() {
        for p in [
            "../x",
            "a/../../b",
            "a/..",
            "//etc/passwd",
            "C:\\x",
            "c:/x",
            "\\\\server\\share",
            "",
            "/",
            ".",
            "./",
            "a\0b",
        ] {
            let e = safe_relative(p).unwrap_err();
            assert!(matches!(e, Error::UnsafePath { .. }), "{p:?}: {e}");
        }
        // One leading slash is a manifest convention, not an absolute path.
        assert_eq!(safe_relative("/etc/passwd").unwrap(), "etc/passwd");
    }

    #[test]
    fn case_folding_first_spelling_wins() {
        let mut f = CaseFolder::new();
        assert_eq!(f.fold("Data/a.txt"), "Data/a.txt");
        assert_eq!(f.fold("DATA/b.txt"), "Data/b.txt");
        assert_eq!(f.fold("data/Sub/C.txt"), "Data/Sub/C.txt");
        assert_eq!(f.fold("DATA/SUB/d.txt"), "Data/Sub/d.txt");
        assert_eq!(f.fold("data/A.TXT"), "Data/a.txt");
        assert_eq!(f.fold("Other/x"), "Other/x");
        assert_eq!(f.lookup("data/sub"), Some("Data/Sub"));
        assert_eq!(f.lookup("nope"), None);
        assert_eq!(f.fold("ÄÖ/x"), "ÄÖ/x");
        assert_eq!(f.fold("äö/y"), "ÄÖ/y");
    }

    #[test]
    fn link_targets() {
        let d = "Game.app/Contents/Frameworks/F.framework";
        assert_eq!(
            link_target_inside(d, "Game.app/Contents/Frameworks/F.framework/Versions/A/F").unwrap(),
            "Versions/A/F"
        );
        assert_eq!(link_target_inside("a/b", "c/d").unwrap(), "../../c/d");
        assert_eq!(link_target_inside("", "c\\d").unwrap(), "c/d");
        assert_eq!(link_target_inside("a", "/a/x/../y").unwrap(), "y");
        assert_eq!(link_target_inside("a/b", "a/b").unwrap(), ".");
        assert_eq!(link_target_inside("a/b", "a").unwrap(), "..");
        assert_eq!(resolve_link_target("\\x\\.\\y").unwrap(), "x/y");
        for t in ["../x", "a/../../x", "//abs", "C:/x", "", ".", "a/..", "a\0"] {
            assert!(matches!(link_target_inside("a", t), Err(Error::UnsafePath { .. })), "{t:?}");
        }
        assert!(link_target_inside("../a", "x").is_err(), "a link directory outside is refused");
    }
}
