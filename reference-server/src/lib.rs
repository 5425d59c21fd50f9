//! The reference JIM server: both dialects, rooms, contacts, accounts; hard to break.
//!
//! Everything PROTOCOL.md specifies for a server: presence and probes, direct and room messages
//! relayed in each recipient's dialect, contacts, `get_users`, public keys, the 205 push, spec
//! `authenticate` and the course 511 login, optional SQLite persistence, and every hostile-input
//! rule of `§robustness`. `--misbehave` switches on documented defects for testing clients and
//! the conformance suite.
//!
//! Use [`run`] to serve a listener you own, or [`spawn`] to get a server on a free loopback port
//! in the background (tests):
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = jim_server::spawn(jim_server::Config::default()).await?;
//! println!("serving on {}", server.addr());
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Layout: `server` accepts, `connection` runs one socket (one task reads, handles and writes),
//! `session` checks each item in the order of `§errors`, `cmd::*` apply commands, `state` is
//! the shared registry, `writer` the correct encoder and writer, [`store`] the SQLite writer,
//! [`misbehave`] the deliberate defects (wrapped around the writer).

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod cmd;
pub mod config;
mod connection;
pub mod misbehave;
mod notes;
mod render;
mod server;
mod session;
mod state;
pub mod store;
mod writer;

pub use config::{Accounts, AccountsError, Config, LineProblem};
pub use misbehave::{Misbehave, MisbehaveError};
pub use store::DbError;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The `--users` file could not be read.
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    /// The `--db` database could not be opened.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A socket operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A `crash-*` misbehaviour stopped the server on purpose.
    #[error("crashed on purpose (--misbehave): {reason}")]
    Crashed {
        /// What triggered it, in the words of the Python error it imitates.
        reason: String,
    },
}

impl jim_text::Localized for ServerError {
    fn text(&self, lang: jim_text::Lang) -> String {
        use jim_text::Lang::{En, Ru};
        match (self, lang) {
            (Self::Accounts(e), lang) => e.text(lang),
            (Self::Db(e), En) => e.to_string(),
            (Self::Db(e), Ru) => format!("база данных {}: {}", e.path.display(), e.source),
            (Self::Io(_) | Self::Crashed { .. }, En) => self.to_string(),
            (Self::Io(e), Ru) => format!("ошибка ввода-вывода: {}", jim_text::io_error(e, Ru)),
            (Self::Crashed { reason }, Ru) => {
                format!("упал намеренно (--misbehave): {reason}")
            }
        }
    }
}

/// Counters of a running server ([`RunningServer::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Items handled so far: requests, bad input, responses from clients.
    pub requests: u64,
    /// The most bytes that ever waited to be written to one connection (replies, relays and
    /// pushes together): what a client that does not read can make the server hold.
    pub max_queued_bytes: usize,
    /// Connections disconnected because they stopped taking what was sent to them.
    pub kicked: u64,
    /// Password attempts that had to wait for their turn, or were refused (`§authenticate`).
    pub logins_held: u64,
    /// Logged-in sessions now.
    pub sessions: usize,
    /// Rooms that exist now.
    pub rooms: usize,
    /// Contact-list entries now, all owners together.
    pub contacts: usize,
    /// Owners of a contact list now.
    pub contact_owners: usize,
}

/// Serves `listener` with `config` until `shutdown` completes, then shuts down gracefully:
/// stops accepting, lets every connection flush what is queued for it, and returns `Ok`.
///
/// Fails before serving if the users file or the database cannot be loaded; returns
/// [`ServerError::Crashed`] when a `crash-*` misbehaviour fired.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let shared = server::prepare(config).await?;
    server::serve(listener, shared, shutdown).await
}

/// Binds `127.0.0.1:0` and runs the server in a background task of the current tokio runtime.
pub async fn spawn(config: Config) -> std::io::Result<RunningServer> {
    spawn_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
}

/// Binds `addr` (port 0 picks a free port) and runs the server in a background task.
pub async fn spawn_on(addr: SocketAddr, config: Config) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let shared = server::prepare(config).await.map_err(std::io::Error::other)?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, shared.clone(), async move {
        // A dropped handle counts as a request to stop.
        let _ = stopped.await;
    }));
    Ok(RunningServer { addr, shared, stop: Some(stop), task })
}

/// A server running in the background (see [`spawn`]). Dropping it shuts the server down.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    shared: Arc<state::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl RunningServer {
    /// The address the server listens on (with the real port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends a probe to every logged-in connection now (`§probe`).
    pub fn probe_all(&self) {
        self.shared.probe_all();
    }

    /// Counters of the server so far (for tests and benchmarks).
    pub fn stats(&self) -> Stats {
        use std::sync::atomic::Ordering::Relaxed;
        let counters = &self.shared.stats;
        let reg = self.shared.registry();
        Stats {
            requests: counters.requests.load(Relaxed),
            max_queued_bytes: counters.max_waiting.load(Relaxed),
            kicked: counters.kicked.load(Relaxed),
            logins_held: counters.logins_held.load(Relaxed),
            sessions: reg.sessions.len(),
            rooms: reg.rooms.len(),
            contacts: reg.contact_count,
            contact_owners: reg.contacts.len(),
        }
    }

    /// True once the server task has ended (after a shutdown or a `crash-*` misbehaviour).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Graceful shutdown: stop accepting, flush in-flight replies, close every connection, and
    /// wait for all of it.
    pub async fn shutdown(self) {
        let _ = self.stop().await;
    }

    /// Like [`RunningServer::shutdown`], and says how the server ended (`Err` after a crash).
    pub async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.join().await
    }

    /// Waits for the server to end by itself (a `crash-*` misbehaviour), without asking it to.
    pub async fn join(self) -> Result<(), ServerError> {
        let Self { stop, task, .. } = self;
        let result = match task.await {
            Ok(result) => result,
            Err(e) => Err(ServerError::Io(std::io::Error::other(e))),
        };
        drop(stop);
        result
    }
}
