//! Server mode (`jim-conformance server`): start (or reach) the target, preflight it, pick the
//! profile, learn optional capabilities from their probes, then run the cases: independent ones
//! in parallel, those sharing the one account one at a time, destructive ones last and alone
//! (after a restart when the runner owns the target, followed by a liveness check).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::RunError;
use super::liveness::Down;
use super::notes::{ModeNotes, Peer};
use super::options::{RunOptions, ServerOptions};
use super::report::ReportParts;
use super::session::{Mode, Run, Start};
use super::verdict::revise;
use crate::accounts::{Account, AccountPool, Plan};
use crate::case::server::{Farewell, ServerSide, run_case};
use crate::case::{Arrived, CaseEnv, CaseRun};
use crate::i18n::Said;
use crate::idle::Watch;
use crate::model::{Fixture, Text};
use crate::placeholders::Vars;
use crate::preflight::{Detection, PreflightInput, preflight};
use crate::profile::ProfileTarget;
use crate::report::{CaseResult, Impact, LivenessState, TargetInfo, Verdict};
use crate::target::{RunningTarget, TargetSpec, start_failure_line};
use crate::vocab::{Capability, Delivery, DetectedDialect, DetectedFraming, Dialect};
use crate::wire::Pace;

/// Server mode: a target server reached by TCP.
#[derive(Debug)]
pub struct ServerMode {
    pub(crate) target: tokio::sync::Mutex<RunningTarget>,
    addr: RwLock<SocketAddr>,
    /// The process the runner started for the target (0: none, or not known).
    pid: std::sync::atomic::AtomicU32,
    /// The target's measured loop turn (None: not measured).
    pub(crate) turn: Option<Duration>,
    /// The lesson-3 name (`--name`, or Guest for a Guest-only or one-shot server).
    pub(crate) name: Option<String>,
    run_tag: String,
    pub(crate) probes: Mutex<HashMap<Capability, Arc<OnceCell<CaseResult>>>>,
    /// An account, its password, and the address of the instance that has it (embedded).
    pub(crate) credentials: Option<(String, String, Option<SocketAddr>)>,
    /// An account that exists but is offline.
    pub(crate) offline: Option<String>,
    /// The registered accounts cases log in with (`--accounts`; `--user` against a server that
    /// refuses unknown names), and which case draws which (see [`crate::accounts`]).
    pub(crate) pool: Option<Arc<AccountPool>>,
    pub(crate) plan: Plan,
    /// The run ends before any case, with this exit code and one line (the target cannot
    /// start, nothing listens, or it admits only registered users and none were given).
    pub(crate) early: Option<EarlyStop>,
    /// How far apart split and trickled pieces are written (the target's loop turn).
    pub(crate) pace: Pace,
    /// How a reproduction starts a target the run started, on a fixed port (None: the target
    /// was given by address and is shown as it is).
    pub(crate) start: Option<String>,
    /// The spawned target was never quiet when the runner waited for it (a loop that polls
    /// without blocking): [`Run::settle`] does not wait for it again.
    pub(crate) restless: std::sync::atomic::AtomicBool,
    /// Cases after which the target turned zombie though they passed ([`Run::after_pass`]); from
    /// [`FRAGILE_AFTER`] on, every case run alone gets a fresh start instead of a probe.
    pub(crate) zombies_after_pass: std::sync::atomic::AtomicUsize,
    /// The event saying why every case gets a fresh start was written.
    pub(crate) fragile_said: std::sync::atomic::AtomicBool,
}

/// Why a run ends before any case: its exit code, the one line that says what to do, and the
/// short exit reason.
#[derive(Debug, Clone)]
pub(crate) struct EarlyStop {
    code: i32,
    why: Text,
    reason: Text,
}

/// A three-letter tag that names this run's users and rooms (`alice_k3f07`).
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

/// `n` in base 36, at least two digits.
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

