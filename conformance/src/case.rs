//! Executes one fixture's steps against one target address and says what happened, with enough
//! detail (what was sent, every acceptable alternative, what arrived) for a readable failure.
//!
//! Steps run in order; each `expect` reads the next value on its connection within the step
//! timeout. Unsolicited pushes (a 205, a probe) are skipped unless the pattern asks for them, and
//! so are values that a `tolerate` step declared skippable. Connections open lazily at their
//! first use and are closed politely (quit/exit) at the end, so that one case's ending does not
//! trip a server bug that a dedicated fixture checks.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use jim_protocol::Framing;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::matcher::{Outcome as Match, ToleranceMode, Tolerances, match_value, read_code, show};
use crate::model::{Action, DisconnectKind, Fixture, ListExpect, Silence, Step, Text};
use crate::placeholders::{Mode, Vars, decode_raw, now_seconds};
use crate::vocab::{FrameProblem, Tolerance};
use crate::wire::{Arrival, Conn, ConnectError, Delivery, Sent};

/// How a case ends its connections politely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Farewell {
    /// `{"action":"quit","time":T}` (spec).
    Quit,
    /// `{"action":"exit","time":T,"account_name":NAME}` (course).
    Exit,
}

/// Everything a case needs from the run.
#[derive(Debug, Clone)]
pub struct CaseEnv {
    /// Where to connect.
    pub addr: SocketAddr,
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
    /// How connections are closed at the end.
    pub farewell: Farewell,
    /// Host and port to print in `jim-client` reproductions.
    pub shown_addr: String,
    /// The run's tag: unique names of every case of this run contain `_TAG`. A relay addressed
    /// to another case's name is cross-talk from a parallel case (a server that leaks messages)
    /// and is ignored here; the privacy fixtures catch leaks within their own case.
    pub run_tag: Option<String>,
    /// At the end, wait for the server to close after quit/exit (cases sharing an account).
    pub await_close: bool,
}

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

/// The details of a failed step.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// 1-based step number.
    pub step: usize,
    /// The connection.
    pub conn: String,
    /// The step's action keyword.
    pub action: String,
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
    /// `jim-client` commands that replay what was sent, one per connection used.
    pub reproduce: Vec<String>,
    /// True when what arrived looks like "unknown action" (a bare 400, or a text saying so).
    pub unknown_action: bool,
}

/// How a case ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every step held; the lenient tolerances that were needed.
    Pass(BTreeSet<Tolerance>),
    /// A step failed.
    Fail(Box<Failure>),
    /// The target could not be reached.
    Error(Box<Failure>),
}

/// One line of the case transcript.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// Milliseconds since the case started.
    pub ms: u64,
    /// The connection.
    pub conn: String,
    /// `>` sent, `<` received, `*` event.
    pub dir: &'static str,
    /// What.
    pub text: String,
}

const MAX_TRANSCRIPT: usize = 200;
/// Longest message a `jim-client` reproduction spells out.
const MAX_REPRODUCED: usize = 2000;
/// Unsolicited items skipped while waiting for one step (the step deadline bounds the time too).
const MAX_SKIPPED: usize = 10_000;

/// The result of running a case.
#[derive(Debug, Clone)]
pub struct CaseRun {
    /// How it ended.
    pub outcome: Outcome,
    /// What went over the wire.
    pub transcript: Vec<Line>,
    /// How long it took.
    pub duration: Duration,
    /// What the case did to the target, step by step (sends and disconnects, bounded), to name
    /// the input that broke a server.
    pub inputs: Vec<Input>,
}

/// One thing a case did to the target: a send or a disconnect.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    /// 1-based step number.
    pub step: usize,
    /// The connection.
    pub conn: String,
    /// What, shown briefly ("raw `{action: presence}\n`", "closed the connection").
    pub what: String,
    /// An ordinary login or goodbye (a well-formed presence sent whole, a quit/exit): not a
    /// suspect when a server breaks.
    #[serde(skip)]
    pub routine: bool,
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {} (conn {}): {}", self.step, self.conn, self.what)
    }
}

const MAX_INPUTS: usize = 32;

#[derive(Debug, Default)]
struct ConnState {
    conn: Option<Conn>,
    skip: Vec<(Tolerance, Value)>,
    login: Option<String>,
    ended: bool,
}

