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
//! Flow: [`calibrate`] learns what the target offers; sessions run `jobs` at a time and their
//! results are taken in session order, each as `--jobs 1` would have it (a session generated
//! before a feature was left out runs again; a failure of sessions that shared the server must
//! fail alone too), so `--jobs` changes no verdict; the first blocking failure (`must`, or with
//! `--strict` anything) or a dead target stops the sessions; failures of lower levels are kept
//! once per obligation, at their worst level, and the feature that caused them is left out of
//! later sessions; then each kept failure is shrunk. A failure that may be a second response to
//! an earlier request is first replayed with a round trip after every request, so that the
//! response is blamed on the request that caused it ([`shrink::with_checks`]).
//!
//! Entry points: [`explore`] (the `explore` subcommand, [`cli`]) and `within_run`, the hook the
//! default `server` run calls after its fixture cases (`in_run.rs`; configured by [`InRun`]:
//! `--explore-sessions`, `--seed`), whose [`Budget`] is counted in sessions and replays, so that
//! its verdict does not depend on the machine's speed (a time cap only stops a target so slow
//! that every step waits for the timeout, and the report says so).

pub mod calibrate;
pub mod cli;
pub mod drive;
pub mod generator;
mod in_run;
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
    /// The profile named in the replay command (None: `auto`, as the preflight decides).
    pub profile: Option<String>,
    /// The target as the replay command names it (None: the address explored).
    pub replay_target: Option<String>,
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
            profile: None,
            replay_target: None,
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
    pub cut_short: Option<crate::i18n::Said>,
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

/// The idle watch of a spawned target (its loop turn unmeasured: the longer grace).
fn watch_of(target: &RunningTarget, timeout: Duration) -> Option<crate::idle::Watch> {
    crate::idle::Watch::new(target.pid()?, target.addr(), None, timeout)
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
            && self
                .target
                .restart(&crate::i18n::Said::new(
                    "to replay a failing session",
                    "чтобы повторить проваленную сессию",
                ))
                .await
                .is_ok()
        {
            self.env.addr = self.target.addr();
            self.env.watch = watch_of(self.target, self.env.timeout);
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
        watch: watch_of(target, cfg.timeout),
    };
    let gen_cfg =
        GenConfig { hostile: cfg.hostile, pieces: cfg.pieces.clone(), rules: env.rules() };
    out.traits = Some(traits.clone());
    let mut disabled: BTreeSet<Feature> = BTreeSet::new();
    let mut failing: Vec<Failing> = Vec::new();
    let jobs = cfg.jobs.clamp(1, 16);
    let total = cfg.sessions as u64;
    let mut next: u64 = 0;
    let mut counter: u64 = 1;
    'sessions: while next < total {
        if started.elapsed() >= cfg.budget {
            let (budget, ran, of) = (cfg.budget.as_secs_f64(), out.sessions, cfg.sessions);
            out.cut_short = Some(crate::i18n::Said::new(
                format!("the time budget ({budget} s) ran out after {ran} of {of} sessions"),
                format!(
                    "время ({budget} с) кончилось после {} из {of}",
                    jim_text::Noun {
                        en: ["", ""], ru: ["сессии", "сессий", "сессий"]
                    }
                    .count(jim_text::Lang::Ru, ran as u64)
                ),
            ));
            break;
        }
        // `jobs` sessions at a time, generated with the features left out so far. Results are
        // taken in session order; once a result leaves a feature out, a later session of the
        // same chunk that would now be generated differently is run again in the next chunk:
        // so every session is the one `--jobs 1` runs, and `--jobs` changes no verdict.
        let chunk: Vec<(u64, Session)> = (next..(next + jobs as u64).min(total))
            .map(|i| (i, generate(cfg.seed, i, &traits, &gen_cfg, &disabled)))
            .collect();
        let mut set = tokio::task::JoinSet::new();
        for (i, session) in &chunk {
            let env = env.clone();
            let session = session.clone();
            let tag = session_tag(&run, counter);
            counter += 1;
            let i = *i;
            set.spawn(async move { (i, run_session(&env, &session, &tag).await) });
        }
        let mut results: Vec<(u64, SessionRun)> = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(r) => results.push(r),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => {}
            }
        }
        results.sort_by_key(|(i, _)| *i);
        // The first session of a chunk always counts (nothing was left out before it).
        let first = next;
        for (i, mut r) in results {
            let Some(session) = chunk.iter().find(|(k, _)| *k == i).map(|(_, s)| s) else {
                continue;
            };
            if *session != generate(cfg.seed, i, &traits, &gen_cfg, &disabled) {
                break;
            }
            next = i + 1;
            if jobs > 1 && r.finding.is_some() {
                // Sessions that ran at the same time share the server: a failure counts only
                // if the session fails alone too (a server that leaks one user's messages to
                // every connection would otherwise fail an earlier session than alone).
                r = run_session(&env, session, &session_tag(&run, counter)).await;
                counter += 1;
            }
            out.sessions += 1;
            out.lenient.extend(r.lenient);
            for n in r.notes {
                if !out.notes.iter().any(|o| o.obligation == n.obligation) {
                    out.notes.push(n);
                }
            }
            let stop_at_note = cfg.strict && !out.notes.is_empty();
            let Some(finding) = r.finding else {
                if stop_at_note {
                    break 'sessions;
                }
                continue;
            };
            let stop = blocks(finding.level, cfg.strict) || r.target_down || stop_at_note;
            if finding.level != Level::Must {
                if let Some(feature) = r.feature {
                    disabled.insert(feature);
                }
            }
            // One failure per obligation: the first of the worst level.
            let same = failing.iter().position(|g| g.finding.obligation == finding.obligation);
            if same.is_none_or(|k| finding.level < failing[k].finding.level) {
                if let Some(k) = same {
                    failing.remove(k);
                }
                failing.push(Failing {
                    index: i,
                    session: session.clone(),
                    finding,
                    branches: r.branches,
                    stray_suspect: r.stray_suspect,
                });
            }
            if stop {
                out.target_down = r.target_down;
                break 'sessions;
            }
        }
        if next == first {
            next += 1;
        }
        progress(out.sessions, cfg.sessions, failing.len());
    }
    out.session_ms = started.elapsed().as_millis() as u64;
    // Worst first: must before should before may, then in the order found.
    failing.sort_by_key(|f| (f.finding.level, f.index));
    failing.truncate(cfg.max_findings.max(1));
    let mut replayer = Replayer { target, env, run, counter };
    for f in failing {
        out.findings.push(report_one(&mut replayer, cfg, f).await);
    }
    out.total_ms = started.elapsed().as_millis() as u64;
    out
}

