//! Output files: created at their final size, preallocated with `fallocate` (so a full disk fails
//! before any byte is fetched), mapped once, and handed out as disjoint writable slices.
//!
//! A store into a mapping that has no disk block behind it kills the process with SIGBUS, so a
//! file is mapped only once every block is reserved: by `fallocate`, or where the filesystem
//! has none (ext2, some network filesystems) by writing zeros over the new space with checked
//! writes, which turns a full disk into [`Error::DiskFull`] before the mapping exists. Output
//! files are opened without following a symlink and must be regular files
//! ([`open_regular`]); [`lock_exclusive`] keeps a second process from truncating a mapping
//! under us.
//!
//! This is the crate's one `unsafe` place. A [`MappedFile`] is shared by many worker threads;
//! each worker obtains `&mut [u8]` for byte ranges that the scheduler guarantees no one else
//! touches at the same time (see `fetch::schedule`), and the prefix hasher reads ranges that are
//! already finished and no longer written. The mapping is `MAP_SHARED`: bytes are in the page
//! cache as soon as they are copied, so they survive a `kill -9` of the process; [`MappedFile::flush_range`]
//! makes them durable against power loss before the journal records them.

// unsafe: this file owns the memory mapping (`MmapRaw`) and hands out the disjoint slices workers write.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use memmap2::MmapRaw;

use crate::error::{Error, Result};

/// A preallocated, memory-mapped output file.
pub struct MappedFile {
    file: File,
    map: Option<MmapRaw>,
    len: u64,
    path: PathBuf,
    /// Whether fresh ranges get their pages by `pwrite` of zeros ([`MappedFile::give_up`]):
    /// only on a local disk filesystem ([`zeros_are_local`]).
    zero_first: bool,
}

// SAFETY: the raw mapping is a plain region of shared memory; all access goes through methods
// whose callers uphold disjointness of concurrent writes (documented on `slice_mut`).
unsafe impl Sync for MappedFile {}
unsafe impl Send for MappedFile {}

/// How the space for a file was reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// `fallocate` reserved every block: writing cannot hit ENOSPC.
    Allocated,
    /// The filesystem has no `fallocate` (musl returns `EOPNOTSUPP` where glibc would emulate
    /// it): the new space was written with zeros (checked writes), so it is allocated too.
    Written,
}

/// Environment knob for tests, read by the CLI only: behave as on a filesystem without
/// `fallocate` (see [`set_fallocate`]).
pub const NO_FALLOCATE_ENV: &str = "GALAXY_DL_NO_FALLOCATE";

/// Process-wide: whether preallocation may use `fallocate` (default yes).
static USE_FALLOCATE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Behave as on a filesystem without `fallocate` (`false`): the reservation is written instead.
/// A test knob the CLI sets from [`NO_FALLOCATE_ENV`]; process-wide.
#[doc(hidden)]
pub fn set_fallocate(on: bool) {
    USE_FALLOCATE.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Open `path` read-write without following a symlink at its last component, creating it
/// (exclusively, mode 0644) when it does not exist. What is opened must be a regular file with
/// no other hard link.
///
/// # Errors
/// [`Error::UnsafeTarget`] for a symlink, a device, a directory or anything else that is not a
/// regular file; [`Error::Io`] otherwise.
pub fn open_regular(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut last = None;
    for _ in 0..3 {
        let existing =
            OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path);
        let r = match existing {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path),
            other => other,
        };
        match r {
            Ok(f) => {
                use std::os::unix::fs::MetadataExt;
                let m = f.metadata().map_err(|e| Error::io("stat", path, e))?;
                if !m.file_type().is_file() {
                    return Err(Error::UnsafeTarget { path: path.to_path_buf(), reason: kind_of(m.file_type()) });
                }
                if m.nlink() > 1 {
                    // A hard link planted here would have us write into someone else's file.
                    return Err(Error::UnsafeTarget { path: path.to_path_buf(), reason: "it has other hard links" });
                }
                return Ok(f);
            }
            // Lost a race with another creator: open what it created.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(Error::UnsafeTarget { path: path.to_path_buf(), reason: "it is a symbolic link" });
            }
            Err(e) => {
                if let Ok(m) = std::fs::symlink_metadata(path) {
                    if !m.file_type().is_file() {
                        return Err(Error::UnsafeTarget { path: path.to_path_buf(), reason: kind_of(m.file_type()) });
                    }
                }
                return Err(Error::io("open", path, e));
            }
        }
    }
    Err(Error::io("create", path, last.unwrap_or_else(|| std::io::Error::other("kept changing"))))
}

