//! The run: start the target, preflight it, pick the profile, select fixtures, learn optional
//! capabilities from their probe fixtures, run the cases (independent ones in parallel, the
//! destructive ones last and alone, after a restart when the runner owns the target), turn each
//! outcome into a verdict, and compute the exit code. [`run_suite`] is the whole thing;
//! [`Session`] exposes the steps so that tests can run one case at a time.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jim_protocol::Framing;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::case::server::{Farewell, ServerSide, run_case};
use crate::case::{Arrived, CaseEnv, Input, Outcome};
use crate::catalog::CapabilitySource;
use crate::i18n::Lang;
use crate::matcher::Tolerances;
use crate::model::{Dialect, Fixture, Level, Role, Text, UnimplementedIf};
use crate::placeholders::{Vars, now_seconds};
use crate::preflight::{Detection, PreflightInput, preflight};
use crate::profile::{IdFilter, Profile, ProfileError, ProfileTarget};
use crate::report::{
    CapabilityReport, CaseResult, Impact, Liveness, LivenessState, OptionsInfo, ProfileInfo,
    REPORT_SCHEMA, Report, TargetInfo, Verdict,
};
use crate::suite::{Suite, SuiteError};
use crate::target::{RunningTarget, TargetError, TargetSpec};
use crate::vocab::{Capability, CapabilityState, DetectedDialect, DetectedFraming, TargetKind};
use crate::wire::{Arrival, Conn, Delivery};

