//! Reproductions that reproduce (issue 13 item 11). What the runner prints under "reproduce"
//! is run by a shell, exactly as printed (but for the port), with this build's `jim-client` on
//! PATH:
//!
//! - every server-mode fixture, run against the in-process reference server (whole delivery;
//!   a sample also split with bare framing, and trickled), gives one `jim-client script` of
//!   its steps, and that script passes against the reference (exit 0): the scripts parse,
//!   their options exist, and they judge as the runner does;
//! - the failing cases of runs against `--misbehave` kinds (each with the cases the mutation
//!   test's matrix names for it, README "mutation-matrix") each print one reproduction that
//!   says how to start that server on a fixed port; run against that server it shows the
//!   failure (exit 1, a FAIL line), and against the plain reference it does not (exit 0).
//!
//! Loopback only; every process bounded by `jim-client`'s own timeouts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use jim_conformance::case::server::{Farewell, ServerSide, run_case};
use jim_conformance::case::{CaseEnv, Outcome};
use jim_conformance::matcher::Tolerances;
use jim_conformance::placeholders::Vars;
use jim_conformance::suite::Suite;
use jim_conformance::vocab::Delivery;
use jim_conformance::{RunOptions, TargetSpec, run_suite};
use jim_protocol::Framing;
use jim_server::{Config, Misbehave};

/// Fixtures also replayed split with bare framing, and trickled (trickling costs 5 ms a byte).
const SPLIT_SAMPLE: &[&str] = &["presence/basic", "msg/direct", "msg/unicode-raw", "rooms/fanout"];
const TRICKLE_SAMPLE: &[&str] = &["presence/basic", "robustness/invalid-utf8"];

/// PATH with this build's binaries first.
fn path() -> String {
    let bin = common::jim_client();
    format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default())
}

/// Runs `text` (a printed reproduction) with `sh`: exit code and standard output.
fn shell(text: &str, path: &str) -> (Option<i32>, String, String) {
    let out = Command::new("sh").arg("-c").arg(text).env("PATH", path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The reproduction of every selected fixture run against `addr`.
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
    let mut out = Vec::new();
    for (i, (fx, delivery, framing)) in runs.into_iter().enumerate() {
        let env = CaseEnv {
            tolerances: Tolerances::all_lenient(),
            timeout: Duration::from_secs(2),
            framing,
            delivery,
            // A name of its own: scripts run in parallel, and lesson-3 cases log in `$name`.
            vars: Vars::new(format!("rp{i}"), format!("guest_rp{i}")),
            pace: Default::default(),
        };
        let side = ServerSide {
            addr,
            shown_addr: addr.to_string(),
            farewell: Farewell::Quit,
            run_tag: None,
            await_close: false,
            start: None,
            watch: None,
        };
        let run = run_case(fx, env, side).await;
        assert!(!matches!(run.outcome, Outcome::Error(_)), "{} could not reach the server", fx.id);
        assert_eq!(run.reproduce.len(), 1, "{}: one reproduction per case", fx.id);
        for cmd in run.reproduce {
            out.push((format!("{} [{delivery}]", fx.id), cmd.en().to_owned()));
        }
    }
    out
}

#[test]
fn every_fixture_is_one_script_that_passes_against_the_reference() {
    let path = path();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = rt.block_on(jim_server::spawn(jim_server::Config::default())).unwrap();
    let scripts = rt.block_on(reproductions(server.addr()));
    assert!(scripts.len() > 90, "only {} reproductions", scripts.len());
    assert!(scripts.iter().all(|(_, s)| s.contains("| \njim-client script") || s.contains("|\njim-client script")));
    assert!(
        scripts.iter().any(|(_, s)| s.contains("--delivery split") && s.contains("--framing bare"))
    );
    assert!(scripts.iter().any(|(_, s)| s.contains("--delivery trickle")));
    assert!(scripts.iter().any(|(_, s)| s.contains("\"send_raw\"")), "no raw step");
    let queue = Mutex::new(scripts.clone());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some((id, script)) = queue.lock().unwrap().pop() {
                    let (code, stdout, stderr) = shell(&script, &path);
                    if code != Some(0) || stderr.contains("panicked") {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{id}: exit {code:?}:\n{script}\n{stdout}\n{stderr}"));
                    }
                }
            });
        }
    });
    rt.block_on(server.shutdown());
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} scripts fail against the reference:\n{}",
        failures.len(),
        scripts.len(),
        failures.join("\n")
    );
}

