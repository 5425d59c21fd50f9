//! The load engine's side of the wire: connecting, framing, building requests and reading
//! replies fast.
//!
//! Requests are built once with jim-protocol's message builders and encoder, then reused: a
//! chat message template carries a fixed-width tag (`L<sender>:<seq>:`) that is stamped in place
//! for each message, so the generator spends its time on the socket, not on JSON. Replies are
//! framed by jim-protocol's [`FrameDecoder`] and classified by a borrowed, allocation-free serde
//! pass; anything unusual falls back to jim-protocol's tolerant reader.

use crate::problem::Problem;
use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use jim_protocol::codec::{Framing, parse_raw, to_bytes};
use jim_protocol::message::{
    Chat, Dialect, Message, Presence, Quit, RoomRequest, Target, Timestamp,
};
use jim_protocol::scan::find_not_plain_ascii;
use jim_protocol::{FrameDecoder, FrameError};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound on one incoming value; a longer one is reported as a bad frame and skipped.
pub(crate) const MAX_FRAME_BYTES: usize = 64 * 1024;
/// How much buffer space each read asks for.
const READ_CHUNK: usize = 16 * 1024;

/// Opens a TCP connection with Nagle off (each request is one write and should leave at once).
pub(crate) async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A read buffer plus the frame decoder for one connection.
#[derive(Debug)]
pub(crate) struct Inbox {
    buf: BytesMut,
    decoder: FrameDecoder,
    eof: bool,
}

impl Default for Inbox {
    fn default() -> Self {
        Self { buf: BytesMut::new(), decoder: FrameDecoder::new(MAX_FRAME_BYTES), eof: false }
    }
}

impl Inbox {
    /// The next complete frame already buffered, if any.
    pub(crate) fn buffered(&mut self) -> Option<Result<Bytes, FrameError>> {
        self.decoder.next_raw(&mut self.buf, self.eof)
    }

    /// Reads once from `reader` into the buffer; `Ok(false)` at end of stream.
    pub(crate) async fn fill<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        self.buf.reserve(READ_CHUNK);
        let n = reader.read_buf(&mut self.buf).await?;
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// The next frame, reading as needed; `Ok(None)` at end of stream.
    pub(crate) async fn next<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
    ) -> io::Result<Option<Result<Bytes, FrameError>>> {
        loop {
            if let Some(frame) = self.buffered() {
                return Ok(Some(frame));
            }
            if !self.fill(reader).await? && self.buf.is_empty() {
                return Ok(None);
            }
        }
    }
}

/// What an incoming value is, as far as the load engine cares.
#[derive(Debug, PartialEq)]
pub(crate) enum Incoming<'a> {
    /// A response with its code.
    Response(u16),
    /// A chat message (relayed `msg` or course `message`) with its text.
    Chat(Cow<'a, str>),
    /// Anything else (probe, 205 push, contact list item, junk object).
    Other,
}

