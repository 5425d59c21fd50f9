//! The field corpus (`tests/field/`, issue 13): student-style servers the referee was not built
//! around, each with its right verdict in `manifest.json`. Every server run of the manifest runs
//! in host mode (the harness starts the target) and in spawn mode (the runner does), several
//! runs at a time, and is compared with the manifest (`common::field::evaluate`, a port of
//! `measure.py`).
//!
//! `field_servers_once` runs the targets of [`RIGHT`] once per mode and requires their right
//! verdict (a ratchet: a target joins the list when its fix lands, and the list only grows);
//! `field_servers_table` (ignored, minutes) runs every server target once and prints the
//! mismatches of the others. `field_servers_5x5` is the
//! acceptance run of issue 13 (5 runs of 5 per mode, every server target right): `#[ignore]`d
//! because it takes about 40 minutes on two cores (measured: 1149 of 1150 runs right; the one
//! wrong run was a spawn port in TIME_WAIT, fixed since); run it with
//! `cargo test -p jim-conformance --test field -- field_servers_5x5 --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use common::field;
use serde_json::Value;

/// Server targets whose every run is right in both modes today (manifest ids; `ID#RUN` for
/// one run of a target whose other runs are not right yet, or too slow for this share).
const RIGHT: &[&str] = &[
    "lesson3_classic",
    "lesson3_user_not_object",
    "dies_after_first",
    "dies_on_reset",
    "no_reuseaddr_crashy",
    "zombie_after_first",
    "string_time_server",
    "flood_200",
    "missing_common_module",
    "lesson3_guest_only",
    "msg_400",
    "answer_everything_200",
    "never_reads",
    "speaks_first",
    "slow_select_one_recv#split and trickle delivery",
    "quit_ignored",
    "course_recv1024#long message",
];

/// Runs of targets not yet right as a whole that are right today, each with the case keys
/// whose verdict another item of issue 13 settles (left out of the run's `pass`/`fail` here,
/// not in the manifest) and why: (target, run name, keys left out, why).
const RIGHT_RUNS: &[(&str, &str, &[&str], &str)] = &[
    ("course_final_accounts", "without accounts", &[], ""),
    ("course_final_accounts", "with its accounts", &[], ""),
];

/// Whether `only` lists the run `run` of target `id` (by id, or as `ID#RUN`).
fn listed(only: &[&str], id: &str, run: &str) -> bool {
    only.iter().any(|o| *o == id || o.split_once('#') == Some((id, run)))
}

/// Runner calls at the same time (each runner itself runs several cases at once).
const WIDTH: usize = 4;

struct Job {
    target: Value,
    run: Value,
    mode: &'static str,
    rep: usize,
}

fn server_jobs(reps: usize, only: Option<&[&str]>) -> Vec<Job> {
    let m = field::manifest();
    let mut jobs = Vec::new();
    for t in m["targets"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        let runs: Vec<Value> = match only {
            _ if t["role"] != "server" => continue,
            Some(o) if !o.contains(&id) => {
                let mut runs = right_runs(id, t);
                runs.extend(
                    t["runs"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|r| listed(o, id, r["name"].as_str().unwrap_or_default()))
                        .cloned(),
                );
                runs
            }
            _ => t["runs"].as_array().unwrap().clone(),
        };
        for run in &runs {
            for mode in ["host", "spawn"] {
                for rep in 0..reps {
                    jobs.push(Job { target: t.clone(), run: run.clone(), mode, rep });
                }
            }
        }
    }
    jobs
}

/// The runs of `RIGHT_RUNS` for target `t`, with their left-out keys removed from `pass` and
/// `fail`.
fn right_runs(id: &str, t: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for (target, name, left_out, _why) in RIGHT_RUNS {
        if *target != id {
            continue;
        }
        let run = t["runs"].as_array().unwrap().iter().find(|r| r["name"] == *name);
        let mut run = run.unwrap_or_else(|| panic!("{id}: no run named {name:?}")).clone();
        for key in ["pass", "fail"] {
            if let Some(list) = run["expect"][key].as_array_mut() {
                list.retain(|k| !left_out.iter().any(|l| k == l));
            }
        }
        out.push(run);
    }
    out
}

