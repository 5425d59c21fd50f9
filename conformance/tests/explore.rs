//! Exploration (issue 14) against real targets: no false failure on the reference, the Python
//! example and the conforming targets; every defect of the bank (`tests/explore/bank/`) fails
//! within the budget of the default `server` run; the emitted Python scripts fail 10 times out of
//! 10 against their defective server and pass against the reference; exploration alone (no
//! fixture) fails the run for the `--misbehave` kinds. Targets are spawned like `--spawn` does (a
//! free port, their own process group, killed at the end); every wait is bounded by the step
//! timeout and the budgets. Tests that need python3 fail with a clear message without it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use jim_conformance::explore::{self, Config, Explored, python, report};
use jim_conformance::matcher::Tolerances;
use jim_conformance::model::{Dialect, Level};
use jim_conformance::suite::Suite;
use jim_conformance::target::{RunningTarget, TargetSpec};
use jim_conformance::wire::Delivery;

fn python3() {
    let ok = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "python3 is needed by this test (the targets are Python programs): install it");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn config(profile: &str, sessions: usize) -> Config {
    let suite = Suite::embedded().unwrap();
    let p = suite.profile(profile).unwrap().clone();
    Config {
        sessions,
        budget: Duration::from_secs(240),
        dialects: p.dialects.clone(),
        lesson3: p.one_shot,
        fixed_name: p.one_shot.then(|| "Guest".to_owned()),
        tolerances: p.tolerances(false),
        replies_need_time: p.replies_need_time,
        ..Config::default()
    }
}

fn spawn_spec(file: &Path) -> TargetSpec {
    TargetSpec::Spawn { command: format!("python3 {} -p {{port}}", file.display()) }
}

async fn run(spec: TargetSpec, cfg: &Config) -> Explored {
    let mut target = RunningTarget::start(spec, Duration::from_secs(10)).await.unwrap();
    let out = explore::explore(&mut target, cfg, |_, _, _| {}).await;
    target.stop().await;
    out
}

fn text(ex: &Explored) -> String {
    report::human(ex, &Config::default(), "", "127.0.0.1", "0", jim_conformance::i18n::Lang::En)
}

