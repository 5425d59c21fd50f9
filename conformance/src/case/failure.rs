//! What a failed step reports: what arrived (as typed data), what was expected instead, why they
//! differ, and how to replay it. [`Details`] names the parts a step fills in, so that a failure
//! is built with named fields wherever it happens.

use std::collections::BTreeSet;

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::i18n::{ClientMsg, Lang, Looks, Msg};
use crate::matcher::show;
use crate::model::Text;
use crate::vocab::{FrameProblem, StepKeyword, Tolerance};
use crate::wire::Sent;

/// What arrived where a step looked, for the report.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arrived {
    /// A JSON value.
    Value {
        /// The value.
        value: Value,
        /// The bytes, escaped.
        raw: String,
    },
    /// Bytes that are not JSON.
    Bad {
        /// What is wrong with them.
        problem: FrameProblem,
        /// The decoder's explanation.
        detail: String,
        /// The bytes, escaped.
        text: String,
    },
    /// Nothing within the step timeout.
    Nothing {
        /// The timeout in milliseconds.
        within_ms: u64,
        /// The start of a value that began to arrive but never completed, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        partial: Option<String>,
    },
    /// The connection was closed (or reset) by the target.
    Closed {
        /// True for a reset.
        reset: bool,
    },
    /// The connection could not be opened.
    Refused {
        /// The error.
        message: crate::i18n::Said,
    },
    /// A step could not be carried out (a send failed, a placeholder is missing).
    Problem {
        /// What happened.
        message: crate::i18n::Said,
    },
    /// Client mode: what the runner saw of the client process (it did not connect, exited,
    /// crashed ...), in the catalog's words.
    Client {
        /// What.
        saw: ClientMsg,
    },
}

impl Arrived {
    /// What a read produced, as the report shows it (`Nothing` without a partial value).
    pub fn from_arrival(a: crate::wire::Arrival, within: std::time::Duration) -> Self {
        use crate::wire::Arrival;
        match a {
            Arrival::Value { value, raw, .. } => Self::Value { value, raw },
            Arrival::Bad { kind, detail, text } => Self::Bad { problem: kind, detail, text },
            Arrival::Closed { reset } => Self::Closed { reset },
            Arrival::Nothing => {
                Self::Nothing { within_ms: within.as_millis() as u64, partial: None }
            }
        }
    }

    /// What arrived, as a message of the catalog.
    pub fn message(&self) -> Msg {
        match self {
            Self::Value { value, .. } => Msg::Shown { text: show(value, 400) },
            Self::Bad { problem: FrameProblem::Truncated, text, .. } => {
                Msg::Truncated { text: text.clone() }
            }
            Self::Bad { problem: FrameProblem::Oversize, text, .. } => {
                Msg::Oversize { kib: crate::wire::MAX_VALUE_BYTES / 1024, text: text.clone() }
            }
            Self::Bad { problem, text, .. } => {
                let looks = if text.contains("{'") || text.contains("': ") {
                    Some(Looks::PythonDict)
                } else if text.starts_with("`b'") {
                    Some(Looks::BytesRepr)
                } else if *problem == FrameProblem::NotJson && !text.starts_with("`{") {
                    Some(Looks::NotJim)
                } else {
                    None
                };
                Msg::Bad { problem: *problem, text: text.clone(), looks }
            }
            Self::Nothing { within_ms, partial } => {
                let secs = *within_ms as f64 / 1000.0;
                match partial {
                    None => Msg::NothingWithin { secs },
                    Some(p) => Msg::OnlyStart { secs, partial: p.clone() },
                }
            }
            Self::Closed { reset: false } => Msg::ConnectionClosed,
            Self::Closed { reset: true } => Msg::ConnectionReset,
            Self::Refused { message } | Self::Problem { message } => Msg::Both(message.clone()),
            Self::Client { saw } => Msg::Client(saw.clone()),
        }
    }

    /// A one-line description in `lang`.
    pub fn describe(&self, lang: Lang) -> String {
        lang.say(&self.message())
    }
}

