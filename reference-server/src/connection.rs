//! One TCP connection, served by one task: it reads and decodes the byte stream, drives the
//! [`Session`], and writes what the session and other sessions queued in its
//! [`Outbox`].
//!
//! Memory per idle connection is what the benchmark cares about, so an idle connection holds
//! almost nothing: the read buffer exists only while bytes are pending, the write buffer only
//! while writing, the outbox queue only while it has values, and the large futures (handling an
//! item, flushing) are boxed for the moment they run. A client that stops reading blocks only
//! its own task; others see its outbox fill and kick it (see [`crate::state::Peer::deliver`]),
//! and a write that makes no progress gives up on a kick, at the idle timeout or at shutdown
//! (see [`flush_or_give_up`]), so such a client never keeps its name or holds up a shutdown.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use jim_protocol::FrameDecoder;
use jim_protocol::codec::parse_raw;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cmd;
use crate::session::{Flow, Session};
use crate::state::{Outbox, Shared};

/// Bytes reserved for each read.
const READ_CHUNK: usize = 4096;

/// Own replies queued while handling a burst of pipelined requests before they are flushed.
const FLUSH_EVERY: usize = 32;

/// How often a write that makes no progress checks whether the connection was kicked.
const STALL_CHECK: Duration = Duration::from_millis(100);

/// How long and how much a server-initiated close drains unread input, so that the kernel
/// closes with FIN rather than a reset that could destroy the last replies in flight.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1 << 20;

/// Why the connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed its side (everything received was handled).
    Eof,
    /// The session decided to close (quit, oversize, failed login) or `one-shot` fired.
    Closed,
    /// Kicked (slow reader) or the server crashed: drop without flushing.
    Kicked,
    /// The client stopped reading while we were writing to it, and we gave up (idle timeout,
    /// or shutdown and the flush timeout passed): drop without flushing.
    Stalled,
    /// No bytes for the idle timeout.
    Idle,
    /// Server shutdown.
    Shutdown,
    /// `one-shot` wrote its one reply: close without writing anything else.
    OneShot,
    /// Read or write error (reset): the peer is gone.
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
    mut socket: TcpStream,
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
    tracing::debug!(conn, peer = ?socket.peer_addr().ok(), "connected");
    let outbox = Arc::new(Outbox::default());
    let mut session = Session::new(shared.clone(), conn, outbox.clone());
    let end = run(&socket, &mut session, &graceful).await;
    tracing::debug!(conn, ?end, "reader done");
    cmd::quit::end(&mut session);
    drop(session);
    if matches!(end, End::Eof | End::Closed | End::Idle | End::Shutdown) {
        // Flush what is already queued, within a bound, then close with FIN.
        let flush = async {
            while !outbox.is_kicked() && outbox.len() > 0 {
                if Box::pin(flush(&socket, &outbox, &shared)).await.is_err() {
                    return;
                }
            }
        };
        tokio::select! {
            () = flush => {}
            () = tokio::time::sleep(shared.config.flush_timeout) => {}
            () = shared.kill.cancelled() => {}
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.shutdown()).await;
        if end == End::Closed {
            linger(&socket).await;
        }
    } else if end == End::OneShot {
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.shutdown()).await;
    }
    tracing::debug!(conn, "closed");
}

