//! # galaxy-dl
//!
//! A fast, verifying downloader for GOG Galaxy game content, as a library and a CLI.
//!
//! Every byte goes through one engine: a dedicated pool of blocking workers issues HTTP (Range)
//! GETs with one shared keep-alive [`ureq::Agent`] and streams each body straight into its own
//! disjoint slice of a preallocated, memory-mapped output file; MD5 follows the data as it lands;
//! progress flows over a bounded channel to one reporter.
//!
//! ## The surface a launcher uses
//! - [`Client`] ([`Client::connect`]): GOG login, library ([`Client::library`]), builds.
//! - [`Downloader`] ([`Downloader::builder`]): install, update, [`Downloader::dry_run`],
//!   and [`verify()`](fn@verify) / [`repair`] of an install.
//! - [`Getter`] ([`Getter::builder`]): the generic verified, resumable `get URL -o FILE`.
//! - [`Event`]: progress, delivered over the embedder's channel without ever blocking the
//!   download (what is kept and what may be dropped: [`progress`]).
//! - [`Error`]: one error enum, `#[non_exhaustive]`, with context.
//! - Settings: [`DownloadOptions`], [`EngineOptions`], [`RetryPolicy`], [`HttpOptions`],
//!   [`LowSpeed`], [`GetOptions`] (all `#[non_exhaustive]`, `Default` = production values; the
//!   library never reads `GALAXY_DL_*` variables except through [`Client::from_env`]-style
//!   calls that only the CLI makes).
//!
//! Public modules: [`api`], [`install`], [`get`], [`progress`], [`select`], [`info`],
//! [`error`]. The engine's internals (`fetch`, `http`, `sink`,
//! `sinks`, `journal`, `manifest`, `md5x`, `patch`, `units`, `verify` (MD5 helpers), `install::{files, plan, state,
//! patch}`) are `#[doc(hidden)] pub`: the CLI (a separate crate in this package, `src/cli/`),
//! the black-box tests and the examples use them. They are not a stable API for launchers.
//!
//! The command-line front end lives in the binary (`src/cli/`) and only parses, prints, reads
//! the environment's knobs and maps errors to exit codes.
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
//! let client = Client::connect(Endpoints::single(&gog.url()), scratch.join("config"))?;
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

/// `log::debug!` for this crate's own lines. With the default feature `small-binary` the `log`
/// crate is built with `release_max_level_info` (Cargo.toml), which compiles the debug and
/// trace lines of rustls and ureq out of release builds (the CLI's logger never shows them;
/// their formatting code was 69,664 bytes of the musl binary). This crate's lines stay: checked against the run-time
/// level (`RUST_LOG`) first, so their arguments are evaluated only when the line is wanted.
macro_rules! debug {
    ($($arg:tt)+) => {
        if ::log::Level::Debug <= ::log::max_level() {
            $crate::log_line(::log::Level::Debug, module_path!(), file!(), line!(), format_args!($($arg)+))
        }
    };
}

/// `log::trace!` for this crate's own lines; see `debug!`.
macro_rules! trace {
    ($($arg:tt)+) => {
        if ::log::Level::Trace <= ::log::max_level() {
            $crate::log_line(::log::Level::Trace, module_path!(), file!(), line!(), format_args!($($arg)+))
        }
    };
}

/// Hand one line to the installed `log` logger, bypassing `log`'s compile-time level (see
/// `debug!`). One non-generic function for every call site.
#[doc(hidden)]
pub fn log_line(level: log::Level, target: &'static str, file: &'static str, line: u32, args: std::fmt::Arguments<'_>) {
    log::logger().log(
        &log::Record::builder()
            .level(level)
            .target(target)
            .module_path_static(Some(target))
            .file_static(Some(file))
            .line(Some(line))
            .args(args)
            .build(),
    );
}

pub mod api;
pub mod error;
#[doc(hidden)]
pub mod fetch;
pub mod get;
#[doc(hidden)]
pub mod http;
pub mod info;
pub mod install;
#[doc(hidden)]
pub mod journal;
#[doc(hidden)]
pub mod manifest;
#[doc(hidden)]
pub mod md5hex;
#[doc(hidden)]
pub mod md5x;
#[doc(hidden)]
pub mod patch;
pub mod progress;
pub mod select;
#[doc(hidden)]
pub mod sink;
#[doc(hidden)]
pub mod sinks;
#[doc(hidden)]
pub mod units;
#[doc(hidden)]
pub mod verify;

pub use api::{Client, Endpoints};
pub use error::{Error, Result};
pub use fetch::{EngineOptions, HttpOptions, LowSpeed, RetryPolicy};
pub use get::{GetOptions, GetOutcome, Getter, GetterBuilder};
pub use install::verify::{repair, verify, RepairReport, VerifyReport};
pub use install::{DownloadOptions, DownloadSummary, Downloader, DownloaderBuilder, DryRun};
pub use progress::{Event, FileStatus};
pub use select::Selection;
