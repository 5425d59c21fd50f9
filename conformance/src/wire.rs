//! One test connection to a target: the only place in the runner that reads or writes sockets.
//!
//! Every read has a deadline and a size bound: values are cut out of the byte stream with
//! `jim_protocol`'s [`FrameDecoder`] (which never buffers more than its limit), so a target that
//! floods, trickles, or sends an endless string makes a step fail, never hang or grow memory.
//! Writes honour a [`Delivery`] mode, so one send path serves whole, split and trickled input.
//!
//! The runner must not flood the peer it judges either: at most [`MAX_OPEN_CONNECTIONS`]
//! connections to one target are open at once, new ones are paced to at most
//! [`MAX_CONNECTS_PER_SECOND`], and the pieces of a split or trickled message are spaced out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::BytesMut;
use jim_protocol::FrameDecoder;
use jim_protocol::codec::parse_raw;
use jim_protocol::error::{FrameError, preview};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout_at};

use crate::idle::Watch;
use crate::peer_read::Seen;
use crate::read_log::{Pieces, ReadLog};

/// Most bytes a `listen_ms` step buffers without taking values out; the rest waits in the
/// kernel until the next read.
pub const LISTEN_MAX_BYTES: usize = 64 * 1024;

/// Largest single value the runner accepts from a peer (256 KiB, four times the reference
/// server's own limit); more is reported as oversize and discarded without being buffered.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;

/// Most connections the runner keeps open to one target at the same time.
pub const MAX_OPEN_CONNECTIONS: usize = 64;

/// Most new connections the runner opens to one target per second.
pub const MAX_CONNECTS_PER_SECOND: u32 = 500;

/// Pause between the pieces of a split message.
pub const SPLIT_PAUSE: Duration = Duration::from_millis(15);

/// Pause between the bytes of a trickled message.
pub const TRICKLE_PAUSE: Duration = Duration::from_millis(1);

/// The caps on connections to one target address.
#[derive(Debug)]
struct Limiter {
    open: Arc<tokio::sync::Semaphore>,
    next: std::sync::Mutex<Option<Instant>>,
}

static LIMITERS: LazyLock<std::sync::Mutex<HashMap<SocketAddr, Arc<Limiter>>>> =
    LazyLock::new(Default::default);

fn limiter(addr: SocketAddr) -> Arc<Limiter> {
    let mut map = LIMITERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() > 256 {
        // Forget targets nobody is connected to (a process that judges many targets).
        map.retain(|_, l| {
            Arc::strong_count(l) > 1 || l.open.available_permits() < MAX_OPEN_CONNECTIONS
        });
    }
    Arc::clone(map.entry(addr).or_insert_with(|| {
        Arc::new(Limiter {
            open: Arc::new(tokio::sync::Semaphore::new(MAX_OPEN_CONNECTIONS)),
            next: std::sync::Mutex::new(None),
        })
    }))
}

/// Waits for a free connection slot to `addr` and for the connect pace, at most until `limit`
/// runs out.
async fn connect_permit(
    addr: SocketAddr,
    limit: Duration,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    let deadline = Instant::now() + limit;
    let limiter = limiter(addr);
    let permit =
        timeout_at(deadline, Arc::clone(&limiter.open).acquire_owned()).await.ok()?.ok()?;
    let spacing = Duration::from_secs(1) / MAX_CONNECTS_PER_SECOND;
    let wait_until = {
        let mut next = limiter.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + spacing);
        slot
    };
    if wait_until > deadline {
        return None;
    }
    tokio::time::sleep_until(wait_until).await;
    Some(permit)
}

pub use crate::vocab::Delivery;
use crate::vocab::FrameProblem;

/// Longest pause the runner puts between two pieces of a split message, however slow the
/// target's loop (a split request of five pieces then takes at most 5 s to write).
pub const MAX_SPLIT_PAUSE: Duration = Duration::from_secs(1);

/// Longest time the runner spreads the bytes of one trickled message over.
pub const MAX_TRICKLE_SPAN: Duration = Duration::from_millis(1500);

/// Longest wait for the target to read one piece before the next is written (see
/// [`crate::peer_read`]); a target that has not read by then gets the timed pauses.
pub const READ_WAIT: Duration = Duration::from_secs(2);

