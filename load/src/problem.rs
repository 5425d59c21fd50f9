//! What went wrong during a load check, in words, in English and Russian.
//!
//! The engine notes problems as it meets them (a refused presence, a connection the target
//! closed, messages that never arrived). They are a typed vocabulary rather than strings so the
//! report can say them in the reader's language: [`Problem`]'s `Display` is the English the JSON
//! report carries (a string, as before: the schema does not change), and `jim_text::Localized`
//! gives the Russian. What the target itself wrote (an `error` text) is quoted as it came.

use std::borrow::Cow;
use std::time::Duration;

use jim_protocol::FrameError;
use jim_text::{Lang, Localized};

use crate::traffic::LossReasons;

/// An operating-system error in both languages, taken when it happens (`std::io::Error` is not
/// `Clone`, a report is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoText {
    en: String,
    ru: String,
}

impl From<std::io::Error> for IoText {
    fn from(e: std::io::Error) -> Self {
        Self { en: e.to_string(), ru: jim_text::io_error(&e, Lang::Ru) }
    }
}

impl IoText {
    fn get(&self, lang: Lang) -> &str {
        lang.either(&self.en, &self.ru)
    }
}

/// The request a setup problem is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A presence, with the account name when the line names it.
    Presence {
        /// The account name.
        name: Option<String>,
    },
    /// Joining a room.
    Join {
        /// The room.
        room: String,
    },
}

/// One problem of a load check.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The TCP connect failed.
    ConnectFailed(IoText),
    /// Writing a request failed.
    WriteFailed(IoText),
    /// No response within the reply timeout.
    NoResponse {
        /// The timeout.
        within: Duration,
    },
    /// The reply is not JSON (what it said, quoted).
    NotJson {
        /// The start of the reply, or its error text.
        text: String,
    },
    /// The reply could not be decoded.
    Unreadable(FrameError),
    /// The server closed the connection before answering.
    Closed,
    /// Reading failed.
    ReadFailed(IoText),
    /// A request was answered with a code that is not 2xx.
    Answered {
        /// The request.
        request: Request,
        /// The code.
        code: u16,
    },
    /// A problem while doing a request.
    During {
        /// The request.
        request: Request,
        /// What went wrong.
        problem: Box<Problem>,
    },
    /// The open-file limit allows fewer connections than asked for.
    FdLimit {
        /// The limit.
        limit: u64,
        /// Connections it allows here.
        usable: usize,
    },
    /// Deliveries that never arrived, and why.
    Lost {
        /// How many.
        lost: u64,
        /// Their deadline.
        within: Duration,
        /// The reasons, counted.
        because: LossReasons,
    },
    /// The target closed one of the check's connections.
    TargetClosed {
        /// Its number.
        conn: usize,
    },
    /// Reading one of the check's connections failed.
    ConnReadFailed {
        /// Its number.
        conn: usize,
        /// Why.
        error: IoText,
    },
    /// A value one of the check's connections received could not be decoded.
    BadValue {
        /// Its number.
        conn: usize,
        /// Why.
        error: FrameError,
    },
    /// One of the check's connections got an error response (with the target's text).
    GotResponse {
        /// Its number.
        conn: usize,
        /// The code.
        code: u16,
        /// The target's text.
        text: String,
    },
    /// One of the check's connections received something that is not JSON.
    NonJson {
        /// Its number.
        conn: usize,
        /// What it said.
        text: String,
    },
    /// The target refused the setup of a measurement (a presence or a join).
    SetupRefused {
        /// The target.
        addr: std::net::SocketAddr,
        /// The measurement's English label.
        shape: &'static str,
        /// What the target did.
        detail: Box<Problem>,
    },
    /// The target could not be reached for a measurement.
    Unreachable {
        /// The target.
        addr: std::net::SocketAddr,
        /// Why.
        error: IoText,
    },
    /// Another error of the engine, in English only (configuration and resolution errors are
    /// caught before any phase runs, so a phase does not meet them).
    Engine(String),
    /// The direct-relay phase is skipped: `--pairs 0`.
    NoPairs,
    /// The room phase is skipped: `--room-members 0`.
    NoRoomMembers,
    /// The room phase is skipped: the course dialect has no rooms.
    CourseHasNoRooms,
    /// Holding stopped: too many connections in a row failed.
    FailedInARow {
        /// How many failed in a row.
        in_a_row: usize,
        /// How many were held by then.
        held: usize,
    },
    /// A sender's write failed.
    SenderWriteFailed {
        /// The sender.
        sender: u32,
        /// Why.
        error: IoText,
    },
    /// A sender's write did not complete in time.
    SenderBlocked {
        /// The sender.
        sender: u32,
        /// How long it waited.
        within: Duration,
    },
}

