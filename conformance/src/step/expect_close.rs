//! `"expect_close": true`: the peer closes the connection. What may come before the close
//! depends on who the peer is:
//! - a server (after quit/exit) may answer first under `reply-to-quit`, or keep the connection
//!   open under `open-after-quit`. That tolerance forgives the open socket, not the session: the
//!   connection stays open until the case ends, so the steps after this one (another login with
//!   the same name) run while it is open, and a server that ignored the quit (the name still
//!   taken) fails them. Closing it here would free the name by the close and hide that;
//! - a client may say goodbye first, and under `auto_answer` its requests get generic answers.

use crate::i18n::Said;
use std::collections::BTreeSet;

use serde_json::json;

use super::{Body, ConnEffect, Kind, StepResult};
use crate::case::client::{ClientSide, MAX_AUTO_ANSWERS};
use crate::case::server::ServerSide;
use crate::case::{At, Case, Details};
use crate::jim::is_goodbye;
use crate::vocab::{Direction, StepKeyword, Tolerance};
use crate::wire::Arrival;

/// The `expect_close` step.
#[derive(Debug, Clone)]
pub struct ExpectClose;

fn expected() -> Vec<serde_json::Value> {
    vec![json!({"$close": true})]
}

impl ExpectClose {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        b.expect_true()?;
        Ok(Self)
    }

    /// Server mode: the server closes after quit/exit.
    pub(crate) async fn run_server(&self, cx: &mut Case<'_, ServerSide>, at: &At) -> StepResult {
        let reply_allowed = cx.env.tolerances.mode(Tolerance::ReplyToQuit).is_some();
        let open_allowed = cx.env.tolerances.mode(Tolerance::OpenAfterQuit).is_some();
        let mut replied = false;
        loop {
            let arrival = cx.next_for_step(&at.conn, at.deadline, false).await;
            let code = match &arrival {
                Arrival::Value { value, .. } => value.get("response").map(response_code),
                _ => None,
            };
            // Only a success may be tolerated as a reply to quit: an error reply says the
            // server did not understand quit, and no tolerance turns that into a goodbye.
            let answer = matches!(code, Some(Some(200..=299)));
            let refused = matches!(code, Some(c) if !matches!(c, Some(200..=299)));
            match arrival {
                Arrival::Closed { .. } => {
                    if replied {
                        cx.tolerate(Tolerance::ReplyToQuit);
                    }
                    cx.mark_ended(&at.conn);
                    return Ok(());
                }
                Arrival::Value { .. } if !replied && answer && reply_allowed => {
                    replied = true;
                }
                Arrival::Nothing if open_allowed => {
                    cx.tolerate(Tolerance::OpenAfterQuit);
                    if replied {
                        cx.tolerate(Tolerance::ReplyToQuit);
                    }
                    // Left open (no goodbye: it said one); the case's end closes it.
                    let ms = at.within.as_millis();
                    cx.log(
                        &at.conn,
                        Direction::Event,
                        crate::i18n::Said::new(
                            format!("still open {ms} ms after quit/exit: left open (open-after-quit), the session must have ended"),
                            format!("через {ms} мс после quit/exit соединение открыто: оставлено открытым (open-after-quit), сессия должна была завершиться"),
                        ),
                    );
                    cx.mark_ended(&at.conn);
                    return Ok(());
                }
                other => {
                    let mut would_need = BTreeSet::new();
                    if matches!(other, Arrival::Nothing) {
                        would_need.insert(Tolerance::OpenAfterQuit);
                    } else if answer {
                        would_need.insert(Tolerance::ReplyToQuit);
                    }
                    let mut why = vec![crate::i18n::Said::new(
                        "the server should close the connection",
                        "сервер должен закрыть соединение",
                    )];
                    if refused {
                        why.push(crate::i18n::Said::new(
                            "it answered quit/exit with an error: it does not know the action, so it neither ends the session nor frees the name",
                            "на quit/exit он ответил ошибкой: он не знает это действие, поэтому не завершает сессию и не освобождает имя",
                        ));
                    }
                    let arrived = cx.arrived(&at.conn, other, at.within);
                    let details = Details { expected: expected(), why, would_need };
                    return Err(cx.fail(at, arrived, details));
                }
            }
        }
    }

    /// Client mode: the client closes its connection (after a goodbye, maybe).
    pub(crate) async fn run_client(&self, cx: &mut Case<'_, ClientSide>, at: &At) -> StepResult {
        loop {
            let arrival = cx.next(&at.conn, at.deadline).await;
            match &arrival {
                Arrival::Closed { .. } => {
                    cx.mark_ended(&at.conn);
                    return Ok(());
                }
                Arrival::Value { value, .. } if is_goodbye(value) => {}
                Arrival::Value { value, .. }
                    if cx.side.auto_answer && cx.side.answered < MAX_AUTO_ANSWERS =>
                {
                    let value = value.clone();
                    if !ClientSide::answer(cx, &value).await {
                        return Err(cx.problem(
                            at,
                            crate::i18n::Said::new(
                                "cannot answer the client",
                                "не удаётся ответить клиенту",
                            ),
                        ));
                    }
                    cx.side.answered += 1;
                }
                _ => {
                    let why = vec![crate::i18n::Said::new(
                        "the client should close the connection",
                        "клиент должен закрыть соединение",
                    )];
                    let arrived = cx.arrived(&at.conn, arrival, at.within);
                    let details = Details { expected: expected(), why, ..Details::default() };
                    return Err(cx.fail(at, arrived, details));
                }
            }
        }
    }
}

impl Kind for ExpectClose {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::ExpectClose
    }

    fn conn_effect(&self) -> ConnEffect {
        ConnEffect::Closes
    }

    fn checks(&self) -> bool {
        true
    }
}

/// The code of a `response` value: an integer or a numeric string (None otherwise).
fn response_code(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
