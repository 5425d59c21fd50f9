//! Deliberate, documented defects (`--misbehave KIND[,KIND...]`).
//!
//! Each kind reproduces a bug seen in real student servers, so that students can test their
//! clients against a hostile server by hand and the conformance suite can prove it catches each
//! defect (a mutation test). The correct server never consults this module except through the
//! small hooks below; with an empty list every hook is a no-op.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use jim_protocol::codec::encode_value;
use jim_protocol::{Dialect, Framing, Message, ResponseCode, Timestamp};
use serde_json::Value;
use tokio::net::TcpStream;

use crate::state::Outbox;

/// One deliberate defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Misbehave {
    /// Answers 200 where an error is due and 400 where 200 is due (codes swapped).
    WrongCode,
    /// Writes `"response":"200"` (a string) instead of a number.
    StringCode,
    /// Leaves `time` out of responses.
    NoTime,
    /// Answers with plain text such as `message received` instead of JSON.
    PlainText,
    /// Writes Python's `repr` of a dict (`{'response': 200}`) instead of JSON.
    PythonRepr,
    /// Closes the connection right after its first reply (lesson-3 style).
    OneShot,
    /// Accepts connections and reads, but never answers (a zombie).
    NeverAnswer,
    /// Closes every connection as soon as it is accepted.
    CloseOnAccept,
    /// Sends every reply this many seconds late (a select loop with a long timeout).
    LateReplies(u64),
    /// Writes each reply in several small pieces with pauses between them.
    SplitWrites,
    /// Glues a relay and the following ack (or any two replies) into one write, no newline.
    CoalescedWrites,
    /// Exits the process on malformed JSON (an uncaught `JSONDecodeError`).
    CrashOnMalformed,
    /// Exits the process when a required field is missing (an uncaught `KeyError`).
    CrashOnMissingField,
    /// Treats each read as exactly one message (`json.loads(sock.recv(1024))`).
    ReadIsMessage,
    /// Serves one client at a time: the next connection waits until the current one ends.
    OneClientAtATime,
    /// Acks messages with 200 but never relays them.
    DropRelays,
    /// Delivers a direct message to every logged-in user, not only the addressee.
    BroadcastDirect,
    /// Delivers room messages to everyone, members or not.
    RoomLeak,
    /// Relays the `from` the client wrote instead of the sender's session name.
    SpoofableFrom,
    /// Lets a second connection log in with a name that is already connected.
    DuplicateNames,
    /// Ignores bad input silently: no 400, no reply at all.
    SilentErrors,
    /// Ignores quit/exit: keeps the connection open and the session alive.
    IgnoreQuit,
}

/// Default delay of `late-replies` without `=SECS`.
pub const DEFAULT_LATE_SECS: u64 = 2;

impl Misbehave {
    /// Every kind, in documentation order (`late-replies` with its default delay).
    pub const ALL: [Self; 22] = [
        Self::WrongCode,
        Self::StringCode,
        Self::NoTime,
        Self::PlainText,
        Self::PythonRepr,
        Self::OneShot,
        Self::NeverAnswer,
        Self::CloseOnAccept,
        Self::LateReplies(DEFAULT_LATE_SECS),
        Self::SplitWrites,
        Self::CoalescedWrites,
        Self::CrashOnMalformed,
        Self::CrashOnMissingField,
        Self::ReadIsMessage,
        Self::OneClientAtATime,
        Self::DropRelays,
        Self::BroadcastDirect,
        Self::RoomLeak,
        Self::SpoofableFrom,
        Self::DuplicateNames,
        Self::SilentErrors,
        Self::IgnoreQuit,
    ];