impl ServerMode {
    /// Where the target listens now (a restarted spawned target moves to a new port).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr.read().map(|a| *a).unwrap_or_else(|e| *e.into_inner())
    }

    /// Follows the target to where it listens now and to its process (after a start).
    pub(crate) fn follow(&self, target: &RunningTarget) {
        if let Ok(mut a) = self.addr.write() {
            *a = target.addr();
        }
        self.pid.store(target.pid().unwrap_or(0), Ordering::Relaxed);
    }

    /// The idle watch for a connection to `addr` ([`crate::idle`]): only for the process the
    /// runner started, at the address it listens on, while it rests between replies.
    pub(crate) fn watch(&self, addr: SocketAddr, timeout: Duration) -> Option<Watch> {
        let pid = self.pid.load(Ordering::Relaxed);
        if pid == 0 || addr != self.addr() || self.restless.load(Ordering::Relaxed) {
            return None;
        }
        Watch::new(pid, addr, self.turn, timeout)
    }

    /// A name unique to this run and case run (`alive_k3f07`).
    pub(crate) fn unique_name(&self, prefix: &str, run: &Run<Self>) -> String {
        format!("{prefix}_{}{}", self.run_tag, base36(run.next_number()))
    }
}

impl Run<ServerMode> {
    /// Starts the target, runs the preflight and chooses the profile.
    pub async fn prepare(spec: TargetSpec, opts: RunOptions) -> Result<Self, RunError> {
        let start = Start::new(opts, ProfileTarget::Server, |p, _| {
            format!(
                "profile {p} judges clients: use `jim-conformance client --spawn \"CMD {{host}} {{port}}\"`"
            )
        })?;
        let o = &start.opts;
        if o.mode.user.is_some() != o.mode.password.is_some() {
            return Err(RunError::Usage(Said::new(
                "--user and --password go together",
                "--user и --password указываются вместе",
            )));
        }
        let (target, failed) =
            RunningTarget::start_keeping(spec, o.startup.min(o.deadline)).await?;
        let run_tag = random_tag();
        let input = PreflightInput {
            addr: target.addr(),
            timeout: o.timeout,
            name: o.name.clone(),
            unique_name: format!("probe_{run_tag}"),
            framing: o.framing,
        };
        let mut early = None;
        let detection = if let Some(e) = failed {
            // A program that cannot start: one line, no preflight, no cases (exit 3).
            let line = start_failure_line(&e);
            let rest = line.strip_prefix("cannot start: ").unwrap_or(&line).to_owned();
            let why = Text { en: line, ru: format!("не запускается: {rest}") };
            let reason = Text {
                en: "the target cannot start".into(),
                ru: "цель не запускается".into(),
            };
            early = Some(EarlyStop { code: 3, why, reason });
            Detection {
                connect_error: Some(Said::of(&e)),
                suggested_profile: "spec".into(),
                ..Detection::default()
            }
        } else {
            match tokio::time::timeout_at(start.deadline, preflight(&input)).await {
                Ok(d) => d,
                Err(_) => Detection {
                    reachable: true,
                    dialect: DetectedDialect::Unknown,
                    framing: DetectedFraming::Unknown,
                    suggested_profile: "spec".into(),
                    notes: vec![Said::new(
                        "the preflight did not finish before --deadline",
                        "предварительная проверка не закончилась до --deadline",
                    )],
                    ..Detection::default()
                },
            }
        };
        let pool = account_pool(o, &detection);
        let credentials = match (&o.mode.user, &o.mode.password, &target.accounts, &pool) {
            (Some(u), Some(p), _, _) => Some((u.clone(), p.clone(), None)),
            (_, _, Some(a), _) => Some((a.user.clone(), a.password.clone(), Some(a.addr))),
            (_, _, _, Some(pool)) => {
                pool.get(0).map(|a| (a.name.clone(), a.password.clone(), None))
            }
            _ => None,
        };
        let offline = o
            .mode
            .offline_user
            .clone()
            .or_else(|| target.accounts.as_ref().map(|a| a.offline.clone()));
        let start_command = target.start_command(crate::case::REPRODUCTION_PORT);
        let mode = ServerMode {
            start: start_command,
            addr: RwLock::new(target.addr()),
            pid: std::sync::atomic::AtomicU32::new(target.pid().unwrap_or(0)),
            turn: None,
            target: tokio::sync::Mutex::new(target),
            name: None,
            run_tag,
            probes: Mutex::new(HashMap::new()),
            credentials,
            offline,
            pool,
            plan: Plan::new(),
            early,
            pace: Pace::default(),
            restless: std::sync::atomic::AtomicBool::new(false),
            zombies_after_pass: std::sync::atomic::AtomicUsize::new(0),
            fragile_said: std::sync::atomic::AtomicBool::new(false),
        };
        let mut run = Run::new(start, detection, mode)?;
        run.mode.name = run.opts.name.clone().or_else(|| {
            let d = &run.detection;
            if d.guest_only || (run.profile.one_shot && d.one_shot == Some(true)) {
                run.profile.default_name.clone().or_else(|| Some("Guest".into()))
            } else {
                None
            }
        });
        if run.mode.early.is_none() {
            run.mode.early = early_stop(&run.detection, run.mode.pool.is_some());
        }
        if let Some(pool) = &run.mode.pool {
            let name_drawn = run.mode.name.is_none();
            let needs: Vec<_> = run
                .selected()
                .iter()
                .map(|f| (f.id.clone(), crate::accounts::needs(f, name_drawn)))
                .collect();
            run.mode.plan = pool.plan(&needs);
        }
        let (pace, turn) = run.measure_pace().await;
        if let (true, Some(turn)) = (pace.is_adapted(), turn) {
            let (t, split, span) =
                (turn.as_millis(), pace.split.as_millis(), pace.trickle_span.as_millis());
            run.detection.notes.push(Said::new(
                format!("replies take up to {t} ms (the server's loop turn): the pieces of split requests are written {split} ms apart, trickled bytes over {span} ms"),
                format!("ответы приходят за время до {t} мс (оборот цикла сервера): части разделённых запросов пишутся с промежутком {split} мс, побайтовая отправка растянута на {span} мс"),
            ));
        }
        run.mode.pace = pace;
        run.mode.turn = turn;
        Ok(run)
    }

