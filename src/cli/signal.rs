//! Ctrl-C: the first SIGINT/SIGTERM asks the library to stop at the next block (state is kept
//! and the same command resumes); a second one exits at once.

// unsafe: this file installs the SIGINT/SIGPIPE handlers through `libc::sigaction`/`signal`.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if SIGNALLED.swap(true, Ordering::SeqCst) {
        // Second signal: leave now (async-signal-safe).
        unsafe { libc::_exit(130) };
    }
}

/// Install the handlers and return the cancel flag the library watches.
pub fn install() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    // SAFETY: installing a handler that only touches an atomic and calls `_exit`.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let f = flag.clone();
    std::thread::Builder::new()
        .name("galaxy-dl-signal".into())
        .spawn(move || loop {
            if SIGNALLED.load(Ordering::SeqCst) {
                f.store(true, Ordering::SeqCst);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        })
        .ok();
    flag
}