    /// The kebab-case name used on the command line (without `=SECS`).
    pub fn name(self) -> &'static str {
        match self {
            Self::WrongCode => "wrong-code",
            Self::StringCode => "string-code",
            Self::NoTime => "no-time",
            Self::PlainText => "plain-text",
            Self::PythonRepr => "python-repr",
            Self::OneShot => "one-shot",
            Self::NeverAnswer => "never-answer",
            Self::CloseOnAccept => "close-on-accept",
            Self::LateReplies(_) => "late-replies",
            Self::SplitWrites => "split-writes",
            Self::CoalescedWrites => "coalesced-writes",
            Self::CrashOnMalformed => "crash-on-malformed",
            Self::CrashOnMissingField => "crash-on-missing-field",
            Self::ReadIsMessage => "read-is-message",
            Self::OneClientAtATime => "one-client-at-a-time",
            Self::DropRelays => "drop-relays",
            Self::BroadcastDirect => "broadcast-direct",
            Self::RoomLeak => "room-leak",
            Self::SpoofableFrom => "spoofable-from",
            Self::DuplicateNames => "duplicate-names",
            Self::SilentErrors => "silent-errors",
            Self::IgnoreQuit => "ignore-quit",
        }
    }

    /// One line: what the server does wrong, and what a client or the suite should notice.
    pub fn description(self) -> &'static str {
        match self {
            Self::WrongCode => {
                "swaps codes: 200 where an error is due, 400 where 200 is due; a client must show the real outcome, the suite fails every code check"
            }
            Self::StringCode => {
                "writes \"response\":\"200\" (a string); tolerant clients cope, strict readers and the suite's strict profile flag it"
            }
            Self::NoTime => {
                "leaves \"time\" out of responses; clients must not require it, the suite reports it"
            }
            Self::PlainText => {
                "answers `message received` in plain text; a client must report a non-JSON reply instead of crashing"
            }
            Self::PythonRepr => {
                "writes {'response': 200} (Python repr, single quotes); a client must report invalid JSON and keep going"
            }
            Self::OneShot => {
                "closes the connection after its first reply (lesson 3); a client must notice the close"
            }
            Self::NeverAnswer => {
                "reads but never answers (zombie); a client must time out instead of hanging"
            }
            Self::CloseOnAccept => {
                "closes every connection at once; a client must report the close, not hang"
            }
            Self::LateReplies(_) => {
                "sends every reply N seconds late (late-replies=N, default 2); a client must wait patiently, the suite flags slow replies"
            }
            Self::SplitWrites => {
                "writes each reply in small pieces with pauses; a client that does one recv() + json.loads breaks"
            }
            Self::CoalescedWrites => {
                "glues consecutive replies into one write with no newline; a client must decode a stream of JSON values"
            }
            Self::CrashOnMalformed => {
                "exits (non-zero) on malformed JSON; the suite sees connection refused afterwards"
            }
            Self::CrashOnMissingField => {
                "exits (non-zero) when a required field is missing; the suite sees connection refused afterwards"
            }
            Self::ReadIsMessage => {
                "treats each read as one message: split requests get 400, coalesced ones are lost"
            }
            Self::OneClientAtATime => {
                "serves one connection at a time; a second client waits until the first leaves"
            }
            Self::DropRelays => "acks messages with 200 but never delivers them",
            Self::BroadcastDirect => {
                "delivers a direct message to every logged-in user; bystanders see mail not meant for them"
            }
            Self::RoomLeak => {
                "delivers room messages to everyone, members or not; non-members see room traffic"
            }
            Self::SpoofableFrom => {
                "relays the \"from\" the client wrote; anyone can pose as anyone"
            }
            Self::DuplicateNames => {
                "lets two connections use the same name (no 409); relays go to one of them"
            }
            Self::SilentErrors => {
                "ignores bad input silently (no 400); a client waiting for an answer must time out"
            }
            Self::IgnoreQuit => {
                "ignores quit/exit: the connection stays open and the name stays taken"
            }
        }
    }

    /// The `late-replies` delay, if this is that kind.
    pub fn late_delay(self) -> Option<Duration> {
        match self {
            Self::LateReplies(secs) => Some(Duration::from_secs(secs)),
            _ => None,
        }
    }

    /// The help text printed by `--misbehave help`: one line per kind.
    pub fn help() -> String {
        let mut out = String::from(
            "Deliberate defects for --misbehave KIND[,KIND...] (each is a real student bug):\n\n",
        );
        for kind in Self::ALL {
            let name = match kind {
                Self::LateReplies(_) => "late-replies[=SECS]".to_owned(),
                other => other.name().to_owned(),
            };
            out.push_str(&format!("  {name:<24} {}\n", kind.description()));
        }
        out
    }

    /// Parses a comma-separated list such as `wrong-code,late-replies=3`.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, String> {
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect()
    }
}

impl fmt::Display for Misbehave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LateReplies(secs) => write!(f, "late-replies={secs}"),
            other => f.write_str(other.name()),
        }
    }
}

