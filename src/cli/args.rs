//! Argument parsing in two stages (like ripgrep's low/high args): pico-args reads raw flags,
//! then each command's values are validated into library options. Every malformed value is a
//! one-line message and exit code 2.

use std::ffi::OsString;
use std::path::PathBuf;

use galaxy_dl::api::auth::parse_code;
use galaxy_dl::api::import::ImportSource;
use galaxy_dl::api::library::LibraryQuery;
use galaxy_dl::fetch::EngineOptions;
use galaxy_dl::select::{DlcChoice, Selection};
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
    /// `login [--code CODE]`.
    Login(LoginArgs),
    /// `builds PRODUCT_ID`.
    Builds(BuildsArgs),
    /// `library`.
    Library(LibraryArgs),
    /// `info PRODUCT_ID`.
    Info(Box<InfoArgs>),
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
            Command::Builds(b) => b.json,
            Command::Library(l) => l.json,
            Command::Info(i) => i.json,
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

/// Validated arguments of `login`.
#[derive(Debug)]
pub struct LoginArgs {
    /// The login code already extracted from what the user pasted (never printed).
    pub code: Option<String>,
    /// `--import heroic|lgogdownloader|PATH`.
    pub import: Option<ImportSource>,
}

/// Validated arguments of `library`.
#[derive(Debug)]
pub struct LibraryArgs {
    pub query: LibraryQuery,
    pub json: bool,
}

/// Validated arguments of `builds`.
#[derive(Debug)]
pub struct BuildsArgs {
    pub product_id: String,
    pub os: String,
    /// `None` = both generations merged.
    pub generation: Option<u8>,
    pub password: Option<String>,
    pub json: bool,
}

/// Validated arguments of `info`.
#[derive(Debug)]
pub struct InfoArgs {
    pub product_id: String,
    pub selection: Selection,
    pub json: bool,
}

pub const MAIN_HELP: &str = "\
galaxy-dl — fast, verifying downloader for GOG Galaxy content

Usage: galaxy-dl <COMMAND> [OPTIONS]

Commands:
  login                   Log in to GOG (browser URL, then login --code; or login --import)
  library                 List the owned games (id, title, platforms, DLC count, update flag)
  builds PRODUCT_ID       List the builds of a product (id, generation, version, branch, date)
  info PRODUCT_ID         Show a build: depots, DLC and ownership, dependencies, sizes
  download ID --dir DIR   Install a game (V1 or V2 build), resumable, verified, updating
  verify DIR              Check an install against its manifest (MD5 of every chunk/file)
  repair DIR              Re-fetch only what verify reports, then verify again
  get URL -o FILE         Segmented, resumable download of any URL that serves byte ranges

Options:
  -h, --help        Print help (also: galaxy-dl COMMAND --help)
  -V, --version     Print version

Environment:
  RUST_LOG          Log level on stderr (error, warn, info, debug, trace)
  GALAXY_DL_CONFIG_DIR  Where auth.json is kept [default: ~/.config/galaxy-dl]
  GALAXY_DL_AUTH_URL, GALAXY_DL_CONTENT_SYSTEM_URL, GALAXY_DL_CDN_URL, GALAXY_DL_EMBED_URL
                    Override the GOG hosts (mirrors, tests)

Exit codes: 0 success, 1 failure (network, verification, disk, server), 2 bad usage,
130 interrupted (state kept: the same command resumes).
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

pub const LOGIN_HELP: &str = "\
Log in to GOG with the Galaxy client's browser flow, or take the login another client holds.

Usage: galaxy-dl login
       galaxy-dl login --code CODE|REDIRECT_URL
       galaxy-dl login --import heroic|lgogdownloader|PATH

Without --code, prints the URL to open in a browser (on stdout). After logging in, the browser
lands on https://embed.gog.com/on_login_success?origin=client&code=...; pass that whole URL,
or just the code, back with --code (quote it: it contains '&'). The code is exchanged for
tokens, which are stored in auth.json (mode 0600) in the config directory; every other
command refreshes them by itself. Codes are single-use and expire within minutes.