/// How far apart the pieces of a split or trickled message are written (issue 13 item 8).
///
/// Where the system shows the target's socket (Linux, loopback), each split piece, the first
/// byte of a trickle and the first of two writes in a row are watched until the target has read
/// them ([`Pace::read_wait`], [`crate::peer_read`]): the pieces are then separate reads whatever
/// the load, and the timed pauses below are the fallback.
///
/// A server that takes each `recv()` for one whole message passes a split request by luck when
/// its loop is slow: every piece sent while it waits (in `select`, or in an `accept` with a
/// timeout) lands in the same read. The pieces therefore follow the target's measured loop
/// turn: split pieces are spaced by 1.5 times the turn, so each lands in a read of its own;
/// the bytes of a trickle are spread over 1.5 times the turn, so at least one read sees an
/// incomplete message. Against a fast target the pauses stay [`SPLIT_PAUSE`] and
/// [`TRICKLE_PAUSE`], so a fast run is not slower. Both are capped ([`MAX_SPLIT_PAUSE`],
/// [`MAX_TRICKLE_SPAN`]) so that a run against a very slow target stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Pause between the pieces of a split message.
    pub split: Duration,
    /// Least time over which the bytes of a trickled message are spread.
    pub trickle_span: Duration,
    /// Pause before a write that follows another write on the same connection with nothing
    /// read between (server mode: two sends of a fixture reach the target in two reads, so
    /// that `"\n\n"` and the request after it do not land in one `recv()` by luck).
    pub between_writes: Duration,
    /// How long to wait for the target to read a piece before the next (zero: not watched).
    pub read_wait: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            split: SPLIT_PAUSE,
            trickle_span: Duration::ZERO,
            between_writes: Duration::ZERO,
            read_wait: Duration::ZERO,
        }
    }
}

impl Pace {
    /// The pace for a target whose loop turn (a high percentile of its reply latency) is
    /// `turn`: 1.5 times the turn, never below the defaults, never above the caps.
    pub fn for_turn(turn: Duration) -> Self {
        let margin = turn.saturating_mul(3) / 2;
        if margin <= SPLIT_PAUSE {
            return Self { between_writes: SPLIT_PAUSE, ..Self::watched() };
        }
        let split = margin.clamp(SPLIT_PAUSE, MAX_SPLIT_PAUSE);
        Self {
            split,
            trickle_span: margin.min(MAX_TRICKLE_SPAN),
            between_writes: split,
            read_wait: READ_WAIT,
        }
    }

    /// The default pauses, with every piece watched until the target has read it.
    pub fn watched() -> Self {
        Self { read_wait: READ_WAIT, ..Self::default() }
    }

    /// True when the pieces are spaced wider than by default (the target's loop is slow).
    pub fn is_adapted(&self) -> bool {
        self.split != SPLIT_PAUSE || !self.trickle_span.is_zero()
    }

    /// The pause after each piece when `delivery` cuts a message into `pieces + 1` pieces.
    pub fn pause(&self, delivery: Delivery, pieces: usize) -> Duration {
        match delivery {
            Delivery::Whole => Duration::ZERO,
            Delivery::Split => self.split,
            Delivery::Trickle => {
                let spread = self.trickle_span / u32::try_from(pieces.max(1)).unwrap_or(u32::MAX);
                spread.max(TRICKLE_PAUSE)
            }
        }
    }

    /// The time the runner's own pauses add to the writing of a message cut into
    /// `pieces + 1` pieces (twice the pauses, three times for trickle: a loaded machine sleeps
    /// longer).
    pub fn allowance(&self, delivery: Delivery, pieces: usize) -> Duration {
        let n = u32::try_from(pieces).unwrap_or(u32::MAX);
        let factor = if delivery == Delivery::Trickle { 3 } else { 2 };
        self.pause(delivery, pieces).saturating_mul(n).saturating_mul(factor)
    }
}

impl Delivery {
    /// The time the runner's own pauses add to the writing of a message cut into `pieces + 1`
    /// pieces (twice the pauses, three times for trickle: a loaded machine sleeps longer).
    pub fn pacing(self, pieces: usize) -> Duration {
        Pace::default().allowance(self, pieces)
    }