/// Everything that shapes a run, with the CLI's defaults.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The suite (None: the one embedded at build time).
    pub suite: Option<Suite>,
    /// Profile name; None picks one from the preflight (`--profile auto`).
    pub profile: Option<String>,
    /// `--strict`: should-level failures fail the run and no tolerance is accepted.
    pub strict: bool,
    /// `--only` globs.
    pub only: Vec<String>,
    /// `--skip` globs.
    pub skip: Vec<String>,
    /// Per-step timeout.
    pub timeout: Duration,
    /// Whole-run deadline.
    pub deadline: Duration,
    /// Parallel cases (None: the profile's default).
    pub jobs: Option<usize>,
    /// `--known-failures`: id glob -> reason.
    pub known_failures: BTreeMap<String, String>,
    /// Report language.
    pub lang: Lang,
    /// `--name`.
    pub name: Option<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--password`.
    pub password: Option<String>,
    /// `--offline-user`.
    pub offline_user: Option<String>,
    /// `--expect CAP`: capabilities the target must have.
    pub expect: Vec<Capability>,
    /// Delivery modes applied to every non-destructive case.
    pub delivery: Vec<Delivery>,
    /// How sent values end.
    pub framing: Framing,
    /// How long a spawned target may take to listen (client mode: to connect).
    pub startup: Duration,
    /// Client mode: the text `close_stdin` steps feed the client before closing its stdin.
    pub stdin: Option<Vec<u8>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            suite: None,
            profile: None,
            strict: false,
            only: Vec::new(),
            skip: Vec::new(),
            timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(300),
            jobs: None,
            known_failures: BTreeMap::new(),
            lang: Lang::En,
            name: None,
            user: None,
            password: None,
            offline_user: None,
            expect: Vec::new(),
            delivery: vec![Delivery::Whole],
            framing: Framing::Newline,
            startup: Duration::from_secs(10),
            stdin: None,
        }
    }
}

/// Why a run could not start (exit code 2 or 3).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The fixtures do not load.
    #[error(transparent)]
    Suite(#[from] SuiteError),
    /// The profile does not exist or is invalid.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A bad option or an empty selection.
    #[error("{0}")]
    Usage(String),
    /// The target could not be started.
    #[error(transparent)]
    Target(#[from] TargetError),
}

impl RunError {
    /// The process exit code for this error (2 usage/fixtures, 3 target).
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Target(_) => 3,
            _ => 2,
        }
    }
}

#[derive(Debug, Clone)]
enum CapState {
    Present,
    Unimplemented(String),
    Failed,
    Unavailable(String),
}

/// A prepared run: target started, preflight done, profile chosen.
#[derive(Debug)]
pub struct Session {
    suite: Suite,
    opts: RunOptions,
    target: tokio::sync::Mutex<RunningTarget>,
    addr: RwLock<SocketAddr>,
    /// What the preflight found.
    pub detection: Detection,
    profile: Profile,
    auto: bool,
    tolerances: Tolerances,
    name: Option<String>,
    run_tag: String,
    counter: AtomicU64,
    probes: Mutex<HashMap<Capability, Arc<OnceCell<CaseResult>>>>,
    credentials: Option<(String, String, Option<SocketAddr>)>,
    offline: Option<String>,
    started: Instant,
    deadline: Instant,
    filter: IdFilter,
}

fn random_tag() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    let mut n = h.finish();
    let alphabet = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut s = String::new();
    for _ in 0..3 {
        s.push(char::from(alphabet[(n % 32) as usize]));
        n /= 32;
    }
    s
}

fn base36(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    while out.len() < 2 {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Cases that use the one account of `--user` (or an offline account) run one at a time.
fn exclusive(f: &Fixture) -> bool {
    f.shares_account()
}

fn glob_match(pattern: &str, id: &str) -> bool {
    globset::Glob::new(pattern).map(|g| g.compile_matcher().is_match(id)).unwrap_or(pattern == id)
}

impl Session {
    /// Starts the target, runs the preflight and chooses the profile.
    pub async fn prepare(spec: TargetSpec, mut opts: RunOptions) -> Result<Self, RunError> {
        let suite = match opts.suite.take() {
            Some(s) => s,
            None => Suite::embedded()?,
        };
        if let Some(p) = &opts.profile {
            if suite.profile(p)?.target == ProfileTarget::Client {
                return Err(RunError::Usage(format!(
                    "profile {p} judges clients: use `jim-conformance client --spawn \"CMD {{host}} {{port}}\"`"
                )));
            }
        }
        if opts.user.is_some() != opts.password.is_some() {
            return Err(RunError::Usage("--user and --password go together".into()));
        }
        let filter = IdFilter::new(&opts.only, &opts.skip).map_err(RunError::Usage)?;
        let started = Instant::now();
        let deadline = started + opts.deadline;
        let target = RunningTarget::start(spec, opts.startup.min(opts.deadline)).await?;
        let addr = target.addr();
        let run_tag = random_tag();
        let input = PreflightInput {
            addr,
            timeout: opts.timeout,
            name: opts.name.clone(),
            unique_name: format!("probe_{run_tag}"),
            framing: opts.framing,
        };
        let detection = match tokio::time::timeout_at(deadline, preflight(&input)).await {
            Ok(d) => d,
            Err(_) => Detection {
                reachable: true,
                dialect: DetectedDialect::Unknown,
                framing: DetectedFraming::Unknown,
                suggested_profile: "spec".into(),
                notes: vec!["the preflight did not finish before --deadline".into()],
                ..Detection::default()
            },
        };
        let auto = opts.profile.is_none();
        let profile_name =
            opts.profile.clone().unwrap_or_else(|| detection.suggested_profile.clone());
        let profile = suite.profile(&profile_name)?.clone();
        let tolerances = profile.tolerances(opts.strict);
        let name = opts.name.clone().or_else(|| {
            if detection.guest_only || (profile.one_shot && detection.one_shot == Some(true)) {
                profile.default_name.clone().or_else(|| Some("Guest".into()))
            } else {
                None
            }
        });
        let credentials = match (&opts.user, &opts.password, &target.accounts) {
            (Some(u), Some(p), _) => Some((u.clone(), p.clone(), None)),
            (_, _, Some(a)) => Some((a.user.clone(), a.password.clone(), Some(a.addr))),
            _ => None,
        };
        let offline = opts
            .offline_user
            .clone()
            .or_else(|| target.accounts.as_ref().map(|a| a.offline.clone()));
        Ok(Self {
            suite,
            opts,
            target: tokio::sync::Mutex::new(target),
            addr: RwLock::new(addr),
            detection,
            profile,
            auto,
            tolerances,
            name,
            run_tag,
            counter: AtomicU64::new(0),
            probes: Mutex::new(HashMap::new()),
            credentials,
            offline,
            started,
            deadline,
            filter,
        })
    }

    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The suite.
    pub fn suite(&self) -> &Suite {
        &self.suite
    }

    /// The fixtures this run selects, in run order (destructive ones last).
    pub fn selected(&self) -> Vec<Arc<Fixture>> {
        let mut v: Vec<Arc<Fixture>> = self
            .suite
            .fixtures
            .iter()
            .filter(|f| {
                f.role() == Role::Client && self.profile.selects(f) && self.filter.allows(&f.id)
            })
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.destructive, &a.id).cmp(&(b.destructive, &b.id)));
        v
    }

    fn addr(&self) -> SocketAddr {
        self.addr.read().map(|a| *a).unwrap_or_else(|e| *e.into_inner())
    }

    fn probe_cell(&self, cap: Capability) -> Arc<OnceCell<CaseResult>> {
        let mut map = self.probes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(cap).or_default())
    }

    fn probe_fixture(&self, cap: Capability) -> Option<Arc<Fixture>> {
        let probes: Vec<&Arc<Fixture>> =
            self.suite.fixtures.iter().filter(|f| f.probe_for == Some(cap)).collect();
        probes.iter().find(|f| self.profile.selects(f)).or(probes.first()).map(|f| Arc::clone(f))
    }

    async fn cap_state(&self, cap: Capability) -> CapState {
        if cap.source() == CapabilitySource::Options {
            let available = match cap {
                Capability::Credentials => self.credentials.is_some(),
                Capability::OfflineAccount => self.offline.is_some(),
                _ => true,
            };
            return if available {
                CapState::Present
            } else if cap == Capability::Credentials {
                CapState::Unavailable(
                    "needs --user and --password (an account on the server)".into(),
                )
            } else {
                CapState::Unavailable(
                    "needs --offline-user NAME (an account that is not connected)".into(),
                )
            };
        }
        let Some(probe) = self.probe_fixture(cap) else { return CapState::Present };
        if let Err(skip) = self.precheck(&probe).await {
            return CapState::Unavailable(skip.1);
        }
        let cell = self.probe_cell(cap);
        let result = cell.get_or_init(|| self.execute(&probe, Delivery::Whole)).await;
        match result.verdict {
            Verdict::Unimplemented => {
                CapState::Unimplemented(result.reason.clone().unwrap_or_default())
            }
            v if v.passed() => CapState::Present,
            _ => CapState::Failed,
        }
    }

    /// Checks options and capabilities; Err((verdict, reason)) when the case cannot run.
    async fn precheck(&self, fx: &Fixture) -> Result<(), (Verdict, String)> {
        for &cap in &fx.requires {
            if fx.probe_for == Some(cap) {
                continue;
            }
            match Box::pin(self.cap_state(cap)).await {
                CapState::Present | CapState::Failed => {}
                CapState::Unavailable(r) => return Err((Verdict::Skip, r)),
                CapState::Unimplemented(r) if !self.opts.expect.contains(&cap) => {
                    return Err((Verdict::Unimplemented, format!("{cap}: {r}")));
                }
                CapState::Unimplemented(_) => {}
            }
        }
        Ok(())
    }

    fn result(
        &self,
        fx: &Fixture,
        delivery: Delivery,
        verdict: Verdict,
        reason: Option<String>,
    ) -> CaseResult {
        let mut r = CaseResult::new(fx, delivery, verdict, reason);
        r.level = self.profile.level_of(fx);
        r
    }

    fn finalize(&self, r: CaseResult) -> CaseResult {
        finalize(r, &self.opts.known_failures, self.opts.strict)
    }

    /// Runs one case in one delivery mode and returns its final verdict.
    pub async fn run_case(&self, fx: &Fixture, delivery: Delivery) -> CaseResult {
        let r = if Instant::now() >= self.deadline {
            let mut r = self.result(fx, delivery, Verdict::Fail, Some(self.deadline_reason()));
            r.reason = Some(self.deadline_reason());
            r
        } else if let Err((v, reason)) = self.precheck(fx).await {
            self.result(fx, delivery, v, Some(reason))
        } else if let (Some(cap), Delivery::Whole) = (fx.probe_for, delivery) {
            let cell = self.probe_cell(cap);
            cell.get_or_init(|| self.execute(fx, delivery)).await.clone()
        } else {
            self.execute(fx, delivery).await
        };
        self.finalize(r)
    }

    fn deadline_reason(&self) -> String {
        format!("not finished before --deadline ({} s)", self.opts.deadline.as_secs())
    }

    fn env(&self, fx: &Fixture, delivery: Delivery) -> (CaseEnv, ServerSide) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let suffix = format!("{}{}", self.run_tag, base36(n));
        let mut vars = Vars::new(suffix, String::new());
        vars.name = match &self.name {
            Some(n) => n.clone(),
            None => vars.user("guest", None),
        };
        let mut addr = self.addr();
        if let Some((user, password, accounts_addr)) = &self.credentials {
            vars.account = Some(user.clone());
            vars.password = Some(password.clone());
            if fx.shares_account() {
                if let Some(a) = accounts_addr {
                    addr = *a;
                }
            }
        }
        vars.offline_account = self.offline.clone();
        let course_only =
            fx.dialects == [Dialect::Course] || self.profile.dialects == [Dialect::Course];
        let env = CaseEnv {
            tolerances: self.tolerances.clone(),
            timeout: self.opts.timeout,
            framing: self.opts.framing,
            delivery,
            vars,
        };
        let side = ServerSide {
            addr,
            farewell: if course_only { Farewell::Exit } else { Farewell::Quit },
            shown_addr: format!("{}:{}", addr.ip(), addr.port()),
            run_tag: Some(self.run_tag.clone()),
            await_close: exclusive(fx),
        };
        (env, side)
    }

    async fn execute(&self, fx: &Fixture, delivery: Delivery) -> CaseResult {
        let (env, side) = self.env(fx, delivery);
        let Ok(run) = tokio::time::timeout_at(self.deadline, run_case(fx, env, side)).await else {
            return self.result(fx, delivery, Verdict::Fail, Some(self.deadline_reason()));
        };
        let mut r = self.result(fx, delivery, Verdict::Pass, None);
        r.duration_ms = run.duration.as_millis() as u64;
        if fx.destructive {
            let failed_at = match &run.outcome {
                Outcome::Pass(_) => None,
                Outcome::Fail(f) | Outcome::Error(f) => Some(f.step),
            };
            r.liveness = Some(Liveness {
                state: LivenessState::NotChecked,
                detail: Text::default(),
                input: suspect(&run.inputs, failed_at),
                inputs: run.inputs.iter().map(ToString::to_string).collect(),
            });
        }
        match run.outcome {
            Outcome::Pass(lenient) => {
                if !lenient.is_empty() {
                    r.verdict = Verdict::PassLenient;
                    r.tolerances = lenient.into_iter().collect();
                }
            }
            Outcome::Fail(f) => {
                let cap = fx.probe_for.filter(|c| !self.opts.expect.contains(c));
                // Silence means "unimplemented" only where the capability's own message was
                // awaited: the probe's last step (its logins before it did succeed).
                let silent = matches!(f.arrived, Arrived::Nothing { .. })
                    && fx.unimplemented_if == UnimplementedIf::Silence
                    && f.step == fx.step_count();
                if let (Some(cap), true) = (cap, f.unknown_action || silent) {
                    r.verdict = Verdict::Unimplemented;
                    r.reason = Some(format!(
                        "{cap} looks unimplemented: step {} got {} (use --expect {cap} to require it)",
                        f.step,
                        f.arrived.describe(Lang::En)
                    ));
                } else {
                    r.verdict = Verdict::Fail;
                    r.reason = Some(format!("step {}: {}", f.step, f.arrived.describe(Lang::En)));
                    r.failure = Some(*f);
                    r.transcript = run.transcript;
                }
            }
            Outcome::Error(f) => {
                r.verdict = Verdict::Error;
                r.reason = Some(f.arrived.describe(Lang::En));
                r.failure = Some(*f);
                r.transcript = run.transcript;
            }
        }
        r
    }

    /// Restarts a target the runner owns if it died. Returns an event text if it did.
    async fn revive(&self, before: &str) -> Option<String> {
        let mut t = self.target.lock().await;
        if t.is_alive() {
            return None;
        }
        let status = t.exit_status().unwrap_or_else(|| "stopped".into());
        let event = format!("the target exited ({status}); restarting it before {before}");
        t.events.push(event.clone());
        let why = format!("before {before}");
        let restart = t.restart(&why);
        if let Ok(Ok(())) = tokio::time::timeout_at(self.deadline, restart).await {
            if let Ok(mut a) = self.addr.write() {
                *a = t.addr();
            }
        }
        Some(event)
    }

    /// After a destructive case: does the target still serve a new client?
    async fn liveness(&self) -> (LivenessState, Text) {
        let died = |status: String| {
            (
                LivenessState::Died,
                Text {
                    en: format!("the server process died during this case ({status})"),
                    ru: format!("процесс сервера завершился во время этого случая ({status})"),
                },
            )
        };
        {
            let mut t = self.target.lock().await;
            if !t.is_alive() {
                return died(t.exit_status().unwrap_or_else(|| "stopped".into()));
            }
        }
        let addr = self.addr();
        let mut conn = match Conn::open(addr, self.opts.timeout).await {
            Ok(c) => c,
            Err(e) => {
                // Give a dying process a moment to be reaped, to report its exit status.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let status = self.target.lock().await.exit_status();
                return match status {
                    Some(status) => died(status),
                    None => (
                        LivenessState::Died,
                        Text {
                            en: format!(
                                "after this case the server died or stopped listening: {e}"
                            ),
                            ru: format!(
                                "после этого случая сервер упал или перестал принимать соединения: {e}"
                            ),
                        },
                    ),
                };
            }
        };
        let name = self.name.clone().unwrap_or_else(|| {
            format!(
                "alive_{}{}",
                self.run_tag,
                base36(self.counter.fetch_add(1, Ordering::Relaxed))
            )
        });
        let presence =
            json!({"action": "presence", "time": now_seconds(), "user": {"account_name": name}});
        let bytes = jim_protocol::codec::to_bytes(&presence, self.opts.framing);
        let _ = conn.write(&bytes, Delivery::Whole, Instant::now() + self.opts.timeout).await;
        let answer = conn.next(Instant::now() + self.opts.timeout).await;
        let bye = if self.profile.dialects == [Dialect::Course] {
            json!({"action": "exit", "time": now_seconds(), "account_name": name})
        } else {
            json!({"action": "quit", "time": now_seconds()})
        };
        let _ = conn
            .write(
                &jim_protocol::codec::to_bytes(&bye, self.opts.framing),
                Delivery::Whole,
                Instant::now() + Duration::from_millis(300),
            )
            .await;
        conn.disconnect(crate::model::DisconnectKind::Close).await;
        let secs = self.opts.timeout.as_secs_f64();
        match answer {
            Arrival::Value { .. } | Arrival::Bad { .. } => (
                LivenessState::Survived,
                Text {
                    en: "a new client was answered after this case".into(),
                    ru: "после этого случая новый клиент получил ответ".into(),
                },
            ),
            Arrival::Nothing => (
                LivenessState::Zombie,
                Text {
                    en: format!(
                        "after this case the server accepts connections but does not answer a presence within {secs} s (a zombie)"
                    ),
                    ru: format!(
                        "после этого случая сервер принимает соединения, но не отвечает на presence за {secs} с (зомби)"
                    ),
                },
            ),
            Arrival::Closed { .. } => (
                LivenessState::Zombie,
                Text {
                    en: "after this case the server closes new connections without answering (a zombie)".into(),
                    ru: "после этого случая сервер закрывает новые соединения, не отвечая (зомби)".into(),
                },
            ),
        }
    }

    /// Runs every selected case and builds the report; `on_result` sees each result in order.
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
        let mut results: Vec<CaseResult> = Vec::new();
        if !self.detection.reachable {
            let reason =
                self.detection.connect_error.clone().unwrap_or_else(|| "target unreachable".into());
            for fx in &selected {
                let mut r = self.result(fx, Delivery::Whole, Verdict::Error, Some(reason.clone()));
                r.impact = Impact::Failure;
                on_result(&r);
                results.push(r);
            }
            return Ok(self.report(results, 3, format!("target unreachable: {reason}")).await);
        }
        // Parallel: independent cases. Then, one at a time: cases that share the one account
        // (they would collide with 409), then the destructive ones.
        let (parallel, serial): (Vec<_>, Vec<_>) =
            selected.into_iter().partition(|f| !f.destructive && !exclusive(f));
        let (exclusive_cases, destructive): (Vec<_>, Vec<_>) =
            serial.into_iter().partition(|f| !f.destructive);
        let jobs_list: Vec<(Arc<Fixture>, Delivery)> = parallel
            .iter()
            .flat_map(|fx| self.opts.delivery.iter().map(move |d| (Arc::clone(fx), *d)))
            .collect();
        let jobs = self.opts.jobs.unwrap_or(self.profile.jobs).clamp(1, MAX_JOBS);
        let mut notes = ModeNotes::new(Peer::Server);
        let run = |fx: Arc<Fixture>, d: Delivery| {
            let session = Arc::clone(self);
            async move {
                session.revive(&fx.id).await;
                session.run_case(&fx, d).await
            }
        };
        let parallel_results =
            run_in_parallel(&jobs_list, jobs, &self.opts, &mut notes, run, &mut on_result).await;
        results.extend(parallel_results);
        for fx in &exclusive_cases {
            for d in &self.opts.delivery {
                self.revive(&fx.id).await;
                let mut r = self.run_case(fx, *d).await;
                notes.apply(&mut r);
                on_result(&r);
                results.push(r);
            }
        }
        for fx in &destructive {
            let owned = { self.target.lock().await.can_restart() };
            let spawned = { self.target.lock().await.kind() == TargetKind::Spawn };
            if owned && spawned && Instant::now() < self.deadline {
                let mut t = self.target.lock().await;
                let why = format!("before destructive case {}", fx.id);
                let restart = t.restart(&why);
                if let Ok(Ok(())) = tokio::time::timeout_at(self.deadline, restart).await {
                    if let Ok(mut a) = self.addr.write() {
                        *a = t.addr();
                    }
                }
            } else {
                self.revive(&fx.id).await;
            }
            let mut r = self.run_case(fx, Delivery::Whole).await;
            let checkable = matches!(
                r.verdict,
                Verdict::Pass
                    | Verdict::PassLenient
                    | Verdict::Fail
                    | Verdict::Error
                    | Verdict::ExpectedFail
                    | Verdict::UnexpectedPass
            );
            if checkable && Instant::now() < self.deadline {
                if let Ok((state, detail)) =
                    tokio::time::timeout_at(self.deadline, self.liveness()).await
                {
                    let live = r.liveness.get_or_insert_with(|| Liveness {
                        state,
                        detail: Text::default(),
                        input: None,
                        inputs: Vec::new(),
                    });
                    live.state = state;
                    if state != LivenessState::Survived {
                        let mut problem = detail.en.clone();
                        let mut problem_ru = detail.ru.clone();
                        if let Some(input) = &live.input {
                            problem.push_str(&format!("; after: {input}"));
                            problem_ru.push_str(&format!("; после: {input}"));
                        }
                        live.detail = Text { en: problem.clone(), ru: problem_ru };
                        r.reason = Some(match r.reason.take() {
                            Some(old) => format!("{old}; {problem}"),
                            None => problem,
                        });
                        if r.verdict.passed() {
                            r.verdict = Verdict::Fail;
                        }
                        r = self.finalize(r);
                    } else {
                        live.detail = detail;
                    }
                }
            }
            on_result(&r);
            results.push(r);
        }
        let (code, why) = exit_code(&results);
        Ok(self.report(results, code, why).await)
    }

    /// Builds a report from results (with no results: the summary card before the run).
    pub async fn report(
        &self,
        cases: Vec<CaseResult>,
        exit_code: i32,
        exit_reason: String,
    ) -> Report {
        let (target, events, output) = {
            let t = self.target.lock().await;
            let output = t.output_tail();
            (
                TargetInfo {
                    kind: t.kind(),
                    description: t.describe(),
                    address: t.addr().to_string(),
                },
                t.events.clone(),
                if output.is_empty() { None } else { Some(output) },
            )
        };
        let mut capabilities = BTreeMap::new();
        let mut caps: Vec<Capability> = cases
            .iter()
            .filter_map(|c| self.suite.fixture(&c.id))
            .flat_map(|f| f.requires.clone())
            .collect();
        caps.sort();
        caps.dedup();
        for cap in caps {
            let cell = self.probe_cell(cap);
            let report = match (cap.source(), cell.get()) {
                (CapabilitySource::Options, _) => match Box::pin(self.cap_state(cap)).await {
                    CapState::Unavailable(r) => {
                        CapabilityReport { state: CapabilityState::Unavailable, reason: Some(r) }
                    }
                    _ => CapabilityReport { state: CapabilityState::Present, reason: None },
                },
                (_, Some(r)) => match r.verdict {
                    Verdict::Unimplemented => CapabilityReport {
                        state: CapabilityState::Unimplemented,
                        reason: r.reason.clone(),
                    },
                    v if v.passed() => {
                        CapabilityReport { state: CapabilityState::Present, reason: None }
                    }
                    _ => CapabilityReport {
                        state: CapabilityState::Failed,
                        reason: r.reason.clone(),
                    },
                },
                (_, None) => CapabilityReport { state: CapabilityState::NotProbed, reason: None },
            };
            capabilities.insert(cap, report);
        }
        let name_used = self
            .name
            .clone()
            .unwrap_or_else(|| format!("unique per case (guest_{}..)", self.run_tag));
        let mut report = Report {
            schema: REPORT_SCHEMA,
            tool: format!("jim-conformance {}", env!("CARGO_PKG_VERSION")),
            target,
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
                name_used,
            },
            options: OptionsInfo {
                timeout_ms: self.opts.timeout.as_millis() as u64,
                deadline_ms: self.opts.deadline.as_millis() as u64,
                jobs: self.opts.jobs.unwrap_or(self.profile.jobs),
                delivery: self.opts.delivery.clone(),
                framing: match self.opts.framing {
                    Framing::Newline => "newline".into(),
                    Framing::Bare => "bare".into(),
                },
                expect: self.opts.expect.clone(),
            },
            capabilities,
            cases,
            summary: Default::default(),
            exit_code,
            exit_reason,
            duration_ms: self.started.elapsed().as_millis() as u64,
            events,
            target_output: output,
            lang: self.opts.lang,
        };
        report.summarize();
        report
    }

    /// Stops a target the runner started.
    pub async fn finish(&self) {
        self.target.lock().await.stop().await;
    }
}

