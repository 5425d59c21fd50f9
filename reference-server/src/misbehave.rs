//! Deliberate, documented defects (`--misbehave KIND[,KIND...]`).
//!
//! Each kind reproduces a bug seen in real student servers, so that students can test their
//! clients against a hostile server by hand and the conformance suite can prove it catches each
//! defect (a mutation test). The correct encoder and writer live in `crate::writer`; the
//! defects that change how values are encoded, written or read wrap it from outside (`Wire`),
//! so the correct path has no defect branches. The defects that change what the server does
//! (drop relays, leak rooms, ...) are checked by the commands themselves.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use jim_protocol::codec::encode_value;
use jim_protocol::{Dialect, Framing, Message, Response, ResponseCode};
use jim_text::{Lang, Localized};
use serde_json::Value;
use tokio::net::TcpStream;

use crate::state::Outbox;
use crate::writer::{self, Encoder};

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
        self.description_in(Lang::En)
    }

    /// [`Misbehave::description`] in `lang`.
    pub fn description_in(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::WrongCode, Lang::En) => {
                "swaps codes: 200 where an error is due, 400 where 200 is due; a client must show the real outcome, the suite fails every code check"
            }
            (Self::WrongCode, Lang::Ru) => {
                "меняет коды местами: 200 там, где положена ошибка, 400 там, где положен 200; клиент должен показать настоящий исход, набор проверок проваливает каждую проверку кода"
            }
            (Self::StringCode, Lang::En) => {
                "writes \"response\":\"200\" (a string); tolerant clients cope, strict readers and the suite's strict profile flag it"
            }
            (Self::StringCode, Lang::Ru) => {
                "пишет \"response\":\"200\" (строкой); терпимые клиенты справляются, строгие читатели и строгий профиль набора это замечают"
            }
            (Self::NoTime, Lang::En) => {
                "leaves \"time\" out of responses; clients must not require it, the suite reports it"
            }
            (Self::NoTime, Lang::Ru) => {
                "не пишет \"time\" в ответах; клиенты не должны его требовать, набор об этом сообщает"
            }
            (Self::PlainText, Lang::En) => {
                "answers `message received` in plain text; a client must report a non-JSON reply instead of crashing"
            }
            (Self::PlainText, Lang::Ru) => {
                "отвечает `message received` простым текстом; клиент должен сообщить об ответе не в JSON, а не упасть"
            }
            (Self::PythonRepr, Lang::En) => {
                "writes {'response': 200} (Python repr, single quotes); a client must report invalid JSON and keep going"
            }
            (Self::PythonRepr, Lang::Ru) => {
                "пишет {'response': 200} (repr Python, одинарные кавычки); клиент должен сообщить о неверном JSON и продолжить"
            }
            (Self::OneShot, Lang::En) => {
                "closes the connection after its first reply (lesson 3); a client must notice the close"
            }
            (Self::OneShot, Lang::Ru) => {
                "закрывает соединение после первого ответа (урок 3); клиент должен заметить закрытие"
            }
            (Self::NeverAnswer, Lang::En) => {
                "reads but never answers (zombie); a client must time out instead of hanging"
            }
            (Self::NeverAnswer, Lang::Ru) => {
                "читает, но никогда не отвечает (зомби); клиент должен выйти по таймауту, а не зависнуть"
            }
            (Self::CloseOnAccept, Lang::En) => {
                "closes every connection at once; a client must report the close, not hang"
            }
            (Self::CloseOnAccept, Lang::Ru) => {
                "сразу закрывает каждое соединение; клиент должен сообщить о закрытии, а не зависнуть"
            }
            (Self::LateReplies(_), Lang::En) => {
                "sends every reply N seconds late (late-replies=N, default 2); a client must wait patiently, the suite flags slow replies"
            }
            (Self::LateReplies(_), Lang::Ru) => {
                "отправляет каждый ответ с опозданием на N секунд (late-replies=N, по умолчанию 2); клиент должен терпеливо ждать, набор отмечает медленные ответы"
            }
            (Self::SplitWrites, Lang::En) => {
                "writes each reply in small pieces with pauses; a client that does one recv() + json.loads breaks"
            }
            (Self::SplitWrites, Lang::Ru) => {
                "пишет каждый ответ мелкими кусками с паузами; клиент, который делает один recv() + json.loads, ломается"
            }
            (Self::CoalescedWrites, Lang::En) => {
                "glues consecutive replies into one write with no newline; a client must decode a stream of JSON values"
            }
            (Self::CoalescedWrites, Lang::Ru) => {
                "склеивает идущие подряд ответы в одну запись без перевода строки; клиент должен разбирать поток JSON-значений"
            }
            (Self::CrashOnMalformed, Lang::En) => {
                "exits (non-zero) on malformed JSON; the suite sees connection refused afterwards"
            }
            (Self::CrashOnMalformed, Lang::Ru) => {
                "завершается (с ненулевым кодом) на неверном JSON; набор затем видит отказ в соединении"
            }
            (Self::CrashOnMissingField, Lang::En) => {
                "exits (non-zero) when a required field is missing; the suite sees connection refused afterwards"
            }
            (Self::CrashOnMissingField, Lang::Ru) => {
                "завершается (с ненулевым кодом), когда нет обязательного поля; набор затем видит отказ в соединении"
            }
            (Self::ReadIsMessage, Lang::En) => {
                "treats each read as one message: split requests get 400, coalesced ones are lost"
            }
            (Self::ReadIsMessage, Lang::Ru) => {
                "считает каждое чтение одним сообщением: разрезанные запросы получают 400, склеенные теряются"
            }
            (Self::OneClientAtATime, Lang::En) => {
                "serves one connection at a time; a second client waits until the first leaves"
            }
            (Self::OneClientAtATime, Lang::Ru) => {
                "обслуживает одно соединение за раз; второй клиент ждёт, пока первый не уйдёт"
            }
            (Self::DropRelays, Lang::En) => "acks messages with 200 but never delivers them",
            (Self::DropRelays, Lang::Ru) => {
                "подтверждает сообщения кодом 200, но никогда их не доставляет"
            }
            (Self::BroadcastDirect, Lang::En) => {
                "delivers a direct message to every logged-in user; bystanders see mail not meant for them"
            }
            (Self::BroadcastDirect, Lang::Ru) => {
                "доставляет личное сообщение всем вошедшим; посторонние видят чужую почту"
            }
            (Self::RoomLeak, Lang::En) => {
                "delivers room messages to everyone, members or not; non-members see room traffic"
            }
            (Self::RoomLeak, Lang::Ru) => {
                "доставляет сообщения комнаты всем, участникам и нет; не участники видят трафик комнаты"
            }
            (Self::SpoofableFrom, Lang::En) => {
                "relays the \"from\" the client wrote; anyone can pose as anyone"
            }
            (Self::SpoofableFrom, Lang::Ru) => {
                "пересылает \"from\", который написал клиент; любой может выдать себя за любого"
            }
            (Self::DuplicateNames, Lang::En) => {
                "lets two connections use the same name (no 409); relays go to one of them"
            }
            (Self::DuplicateNames, Lang::Ru) => {
                "пускает два соединения под одним именем (без 409); пересылки идут одному из них"
            }
            (Self::SilentErrors, Lang::En) => {
                "ignores bad input silently (no 400); a client waiting for an answer must time out"
            }
            (Self::SilentErrors, Lang::Ru) => {
                "молча игнорирует неверный ввод (без 400); клиент, ждущий ответа, должен выйти по таймауту"
            }
            (Self::IgnoreQuit, Lang::En) => {
                "ignores quit/exit: the connection stays open and the name stays taken"
            }
            (Self::IgnoreQuit, Lang::Ru) => {
                "игнорирует quit/exit: соединение остаётся открытым, имя остаётся занятым"
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
    pub fn help(lang: Lang) -> String {
        let mut out = String::from(lang.pick(
            "Deliberate defects for --misbehave KIND[,KIND...] (each is a real student bug):\n\n",
            "Намеренные дефекты для --misbehave ВИД[,ВИД...] (каждый — настоящая ошибка студентов):\n\n",
        ));
        for kind in Self::ALL {
            let name = match kind {
                Self::LateReplies(_) => "late-replies[=SECS]".to_owned(),
                other => other.name().to_owned(),
            };
            out.push_str(&format!("  {name:<24} {}\n", kind.description_in(lang)));
        }
        out
    }

    /// Parses a comma-separated list such as `wrong-code,late-replies=3`.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, MisbehaveError> {
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

/// Why a `--misbehave` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MisbehaveError {
    /// No kind has that name.
    #[error("unknown misbehaviour {0:?}; `--misbehave help` lists the kinds")]
    Unknown(String),
    /// A kind without a value was given one.
    #[error("{kind} takes no value (got {value:?})")]
    NoValue {
        /// The kind.
        kind: String,
        /// The value given.
        value: String,
    },
    /// `late-replies=` with something other than whole seconds up to an hour.
    #[error("late-replies={0}: give whole seconds, 0 to 3600")]
    BadDelay(String),
}