/// Runs the jobs; returns (label, mismatches) per job and prints a table.
fn run_jobs(jobs: Vec<Job>) -> Vec<(String, String, Vec<String>)> {
    common::python3();
    let began = Instant::now();
    let dir = field::dir();
    let results = field::in_parallel(jobs, WIDTH, |j| {
        let (problems, o) = field::one(&j.target, &j.run, j.mode, &dir, &dir);
        let id = j.target["id"].as_str().unwrap().to_owned();
        let label = format!(
            "{id} ({}) {} #{}: exit {:?}, {:.1} s",
            j.run["name"].as_str().unwrap_or_default(),
            j.mode,
            j.rep + 1,
            o.rc,
            o.secs
        );
        (id, label, problems)
    });
    for (_, label, problems) in &results {
        let mark = if problems.is_empty() { "right" } else { "WRONG" };
        eprintln!("{mark:5} {label}");
        for p in problems {
            eprintln!("        {p}");
        }
    }
    let right = results.iter().filter(|r| r.2.is_empty()).count();
    eprintln!(
        "field: {right} of {} runs right, {:.0} s wall, {WIDTH} at a time",
        results.len(),
        began.elapsed().as_secs_f64()
    );
    results
}

#[test]
fn field_servers_once() {
    let results = run_jobs(server_jobs(1, Some(RIGHT)));
    let wrong: Vec<_> = results.iter().filter(|(_, _, problems)| !problems.is_empty()).collect();
    assert!(wrong.is_empty(), "targets of RIGHT got a wrong verdict: {wrong:#?}");
}

/// Every server run once per mode, the right and the not yet right: the table of where the
/// runner stands (minutes; prints, asserts only RIGHT).
#[test]
#[ignore = "the whole field table, one run per mode (about 5 minutes)"]
fn field_servers_table() {
    let results = run_jobs(server_jobs(1, None));
    let wrong: Vec<_> = results
        .iter()
        .filter(|(id, _, problems)| RIGHT.contains(&id.as_str()) && !problems.is_empty())
        .collect();
    assert!(wrong.is_empty(), "targets of RIGHT got a wrong verdict: {wrong:#?}");
}

#[test]
#[ignore = "issue 13 acceptance: every field server right in 5 runs of 5 per mode (minutes)"]
fn field_servers_5x5() {
    let mut all = Vec::new();
    for _ in 0..5 {
        all.extend(run_jobs(server_jobs(5, None)));
    }
    let wrong: Vec<_> = all.iter().filter(|r| !r.2.is_empty()).collect();
    assert!(wrong.is_empty(), "{} of {} runs wrong: {wrong:#?}", wrong.len(), all.len());
}

/// What a run says about a program, for comparing copies: the exit code, the profile picked and
/// every case's verdict (`ID [delivery]=verdict`).
fn signature(o: &field::Outcome) -> String {
    let Some(report) = &o.report else { return format!("exit {:?}, no report", o.rc) };
    let mut cases: Vec<String> = report["cases"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| format!("{}={}", field::case_key(c), c["verdict"].as_str().unwrap_or("?")))
                .collect()
        })
        .unwrap_or_default();
    cases.sort();
    format!("exit {:?}, profile {}: {}", o.rc, report["profile"]["name"], cases.join(" "))
}

