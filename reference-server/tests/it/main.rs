//! The integration tests of `jim-server` as modules of one binary. The package is optimised in
//! test builds (`opt-level = 2` in the workspace's dev profile, for the torture tests), so every
//! test binary also optimised its own copy of the shared test client and of the tokio code it
//! instantiates: nine binaries took about 140 s of compile time on 2 cores, one binary takes
//! a fraction of it. A test keeps its file and gets the file's name as a prefix:
//! `cargo test -p jim-server --test it torture::` runs what `--test torture` ran.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod attacks;
mod cli;
mod list_sizes;
mod logs;
mod misbehave;
mod protocol;
mod robustness;
mod stalled_readers;
mod torture;