/// Most cases the runner runs at the same time (`--jobs` is clamped to it).
pub const MAX_JOBS: usize = 16;

/// How a verdict affects the run, given the case's level and `--strict`.
pub fn impact(level: Level, verdict: Verdict, strict: bool) -> Impact {
    match verdict {
        Verdict::Error | Verdict::UnexpectedPass => Impact::Failure,
        Verdict::Fail => match level {
            Level::Must => Impact::Failure,
            Level::Should if strict => Impact::Failure,
            Level::Should | Level::May => Impact::Warning,
            Level::Info => Impact::None,
        },
        _ => Impact::None,
    }
}

/// Applies `--known-failures` (expected-fail, unexpected-pass) and computes the impact.
pub fn finalize(
    mut r: CaseResult,
    known_failures: &BTreeMap<String, String>,
    strict: bool,
) -> CaseResult {
    let known = known_failures.iter().find(|(pattern, _)| glob_match(pattern, &r.id));
    if let Some((_, reason)) = known {
        match r.verdict {
            Verdict::Fail | Verdict::Error => {
                r.verdict = Verdict::ExpectedFail;
                r.reason = Some(reason.clone());
            }
            v if v.passed() => {
                r.verdict = Verdict::UnexpectedPass;
                r.reason = Some(format!(
                    "listed in --known-failures ({reason}) but passed: remove it from the list"
                ));
            }
            _ => {}
        }
    }
    r.impact = impact(r.level, r.verdict, strict);
    r
}