/// What a non-regular file is, in words.
pub fn kind_of(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_symlink() {
        "it is a symbolic link"
    } else if ft.is_dir() {
        "it is a directory"
    } else if ft.is_char_device() || ft.is_block_device() {
        "it is a device"
    } else if ft.is_fifo() {
        "it is a named pipe"
    } else if ft.is_socket() {
        "it is a socket"
    } else {
        "it is not a regular file"
    }
}

/// Take an exclusive lock on `file` (flock, held until it is closed) without waiting.
///
/// # Errors
/// [`Error::Busy`] naming `what` when another process (or another open in this one) holds it.
pub fn lock_exclusive(file: &File, what: &Path) -> Result<()> {
    // SAFETY: flock on a valid, open descriptor.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Err(Error::Busy { path: what.to_path_buf() });
    }
    Err(Error::io("lock", what, err))
}

impl MappedFile {
    /// Open or create `path`, size it to `len`, reserve the space and map it read-write.
    /// Existing content is kept (this is how resume works); a longer file is truncated.
    ///
    /// # Errors
    /// [`Error::DiskFull`] when the space cannot be reserved, [`Error::Io`] otherwise.
    pub fn create(path: &Path, len: u64) -> Result<(MappedFile, Reservation)> {
        MappedFile::from_file(open_regular(path)?, path, len)
    }

    /// As [`MappedFile::create`], for a file the caller opened (and possibly locked) itself.
    ///
    /// # Errors
    /// As [`MappedFile::create`].
    pub fn from_file(file: File, path: &Path, len: u64) -> Result<(MappedFile, Reservation)> {
        let cur = file.metadata().map_err(|e| Error::io("stat", path, e))?.len();
        if cur > len || len == 0 {
            file.set_len(len).map_err(|e| Error::io("resize", path, e))?;
        }
        let reservation = reserve(&file, path, len, cur.min(len))?;
        let map = if len == 0 {
            None
        } else {
            if usize::try_from(len).is_err() || len > isize::MAX as u64 {
                return Err(Error::Usage(format!("{} is too large to map on this platform", path.display())));
            }
            Some(MmapRaw::map_raw(&file).map_err(|e| Error::io("map", path, e))?)
        };
        let zero_first = zeros_are_local(&file);
        Ok((MappedFile { file, map, len, path: path.to_path_buf(), zero_first }, reservation))
    }

