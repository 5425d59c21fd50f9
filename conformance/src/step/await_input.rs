//! `await_input` (client mode): wait until the client has done what the last step caused and
//! waits for its user: one of its threads is blocked reading its stdin (seen through `/proc`,
//! see [`crate::case::stdin_wait`]), or it has exited. What it sends meanwhile is read (and
//! answered under `auto_answer`): it was sent unasked, before the next step asks anything.
//!
//! Why a step: an interactive client logs in, starts its threads, may send a few messages of its
//! own, and only then sits in its input loop. A step that acts before that point races the
//! client (a probe answered by a presence the client was going to send anyway; a close that
//! lands before the client reaches its input loop, so it exits by luck). Waiting for the state
//! itself, not for a guessed pause, makes the next step's verdict the same in every run.
//!
//! `{"await_input": {"forbid": PATTERN}}` also fails the step when a value the client sends
//! meanwhile matches PATTERN (a presence sent again, unasked, after its 200). Where the state
//! cannot be seen (no `/proc`), or a client that never reads its stdin (a lesson-3 client that
//! waits for the server to close), the step ends at its timeout without failing.

use crate::i18n::Said;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Body, Kind, StepResult, Template};
use crate::case::client::{ClientSide, MAX_AUTO_ANSWERS};
use crate::case::stdin_wait::InputWait;
use crate::case::{At, Case, Details};
use crate::i18n::ClientMsg;
use crate::jim::auto_reply;
use crate::matcher::match_value;
use crate::placeholders::Mode;
use crate::vocab::{Direction, StepKeyword};
use crate::wire::Arrival;

/// How often the client's state is looked at while nothing else happens.
const LOOK_EVERY: Duration = Duration::from_millis(20);

/// How long bytes the client wrote before it blocked may take to reach the runner's socket
/// (loopback delivery runs in a softirq the kernel may defer under load). It only bounds the
/// last read: a client that wrote nothing costs this once per step.
const DELIVERY: Duration = Duration::from_millis(100);

/// The `await_input` step.
#[derive(Debug, Clone)]
pub struct AwaitInput {
    /// A value matching this may not arrive meanwhile.
    pub forbid: Option<Value>,
}

/// What happened while the step waited.
enum Event {
    Exited,
    Arrived(Arrival),
    Look,
    Timeout,
}