fn request_text(r: &Request, lang: Lang) -> String {
    match (r, lang) {
        (Request::Presence { name: Some(n) }, Lang::En) => format!("presence of {n}"),
        (Request::Presence { name: Some(n) }, Lang::Ru) => format!("presence от {n}"),
        (Request::Presence { name: None }, _) => "presence".to_owned(),
        (Request::Join { room }, _) => format!("join {room}"),
    }
}

fn secs(d: Duration, lang: Lang) -> String {
    let s = format!("{:.1}", d.as_secs_f64());
    match lang {
        Lang::En => format!("{s} s"),
        Lang::Ru => format!("{} с", s.replace('.', ",")),
    }
}

impl Localized for Problem {
    fn text(&self, lang: Lang) -> String {
        let ru = lang == Lang::Ru;
        match self {
            Self::ConnectFailed(e) => {
                format!(
                    "{} {}",
                    lang.pick("connect failed:", "подключение не удалось:"),
                    e.get(lang)
                )
            }
            Self::WriteFailed(e) => {
                format!("{} {}", lang.pick("write failed:", "запись не удалась:"), e.get(lang))
            }
            Self::NoResponse { within } => {
                format!(
                    "{} {}",
                    lang.pick("no response within", "нет ответа за"),
                    secs(*within, lang)
                )
            }
            Self::NotJson { text } => format!("{} {text}", lang.pick("not JSON:", "не JSON:")),
            Self::Unreadable(e) => {
                let why: Cow<'_, str> = if ru { e.text_ru().into() } else { e.to_string().into() };
                format!("{} {why}", lang.pick("unreadable reply:", "нечитаемый ответ:"))
            }
            Self::Closed => {
                lang.pick("the server closed the connection", "сервер закрыл соединение").into()
            }
            Self::ReadFailed(e) => {
                format!("{} {}", lang.pick("read failed:", "чтение не удалось:"), e.get(lang))
            }
            Self::Answered { request, code } => {
                let answered = lang.pick("answered", "— ответ");
                format!("{} {answered} {code}", request_text(request, lang))
            }
            Self::During { request, problem } => {
                format!("{}: {}", request_text(request, lang), problem.text(lang))
            }
            Self::FdLimit { limit, usable } => match lang {
                Lang::En => format!(
                    "open-file limit {limit} allows only {usable} connections here; raise `ulimit -n`"
                ),
                Lang::Ru => format!(
                    "предел открытых файлов {limit} допускает здесь только {usable} соединений; \
                     увеличьте `ulimit -n`"
                ),
            },
            Self::Lost { lost, within, because } => match lang {
                Lang::En => format!(
                    "{lost} deliveries never arrived within {}: {because}",
                    secs(*within, lang)
                ),
                Lang::Ru => format!(
                    "не пришло за {} доставок: {lost}; причины: {}",
                    secs(*within, lang),
                    because.text(lang)
                ),
            },
            Self::TargetClosed { conn } => match lang {
                Lang::En => format!("the target closed connection {conn}"),
                Lang::Ru => format!("цель закрыла соединение {conn}"),
            },
            Self::ConnReadFailed { conn, error } => match lang {
                Lang::En => format!("read on connection {conn} failed: {}", error.get(lang)),
                Lang::Ru => format!("чтение соединения {conn} не удалось: {}", error.get(lang)),
            },
            Self::BadValue { conn, error } => match lang {
                Lang::En => format!("connection {conn} received a bad value: {error}"),
                Lang::Ru => {
                    format!("соединение {conn} получило неверное значение: {}", error.text_ru())
                }
            },
            Self::GotResponse { conn, code, text } => match lang {
                Lang::En => format!("connection {conn} got response {code}: {text}"),
                Lang::Ru => format!("соединение {conn} получило ответ {code}: {text}"),
            },
            Self::NonJson { conn, text } => match lang {
                Lang::En => format!("connection {conn} received non-JSON: {text}"),
                Lang::Ru => format!("соединение {conn} получило не JSON: {text}"),
            },
            Self::SetupRefused { addr, shape, detail } => match lang {
                Lang::En => format!("{addr} refused the setup of {shape}: {detail}"),
                Lang::Ru => {
                    format!("{addr} не дал подготовить {}: {}", shape_ru(shape), detail.text(lang))
                }
            },
            Self::Unreachable { addr, error } => match lang {
                Lang::En => format!(
                    "cannot connect to {addr}: {}; is the server running and listening there?",
                    error.get(lang)
                ),
                Lang::Ru => format!(
                    "не удаётся подключиться к {addr}: {}; сервер запущен и слушает этот адрес?",
                    error.get(lang)
                ),
            },
            Self::Engine(text) => text.clone(),
            Self::NoPairs => lang
                .pick(
                    "direct relay: no pairs configured",
                    "личные сообщения: пар не задано (--pairs 0)",
                )
                .into(),
            Self::NoRoomMembers => lang
                .pick(
                    "room fan-out: no room members configured",
                    "рассылка в комнате: участников не задано (--room-members 0)",
                )
                .into(),
            Self::CourseHasNoRooms => lang
                .pick(
                    "room fan-out: the course dialect has no rooms",
                    "рассылка в комнате: в диалекте курса комнат нет",
                )
                .into(),
            Self::FailedInARow { in_a_row, held } => match lang {
                Lang::En => {
                    format!("{in_a_row} connections in a row failed after {held} were held")
                }
                Lang::Ru => format!(
                    "подряд не удалось соединений: {in_a_row}, после того как удержано {held}"
                ),
            },
            Self::SenderWriteFailed { sender, error } => match lang {
                Lang::En => format!("sender {sender} could not write: {}", error.get(lang)),
                Lang::Ru => format!("отправитель {sender} не смог записать: {}", error.get(lang)),
            },
            Self::SenderBlocked { sender, within } => match lang {
                Lang::En => {
                    format!("sender {sender} could not write: blocked for {}", secs(*within, lang))
                }
                Lang::Ru => format!(
                    "отправитель {sender} не смог записать: запись стояла {}",
                    secs(*within, lang)
                ),
            },
        }
    }
}

