//! `jim-conformance`: the JIM referee. It replays the JSON scenarios in `fixtures/` against any
//! server reachable by host and port (or a command it starts, or the embedded reference server),
//! judges what comes back from JSON values alone, and explains every failure so that a student
//! can fix it.
//!
//! The crate is an independent oracle: it decodes frames with `jim_protocol`'s stream decoder
//! but never uses `jim_protocol`'s message types to decide a verdict, so a bug in those types
//! cannot make the reference server pass its own test.
//!
//! Layout, in the order data flows:
//! - [`model`]: the fixture format (one scenario per file) and its parser;
//! - [`catalog`]: the closed sets a fixture may name (tolerances, capabilities, placeholders,
//!   operators), with their descriptions;
//! - [`profile`]: named profiles (`lesson3`, `spec`, `course`, `all`) loaded as data;
//! - [`suite`]: loading a whole fixture directory (or the copy embedded at build time);
//! - [`lint`]: the checks behind `jim-conformance lint`;
//! - [`placeholders`]: `$user:alice`, `$now`, ... expanded per case;
//! - [`matcher`]: patterns with operators and profile tolerances, with readable mismatches;
//! - [`wire`]: one bounded, timed test connection (the only place that touches sockets);
//! - [`read_log`]: where reads ended, to tell a value written in one piece from split or glued writes;
//! - [`target`]: what is judged: an address, a spawned command, or the embedded reference;
//! - [`process`]: child processes (process groups, bounded output capture, kill);
//! - [`preflight`]: the first contact that classifies a target and picks a profile;
//! - [`case`]: executes one fixture's steps;
//! - [`runner`]: selection, capabilities, parallelism, deadline, verdicts ([`run_suite`]);
//! - [`client_case`], [`client_runner`]: client mode, where the runner plays the server for a
//!   client it starts ([`run_client_suite`]);
//! - [`report`]: the report model and its human, JSON and JUnit writers;
//! - [`i18n`]: the runner's own words in English and Russian.

pub mod case;
pub mod catalog;
pub mod course_login;
pub mod escape;
pub mod i18n;
pub mod jim;
pub mod lint;
pub mod matcher;
pub mod model;
pub mod placeholders;
pub mod preflight;
pub mod process;
pub mod profile;
pub mod read_log;
pub mod report;
pub mod run;
pub mod step;
pub mod suite;
pub mod target;
pub mod vocab;
pub mod wire;

pub use report::{CaseResult, Report, Verdict};
pub use run::{
    ClientOptions, ClientSession, RunError, RunOptions, ServerOptions, Session, run_client_suite,
    run_suite,
};
pub use target::TargetSpec;
