//! Client mode, one case: the runner plays the server for one run of the client under test.
//!
//! For each case the runner listens on a fresh loopback port, starts the client command with
//! `{host}` and `{port}` filled in (in its own process group, stdin piped, stdout and stderr
//! captured into bounded tails), accepts its one connection, and runs the fixture's steps:
//! `expect` judges what the client sent (every read bounded in size and time, as in server
//! mode), `send`/`send_raw` play the server's replies (with the run's delivery mode),
//! `close_stdin` feeds the user's `--stdin` text and ends the client's input, `expect_exit`
//! waits for the process to end and checks its status and that it did not crash. At the end the
//! process group is killed, whatever happened.

use std::collections::BTreeSet;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use jim_protocol::Framing;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdin};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::case::{Arrived, Failure, Line, Outcome};
use crate::matcher::{Outcome as Match, Tolerances, match_value, show};
use crate::model::{Action, DisconnectKind, ExitCode, Fixture, Silence, Step};
use crate::placeholders::{Mode, Vars, decode_raw, now_seconds};
use crate::process::{GroupGuard, SharedTail, capture, describe_status, spawn_group, tail_text};
use crate::report::ProcessReport;
use crate::vocab::Tolerance;
use crate::wire::{Arrival, Conn, Delivery, Sent};

/// Everything one client-mode case needs from the run.
#[derive(Debug, Clone)]
pub struct ClientEnv {
    /// The command template: `{host}`, `{port}` and `{name}` are filled in; run with `sh -c`.
    pub command: String,
    /// The value of `{name}` (`--name`, default `Guest`).
    pub name: String,
    /// The `--stdin` text that `close_stdin` writes before closing the client's input.
    pub stdin: Option<Arc<Vec<u8>>>,
    /// Tolerances in force.
    pub tolerances: Tolerances,
    /// Default step timeout.
    pub timeout: Duration,
    /// How long the client may take to start and connect.
    pub startup: Duration,
    /// How the runner's replies end.
    pub framing: Framing,
    /// Delivery mode of the runner's replies (unless a step forces one).
    pub delivery: Delivery,
    /// Placeholder values for this case run.
    pub vars: Vars,
}

/// The result of one client-mode case.
#[derive(Debug, Clone)]
pub struct ClientRun {
    /// How it ended.
    pub outcome: Outcome,
    /// What went over the wire and what the process did.
    pub transcript: Vec<Line>,
    /// How long it took.
    pub duration: Duration,
    /// The client process: command, exit, output.
    pub process: ProcessReport,
}

/// Generic answers `auto_answer` gives per step, at most (a client that floods requests fails).
const MAX_AUTO_ANSWERS: usize = 50;
const MAX_TRANSCRIPT: usize = 200;
/// Largest `--stdin` text the runner feeds a client.
pub const MAX_STDIN_BYTES: usize = 1 << 20;

/// Markers of a crash in a client's output.
const CRASH_MARKERS: &[&str] = &[
    "Traceback (most recent call last)",
    "panicked at",
    "Unhandled exception",
    "Exception in thread",
    "Segmentation fault",
];

/// The generic answer to a request a client sends while `auto_answer` is on (None: no answer,
/// for quit/exit and for values that are not requests).
pub fn auto_reply(v: &Value) -> Option<Value> {
    let action = v.get("action")?.as_str()?;
    match action {
        "quit" | "exit" | "Exit" => None,
        "get_contacts" | "get_users" => {
            Some(json!({"response": 202, "time": now_seconds(), "alert": [], "data_list": []}))
        }
        _ => Some(json!({"response": 200, "time": now_seconds(), "alert": "OK"})),
    }
}

fn is_goodbye(v: &Value) -> bool {
    matches!(v.get("action").and_then(Value::as_str), Some("quit" | "exit" | "Exit"))
}

/// The started client and the runner's end of its connection.
struct Client {
    line: String,
    listener: Option<TcpListener>,
    child: Child,
    guard: GroupGuard,
    stdin: Option<ChildStdin>,
    stdout: SharedTail,
    stderr: SharedTail,
    readers: Vec<JoinHandle<()>>,
    conn: Option<Conn>,
    /// The connection was accepted once (and may be closed now).
    accepted: bool,
    exit: Option<ExitStatus>,
    transcript: Vec<Line>,
    started: Instant,
}

