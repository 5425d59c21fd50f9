//! Is the target still alive (server mode)? A spawned target that died is restarted before the
//! next case that needs it (`Run::revive`); after a destructive case a new client logs in to
//! tell a survivor from a target that died or became a zombie (it accepts connections but never
//! answers), and the case names the input that did it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::ServerMode;
use super::session::Run;
use crate::i18n::{Msg, RunMsg, Said};
use crate::jim::goodbye;
use crate::model::{Fixture, Text};
use crate::placeholders::now_seconds;
use crate::report::{CaseResult, Liveness, LivenessState, Verdict};
use crate::settle::Quiet;
use crate::vocab::{Delivery, Dialect, DisconnectKind, TargetKind};
use crate::wire::{Arrival, Conn};

/// Zombies after passing cases (see [`Run::after_pass`]) after which the cause is taken as known
/// and every later case run alone starts the spawned target afresh: each probe of a zombie costs
/// the step timeout, and a server that turns zombie whenever a client leaves would otherwise spend
/// a grading deadline on probes (120 s cut the run at a point that depended on the load).
pub(crate) const FRAGILE_AFTER: usize = 3;

/// Longest wait for a spawned target to be quiet after a case (see [`Run::settle`]).
const SETTLE_CAP: Duration = Duration::from_secs(1);

impl Run<ServerMode> {
    /// Restarts a target the runner owns if it died. Returns an event text if it did.
    pub(crate) async fn revive(&self, before: &str) -> Option<Said> {
        let mut t = self.mode.target.lock().await;
        if t.is_alive() {
            return None;
        }
        let status = t.exit_status().unwrap_or_else(|| "stopped".into());
        let event = Said::of(&RunMsg::ExitedRestarting { status, before: before.to_owned() });
        t.events.push(event.clone());
        let why = Said::of(&RunMsg::Restarted { before: before.to_owned(), destructive: false });
        let restart = t.restart(&why);
        if let Ok(Ok(())) = tokio::time::timeout_at(self.deadline, restart).await {
            self.mode.follow(&t);
        }
        Some(event)
    }

    /// After parallel cases found a spawned target dead or a zombie: a fresh start (true if
    /// the target was restarted, with an event saying why). A target given by address cannot be
    /// restarted: false.
    pub(crate) async fn restart_after_parallel(&self, state: LivenessState) -> bool {
        let mut t = self.mode.target.lock().await;
        if !t.can_restart() || t.kind() != TargetKind::Spawn || Instant::now() >= self.deadline {
            return false;
        }
        let what = match state {
            LivenessState::Zombie => ("stopped answering", "перестала отвечать"),
            _ => ("died", "упала"),
        };
        let why = Said::new(
            format!(
                "after the parallel cases (the target {} during them): they are judged again one at a time",
                what.0
            ),
            format!(
                "после параллельных случаев (цель {} во время них): они проверяются заново по одному",
                what.1
            ),
        );
        let restart = t.restart(&why);
        match tokio::time::timeout_at(self.deadline, restart).await {
            Ok(Ok(())) => {
                self.mode.follow(&t);
                // Probes answered by the target that went down are asked again.
                self.mode.probes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
                true
            }
            _ => false,
        }
    }

