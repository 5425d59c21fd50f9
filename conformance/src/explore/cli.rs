//! `jim-conformance explore`: its options (the target options are `server`'s, flattened next to
//! these in `main.rs`) and the run: start the target, pick the profile (the preflight under
//! `auto`), explore, print the report, write `--json`/`--junit`, exit 0 (no failure), 1
//! (failures), 2 (usage) or 3 (target unreachable).

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{Config, DEFAULT_SEED, Explored};
use crate::i18n::Lang;
use crate::preflight::{PreflightInput, preflight};
use crate::report::{OptionsInfo, ProfileInfo, REPORT_SCHEMA, Report, TargetInfo};
use crate::suite::Suite;
use crate::target::{RunningTarget, TargetSpec};
use crate::wire::Delivery;

/// Options of `jim-conformance explore` (besides the target).
#[derive(Args, Debug, Clone)]
pub struct ExploreArgs {
    /// The seed: the same seed against the same server gives the same sessions.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// How many sessions to run (at most).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub sessions: usize,
    /// Most seconds for the sessions (shrinking comes on top, bounded by --shrink-replays).
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub budget: f64,
    /// Sessions at the same time (results are taken in session order: verdicts do not depend
    /// on it).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub jobs: usize,
    /// Per-step timeout in seconds.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    pub timeout: f64,
    /// Profile: auto (decided by a preflight), lesson3, spec, course, all.
    #[arg(long, default_value = "auto")]
    pub profile: String,
    /// Should-level failures fail the run, and no tolerance is accepted.
    #[arg(long)]
    pub strict: bool,
    /// Account name for a lesson-3 server (default Guest for a Guest-only one).
    #[arg(long)]
    pub name: Option<String>,
    /// Delivery modes of requests: whole (default), or all (also split and trickle; failures
    /// that need them carry the level of what they break).
    #[arg(long, default_value = "whole")]
    pub delivery: String,
    /// Send only valid JSON requests (no unknown actions, malformed JSON, presences without a
    /// name).
    #[arg(long)]
    pub no_bad_input: bool,
    /// Most replays to shrink each failure (0: do not shrink).
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub shrink_replays: usize,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write each failure's Python script into this directory (repro-1.py, ...).
    #[arg(long, value_name = "DIR")]
    pub save_repro: Option<PathBuf>,
    /// Report language: en or ru (default: from the locale).
    #[arg(long, value_name = "LANG")]
    pub lang: Option<String>,
}

fn secs(v: f64, what: &str) -> Result<Duration, String> {
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("--{what} must be a positive number of seconds"))
    }
}

/// Runs `explore` against `spec`; the exit code.
pub async fn run(spec: TargetSpec, shown_target: String, a: ExploreArgs) -> i32 {
    match run_inner(spec, shown_target, a).await {
        Ok(code) => code,
        Err((code, msg)) => {
            eprintln!("jim-conformance explore: {msg}");
            code
        }
    }
}