/// Why a client could not be started.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

impl Client {
    async fn start(command: &str, name: &str) -> Result<Self, StartError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| StartError(format!("cannot listen on 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartError(format!("cannot read the listening port: {e}")))?
            .port();
        let line = command
            .replace("{host}", "127.0.0.1")
            .replace("{port}", &port.to_string())
            .replace("{name}", name);
        let mut child = spawn_group(&line, true)
            .map_err(|e| StartError(format!("cannot start `{line}`: {e}")))?;
        let guard = GroupGuard::new(&child);
        let stdout: SharedTail = Arc::default();
        let stderr: SharedTail = Arc::default();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(capture(out, Arc::clone(&stdout), ""));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(capture(err, Arc::clone(&stderr), ""));
        }
        let stdin = child.stdin.take();
        Ok(Self {
            line,
            listener: Some(listener),
            child,
            guard,
            stdin,
            stdout,
            stderr,
            readers,
            conn: None,
            accepted: false,
            exit: None,
            transcript: Vec::new(),
            started: Instant::now(),
        })
    }

    fn log(&mut self, dir: &'static str, text: String) {
        if self.transcript.len() < MAX_TRANSCRIPT {
            let ms = self.started.elapsed().as_millis() as u64;
            self.transcript.push(Line { ms, conn: "a".into(), dir, text });
        }
    }

    fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
            }
        }
        self.exit
    }

    fn exit_text(&mut self) -> Option<String> {
        self.poll_exit().map(describe_status)
    }

    /// Waits for the client's connection (once). Err: why it never came.
    async fn accept(&mut self, within: Duration) -> Result<(), String> {
        if self.accepted {
            return Ok(());
        }
        let Some(listener) = self.listener.take() else {
            return Err("the runner is not listening".into());
        };
        let until = Instant::now() + within;
        let child = &mut self.child;
        let accepted = tokio::select! {
            r = listener.accept() => Ok(r),
            status = child.wait() => Err(status.ok()),
            () = tokio::time::sleep_until(until) => Err(None),
        };
        // The listener is dropped here: a client that connects again is refused (one
        // connection per case, so a client cannot flood the runner with connections).
        drop(listener);
        match accepted {
            Ok(Ok((stream, _))) => {
                let _ = stream.set_nodelay(true);
                self.conn = Some(Conn::new(stream));
                self.accepted = true;
                self.log("*", "the client connected".into());
                Ok(())
            }
            Ok(Err(e)) => Err(format!("accepting the client's connection failed: {e}")),
            Err(Some(status)) => {
                self.exit = Some(status);
                Err(format!(
                    "the client exited ({}) without connecting: does the command use {{host}} and {{port}}? (its output is below)",
                    describe_status(status)
                ))
            }
            Err(None) => Err(format!(
                "the client did not connect within {} s: does the command use {{host}} and {{port}}?",
                within.as_secs_f64()
            )),
        }
    }

    /// Ends the process group and collects what it printed.
    async fn finish(mut self) -> (ProcessReport, Vec<Line>) {
        if self.exit.is_none() {
            // A client that is already on its way out gets a moment to end by itself.
            let _ = tokio::time::timeout(Duration::from_millis(200), self.child.wait()).await;
        }
        let exit = match self.poll_exit() {
            Some(status) => describe_status(status),
            None => {
                self.guard.kill_now();
                let _ = self.child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
                "still running at the end of the case: stopped by the runner".to_owned()
            }
        };
        // A group member may survive its leader; the guard kills the whole group.
        self.guard.kill_now();
        if let Some(mut conn) = self.conn.take() {
            conn.disconnect(DisconnectKind::Close).await;
        }
        drop(self.stdin.take());
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
        }
        let report = ProcessReport {
            command: self.line.clone(),
            exit,
            stdout: tail_text(&self.stdout),
            stderr: tail_text(&self.stderr),
        };
        (report, self.transcript)
    }
}

struct Exec<'f> {
    fx: &'f Fixture,
    env: ClientEnv,
    client: Client,
    auto_answer: bool,
    lenient: BTreeSet<Tolerance>,
    /// The client left while the runner was writing to it (said with any later failure).
    left_early: Option<String>,
}

