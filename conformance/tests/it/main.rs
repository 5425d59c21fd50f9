//! The integration tests of `jim-conformance` that use the standard harness, as modules of one
//! binary: each test binary links the whole crate graph again (jim-conformance, jim-server,
//! tokio, ...), which cost seconds a binary on 2 cores, and waits for its slowest test while
//! the other core idles; one binary links once and keeps both cores busy. A test keeps its file
//! and gets the file's name as a prefix: `cargo test -p jim-conformance --test it hostile::`
//! runs what `--test hostile` ran.
//!
//! Not here: `mutation` and `fixtures` (their own harness), and the field corpus (`field`,
//! `field_clients`, issue 13's verdict-stability evidence). The field tests keep binaries of
//! their own so that they run as they always did, with no other test beside them: in one run
//! merged here, `field_servers_once` ran beside the other tests and got 2 of 36 spawn-mode runs
//! wrong (a zombie judged dead, an exit 0 that became 1), in 145 s of wall time (44 s in its
//! own binary that hour).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod cli;
mod clients;
mod explore;
mod explore_run;
mod grade;
mod hostile;
mod load;
mod reproduce;
mod russian;
mod russian_load;
mod schema;
mod targets;