impl Localized for MisbehaveError {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::Unknown(_) | Self::NoValue { .. } | Self::BadDelay(_), Lang::En) => {
                self.to_string()
            }
            (Self::Unknown(name), Lang::Ru) => {
                format!("неизвестный дефект {name:?}; список видов: `--misbehave help`")
            }
            (Self::NoValue { kind, value }, Lang::Ru) => {
                format!("{kind} не принимает значения (дано {value:?})")
            }
            (Self::BadDelay(value), Lang::Ru) => {
                format!("late-replies={value}: укажите целое число секунд от 0 до 3600")
            }
        }
    }
}

impl FromStr for Misbehave {
    type Err = MisbehaveError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, arg) = match s.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (s.trim(), None),
        };
        let kind = Self::ALL
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| MisbehaveError::Unknown(name.to_owned()))?;
        match (kind, arg) {
            (Self::LateReplies(_), Some(a)) => a
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= 3600)
                .map(Self::LateReplies)
                .ok_or_else(|| MisbehaveError::BadDelay(a.to_owned())),
            (_, Some(a)) => {
                Err(MisbehaveError::NoValue { kind: name.to_owned(), value: a.to_owned() })
            }
            (k, None) => Ok(k),
        }
    }
}

/// How long `coalesced-writes` waits for a follower to glue to a reply.
const COALESCE_WAIT: Duration = Duration::from_millis(150);

