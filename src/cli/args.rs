//! Argument parsing in two stages (like ripgrep's low/high args): pico-args reads raw flags,
//! then each command's values are validated into library options. Every malformed value is a
//! one-line message and exit code 2.

use std::ffi::OsString;
use std::path::PathBuf;

use galaxy_dl::fetch::EngineOptions;
use galaxy_dl::units::{parse_rate, parse_size};
use galaxy_dl::verify::parse_md5;

use super::report::OutputMode;

/// A parsed command line.
#[derive(Debug)]
pub enum Command {
    /// Print this help text and exit 0.
    Help(&'static str),
    /// Print the version and exit 0.
    Version,
    /// `get URL -o FILE`.
    Get(Box<GetArgs>),
    /// `download PRODUCT_ID --dir DIR`.
    Download(Box<super::download::DownloadArgs>),
    /// `verify DIR`.
    Verify(Box<super::verify::VerifyArgs>),
    /// `repair DIR`.
    Repair(Box<super::verify::RepairArgs>),
}

impl Command {
    /// Whether `--json` was given (errors are then also printed as a JSON event).
    pub fn json(&self) -> bool {
        match self {
            Command::Get(g) => g.output_mode.json,
            Command::Download(d) => d.output_mode.json,
            Command::Verify(v) => v.output_mode.json,
            Command::Repair(r) => r.output_mode.json,
            _ => false,
        }
    }
}

/// Validated arguments of `get`.
#[derive(Debug)]
pub struct GetArgs {
    pub url: String,
    pub out: PathBuf,
    pub md5: Option<String>,
    pub size: Option<u64>,
    pub chunk_size: Option<u64>,
    pub engine: EngineOptions,
    pub output_mode: OutputMode,
}

pub const MAIN_HELP: &str = "\
galaxy-dl — fast, verifying downloader for GOG Galaxy content

Usage: galaxy-dl <COMMAND> [OPTIONS]

Commands:
  download ID --dir DIR   Install a game (V1 or V2 build), resumable, verified, updating
  verify DIR              Check an install against its saved manifest (exit 1 if bad)
  repair DIR              Re-fetch only what verify reports bad or missing
  get URL -o FILE         Segmented, resumable download of any URL that serves byte ranges

Options:
  -h, --help        Print help (also: galaxy-dl COMMAND --help)
  -V, --version     Print version

Environment:
  RUST_LOG          Log level on stderr (error, warn, info, debug, trace)

Exit codes: 0 success, 1 failure (network, verification, disk, server), 2 bad usage.
";

pub const GET_HELP: &str = "\
Download URL to FILE with parallel Range requests, verified by MD5.

Usage: galaxy-dl get URL -o FILE [OPTIONS]

The file is preallocated, written in place by --workers connections, and hashed while it
arrives. Progress is kept in FILE.part and FILE.part.state: run the same command again after
an interruption to fetch only what is missing. FILE appears only once complete and verified.
The MD5 is printed on stdout as `<md5>  FILE`.

Options:
  -o, --output FILE      Where to write (required)
      --md5 HEX          Expected MD5; a mismatch fails (exit 1) and nothing is kept
      --size BYTES       Expected size; checked before downloading
      --workers N        Parallel connections [default: 8]
      --chunk-size SIZE  Piece size handed to a connection [default: 4M]
      --limit-rate RATE  Overall limit, bytes per second, e.g. 512K, 10M
      --json             Newline-delimited JSON events on stdout
      --quiet            No progress on stderr
  -h, --help             Print help

SIZE and RATE accept 1048576, 512K, 10M, 1G (binary units).
";

fn usage(msg: impl Into<String>) -> String {
    msg.into()
}

/// Parse the whole command line.
pub fn parse(argv: Vec<OsString>) -> Result<Command, String> {
    let mut p = pico_args::Arguments::from_vec(argv);
    let sub = p.subcommand().map_err(|e| usage(e.to_string()))?;
    match sub.as_deref() {
        None => {
            if p.contains(["-V", "--version"]) {
                return Ok(Command::Version);
            }
            if p.contains(["-h", "--help"]) {
                return Ok(Command::Help(MAIN_HELP));
            }
            let rest = p.finish();
            if let Some(a) = rest.first() {
                return Err(usage(format!("unknown option {}", a.to_string_lossy())));
            }
            Ok(Command::Help(MAIN_HELP))
        }
        Some("-h") | Some("--help") | Some("help") => Ok(Command::Help(MAIN_HELP)),
        Some("-V") | Some("--version") => Ok(Command::Version),
        Some("get") => parse_get(p),
        Some("download") => {
            if p.contains(["-h", "--help"]) {
                return Ok(Command::Help(super::download::DOWNLOAD_HELP));
            }
            super::download::parse(p).map(|d| Command::Download(Box::new(d)))
        }
        Some("verify") => {
            if p.contains(["-h", "--help"]) {
                return Ok(Command::Help(super::verify::VERIFY_HELP));
            }
            super::verify::parse_verify(p).map(|v| Command::Verify(Box::new(v)))
        }
        Some("repair") => {
            if p.contains(["-h", "--help"]) {
                return Ok(Command::Help(super::verify::REPAIR_HELP));
            }
            super::verify::parse_repair(p).map(|r| Command::Repair(Box::new(r)))
        }
        Some(other) => Err(usage(format!("unknown command '{other}'"))),
    }
}

pub fn opt_str(p: &mut pico_args::Arguments, keys: impl Into<pico_args::Keys>) -> Result<Option<String>, String> {
    p.opt_value_from_str::<_, String>(keys).map_err(|e| match e {
        pico_args::Error::OptionWithoutAValue(k) => format!("{k} needs a value"),
        pico_args::Error::Utf8ArgumentParsingFailed { .. } | pico_args::Error::NonUtf8Argument => {
            "arguments must be UTF-8".to_string()
        }
        other => other.to_string(),
    })
}

/// Flags shared by the downloading commands.
pub fn engine_flags(p: &mut pico_args::Arguments) -> Result<(EngineOptions, Option<u64>), String> {
    let mut engine = EngineOptions::default();
    if let Some(w) = opt_str(p, "--workers")? {
        let n: usize =
            w.trim().parse().map_err(|_| format!("invalid --workers {w:?}: expected a number from 1 to 256"))?;
        if n == 0 || n > 256 {
            return Err(format!("invalid --workers {w:?}: expected a number from 1 to 256"));
        }
        engine.workers = n;
    }
    if let Some(r) = opt_str(p, "--limit-rate")? {
        engine.limit_rate = Some(parse_rate(&r).map_err(|e| e.to_string())?);
    }
    let chunk = match opt_str(p, "--chunk-size")? {
        Some(c) => {
            let v = parse_size(&c).map_err(|e| e.to_string())?;
            if v < 4096 {
                return Err(format!("invalid --chunk-size {c:?}: at least 4K"));
            }
            Some(v)
        }
        None => None,
    };
    Ok((engine, chunk))
}

pub fn output_mode(p: &mut pico_args::Arguments) -> OutputMode {
    let json = p.contains("--json");
    let quiet = p.contains(["-q", "--quiet"]);
    OutputMode { json, quiet }
}

pub fn finish(p: pico_args::Arguments) -> Result<Vec<String>, String> {
    let mut free = Vec::new();
    for a in p.finish() {
        let s = a.to_str().ok_or_else(|| "arguments must be UTF-8".to_string())?.to_string();
        if s.starts_with('-') && s.len() > 1 {
            return Err(format!("unknown option {s}"));
        }
        free.push(s);
    }
    Ok(free)
}

fn parse_get(mut p: pico_args::Arguments) -> Result<Command, String> {
    if p.contains(["-h", "--help"]) {
        return Ok(Command::Help(GET_HELP));
    }
    let out = opt_str(&mut p, ["-o", "--output"])?;
    let md5 = opt_str(&mut p, "--md5")?.map(|m| parse_md5(&m).map_err(|e| e.to_string())).transpose()?;
    let size = opt_str(&mut p, "--size")?.map(|s| parse_size(&s).map_err(|e| e.to_string())).transpose()?;
    let (engine, chunk_size) = engine_flags(&mut p)?;
    let output_mode = output_mode(&mut p);
    let free = finish(p)?;
    let url = match free.as_slice() {
        [u] => u.clone(),
        [] => return Err("get needs a URL".into()),
        [_, extra, ..] => return Err(format!("unexpected argument {extra:?}")),
    };
    let out = out.ok_or("get needs -o FILE")?;
    if out.is_empty() {
        return Err("-o needs a file name".into());
    }
    Ok(Command::Get(Box::new(GetArgs { url, out: PathBuf::from(out), md5, size, chunk_size, engine, output_mode })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn get_flags() {
        let c = p(&[
            "get",
            "http://h/x",
            "-o",
            "f",
            "--md5",
            "D41D8CD98F00B204E9800998ECF8427E",
            "--workers",
            "3",
            "--limit-rate",
            "1M",
            "--chunk-size",
            "512K",
            "--size",
            "10",
            "--json",
        ])
        .unwrap();
        let Command::Get(g) = c else { panic!() };
        assert_eq!(g.url, "http://h/x");
        assert_eq!(g.md5.as_deref(), Some("d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(g.engine.workers, 3);
        assert_eq!(g.engine.limit_rate, Some(1 << 20));
        assert_eq!(g.chunk_size, Some(512 << 10));
        assert_eq!(g.size, Some(10));
        assert!(g.output_mode.json);
        let Command::Get(g) = p(&["get", "--output=f2", "http://h/y"]).unwrap() else { panic!() };
        assert_eq!(g.out, PathBuf::from("f2"));
    }

    #[test]
    fn bad_usage() {
        for bad in [
            vec!["get"],
            vec!["get", "http://h/x"],
            vec!["get", "http://h/x", "-o"],
            vec!["get", "http://h/x", "-o", "f", "--workers", "0"],
            vec!["get", "http://h/x", "-o", "f", "--workers", "x"],
            vec!["get", "http://h/x", "-o", "f", "--limit-rate", "fast"],
            vec!["get", "http://h/x", "-o", "f", "--md5", "123"],
            vec!["get", "http://h/x", "-o", "f", "--bogus"],
            vec!["get", "http://h/x", "http://h/y", "-o", "f"],
            vec!["frobnicate"],
            vec!["--nope"],
        ] {
            assert!(p(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(p(&[]).unwrap(), Command::Help(_)));
        assert!(matches!(p(&["--help"]).unwrap(), Command::Help(_)));
        assert!(matches!(p(&["get", "--help"]).unwrap(), Command::Help(GET_HELP)));
        assert!(matches!(p(&["--version"]).unwrap(), Command::Version));
    }
}
