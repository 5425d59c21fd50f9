//! Exploration inside the default `server` run (issue 14), through the command line: a defect
//! that only exploration finds fails the default run, as a case `explore/...` that carries the
//! seed and the one replay command, in the human, JSON and JUnit reports, with the same verdict
//! in repeated runs; `--explore-sessions 0` and `--skip 'explore/*'` switch it off; the lesson-3
//! profile skips it; a target that went down in an earlier case leaves it "not run". The whole
//! bank through the default run is the ignored test at the end (a few minutes in a debug build).
//!
//! Targets are the bank's Python servers (`tests/explore/bank/`), spawned by the runner.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::Value;

use crate::common::{self, Ran, server_run};

fn bank_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/explore/bank").join(name)
}

fn spawn_command(name: &str) -> String {
    format!("python3 {} -p {{port}}", bank_file(name).display())
}

/// The report's `explore/...` cases.
fn explore_cases(r: &Ran) -> Vec<Value> {
    r.json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().is_some_and(|id| id.starts_with("explore/")))
        .cloned()
        .collect()
}

/// What must be the same in two runs: each exploration case's id, verdict, level and the
/// step of the contradiction (names differ: each run tags its own).
fn verdicts(cases: &[Value]) -> Vec<String> {
    cases
        .iter()
        .map(|c| {
            format!("{} {} {} step {}", c["id"], c["verdict"], c["level"], c["failure"]["step"])
        })
        .collect()
}

/// Bank defects that every fixture case passes (checked here with `--explore-sessions 0`):
/// only exploration can fail the run for them. Names compared without case, and room
/// membership kept by name across a disconnect.
const ONLY_EXPLORATION_SEES: [&str; 2] = ["case_insensitive_names.py", "rooms_kept_by_name.py"];

#[test]
fn a_defect_only_exploration_finds_fails_the_default_run_with_the_seed_and_the_replay_command() {
    common::python3();
    for name in ONLY_EXPLORATION_SEES {
        let cmd = spawn_command(name);
        // Two default runs (the default budget, the default seed) and one without exploration,
        // at the same time: each has its own server.
        let (a, b, off) = std::thread::scope(|s| {
            let a = s.spawn(|| server_run(&["--spawn", &cmd]));
            let b = s.spawn(|| server_run(&["--spawn", &cmd]));
            let off = s.spawn(|| server_run(&["--spawn", &cmd, "--explore-sessions", "0"]));
            (a.join().unwrap(), b.join().unwrap(), off.join().unwrap())
        });
        assert_eq!(off.code, Some(0), "{name}: the fixtures alone must pass it\n{}", off.stdout);
        assert!(explore_cases(&off).is_empty(), "{name}: --explore-sessions 0 explores");
        for r in [&a, &b] {
            assert_eq!(r.code, Some(1), "{name}: the default run must fail\n{}", r.stdout);
            let cases = explore_cases(r);
            let failed: Vec<&Value> =
                cases.iter().filter(|c| c["verdict"] == "fail" && c["level"] == "must").collect();
            assert!(!failed.is_empty(), "{name}: no must-level explore case failed\n{}", r.stdout);
            let replay = format!("jim-conformance explore --spawn '{cmd}' --seed 14");
            let reproduce = failed[0]["failure"]["reproduce"].to_string();
            assert!(reproduce.contains(&replay), "{name}: no replay command {replay}: {reproduce}");
            assert!(reproduce.contains("--no-bad-input"), "{name}: {reproduce}");
            assert!(r.stdout.contains(&replay), "{name}: the human report lacks {replay}");
            let id = failed[0]["id"].as_str().unwrap();
            assert!(r.junit.contains(id), "{name}: the JUnit report lacks {id}");
            assert!(r.junit.contains(&replay.replace('\'', "&apos;")) || r.junit.contains(&replay));
        }
        assert_eq!(
            verdicts(&explore_cases(&a)),
            verdicts(&explore_cases(&b)),
            "{name}: two default runs gave different exploration verdicts"
        );
    }
}