    /// Length of the file in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check(&self, off: u64, len: usize) -> *mut u8 {
        let end = off.checked_add(len as u64).expect("range overflow");
        assert!(end <= self.len, "range {off}+{len} beyond file length {}", self.len);
        match &self.map {
            Some(m) => {
                // SAFETY: `off < len <= map length` (checked above), so the offset stays inside
                // the mapping.
                unsafe { m.as_mut_ptr().add(off as usize) }
            }
            None => std::ptr::NonNull::dangling().as_ptr(),
        }
    }

    /// A writable view of `len` bytes at `off`.
    ///
    /// # Safety
    /// No other live slice (from this method or [`MappedFile::slice`]) may overlap
    /// `off..off+len` while the returned slice is alive. The range schedulers guarantee this by
    /// giving every byte range exactly one owner at a time.
    ///
    /// # Panics
    /// If the range is outside the file.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice_mut(&self, off: u64, len: usize) -> &mut [u8] {
        let p = self.check(off, len);
        // SAFETY: the pointer is inside the mapping (see `check`) and the caller guarantees
        // exclusive access to this range.
        unsafe { std::slice::from_raw_parts_mut(p, len) }
    }

    /// A read-only view of `len` bytes at `off`.
    ///
    /// # Safety
    /// No writer may be using any byte of `off..off+len` while the slice is alive (the range
    /// must be finished, e.g. behind the hasher's watermark).
    ///
    /// # Panics
    /// If the range is outside the file.
    pub unsafe fn slice(&self, off: u64, len: usize) -> &[u8] {
        let p = self.check(off, len);
        // SAFETY: as for `slice_mut`; the caller guarantees no concurrent writer.
        unsafe { std::slice::from_raw_parts(p, len) }
    }

    /// Synchronously write back `off..off+len` (msync) so the bytes survive power loss.
    pub fn flush_range(&self, off: u64, len: u64) -> Result<()> {
        if let Some(m) = &self.map {
            if len > 0 {
                m.flush_range(off as usize, len as usize).map_err(|e| Error::io("flush", &self.path, e))?;
            }
        }
        Ok(())
    }

    /// A writable view of `len` bytes at `off` for a writer that overwrites all of it: what the
    /// range held before is given up. Its page-cache pages are created here by writing zeros
    /// over it through the descriptor (`pwrite`), then mapped in one call
    /// (`MADV_POPULATE_WRITE`, Linux ≥ 5.14) instead of one fault per 4 KiB page.
    ///
    /// Why not let the stores fault the pages in: a fault on a page the cache does not hold
    /// reads it first, and for preallocated space that read is the read-around's zero-fill,
    /// which allocates large folios. On a VM that reports its free memory to the host (free page
    /// reporting), those are the blocks the host has discarded, and the zero-fill then pays a host
    /// fault per page: 0.3–1.1 s of system time per 512 MiB in some runs instead of 0.1
    /// (bench/notes.md). The pages a `write` allocates did not hit that. The bytes still land
    /// through the mapping; on a machine where those faults are cheap, the zeros cost ~0.05 s of
    /// system time per GiB more than the faults would.
    ///
    /// Only on a local disk filesystem (ext2/3/4, XFS, Btrfs, F2FS, tmpfs, overlayfs): elsewhere
    /// (NFS, SMB, FUSE such as sshfs or rclone, anything unknown) a `write` may go to the server
    /// at once, and the zeros would cross the network before the data; there the pages are only
    /// mapped in one call, as before.
    ///
    /// Best effort: if the zeros cannot be written, the stores fault the pages in. The zeros
    /// may reach the disk before the data only if writeback catches the range while
    /// it is being written; the data then follows in a second writeback. Nothing is ever
    /// recorded as done on the strength of this range until the writer has filled it.
    ///
    /// # Safety
    /// As for [`MappedFile::slice_mut`]: no other live slice may overlap `off..off+len`, and
    /// nothing else (another writer, the hasher) may rely on the range's old contents.
    ///
    /// # Panics
    /// If the range is outside the file.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn fresh_mut(&self, off: u64, len: usize) -> &mut [u8] {
        // SAFETY: the caller's guarantees are `give_up`'s.
        unsafe { self.give_up(off, len as u64) };
        // SAFETY: as for `slice_mut`: the caller guarantees exclusive access to this range.
        unsafe { self.slice_mut(off, len) }
    }

    /// The page-cache work of [`MappedFile::fresh_mut`] alone, for a writer that fills a run of
    /// bytes one slice at a time: the run is given up once, ahead of its slices (one pair of
    /// syscalls for the run instead of one per slice), which are then taken with `slice_mut`.
    ///
    /// # Safety
    /// As for [`MappedFile::fresh_mut`], for all of `off..off+len`.
    ///
    /// # Panics
    /// If the range is outside the file.
    pub unsafe fn give_up(&self, off: u64, len: u64) {
        let _ = self.check(off, usize::try_from(len).unwrap_or(usize::MAX));
        if self.map.is_none() || len == 0 {
            return;
        }
        let end = off + len;
        if self.zero_first {
            // Best effort: the stores fault in whatever a failed write leaves.
            let _ = write_zeros(&self.file, off, end);
        }
        #[cfg(target_os = "linux")]
        if let Some(m) = &self.map {
            const MADV_POPULATE_WRITE: libc::c_int = 23;
            let page = 4096u64;
            let start = off / page * page;
            // SAFETY: the range lies inside the mapping (checked above); populating
            // pages does not change their contents. Older kernels refuse the advice: harmless.
            unsafe {
                libc::madvise(m.as_mut_ptr().add(start as usize).cast(), (end - start) as usize, MADV_POPULATE_WRITE);
            }
        }
    }

    /// Whether fresh ranges of this file are zeroed with `pwrite` first (see `fresh_mut`).
    pub fn zeroes_fresh_ranges(&self) -> bool {
        self.zero_first
    }

    /// Done with `off..off+len` for good (written and checked): drop its page-table entries and
    /// start its writeback. Unmapping first (`MADV_DONTNEED` keeps the dirty data in the page
    /// cache) makes the writeback cheap: cleaning pages that are still mapped costs a
    /// write-protect and a cross-CPU TLB flush per page. Only whole pages inside the range are
    /// unmapped (a boundary page may belong to a neighbour still being written).
    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    pub fn retire(&self, off: u64, len: u64) {
        if let Some(m) = &self.map {
            let page = 4096u64;
            let start = off.div_ceil(page) * page;
            let end = (off.saturating_add(len)).min(self.len) / page * page;
            if end > start {
                // SAFETY: whole pages inside the mapping; for a MAP_SHARED file mapping this only
                // drops page-table entries (contents stay in the page cache, dirty). Linux
                // semantics; elsewhere the pages simply stay mapped.
                #[cfg(target_os = "linux")]
                unsafe {
                    libc::madvise(
                        m.as_mut_ptr().add(start as usize).cast(),
                        (end - start) as usize,
                        libc::MADV_DONTNEED,
                    );
                }
            }
        }
        self.start_writeback(off, len);
    }

    /// Start writing `off..off+len` back to disk without waiting (`sync_file_range`), so that
    /// the msync before journaling and the final sync find little left to do.
    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    pub fn start_writeback(&self, off: u64, len: u64) {
        if len == 0 {
            return;
        }
        // SAFETY: plain syscall on a valid descriptor; errors only lose the head start.
        // (Linux only; elsewhere the final sync does all the writing.)
        #[cfg(target_os = "linux")]
        unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                off as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }

    /// A second descriptor of the file (e.g. to sync it after the mapping is gone).
    pub fn dup_file(&self) -> Option<File> {
        self.file.try_clone().ok()
    }

    /// Write back everything and sync the file's data.
    pub fn flush(&self) -> Result<()> {
        if let Some(m) = &self.map {
            m.flush().map_err(|e| Error::io("flush", &self.path, e))?;
        }
        self.file.sync_data().map_err(|e| Error::io("sync", &self.path, e))
    }
}

