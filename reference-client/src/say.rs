//! The client's running lines in English and Russian: what it prints while it connects, sends
//! and receives, in every command.
//!
//! Texts that travel through the library before anyone prints them (what the client was doing
//! when a write failed, why a reply is not JIM, a chat request's label) are [`Said`], the
//! runner's two-language text: the human output shows it in `--lang`, the JSON output and
//! `Display` keep the English. Lines printed where they are made go through `Say`, a typed
//! catalog (a message without its Russian arm does not compile). The server's own words (a
//! response's text) are shown as they came, quoted in Russian so they read as a quotation.

use std::time::Duration;

use jim_conformance::model::ScriptError;
use jim_protocol::{FrameError, ProtocolError, Response};
use jim_text::{Lang, Localized, Noun};

pub use jim_conformance::i18n::Said;

use crate::error::secs;

/// A text in both languages.
pub fn said(en: impl Into<String>, ru: impl Into<String>) -> Said {
    Said::new(en, ru)
}

const MESSAGE: Noun = Noun {
    en: ["message", "messages"],
    ru: ["сообщение", "сообщения", "сообщений"],
};
const BYTE: Noun = Noun { en: ["byte", "bytes"], ru: ["байт", "байта", "байт"] };
const STEP: Noun = Noun { en: ["step", "steps"], ru: ["шаг", "шага", "шагов"] };
const ITEM: Noun = Noun {
    en: ["push, probe or relay", "pushes, probes or relays"],
    ru: ["другое сообщение", "других сообщения", "других сообщений"],
};

/// The standard meaning of a response code, for a response that carries no text of its own.
pub fn code_text(code: u16, lang: Lang) -> String {
    let code = jim_protocol::ResponseCode(code);
    lang.either(code.standard_text(), code.standard_text_ru()).to_owned()
}

/// A response's text in `lang`: the server's own text (quoted in Russian: it is the server's
/// words), or the standard meaning of its code.
pub fn response_text(r: &Response, lang: Lang) -> String {
    match (r.text.as_deref(), lang) {
        (Some(t), Lang::En) if !t.is_empty() => t.to_owned(),
        (Some(t), Lang::Ru) if !t.is_empty() => format!("{t:?}"),
        _ => code_text(r.code().as_u16(), lang),
    }
}

/// Why a value is not an acceptable JIM message, in both languages.
pub fn protocol_error(e: &ProtocolError) -> Said {
    said(e.to_string(), e.text_ru())
}

/// Why bytes are not a JSON value, in both languages.
pub fn frame_error(e: &FrameError) -> Said {
    said(e.to_string(), e.text_ru())
}

/// Why a reply is not JIM, briefly (after "received `...`").
pub fn frame_reason(e: &FrameError) -> Said {
    match e {
        FrameError::Syntax { .. } => said("not JSON", "не JSON"),
        FrameError::InvalidUtf8 { .. } => said("not valid UTF-8", "не UTF-8"),
        FrameError::Oversize { .. } => {
            said("a value larger than the size limit", "значение больше предела размера")
        }
        FrameError::Truncated { .. } => said("an incomplete JSON value", "неполное значение JSON"),
    }
}

/// "received `PREVIEW`: WHY".
pub fn received(preview: &str, why: &Said) -> Said {
    said(
        format!("received {preview}: {}", why.en()),
        format!("получено {preview}: {}", why.get(Lang::Ru)),
    )
}

/// "received `PREVIEW` and no complete JSON value within T".
pub fn partial(preview: &str, within: Duration) -> Said {
    said(
        format!("received {preview} and no complete JSON value within {}", secs(within)),
        format!(
            "получено {preview}, и за {} ни одного целого значения JSON",
            crate::error::secs_in(within, Lang::Ru)
        ),
    )
}

/// "N pushes, probes or relays arrived meanwhile".
pub fn meanwhile(skipped: usize) -> Said {
    let n = skipped as u64;
    said(
        format!("{} arrived meanwhile", ITEM.count(Lang::En, n)),
        format!("тем временем пришло {} (205, probe или пересылки)", ITEM.count(Lang::Ru, n)),
    )
}

/// "sending X" / "отправка X".
pub fn sending(what: &str) -> Said {
    said(format!("sending {what}"), format!("отправка {what}"))
}