#[test]
fn explore_sessions_and_skip_switch_it_off_and_lesson3_skips_it() {
    let quick = ["--only", "presence/basic", "--only", "explore/*"];
    let on = server_run(&[&quick[..], &["--explore-sessions", "5", "--seed", "7"]].concat());
    assert_eq!(on.code, Some(0), "{}", on.stdout);
    let cases = explore_cases(&on);
    assert_eq!(cases.len(), 1, "{}", on.stdout);
    assert_eq!(cases[0]["id"], "explore/sessions");
    assert_eq!(cases[0]["verdict"], "pass");
    let title = cases[0]["title"].as_str().unwrap();
    assert!(title.contains("5 random") && title.contains("seed 7"), "{title}");
    let hint = cases[0]["hint"]["en"].as_str().unwrap();
    // The embedded reference (no target options), the profile the preflight picked.
    assert!(hint.contains("jim-conformance explore --seed 7 --profile "), "{hint}");
    assert!(hint.contains(" --sessions 5 --no-bad-input"), "{hint}");

    let off = server_run(&[&quick[..], &["--explore-sessions", "0"]].concat());
    assert!(explore_cases(&off).is_empty(), "{}", off.stdout);
    let skipped = server_run(&["--only", "presence/basic", "--skip", "explore/*"]);
    assert!(explore_cases(&skipped).is_empty(), "{}", skipped.stdout);
    let not_selected = server_run(&["--only", "presence/basic"]);
    assert!(explore_cases(&not_selected).is_empty(), "{}", not_selected.stdout);

    let lesson3 = server_run(&["--profile", "lesson3", "--explore-sessions", "5"]);
    assert_eq!(lesson3.code, Some(0), "{}", lesson3.stdout);
    let cases = explore_cases(&lesson3);
    assert_eq!(cases.len(), 1, "{}", lesson3.stdout);
    assert_eq!(cases[0]["verdict"], "skip", "{}", cases[0]);
}

/// A target that accepts every connection and never answers; stops when dropped.
struct Silent {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Silent {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in listener.incoming() {
                if flag.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                if let Ok(s) = s {
                    held.push(s);
                    held.truncate(200);
                }
            }
        });
        Self { port, stop, thread: Some(thread) }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_target_that_went_down_in_a_fixture_case_leaves_exploration_not_run() {
    let silent = Silent::start();
    let port = silent.port.to_string();
    let r = server_run(&[
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--profile",
        "spec",
        "--jobs",
        "1",
        "--timeout",
        "0.3",
        "--only",
        "presence/basic",
        "--only",
        "explore/*",
    ]);
    drop(silent);
    assert_eq!(r.code, Some(1), "{}", r.stdout);
    let cases = explore_cases(&r);
    assert_eq!(cases.len(), 1, "{}", r.stdout);
    assert_eq!(cases[0]["verdict"], "not-run", "{}", cases[0]);
    let reason = cases[0]["reason"].as_str().unwrap();
    assert!(reason.contains("stopped answering in presence/basic"), "{reason}");
}

/// Every defect of the bank fails the default `server` run (fixtures and exploration, default
/// budget and seed), the runner spawning it. A few minutes in a debug build: run with
/// `cargo test -p jim-conformance --test it explore_run:: -- --ignored`.
#[test]
#[ignore]
fn every_bank_defect_fails_the_default_server_run() {
    common::python3();
    let mut files: Vec<String> = std::fs::read_dir(bank_file(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".py"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the bank has {} defects", files.len());
    let queue = std::sync::Mutex::new(files.clone());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some(name) = next else { break };
                    let r = server_run(&["--spawn", &spawn_command(&name)]);
                    results.lock().unwrap().push((name, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut table = String::new();
    let mut missed = Vec::new();
    for (name, r) in &results {
        let failed: Vec<String> = r.json["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["impact"] == "failure")
            .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        table.push_str(&format!("  {name:32} exit {:?}  {}\n", r.code, failed.join(" ")));
        if r.code != Some(1) {
            missed.push(name.clone());
        }
    }
    eprintln!("bank through the default server run:\n{table}");
    assert!(missed.is_empty(), "the default run passes {missed:?}\n{table}");
}
