//! Client mode on the field corpus (`tests/field/`): the student-style clients written for
//! issue 13 and the class's 25 `client.py`, judged as `manifest.json` says a demanding teacher
//! would, and the same verdict for the same code in every run.
//!
//! - Every client target of the manifest runs 5 times; each run must match the manifest
//!   (exit code, the profile `auto` picks, the cases that fail and pass, the hints, the root
//!   cause) and the 5 runs must agree case by case.
//! - The class: every student's client runs 3 times with `--jobs 1` (its cases one at a time)
//!   and 3 times with the profile's jobs, 8 runs of the runner at a time in both batches; every
//!   run matches its style's expectation, and the copies of a style agree in all 6 runs (every
//!   case verdict, the exit code, the picked profile).
//!
//! Runs are independent, so they run concurrently (8 at a time): the machine is loaded on
//! purpose, since verdicts must not depend on load. No timed assertion: the step timeout
//! (10 s, above the runner's default of 2 s because the team's 2-core machine runs at load 20
//! to 35) only bounds how long a case waits for something that does not happen. Loopback only (the runner listens on 127.0.0.1:0).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jim_conformance::wire::Delivery;
use jim_conformance::{Report, RunOptions, Verdict, run_client_suite};
use serde_json::Value;

const FIELD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/field");

/// Runs of the runner at a time.
const PARALLEL: usize = 8;

/// Runs of each field client target.
const FIELD_RUNS: usize = 5;

/// Runs of each class client per batch (`--jobs 1`, then default jobs).
const CLASS_RUNS: usize = 3;

fn manifest() -> Value {
    let text = std::fs::read_to_string(Path::new(FIELD).join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// One runner call to make.
#[derive(Clone)]
struct Job {
    /// What to call it in messages and which group must agree (the target id or the style).
    group: String,
    /// The student or target, for messages.
    who: String,
    command: String,
    /// None: `--profile auto`.
    profile: Option<String>,
    jobs: Option<usize>,
    expect: Value,
}

/// What a run gave, reduced to what must be identical for identical code.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    exit: i32,
    profile: String,
    verdicts: BTreeMap<String, Verdict>,
}

fn key(c: &jim_conformance::CaseResult) -> String {
    if c.delivery == Delivery::Whole {
        c.id.clone()
    } else {
        format!("{} [{}]", c.id, c.delivery.as_str())
    }
}

fn run_one(job: &Job) -> (Report, String) {
    let opts = RunOptions {
        profile: job.profile.clone(),
        timeout: Duration::from_secs(10),
        deadline: Duration::from_secs(600),
        startup: Duration::from_secs(60),
        jobs: job.jobs,
        ..RunOptions::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let report = rt
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(700), run_client_suite(&job.command, opts))
                .await
        })
        .expect("the run must end within its deadline")
        .unwrap_or_else(|e| panic!("{}: {e}", job.command));
    let style = jim_conformance::report::human::Style {
        color: false,
        lang: jim_conformance::i18n::Lang::En,
    };
    let text = jim_conformance::report::human::render(&report, style);
    (report, text)
}

/// A job that ran: its place in the list, the job, the report and its English text.
type Done = (usize, Job, Report, String);

/// Runs every job, `PARALLEL` at a time; the results in job order.
fn run_all(jobs: Vec<Job>) -> Vec<(Job, Report, String)> {
    let queue: Arc<Mutex<VecDeque<(usize, Job)>>> =
        Arc::new(Mutex::new(jobs.into_iter().enumerate().collect()));
    let done: Arc<Mutex<Vec<Done>>> = Arc::default();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            let (queue, done) = (Arc::clone(&queue), Arc::clone(&done));
            scope.spawn(move || {
                loop {
                    let Some((n, job)) = queue.lock().unwrap().pop_front() else { return };
                    let (report, text) = run_one(&job);
                    done.lock().unwrap().push((n, job, report, text));
                }
            });
        }
    });
    let mut done = Arc::try_unwrap(done).ok().unwrap().into_inner().unwrap();
    done.sort_by_key(|(n, ..)| *n);
    done.into_iter().map(|(_, j, r, t)| (j, r, t)).collect()
}

/// `*` and `?` globs on case keys.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    go(&p, &t)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn failed(v: Verdict) -> bool {
    matches!(v, Verdict::Fail | Verdict::Error)
}

fn regex(p: &str) -> regex::Regex {
    regex::RegexBuilder::new(p).case_insensitive(true).build().unwrap()
}

