//! # galaxy-dl
//!
//! A fast, verifying downloader for GOG Galaxy game content, as a library and a CLI.
//!
//! Every byte goes through one engine: a dedicated pool of blocking workers issues HTTP (Range)
//! GETs with one shared keep-alive [`ureq::Agent`] and streams each body straight into its own
//! disjoint slice of a preallocated, memory-mapped output file; MD5 follows the data as it lands;
//! progress flows over a bounded channel to one reporter.
//!
//! Modules, in pipeline order:
//! - [`api`]: GOG API client (login/tokens, builds, secure links and their cache, owned games).
//! - [`manifest`]: V1/V2 manifest types, zlib/JSON meta decoding, safe paths and case folding.
//! - [`select`]: which depots a download takes (language, bitness, owned DLC).
//! - [`http`]: the shared agent, timeouts, error conversion: one request, no policy.
//! - [`fetch`]: the engine: worker pool, segmented Range downloads with work stealing
//!   ([`fetch::range`], [`fetch::schedule`]), the one fetch policy for every request
//!   ([`fetch::policy`]: retries, endpoint health, `Retry-After`, metadata GETs), the global
//!   rate limit.
//! - [`sink`]: preallocation (`fallocate`), the mapping, disjoint writable slices;
//!   [`sinks`]: the traits the engine writes through.
//! - [`verify`]: MD5 helpers and the prefix hasher that digests a file while it downloads.
//! - [`progress`]: events for the embedder or the CLI's reporter.
//! - [`info`]: build lists and what a build and a selection hold (sizes, DLC, dependencies).
//! - [`get`]: the generic `get URL -o FILE` operation with its resume journal.
//!
//! The command-line front end lives in the binary (`src/cli/`) and only parses, prints and maps
//! errors to exit codes.
//!
//! ## Example: a verified, resumable download
//!
//! ```no_run
//! use galaxy_dl::Getter;
//! let getter = Getter::builder().workers(8).md5("9e107d9d372bb6826bd81d3542a419d6").build()?;
//! let out = getter.get("https://example.com/big.bin", std::path::Path::new("big.bin"))?;
//! println!("{} bytes, md5 {}", out.size, out.md5);
//! # Ok::<(), galaxy_dl::Error>(())
//! ```

//! ## Example: install a game (here from the in-tree mock GOG, so it runs offline)
//!
//! ```
//! use galaxy_dl::api::{Client, Endpoints};
//! use galaxy_dl::install::Downloader;
//! use galaxy_dl::select::Selection;
//! use galaxy_dl_mock::gog::{GogMock, MockConfig};
//!
//! let gog = GogMock::start(MockConfig::small());
//! let scratch = std::env::temp_dir().join(format!("galaxy-dl-doc-{}", std::process::id()));
//! let agent = galaxy_dl::http::agent(&Default::default())?;
//! let client = Client::new(agent, Endpoints::single(&gog.url()), Default::default(), scratch.join("config"));
//! client.exchange_code(GogMock::LOGIN_CODE)?; // what `galaxy-dl login --code` does
//!
//! let (events, rx) = crossbeam_channel::bounded(1024);
//! let watcher = std::thread::spawn(move || {
//!     rx.iter().filter(|e| matches!(e, galaxy_dl::Event::File { .. })).count()
//! });
//! let dl = Downloader::builder(client).workers(4).events(events).build()?;
//! let summary = dl.download("1000000001", &scratch.join("game"), &Selection::default())?;
//! drop(dl);
//! assert_eq!(watcher.join().unwrap(), summary.files);
//! assert_eq!(summary.generation, 2);
//! # std::fs::remove_dir_all(&scratch).ok();
//! # Ok::<(), galaxy_dl::Error>(())
//! ```

// Unsafe code is allowed only in the files that say why (`#![allow(unsafe_code)]` there).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod error;
pub mod fetch;
pub mod get;
pub mod http;
pub mod info;
pub mod install;
pub mod journal;
pub mod manifest;
pub mod md5x;
pub mod patch;
pub mod progress;
pub mod select;
pub mod sink;
pub mod sinks;
pub mod units;
pub mod verify;

pub use api::{Client, Endpoints};
pub use error::{Error, Result};
pub use get::{GetOptions, GetOutcome, Getter, GetterBuilder};
pub use install::{DownloadOptions, DownloadSummary, Downloader, DownloaderBuilder, DryRun};
pub use progress::{Event, FileStatus};