/// Reads, handles and writes until the connection should end.
async fn run(stream: &TcpStream, s: &mut Session, graceful: &CancellationToken) -> End {
    let shared = s.shared.clone();
    let hooks = shared.hooks;
    let idle = shared.config.idle_timeout;
    let mut deadline = idle.and_then(|limit| Instant::now().checked_add(limit));
    let mut decoder = FrameDecoder::new(shared.config.max_message_bytes);
    let mut buf = BytesMut::new();
    loop {
        // Write whatever is queued before waiting again.
        if s.outbox.len() > 0 {
            match Box::pin(flush_or_give_up(stream, &s.outbox, &shared, graceful, deadline)).await {
                Err(end) => return end,
                Ok(true) if hooks.one_shot => return End::OneShot,
                Ok(_) => {}
            }
        }
        if s.outbox.is_kicked() {
            return End::Kicked;
        }
        let readable = tokio::select! {
            biased;
            () = shared.kill.cancelled() => return End::Kicked,
            () = graceful.cancelled() => return End::Shutdown,
            () = s.outbox.changed() => continue,
            () = sleep_until(deadline) => return End::Idle,
            readable = stream.readable() => readable,
        };
        if readable.is_err() {
            return End::Error;
        }
        if hooks.read_is_message {
            // Deliberate defect: one read is one message, as `json.loads(sock.recv(1024))`.
            let mut chunk = BytesMut::with_capacity(1024);
            match stream.try_read_buf(&mut chunk) {
                Ok(0) => return End::Eof,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return End::Error,
            }
            deadline = idle.and_then(|limit| Instant::now().checked_add(limit));
            if hooks.never_answer || chunk.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if Box::pin(s.handle_item(parse_raw(chunk.freeze()))).await == Flow::Close {
                return End::Closed;
            }
            continue;
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        let eof = match stream.try_read_buf(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // A spurious wake-up (a new socket starts out "ready"): keep no buffer.
                if buf.is_empty() {
                    buf = BytesMut::new();
                }
                continue;
            }
            Err(_) => return End::Error,
        };
        deadline = idle.and_then(|limit| Instant::now().checked_add(limit));
        if hooks.never_answer {
            // Deliberate defect: a zombie that reads and never answers.
            buf.clear();
        }
        while let Some(raw) = decoder.next_raw(&mut buf, eof) {
            // Boxed: the handling future is large and short-lived; an idle connection should
            // not carry its space.
            if Box::pin(s.handle_raw(raw)).await == Flow::Close {
                return End::Closed;
            }
            if s.outbox.len() >= FLUSH_EVERY {
                // A burst of pipelined requests: answer as we go, so the queue stays small.
                let flushed = flush_or_give_up(stream, &s.outbox, &shared, graceful, deadline);
                if let Err(end) = Box::pin(flushed).await {
                    return end;
                }
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

/// Flushes the outbox ([`flush`]) unless the client stops reading. A blocked write gives up
/// when the connection is kicked (its queue overflowed), when nothing has been read from the
/// client by `idle_deadline`, when the server shuts down and the flush timeout passes, or when
/// the server crashes. After giving up nothing more may be written (a value may be half
/// written), so the returned [`End`] drops the connection without a flush.
async fn flush_or_give_up(
    stream: &TcpStream,
    outbox: &Outbox,
    shared: &Shared,
    graceful: &CancellationToken,
    idle_deadline: Option<Instant>,
) -> Result<bool, End> {
    let shutdown_grace = async {
        graceful.cancelled().await;
        tokio::time::sleep(shared.config.flush_timeout).await;
    };
    tokio::select! {
        biased;
        // Usually everything is written at once and nothing else is even polled.
        wrote = flush(stream, outbox, shared) => wrote.map_err(|_| End::Error),
        () = shared.kill.cancelled() => Err(End::Kicked),
        () = until_kicked(outbox) => Err(End::Kicked),
        () = sleep_until(idle_deadline) => Err(End::Stalled),
        () = shutdown_grace => Err(End::Stalled),
    }
}

/// Completes once the connection is kicked; checked every [`STALL_CHECK`] while a write is
/// blocked (the outbox's wake-ups belong to the connection loop).
async fn until_kicked(outbox: &Outbox) {
    while !outbox.is_kicked() {
        tokio::time::sleep(STALL_CHECK).await;
    }
}

/// Writes every queued value, one write each (or as the misbehaviour hooks say). Returns
/// whether anything was written; stops early when the connection is kicked.
async fn flush(stream: &TcpStream, outbox: &Outbox, shared: &Shared) -> std::io::Result<bool> {
    let hooks = shared.hooks;
    let mut wrote = false;
    loop {
        let values = outbox.take();
        if values.is_empty() || outbox.is_kicked() {
            return Ok(wrote);
        }
        if hooks.never_answer {
            continue;
        }
        if hooks.coalesce {
            let mut out = BytesMut::new();
            for value in &values {
                hooks.encode(value, &mut out);
            }
            hooks.gather(outbox, &mut out).await;
            hooks.write(stream, &out).await?;
            return Ok(true);
        }
        let mut out = BytesMut::new();
        for value in values {
            out.clear();
            hooks.encode(&value, &mut out);
            hooks.write(stream, &out).await?;
            wrote = true;
            if hooks.one_shot {
                return Ok(true);
            }
        }
    }
}

/// Writes all of `bytes` to a stream shared with the reader.
pub(crate) async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Drains unread input for a short, bounded time after the server decided to close.
async fn linger(stream: &TcpStream) {
    let deadline = Instant::now() + LINGER_TIME;
    let mut scratch = BytesMut::with_capacity(READ_CHUNK);
    let mut total = 0;
    while total < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, stream.readable()).await {
            Ok(Ok(())) => {}
            _ => return,
        }
        scratch.clear();
        match stream.try_read_buf(&mut scratch) {
            Ok(0) => return,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An idle connection costs its task's future plus a few small allocations; keep the future
    /// small (the benchmark wants at most 4 KiB of RSS per held connection).
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let shared = crate::server::prepare(crate::Config::default()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let permit = Arc::new(tokio::sync::Semaphore::new(1)).try_acquire_owned().unwrap();
        let (done, _all_done) = mpsc::channel(1);
        let guards = Guards { _permit: permit, _done: done };
        let task = serve(shared, socket, CancellationToken::new(), guards);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 1536, "connection future grew to {size} bytes");
        assert!(std::mem::size_of::<Outbox>() <= 128);
    }
}