    /// Where a message of these bytes is cut (offsets of piece starts after the first).
    ///
    /// Split cuts after the first byte, in the middle, before the last byte (which separates a
    /// closing `}` from the newline), inside the first multi-byte UTF-8 character if there is
    /// one, and at one more position that depends on the bytes (so different messages are cut
    /// in different places, and the same message always the same way).
    pub fn cut_points(self, bytes: &[u8]) -> Vec<usize> {
        let n = bytes.len();
        match self {
            Self::Whole => Vec::new(),
            Self::Trickle => (1..n).collect(),
            Self::Split => {
                let mut cuts = vec![1, n / 2, n.saturating_sub(1)];
                if let Some(i) = bytes.iter().position(|b| *b >= 0x80) {
                    cuts.push(i + 1);
                }
                if n > 4 {
                    let seed = bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
                        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
                    });
                    cuts.push(2 + (seed as usize) % (n - 3));
                }
                cuts.retain(|c| *c > 0 && *c < n);
                cuts.sort_unstable();
                cuts.dedup();
                cuts
            }
        }
    }
}

/// Something the runner sent, kept for the report and the `jim-client` reproduction.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Sent {
    /// A JSON value (written compact with the run's framing).
    Json(Value),
    /// Raw bytes, shown with escapes.
    Raw(String),
}

/// What a read produced.
#[derive(Debug, Clone)]
pub enum Arrival {
    /// A JSON value.
    Value {
        /// The value.
        value: Value,
        /// The bytes it came from, shown with escapes.
        raw: String,
        /// Whether a newline followed it in the same read (None: nothing followed yet).
        newline_after: Option<bool>,
        /// It began in the same read as the end of the value before it: the peer wrote both at
        /// once (or did not wait between them).
        same_read: bool,
    },
    /// Bytes that are not a JSON value.
    Bad {
        /// What kind of problem.
        kind: FrameProblem,
        /// The decoder's explanation.
        detail: String,
        /// The offending bytes and what follows them, shown with escapes.
        text: String,
    },
    /// The peer closed the connection (FIN) or reset it (RST).
    Closed {
        /// True for a reset.
        reset: bool,
    },
    /// Nothing arrived before the deadline.
    Nothing,
}

/// Why a connection could not be opened.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    /// Nobody listens there.
    #[error("connection refused: server down? ({addr})")]
    Refused {
        /// The address.
        addr: SocketAddr,
    },
    /// The connect did not complete in time.
    #[error("connect to {addr} timed out after {ms} ms")]
    Timeout {
        /// The address.
        addr: SocketAddr,
        /// The timeout.
        ms: u128,
    },
    /// Another socket error.
    #[error("cannot connect to {addr}: {message}")]
    Other {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        message: String,
    },
}

/// Opens a TCP connection with a timeout.
pub async fn connect(addr: SocketAddr, limit: Duration) -> Result<TcpStream, ConnectError> {
    match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
        Err(_) => Err(ConnectError::Timeout { addr, ms: limit.as_millis() }),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(ConnectError::Refused { addr })
        }
        Ok(Err(e)) => Err(ConnectError::Other { addr, message: e.to_string() }),
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
    }
}

/// One connection under test.
#[derive(Debug)]
pub struct Conn {
    stream: Option<TcpStream>,
    buf: BytesMut,
    decoder: FrameDecoder,
    eof: bool,
    reset: bool,
    /// Reads that returned bytes so far.
    reads: u64,
    /// `reads` when the previous value was taken out (None before the first value).
    reads_at_last_value: Option<u64>,
    /// Bytes received on this connection.
    received: u64,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Where reads ended, to tell how each value arrived (§framing W3).
    read_log: ReadLog,
    /// How the last value returned by [`Conn::next`] arrived.
    last_pieces: Option<Pieces>,
    /// Everything sent on this connection, in order (bounded).
    pub sent: Vec<Sent>,
    /// A wait for a value ends early once the target is idle ([`crate::idle`]).
    watch: Option<Watch>,
}

const MAX_SENT_KEPT: usize = 64;

