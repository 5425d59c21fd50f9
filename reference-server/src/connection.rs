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
use crate::misbehave::{Misread, Wire};
use crate::session::{Flow, Session};
use crate::state::{Outbox, Shared};

/// Bytes reserved for each read.
const READ_CHUNK: usize = 4096;

/// Own replies queued while handling a burst of pipelined requests before they are flushed.
const FLUSH_EVERY: usize = 32;

/// Bytes waiting for the client past which the connection stops handling requests and writes
/// (waiting for the client to read) before it reads on: backpressure, so a client that pipelines
/// and never reads holds at most this plus one reply, not everything it asked for.
const FLUSH_BYTES: usize = 16 * 1024;

/// One turn of work: after handling requests whose replies add up to this many bytes, the
/// connection lets every other task run before it goes on (a pipeline of expensive requests must
/// not hold a worker while others wait).
const TURN_BYTES: u64 = 16 * 1024;

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
                if Box::pin(shared.wire.flush(&socket, &outbox)).await.is_err() {
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
///
/// The waits (server stop, shutdown, outbox wake-up, idle timer, readable) are made afresh
/// each turn. Keeping them pinned across turns saved no measurable CPU (within the noise of
/// this 2-core machine, relay and round trips) and cost about 0.1 KiB more per held
/// connection, so they are not.
async fn run(stream: &TcpStream, s: &mut Session, graceful: &CancellationToken) -> End {
    let shared = s.shared.clone();
    let outbox = s.outbox.clone();
    let wire = &shared.wire;
    let idle = shared.config.idle_timeout;
    let mut deadline = idle.and_then(|limit| Instant::now().checked_add(limit));
    // When the message under way must be complete (slow-loris bound), while one is.
    let mut message_due: Option<Instant> = None;
    let mut decoder = FrameDecoder::new(shared.config.max_message_bytes);
    let mut buf = BytesMut::new();
    loop {
        // Write whatever is queued before waiting again.
        if outbox.len() > 0 {
            match flushed_now(stream, &outbox, wire) {
                Err(end) => return end,
                Ok(true) => {}
                Ok(false) => {
                    let flushed = flush_or_give_up(stream, &outbox, &shared, graceful, deadline);
                    match Box::pin(flushed).await {
                        Err(end) => return end,
                        Ok(true) if wire.one_shot() => return End::OneShot,
                        Ok(_) => {}
                    }
                }
            }
        }
        if outbox.is_kicked() {
            return End::Kicked;
        }
        let readable = tokio::select! {
            biased;
            () = shared.kill.cancelled() => return End::Kicked,
            () = graceful.cancelled() => return End::Shutdown,
            () = outbox.changed() => continue,
            () = sleep_until(earliest(deadline, message_due)) => {
                if message_due.is_some_and(|due| due <= Instant::now()) {
                    return too_slow(s);
                }
                return End::Idle;
            }
            readable = stream.readable() => readable,
        };
        if readable.is_err() {
            return End::Error;
        }
        if let Some(defects) = wire.misreads()
            && defects.read_is_message
        {
            // Deliberate defect: one read is one message, as `json.loads(sock.recv(1024))`.
            let chunk = match defects.read_message(stream) {
                Misread::Eof => return End::Eof,
                Misread::Error => return End::Error,
                Misread::Nothing { read: false } => continue,
                Misread::Nothing { read: true } => None,
                Misread::Message(chunk) => Some(chunk),
            };
            deadline = idle.and_then(|limit| Instant::now().checked_add(limit));
            if let Some(chunk) = chunk
                && Box::pin(s.handle_item(parse_raw(chunk))).await == Flow::Close
            {
                return End::Closed;
            }
            continue;
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        // Readiness is cleared only by a read that fails with `WouldBlock` (tokio clears it
        // with the tick it saw before that read). Clearing it by hand after a short read lost
        // the wake-up of bytes that arrived in between: with edge-triggered epoll no new event
        // comes for bytes already queued, and a client that had sent everything in one write
        // waited for answers that never came.
        let eof = match stream.try_read_buf(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // The socket was drained by the previous read (or a new socket starts out
                // "ready"): keep no buffer.
                if buf.is_empty() {
                    buf = BytesMut::new();
                }
                continue;
            }
            Err(_) => return End::Error,
        };
        deadline = idle.and_then(|limit| Instant::now().checked_add(limit));
        if wire.misreads().is_some_and(|defects| defects.never_answer) {
            // Deliberate defect: a zombie that reads and never answers.
            buf.clear();
        }
        let mut turn_from = outbox.own_bytes();
        while let Some(raw) = decoder.next_raw(&mut buf, eof) {
            // Boxed: the handling future is large and short-lived; an idle connection should
            // not carry its space.
            if Box::pin(s.handle_raw(raw)).await == Flow::Close {
                return End::Closed;
            }
            if outbox.len() >= FLUSH_EVERY || outbox.waiting() >= FLUSH_BYTES {
                // A burst of pipelined requests: answer as we go, and read no further request
                // until the client has taken what is queued (the wait ends when it reads, or
                // gives up when it does not: stall or idle timeout, kick, shutdown).
                match flushed_now(stream, &outbox, wire) {
                    Err(end) => return end,
                    Ok(true) => {}
                    Ok(false) => {
                        let flushed =
                            flush_or_give_up(stream, &outbox, &shared, graceful, deadline);
                        if let Err(end) = Box::pin(flushed).await {
                            return end;
                        }
                    }
                }
            }
            if outbox.own_bytes() - turn_from >= TURN_BYTES {
                // A turn's worth of answers: let the others run.
                tokio::task::yield_now().await;
                turn_from = outbox.own_bytes();
            }
            tokio::task::consume_budget().await;
        }
        if eof {
            return End::Eof;
        }
        message_due = match (decoder.in_value(), message_due) {
            (false, _) => None,
            (true, Some(due)) => Some(due),
            (true, None) => {
                shared.config.message_timeout.and_then(|t| Instant::now().checked_add(t))
            }
        };
        if buf.is_empty() {
            // Idle connections keep no buffer.
            buf = BytesMut::new();
        }
    }
}

/// The earlier of two optional deadlines.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A message that took longer than the message timeout from its first byte: 400, then close
/// (PROTOCOL.md `§limits`), so a peer trickling bytes cannot hold a connection slot forever.
fn too_slow(s: &mut Session) -> End {
    let secs = s.shared.config.message_timeout.unwrap_or_default().as_secs_f64();
    tracing::debug!(conn = s.conn, "message not complete after {secs} s: closing");
    s.error(
        jim_protocol::ResponseCode::BAD_REQUEST,
        format!(
            "message not complete {secs} seconds after its first byte; closing the connection \
             (see §limits)"
        ),
    );
    End::Closed
}

/// Writes what is queued as far as the socket takes it now: `Ok(true)` when everything is
/// written, `Ok(false)` when the rest needs [`flush_or_give_up`].
fn flushed_now(stream: &TcpStream, outbox: &Outbox, wire: &Wire) -> Result<bool, End> {
    wire.try_flush(stream, outbox).map_err(|_| End::Error)
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
        wrote = shared.wire.flush(stream, outbox) => wrote.map_err(|_| End::Error),
        () = shared.kill.cancelled() => Err(End::Kicked),
        () = until_kicked(outbox, shared.config.stall_timeout) => Err(End::Kicked),
        () = sleep_until(idle_deadline) => Err(End::Stalled),
        () = shutdown_grace => Err(End::Stalled),
    }
}

