//! Client mode: the runner plays the server for one run of the client under test.
//!
//! For each case the runner listens on a fresh loopback port, starts the client command with
//! `{host}` and `{port}` filled in (in its own process group, stdin piped, stdout and stderr
//! captured into bounded tails), accepts its one connection, and runs the fixture's steps:
//! `expect` judges what the client sent, `send`/`send_raw` play the server's replies,
//! `close_stdin` feeds the user's `--stdin` text and ends the client's input, `expect_exit`
//! waits for the process to end and checks its status and that it did not crash. At the end the
//! process group is killed, whatever happened.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdin};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::stdin_wait::{InputWait, input_wait};
use super::{
    Arrived, At, Case, CaseEnv, CaseRun, Details, FailedAction, Failure, Outcome, Side, StepResult,
};
use crate::i18n::ClientMsg;
use crate::jim::auto_reply;
use crate::matcher::show;
use crate::model::Fixture;
use crate::process::{GroupGuard, SharedTail, capture, describe_status, spawn_group, tail_text};
use crate::report::ProcessReport;
use crate::step::ClientStep;
use crate::vocab::{Delivery, Direction, DisconnectKind};
use crate::wire::{Conn, Sent};

/// Generic answers a step gives under `auto_answer`, at most (a client that floods requests
/// fails).
pub const MAX_AUTO_ANSWERS: usize = 50;

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

/// What the client showed in a case that another case compares with (`expect_output`): the
/// output of the same client for the same reply alone.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The fixture that produced it.
    pub id: String,
    /// Its output (stdout, then stderr); None when that case did not pass, so that it says
    /// nothing about what the client shows for a reply it understood.
    pub output: Option<String>,
}

/// What a client-mode case needs from the run besides [`super::CaseEnv`].
#[derive(Debug, Clone)]
pub struct ClientCase {
    /// The command template: `{host}`, `{port}` and `{name}` are filled in; run with `sh -c`.
    pub command: String,
    /// The value of `{name}` (`--name`, default `Guest`).
    pub name: String,
    /// The `--stdin` text that `close_stdin` writes before closing the client's input.
    pub stdin: Option<Arc<Vec<u8>>>,
    /// How long the client may take to start and connect.
    pub startup: Duration,
    /// What the client showed for the reply alone, when a step compares with it.
    pub baseline: Option<Arc<Baseline>>,
}

/// A started client: its process, its output, and the runner's listener for its connection.
#[derive(Debug)]
pub struct ClientProcess {
    line: String,
    listener: Option<TcpListener>,
    child: Child,
    pid: Option<u32>,
    guard: GroupGuard,
    /// Its standard input, until `close_stdin`.
    pub stdin: Option<ChildStdin>,
    stdout: SharedTail,
    stderr: SharedTail,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

impl ClientProcess {
    /// Listens on a fresh loopback port and starts `command` for it.
    pub async fn start(command: &str, name: &str) -> Result<Self, ClientMsg> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| ClientMsg::CannotListen { error: e.to_string() })?;
        let port = listener
            .local_addr()
            .map_err(|e| ClientMsg::CannotListen { error: e.to_string() })?
            .port();
        let line = command
            .replace("{host}", "127.0.0.1")
            .replace("{port}", &port.to_string())
            .replace("{name}", name);
        let mut child = spawn_group(&line, true)
            .map_err(|e| ClientMsg::CannotStart { command: line.clone(), error: e.to_string() })?;
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
        let pid = child.id();
        Ok(Self {
            line,
            listener: Some(listener),
            child,
            pid,
            guard,
            stdin,
            stdout,
            stderr,
            readers,
            exit: None,
        })
    }

    /// Its exit status, once it has exited.
    pub fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
            }
        }
        self.exit
    }

    /// Waits for it to exit (None: it cannot be waited for).
    pub async fn wait(&mut self) -> Option<ExitStatus> {
        let status = self.child.wait().await.ok();
        if status.is_some() {
            self.exit = status;
        }
        status
    }

    /// Whether it waits for its user (reads its stdin); see [`super::stdin_wait`].
    pub fn input_wait(&mut self) -> InputWait {
        match (self.poll_exit(), self.pid) {
            (None, Some(pid)) => input_wait(pid),
            _ => InputWait::Unknown,
        }
    }

    /// Waits for its one connection. The listener is closed afterwards, whatever happened: a
    /// client that connects again is refused (one connection per case, so a client cannot flood
    /// the runner with connections). Err: why it never came.
    pub async fn accept(&mut self, within: Duration) -> Result<TcpStream, ClientMsg> {
        let Some(listener) = self.listener.take() else {
            return Err(ClientMsg::NotListening);
        };
        let until = Instant::now() + within;
        let child = &mut self.child;
        let accepted = tokio::select! {
            r = listener.accept() => Ok(r),
            status = child.wait() => Err(status.ok()),
            () = tokio::time::sleep_until(until) => Err(None),
        };
        drop(listener);
        match accepted {
            Ok(Ok((stream, _))) => {
                let _ = stream.set_nodelay(true);
                Ok(stream)
            }
            Ok(Err(e)) => Err(ClientMsg::AcceptFailed { error: e.to_string() }),
            Err(Some(status)) => {
                self.exit = Some(status);
                Err(ClientMsg::ExitedWithoutConnecting { status: describe_status(status) })
            }
            Err(None) => Err(ClientMsg::DidNotConnect { secs: within.as_secs_f64() }),
        }
    }

    /// Lets the output readers reach the end of the pipes (to see a traceback).
    pub async fn drain_output(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
        }
    }

    /// What it printed so far: standard output, then standard error.
    pub fn output(&self) -> String {
        format!("{}\n{}", tail_text(&self.stdout), tail_text(&self.stderr))
    }

    /// The last line of a crash (a traceback, a panic) in its output, if it crashed.
    pub fn crash_line(&self) -> Option<String> {
        for tail in [&self.stderr, &self.stdout] {
            let text = tail_text(tail);
            if let Some(pos) = CRASH_MARKERS.iter().filter_map(|m| text.find(m)).min() {
                let after = text.get(pos..).unwrap_or_default();
                let last = after.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(after);
                return Some(last.trim().chars().take(200).collect());
            }
        }
        None
    }

    /// Ends the process group and collects what it printed.
    pub async fn finish(mut self) -> ProcessReport {
        if self.exit.is_none() {
            // A client that is already on its way out gets a moment to end by itself.
            let _ = tokio::time::timeout(Duration::from_millis(200), self.child.wait()).await;
        }
        let exit = match self.poll_exit() {
            Some(status) => crate::i18n::exit_status(status),
            None => {
                self.guard.kill_now();
                let _ = self.child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
                ClientMsg::StoppedByRunner.text().into()
            }
        };
        // A group member may survive its leader; the guard kills the whole group.
        self.guard.kill_now();
        drop(self.stdin.take());
        self.drain_output().await;
        ProcessReport {
            command: self.line.clone(),
            exit,
            stdout: tail_text(&self.stdout),
            stderr: tail_text(&self.stderr),
        }
    }
}