    /// Before the first case: did the runner's own first clients (the preflight and the
    /// timing of replies, each of which logged in and left) take the target down? A server
    /// that stops answering when a client leaves was otherwise blamed on whichever case came
    /// first (issue 13 item 4). A spawned target is started afresh, with an event that says
    /// why; a target started by hand cannot be, and the run ends here: every case is "not
    /// run", and one line says what happened and what to do (exit 1). None: the cases run.
    pub(crate) async fn down_before_cases(
        &self,
        selected: &[Arc<Fixture>],
        on_result: &mut impl FnMut(&CaseResult),
    ) -> Option<(Vec<CaseResult>, Option<(i32, Said)>)> {
        if !self.detection.answered
            || self.detection.one_shot == Some(true)
            || Instant::now() >= self.deadline
        {
            return None;
        }
        self.settle().await;
        let (state, _) = tokio::time::timeout_at(self.deadline, self.liveness()).await.ok()?;
        let (en, ru) = match state {
            LivenessState::Survived | LivenessState::NotChecked => return None,
            LivenessState::Zombie => ("stopped answering (a zombie)", "перестал отвечать (зомби)"),
            LivenessState::Died => ("died", "упал"),
        };
        {
            let mut t = self.mode.target.lock().await;
            if t.can_restart() && t.kind() == TargetKind::Spawn {
                let why = Said::new(
                    format!(
                        "before the cases: the server {en} after the runner's first clients (the preflight), which logged in and left"
                    ),
                    format!(
                        "перед случаями: сервер {ru} после первых клиентов проверяющего (предварительная проверка), которые вошли и ушли"
                    ),
                );
                if let Ok(Ok(())) = tokio::time::timeout_at(self.deadline, t.restart(&why)).await {
                    self.mode.follow(&t);
                }
                return None;
            }
        }
        let reason = Said::new(
            format!(
                "not run: the server {en} after the runner's first clients, before any case; it was started by hand and cannot be restarted"
            ),
            format!(
                "не запускался: сервер {ru} после первых клиентов проверяющего, до всех случаев; он запущен не проверяющим, перезапустить его нельзя"
            ),
        );
        let mut results = Vec::new();
        for fx in selected {
            let r = self.result(fx, Delivery::Whole, Verdict::NotRun, Some(reason.clone()));
            let r = self.finalize(r);
            on_result(&r);
            results.push(r);
        }
        for r in crate::explore::not_explored_because(self, &reason.text()) {
            on_result(&r);
            results.push(r);
        }
        let why = Said::new(
            format!(
                "the server {en} after the runner's first clients, before any case: clients that logged in and left were enough. A client that leaves must not stop the server: catch exceptions per client (a closed socket reads b\"\"), release locks with `with lock:`. Fix this first, or run with --spawn so that the runner can restart it; the cases were not run"
            ),
            format!(
                "сервер {ru} после первых клиентов проверяющего, до всех случаев: хватило клиентов, которые вошли и ушли. Уход клиента не должен останавливать сервер: ловите исключения для каждого клиента (закрытый сокет читает b\"\"), освобождайте замки через `with lock:`. Исправьте это сначала или запускайте с --spawn, чтобы проверяющий мог перезапускать сервер; случаи не запускались"
            ),
        );
        Some((results, Some((1, why))))
    }

    /// Before a destructive case: a fresh start of a spawned target, else a revival.
    pub(crate) async fn prepare_destructive(&self, fx: &Fixture) {
        let spawned = {
            let t = self.mode.target.lock().await;
            t.can_restart() && t.kind() == TargetKind::Spawn
        };
        if spawned && Instant::now() < self.deadline {
            let mut t = self.mode.target.lock().await;
            let why = Said::of(&RunMsg::Restarted { before: fx.id.clone(), destructive: true });
            let restart = t.restart(&why);
            if let Ok(Ok(())) = tokio::time::timeout_at(self.deadline, restart).await {
                self.mode.follow(&t);
            }
        } else {
            self.revive(&fx.id).await;
        }
    }

    /// After a case that failed: did it take the target down? Only a death or a zombie is
    /// recorded on the result (a survivor of an ordinary failure gets no liveness line), so that
    /// the case that caused it is the one the report names.
    pub(crate) async fn after_failure(&self, r: CaseResult) -> CaseResult {
        if !matches!(r.verdict, Verdict::Fail | Verdict::Error) || r.liveness.is_some() {
            return r;
        }
        // A fragile target gets a fresh start before each case: a probe would only find again
        // that it turns zombie when a client leaves (the cause already named), at the cost of a
        // step timeout per failing case.
        if self.fragile() {
            return r;
        }
        let checked = self.after_destructive(r).await;
        match checked.liveness.as_ref().map(|l| l.state) {
            Some(LivenessState::Survived) => CaseResult { liveness: None, ..checked },
            Some(state) => with_down_hint(checked, state),
            None => checked,
        }
    }