--import reads the tokens of another GOG client and refreshes them once to prove they work
(GOG rotates the refresh token, so the other client will need to log in again): `heroic`
reads heroic-gogdl's auth.json ($XDG_CONFIG_HOME/heroic/gog_store/auth.json, or the Flatpak
one under ~/.var/app/com.heroicgameslauncher.hgl/config), `lgogdownloader` reads
$XDG_CONFIG_HOME/lgogdownloader/galaxy_tokens.json, and a PATH may be a file in either format.
The other client's file is only read, never written.

Options:
      --code CODE        The code, or the whole redirect URL
      --import FROM      heroic, lgogdownloader, or the PATH of their token file
  -h, --help             Print help

Environment:
  GALAXY_DL_CONFIG_DIR   Config directory [default: $XDG_CONFIG_HOME/galaxy-dl or ~/.config/galaxy-dl]
";

pub const LIBRARY_HELP: &str = "\
List every game the account owns (all pages of GOG's library), sorted by title.

Usage: galaxy-dl library [OPTIONS]

Columns: product id, title, platforms (win, mac, linux), DLC count, and UPDATE (yes when GOG
flags an update for the game). Needs a login.

Options:
      --search TEXT      Only titles matching TEXT (GOG's search)
      --os OS            Only games for windows, osx or linux
      --json             One JSON document on stdout: an array of games
                         ({id, title, platforms, dlc_count, update, is_new})
  -h, --help             Print help
";

pub const BUILDS_HELP: &str = "\
List the builds of a GOG product, newest first.

Usage: galaxy-dl builds PRODUCT_ID [OPTIONS]

Without --generation, both generation lists are asked and merged by build id (generation 2
also lists V1 builds; some builds appear in only one list). Private branches are listed only
with their --password. Works without login; sends the login when there is one.
Columns: build id, generation (1 = V1 main.bin, 2 = V2 chunks), version, branch (- = the
public default branch), date published, public.

Options:
      --os OS            windows or osx [default: windows]
      --generation N     Only GOG's list for generation 1 or 2
      --password PW      Password of a private branch
      --json             One JSON document on stdout: an array of builds
  -h, --help             Print help
";

pub const INFO_HELP: &str = "\
Show what a build of a GOG product holds and what downloading it would take.

Usage: galaxy-dl info PRODUCT_ID [OPTIONS]

Chooses the build as download does (--build, else the newest public build of --branch or of
the default branch), reads its manifest and shows the product, build, install directory,
every depot (marked when the selection takes it), every DLC with ownership, dependencies,
and the download and install size of the selection. Ownership needs a login; without one,
ownership is shown as unknown and every requested DLC is counted.

Options:
      --build ID         A specific build id (see galaxy-dl builds)
      --branch NAME      Newest build of this branch
      --password PW      Password of a private branch
      --os OS            windows or osx [default: windows]
      --lang CODE        Language, e.g. en-US, de, French [default: en-US]
      --bitness N        32 or 64 [default: 64]
      --dlc WHICH        all, none, or product ids ID,ID,... [default: all (owned)]
      --json             One JSON document on stdout
  -h, --help             Print help
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
        Some("login") => parse_login(p),
        Some("builds") => parse_builds(p),
        Some("library") => parse_library(p),
        Some("info") => parse_info(p),
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
        Some(other) => Err(usage(match did_you_mean(other) {
            Some(c) => format!("unknown command '{other}'; did you mean '{c}'?"),
            None => format!("unknown command '{other}'"),
        })),
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

/// `--workers N` (1 to 256), if given.
pub fn workers_flag(p: &mut pico_args::Arguments) -> Result<Option<usize>, String> {
    let Some(w) = opt_str(p, "--workers")? else { return Ok(None) };
    match w.trim().parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(Some(n)),
        _ => Err(format!("invalid --workers {w:?}: expected a number from 1 to 256")),
    }
}