/// Pause between the pieces of a `split-writes` reply.
const SPLIT_PAUSE: Duration = Duration::from_millis(40);

/// How the server encodes and writes: the correct writer ([`crate::writer`]) alone, or with the
/// deliberate defects wrapped around it. A server without a defect that changes encoding,
/// writing or reading holds [`Wire::Plain`], and none of this module's code runs for it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wire {
    /// The correct writer.
    Plain(Encoder),
    /// The correct writer inside the defects.
    Misbehaving(Defects),
}

impl Wire {
    /// The wire for `kinds`, writing in `framing`.
    pub fn new(kinds: &[Misbehave], framing: Framing) -> Self {
        let plain = Encoder { framing };
        let defects = Defects::new(kinds, plain);
        if defects.is_harmless() { Self::Plain(plain) } else { Self::Misbehaving(defects) }
    }

    /// One message rendered in `dialect` as it goes on the wire, in a buffer of its own.
    pub fn message(&self, message: &Message, dialect: Dialect) -> Bytes {
        match self {
            Self::Plain(plain) => plain.message(message, dialect),
            Self::Misbehaving(defects) => defects.message(message, dialect),
        }
    }

    /// `200 OK`, stamped now, as it goes on the wire.
    pub fn ok(&self, dialect: Dialect) -> Bytes {
        let code = ResponseCode::OK;
        match self {
            Self::Plain(plain) => plain.response(code, code.standard_text()),
            Self::Misbehaving(defects) => {
                defects.message(&Message::Response(Response::new(code)), dialect)
            }
        }
    }

    /// A 202 list of the names in `array` (an encoded JSON array), or `None` when the defects
    /// change how values are written (then encode the list's message).
    pub fn list(&self, dialect: Dialect, array: &[u8]) -> Option<Bytes> {
        match self {
            Self::Plain(plain) => Some(plain.list(dialect, array)),
            Self::Misbehaving(defects) if !defects.changes_values() => {
                Some(defects.plain.list(dialect, array))
            }
            Self::Misbehaving(_) => None,
        }
    }

    /// Writes what is queued as far as the socket takes it now; `Ok(false)` when the rest needs
    /// [`Wire::flush`] (always, for the defects that write late, in pieces, glued or not at all).
    pub fn try_flush(&self, stream: &TcpStream, outbox: &Outbox) -> std::io::Result<bool> {
        match self {
            Self::Misbehaving(defects) if !defects.batches_writes() => Ok(false),
            _ => writer::try_flush(stream, outbox),
        }
    }

    /// Writes every queued value (see [`writer::flush`]); the defects write theirs their way.
    pub async fn flush(&self, stream: &TcpStream, outbox: &Outbox) -> std::io::Result<bool> {
        match self {
            Self::Misbehaving(defects) if !defects.batches_writes() => {
                defects.flush(stream, outbox).await
            }
            _ => writer::flush(stream, outbox).await,
        }
    }

    /// The defects that change how requests are read (`read-is-message`, `never-answer`), if any.
    pub fn misreads(&self) -> Option<&Defects> {
        match self {
            Self::Misbehaving(defects) if defects.read_is_message || defects.never_answer => {
                Some(defects)
            }
            _ => None,
        }
    }

    /// True when the connection closes after its first write (`one-shot`).
    pub fn one_shot(&self) -> bool {
        matches!(self, Self::Misbehaving(defects) if defects.one_shot)
    }
}

/// What one read gives a `read-is-message` server.
pub(crate) enum Misread {
    /// The client closed its side.
    Eof,
    /// The read failed: the peer is gone.
    Error,
    /// Nothing to handle (no bytes yet, only whitespace, or a zombie that ignores them);
    /// `read` says whether bytes came.
    Nothing {
        /// Bytes arrived.
        read: bool,
    },
    /// One read taken as one whole message.
    Message(Bytes),
}