impl Exec<'_> {
    fn reproduce(&self) -> Vec<String> {
        let shown = self
            .env
            .command
            .replace("{host}", "127.0.0.1")
            .replace("{port}", "7777")
            .replace("{name}", &self.env.name);
        vec![
            "jim-server --port 7777 &   # a correct server to try the client against".into(),
            shown,
        ]
    }

    fn failure(
        &mut self,
        index: usize,
        step: &Step,
        expected: Vec<Value>,
        arrived: Arrived,
        mut mismatches: Vec<String>,
    ) -> Box<Failure> {
        if let Some(note) = &self.left_early {
            mismatches.push(note.clone());
        }
        if let Some(exit) = self.client.exit_text() {
            mismatches.push(format!("the client process has ended ({exit}); its output is below"));
        }
        let sent = self.client.conn.as_ref().map(|c| c.sent.clone()).unwrap_or_default();
        Box::new(Failure {
            step: index + 1,
            conn: "a".into(),
            action: step.action.keyword().as_str().to_owned(),
            note: step.note.clone(),
            sent,
            expected,
            arrived,
            mismatches,
            would_need: Vec::new(),
            reproduce: self.reproduce(),
            unknown_action: false,
        })
    }

    fn arrived(&self, a: Arrival, within: Duration) -> Arrived {
        match a {
            Arrival::Value { value, raw, .. } => Arrived::Value { value, raw },
            Arrival::Bad { kind, detail, text } => Arrived::Bad { problem: kind, detail, text },
            Arrival::Closed { reset } => Arrived::Closed { reset },
            Arrival::Nothing => Arrived::Nothing {
                within_ms: within.as_millis() as u64,
                partial: self.client.conn.as_ref().and_then(Conn::pending_preview),
            },
        }
    }

    fn log_arrival(&mut self, a: &Arrival) {
        let text = match a {
            Arrival::Value { raw, .. } => raw.clone(),
            Arrival::Bad { kind, text, .. } => format!("{kind}: {text}"),
            Arrival::Closed { reset: true } => "(reset)".into(),
            Arrival::Closed { reset: false } => "(closed)".into(),
            Arrival::Nothing => return,
        };
        self.client.log("<", text);
    }

    async fn next(&mut self, deadline: Instant) -> Arrival {
        let arrival = match self.client.conn.as_mut() {
            Some(conn) => conn.next(deadline).await,
            None => Arrival::Closed { reset: false },
        };
        self.log_arrival(&arrival);
        arrival
    }

    async fn write(
        &mut self,
        bytes: &[u8],
        sent: Sent,
        delivery: Delivery,
    ) -> Result<(), std::io::Error> {
        let cuts = delivery.cut_points(bytes).len() as u32;
        let pacing = match delivery {
            Delivery::Whole => Duration::ZERO,
            Delivery::Split => crate::wire::SPLIT_PAUSE * 2 * cuts,
            Delivery::Trickle => crate::wire::TRICKLE_PAUSE * 3 * cuts,
        };
        let deadline = Instant::now() + self.env.timeout + pacing;
        match self.client.conn.as_mut() {
            Some(conn) => {
                conn.record(sent);
                conn.write(bytes, delivery, deadline).await
            }
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the connection is closed",
            )),
        }
    }

    /// Answers a request generically; returns false if it is not one to answer.
    async fn answer(&mut self, value: &Value) -> bool {
        let Some(reply) = auto_reply(value) else { return false };
        let bytes = jim_protocol::codec::to_bytes(&reply, self.env.framing);
        self.client.log(">", format!("{} (generic answer)", show(&reply, 200)));
        self.write(&bytes, Sent::Json(reply), Delivery::Whole).await.is_ok()
    }

    /// The outcome of a send step. A client that went away while the runner was writing is not
    /// judged here (it may have had all it needed, like a one-shot client that read its 200 and
    /// left before a glued probe was complete): the event is noted and the next steps judge
    /// (its exit status, what it sends). Any other write error fails the step.
    fn sent_or_fail(
        &mut self,
        index: usize,
        step: &Step,
        result: std::io::Result<()>,
    ) -> Result<(), Outcome> {
        let Err(e) = result else { return Ok(()) };
        let gone = matches!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::NotConnected
        );
        if gone {
            let note = format!(
                "the client closed the connection while the runner was still sending step {}",
                index + 1
            );
            self.client.log("*", note.clone());
            self.left_early = Some(note);
            self.client.conn = None;
            return Ok(());
        }
        let arrived = Arrived::Problem { message: format!("sending to the client failed: {e}") };
        Err(Outcome::Fail(self.failure(index, step, Vec::new(), arrived, vec![])))
    }

    fn expand(&mut self, v: &Value, mode: Mode) -> Result<Value, String> {
        self.env.vars.expand(v, mode).map_err(|e| e.to_string())
    }

    fn crash_line(&self) -> Option<String> {
        for tail in [&self.client.stderr, &self.client.stdout] {
            let text = tail_text(tail);
            if let Some(pos) = CRASH_MARKERS.iter().filter_map(|m| text.find(m)).min() {
                let after = text.get(pos..).unwrap_or_default();
                let last = after.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(after);
                return Some(last.trim().chars().take(200).collect());
            }
        }
        None
    }

    async fn step(&mut self, index: usize, step: &Step) -> Result<(), Outcome> {
        let within = step.timeout_ms.map(Duration::from_millis).unwrap_or(self.env.timeout);
        let uses_conn = matches!(
            step.action,
            Action::Connect
                | Action::Send(_)
                | Action::SendRaw(_)
                | Action::Expect(_)
                | Action::ExpectSilence(_)
                | Action::ExpectClose
        );
        if uses_conn {
            if let Err(message) = self.client.accept(self.env.startup).await {
                let f = self.failure(index, step, Vec::new(), Arrived::Problem { message }, vec![]);
                return Err(Outcome::Error(f));
            }
        }
        // The step's time starts once the client is connected (its start-up has its own bound).
        let deadline = Instant::now() + within;
        let problem = |exec: &mut Self, message: String| {
            let f = exec.failure(index, step, Vec::new(), Arrived::Problem { message }, vec![]);
            Outcome::Fail(f)
        };
        match &step.action {
            Action::Connect => Ok(()),
            Action::Send(template) => {
                let value = match self.expand(template, Mode::Send) {
                    Ok(v) => v,
                    Err(m) => return Err(problem(self, m)),
                };
                let bytes = jim_protocol::codec::to_bytes(&value, self.env.framing);
                self.client.log(">", show(&value, 400));
                let delivery = step.delivery.unwrap_or(self.env.delivery);
                let result = self.write(&bytes, Sent::Json(value), delivery).await;
                self.sent_or_fail(index, step, result)
            }
            Action::SendRaw(text) => {
                let bytes = match decode_raw(&mut self.env.vars, text) {
                    Ok(b) => b,
                    Err(e) => return Err(problem(self, e.to_string())),
                };
                let shown = self.env.vars.expand_str(text).unwrap_or_else(|_| text.clone());
                self.client.log(">", jim_protocol::error::preview(&bytes));
                let delivery = step.delivery.unwrap_or(self.env.delivery);
                let result = self.write(&bytes, Sent::Raw(shown), delivery).await;
                self.sent_or_fail(index, step, result)
            }
            Action::Expect(alternatives) => {
                let mut alts = Vec::new();
                for a in alternatives {
                    match self.expand(a, Mode::Pattern) {
                        Ok(v) => alts.push(v),
                        Err(m) => return Err(problem(self, m)),
                    }
                }
                let mut answered = 0;
                loop {
                    let arrival = self.next(deadline).await;
                    let Arrival::Value { value, same_read, .. } = &arrival else {
                        let arrived = self.arrived(arrival, within);
                        return Err(Outcome::Fail(self.failure(
                            index,
                            step,
                            alts,
                            arrived,
                            vec![],
                        )));
                    };
                    let results: Vec<Match> =
                        alts.iter().map(|a| match_value(a, value, &self.env.tolerances)).collect();
                    if let Some(ok) = results.iter().find(|r| r.ok()) {
                        self.lenient.extend(ok.lenient.iter().cloned());
                        for (k, v) in &ok.captures {
                            self.env.vars.captures.insert(k.clone(), v.clone());
                        }
                        return Ok(());
                    }
                    if self.auto_answer && answered < MAX_AUTO_ANSWERS && !is_goodbye(value) {
                        let value = value.clone();
                        if self.answer(&value).await {
                            answered += 1;
                            continue;
                        }
                    }
                    let many = results.len() > 1;
                    let mut mismatches = Vec::new();
                    for (i, r) in results.iter().enumerate() {
                        for m in &r.mismatches {
                            mismatches.push(if many {
                                format!("alternative {}: {m}", i + 1)
                            } else {
                                m.clone()
                            });
                        }
                    }
                    if *same_read {
                        mismatches.push(
                            "it came in the same read as the client's previous message: both were written at once"
                                .into(),
                        );
                    }
                    let arrived = self.arrived(arrival, within);
                    return Err(Outcome::Fail(
                        self.failure(index, step, alts, arrived, mismatches),
                    ));
                }
            }
            Action::ExpectSilence(Silence::ForMs(ms)) => {
                let until = Instant::now() + Duration::from_millis(*ms);
                match self.next(until).await {
                    Arrival::Nothing => Ok(()),
                    other => {
                        let mut m = vec![format!("nothing should arrive within {ms} ms")];
                        if let Arrival::Value { same_read: true, .. } = &other {
                            m.push("it came in the same read as the message before it: the client wrote both at once".into());
                        }
                        let arrived = self.arrived(other, within);
                        let expected = vec![json!({"$silence_ms": ms})];
                        Err(Outcome::Fail(self.failure(index, step, expected, arrived, m)))
                    }
                }
            }
            Action::ExpectSilence(Silence::Before(_)) => Err(problem(
                self,
                "expect_silence with a barrier is not available in client mode".into(),
            )),
            Action::ExpectClose => {
                let mut answered = 0;
                loop {
                    let arrival = self.next(deadline).await;
                    match &arrival {
                        Arrival::Closed { .. } => {
                            self.client.conn = None;
                            return Ok(());
                        }
                        Arrival::Value { value, .. } if is_goodbye(value) => {}
                        Arrival::Value { value, .. }
                            if self.auto_answer && answered < MAX_AUTO_ANSWERS =>
                        {
                            let value = value.clone();
                            if !self.answer(&value).await {
                                return Err(problem(self, "cannot answer the client".into()));
                            }
                            answered += 1;
                        }
                        _ => {
                            let m = vec!["the client should close the connection".to_owned()];
                            let arrived = self.arrived(arrival, within);
                            let expected = vec![json!({"$close": true})];
                            return Err(Outcome::Fail(
                                self.failure(index, step, expected, arrived, m),
                            ));
                        }
                    }
                }
            }
            Action::Disconnect(kind) => {
                if let Some(mut conn) = self.client.conn.take() {
                    conn.disconnect(*kind).await;
                }
                self.client.log("*", format!("the runner ended the connection ({kind:?})"));
                Ok(())
            }
            Action::CloseStdin => {
                let text = self.env.stdin.clone();
                if let Some(mut stdin) = self.client.stdin.take() {
                    let mut note = String::from("stdin closed");
                    if let Some(text) = text.filter(|t| !t.is_empty()) {
                        let write = tokio::time::timeout_at(deadline, stdin.write_all(&text));
                        note = match write.await {
                            Ok(Ok(())) => {
                                format!("wrote {} bytes of --stdin, then closed stdin", text.len())
                            }
                            Ok(Err(e)) => format!("writing --stdin failed ({e}); stdin closed"),
                            Err(_) => {
                                "the client did not read its stdin in time; stdin closed".into()
                            }
                        };
                    }
                    drop(stdin);
                    self.client.log("*", note);
                }
                Ok(())
            }
            Action::AutoAnswer => {
                self.auto_answer = true;
                Ok(())
            }
            Action::ExpectExit(code) => {
                self.expect_exit(index, step, *code, deadline, within).await
            }
            // expect_list, tolerate (lint rejects them in client-mode fixtures).
            _ => Err(problem(
                self,
                format!("\"{}\" is not available in client mode", step.action.keyword()),
            )),
        }
    }

    async fn expect_exit(
        &mut self,
        index: usize,
        step: &Step,
        code: ExitCode,
        deadline: Instant,
        within: Duration,
    ) -> Result<(), Outcome> {
        let expected = vec![json!({"$exit": code.describe()})];
        let mut answered = 0;
        let status = loop {
            if let Some(status) = self.client.poll_exit() {
                break status;
            }
            enum Event {
                Exited(Option<ExitStatus>),
                Arrived(Arrival),
                Timeout,
            }
            let event = {
                let child = &mut self.client.child;
                let conn = &mut self.client.conn;
                let read = async {
                    match conn.as_mut() {
                        Some(c) => c.next(deadline).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    status = child.wait() => Event::Exited(status.ok()),
                    a = read => Event::Arrived(a),
                    () = tokio::time::sleep_until(deadline) => Event::Timeout,
                }
            };
            match event {
                Event::Exited(Some(status)) => {
                    self.client.exit = Some(status);
                    break status;
                }
                Event::Exited(None) => {
                    let m = "cannot wait for the client process".to_owned();
                    let f = self.failure(
                        index,
                        step,
                        expected,
                        Arrived::Problem { message: m },
                        vec![],
                    );
                    return Err(Outcome::Error(f));
                }
                Event::Arrived(a) => {
                    self.log_arrival(&a);
                    match &a {
                        Arrival::Closed { .. } => self.client.conn = None,
                        Arrival::Value { value, .. } => {
                            if self.auto_answer
                                && answered < MAX_AUTO_ANSWERS
                                && auto_reply(value).is_some()
                            {
                                let value = value.clone();
                                self.answer(&value).await;
                                answered += 1;
                            }
                        }
                        Arrival::Bad { .. } => {
                            let arrived = self.arrived(a, within);
                            let m = vec!["while waiting for the client to exit".to_owned()];
                            return Err(Outcome::Fail(
                                self.failure(index, step, expected, arrived, m),
                            ));
                        }
                        Arrival::Nothing => {}
                    }
                }
                Event::Timeout => {
                    let m =
                        vec![format!("the client did not exit within {} s", within.as_secs_f64())];
                    let arrived =
                        Arrived::Problem { message: "the client is still running".into() };
                    return Err(Outcome::Fail(self.failure(index, step, expected, arrived, m)));
                }
            }
        };
        let shown = describe_status(status);
        self.client.log("*", format!("the client exited ({shown})"));
        // Let the output readers reach the end of the pipes, to see a traceback.
        for reader in self.client.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
        }
        if let Some(line) = self.crash_line() {
            let arrived =
                Arrived::Problem { message: format!("the client crashed ({shown}): {line}") };
            let m = vec![
                "a crash (traceback or panic) is never a correct way to handle a reply".to_owned(),
            ];
            return Err(Outcome::Fail(self.failure(index, step, expected, arrived, m)));
        }
        if !code.accepts(status.code()) {
            let arrived = Arrived::Problem { message: format!("the client ended with {shown}") };
            let m = vec![format!("expected exit status {}", code.describe())];
            return Err(Outcome::Fail(self.failure(index, step, expected, arrived, m)));
        }
        Ok(())
    }
}

