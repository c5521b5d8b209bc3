//! Where the download engine's bytes land: the sink traits it writes through ([`ChunkSink`],
//! [`BlobSink`]) and the descriptors they take (a V2 chunk and its targets, a V1 segment).
//! Declared here, beside [`crate::sink`], so `fetch` depends on the sink layer and `install`
//! implements these traits without reaching into the engine (`fetch::chunk` and `fetch::blob`
//! re-export them under their old paths).

use std::sync::Arc;

use crate::error::Result;
use crate::md5hex::Md5Hex;
use crate::md5x::Md5State;
use crate::sink::MappedFile;

/// Where one chunk's inflated bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Index of the file in the caller's list.
    pub file: usize,
    /// Offset of the chunk in that file.
    pub offset: u64,
}

/// One chunk to fetch.
#[derive(Debug, Clone)]
pub struct ChunkJob {
    /// Product whose store holds the chunk (selects the secure link); shared by the jobs of
    /// one product.
    pub product: Arc<str>,
    /// MD5 of the stored zlib object (also its address).
    pub compressed_md5: Md5Hex,
    /// Size of the stored object (informational; for progress).
    pub compressed_size: u64,
    /// MD5 of the inflated bytes.
    pub md5: Md5Hex,
    /// Inflated size.
    pub size: u64,
    /// Where the inflated bytes go (at least one).
    pub targets: Vec<Target>,
    /// Check `md5` here (false when a whole-file MD5 covers every target).
    pub check_md5: bool,
    /// A local copy of the inflated bytes (a file of the installed build at an offset): used
    /// instead of the network when its MD5 matches (updates, repairs). Boxed: most jobs have
    /// none, and inline it would cost every job of a work list 24 bytes more.
    pub local: Option<Box<(std::path::PathBuf, u64)>>,
    /// Hash the first target's whole-file digest while inflating, as soon as the digest has
    /// reached this chunk ([`ChunkSink::lend_digest`]). Worth it for the last requests, where
    /// a later hashing pass would add to the wall time; elsewhere the sink's lock-step hasher
    /// is cheaper.
    pub hash_inline: bool,
}

/// Where chunks land and what happens when they are done.
pub trait ChunkSink: Sync {
    /// The mapped file for index `file` (opened lazily, preallocated to its final size).
    fn file(&self, file: usize) -> Result<Arc<MappedFile>>;
    /// `job` is written and checked at every target. `digest` is the digest lent by
    /// [`ChunkSink::lend_digest`] for the first target, advanced over the chunk's bytes.
    fn done(&self, job: &ChunkJob, digest: Option<Md5State>) -> Result<()>;
    /// Lend the whole-file digest of `t`'s file if `t` is exactly where it stands, so the
    /// worker hashes the chunk while inflating it instead of a second pass later. The sink
    /// holds the file's digest back until [`ChunkSink::done`] or [`ChunkSink::end_loan`].
    fn lend_digest(&self, _t: Target) -> Option<Md5State> {
        None
    }
    /// The chunk of a lent digest failed: the digest stays where it was.
    fn end_loan(&self, _t: Target) {}
}

/// A piece of one file carried by a blob request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Offset of the piece in the blob.
    pub blob_offset: u64,
    /// Index of the file in the caller's list.
    pub file: usize,
    /// Offset of the piece in the file.
    pub file_offset: u64,
    /// Length of the piece.
    pub len: u64,
}

/// Where segments land.
pub trait BlobSink: Sync {
    /// The mapped file for index `file`.
    fn file(&self, file: usize) -> Result<Arc<MappedFile>>;
    /// `seg` is written.
    fn segment_done(&self, seg: &Segment) -> Result<()>;
}
