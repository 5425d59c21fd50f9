//! `expect_silence`: nothing may arrive on the connection. `{"before": PATTERN}` is a
//! round-trip barrier that an earlier step set in motion (nothing may arrive before a value
//! matching PATTERN: proof without a sleep that a message did not come); `{"for_ms": N}` waits N
//! milliseconds, only where no barrier is possible (client mode has none; before a client's
//! first message nothing can make a server answer), with `"close_ok": true` when a close is no
//! value (a lesson-3 server closes after its one reply).

use crate::i18n::Said;
use serde_json::{Value, json};

use super::{Body, Kind, StepResult, Template};
use crate::case::{At, Case, Details, Side};
use crate::matcher::{match_value, show};
use crate::placeholders::Mode;
use crate::vocab::StepKeyword;
use crate::wire::Arrival;

/// Longest `for_ms`.
const MAX_SILENCE_MS: u64 = 10_000;

/// The `expect_silence` step (server mode).
#[derive(Debug, Clone)]
pub enum ExpectSilence {
    /// Nothing may arrive before a value matching this pattern.
    Before(Value),
    /// Nothing may arrive for a while.
    For(SilenceFor),
}

/// `expect_silence` with `for_ms` (the only form client mode has).
#[derive(Debug, Clone, Copy)]
pub struct SilenceFor {
    /// How long, in milliseconds.
    pub ms: u64,
    /// A close (or reset) within that time is fine: only a value breaks the silence.
    pub close_ok: bool,
}

impl ExpectSilence {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        match b.value {
            Value::Object(s) if s.len() == 1 && s.contains_key("before") => {
                Ok(Self::Before(s["before"].clone()))
            }
            Value::Object(s)
                if s.contains_key("for_ms")
                    && s.keys().all(|k| k == "for_ms" || k == "close_ok") =>
            {
                let close_ok = match s.get("close_ok") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(b.error(Said::new(
                        "close_ok must be true or false",
                        "close_ok должно быть true или false",
                    ))),
                };
                match s["for_ms"].as_u64() {
                    Some(ms) if ms <= MAX_SILENCE_MS => Ok(Self::For(SilenceFor { ms, close_ok })),
                    _ => Err(b.error(Said::new(
                        "for_ms must be 0..=10000",
                        "for_ms должно быть от 0 до 10000",
                    ))),
                }
            }
            _ => Err(b.error(Said::new(
                "expect_silence takes {\"before\": PATTERN} or {\"for_ms\": N[, \"close_ok\": true]}",
                "expect_silence принимает {\"before\": PATTERN} или {\"for_ms\": N[, \"close_ok\": true]}",
            ))),
        }
    }

    pub(crate) async fn run<S: Side>(&self, cx: &mut Case<'_, S>, at: &At) -> StepResult {
        let marker = match self {
            Self::For(f) => return f.run(cx, at).await,
            Self::Before(marker) => cx.expand(at, marker, Mode::Pattern)?,
        };
        let arrival = cx.next_for_step(&at.conn, at.deadline, false).await;
        let why = if let Arrival::Value { value, .. } = &arrival {
            let r = match_value(&marker, value, &cx.env.tolerances);
            if r.ok() {
                cx.accept_match(&r);
                return Ok(());
            }
            let marker = show(&marker, 200);
            crate::i18n::Said::new(
                format!(
                    "this arrived before the marker {marker} that proves the server has nothing else for this connection"
                ),
                format!(
                    "это пришло раньше метки {marker}, которая доказывает, что серверу больше нечего слать в это соединение"
                ),
            )
        } else {
            crate::i18n::Said::new(
                "the marker never arrived, so silence could not be confirmed",
                "метка так и не пришла, поэтому тишину подтвердить нельзя",
            )
        };
        let arrived = cx.arrived(&at.conn, arrival, at.within);
        let expected = vec![json!({"$silence_before": marker})];
        Err(cx.fail(at, arrived, Details { expected, why: vec![why], ..Details::default() }))
    }
}

impl SilenceFor {
    pub(crate) async fn run<S: Side>(&self, cx: &mut Case<'_, S>, at: &At) -> StepResult {
        let ms = self.ms;
        let until = tokio::time::Instant::now() + std::time::Duration::from_millis(ms);
        let arrival = cx.next_for_step(&at.conn, until, false).await;
        if matches!(arrival, Arrival::Nothing)
            || (self.close_ok && matches!(arrival, Arrival::Closed { .. }))
        {
            return Ok(());
        }
        let mut why = vec![crate::i18n::Said::new(
            format!("nothing should arrive within {ms} ms"),
            format!("за {ms} мс ничего не должно прийти"),
        )];
        if S::FLAGS_GLUED_WRITES && matches!(arrival, Arrival::Value { same_read: true, .. }) {
            why.push(crate::i18n::Said::new(
                "it came in the same read as the message before it: the client wrote both at once",
                "оно пришло в одном чтении с предыдущим сообщением: клиент записал оба разом",
            ));
        }
        let arrived = cx.arrived(&at.conn, arrival, at.within);
        let expected = vec![json!({"$silence_ms": ms})];
        Err(cx.fail(at, arrived, Details { expected, why, ..Details::default() }))
    }
}

impl Kind for ExpectSilence {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::ExpectSilence
    }

    fn templates(&self) -> Vec<Template<'_>> {
        match self {
            Self::Before(v) => vec![Template::Json(v, Mode::Pattern)],
            Self::For(_) => Vec::new(),
        }
    }

    fn checks(&self) -> bool {
        true
    }
}

impl Kind for SilenceFor {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::ExpectSilence
    }

    fn checks(&self) -> bool {
        true
    }
}
