//! `jim-conformance explore`: model-based testing of a server with several clients at once, for
//! the bugs nobody wrote a fixture for (issue 14).
//!
//! A fixture suite catches the defects its authors imagined. Exploration drives 2 to 6 clients
//! through seeded random sessions ([`generator`]), judges every observation against a model of JIM's
//! obligations that shares no code with the reference server ([`model`], [`judge`]), proves
//! silence with round-trip barriers instead of sleeps ([`drive`]), shrinks a failing session to a
//! few steps ([`shrink`]) and tells it as numbered steps, one contradiction, expected vs observed,
//! a standalone Python script and `jim-client` commands, in English and Russian ([`report`],
//! [`python`]).
//!
//! Flow: [`calibrate`] learns what the target offers; sessions run in batches of `jobs` (results
//! are taken in session order, so `--jobs` never changes a verdict); the first `must` failure
//! (or a dead target) stops the sessions; failures of lower levels are kept once each and the
//! feature that caused them is left out of later sessions; then each kept failure is shrunk.
//!
//! Entry points: [`explore`] (the `explore` subcommand, [`cli`]) and [`within_run`], the hook
//! for the default `server` run (a small budget whose results are report cases).

pub mod calibrate;
pub mod cli;
pub mod drive;
pub mod generator;
pub mod judge;
pub mod model;
pub mod python;
pub mod report;
pub mod shrink;
pub mod wire_form;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use self::drive::{Env, SessionRun, run_session};
use self::generator::{Feature, GenConfig, generate};
use self::judge::Finding;
use self::model::{Branch, Session, Traits};
use crate::matcher::Tolerances;
use crate::model::{Dialect, Level};
use crate::target::RunningTarget;
use crate::wire::Delivery;

/// How to explore.
#[derive(Debug, Clone)]
pub struct Config {
    /// The seed: the same seed and target give the same sessions.
    pub seed: u64,
    /// Most sessions.
    pub sessions: usize,
    /// Most wall time for the sessions (shrinking has its own bound).
    pub budget: Duration,
    /// Sessions at the same time.
    pub jobs: usize,
    /// Step timeout.
    pub timeout: Duration,
    /// Dialects to use (from the profile).
    pub dialects: Vec<Dialect>,
    /// The lesson-3 profile: presence only, one client at a time.
    pub lesson3: bool,
    /// The only name a lesson-3 server accepts (`--name`, or Guest).
    pub fixed_name: Option<String>,
    /// Tolerances of the profile (`--strict`: none).
    pub tolerances: Tolerances,
    /// Replies must carry `time`.
    pub replies_need_time: bool,
    /// `--strict`: should-level failures fail the run, replies are checked for one write.
    pub strict: bool,
    /// Invalid input too (unknown actions, malformed JSON, a presence without a name).
    pub hostile: bool,
    /// Delivery modes besides whole (split, trickle).
    pub pieces: Vec<Delivery>,
    /// Shrink failures (replays at most this many sessions each; 0: do not shrink).
    pub shrink_replays: usize,
    /// Most failures shrunk and reported.
    pub max_findings: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            sessions: 200,
            budget: Duration::from_secs(60),
            jobs: 1,
            timeout: Duration::from_secs(2),
            dialects: vec![Dialect::Spec, Dialect::Course],
            lesson3: false,
            fixed_name: None,
            tolerances: Tolerances::none(),
            replies_need_time: false,
            strict: false,
            hostile: true,
            pieces: Vec::new(),
            shrink_replays: 300,
            max_findings: 3,
        }
    }
}

/// The default seed (a fixed one, so that a plain run gives the same verdict every time).
pub const DEFAULT_SEED: u64 = 14;

