//! The integration tests of `jim-conformance` that use the standard harness, as modules of one
//! binary: each test binary links the whole crate graph again (jim-conformance, jim-server,
//! tokio, ...), which cost seconds a binary on 2 cores; one binary links once. A test keeps its
//! file and gets the file's name as a prefix: `cargo test -p jim-conformance --test it field::`
//! runs what `--test field` ran. `mutation` and `fixtures` have their own harness and binaries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod cli;
mod clients;
mod explore;
mod explore_run;
mod field;
mod field_clients;
mod grade;
mod hostile;
mod load;
mod reproduce;
mod russian;
mod russian_load;
mod schema;
mod targets;