fn manifest(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn the_reference_has_no_false_failure() {
    let mut cfg = config("all", 300);
    cfg.jobs = 2;
    let ex = rt().block_on(run(TargetSpec::embedded(), &cfg));
    assert_eq!(ex.sessions, 300, "{}", text(&ex));
    assert!(ex.findings.is_empty() && ex.notes.is_empty(), "{}", text(&ex));
    // --strict too: the reference uses no tolerated variant.
    let mut strict = config("all", 100);
    strict.strict = true;
    strict.tolerances = Tolerances::none();
    let ex = rt().block_on(run(TargetSpec::embedded(), &strict));
    assert!(!ex.fails(true), "{}", text(&ex));
}

#[test]
fn conforming_python_servers_have_no_false_failure() {
    python3();
    let targets = [
        ("../examples/python/server.py", "spec", 200),
        ("../examples/python/server_asyncio.py", "spec", 150),
        ("tests/targets/spec_lenient_server.py", "spec", 150),
        ("tests/targets/lesson3_server.py", "lesson3", 100),
        // The course server answers nothing to a message for an unknown user (a should, as in
        // the fixtures) and every such wait costs the step timeout: fewer sessions.
        ("tests/targets/course_server.py", "course", 40),
    ];
    let rt = rt();
    for (file, profile, sessions) in targets {
        let ex = rt.block_on(run(spawn_spec(&manifest(file)), &config(profile, sessions)));
        assert!(!ex.fails(false), "{file}: a false failure\n{}", text(&ex));
        assert!(ex.sessions > 0, "{file}\n{}", text(&ex));
        if profile != "course" {
            assert!(ex.findings.is_empty(), "{file}\n{}", text(&ex));
        }
    }
}

fn bank() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(manifest("tests/explore/bank"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    files
}

/// The budget of the default `server` run: 40 sessions, valid input only.
fn default_budget() -> Config {
    let mut cfg = config("spec", explore::Budget::default().sessions);
    cfg.hostile = false;
    cfg.max_findings = 1;
    cfg
}

#[test]
fn every_bank_defect_fails_within_the_default_budget_and_its_script_reproduces_it() {
    python3();
    let files = bank();
    assert!(files.len() >= 10, "the bank has {} defects", files.len());
    let rt = rt();
    let reference = rt.block_on(jim_server::spawn(jim_server::Config::default())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut steps = Vec::new();
    let mut missed = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let cfg = default_budget();
        let mut target =
            rt.block_on(RunningTarget::start(spawn_spec(file), Duration::from_secs(10))).unwrap();
        let ex = rt.block_on(explore::explore(&mut target, &cfg, |_, _, _| {}));
        let Some(found) = ex.findings.first().filter(|f| f.finding.level == Level::Must) else {
            missed.push(name);
            rt.block_on(target.stop());
            continue;
        };
        assert!(found.confirmed, "{name}: the shrunk session did not fail again\n{}", text(&ex));
        steps.push(found.session.steps.len());
        let rules = report::rules_of(&ex, &cfg);
        let script =
            python::script(found, ex.traits.as_ref().unwrap(), &rules, 2.0, cfg.seed, "test");
        let path = dir.path().join(format!("{name}.repro.py"));
        std::fs::write(&path, &script).unwrap();
        let addr = target.addr();
        for i in 0..10 {
            let out = Command::new("python3")
                .arg(&path)
                .arg(addr.ip().to_string())
                .arg(addr.port().to_string())
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(1),
                "{name}: run {i} of the script against the defect: {}\n{}\n{script}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let ra = reference.addr();
        let out = Command::new("python3")
            .arg(&path)
            .arg(ra.ip().to_string())
            .arg(ra.port().to_string())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: the script against the reference: {}\n{}\n{script}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        rt.block_on(target.stop());
    }
    assert!(missed.is_empty(), "bank defects the default budget does not find: {missed:?}");
    steps.sort_unstable();
    let median = steps[steps.len() / 2];
    eprintln!("bank: {} defects found, shrunk steps {steps:?}, median {median}", files.len());
    assert!(median <= 6, "median shrunk reproduction {median} steps: {steps:?}");
}

#[test]
fn exploration_alone_fails_most_misbehave_kinds() {
    let rt = rt();
    let mut caught = Vec::new();
    let mut missed = Vec::new();
    for kind in jim_server::Misbehave::ALL {
        let mut cfg = config("all", 40);
        cfg.strict = true;
        cfg.tolerances = Tolerances::none();
        cfg.pieces = vec![Delivery::Split, Delivery::Trickle];
        cfg.timeout = Duration::from_millis(if kind.late_delay().is_some() { 500 } else { 1000 });
        cfg.shrink_replays = 0;
        cfg.budget = Duration::from_secs(60);
        let config = jim_server::Config { misbehave: vec![kind], ..jim_server::Config::default() };
        let ex = rt.block_on(run(TargetSpec::Embedded(Box::new(config)), &cfg));
        if ex.fails(true) {
            caught.push(format!("{kind:?}"));
        } else {
            missed.push(format!("{kind:?}"));
        }
    }
    eprintln!(
        "exploration alone (strict, all deliveries): caught {} of {}: missed {missed:?}",
        caught.len(),
        caught.len() + missed.len()
    );
    assert!(caught.len() >= 18, "caught {caught:?}, missed {missed:?}");
}

#[test]
fn the_same_seed_gives_the_same_sessions_and_verdict_whatever_the_jobs() {
    let cfg = config("all", 60);
    let mut two = config("all", 60);
    two.jobs = 3;
    let rt = rt();
    let a = rt.block_on(run(TargetSpec::embedded(), &cfg));
    let b = rt.block_on(run(TargetSpec::embedded(), &two));
    assert_eq!((a.sessions, a.findings.len()), (b.sessions, b.findings.len()));
    let bad = jim_server::Config {
        misbehave: vec![jim_server::Misbehave::RoomLeak],
        ..jim_server::Config::default()
    };
    let x = rt.block_on(run(TargetSpec::Embedded(Box::new(bad.clone())), &cfg));
    let y = rt.block_on(run(TargetSpec::Embedded(Box::new(bad)), &two));
    let key = |e: &Explored| {
        e.findings
            .iter()
            .map(|f| (f.session_index, f.finding.obligation, f.session.steps.len()))
            .collect::<Vec<_>>()
    };
    assert!(!x.findings.is_empty(), "{}", text(&x));
    assert_eq!(key(&x), key(&y), "{}\n{}", text(&x), text(&y));
    let _ = Dialect::Spec;
}
