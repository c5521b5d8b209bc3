//! The install's own state, all under `DIR/.galaxy-dl/`:
//!
//! - `lock`: held (flock) for the whole run, so two galaxy-dl processes never write one install;
//! - `install.json`: what was installed (product, build, generation, selection) and whether the
//!   last run completed;
//! - `plan.json`: the [`Plan`] used, so `verify`, `repair` and updates need no network to know
//!   what should be on disk;
//! - `journal`: append-only lines, each written only after the bytes it vouches for are on disk:
//!   `c<TAB>offset<TAB>compressedMd5<TAB>path` (a chunk of a file being built) and
//!   `f<TAB>size<TAB>mtime_ns<TAB>inode<TAB>content<TAB>path` (a finished, verified file and the
//!   identity it had then). A file is trusted without re-reading only while its size, mtime and
//!   inode still match; anything else is re-checked;
//! - `tmp/`: files being built (they get their final name only when verified).

// unsafe: this file `libc::flock` on the lock file's descriptor.
#![allow(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use crate::error::{Error, Result};

/// Name of the state directory inside DIR.
pub const STATE_DIR: &str = ".galaxy-dl";

/// What is (being) installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallInfo {
    /// Format version of this file.
    pub version: u32,
    /// Base product id.
    pub product_id: String,
    /// Build id.
    pub build_id: String,
    /// 1 (main.bin) or 2 (chunks).
    pub generation: u8,
    /// windows or osx.
    pub os: String,
    /// Language asked for.
    pub lang: String,
    /// Bitness asked for.
    pub bitness: u32,
    /// The `--dlc` choice, as given.
    pub dlc: String,
    /// Version name of the build.
    pub version_name: String,
    /// V1 only: repository timestamp (for the secure link path).
    #[serde(default)]
    pub v1_timestamp: Option<String>,
    /// Whether the last run finished and verified everything.
    pub complete: bool,
}

impl InstallInfo {
    /// Check an `install.json` read back from disk: its fields end up in URLs and paths, so a
    /// tampered one must not be obeyed.
    ///
    /// # Errors
    /// The first problem found, in words.
    pub fn validate(&self) -> std::result::Result<(), String> {
        fn token(name: &str, v: &str, max: usize) -> std::result::Result<(), String> {
            if v.is_empty() || v.len() > max || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(format!("{name} {:?} is not a plain id", v.chars().take(64).collect::<String>()));
            }
            Ok(())
        }
        fn text(name: &str, v: &str) -> std::result::Result<(), String> {
            if v.len() > 4096 || v.chars().any(char::is_control) {
                return Err(format!("{name} is too long or holds control characters"));
            }
            Ok(())
        }
        token("product_id", &self.product_id, 32)?;
        token("build_id", &self.build_id, 64)?;
        token("os", &self.os, 32)?;
        if !matches!(self.generation, 1 | 2) {
            return Err(format!("generation {} is not 1 or 2", self.generation));
        }
        if let Some(ts) = &self.v1_timestamp {
            if ts.is_empty() || ts.len() > 32 || !ts.bytes().all(|b| b.is_ascii_digit()) {
                return Err("v1_timestamp is not a number".into());
            }
        }
        text("lang", &self.lang)?;
        text("dlc", &self.dlc)?;
        text("version_name", &self.version_name)
    }
}

/// Largest state file (`plan.json`, `install.json`) read back.
pub const MAX_STATE_FILE: u64 = 1 << 30;

/// Open a file under the state directory for reading, never through a symbolic link.
fn open_nofollow(p: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(p)
}

/// Create a fresh file under the state directory: an old file or a planted symbolic link of
/// that name is removed first, and the new one is created exclusively (`O_EXCL`, `O_NOFOLLOW`),
/// so the write can never land anywhere else.
fn create_fresh(p: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::remove_file(p) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("remove", p, e)),
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(p)
        .map_err(|e| Error::io("create", p, e))
}