async fn run_inner(
    spec: TargetSpec,
    shown_target: String,
    a: ExploreArgs,
) -> Result<i32, (i32, String)> {
    let usage = |m: String| (2, m);
    let lang = match &a.lang {
        Some(l) => Lang::parse(l).ok_or_else(|| usage(format!("--lang {l}: use en or ru")))?,
        None => Lang::from_env(),
    };
    let timeout = secs(a.timeout, "timeout").map_err(usage)?;
    let budget = secs(a.budget, "budget").map_err(usage)?;
    let pieces = match a.delivery.as_str() {
        "whole" => Vec::new(),
        "all" => vec![Delivery::Split, Delivery::Trickle],
        other => other
            .split(',')
            .filter_map(|d| Delivery::parse(d.trim()))
            .filter(|d| *d != Delivery::Whole)
            .collect(),
    };
    if a.jobs == 0 || a.sessions == 0 {
        return Err(usage("--jobs and --sessions must be at least 1".into()));
    }
    let suite = Suite::embedded().map_err(|e| (2, e.to_string()))?;
    let mut target = RunningTarget::start(spec, Duration::from_secs(10)).await.map_err(|e| {
        let out = if let crate::target::TargetError::Spawn { output, .. } = &e {
            output.clone()
        } else {
            String::new()
        };
        (3, if out.is_empty() { e.to_string() } else { format!("{e}\nits output:\n{out}") })
    })?;
    let detection = preflight(&PreflightInput {
        addr: target.addr(),
        timeout,
        name: a.name.clone(),
        unique_name: "explore_probe".into(),
        framing: jim_protocol::Framing::Newline,
    })
    .await;
    if !detection.reachable {
        target.stop().await;
        return Err((
            3,
            lang.say(&crate::i18n::RunMsg::TargetUnreachable {
                why: detection.connect_error.clone().unwrap_or_default().get(lang).to_owned(),
            }),
        ));
    }
    if target.can_restart() && !target.is_alive() {
        let why = crate::i18n::Said::new("after the preflight", "после предварительной проверки");
        let _ = target.restart(&why).await;
    }
    let auto = a.profile == "auto";
    let profile_name = if auto { detection.suggested_profile.clone() } else { a.profile.clone() };
    let profile = match suite.profile(&profile_name) {
        Ok(p) => p.clone(),
        Err(e) => {
            target.stop().await;
            return Err(usage(e.to_string()));
        }
    };
    let fixed_name = a.name.clone().or_else(|| {
        (profile.one_shot && (detection.guest_only || detection.one_shot == Some(true)))
            .then(|| profile.default_name.clone().unwrap_or_else(|| "Guest".into()))
    });
    let cfg = Config {
        seed: a.seed,
        sessions: a.sessions,
        budget,
        jobs: a.jobs,
        timeout,
        dialects: profile.dialects.clone(),
        lesson3: profile.one_shot,
        fixed_name,
        tolerances: profile.tolerances(a.strict),
        replies_need_time: profile.replies_need_time,
        strict: a.strict,
        hostile: !a.no_bad_input,
        pieces,
        shrink_replays: a.shrink_replays,
        max_findings: 3,
        profile: (!auto).then(|| profile.name.clone()),
        // `--spawn '...'`, `--host H --port P`, or nothing (the embedded server): not the port
        // of this run, which is gone when it ends.
        replay_target: Some(shown_target.clone()),
    };
    let tty = std::io::stderr().is_terminal();
    let explored = super::explore(&mut target, &cfg, |done, total, failing| {
        if tty {
            let width = 30;
            let filled = done * width / total.max(1);
            eprint!(
                "\rexplore [{}{}] {done}/{total} sessions, {failing} failing",
                "#".repeat(filled),
                "-".repeat(width - filled)
            );
            let _ = std::io::stderr().flush();
        }
    })
    .await;
    if tty {
        eprintln!();
    }
    let addr = target.addr();
    let describe = target.describe();
    let kind = target.kind();
    let shown =
        super::report::Shown::started(target.start_command(crate::case::REPRODUCTION_PORT), addr);
    target.stop().await;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "jim-conformance explore: {}; {} {}{}{}",
        describe.get(lang),
        lang.pick("profile", "профиль"),
        profile.name,
        if auto { " (auto)" } else { "" },
        if a.strict { ", strict" } else { "" }
    );
    // What the target sent (texts, names) reaches the terminal escaped (issue 16 item 8);
    // line breaks are the report's own.
    let human = super::report::human(&explored, &cfg, &shown_target, &shown, lang);
    for line in human.split_inclusive('\n') {
        let (text, end) = line.strip_suffix('\n').map_or((line, ""), |t| (t, "\n"));
        let _ = write!(out, "{}{end}", jim_protocol::terminal::terminal_safe(text));
    }
    let fails = explored.fails(a.strict);
    let code = i32::from(fails);
    let _ = writeln!(out, "{} {code}", lang.pick("exit code", "код выхода"));
    drop(out);
    if let Some(dir) = &a.save_repro {
        if let Some(tr) = &explored.traits {
            let rules = super::report::rules_of(&explored, &cfg);
            std::fs::create_dir_all(dir)
                .map_err(|e| (2, format!("cannot create {}: {e}", dir.display())))?;
            for (k, f) in
                explored.findings.iter().enumerate().filter(|(_, f)| !f.session.steps.is_empty())
            {
                let script = super::python::script(
                    f,
                    tr,
                    &rules,
                    cfg.timeout.as_secs_f64(),
                    cfg.seed,
                    &super::report::replay_command(&cfg, &shown_target),
                );
                let path = dir.join(format!("repro-{}.py", k + 1));
                std::fs::write(&path, script)
                    .map_err(|e| (2, format!("cannot write {}: {e}", path.display())))?;
            }
        }
    }
    let cases = super::report::cases(&explored, &cfg, &shown, lang);
    if let Some(p) = &a.json {
        let v = serde_json::json!({
            "schema": "jim-conformance/explore/v1",
            "exit_code": code,
            "profile": profile.name,
            "explored": explored,
            "cases": cases,
        });
        std::fs::write(p, serde_json::to_string_pretty(&v).unwrap_or_default())
            .map_err(|e| (2, format!("cannot write {}: {e}", p.display())))?;
    }
    if let Some(p) = &a.junit {
        let ran = Ran {
            target: TargetInfo { kind, description: describe.clone(), address: addr.to_string() },
            detected: detection,
            profile: &profile,
            lang,
        };
        let report = as_report(&explored, &cfg, ran, cases, code);
        std::fs::write(p, crate::report::junit::to_string(&report))
            .map_err(|e| (2, format!("cannot write {}: {e}", p.display())))?;
    }
    Ok(code)
}