/// A failure, shrunk and ready to tell.
#[derive(Debug, Clone, Serialize)]
pub struct Reported {
    /// The failure of the shrunk session.
    pub finding: Finding,
    /// The session number that first failed (replay with `--seed S --session N`).
    pub session_index: u64,
    /// Steps of that session before shrinking.
    pub original_steps: usize,
    /// The shrunk session.
    pub session: Session,
    /// How each of its steps turned out in the last replay.
    pub branches: Vec<Option<Branch>>,
    /// Replays shrinking used.
    pub replays: usize,
    /// The shrunk session failed again on confirmation replays (false: shown unshrunk).
    pub confirmed: bool,
}

/// What an exploration found.
#[derive(Debug, Clone, Serialize)]
pub struct Explored {
    /// The seed.
    pub seed: u64,
    /// What the target offers.
    pub traits: Option<Traits>,
    /// Sessions run.
    pub sessions: usize,
    /// Wall time of the sessions (without shrinking).
    pub session_ms: u64,
    /// Wall time of everything.
    pub total_ms: u64,
    /// Failures, worst first.
    pub findings: Vec<Reported>,
    /// Style notes (`--strict`), one per obligation.
    pub notes: Vec<Finding>,
    /// Tolerances that were needed.
    pub lenient: BTreeSet<String>,
    /// The sessions stopped before the budget because the target died or stopped answering.
    pub target_down: bool,
    /// Why the sessions ended early, if they did (the time budget ran out).
    pub cut_short: Option<String>,
}

impl Explored {
    /// True when a failure fails the run (a `must`, or a `should` with `--strict`).
    pub fn fails(&self, strict: bool) -> bool {
        self.findings.iter().any(|f| blocks(f.finding.level, strict))
            || (strict && !self.notes.is_empty())
    }
}

fn blocks(level: Level, strict: bool) -> bool {
    level == Level::Must || (strict && level == Level::Should)
}

/// A random three-letter run tag: names differ between runs (a long-lived server keeps
/// contacts by name), while the seed alone decides the sessions.
fn run_tag() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let mut n = h.finish();
    let mut s = String::new();
    for _ in 0..3 {
        s.push(char::from(b"abcdefghjkmnpqrstuvwxyz"[(n % 23) as usize]));
        n /= 23;
    }
    s
}

/// The names' prefix for run tag `run` and counter `n`: 8 characters, unique within a run.
pub fn session_tag(run: &str, n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut x = n % (36u64.pow(4));
    let mut d = [b'0'; 4];
    for slot in d.iter_mut().rev() {
        *slot = digits[(x % 36) as usize];
        x /= 36;
    }
    format!("{run}{}_", String::from_utf8_lossy(&d))
}

struct Replayer<'t> {
    target: &'t mut RunningTarget,
    env: Env,
    run: String,
    counter: u64,
}

impl Replayer<'_> {
    async fn revive(&mut self) {
        if !self.target.is_alive()
            && self.target.can_restart()
            && self.target.restart("to replay a failing session").await.is_ok()
        {
            self.env.addr = self.target.addr();
        }
    }

    async fn run(&mut self, session: &Session) -> SessionRun {
        self.revive().await;
        self.counter += 1;
        let tag = session_tag(&self.run, self.counter);
        let out = run_session(&self.env, session, &tag).await;
        if out.target_down {
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.revive().await;
        }
        out
    }
}

impl shrink::Replay for Replayer<'_> {
    async fn replay(&mut self, session: &Session) -> Option<Finding> {
        self.run(session).await.finding
    }
}

