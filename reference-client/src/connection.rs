//! One TCP connection to a JIM server: connecting with a timeout, reading a *stream* of JSON
//! values, and writing one message per write (or split, trickled or coalesced on request).
//!
//! JIM has no framing (PROTOCOL.md `§framing`): a server may glue two replies into one read or
//! cut one across several. [`Reader`] feeds every byte to jim-protocol's [`JsonCodec`], so replies
//! come out as separate values however they arrived. Every read is bounded in size (the codec's
//! max message size) and in time (the caller's timeout), so a server that floods or hangs cannot
//! hang the client.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use jim_protocol::codec::to_bytes;
use jim_protocol::{FrameError, Framing, JsonCodec};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::Decoder;

use crate::error::ClientError;
use crate::say::Said;

/// How many bytes one socket read may add to the buffer.
const READ_CHUNK: usize = 8 * 1024;

/// How many received bytes are kept for error previews (the start of the conversation).
const TRANSCRIPT_BYTES: usize = 4 * 1024;

/// Default bound on a single write: a server that stops reading cannot block us longer.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected TCP stream, ready to be split into its [`Reader`] and [`Writer`].
#[derive(Debug)]
pub struct Connection {
    /// The receiving side.
    pub reader: Reader,
    /// The sending side.
    pub writer: Writer,
}

impl Connection {
    /// Resolves `host` and connects to the first address that accepts within `timeout`.
    pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<Self, ClientError> {
        let target = format_target(host, port);
        let addrs: Vec<SocketAddr> =
            match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
                Ok(Ok(addrs)) => addrs.collect(),
                Ok(Err(source)) => {
                    return Err(ClientError::Resolve { host: host.to_owned(), source });
                }
                Err(_) => return Err(ClientError::ConnectTimeout { target, after: timeout }),
            };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last_error = None;
        for addr in &addrs {
            match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => return Ok(Self::from_stream(stream, *addr)),
                Ok(Err(e)) => last_error = Some((addr, e)),
                Err(_) => return Err(ClientError::ConnectTimeout { target, after: timeout }),
            }
        }
        Err(match last_error {
            Some((addr, source)) => {
                let target =
                    if target == addr.to_string() { target } else { format!("{target} ({addr})") };
                ClientError::Connect { target, source }
            }
            None => ClientError::Resolve {
                host: host.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address found"),
            },
        })
    }

    /// Wraps an already connected stream (for tests and embedding).
    pub fn from_stream(stream: TcpStream, peer: SocketAddr) -> Self {
        // One message per write only means something if small writes are not held back.
        let _ = stream.set_nodelay(true);
        let started = Instant::now();
        let (read_half, write_half) = stream.into_split();
        Self {
            reader: Reader {
                half: read_half,
                codec: JsonCodec::new(),
                buf: BytesMut::with_capacity(READ_CHUNK),
                eof: false,
                peer,
                started,
                transcript: Vec::new(),
                total_bytes: 0,
                max_total_bytes: None,
            },
            writer: Writer {
                half: write_half,
                peer,
                started,
                framing: Framing::Newline,
                delivery: Delivery::Whole,
                write_timeout: DEFAULT_WRITE_TIMEOUT,
            },
        }
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.reader.peer
    }
}

/// `host:port`, with brackets around an IPv6 literal.
pub fn format_target(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// One item read from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A complete JSON value (any type: classifying it is the caller's business).
    Value(Value),
    /// Bytes that are not a JSON value: invalid JSON, invalid UTF-8, oversize or truncated.
    Bad(FrameError),
    /// The server closed the connection (`reset` when it was reset rather than closed).
    Closed {
        /// True for a connection reset (RST) rather than an orderly close.
        reset: bool,
    },
}

/// An [`Incoming`] item with the time it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// Time since the connection was made.
    pub at: Duration,
    /// What arrived.
    pub item: Incoming,
}

impl Arrival {
    /// Milliseconds since the connection was made.
    pub fn ms(&self) -> u128 {
        self.at.as_millis()
    }
}

/// The receiving side of a connection: a stream of [`Incoming`] items.
#[derive(Debug)]
pub struct Reader {
    half: OwnedReadHalf,
    codec: JsonCodec,
    buf: BytesMut,
    eof: bool,
    peer: SocketAddr,
    started: Instant,
    transcript: Vec<u8>,
    total_bytes: u64,
    /// Read no more than this many bytes in all (`None`: no bound).
    max_total_bytes: Option<u64>,
}

impl Reader {
    /// Stops reading after `max` bytes in all: once they are in, [`Reader::next`] returns what
    /// is already buffered and then `Ok(None)`, however much the server still sends (a server
    /// that floods one endless value cannot make the client read without end).
    pub fn set_max_total_bytes(&mut self, max: u64) {
        self.max_total_bytes = Some(max);
    }

    /// True once the bound of [`Reader::set_max_total_bytes`] is reached.
    pub fn limit_reached(&self) -> bool {
        self.max_total_bytes.is_some_and(|max| self.total_bytes >= max)
    }