/// The client side of a client-mode case.
#[derive(Debug)]
pub struct ClientSide {
    /// The client under test (taken at the end of the case).
    pub process: Option<ClientProcess>,
    /// Its connection was accepted once (and may be closed now).
    accepted: bool,
    /// What the run gave.
    pub case: ClientCase,
    /// Under `auto_answer`: requests no step asked for get a generic answer.
    pub auto_answer: bool,
    /// Generic answers given in the current step.
    pub answered: usize,
    /// The client left while the runner was writing to it (said with any later failure).
    left_early: Option<crate::i18n::Said>,
}

/// Starts the client and runs the client-mode steps of `fx` against it.
pub async fn run_case(fx: &Fixture, env: CaseEnv, case: ClientCase) -> CaseRun {
    let started = Instant::now();
    let process = match ClientProcess::start(&case.command, &case.name).await {
        Ok(p) => p,
        Err(message) => return not_started(&case, message, started),
    };
    let side = ClientSide {
        process: Some(process),
        accepted: false,
        case,
        auto_answer: false,
        answered: 0,
        left_early: None,
    };
    let steps = fx.client_steps().unwrap_or_default();
    super::execute(fx, steps, env, side).await
}

/// The run of a case whose client could not be started: a target error.
fn not_started(case: &ClientCase, saw: ClientMsg, started: Instant) -> CaseRun {
    let failure = Failure {
        step: 1,
        conn: "a".into(),
        action: FailedAction::StartClient,
        note: None,
        sent: Vec::new(),
        expected: Vec::new(),
        arrived: Arrived::Client { saw },
        mismatches: Vec::new(),
        would_need: Vec::new(),
        reproduce: Vec::new(),
        unknown_action: false,
    };
    CaseRun {
        outcome: Outcome::Error(Box::new(failure)),
        transcript: Vec::new(),
        duration: started.elapsed(),
        inputs: Vec::new(),
        process: Some(ProcessReport {
            command: case.command.clone(),
            exit: ClientMsg::NotStarted.text().into(),
            stdout: String::new(),
            stderr: String::new(),
        }),
        reproduce: Vec::new(),
    }
}

impl ClientSide {
    /// The client process (present until the end of the case).
    pub fn process(&mut self) -> Option<&mut ClientProcess> {
        self.process.as_mut()
    }

    /// How the client ended, once it has.
    fn exit_text(&mut self) -> Option<String> {
        self.process().and_then(ClientProcess::poll_exit).map(describe_status)
    }