/// Explores `target` with `cfg`; `progress(done, total)` after each batch.
pub async fn explore(
    target: &mut RunningTarget,
    cfg: &Config,
    mut progress: impl FnMut(usize, usize, usize),
) -> Explored {
    let started = Instant::now();
    let run = run_tag();
    let mut out = Explored {
        seed: cfg.seed,
        traits: None,
        sessions: 0,
        session_ms: 0,
        total_ms: 0,
        findings: Vec::new(),
        notes: Vec::new(),
        lenient: BTreeSet::new(),
        target_down: false,
        cut_short: None,
    };
    let traits = if cfg.lesson3 {
        Traits {
            dialects: cfg.dialects.clone(),
            rooms: false,
            contacts: false,
            users: false,
            acks: true,
            closes_on_quit: true,
            barrier: None,
            lesson3: true,
            fixed_name: cfg.fixed_name.clone(),
        }
    } else {
        let cal =
            calibrate::calibrate(target.addr(), cfg.timeout, &cfg.dialects, &session_tag(&run, 0))
                .await;
        match cal {
            Ok(t) => t,
            Err(f) => {
                out.findings.push(Reported {
                    finding: f,
                    session_index: 0,
                    original_steps: 0,
                    session: Session {
                        dialects: Vec::new(),
                        names: Vec::new(),
                        rooms: Vec::new(),
                        steps: Vec::new(),
                    },
                    branches: Vec::new(),
                    replays: 0,
                    confirmed: true,
                });
                out.total_ms = started.elapsed().as_millis() as u64;
                return out;
            }
        }
    };
    if !traits.closes_on_quit {
        if let Some(crate::matcher::ToleranceMode::Lenient) =
            cfg.tolerances.mode(crate::vocab::Tolerance::OpenAfterQuit)
        {
            out.lenient.insert("open-after-quit".into());
        }
    }
    if !traits.acks {
        if let Some(crate::matcher::ToleranceMode::Lenient) =
            cfg.tolerances.mode(crate::vocab::Tolerance::NoMsgAck)
        {
            out.lenient.insert("no-msg-ack".into());
        }
    }
    let env = Env {
        addr: target.addr(),
        timeout: cfg.timeout,
        traits: traits.clone(),
        tolerances: cfg.tolerances.clone(),
        replies_need_time: cfg.replies_need_time,
        one_write: cfg.strict,
    };
    let gen_cfg =
        GenConfig { hostile: cfg.hostile, pieces: cfg.pieces.clone(), rules: env.rules() };
    out.traits = Some(traits.clone());
    let mut disabled: BTreeSet<Feature> = BTreeSet::new();
    let mut failing: Vec<(u64, Session, Finding)> = Vec::new();
    let jobs = cfg.jobs.clamp(1, 16);
    let mut next: u64 = 0;
    let mut counter: u64 = 1;
    'sessions: while (next as usize) < cfg.sessions {
        if started.elapsed() >= cfg.budget {
            out.cut_short = Some(format!(
                "the time budget ({} s) ran out after {} of {} sessions",
                cfg.budget.as_secs_f64(),
                out.sessions,
                cfg.sessions
            ));
            break;
        }
        let batch: Vec<(u64, Session)> = (next..(next + jobs as u64).min(cfg.sessions as u64))
            .map(|i| (i, generate(cfg.seed, i, &traits, &gen_cfg, &disabled)))
            .collect();
        next += batch.len() as u64;

        let mut set = tokio::task::JoinSet::new();
        for (k, (i, session)) in batch.iter().enumerate() {
            let env = env.clone();
            let session = session.clone();
            let tag = session_tag(&run, counter + k as u64);
            let i = *i;
            set.spawn(async move { (i, run_session(&env, &session, &tag).await) });
        }
        counter += batch.len() as u64;
        let mut results: Vec<(u64, SessionRun)> = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok(r) = r {
                results.push(r);
            }
        }
        results.sort_by_key(|(i, _)| *i);
        for (i, r) in results {
            out.sessions += 1;
            out.lenient.extend(r.lenient);
            for n in r.notes {
                if !out.notes.iter().any(|o| o.obligation == n.obligation) {
                    out.notes.push(n);
                }
            }
            let Some(session) = batch.iter().find(|(k, _)| *k == i).map(|(_, s)| s.clone()) else {
                continue;
            };
            if let Some(f) = r.finding {
                let stop = blocks(f.level, cfg.strict) || r.target_down;
                if f.level != Level::Must {
                    if let Some(feature) = r.feature {
                        disabled.insert(feature);
                    }
                }
                if !failing.iter().any(|(_, _, g)| g.obligation == f.obligation) {
                    failing.push((i, session, f));
                }
                if stop {
                    out.target_down = r.target_down;
                    break 'sessions;
                }
            }
        }
        progress(out.sessions, cfg.sessions, failing.len());
    }
    out.session_ms = started.elapsed().as_millis() as u64;
    // Worst first: must before should before may, then in the order found.
    failing.sort_by_key(|(i, _, f)| (f.level, *i));
    failing.truncate(cfg.max_findings.max(1));
    let mut replayer = Replayer { target, env, run, counter };
    for (i, session, f) in failing {
        out.findings.push(report_one(&mut replayer, cfg, i, &session, f).await);
    }
    out.total_ms = started.elapsed().as_millis() as u64;
    out
}