/// Runs the steps of the client-mode fixture `fx` against a fresh run of the client.
pub async fn run_client_case(fx: &Fixture, env: ClientEnv) -> ClientRun {
    let started = Instant::now();
    let client = match Client::start(&env.command, &env.name).await {
        Ok(c) => c,
        Err(e) => {
            let failure = Failure {
                step: 1,
                conn: "a".into(),
                action: "start".into(),
                note: None,
                sent: Vec::new(),
                expected: Vec::new(),
                arrived: Arrived::Problem { message: e.0 },
                mismatches: Vec::new(),
                would_need: Vec::new(),
                reproduce: Vec::new(),
                unknown_action: false,
            };
            return ClientRun {
                outcome: Outcome::Error(Box::new(failure)),
                transcript: Vec::new(),
                duration: started.elapsed(),
                process: ProcessReport {
                    command: env.command.clone(),
                    exit: "not started".into(),
                    stdout: String::new(),
                    stderr: String::new(),
                },
            };
        }
    };
    let mut exec =
        Exec { fx, env, client, auto_answer: false, lenient: BTreeSet::new(), left_early: None };
    let mut outcome = None;
    for (i, step) in exec.fx.steps.iter().enumerate() {
        if let Err(o) = exec.step(i, step).await {
            outcome = Some(o);
            break;
        }
    }
    let outcome = outcome.unwrap_or_else(|| Outcome::Pass(std::mem::take(&mut exec.lenient)));
    let (process, transcript) = exec.client.finish().await;
    ClientRun { outcome, transcript, duration: started.elapsed(), process }
}

