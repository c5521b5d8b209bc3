//! `galaxy-dl-mock`: loopback test servers for galaxy-dl.
//!
//! - [`server`]: a small std-only HTTP/1.1 server with fault injection and request statistics;
//! - [`blob`]: [`BlobServer`], one buffer served with byte ranges and switchable faults;
//! - [`data`]: deterministic data generators and hashing helpers;
//! - [`gog`]: [`GogMock`], the GOG auth/content-system/CDN/embed mock with fixture products;
//! - [`vcdiff`]: a small VCDIFF encoder for the patches the GOG mock serves;
//! - [`client`]: a tiny raw-`TcpStream` HTTP client used by this crate's tests.

#![warn(missing_docs)]

pub mod blob;
pub mod client;
pub mod data;
pub mod gog;
pub mod server;
pub mod vcdiff;

pub use blob::{BlobFaults, BlobServer};
pub use gog::{GogFaults, GogMock, MockConfig, RouteFaults};
pub use server::{BodyFaults, LogEntry, RangeSpec, Request, Response, Server, Stats};
