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
//! because it does not hold for every target yet and takes minutes; run it with
//! `cargo test -p jim-conformance --test field -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

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
    "msg_400",
    "answer_everything_200",
    "never_reads",
    "speaks_first",
    "slow_select_one_recv#split and trickle delivery",
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
        if t["role"] != "server" {
            continue;
        }
        for run in t["runs"].as_array().unwrap() {
            let name = run["name"].as_str().unwrap_or_default();
            if only.is_some_and(|o| !listed(o, id, name)) {
                continue;
            }
            for mode in ["host", "spawn"] {
                for rep in 0..reps {
                    jobs.push(Job { target: t.clone(), run: run.clone(), mode, rep });
                }
            }
        }
    }
    jobs
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
