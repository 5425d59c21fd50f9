//! One module per subcommand: each has an `Options` struct and a `run` that prints its results
//! and returns the exit status.

pub mod chat;
pub mod listen;
pub mod ping;
pub mod script;
pub mod send;
