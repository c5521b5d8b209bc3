//! The environment knobs (`GALAXY_DL_*` test and tuning variables): the CLI is the only part
//! of galaxy-dl that reads them; it turns them into library options. The library's own
//! `Default`s are the production values and never look at the environment.
//!
//! | Variable | Option |
//! |---|---|
//! | `GALAXY_DL_RETRY_SLEEP_MS` | `RetryPolicy::fixed_sleep` |
//! | `GALAXY_DL_READ_TIMEOUT_MS` | `HttpOptions::read_timeout` |
//! | `GALAXY_DL_LOW_SPEED_LIMIT`, `GALAXY_DL_LOW_SPEED_TIME_MS` | `LowSpeed` |
//! | `GALAXY_DL_ENDPOINT_COOLDOWN_MS` | `EngineOptions::endpoint_cooldown` |
//! | `GALAXY_DL_NO_FALLOCATE` | `sink::set_fallocate(false)` (process-wide) |
//!
//! The endpoint overrides (`GALAXY_DL_*_URL`) and `GALAXY_DL_CONFIG_DIR` are read by
//! `Client::from_env`, which only the CLI calls.

use std::time::Duration;

use galaxy_dl::api::Client;
use galaxy_dl::fetch::EngineOptions;
use galaxy_dl::http::HttpOptions;
use galaxy_dl::Error;

fn num(k: &str) -> Option<u64> {
    std::env::var(k).ok().and_then(|v| v.trim().parse::<u64>().ok())
}

/// Process-wide knobs; called once at start-up.
pub fn apply_process() {
    if std::env::var_os(galaxy_dl::sink::NO_FALLOCATE_ENV).is_some() {
        galaxy_dl::sink::set_fallocate(false);
    }
}

/// HTTP options: the defaults with the environment's overrides.
pub fn http() -> HttpOptions {
    let mut h = HttpOptions::default();
    if let Some(ms) = num("GALAXY_DL_READ_TIMEOUT_MS") {
        h.read_timeout = Duration::from_millis(ms);
    }
    h
}

/// Engine options: the defaults with the environment's overrides.
pub fn engine() -> EngineOptions {
    let mut e = EngineOptions::default();
    e.http = http();
    if let Some(ms) = num("GALAXY_DL_RETRY_SLEEP_MS") {
        e.retry.fixed_sleep = Some(Duration::from_millis(ms));
    }
    if let Some(l) = num("GALAXY_DL_LOW_SPEED_LIMIT") {
        e.low_speed.limit = l;
    }
    if let Some(ms) = num("GALAXY_DL_LOW_SPEED_TIME_MS") {
        e.low_speed.time = Duration::from_millis(ms);
    }
    if let Some(ms) = num("GALAXY_DL_ENDPOINT_COOLDOWN_MS") {
        e.endpoint_cooldown = Duration::from_millis(ms);
    }
    e
}

/// The API client: endpoints and config directory from the environment, the retry and stall
/// settings of `engine`.
pub fn client(engine: &EngineOptions) -> Result<Client, Error> {
    let agent = galaxy_dl::http::agent(&engine.http)?;
    Ok(Client::from_env(agent)?.with_retry(engine.retry.clone()).with_low_speed(engine.low_speed))
}