/// Whether `file` lives on a local disk filesystem, where its page-cache pages are best made
/// by `pwrite` of zeros before the stores (see `MappedFile::fresh_mut`). Unknown: no.
fn zeros_are_local(file: &File) -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a zeroed statfs is a valid out-parameter; plain syscall on a valid descriptor.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) } != 0 {
            return false;
        }
        // The magic numbers are 32-bit; `f_type`'s width and sign differ between libcs.
        local_disk_magic((st.f_type as u64) & 0xFFFF_FFFF)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        false
    }
}

/// Linux filesystem magic numbers (`statfs.f_type`) of local disk and memory filesystems.
fn local_disk_magic(f_type: u64) -> bool {
    const EXT234: u64 = 0xEF53;
    const XFS: u64 = 0x5846_5342;
    const BTRFS: u64 = 0x9123_683E;
    const F2FS: u64 = 0xF2F5_2010;
    const TMPFS: u64 = 0x0102_1994;
    const OVERLAYFS: u64 = 0x794C_7630;
    matches!(f_type, EXT234 | XFS | BTRFS | F2FS | TMPFS | OVERLAYFS)
}

/// Reserve `len` bytes for `file` (currently `previous_len` long, content kept): every block
/// must be allocated before the file is mapped. Already-allocated ranges cost nothing (resume).
fn reserve(file: &File, path: &Path, len: u64, previous_len: u64) -> Result<Reservation> {
    if len == 0 {
        return Ok(Reservation::Allocated);
    }
    // `fallocate` is Linux's; elsewhere the space is reserved by writing it (below).
    #[cfg(target_os = "linux")]
    if USE_FALLOCATE.load(std::sync::atomic::Ordering::Relaxed) {
        // SAFETY: plain syscall on a valid, open descriptor.
        #[cfg(target_os = "linux")]
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len as libc::off_t) };
        // No fallocate (macOS): the "not supported" path below writes the reservation.
        #[cfg(not(target_os = "linux"))]
        let rc = -1;
        if rc == 0 {
            return Ok(Reservation::Allocated);
        }
        #[cfg(target_os = "linux")]
        let err = std::io::Error::last_os_error();
        #[cfg(not(target_os = "linux"))]
        let err = std::io::Error::from_raw_os_error(libc::EOPNOTSUPP);
        match err.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EFBIG) => {
                // Give back what a failed reservation may have left, but keep resumable content.
                let _ = file.set_len(previous_len);
                return Err(Error::DiskFull { path: path.to_path_buf(), needed: len });
            }
            Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) | Some(libc::EINVAL) => {}
            _ => return Err(Error::io("preallocate", path, err)),
        }
    }
    // No fallocate: allocate the new space by writing it. The file only grows as zeros land,
    // so a file of full length (a resume) is allocated already.
    let need = len.saturating_sub(previous_len);
    if need == 0 {
        return Ok(Reservation::Written);
    }
    if let Some(free) = free_space(path) {
        if free < need {
            return Err(Error::DiskFull { path: path.to_path_buf(), needed: need });
        }
    }
    debug!("{}: filesystem cannot preallocate; writing {need} bytes of zeros instead", path.display());
    if let Err(e) = write_zeros(file, previous_len, len) {
        let _ = file.set_len(previous_len);
        return Err(match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EFBIG) | Some(libc::EDQUOT) => {
                Error::DiskFull { path: path.to_path_buf(), needed: need }
            }
            _ => Error::io("preallocate", path, e),
        });
    }
    Ok(Reservation::Written)
}

