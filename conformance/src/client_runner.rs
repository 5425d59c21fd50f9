//! Client mode, the whole run (`jim-conformance client --spawn "CMD {host} {port}"`): a first
//! contact that checks the client starts and connects and tells a one-shot lesson-3 client
//! from an interactive one (`--profile auto`), then every selected fixture with role `server`
//! in every delivery mode, each against a fresh run of the client, in parallel up to `--jobs`,
//! within `--deadline`; verdicts, levels and exit codes as in server mode.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::case::CaseEnv;
use crate::case::Outcome;
use crate::case::client::{ClientCase, ClientProcess, MAX_AUTO_ANSWERS, run_case};
use crate::jim::auto_reply;
use crate::model::Fixture;
use crate::placeholders::Vars;
use crate::placeholders::now_seconds;
use crate::preflight::Detection;
use crate::profile::{IdFilter, Profile, ProfileTarget};
use crate::report::{
    CaseResult, OptionsInfo, ProfileInfo, REPORT_SCHEMA, Report, TargetInfo, Verdict,
};
use crate::runner::{
    MAX_JOBS, ModeNotes, Peer, RunError, RunOptions, exit_code, finalize, run_in_parallel,
};
use crate::suite::Suite;
use crate::target::TargetError;
use crate::vocab::DisconnectKind;
use crate::vocab::{DetectedDialect, DetectedFraming, TargetKind};
use crate::wire::Conn;
use crate::wire::{Arrival, Delivery};
use jim_protocol::Framing;
use serde_json::json;

/// The profile `--profile auto` picks for a client that exits after its reply.
pub const ONE_SHOT_PROFILE: &str = "client-lesson3";
/// The profile `--profile auto` picks for a client that stays after its reply.
pub const INTERACTIVE_PROFILE: &str = "client-interactive";

/// How long the first contact waits for a client to exit by itself after its reply.
const SETTLE: Duration = Duration::from_millis(1000);

/// A prepared client-mode run.
#[derive(Debug)]
pub struct ClientSession {
    suite: Suite,
    opts: RunOptions,
    command: String,
    profile: Profile,
    auto: bool,
    detection: Detection,
    started: Instant,
    deadline: Instant,
    filter: IdFilter,
    tag: String,
    counter: std::sync::atomic::AtomicU64,
}

fn dialect_of(presence: &Value) -> DetectedDialect {
    let user = presence.get("user");
    if presence.get("type").is_some() || user.and_then(|u| u.get("status")).is_some() {
        DetectedDialect::Spec
    } else {
        // A presence with a pubkey, or with neither type nor status, is what the course
        // solution sends (PROTOCOL.md §dialect-detection).
        DetectedDialect::Course
    }
}