/// Flags shared by the downloading commands.
pub fn engine_flags(p: &mut pico_args::Arguments) -> Result<(EngineOptions, Option<u64>), String> {
    let mut engine: EngineOptions = super::knobs::engine();
    if let Some(n) = workers_flag(p)? {
        engine.workers = n;
    }
    if let Some(r) = opt_str(p, "--limit-rate")? {
        engine.limit_rate = Some(parse_rate(&r).map_err(|e| e.to_string())?);
    }
    let chunk = match opt_str(p, "--chunk-size")? {
        Some(c) => {
            let v = parse_size(&c).map_err(|e| format!("invalid --chunk-size: {e}"))?;
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

/// The commands, for "did you mean".
const COMMANDS: [&str; 9] = ["login", "library", "builds", "info", "download", "verify", "repair", "get", "help"];

/// Levenshtein distance (inputs are short command words; longer ones are not compared).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The command closest to a mistyped one (at most 2 edits, and fewer than half its letters).
fn did_you_mean(typed: &str) -> Option<&'static str> {
    if typed.chars().count() > 32 {
        return None;
    }
    let t = typed.to_lowercase();
    COMMANDS
        .iter()
        .map(|c| (edit_distance(&t, c), *c))
        .filter(|(d, c)| *d <= 2 && *d * 2 < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn parse_login(mut p: pico_args::Arguments) -> Result<Command, String> {
    if p.contains(["-h", "--help"]) {
        return Ok(Command::Help(LOGIN_HELP));
    }
    let code = opt_str(&mut p, "--code")?;
    let import = opt_str(&mut p, "--import")?;
    let free = finish(p)?;
    if let Some(extra) = free.first() {
        return Err(format!("unexpected argument {extra:?} (pass the code with --code)"));
    }
    if code.is_some() && import.is_some() {
        return Err("--code and --import cannot be used together".into());
    }
    let code = code.map(|c| parse_code(&c).map_err(|e| e.to_string())).transpose()?;
    let import = import
        .map(|i| match i.trim() {
            "" => Err("--import needs heroic, lgogdownloader or a file path".to_string()),
            "heroic" => Ok(ImportSource::Heroic),
            "lgogdownloader" => Ok(ImportSource::Lgogdownloader),
            _ => Ok(ImportSource::Path(PathBuf::from(i))),
        })
        .transpose()?;
    Ok(Command::Login(LoginArgs { code, import }))
}

fn parse_library(mut p: pico_args::Arguments) -> Result<Command, String> {
    if p.contains(["-h", "--help"]) {
        return Ok(Command::Help(LIBRARY_HELP));
    }
    let mut query = LibraryQuery::all();
    if let Some(s) = opt_str(&mut p, "--search")? {
        if s.trim().is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
            return Err(format!("invalid --search {s:?}: expected some text"));
        }
        query = query.search(s.trim());
    }
    if let Some(o) = opt_str(&mut p, "--os")? {
        let os = o.trim().to_ascii_lowercase();
        if !galaxy_dl::api::library::valid_os(&os) {
            return Err(format!("invalid --os {o:?}: expected windows, osx or linux"));
        }
        query = query.os(os);
    }
    let json = p.contains("--json");
    let free = finish(p)?;
    if let Some(extra) = free.first() {
        return Err(format!("unexpected argument {extra:?}"));
    }
    Ok(Command::Library(LibraryArgs { query, json }))
}

/// The one PRODUCT_ID positional argument: decimal digits.
fn product_id(cmd: &str, free: &[String]) -> Result<String, String> {
    let id = match free {
        [id] => id,
        [] => return Err(format!("{cmd} needs a PRODUCT_ID")),
        [_, extra, ..] => return Err(format!("unexpected argument {extra:?}")),
    };
    if !valid_id(id) {
        return Err(format!("invalid PRODUCT_ID {id:?}: expected a number like 1207658930"));
    }
    Ok(id.clone())
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

fn os_flag(p: &mut pico_args::Arguments) -> Result<String, String> {
    match opt_str(p, "--os")? {
        None => Ok("windows".into()),
        Some(o) => match o.trim().to_ascii_lowercase().as_str() {
            "windows" => Ok("windows".into()),
            "osx" => Ok("osx".into()),
            _ => Err(format!("invalid --os {o:?}: expected windows or osx")),
        },
    }
}

fn password_flag(p: &mut pico_args::Arguments) -> Result<Option<String>, String> {
    match opt_str(p, "--password")? {
        Some(pw) if pw.is_empty() => Err("--password needs a value".into()),
        other => Ok(other),
    }
}

fn parse_builds(mut p: pico_args::Arguments) -> Result<Command, String> {
    if p.contains(["-h", "--help"]) {
        return Ok(Command::Help(BUILDS_HELP));
    }
    let os = os_flag(&mut p)?;
    let generation = match opt_str(&mut p, "--generation")? {
        None => None,
        Some(g) => match g.trim() {
            "1" => Some(1),
            "2" => Some(2),
            _ => return Err(format!("invalid --generation {g:?}: expected 1 or 2")),
        },
    };
    let password = password_flag(&mut p)?;
    let json = p.contains("--json");
    let free = finish(p)?;
    let product_id = product_id("builds", &free)?;
    Ok(Command::Builds(BuildsArgs { product_id, os, generation, password, json }))
}

/// The build and depot selection flags shared by `info` and `download`: `--os`, `--build`,
/// `--branch`, `--password`, `--lang`, `--bitness`, `--dlc`.
pub fn selection_flags(p: &mut pico_args::Arguments) -> Result<Selection, String> {
    let mut sel = Selection { os: os_flag(p)?, ..Selection::default() };
    sel.build = opt_str(p, "--build")?;
    if let Some(b) = &sel.build {
        if !valid_id(b) {
            return Err(format!("invalid --build {b:?}: expected a build id like 48906206523382029"));
        }
    }
    sel.branch = opt_str(p, "--branch")?;
    if let Some(b) = &sel.branch {
        if b.trim().is_empty() || b.len() > 128 || b.chars().any(char::is_control) {
            return Err(format!("invalid --branch {b:?}"));
        }
        if sel.build.is_some() {
            return Err("--build and --branch cannot be used together".into());
        }
    }
    sel.password = password_flag(p)?;
    if let Some(l) = opt_str(p, "--lang")? {
        if l.trim().is_empty() || l.len() > 64 || l.chars().any(char::is_control) {
            return Err(format!("invalid --lang {l:?}: expected a language like en-US, de or French"));
        }
        sel.lang = l.trim().to_string();
    }
    if let Some(b) = opt_str(p, "--bitness")? {
        sel.bitness = match b.trim() {
            "32" => 32,
            "64" => 64,
            _ => return Err(format!("invalid --bitness {b:?}: expected 32 or 64")),
        };
    }
    if let Some(d) = opt_str(p, "--dlc")? {
        sel.dlc = DlcChoice::parse(&d).map_err(|e| e.to_string())?;
    }
    Ok(sel)
}

fn parse_info(mut p: pico_args::Arguments) -> Result<Command, String> {
    if p.contains(["-h", "--help"]) {
        return Ok(Command::Help(INFO_HELP));
    }
    let sel = selection_flags(&mut p)?;
    let json = p.contains("--json");
    let free = finish(p)?;
    let product_id = product_id("info", &free)?;
    Ok(Command::Info(Box::new(InfoArgs { product_id, selection: sel, json })))
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
            vec!["login", "--code", ""],
            vec!["login", "--code"],
            vec!["login", "--code", "https://embed.gog.com/on_login_success?origin=client"],
            vec!["login", "extra"],
            vec!["login", "--bogus"],
            vec!["builds"],
            vec!["builds", "abc"],
            vec!["builds", "1", "2"],
            vec!["builds", "1", "--os", "linux"],
            vec!["builds", "1", "--generation", "3"],
            vec!["builds", "1", "--password", ""],
            vec!["builds", "1", "--frob"],
            vec!["info"],
            vec!["info", "-5"],
            vec!["info", "1", "--build", "x1"],
            vec!["info", "1", "--build", "1", "--branch", "beta"],
            vec!["info", "1", "--branch", ""],
            vec!["info", "1", "--bitness", "16"],
            vec!["info", "1", "--dlc", "some"],
            vec!["info", "1", "--lang", ""],
            vec!["info", "1", "--os", "amiga"],
            vec!["info", "1", "--workers", "3"],
            vec!["library", "--os", "amiga"],
            vec!["library", "--search", ""],
            vec!["library", "extra"],
            vec!["library", "--bogus"],
            vec!["login", "--import", ""],
            vec!["login", "--import", "heroic", "--code", "X"],
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
        assert!(matches!(p(&["login", "--help"]).unwrap(), Command::Help(LOGIN_HELP)));
        assert!(matches!(p(&["builds", "--help"]).unwrap(), Command::Help(BUILDS_HELP)));
        assert!(matches!(p(&["info", "-h"]).unwrap(), Command::Help(INFO_HELP)));
        assert!(matches!(p(&["library", "--help"]).unwrap(), Command::Help(LIBRARY_HELP)));
    }

    #[test]
    fn did_you_mean_a_command() {
        let e = p(&["donwload"]).unwrap_err();
        assert!(e.ends_with("did you mean 'download'?"), "{e}");
        assert!(p(&["libary"]).unwrap_err().contains("did you mean 'library'?"));
        assert!(p(&["verfy"]).unwrap_err().contains("'verify'"));
        assert!(p(&["gett"]).unwrap_err().contains("'get'"));
        assert!(!p(&["frobnicate"]).unwrap_err().contains("did you mean"));
        assert!(!p(&["xyz"]).unwrap_err().contains("did you mean"), "too far from get");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "get"), 3);
        assert_eq!(did_you_mean(&"x".repeat(100)), None);
    }

    #[test]
    fn library_and_import_flags() {
        let Command::Library(l) = p(&["library"]).unwrap() else { panic!() };
        assert_eq!((l.query, l.json), (LibraryQuery::all(), false));
        let Command::Library(l) = p(&["library", "--search", " quest ", "--os", "Linux", "--json"]).unwrap() else {
            panic!()
        };
        assert_eq!(l.query, LibraryQuery::all().search("quest").os("linux"));
        assert!(l.json);
        let Command::Login(l) = p(&["login", "--import", "heroic"]).unwrap() else { panic!() };
        assert_eq!(l.import, Some(ImportSource::Heroic));
        let Command::Login(l) = p(&["login", "--import", "lgogdownloader"]).unwrap() else { panic!() };
        assert_eq!(l.import, Some(ImportSource::Lgogdownloader));
        let Command::Login(l) = p(&["login", "--import=/x/auth.json"]).unwrap() else { panic!() };
        assert_eq!(l.import, Some(ImportSource::Path(PathBuf::from("/x/auth.json"))));
    }

    #[test]
    fn gog_commands() {
        let Command::Login(l) = p(&["login"]).unwrap() else { panic!() };
        assert_eq!(l.code, None);
        let Command::Login(l) =
            p(&["login", "--code", "https://embed.gog.com/on_login_success?origin=client&code=AB-c"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(l.code.as_deref(), Some("AB-c"));
        let Command::Builds(b) = p(&["builds", "1207658930"]).unwrap() else { panic!() };
        assert_eq!((b.os.as_str(), b.generation, b.json), ("windows", None, false));
        let Command::Builds(b) =
            p(&["builds", "--os=OSX", "1", "--generation", "1", "--password", "pw", "--json"]).unwrap()
        else {
            panic!()
        };
        assert_eq!((b.os.as_str(), b.generation, b.password.as_deref(), b.json), ("osx", Some(1), Some("pw"), true));
        let Command::Info(i) =
            p(&["info", "1", "--branch", "beta", "--password", "s", "--lang", "de", "--bitness", "32", "--dlc", "2,3"])
                .unwrap()
        else {
            panic!()
        };
        let s = &i.selection;
        assert_eq!(
            (s.branch.as_deref(), s.password.as_deref(), s.lang.as_str(), s.bitness),
            (Some("beta"), Some("s"), "de", 32)
        );
        assert_eq!(s.dlc, DlcChoice::Ids(vec!["2".into(), "3".into()]));
        let Command::Info(i) = p(&["info", "1", "--build", "42"]).unwrap() else { panic!() };
        assert_eq!(
            (i.selection.build.as_deref(), i.selection.os.as_str(), i.selection.bitness),
            (Some("42"), "windows", 64)
        );
    }
}