/// Write zeros over `from..to` of `file` with checked writes.
fn write_zeros(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    /// Zeros to write from, allocated once on first use (zero-filled by the allocator, so no
    /// page of it is ever written; in `.rodata` it would add 1 MiB to the binary).
    static ZEROS: std::sync::OnceLock<Box<[u8]>> = std::sync::OnceLock::new();
    let zeros = ZEROS.get_or_init(|| vec![0u8; 1 << 20].into_boxed_slice());
    let mut pos = from;
    while pos < to {
        let n = (to - pos).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], pos)?;
        pos += n as u64;
    }
    Ok(())
}

/// Free bytes available to an unprivileged user on the filesystem holding `path` (or its
/// parent, when `path` does not exist yet).
pub fn free_space(path: &Path) -> Option<u64> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let probe = if path.exists() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_else(|| ".".into())
    };
    let probe = if probe.as_os_str().is_empty() { PathBuf::from(".") } else { probe };
    let c = CString::new(probe.as_os_str().as_bytes()).ok()?;
    // SAFETY: zeroed statvfs is a valid out-parameter; `c` is a valid NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("galaxy-dl-sink-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&d);
        d
    }

    #[test]
    fn create_write_reopen_keeps_content() {
        let p = tmp("a");
        {
            let (f, _) = MappedFile::create(&p, 1 << 20).unwrap();
            unsafe { f.slice_mut(4096, 4) }.copy_from_slice(b"abcd");
            f.flush().unwrap();
        }
        let (f, _) = MappedFile::create(&p, 1 << 20).unwrap();
        assert_eq!(unsafe { f.slice(4096, 4) }, b"abcd");
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 1 << 20);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn a_fresh_range_gives_up_its_bytes_and_only_its_own() {
        let p = tmp("fresh");
        let len = 3 * 4096 + 100;
        let (f, _) = MappedFile::create(&p, len).unwrap();
        let all: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
        unsafe { f.slice_mut(0, len as usize) }.copy_from_slice(&all);
        // Unaligned at both ends, across page boundaries.
        let (off, n) = (4000u64, 5000usize);
        let fresh = unsafe { f.fresh_mut(off, n) };
        if f.zeroes_fresh_ranges() {
            assert!(fresh.iter().all(|&b| b == 0), "the old bytes are given up");
        } else {
            eprintln!("SKIP (zeros): {} is not on a local disk filesystem", p.display());
        }
        fresh.fill(0xAB);
        let mut want = all.clone();
        want[off as usize..off as usize + n].fill(0xAB);
        let now = unsafe { f.slice(0, len as usize) };
        assert_eq!(&now[..off as usize], &all[..off as usize], "bytes before the range are kept");
        assert_eq!(&now[off as usize + n..], &all[off as usize + n..], "bytes after the range are kept");
        assert_eq!(now, &want[..]);
        f.flush().unwrap();
        drop(f);
        assert_eq!(std::fs::read(&p).unwrap(), want, "and so is the file on disk");
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn zeros_go_first_only_on_local_disk_filesystems() {
        for (magic, local) in [
            (0xEF53, true),       // ext4
            (0x5846_5342, true),  // XFS
            (0x9123_683E, true),  // Btrfs
            (0x0102_1994, true),  // tmpfs
            (0x6969, false),      // NFS
            (0xFE53_4D42, false), // SMB2
            (0xFF53_4D42, false), // CIFS
            (0x6573_5546, false), // FUSE (sshfs, rclone)
            (0x2FC1_2FC1, false), // ZFS: not measured
            (0, false),
        ] {
            assert_eq!(local_disk_magic(magic), local, "{magic:#x}");
        }
    }

    #[test]
    fn empty_file() {
        let p = tmp("empty");
        let (f, _) = MappedFile::create(&p, 0).unwrap();
        assert!(f.is_empty());
        f.flush().unwrap();
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn absurd_size_is_disk_full() {
        let p = tmp("huge");
        let e = MappedFile::create(&p, 1 << 60).err().expect("must fail");
        assert!(matches!(e, Error::DiskFull { .. } | Error::Io { .. }), "{e}");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn open_regular_refuses_symlinks_and_devices() {
        let p = tmp("link");
        let target = tmp("link-target");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, &p).unwrap();
        let e = open_regular(&p).expect_err("symlink must be refused");
        assert!(matches!(e, Error::UnsafeTarget { .. }), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        std::fs::remove_file(&p).unwrap();
        std::fs::remove_file(&target).unwrap();
        let e = open_regular(Path::new("/dev/null")).expect_err("device must be refused");
        assert!(e.to_string().contains("device"), "{e}");
    }

    #[test]
    fn second_lock_is_busy() {
        let p = tmp("lock");
        let a = open_regular(&p).unwrap();
        let b = open_regular(&p).unwrap();
        lock_exclusive(&a, &p).unwrap();
        assert!(matches!(lock_exclusive(&b, &p), Err(Error::Busy { .. })));
        drop(a);
        lock_exclusive(&b, &p).unwrap();
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn zero_fill_extends_and_keeps_content() {
        let p = tmp("zeros");
        std::fs::write(&p, b"abc").unwrap();
        let f = open_regular(&p).unwrap();
        write_zeros(&f, 3, 3 + (3 << 20) + 5).unwrap();
        let d = std::fs::read(&p).unwrap();
        assert_eq!(d.len(), 3 + (3 << 20) + 5);
        assert_eq!(&d[..3], b"abc");
        assert!(d[3..].iter().all(|&b| b == 0));
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn free_space_reports_something() {
        assert!(free_space(&std::env::temp_dir()).unwrap() > 0);
    }
}