impl ClientSession {
    /// Loads the suite, starts the client once (first contact), and chooses the profile.
    /// A client that cannot be started or never connects is [`RunError::Target`] (exit 3).
    pub async fn prepare(command: &str, mut opts: RunOptions) -> Result<Self, RunError> {
        if !command.contains("{port}") {
            return Err(RunError::Usage(
                "--spawn needs {port} (and usually {host}) in the command, e.g. \"python3 client.py {host} {port}\"".into(),
            ));
        }
        let suite = match opts.suite.take() {
            Some(s) => s,
            None => Suite::embedded()?,
        };
        if let Some(p) = &opts.profile {
            if suite.profile(p)?.target != ProfileTarget::Client {
                let clients: Vec<&str> = suite
                    .profiles
                    .values()
                    .filter(|p| p.target == ProfileTarget::Client)
                    .map(|p| p.name.as_str())
                    .collect();
                return Err(RunError::Usage(format!(
                    "profile {p} judges servers; client profiles: {}",
                    clients.join(", ")
                )));
            }
        }
        let filter = IdFilter::new(&opts.only, &opts.skip).map_err(RunError::Usage)?;
        let started = Instant::now();
        let deadline = started + opts.deadline;
        let tag = format!("{:x}", std::process::id() % 0xfff);
        let case = ClientCase {
            command: command.to_owned(),
            name: opts.name.clone().unwrap_or_else(|| "Guest".into()),
            stdin: None,
            startup: opts.startup.min(opts.deadline),
        };
        // Under --profile auto the first run also tells one-shot from interactive clients;
        // otherwise it only checks that the client starts, connects and speaks.
        let settle = if opts.profile.is_none() { SETTLE } else { Duration::ZERO };
        let first = first_contact(&case, opts.framing, opts.timeout, settle);
        let contact = match tokio::time::timeout_at(deadline, first).await {
            Ok(c) => c,
            Err(_) => FirstContact {
                error: Some("the first run of the client did not finish before --deadline".into()),
                ..FirstContact::default()
            },
        };
        if let Some(error) = &contact.error {
            let output = contact
                .process
                .as_ref()
                .map(|p| format!("{}\n{}", p.stdout, p.stderr).trim().to_owned())
                .unwrap_or_default();
            return Err(RunError::Target(TargetError::Spawn {
                message: format!("client `{command}`: {error}"),
                output,
            }));
        }
        let detection = detect(&contact);
        let auto = opts.profile.is_none();
        let profile_name =
            opts.profile.clone().unwrap_or_else(|| detection.suggested_profile.clone());
        let profile = suite.profile(&profile_name)?.clone();
        Ok(Self {
            suite,
            opts,
            command: command.to_owned(),
            profile,
            auto,
            detection,
            started,
            deadline,
            filter,
            tag,
            counter: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The fixtures this run selects, by id.
    pub fn selected(&self) -> Vec<Arc<Fixture>> {
        self.suite
            .fixtures
            .iter()
            .filter(|f| self.profile.selects(f) && self.filter.allows(&f.id))
            .cloned()
            .collect()
    }

    fn env(&self, delivery: Delivery) -> (CaseEnv, ClientCase) {
        let n = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let env = CaseEnv {
            tolerances: self.profile.tolerances(self.opts.strict),
            timeout: self.opts.timeout,
            framing: self.opts.framing,
            delivery,
            vars: Vars::new(format!("{}{n}", self.tag), String::new()),
        };
        let case = ClientCase {
            command: self.command.clone(),
            name: self.opts.name.clone().unwrap_or_else(|| "Guest".into()),
            stdin: self.opts.stdin.clone().map(Arc::new),
            startup: self.opts.startup,
        };
        (env, case)
    }

    /// Runs one case in one delivery mode against a fresh run of the client.
    pub async fn run_case(&self, fx: &Fixture, delivery: Delivery) -> CaseResult {
        let mut r = CaseResult::new(fx, delivery, Verdict::Pass, None);
        r.level = self.profile.level_of(fx);
        let (env, case) = self.env(delivery);
        let run = tokio::time::timeout_at(self.deadline, run_case(fx, env, case));
        match run.await {
            Err(_) => {
                r.verdict = Verdict::Fail;
                r.reason = Some(format!(
                    "not finished before --deadline ({} s)",
                    self.opts.deadline.as_secs()
                ));
            }
            Ok(run) => {
                r.duration_ms = run.duration.as_millis() as u64;
                match run.outcome {
                    Outcome::Pass(lenient) => {
                        if !lenient.is_empty() {
                            r.verdict = Verdict::PassLenient;
                            r.tolerances = lenient.into_iter().collect();
                        }
                    }
                    Outcome::Fail(f) | Outcome::Error(f) => {
                        r.verdict = if f.action == crate::case::FailedAction::StartClient {
                            Verdict::Error
                        } else {
                            Verdict::Fail
                        };
                        r.reason = Some(format!(
                            "step {}: {}",
                            f.step,
                            f.arrived.describe(crate::i18n::Lang::En)
                        ));
                        r.failure = Some(*f);
                        r.transcript = run.transcript;
                    }
                }
                r.process = run.process;
            }
        }
        if r.verdict.passed() {
            // Keep the report small: a passing case's output is not needed.
            r.process = None;
        }
        finalize(r, &self.opts.known_failures, self.opts.strict)
    }

    /// Runs every selected case (and delivery mode) and builds the report.
    pub async fn run_all(
        self: &Arc<Self>,
        mut on_result: impl FnMut(&CaseResult),
    ) -> Result<Report, RunError> {
        let selected = self.selected();
        if selected.is_empty() {
            return Err(RunError::Usage(format!(
                "nothing selected: profile {} with --only {:?} --skip {:?} matches no fixture (try --list)",
                self.profile.name, self.opts.only, self.opts.skip
            )));
        }
        let jobs_list: Vec<(Arc<Fixture>, Delivery)> = selected
            .iter()
            .flat_map(|fx| self.opts.delivery.iter().map(move |d| (Arc::clone(fx), *d)))
            .collect();
        let jobs = self.opts.jobs.unwrap_or(self.profile.jobs).clamp(1, MAX_JOBS);
        let mut notes = ModeNotes::new(Peer::Client);
        let run = |fx: Arc<Fixture>, d: Delivery| {
            let session = Arc::clone(self);
            async move { session.run_case(&fx, d).await }
        };
        let results =
            run_in_parallel(&jobs_list, jobs, &self.opts, &mut notes, run, &mut on_result).await;
        let (code, why) = exit_code(&results);
        Ok(self.report(results, code, why))
    }

    /// Builds a report from results (with none: the summary card before the run).
    pub fn report(&self, cases: Vec<CaseResult>, exit_code: i32, exit_reason: String) -> Report {
        let mut report = Report {
            schema: REPORT_SCHEMA,
            tool: format!("jim-conformance {}", env!("CARGO_PKG_VERSION")),
            target: TargetInfo {
                kind: TargetKind::Client,
                description: format!(
                    "client `{}`, started once per case against the runner on 127.0.0.1",
                    self.command
                ),
                address: "127.0.0.1 (a new port per case)".into(),
            },
            detected: self.detection.clone(),
            profile: ProfileInfo {
                name: self.profile.name.clone(),
                auto: self.auto,
                strict: self.opts.strict,
                dialects: self.profile.dialects.clone(),
                tolerances: if self.opts.strict {
                    BTreeMap::new()
                } else {
                    self.profile.tolerances.clone()
                },
                name_used: self.opts.name.clone().unwrap_or_else(|| "Guest".into()),
            },
            options: OptionsInfo {
                timeout_ms: self.opts.timeout.as_millis() as u64,
                deadline_ms: self.opts.deadline.as_millis() as u64,
                jobs: self.opts.jobs.unwrap_or(self.profile.jobs),
                delivery: self.opts.delivery.clone(),
                framing: match self.opts.framing {
                    jim_protocol::Framing::Newline => "newline".into(),
                    jim_protocol::Framing::Bare => "bare".into(),
                },
                expect: Vec::new(),
            },
            capabilities: BTreeMap::new(),
            cases,
            summary: Default::default(),
            exit_code,
            exit_reason,
            duration_ms: self.started.elapsed().as_millis() as u64,
            events: Vec::new(),
            target_output: None,
            lang: self.opts.lang,
        };
        report.summarize();
        report
    }
}

/// The summary card's view of the first contact.
fn detect(c: &FirstContact) -> Detection {
    let mut d = Detection {
        reachable: true,
        dialect: DetectedDialect::Unknown,
        framing: match c.newline {
            Some(true) => DetectedFraming::Newline,
            Some(false) => DetectedFraming::Bare,
            None => DetectedFraming::Unknown,
        },
        first_reply: c.first.clone(),
        one_shot: c.exited_after_reply,
        ..Detection::default()
    };
    match &c.first_value {
        Some(v) if v.get("action").and_then(Value::as_str) == Some("presence") => {
            d.answered = true;
            d.dialect = dialect_of(v);
        }
        Some(v) => d.notes.push(format!(
            "the client's first message is not a presence: {}",
            crate::matcher::show(v, 120)
        )),
        None => match &c.first {
            Some(text) => d.notes.push(format!("the client's first message is not JSON: {text}")),
            None => d.notes.push("the client connected but sent nothing".into()),
        },
    }
    d.suggested_profile = match c.exited_after_reply {
        Some(true) if c.waited_for_close => {
            d.notes.push(
                "after a 200 the client waited for the server to close, then exited with status 0: a one-shot lesson-3 client".into(),
            );
            ONE_SHOT_PROFILE.into()
        }
        Some(true) => {
            d.notes
                .push("after a 200 the client exited by itself: a one-shot lesson-3 client".into());
            ONE_SHOT_PROFILE.into()
        }
        Some(false) => {
            d.notes.push(
                "after a 200 the client stayed (reading its stdin): an interactive client (a one-shot client that behaves otherwise: use --profile client-lesson3)".into(),
            );
            INTERACTIVE_PROFILE.into()
        }
        None => ONE_SHOT_PROFILE.into(),
    };
    d
}

/// Runs the client-mode suite against `command` and returns the report (exit code inside).
pub async fn run_client_suite(command: &str, options: RunOptions) -> Result<Report, RunError> {
    let session = Arc::new(ClientSession::prepare(command, options).await?);
    session.run_all(|_| {}).await
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
    pub process: Option<crate::report::ProcessReport>,
}

/// Waits up to `settle` for the client to exit, answering its requests generically meanwhile;
/// true if it exited.
async fn settle_and_watch(
    process: &mut ClientProcess,
    conn: &mut Option<Conn>,
    framing: Framing,
    timeout: Duration,
    settle: Duration,
    answered: &mut usize,
) -> bool {
    let until = Instant::now() + settle;
    loop {
        if process.poll_exit().is_some() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        let step = (Instant::now() + Duration::from_millis(50)).min(until);
        let arrival = match conn.as_mut() {
            Some(c) => c.next(step).await,
            None => {
                tokio::time::sleep_until(step).await;
                continue;
            }
        };
        match arrival {
            Arrival::Closed { .. } => *conn = None,
            Arrival::Value { value, .. } if *answered < MAX_AUTO_ANSWERS => {
                if let (Some(reply), Some(c)) = (auto_reply(&value), conn.as_mut()) {
                    let bytes = jim_protocol::codec::to_bytes(&reply, framing);
                    let _ = c.write(&bytes, Delivery::Whole, Instant::now() + timeout).await;
                    *answered += 1;
                }
            }
            _ => {}
        }
    }
}

/// Starts the client once: waits for its connection and first message, answers 200 and watches
/// whether it exits within `settle` while its stdin stays open.
pub async fn first_contact(
    case: &ClientCase,
    framing: Framing,
    timeout: Duration,
    settle: Duration,
) -> FirstContact {
    let mut contact = FirstContact::default();
    let mut process = match ClientProcess::start(&case.command, &case.name).await {
        Ok(p) => p,
        Err(e) => {
            contact.error = Some(e);
            return contact;
        }
    };
    let mut conn = match process.accept(case.startup).await {
        Ok(c) => Some(c),
        Err(e) => {
            contact.error = Some(e);
            contact.process = Some(process.finish().await);
            return contact;
        }
    };
    let arrival = match conn.as_mut() {
        Some(c) => c.next(Instant::now() + timeout).await,
        None => Arrival::Closed { reset: false },
    };
    match arrival {
        Arrival::Value { value, raw, newline_after, .. } => {
            contact.first = Some(raw);
            contact.first_value = Some(value);
            contact.newline = newline_after;
            let reply = json!({"response": 200, "time": now_seconds(), "alert": "OK"});
            let bytes = jim_protocol::codec::to_bytes(&reply, framing);
            if let Some(c) = conn.as_mut() {
                let _ = c.write(&bytes, Delivery::Whole, Instant::now() + timeout).await;
            }
            let mut answered = 0;
            let exited =
                settle_and_watch(&mut process, &mut conn, framing, timeout, settle, &mut answered)
                    .await;
            let exited = if exited {
                true
            } else if settle.is_zero() {
                contact.exited_after_reply = None;
                contact.process = Some(process.finish().await);
                return contact;
            } else {
                // A lesson-3 client may wait for the server to close: close, and see whether
                // it then ends with status 0 (an interactive client reports the close as an
                // error, or keeps going).
                if let Some(mut c) = conn.take() {
                    c.disconnect(DisconnectKind::Close).await;
                }
                let half = settle / 2;
                let zero = settle_and_watch(
                    &mut process,
                    &mut conn,
                    framing,
                    timeout,
                    half,
                    &mut answered,
                )
                .await
                    && process.poll_exit().is_some_and(|s| s.success());
                contact.waited_for_close = zero;
                zero
            };
            contact.exited_after_reply = Some(exited);
        }
        Arrival::Bad { text, .. } => contact.first = Some(text),
        Arrival::Closed { .. } | Arrival::Nothing => {}
    }
    contact.process = Some(process.finish().await);
    contact
}