/// Runs `jobs_list` (case, delivery mode) with at most `jobs` at a time and returns the
/// results in list order; each result gets the mode notes and goes to `on_result` as soon as
/// every earlier one has. A job whose task died is reported by [`lost_case`].
pub(crate) async fn run_in_parallel<F, Fut>(
    jobs_list: &[(Arc<Fixture>, Delivery)],
    jobs: usize,
    opts: &RunOptions,
    notes: &mut ModeNotes,
    run: F,
    on_result: &mut impl FnMut(&CaseResult),
) -> Vec<CaseResult>
where
    F: Fn(Arc<Fixture>, Delivery) -> Fut,
    Fut: std::future::Future<Output = CaseResult> + Send + 'static,
{
    let semaphore = Arc::new(tokio::sync::Semaphore::new(jobs));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, CaseResult)>();
    let mut set = tokio::task::JoinSet::new();
    for (i, (fx, d)) in jobs_list.iter().cloned().enumerate() {
        let semaphore = Arc::clone(&semaphore);
        let tx = tx.clone();
        let case = run(fx, d);
        set.spawn(async move {
            let Ok(_permit) = semaphore.acquire_owned().await else { return };
            let _ = tx.send((i, case.await));
        });
    }
    drop(tx);
    let mut results = Vec::new();
    let mut deliver = |mut r: CaseResult, results: &mut Vec<CaseResult>| {
        notes.apply(&mut r);
        on_result(&r);
        results.push(r);
    };
    let mut pending: BTreeMap<usize, CaseResult> = BTreeMap::new();
    let mut next = 0;
    while let Some((i, r)) = rx.recv().await {
        pending.insert(i, r);
        while let Some(r) = pending.remove(&next) {
            deliver(r, &mut results);
            next += 1;
        }
    }
    while set.join_next().await.is_some() {}
    for (_, r) in std::mem::take(&mut pending) {
        deliver(r, &mut results);
    }
    for (fx, d) in jobs_list {
        if !results.iter().any(|r| r.id == fx.id && r.delivery == *d) {
            let r = lost_case(fx, *d, &opts.known_failures, opts.strict);
            on_result(&r);
            results.push(r);
        }
    }
    results
}