/// Completes once the connection is kicked, or once the client has taken no byte for `stall`
/// (then it kicks it); checked every [`STALL_CHECK`] while a write is blocked (the outbox's
/// wake-ups belong to the connection loop).
async fn until_kicked(outbox: &Outbox, stall: Duration) {
    while !outbox.is_kicked() {
        if outbox.stalled_for() >= stall {
            outbox.kick();
            return;
        }
        tokio::time::sleep(STALL_CHECK).await;
    }
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
    use crate::writer::first_write;

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
        // Boxed for every request: small enough for the allocator's fast path (about 1 KiB).
        let shared = crate::server::prepare(crate::Config::default()).await.unwrap();
        let mut s = Session::new(shared, 1, Arc::new(Outbox::default()));
        let handling = s.handle_raw(Ok(bytes::Bytes::new()));
        let size = std::mem::size_of_val(&handling);
        assert!(size <= 1000, "request handling future grew to {size} bytes");
    }
    /// How a queue would be written: the number of values in each write.
    fn writes(outbox: &Outbox) -> Vec<usize> {
        let queue = outbox.take();
        let mut values = &queue.iter().cloned().collect::<Vec<_>>()[..];
        let mut sizes = Vec::new();
        while !values.is_empty() {
            let n = first_write(values);
            sizes.push(n);
            values = &values[n..];
        }
        sizes
    }

    /// A logged-in session on a fresh outbox, and the outbox.
    async fn session(shared: &Arc<Shared>, name: &str, course: bool) -> (Session, Arc<Outbox>) {
        let outbox = Arc::new(Outbox::default());
        let mut s = Session::new(shared.clone(), shared.next_conn_id(), outbox.clone());
        let presence = if course {
            serde_json::json!({"action":"presence","time":1,"user":{"account_name":name}})
        } else {
            serde_json::json!({"action":"presence","time":1,"type":"status","user":{"account_name":name,"status":"here"}})
        };
        assert_eq!(s.handle_item(Ok(presence)).await, Flow::Continue);
        assert_eq!(writes(&outbox), [1], "the 200 of {name}'s presence");
        (s, outbox)
    }

    fn msg(to: &str, text: &str) -> serde_json::Value {
        serde_json::json!({"action":"msg","time":1,"to":to,"from":"x","message":text})
    }

    /// `§framing` W3: a client that sends one request at a time and reads everything it causes
    /// before the next one gets one value per write, even where one request causes two values for
    /// the same connection (a message to oneself: the relay and the 200).
    #[tokio::test]
    async fn a_quiet_exchange_gets_one_value_per_write() {
        let shared = crate::server::prepare(crate::Config::default()).await.unwrap();
        let (mut alice, a) = session(&shared, "alice", false).await;
        let (mut bob, b) = session(&shared, "bob", false).await;
        let (_carol, c) = session(&shared, "carol", true).await;
        // Dave logs in in the course dialect: carol (course) gets a 205 push.
        let (_dave, d) = session(&shared, "dave", true).await;
        assert_eq!(writes(&c), [1]);
        assert!(writes(&d).is_empty());

        alice.handle_item(Ok(msg("bob", "hi"))).await;
        assert_eq!((writes(&a), writes(&b)), (vec![1], vec![1]), "ack, relay");
        alice.handle_item(Ok(msg("alice", "to myself"))).await;
        assert_eq!(writes(&a), [1, 1], "relay and ack to oneself, in two writes");
        for request in [
            serde_json::json!({"action":"join","time":1,"room":"#r"}),
            serde_json::json!({"action":"get_contacts","time":1}),
            serde_json::json!({"action":"get_users","time":1}),
            serde_json::json!({"action":"fly","time":1}),
            serde_json::json!([1]),
        ] {
            alice.handle_item(Ok(request)).await;
            assert_eq!(writes(&a), [1]);
        }
        bob.handle_item(Ok(serde_json::json!({"action":"join","time":1,"room":"#r"}))).await;
        assert_eq!(writes(&b), [1]);
        bob.handle_item(Ok(msg("#r", "to the room"))).await;
        assert_eq!((writes(&a), writes(&b)), (vec![1], vec![1]), "relay, ack");
        shared.probe_all();
        for outbox in [&a, &b, &c, &d] {
            assert_eq!(writes(outbox), [1], "a probe");
        }
    }

    /// Values already queued together share a write: replies to pipelined requests, relays that
    /// arrived while the connection was busy, or both; only the boundary of a message to oneself
    /// stays.
    #[tokio::test]
    async fn values_queued_together_share_a_write() {
        let shared = crate::server::prepare(crate::Config::default()).await.unwrap();
        let (mut alice, a) = session(&shared, "alice", false).await;
        let (mut bob, b) = session(&shared, "bob", false).await;
        for i in 0..5 {
            alice.handle_item(Ok(msg("bob", &format!("m{i}")))).await;
        }
        assert_eq!(writes(&a), [5], "five acks");
        assert_eq!(writes(&b), [5], "five relays");
        bob.handle_item(Ok(msg("alice", "one"))).await;
        alice.handle_item(Ok(msg("alice", "self"))).await;
        bob.handle_item(Ok(msg("alice", "two"))).await;
        alice.handle_item(Ok(msg("bob", "three"))).await;
        // relay from bob, relay to self | ack, relay from bob, ack
        assert_eq!(writes(&a), [2, 3]);
    }
}