    /// Makes a target that went down in an earlier case usable again: a target the runner
    /// owns is restarted (a zombie is alive, so [`Self::revive`] would keep it); a target it
    /// does not own cannot be, and the case is "not run". `down` is cleared by a restart (or
    /// left to the caller when `restarts_anyway`: a destructive case gets a fresh start).
    pub(crate) async fn handle_down(
        &self,
        down: &mut Option<Down>,
        fx: &Fixture,
        delivery: Delivery,
        restarts_anyway: bool,
    ) -> Option<CaseResult> {
        let d = down.as_ref()?;
        let mut t = self.mode.target.lock().await;
        if restarts_anyway && t.can_restart() {
            *down = None;
            return None;
        }
        if t.can_restart() && Instant::now() < self.deadline {
            let why = Said::of(&RunMsg::RestartedAfterDown {
                before: fx.id.clone(),
                case: d.case.clone(),
            });
            if let Ok(Ok(())) = tokio::time::timeout_at(self.deadline, t.restart(&why)).await {
                self.mode.follow(&t);
                *down = None;
                return None;
            }
        }
        drop(t);
        let reason = Msg::NotRunTargetDown { case: d.case.clone(), state: d.state };
        let r = self.result(fx, delivery, Verdict::NotRun, Some(reason.into()));
        Some(self.finalize(r))
    }

    /// Waits until a spawned target has finished reacting to what it was sent (a handler that
    /// raises on a closed connection, a process on its way out: [`crate::settle`]), so that
    /// what the next look sees does not depend on the scheduler. A target that is never quiet
    /// is not waited for again.
    pub(crate) async fn settle(&self) {
        if self.mode.restless.load(Ordering::Relaxed) {
            return;
        }
        let Some(pid) = self.mode.target.lock().await.pid() else { return };
        if crate::settle::until_quiet(pid, SETTLE_CAP).await == Quiet::Never {
            self.mode.restless.store(true, Ordering::Relaxed);
        }
    }

    /// After a case that passed, run one at a time: does the target still answer a new client
    /// once the case's clients have gone? A server that becomes a zombie when a client leaves
    /// (a handler that dies holding a lock) is pinned on the case whose client left, not on the
    /// next case, which would fail on a target already down. A death is left to the revival
    /// before the next case; a one-shot server is not asked (a probe would use its one client).
    pub(crate) async fn after_pass(&self, r: CaseResult) -> CaseResult {
        if !r.verdict.passed()
            || r.liveness.is_some()
            || self.detection.one_shot == Some(true)
            || Instant::now() >= self.deadline
        {
            return r;
        }
        self.settle().await;
        match tokio::time::timeout_at(self.deadline, self.liveness()).await {
            Ok((LivenessState::Zombie, detail)) => {
                self.mode.zombies_after_pass.fetch_add(1, Ordering::Relaxed);
                let r = self.record_liveness(r, LivenessState::Zombie, detail).await;
                with_down_hint(r, LivenessState::Zombie)
            }
            _ => r,
        }
    }

    /// A spawned target that turned zombie after [`FRAGILE_AFTER`] passing cases is started
    /// afresh before each case run alone (true when it was); the first such start says why, once.
    pub(crate) async fn fresh_start_if_fragile(&self, before: &str) -> bool {
        if !self.fragile() || Instant::now() >= self.deadline {
            return false;
        }
        let mut t = self.mode.target.lock().await;
        if !t.can_restart() || t.kind() != TargetKind::Spawn {
            return false;
        }
        let first = !self.mode.fragile_said.swap(true, Ordering::Relaxed);
        let started = if first {
            let why = Said::new(
                format!(
                    "before {before} and every later case run alone: the target stopped answering after {FRAGILE_AFTER} cases whose clients left, so each case gets a fresh start"
                ),
                format!(
                    "перед {before} и каждым следующим случаем, идущим по одному: цель перестала отвечать после {FRAGILE_AFTER} случаев, чьи клиенты ушли, поэтому каждый случай получает свежий запуск"
                ),
            );
            tokio::time::timeout_at(self.deadline, t.restart(why)).await
        } else {
            tokio::time::timeout_at(self.deadline, t.restart_quietly()).await
        };
        match started {
            Ok(Ok(())) => {
                self.mode.follow(&t);
                true
            }
            _ => false,
        }
    }