/// The result of a case whose task ended without a result (a bug in the runner): an error, so
/// that it is never silently missing from the report.
pub fn lost_case(
    fx: &Fixture,
    delivery: Delivery,
    known_failures: &BTreeMap<String, String>,
    strict: bool,
) -> CaseResult {
    let reason =
        "the runner failed while running this case (a bug in jim-conformance: please report it)";
    let r = CaseResult::new(fx, delivery, Verdict::Error, Some(reason.to_owned()));
    finalize(r, known_failures, strict)
}

/// The exit code of a run and why: 1 if a case fails the run, 2 if no case ran, else 0.
pub fn exit_code(results: &[CaseResult]) -> (i32, String) {
    let ran = results.iter().any(|r| !matches!(r.verdict, Verdict::Skip | Verdict::Unimplemented));
    let failures = results.iter().filter(|r| r.impact == Impact::Failure).count();
    if failures > 0 {
        (1, format!("{failures} case(s) fail the run"))
    } else if !ran {
        (2, "no case ran (every selected case was skipped or unimplemented)".to_owned())
    } else {
        (0, "every required case passes".to_owned())
    }
}

/// The inputs of a case that may have broken the server: the unusual things it did (not
/// ordinary logins) up to the step that failed, or to the end if nothing failed; the last
/// input if all were ordinary.
fn suspect(inputs: &[Input], failed_at: Option<usize>) -> Option<String> {
    let before: Vec<&Input> =
        inputs.iter().filter(|i| failed_at.is_none_or(|step| i.step <= step)).collect();
    let unusual: Vec<String> =
        before.iter().filter(|i| !i.routine).map(ToString::to_string).collect();
    if unusual.is_empty() {
        return before.last().map(ToString::to_string);
    }
    let shown = unusual.len().min(4);
    let mut text = unusual[unusual.len() - shown..].join(", then ");
    if unusual.len() > shown {
        text = format!("… {text}");
    }
    Some(text)
}