async fn report_one(
    replayer: &mut Replayer<'_>,
    cfg: &Config,
    index: u64,
    session: &Session,
    finding: Finding,
) -> Reported {
    let original_steps = session.steps.len();
    let unshrunk = |f: Finding, branches| Reported {
        finding: f,
        session_index: index,
        original_steps,
        session: session.clone(),
        branches,
        replays: 0,
        confirmed: false,
    };
    if cfg.shrink_replays == 0
        || finding.obligation == model::Obligation::Alive && !replayer.target.can_restart()
    {
        let branches = Vec::new();
        return unshrunk(finding, branches);
    }
    let shrunk = shrink::shrink(replayer, session, finding.clone(), cfg.shrink_replays).await;
    // Confirm: the shrunk session must fail the same way twice more.
    let mut last = None;
    let mut confirmed = true;
    for _ in 0..2 {
        let r = replayer.run(&shrunk.session).await;
        match r.finding {
            Some(f) if f.obligation == shrunk.finding.obligation => last = Some((f, r.branches)),
            _ => confirmed = false,
        }
    }
    match (confirmed, last) {
        (true, Some((f, branches))) => Reported {
            finding: f,
            session_index: index,
            original_steps,
            session: shrunk.session,
            branches,
            replays: shrunk.replays + 2,
            confirmed: true,
        },
        _ => unshrunk(finding, Vec::new()),
    }
}

/// The budget of exploration inside the default `server` run.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Sessions (fixed, so that the verdict does not depend on speed).
    pub sessions: usize,
    /// A safety cap on wall time.
    pub max_time: Duration,
}

impl Default for Budget {
    /// 40 sessions (about 0.3 s against the reference), at most 20 s.
    fn default() -> Self {
        Self { sessions: 40, max_time: Duration::from_secs(20) }
    }
}

/// The hook for the default `server` run: explores `target` with the profile's dialects and
/// tolerances, a small budget and no invalid input (the fixtures cover that), and returns report
/// cases: one per failure (`explore/OBLIGATION`), or one passing case `explore/sessions`.
pub async fn within_run(
    target: &mut RunningTarget,
    profile: &crate::profile::Profile,
    strict: bool,
    timeout: Duration,
    budget: Budget,
    lang: crate::i18n::Lang,
) -> Vec<crate::report::CaseResult> {
    let cfg = Config {
        seed: DEFAULT_SEED,
        sessions: budget.sessions,
        budget: budget.max_time,
        jobs: 1,
        timeout,
        dialects: profile.dialects.clone(),
        lesson3: profile.one_shot,
        fixed_name: profile.default_name.clone().filter(|_| profile.one_shot),
        tolerances: profile.tolerances(strict),
        replies_need_time: profile.replies_need_time,
        strict,
        hostile: false,
        pieces: Vec::new(),
        shrink_replays: 150,
        max_findings: 1,
    };
    let addr = target.addr();
    let explored = explore(target, &cfg, |_, _, _| {}).await;
    report::cases(&explored, &cfg, &addr.to_string(), lang)
}