    /// True once a spawned target turned zombie after [`FRAGILE_AFTER`] passing cases.
    fn fragile(&self) -> bool {
        self.mode.zombies_after_pass.load(Ordering::Relaxed) >= FRAGILE_AFTER
    }

    /// After a destructive case: does the target still serve a new client? The verdict fails
    /// when it does not, naming the input that broke it.
    pub(crate) async fn after_destructive(&self, r: CaseResult) -> CaseResult {
        let checkable =
            !matches!(r.verdict, Verdict::Skip | Verdict::Unimplemented | Verdict::NotRun);
        if !checkable || Instant::now() >= self.deadline {
            return r;
        }
        self.settle().await;
        let Ok((state, detail)) = tokio::time::timeout_at(self.deadline, self.liveness()).await
        else {
            return r;
        };
        self.record_liveness(r, state, detail).await
    }

    /// Writes what the liveness check found on the case; a target that did not survive fails
    /// it, naming the input that broke it.
    async fn record_liveness(
        &self,
        mut r: CaseResult,
        state: LivenessState,
        detail: Msg,
    ) -> CaseResult {
        let live = r.liveness.get_or_insert_with(|| Liveness {
            state,
            detail: Text::default(),
            input: None,
            inputs: Vec::new(),
            output: None,
        });
        live.state = state;
        if state == LivenessState::Survived {
            live.detail = detail.text();
            return r;
        }
        {
            let t = self.mode.target.lock().await;
            if t.kind() == TargetKind::Spawn {
                live.output = Some(t.output_tail()).filter(|o| !o.is_empty());
            }
        }
        let detail = match &live.input {
            Some(input) => Msg::After { detail: Box::new(detail), input: input.clone() },
            None => detail,
        };
        live.detail = detail.text();
        let problem = Said::from(&detail);
        r.reason = Some(match r.reason.take() {
            Some(old) => Said::each(|l| format!("{}; {}", old.get(l), problem.get(l))),
            None => problem,
        });
        if r.verdict.passed() {
            r.verdict = Verdict::Fail;
        }
        self.finalize(r)
    }

    /// Does the target still serve a new client? (A presence must get any answer.)
    pub(crate) async fn liveness(&self) -> (LivenessState, Msg) {
        let died = |status: String| (LivenessState::Died, Msg::ProcessDied { status });
        {
            let mut t = self.mode.target.lock().await;
            if !t.is_alive() {
                return died(t.exit_status().unwrap_or_else(|| "stopped".into()));
            }
        }
        let addr = self.mode.addr();
        let mut conn = match Conn::open(addr, self.opts.timeout).await {
            Ok(mut c) => {
                c.watch(self.mode.watch(addr, self.opts.timeout));
                c
            }
            Err(e) => {
                // A dying process may not be reaped yet: wait for it (briefly) to report its
                // exit status.
                let bound = Duration::from_millis(100);
                let status = self.mode.target.lock().await.exit_status_within(bound).await;
                // A connect that times out while the socket still listens: the accept queue
                // is full of clients the server never took (a zombie, not a death; how soon
                // the queue fills depends on how many clients came, so it must not decide).
                let timed_out = matches!(e, crate::wire::ConnectError::Timeout { .. });
                return match status {
                    Some(status) => died(status),
                    None if timed_out
                        && crate::target::listening(addr.port()).await == Some(true) =>
                    {
                        (LivenessState::Zombie, Msg::ZombieQueueFull)
                    }
                    None => (LivenessState::Died, Msg::StoppedListening { error: Said::of(&e) }),
                };
            }
        };
        let answer = self.probe_presence(&mut conn).await;
        conn.disconnect(DisconnectKind::Close).await;
        liveness_of(&answer, self.opts.timeout.as_secs_f64())
    }