struct Exec<'f> {
    fx: &'f Fixture,
    env: CaseEnv,
    conns: BTreeMap<String, ConnState>,
    lenient: BTreeSet<Tolerance>,
    transcript: Vec<Line>,
    started: Instant,
    order: Vec<String>,
    pushes: usize,
    inputs: Vec<Input>,
}

/// True for a value nobody asked for that may arrive at any time after login: a 205 push or a
/// probe (PROTOCOL.md §order O5).
pub fn is_push(v: &Value) -> bool {
    let code = v.get("response").and_then(read_code).map(|(c, _)| c);
    code == Some(205) || v.get("action").and_then(Value::as_str) == Some("probe")
}

/// True when a response reads as "unknown action": a 400 with no text, a generic "bad request"
/// text, or a text saying the action is unknown or unsupported.
pub fn looks_unknown_action(v: &Value) -> bool {
    let Some((code, _)) = v.get("response").and_then(read_code) else { return false };
    if code != 400 {
        return false;
    }
    let text = ["error", "alert", "message"].iter().find_map(|k| v.get(*k).and_then(Value::as_str));
    match text {
        None => true,
        Some(t) => {
            let t = t.to_lowercase();
            t.trim().is_empty()
                || [
                    "unknown",
                    "unsupported",
                    "not supported",
                    "not implemented",
                    "invalid action",
                    "bad request",
                    "неизвест",
                    "не поддерж",
                    "некоррект",
                    "неверн",
                ]
                .iter()
                .any(|w| t.contains(w))
        }
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl<'f> Exec<'f> {
    fn input(&mut self, index: usize, conn: &str, what: String, routine: bool) {
        if self.inputs.len() < MAX_INPUTS {
            self.inputs.push(Input { step: index + 1, conn: conn.to_owned(), what, routine });
        }
    }

    fn log(&mut self, conn: &str, dir: &'static str, text: String) {
        if self.transcript.len() < MAX_TRANSCRIPT {
            let ms = self.started.elapsed().as_millis() as u64;
            self.transcript.push(Line { ms, conn: conn.to_owned(), dir, text });
        }
    }

    fn reproduce(&self, failing: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut names: Vec<String> =
            self.order.iter().filter(|c| c.as_str() != failing).cloned().collect();
        names.push(failing.to_owned());
        for name in names {
            let Some(state) = self.conns.get(&name) else { continue };
            let Some(conn) = state.conn.as_ref() else { continue };
            if conn.sent.is_empty() {
                continue;
            }
            let mut cmd = format!("jim-client send {}", self.env.shown_addr.replace(':', " "));
            if self.env.framing == Framing::Bare {
                cmd.push_str(" --framing bare");
            }
            match self.env.delivery {
                Delivery::Whole => {}
                Delivery::Split => cmd.push_str(" --split 7"),
                Delivery::Trickle => cmd.push_str(" --trickle 5"),
            }
            for item in &conn.sent {
                let (flag, text) = match item {
                    Sent::Json(v) => ("", v.to_string()),
                    Sent::Raw(r) => ("--raw ", r.clone()),
                };
                if text.len() > MAX_REPRODUCED {
                    cmd.push_str(&format!(
                        " {flag}'…' # a {}-byte message: see the fixture",
                        text.len()
                    ));
                    break;
                }
                cmd.push(' ');
                cmd.push_str(flag);
                cmd.push_str(&quote(&text));
            }
            if self.order.len() > 1 {
                cmd = format!("# connection {name}\n{cmd}");
            }
            out.push(cmd);
        }
        out
    }

    fn failure(
        &self,
        index: usize,
        step: &Step,
        expected: Vec<Value>,
        arrived: Arrived,
        mismatches: Vec<String>,
        would_need: BTreeSet<Tolerance>,
    ) -> Box<Failure> {
        let unknown_action =
            matches!(&arrived, Arrived::Value { value, .. } if looks_unknown_action(value));
        let sent = self
            .conns
            .get(&step.conn)
            .and_then(|c| c.conn.as_ref())
            .map(|c| c.sent.clone())
            .unwrap_or_default();
        Box::new(Failure {
            step: index + 1,
            conn: step.conn.clone(),
            action: step.action.keyword().as_str().to_owned(),
            note: step.note.clone(),
            sent,
            expected,
            arrived,
            mismatches,
            would_need: would_need.into_iter().collect(),
            reproduce: self.reproduce(&step.conn),
            unknown_action,
        })
    }

    async fn ensure_conn(&mut self, name: &str, deadline: Instant) -> Result<(), ConnectError> {
        let state = self.conns.entry(name.to_owned()).or_default();
        if state.conn.is_some() {
            return Ok(());
        }
        let limit =
            deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(50));
        let conn = Conn::open(self.env.addr, limit).await?;
        if let Some(state) = self.conns.get_mut(name) {
            state.conn = Some(conn);
            state.ended = false;
        }
        if !self.order.iter().any(|o| o == name) {
            self.order.push(name.to_owned());
        }
        self.log(name, "*", "connected".into());
        Ok(())
    }

    /// Reads the next item that is not skippable; returns it with the tolerances used to skip.
    async fn next_relevant(
        &mut self,
        conn_name: &str,
        deadline: Instant,
        wants_push: bool,
    ) -> Arrival {
        let mut skipped = 0;
        loop {
            let arrival = match self.conns.get_mut(conn_name).and_then(|c| c.conn.as_mut()) {
                Some(conn) => conn.next(deadline).await,
                None => return Arrival::Closed { reset: false },
            };
            let text = match &arrival {
                Arrival::Value { raw, .. } => raw.clone(),
                Arrival::Bad { kind, text, .. } => format!("{kind}: {text}"),
                Arrival::Closed { reset } => {
                    if *reset {
                        "(reset)".into()
                    } else {
                        "(closed)".into()
                    }
                }
                Arrival::Nothing => return arrival,
            };
            let push = matches!(&arrival, Arrival::Value { value, .. } if is_push(value));
            if push {
                self.pushes += 1;
            }
            if !push || self.pushes <= 3 {
                self.log(conn_name, "<", text);
            }
            let Arrival::Value { value, .. } = &arrival else { return arrival };
            if skipped >= MAX_SKIPPED {
                return arrival;
            }
            if self.is_cross_talk(value) {
                self.log(
                    conn_name,
                    "*",
                    "ignored: a relay for another case of this run (cross-talk)".into(),
                );
                skipped += 1;
                continue;
            }
            if !wants_push && is_push(value) {
                skipped += 1;
                continue;
            }
            let rules = self.conns.get(conn_name).map(|c| c.skip.clone()).unwrap_or_default();
            let mut skip = false;
            for (tol, pattern) in &rules {
                if match_value(pattern, value, &Tolerances::all_lenient()).ok() {
                    match self.env.tolerances.mode(*tol) {
                        Some(ToleranceMode::Lenient) => {
                            self.lenient.insert(*tol);
                            skip = true;
                        }
                        Some(ToleranceMode::Allow) => skip = true,
                        None => {}
                    }
                    break;
                }
            }
            if skip {
                skipped += 1;
                continue;
            }
            return arrival;
        }
    }

    fn is_cross_talk(&self, value: &Value) -> bool {
        let Some(tag) = &self.env.run_tag else { return false };
        if value.get("action").is_none() {
            return false;
        }
        let marker = format!("_{tag}");
        let own = format!("_{}", self.env.vars.suffix());
        ["to", "destination"].iter().filter_map(|k| value.get(*k).and_then(Value::as_str)).any(
            |to| {
                to.find(&marker)
                    .is_some_and(|i| !to.get(i..).is_some_and(|rest| rest.starts_with(&own)))
            },
        )
    }

    fn arrived(a: Arrival, within: Duration) -> Arrived {
        match a {
            Arrival::Value { value, raw, .. } => Arrived::Value { value, raw },
            Arrival::Bad { kind, detail, text } => Arrived::Bad { problem: kind, detail, text },
            Arrival::Closed { reset } => Arrived::Closed { reset },
            Arrival::Nothing => {
                Arrived::Nothing { within_ms: within.as_millis() as u64, partial: None }
            }
        }
    }

    /// Like [`Self::arrived`], noting the start of an incomplete value on `conn`, if any.
    fn arrived_on(&self, conn: &str, a: Arrival, within: Duration) -> Arrived {
        let mut arrived = Self::arrived(a, within);
        if let Arrived::Nothing { partial, .. } = &mut arrived {
            *partial =
                self.conns.get(conn).and_then(|c| c.conn.as_ref()).and_then(Conn::pending_preview);
        }
        arrived
    }

    fn expand(&mut self, v: &Value, mode: Mode) -> Result<Value, String> {
        self.env.vars.expand(v, mode).map_err(|e| e.to_string())
    }

    async fn step(&mut self, index: usize, step: &Step) -> Result<(), Outcome> {
        let within = step.timeout_ms.map(Duration::from_millis).unwrap_or(self.env.timeout);
        let deadline = Instant::now() + within;
        let problem = |exec: &Self, message: String| {
            Outcome::Fail(exec.failure(
                index,
                step,
                Vec::new(),
                Arrived::Problem { message },
                Vec::new(),
                BTreeSet::new(),
            ))
        };
        if matches!(step.action, Action::CloseStdin | Action::ExpectExit(_) | Action::AutoAnswer) {
            let message = format!(
                "\"{}\" is a client-mode step: this fixture needs \"role\": \"server\"",
                step.action.keyword()
            );
            return Err(problem(self, message));
        }
        let needs_conn = !matches!(step.action, Action::Tolerate { .. } | Action::Disconnect(_));
        if matches!(step.action, Action::Connect) {
            if let Some(state) = self.conns.get_mut(&step.conn) {
                if let Some(mut old) = state.conn.take() {
                    old.disconnect(DisconnectKind::Close).await;
                }
            }
        }
        if needs_conn {
            if let Err(e) = self.ensure_conn(&step.conn, deadline).await {
                let arrived = Arrived::Refused { message: e.to_string() };
                return Err(Outcome::Error(self.failure(
                    index,
                    step,
                    Vec::new(),
                    arrived,
                    Vec::new(),
                    BTreeSet::new(),
                )));
            }
        }
        match &step.action {
            Action::Connect => {
                self.input(index, &step.conn, "opened a connection".to_owned(), false);
                Ok(())
            }
            Action::Send(template) => {
                let value = self.expand(template, Mode::Send).map_err(|m| problem(self, m))?;
                if value.get("action").and_then(Value::as_str) == Some("presence") {
                    let name = value
                        .pointer("/user/account_name")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    if let Some(state) = self.conns.get_mut(&step.conn) {
                        state.login = name.or(state.login.take());
                    }
                }
                let bytes = jim_protocol::codec::to_bytes(&value, self.env.framing);
                self.log(&step.conn, ">", show(&value, 400));
                let routine = step.delivery.is_none_or(|d| d == Delivery::Whole)
                    && match value.get("action").and_then(Value::as_str) {
                        Some("presence") => value
                            .pointer("/user/account_name")
                            .and_then(Value::as_str)
                            .is_some_and(|n| !n.is_empty()),
                        Some("quit" | "exit") => true,
                        _ => false,
                    };
                self.input(index, &step.conn, show(&value, 160), routine);
                self.write(index, step, &bytes, Sent::Json(value), deadline).await
            }
            Action::SendRaw(text) => {
                let bytes = decode_raw(&mut self.env.vars, text)
                    .map_err(|e| problem(self, e.to_string()))?;
                let shown = self.env.vars.expand_str(text).unwrap_or_else(|_| text.clone());
                self.log(&step.conn, ">", jim_protocol::error::preview(&bytes));
                self.input(
                    index,
                    &step.conn,
                    format!("raw {}", jim_protocol::error::preview(&bytes)),
                    false,
                );
                self.write(index, step, &bytes, Sent::Raw(shown), deadline).await
            }
            Action::Expect(alternatives) => {
                let mut alts = Vec::new();
                for a in alternatives {
                    alts.push(self.expand(a, Mode::Pattern).map_err(|m| problem(self, m))?);
                }
                let wants_push = alts.iter().any(|a| {
                    match_value(a, &json!({"response":205}), &Tolerances::all_lenient()).ok()
                });
                let arrival = self.next_relevant(&step.conn, deadline, wants_push).await;
                if let Arrival::Value { value, .. } = &arrival {
                    let results: Vec<Match> =
                        alts.iter().map(|a| match_value(a, value, &self.env.tolerances)).collect();
                    if let Some(ok) = results.iter().find(|r| r.ok()) {
                        self.lenient.extend(ok.lenient.iter().cloned());
                        for (k, v) in &ok.captures {
                            self.env.vars.captures.insert(k.clone(), v.clone());
                        }
                        if let Some(m) = self.one_write_problem(step) {
                            let arrived = Self::arrived(arrival.clone(), within);
                            let f =
                                self.failure(index, step, alts, arrived, vec![m], BTreeSet::new());
                            return Err(Outcome::Fail(f));
                        }
                        return Ok(());
                    }
                    let many = results.len() > 1;
                    let mut mismatches = Vec::new();
                    let mut would = BTreeSet::new();
                    for (i, r) in results.iter().enumerate() {
                        for m in &r.mismatches {
                            mismatches.push(if many {
                                format!("alternative {}: {m}", i + 1)
                            } else {
                                m.clone()
                            });
                        }
                        would.extend(r.would_need.iter().cloned());
                    }
                    let arrived = self.arrived_on(&step.conn, arrival, within);
                    return Err(Outcome::Fail(
                        self.failure(index, step, alts, arrived, mismatches, would),
                    ));
                }
                if let (Arrival::Closed { .. }, Some(tol)) = (&arrival, &step.close_ok_under) {
                    match self.env.tolerances.mode(*tol) {
                        Some(mode) => {
                            if mode == ToleranceMode::Lenient {
                                self.lenient.insert(*tol);
                            }
                            if let Some(state) = self.conns.get_mut(&step.conn) {
                                state.ended = true;
                            }
                            return Ok(());
                        }
                        None => {
                            let would = BTreeSet::from([*tol]);
                            let arrived = self.arrived_on(&step.conn, arrival, within);
                            let f = self.failure(index, step, alts, arrived, Vec::new(), would);
                            return Err(Outcome::Fail(f));
                        }
                    }
                }
                if matches!(arrival, Arrival::Nothing) {
                    if let Some(tol) = &step.optional_under {
                        match self.env.tolerances.mode(*tol) {
                            Some(ToleranceMode::Lenient) => {
                                self.lenient.insert(*tol);
                                return Ok(());
                            }
                            Some(ToleranceMode::Allow) => return Ok(()),
                            None => {
                                let arrived = self.arrived_on(&step.conn, arrival, within);
                                let would = BTreeSet::from([*tol]);
                                return Err(Outcome::Fail(self.failure(
                                    index,
                                    step,
                                    alts,
                                    arrived,
                                    Vec::new(),
                                    would,
                                )));
                            }
                        }
                    }
                }
                let arrived = self.arrived_on(&step.conn, arrival, within);
                Err(Outcome::Fail(self.failure(
                    index,
                    step,
                    alts,
                    arrived,
                    Vec::new(),
                    BTreeSet::new(),
                )))
            }
            Action::ExpectList(list) => self.expect_list(index, step, list, deadline, within).await,
            Action::ExpectSilence(Silence::Before(marker)) => {
                let marker = self.expand(marker, Mode::Pattern).map_err(|m| problem(self, m))?;
                let arrival = self.next_relevant(&step.conn, deadline, false).await;
                if let Arrival::Value { value, .. } = &arrival {
                    let r = match_value(&marker, value, &self.env.tolerances);
                    if r.ok() {
                        self.lenient.extend(r.lenient);
                        return Ok(());
                    }
                    let m = vec![format!(
                        "this arrived before the marker {} that proves the server has nothing else for this connection",
                        show(&marker, 200)
                    )];
                    let arrived = self.arrived_on(&step.conn, arrival, within);
                    return Err(Outcome::Fail(self.failure(
                        index,
                        step,
                        vec![json!({"$silence_before": marker})],
                        arrived,
                        m,
                        BTreeSet::new(),
                    )));
                }
                let arrived = self.arrived_on(&step.conn, arrival, within);
                let m =
                    vec!["the marker never arrived, so silence could not be confirmed".to_owned()];
                Err(Outcome::Fail(self.failure(
                    index,
                    step,
                    vec![json!({"$silence_before": marker})],
                    arrived,
                    m,
                    BTreeSet::new(),
                )))
            }
            Action::ExpectSilence(Silence::ForMs(ms)) => {
                let until = Instant::now() + Duration::from_millis(*ms);
                let arrival = self.next_relevant(&step.conn, until, false).await;
                match arrival {
                    Arrival::Nothing => Ok(()),
                    other => {
                        let arrived = self.arrived_on(&step.conn, other, within);
                        let m = vec![format!("nothing should arrive within {ms} ms")];
                        Err(Outcome::Fail(self.failure(
                            index,
                            step,
                            vec![json!({"$silence_ms": ms})],
                            arrived,
                            m,
                            BTreeSet::new(),
                        )))
                    }
                }
            }
            Action::ExpectClose => {
                let mut replied = false;
                loop {
                    let arrival = self.next_relevant(&step.conn, deadline, false).await;
                    match arrival {
                        Arrival::Closed { .. } => {
                            if replied {
                                self.note_tolerance(Tolerance::ReplyToQuit);
                            }
                            if let Some(state) = self.conns.get_mut(&step.conn) {
                                state.ended = true;
                            }
                            return Ok(());
                        }
                        Arrival::Value { ref value, .. }
                            if !replied
                                && value.get("response").is_some()
                                && self.env.tolerances.mode(Tolerance::ReplyToQuit).is_some() =>
                        {
                            replied = true;
                        }
                        Arrival::Nothing
                            if self.env.tolerances.mode(Tolerance::OpenAfterQuit).is_some() =>
                        {
                            self.note_tolerance(Tolerance::OpenAfterQuit);
                            if replied {
                                self.note_tolerance(Tolerance::ReplyToQuit);
                            }
                            if let Some(state) = self.conns.get_mut(&step.conn) {
                                if let Some(mut c) = state.conn.take() {
                                    c.disconnect(DisconnectKind::Close).await;
                                }
                                state.ended = true;
                            }
                            return Ok(());
                        }
                        other => {
                            let mut would = BTreeSet::new();
                            if matches!(other, Arrival::Nothing) {
                                would.insert(Tolerance::OpenAfterQuit);
                            } else if matches!(&other, Arrival::Value { value, .. } if value.get("response").is_some())
                            {
                                would.insert(Tolerance::ReplyToQuit);
                            }
                            let arrived = self.arrived_on(&step.conn, other, within);
                            let m = vec!["the server should close the connection".to_owned()];
                            return Err(Outcome::Fail(self.failure(
                                index,
                                step,
                                vec![json!({"$close": true})],
                                arrived,
                                m,
                                would,
                            )));
                        }
                    }
                }
            }
            Action::Disconnect(kind) => {
                if let Some(state) = self.conns.get_mut(&step.conn) {
                    if let Some(conn) = state.conn.as_mut() {
                        conn.disconnect(*kind).await;
                    }
                    if *kind != DisconnectKind::ShutdownWrite {
                        state.ended = true;
                    }
                }
                self.log(&step.conn, "*", format!("disconnect ({kind:?})"));
                let what = match kind {
                    DisconnectKind::Close => "closed the connection (FIN)",
                    DisconnectKind::Reset => "reset the connection (RST, SO_LINGER 0)",
                    DisconnectKind::ShutdownWrite => "shut down its sending side",
                };
                self.input(index, &step.conn, what.to_owned(), false);
                Ok(())
            }
            Action::Listen(ms) => {
                let until = Instant::now() + Duration::from_millis(*ms);
                if let Some(conn) = self.conns.get_mut(&step.conn).and_then(|c| c.conn.as_mut()) {
                    conn.listen(until).await;
                }
                self.log(&step.conn, "*", format!("listened {ms} ms"));
                Ok(())
            }
            Action::CloseStdin | Action::ExpectExit(_) | Action::AutoAnswer => Ok(()),
            Action::Tolerate { tolerance, pattern } => {
                let pattern = self.expand(pattern, Mode::Pattern).map_err(|m| problem(self, m))?;
                self.conns.entry(step.conn.clone()).or_default().skip.push((*tolerance, pattern));
                Ok(())
            }
        }
    }

    /// For a `one_write` step: how the value just taken broke §framing W3, if it did.
    fn one_write_problem(&self, step: &Step) -> Option<String> {
        if !step.one_write {
            return None;
        }
        let conn = self.conns.get(&step.conn).and_then(|c| c.conn.as_ref())?;
        conn.last_pieces().and_then(|p| p.problem())
    }

    fn note_tolerance(&mut self, tolerance: Tolerance) {
        if self.env.tolerances.mode(tolerance) == Some(ToleranceMode::Lenient) {
            self.lenient.insert(tolerance);
        }
    }

    async fn write(
        &mut self,
        index: usize,
        step: &Step,
        bytes: &[u8],
        sent: Sent,
        deadline: Instant,
    ) -> Result<(), Outcome> {
        let delivery = step.delivery.unwrap_or(self.env.delivery);
        let cuts = delivery.cut_points(bytes);
        let deadline = match delivery {
            // The pauses between pieces are the runner's own: they do not count against the
            // target's time to read.
            Delivery::Whole => deadline,
            Delivery::Split => deadline + crate::wire::SPLIT_PAUSE * 2 * cuts.len() as u32,
            Delivery::Trickle => deadline + crate::wire::TRICKLE_PAUSE * 3 * cuts.len() as u32,
        };
        if delivery == Delivery::Split {
            let at: Vec<String> = cuts.iter().map(usize::to_string).collect();
            self.log(&step.conn, "*", format!("split: pieces start at bytes {}", at.join(", ")));
        }
        let result = match self.conns.get_mut(&step.conn).and_then(|c| c.conn.as_mut()) {
            Some(conn) => {
                conn.record(sent);
                conn.write(bytes, delivery, deadline).await
            }
            None => Err(std::io::Error::new(std::io::ErrorKind::NotConnected, "not connected")),
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) => {
                let reset = matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                );
                let arrived = if reset {
                    Arrived::Closed { reset: true }
                } else {
                    Arrived::Problem { message: format!("sending failed: {e}") }
                };
                Err(Outcome::Fail(self.failure(
                    index,
                    step,
                    Vec::new(),
                    arrived,
                    Vec::new(),
                    BTreeSet::new(),
                )))
            }
        }
    }

    async fn expect_list(
        &mut self,
        index: usize,
        step: &Step,
        list: &ListExpect,
        deadline: Instant,
        within: Duration,
    ) -> Result<(), Outcome> {
        let expand_all = |exec: &mut Self, items: &[Value]| -> Result<Vec<String>, String> {
            items
                .iter()
                .map(|v| {
                    exec.expand(v, Mode::Send)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                })
                .collect()
        };
        let contains = expand_all(self, &list.contains).map_err(|m| {
            Outcome::Fail(self.failure(
                index,
                step,
                Vec::new(),
                Arrived::Problem { message: m },
                Vec::new(),
                BTreeSet::new(),
            ))
        })?;
        let excludes = expand_all(self, &list.excludes).map_err(|m| {
            Outcome::Fail(self.failure(
                index,
                step,
                Vec::new(),
                Arrived::Problem { message: m },
                Vec::new(),
                BTreeSet::new(),
            ))
        })?;
        let equals = match &list.equals {
            Some(e) => Some(expand_all(self, e).map_err(|m| {
                Outcome::Fail(self.failure(
                    index,
                    step,
                    Vec::new(),
                    Arrived::Problem { message: m },
                    Vec::new(),
                    BTreeSet::new(),
                ))
            })?),
            None => None,
        };
        let mut shown = json!({"response": list.code, "list": {"$contains": contains}});
        if !excludes.is_empty() {
            shown["list_excludes"] = json!(excludes);
        }
        if let Some(eq) = &equals {
            shown["list_equals"] = json!(eq);
        }
        let expected = vec![shown];
        let arrival = self.next_relevant(&step.conn, deadline, false).await;
        let Arrival::Value { value, .. } = &arrival else {
            let arrived = self.arrived_on(&step.conn, arrival, within);
            return Err(Outcome::Fail(self.failure(
                index,
                step,
                expected,
                arrived,
                Vec::new(),
                BTreeSet::new(),
            )));
        };
        let value = value.clone();
        let mut mismatches = Vec::new();
        let mut would = BTreeSet::new();
        let mut lenient = BTreeSet::new();
        let tolerate =
            |exec: &Self,
             name: Tolerance,
             would: &mut BTreeSet<Tolerance>,
             lenient: &mut BTreeSet<Tolerance>| match exec.env.tolerances.mode(name) {
                Some(ToleranceMode::Lenient) => {
                    lenient.insert(name);
                    true
                }
                Some(ToleranceMode::Allow) => true,
                None => {
                    would.insert(name);
                    false
                }
            };
        match value.get("response").and_then(read_code) {
            Some((code, is_string)) if code == i64::from(list.code) => {
                if is_string && !tolerate(self, Tolerance::StringCode, &mut would, &mut lenient) {
                    mismatches.push(".response: the code is a string; send a number".to_owned());
                }
            }
            Some((code, _)) => {
                mismatches.push(format!(".response: expected {}, got {code}", list.code));
            }
            None => mismatches.push(format!(
                ".response: expected {}, got {}",
                list.code,
                show(value.get("response").unwrap_or(&Value::Null), 40)
            )),
        }
        let mut names: Option<Vec<String>> = None;
        if mismatches.is_empty() {
            let keys =
                ["data_list", "alert", "contact_list", "user_list", "users", "contacts", "message"];
            for key in keys {
                if let Some(Value::Array(items)) = value.get(key) {
                    if !matches!(key, "data_list" | "alert")
                        && !tolerate(self, Tolerance::ListShape, &mut would, &mut lenient)
                    {
                        mismatches.push(format!(".{key}: the list should be in \"alert\" (spec) or \"data_list\" (course)"));
                    }
                    names = Some(
                        items
                            .iter()
                            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                            .collect(),
                    );
                    break;
                }
            }
            if names.is_none() {
                if let Some(n) =
                    value.get("quantity").and_then(Value::as_u64).filter(|n| *n <= 1000)
                {
                    let mut got = Vec::new();
                    for _ in 0..n {
                        match self.next_relevant(&step.conn, deadline, false).await {
                            Arrival::Value { value: item, .. } => {
                                let name = ["user_id", "account_name", "user_login", "contact"]
                                    .iter()
                                    .find_map(|k| item.get(*k).and_then(Value::as_str));
                                got.push(name.map_or_else(|| item.to_string(), str::to_owned));
                            }
                            other => {
                                mismatches.push(format!("quantity said {n} contact_list messages follow; got {} then {}", got.len(), Self::arrived(other, within).describe(crate::i18n::Lang::En)));
                                break;
                            }
                        }
                    }
                    if mismatches.is_empty()
                        && !tolerate(self, Tolerance::ListShape, &mut would, &mut lenient)
                    {
                        mismatches
                            .push("the list came as quantity + contact_list messages".to_owned());
                    }
                    names = Some(got);
                } else if mismatches.is_empty() {
                    mismatches.push("no list found (looked for data_list, alert, contact_list, user_list, message, quantity)".to_owned());
                }
            }
        }
        if let Some(names) = &names {
            for c in &contains {
                if !names.contains(c) {
                    mismatches.push(format!("the list {names:?} lacks {c:?}"));
                }
            }
            for x in &excludes {
                if names.contains(x) {
                    mismatches.push(format!("the list {names:?} must not contain {x:?}"));
                }
            }
            if let Some(eq) = &equals {
                let a: BTreeSet<&String> = names.iter().collect();
                let b: BTreeSet<&String> = eq.iter().collect();
                if a != b {
                    mismatches.push(format!("the list {names:?} should be exactly {eq:?}"));
                }
            }
        }
        if mismatches.is_empty() {
            self.lenient.extend(lenient);
            return Ok(());
        }
        let arrived = self.arrived_on(&step.conn, arrival, within);
        Err(Outcome::Fail(self.failure(index, step, expected, arrived, mismatches, would)))
    }

    async fn farewell(&mut self) {
        let names: Vec<String> = self.conns.keys().cloned().collect();
        for name in names {
            let farewell = self.env.farewell;
            let Some(state) = self.conns.get_mut(&name) else { continue };
            let login = state.login.clone();
            let ended = state.ended;
            let Some(mut conn) = state.conn.take() else { continue };
            if let (Some(login), false) = (login, ended) {
                let bye = match farewell {
                    Farewell::Quit => json!({"action": "quit", "time": now_seconds()}),
                    Farewell::Exit => {
                        json!({"action": "exit", "time": now_seconds(), "account_name": login})
                    }
                };
                let bytes = jim_protocol::codec::to_bytes(&bye, self.env.framing);
                let _ = conn
                    .write(&bytes, Delivery::Whole, Instant::now() + Duration::from_millis(300))
                    .await;
                if self.env.await_close {
                    // Wait (briefly) until the server has ended the session, so that the next
                    // case can log in with the same account.
                    let until = Instant::now() + Duration::from_millis(500);
                    while !matches!(
                        conn.next(until).await,
                        Arrival::Closed { .. } | Arrival::Nothing
                    ) {}
                }
            }
            conn.disconnect(DisconnectKind::Close).await;
        }
    }
}

/// Runs the steps of `fx` with `env`.
pub async fn run_case(fx: &Fixture, env: CaseEnv) -> CaseRun {
    let started = Instant::now();
    let mut exec = Exec {
        fx,
        env,
        conns: BTreeMap::new(),
        lenient: BTreeSet::new(),
        transcript: Vec::new(),
        started,
        order: Vec::new(),
        pushes: 0,
        inputs: Vec::new(),
    };
    let mut outcome = None;
    for (i, step) in exec.fx.steps.iter().enumerate() {
        if let Err(o) = exec.step(i, step).await {
            outcome = Some(o);
            break;
        }
    }
    exec.farewell().await;
    let outcome = outcome.unwrap_or_else(|| Outcome::Pass(std::mem::take(&mut exec.lenient)));
    CaseRun {
        outcome,
        transcript: exec.transcript,
        duration: started.elapsed(),
        inputs: exec.inputs,
    }
}
