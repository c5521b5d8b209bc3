//! `download`: argument parsing and the call into [`galaxy_dl::install::Downloader`].

use std::path::PathBuf;
use std::sync::Arc;

use galaxy_dl::fetch::EngineOptions;
use galaxy_dl::install::{DownloadOptions, Downloader};
use galaxy_dl::select::Selection;
use galaxy_dl::units::human_bytes;
use galaxy_dl::Error;

use super::args::{engine_flags, finish, opt_str, output_mode, selection_flags};
use super::report::{OutputMode, Reporter};
use super::signal;

/// Validated arguments of `download`.
#[derive(Debug)]
pub struct DownloadArgs {
    pub product_id: String,
    pub dir: PathBuf,
    pub selection: Selection,
    pub engine: EngineOptions,
    pub output_mode: OutputMode,
    pub with_redist: bool,
    pub dry_run: bool,
    /// `--chunk-size`: the V1 piece size.
    pub v1_piece_size: Option<u64>,
}

pub const DOWNLOAD_HELP: &str = "\
Install a GOG game (V1 main.bin or V2 chunks, detected from the build) into DIR.

Usage: galaxy-dl download PRODUCT_ID --dir DIR [OPTIONS]

Everything downloaded is checked by MD5 before it counts. Progress is journaled in
DIR/.galaxy-dl/: run the same command again to resume after an interruption, or to update an
older install to the chosen build (only what changed is fetched; files the new build no longer
has are removed). Exits 0 only when every file of the selection is on disk and verified.

Options:
      --dir DIR          Install directory (required)
      --build ID         A specific build (default: the newest public build)
      --branch NAME      A branch; private branches need --password
      --password PW      Password of a private branch
      --os OS            windows or osx [default: windows]
      --lang CODE        Language, e.g. en-US, de, French [default: en-US]
      --bitness 32|64    [default: 64]; depots that name no bitness are always taken
      --dlc WHICH        all (owned DLC), none, or ID,ID,... [default: all]
      --workers N        Parallel connections [default: 8]
      --chunk-size SIZE  V1 piece size: one main.bin Range request each, 64K to 1G
                         [default: 4M]; V2 chunks have the size GOG made them
      --limit-rate RATE  Overall limit, bytes per second, e.g. 512K, 10M
      --with-redist      Also download shared redistributables (__redist/...); the
                         dependencies the game needs in its own directory always come
      --dry-run          Print what would be downloaded and written, the peak temporary
                         and the final disk use, given what DIR already holds; change nothing
      --json             Newline-delimited JSON events on stdout
      --quiet            No progress on stderr
  -h, --help             Print help
";

pub fn parse(mut p: pico_args::Arguments) -> Result<DownloadArgs, String> {
    let dir = opt_str(&mut p, "--dir")?;
    let selection = selection_flags(&mut p)?;
    let (engine, chunk) = engine_flags(&mut p)?;
    if let Some(c) = chunk {
        if !galaxy_dl::install::V1_PIECE_RANGE.contains(&c) {
            return Err(format!("invalid --chunk-size {}: expected 64K to 1G", human_bytes(c)));
        }
    }
    let output_mode = output_mode(&mut p);
    let with_redist = p.contains("--with-redist");
    let dry_run = p.contains("--dry-run");
    let free = finish(p)?;
    let product_id = match free.as_slice() {
        [id] => id.clone(),
        [] => return Err("download needs a PRODUCT_ID".into()),
        [_, extra, ..] => return Err(format!("unexpected argument {extra:?}")),
    };
    galaxy_dl::install::check_product_id(&product_id).map_err(|e| e.to_string())?;
    let dir = dir.ok_or("download needs --dir DIR")?;
    if dir.is_empty() {
        return Err("--dir needs a directory".into());
    }
    Ok(DownloadArgs {
        product_id,
        dir: PathBuf::from(dir),
        selection,
        engine,
        output_mode,
        with_redist,
        dry_run,
        v1_piece_size: chunk,
    })
}

pub fn run(a: DownloadArgs) -> Result<(), Error> {
    let cancel = signal::install();
    let reporter = Reporter::start(a.output_mode);
    let client = Arc::new(super::knobs::client(&a.engine)?);
    let mut opts = DownloadOptions::default();
    opts.engine = a.engine;
    opts.events = Some(reporter.sender());
    opts.event_grace = std::time::Duration::MAX; // the reporter always reads: `--json` shows every file
    opts.cancel = cancel;
    opts.with_redist = a.with_redist;
    if let Some(p) = a.v1_piece_size {
        opts.v1_piece_size = p;
    }
    let dl = Downloader::new(client, opts);
    if a.dry_run {
        let r = dl.dry_run(&a.product_id, &a.dir, &a.selection);
        drop(dl);
        reporter.finish();
        let d = r?;
        if a.output_mode.json {
            let mut v = serde_json::to_value(&d).unwrap_or_default();
            v["event"] = "plan".into();
            println!("{v}");
        } else {
            let free = d.free_bytes.map(human_bytes).unwrap_or_else(|| "unknown".into());
            println!("dry run for {} into {} (nothing was changed)", a.product_id, a.dir.display());
            println!(
                "  files to fetch    {} ({} already present, {} to remove)",
                d.files_to_fetch, d.files_present, d.files_to_remove
            );
            println!("  download          {}", human_bytes(d.download_bytes));
            if d.patch_files > 0 {
                let by_chunks = d.files_to_fetch.saturating_sub(d.patch_files);
                println!(
                    "  update            {} by patch, {} of deltas; {} by chunks, {}",
                    files(d.patch_files),
                    human_bytes(d.patch_bytes),
                    files(by_chunks),
                    human_bytes(d.download_bytes.saturating_sub(d.patch_bytes))
                );
            }
            println!("  reused from disk  {}", human_bytes(d.reused_bytes));
            println!("  write             {}", human_bytes(d.write_bytes));
            println!(
                "  temporary space   {} (free: {free}{})",
                human_bytes(d.temp_bytes),
                if d.fits { "" } else { ", NOT ENOUGH" }
            );
            println!("  disk now          {}", human_bytes(d.current_bytes));
            println!("  disk at peak      {}", human_bytes(d.peak_bytes));
            println!("  disk when done    {}", human_bytes(d.final_bytes));
        }
        return Ok(());
    }
    let r = dl.download(&a.product_id, &a.dir, &a.selection);
    drop(dl);
    reporter.finish();
    let s = r?;
    if !a.output_mode.json {
        println!(
            "installed {} build {} into {}: {} files ({} already present, {} removed), {} downloaded, {} on disk",
            s.product_id,
            s.build_id,
            a.dir.display(),
            s.files,
            s.skipped_files,
            s.removed_files,
            human_bytes(s.downloaded_bytes),
            human_bytes(s.install_bytes)
        );
        if s.patched_files > 0 {
            println!("  {} files updated by patch", s.patched_files);
        }
    }
    Ok(())
}

/// "1 file", "3 files".
fn files(n: usize) -> String {
    format!("{n} file{}", if n == 1 { "" } else { "s" })
}
