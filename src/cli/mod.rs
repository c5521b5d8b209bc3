//! The command-line front end: parse arguments, run one command through the library, print,
//! and map the outcome to an exit code (0 success, 1 failure, 2 bad usage). Nothing here
//! downloads or verifies anything by itself.

mod args;
mod download;
mod gog;
mod logger;
mod report;
mod signal;
mod table;
mod verify;

use std::process::ExitCode;

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
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Entry point called by `main`.
pub fn run() -> ExitCode {
    logger::init();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let cmd = match args::parse(argv) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("galaxy-dl: {msg}");
            eprintln!("Try 'galaxy-dl --help' for more information.");
            return Exit::Usage.into();
        }
    };
    let json = cmd.json();
    let result = match cmd {
        Command::Help(text) => {
            print!("{text}");
            Ok(())
        }
        Command::Version => {
            println!("galaxy-dl {}", env!("CARGO_PKG_VERSION"));
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
    match result {
        Ok(()) => Exit::Ok.into(),
        Err(e) => {
            let code = if e.is_usage() { Exit::Usage } else { Exit::Failure };
            if json {
                let line = serde_json::json!({ "event": "error", "message": e.to_string(), "exit_code": code as u8 });
                println!("{line}");
            }
            eprintln!("galaxy-dl: error: {e}");
            code.into()
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
        let opts = get::GetOptions {
            engine: a.engine,
            piece_size: a.chunk_size,
            md5: a.md5,
            size: a.size,
            events: Some(reporter.sender()),
            cancel,
        };
        let r = get::get(&a.url, &a.out, &opts);
        drop(opts);
        reporter.finish();
        let out = r?;
        if !a.output_mode.json {
            println!("{}  {}", out.md5, a.out.display());
        }
        Ok(())
    }
}
