//! tunestream: streaming ETL for Spotify listening data.
//!
//! Raw Spotify Web API pages flow through the modules in the order they are listed:
//! [`source`] → [`decode`] → [`transform`] → [`sink`], wired by [`pipeline`], configured by
//! [`config`] and observed through [`telemetry`]. Below every stage sit what they share: pages
//! and micro-batches ([`page`]), object stores ([`store`]), file helpers ([`fs`]) and fault
//! injection for tests ([`fault`]). [`snowflake`] renders the warehouse side (`sql/`), and
//! [`serve`] is the HTTP server of a running pipeline. [`simulator`] is a local Spotify Web API
//! and accounts service, held to the published spec, that the demo and the tests pull from.
//! [`cli`] is the command line: one function per command over the library.

pub mod aws;
mod blame;
pub mod cli;
pub mod config;
pub mod decode;
mod error;
pub mod fault;
pub mod fs;
pub mod memory;
pub mod page;
pub mod pipeline;
pub mod serve;
pub mod simulator;
pub mod sink;
pub mod snowflake;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod transform;

pub use blame::{Blame, error_chain};
pub use error::Error;

/// Locks a mutex, taking its data even if a thread panicked while holding it: every value
/// behind these locks (counters, caches, logs) stays usable after a panic elsewhere.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