/// Make sure `p` is a real directory (create it when missing); a symbolic link or anything else
/// in its place is refused.
fn real_dir(p: &Path) -> Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::UnsafePath {
            path: p.display().to_string(),
            reason: "is a symbolic link: galaxy-dl never follows one for its state (remove it)",
        }),
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::Io {
            op: "use state directory",
            path: p.to_path_buf(),
            source: std::io::Error::other("not a directory"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir(p) {
            Ok(()) => real_dir_created(p),
            // Created by someone else meanwhile: check what is there now.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => real_dir_created(p),
            Err(e) => Err(Error::io("create", p, e)),
        },
        Err(e) => Err(Error::io("stat", p, e)),
    }
}

fn real_dir_created(p: &Path) -> Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => Ok(()),
        _ => Err(Error::UnsafePath { path: p.display().to_string(), reason: "was replaced while being created" }),
    }
}

/// Remove symbolic links planted in a state directory (they are never ours).
fn sweep_symlinks(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_symlink()) {
            log::warn!("removing symbolic link {} from galaxy-dl's state directory", e.path().display());
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Identity of a finished file when it was journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds.
    pub mtime_ns: i128,
    /// Inode number.
    pub ino: u64,
    /// The plan's content id (md5, sha256 or hash of the chunk list).
    pub content: String,
}

impl Stamp {
    /// The stamp of `path` as it is now, for content `content`.
    pub fn of(path: &Path, content: &str) -> Option<Stamp> {
        let m = std::fs::symlink_metadata(path).ok()?;
        if !m.is_file() {
            return None;
        }
        Some(Stamp {
            size: m.len(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            ino: m.ino(),
            content: content.to_string(),
        })
    }
}

/// Longest journal line read (a path is at most 4096 bytes).
pub const MAX_JOURNAL_LINE: usize = 8192;
/// Most journal lines read.
pub const MAX_JOURNAL_LINES: usize = 64 << 20;

/// What the journal says.
#[derive(Debug, Default)]
pub struct JournalState {
    /// Chunks written into files under construction, by path: (offset, compressedMd5). A
    /// file's entries go once it is journaled finished (its temporary file is gone then), so a
    /// resumed install holds those of the files it was building, not of every file it built.
    pub chunks: HashMap<String, HashSet<(u64, String)>>,
    /// Finished files and their identity at that time.
    pub files: HashMap<String, Stamp>,
}

impl JournalState {
    /// Format a chunk line.
    pub fn chunk_line(path: &str, offset: u64, compressed_md5: &str) -> String {
        format!("c\t{offset}\t{compressed_md5}\t{path}")
    }

    /// Format a file line.
    pub fn file_line(path: &str, s: &Stamp) -> String {
        format!("f\t{}\t{}\t{}\t{}\t{path}", s.size, s.mtime_ns, s.ino, s.content)
    }

