//! The reference JIM client: `ping`, `chat`, raw `send`, `script` and `listen`.
//!
//! Students use it to poke their own server and to see what a correct client sends; the
//! conformance runner prints `jim-client send ...` lines to reproduce a failure by hand. It has
//! to work against real student servers, which are fragile (see PROTOCOL.md `§framing`,
//! `§lesson3`), so it:
//! - sends one JSON object per write and never pipelines requests (unless asked to);
//! - reads a *stream* of JSON values, so replies glued together or cut apart decode the same;
//! - bounds every read in size and time, and reports plain-text replies as "not JIM";
//! - copes with one-shot servers that close right after their reply.
//!
//! Layout (after tokio-rs/mini-redis's client): [`connection`] does the I/O, [`messages`]
//! builds and classifies messages, [`login`] logs in, [`commands`] holds one module per
//! subcommand, and `main.rs` is only the command line.

pub mod commands;
pub mod connection;
pub mod error;
pub mod login;
pub mod messages;
pub mod output;
pub mod say;

pub use connection::{Arrival, Connection, Delivery, Incoming, Reader, Writer};
pub use error::{ClientError, ExitStatus};
/// The escapes of `send --raw`: the conformance runner's decoder, so that its printed
/// reproductions mean the same bytes here.
pub use jim_conformance::escape;
pub use output::Format;

/// Where a server is: a host name or IP address, and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    /// Host name or IP address, as given.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&connection::format_target(&self.host, self.port))
    }
}
