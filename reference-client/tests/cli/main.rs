//! End-to-end tests of the `jim-client` binary: every subcommand against the in-process
//! reference server in both dialects, against scripted fake servers (coalesced replies,
//! one-shot close, plain text, 400, silence, the course 511 login) and against the Python
//! example server. Loopback only, port 0, every run bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

mod chat;
mod lang;
mod listen;
mod ping;
mod russian;
mod script;
mod send;