/// What the runner was doing when a case failed: a step, or starting the client (client mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedAction {
    /// A step of the fixture.
    Step(StepKeyword),
    /// Starting the client command, before any step.
    StartClient,
    /// An exploration session (`jim-conformance explore`), not a fixture step.
    Explore,
}

impl Serialize for FailedAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Step(k) => k.serialize(s),
            Self::StartClient => s.serialize_str("start"),
            Self::Explore => s.serialize_str("explore"),
        }
    }
}

impl std::fmt::Display for FailedAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Step(k) => f.write_str(k.as_str()),
            Self::StartClient => f.write_str("start"),
            Self::Explore => f.write_str("explore"),
        }
    }
}

/// The details of a failed step.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// 1-based step number.
    pub step: usize,
    /// The connection.
    pub conn: String,
    /// The step's action.
    pub action: FailedAction,
    /// What the step checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<Text>,
    /// What this connection had sent so far.
    pub sent: Vec<Sent>,
    /// Every acceptable alternative (patterns with placeholders expanded).
    pub expected: Vec<Value>,
    /// What arrived instead.
    pub arrived: Arrived,
    /// Why each alternative did not match.
    pub mismatches: Vec<crate::i18n::Said>,
    /// Tolerances that would have accepted it (disabled in this profile, or `--strict`).
    pub would_need: Vec<Tolerance>,
    /// Commands that replay what was sent (`jim-client` lines in server mode).
    pub reproduce: Vec<crate::i18n::Said>,
    /// True when what arrived looks like "unknown action" (a bare 400, or a text saying so).
    pub unknown_action: bool,
}

impl Failure {
    /// A hint keyed by what was observed, where it says more than the fixture's own hint
    /// (issue 13 item 6): a success code where every alternative expected an error means the
    /// server accepted what it must refuse (it did not die, it did not send malformed JSON),
    /// whatever the fixture's hint says about crashes.
    pub fn observed_hint(&self, fixture_hint: &Text) -> Option<Text> {
        if self.at_login() {
            // The fixture's hint is about what the case tests, which it never reached.
            return Some(Text {
                en: "This case failed at its login (the presence under \"sent\"), before the part it tests: the server refused or did not answer it. Fix the login first (presence/basic checks it; if that passes, compare its presence with this one: fields, length, name); the case's own advice applies once the login passes.".into(),
                ru: "Этот случай упал на входе (presence в «отправлено»), раньше того, что он проверяет: сервер отклонил его или не ответил. Сначала исправьте вход (его проверяет presence/basic; если тот проходит, сравните его presence с этим: поля, длина, имя); совет самого случая пригодится, когда вход пройдёт.".into(),
            });
        }
        let Arrived::Value { value, .. } = &self.arrived else { return None };
        let (code, _) = value.get("response").and_then(crate::matcher::read_code)?;
        if self.expected.is_empty() {
            return None;
        }
        let expects = |p: &Value, c: i64| {
            p.get("response").is_some_and(|r| {
                crate::matcher::match_value(r, &Value::from(c), &crate::matcher::Tolerances::none())
                    .ok()
            })
        };
        let only_errors = self.expected.iter().all(|p| {
            ERROR_CODES.into_iter().any(|c| expects(p, c))
                && ![200, 201, 202, 205].into_iter().any(|c| expects(p, c))
        });
        if (400..500).contains(&code) && !only_errors && self.sent_in_pieces() {
            return Some(Text {
                en: format!(
                    "Your server answered {code} to a request that reached it in pieces written separately (under \"sent\"): it parsed a piece on its own, as if one recv() were one message. Keep a buffer per connection, append what recv() returns, and parse only when a whole JSON value is there."
                ),
                ru: format!(
                    "Ваш сервер ответил {code} на запрос, который пришёл кусками, записанными по отдельности (в «отправлено»): он разобрал кусок отдельно, как будто один recv() — одно сообщение. Держите буфер на соединение, добавляйте в него то, что вернул recv(), и разбирайте, только когда там целое JSON-значение."
                ),
            });
        }
        if (400..600).contains(&code) && only_errors {
            return another_error(code, &expects_any(&self.expected, expects), fixture_hint);
        }
        if !(200..300).contains(&code) {
            return None;
        }
        only_errors.then(|| Text {
            en: format!(
                "Your server answered {code} (success) to a request it must refuse with an error code: it did not check the request before answering. Validate first (is the action known? are the required fields there and of the right type? is the name free? does the addressee exist?) and answer 400/404/409 when the check fails; answer 200 only for a request you carried out."
            ),
            ru: format!(
                "Ваш сервер ответил {code} (успех) на запрос, который должен отклонить с кодом ошибки: он не проверил запрос перед ответом. Сначала проверяйте (известно ли действие? есть ли обязательные поля и нужного ли они типа? свободно ли имя? существует ли адресат?) и отвечайте 400/404/409, если проверка не прошла; 200 — только на выполненный запрос."
            ),
        })
    }
}