    /// True when a new connection is accepted and a presence on it gets not a byte back
    /// within the step timeout (nothing read, nothing closed).
    pub(crate) async fn silent(&self) -> bool {
        let Ok(mut conn) = Conn::open(self.mode.addr(), self.opts.timeout).await else {
            return false;
        };
        let answer = self.probe_presence(&mut conn).await;
        let silent = matches!(answer, Arrival::Nothing) && conn.received() == 0;
        conn.disconnect(DisconnectKind::Close).await;
        silent
    }

    /// Logs in on `conn` and says goodbye; what came back to the presence.
    async fn probe_presence(&self, conn: &mut Conn) -> Arrival {
        let name = self.mode.name.clone().unwrap_or_else(|| self.mode.unique_name("alive", self));
        let presence = serde_json::json!({
            "action": "presence", "time": now_seconds(), "user": {"account_name": name}
        });
        let framing = self.opts.framing;
        let bytes = jim_protocol::codec::to_bytes(&presence, framing);
        let _ = conn.write(&bytes, Delivery::Whole, Instant::now() + self.opts.timeout).await;
        let answer = conn.next(Instant::now() + self.opts.timeout).await;
        let bye = goodbye(self.profile.dialects == [Dialect::Course], &name);
        let until = Instant::now() + Duration::from_millis(300);
        let _ =
            conn.write(&jim_protocol::codec::to_bytes(&bye, framing), Delivery::Whole, until).await;
        answer
    }
}

/// The case in which the target went down (died, or became a zombie), for the cases after it.
#[derive(Debug, Clone)]
pub(crate) struct Down {
    pub case: String,
    pub state: LivenessState,
}

impl Down {
    /// The target went down in `r`'s case, if its liveness says so.
    pub fn of(r: &CaseResult) -> Option<Self> {
        let state = r.liveness.as_ref()?.state;
        matches!(state, LivenessState::Died | LivenessState::Zombie)
            .then(|| Self { case: r.id.clone(), state })
    }
}

/// The hint of a case that is not about crashing but after which the target was down (issue 13
/// item 6: the hint follows what happened): what a death or a zombie means, then the case's own.
fn with_down_hint(mut r: CaseResult, state: LivenessState) -> CaseResult {
    let (en, ru) = match state {
        LivenessState::Died => (
            "Your server's process ended during this case (its last output lines are shown: the traceback names the line). A server must outlive any one client: catch exceptions around the handling of each request (answer 400 to what it cannot read) and of each client (one that leaves or resets is no error for the others).",
            "Процесс вашего сервера завершился во время этого случая (последние строки его вывода показаны: traceback называет строку). Сервер должен пережить любого клиента: ловите исключения вокруг обработки каждого запроса (на то, что не удалось прочитать, отвечайте 400) и каждого клиента (ушедший или сбросивший соединение клиент — не ошибка для остальных).",
        ),
        LivenessState::Zombie => (
            "After this case your server stopped answering new clients, though its process lives on (a zombie): something blocks forever, typically a lock taken with acquire() whose release() an exception skipped (use `with lock:`), or the only thread blocked in recv() on one client. Catch exceptions per client and never block the loop on one socket.",
            "После этого случая ваш сервер перестал отвечать новым клиентам, хотя процесс жив (зомби): что-то блокируется навсегда — обычно замок, взятый через acquire(), чей release() пропущен из-за исключения (используйте `with lock:`), или единственный поток, застрявший в recv() на одном клиенте. Ловите исключения для каждого клиента и не блокируйте цикл на одном сокете.",
        ),
        LivenessState::Survived | LivenessState::NotChecked => return r,
    };
    r.hint = Text { en: format!("{en} {}", r.hint.en), ru: format!("{ru} {}", r.hint.ru) };
    r
}

/// What the answer to the liveness presence says about the target.
fn liveness_of(answer: &Arrival, secs: f64) -> (LivenessState, Msg) {
    match answer {
        Arrival::Value { .. } | Arrival::Bad { .. } => {
            (LivenessState::Survived, Msg::NewClientAnswered)
        }
        Arrival::Nothing => (LivenessState::Zombie, Msg::ZombieSilent { secs }),
        Arrival::Closed { .. } => (LivenessState::Zombie, Msg::ZombieCloses),
    }
}