/// The encoding, writing and reading defects of a list of kinds, around the correct encoder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Defects {
    plain: Encoder,
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

impl Defects {
    fn new(kinds: &[Misbehave], plain: Encoder) -> Self {
        let has = |k: Misbehave| kinds.contains(&k);
        Self {
            plain,
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

    /// True when nothing is encoded, written or read differently (the other kinds act in the
    /// commands).
    fn is_harmless(&self) -> bool {
        !self.changes_values() && self.batches_writes() && !self.read_is_message
    }

    /// True when values are encoded differently from the correct encoder.
    fn changes_values(&self) -> bool {
        self.wrong_code
            || self.string_code
            || self.no_time
            || self.plain_text
            || self.python_repr
            || self.coalesce
    }

    /// True when values are written as they are due, with nothing in the way: several queued
    /// values may then share one write (`§framing` W3), as on the correct path.
    fn batches_writes(&self) -> bool {
        !(self.one_shot || self.never_answer || self.late.is_some() || self.split || self.coalesce)
    }

    /// One message as these defects write it.
    fn message(&self, message: &Message, dialect: Dialect) -> Bytes {
        if !self.changes_values() {
            return self.plain.message(message, dialect);
        }
        let mut value = message.to_value(dialect);
        if value.get("response").is_some() {
            self.tamper(&mut value);
        }
        let mut out = BytesMut::new();
        if self.plain_text {
            out.put_slice(plain_text(&value).as_bytes());
            out.put_u8(b'\n');
        } else if self.python_repr {
            let mut text = String::new();
            python_repr(&value, &mut text);
            out.put_slice(text.as_bytes());
            out.put_u8(b'\n');
        } else if self.coalesce {
            // Glued writes come without separators, as `sock.send(json.dumps(a).encode())`.
            encode_value(&value, Framing::Bare, &mut out);
        } else {
            return self.plain.value(&value);
        }
        out.freeze()
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

    /// Writes every queued value the defects' way: dropped (`never-answer`), glued with what
    /// follows (`coalesced-writes`), late or in pieces, or one and then no more (`one-shot`).
    async fn flush(&self, stream: &TcpStream, outbox: &Outbox) -> std::io::Result<bool> {
        let mut wrote = false;
        loop {
            let mut batch = outbox.take();
            if batch.is_empty() || outbox.is_kicked() {
                return Ok(wrote);
            }
            if self.never_answer {
                outbox.wrote(batch.iter().map(|q| q.bytes.len()).sum());
                batch.clear();
                continue;
            }
            if self.coalesce {
                let mut out = BytesMut::new();
                for queued in batch.drain(..) {
                    out.extend_from_slice(&queued.bytes);
                }
                self.gather(outbox, &mut out).await;
                self.write(stream, &out).await?;
                outbox.wrote(out.len());
                return Ok(true);
            }
            for queued in batch.drain(..) {
                self.write(stream, &queued.bytes).await?;
                outbox.wrote(queued.bytes.len());
                wrote = true;
                if self.one_shot {
                    return Ok(true);
                }
            }
        }
    }

    /// `coalesced-writes`: appends every value queued within a short wait, so that replies
    /// and relays that follow each other go out in one write.
    async fn gather(&self, outbox: &Outbox, out: &mut BytesMut) {
        while tokio::time::timeout(COALESCE_WAIT, outbox.changed()).await.is_ok() {
            for queued in outbox.take() {
                out.put_slice(&queued.bytes);
            }
            if outbox.is_kicked() {
                return;
            }
        }
    }

    /// Writes `bytes`, late or in pieces as the defects say.
    async fn write(&self, w: &TcpStream, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(delay) = self.late {
            tokio::time::sleep(delay).await;
        }
        if self.split && bytes.len() > 1 {
            let third = (bytes.len() / 3).max(1);
            for piece in bytes.chunks(third) {
                writer::write_all(w, piece).await?;
                tokio::time::sleep(SPLIT_PAUSE).await;
            }
            return Ok(());
        }
        writer::write_all(w, bytes).await
    }

    /// `read-is-message` reads once and takes what came as one message, as
    /// `json.loads(sock.recv(1024))`; `never-answer` ignores it.
    pub fn read_message(&self, stream: &TcpStream) -> Misread {
        let mut chunk = BytesMut::with_capacity(1024);
        match stream.try_read_buf(&mut chunk) {
            Ok(0) => Misread::Eof,
            Ok(_) if self.never_answer || chunk.iter().all(u8::is_ascii_whitespace) => {
                Misread::Nothing { read: true }
            }
            Ok(_) => Misread::Message(chunk.freeze()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                Misread::Nothing { read: false }
            }
            Err(_) => Misread::Error,
        }
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
        assert!(Misbehave::help(Lang::En).contains("ignore-quit"));
        assert!(Misbehave::help(Lang::Ru).contains("ignore-quit"));
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