    /// Answers a request of the client generically; false if it is not a request to answer
    /// (see [`auto_reply`]) or the answer could not be written.
    pub async fn answer(cx: &mut Case<'_, Self>, value: &Value) -> bool {
        let Some(reply) = auto_reply(value) else { return false };
        let bytes = jim_protocol::codec::to_bytes(&reply, cx.env.framing);
        let shown = format!("{} {}", show(&reply, 200), ClientMsg::GenericAnswer.en());
        cx.log("a", Direction::Sent, shown);
        let deadline = Instant::now() + cx.env.timeout;
        cx.write("a", &bytes, Sent::Json(reply), Delivery::Whole, deadline).await.is_ok()
    }
}

impl Side for ClientSide {
    type Step = ClientStep;
    const FLAGS_GLUED_WRITES: bool = true;

    fn run_step<'a>(
        cx: &'a mut Case<'_, Self>,
        step: &'a ClientStep,
        at: &'a At,
    ) -> impl Future<Output = StepResult> + std::marker::Send + 'a {
        cx.side.answered = 0;
        step.run(cx, at)
    }

    /// The step's time starts once the client is connected (its start-up has its own bound).
    async fn open(cx: &mut Case<'_, Self>, at: &At, _reopen: bool) -> Result<Instant, Outcome> {
        if cx.side.accepted {
            return Ok(Instant::now() + at.within);
        }
        let startup = cx.side.case.startup;
        let accepted = match cx.side.process() {
            Some(p) => p.accept(startup).await,
            None => Err(ClientMsg::NotRunning),
        };
        let stream = match accepted {
            Ok(stream) => stream,
            Err(saw) => return Err(cx.fail(at, Arrived::Client { saw }, Details::default())),
        };
        cx.side.accepted = true;
        let deadline = Instant::now() + at.within;
        cx.attach("a", Conn::new(stream));
        cx.log("a", Direction::Event, ClientMsg::Connected.text());
        Ok(deadline)
    }

    fn unsolicited(_: &mut Case<'_, Self>, _: &str, _: &Value, _: bool) -> bool {
        false
    }

    async fn answer_unasked(cx: &mut Case<'_, Self>, value: &Value) -> bool {
        if !cx.side.auto_answer || cx.side.answered >= MAX_AUTO_ANSWERS {
            return false;
        }
        let answered = Self::answer(cx, value).await;
        if answered {
            cx.side.answered += 1;
        }
        answered
    }

    /// A client that went away while the runner was writing is not judged here (it may have
    /// had all it needed, like a one-shot client that read its 200 and left before a glued
    /// probe was complete): the event is noted and the next steps judge (its exit status, what
    /// it sends). Any other write error fails the step.
    fn write_failed(cx: &mut Case<'_, Self>, at: &At, e: std::io::Error) -> StepResult {
        let gone = matches!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::NotConnected
        );
        if gone {
            let note = crate::i18n::Said::from(ClientMsg::WhyLeftEarly { step: at.number }.text());
            cx.log("a", Direction::Event, note.clone());
            cx.side.left_early = Some(note);
            // The connection is gone: later reads see it closed.
            drop(cx.conns.get_mut("a").and_then(|c| c.conn.take()));
            return Ok(());
        }
        let arrived = Arrived::Client { saw: ClientMsg::SendFailed { error: e.to_string() } };
        Err(cx.fail(at, arrived, Details::default()))
    }

    fn complete(cx: &mut Case<'_, Self>, failure: &mut Failure) {
        if let Some(note) = &cx.side.left_early {
            failure.mismatches.push(note.clone());
        }
        if let Some(status) = cx.side.exit_text() {
            failure.mismatches.push(ClientMsg::WhyEnded { status }.text().into());
        }
        // Client profiles enable no tolerance: naming one a client "would need" would send the
        // student looking for an option that does not exist.
        failure.would_need.clear();
        failure.reproduce = Self::reproduce(cx, None);
    }

    fn reproduce(cx: &Case<'_, Self>, _failing: Option<&str>) -> Vec<crate::i18n::Said> {
        let shown = cx
            .side
            .case
            .command
            .replace("{host}", "127.0.0.1")
            .replace("{port}", "7777")
            .replace("{name}", &cx.side.case.name);
        let server = ClientMsg::ReproduceServer.text();
        let server = crate::i18n::Said::new(
            format!("jim-server --port 7777 &   # {}", server.en),
            format!("jim-server --port 7777 &   # {}", server.ru),
        );
        vec![server, shown.into()]
    }

    async fn finish(cx: &mut Case<'_, Self>) -> Option<ProcessReport> {
        let process = cx.side.process.take()?;
        let report = process.finish().await;
        if let Some(conn) = cx.conn_mut("a") {
            conn.disconnect(DisconnectKind::Close).await;
        }
        Some(report)
    }
}
