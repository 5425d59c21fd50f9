//! The listener: accept loop, connection limit, probes, graceful shutdown and crash.
//!
//! Like mini-redis: each accepted socket gets a task ([`crate::connection::serve`]); a semaphore
//! caps connections (one over the limit is closed at once); shutdown stops accepting, tells
//! every connection to finish (flushing what is queued), and waits for all of them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::ServerError;
use crate::config::Config;
use crate::connection::{self, Guards};
use crate::misbehave::Misbehave;
use crate::notes::Note;
use crate::state::Shared;
use crate::store::Db;

/// Loads accounts and the database: everything that can fail before serving.
pub(crate) async fn prepare(config: Config) -> Result<Arc<Shared>, ServerError> {
    let accounts = match (&config.accounts, &config.users) {
        (Some(accounts), _) => Some(accounts.clone()),
        (None, Some(path)) => Some(crate::config::Accounts::from_file(path)?),
        (None, None) => None,
    };
    let db = match config.db.clone() {
        Some(path) => Some(
            {
                let lang = config.lang;
                tokio::task::spawn_blocking(move || Db::open(&path, lang))
            }
            .await
            .map_err(|e| ServerError::Io(std::io::Error::other(e)))??,
        ),
        None => None,
    };
    Ok(Arc::new(Shared::new(config, accounts, db)))
}

/// Serves `listener` until `shutdown` completes (graceful) or a crash misbehaviour fires.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let graceful = CancellationToken::new();
    let limit = Arc::new(Semaphore::new(shared.config.max_connections.min(Semaphore::MAX_PERMITS)));
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    if let Some(every) = shared.config.probe_interval {
        tokio::spawn(probe_ticker(shared.clone(), every, graceful.clone()));
    }
    tokio::pin!(shutdown);
    let mut rejected = Rejections::default();
    loop {
        let accepted = tokio::select! {
            biased;
            () = shared.kill.cancelled() => break,
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let socket = match accepted {
            Ok((socket, _)) => socket,
            Err(e) => {
                // Out of file descriptors and the like: wait a little, never give up.
                tracing::warn!(
                    "{}",
                    shared.config.lang.say(&Note::AcceptFailed { error: e.to_string() })
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if shared.misbehaves(Misbehave::CloseOnAccept) {
            drop(socket);
            continue;
        }
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            drop(socket);
            rejected.note(shared.config.max_connections, shared.config.lang);
            continue;
        };
        let _ = socket.set_nodelay(true);
        let guards = Guards { _permit: permit, _done: done_tx.clone() };
        tokio::spawn(connection::serve(shared.clone(), socket, graceful.clone(), guards));
    }
    drop(listener);
    graceful.cancel();
    drop(done_tx);
    let _ = done_rx.recv().await;
    if let Some(db) = &shared.db {
        db.flush().await;
    }
    let crashed = shared.crash_reason.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match crashed {
        Some(reason) => Err(ServerError::Crashed { reason }),
        None => {
            tracing::info!("{}", shared.config.lang.say(&Note::ShutDown));
            Ok(())
        }
    }
}

/// How often a peer that keeps connecting over the limit can make the server log it.
const REJECTION_LOG_EVERY: Duration = Duration::from_secs(10);

/// Connections closed over the limit, logged at most once per [`REJECTION_LOG_EVERY`] with a
/// count, so a peer hammering a full server cannot flood the log.
#[derive(Debug, Default)]
struct Rejections {
    unlogged: u64,
    last_logged: Option<tokio::time::Instant>,
}

impl Rejections {
    fn note(&mut self, max: usize, lang: jim_text::Lang) {
        self.unlogged += 1;
        let now = tokio::time::Instant::now();
        if self.last_logged.is_some_and(|at| now.duration_since(at) < REJECTION_LOG_EVERY) {
            return;
        }
        let note = Note::LimitReached { max, closed: self.unlogged };
        tracing::warn!(max, closed = self.unlogged, "{}", lang.say(&note));
        self.unlogged = 0;
        self.last_logged = Some(now);
    }
}

async fn probe_ticker(shared: Arc<Shared>, every: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
    ticks.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = shared.kill.cancelled() => return,
            _ = ticks.tick() => shared.probe_all(),
        }
    }
}
