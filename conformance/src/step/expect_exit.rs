//! `expect_exit` (client mode): the client process must exit within the step timeout, with the
//! status asked for, and without a crash (a Python traceback or a panic in its output).
//! Requests it sends meanwhile get generic answers under `auto_answer`.

use crate::i18n::Said;
use std::process::ExitStatus;

use serde_json::{Value, json};

use super::{Body, Kind, StepResult};
use crate::case::client::{ClientSide, MAX_AUTO_ANSWERS};
use crate::case::{Arrived, At, Case, Details, Outcome};
use crate::i18n::ClientMsg;
use crate::jim::auto_reply;
use crate::process::describe_status;
use crate::vocab::{Direction, StepKeyword};
use crate::wire::Arrival;

/// The exit status an `expect_exit` step accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Exactly this status.
    Exact(i32),
    /// Any status but 0 (the client reports a failure).
    Nonzero,
    /// Any status: the client only has to exit (without crashing).
    Any,
}

impl ExitCode {
    /// True when `code` is accepted.
    pub fn accepts(self, code: Option<i32>) -> bool {
        match self {
            Self::Exact(want) => code == Some(want),
            Self::Nonzero => code.is_some_and(|c| c != 0),
            Self::Any => true,
        }
    }

    /// "0", "not 0", "any".
    pub fn describe(self) -> String {
        match self {
            Self::Exact(c) => c.to_string(),
            Self::Nonzero => "not 0".to_owned(),
            Self::Any => "any".to_owned(),
        }
    }
}

/// The `expect_exit` step.
#[derive(Debug, Clone, Copy)]
pub struct ExpectExit {
    /// The status accepted.
    pub code: ExitCode,
}

/// What happened while the runner waited for the client to exit.
enum Event {
    Exited(Option<ExitStatus>),
    Arrived(Arrival),
    Timeout,
}

impl ExpectExit {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        let code = match b.value {
            Value::Bool(true) => Some(ExitCode::Exact(0)),
            Value::Object(e) if e.len() == 1 => match e.get("code") {
                Some(Value::String(c)) if c == "nonzero" => Some(ExitCode::Nonzero),
                Some(Value::String(c)) if c == "any" => Some(ExitCode::Any),
                Some(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()).map(ExitCode::Exact),
                None => None,
            },
            _ => None,
        };
        match code {
            Some(code) => Ok(Self { code }),
            None => Err(
                b.error("expect_exit is true (status 0) or {\"code\": N | \"nonzero\" | \"any\"}")
            ),
        }
    }

    pub(crate) async fn run(&self, cx: &mut Case<'_, ClientSide>, at: &At) -> StepResult {
        let expected = vec![json!({"$exit": self.code.describe()})];
        let status = self.wait_exit(cx, at, &expected).await?;
        let shown = describe_status(status);
        cx.log("a", Direction::Event, ClientMsg::Exited { status: shown.clone() }.text());
        let crash = match cx.side.process() {
            Some(p) => {
                p.drain_output().await;
                p.crash_line()
            }
            None => None,
        };
        let (saw, why) = if let Some(line) = crash {
            (ClientMsg::Crashed { status: shown, line }, ClientMsg::WhyCrash)
        } else if !self.code.accepts(status.code()) {
            (ClientMsg::Ended { status: shown }, ClientMsg::WhyExit { want: self.code.describe() })
        } else {
            return Ok(());
        };
        let details = Details { expected, why: vec![why.text().into()], ..Details::default() };
        Err(cx.fail(at, Arrived::Client { saw }, details))
    }

    /// Waits for the client to exit, answering its requests under `auto_answer` meanwhile.
    async fn wait_exit(
        &self,
        cx: &mut Case<'_, ClientSide>,
        at: &At,
        expected: &[Value],
    ) -> Result<ExitStatus, Outcome> {
        let details = |why: crate::i18n::Said| Details {
            expected: expected.to_vec(),
            why: vec![why],
            ..Details::default()
        };
        loop {
            let Some(process) = cx.side.process() else {
                return Err(cx.fail(
                    at,
                    Arrived::Client { saw: ClientMsg::NotRunning },
                    Details::default(),
                ));
            };
            if let Some(status) = process.poll_exit() {
                return Ok(status);
            }
            match next_event(cx, at).await {
                Event::Exited(Some(status)) => return Ok(status),
                Event::Exited(None) => {
                    let arrived = Arrived::Client { saw: ClientMsg::CannotWait };
                    return Err(cx.fail(at, arrived, Details::expected(expected.to_vec())));
                }
                Event::Arrived(a) => {
                    cx.log_arrival("a", &a);
                    match &a {
                        Arrival::Value { value, .. }
                            if cx.side.auto_answer
                                && cx.side.answered < MAX_AUTO_ANSWERS
                                && auto_reply(value).is_some() =>
                        {
                            let value = value.clone();
                            ClientSide::answer(cx, &value).await;
                            cx.side.answered += 1;
                        }
                        Arrival::Bad { .. } => {
                            let arrived = cx.arrived("a", a, at.within);
                            let why = ClientMsg::WhyWhileExiting.text().into();
                            return Err(cx.fail(at, arrived, details(why)));
                        }
                        Arrival::Value { .. } | Arrival::Closed { .. } | Arrival::Nothing => {}
                    }
                }
                Event::Timeout => {
                    let why = ClientMsg::WhyNoExit { secs: at.within.as_secs_f64() }.text().into();
                    let arrived = Arrived::Client { saw: ClientMsg::StillRunning };
                    return Err(cx.fail(at, arrived, details(why)));
                }
            }
        }
    }
}

/// The next of: the client exits, something arrives on its connection (while it is open), the
/// step's time runs out.
async fn next_event(cx: &mut Case<'_, ClientSide>, at: &At) -> Event {
    let Case { side, conns, .. } = cx;
    let Some(process) = side.process.as_mut() else { return Event::Exited(None) };
    let conn = conns.get_mut("a").and_then(|c| c.conn.as_mut()).filter(|c| !c.is_closed());
    let read = async {
        match conn {
            Some(c) => c.next(at.deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        status = process.wait() => Event::Exited(status),
        a = read => Event::Arrived(a),
        () = tokio::time::sleep_until(at.deadline) => Event::Timeout,
    }
}

impl Kind for ExpectExit {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::ExpectExit
    }

    fn needs_conn(&self) -> bool {
        false
    }

    fn acts_on_conn(&self) -> bool {
        false
    }

    fn checks(&self) -> bool {
        true
    }
}
