//! `--lang ru` speaks Russian on every line (issue 13 item 12, issue 15 item 5): the runner is
//! run against failing targets of every kind (misbehaving reference servers in host mode, field
//! servers in spawn mode, field clients, `explore`, an unreachable target, usage errors) and
//! every line it prints is scanned for English prose. What may stay Latin: case ids, JSON,
//! commands and flags, file paths, protocol words (JIM keys and actions, levels, verdicts),
//! numbers and units, and what the target itself printed (its output tail, a client's
//! stdout/stderr). A label must not touch its value (`отправлено:{…`).
//!
//! The scan is `jim_text::scan::untranslated`, shared with the Russian tests of `jim-client`,
//! `jim-server` and the load report; its unit tests show what it catches and what it lets
//! through, so that a change to it that blinds it fails there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::field::{self, Group};
use common::free_port;
use jim_text::scan::untranslated;

/// Labels whose continuation lines are the target's own output (not the runner's words).
const OUTPUT_LABELS: &[&str] = &["вывод сервера", "stdout (вывод)", "stderr (ошибки)"];

/// Headings after which the more indented lines are a program (`explore`'s Python script).
const CODE_HEADS: &[&str] = &["скрипт Python"];

/// The lines of `text` the runner wrote itself: lines under an output label (the target's
/// stdout, stderr, traceback), the tail of the target's output and printed programs are left
/// out.
fn runner_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let (mut in_output, mut in_tail) = (false, false);
    let mut code_indent: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(head) = code_indent {
            if indent > head || trimmed.is_empty() {
                continue;
            }
            code_indent = None;
        }
        if CODE_HEADS.iter().any(|h| trimmed.starts_with(h)) {
            code_indent = Some(indent);
        }
        let labelled = OUTPUT_LABELS.iter().any(|l| trimmed.starts_with(&format!("{l}:")));
        let tail_head = trimmed.starts_with("вывод сервера (");
        if labelled || tail_head {
            // The label line itself carries the first output line after the label; the
            // summary's tail heading is followed by indented lines of output.
            in_output = true;
            in_tail = tail_head;
            continue;
        }
        // A continuation line (deep indent), or any indented line of the tail, is more of
        // the same output.
        if in_output && (indent >= 15 || (in_tail && indent >= 2)) {
            continue;
        }
        (in_output, in_tail) = (false, false);
        lines.push(line);
    }
    lines
}

/// Every offending line of one run's output, with the run's name.
fn scan(name: &str, text: &str) -> Vec<String> {
    runner_lines(text)
        .into_iter()
        .filter_map(|line| untranslated(line).map(|why| format!("[{name}] {why}: {line}")))
        .collect()
}

/// The runner under test: this build's, or `JIM_CONFORMANCE_BIN` (to count what another
/// build, say main's, leaves in English).
fn runner_bin() -> std::path::PathBuf {
    std::env::var_os("JIM_CONFORMANCE_BIN").map_or_else(field::runner, Into::into)
}

