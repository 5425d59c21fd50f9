//! `jim-conformance load` end to end: the reference passes with nothing lost, student-style
//! servers that lose messages, refuse the login or die under load fail with exit 1 and say why,
//! and a target that is down, silent or misconfigured ends quickly with the documented code.
//! Every run is small (tens of connections, a fraction of a second of traffic) and bounded by
//! `--deadline`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_jim-conformance");

/// A small check: 20 held connections, 4 pairs, a room of 4, half a second per phase.
const SMALL: &[&str] = &[
    "--connections",
    "20",
    "--pairs",
    "4",
    "--room-members",
    "4",
    "--room-senders",
    "2",
    "--duration",
    "0.5",
    "--max-messages",
    "2000",
    "--reply-timeout",
    "1",
    "--deadline",
    "30",
];

fn load(args: &[&str]) -> Output {
    Command::new(BIN).arg("load").args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn target(file: &str) -> String {
    format!("python3 {}/tests/targets/{file} -p {{port}}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_embedded_reference_holds_everything_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("load.json");
    let mut args = SMALL.to_vec();
    args.extend(["--json", json.to_str().unwrap()]);
    let out = load(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("target: embedded reference server"), "{}", text(&out));
    assert!(stdout.contains("result: PASS"), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["schema"], "jim-conformance-load/v1");
    assert_eq!(report["passed"], true);
    assert_eq!(report["survived"], true);
    assert_eq!(report["connections"]["held"], 20);
    assert_eq!(report["still_open"], 20);
    assert_eq!(report["deliveries_lost"], 0);
    let made = report["deliveries_made"].as_u64().unwrap();
    assert!(made > 0 && Some(made) == report["deliveries_expected"].as_u64(), "{report}");
    assert_eq!(report["direct"]["status"], "ran");
    assert_eq!(report["room"]["status"], "ran");
}

#[test]
fn json_to_standard_output_replaces_the_text() {
    let args = ["--connections", "4", "--pairs", "2", "--room-members", "0", "--duration", "0.3"];
    let args = [&args[..], &["--max-messages", "500", "--json", "-"]].concat();
    let out = load(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("only JSON");
    assert_eq!(report["room"]["status"], "skipped");
    assert_eq!(report["passed"], true);
}

#[test]
fn the_python_example_server_passes() {
    common::python3();
    let spawn =
        format!("python3 {}/../examples/python/server.py -p {{port}}", env!("CARGO_MANIFEST_DIR"));
    let mut args = SMALL.to_vec();
    args.extend(["--spawn", &spawn]);
    let out = load(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 lost"), "{}", text(&out));
}

#[test]
fn a_server_that_takes_each_read_as_one_message_loses_messages() {
    common::python3();
    let mut args = SMALL.to_vec();
    let spawn = target("blocking_server.py");
    args.extend(["--spawn", &spawn]);
    let out = load(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("result: FAIL"), "{}", text(&out));
    assert!(stdout.contains("got response 400"), "{}", text(&out));
    assert!(!stdout.contains(" 0 lost, in"), "{}", text(&out));
}

#[test]
fn a_guest_only_lesson3_server_cannot_be_measured_and_says_why() {
    common::python3();
    let mut args = SMALL.to_vec();
    let spawn = target("lesson3_server.py");
    args.extend(["--spawn", &spawn]);
    let out = load(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("presence answered 400"), "{}", text(&out));
    assert!(stderr.contains("only Guest"), "{}", text(&out));
    assert!(stderr.contains("lesson3_server.py"), "{}", text(&out));
}

/// A select server that answers presences and exits on the first chat message.
const DIES_ON_FIRST_MESSAGE: &str = r#"
import select, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(128)
socks = [s]
while True:
    ready, _, _ = select.select(socks, [], [])
    for x in ready:
        if x is s:
            socks.append(s.accept()[0])
            continue
        data = x.recv(65536)
        if not data:
            socks.remove(x)
            x.close()
        elif b'"msg"' in data:
            sys.exit("crashed on the first message")
        else:
            x.sendall(b'{"response": 200}\n' * data.count(b'"presence"'))
"#;

#[test]
fn a_server_that_dies_under_load_is_reported_dead() {
    common::python3();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("dies.py");
    std::fs::write(&script, DIES_ON_FIRST_MESSAGE).unwrap();
    let spawn = format!("python3 {} {{port}}", script.display());
    let mut args = SMALL.to_vec();
    args.extend(["--spawn", &spawn]);
    let out = load(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("target survived: NO"), "{}", text(&out));
    assert!(stdout.contains("EXITED during the check"), "{}", text(&out));
    assert!(stdout.contains("crashed on the first message"), "{}", text(&out));
}

#[test]
fn a_target_that_is_down_gives_exit_3_quickly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = load(&["--port", &port.to_string()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the server running"));
}

#[test]
fn a_silent_target_fails_within_the_reply_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().take(5).flatten() {
            held.push(s);
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    let out = load(&["--port", &port.to_string(), "--reply-timeout", "0.5"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the setup of presence"));
    drop(keep);
}

#[test]
fn values_out_of_their_bounds_are_usage_errors_that_name_the_option() {
    for (args, says) in [
        (&["--connections", "1000000"][..], "connections must be at most"),
        (&["--window", "0"][..], "window must be"),
        (&["--duration", "0"][..], "--duration must be a positive number"),
        (&["--spawn", "python3 server.py"][..], "--spawn needs {port}"),
        (&["--host", "::1", "--spawn", "x {port}"][..], "cannot be used with"),
    ] {
        let out = load(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{args:?}: {}", text(&out));
    }
}

#[test]
fn a_failed_check_overwrites_an_old_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("load.json");
    std::fs::write(&json, r#"{"passed": true}"#).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = load(&["--port", &port.to_string(), "--json", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["passed"], false);
    assert_eq!(report["exit_code"], 3);
    assert!(report["error"].as_str().unwrap().contains("cannot connect"), "{report}");
}

#[test]
fn a_server_that_crashes_on_the_first_login_is_reported_dead_not_guest_only() {
    common::python3();
    let spawn = r#"python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
while True:
    c, _ = s.accept()
    if c.recv(100): sys.exit("KeyError: user")' {port}"#;
    let out = load(&["--spawn", spawn, "--reply-timeout", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("EXITED during the check"), "{}", text(&out));
    assert!(stderr.contains("KeyError: user"), "{}", text(&out));
    assert!(!stderr.contains("only Guest"), "{}", text(&out));
}

/// True when process `pid` is gone (or a zombie nobody will reap).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn ctrl_c_stops_the_check_and_the_server_it_started() {
    common::python3();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let spawn = format!(
        // A grandchild of the runner (sh stays in between, as with most commands), quiet so
        // that it cannot die of a broken pipe when the runner is gone.
        "python3 {}/../examples/python/server.py -p {{port}} >/dev/null 2>&1 & echo $! > {}; wait",
        env!("CARGO_MANIFEST_DIR"),
        pid_file.display()
    );
    let mut child = Command::new(BIN)
        .args(["load", "--spawn", &spawn, "--duration", "60", "--max-messages", "10000000"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let server_pid = loop {
        if let Some(pid) =
            std::fs::read_to_string(&pid_file).ok().and_then(|t| t.trim().parse::<i32>().ok())
        {
            break pid;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the server never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!gone(server_pid), "the server should be running during the check");
    let runner = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(runner, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the runner ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("interrupted (Ctrl-C)"), "{stderr}");
    let stopped = Instant::now();
    while !gone(server_pid) {
        assert!(
            stopped.elapsed() < Duration::from_secs(60),
            "the spawned server outlived the runner"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