impl AwaitInput {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        match b.value {
            Value::Bool(true) => Ok(Self { forbid: None }),
            Value::Object(o) if o.len() == 1 && o.contains_key("forbid") => {
                Ok(Self { forbid: o.get("forbid").cloned() })
            }
            _ => Err(b.error("await_input is true or {\"forbid\": PATTERN}")),
        }
    }

    pub(crate) async fn run(&self, cx: &mut Case<'_, ClientSide>, at: &At) -> StepResult {
        let forbid = match &self.forbid {
            Some(p) => Some(cx.expand(at, p, Mode::Pattern)?),
            None => None,
        };
        let mut seen = InputWait::Unknown;
        loop {
            let event = next_event(cx, at).await;
            match event {
                Event::Exited => {
                    // Everything it sent is in the connection before its close.
                    self.drain(cx, at, forbid.as_ref(), at.deadline).await?;
                    return Ok(());
                }
                Event::Arrived(a) => {
                    cx.log_arrival("a", &a);
                    if self.take(cx, at, forbid.as_ref(), a).await? {
                        // The client closed its side: what it does next is its exit.
                        self.wait_exit(cx, at).await;
                        return Ok(());
                    }
                }
                Event::Look => {
                    seen = cx.side.process().map_or(InputWait::Unknown, |p| p.input_wait());
                    if seen == InputWait::Waiting {
                        cx.log("a", Direction::Event, ClientMsg::WaitingForInput.text());
                        // What it wrote before blocking is in the kernel: let the runtime's
                        // I/O driver see it (yield_now resumes after the driver ran), and give
                        // loopback delivery, which a loaded kernel defers, a short bound.
                        tokio::task::yield_now().await;
                        let until = tokio::time::Instant::now() + DELIVERY;
                        self.drain(cx, at, forbid.as_ref(), until.min(at.deadline)).await?;
                        return Ok(());
                    }
                }
                Event::Timeout => {
                    if seen == InputWait::Unknown {
                        let secs = at.within.as_secs_f64();
                        cx.log("a", Direction::Event, ClientMsg::InputUnseen { secs }.text());
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Reads what is there until nothing more arrives by `until` (or the connection ends).
    async fn drain(
        &self,
        cx: &mut Case<'_, ClientSide>,
        at: &At,
        forbid: Option<&Value>,
        until: tokio::time::Instant,
    ) -> StepResult {
        loop {
            let a = cx.next("a", until).await;
            if matches!(a, Arrival::Nothing) || self.take(cx, at, forbid, a).await? {
                return Ok(());
            }
        }
    }

    /// One arrival: a forbidden value fails the step, a request is answered under
    /// `auto_answer`; true when the connection has ended.
    async fn take(
        &self,
        cx: &mut Case<'_, ClientSide>,
        at: &At,
        forbid: Option<&Value>,
        a: Arrival,
    ) -> Result<bool, crate::case::Outcome> {
        let value = match &a {
            Arrival::Value { value, .. } => value.clone(),
            Arrival::Closed { .. } => {
                cx.log("a", Direction::Event, ClientMsg::ClientClosed.text());
                cx.mark_ended("a");
                return Ok(true);
            }
            Arrival::Bad { .. } | Arrival::Nothing => return Ok(false),
        };
        if let Some(pattern) = forbid {
            if match_value(pattern, &value, &cx.env.tolerances).ok() {
                let arrived = cx.arrived("a", a, at.within);
                let expected = vec![json!({"$not": pattern})];
                return Err(cx.fail(at, arrived, Details::expected(expected)));
            }
        }
        if cx.side.auto_answer
            && cx.side.answered < MAX_AUTO_ANSWERS
            && auto_reply(&value).is_some()
        {
            ClientSide::answer(cx, &value).await;
            cx.side.answered += 1;
        }
        Ok(false)
    }

    /// After the client closed its connection: wait for it to exit, at most until the deadline.
    async fn wait_exit(&self, cx: &mut Case<'_, ClientSide>, at: &At) {
        if let Some(p) = cx.side.process() {
            let _ = tokio::time::timeout_at(at.deadline, p.wait()).await;
        }
    }
}

/// The next of: the client exits, something arrives on its connection, it is time to look at
/// its state again, the step's time runs out.
async fn next_event(cx: &mut Case<'_, ClientSide>, at: &At) -> Event {
    let Case { side, conns, .. } = cx;
    let Some(process) = side.process.as_mut() else { return Event::Exited };
    if process.poll_exit().is_some() {
        return Event::Exited;
    }
    let conn = conns.get_mut("a").and_then(|c| c.conn.as_mut()).filter(|c| !c.is_closed());
    let read = async {
        match conn {
            Some(c) => c.next(at.deadline).await,
            None => std::future::pending().await,
        }
    };
    let look = tokio::time::Instant::now() + LOOK_EVERY;
    tokio::select! {
        _ = process.wait() => Event::Exited,
        a = read => Event::Arrived(a),
        () = tokio::time::sleep_until(look.min(at.deadline)) => {
            if tokio::time::Instant::now() >= at.deadline { Event::Timeout } else { Event::Look }
        }
    }
}

impl Kind for AwaitInput {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::AwaitInput
    }

    fn templates(&self) -> Vec<Template<'_>> {
        self.forbid.iter().map(|p| Template::Json(p, Mode::Pattern)).collect()
    }

    fn checks(&self) -> bool {
        self.forbid.is_some()
    }
}
