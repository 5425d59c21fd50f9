//! The executor: runs one fixture's steps against one target and says what happened, with
//! enough detail (what was sent, every acceptable alternative, what arrived) for a readable
//! failure. One executor serves both roles: [`Case`] is the one session type of a case, and a
//! [`Side`] says what differs between judging a server ([`server::ServerSide`]: the runner
//! connects, skips pushes, says goodbye at the end) and judging a client
//! ([`client::ClientSide`]: the runner accepts the client's connection, answers its requests,
//! watches its process). The steps themselves live in [`crate::step`], one module per kind.
//!
//! Steps run in order; each `expect` reads the next value on its connection within the step
//! timeout (every read bounded in size and time by [`crate::wire`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jim_protocol::Framing;
use serde_json::Value;
use tokio::time::Instant;

use crate::jim::is_push;
use crate::matcher::{Outcome as Match, ToleranceMode, Tolerances, match_value};
use crate::model::{Fixture, Step, Text};
use crate::placeholders::{Mode, Vars};
use crate::report::ProcessReport;
use crate::step::RoleStep;
use crate::vocab::{Delivery, Direction, StepKeyword, Tolerance};
use crate::wire::{Arrival, Conn, Pace, Sent};

pub mod client;
mod failure;
mod reproduce;
pub mod server;
pub mod stdin_wait;
mod transcript;

pub use failure::{Arrived, Details, FailedAction, Failure};
pub use reproduce::jim_client_lines;
pub use reproduce::{REPRODUCTION_PORT, ScriptOptions, jim_client_script, with_start};
pub use transcript::{Input, Line};

use transcript::{Inputs, Transcript};

/// Unsolicited items skipped while waiting for one step (the step deadline bounds the time too).
const MAX_SKIPPED: usize = 10_000;

/// Values a failing case's transcript shows per connection of what arrived unread.
const MAX_UNREAD_SHOWN: usize = 4;

/// Pushes a transcript shows per case (the rest are skipped silently).
const MAX_PUSHES_SHOWN: usize = 3;

/// What a case needs from the run, whatever the role.
#[derive(Debug, Clone)]
pub struct CaseEnv {
    /// Tolerances in force.
    pub tolerances: Tolerances,
    /// Default step timeout.
    pub timeout: Duration,
    /// How sent values end.
    pub framing: Framing,
    /// Delivery mode for every send (unless a step forces one).
    pub delivery: Delivery,
    /// Placeholder values for this case run.
    pub vars: Vars,
    /// How far apart the pieces of split and trickled messages are written (the target's
    /// measured loop turn, see [`Pace`]).
    pub pace: Pace,
}

/// How a case ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every step held; the lenient tolerances that were needed.
    Pass(BTreeSet<Tolerance>),
    /// A step failed: a fact about the target.
    Fail(Box<Failure>),
    /// The target could not be reached, or the client could not be started.
    Error(Box<Failure>),
}

/// The result of running a case.
#[derive(Debug, Clone)]
pub struct CaseRun {
    /// How it ended.
    pub outcome: Outcome,
    /// What went over the wire (bounded).
    pub transcript: Vec<Line>,
    /// How long it took.
    pub duration: Duration,
    /// What the case did to the target, step by step (sends and disconnects, bounded), to name
    /// the input that broke a server.
    pub inputs: Vec<Input>,
    /// Client mode: the client process, how it ended and what it printed.
    pub process: Option<ProcessReport>,
    /// Commands that replay the case by hand (what a failure prints).
    pub reproduce: Vec<crate::i18n::Said>,
}

/// Where a step is and how long it may take.
#[derive(Debug, Clone)]
pub struct At {
    /// 1-based step number.
    pub number: usize,
    /// The connection it acts on.
    pub conn: String,
    /// Its keyword.
    pub keyword: StepKeyword,
    /// What it checks.
    pub note: Option<Text>,
    /// Its timeout.
    pub within: Duration,
    /// When it must be done (the timeout from when its connection was ready).
    pub deadline: Instant,
}

/// One connection of a case.
#[derive(Debug, Default)]
pub struct ConnState {
    /// The connection, once opened (kept after a close, to show what was sent).
    pub conn: Option<Conn>,
    /// Values that may be skipped under a tolerance (`tolerate` steps).
    pub skip: Vec<(Tolerance, Value)>,
    /// The name it logged in with, for the goodbye at the end.
    pub login: Option<String>,
    /// The case ended it (closed, or saw it closed): no goodbye at the end.
    pub ended: bool,
    /// The last thing on it was a write (no value read since).
    pub wrote_last: bool,
}