/// The note fixtures put on a login step ("the login must succeed first").
pub const LOGIN_NOTE: &str = "the login must succeed";

impl Failure {
    /// The failing step is a login that the fixture marks as a precondition.
    pub fn at_login(&self) -> bool {
        self.note.as_ref().is_some_and(|n| n.en.starts_with(LOGIN_NOTE))
    }

    /// The last request went out as raw pieces, the first of which is not a JSON value on its
    /// own (slow-loris: a request stalled in the middle, then finished).
    fn sent_in_pieces(&self) -> bool {
        match self.sent.as_slice() {
            [.., Sent::Raw(first), Sent::Raw(_)] => {
                serde_json::from_str::<Value>(first.trim()).is_err()
            }
            _ => false,
        }
    }
}

/// Error codes a fixture may expect, for telling one refusal from another.
const ERROR_CODES: [i64; 9] = [400, 401, 402, 403, 404, 405, 409, 410, 500];

/// The error codes some expected alternative accepts.
fn expects_any(expected: &[Value], expects: impl Fn(&Value, i64) -> bool) -> Vec<i64> {
    ERROR_CODES.into_iter().filter(|c| expected.iter().any(|p| expects(p, *c))).collect()
}

/// The hint for a refusal with the wrong code (issue 13 item 6): `code` arrived where one of
/// `due` (one or two codes) was expected. The fixture's hint follows, since the cause it names
/// may still be the one.
fn another_error(code: i64, due: &[i64], fixture_hint: &Text) -> Option<Text> {
    if due.is_empty() || due.len() > 2 || due.contains(&code) {
        return None;
    }
    let meaning = |c: i64, ru: bool| {
        let rc = jim_protocol::ResponseCode(u16::try_from(c).unwrap_or(0));
        format!("{c} ({})", if ru { rc.standard_text_ru() } else { rc.standard_text() })
    };
    let list =
        |ru: bool, or: &str| due.iter().map(|c| meaning(*c, ru)).collect::<Vec<_>>().join(or);
    Some(Text {
        en: format!(
            "Your server refused the request, but with {} where {} is due: each refusal has its own code, so that a client can tell why (400 a malformed request, 404 an unknown user or room, 409 a name in use, 410 an addressee offline). {}",
            meaning(code, false),
            list(false, " or "),
            fixture_hint.en
        ),
        ru: format!(
            "Ваш сервер отклонил запрос, но с кодом {} там, где нужен {}: у каждого отказа свой код, чтобы клиент понял причину (400 — неверный запрос, 404 — неизвестный пользователь или комната, 409 — имя занято, 410 — адресат не в сети). {}",
            meaning(code, true),
            list(true, " или "),
            fixture_hint.ru
        ),
    })
}

/// What a step found wrong, besides what arrived: the parts of a [`Failure`] a step fills in.
#[derive(Debug, Clone, Default)]
pub struct Details {
    /// Every acceptable alternative.
    pub expected: Vec<Value>,
    /// Why what arrived is not one of them.
    pub why: Vec<crate::i18n::Said>,
    /// Tolerances that would have accepted it.
    pub would_need: BTreeSet<Tolerance>,
}

impl Details {
    /// Only what was expected.
    pub fn expected(expected: Vec<Value>) -> Self {
        Self { expected, ..Self::default() }
    }
}