/// Kinds and the cases that catch them (README "mutation-matrix", as `tests/mutation.rs`
/// measures it; cases that need registered accounts left out), with the delivery modes run
/// (`ignore-quit` runs with `--strict`: open-after-quit forgives the open socket of
/// `quit/closes` otherwise; `quit/frees-name` fails it either way).
fn matrix() -> Vec<(Misbehave, &'static [&'static str], Vec<Delivery>)> {
    let whole = || vec![Delivery::Whole];
    vec![
        (Misbehave::WrongCode, &["presence/basic", "msg/direct"][..], whole()),
        (Misbehave::PlainText, &["presence/basic"], whole()),
        (Misbehave::PythonRepr, &["presence/basic"], whole()),
        (Misbehave::OneShot, &["msg/direct"], whole()),
        (Misbehave::CloseOnAccept, &["presence/basic"], whole()),
        (Misbehave::CrashOnMissingField, &["presence/missing-account-name"], whole()),
        (
            Misbehave::ReadIsMessage,
            &["robustness/split-request", "robustness/two-in-one-write", "presence/basic"],
            vec![Delivery::Whole, Delivery::Split, Delivery::Trickle],
        ),
        (Misbehave::OneClientAtATime, &["msg/direct"], whole()),
        (Misbehave::DropRelays, &["msg/direct", "message/direct"], whole()),
        (Misbehave::BroadcastDirect, &["msg/only-to-addressee"], whole()),
        (Misbehave::RoomLeak, &["rooms/not-to-non-members"], whole()),
        (Misbehave::SpoofableFrom, &["msg/from-is-session-name"], whole()),
        (Misbehave::DuplicateNames, &["presence/duplicate-name"], whole()),
        (Misbehave::SilentErrors, &["errors/unknown-action"], whole()),
        (Misbehave::IgnoreQuit, &["quit/closes", "quit/frees-name"], whole()),
    ]
}

#[test]
fn every_printed_reproduction_shows_the_failure_on_its_mutant_and_not_on_the_reference() {
    let path = path();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut checked, mut multi, mut split) = (0, 0, 0);
    let mut wrong = Vec::new();
    for (kind, only, delivery) in matrix() {
        let opts = RunOptions {
            profile: Some("all".into()),
            strict: kind == Misbehave::IgnoreQuit,
            only: only.iter().map(|s| (*s).to_owned()).collect(),
            timeout: Duration::from_secs(1),
            deadline: Duration::from_secs(120),
            delivery,
            jobs: Some(1),
            ..RunOptions::default()
        };
        let target =
            TargetSpec::Embedded(Box::new(Config { misbehave: vec![kind], ..Config::default() }));
        let report = rt.block_on(run_suite(target, opts)).unwrap();
        let live_port = report.target.address.rsplit(':').next().unwrap().to_owned();
        let failed: Vec<_> = report.cases.iter().filter(|c| c.failure.is_some()).collect();
        assert!(!failed.is_empty(), "{kind}: no case failed");
        for c in failed {
            let f = c.failure.as_ref().unwrap();
            let name = format!("{kind}: {} [{}]", c.id, c.delivery);
            assert_eq!(f.reproduce.len(), 1, "{name}: one reproduction");
            let text = f.reproduce[0].en();
            // (c) The target the run started: how to start it on a fixed port, not its port.
            let start = format!(
                "# start the server first, listening on 127.0.0.1:7777: jim-server --port 7777 --misbehave {kind}\n"
            );
            assert!(text.starts_with(&start), "{name}:\n{text}");
            assert!(text.ends_with("127.0.0.1 7777 -"), "{name}:\n{text}");
            assert!(!text.contains(&format!(" {live_port} ")), "{name}: the run's port:\n{text}");
            // (a) The delivery mode goes with it.
            if c.delivery != Delivery::Whole {
                assert!(text.contains(&format!("--delivery {}", c.delivery)), "{name}:\n{text}");
                split += 1;
            }
            // (b) Two connections or more: still one script.
            if text.contains("\"conn\":\"b\"") {
                multi += 1;
            }
            for (server, want) in [(Some(kind), 1), (None, 0)] {
                let config =
                    Config { misbehave: server.into_iter().collect(), ..Config::default() };
                let s = rt.block_on(jim_server::spawn(config)).unwrap();
                let port = format!("127.0.0.1 {} -", s.addr().port());
                let (code, stdout, stderr) = shell(&text.replace("127.0.0.1 7777 -", &port), &path);
                rt.block_on(s.shutdown());
                let shows =
                    if want == 1 { stdout.contains("FAIL") } else { stdout.contains("ok:") };
                if code != Some(want) || !shows {
                    let against = server.map_or("the reference".to_owned(), |k| k.to_string());
                    wrong.push(format!(
                        "{name} against {against}: exit {code:?}, wanted {want}:\n{text}\n{stdout}{stderr}"
                    ));
                }
            }
            checked += 1;
        }
    }
    rt.shutdown_timeout(Duration::from_secs(1));
    eprintln!(
        "{checked} reproductions checked ({multi} with two connections or more, {split} split or trickled)"
    );
    assert!(multi >= 5 && split >= 2, "{multi} multi-connection, {split} split or trickled");
    assert!(
        wrong.is_empty(),
        "{} of {checked} do not reproduce:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// A field program run with `--spawn`, and what the test expects of its reproductions.
struct Spawned {
    /// File under `tests/field/`.
    file: &'static str,
    /// Its arguments after the file (`{port}` is the port, `{dir}` the field directory).
    args: &'static str,
    only: &'static [&'static str],
    delivery: Vec<Delivery>,
    /// `--accounts` file under `tests/field/`.
    accounts: Option<&'static str>,
    /// Text every reproduction must carry.
    carries: &'static str,
}

