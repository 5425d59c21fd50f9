//! Issue 15 item 5 for the load check: `jim-conformance load --lang ru` prints every line in
//! Russian: the report of a passing and of a failing check against the reference server (in this
//! process, on a loopback port), a target that cannot be reached, a spawned target that exits,
//! and bad options (the engine's checks and clap's own errors). Everything printed goes through the scanner every binary's Russian test uses
//! (`jim_text::scan`); the runner's own report is guarded by `russian.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

/// `jim-conformance load --lang ru ARGS`: stdout and stderr together.
fn load_ru(args: &[&str]) -> String {
    let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_jim-conformance"))
        .args(["load", "--lang", "ru"])
        .args(args)
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    jim_text::scan::printed(&out)
}

/// A small check: enough to exercise every part of the report in about a second.
const SMALL: &[&str] = &[
    "--connections",
    "10",
    "--pairs",
    "3",
    "--room-members",
    "4",
    "--room-senders",
    "2",
    "--duration",
    "0.3",
    "--reply-timeout",
    "1",
];

#[test]
fn every_line_of_a_russian_load_check_is_russian() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let good = rt.block_on(jim_server::spawn(jim_server::Config::default())).unwrap();
    let lossy = rt
        .block_on(jim_server::spawn(jim_server::Config {
            misbehave: vec![jim_server::Misbehave::DropRelays],
            ..jim_server::Config::default()
        }))
        .unwrap();
    let guest = rt
        .block_on(jim_server::spawn(jim_server::Config {
            misbehave: vec![jim_server::Misbehave::OneShot],
            ..jim_server::Config::default()
        }))
        .unwrap();
    let port = |s: &jim_server::RunningServer| s.addr().port().to_string();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut runs: Vec<(&str, Vec<String>)> = Vec::new();
    let with = |extra: &[&str], p: &str| -> Vec<String> {
        let mut a: Vec<String> = ["--host", "127.0.0.1", "--port", p].map(String::from).into();
        a.extend(SMALL.iter().map(|s| (*s).to_owned()));
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    runs.push(("pass", with(&[], &port(&good))));
    runs.push(("drop-relays", with(&[], &port(&lossy))));
    runs.push(("one-shot", with(&[], &port(&guest))));
    runs.push(("unreachable", with(&[], &free.to_string())));
    runs.push(("bad window", with(&["--window", "0"], &port(&good))));
    runs.push(("bad prefix", with(&["--name-prefix", "a-b"], &port(&good))));
    runs.push(("bad deadline", with(&["--deadline", "0"], &port(&good))));
    runs.push(("unknown option", with(&["--nosuch"], &port(&good))));
    let mut found = Vec::new();
    let mut printed = 0;
    for (name, args) in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = load_ru(&args);
        assert!(!text.trim().is_empty(), "[{name}] printed nothing");
        printed += text.lines().count();
        found.extend(jim_text::scan::untranslated_lines(name, &text));
    }
    for server in [good, lossy, guest] {
        rt.block_on(server.stop()).unwrap();
    }
    eprintln!("{} runs, {printed} lines printed, {} untranslated", runs.len(), found.len());
    assert!(found.is_empty(), "{} untranslated lines:\n{}", found.len(), found.join("\n"));
}