    /// Parse journal text; a malformed (torn) line ends the parse. The journal is input like any
    /// other state file: a line longer than 8 KiB, a path that is not a safe relative path or a
    /// key that is neither a hex digest nor `r<len>` ends the parse too (what follows is not trusted), and at most
    /// [`MAX_JOURNAL_LINES`] lines are read.
    pub fn parse(mut text: impl BufRead) -> JournalState {
        let mut st = JournalState::default();
        let mut buf = Vec::new();
        for _ in 0..MAX_JOURNAL_LINES {
            buf.clear();
            match (&mut text).take(MAX_JOURNAL_LINE as u64 + 1).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if buf.last() != Some(&b'\n') {
                break; // torn tail, or a line too long
            }
            buf.pop();
            let Ok(line) = std::str::from_utf8(&buf) else { break };
            let parts: Vec<&str> = line.splitn(6, '\t').collect();
            let safe = |p: &str| crate::manifest::path::safe_relative(p).is_ok_and(|n| n == p);
            match parts.as_slice() {
                ["c", off, md5, path] => {
                    let Ok(off) = off.parse() else { break };
                    // The key is a chunk's compressedMd5 (V2) or `r<len>` (a V1 range).
                    let key_ok = crate::manifest::de::is_hex(md5, 32)
                        || md5
                            .strip_prefix('r')
                            .is_some_and(|n| !n.is_empty() && n.len() < 21 && n.bytes().all(|b| b.is_ascii_digit()));
                    if !safe(path) || !key_ok {
                        break;
                    }
                    match st.chunks.get_mut(*path) {
                        Some(s) => {
                            s.insert((off, md5.to_string()));
                        }
                        None => {
                            st.chunks.insert(path.to_string(), HashSet::from([(off, md5.to_string())]));
                        }
                    }
                }
                ["f", size, mtime, ino, content, path] => {
                    let (Ok(size), Ok(mtime_ns), Ok(ino)) = (size.parse(), mtime.parse(), ino.parse()) else { break };
                    if !safe(path) || content.len() > 128 {
                        break;
                    }
                    st.chunks.remove(*path);
                    st.files.insert(path.to_string(), Stamp { size, mtime_ns, ino, content: content.to_string() });
                }
                ["x", path] => {
                    st.files.remove(*path);
                    st.chunks.remove(*path);
                }
                _ => break,
            }
        }
        st
    }

    /// Whether the chunk `key` at `offset` of the file under construction at `path` is written.
    pub fn has_chunk(&self, path: &str, offset: u64, key: &str) -> bool {
        self.chunks.get(path).is_some_and(|s| s.contains(&(offset, key.to_string())))
    }