/// A line a command prints where it makes it.
#[derive(Debug, Clone)]
pub(crate) enum Say {
    /// `send`: the connection is open.
    Connected { peer: String },
    /// `send`: a write failed.
    WriteFailed { error: String },
    /// `send`: reading stopped at `--max-bytes`.
    StoppedAtMaxBytes { bytes: u64 },
    /// `send`: nothing arrived during `--wait`.
    NothingMore { wait: Duration },
    /// `send`: messages left unsent.
    Unsent { count: usize },
    /// `send`: a JSON argument is not JSON.
    NotJson { position: usize, line: usize, column: usize, detail: String, text: String },
    /// The server closed (or reset) the connection.
    ServerClosed { reset: bool },
    /// `chat`: logged in.
    LoggedIn { name: String, peer: String, dialect: String, code: u16, text: String },
    /// `listen`: logged in.
    Listening { name: String, peer: String, dialect: String, code: u16, text: String },
    /// The users the course server listed after login.
    Users { names: String },
    /// The contacts the course server listed after login.
    Contacts { names: String },
    /// An empty list.
    NoNames,
    /// `listen`: a room joined.
    Joined { room: String },
    /// `listen`: a room refused.
    CannotJoin { room: String, code: u16, text: String },
    /// `listen`: bytes that are not JSON.
    NotJsonBytes { error: String },
    /// `listen`: how it ended.
    Stopped { reason: StopReason, printed: usize },
    /// `chat`: the server ended the session.
    SessionEnded,
    /// `chat`: a request got no answer in time.
    NoAnswerWithin { label: String, within: Duration },
    /// `chat`: a request could not be sent.
    NotSent { label: String, error: String },
    /// `chat`: the plain lines' target.
    TalkingTo { name: String },
    /// `chat`: the queue of lines is full.
    QueueFull,
    /// `chat`: the server says the lists changed.
    Refresh,
    /// `chat`: a probe, answered.
    Probe,
    /// `chat`: a response nothing waited for.
    UnexpectedResponse { code: u16, text: String },
    /// `chat`: a contact list item outside a list.
    ContactItem { name: String },
    /// `chat`: a message the client has no use for.
    OtherAction { action: String, value: String },
    /// `chat`: a message with a problem.
    Malformed { value: String, why: String },
    /// `chat`: a value that is not JIM.
    NotJim { value: String, why: String },
    /// `chat`: "N follow" after a `quantity` response.
    Follow { label: String, count: u64 },
    /// `chat`: a line repeated.
    Repeated { times: u64 },
    /// `script`: every expectation held.
    ScriptOk { steps: usize },
    /// `script`: the script does not parse.
    BadScript { error: ScriptError },
    /// A line cut at the length limit.
    More { chars: usize },
}

/// Why `listen` stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// `--count` messages printed.
    Count,
    /// `--duration` elapsed.
    Duration,
    /// Ctrl-C.
    Interrupted,
    /// Stdout closed.
    OutputClosed,
}

impl Localized for StopReason {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::Count, Lang::En) => "count reached",
            (Self::Count, Lang::Ru) => "получено --count сообщений",
            (Self::Duration, Lang::En) => "duration elapsed",
            (Self::Duration, Lang::Ru) => "истекло время --duration",
            (Self::Interrupted, Lang::En) => "interrupted",
            (Self::Interrupted, Lang::Ru) => "прервано",
            (Self::OutputClosed, Lang::En) => "output closed",
            (Self::OutputClosed, Lang::Ru) => "вывод закрыт",
        }
        .to_owned()
    }
}