impl Conn {
    /// Wraps a connected stream (one the runner accepted, or opened itself).
    pub fn new(stream: TcpStream) -> Self {
        Self {
            stream: Some(stream),
            buf: BytesMut::new(),
            decoder: FrameDecoder::new(MAX_VALUE_BYTES),
            eof: false,
            reset: false,
            reads: 0,
            reads_at_last_value: None,
            received: 0,
            _permit: None,
            read_log: ReadLog::default(),
            last_pieces: None,
            sent: Vec::new(),
            watch: None,
        }
    }

    /// Ends every later wait for a value as soon as the watched target is idle for its grace
    /// ([`crate::idle`]): what would otherwise wait out the deadline for a reply that cannot come.
    pub fn watch(&mut self, watch: Option<Watch>) {
        self.watch = watch;
    }

    /// Opens a connection to `addr`, within the runner's caps on open connections and on the
    /// connect rate (waiting for a slot counts against `limit`).
    pub async fn open(addr: SocketAddr, limit: Duration) -> Result<Self, ConnectError> {
        let started = Instant::now();
        let Some(permit) = connect_permit(addr, limit).await else {
            return Err(ConnectError::Other {
                addr,
                message: format!(
                    "the runner's own cap of {MAX_OPEN_CONNECTIONS} open connections to one target did not free a slot within {} ms",
                    limit.as_millis()
                ),
            });
        };
        let left = limit.saturating_sub(started.elapsed()).max(Duration::from_millis(50));
        let mut conn = Self::new(connect(addr, left).await?);
        conn._permit = Some(permit);
        Ok(conn)
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The start of a value that has begun to arrive but is not complete, shown with escapes.
    pub fn pending_preview(&self) -> Option<String> {
        if self.decoder.in_value() && !self.buf.is_empty() {
            Some(preview(&self.buf))
        } else {
            None
        }
    }

    /// True once the peer closed and every buffered value was taken.
    pub fn is_closed(&self) -> bool {
        self.stream.is_none() || (self.eof && self.buf.iter().all(|b| b.is_ascii_whitespace()))
    }

    /// Records a sent item for the report (only the first 64 are kept).
    pub fn record(&mut self, item: Sent) {
        if self.sent.len() < MAX_SENT_KEPT {
            self.sent.push(item);
        }
    }

    /// Writes `bytes` with the delivery mode at the default pace, before `deadline`.
    pub async fn write(
        &mut self,
        bytes: &[u8],
        delivery: Delivery,
        deadline: Instant,
    ) -> std::io::Result<()> {
        self.write_paced(bytes, delivery, Pace::default(), deadline).await
    }

    /// Writes `bytes` with the delivery mode, its pieces `pace` apart, before `deadline`.
    pub async fn write_paced(
        &mut self,
        bytes: &[u8],
        delivery: Delivery,
        pace: Pace,
        deadline: Instant,
    ) -> std::io::Result<()> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "connection already closed",
            ));
        };
        let cuts = delivery.cut_points(bytes);
        let pieces = cuts.len();
        let mut watch = !pace.read_wait.is_zero() && delivery != Delivery::Whole;
        let mut read_seen = false;
        let mut deadline = deadline;
        let mut start = 0;
        for end in cuts.into_iter().chain(std::iter::once(bytes.len())) {
            let piece = &bytes[start..end];
            let write = async {
                stream.write_all(piece).await?;
                stream.flush().await
            };
            match timeout_at(deadline, write).await {
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the target does not read what we send",
                    ));
                }
                Ok(r) => r?,
            }
            start = end;
            if start >= bytes.len() {
                break;
            }
            if watch {
                let began = Instant::now();
                let seen = read_by_peer(&*stream, pace.read_wait).await;
                deadline += began.elapsed();
                // A trickle needs one incomplete read (its first byte); a target that does not
                // read in time, or one the system does not show, gets the timed pauses.
                watch = seen == Seen::Read && delivery == Delivery::Split;
                read_seen = seen == Seen::Read;
            }
            let pause = if read_seen {
                Pace::default().pause(delivery, pieces)
            } else {
                pace.pause(delivery, pieces)
            };
            sleep(pause).await;
        }
        Ok(())
    }

    /// Waits until the target has read everything written on this connection, at most `cap`
    /// ([`crate::peer_read`]).
    pub async fn until_read(&self, cap: Duration) -> Seen {
        match self.stream.as_ref() {
            Some(stream) => read_by_peer(stream, cap).await,
            None => Seen::Unknown,
        }
    }

    /// The next item from the peer, waiting at most until `deadline`.
    pub async fn next(&mut self, deadline: Instant) -> Arrival {
        loop {
            if let Some(item) = self.decoder.next_raw(&mut self.buf, self.eof) {
                if let Ok(raw) = &item {
                    self.last_pieces = Some(self.read_log.on_value(raw.len(), self.buf.len()));
                }
                let same_read = self.reads_at_last_value == Some(self.reads);
                self.reads_at_last_value = Some(self.reads);
                return match item.and_then(parse_raw_keep) {
                    Ok((value, raw)) => {
                        let newline_after = self.buf.first().map(|b| *b == b'\n' || *b == b'\r');
                        Arrival::Value { value, raw, newline_after, same_read }
                    }
                    Err(e) => self.bad(&e),
                };
            }
            if self.eof {
                return Arrival::Closed { reset: self.reset };
            }
            let Some(stream) = self.stream.as_mut() else {
                return Arrival::Closed { reset: false };
            };
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16 * 1024);
            }
            let read = timeout_at(deadline, stream.read_buf(&mut self.buf));
            let read = match self.watch {
                // Reading is cancel-safe: a read that loses the race took no bytes.
                Some(watch) => tokio::select! {
                    r = read => r.ok(),
                    () = watch.idle() => None,
                },
                None => read.await.ok(),
            };
            match read {
                None => return Arrival::Nothing,
                Some(Ok(0)) => self.eof = true,
                Some(Ok(n)) => {
                    self.read_log.on_read(n);
                    self.reads += 1;
                    self.received += n as u64;
                }
                Some(Err(e)) => {
                    self.eof = true;
                    self.reset = matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                    );
                }
            }
        }
    }

    /// How the last value [`Conn::next`] returned arrived: in how many reads, and whether in
    /// the same read as the value before it (see [`crate::read_log`]).
    pub fn last_pieces(&self) -> Option<Pieces> {
        self.last_pieces
    }

    /// Keeps reading until `until` without taking values out: what arrives stays for the next
    /// [`Conn::next`], with its read boundaries recorded, as a client that reads all the time
    /// would see them. Stops early at end of stream or when [`LISTEN_MAX_BYTES`] are buffered.
    pub async fn listen(&mut self, until: Instant) {
        while !self.eof && self.buf.len() < LISTEN_MAX_BYTES {
            let Some(stream) = self.stream.as_mut() else { return };
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16 * 1024);
            }
            match timeout_at(until, stream.read_buf(&mut self.buf)).await {
                Err(_) => return,
                Ok(Ok(0)) => self.eof = true,
                Ok(Ok(n)) => self.read_log.on_read(n),
                Ok(Err(e)) => {
                    self.eof = true;
                    self.reset = matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                    );
                }
            }
        }
    }

    fn bad(&self, e: &FrameError) -> Arrival {
        let kind = match e {
            FrameError::Syntax { .. } => FrameProblem::NotJson,
            FrameError::InvalidUtf8 { .. } => FrameProblem::NotUtf8,
            FrameError::Oversize { .. } => FrameProblem::Oversize,
            FrameError::Truncated { .. } => FrameProblem::Truncated,
        };
        let mut bytes = e.raw().to_vec();
        bytes.extend(self.buf.iter().take(120));
        let text = if bytes.is_empty() {
            match e {
                FrameError::Oversize { preview, .. } => preview.clone(),
                _ => String::new(),
            }
        } else {
            preview(&bytes)
        };
        Arrival::Bad { kind, detail: e.to_string(), text }
    }

    /// Closes the connection: orderly, with a reset, or by shutting down the write side only.
    pub async fn disconnect(&mut self, kind: crate::model::DisconnectKind) {
        use crate::model::DisconnectKind;
        match kind {
            DisconnectKind::Close => {
                if let Some(mut s) = self.stream.take() {
                    let _ = tokio::time::timeout(Duration::from_millis(200), s.shutdown()).await;
                }
            }
            DisconnectKind::Reset => {
                if let Some(s) = self.stream.take() {
                    let _ = s.set_zero_linger();
                    drop(s);
                }
            }
            DisconnectKind::ShutdownWrite => {
                if let Some(s) = self.stream.as_mut() {
                    let _ = tokio::time::timeout(Duration::from_millis(200), s.shutdown()).await;
                }
            }
        }
    }
}

