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
                let cols = if tty { term_width() } else { usize::MAX / 2 };
                let line = progress_line(*done_bytes, *total_bytes, *rate, *eta_secs, cols.min(200));
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

/// Columns of the terminal on stderr: `TIOCGWINSZ`, else `COLUMNS`, else 80.
// unsafe: the one `ioctl(TIOCGWINSZ)` that reads the terminal's width.
#[allow(unsafe_code)]
fn term_width() -> usize {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we pass; a failure leaves it zeroed.
    if unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
        return ws.ws_col as usize;
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()).filter(|&c: &usize| c > 0).unwrap_or(80)
}

/// The progress line, at most `cols - 1` columns wide (the last column stays free so the
/// terminal never wraps): the bar shrinks first (down to 10 cells), then the ETA, the rate
/// and the byte counts are dropped, in that order.
fn progress_line(done: u64, total: u64, rate: u64, eta: Option<f64>, cols: usize) -> String {
    let max = cols.saturating_sub(1).max(1);
    let pct = if total > 0 { done as f64 * 100.0 / total as f64 } else { 0.0 };
    let eta = eta.map(|s| format!(" ETA {}", fmt_secs(s))).unwrap_or_default();
    let bytes = format!(" {} / {}", human_bytes(done), human_bytes(total));
    let speed = format!("  {}/s", human_bytes(rate));
    let tails = [format!("{bytes}{speed}{eta}"), format!("{bytes}{speed}"), bytes, String::new()];
    for tail in &tails {
        // "[" bar "] " pct (6 columns) tail
        let fixed = 2 + 1 + 6 + tail.chars().count();
        if fixed + 10 <= max || tail.is_empty() {
            let width = max.saturating_sub(fixed).clamp(1, 40);
            let filled = ((pct / 100.0) * width as f64).round() as usize;
            let bar: String = (0..width).map(|i| if i < filled { '#' } else { '-' }).collect();
            let line = format!("[{bar}] {pct:5.1}%{tail}");
            return line.chars().take(max).collect();
        }
    }
    String::new()
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
            // The rate is network bytes over time; the size is what the job holds (an install's
            // disk bytes, or the file `get` wrote).
            if *downloaded_bytes > 0 {
                format!(
                    "done: {} downloaded in {:.1}s ({}/s), {} in place{md5}",
                    human_bytes(*downloaded_bytes),
                    elapsed_secs,
                    human_bytes(rate),
                    human_bytes(*total_bytes)
                )
            } else {
                format!("done: {} in {:.1}s, nothing downloaded{md5}", human_bytes(*total_bytes), elapsed_secs)
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let l = progress_line(512 << 20, 1 << 30, 20 << 20, Some(25.6), 120);
        assert!(l.contains(" 50.0%") && l.contains("512.0 MiB / 1.0 GiB") && l.contains("ETA 26s"), "{l}");
        assert_eq!(fmt_secs(3700.0), "1h01m");
        assert_eq!(fmt_secs(75.0), "1m15s");
    }

    #[test]
    fn the_bar_fits_the_terminal() {
        for cols in [40, 60, 80, 120] {
            for (done, total, eta) in
                [(0, 0, None), (512 << 20, 1 << 30, Some(3725.0)), (999 << 30, 1000 << 30, Some(1.0))]
            {
                let l = progress_line(done, total, 123 << 20, eta, cols);
                assert!(l.chars().count() < cols, "{cols} columns: {l:?} is {} wide", l.chars().count());
                assert!(l.starts_with('[') && l.contains('%'), "{l:?}");
            }
        }
        let wide = progress_line(512 << 20, 1 << 30, 20 << 20, Some(25.6), 120);
        assert!(wide.contains("ETA") && wide.contains("/s"), "{wide}");
        let narrow = progress_line(512 << 20, 1 << 30, 20 << 20, Some(25.6), 40);
        assert!(narrow.contains("512.0 MiB / 1.0 GiB") && !narrow.contains("ETA"), "{narrow}");
        let tiny = progress_line(512 << 20, 1 << 30, 20 << 20, Some(25.6), 20);
        assert!(tiny.chars().count() < 20 && tiny.contains("50.0%"), "{tiny}");
        assert_eq!(progress_line(1, 2, 3, None, 0).chars().count(), 1);
    }

    #[test]
    fn done_line_divides_downloaded_bytes_by_time() {
        let ev = Event::Done { total_bytes: 512 << 20, downloaded_bytes: 100 << 20, elapsed_secs: 10.0, md5: None };
        let l = describe(&ev).unwrap();
        assert_eq!(l, "done: 100.0 MiB downloaded in 10.0s (10.0 MiB/s), 512.0 MiB in place");
        let ev = Event::Done { total_bytes: 5, downloaded_bytes: 0, elapsed_secs: 1.0, md5: Some("ab".into()) };
        assert_eq!(describe(&ev).unwrap(), "done: 5 B in 1.0s, nothing downloaded, MD5 ab");
    }
}