/// Runs `t` with `--spawn`, then every failing case's reproduction against the program
/// (started as its comment says, on a free port: it must fail) and against the reference (it
/// must pass). Returns the number of reproductions checked.
fn check_spawned(t: &Spawned) -> usize {
    let python = common::python3();
    let path = path();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/field");
    let dir = dir.display().to_string();
    let args = t.args.replace("{dir}", &dir);
    let file = format!("{dir}/{}", t.file);
    let command = format!("{python} {file} {args}");
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let accounts = t.accounts.map(|a| {
        let a = format!("{dir}/{a}");
        jim_conformance::accounts::parse(&std::fs::read_to_string(&a).unwrap(), &a).unwrap()
    });
    let opts = RunOptions {
        only: t.only.iter().map(|s| (*s).to_owned()).collect(),
        delivery: t.delivery.clone(),
        deadline: Duration::from_secs(120),
        mode: jim_conformance::run::ServerOptions {
            accounts: accounts.unwrap_or_default(),
            ..Default::default()
        },
        ..RunOptions::default()
    };
    let report = rt.block_on(run_suite(TargetSpec::Spawn { command }, opts)).unwrap();
    let live_port = report.target.address.rsplit(':').next().unwrap().to_owned();
    let failed: Vec<_> = report.cases.iter().filter(|c| c.failure.is_some()).collect();
    assert!(!failed.is_empty(), "{}: nothing failed: {:#?}", t.file, report.cases);
    let start = format!(
        "# start the server first, listening on 127.0.0.1:7777: {python} {file} {}\n",
        args.replace("{port}", "7777")
    );
    for c in &failed {
        let text = c.failure.as_ref().unwrap().reproduce[0].en().to_owned();
        let name = format!("{}: {} [{}]", t.file, c.id, c.delivery);
        assert!(text.starts_with(&start), "{name}:\n{text}");
        assert!(!text.contains(&format!(" {live_port} ")), "{name}: the run's port:\n{text}");
        assert!(text.contains(t.carries), "{name}: no {}:\n{text}", t.carries);
        if c.delivery != Delivery::Whole {
            assert!(text.contains(&format!("--delivery {}", c.delivery)), "{name}:\n{text}");
        }
        // The program, started as the comment says but on a free port.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let started = args.replace("{port}", &port.to_string());
        let mut server = Command::new(python)
            .arg(&file)
            .args(started.split_whitespace())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let script = text.replace("127.0.0.1 7777 -", &format!("127.0.0.1 {port} -"));
        // Exit 3 is "cannot connect": the program is not listening yet; ask again.
        let mut result = shell(&script, &path);
        for _ in 0..50 {
            if result.0 != Some(3) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            result = shell(&script, &path);
        }
        let _ = server.kill();
        let _ = server.wait();
        assert_eq!(
            result.0,
            Some(1),
            "{name} against the program:\n{text}\n{}{}",
            result.1,
            result.2
        );
        assert!(result.1.contains("FAIL"), "{name}:\n{}", result.1);
        let reference = rt.block_on(jim_server::spawn(Config::default())).unwrap();
        let port = format!("127.0.0.1 {} -", reference.addr().port());
        let (code, stdout, stderr) = shell(&text.replace("127.0.0.1 7777 -", &port), &path);
        rt.block_on(reference.shutdown());
        assert_eq!(code, Some(0), "{name} against the reference:\n{text}\n{stdout}{stderr}");
    }
    failed.len()
}

/// After `--spawn`: the reproduction of a case that failed on a spawned target says how to
/// start it on port 7777 (the run's port is gone), and carries what the run used: the
/// target's measured loop turn (`--turn`, so that split pieces reach a slow loop in separate
/// reads, as in the run) and the delivery mode; or the registered accounts the case drew
/// (`--account`, so that a two-client case of a server that admits only its database's users
/// is one script too). Run against that program it fails, and against the reference it passes.
#[test]
fn after_spawn_the_reproduction_starts_the_target_and_replays_the_case_as_run() {
    // The field's course server with a 0.3 s loop turn and one recv() per message.
    let slow = Spawned {
        file: "slow_select_one_recv.py",
        args: "-p {port} -a 127.0.0.1",
        only: &["users/get-users", "robustness/split-request"],
        delivery: vec![Delivery::Whole, Delivery::Split],
        accounts: None,
        carries: " --turn ",
    };
    // The field's course-final server that admits only the accounts of its database.
    let accounts = Spawned {
        file: "course_final_accounts.py",
        args: "-p {port} -a 127.0.0.1 --db :memory: --seed @{dir}/course_final_accounts.txt",
        only: &["message/mid-course-fields", "robustness/blank-lines"],
        delivery: vec![Delivery::Whole],
        accounts: Some("course_final_accounts.txt"),
        carries: " --account ",
    };
    let checked = check_spawned(&slow) + check_spawned(&accounts);
    eprintln!("{checked} reproductions of spawned targets checked");
}