impl Localized for Say {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::Connected { peer }, Lang::En) => format!("connected to {peer}"),
            (Self::Connected { peer }, Lang::Ru) => format!("подключено к {peer}"),
            (Self::WriteFailed { error }, Lang::En) => format!("write failed: {error}"),
            (Self::WriteFailed { error }, Lang::Ru) => format!("запись не удалась: {error}"),
            (Self::StoppedAtMaxBytes { bytes }, Lang::En) => {
                format!("stopped reading after {bytes} bytes (--max-bytes)")
            }
            (Self::StoppedAtMaxBytes { bytes }, Lang::Ru) => {
                format!("чтение остановлено после {} (--max-bytes)", BYTE.count(lang, *bytes))
            }
            (Self::NothingMore { wait }, Lang::En) => {
                format!("nothing more after {} ms", wait.as_millis())
            }
            (Self::NothingMore { wait }, Lang::Ru) => {
                format!("больше ничего за {}", crate::error::secs_in(*wait, lang))
            }
            (Self::Unsent { count }, Lang::En) => format!(
                "{} not sent: the connection was closed or failed first",
                MESSAGE.count(lang, *count as u64)
            ),
            (Self::Unsent { count }, Lang::Ru) => format!(
                "не отправлено: {}; соединение закрылось или оборвалось раньше",
                MESSAGE.count(lang, *count as u64)
            ),
            (Self::NotJson { position, detail, text, .. }, Lang::En) => format!(
                "message {position} is not valid JSON ({detail}): {text:?}; to send arbitrary \
                 bytes use --raw"
            ),
            (Self::NotJson { position, line, column, text, .. }, Lang::Ru) => format!(
                "сообщение {position} — не JSON (ошибка в строке {line}, столбце {column}): \
                 {text:?}; чтобы отправить произвольные байты, используйте --raw"
            ),
            (Self::ServerClosed { reset: false }, Lang::En) => {
                "server closed the connection".into()
            }
            (Self::ServerClosed { reset: false }, Lang::Ru) => "сервер закрыл соединение".into(),
            (Self::ServerClosed { reset: true }, Lang::En) => {
                "connection reset by the server".into()
            }
            (Self::ServerClosed { reset: true }, Lang::Ru) => "сервер сбросил соединение".into(),
            (Self::LoggedIn { name, peer, dialect, code, text }, Lang::En) => format!(
                "logged in as {name} at {peer} ({dialect} dialect): {code} {text}; /help lists \
                 the commands"
            ),
            (Self::LoggedIn { name, peer, dialect, code, text }, Lang::Ru) => format!(
                "вход выполнен: {name} на {peer} (диалект {dialect}): {code} {text}; /help — \
                 список команд"
            ),
            (Self::Listening { name, peer, dialect, code, text }, Lang::En) => {
                format!("listening as {name} on {peer} ({dialect} dialect): {code} {text}")
            }
            (Self::Listening { name, peer, dialect, code, text }, Lang::Ru) => {
                format!("слушаю как {name} на {peer} (диалект {dialect}): {code} {text}")
            }
            (Self::Users { names }, Lang::En) => format!("users: {names}"),
            (Self::Users { names }, Lang::Ru) => format!("пользователи: {names}"),
            (Self::Contacts { names }, Lang::En) => format!("contacts: {names}"),
            (Self::Contacts { names }, Lang::Ru) => format!("контакты: {names}"),
            (Self::NoNames, Lang::En) => "(none)".into(),
            (Self::NoNames, Lang::Ru) => "(нет)".into(),
            (Self::Joined { room }, Lang::En) => format!("joined {room}"),
            (Self::Joined { room }, Lang::Ru) => format!("вход в комнату {room} выполнен"),
            (Self::CannotJoin { room, code, text }, Lang::En) => {
                format!("cannot join {room}: {code} {text}")
            }
            (Self::CannotJoin { room, code, text }, Lang::Ru) => {
                format!("не удаётся войти в комнату {room}: {code} {text}")
            }
            (Self::NotJsonBytes { error }, Lang::En) => {
                format!("received bytes that are not JSON: {error}")
            }
            (Self::NotJsonBytes { error }, Lang::Ru) => {
                format!("пришли байты, которые не JSON: {error}")
            }
            (Self::Stopped { reason, printed }, Lang::En) => format!(
                "stopped ({}) after {}",
                lang.say(reason),
                MESSAGE.count(lang, *printed as u64)
            ),
            (Self::Stopped { reason, printed }, Lang::Ru) => format!(
                "остановлено ({}), получено: {}",
                lang.say(reason),
                MESSAGE.count(lang, *printed as u64)
            ),
            (Self::SessionEnded, Lang::En) => "the server ended the session".into(),
            (Self::SessionEnded, Lang::Ru) => "сервер завершил сеанс".into(),
            (Self::NoAnswerWithin { label, within }, Lang::En) => {
                format!("{label}: no answer within {}", secs(*within))
            }
            (Self::NoAnswerWithin { label, within }, Lang::Ru) => {
                format!("{label}: нет ответа за {}", crate::error::secs_in(*within, lang))
            }
            (Self::NotSent { label, error }, Lang::En) => format!("{label}: not sent: {error}"),
            (Self::NotSent { label, error }, Lang::Ru) => {
                format!("{label}: не отправлено: {error}")
            }
            (Self::TalkingTo { name }, Lang::En) => format!("talking to {name}"),
            (Self::TalkingTo { name }, Lang::Ru) => format!("собеседник: {name}"),
            (Self::QueueFull, Lang::En) => {
                "too many lines waiting for the server; this one is dropped".into()
            }
            (Self::QueueFull, Lang::Ru) => {
                "слишком много строк ждут сервера; эта строка отброшена".into()
            }
            (Self::Refresh, Lang::En) => "the server says the lists changed (205)".into(),
            (Self::Refresh, Lang::Ru) => "сервер сообщает, что списки изменились (205)".into(),
            (Self::Probe, Lang::En) => "probe from the server: answering with a presence".into(),
            (Self::Probe, Lang::Ru) => "probe от сервера: отвечаю сообщением presence".into(),
            (Self::UnexpectedResponse { code, text }, Lang::En) => {
                format!("unexpected response: {code} {text}")
            }
            (Self::UnexpectedResponse { code, text }, Lang::Ru) => {
                format!("неожиданный ответ: {code} {text}")
            }
            (Self::ContactItem { name }, Lang::En) => format!("contact: {name}"),
            (Self::ContactItem { name }, Lang::Ru) => format!("контакт: {name}"),
            (Self::OtherAction { action, value }, Lang::En) => format!("{action}: {value}"),
            (Self::OtherAction { action, value }, Lang::Ru) => {
                format!("сообщение {action}: {value}")
            }
            (Self::Malformed { value, why }, Lang::En) => {
                format!("malformed message {value}: {why}")
            }
            (Self::Malformed { value, why }, Lang::Ru) => {
                format!("сообщение с ошибкой {value}: {why}")
            }
            (Self::NotJim { value, why }, Lang::En) => format!("not JIM: {value}: {why}"),
            (Self::NotJim { value, why }, Lang::Ru) => format!("не JIM: {value}: {why}"),
            (Self::Follow { label, count }, Lang::En) => format!("{label}: {count} follow"),
            (Self::Follow { label, count }, Lang::Ru) => {
                format!("{label}: дальше {}", ITEM_FOLLOW.count(lang, *count))
            }
            (Self::Repeated { times }, Lang::En) => format!("(the line above {times} more times)"),
            (Self::Repeated { times }, Lang::Ru) => {
                format!("(строка выше ещё {})", TIMES.count(lang, *times))
            }
            (Self::ScriptOk { steps }, Lang::En) => {
                format!("ok: {}, every expectation held", STEP.count(lang, *steps as u64))
            }
            (Self::ScriptOk { steps }, Lang::Ru) => {
                format!("успех: {}, все ожидания выполнены", STEP.count(lang, *steps as u64))
            }
            (Self::BadScript { error }, Lang::En) => error.to_string(),
            (Self::BadScript { error: ScriptError::Line { name, number, problem } }, Lang::Ru) => {
                format!("{name}: сценарий, строка {number}: {}", problem.get(lang))
            }
            (Self::BadScript { error: ScriptError::NoStep { name } }, Lang::Ru) => {
                format!("{name}: в сценарии нет ни одного шага")
            }
            // A whole fixture file: the fixture language's own (English) message, framed.
            (Self::BadScript { error: ScriptError::Fixture(e) }, Lang::Ru) => {
                format!("{}: файл проверки не разобран: {}", e.path, e.message)
            }
            (Self::More { chars }, Lang::En) => format!("… ({chars} more characters)"),
            (Self::More { chars }, Lang::Ru) => {
                format!("… (ещё {})", CHAR.count(lang, *chars as u64))
            }
        }
    }
}

const ITEM_FOLLOW: Noun = Noun {
    en: ["item", "items"], ru: ["элемент", "элемента", "элементов"]
};
const TIMES: Noun = Noun { en: ["time", "times"], ru: ["раз", "раза", "раз"] };
const CHAR: Noun = Noun {
    en: ["character", "characters"], ru: ["символ", "символа", "символов"]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_follow_the_number() {
        let unsent = |n| Lang::Ru.say(&Say::Unsent { count: n });
        assert!(unsent(1).contains("1 сообщение;"), "{}", unsent(1));
        assert!(unsent(3).contains("3 сообщения;"), "{}", unsent(3));
        assert!(unsent(5).contains("5 сообщений;"), "{}", unsent(5));
        assert_eq!(
            Lang::En.say(&Say::Unsent { count: 1 }).split(':').next(),
            Some("1 message not sent")
        );
        assert_eq!(Lang::Ru.say(&Say::Repeated { times: 2 }), "(строка выше ещё 2 раза)");
        assert!(meanwhile(1).get(Lang::Ru).contains("1 другое сообщение"));
        assert!(meanwhile(3).get(Lang::Ru).contains("3 других сообщения"));
    }
}
