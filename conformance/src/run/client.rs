//! Client mode (`jim-conformance client --spawn "CMD {host} {port}"`): a first contact that
//! checks the client starts and connects and tells a one-shot lesson-3 client from an
//! interactive one (`--profile auto`), then every selected fixture with role `server` in every
//! delivery mode, each against a fresh run of the client, in parallel up to `--jobs`, within
//! `--deadline`; verdicts, levels and exit codes as in server mode.
//!
//! Two facts of a run decide more than one case, and are established once, so that identical
//! client code gets identical verdicts: what the client's first message is (from the first
//! contact: a `str(dict)`, a bytes repr or a presence without `account_name` is one root cause,
//! reported once by `client/common/presence` with the hint for what was seen, and the cases that
//! cannot be judged without a JSON presence are folded under it as skipped), and what the client
//! shows for a reply alone (the baseline an `expect_output` step compares with, from one run of
//! the case it names).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use tokio::sync::OnceCell;

use super::RunError;
use super::first_contact::{FirstContact, SETTLE, detect, first_contact};
use super::notes::{ModeNotes, Peer};
use super::options::{ClientOptions, RunOptions};
use super::report::ReportParts;
use super::session::{Mode, Run, Start};
use crate::case::client::{Baseline, ClientCase, run_case};
use crate::case::{CaseEnv, CaseRun, Outcome};
use crate::i18n::{ClientMsg, FirstProblem, Said};
use crate::model::Fixture;
use crate::placeholders::Vars;
use crate::profile::ProfileTarget;
use crate::report::{CaseResult, TargetInfo, Verdict};
use crate::step::ClientStep;
use crate::target::TargetError;
use crate::vocab::{Capability, Delivery, TargetKind};

/// One run of a case other cases compare their output with: its run (None: no such fixture)
/// and what the client showed.
type BaselineRun = Arc<(Option<CaseRun>, Arc<Baseline>)>;

/// The case that judges the client's first message, and reports a root cause found in it.
pub const PRESENCE_CASE: &str = "client/common/presence";

/// Client mode: a client command the runner starts once per case.
#[derive(Debug)]
pub struct ClientMode {
    command: String,
    tag: String,
    /// What is wrong with the client's first message, as the first contact saw it.
    first: Option<FirstProblem>,
    /// Fixtures other cases compare their output with (`expect_output`).
    baseline_ids: Vec<String>,
    /// The run of each of them (whole delivery), made once.
    baselines: Mutex<BTreeMap<String, Arc<OnceCell<BaselineRun>>>>,
}