    /// What a case of `fx` needs: placeholder values, where to connect, how to say goodbye.
    fn env(&self, fx: &Fixture, delivery: Delivery) -> (CaseEnv, ServerSide) {
        let suffix = format!("{}{}", self.mode.run_tag, base36(self.next_number()));
        let mut vars = Vars::new(suffix, String::new());
        let draw = match (&self.mode.pool, self.mode.plan.get(&fx.id)) {
            (Some(pool), Some(Ok(draw))) => Some((pool, draw)),
            _ => None,
        };
        let mut drawn_account = None;
        if let Some((pool, draw)) = draw {
            for (slot, i) in &draw.slots {
                if let (Some(a), Some(key)) = (pool.get(*i), pool.key(*i)) {
                    vars.assign_account(slot, &a.name, key);
                }
            }
            drawn_account = draw.account.and_then(|i| pool.get(i));
        }
        vars.name = match &self.mode.name {
            Some(n) => n.clone(),
            None => vars.user("guest", None),
        };
        let mut addr = self.mode.addr();
        if let Some((user, password, accounts_addr)) = &self.mode.credentials {
            vars.account = Some(user.clone());
            vars.password = Some(password.clone());
            if let (true, Some(a)) = (fx.shares_account(), accounts_addr) {
                addr = *a;
            }
        }
        if let Some(a) = drawn_account {
            vars.assign_course_account(&a.name, &a.password);
        }
        vars.offline_account = self.mode.offline.clone();
        let course_only =
            fx.dialects == [Dialect::Course] || self.profile.dialects == [Dialect::Course];
        let env = CaseEnv {
            tolerances: self.tolerances.clone(),
            timeout: self.opts.timeout,
            framing: self.opts.framing,
            delivery,
            vars,
            pace: self.mode.pace,
        };
        let side = ServerSide {
            addr,
            farewell: if course_only { Farewell::Exit } else { Farewell::Quit },
            shown_addr: match &self.mode.start {
                Some(_) => format!("127.0.0.1:{}", crate::case::REPRODUCTION_PORT),
                None => format!("{}:{}", addr.ip(), addr.port()),
            },
            start: self.mode.start.clone(),
            run_tag: Some(self.mode.run_tag.clone()),
            // A registered account is logged in again by a later case: wait until the server
            // has let it go.
            await_close: fx.shares_account() || draw.is_some(),
            watch: self.mode.watch(addr, self.opts.timeout),
        };
        (env, side)
    }