impl FromStr for Misbehave {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, arg) = match s.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (s.trim(), None),
        };
        let kind = Self::ALL.iter().copied().find(|k| k.name() == name).ok_or_else(|| {
            format!("unknown misbehaviour {name:?}; `--misbehave help` lists the kinds")
        })?;
        match (kind, arg) {
            (Self::LateReplies(_), Some(a)) => a
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= 3600)
                .map(Self::LateReplies)
                .ok_or_else(|| format!("late-replies={a}: give whole seconds, 0 to 3600")),
            (_, Some(a)) => Err(format!("{name} takes no value (got {a:?})")),
            (k, None) => Ok(k),
        }
    }
}

/// How long `coalesced-writes` waits for a follower to glue to a reply.
const COALESCE_WAIT: Duration = Duration::from_millis(150);

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

/// Pause between the pieces of a `split-writes` reply.
const SPLIT_PAUSE: Duration = Duration::from_millis(40);

/// The write-side hooks, computed once from the list. `Hooks::default()` is the correct server:
/// compact JSON in the configured framing, one value per write.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hooks {
    /// Framing of the correct path.
    pub framing: Framing,
    wrong_code: bool,
    string_code: bool,
    no_time: bool,
    plain_text: bool,
    python_repr: bool,
    /// Close after the first write.
    pub one_shot: bool,
    /// Read, never answer.
    pub never_answer: bool,
    late: Option<Duration>,
    split: bool,
    /// Glue consecutive writes.
    pub coalesce: bool,
    /// One read is one message.
    pub read_is_message: bool,
}

impl Hooks {
    /// Hooks for `kinds`, writing in `framing`.
    pub fn new(kinds: &[Misbehave], framing: Framing) -> Self {
        let has = |k: Misbehave| kinds.contains(&k);
        Self {
            framing,
            wrong_code: has(Misbehave::WrongCode),
            string_code: has(Misbehave::StringCode),
            no_time: has(Misbehave::NoTime),
            plain_text: has(Misbehave::PlainText),
            python_repr: has(Misbehave::PythonRepr),
            one_shot: has(Misbehave::OneShot),
            never_answer: has(Misbehave::NeverAnswer),
            late: kinds.iter().find_map(|k| k.late_delay()),
            split: has(Misbehave::SplitWrites),
            coalesce: has(Misbehave::CoalescedWrites),
            read_is_message: has(Misbehave::ReadIsMessage),
        }
    }

    /// One message rendered in `dialect` as it goes on the wire, in a buffer of its own. The
    /// usual shapes skip the JSON tree when no misbehaviour changes how values are written.
    pub fn encode_message(&self, message: &Message, dialect: Dialect) -> Bytes {
        if self.plain_values() {
            let fast =
                with_scratch(|out| crate::render::encode(message, dialect, self.framing, out));
            if let Some(bytes) = fast {
                return bytes;
            }
        }
        self.encode_bytes(&message.to_value(dialect))
    }

    /// A plain response (see [`crate::render::response`]) as it goes on the wire, or `None`
    /// when a misbehaviour changes how values are written (then encode the message).
    pub fn encode_response(&self, code: ResponseCode, text: &str) -> Option<Bytes> {
        let time = Some(Timestamp::now());
        self.plain_values().then(|| {
            with_scratch(|out| {
                crate::render::response(code, time, Some(text), self.framing, out);
                true
            })
            .unwrap_or_default()
        })
    }

    /// A 202 list whose names are `array` (encoded JSON) as it goes on the wire, or `None` when a
    /// misbehaviour changes how values are written (then encode the message).
    pub fn encode_list(&self, dialect: Dialect, array: &[u8]) -> Option<Bytes> {
        let time = Some(Timestamp::now());
        self.plain_values().then(|| {
            let mut out = Vec::with_capacity(array.len() + 64);
            crate::render::list(time, dialect, array, self.framing, &mut out);
            Bytes::from(out)
        })
    }

    /// True when values are written exactly as encoded (no misbehaviour changes them).
    fn plain_values(&self) -> bool {
        !(self.wrong_code
            || self.string_code
            || self.no_time
            || self.plain_text
            || self.python_repr
            || self.coalesce)
    }

