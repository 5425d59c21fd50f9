//! A prepared run ([`Run`]): the suite, the options, the profile, what the first contact
//! detected, and the deadline, whichever mode it judges in; and the flow every run follows:
//! select the fixtures, run each case (a verdict per case and delivery mode), then the exit
//! code and the report. A [`Mode`] supplies the rest: how a case reaches the target, in which
//! order the cases run, and what the report says about the target.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::RunError;
use super::notes::{ModeNotes, Peer};
use super::options::RunOptions;
use super::parallel::{MAX_JOBS, run_in_parallel};
use super::report::ReportParts;
use super::verdict::{deadline_not_run, exit_code, finalize, judge};
use crate::case::CaseRun;
use crate::i18n::Said;
use crate::matcher::Tolerances;
use crate::model::Fixture;
use crate::preflight::Detection;
use crate::profile::{IdFilter, Profile, ProfileTarget};
use crate::report::{CaseResult, Report, Verdict};
use crate::suite::Suite;
use crate::vocab::{Capability, Delivery};

/// What a run needs from the mode it judges in: server mode ([`super::ServerMode`]) or client
/// mode ([`super::ClientMode`]).
pub trait Mode: Sized + Send + Sync + 'static {
    /// Options only this mode has.
    type Options: Clone + std::fmt::Debug + Default + Send + Sync;

    /// Whose code a failure under a delivery mode is about.
    const PEER: Peer;

    /// The profiles this mode may run.
    const PROFILES: ProfileTarget;

    /// Runs the steps of `fx` against the target (the role's executor).
    fn execute<'a>(
        run: &'a Run<Self>,
        fx: &'a Fixture,
        delivery: Delivery,
    ) -> impl Future<Output = CaseRun> + Send + 'a;

    /// Why `fx` cannot run at all (skip, unimplemented), decided before it runs.
    fn precheck<'a>(
        run: &'a Run<Self>,
        fx: &'a Fixture,
    ) -> impl Future<Output = Result<(), (Verdict, Said)>> + Send + 'a;

    /// Where the result of `fx` is kept when it must run at most once (a capability probe).
    fn memo(run: &Run<Self>, fx: &Fixture, delivery: Delivery)
    -> Option<Arc<OnceCell<CaseResult>>>;

    /// Capabilities declared present (`--expect`): their probes never make them unimplemented.
    fn expected(run: &Run<Self>) -> &[Capability];

    /// Makes sure the target can take the next case (a spawned server that died is restarted).
    fn before_case<'a>(run: &'a Run<Self>, fx: &'a Fixture)
    -> impl Future<Output = ()> + Send + 'a;

    /// Runs the selected cases in the mode's order; the results, and the exit code and its
    /// reason when the mode decides them (a target that cannot be reached).
    fn run_selected<'a, F: FnMut(&CaseResult) + Send>(
        run: &'a Arc<Run<Self>>,
        selected: Vec<Arc<Fixture>>,
        on_result: &'a mut F,
    ) -> impl Future<Output = (Vec<CaseResult>, Option<(i32, Said)>)> + Send + 'a;

    /// What the report says about the target.
    fn report_parts<'a>(
        run: &'a Run<Self>,
        cases: &'a [CaseResult],
    ) -> impl Future<Output = ReportParts> + Send + 'a;

    /// Stops what the run started.
    fn finish(run: &Run<Self>) -> impl Future<Output = ()> + Send + '_;
}

/// A prepared run: target reached or started, first contact made, profile chosen.
#[derive(Debug)]
pub struct Run<M: Mode> {
    pub(crate) suite: Suite,
    pub(crate) opts: RunOptions<M::Options>,
    pub(crate) profile: Profile,
    pub(crate) auto: bool,
    pub(crate) tolerances: Tolerances,
    /// What the first contact found.
    pub detection: Detection,
    pub(crate) started: Instant,
    pub(crate) deadline: Instant,
    filter: IdFilter,
    counter: AtomicU64,
    pub(crate) mode: M,
}

/// The parts of a run every mode prepares the same way.
pub(crate) struct Start<O> {
    pub suite: Suite,
    pub opts: RunOptions<O>,
    pub filter: IdFilter,
    pub started: Instant,
    pub deadline: Instant,
}

impl<O> Start<O> {
    /// Loads the suite and checks the options every mode shares; `wrong_profile` says why a
    /// profile given with `--profile` belongs to the other mode.
    pub fn new(
        mut opts: RunOptions<O>,
        profiles: ProfileTarget,
        wrong_profile: impl FnOnce(&str, &Suite) -> String,
    ) -> Result<Self, RunError> {
        let suite = match opts.suite.take() {
            Some(s) => s,
            None => Suite::embedded()?,
        };
        if let Some(p) = &opts.profile {
            if suite.profile(p)?.target != profiles {
                return Err(RunError::Usage(wrong_profile(p, &suite).into()));
            }
        }
        let filter =
            IdFilter::new(&opts.only, &opts.skip).map_err(|e| RunError::Usage(e.into()))?;
        let started = Instant::now();
        let deadline = started + opts.deadline;
        Ok(Self { suite, opts, filter, started, deadline })
    }
}

