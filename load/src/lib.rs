//! `jim-load`: how much a JIM server takes, measured without hurting anyone.
//!
//! Two users need numbers: the project needs proof that the reference server is fast and frugal,
//! and a teacher wants to know how many clients a student's server survives. This crate is the
//! engine behind both:
//!
//! - [`run`] with a [`LoadConfig`] is the bounded load check (`jim-conformance load`): it holds
//!   N connections, pushes direct and room traffic with a window of messages in flight, and then
//!   checks that the target still answers. It returns a [`LoadReport`] (Display and JSON).
//! - The building blocks ([`hold`], [`traffic`], [`echo`]) are public for the `jim-bench`
//!   comparison, which needs to sample the target's CPU time right around each measurement.
//!
//! Everything is bounded: connection counts, message counts, durations and every wait. The
//! target is a host given explicitly (loopback by default); nothing is ever discovered or
//! scanned. The generator runs on one thread (a tokio current-thread runtime with a `LocalSet`),
//! so it costs exactly one core and can be pinned.

pub mod check;
pub mod config;
pub mod echo;
pub mod error;
pub mod hold;
pub mod latency;
pub mod problem;
pub mod schema;
mod text;
pub mod traffic;
mod wire;

pub use check::{LoadReport, PhaseOutcome, run};
pub use config::LoadConfig;
pub use error::LoadError;
pub use hold::{HoldOptions, HoldReport, PresenceClient, RoundTripReport};
pub use latency::{Histogram, LatencySummary};
pub use traffic::{LossReasons, TrafficOptions, TrafficReport, TrafficShape};

use std::future::Future;

/// Account and room names of one run: a prefix plus a run tag, so that two runs (or a run and a
/// leftover session on the server) never collide, and every name fits the 25-character limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
    tag: u16,
}

/// The longest name prefix accepted by [`Names::new`].
pub const MAX_PREFIX_CHARS: usize = 10;

impl Names {
    /// Names starting with `prefix` (letters and digits only, at most [`MAX_PREFIX_CHARS`]) and a
    /// fresh run tag.
    pub fn new(prefix: &str) -> Result<Self, LoadError> {
        if prefix.is_empty()
            || prefix.chars().count() > MAX_PREFIX_CHARS
            || !prefix.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(LoadError::Config {
                en: format!(
                    "name prefix {prefix:?}: use 1 to {MAX_PREFIX_CHARS} ASCII letters or digits"
                ),
                ru: format!(
                    "префикс имён {prefix:?}: нужно от 1 до {MAX_PREFIX_CHARS} латинских букв \
                     или цифр"
                ),
            });
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tag = (nanos ^ std::process::id().rotate_left(16)) as u16;
        Ok(Self { prefix: prefix.to_owned(), tag })
    }

    /// The account name of connection `index` in role `role` (a letter: `h` held, `d` direct,
    /// `r` room, `p` probe).
    pub fn user(&self, role: char, index: usize) -> String {
        format!("{}{:04x}{role}{index}", self.prefix, self.tag)
    }

    /// The room used by this run.
    pub fn room(&self) -> String {
        format!("#{}{:04x}", self.prefix, self.tag)
    }
}

/// Runs `future` to completion on a fresh single-threaded tokio runtime with a `LocalSet`, on
/// the calling thread (which must not already be inside a tokio runtime).
pub fn block_on_local<F: Future>(future: F) -> Result<F::Output, LoadError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LoadError::Runtime(e.to_string()))?;
    let local = tokio::task::LocalSet::new();
    Ok(local.block_on(&runtime, future))
}
