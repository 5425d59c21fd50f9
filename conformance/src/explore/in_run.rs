//! Exploration inside the default `server` run: a teacher's ordinary run finds the bugs no
//! fixture was written for. It runs after the fixture cases (their verdicts come first and do
//! not depend on it) and before the destructive ones (which restart or may kill the target),
//! with a budget counted in sessions ([`super::Budget`]) and a fixed seed, so that the same
//! target gets the same verdict run after run; its results are cases `explore/...` like any
//! other (`--only`/`--skip`, `--known-failures`, JSON, JUnit).
//!
//! Not run: with `--explore-sessions 0`, when `--only`/`--skip` leave out `explore/sessions`,
//! and under a one-shot (lesson 3) profile, whose servers may serve one client and exit, and
//! whose only operation (presence) the fixtures already cover. A target that went down earlier
//! and cannot be restarted makes it "not run", as for a fixture case.

use tokio::time::Instant;

use super::report::{Shown, cases, not_explored};
use super::{explore, in_run_config};
use crate::i18n::Msg;
use crate::model::{Level, Text};
use crate::report::{CaseResult, Verdict};
use crate::run::liveness::Down;
use crate::run::verdict::{deadline_not_run, deadline_reason};
use crate::run::{Run, ServerMode};

/// The id `--only`/`--skip` are matched against to decide whether exploration runs.
const ID: &str = "explore/sessions";

/// Explores the target of `run` as configured by `--explore-sessions` and `--seed`; the report
/// cases (none when exploration is off). `down` is the target that went down in an earlier case
/// (cleared when it is restarted); it is set when exploration takes the target down.
pub(crate) async fn within_run(run: &Run<ServerMode>, down: &mut Option<Down>) -> Vec<CaseResult> {
    let opts = &run.opts.mode.explore;
    if opts.budget.sessions == 0 || !run.allows(ID) {
        return Vec::new();
    }
    let lang = run.opts.lang;
    let level = Level::Must;
    if run.profile.one_shot {
        let why = Text {
            en: format!(
                "not explored: profile {} checks presence only (its fixtures cover it), and a lesson-3 server may serve one client and exit",
                run.profile.name
            ),
            ru: format!(
                "не исследовался: профиль {} проверяет только presence (это покрывают его случаи), а сервер урока 3 может обслужить одного клиента и завершиться",
                run.profile.name
            ),
        };
        return vec![run.finalize(not_explored(Verdict::Skip, &why, level, lang))];
    }
    if run.mode.pool.is_some() {
        // Exploration logs in names of its own; a server that admits registered accounts only
        // would refuse them all, and a failure would be ours, not the target's.
        let why = Text {
            en: "not explored: the target admits registered accounts only (--accounts), and exploration logs in names of its own".into(),
            ru: "не исследовался: цель пускает только зарегистрированные учётные записи (--accounts), а исследование входит под своими именами".into(),
        };
        return vec![run.finalize(not_explored(Verdict::Skip, &why, level, lang))];
    }
    if let Some(d) = down.as_ref() {
        let mut t = run.mode.target.lock().await;
        let restarted = t.can_restart()
            && Instant::now() < run.deadline
            && matches!(
                tokio::time::timeout_at(
                    run.deadline,
                    t.restart(crate::i18n::Said::new(
                        format!("before exploration (the target went down in {})", d.case),
                        format!("перед исследованием (цель упала в {})", d.case),
                    )),
                )
                .await,
                Ok(Ok(()))
            );
        if !restarted {
            let why = Msg::NotRunTargetDown { case: d.case.clone(), state: d.state }.text();
            return vec![run.finalize(not_explored(Verdict::NotRun, &why, level, lang))];
        }
        run.mode.follow(&t);
        *down = None;
    }
    run.revive(ID).await;
    let mut cfg = in_run_config(&run.profile, run.opts.strict, run.opts.timeout, opts.budget);
    cfg.seed = opts.seed;
    cfg.replay_target = opts.target.clone();
    // The sessions end before the run's deadline (shrinking is bounded by its replays).
    cfg.budget = cfg.budget.min(run.deadline.saturating_duration_since(Instant::now()));
    let started_late = Instant::now() >= run.deadline;
    let explored = {
        let mut t = run.mode.target.lock().await;
        let explored = tokio::time::timeout_at(run.deadline, explore(&mut t, &cfg, |_, _, _| {}));
        let explored = explored.await;
        // Replays restart a spawned target that died: it may listen on a new port.
        run.mode.follow(&t);
        explored
    };
    let Ok(explored) = explored else {
        // Not a verdict: the deadline was reached before or while exploring.
        let ms = run.opts.deadline.as_millis() as u64;
        let why = deadline_reason(ms, !started_late).text();
        let case = not_explored(Verdict::NotRun, &why, level, lang);
        return vec![run.finalize(deadline_not_run(case, ms, !started_late))];
    };
    let shown = Shown::started(run.mode.start.clone(), run.mode.addr());
    let mut out = Vec::new();
    for r in cases(&explored, &cfg, &shown, lang) {
        let r = run.finalize(r);
        // The first failure is checked for a target it took down, as a fixture case is.
        let r = if down.is_none() && matches!(r.verdict, Verdict::Fail | Verdict::Error) {
            let r = run.after_failure(r).await;
            *down = Down::of(&r);
            r
        } else {
            r
        };
        out.push(r);
    }
    out
}

/// Exploration's case when the target never answered a fixture case (`gate`): not run, and no
/// restart (a program that never answers stays silent after one).
pub(crate) fn never_answered(run: &Run<ServerMode>, gate: &str) -> Vec<CaseResult> {
    if run.opts.mode.explore.budget.sessions == 0 || !run.allows(ID) {
        return Vec::new();
    }
    let state = crate::report::LivenessState::Zombie;
    let why = Msg::NotRunTargetDown { case: gate.to_owned(), state }.text();
    vec![run.finalize(not_explored(Verdict::NotRun, &why, Level::Must, run.opts.lang))]
}

/// Exploration's case when the run ends before any case for `why` (the target is down and
/// cannot be restarted).
pub(crate) fn not_explored_because(run: &Run<ServerMode>, why: &Text) -> Vec<CaseResult> {
    if run.opts.mode.explore.budget.sessions == 0 || !run.allows(ID) {
        return Vec::new();
    }
    vec![run.finalize(not_explored(Verdict::NotRun, why, Level::Must, run.opts.lang))]
}
