//! Ctrl-C and SIGTERM: the first SIGINT/SIGTERM asks the library to stop at the next block
//! (what is in flight is journaled, state is kept and the same command resumes) and the program
//! exits 130 (SIGINT) or 143 (SIGTERM); a second signal exits at once with the same code. A
//! closed stdout pipe asks for the same clean stop ([`request_stop`]).

// unsafe: this file installs the SIGINT/SIGPIPE handlers through `libc::sigaction`/`signal`.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

static SIGNALLED: AtomicBool = AtomicBool::new(false);
/// The signal that asked us to stop (0: none, or a stop asked from inside).
static SIGNO: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    if SIGNALLED.swap(true, Ordering::SeqCst) {
        // Second signal: leave now (async-signal-safe).
        unsafe { libc::_exit(128 + sig) };
    }
    SIGNO.store(sig, Ordering::SeqCst);
}

/// Install the handlers and return the cancel flag the library watches.
pub fn install() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    // SAFETY: installing a handler that only touches atomics and calls `_exit`.
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
            std::thread::sleep(Duration::from_millis(20));
        })
        .ok();
    flag
}

/// Ask the running command to stop cleanly, as a first Ctrl-C would (without its exit code).
pub fn request_stop() {
    SIGNALLED.store(true, Ordering::SeqCst);
}

/// The exit code for a run that was interrupted: `128 + signal` (130 for SIGINT, 143 for
/// SIGTERM), or `None` when no signal asked for the stop.
pub fn exit_code() -> Option<u8> {
    match SIGNO.load(Ordering::SeqCst) {
        0 => None,
        s => u8::try_from(128 + s).ok(),
    }
}