/// A response code written as a number or as a string of digits.
#[derive(Debug)]
struct Code(u16);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Code;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a response code")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Code, E> {
                u16::try_from(v).map(Code).map_err(|_| E::custom("code out of range"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Code, E> {
                u16::try_from(v).map(Code).map_err(|_| E::custom("code out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Code, E> {
                v.trim().parse().map(Code).map_err(|_| E::custom("code is not a number"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The few fields the engine reads, borrowed from the frame.
#[derive(Deserialize)]
struct Fast<'a> {
    #[serde(default)]
    response: Option<Code>,
    #[serde(default, borrow)]
    action: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    mess_text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    message_text: Option<Cow<'a, str>>,
}

/// Classifies one raw frame (see [`Incoming`]); `None` if it is not valid JSON.
pub(crate) fn classify(raw: &[u8]) -> Option<Incoming<'_>> {
    if let Some(known) = classify_flat(raw) {
        return Some(known);
    }
    classify_slow(raw)
}

/// The fields [`classify_flat`] looks at.
#[derive(Default)]
struct Flat<'a> {
    response: Option<u16>,
    action: Option<&'a str>,
    text: [Option<&'a str>; 3],
}

/// The fast path of [`classify`], for what servers usually write: one flat object whose strings
/// have no escapes and whose `response` is a whole number. It answers exactly what the serde
/// path would, and gives up (`None`) on anything else (nesting, escapes, odd types, a repeated
/// field of interest, invalid JSON), which the serde path then reads.
fn classify_flat(raw: &[u8]) -> Option<Incoming<'_>> {
    // Every byte it accepts is ASCII (structure, scalars, and strings, which stop at the first
    // non-ASCII byte), so the frame needs no UTF-8 check of its own.
    let mut at = skip_ws(raw, 0);
    if raw.get(at) != Some(&b'{') {
        return None;
    }
    let mut flat = Flat::default();
    at = skip_ws(raw, at + 1);
    if raw.get(at) == Some(&b'}') {
        return (skip_ws(raw, at + 1) == raw.len()).then_some(Incoming::Other);
    }
    loop {
        let (key, after) = plain_string(raw, at)?;
        at = skip_ws(raw, after);
        if raw.get(at) != Some(&b':') {
            return None;
        }
        at = skip_ws(raw, at + 1);
        let first = *raw.get(at)?;
        let slot = match key {
            b"action" => Some(&mut flat.action),
            b"message" => Some(&mut flat.text[0]),
            b"mess_text" => Some(&mut flat.text[1]),
            b"message_text" => Some(&mut flat.text[2]),
            _ => None,
        };
        if first == b'"' {
            let (value, after) = plain_string(raw, at)?;
            at = after;
            if key == b"response" {
                return None; // a code as a string: the serde path reads it
            }
            if let Some(slot) = slot {
                if slot.is_some() {
                    return None;
                }
                *slot = Some(std::str::from_utf8(value).ok()?);
            }
        } else {
            let end = at + raw[at..].iter().position(|b| !is_scalar_byte(*b))?;
            let scalar = &raw[at..end];
            if scalar.is_empty() || slot.is_some() {
                return None; // nesting, or a field of interest that is not a string
            }
            if key == b"response" {
                let whole = scalar.iter().all(u8::is_ascii_digit) && is_number(scalar);
                if flat.response.is_some() || !whole {
                    return None;
                }
                flat.response = Some(std::str::from_utf8(scalar).ok()?.parse().ok()?);
            } else if !matches!(scalar, b"true" | b"false" | b"null") && !is_number(scalar) {
                return None;
            }
            at = end;
        }
        at = skip_ws(raw, at);
        match raw.get(at)? {
            b',' => at = skip_ws(raw, at + 1),
            b'}' => break,
            _ => return None,
        }
    }
    // Nothing but whitespace may follow the object.
    if skip_ws(raw, at + 1) != raw.len() {
        return None;
    }
    if let Some(code) = flat.response {
        return Some(Incoming::Response(code));
    }
    let is_chat = matches!(flat.action, Some("msg" | "message"));
    Some(match (is_chat, flat.text.into_iter().flatten().next()) {
        (true, Some(text)) => Incoming::Chat(Cow::Borrowed(text)),
        _ => Incoming::Other,
    })
}

fn skip_ws(raw: &[u8], mut at: usize) -> usize {
    while raw.get(at).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// A string starting at `at` of printable ASCII without escapes: its contents and the offset
/// after its closing quote.
fn plain_string(raw: &[u8], at: usize) -> Option<(&[u8], usize)> {
    if raw.get(at) != Some(&b'"') {
        return None;
    }
    // Stops at the first `"`, `\`, control character or non-ASCII byte (jim-protocol's
    // word-at-a-time search: relayed texts are the long part of what the generator reads).
    let len = find_not_plain_ascii(&raw[at + 1..])?;
    let end = at + 1 + len;
    (raw[end] == b'"').then(|| (&raw[at + 1..end], end + 1))
}

fn is_scalar_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

/// A JSON number (`-? int frac? exp?`).
fn is_number(s: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = usize::from(s.first() == Some(&b'-'));
    let int = digits(&s[i..]);
    if int == 0 || (int > 1 && s[i] == b'0') {
        return false;
    }
    i += int;
    if s.get(i) == Some(&b'.') {
        let frac = digits(&s[i + 1..]);
        if frac == 0 {
            return false;
        }
        i += 1 + frac;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = digits(&s[i..]);
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == s.len()
}

/// The general path of [`classify`]: a borrowed serde pass, then a tolerant reading.
fn classify_slow(raw: &[u8]) -> Option<Incoming<'_>> {
    // serde would read a struct from a JSON array too: only objects take the fast path.
    let object = raw.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if let Some(fast) = object.then(|| serde_json::from_slice::<Fast<'_>>(raw).ok()).flatten() {
        if let Some(Code(code)) = fast.response {
            return Some(Incoming::Response(code));
        }
        let is_chat = matches!(fast.action.as_deref(), Some("msg" | "message"));
        let text = fast.message.or(fast.mess_text).or(fast.message_text);
        return Some(match (is_chat, text) {
            (true, Some(text)) => Incoming::Chat(text),
            _ => Incoming::Other,
        });
    }
    // Odd types somewhere (a number as `message`, a list as `alert` ...): read tolerantly.
    let value = parse_raw(Bytes::copy_from_slice(raw)).ok()?;
    let Some(obj) = value.as_object() else {
        return Some(Incoming::Other);
    };
    if let Some(code) = obj.get("response") {
        return Some(match jim_protocol::message::read_code(code) {
            Ok(code) => Incoming::Response(code.as_u16()),
            Err(_) => Incoming::Other,
        });
    }
    let is_chat = matches!(obj.get("action").and_then(|a| a.as_str()), Some("msg" | "message"));
    let text = ["message", "mess_text", "message_text", "message text"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(|v| v.as_str()));
    Some(match (is_chat, text) {
        (true, Some(t)) => Incoming::Chat(Cow::Owned(t.to_owned())),
        _ => Incoming::Other,
    })
}

/// The error text of a response frame (`error`, `alert` or `message`), shortened, for reports.
pub(crate) fn error_text(raw: &[u8]) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(raw).ok().and_then(|v| {
        ["error", "alert", "message"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|t| t.as_str()).map(str::to_owned))
    });
    let text = text.unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned());
    text.chars().take(120).collect()
}

/// A presence for `name` in `dialect` (spec: with `type` and `user.status`; course: just
/// `user.account_name`), encoded with a trailing newline.
pub(crate) fn presence(name: &str, dialect: Dialect) -> Vec<u8> {
    let spec = dialect == Dialect::Spec;
    let msg = Message::Presence(Presence {
        time: Some(Timestamp::now()),
        account_name: name.to_owned(),
        status: spec.then(|| "Yep, I am here!".to_owned()),
        kind: spec.then(|| "status".to_owned()),
        pubkey: None,
    });
    to_bytes(&msg.to_value(dialect), Framing::Newline)
}

/// A `quit` (spec) or `exit` with the account name (course), encoded with a trailing newline.
pub(crate) fn quit(name: &str, dialect: Dialect) -> Vec<u8> {
    let account_name = (dialect == Dialect::Course).then(|| name.to_owned());
    let msg = Message::Quit(Quit { time: Some(Timestamp::now()), account_name });
    to_bytes(&msg.to_value(dialect), Framing::Newline)
}

/// A spec-dialect `join` of `room`, encoded with a trailing newline (the course has no rooms).
pub(crate) fn join(room: &str) -> Vec<u8> {
    let msg = Message::Join(RoomRequest { time: Some(Timestamp::now()), room: room.to_owned() });
    to_bytes(&msg.to_value(Dialect::Spec), Framing::Newline)
}

/// Digits of the sender index in a tag.
const SENDER_DIGITS: usize = 5;
/// Digits of the sequence number in a tag.
const SEQ_DIGITS: usize = 10;
/// Length of a whole tag: `L` + sender + `:` + seq + `:`.
pub(crate) const TAG_LEN: usize = 1 + SENDER_DIGITS + 1 + SEQ_DIGITS + 1;
/// The largest sender index a tag can carry.
pub(crate) const MAX_SENDER: u32 = 99_999;

/// A pre-encoded chat message whose sequence number is stamped in place.
#[derive(Debug, Clone)]
pub(crate) struct ChatTemplate {
    bytes: Vec<u8>,
    seq_at: usize,
}

impl ChatTemplate {
    /// Builds a `msg` (course: `message` with `mess_text`) from `from` to `to` whose encoded
    /// size is `size` bytes (newline included) when possible, or as small as the tag allows.
    pub(crate) fn new(sender: u32, from: &str, to: &str, size: usize, dialect: Dialect) -> Self {
        let tag = format!("L{:05}:{}:", sender.min(MAX_SENDER), "0".repeat(SEQ_DIGITS));
        // A whole-second time keeps the encoded length fixed.
        let time = Timestamp(Timestamp::now().0.floor());
        let encode = |text: String| {
            let msg = Message::Chat(Chat {
                time: Some(time),
                from: Some(from.to_owned()),
                to: Target::parse(to),
                encoding: None,
                text,
            });
            to_bytes(&msg.to_value(dialect), Framing::Newline)
        };
        let bare = encode(tag.clone());
        let pad = size.saturating_sub(bare.len());
        let bytes = if pad == 0 { bare } else { encode(format!("{tag}{}", "x".repeat(pad))) };
        let seq_at = find(&bytes, tag.as_bytes()).map_or(0, |at| at + 1 + SENDER_DIGITS + 1);
        Self { bytes, seq_at }
    }

    /// The encoded size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Writes `seq` into the tag and returns the message bytes.
    pub(crate) fn stamp(&mut self, seq: u64) -> &[u8] {
        let mut n = seq;
        for i in (0..SEQ_DIGITS).rev() {
            self.bytes[self.seq_at + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        &self.bytes
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads the `(sender, seq)` tag at the start of a chat text.
pub(crate) fn parse_tag(text: &str) -> Option<(u32, u64)> {
    let b = text.as_bytes();
    if b.len() < TAG_LEN || b[0] != b'L' || b[1 + SENDER_DIGITS] != b':' || b[TAG_LEN - 1] != b':' {
        return None;
    }
    let digits = |s: &[u8]| -> Option<u64> {
        s.iter()
            .try_fold(0u64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0')))
    };
    let sender = digits(&b[1..1 + SENDER_DIGITS])?;
    let seq = digits(&b[2 + SENDER_DIGITS..TAG_LEN - 1])?;
    Some((u32::try_from(sender).ok()?, seq))
}

/// One request/response exchange during setup: writes `request`, then waits (within `timeout`)
/// for the first response, skipping pushes. Returns the code, or a description of what happened.
pub(crate) async fn request(
    stream: &mut TcpStream,
    inbox: &mut Inbox,
    request: &[u8],
    timeout: Duration,
) -> Result<u16, Problem> {
    let exchange = async {
        stream.write_all(request).await.map_err(|e| Problem::WriteFailed(e.into()))?;
        read_response(stream, inbox).await
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(Problem::NoResponse { within: timeout }),
    }
}

/// Reads frames until a response arrives; returns its code.
pub(crate) async fn read_response(
    stream: &mut TcpStream,
    inbox: &mut Inbox,
) -> Result<u16, Problem> {
    loop {
        match inbox.next(stream).await {
            Ok(Some(Ok(raw))) => match classify(&raw) {
                Some(Incoming::Response(code)) => return Ok(code),
                Some(_) => continue,
                None => return Err(Problem::NotJson { text: error_text(&raw) }),
            },
            Ok(Some(Err(e))) => return Err(Problem::Unreadable(e)),
            Ok(None) => return Err(Problem::Closed),
            Err(e) => return Err(Problem::ReadFailed(e.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// `--dialect course` writes what the course's servers read (jim-protocol.md §2b).
    #[test]
    fn the_course_dialect_writes_course_shapes() {
        let course: serde_json::Value =
            serde_json::from_slice(&presence("ld1", Dialect::Course)).unwrap();
        assert_eq!(course["action"], "presence");
        assert_eq!(course["user"], serde_json::json!({"account_name": "ld1"}));
        assert!(course.get("type").is_none(), "{course}");
        let spec: serde_json::Value =
            serde_json::from_slice(&presence("ld1", Dialect::Spec)).unwrap();
        assert_eq!(spec["type"], "status");
        let mut t = ChatTemplate::new(7, "ld1", "ld2", 150, Dialect::Course);
        assert_eq!(t.len(), 150);
        let bytes = t.stamp(99).to_vec();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["action"], "message", "{value}");
        assert_eq!((&value["from"], &value["to"]), (&"ld1".into(), &"ld2".into()));
        let text = value["mess_text"].as_str().unwrap();
        assert_eq!(parse_tag(text), Some((7, 99)));
        // A course server relays it verbatim: the engine reads the tag back.
        match classify(&bytes) {
            Some(Incoming::Chat(text)) => assert_eq!(parse_tag(&text), Some((7, 99))),
            _ => panic!("a relayed course message is not read as chat"),
        }
        let exit: serde_json::Value =
            serde_json::from_slice(&quit("ld1", Dialect::Course)).unwrap();
        assert_eq!((&exit["action"], &exit["account_name"]), (&"exit".into(), &"ld1".into()));
    }

    #[test]
    fn template_has_the_asked_size_and_a_parsable_tag() {
        let mut t = ChatTemplate::new(42, "ld-0001-d1", "ld-0001-d2", 150, Dialect::Spec);
        assert_eq!(t.len(), 150);
        let bytes = t.stamp(1_234_567).to_vec();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["action"], "msg");
        assert_eq!(value["to"], "ld-0001-d2");
        let text = value["message"].as_str().unwrap();
        assert_eq!(parse_tag(text), Some((42, 1_234_567)));
        // Too small a size still yields a whole message with its tag.
        let mut small = ChatTemplate::new(1, "a", "b", 10, Dialect::Spec);
        let v: serde_json::Value = serde_json::from_slice(small.stamp(7)).unwrap();
        assert_eq!(parse_tag(v["message"].as_str().unwrap()), Some((1, 7)));
    }

    #[test]
    fn classify_reads_both_dialects_and_odd_spellings() {
        assert_eq!(classify(br#"{"response":200,"time":1}"#), Some(Incoming::Response(200)));
        assert_eq!(classify(br#"{"response":"409"}"#), Some(Incoming::Response(409)));
        assert_eq!(
            classify(br#"{"response":202,"alert":["a","b"]}"#),
            Some(Incoming::Response(202))
        );
        assert_eq!(
            classify(br#"{"action":"msg","to":"b","from":"a","message":"hi"}"#),
            Some(Incoming::Chat(Cow::Borrowed("hi")))
        );
        assert_eq!(
            classify(br#"{"action":"message","mess_text":"yo"}"#),
            Some(Incoming::Chat(Cow::Borrowed("yo")))
        );
        assert_eq!(
            classify(br#"{"action":"msg","message":5,"message text":"odd"}"#),
            Some(Incoming::Chat(Cow::Owned("odd".to_owned())))
        );
        assert_eq!(classify(br#"{"action":"probe","time":1}"#), Some(Incoming::Other));
        assert_eq!(classify(b"[1,2]"), Some(Incoming::Other));
        assert_eq!(classify(b"{nope"), None);
    }

    /// Frames built from pieces that servers write, well-formed or not.
    fn frame() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let key = prop::sample::select(vec![
            "\"response\"",
            "\"action\"",
            "\"message\"",
            "\"mess_text\"",
            "\"message_text\"",
            "\"message text\"",
            "\"time\"",
            "\"to\"",
            "\"a\\u0041\"",
            "\"x\"",
        ]);
        let value = prop::sample::select(vec![
            "200",
            "\"200\"",
            "0200",
            "70000",
            "-1",
            "2.5",
            "1e3",
            "true",
            "null",
            "\"msg\"",
            "\"message\"",
            "\"probe\"",
            "\"L00001:0000000002:xx\"",
            "\"hi\\n\"",
            "\"BAD\"",
            "[1]",
            "{\"a\":1}",
            "\"\"",
            "5",
        ]);
        let field = (key, prop::sample::select(vec![":", " : ", ""]), value)
            .prop_map(|(k, c, v)| format!("{k}{c}{v}"));
        (
            prop::collection::vec(field, 0..5),
            prop::sample::select(vec![",", ", ", ",,"]),
            prop::sample::select(vec!["{", " {", "[", "{{"]),
            prop::sample::select(vec!["}", "} ", "}}", ""]),
        )
            .prop_map(|(fields, sep, open, close)| {
                // BAD stands for invalid UTF-8.
                let text = format!("{open}{}{close}", fields.join(sep));
                text.replace("BAD", "\u{1}")
                    .into_bytes()
                    .into_iter()
                    .flat_map(|b| if b == 1 { vec![0xc3, 0x28] } else { vec![b] })
                    .collect()
            })
    }

    proptest::proptest! {
        /// The fast path answers exactly what the serde path answers, or leaves it to it.
        #[test]
        fn the_fast_path_agrees_with_serde(raw in frame()) {
            if let Some(fast) = classify_flat(&raw) {
                proptest::prop_assert_eq!(Some(fast), classify_slow(&raw));
            }
        }
    }

    #[test]
    fn the_fast_path_reads_what_servers_usually_write() {
        let relay =
            br#"{"action":"msg","time":1.5,"to":"b","from":"a","message":"L00001:0000000002:x"}"#;
        assert!(matches!(classify_flat(relay), Some(Incoming::Chat(Cow::Borrowed(_)))));
        assert_eq!(
            classify_flat(br#"{"response":200,"time":1763771234.123,"alert":"OK"}"#),
            Some(Incoming::Response(200))
        );
        assert_eq!(
            classify_flat(br#"{"action":"message","time":1,"from":"a","to":"b","mess_text":"yo"}"#),
            Some(Incoming::Chat(Cow::Borrowed("yo")))
        );
        // Left to the serde path: escapes, nesting, string codes, invalid JSON.
        for odd in [
            &br#"{"action":"msg","message":"a
b"}"#[..],
            br#"{"response":202,"alert":["a"]}"#,
            br#"{"response":"200"}"#,
            br#"{"response":0200}"#,
            b"{\"x\":\"\xc3\x28\"}",
        ] {
            assert_eq!(classify_flat(odd), None, "{}", String::from_utf8_lossy(odd));
        }
    }

    proptest::proptest! {
        /// The shared search stops where a plain string of this reader ends: at the first quote,
        /// backslash, control character or non-ASCII byte.
        #[test]
        fn string_stop_is_the_first_quote_backslash_control_or_non_ascii(
            bytes in proptest::collection::vec(proptest::sample::select(
                vec![b'a', b'"', b'\\', 0x1f, 0x20, 0x7f, 0x80, 0xff, 0x00]), 0..40),
        ) {
            let plain =
                bytes.iter().position(|&b| b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b));
            proptest::prop_assert_eq!(find_not_plain_ascii(&bytes), plain);
        }
    }

    #[test]
    fn tags_reject_foreign_text() {
        assert_eq!(parse_tag("hello"), None);
        assert_eq!(parse_tag("L0000x:0000000001:"), None);
        assert_eq!(parse_tag("L00003:0000000009:xxxx"), Some((3, 9)));
    }
}