    /// Whether `path` is recorded as finished with `content` and still has that identity.
    pub fn file_ok(&self, dir: &Path, path: &str, content: &str) -> bool {
        match self.files.get(path) {
            Some(s) if s.content == content => Stamp::of(&dir.join(path), content).as_ref() == Some(s),
            _ => false,
        }
    }
}

/// The open state directory of one install, locked for this process.
#[derive(Debug)]
pub struct StateDir {
    root: PathBuf,
    install: PathBuf,
    _lock: File,
}

impl StateDir {
    /// Create (if needed) and lock `DIR/.galaxy-dl`.
    ///
    /// # Errors
    /// When DIR cannot be created, or another process holds the lock.
    pub fn open(install: &Path) -> Result<StateDir> {
        use std::os::unix::fs::OpenOptionsExt;
        let root = install.join(STATE_DIR);
        std::fs::create_dir_all(install).map_err(|e| Error::io("create", install, e))?;
        // `.galaxy-dl` and `tmp` must be real directories: a planted symbolic link would put
        // state and partial game data wherever it points.
        real_dir(&root)?;
        real_dir(&root.join("tmp"))?;
        // Nothing below `.galaxy-dl` is ever a link of ours: planted ones are removed (removing
        // a link never touches its target), before anything is opened there.
        sweep_symlinks(&root);
        let lock_path = root.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&lock_path)
            .map_err(|e| Error::io("open", &lock_path, e))?;
        // SAFETY: flock on a valid descriptor.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(Error::Io {
                op: "lock",
                path: install.to_path_buf(),
                source: std::io::Error::other("another galaxy-dl process is working on this directory"),
            });
        }
        sweep_symlinks(&root.join("tmp"));
        if std::fs::symlink_metadata(root.join("manifests")).is_ok_and(|m| m.is_dir()) {
            sweep_symlinks(&root.join("manifests"));
        }
        Ok(StateDir { root, install: install.to_path_buf(), _lock: lock })
    }

    /// Open an existing install's state (for verify/repair): fails when there is none.
    pub fn open_existing(install: &Path) -> Result<StateDir> {
        if std::fs::symlink_metadata(install.join(STATE_DIR)).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::UnsafePath {
                path: install.join(STATE_DIR).display().to_string(),
                reason: "is a symbolic link: galaxy-dl never follows one for its state (remove it)",
            });
        }
        if !install.join(STATE_DIR).join("install.json").is_file() {
            return Err(Error::NotFound(format!(
                "no galaxy-dl install in {} (no {STATE_DIR}/install.json)",
                install.display()
            )));
        }
        StateDir::open(install)
    }

    /// The install directory.
    pub fn install_dir(&self) -> &Path {
        &self.install
    }

    /// `DIR/.galaxy-dl`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a file under construction lives.
    pub fn tmp_path(&self, rel: &str) -> PathBuf {
        self.root.join("tmp").join(crate::verify::md5_hex(rel.as_bytes()))
    }

    /// The journal's path.
    pub fn journal_path(&self) -> PathBuf {
        self.root.join("journal")
    }

    fn read_json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<Option<T>> {
        read_state_json(&self.root.join(name))
    }

    fn write_json<T: Serialize>(&self, name: &str, v: &T) -> Result<()> {
        let p = self.root.join(name);
        let tmp = self.root.join(format!("{name}.tmp"));
        let body = serde_json::to_vec(v).map_err(|e| Error::manifest(name, e.to_string()))?;
        let mut f = create_fresh(&tmp)?;
        f.write_all(&body).map_err(|e| Error::io("write", &tmp, e))?;
        f.sync_data().map_err(|e| Error::io("sync", &tmp, e))?;
        std::fs::rename(&tmp, &p).map_err(|e| Error::io("rename", &p, e))
    }

    /// The saved install info, validated ([`InstallInfo::validate`]).
    ///
    /// # Errors
    /// [`Error::BadState`] when it fails validation (it is never obeyed).
    pub fn info(&self) -> Result<Option<InstallInfo>> {
        let info: Option<InstallInfo> = self.read_json("install.json")?;
        if let Some(i) = &info {
            i.validate().map_err(|reason| Error::BadState { path: self.root.join("install.json"), reason })?;
        }
        Ok(info)
    }

    /// Save the install info (atomically).
    pub fn save_info(&self, info: &InstallInfo) -> Result<()> {
        self.write_json("install.json", info)
    }

    /// The saved plan, validated ([`Plan::validate`]).
    ///
    /// # Errors
    /// [`Error::BadState`] when it fails validation (it is never obeyed).
    pub fn plan(&self) -> Result<Option<Plan>> {
        self.checked_plan("plan.json")
    }

    fn checked_plan(&self, name: &str) -> Result<Option<Plan>> {
        let plan: Option<Plan> = self.read_json(name)?;
        if let Some(p) = &plan {
            p.validate().map_err(|reason| Error::BadState { path: self.root.join(name), reason })?;
        }
        Ok(plan)
    }

    /// As [`StateDir::plan`], but a plan that fails validation is discarded (removed, with a
    /// warning) and `None` returned: `download` rebuilds everything from the server.
    pub fn plan_or_discard(&self) -> Result<Option<Plan>> {
        self.discarding("plan.json")
    }

    /// As [`StateDir::prev_plan`], discarding a plan that fails validation.
    pub fn prev_plan_or_discard(&self) -> Result<Option<Plan>> {
        self.discarding("plan.prev.json")
    }

    fn discarding(&self, name: &str) -> Result<Option<Plan>> {
        match self.checked_plan(name) {
            Err(e @ Error::BadState { .. }) => {
                log::warn!("{e}; discarding it");
                let _ = std::fs::remove_file(self.root.join(name));
                Ok(None)
            }
            r => r,
        }
    }

    /// Save the plan (atomically).
    pub fn save_plan(&self, plan: &Plan) -> Result<()> {
        self.write_json("plan.json", plan)
    }

    /// The plan of the build being replaced, while an update is unfinished (so a resumed
    /// update still knows which old files to remove).
    pub fn prev_plan(&self) -> Result<Option<Plan>> {
        self.checked_plan("plan.prev.json")
    }

    /// Keep `plan` as the plan being replaced (atomically).
    pub fn save_prev_plan(&self, plan: &Plan) -> Result<()> {
        self.write_json("plan.prev.json", plan)
    }

    /// The update finished: forget the replaced plan.
    pub fn clear_prev_plan(&self) {
        let _ = std::fs::remove_file(self.root.join("plan.prev.json"));
    }

    /// Save a manifest for reference as JSON (`manifests/<name>`); `body` as served (JSON or zlib).
    pub fn save_manifest(&self, name: &str, body: &[u8]) -> Result<()> {
        let d = self.root.join("manifests");
        real_dir(&d)?;
        if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') || name.len() > 255 {
            return Err(Error::UnsafePath { path: name.to_string(), reason: "is not a plain manifest file name" });
        }
        let p = d.join(name);
        let mut out = create_fresh(&p)?;
        // Inflated as it is written: the JSON of a 20,000-file depot is ~8 MiB, its zlib ~1 MiB.
        let mut r = crate::manifest::meta_json_reader(body, name)?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = r.read(&mut buf).map_err(|e| Error::manifest(name, format!("invalid zlib data: {e}")))?;
            if n == 0 {
                return Ok(());
            }
            out.write_all(buf.get(..n).unwrap_or_default()).map_err(|e| Error::io("write", &p, e))?;
        }
    }

    /// Read the journal (empty when missing).
    pub fn journal(&self) -> JournalState {
        match open_nofollow(&self.journal_path()) {
            Ok(f) => JournalState::parse(BufReader::new(f)),
            Err(_) => JournalState::default(),
        }
    }

    /// Replace the journal by one `f` line per given finished file (after a completed run).
    pub fn compact_journal(&self, files: &[(String, Stamp)]) -> Result<()> {
        let tmp = self.root.join("journal.tmp");
        let mut text = String::new();
        for (p, s) in files {
            text.push_str(&JournalState::file_line(p, s));
            text.push('\n');
        }
        let mut f = create_fresh(&tmp)?;
        f.write_all(text.as_bytes()).map_err(|e| Error::io("write", &tmp, e))?;
        f.sync_data().map_err(|e| Error::io("sync", &tmp, e))?;
        std::fs::rename(&tmp, self.journal_path()).map_err(|e| Error::io("rename", self.journal_path(), e))
    }
}