/// The class's servers (issue 13, "same code, same verdict"): each chosen student's
/// `server.py`, spawned by the runner as `grade` does, `runs` times with `--jobs 1` (`width`
/// students at a time) and `runs` times with the default jobs and 8 students at a time. Every
/// run must meet its style's expectation, and all
/// runs of all copies of a style must give the same signature.
fn class_servers(runs: usize, per_style: usize, width: usize) {
    common::python3();
    let m = field::manifest();
    let class = &m["class"];
    let dir = field::dir();
    let roster = std::fs::read_to_string(dir.join("class/roster.csv")).unwrap();
    let students = class["students"].as_object().unwrap();
    assert!(students.len() >= 20, "a class of at least 20");
    let mut taken: std::collections::BTreeMap<String, usize> = Default::default();
    let mut chosen = Vec::new();
    for line in roster.lines().skip(1) {
        // id,name,folder,server,client,accounts: no field of this roster is quoted.
        let fields: Vec<&str> = line.split(',').collect();
        let (id, folder, server) = (fields[0], fields[2], fields[3]);
        let style = students[id].as_str().unwrap().to_owned();
        let n = taken.entry(style.clone()).or_default();
        *n += 1;
        if *n <= per_style {
            chosen.push((id.to_owned(), dir.join("class").join(folder), server.to_owned(), style));
        }
    }
    let styles: BTreeSet<_> = chosen.iter().map(|c| c.3.clone()).collect();
    assert!(styles.len() >= 6, "six styles or more");
    let began = Instant::now();
    let mut results = Vec::new();
    for (batch, width, jobs) in [("jobs 1", width, Some("1")), ("8 at a time", 8, None)] {
        let mut work = Vec::new();
        for n in 0..runs {
            for c in &chosen {
                work.push((n, c.clone()));
            }
        }
        results.extend(field::in_parallel(work, width, |(n, (id, folder, server, style))| {
            let spec = &class["styles"][style.as_str()]["server"];
            let mut run = spec.clone();
            run["name"] = Value::from(batch);
            if let Some(j) = jobs {
                let mut options = run["options"].as_array().cloned().unwrap_or_default();
                options.extend([Value::from("--jobs"), Value::from(j)]);
                run["options"] = Value::from(options);
            }
            let target = serde_json::json!({"id": id, "role": "server", "start": server});
            let (problems, o) = field::one(&target, &run, "spawn", &folder, &folder);
            (style, format!("{id} ({batch}, run {n})"), problems, signature(&o))
        }));
    }
    let mut wrong = Vec::new();
    let mut by_style: std::collections::BTreeMap<&str, Vec<(&str, &str)>> = Default::default();
    for (style, who, problems, sig) in &results {
        if !problems.is_empty() {
            wrong.push(format!("{who} [{style}]: {problems:?}"));
        }
        by_style.entry(style).or_default().push((who, sig));
    }
    for (style, runs) in &by_style {
        let first = runs[0].1;
        for (who, sig) in runs {
            if *sig != first {
                let (a, b): (BTreeSet<_>, BTreeSet<_>) =
                    (sig.split(' ').collect(), first.split(' ').collect());
                let only =
                    |x: &BTreeSet<&str>, y| x.difference(y).copied().collect::<Vec<_>>().join(" ");
                wrong.push(format!(
                    "[{style}] {who} differs from {}: here {} | there {}",
                    runs[0].0,
                    only(&a, &b),
                    only(&b, &a)
                ));
            }
        }
    }
    eprintln!(
        "class servers: {} runs, {} styles, {} mismatches, {:.0} s",
        results.len(),
        by_style.len(),
        wrong.len(),
        began.elapsed().as_secs_f64()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
#[ignore = "issue 13 acceptance: the class's servers, 3 runs --jobs 1 + 3 runs 8 at a time (minutes)"]
fn the_class_servers_get_one_verdict_per_style_whatever_the_jobs_and_the_load() {
    class_servers(3, usize::MAX, 4);
}

/// CI's share: two students of each style, once per batch.
#[test]
#[ignore = "minutes: a share of the acceptance run above, run by hand (0 mismatches in the last runs)"]
fn the_class_servers_two_per_style_agree() {
    class_servers(1, 2, 4);
}
