//! Binary patches: GOG's V2 -> V2 updates ship changed files as xdelta3 deltas (VCDIFF,
//! RFC 3284). [`vcdiff`] decodes them; [`apply_file`] applies one to an old file on disk.

pub mod vcdiff;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A [`vcdiff::Target`] writing to a file at increasing offsets.
pub struct FileTarget {
    file: File,
    path: PathBuf,
    pos: u64,
}

impl FileTarget {
    /// Write into `file` (at `path`, for errors) from offset 0.
    pub fn new(file: File, path: &Path) -> FileTarget {
        FileTarget { file, path: path.to_path_buf(), pos: 0 }
    }
    /// The file, once decoding is over.
    pub fn into_file(self) -> File {
        self.file
    }
}

impl vcdiff::Target for FileTarget {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.file.write_all_at(data, self.pos).map_err(|e| Error::io("write", &self.path, e))?;
        self.pos += data.len() as u64;
        Ok(())
    }
    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> Result<()> {
        self.file.read_exact_at(buf, pos).map_err(|e| Error::io("read", &self.path, e))
    }
}

/// Apply `delta` to the file `source` and write the result to a new file `out` of
/// `target_size` bytes (created or truncated). `what` names the patch in errors.
///
/// # Errors
/// [`Error::BadDelta`] for a delta that is malformed, unsupported, fails a window checksum or
/// does not produce `target_size` bytes; I/O errors.
pub fn apply_file(what: &str, delta: &[u8], source: &Path, out: &Path, target_size: u64) -> Result<File> {
    let src = File::open(source).map_err(|e| Error::io("open", source, e))?;
    let len = src.metadata().map_err(|e| Error::io("stat", source, e))?.len();
    // The old file is mapped read-only; it is replaced only by rename after we are done.
    let map;
    let bytes: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: read-only mapping of a file galaxy-dl owns; nothing truncates it while we read.
        #[allow(unsafe_code)]
        {
            map = unsafe { memmap2::Mmap::map(&src) }.map_err(|e| Error::io("map", source, e))?;
        }
        &map
    };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)
        .map_err(|e| Error::io("create", out, e))?;
    let mut t = FileTarget::new(f, out);
    vcdiff::decode(delta, bytes, target_size, &mut t).map_err(|e| match e {
        Error::BadDelta { offset, reason, .. } => Error::BadDelta { what: what.to_string(), offset, reason },
        e => e,
    })?;
    Ok(t.into_file())
}