/// A measurement's English label ([`crate::traffic::TrafficShape::label`], `presence`) in
/// Russian, as the object of "подготовить".
pub(crate) fn shape_ru(shape: &str) -> &str {
    match shape {
        "direct relay" => "личные сообщения",
        "room fan-out" => "рассылку в комнате",
        other => other,
    }
}

impl From<crate::error::LoadError> for Problem {
    fn from(e: crate::error::LoadError) -> Self {
        use crate::error::LoadError as E;
        match e {
            E::Setup { addr, shape, detail } => Self::SetupRefused { addr, shape, detail },
            E::Unreachable { addr, source } => Self::Unreachable { addr, error: source.into() },
            other => Self::Engine(other.to_string()),
        }
    }
}

/// The English text (what the JSON report carries).
impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(Lang::En))
    }
}

/// A problem is a string in the JSON report (its English), as it was before it had a type.
impl serde::Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for Problem {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Problem".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_is_kept_and_russian_is_given() {
        let p = Problem::During {
            request: Request::Presence { name: Some("load1a".into()) },
            problem: Box::new(Problem::Closed),
        };
        assert_eq!(p.to_string(), "presence of load1a: the server closed the connection");
        assert_eq!(Lang::Ru.say(&p), "presence от load1a: сервер закрыл соединение");
        let a = Problem::Answered { request: Request::Join { room: "#r".into() }, code: 400 };
        assert_eq!(a.to_string(), "join #r answered 400");
        assert_eq!(serde_json::to_value(&a).ok(), Some(serde_json::json!("join #r answered 400")));
    }
}