/// Create the parent directories of `DIR/rel`, refusing to pass through a symlink (a manifest
/// path must never lead outside DIR, whatever is already on disk).
pub fn ensure_parents(dir: &Path, rel: &str) -> Result<PathBuf> {
    let mut cur = dir.to_path_buf();
    let segs: Vec<&str> = rel.split('/').collect();
    for seg in &segs[..segs.len().saturating_sub(1)] {
        cur.push(seg);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::UnsafePath { path: rel.to_string(), reason: "passes through a symbolic link" });
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Io {
                    op: "create directory",
                    path: cur.clone(),
                    source: std::io::Error::other("a file is in the way"),
                });
            }
            Err(_) => std::fs::create_dir(&cur)
                .or_else(|e| if cur.is_dir() { Ok(()) } else { Err(e) })
                .map_err(|e| Error::io("create", &cur, e))?,
        }
    }
    let full = dir.join(rel);
    if let Ok(m) = std::fs::symlink_metadata(&full) {
        if m.file_type().is_symlink() {
            return Err(Error::UnsafePath { path: rel.to_string(), reason: "is a symbolic link on disk" });
        }
    }
    Ok(full)
}

/// Read an install's journal without locking or creating anything (dry runs).
pub fn peek_journal(install: &Path) -> JournalState {
    if std::fs::symlink_metadata(install.join(STATE_DIR)).is_ok_and(|m| m.file_type().is_symlink()) {
        return JournalState::default();
    }
    match open_nofollow(&install.join(STATE_DIR).join("journal")) {
        Ok(f) => JournalState::parse(BufReader::new(f)),
        Err(_) => JournalState::default(),
    }
}