    /// Sets the max message size (bytes); larger values arrive as [`FrameError::Oversize`].
    pub fn set_max_message_bytes(&mut self, max: usize) {
        self.codec = JsonCodec::new().with_max_message_bytes(max);
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Time since the connection was made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Total bytes received so far.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// True when bytes arrived that do not form a complete value yet.
    pub fn has_partial(&mut self) -> bool {
        self.codec.decoder_mut().in_value() || !self.buf.is_empty()
    }

    /// A printable preview of the first bytes received on this connection.
    pub fn transcript_preview(&self) -> String {
        jim_protocol::error::preview(&self.transcript)
    }

    /// The next item, or `Ok(None)` if nothing complete arrived within `timeout`.
    ///
    /// After the server closes, every call returns [`Incoming::Closed`].
    pub async fn next(&mut self, timeout: Duration) -> Result<Option<Arrival>, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        self.next_until(deadline).await
    }

    /// Like [`Reader::next`] with an absolute deadline.
    pub async fn next_until(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Arrival>, ClientError> {
        loop {
            if let Some(item) = self.decode_buffered() {
                return Ok(Some(self.stamp(item)));
            }
            if self.eof {
                return Ok(Some(self.stamp(Incoming::Closed { reset: false })));
            }
            let allowed = match self.max_total_bytes {
                Some(max) if self.total_bytes >= max => return Ok(None),
                Some(max) => (max - self.total_bytes).min(READ_CHUNK as u64),
                None => READ_CHUNK as u64,
            };
            self.buf.reserve(READ_CHUNK);
            let mut half = (&mut self.half).take(allowed);
            let read = tokio::time::timeout_at(deadline, half.read_buf(&mut self.buf)).await;
            match read {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => self.eof = true,
                Ok(Ok(n)) => {
                    self.total_bytes += n as u64;
                    let room = TRANSCRIPT_BYTES.saturating_sub(self.transcript.len());
                    let new = &self.buf[self.buf.len() - n..];
                    self.transcript.extend_from_slice(&new[..n.min(room)]);
                }
                Ok(Err(e)) if is_reset(&e) => {
                    self.eof = true;
                    self.buf.clear();
                    return Ok(Some(self.stamp(Incoming::Closed { reset: true })));
                }
                Ok(Err(source)) => {
                    return Err(ClientError::Io {
                        peer: self.peer,
                        doing: crate::say::said("reading", "чтение"),
                        source,
                    });
                }
            }
        }
    }

    /// Takes one complete item out of the buffer, if any.
    fn decode_buffered(&mut self) -> Option<Incoming> {
        // JsonCodec's decode never returns Err (its error type is only for I/O).
        let item = if self.eof {
            self.codec.decode_eof(&mut self.buf).ok().flatten()
        } else {
            self.codec.decode(&mut self.buf).ok().flatten()
        };
        item.map(|r| match r {
            Ok(value) => Incoming::Value(value),
            Err(e) => Incoming::Bad(e),
        })
    }

    fn stamp(&self, item: Incoming) -> Arrival {
        Arrival { at: self.started.elapsed(), item }
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
    )
}

/// How each message is cut into TCP writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// One write per message (the rule every well-behaved JIM peer follows).
    #[default]
    Whole,
    /// Writes of at most `size` bytes, with `pause` between them.
    Split {
        /// Bytes per write (at least 1).
        size: usize,
        /// Pause between two writes.
        pause: Duration,
    },
}

/// The sending side of a connection.
#[derive(Debug)]
pub struct Writer {
    half: OwnedWriteHalf,
    peer: SocketAddr,
    started: Instant,
    framing: Framing,
    delivery: Delivery,
    write_timeout: Duration,
}

impl Writer {
    /// Sets what follows each JSON message (`\n` by default).
    pub fn set_framing(&mut self, framing: Framing) {
        self.framing = framing;
    }

    /// Sets how messages are cut into writes.
    pub fn set_delivery(&mut self, delivery: Delivery) {
        self.delivery = delivery;
    }

    /// Sets the bound on one write.
    pub fn set_write_timeout(&mut self, timeout: Duration) {
        self.write_timeout = timeout;
    }

    /// The framing in use.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Time since the connection was made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The bytes [`Writer::send_value`] would write for `value`.
    pub fn encode(&self, value: &Value) -> Vec<u8> {
        to_bytes(value, self.framing)
    }

    /// Sends one JSON value as compact JSON plus the framing terminator, per the delivery mode.
    pub async fn send_value(&mut self, value: &Value, doing: &Said) -> Result<(), ClientError> {
        let bytes = self.encode(value);
        self.send_bytes(&bytes, doing).await
    }

    /// Sends bytes exactly as given, per the delivery mode.
    pub async fn send_bytes(&mut self, bytes: &[u8], doing: &Said) -> Result<(), ClientError> {
        match self.delivery {
            Delivery::Whole => self.write_once(bytes, doing).await,
            Delivery::Split { size, pause } => {
                let mut first = true;
                for piece in bytes.chunks(size.max(1)) {
                    if !first && !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                    first = false;
                    self.write_once(piece, doing).await?;
                }
                Ok(())
            }
        }
    }

    /// Writes `bytes` in one `write` call sequence (one segment with TCP_NODELAY), bounded in time.
    pub async fn write_once(&mut self, bytes: &[u8], doing: &Said) -> Result<(), ClientError> {
        let write = async {
            self.half.write_all(bytes).await?;
            self.half.flush().await
        };
        match tokio::time::timeout(self.write_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => {
                Err(ClientError::Io { peer: self.peer, doing: doing.clone(), source })
            }
            Err(_) => Err(ClientError::WriteTimeout {
                peer: self.peer,
                doing: doing.clone(),
                after: self.write_timeout,
            }),
        }
    }

    /// Closes the sending side (the server sees end of stream); errors are ignored.
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.half.shutdown()).await;
    }
}
