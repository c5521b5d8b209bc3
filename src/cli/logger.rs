//! A minimal `log` backend on stderr, level from `RUST_LOG` (`error`, `warn`, `info`, `debug`,
//! `trace`, optionally as `galaxy_dl=debug`). Written by hand instead of pulling env_logger and
//! its regex dependency into a small static binary. Messages never contain secrets: the library
//! redacts URLs before they reach a log line.

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target().starts_with("galaxy_dl") || m.target().starts_with("galaxy-dl") || m.level() <= log::Level::Warn
    }

    fn log(&self, r: &Record<'_>) {
        if self.enabled(r.metadata()) {
            let level = r.level().as_str().to_ascii_lowercase();
            if r.level() >= log::Level::Debug {
                // Debugging output carries the time since start, to see where time goes.
                let t = START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64();
                let _ = writeln!(std::io::stderr().lock(), "galaxy-dl: {t:8.3} {level}: {}", r.args());
            } else {
                let _ = writeln!(std::io::stderr().lock(), "galaxy-dl: {level}: {}", r.args());
            }
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;
static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Parse `RUST_LOG` into a level (default: warn).
pub fn level_from(spec: Option<&str>) -> LevelFilter {
    let Some(spec) = spec else {
        return LevelFilter::Warn;
    };
    let mut level = LevelFilter::Warn;
    for part in spec.split(',') {
        let (target, lvl) = match part.split_once('=') {
            Some((t, l)) => (Some(t.trim()), l.trim()),
            None => (None, part.trim()),
        };
        if target.is_some_and(|t| !t.starts_with("galaxy")) {
            continue;
        }
        if let Ok(l) = lvl.parse::<LevelFilter>() {
            level = l;
        }
    }
    level
}

/// Install the logger.
pub fn init() {
    START.get_or_init(std::time::Instant::now);
    let level = level_from(std::env::var("RUST_LOG").ok().as_deref());
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_specs() {
        assert_eq!(level_from(None), LevelFilter::Warn);
        assert_eq!(level_from(Some("debug")), LevelFilter::Debug);
        assert_eq!(level_from(Some("galaxy_dl=trace")), LevelFilter::Trace);
        assert_eq!(level_from(Some("ureq=debug")), LevelFilter::Warn);
        assert_eq!(level_from(Some("nonsense")), LevelFilter::Warn);
    }
}
