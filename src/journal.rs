//! Append-only resume journals, written by one thread so workers never wait on the disk.
//!
//! A worker that finishes a piece sends a [`Record`]: the bytes it covers (a range of a mapped
//! file) and the line to append. The journal thread batches records for up to a second, writes
//! each covered range back (msync), then appends the lines and fdatasyncs the journal. So a
//! line is on disk only after its bytes are: after a crash or power cut the journal never
//! claims bytes that did not reach the disk. A torn last line is ignored by the readers.
//!
//! A journal is opened without following a symlink (a fresh one is created exclusively) and
//! must be a regular file, so a link planted in its place is never written through.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::error::{Error, Result};
use crate::sink::MappedFile;

/// How long a record may wait in memory: what a `kill -9` can lose on top of the work in
/// flight. Each commit costs one fdatasync of the (small) journal.
pub const COMMIT_EVERY: Duration = Duration::from_millis(100);

/// Capacity of the channel to the journal thread.
pub const CAPACITY: usize = 4096;

/// One finished piece of work.
pub struct Record {
    /// The bytes this line vouches for, written back before the line is appended.
    pub data: Option<(Arc<MappedFile>, u64, u64)>,
    /// The line (without newline).
    pub line: String,
}

/// An open journal file.
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Open `path` for appending, or create it with `header` lines when `fresh`.
    pub fn open(path: &Path, header: &[String], fresh: bool) -> Result<Journal> {
        use std::os::unix::fs::OpenOptionsExt;
        let refuse = |e: std::io::Error, op: &'static str| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                Error::UnsafeTarget { path: path.to_path_buf(), reason: "it is a symbolic link" }
            } else {
                Error::io(op, path, e)
            }
        };
        let mut file = if fresh {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("replace", path, e)),
            }
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .map_err(|e| refuse(e, "create"))?;
            for h in header {
                writeln!(f, "{h}").map_err(|e| Error::io("write", path, e))?;
            }
            f.sync_data().map_err(|e| Error::io("sync", path, e))?;
            f
        } else {
            OpenOptions::new()
                .append(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
                .map_err(|e| refuse(e, "open"))?
        };
        let ft = file.metadata().map_err(|e| Error::io("stat", path, e))?.file_type();
        if !ft.is_file() {
            return Err(Error::UnsafeTarget { path: path.to_path_buf(), reason: crate::sink::kind_of(ft) });
        }
        file.flush().map_err(|e| Error::io("write", path, e))?;
        Ok(Journal { file, path: path.to_path_buf() })
    }

    /// Consume records until every sender is gone; commit at least once a second.
    pub fn run(&self, rx: Receiver<Record>) -> Result<()> {
        let mut batch: Vec<Record> = Vec::new();
        let mut last = Instant::now();
        loop {
            let msg = rx.recv_timeout(COMMIT_EVERY / 4);
            let closed = matches!(msg, Err(RecvTimeoutError::Disconnected));
            if let Ok(r) = msg {
                batch.push(r);
            }
            if !batch.is_empty() && (closed || last.elapsed() >= COMMIT_EVERY || batch.len() >= 512) {
                self.commit(&mut batch)?;
                last = Instant::now();
            }
            if closed {
                return Ok(());
            }
        }
    }

    /// Write back the covered bytes, then append and sync the lines.
    pub fn commit(&self, batch: &mut Vec<Record>) -> Result<()> {
        let mut text = String::new();
        for r in batch.iter() {
            if let Some((f, off, len)) = &r.data {
                f.flush_range(*off, *len)?;
            }
            text.push_str(&r.line);
            text.push('\n');
        }
        let mut f = &self.file;
        f.write_all(text.as_bytes()).map_err(|e| Error::io("write", &self.path, e))?;
        self.file.sync_data().map_err(|e| Error::io("sync", &self.path, e))?;
        batch.clear();
        Ok(())
    }

    /// Append one line now (no data to write back), synced.
    pub fn append_now(&self, line: &str) -> Result<()> {
        let mut f = &self.file;
        writeln!(f, "{line}").map_err(|e| Error::io("write", &self.path, e))?;
        self.file.sync_data().map_err(|e| Error::io("sync", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_header_and_batches() {
        let p = std::env::temp_dir().join(format!("galaxy-dl-journal-{}", std::process::id()));
        let data = std::env::temp_dir().join(format!("galaxy-dl-journal-data-{}", std::process::id()));
        let (m, _) = MappedFile::create(&data, 8192).unwrap();
        let m = Arc::new(m);
        let j = Journal::open(&p, &["magic".into(), "{}".into()], true).unwrap();
        let (tx, rx) = crossbeam_channel::bounded(CAPACITY);
        std::thread::scope(|s| {
            let h = s.spawn(|| j.run(rx));
            tx.send(Record { data: Some((m.clone(), 0, 4096)), line: "0 4096".into() }).unwrap();
            tx.send(Record { data: None, line: "x".into() }).unwrap();
            drop(tx);
            h.join().unwrap().unwrap();
        });
        j.append_now("tail").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "magic\n{}\n0 4096\nx\ntail\n");
        let j2 = Journal::open(&p, &[], false).unwrap();
        j2.append_now("more").unwrap();
        assert!(std::fs::read_to_string(&p).unwrap().ends_with("tail\nmore\n"));
        std::fs::remove_file(&p).unwrap();
        std::fs::remove_file(&data).unwrap();
    }
}
