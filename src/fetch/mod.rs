//! The download engine: workers, scheduling of byte ranges, retries and the shared rate limit.

pub mod retry;