/// What differs between the two roles of the runner. The executor and the step modules call
/// these, and nothing else about the role.
pub trait Side: Sized + std::marker::Send {
    /// The steps this role may take.
    type Step: RoleStep + Sync;

    /// The role flags values that arrive in the same read as the value before them (in client
    /// mode a client must write one message per write; in server mode only `one_write` steps
    /// judge that).
    const FLAGS_GLUED_WRITES: bool;

    /// Runs one step (the role enum's dispatch).
    fn run_step<'a>(
        cx: &'a mut Case<'_, Self>,
        step: &'a Self::Step,
        at: &'a At,
    ) -> impl Future<Output = Result<(), Outcome>> + std::marker::Send + 'a;

    /// Makes the step's connection ready: server mode connects (anew when `reopen`), client
    /// mode waits for the client's one connection. Returns the step's deadline.
    fn open<'a>(
        cx: &'a mut Case<'_, Self>,
        at: &'a At,
        reopen: bool,
    ) -> impl Future<Output = Result<Instant, Outcome>> + std::marker::Send + 'a;

    /// True when `value`, arriving on `conn` while a step waits, is not for the step (server
    /// mode: a push, cross-talk from a parallel case, a tolerated value).
    fn unsolicited(cx: &mut Case<'_, Self>, conn: &str, value: &Value, wants_push: bool) -> bool;

    /// Answers a request the step did not ask for, if the role does (client mode under
    /// `auto_answer`); true when it was answered and the step should read on.
    fn answer_unasked<'a>(
        cx: &'a mut Case<'_, Self>,
        value: &'a Value,
    ) -> impl Future<Output = bool> + std::marker::Send + 'a;

    /// A write to the peer failed: how the step ends.
    fn write_failed(cx: &mut Case<'_, Self>, at: &At, error: std::io::Error) -> StepResult;

    /// Completes a failure with what the role knows (the client's state, how to replay it).
    fn complete(cx: &mut Case<'_, Self>, failure: &mut Failure);

    /// Commands that replay the case; `failing` is the connection whose step failed, if any.
    fn reproduce(cx: &Case<'_, Self>, failing: Option<&str>) -> Vec<crate::i18n::Said>;

    /// Ends the case: goodbyes (server mode) or the client process (client mode).
    fn finish<'a>(
        cx: &'a mut Case<'_, Self>,
    ) -> impl Future<Output = Option<ProcessReport>> + std::marker::Send + 'a;
}

/// What a step run gives: nothing, or how the case ends.
pub type StepResult = Result<(), Outcome>;

/// One case being run: the one session type of the executor, whatever the role.
#[derive(Debug)]
pub struct Case<'f, S> {
    /// The fixture.
    pub fx: &'f Fixture,
    /// What the run gave the case.
    pub env: CaseEnv,
    /// What the role adds.
    pub side: S,
    /// The connections, by name.
    pub conns: BTreeMap<String, ConnState>,
    order: Vec<String>,
    lenient: BTreeSet<Tolerance>,
    transcript: Transcript,
    inputs: Inputs,
    pushes: usize,
}

/// Runs `steps` (of `fx`) with `env` on `side`, then ends the case.
pub(crate) async fn execute<S: Side>(
    fx: &Fixture,
    steps: &[Step<S::Step>],
    env: CaseEnv,
    side: S,
) -> CaseRun {
    let started = Instant::now();
    let mut cx = Case {
        fx,
        env,
        side,
        conns: BTreeMap::new(),
        order: Vec::new(),
        lenient: BTreeSet::new(),
        transcript: Transcript::new(),
        inputs: Inputs::default(),
        pushes: 0,
    };
    let mut outcome = None;
    for step in steps {
        if let Err(o) = cx.step(step).await {
            outcome = Some(o);
            break;
        }
    }
    if outcome.is_some() {
        cx.show_unread().await;
    }
    let process = S::finish(&mut cx).await;
    let reproduce = S::reproduce(&cx, None);
    let outcome = outcome.unwrap_or_else(|| Outcome::Pass(std::mem::take(&mut cx.lenient)));
    CaseRun {
        outcome,
        transcript: cx.transcript.into_lines(),
        duration: started.elapsed(),
        inputs: cx.inputs.into_vec(),
        process,
        reproduce,
    }
}