/// The English hint and reason of a case, as the manifest's hint rules read them.
fn said(c: &jim_conformance::CaseResult) -> String {
    format!("{} {}", c.reason.clone().unwrap_or_default(), c.hint.en)
}

/// Where `report` differs from the manifest's `expect` (empty: it matches).
fn mismatches(job: &Job, report: &Report) -> Vec<String> {
    let e = &job.expect;
    let mut out = Vec::new();
    let cases: Vec<(String, &jim_conformance::CaseResult)> =
        report.cases.iter().map(|c| (key(c), c)).collect();
    if let Some(code) = e.get("exit").and_then(Value::as_i64) {
        if i64::from(report.exit_code) != code {
            out.push(format!("exit {} (want {code})", report.exit_code));
        }
    }
    if let Some(p) = e.get("auto_picks").and_then(Value::as_str) {
        if report.profile.name != p {
            out.push(format!("auto picked {} (want {p})", report.profile.name));
        }
    }
    for (rule, want_fail) in [("fail", true), ("pass", false)] {
        for pat in strings(e.get(rule)) {
            let hits: Vec<_> = cases.iter().filter(|(k, _)| glob(&pat, k)).collect();
            if hits.is_empty() {
                out.push(format!("{rule}: no case matches {pat}"));
            }
            for (k, c) in hits {
                let ok = if want_fail { failed(c.verdict) } else { c.verdict.passed() };
                if !ok {
                    out.push(format!("{k} is {} (want {rule})", c.verdict.as_str()));
                }
            }
        }
    }
    for pat in strings(e.get("not_fail")) {
        for (k, c) in cases.iter().filter(|(k, _)| glob(&pat, k)) {
            if failed(c.verdict) {
                out.push(format!("{k} is {} (want not_fail)", c.verdict.as_str()));
            }
        }
    }
    for rule in e.get("hints").and_then(Value::as_array).into_iter().flatten() {
        let id = rule["case"].as_str().unwrap_or_default();
        for (k, c) in cases.iter().filter(|(k, c)| glob(id, k) && failed(c.verdict)) {
            let text = said(c);
            if let Some(m) = rule.get("match").and_then(Value::as_str) {
                if !regex(m).is_match(&text) {
                    out.push(format!("{k}: hint does not match /{m}/: {text}"));
                }
            }
            if let Some(m) = rule.get("not_match").and_then(Value::as_str) {
                if regex(m).is_match(&text) {
                    out.push(format!("{k}: hint matches /{m}/: {text}"));
                }
            }
        }
    }
    let failing: Vec<_> = cases.iter().filter(|(_, c)| failed(c.verdict)).collect();
    if let Some(m) = e.pointer("/root_cause/match").and_then(Value::as_str) {
        match failing.first() {
            Some((k, c)) if !regex(m).is_match(&said(c)) => {
                out.push(format!("first failure {k} does not say /{m}/: {}", said(c)));
            }
            None => out.push("no failure to name the root cause".into()),
            Some(_) => {}
        }
    }
    if let Some(n) = e.get("root_causes").and_then(Value::as_u64) {
        // Until the report names root causes, each failing case stands for one.
        if failing.len() as u64 != n {
            let ids: Vec<_> = failing.iter().map(|(k, _)| k.as_str()).collect();
            out.push(format!("{} failing cases {ids:?} (want {n} root cause)", failing.len()));
        }
    }
    out
}

