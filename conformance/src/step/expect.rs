//! `expect` and `expect_any`: the next value on the connection must match a pattern, or one of
//! several (all shown with a failure). In server mode a 205 push or a probe is skipped unless a
//! pattern asks for a 205, and so are values a `tolerate` step declared skippable; in client
//! mode, under `auto_answer`, requests that do not match get a generic answer and the step reads
//! on.
//!
//! Modifiers: `optional_under` (nothing arriving is accepted under a tolerance), `close_ok_under`
//! (the peer closing instead is accepted under a tolerance), `one_write` (§framing W3: the value
//! arrived in one read, apart from the value before it; see [`crate::read_log`]).

use crate::i18n::Said;
use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{Body, Kind, StepResult, Template};
use crate::case::{At, Case, Details, Side, judge};
use crate::matcher::{Tolerances, match_value};
use crate::placeholders::Mode;
use crate::vocab::{StepKeyword, StepModifier, Tolerance};
use crate::wire::Arrival;

/// The `expect` and `expect_any` steps.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The acceptable patterns (one for `expect`).
    pub alternatives: Vec<Value>,
    /// Nothing arriving is accepted under this tolerance (e.g. `no-msg-ack`).
    pub optional_under: Option<Tolerance>,
    /// The connection being closed instead is accepted under this tolerance (e.g.
    /// `close-on-bad-input`).
    pub close_ok_under: Option<Tolerance>,
    /// The value must have arrived in one read, and not in the same read as the value before it.
    pub one_write: bool,
}

impl Expect {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        let alternatives = match (b.keyword, b.value) {
            (StepKeyword::ExpectAny, Value::Array(alts)) if !alts.is_empty() => alts.clone(),
            (StepKeyword::ExpectAny, _) => {
                return Err(b.error(Said::new(
                    "expect_any must be a non-empty list of patterns",
                    "expect_any должно быть непустым списком образцов",
                )));
            }
            (_, v) => vec![v.clone()],
        };
        Ok(Self {
            alternatives,
            optional_under: b.tolerance(StepModifier::OptionalUnder)?,
            close_ok_under: b.tolerance(StepModifier::CloseOkUnder)?,
            one_write: b.flag(StepModifier::OneWrite)?,
        })
    }

    pub(crate) async fn run<S: Side>(&self, cx: &mut Case<'_, S>, at: &At) -> StepResult {
        let alts = cx.expand_all(at, &self.alternatives, Mode::Pattern)?;
        let push = json!({"response": 205});
        let wants_push =
            alts.iter().any(|a| match_value(a, &push, &Tolerances::all_lenient()).ok());
        loop {
            let arrival = cx.next_for_step(&at.conn, at.deadline, wants_push).await;
            let Arrival::Value { value, same_read, .. } = &arrival else {
                return self.no_value(cx, at, alts, arrival);
            };
            let mut details = match judge(&alts, value, &cx.env.tolerances) {
                Ok(matched) => {
                    cx.accept_match(&matched);
                    return self.one_write_check(cx, at, alts, arrival);
                }
                Err(details) => details,
            };
            let value = value.clone();
            if S::answer_unasked(cx, &value).await {
                continue;
            }
            if S::FLAGS_GLUED_WRITES && *same_read {
                details.why.push(crate::i18n::Said::new(
                    "it came in the same read as the client's previous message: both were written at once",
                    "оно пришло в одном чтении с предыдущим сообщением клиента: оба записаны разом",
                ));
            }
            let arrived = cx.arrived(&at.conn, arrival, at.within);
            return Err(cx.fail(at, arrived, details));
        }
    }

    /// For a `one_write` step: the value matched, but fails if it broke §framing W3.
    fn one_write_check<S: Side>(
        &self,
        cx: &mut Case<'_, S>,
        at: &At,
        alts: Vec<Value>,
        arrival: Arrival,
    ) -> StepResult {
        if !self.one_write {
            return Ok(());
        }
        let pieces = cx.conn_mut(&at.conn).and_then(|c| c.last_pieces());
        let Some(problem) = pieces.and_then(|p| p.problem()) else { return Ok(()) };
        let arrived = crate::case::Arrived::from_arrival(arrival, at.within);
        let details = Details { expected: alts, why: vec![problem.into()], ..Details::default() };
        Err(cx.fail(at, arrived, details))
    }

    /// No value arrived: a close or nothing, accepted only under the step's tolerances.
    fn no_value<S: Side>(
        &self,
        cx: &mut Case<'_, S>,
        at: &At,
        alts: Vec<Value>,
        arrival: Arrival,
    ) -> StepResult {
        let allowed = match arrival {
            Arrival::Closed { .. } => self.close_ok_under,
            Arrival::Nothing => self.optional_under,
            _ => None,
        };
        let mut details = Details::expected(alts);
        if let Some(tolerance) = allowed {
            if cx.tolerate(tolerance) {
                if matches!(arrival, Arrival::Closed { .. }) {
                    cx.mark_ended(&at.conn);
                }
                return Ok(());
            }
            details.would_need = BTreeSet::from([tolerance]);
        }
        let arrived = cx.arrived(&at.conn, arrival, at.within);
        Err(cx.fail(at, arrived, details))
    }
}

impl Kind for Expect {
    fn keyword(&self) -> StepKeyword {
        if self.alternatives.len() == 1 { StepKeyword::Expect } else { StepKeyword::ExpectAny }
    }

    fn templates(&self) -> Vec<Template<'_>> {
        self.alternatives.iter().map(|a| Template::Json(a, Mode::Pattern)).collect()
    }

    fn checks(&self) -> bool {
        true
    }
}
