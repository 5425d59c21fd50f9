//! `send`: the raw reproduction tool. Sends each JSON argument (or `--raw` bytes) as its own
//! write and prints every value that comes back with its arrival time.
//!
//! This is the command the conformance runner prints in its failure reports, so its syntax is
//! kept simple and stable: `jim-client send HOST PORT 'JSON' 'JSON' ...`. Before each next
//! message it waits until something arrives or `--gap` passes, so two messages never reach the
//! server in one read by accident (only `--coalesce` does that, on purpose). After the last
//! write it keeps reading for `--wait`, or until the server closes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::ServerAddr;
use crate::connection::{Arrival, Connection, Delivery, Incoming, Reader};
use crate::error::{ClientError, ExitStatus};
use crate::output::{Format, LineSink, arrival_human, arrival_json, eprint_line, lang};
use crate::say::{Say, said};
use jim_protocol::Framing;
use jim_text::Lang;

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// JSON text, sent as typed (followed by `\n` unless the framing is bare).
    Json(String),
    /// Bytes sent exactly as given.
    Raw(Vec<u8>),
}

impl Outgoing {
    /// A JSON argument, checked to be one valid JSON value.
    pub fn json(text: &str, position: usize) -> Result<Self, ClientError> {
        match serde_json::from_str::<Value>(text) {
            Ok(_) => Ok(Self::Json(text.to_owned())),
            Err(e) => Err(ClientError::Usage(crate::output::lang().say(&Say::NotJson {
                position,
                line: e.line(),
                column: e.column(),
                detail: e.to_string(),
                text: text.to_owned(),
            }))),
        }
    }

    fn bytes(&self, framing: Framing) -> Vec<u8> {
        match self {
            Self::Json(text) => {
                let mut b = text.as_bytes().to_vec();
                if framing == Framing::Newline {
                    b.push(b'\n');
                }
                b
            }
            Self::Raw(bytes) => bytes.clone(),
        }
    }

    fn event(&self, ms: u128, format: Format) -> String {
        match (self, format) {
            (Self::Json(text), Format::Human) => format!("+{ms} ms  > {text}"),
            (Self::Raw(b), Format::Human) => {
                format!("+{ms} ms  > raw {}", jim_protocol::error::preview(b))
            }
            (Self::Json(text), Format::Json) => {
                let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                json!({"ms": ms as u64, "dir": "out", "value": value}).to_string()
            }
            (Self::Raw(b), Format::Json) => json!({
                "ms": ms as u64, "dir": "out",
                "raw": String::from_utf8_lossy(b), "preview": jim_protocol::error::preview(b),
            })
            .to_string(),
        }
    }
}

/// What `send` needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the server is.
    pub server: ServerAddr,
    /// The messages, in order.
    pub messages: Vec<Outgoing>,
    /// What follows each JSON message.
    pub framing: Framing,
    /// How each message is cut into writes.
    pub delivery: Delivery,
    /// Send all messages in one write.
    pub coalesce: bool,
    /// Between two messages: wait until something arrives, at most this long.
    pub gap: Duration,
    /// After the last write: keep reading this long (or until the server closes).
    pub wait: Duration,
    /// Stop reading after this many bytes.
    pub max_bytes: u64,
    /// Bound on connecting.
    pub timeout: Duration,
    /// Human or JSON output.
    pub format: Format,
}

/// Runs `send`; returns the exit status (0 all sent, 1 not all sent, 2 usage, 3 unreachable).
pub async fn run(opts: &Options, out: &mut dyn LineSink) -> ExitStatus {
    let conn = match Connection::connect(&opts.server.host, opts.server.port, opts.timeout).await {
        Ok(c) => c,
        Err(e) => {
            crate::output::eprint_error(&e);
            if opts.format == Format::Json {
                out.line(&json!({"event": "error", "error": e.to_string()}).to_string());
            }
            return e.exit_status();
        }
    };
    let Connection { mut reader, mut writer } = conn;
    // The bound holds inside one value too: a server flooding one endless value is read no
    // further than --max-bytes.
    reader.set_max_total_bytes(opts.max_bytes.saturating_add(1));
    writer.set_framing(opts.framing);
    writer.set_delivery(opts.delivery);
    let peer = reader.peer();
    if opts.format == Format::Human {
        out.line(&lang().say(&Say::Connected { peer: peer.to_string() }));
    }
    let mut session =
        Printer { out, format: opts.format, closed: false, max_bytes: opts.max_bytes };

    let batches: Vec<Vec<&Outgoing>> = if opts.coalesce {
        vec![opts.messages.iter().collect()]
    } else {
        opts.messages.iter().map(|m| vec![m]).collect()
    };
    let mut sent = 0usize;
    let mut failure: Option<ClientError> = None;
    for (i, batch) in batches.iter().enumerate() {
        if session.closed {
            break;
        }
        let bytes: Vec<u8> = batch.iter().flat_map(|m| m.bytes(opts.framing)).collect();
        let at = writer.elapsed().as_millis();
        for m in batch {
            session.out.line(&m.event(at, opts.format));
        }
        let n = sent + 1;
        let doing = said(format!("sending message {n}"), format!("отправка сообщения {n}"));
        if let Err(e) = writer.send_bytes(&bytes, &doing).await {
            failure = Some(e);
            break;
        }
        sent += batch.len();
        if i + 1 < batches.len() && session.drain(&mut reader, opts.gap, true).await.is_err() {
            break;
        }
    }
    if let Some(f) = &failure {
        session.note(&|lang| Say::WriteFailed { error: lang.say(f) });
    }
    let _ = session.drain(&mut reader, opts.wait, false).await;
    if !session.closed {
        let reason = if reader.total_bytes() > opts.max_bytes {
            Say::StoppedAtMaxBytes { bytes: reader.total_bytes() }
        } else {
            Say::NothingMore { wait: opts.wait }
        };
        session.end(reader.elapsed().as_millis(), &reason);
    }
    let unsent = opts.messages.len() - sent;
    if unsent > 0 {
        session.note(&|_| Say::Unsent { count: unsent });
        ExitStatus::Failure
    } else {
        ExitStatus::Ok
    }
}

