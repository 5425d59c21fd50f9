//! The correct encoder and writer: how the server turns messages into bytes and bytes into
//! writes, on the plain path.
//!
//! [`Encoder`] writes the messages a busy server writes most (relays, plain responses, probes,
//! lists) straight into bytes ([`crate::render`]) and everything else from its JSON value, in the
//! configured framing. [`flush`] and [`try_flush`] write what an [`Outbox`] holds: the values
//! queued together go out in one `write`/`writev`, split only where a value
//! [`Queued::starts_write`] (PROTOCOL.md `§framing` W3), and every byte the client takes counts as
//! its progress. Nothing here knows about `--misbehave`: the deliberate defects wrap this writer
//! from outside ([`crate::misbehave::Wire`]).

use std::io::IoSlice;

use bytes::{Bytes, BytesMut};
use jim_protocol::codec::encode_value;
use jim_protocol::{Dialect, Framing, Message, ResponseCode, Timestamp};
use serde_json::Value;
use tokio::net::TcpStream;

use crate::state::{Outbox, Queued};

/// Scratch space kept for encoding; a larger one is not kept.
const SCRATCH_BYTES: usize = 4096;

thread_local! {
    /// Where values are encoded before they are copied into a buffer of exactly their size.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `encode` on this thread's scratch buffer and, if it says it wrote a value, copies that
/// into a buffer of its own, exactly as large as the value: a queued reply holds no slack (10,000
/// connections each with a reply in flight add up) and the encoder never regrows a small buffer.
fn with_scratch(encode: impl FnOnce(&mut Vec<u8>) -> bool) -> Option<Bytes> {
    SCRATCH.with(|scratch| {
        let Ok(mut out) = scratch.try_borrow_mut() else {
            // Re-entered (cannot happen: encoders do not encode): use a fresh buffer.
            let mut out = Vec::new();
            return encode(&mut out).then(|| Bytes::from(out));
        };
        out.clear();
        let wrote = encode(&mut out).then(|| Bytes::copy_from_slice(&out));
        if out.capacity() > SCRATCH_BYTES {
            *out = Vec::new();
        }
        wrote
    })
}

/// The correct encoder: compact JSON in the configured framing, byte for byte what encoding each
/// message's value (`Message::to_value`) gives.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Encoder {
    /// How each value ends on the wire.
    pub framing: Framing,
}

impl Encoder {
    /// One message rendered in `dialect`, in a buffer of its own (the usual shapes skip the JSON
    /// tree).
    pub fn message(&self, message: &Message, dialect: Dialect) -> Bytes {
        with_scratch(|out| crate::render::encode(message, dialect, self.framing, out))
            .unwrap_or_else(|| self.value(&message.to_value(dialect)))
    }

    /// A plain response with `text`, stamped now (the 200 of every message and presence costs
    /// no allocation beyond its bytes).
    pub fn response(&self, code: ResponseCode, text: &str) -> Bytes {
        let time = Some(Timestamp::now());
        with_scratch(|out| {
            crate::render::response(code, time, Some(text), self.framing, out);
            true
        })
        .unwrap_or_default()
    }

    /// A 202 list whose names are `array` (a JSON array already encoded), stamped now.
    pub fn list(&self, dialect: Dialect, array: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(array.len() + 64);
        crate::render::list(Some(Timestamp::now()), dialect, array, self.framing, &mut out);
        Bytes::from(out)
    }

    /// One value, in a buffer of its own.
    pub fn value(&self, value: &Value) -> Bytes {
        let mut out = BytesMut::new();
        encode_value(value, self.framing, &mut out);
        out.freeze()
    }
}

/// Writes every queued value: the values already queued go out together, one write for all of
/// them (a connection that keeps up has one value queued and gets one value per write), split
/// only where a value [`Queued::starts_write`] (PROTOCOL.md `§framing` W3). Returns whether
/// anything was written; stops early when the connection is kicked.
pub(crate) async fn flush(stream: &TcpStream, outbox: &Outbox) -> std::io::Result<bool> {
    let mut wrote = false;
    loop {
        let mut batch = outbox.take();
        if batch.is_empty() || outbox.is_kicked() {
            return Ok(wrote);
        }
        let mut values = &batch.make_contiguous()[..];
        while !values.is_empty() {
            let (now, later) = values.split_at(first_write(values));
            write_all_of(stream, now, outbox).await?;
            wrote = true;
            values = later;
        }
    }
}

/// How many of the values at the front of a queue go out in one write: all of them, up to the
/// next value that must start a write of its own ([`Queued::starts_write`]).
pub(crate) fn first_write(values: &[Queued]) -> usize {
    values.iter().skip(1).position(|q| q.starts_write).map_or(values.len(), |i| i + 1)
}

/// Most buffers handed to one `writev`.
const MAX_IOV: usize = 64;

/// Writes the values of `batch` back to back: one `write` for a single value, one `writev` for
/// several (more only when the kernel takes part of them, or past [`MAX_IOV`] values). Each
/// write that takes bytes is progress for `outbox`.
async fn write_all_of(
    stream: &TcpStream,
    batch: &[Queued],
    outbox: &Outbox,
) -> std::io::Result<()> {
    // The first value not written completely, and how much of it was written.
    let (mut first, mut skip) = (0, 0);
    while first < batch.len() {
        match write_some(stream, &batch[first..], skip)? {
            0 => stream.writable().await?,
            written => {
                outbox.wrote(written);
                (first, skip) = step_over(batch, first, skip, written);
            }
        }
    }
    Ok(())
}