fn parse_raw_keep(raw: bytes::Bytes) -> Result<(Value, String), FrameError> {
    let shown = preview(&raw);
    parse_raw(raw).map(|v| (v, shown))
}

/// Waits until the target has read everything written on `stream`, at most `cap`.
async fn read_by_peer(stream: &TcpStream, cap: Duration) -> Seen {
    match (stream.local_addr(), stream.peer_addr()) {
        (Ok(local), Ok(peer)) => crate::peer_read::until_read(local, peer, cap).await,
        _ => Seen::Unknown,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn split_cuts_inside_a_multibyte_character() {
        let msg = "{\"m\":\"я\"}".as_bytes();
        let cuts = Delivery::Split.cut_points(msg);
        let i = msg.iter().position(|b| *b >= 0x80).unwrap();
        assert!(cuts.contains(&(i + 1)));
        assert_eq!(Delivery::Trickle.cut_points(b"abc"), vec![1, 2]);
        assert!(Delivery::Whole.cut_points(b"abc").is_empty());
    }

    #[tokio::test]
    async fn reads_values_and_reports_close() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"{\"response\":200}\n{\"a\":").await.unwrap();
            s.write_all(b"1}message received").await.unwrap();
        });
        let mut c = Conn::open(addr, Duration::from_secs(2)).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        assert!(
            matches!(c.next(deadline).await, Arrival::Value { ref value, newline_after: Some(true), .. } if value["response"] == 200)
        );
        assert!(
            matches!(c.next(deadline).await, Arrival::Value { ref value, .. } if value["a"] == 1)
        );
        server.await.unwrap();
        match c.next(deadline).await {
            Arrival::Bad { kind, text, .. } => {
                assert_eq!(kind, FrameProblem::NotJson);
                assert!(text.contains("message"), "{text}");
            }
            other => panic!("{other:?}"),
        }
        let _ = c.next(deadline).await;
        assert!(matches!(c.next(deadline).await, Arrival::Closed { reset: false }));
    }

    #[test]
    fn pieces_follow_the_measured_turn_of_a_slow_loop_and_stay_bounded() {
        // A fast target keeps today's pauses: its runs are not slower.
        let quick = Pace::for_turn(Duration::from_millis(2));
        assert!(!quick.is_adapted());
        assert_eq!((quick.split, quick.trickle_span), (SPLIT_PAUSE, Duration::ZERO));
        assert_eq!(quick.between_writes, SPLIT_PAUSE);
        assert_eq!(Pace::default().between_writes, Duration::ZERO, "client mode: no gap");
        let fast = Pace::default();
        assert_eq!(fast.pause(Delivery::Split, 4), SPLIT_PAUSE);
        assert_eq!(fast.pause(Delivery::Trickle, 100), TRICKLE_PAUSE);
        assert_eq!(fast.allowance(Delivery::Split, 4), Delivery::Split.pacing(4));
        // A 0.3 s turn: split pieces 0.45 s apart (each in a read of its own), a trickle
        // spread over 0.45 s (longer than a turn: some read sees half a message).
        let slow = Pace::for_turn(Duration::from_millis(300));
        assert!(slow.is_adapted());
        assert_eq!(slow.pause(Delivery::Split, 4), Duration::from_millis(450));
        assert_eq!(slow.between_writes, Duration::from_millis(450));
        let per_byte = slow.pause(Delivery::Trickle, 90);
        assert_eq!(per_byte, Duration::from_millis(5));
        assert!(per_byte * 90 > Duration::from_millis(300));
        assert_eq!(slow.pause(Delivery::Whole, 4), Duration::ZERO);
        // A very slow one is capped.
        let crawl = Pace::for_turn(Duration::from_secs(30));
        assert_eq!(crawl.split, MAX_SPLIT_PAUSE);
        assert_eq!(crawl.trickle_span, MAX_TRICKLE_SPAN);
    }
}
