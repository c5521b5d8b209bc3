//! The reporter: one thread that receives library events and renders them — a live bar on a
//! terminal, a short line every few seconds otherwise, newline-delimited JSON on stdout with
//! `--json`, nothing with `--quiet`.

use std::io::{IsTerminal, Write};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use galaxy_dl::progress::{Event, FileStatus, CHANNEL_CAPACITY};
use galaxy_dl::units::human_bytes;

/// How progress is shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputMode {
    /// NDJSON events on stdout.
    pub json: bool,
    /// No progress on stderr.
    pub quiet: bool,
}

/// The running reporter thread.
pub struct Reporter {
    tx: Option<Sender<Event>>,
    handle: Option<JoinHandle<()>>,
}

impl Reporter {
    /// Start the reporter thread.
    pub fn start(mode: OutputMode) -> Reporter {
        let (tx, rx) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        let tty = std::io::stderr().is_terminal();
        let handle =
            std::thread::Builder::new().name("galaxy-dl-reporter".into()).spawn(move || render(rx, mode, tty)).ok();
        Reporter { tx: Some(tx), handle }
    }

    /// A sender for the library.
    pub fn sender(&self) -> Sender<Event> {
        self.tx.clone().expect("reporter running")
    }

    /// Wait until every event sent so far is printed.
    pub fn finish(mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn render(rx: Receiver<Event>, mode: OutputMode, tty: bool) {
    let stdout = std::io::stdout();
    let mut bar_shown = false;
    let mut last_plain = Instant::now();
    let plain_every =
        Duration::from_secs(std::env::var("GALAXY_DL_PROGRESS_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(3));
    for ev in rx {
        if mode.json {
            if let Ok(line) = serde_json::to_string(&ev) {
                let mut out = stdout.lock();
                if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        // The reader is gone: stop the work cleanly and print nothing more.
                        super::stdout_closed();
                        break;
                    }
                }
            }
            continue;
        }
        if mode.quiet {
            continue;
        }
        let mut err = std::io::stderr().lock();
        match &ev {
            Event::Progress { done_bytes, total_bytes, rate, eta_secs } => {
                let line = progress_line(*done_bytes, *total_bytes, *rate, *eta_secs);
                if tty {
                    let _ = write!(err, "\r\x1b[2K{line}");
                    bar_shown = true;
                } else if last_plain.elapsed() >= plain_every {
                    let _ = writeln!(err, "galaxy-dl: {line}");
                    last_plain = Instant::now();
                }
            }
            other => {
                if bar_shown {
                    let _ = write!(err, "\r\x1b[2K");
                    bar_shown = false;
                }
                if let Some(text) = describe(other) {
                    let _ = writeln!(err, "galaxy-dl: {text}");
                }
            }
        }
        let _ = err.flush();
    }
    if bar_shown {
        let _ = writeln!(std::io::stderr());
    }
}

fn progress_line(done: u64, total: u64, rate: u64, eta: Option<f64>) -> String {
    let pct = if total > 0 { done as f64 * 100.0 / total as f64 } else { 0.0 };
    let width = 24usize;
    let filled = ((pct / 100.0) * width as f64).round() as usize;
    let bar: String = (0..width).map(|i| if i < filled { '#' } else { '-' }).collect();
    let eta = eta.map(|s| format!(" ETA {}", fmt_secs(s))).unwrap_or_default();
    format!("[{bar}] {pct:5.1}% {} / {}  {}/s{eta}", human_bytes(done), human_bytes(total), human_bytes(rate))
}

fn fmt_secs(s: f64) -> String {
    let s = s.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn describe(ev: &Event) -> Option<String> {
    Some(match ev {
        Event::Start { what, total_bytes, resumed_bytes, .. } => {
            if *resumed_bytes > 0 {
                format!(
                    "{what}: {} ({} already done, resuming)",
                    human_bytes(*total_bytes),
                    human_bytes(*resumed_bytes)
                )
            } else {
                format!("{what}: {}", human_bytes(*total_bytes))
            }
        }
        Event::Retry { what, attempt, error } => format!("retry {attempt} for {what}: {error}"),
        Event::Notice { message } => format!("note: {message}"),
        Event::File { path, status, .. } => match status {
            FileStatus::Failed => format!("BAD {path}"),
            FileStatus::Removed => format!("removed {path}"),
            _ => return None,
        },
        Event::Done { total_bytes, downloaded_bytes, elapsed_secs, md5 } => {
            let rate = if *elapsed_secs > 0.0 { (*downloaded_bytes as f64 / elapsed_secs) as u64 } else { 0 };
            let md5 = md5.as_ref().map(|m| format!(", MD5 {m}")).unwrap_or_default();
            // Nothing downloaded (verify, a no-op run): no network rate to show.
            let rate = if *downloaded_bytes > 0 { format!(" ({}/s)", human_bytes(rate)) } else { String::new() };
            format!("done: {} in {:.1}s{rate}{md5}", human_bytes(*total_bytes), elapsed_secs)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let l = progress_line(512 << 20, 1 << 30, 20 << 20, Some(25.6));
        assert!(l.contains(" 50.0%") && l.contains("512.0 MiB / 1.0 GiB") && l.contains("ETA 26s"), "{l}");
        assert_eq!(fmt_secs(3700.0), "1h01m");
        assert_eq!(fmt_secs(75.0), "1m15s");
    }
}