    /// One value as it goes on the wire, in a buffer of its own.
    pub fn encode_bytes(&self, value: &Value) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(value, &mut out);
        out.freeze()
    }

    /// True when values are written as they are due, with nothing in the way (no misbehaviour
    /// on the write side): several queued values may then share one write (`§framing` W3).
    pub fn batches_writes(&self) -> bool {
        !(self.one_shot || self.never_answer || self.late.is_some() || self.split || self.coalesce)
    }

    /// Appends one value as it goes on the wire.
    pub fn encode(&self, value: &Value, out: &mut BytesMut) {
        let is_response = value.get("response").is_some();
        if is_response && (self.wrong_code || self.string_code || self.no_time) {
            let mut value = value.clone();
            self.tamper(&mut value);
            return self.encode_plain(&value, out);
        }
        self.encode_plain(value, out);
    }

    fn encode_plain(&self, value: &Value, out: &mut BytesMut) {
        if self.plain_text {
            out.put_slice(plain_text(value).as_bytes());
            out.put_u8(b'\n');
        } else if self.python_repr {
            let mut text = String::new();
            python_repr(value, &mut text);
            out.put_slice(text.as_bytes());
            out.put_u8(b'\n');
        } else if self.coalesce {
            // Glued writes come without separators, as `sock.send(json.dumps(a).encode())`.
            encode_value(value, Framing::Bare, out);
        } else {
            encode_value(value, self.framing, out);
        }
    }

    fn tamper(&self, value: &mut Value) {
        let Some(obj) = value.as_object_mut() else { return };
        if self.wrong_code
            && let Some(code) = obj.get("response").and_then(Value::as_u64)
        {
            let swapped = match code {
                200..=202 => 400,
                400..=499 => 200,
                other => other,
            };
            obj.insert("response".into(), swapped.into());
        }
        if self.string_code
            && let Some(code) = obj.get("response").and_then(Value::as_u64)
        {
            obj.insert("response".into(), code.to_string().into());
        }
        if self.no_time {
            obj.shift_remove("time");
        }
    }

    /// `coalesced-writes`: appends every value queued within a short wait, so that replies
    /// and relays that follow each other go out in one write.
    pub async fn gather(&self, outbox: &Outbox, out: &mut BytesMut) {
        while tokio::time::timeout(COALESCE_WAIT, outbox.changed()).await.is_ok() {
            for queued in outbox.take() {
                out.put_slice(&queued.bytes);
            }
            if outbox.is_kicked() {
                return;
            }
        }
    }

    /// Writes `bytes`: at once on the correct path; late or in pieces when misbehaving.
    pub async fn write(&self, w: &TcpStream, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(delay) = self.late {
            tokio::time::sleep(delay).await;
        }
        if self.split && bytes.len() > 1 {
            let third = (bytes.len() / 3).max(1);
            for piece in bytes.chunks(third) {
                crate::connection::write_all(w, piece).await?;
                tokio::time::sleep(SPLIT_PAUSE).await;
            }
            return Ok(());
        }
        crate::connection::write_all(w, bytes).await
    }
}

/// What a plain-text student server prints instead of JSON.
fn plain_text(value: &Value) -> String {
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(code) = value.get("response") {
        let ok = code.as_u64().is_some_and(|c| c < 400);
        return if ok { "message received".into() } else { format!("error: {}", text("error")) };
    }
    match value.get("action").and_then(Value::as_str) {
        Some("msg") => format!("{}: {}", text("from"), text("message")),
        Some("message") => format!("{}: {}", text("from"), text("mess_text")),
        Some(other) => other.to_owned(),
        None => "?".into(),
    }
}

/// Python's `repr()` of the value as a dict/list/str/float (`{'response': 200}`).
fn python_repr(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => python_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_str(k, out);
                out.push_str(": ");
                python_repr(v, out);
            }
            out.push('}');
        }
    }
}

fn python_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in Misbehave::ALL {
            assert_eq!(kind.to_string().parse::<Misbehave>().unwrap(), kind);
        }
        assert_eq!(
            Misbehave::parse_list("wrong-code, late-replies=3").unwrap(),
            vec![Misbehave::WrongCode, Misbehave::LateReplies(3)]
        );
        assert!(Misbehave::parse_list("bogus").is_err());
        assert!(Misbehave::parse_list("no-time=1").is_err());
        assert!(Misbehave::help().contains("ignore-quit"));
    }

    #[test]
    fn python_repr_looks_like_python() {
        let v = serde_json::json!({"response": 200, "alert": "it's", "ok": true, "x": null, "l": [1, "a"]});
        let mut out = String::new();
        python_repr(&v, &mut out);
        assert_eq!(
            out,
            r#"{'response': 200, 'alert': "it's", 'ok': True, 'x': None, 'l': [1, 'a']}"#
        );
    }
}