/// Read an install's saved plan without locking or creating anything (dry runs).
pub fn peek_plan(install: &Path) -> Option<Plan> {
    if std::fs::symlink_metadata(install.join(STATE_DIR)).is_ok_and(|m| m.file_type().is_symlink()) {
        return None;
    }
    let p: Plan = read_state_json(&install.join(STATE_DIR).join("plan.json")).ok()??;
    p.validate().ok()?;
    Some(p)
}

/// Read a state file (never through a symbolic link, at most [`MAX_STATE_FILE`] bytes, parsed
/// streaming into typed structs). `None` when it does not exist.
fn read_state_json<T: for<'de> Deserialize<'de>>(p: &Path) -> Result<Option<T>> {
    let f = match open_nofollow(p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::BadState { path: p.to_path_buf(), reason: "is a symbolic link".into() })
        }
        Err(e) => return Err(Error::io("read", p, e)),
    };
    let meta = f.metadata().map_err(|e| Error::io("stat", p, e))?;
    if !meta.is_file() || meta.len() > MAX_STATE_FILE {
        return Err(Error::BadState { path: p.to_path_buf(), reason: "not a regular file of sane size".into() });
    }
    let mut f = f;
    crate::manifest::json_from_reader(&mut f, MAX_STATE_FILE, None, 8 << 10)
        .map(Some)
        .map_err(|e| Error::BadState { path: p.to_path_buf(), reason: format!("unreadable: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    const M1: &str = "0123456789abcdef0123456789abcdef";
    const M2: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn journal_parse_and_torn_tail() {
        let s = Stamp { size: 3, mtime_ns: 5, ino: 7, content: "abc".into() };
        let text = format!(
            "{}\n{}\n{}\nx\tgone\n{}\nc\tbroken",
            JournalState::chunk_line("a b/c", 10, M1),
            JournalState::file_line("a b/c", &s),
            JournalState::file_line("gone", &s),
            JournalState::chunk_line("d", 0, M2),
        );
        let st = JournalState::parse(text.as_bytes());
        // "a b/c" was finished after its chunk: its chunk entries are dropped.
        assert!(!st.has_chunk("a b/c", 10, M1));
        assert!(st.has_chunk("d", 0, M2));
        assert_eq!(st.files.get("a b/c"), Some(&s));
        assert!(!st.files.contains_key("gone"));
        // Hostile lines end the parse: an unsafe path, a non-hex digest, an over-long line.
        for bad in [
            JournalState::chunk_line("../x", 0, M1),
            JournalState::chunk_line("x", 0, "m1"),
            JournalState::file_line("/abs", &s),
            JournalState::file_line(&"a".repeat(9000), &s),
        ] {
            let st = JournalState::parse(format!("{bad}\n{}\n", JournalState::chunk_line("d", 0, M2)).as_bytes());
            assert!(st.chunks.is_empty() && st.files.is_empty(), "{}", &bad[..bad.len().min(40)]);
        }
    }

    #[test]
    fn lock_is_exclusive_and_parents_refuse_symlinks() {
        let d = std::env::temp_dir().join(format!("galaxy-dl-state-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let a = StateDir::open(&d).unwrap();
        // flock is per open file description: a second open in this process conflicts too.
        assert!(StateDir::open(&d).is_err());
        drop(a);
        let _b = StateDir::open(&d).unwrap();
        std::os::unix::fs::symlink("/tmp", d.join("evil")).unwrap();
        assert!(ensure_parents(&d, "evil/x").is_err());
        assert!(ensure_parents(&d, "evil").is_err());
        let p = ensure_parents(&d, "ok/sub/file").unwrap();
        assert!(d.join("ok/sub").is_dir());
        assert_eq!(p, d.join("ok/sub/file"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
