//! The run: start (or reach) the target, make first contact, pick the profile, select fixtures,
//! run the cases, turn each outcome into a verdict, and compute the exit code and the report.
//! [`run_suite`] and [`run_client_suite`] are the whole thing; [`Session`] and
//! [`ClientSession`] expose the steps so that tests and the command line can run one case at a
//! time or stream results.
//!
//! Layout, by concern:
//! - [`session`]: the one run type ([`Run`]) and the flow every mode follows ([`Mode`]);
//! - [`server`], [`client`]: the two modes;
//! - [`options`]: what shapes a run, with mode-only options in their own types;
//! - [`capabilities`]: optional capabilities and their probes (server mode);
//! - [`liveness`]: restarts and the liveness check after destructive cases (server mode);
//! - [`pace`]: the target's loop turn, which spaces split and trickled pieces (server mode);
//! - [`first_contact`]: the first run of a client (client mode);
//! - [`verdict`]: from a case's outcome to its verdict, impact and the exit code;
//! - [`parallel`]: running cases `--jobs` at a time, results in order;
//! - [`notes`]: what a failure under split or trickle delivery means;
//! - [`report`]: the one report builder.

pub mod capabilities;
pub mod client;
pub mod first_contact;
pub mod liveness;
pub mod notes;
pub mod options;
pub mod pace;
pub mod parallel;
pub mod report;
pub mod server;
pub mod session;
pub mod verdict;

use std::sync::Arc;

pub use client::ClientMode;
pub use options::{ClientOptions, RunOptions, ServerOptions, parse_known_failures};
pub use server::ServerMode;
pub use session::{Mode, Run};

use crate::profile::ProfileError;
use crate::report::Report;
use crate::suite::SuiteError;
use crate::target::{TargetError, TargetSpec};

/// A prepared server-mode run.
pub type Session = Run<ServerMode>;

/// A prepared client-mode run.
pub type ClientSession = Run<ClientMode>;

/// Why a run could not start (exit code 2 or 3).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The fixtures do not load.
    #[error(transparent)]
    Suite(#[from] SuiteError),
    /// The profile does not exist or is invalid.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A bad option or an empty selection (in both languages; `Display` is English).
    #[error("{0}")]
    Usage(crate::i18n::Said),
    /// The target could not be started.
    #[error(transparent)]
    Target(#[from] TargetError),
}

impl RunError {
    /// The process exit code for this error (2 usage/fixtures, 3 target).
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Target(_) => 3,
            _ => 2,
        }
    }
}

/// Runs the whole suite against `target` and returns the report (exit code inside).
pub async fn run_suite(target: TargetSpec, options: RunOptions) -> Result<Report, RunError> {
    let session = Arc::new(Session::prepare(target, options).await?);
    let report = session.run_all(|_| {}).await;
    session.finish().await;
    report
}

/// Runs the client-mode suite against `command` and returns the report (exit code inside).
pub async fn run_client_suite(
    command: &str,
    options: RunOptions<ClientOptions>,
) -> Result<Report, RunError> {
    let session = Arc::new(ClientSession::prepare(command, options).await?);
    session.run_all(|_| {}).await
}