    /// `fixtures` one at a time, in every delivery of the run (see [`Self::sequential_case`]).
    async fn one_at_a_time(
        &self,
        fixtures: &[Arc<Fixture>],
        down: &mut Option<Down>,
        notes: &mut ModeNotes,
        on_result: &mut impl FnMut(&CaseResult),
    ) -> Vec<CaseResult> {
        let mut results = Vec::new();
        for fx in fixtures {
            for d in &self.opts.delivery {
                let r = self.sequential_case(fx, *d, down, notes).await;
                on_result(&r);
                results.push(r);
            }
        }
        results
    }

    /// One case run on its own: not run when the target is down and cannot be restarted, else
    /// run (after a revival), followed by a liveness check when it failed.
    async fn sequential_case(
        &self,
        fx: &Fixture,
        delivery: Delivery,
        down: &mut Option<Down>,
        notes: &mut ModeNotes,
    ) -> CaseResult {
        if let Some(r) = self.handle_down(down, fx, delivery, false).await {
            return r;
        }
        self.settle().await;
        let fresh = self.fresh_start_if_fragile(&fx.id).await;
        if !fresh {
            self.revive(&fx.id).await;
        }
        let r = self.run_case(fx, delivery).await;
        let r = if fresh { r } else { self.after_pass(r).await };
        let mut r = self.after_failure(r).await;
        *down = Down::of(&r);
        notes.apply(&mut r);
        r
    }