/// What the run knew besides the exploration: the target, the preflight's detection, the
/// profile and the language.
struct Ran<'a> {
    target: TargetInfo,
    detected: crate::preflight::Detection,
    profile: &'a crate::profile::Profile,
    lang: Lang,
}

/// The exploration as a suite report (for `--junit`), with its cases and exit code.
fn as_report(
    ex: &Explored,
    cfg: &Config,
    ran: Ran<'_>,
    cases: Vec<crate::report::CaseResult>,
    code: i32,
) -> Report {
    let Ran { target, detected, profile, lang } = ran;
    let mut r = Report {
        schema: REPORT_SCHEMA,
        tool: format!("jim-conformance {} explore", env!("CARGO_PKG_VERSION")),
        target,
        detected,
        profile: ProfileInfo {
            name: profile.name.clone(),
            auto: false,
            strict: cfg.strict,
            dialects: profile.dialects.clone(),
            tolerances: if cfg.strict { BTreeMap::new() } else { profile.tolerances.clone() },
            name_used: cfg.fixed_name.clone().map_or_else(
                || crate::i18n::Said::new("unique per session", "своё в каждой сессии"),
                Into::into,
            ),
        },
        options: OptionsInfo {
            timeout_ms: cfg.timeout.as_millis() as u64,
            deadline_ms: cfg.budget.as_millis() as u64,
            jobs: cfg.jobs,
            delivery: std::iter::once(Delivery::Whole).chain(cfg.pieces.iter().copied()).collect(),
            framing: "newline".into(),
            expect: Vec::new(),
        },
        capabilities: BTreeMap::new(),
        cases,
        summary: Default::default(),
        exit_code: code,
        exit_reason: if code == 0 {
            "no failure".into()
        } else {
            "exploration found failures".into()
        },
        duration_ms: ex.total_ms,
        events: Vec::new(),
        target_output: None,
        lang,
    };
    r.summarize();
    r
}