impl<M: Mode> Run<M> {
    /// Chooses the profile (`--profile`, else the detected one) and completes the run.
    pub(crate) fn new(
        start: Start<M::Options>,
        detection: Detection,
        mode: M,
    ) -> Result<Self, RunError> {
        let Start { suite, opts, filter, started, deadline } = start;
        let auto = opts.profile.is_none();
        let name = opts.profile.clone().unwrap_or_else(|| detection.suggested_profile.clone());
        let profile = suite.profile(&name)?.clone();
        let tolerances = profile.tolerances(opts.strict);
        Ok(Self {
            suite,
            opts,
            profile,
            auto,
            tolerances,
            detection,
            started,
            deadline,
            filter,
            counter: AtomicU64::new(0),
            mode,
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

    /// True when `--only`/`--skip` let a case with this id run.
    pub(crate) fn allows(&self, id: &str) -> bool {
        self.filter.allows(id)
    }

    /// A number unique to this case run (for unique names).
    pub(crate) fn next_number(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// The fixtures this run selects, in run order (destructive ones last).
    pub fn selected(&self) -> Vec<Arc<Fixture>> {
        let mut v: Vec<Arc<Fixture>> = self
            .suite
            .fixtures
            .iter()
            .filter(|f| self.profile.selects(f) && self.filter.allows(&f.id))
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.destructive, &a.id).cmp(&(b.destructive, &b.id)));
        v
    }

    /// A result for `fx` with the profile's level and no details yet.
    pub(crate) fn result(
        &self,
        fx: &Fixture,
        delivery: Delivery,
        verdict: Verdict,
        reason: Option<Said>,
    ) -> CaseResult {
        let mut r = CaseResult::new(fx, delivery, verdict, reason);
        r.level = self.profile.level_of(fx);
        r
    }

    /// Applies `--known-failures` and the impact.
    pub(crate) fn finalize(&self, r: CaseResult) -> CaseResult {
        finalize(r, &self.opts.known_failures, self.opts.strict)
    }

    /// A case `--deadline` left without a verdict (`during`: it was stopped while it ran).
    pub(crate) fn deadline_not_run(
        &self,
        fx: &Fixture,
        delivery: Delivery,
        during: bool,
    ) -> CaseResult {
        let r = self.result(fx, delivery, Verdict::NotRun, None);
        deadline_not_run(r, self.opts.deadline.as_millis() as u64, during)
    }

    /// Runs one case in one delivery mode and returns its final verdict.
    pub async fn run_case(&self, fx: &Fixture, delivery: Delivery) -> CaseResult {
        let r = if Instant::now() >= self.deadline {
            self.deadline_not_run(fx, delivery, false)
        } else if let Err((v, reason)) = M::precheck(self, fx).await {
            self.result(fx, delivery, v, Some(reason))
        } else if let Some(cell) = M::memo(self, fx, delivery) {
            cell.get_or_init(|| self.execute(fx, delivery)).await.clone()
        } else {
            self.execute(fx, delivery).await
        };
        self.finalize(r)
    }

    /// Runs the case's steps within the run's deadline, and judges them.
    pub(crate) async fn execute(&self, fx: &Fixture, delivery: Delivery) -> CaseResult {
        let run = tokio::time::timeout_at(self.deadline, M::execute(self, fx, delivery)).await;
        let Ok(run) = run else {
            return self.deadline_not_run(fx, delivery, true);
        };
        let r = self.result(fx, delivery, Verdict::Pass, None);
        judge(r, fx, run, M::expected(self))
    }

    /// The number of cases that run at the same time.
    pub(crate) fn jobs(&self) -> usize {
        self.opts.jobs.unwrap_or(self.profile.jobs).clamp(1, MAX_JOBS)
    }

    /// Runs `fixtures` in every delivery mode of the run, [`Self::jobs`] at a time.
    pub(crate) async fn run_parallel(
        self: &Arc<Self>,
        fixtures: &[Arc<Fixture>],
        notes: &mut ModeNotes,
        on_result: &mut impl FnMut(&CaseResult),
    ) -> Vec<CaseResult> {
        let jobs_list: Vec<(Arc<Fixture>, Delivery)> = fixtures
            .iter()
            .flat_map(|fx| self.opts.delivery.iter().map(move |d| (Arc::clone(fx), *d)))
            .collect();
        let run = |fx: Arc<Fixture>, d: Delivery| {
            let session = Arc::clone(self);
            async move {
                M::before_case(&session, &fx).await;
                session.run_case(&fx, d).await
            }
        };
        let (known, strict) = (&self.opts.known_failures, self.opts.strict);
        run_in_parallel(&jobs_list, self.jobs(), known, strict, notes, run, on_result).await
    }

    /// Runs every selected case and builds the report; `on_result` sees each result in order.
    pub async fn run_all(
        self: &Arc<Self>,
        mut on_result: impl FnMut(&CaseResult) + Send,
    ) -> Result<Report, RunError> {
        let selected = self.selected();
        if selected.is_empty() {
            let (name, only, skip) = (&self.profile.name, &self.opts.only, &self.opts.skip);
            return Err(RunError::Usage(Said::new(
                format!(
                    "nothing selected: profile {name} with --only {only:?} --skip {skip:?} matches no fixture (try --list)"
                ),
                format!(
                    "ничего не выбрано: профиль {name} с --only {only:?} --skip {skip:?} не выбирает ни одной фикстуры (попробуйте --list)"
                ),
            )));
        }
        let (results, decided) = M::run_selected(self, selected, &mut on_result).await;
        let (code, why) = decided.unwrap_or_else(|| exit_code(&results));
        Ok(self.report(results, code, why).await)
    }

    /// Builds a report from results (with none: the summary card before the run).
    pub async fn report(
        &self,
        cases: Vec<CaseResult>,
        exit_code: i32,
        exit_reason: Said,
    ) -> Report {
        let parts = M::report_parts(self, &cases).await;
        super::report::build(self, parts, cases, exit_code, exit_reason)
    }

    /// Stops a target the runner started.
    pub async fn finish(&self) {
        M::finish(self).await;
    }
}