impl<S: Side> Case<'_, S> {
    async fn step(&mut self, step: &Step<S::Step>) -> StepResult {
        let kind = step.kind.kind();
        let within = step.timeout_ms.map(Duration::from_millis).unwrap_or(self.env.timeout);
        let mut at = At {
            number: step.number,
            conn: step.conn.clone(),
            keyword: kind.keyword(),
            note: step.note.clone(),
            within,
            deadline: Instant::now() + within,
        };
        if kind.needs_conn() {
            let reopen = kind.conn_effect() == crate::step::ConnEffect::Opens;
            at.deadline = S::open(self, &at, reopen).await?;
        }
        S::run_step(self, &step.kind, &at).await
    }

    /// After a failure: puts what had already arrived on each connection, unread, into the
    /// transcript (issue 13 item 6: a failing `msg` case shows the 400 the sender got, not
    /// only the addressee's silence). Only values already received are taken: nothing waits.
    /// Pushes the transcript no longer shows are read past without counting (a course server
    /// pushes 205 to every session on every login of parallel cases, and four of them hid the
    /// sender's 400s to a message that was too long), up to `MAX_SKIPPED` items.
    async fn show_unread(&mut self) {
        let names: Vec<String> = self.order.clone();
        for name in names {
            let mut shown = 0;
            let mut read = 0;
            while shown < MAX_UNREAD_SHOWN && read < MAX_SKIPPED {
                let Some(conn) = self.conn_mut(&name) else { break };
                let arrival = conn.next(Instant::now()).await;
                read += 1;
                if matches!(arrival, Arrival::Nothing) {
                    break;
                }
                let push = matches!(&arrival, Arrival::Value { value, .. } if is_push(value));
                if push && self.pushes >= MAX_PUSHES_SHOWN {
                    self.pushes += 1;
                    continue;
                }
                if shown == 0 {
                    let text = crate::i18n::Said::new(
                        "after the failure, already received and not read by a step:",
                        "после неудачи уже получено и не прочитано ни одним шагом:",
                    );
                    self.log(&name, Direction::Event, text);
                }
                let closed = matches!(arrival, Arrival::Closed { .. });
                self.log_arrival(&name, &arrival);
                shown += 1;
                if closed {
                    break;
                }
            }
        }
    }

    /// Adds a line to the transcript.
    pub fn log(&mut self, conn: &str, dir: Direction, text: impl Into<crate::i18n::Said>) {
        self.transcript.push(conn, dir, text.into());
    }

    /// Records what the case did to the target (`routine`: an ordinary login or goodbye).
    pub fn input(&mut self, at: &At, what: impl Into<crate::i18n::Said>, routine: bool) {
        let what = what.into();
        self.inputs.push(Input { step: at.number, conn: at.conn.clone(), what, routine });
    }

    /// The open connection `name`, if any.
    pub fn conn_mut(&mut self, name: &str) -> Option<&mut Conn> {
        self.conns.get_mut(name).and_then(|c| c.conn.as_mut())
    }

    /// Puts a freshly opened connection in place (closing nothing: the caller did).
    pub fn attach(&mut self, name: &str, conn: Conn) {
        let state = self.conns.entry(name.to_owned()).or_default();
        state.conn = Some(conn);
        state.ended = false;
        state.wrote_last = false;
        if !self.order.iter().any(|o| o == name) {
            self.order.push(name.to_owned());
        }
    }

    /// The connections that were used, in the order of their first use.
    pub fn used_conns(&self) -> &[String] {
        &self.order
    }

    /// Marks a connection ended by the case (no goodbye at the end).
    pub fn mark_ended(&mut self, name: &str) {
        if let Some(state) = self.conns.get_mut(name) {
            state.ended = true;
        }
    }

    /// Expands placeholders; the error is a failing step's problem.
    pub fn expand(&mut self, at: &At, v: &Value, mode: Mode) -> Result<Value, Outcome> {
        match self.env.vars.expand(v, mode) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.problem(at, e.to_string())),
        }
    }

    /// Expands every pattern of a list.
    pub fn expand_all(
        &mut self,
        at: &At,
        items: &[Value],
        mode: Mode,
    ) -> Result<Vec<Value>, Outcome> {
        items.iter().map(|v| self.expand(at, v, mode)).collect()
    }

    /// A tolerance asked for: true if accepted now (a lenient one is recorded for the verdict).
    pub fn tolerate(&mut self, tolerance: Tolerance) -> bool {
        match self.env.tolerances.mode(tolerance) {
            Some(ToleranceMode::Lenient) => {
                self.lenient.insert(tolerance);
                true
            }
            Some(ToleranceMode::Allow) => true,
            None => false,
        }
    }

    /// Records the lenient tolerances a match needed, and its captures.
    pub fn accept_match(&mut self, m: &Match) {
        self.lenient.extend(m.lenient.iter().copied());
        for (k, v) in &m.captures {
            self.env.vars.captures.insert(k.clone(), v.clone());
        }
    }

    /// Reads the next item on `conn` and logs it (pushes after the first few silently).
    pub async fn next(&mut self, conn: &str, deadline: Instant) -> Arrival {
        let arrival = match self.conn_mut(conn) {
            Some(c) => c.next(deadline).await,
            None => return Arrival::Closed { reset: false },
        };
        if !matches!(arrival, Arrival::Nothing) {
            if let Some(state) = self.conns.get_mut(conn) {
                state.wrote_last = false;
            }
        }
        self.log_arrival(conn, &arrival);
        arrival
    }

    /// Logs what a read on `conn` produced (pushes after the first few silently).
    pub fn log_arrival(&mut self, conn: &str, arrival: &Arrival) {
        let text = match arrival {
            Arrival::Value { raw, .. } => raw.as_str().into(),
            Arrival::Bad { kind, text, .. } => crate::i18n::Said::new(
                format!("{kind}: {text}"),
                format!("{}: {text}", crate::i18n::frame_problem_ru(*kind)),
            ),
            Arrival::Closed { reset: true } => crate::i18n::Said::new("(reset)", "(сброшено)"),
            Arrival::Closed { reset: false } => crate::i18n::Said::new("(closed)", "(закрыто)"),
            Arrival::Nothing => return,
        };
        let push = matches!(arrival, Arrival::Value { value, .. } if is_push(value));
        if push {
            self.pushes += 1;
        }
        if !push || self.pushes <= MAX_PUSHES_SHOWN {
            self.log(conn, Direction::Received, text);
        }
    }

    /// Reads the next item on `conn` that is for the step: values the role calls unsolicited
    /// are skipped (at most `MAX_SKIPPED`, and never past `deadline`).
    pub async fn next_for_step(
        &mut self,
        conn: &str,
        deadline: Instant,
        wants_push: bool,
    ) -> Arrival {
        let mut skipped = 0;
        let mut deadline = deadline;
        loop {
            let arrival = self.next(conn, deadline).await;
            let Arrival::Value { value, .. } = &arrival else { return arrival };
            if self.answer_challenge(conn, value, deadline).await {
                // The 511 was a question, not the reply the step waits for: the server gets
                // the step's whole time again to check the answer and reply.
                deadline = deadline.max(Instant::now() + self.env.timeout);
                continue;
            }
            if skipped < MAX_SKIPPED && S::unsolicited(self, conn, value, wants_push) {
                skipped += 1;
                continue;
            }
            return arrival;
        }
    }

    /// A 511 challenge to the login of a registered account drawn for this case (`--accounts`)
    /// is answered with its password, as the course-final client does, and the step reads on:
    /// the case is about what follows the login (see [`Vars::challenge_answer`]).
    async fn answer_challenge(&mut self, conn: &str, value: &Value, deadline: Instant) -> bool {
        let Some(login) = self.conns.get(conn).and_then(|c| c.login.clone()) else {
            return false;
        };
        let Some(answer) = self.env.vars.challenge_answer(conn, &login, value) else {
            return false;
        };
        self.log(
            conn,
            Direction::Event,
            crate::i18n::Said::new(
                format!("511 challenge: answered for {login} (--accounts)"),
                format!("511 challenge: ответ дан от имени {login} (--accounts)"),
            ),
        );
        let bytes = jim_protocol::codec::to_bytes(&answer, self.env.framing);
        let sent = Sent::Json(answer);
        // A write that fails shows as the next read (closed or nothing): the step judges that.
        let _ = self.write(conn, &bytes, sent, Delivery::Whole, deadline).await;
        true
    }

    /// What arrived, for a report: `Nothing` notes the start of an incomplete value on `conn`.
    pub fn arrived(&self, conn: &str, a: Arrival, within: Duration) -> Arrived {
        let mut arrived = Arrived::from_arrival(a, within);
        if let Arrived::Nothing { partial, .. } = &mut arrived {
            *partial =
                self.conns.get(conn).and_then(|c| c.conn.as_ref()).and_then(Conn::pending_preview);
        }
        arrived
    }

    /// Writes to `conn` with the delivery mode, before `deadline`. The pauses between pieces
    /// are the runner's own: they do not count against the target's time to read.
    ///
    /// A write that follows another write on the same connection with nothing read between
    /// waits until the target has read the first ([`crate::peer_read`]), or where that cannot
    /// be seen [`Pace::between_writes`] (server mode: 15 ms, or the split pause of a slow
    /// loop), so that two sends of a fixture reach the target in two reads (else `"\n\n"` and
    /// the request after it land in one `recv()` or not, by the scheduler's luck).
    pub async fn write(
        &mut self,
        conn: &str,
        bytes: &[u8],
        sent: Sent,
        delivery: Delivery,
        deadline: Instant,
    ) -> std::io::Result<()> {
        let cuts = delivery.cut_points(bytes);
        let pace = self.env.pace;
        let mut deadline = deadline + pace.allowance(delivery, cuts.len());
        let follows_write = self.conns.get(conn).is_some_and(|c| c.wrote_last);
        if follows_write && !pace.between_writes.is_zero() {
            let began = Instant::now();
            let seen = match self.conns.get(conn).and_then(|c| c.conn.as_ref()) {
                Some(c) if !pace.read_wait.is_zero() => c.until_read(pace.read_wait).await,
                _ => crate::peer_read::Seen::Unknown,
            };
            if seen != crate::peer_read::Seen::Read {
                tokio::time::sleep(pace.between_writes).await;
            }
            deadline += began.elapsed();
        }
        if let Some(state) = self.conns.get_mut(conn) {
            state.wrote_last = true;
        }
        if delivery == Delivery::Split {
            let starts: Vec<String> = cuts.iter().map(usize::to_string).collect();
            let starts = starts.join(", ");
            let text = crate::i18n::Said::new(
                format!("split: pieces start at bytes {starts}"),
                format!("split: куски начинаются с байтов {starts}"),
            );
            self.log(conn, Direction::Event, text);
        }
        match self.conn_mut(conn) {
            Some(conn) => {
                conn.record(sent);
                conn.write_paced(bytes, delivery, pace, deadline).await
            }
            None => Err(std::io::Error::new(std::io::ErrorKind::NotConnected, "not connected")),
        }
    }

    /// A failure of the step at `at`.
    pub fn failure(&mut self, at: &At, arrived: Arrived, details: Details) -> Box<Failure> {
        let sent = self
            .conns
            .get(&at.conn)
            .and_then(|c| c.conn.as_ref())
            .map(|c| c.sent.clone())
            .unwrap_or_default();
        let mut failure = Failure {
            step: at.number,
            conn: at.conn.clone(),
            action: FailedAction::Step(at.keyword),
            note: at.note.clone(),
            sent,
            expected: details.expected,
            arrived,
            mismatches: details.why,
            would_need: details.would_need.into_iter().collect(),
            reproduce: Vec::new(),
            unknown_action: false,
        };
        S::complete(self, &mut failure);
        Box::new(failure)
    }

    /// The step failed: a fact about the target.
    pub fn fail(&mut self, at: &At, arrived: Arrived, details: Details) -> Outcome {
        Outcome::Fail(self.failure(at, arrived, details))
    }

    /// The step could not be carried out (a placeholder that cannot be expanded, ...).
    pub fn problem(&mut self, at: &At, message: impl Into<crate::i18n::Said>) -> Outcome {
        self.fail(at, Arrived::Problem { message: message.into() }, Details::default())
    }
}

/// The matches of a value against every alternative, and the failure details if none matched.
pub(crate) fn judge(
    alternatives: &[Value],
    value: &Value,
    tol: &Tolerances,
) -> Result<Match, Details> {
    let results: Vec<Match> = alternatives.iter().map(|a| match_value(a, value, tol)).collect();
    if let Some(ok) = results.iter().find(|r| r.ok()) {
        return Ok(ok.clone());
    }
    let many = results.len() > 1;
    let mut details = Details::expected(alternatives.to_vec());
    for (i, r) in results.iter().enumerate() {
        for m in &r.mismatches {
            details.why.push(if many {
                m.prefixed(&format!("alternative {}: ", i + 1), &format!("вариант {}: ", i + 1))
            } else {
                m.clone()
            });
        }
        details.would_need.extend(r.would_need.iter().copied());
    }
    Err(details)
}
