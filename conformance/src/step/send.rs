//! `send` and `send_raw`: write one message to the peer, whole or in the run's (or the step's)
//! delivery mode. `send` writes a JSON value (placeholders expanded) compact, with the run's
//! framing; `send_raw` writes bytes as written (escapes `\n \r \t \\ \xNN`, placeholders in
//! `${...}`).

use crate::i18n::Said;
use serde_json::Value;

use super::{Body, Kind, StepResult, Template};
use crate::case::{At, Case, Side};
use crate::jim::{is_routine, presence_name};
use crate::matcher::show;
use crate::placeholders::{Mode, decode_raw};
use crate::vocab::{Delivery, Direction, StepKeyword};
use crate::wire::Sent;

/// What a send step writes.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A JSON template (`send`).
    Json(Value),
    /// Bytes with escapes (`send_raw`).
    Raw(String),
}

/// The `send` and `send_raw` steps.
#[derive(Debug, Clone)]
pub struct Send {
    /// What to write.
    pub payload: Payload,
    /// A delivery mode forced by the fixture (robustness checks).
    pub delivery: Option<Delivery>,
}

impl Send {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        let payload = match (b.keyword, b.value) {
            (StepKeyword::SendRaw, Value::String(s)) => Payload::Raw(s.clone()),
            (StepKeyword::SendRaw, _) => {
                return Err(b.error(Said::new(
                    "send_raw must be a string",
                    "send_raw должно быть строкой",
                )));
            }
            (_, v) => Payload::Json(v.clone()),
        };
        Ok(Self { payload, delivery: b.delivery()? })
    }

    pub(crate) async fn run<S: Side>(&self, cx: &mut Case<'_, S>, at: &At) -> StepResult {
        let (bytes, sent) = match &self.payload {
            Payload::Json(template) => {
                let value = cx.expand(at, template, Mode::Send)?;
                if let Some(name) = presence_name(&value) {
                    cx.conns.entry(at.conn.clone()).or_default().login = Some(name.to_owned());
                }
                cx.log(&at.conn, Direction::Sent, show(&value, 400));
                let whole = self.delivery.is_none_or(|d| d == Delivery::Whole);
                cx.input(at, show(&value, 160), whole && is_routine(&value));
                (jim_protocol::codec::to_bytes(&value, cx.env.framing), Sent::Json(value))
            }
            Payload::Raw(text) => {
                let bytes = match decode_raw(&mut cx.env.vars, text) {
                    Ok(b) => b,
                    Err(e) => return Err(cx.problem(at, e.to_string())),
                };
                let shown = cx.env.vars.expand_str(text).unwrap_or_else(|_| text.clone());
                let preview = jim_protocol::error::preview(&bytes);
                cx.log(&at.conn, Direction::Sent, preview.clone());
                let what =
                    crate::i18n::Said::new(format!("raw {preview}"), format!("байты {preview}"));
                cx.input(at, what, false);
                (bytes, Sent::Raw(shown))
            }
        };
        let delivery = self.delivery.unwrap_or(cx.env.delivery);
        match cx.write(&at.conn, &bytes, sent, delivery, at.deadline).await {
            Ok(()) => Ok(()),
            Err(e) => S::write_failed(cx, at, e),
        }
    }
}

impl Kind for Send {
    fn keyword(&self) -> StepKeyword {
        match self.payload {
            Payload::Json(_) => StepKeyword::Send,
            Payload::Raw(_) => StepKeyword::SendRaw,
        }
    }

    fn templates(&self) -> Vec<Template<'_>> {
        match &self.payload {
            Payload::Json(v) => vec![Template::Json(v, Mode::Send)],
            Payload::Raw(s) => vec![Template::Raw(s)],
        }
    }
}