/// What the first run of a client showed (the client-mode preflight).
#[derive(Debug, Clone, Default)]
pub struct FirstContact {
    /// Why the client never connected, if it did not.
    pub error: Option<String>,
    /// Its first message, as received (escaped).
    pub first: Option<String>,
    /// Its first message as JSON, if it was JSON.
    pub first_value: Option<Value>,
    /// Whether a newline followed the first message.
    pub newline: Option<bool>,
    /// After a 200 to its first message (and generic answers to what followed), the client
    /// exited by itself, or with status 0 once the runner closed the connection (a one-shot
    /// lesson-3 client), rather than staying for more input (an interactive one).
    pub exited_after_reply: Option<bool>,
    /// It exited only after the runner closed the connection.
    pub waited_for_close: bool,
    /// The process, for the report.
    pub process: Option<ProcessReport>,
}

/// Waits up to `settle` for the client to exit, answering its requests generically meanwhile;
/// true if it exited.
async fn settle_and_watch(
    client: &mut Client,
    env: &ClientEnv,
    settle: Duration,
    answered: &mut usize,
) -> bool {
    let until = Instant::now() + settle;
    loop {
        if client.poll_exit().is_some() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        let step = (Instant::now() + Duration::from_millis(50)).min(until);
        let arrival = match client.conn.as_mut() {
            Some(conn) => conn.next(step).await,
            None => {
                tokio::time::sleep_until(step).await;
                continue;
            }
        };
        match arrival {
            Arrival::Closed { .. } => client.conn = None,
            Arrival::Value { value, .. } if *answered < MAX_AUTO_ANSWERS => {
                if let (Some(reply), Some(conn)) = (auto_reply(&value), client.conn.as_mut()) {
                    let bytes = jim_protocol::codec::to_bytes(&reply, env.framing);
                    let _ = conn.write(&bytes, Delivery::Whole, Instant::now() + env.timeout).await;
                    *answered += 1;
                }
            }
            _ => {}
        }
    }
}