/// Whose code a delivery-mode note talks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The runner judged a server.
    Server,
    /// The runner judged a client.
    Client,
}

/// What a failure under a delivery mode means, in plain words. `whole_passed` says how the
/// same case did with whole delivery in this run (None: not run).
pub fn mode_note(delivery: Delivery, whole_passed: Option<bool>, peer: Peer) -> Option<Text> {
    let (who_en, who_ru, what_en, what_ru) = match peer {
        Peer::Server => ("server", "сервер", "request", "запрос"),
        Peer::Client => ("client", "клиент", "reply", "ответ"),
    };
    let (mode_en, mode_ru) = match delivery {
        Delivery::Whole => return None,
        Delivery::Split => (
            format!(
                "each {what_en} is cut into pieces written separately (split delivery; a cut falls inside a multi-byte UTF-8 character when there is one)"
            ),
            format!(
                "каждый {what_ru} режется на куски, отправленные отдельно (доставка split; если есть многобайтовый символ UTF-8, один разрез приходится внутрь него)"
            ),
        ),
        Delivery::Trickle => (
            format!("each {what_en} arrives one byte at a time (trickle delivery)"),
            format!("каждый {what_ru} приходит по одному байту (доставка trickle)"),
        ),
    };
    let advice_en = format!(
        "your {who_en} assumes one recv() returns one whole message. Keep a buffer per connection, append what recv() returns, and take complete JSON values out of it (json.JSONDecoder().raw_decode); decode UTF-8 only once a value is complete, and never treat a message that has not fully arrived as an error."
    );
    let advice_ru = format!(
        "ваш {who_ru} считает, что один recv() возвращает одно целое сообщение. Держите буфер на соединение, дописывайте в него то, что вернул recv(), и вынимайте из него целые JSON-значения (json.JSONDecoder().raw_decode); декодируйте UTF-8 только когда значение пришло целиком и не считайте ошибкой сообщение, которое ещё не дошло."
    );
    Some(match whole_passed {
        Some(true) => Text {
            en: format!("passes with whole delivery but fails when {mode_en}: {advice_en}"),
            ru: format!("проходит при обычной доставке, но падает, когда {mode_ru}: {advice_ru}"),
        },
        Some(false) => Text {
            en: format!(
                "fails when {mode_en}, and with whole delivery too: fix the whole-delivery failure first"
            ),
            ru: format!(
                "падает, когда {mode_ru}, и при обычной доставке тоже: сначала исправьте обычный случай"
            ),
        },
        None => Text {
            en: format!("fails when {mode_en}. If it passes with --delivery whole, {advice_en}"),
            ru: format!(
                "падает, когда {mode_ru}. Если с --delivery whole проходит, то {advice_ru}"
            ),
        },
    })
}

