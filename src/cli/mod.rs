//! The command-line front end: parse arguments, run one command through the library, print,
//! and map the outcome to an exit code (0 success, 1 failure, 2 bad usage, 130/143 stopped by
//! SIGINT/SIGTERM with state kept). Nothing here downloads or verifies anything by itself.
//!
//! Output goes through [`outln!`]: a closed stdout (`galaxy-dl verify DIR | head -1`) stops the
//! command cleanly, prints nothing more and exits 0, like the end of a normal run; a closed
//! stderr is ignored. Nothing panics on a closed pipe.

/// `println!` that never panics: a closed stdout ends the program quietly (see module docs).
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($t)*)))
    };
}

/// `print!` that never panics (see [`outln!`]).
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::write_out(format_args!($($t)*))
    };
}

mod args;
mod download;
mod gog;
mod knobs;
mod logger;
mod report;
mod signal;
mod table;
mod verify;

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

pub use args::Command;

/// Exit codes of the binary (SPEC.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked.
    Ok = 0,
    /// Network, verification, disk or server failure.
    Failure = 1,
    /// Bad usage: unknown flag, missing argument, malformed value.
    Usage = 2,
    /// Stopped by SIGINT (Ctrl-C): state kept, the same command resumes.
    Interrupted = 130,
}

/// Set once stdout is a closed pipe: nothing more is printed and the run ends quietly.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Write to stdout; on a closed pipe, stop the command cleanly and print nothing more.
pub(crate) fn write_out(args: std::fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::SeqCst) {
        return;
    }
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_fmt(args).and_then(|()| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            stdout_closed();
        }
    }
}

/// stdout went away: stop the work as a first Ctrl-C would, and end quietly.
pub(crate) fn stdout_closed() {
    STDOUT_CLOSED.store(true, Ordering::SeqCst);
    signal::request_stop();
}

/// Whether stdout was found closed.
pub(crate) fn stdout_is_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::SeqCst)
}

/// One line on stderr; a closed stderr is ignored.
fn errln(args: std::fmt::Arguments<'_>) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(args).and_then(|()| e.write_all(b"\n"));
}

/// Backstop for `println!`/`eprintln!` left anywhere: std panics when it cannot print; a panic
/// that says so ends the program quietly instead of aborting (`panic = "abort"`). Every other
/// panic keeps the default report.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Entry point called by `main`.
pub fn run() -> ExitCode {
    quiet_on_closed_pipe();
    logger::init();
    knobs::apply_process();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let cmd = match args::parse(argv) {
        Ok(c) => c,
        Err(msg) => {
            errln(format_args!("galaxy-dl: {msg}"));
            errln(format_args!("Try 'galaxy-dl --help' for more information."));
            return Exit::Usage.into();
        }
    };
    let json = cmd.json();
    let result = match cmd {
        Command::Help(text) => {
            out!("{text}");
            Ok(())
        }
        Command::Version => {
            outln!("galaxy-dl {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Get(g) => commands::get(*g),
        Command::Download(d) => download::run(*d),
        Command::Login(l) => gog::login(l),
        Command::Builds(b) => gog::builds(b),
        Command::Library(l) => gog::library(l),
        Command::Info(i) => gog::info(*i),
        Command::Verify(v) => verify::run_verify(*v),
        Command::Repair(r) => verify::run_repair(*r),
    };
    if stdout_is_closed() {
        // The reader went away (`| head`): a normal end, nothing more to say.
        return Exit::Ok.into();
    }
    match result {
        Ok(()) => Exit::Ok.into(),
        Err(e) => {
            let code = match &e {
                galaxy_dl::Error::Interrupted => signal::exit_code().unwrap_or(Exit::Interrupted as u8),
                e if e.is_usage() => Exit::Usage as u8,
                _ => Exit::Failure as u8,
            };
            if json {
                let line = serde_json::json!({ "event": "error", "message": e.to_string(), "exit_code": code });
                outln!("{line}");
            }
            errln(format_args!("galaxy-dl: error: {e}"));
            ExitCode::from(code)
        }
    }
}

mod commands {
    //! One function per command: build library options, run, print the result.

    use super::args::GetArgs;
    use super::report::Reporter;
    use super::signal;
    use galaxy_dl::{get, Error};

    pub fn get(a: GetArgs) -> Result<(), Error> {
        let cancel = signal::install();
        let reporter = Reporter::start(a.output_mode);
        let mut opts = get::GetOptions::default();
        opts.engine = a.engine;
        opts.piece_size = a.chunk_size;
        opts.md5 = a.md5;
        opts.size = a.size;
        opts.events = Some(reporter.sender());
        opts.event_grace = std::time::Duration::MAX; // the reporter always reads
        opts.cancel = cancel;
        let r = get::get(&a.url, &a.out, &opts);
        drop(opts);
        reporter.finish();
        let out = r?;
        if !a.output_mode.json {
            outln!("{}  {}", out.md5, a.out.display());
        }
        Ok(())
    }
}