struct Printer<'a> {
    out: &'a mut dyn LineSink,
    format: Format,
    closed: bool,
    max_bytes: u64,
}

impl Printer<'_> {
    fn arrival(&mut self, a: &Arrival) {
        let line = match self.format {
            Format::Human => arrival_human(a),
            Format::Json => arrival_json(a).to_string(),
        };
        self.out.line(&line);
        if matches!(a.item, Incoming::Closed { .. }) {
            self.closed = true;
        }
    }

    /// A note: in `--lang` on stderr, in English in the JSON output.
    fn note(&mut self, say: &dyn Fn(Lang) -> Say) {
        match self.format {
            Format::Human => {
                let lang = lang();
                eprint_line(&format!("jim-client: {}", lang.say(&say(lang))));
            }
            Format::Json => {
                let text = Lang::En.say(&say(Lang::En));
                self.out.line(&json!({"event": "note", "note": text}).to_string());
            }
        }
    }

    fn end(&mut self, ms: u128, reason: &Say) {
        match self.format {
            Format::Human => self.out.line(&format!("+{ms} ms  ({})", lang().say(reason))),
            Format::Json => {
                let reason = Lang::En.say(reason);
                self.out
                    .line(&json!({"ms": ms as u64, "event": "end", "reason": reason}).to_string())
            }
        };
    }

    /// An error as a note (in `--lang` for people, English in JSON).
    fn note_error(&mut self, e: &ClientError) {
        match self.format {
            Format::Human => crate::output::eprint_error(e),
            Format::Json => {
                self.out.line(&json!({"event": "note", "note": e.to_string()}).to_string());
            }
        }
    }

    /// Prints what arrives for up to `limit`; with `until_first`, returns after the first item
    /// (and whatever arrived with it). `Err` when reading must stop (closed, error, byte limit).
    async fn drain(
        &mut self,
        reader: &mut Reader,
        limit: Duration,
        until_first: bool,
    ) -> Result<(), ()> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut got_one = false;
        loop {
            if self.closed || reader.total_bytes() > self.max_bytes {
                return Err(());
            }
            let next = if got_one {
                reader.next(Duration::ZERO).await
            } else {
                reader.next_until(deadline).await
            };
            match next {
                Ok(Some(a)) => {
                    self.arrival(&a);
                    got_one = until_first;
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.note_error(&e);
                    self.closed = true;
                    return Err(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::output::Lines;

    /// Issue 16 item 9: `--max-bytes` holds inside one value. A server that floods one endless
    /// string (up to 64 MB here) is read no further than the bound (0.37 to 5.15 GB were read
    /// before, since one value never ended).
    #[tokio::test]
    async fn max_bytes_bounds_one_endless_value() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let chunk = vec![b'x'; 1 << 16];
            let _ = s.write_all(b"\"").await;
            for _ in 0..1024 {
                if s.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        });
        let opts = Options {
            server: ServerAddr { host: "127.0.0.1".into(), port },
            messages: vec![Outgoing::Json("{\"action\":\"fly\"}".into())],
            framing: Framing::Newline,
            delivery: Delivery::Whole,
            coalesce: false,
            gap: Duration::from_millis(100),
            wait: Duration::from_secs(3),
            max_bytes: 100_000,
            timeout: Duration::from_secs(5),
            format: Format::Json,
        };
        let mut out = Lines::default();
        run(&opts, &mut out).await;
        server.abort();
        let end = out.0.iter().find(|l| l.contains("\"event\":\"end\"")).unwrap();
        let read: u64 = end
            .split("stopped reading after ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{end}"));
        assert!(read <= 100_001, "read {read} bytes with --max-bytes 100000");
    }
}