/// Runs `jobs`, checks each against its expectation and each group for identical verdicts.
fn check(jobs: Vec<Job>) {
    let results = run_all(jobs);
    let mut problems = Vec::new();
    let mut groups: BTreeMap<String, Vec<(String, Seen)>> = BTreeMap::new();
    for (job, report, text) in &results {
        let wrong = mismatches(job, report);
        if !wrong.is_empty() {
            problems.push(format!(
                "{} ({}):\n  {}\n{text}",
                job.who,
                job.group,
                wrong.join("\n  ")
            ));
        }
        let seen = Seen {
            exit: report.exit_code,
            profile: report.profile.name.clone(),
            verdicts: report.cases.iter().map(|c| (key(c), c.verdict)).collect(),
        };
        groups.entry(job.group.clone()).or_default().push((job.who.clone(), seen));
    }
    for (group, seen) in &groups {
        let (first_who, first) = &seen[0];
        for (who, s) in &seen[1..] {
            if s != first {
                problems
                    .push(format!("{group}: {who} differs from {first_who}: {s:?} vs {first:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

fn fill(template: &str, dir: &Path) -> String {
    template.replace("{dir}", &dir.to_string_lossy())
}

/// CI's share: every field client twice (the acceptance run, 5 each, is `field_clients_5x`).
#[test]
fn field_clients_get_the_manifest_verdicts_in_every_run() {
    field_clients(2);
}

#[test]
#[ignore = "issue 13 acceptance: every field client in 5 runs (about 2 minutes on a busy machine)"]
fn field_clients_5x() {
    field_clients(FIELD_RUNS);
}

fn field_clients(runs: usize) {
    common::python3();
    let m = manifest();
    let dir = PathBuf::from(FIELD);
    let mut jobs = Vec::new();
    for t in m["targets"].as_array().unwrap().iter().filter(|t| t["role"] == "client") {
        for run in t["runs"].as_array().unwrap() {
            let profile = run["profile"].as_str().filter(|p| *p != "auto").map(str::to_owned);
            let mut expect = run["expect"].clone();
            if let Some(p) = run.get("auto_picks") {
                expect["auto_picks"] = p.clone();
            }
            assert!(
                strings(run.get("options")).is_empty(),
                "options are not handled here yet: {}",
                t["id"]
            );
            for n in 0..runs {
                jobs.push(Job {
                    group: format!("{}/{}", t["id"].as_str().unwrap(), run["name"]),
                    who: format!("run {n}"),
                    command: fill(t["start"].as_str().unwrap(), &dir),
                    profile: profile.clone(),
                    jobs: None,
                    expect: expect.clone(),
                });
            }
        }
    }
    assert!(jobs.len() >= 4 * runs, "the manifest lists at least 4 client targets");
    check(jobs);
}

/// CI's share: the first two students of each style (copies of one program), once with
/// `--jobs 1` and once with the default jobs, all run 8 at a time.
#[test]
fn the_class_clients_two_per_style_agree() {
    class_clients(1, 2);
}

#[test]
#[ignore = "issue 13 acceptance: 25 clients x (3 runs --jobs 1 + 3 default), about 19 minutes at load 20"]
fn the_class_clients_get_one_verdict_per_style_whatever_the_jobs_and_the_load() {
    class_clients(CLASS_RUNS, usize::MAX);
}

fn class_clients(runs: usize, per_style: usize) {
    common::python3();
    let m = manifest();
    let class = &m["class"];
    let roster = std::fs::read_to_string(Path::new(FIELD).join("class/roster.csv")).unwrap();
    let mut commands = BTreeMap::new();
    for line in roster.lines().skip(1) {
        // id,name,folder,server,client,accounts: no field of this roster is quoted.
        let fields: Vec<&str> = line.split(',').collect();
        let (id, folder, client) = (fields[0], fields[2], fields[4]);
        let path = Path::new(FIELD).join("class").join(folder).join("client.py");
        commands.insert(id.to_owned(), client.replace("client.py", &path.to_string_lossy()));
    }
    let students = class["students"].as_object().unwrap();
    assert!(students.len() >= 20, "a class of at least 20");
    let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
    let chosen: Vec<(&String, &Value)> = students
        .iter()
        .filter(|(_, style)| {
            let n = taken.entry(style.as_str().unwrap_or("")).or_default();
            *n += 1;
            *n <= per_style
        })
        .collect();
    let mut jobs = Vec::new();
    for (batch, job_count) in [("jobs 1", Some(1)), ("default jobs", None)] {
        for n in 0..runs {
            for &(id, style) in &chosen {
                let style = style.as_str().unwrap();
                let spec = &class["styles"][style]["client"];
                let profile = spec["profile"].as_str().filter(|p| *p != "auto").map(str::to_owned);
                let mut expect = spec["expect"].clone();
                if let Some(p) = spec.get("auto_picks") {
                    expect["auto_picks"] = p.clone();
                }
                jobs.push(Job {
                    group: style.to_owned(),
                    who: format!("{id} ({batch}, run {n})"),
                    command: commands[id].clone(),
                    profile,
                    jobs: job_count,
                    expect,
                });
            }
        }
    }
    check(jobs);
}

#[test]
fn globs_match_case_keys() {
    assert!(glob("*", "client/common/presence"));
    assert!(glob("client/*/probe", "client/interactive/probe"));
    assert!(!glob("client/lesson3/*", "client/interactive/probe"));
    assert!(glob("client/common/presence?time", "client/common/presence-time"));
}
