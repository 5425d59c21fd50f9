//! Errors of the load engine.
//!
//! Only problems that stop a measurement before it starts are errors (a bad configuration, a
//! target that cannot be reached at all, a setup step the target refuses). Everything that goes
//! wrong *during* a measurement (lost messages, refused connections, a target that dies) is a
//! result and lands in the report instead.

use std::net::SocketAddr;

/// Why a load run or one of its shapes could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A configuration value is out of its allowed range.
    #[error("invalid load configuration: {en}")]
    Config {
        /// What is wrong, in English.
        en: String,
        /// The same in Russian.
        ru: String,
    },
    /// The host name did not resolve to any address.
    #[error("cannot resolve {host}:{port}: {detail}; give an IP address or a resolvable host name")]
    Resolve {
        /// The host as given.
        host: String,
        /// The port as given.
        port: u16,
        /// What the resolver said.
        detail: String,
    },
    /// The very first connection failed, so there is nothing to measure.
    #[error("cannot connect to {addr}: {source}; is the server running and listening there?")]
    Unreachable {
        /// The target address.
        addr: SocketAddr,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The target answered a setup step (presence, join) with something other than success.
    #[error("{addr} refused the setup of {shape}: {detail}")]
    Setup {
        /// The target address.
        addr: SocketAddr,
        /// Which measurement was being set up.
        shape: &'static str,
        /// What the target did.
        detail: Box<crate::problem::Problem>,
    },
    /// The engine's own runtime could not start (an operating system problem).
    #[error("cannot start the load engine: {0}")]
    Runtime(String),
}