/// Starts the client once: waits for its connection and first message, answers 200 and watches
/// whether it exits within `settle` while its stdin stays open.
pub async fn first_contact(env: &ClientEnv, settle: Duration) -> FirstContact {
    let mut contact = FirstContact::default();
    let mut client = match Client::start(&env.command, &env.name).await {
        Ok(c) => c,
        Err(e) => {
            contact.error = Some(e.0);
            return contact;
        }
    };
    if let Err(e) = client.accept(env.startup).await {
        contact.error = Some(e);
        let (process, _) = client.finish().await;
        contact.process = Some(process);
        return contact;
    }
    let arrival = match client.conn.as_mut() {
        Some(conn) => conn.next(Instant::now() + env.timeout).await,
        None => Arrival::Closed { reset: false },
    };
    match arrival {
        Arrival::Value { value, raw, newline_after, .. } => {
            contact.first = Some(raw);
            contact.first_value = Some(value);
            contact.newline = newline_after;
            let reply = json!({"response": 200, "time": now_seconds(), "alert": "OK"});
            let bytes = jim_protocol::codec::to_bytes(&reply, env.framing);
            if let Some(conn) = client.conn.as_mut() {
                let _ = conn.write(&bytes, Delivery::Whole, Instant::now() + env.timeout).await;
            }
            let mut answered = 0;
            let exited = settle_and_watch(&mut client, env, settle, &mut answered).await;
            let exited = if exited {
                true
            } else if settle.is_zero() {
                contact.exited_after_reply = None;
                let (process, _) = client.finish().await;
                contact.process = Some(process);
                return contact;
            } else {
                // A lesson-3 client may wait for the server to close: close, and see whether
                // it then ends with status 0 (an interactive client reports the close as an
                // error, or keeps going).
                if let Some(mut conn) = client.conn.take() {
                    conn.disconnect(DisconnectKind::Close).await;
                }
                let zero = settle_and_watch(&mut client, env, settle / 2, &mut answered).await
                    && client.exit.is_some_and(|s| s.success());
                contact.waited_for_close = zero;
                zero
            };
            contact.exited_after_reply = Some(exited);
        }
        Arrival::Bad { text, .. } => contact.first = Some(text),
        Arrival::Closed { .. } | Arrival::Nothing => {}
    }
    let (process, _) = client.finish().await;
    contact.process = Some(process);
    contact
}