/// Runs the runner with `args` (in `cwd`) and returns what it printed (stdout and stderr).
fn runner(args: &[String], cwd: &Path) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let out_path = tmp.path().join("out.txt");
    let out = std::fs::File::create(&out_path).unwrap();
    let err = out.try_clone().unwrap();
    let mut cmd = Command::new(runner_bin());
    cmd.args(args).current_dir(cwd).stdin(Stdio::null()).stdout(out).stderr(err);
    cmd.env("NO_COLOR", "1").env("LANG", "C").env_remove("LC_ALL").env_remove("LC_MESSAGES");
    let began = Instant::now();
    let mut child = Group(cmd.spawn().unwrap());
    while began.elapsed() < field::WALL_GUARD {
        if let Ok(Some(_)) = child.0.try_wait() {
            break;
        }
        // The child's exit is observed by polling: no other wait can be bounded.
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(child);
    String::from_utf8_lossy(&std::fs::read(&out_path).unwrap_or_default()).into_owned()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// One `--lang ru` run: a name and the arguments (a misbehaving reference server, when given,
/// runs in this process and `{port}` becomes its port).
struct Run {
    name: &'static str,
    misbehave: Option<jim_server::Misbehave>,
    args: Vec<String>,
}

fn runs() -> Vec<Run> {
    use jim_server::Misbehave as M;
    let dir = field::dir();
    let dir = dir.to_str().unwrap();
    let spawn = |file: &str| format!("python3 {dir}/{file} -p {{port}} -a 127.0.0.1");
    let client = |file: &str| format!("python3 {dir}/{file} {{host}} {{port}}");
    let targets = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/targets");
    let target_client = |name: &'static str| Run {
        name,
        misbehave: None,
        args: {
            let mut a = args(&["client", "--spawn"]);
            a.push(format!("python3 {targets}/{name} {{host}} {{port}}"));
            a.extend(args(&["--timeout", "1", "--lang", "ru"]));
            a
        },
    };
    // The course-final server of the field corpus, seeded with its accounts: `--profile auto`
    // (the card's detection lines) on a few cases whose transcripts answer its 511 challenge.
    let course_final = |name: &'static str, accounts: bool| Run {
        name,
        misbehave: None,
        args: {
            let mut a = args(&["server", "--spawn"]);
            a.push(format!("python3 {dir}/course_final_accounts.py -p {{port}} -a 127.0.0.1 --db :memory: --seed @{dir}/course_final_accounts.txt"));
            if accounts {
                a.extend(args(&["--accounts", &format!("{dir}/course_final_accounts.txt")]));
            }
            a.extend(args(&["--only", "robustness/split-request", "--only", "contacts/*"]));
            a.extend(args(&["--timeout", "1", "--lang", "ru"]));
            a
        },
    };
    let host = |kind: M, profile: &'static str, extra: &[&str]| {
        let mut a =
            args(&["server", "--host", "127.0.0.1", "--port", "{port}", "--profile", profile]);
        a.extend(args(&["--timeout", "0.5", "--lang", "ru"]));
        a.extend(args(extra));
        Run { name: kind.name(), misbehave: Some(kind), args: a }
    };
    vec![
        host(M::CrashOnMissingField, "spec", &[]),
        host(M::PythonRepr, "lesson3", &[]),
        host(M::WrongCode, "spec", &[]),
        host(M::NoTime, "spec", &["--delivery", "whole,split"]),
        host(M::DropRelays, "spec", &[]),
        Run {
            name: "never_reads.py",
            misbehave: None,
            args: {
                let mut a = args(&["server", "--spawn"]);
                a.push(spawn("never_reads.py"));
                a.extend(args(&["--profile", "spec", "--timeout", "0.5", "--lang", "ru"]));
                a
            },
        },
        Run {
            name: "lesson3_classic.py",
            misbehave: None,
            args: {
                let mut a = args(&["server", "--spawn"]);
                a.push(spawn("lesson3_classic.py"));
                a.extend(args(&["--lang", "ru"]));
                a
            },
        },
        Run {
            name: "client_str_dict_client_name.py",
            misbehave: None,
            args: {
                let mut a = args(&["client", "--spawn"]);
                a.push(client("client_str_dict_client_name.py"));
                a.extend(args(&["--timeout", "1", "--lang", "ru"]));
                a
            },
        },
        Run {
            name: "client_glue_reads_badly.py",
            misbehave: None,
            args: {
                let mut a = args(&["client", "--spawn"]);
                a.push(client("client_glue_reads_badly.py"));
                a.extend(args(&["--timeout", "1", "--lang", "ru"]));
                a
            },
        },
        // Held-out student styles whose texts were English in Russian reports: a date string
        // as the presence time (the matcher's mismatch), a traceback on 400 (a disconnect
        // step's transcript line), a course-final server with and without its accounts (the
        // card's detection note, the 511 transcript event, the summary of a run stopped
        // before any case).
        target_client("ctime_client.py"),
        target_client("crash_on_400_client.py"),
        course_final("course_final_accounts.py with accounts", true),
        course_final("course_final_accounts.py without accounts", false),
        Run {
            name: "explore room-leak",
            misbehave: Some(M::RoomLeak),
            args: args(&[
                "explore",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--profile",
                "spec",
                "--sessions",
                "30",
                "--budget",
                "20",
                "--shrink-replays",
                "40",
                "--timeout",
                "1",
                "--lang",
                "ru",
            ]),
        },
        Run {
            name: "unreachable",
            misbehave: None,
            args: args(&["server", "--host", "127.0.0.1", "--port", "{free}", "--lang", "ru"]),
        },
        Run {
            name: "usage: --spawn without {port}",
            misbehave: None,
            args: args(&["server", "--spawn", "python3 server.py", "--lang", "ru"]),
        },
        Run {
            name: "usage: unknown profile",
            misbehave: None,
            args: args(&["server", "--profile", "nosuch", "--lang", "ru"]),
        },
        Run {
            name: "usage: unknown delivery",
            misbehave: None,
            args: args(&["server", "--delivery", "nosuch", "--lang", "ru"]),
        },
    ]
}

#[test]
fn every_line_of_a_russian_report_is_russian() {
    common::python3();
    let began = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cwd = field::dir();
    let mut found = Vec::new();
    let mut printed = 0;
    // Two runs at a time: the runner itself runs several cases at once.
    for pair in runs().chunks(2) {
        let outputs: Vec<(String, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = pair
                .iter()
                .map(|run| {
                    let (rt, cwd) = (&rt, &cwd);
                    s.spawn(move || {
                        let server = run.misbehave.map(|kind| {
                            let config = jim_server::Config {
                                misbehave: vec![kind],
                                ..jim_server::Config::default()
                            };
                            rt.block_on(jim_server::spawn(config)).unwrap()
                        });
                        let port = server.as_ref().map(|s| s.addr().port());
                        let free = free_port().to_string();
                        let args: Vec<String> = run
                            .args
                            .iter()
                            .map(|a| {
                                let a = a.replace("{free}", &free);
                                match port {
                                    Some(p) if a == "{port}" => p.to_string(),
                                    _ => a,
                                }
                            })
                            .collect();
                        let text = runner(&args, cwd);
                        if let Some(server) = server {
                            let _ = rt.block_on(server.stop());
                        }
                        (run.name.to_owned(), text)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (name, text) in outputs {
            assert!(!text.trim().is_empty(), "[{name}] printed nothing");
            printed += text.lines().count();
            found.extend(scan(&name, &text));
        }
    }
    eprintln!(
        "{} runs, {printed} lines printed, {} untranslated, {:.1} s",
        runs().len(),
        found.len(),
        began.elapsed().as_secs_f64()
    );
    assert!(found.is_empty(), "{} untranslated lines:\n{}", found.len(), found.join("\n"));
}

#[test]
fn the_target_output_is_not_scanned() {
    let report = "    вывод сервера:Traceback (most recent call last):\n               KeyError: 'account_name'\nитог: 1 выбрано\nвывод сервера (последние строки):\n  the server printed this\n  [err] Traceback (most recent call last):\nвремя 1.00 с";
    let lines = runner_lines(report);
    assert_eq!(lines, ["итог: 1 выбрано", "время 1.00 с"]);
    let explore = "    скрипт Python (выход 1): сохраните как repro.py\n      import socket\n      # send the presence\nПРОВАЛ 2";
    assert_eq!(
        runner_lines(explore),
        ["    скрипт Python (выход 1): сохраните как repro.py", "ПРОВАЛ 2"]
    );
}
