//! Every `jim-client` reproduction the runner prints must parse and run: every server-mode
//! fixture runs against the in-process reference server (whole delivery; a sample also split
//! with bare framing, and trickled), and every `jim-client send` line of each run is executed
//! by a shell, exactly as printed but for `--wait 0 --gap 0` (so that it does not linger), with
//! this build's `jim-client` on PATH. A line must neither be a usage error (exit 2: an escape
//! or an option `jim-client` does not know) nor fail to reach the server (exit 3).
//!
//! Loopback only; every process bounded by `jim-client`'s own timeouts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use jim_conformance::case::server::{Farewell, ServerSide, run_case};
use jim_conformance::case::{CaseEnv, Outcome};
use jim_conformance::matcher::Tolerances;
use jim_conformance::placeholders::Vars;
use jim_conformance::suite::Suite;
use jim_conformance::vocab::Delivery;
use jim_protocol::Framing;

/// Fixtures also replayed split with bare framing, and trickled (trickling costs 5 ms a byte).
const SPLIT_SAMPLE: &[&str] = &["presence/basic", "msg/direct", "msg/unicode-raw", "rooms/fanout"];
const TRICKLE_SAMPLE: &[&str] = &["presence/basic", "robustness/invalid-utf8"];

/// The reproduction lines of every selected fixture run against `addr`.
async fn reproductions(addr: std::net::SocketAddr) -> Vec<(String, String)> {
    let suite = Suite::embedded().unwrap();
    let mut runs = Vec::new();
    for fx in suite.fixtures.iter().filter(|f| f.server_steps().is_some() && !f.shares_account()) {
        runs.push((fx, Delivery::Whole, Framing::Newline));
        if SPLIT_SAMPLE.contains(&fx.id.as_str()) {
            runs.push((fx, Delivery::Split, Framing::Bare));
        }
        if TRICKLE_SAMPLE.contains(&fx.id.as_str()) {
            runs.push((fx, Delivery::Trickle, Framing::Newline));
        }
    }
    let mut lines = Vec::new();
    for (i, (fx, delivery, framing)) in runs.into_iter().enumerate() {
        let env = CaseEnv {
            tolerances: Tolerances::all_lenient(),
            timeout: Duration::from_secs(2),
            framing,
            delivery,
            vars: Vars::new(format!("rp{i}"), "Guest"),
            pace: Default::default(),
        };
        let side = ServerSide {
            addr,
            shown_addr: addr.to_string(),
            farewell: Farewell::Quit,
            run_tag: None,
            await_close: false,
        };
        let run = run_case(fx, env, side).await;
        assert!(!matches!(run.outcome, Outcome::Error(_)), "{} could not reach the server", fx.id);
        for cmd in run.reproduce {
            for line in cmd.lines().filter(|l| !l.starts_with('#')) {
                lines.push((format!("{} [{delivery}]", fx.id), line.to_owned()));
            }
        }
    }
    lines
}

#[test]
fn every_jim_client_reproduction_parses_and_runs() {
    let bin = common::jim_client();
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = rt.block_on(jim_server::spawn(jim_server::Config::default())).unwrap();
    let lines = rt.block_on(reproductions(server.addr()));
    assert!(lines.len() > 100, "only {} reproduction lines", lines.len());
    assert!(lines.iter().any(|(_, l)| l.contains(" --raw ")), "no raw reproduction");
    assert!(lines.iter().any(|(_, l)| l.contains("--split 7") && l.contains("--framing bare")));
    assert!(lines.iter().any(|(_, l)| l.contains("--trickle 5")));
    let queue = Mutex::new(lines.clone());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some((id, line)) = queue.lock().unwrap().pop() {
                    let quick =
                        line.replacen("jim-client send ", "jim-client send --wait 0 --gap 0 ", 1);
                    let out = Command::new("sh")
                        .arg("-c")
                        .arg(&quick)
                        .env("PATH", &path)
                        .output()
                        .unwrap();
                    let code = out.status.code();
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    if !matches!(code, Some(0 | 1)) || stderr.contains("panicked") {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{id}: exit {code:?}: {line}\n{stderr}"));
                    }
                }
            });
        }
    });
    rt.block_on(server.shutdown());
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} lines fail:\n{}",
        failures.len(),
        lines.len(),
        failures.join("\n")
    );
}