    /// A target that accepts connections and never answers (issue 13 item 4): when the
    /// preflight's presence got no answer, the first plain case (no capability, not a probe,
    /// not destructive) runs alone; if it too gets not a byte back, and neither does one more
    /// presence on a new connection, the other cases are not run (each would wait out its
    /// timeout and credit nothing, about two minutes per run): that case fails with one reason
    /// and one hint, the rest are "not run", exit 1. Otherwise its result is dropped and every
    /// case runs as usual.
    async fn never_answers(
        &self,
        selected: &[Arc<Fixture>],
        on_result: &mut impl FnMut(&CaseResult),
    ) -> Option<(Vec<CaseResult>, Option<(i32, Said)>)> {
        if self.detection.answered || Instant::now() >= self.deadline {
            return None;
        }
        let plain = |f: &&Arc<Fixture>| {
            !f.destructive && f.requires.is_empty() && f.probe_for.is_none() && !f.shares_account()
        };
        let gate = selected.iter().find(plain)?;
        let mut first = self.run_case(gate, Delivery::Whole).await;
        let no_byte = matches!(
            first.failure.as_ref().map(|f| &f.arrived),
            Some(Arrived::Nothing { partial: None, .. })
        );
        if first.verdict != Verdict::Fail || !no_byte {
            return None;
        }
        let silent = tokio::time::timeout_at(self.deadline, self.silent()).await.unwrap_or(false);
        if !silent {
            return None;
        }
        let secs = self.opts.timeout.as_secs_f64();
        let said = first.reason.take().unwrap_or_default();
        first.reason = Some(Said::new(
            format!(
                "{}: the target never answers (not a byte came back to this case, to the preflight's presence, nor to one more presence on a new connection, each within {secs} s)",
                said.en()
            ),
            format!(
                "{}: цель никогда не отвечает (ни байта не пришло ни этому случаю, ни на presence предварительной проверки, ни на ещё одно presence по новому соединению, каждый раз за {secs} с)",
                said.get(crate::i18n::Lang::Ru)
            ),
        ));
        first.hint = Text {
            en: "Your server accepts connections but never answers: it does not read what clients send, or never writes a reply. In a select() loop the sockets to read from are the first list (select(clients, clients, [], t): readable first); read the request with recv, then send the reply with send to the same socket. If it is only slow, run with a longer --timeout.".into(),
            ru: "Ваш сервер принимает соединения, но никогда не отвечает: не читает то, что присылают клиенты, или не пишет ответ. В цикле select() сокеты для чтения — первый список (select(clients, clients, [], t): сначала читаемые); прочитайте запрос через recv и отправьте ответ через send в тот же сокет. Если сервер просто медленный, запустите с большим --timeout.".into(),
        };
        first.impact = Impact::Failure;
        on_result(&first);
        let reason = Said::new(
            format!(
                "not run: the target never answers (see {}: not a byte came back within {secs} s)",
                gate.id
            ),
            format!(
                "не запускался: цель никогда не отвечает (см. {}: ни байта не пришло за {secs} с)",
                gate.id
            ),
        );
        let mut results = vec![first];
        for fx in selected.iter().filter(|f| f.id != gate.id) {
            let r = self.result(fx, Delivery::Whole, Verdict::NotRun, Some(reason.clone()));
            let r = self.finalize(r);
            on_result(&r);
            results.push(r);
        }
        let why = Said::new(
            format!(
                "the target never answers: it accepts connections, but not a byte came back within {secs} s ({}); the other cases were not run",
                gate.id
            ),
            format!(
                "цель никогда не отвечает: принимает соединения, но ни байта не пришло за {secs} с ({}); остальные случаи не запускались",
                gate.id
            ),
        );
        Some((results, Some((1, why))))
    }
}

impl Mode for ServerMode {
    type Options = ServerOptions;
    const PEER: Peer = Peer::Server;
    const PROFILES: ProfileTarget = ProfileTarget::Server;

    async fn execute(run: &Run<Self>, fx: &Fixture, delivery: Delivery) -> CaseRun {
        // Its accounts are this case's alone while it runs.
        let lease = match (&run.mode.pool, run.mode.plan.get(&fx.id)) {
            (Some(pool), Some(Ok(draw))) => Some(pool.lease(draw).await),
            _ => None,
        };
        let (env, side) = run.env(fx, delivery);
        let r = run_case(fx, env, side).await;
        drop(lease);
        r
    }

    async fn precheck(run: &Run<Self>, fx: &Fixture) -> Result<(), (Verdict, Said)> {
        if let Some(Err(why)) = run.mode.plan.get(&fx.id) {
            return Err((Verdict::Skip, Said::new(why.en.clone(), why.ru.clone())));
        }
        run.precheck(fx).await
    }

    fn memo(
        run: &Run<Self>,
        fx: &Fixture,
        delivery: Delivery,
    ) -> Option<Arc<OnceCell<CaseResult>>> {
        match (fx.probe_for, delivery) {
            (Some(cap), Delivery::Whole) => Some(run.probe_cell(cap)),
            _ => None,
        }
    }

    fn expected(run: &Run<Self>) -> &[Capability] {
        &run.opts.mode.expect
    }

    async fn before_case(run: &Run<Self>, fx: &Fixture) {
        run.revive(&fx.id).await;
    }

