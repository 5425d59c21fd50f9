//! One TCP connection: a reader (this task) that decodes the byte stream and drives the
//! [`Session`], and a writer task fed by a bounded queue.
//!
//! Memory per idle connection is kept small: the read buffer exists only while bytes are
//! pending (an idle connection holds none), the writer's buffer only while it writes, and the
//! queue holds boxed values. A reader that stops reading fills its queue and is disconnected
//! (see [`crate::state::Peer::deliver`]); it never blocks anyone else.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use jim_protocol::FrameDecoder;
use jim_protocol::codec::parse_raw;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_util::sync::CancellationToken;

use crate::cmd;
use crate::misbehave::Hooks;
use crate::session::{Flow, Session};
use crate::state::{Outbound, Shared};

/// Bytes reserved for each read.
const READ_CHUNK: usize = 4096;

/// How long and how much a server-initiated close drains unread input, so that the kernel
/// closes with FIN rather than a reset that could destroy the last replies in flight.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1 << 20;

/// Why the reader stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed its side (everything received was handled).
    Eof,
    /// The session decided to close (quit, oversize, failed login, own queue overflow).
    Closed,
    /// Disconnected from elsewhere: slow reader, crash, write failure.
    Kicked,
    /// No bytes for the idle timeout.
    Idle,
    /// Server shutdown.
    Shutdown,
    /// Read error (reset).
    Error,
}

/// Tokens a connection holds for the server's bookkeeping; dropped when it ends.
pub(crate) struct Guards {
    /// The connection-limit permit.
    pub _permit: OwnedSemaphorePermit,
    /// Dropped when done, so the server knows when all connections have ended.
    pub _done: mpsc::Sender<()>,
}

/// Serves one connection to the end.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    socket: TcpStream,
    graceful: CancellationToken,
    guards: Guards,
) {
    let _guards = guards;
    // `one-client-at-a-time`: wait for the previous client to leave before reading anything.
    let _serial = match &shared.one_at_a_time {
        Some(sem) => tokio::select! {
            permit = sem.clone().acquire_owned() => permit.ok(),
            () = graceful.cancelled() => return,
            () = shared.kill.cancelled() => return,
        },
        None => None,
    };
    let conn = shared.next_conn_id();
    let peer = socket.peer_addr().ok();
    tracing::debug!(conn, ?peer, "connected");
    let (mut read, write) = socket.into_split();
    let (tx, rx) = mpsc::channel(shared.config.outbound_queue.max(1));
    let kick = shared.kill.child_token();
    let mut writer = tokio::spawn(write_loop(write, rx, kick.clone(), shared.hooks));

    let mut session = Session::new(shared.clone(), conn, tx, kick.clone());
    let end = read_loop(&mut read, &mut session, &graceful).await;
    tracing::debug!(conn, ?end, "reader done");
    cmd::quit::end(&mut session);
    // Let the writer flush what is queued, then close; a writer that cannot flush in time is
    // cut off.
    if session.tx.try_send(Outbound::Close).is_err() {
        kick.cancel();
    }
    drop(session);
    if tokio::time::timeout(shared.config.flush_timeout, &mut writer).await.is_err() {
        kick.cancel();
        let _ = writer.await;
    }
    if end == End::Closed && !kick.is_cancelled() {
        linger(&mut read).await;
    }
    tracing::debug!(conn, "closed");
}

/// Reads, decodes and handles items until the connection should end.
async fn read_loop(read: &mut OwnedReadHalf, s: &mut Session, graceful: &CancellationToken) -> End {
    let idle = s.shared.config.idle_timeout;
    let hooks = s.shared.hooks;
    let mut decoder = FrameDecoder::new(s.shared.config.max_message_bytes);
    let mut buf = BytesMut::new();
    loop {
        let ready = tokio::select! {
            biased;
            () = s.kick.cancelled() => return End::Kicked,
            () = graceful.cancelled() => return End::Shutdown,
            ready = readable(read, idle) => ready,
        };
        match ready {
            None => return End::Idle,
            Some(Err(_)) => return End::Error,
            Some(Ok(())) => {}
        }
        if hooks.read_is_message {
            // Deliberate defect: one read is one message, as `json.loads(sock.recv(1024))`.
            let mut chunk = BytesMut::with_capacity(1024);
            match read.try_read_buf(&mut chunk) {
                Ok(0) => return End::Eof,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return End::Error,
            }
            if hooks.never_answer || chunk.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if s.handle_item(parse_raw(chunk.freeze())).await == Flow::Close {
                return End::Closed;
            }
            continue;
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        let eof = match read.try_read_buf(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return End::Error,
        };
        if hooks.never_answer {
            // Deliberate defect: a zombie that reads and never answers.
            buf.clear();
        }
        while let Some(raw) = decoder.next_raw(&mut buf, eof) {
            if s.handle_raw(raw).await == Flow::Close {
                return End::Closed;
            }
            tokio::task::consume_budget().await;
        }
        if eof {
            return End::Eof;
        }
        if buf.is_empty() {
            // Idle connections keep no buffer.
            buf = BytesMut::new();
        }
    }
}

/// Waits until the socket is readable, or `None` after the idle timeout.
async fn readable(read: &OwnedReadHalf, idle: Option<Duration>) -> Option<std::io::Result<()>> {
    match idle {
        Some(limit) => tokio::time::timeout(limit, read.readable()).await.ok(),
        None => Some(read.readable().await),
    }
}

/// Drains unread input for a short, bounded time after the server decided to close.
async fn linger(read: &mut OwnedReadHalf) {
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut scratch = BytesMut::with_capacity(READ_CHUNK);
    let mut total = 0;
    while total < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, read.readable()).await {
            Ok(Ok(())) => {}
            _ => return,
        }
        scratch.clear();
        match read.try_read_buf(&mut scratch) {
            Ok(0) => return,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// Writes queued values, one write each, until `Close`, the end of the queue, or a kick.
async fn write_loop(
    mut w: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Outbound>,
    kick: CancellationToken,
    hooks: Hooks,
) {
    loop {
        let item = tokio::select! {
            biased;
            () = kick.cancelled() => return,
            item = rx.recv() => item,
        };
        let Some(Outbound::Value(value)) = item else { break };
        if hooks.never_answer {
            continue;
        }
        let mut out = BytesMut::new();
        hooks.encode(&value, &mut out);
        let mut closing = false;
        if hooks.coalesce {
            closing = hooks.gather(&mut rx, &mut out).await;
        }
        let written = tokio::select! {
            biased;
            () = kick.cancelled() => return,
            r = hooks.write(&mut w, &out) => r,
        };
        if written.is_err() {
            // The peer is gone: stop the reader too.
            kick.cancel();
            return;
        }
        if hooks.one_shot || closing {
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), w.shutdown()).await;
    if hooks.one_shot {
        kick.cancel();
    }
}

/// Writes all of `bytes` (used by the hooks for the correct path).
pub(crate) async fn write_all(w: &mut OwnedWriteHalf, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(bytes).await
}
