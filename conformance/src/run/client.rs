//! Client mode (`jim-conformance client --spawn "CMD {host} {port}"`): a first contact that
//! checks the client starts and connects and tells a one-shot lesson-3 client from an
//! interactive one (`--profile auto`), then every selected fixture with role `server` in every
//! delivery mode, each against a fresh run of the client, in parallel up to `--jobs`, within
//! `--deadline`; verdicts, levels and exit codes as in server mode.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::RunError;
use super::first_contact::{FirstContact, SETTLE, detect, first_contact};
use super::notes::{ModeNotes, Peer};
use super::options::{ClientOptions, RunOptions};
use super::report::ReportParts;
use super::session::{Mode, Run, Start};
use crate::case::client::{ClientCase, run_case};
use crate::case::{CaseEnv, CaseRun};
use crate::model::Fixture;
use crate::placeholders::Vars;
use crate::profile::ProfileTarget;
use crate::report::{CaseResult, TargetInfo, Verdict};
use crate::target::TargetError;
use crate::vocab::{Capability, Delivery, TargetKind};

/// Client mode: a client command the runner starts once per case.
#[derive(Debug)]
pub struct ClientMode {
    command: String,
    tag: String,
}

impl Run<ClientMode> {
    /// Loads the suite, starts the client once (first contact), and chooses the profile.
    /// A client that cannot be started or never connects is [`RunError::Target`] (exit 3).
    pub async fn prepare(command: &str, opts: RunOptions<ClientOptions>) -> Result<Self, RunError> {
        if !command.contains("{port}") {
            return Err(RunError::Usage(
                "--spawn needs {port} (and usually {host}) in the command, e.g. \"python3 client.py {host} {port}\"".into(),
            ));
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
        Run::new(start, detect(&contact), ClientMode { command: command.to_owned(), tag })
    }

    fn env(&self, delivery: Delivery) -> (CaseEnv, ClientCase) {
        let n = self.next_number();
        let env = CaseEnv {
            tolerances: self.tolerances.clone(),
            timeout: self.opts.timeout,
            framing: self.opts.framing,
            delivery,
            vars: Vars::new(format!("{}{n}", self.mode.tag), String::new()),
        };
        let case = ClientCase {
            command: self.mode.command.clone(),
            name: self.opts.name.clone().unwrap_or_else(|| "Guest".into()),
            stdin: self.opts.mode.stdin.clone().map(Arc::new),
            startup: self.opts.startup,
        };
        (env, case)
    }
}

impl Mode for ClientMode {
    type Options = ClientOptions;
    const PEER: Peer = Peer::Client;
    const PROFILES: ProfileTarget = ProfileTarget::Client;

    async fn execute(run: &Run<Self>, fx: &Fixture, delivery: Delivery) -> CaseRun {
        let (env, case) = run.env(delivery);
        run_case(fx, env, case).await
    }

    async fn precheck(_: &Run<Self>, _: &Fixture) -> Result<(), (Verdict, String)> {
        Ok(())
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
    ) -> (Vec<CaseResult>, Option<(i32, String)>) {
        let mut notes = ModeNotes::new(Self::PEER);
        (run.run_parallel(&selected, &mut notes, on_result).await, None)
    }

    async fn report_parts(run: &Run<Self>, _: &[CaseResult]) -> ReportParts {
        ReportParts {
            target: TargetInfo {
                kind: TargetKind::Client,
                description: format!(
                    "client `{}`, started once per case against the runner on 127.0.0.1",
                    run.mode.command
                ),
                address: "127.0.0.1 (a new port per case)".into(),
            },
            capabilities: BTreeMap::new(),
            events: Vec::new(),
            target_output: None,
            name_used: run.opts.name.clone().unwrap_or_else(|| "Guest".into()),
            expect: Vec::new(),
        }
    }

    async fn finish(_: &Run<Self>) {}
}