/// Adds a [`mode_note`] to failures under split or trickle delivery as results come out in
/// run order (a case's whole-delivery result comes before its other modes).
#[derive(Debug)]
pub struct ModeNotes {
    peer: Peer,
    whole: HashMap<String, bool>,
}

impl ModeNotes {
    /// Notes for a run judging `peer`.
    pub fn new(peer: Peer) -> Self {
        Self { peer, whole: HashMap::new() }
    }

    /// Remembers a whole-delivery verdict, or notes what a failure under another mode means.
    pub fn apply(&mut self, r: &mut CaseResult) {
        if r.delivery == Delivery::Whole {
            self.whole.insert(r.id.clone(), r.verdict.passed());
        } else if matches!(r.verdict, Verdict::Fail | Verdict::Error | Verdict::ExpectedFail) {
            r.mode_note = mode_note(r.delivery, self.whole.get(&r.id).copied(), self.peer);
        }
    }
}

/// Runs the whole suite against `target` and returns the report (exit code inside).
pub async fn run_suite(target: TargetSpec, options: RunOptions) -> Result<Report, RunError> {
    let session = Arc::new(Session::prepare(target, options).await?);
    let report = session.run_all(|_| {}).await;
    session.finish().await;
    report
}

/// Parses a `--known-failures` file: a JSON object `{"id": "reason"}`, or lines `ID REASON`
/// (`#` comments and blank lines ignored).
pub fn parse_known_failures(text: &str) -> Result<BTreeMap<String, String>, String> {
    if text.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let Value::Object(o) = v else { return Err("expected a JSON object".into()) };
        return o
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                _ => Err(format!("the reason for {k} must be a string")),
            })
            .collect();
    }
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, reason) = match line.split_once(char::is_whitespace) {
            Some((id, r)) => (id.trim_end_matches(':'), r.trim()),
            None => (line.trim_end_matches(':'), "known failure"),
        };
        out.insert(
            id.to_owned(),
            if reason.is_empty() { "known failure".to_owned() } else { reason.to_owned() },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_mode_note_says_what_the_mode_means_for_whom() {
        assert!(mode_note(Delivery::Whole, Some(true), Peer::Server).is_none());
        let server = mode_note(Delivery::Split, Some(true), Peer::Server).unwrap();
        assert!(server.en.contains("passes with whole delivery"), "{}", server.en);
        assert!(server.en.contains("your server assumes one recv() returns one whole message"));
        assert!(server.en.contains("multi-byte UTF-8"));
        assert!(server.ru.contains("ваш сервер"), "{}", server.ru);
        let client = mode_note(Delivery::Trickle, None, Peer::Client).unwrap();
        assert!(client.en.contains("your client assumes one recv()"), "{}", client.en);
        assert!(client.en.contains("one byte at a time"));
        let both = mode_note(Delivery::Split, Some(false), Peer::Client).unwrap();
        assert!(both.en.contains("with whole delivery too"), "{}", both.en);
    }

    #[test]
    fn the_suspect_input_is_the_unusual_one_before_the_failing_step() {
        let input = |step, routine, what: &str| Input {
            step,
            conn: "a".into(),
            what: what.into(),
            routine,
        };
        let inputs = vec![
            input(1, true, "login"),
            input(3, false, "raw `{action: presence}\\n`"),
            input(5, true, "login b"),
        ];
        assert_eq!(
            suspect(&inputs, Some(4)).unwrap(),
            "step 3 (conn a): raw `{action: presence}\\n`"
        );
        assert_eq!(suspect(&inputs[..1], None).unwrap(), "step 1 (conn a): login");
        assert!(suspect(&[], Some(2)).is_none());
    }
}