    /// Parallel: independent cases. Then, one at a time: cases that share the one account
    /// (they would collide with 409), then the destructive ones, each after a restart or a
    /// revival and followed by a liveness check.
    async fn run_selected<F: FnMut(&CaseResult) + Send>(
        run: &Arc<Run<Self>>,
        selected: Vec<Arc<Fixture>>,
        on_result: &mut F,
    ) -> (Vec<CaseResult>, Option<(i32, Said)>) {
        if let Some(stop) = &run.mode.early {
            // No case can say anything about this target: one line, no case blocks.
            return (
                Vec::new(),
                Some((stop.code, Said::new(stop.reason.en.clone(), stop.reason.ru.clone()))),
            );
        }
        if let Some((mut results, stop)) = run.never_answers(&selected, on_result).await {
            // Exploration is not run either.
            let gate = results.first().map(|r| r.id.clone()).unwrap_or_default();
            for r in crate::explore::never_answered(run, &gate) {
                on_result(&r);
                results.push(r);
            }
            return (results, stop);
        }
        if let Some(out) = run.down_before_cases(&selected, on_result).await {
            return out;
        }
        let all = selected.clone();
        let (parallel, serial): (Vec<_>, Vec<_>) =
            selected.into_iter().partition(|f| !f.destructive && !f.shares_account());
        let (exclusive, destructive): (Vec<_>, Vec<_>) =
            serial.into_iter().partition(|f| !f.destructive);
        let mut notes = ModeNotes::new(Self::PEER);
        let mut down = None;
        let mut results = if run.jobs() == 1 {
            // One at a time: a case that fails is followed by a liveness check, so that a
            // death or a zombie is pinned on the case that caused it, once.
            run.one_at_a_time(&parallel, &mut down, &mut notes, on_result).await
        } else {
            let results = run.run_parallel(&parallel, &mut notes, on_result).await;
            let mut return_again = None;
            // In parallel, a death cannot be pinned on one case: one check after them all
            // keeps the cases that follow from failing one by one on a target that is down.
            // The check follows every batch, failures or not: a target that went down with its
            // last cases would otherwise be found by the cases after them.
            if Instant::now() < run.deadline {
                run.settle().await;
                if let Ok((state, _)) = tokio::time::timeout_at(run.deadline, run.liveness()).await
                {
                    if matches!(state, LivenessState::Died | LivenessState::Zombie)
                        && run.restart_after_parallel(state).await
                    {
                        // A spawned target the parallel cases took down: they are judged again
                        // one at a time on a fresh start, so that the case that caused it is
                        // the one named and the verdicts do not depend on --jobs.
                        return_again = Some(
                            run.one_at_a_time(&parallel, &mut down, &mut notes, on_result).await,
                        );
                    } else if matches!(state, LivenessState::Died | LivenessState::Zombie) {
                        let first = results.iter().find(|r| {
                            matches!(r.verdict, Verdict::Fail | Verdict::Error)
                                && r.impact == Impact::Failure
                        });
                        let first = first.or_else(|| {
                            results
                                .iter()
                                .find(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error))
                        });
                        down = first.map(|r| Down { case: r.id.clone(), state });
                    }
                }
            }
            return_again.unwrap_or(results)
        };
        results.extend(run.one_at_a_time(&exclusive, &mut down, &mut notes, on_result).await);
        // Exploration (issue 14): after the fixture cases, before the destructive ones.
        for r in crate::explore::within_run(run, &mut down).await {
            on_result(&r);
            results.push(r);
        }
        for fx in &destructive {
            if let Some(r) = run.handle_down(&mut down, fx, Delivery::Whole, true).await {
                on_result(&r);
                results.push(r);
                continue;
            }
            run.prepare_destructive(fx).await;
            let r = run.run_case(fx, Delivery::Whole).await;
            let r = run.after_destructive(r).await;
            down = Down::of(&r);
            on_result(&r);
            results.push(r);
        }
        let fixture = |id: &str| all.iter().find(|f| f.id == id).map(|f| &**f);
        for i in revise(&mut results, fixture) {
            let r = run.finalize(results[i].clone());
            on_result(&r);
            results[i] = r;
        }
        (results, None)
    }

    async fn report_parts(run: &Run<Self>, cases: &[CaseResult]) -> ReportParts {
        let (target, events, target_output) = {
            let t = run.mode.target.lock().await;
            let output = t.output_tail();
            let info = TargetInfo {
                kind: t.kind(),
                description: t.describe(),
                address: t.addr().to_string(),
            };
            (info, t.events.clone(), if output.is_empty() { None } else { Some(output) })
        };
        let tag = &run.mode.run_tag;
        let name_used = run.mode.name.clone().map_or_else(
            || {
                Said::new(
                    format!("unique per case (guest_{tag}..)"),
                    format!("своё в каждом случае (guest_{tag}..)"),
                )
            },
            Into::into,
        );
        ReportParts {
            target,
            capabilities: run.capability_reports(cases).await,
            events,
            target_output,
            name_used,
            expect: run.opts.mode.expect.clone(),
            root_cause: run.mode.early.as_ref().map(|stop| stop.why.clone()),
        }
    }

    async fn finish(run: &Run<Self>) {
        run.mode.target.lock().await.stop().await;
    }
}