/// What is wrong with a client's first message: `value` when it was JSON, else `bytes` (the
/// start of its first write). None for a presence with `user.account_name`, or nothing sent.
pub fn first_problem(value: Option<&Value>, bytes: &[u8]) -> Option<FirstProblem> {
    if let Some(v) = value {
        if v.get("action").and_then(Value::as_str) != Some("presence") {
            return Some(FirstProblem::NotPresence);
        }
        let user = v.get("user");
        let named = |k: &str| user.and_then(|u| u.get(k)).is_some();
        return (!named("account_name") && named("client_name"))
            .then_some(FirstProblem::ClientName);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start();
    if text.starts_with("b'") || text.starts_with("b\"") {
        Some(FirstProblem::BytesRepr)
    } else if text.contains("{'") || text.contains("': ") {
        let client_name = text.contains("'client_name'") && !text.contains("'account_name'");
        Some(FirstProblem::PythonRepr { client_name })
    } else {
        Some(FirstProblem::NotJson)
    }
}

/// A result as the root cause `first` makes it: the presence case gets the hint for what was
/// seen; a case that cannot be judged without a JSON presence and did not pass is folded
/// under it (skipped, with the reason). Pure: the same result and cause give the same output.
pub fn fold(mut r: CaseResult, first: Option<FirstProblem>) -> CaseResult {
    let Some(p) = first else { return r };
    if r.id == PRESENCE_CASE {
        if !r.verdict.passed() {
            r.hint = p.hint();
        }
    } else if p.blocks_everything() && !r.verdict.passed() && r.verdict != Verdict::Skip {
        let why = ClientMsg::Folded { what: Box::new(p.what()), root: PRESENCE_CASE.into() };
        r.verdict = Verdict::Skip;
        r.impact = crate::vocab::Impact::None;
        r.reason = Some(why.text().into());
        r.failure = None;
        r.transcript.clear();
        r.hint = why.text();
    }
    r
}

/// The fixture an `expect_output` step of `fx` compares with, if any.
fn baseline_of(fx: &Fixture) -> Option<String> {
    fx.client_steps()?.iter().find_map(|s| match &s.kind {
        ClientStep::ExpectOutput(o) => Some(o.as_in.clone()),
        _ => None,
    })
}

impl Run<ClientMode> {
    /// Loads the suite, starts the client once (first contact), and chooses the profile.
    /// A client that cannot be started or never connects is [`RunError::Target`] (exit 3).
    pub async fn prepare(command: &str, opts: RunOptions<ClientOptions>) -> Result<Self, RunError> {
        if !command.contains("{port}") {
            return Err(RunError::Usage(Said::new(
                "--spawn needs {port} (and usually {host}) in the command, e.g. \"python3 client.py {host} {port}\"",
                "в команде --spawn нужен {port} (и обычно {host}), например \"python3 client.py {host} {port}\"",
            )));
        }
        let start = Start::new(opts, ProfileTarget::Client, |p, suite| {
            let clients: Vec<&str> = suite
                .profiles
                .values()
                .filter(|p| p.target == ProfileTarget::Client)
                .map(|p| p.name.as_str())
                .collect();
            format!("profile {p} judges servers; client profiles: {}", clients.join(", "))
        })?;
        let o = &start.opts;
        let case = ClientCase {
            command: command.to_owned(),
            name: o.name.clone().unwrap_or_else(|| "Guest".into()),
            stdin: None,
            startup: o.startup.min(o.deadline),
            baseline: None,
        };
        // Under --profile auto the first run also tells one-shot from interactive clients;
        // otherwise it only checks that the client starts, connects and speaks.
        let settle = if o.profile.is_none() { SETTLE } else { Duration::ZERO };
        let first = first_contact(&case, o.framing, o.timeout, settle);
        let contact = match tokio::time::timeout_at(start.deadline, first).await {
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
        let tag = format!("{:x}", std::process::id() % 0xfff);
        let first = first_problem(contact.first_value.as_ref(), &contact.first_bytes);
        let mode = ClientMode {
            command: command.to_owned(),
            tag,
            first,
            baseline_ids: start.suite.fixtures.iter().filter_map(|f| baseline_of(f)).collect(),
            baselines: Mutex::new(BTreeMap::new()),
        };
        Run::new(start, detect(&contact), mode)
    }

    /// The run of case `id` in whole delivery, made once per run: it is that case's result
    /// and, when it passed, the baseline of what the client shows for the cases that compare
    /// with it (so a case and its baseline can never disagree about one run).
    async fn baseline_run(&self, id: &str) -> BaselineRun {
        let cell = match self.mode.baselines.lock() {
            Ok(mut m) => Arc::clone(m.entry(id.to_owned()).or_default()),
            Err(_) => Arc::new(OnceCell::new()),
        };
        let made = cell.get_or_init(|| async {
            let Some(fx) = self.suite.fixtures.iter().find(|f| f.id == id) else {
                return Arc::new((None, Arc::new(Baseline { id: id.to_owned(), output: None })));
            };
            let (env, case) = self.env(Delivery::Whole);
            let ran = run_case(fx, env, case).await;
            let output = match (&ran.outcome, &ran.process) {
                (Outcome::Pass(_), Some(p)) => Some(format!("{}\n{}", p.stdout, p.stderr)),
                _ => None,
            };
            Arc::new((Some(ran), Arc::new(Baseline { id: id.to_owned(), output })))
        });
        Arc::clone(made.await)
    }

    fn env(&self, delivery: Delivery) -> (CaseEnv, ClientCase) {
        let n = self.next_number();
        let env = CaseEnv {
            tolerances: self.tolerances.clone(),
            timeout: self.opts.timeout,
            framing: self.opts.framing,
            delivery,
            vars: Vars::new(format!("{}{n}", self.mode.tag), String::new()),
            pace: crate::wire::Pace::watched(),
        };
        let case = ClientCase {
            command: self.mode.command.clone(),
            name: self.opts.name.clone().unwrap_or_else(|| "Guest".into()),
            stdin: self.opts.mode.stdin.clone().map(Arc::new),
            startup: self.opts.startup,
            baseline: None,
        };
        (env, case)
    }
}

impl Mode for ClientMode {
    type Options = ClientOptions;
    const PEER: Peer = Peer::Client;
    const PROFILES: ProfileTarget = ProfileTarget::Client;

    async fn execute(run: &Run<Self>, fx: &Fixture, delivery: Delivery) -> CaseRun {
        if delivery == Delivery::Whole && run.mode.baseline_ids.contains(&fx.id) {
            if let Some(ran) = &run.baseline_run(&fx.id).await.0 {
                return ran.clone();
            }
        }
        let (env, mut case) = run.env(delivery);
        if let Some(id) = baseline_of(fx) {
            case.baseline = Some(Arc::clone(&run.baseline_run(&id).await.1));
        }
        run_case(fx, env, case).await
    }

    /// A case that cannot be judged without a JSON presence is not run when the first message
    /// was not one: it is folded under the presence case (see [`fold`]).
    async fn precheck(run: &Run<Self>, fx: &Fixture) -> Result<(), (Verdict, Said)> {
        match run.mode.first {
            Some(p) if p.blocks_everything() && fx.id != PRESENCE_CASE => {
                let why =
                    ClientMsg::Folded { what: Box::new(p.what()), root: PRESENCE_CASE.into() };
                Err((Verdict::Skip, why.text().into()))
            }
            _ => Ok(()),
        }
    }

    fn memo(_: &Run<Self>, _: &Fixture, _: Delivery) -> Option<Arc<OnceCell<CaseResult>>> {
        None
    }

    fn expected(_: &Run<Self>) -> &[Capability] {
        &[]
    }

    async fn before_case(_: &Run<Self>, _: &Fixture) {}

    async fn run_selected<F: FnMut(&CaseResult) + Send>(
        run: &Arc<Run<Self>>,
        selected: Vec<Arc<Fixture>>,
        on_result: &mut F,
    ) -> (Vec<CaseResult>, Option<(i32, Said)>) {
        let mut notes = ModeNotes::new(Self::PEER);
        let first = run.mode.first;
        let mut show = |r: &CaseResult| on_result(&fold(r.clone(), first));
        let results = run.run_parallel(&selected, &mut notes, &mut show).await;
        (results.into_iter().map(|r| fold(r, first)).collect(), None)
    }

    async fn report_parts(run: &Run<Self>, _: &[CaseResult]) -> ReportParts {
        ReportParts {
            target: TargetInfo {
                kind: TargetKind::Client,
                description: Said::new(
                    format!(
                        "client `{}`, started once per case against the runner on 127.0.0.1",
                        run.mode.command
                    ),
                    format!(
                        "клиент `{}`, запускается на каждый случай против проверяющего на 127.0.0.1",
                        run.mode.command
                    ),
                ),
                address: "127.0.0.1 (a new port per case)".into(),
            },
            capabilities: BTreeMap::new(),
            events: Vec::new(),
            target_output: None,
            name_used: run.opts.name.clone().unwrap_or_else(|| "Guest".into()).into(),
            expect: Vec::new(),
            root_cause: None,
        }
    }

    async fn finish(_: &Run<Self>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_message_is_classified_by_what_was_seen() {
        let ok = json!({"action": "presence", "user": {"account_name": "a"}});
        assert_eq!(first_problem(Some(&ok), b""), None);
        let cn = json!({"action": "presence", "user": {"client_name": "a"}});
        assert_eq!(first_problem(Some(&cn), b""), Some(FirstProblem::ClientName));
        let msg = json!({"action": "msg"});
        assert_eq!(first_problem(Some(&msg), b""), Some(FirstProblem::NotPresence));
        let repr = b"{'action': 'presence', 'time': 1.5, 'user': {'client_name': 'Guest'}}";
        assert_eq!(first_problem(None, repr), Some(FirstProblem::PythonRepr { client_name: true }));
        let repr = b"{'action': 'presence', 'user': {'account_name': 'Guest'}}";
        assert_eq!(
            first_problem(None, repr),
            Some(FirstProblem::PythonRepr { client_name: false })
        );
        assert_eq!(first_problem(None, b"b'{\"action\": 1}'"), Some(FirstProblem::BytesRepr));
        assert_eq!(first_problem(None, b"hello"), Some(FirstProblem::NotJson));
        assert_eq!(first_problem(None, b""), None, "nothing sent is not a first message");
    }
}