/// One `write` (one value) or `writev` (several) of `values`, the first from byte `skip` on, as
/// far as the socket takes them now; the bytes written, 0 when the socket is full (tried first:
/// the socket is usually writable, and then no readiness future is needed).
fn write_some(stream: &TcpStream, values: &[Queued], skip: usize) -> std::io::Result<usize> {
    let result = match values {
        [] => return Ok(0),
        [one] => stream.try_write(&one.bytes[skip..]),
        several => {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let mut n = 0;
            for (slot, queued) in iov.iter_mut().zip(several) {
                *slot = IoSlice::new(if n == 0 { &queued.bytes[skip..] } else { &queued.bytes });
                n += 1;
            }
            stream.try_write_vectored(&iov[..n])
        }
    };
    match result {
        Ok(0) => Err(std::io::ErrorKind::WriteZero.into()),
        Ok(written) => Ok(written),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

/// Where writing `values` stands after `written` more bytes from (`first`, `skip`): the first
/// value not written completely, and how much of it is.
fn step_over(values: &[Queued], mut first: usize, skip: usize, written: usize) -> (usize, usize) {
    let mut left = written + skip;
    while let Some(queued) = values.get(first) {
        if left < queued.bytes.len() {
            return (first, left);
        }
        left -= queued.bytes.len();
        first += 1;
    }
    (first, 0)
}

/// The correct path's flush without waiting: writes what is queued, batched as in [`flush`],
/// as far as the socket takes it now. `Ok(true)`: nothing is left (or the connection was
/// kicked). `Ok(false)`: the socket is full, and the rest went back to the front of the queue
/// for [`flush`], which waits for the socket. A busy connection thus writes without creating
/// (and allocating) the machinery of a write that waits.
pub(crate) fn try_flush(stream: &TcpStream, outbox: &Outbox) -> std::io::Result<bool> {
    loop {
        let mut batch = outbox.take();
        if batch.is_empty() || outbox.is_kicked() {
            return Ok(true);
        }
        let values = batch.make_contiguous();
        let mut start = 0;
        while start < values.len() {
            let end = start + first_write(&values[start..]);
            let written = write_some(stream, &values[start..end], 0)?;
            outbox.wrote(written);
            let (first, skip) = step_over(&values[..end], start, 0, written);
            if first == end {
                start = end;
                continue;
            }
            // The socket is full: the unwritten rest goes back, first the part of a value.
            let mut rest = batch.split_off(first);
            if let Some(partial) = rest.front_mut() {
                partial.bytes = partial.bytes.slice(skip..);
                partial.starts_write = false;
            }
            outbox.requeue(rest);
            return Ok(false);
        }
    }
}

/// Writes all of `bytes` to a stream shared with the reader.
pub(crate) async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        // Try first: the socket is usually writable, and then no readiness future is needed.
        match stream.try_write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => stream.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    /// A batch larger than the socket takes at once, and than one `writev` carries, arrives whole
    /// and in order.
    #[tokio::test]
    async fn a_large_batch_is_written_whole_and_in_order() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let values: Vec<Queued> = (0..3 * MAX_IOV)
            .map(|i| Queued {
                bytes: bytes::Bytes::from(format!("{i}:{}\n", "x".repeat(i * 97 % 5000))),
                starts_write: false,
            })
            .collect();
        let expected: Vec<u8> = values.iter().flat_map(|q| q.bytes.to_vec()).collect();
        let reader = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut client = client;
            let mut got = Vec::new();
            let mut chunk = [0u8; 777];
            while got.len() < expected.len() {
                // A slow reader, so that the writer sees partial writes.
                tokio::time::sleep(Duration::from_micros(50)).await;
                let n = client.read(&mut chunk).await.unwrap();
                assert!(n > 0);
                got.extend_from_slice(&chunk[..n]);
            }
            assert!(got == expected, "bytes differ");
        });
        write_all_of(&server, &values, &Outbox::default()).await.unwrap();
        reader.await.unwrap();
    }
    /// When the socket fills up, the writing that cannot wait puts the unwritten rest back at
    /// the front of the queue (part of a value included), and the flush that waits completes
    /// it: the peer gets every byte once, in order.
    #[tokio::test]
    async fn a_full_socket_sends_the_rest_back_to_the_queue() {
        let listen = tokio::net::TcpSocket::new_v4().unwrap();
        listen.set_recv_buffer_size(4096).unwrap();
        listen.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = listen.listen(1).unwrap();
        let connect = tokio::net::TcpSocket::new_v4().unwrap();
        connect.set_send_buffer_size(4096).unwrap();
        let writer = connect.connect(listener.local_addr().unwrap()).await.unwrap();
        let (mut reader, _) = listener.accept().await.unwrap();
        writer.writable().await.unwrap();
        let outbox = Outbox::default();
        let mut expected = Vec::new();
        for i in 0..400 {
            let bytes = format!("{i}:{}\n", "y".repeat(1000 + i % 7));
            expected.extend_from_slice(bytes.as_bytes());
            outbox.push_own(bytes::Bytes::from(bytes), u64::MAX, &Default::default());
        }
        assert!(!try_flush(&writer, &outbox).unwrap(), "400 KB fitted in the socket");
        let left = outbox.len();
        assert!(left > 0 && left < 400, "{left} values left");
        let total = expected.len();
        let reading = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut got = vec![0u8; total];
            reader.read_exact(&mut got).await.unwrap();
            got
        });
        assert!(flush(&writer, &outbox).await.unwrap());
        assert_eq!(outbox.len(), 0);
        let got = tokio::time::timeout(Duration::from_secs(10), reading).await;
        assert!(got.expect("bytes went missing").unwrap() == expected, "bytes differ");
    }
}