/// The pool cases draw from: `--accounts` (with `--user/--password` as one more entry, first),
/// or `--user/--password` alone against a server that refuses unknown names. None otherwise:
/// cases log in generated names, as a spec server admits any.
fn account_pool(o: &RunOptions, detection: &Detection) -> Option<Arc<AccountPool>> {
    let user = match (&o.mode.user, &o.mode.password) {
        (Some(u), Some(p)) => Some(Account { name: u.clone(), password: p.clone() }),
        _ => None,
    };
    if o.mode.accounts.is_empty() && !(detection.refuses_unknown && user.is_some()) {
        return None;
    }
    let mut accounts: Vec<Account> = user.into_iter().collect();
    for a in &o.mode.accounts {
        if !accounts.iter().any(|b| b.name == a.name) {
            accounts.push(a.clone());
        }
    }
    Some(Arc::new(AccountPool::new(accounts)))
}

/// Why a reached target cannot be judged at all: nothing listens (exit 3), or it admits only
/// registered users and the run has none (exit 2: what the run lacks is an option).
fn early_stop(d: &Detection, has_accounts: bool) -> Option<EarlyStop> {
    if !d.reachable {
        let reason =
            d.connect_error.clone().unwrap_or_else(|| Said::new("no connection", "нет соединения"));
        return Some(EarlyStop {
            code: 3,
            reason: Text {
                en: "target unreachable".into(), ru: "цель недоступна".into()
            },
            why: Text {
                en: format!(
                    "target unreachable: {}; start the server first (or check --host and --port)",
                    reason.en()
                ),
                ru: format!(
                    "цель недоступна: {}; сначала запустите сервер (или проверьте --host и --port)",
                    reason.get(crate::i18n::Lang::Ru)
                ),
            },
        });
    }
    if d.refuses_unknown && !has_accounts {
        let said = d.refused_with.clone().unwrap_or_else(|| "a refusal".into());
        return Some(EarlyStop {
            code: 2,
            reason: Text {
                en: "the server admits only registered users: pass --accounts FILE".into(),
                ru: "сервер пускает только зарегистрированных: передайте --accounts ФАЙЛ".into(),
            },
            why: Text {
                en: format!(
                    "the server admits only registered users (a name it does not know got {said}): register accounts in its database and pass them with --accounts FILE (name:password lines; README: \"Servers that admit only registered users\")"
                ),
                ru: format!(
                    "сервер пускает только зарегистрированных пользователей (незнакомое имя получило {said}): зарегистрируйте учётные записи в его базе и передайте их через --accounts ФАЙЛ (по строке name:password на учётную запись; README: \"Servers that admit only registered users\")"
                ),
            },
        });
    }
    None
}
