//! `jim-conformance`: the JIM referee. It replays the JSON scenarios in `fixtures/` against any
//! server reachable by host and port (or a command it starts, or the embedded reference server),
//! judges what comes back from JSON values alone, and explains every failure so that a student
//! can fix it.
//!
//! The crate is an independent oracle: it decodes frames with `jim_protocol`'s stream decoder
//! but never uses `jim_protocol`'s message types to decide a verdict, so a bug in those types
//! cannot make the reference server pass its own test.
//!
//! Layout, in the order data flows (`ARCHITECTURE.md` says where a change goes):
//! - [`vocab`]: every closed set of names, one enum each with one name table; [`catalog`]
//!   describes them; [`i18n`] is the message catalog (English and Russian);
//! - [`model`]: the fixture format (one scenario per file), its parser, role-typed steps;
//! - [`step`]: one module per step kind, its parsing and its execution together;
//! - [`profile`]: named profiles (`lesson3`, `spec`, `course`, `all`) loaded as data;
//! - [`suite`]: loading a whole fixture directory (or the copy embedded at build time);
//! - [`lint`]: the checks behind `jim-conformance lint`;
//! - [`placeholders`], [`escape`]: `$user:alice`, `$now`, ... expanded per case; raw bytes;
//! - [`matcher`]: patterns with operators and profile tolerances, with readable mismatches;
//! - [`jim`]: what the runner knows about JIM values (pushes, goodbyes, generic replies);
//! - [`wire`]: one bounded, timed test connection (the only place that touches sockets);
//! - [`read_log`]: where reads ended, to tell a value written in one piece from split or glued writes;
//! - [`target`]: what is judged: an address, a spawned command, or the embedded reference;
//! - [`process`]: child processes (process groups, bounded output capture, kill);
//! - [`preflight`]: the first contact that classifies a target and picks a profile;
//! - [`case`]: the one executor of a case, for both roles (a [`case::Side`] says what differs);
//! - [`run`]: the run, by concern: modes, options, capabilities, liveness, verdicts, the
//!   parallel executor, the report builder ([`run_suite`], [`run_client_suite`]);
//! - [`report`]: the report model and its human, JSON and JUnit writers;
//! - [`grade`]: a class in one command: roster, assignment, pages, gradebook files;
//! - [`explore`]: model-based multi-client sessions that find what no fixture was written for.

pub mod accounts;
pub mod case;
pub mod catalog;
pub mod course_login;
pub mod escape;
pub mod explore;
pub mod grade;
pub mod i18n;
pub mod idle;
pub mod jim;
pub mod lint;
pub mod matcher;
pub mod model;
pub mod peer_read;
pub mod placeholders;
pub mod preflight;
pub mod process;
pub mod profile;
pub mod read_log;
pub mod report;
pub mod run;
pub mod settle;
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
