//! What a failed step reports: what arrived (as typed data), what was expected instead, why they
//! differ, and how to replay it. [`Details`] names the parts a step fills in, so that a failure
//! is built with named fields wherever it happens.

use std::collections::BTreeSet;

use serde::{Serialize, Serializer};
use serde_json::Value;

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
        message: String,
    },
    /// A step could not be carried out (a send failed, a placeholder is missing).
    Problem {
        /// What happened.
        message: String,
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

    /// A one-line English description.
    pub fn describe(&self, lang: crate::i18n::Lang) -> String {
        let ru = lang.is_ru();
        match self {
            Self::Value { value, .. } => show(value, 400),
            Self::Bad { problem: FrameProblem::Truncated, text, .. } => {
                if ru {
                    format!("соединение закрыто посреди сообщения: {text}")
                } else {
                    format!(
                        "the connection was closed (or reset) in the middle of a message: {text}"
                    )
                }
            }
            Self::Bad { problem: FrameProblem::Oversize, text, .. } => {
                let limit = crate::wire::MAX_VALUE_BYTES / 1024;
                if ru {
                    format!(
                        "сообщение длиннее {limit} КиБ (поток байтов без конца?): {text}; остаток отброшен"
                    )
                } else {
                    format!(
                        "a message longer than {limit} KiB (an endless stream of bytes?): {text}; the rest was discarded"
                    )
                }
            }
            Self::Bad { problem, text, .. } => {
                let mut s = format!("{problem}: {text}");
                if text.contains("{'") || text.contains("': ") {
                    s.push_str(if ru {
                        " (похоже на str(dict) из Python: используйте json.dumps)"
                    } else {
                        " (looks like Python's str(dict): use json.dumps)"
                    });
                } else if text.starts_with("`b'") {
                    s.push_str(if ru {
                        " (похоже на repr байтов b'...': отправляйте сами байты)"
                    } else {
                        " (looks like a Python bytes repr b'...': send the bytes themselves)"
                    });
                } else if *problem == FrameProblem::NotJson && !text.starts_with("`{") {
                    s.push_str(if ru {
                        " (отвечает, но не на JIM)"
                    } else {
                        " (responds, but not JIM)"
                    });
                }
                s
            }
            Self::Nothing { within_ms, partial: None } => {
                let secs = *within_ms as f64 / 1000.0;
                if ru {
                    format!("ничего за {secs} с")
                } else {
                    format!("nothing within {secs} s")
                }
            }
            Self::Nothing { within_ms, partial: Some(p) } => {
                let secs = *within_ms as f64 / 1000.0;
                if ru {
                    format!(
                        "за {secs} с пришло только начало сообщения: {p} (отправка очень медленная или сообщение не закончено)"
                    )
                } else {
                    format!(
                        "only the start of a message within {secs} s: {p} (it is sent very slowly, or never finished)"
                    )
                }
            }
            Self::Closed { reset: false } => lang.t("connection closed").to_owned(),
            Self::Closed { reset: true } => lang.t("connection reset").to_owned(),
            Self::Refused { message } => message.clone(),
            Self::Problem { message } => message.clone(),
        }
    }
}

/// What the runner was doing when a case failed: a step, or starting the client (client mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedAction {
    /// A step of the fixture.
    Step(StepKeyword),
    /// Starting the client command, before any step.
    StartClient,
}

impl Serialize for FailedAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Step(k) => k.serialize(s),
            Self::StartClient => s.serialize_str("start"),
        }
    }
}

impl std::fmt::Display for FailedAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Step(k) => f.write_str(k.as_str()),
            Self::StartClient => f.write_str("start"),
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
    pub mismatches: Vec<String>,
    /// Tolerances that would have accepted it (disabled in this profile, or `--strict`).
    pub would_need: Vec<Tolerance>,
    /// Commands that replay what was sent (`jim-client` lines in server mode).
    pub reproduce: Vec<String>,
    /// True when what arrived looks like "unknown action" (a bare 400, or a text saying so).
    pub unknown_action: bool,
}

/// What a step found wrong, besides what arrived: the parts of a [`Failure`] a step fills in.
#[derive(Debug, Clone, Default)]
pub struct Details {
    /// Every acceptable alternative.
    pub expected: Vec<Value>,
    /// Why what arrived is not one of them.
    pub why: Vec<String>,
    /// Tolerances that would have accepted it.
    pub would_need: BTreeSet<Tolerance>,
}

impl Details {
    /// Only what was expected.
    pub fn expected(expected: Vec<Value>) -> Self {
        Self { expected, ..Self::default() }
    }
}