/// A session that failed, as the exploration saw it.
struct Failing {
    /// Its number in the run.
    index: u64,
    session: Session,
    finding: Finding,
    /// How each step turned out.
    branches: Vec<Option<Branch>>,
    /// See [`SessionRun::stray_suspect`].
    stray_suspect: bool,
}

/// Shrinks a failing session and confirms the result. A failure that may come from a second
/// response to an earlier request is first replayed with a round trip after every request
/// ([`shrink::with_checks`]): when that shows the request answered twice, that is the failure
/// told (the response is attributed to the request that caused it, not to the next one).
async fn report_one(replayer: &mut Replayer<'_>, cfg: &Config, failing: Failing) -> Reported {
    let Failing { index, mut session, mut finding, mut branches, stray_suspect } = failing;
    let original_steps = session.steps.len();
    if cfg.shrink_replays > 0
        && stray_suspect
        && replayer.env.traits.barrier == Some(model::BarrierKind::Contacts)
    {
        let careful = shrink::with_checks(&session, finding.step);
        let run = replayer.run(&careful).await;
        if let Some(f) = run.finding.filter(|f| f.obligation == model::Obligation::OneReply) {
            (session, finding, branches) = (careful, f, run.branches);
        }
    }
    let unshrunk = Reported {
        finding: finding.clone(),
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
        return unshrunk;
    }
    let shrunk = shrink::shrink(replayer, &session, finding, cfg.shrink_replays).await;
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
        _ => unshrunk,
    }
}

/// The budget of exploration inside the default `server` run. Counted in sessions and replays,
/// never in seconds, so that the verdict does not depend on the machine's speed.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Sessions.
    pub sessions: usize,
    /// Replays to shrink the failure found.
    pub shrink_replays: usize,
    /// A safety cap on the sessions' wall time, for a target that makes every step wait for
    /// the step timeout; when it ends the sessions early, the report says so.
    pub max_time: Duration,
}

impl Default for Budget {
    /// 100 sessions: about 1.3 s against the reference (release build, busy 2-core machine),
    /// which keeps the default run under 5 s; every defect of the bank is found within its
    /// first 26 (seed 14), so 100 leaves four times that. 150 replays to shrink; the sessions
    /// stop after 15 s (a target that makes steps wait for the timeout), and the report says so.
    fn default() -> Self {
        Self { sessions: 100, shrink_replays: 150, max_time: Duration::from_secs(15) }
    }
}

/// The configuration of exploration inside the default `server` run: the profile's dialects
/// and tolerances, the default seed, one session at a time, valid input only (the fixtures
/// cover invalid input), one failure reported.
pub fn in_run_config(
    profile: &crate::profile::Profile,
    strict: bool,
    timeout: Duration,
    budget: Budget,
) -> Config {
    Config {
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
        shrink_replays: budget.shrink_replays,
        max_findings: 1,
        profile: Some(profile.name.clone()),
        replay_target: None,
    }
}

/// Exploration inside the default `server` run (`--explore-sessions`, `--seed`): how much, with
/// which seed, and how the replay command names the target. `sessions` 0 switches it off (the
/// library's default: a caller of [`crate::run_suite`] asks for it; the command line's default
/// is [`InRun::default_run`]).
#[derive(Debug, Clone)]
pub struct InRun {
    /// How much (sessions 0: no exploration).
    pub budget: Budget,
    /// The seed of the sessions.
    pub seed: u64,
    /// The target as the replay command names it (`--spawn '...'`); None: its address.
    pub target: Option<String>,
}

impl Default for InRun {
    /// No exploration ([`Self::off`]).
    fn default() -> Self {
        Self::off()
    }
}

impl InRun {
    /// No exploration.
    pub fn off() -> Self {
        Self {
            budget: Budget { sessions: 0, ..Budget::default() },
            seed: DEFAULT_SEED,
            target: None,
        }
    }

    /// What `jim-conformance server` does by default: [`Budget::default`], [`DEFAULT_SEED`].
    pub fn default_run() -> Self {
        Self { budget: Budget::default(), seed: DEFAULT_SEED, target: None }
    }

    /// [`Self::default_run`] with `sessions` sessions.
    pub fn with_sessions(sessions: usize) -> Self {
        Self { budget: Budget { sessions, ..Budget::default() }, ..Self::default_run() }
    }
}

pub(crate) use in_run::{never_answered, not_explored_because, within_run};
