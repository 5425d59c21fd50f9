//! The `jim-server` binary: ready line, help, usage errors, signals, `--misbehave help`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::assert::OutputAssertExt;
use assert_cmd::cargo::CommandCargoExt;
use predicates::prelude::*;

/// Starts the server with `args` and returns it with the address from its ready line.
fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::cargo_bin("jim-server")
        .unwrap()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).expect("no ready line");
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("bad ready line {line:?}"))
        .trim_end()
        .to_owned();
    assert!(line.ends_with('\n'));
    (child, addr)
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

fn presence(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Guest\"}}\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn prints_the_ready_line_serves_and_exits_0_on_sigterm() {
    let (mut child, addr) = start(&["-p", "0"]);
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_ne!(addr, "127.0.0.1:0");
    let reply = presence(&addr);
    assert!(reply.starts_with("{\"response\":200,\"time\":"), "{reply}");
    assert!(reply.ends_with("\"alert\":\"OK\"}\n"), "{reply}");
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child).success());
}

#[test]
fn sigint_exits_0_and_ipv6_and_bare_framing_work() {
    let (mut child, addr) = start(&["-a", "::1", "-p", "0", "--framing", "bare"]);
    assert!(addr.starts_with("[::1]:"), "{addr}");
    let reply = presence(&addr);
    assert!(reply.starts_with('{') && reply.ends_with('}'), "bare framing: {reply:?}");
    signal(&child, "-INT");
    assert!(wait_exit(&mut child).success());
}

#[test]
fn help_teaches_with_examples() {
    Command::cargo_bin("jim-server")
        .unwrap()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("-a 0.0.0.0"))
        .stdout(predicate::str::contains("--misbehave"))
        .stdout(predicate::str::contains("listening on ADDR"));
}

#[test]
fn misbehave_help_lists_every_kind() {
    let assert =
        Command::cargo_bin("jim-server").unwrap().args(["--misbehave", "help"]).assert().success();
    let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    for kind in jim_server::Misbehave::ALL {
        assert!(out.contains(kind.name()), "{} missing from:\n{out}", kind.name());
    }
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["--port", "99999"][..],
        &["--addr", "not-an-ip"],
        &["--framing", "crlf"],
        &["--misbehave", "bogus"],
        &["--max-connections", "0"],
        &["--no-such-flag"],
    ] {
        Command::cargo_bin("jim-server")
            .unwrap()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::is_empty().not());
    }
}

#[test]
fn unreadable_users_file_and_busy_port_exit_1() {
    Command::cargo_bin("jim-server")
        .unwrap()
        .args(["-p", "0", "--users", "/nonexistent/users.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("users file"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    Command::cargo_bin("jim-server")
        .unwrap()
        .args(["-p", &port])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot listen"));
}

#[test]
fn crash_misbehaviours_end_the_process_with_a_failure_code() {
    for (kind, bad) in [
        ("crash-on-malformed", &b"{not json}\n"[..]),
        ("crash-on-missing-field", b"{\"action\":\"presence\",\"time\":1}\n"),
    ] {
        let (mut child, addr) = start(&["-p", "0", "--misbehave", kind]);
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(bad).unwrap();
        let status = wait_exit(&mut child);
        assert_eq!(status.code(), Some(1), "{kind}: {status:?}");
        assert!(TcpStream::connect(&addr).is_err(), "{kind}: still listening");
    }
}

#[test]
fn a_name_with_control_characters_cannot_forge_log_lines() {
    let mut child = Command::cargo_bin("jim-server")
        .unwrap()
        .args(["-p", "0"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    let addr = ready.trim_end().strip_prefix("listening on ").unwrap().to_owned();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // An ANSI "clear screen" and a newline that would start a fake log line.
    let evil = "\u{1b}[2J\nFORGED ERROR";
    let presence = serde_json::json!({"action":"presence","time":1,"user":{"account_name":evil}});
    s.write_all(format!("{presence}\n").as_bytes()).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("200"));
    drop(s);
    // The session has ended once the name is free again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = TcpStream::connect(&addr).unwrap();
        again.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        again.write_all(format!("{presence}\n").as_bytes()).unwrap();
        let n = again.read(&mut buf).unwrap();
        if String::from_utf8_lossy(&buf[..n]).contains("200") {
            break;
        }
        assert!(Instant::now() < deadline, "the name was never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child).success());
    let mut log = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut log).unwrap();
    let log = String::from_utf8_lossy(&log);
    assert!(log.contains("logged in"), "{log}");
    assert!(!log.contains('\u{1b}'), "a raw escape sequence reached the log:\n{log}");
    assert!(!log.lines().any(|l| l.starts_with("FORGED")), "a peer forged a log line:\n{log}");
}

/// Issue 16 item 10: logging never blocks serving. With stderr a pipe nobody drains, the server
/// froze after about 625 logins (an INFO line each filled the 64 KiB pipe and the write blocked
/// a worker); now lines beyond a bounded buffer are dropped and every login is answered.
#[test]
fn a_full_stderr_pipe_does_not_stop_the_server() {
    let mut child = Command::cargo_bin("jim-server")
        .unwrap()
        .args(["-p", "0"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Keep the pipe open and never read it.
    let _stderr = child.stderr.take().unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    let addr = ready.trim_end().strip_prefix("listening on ").unwrap().to_owned();
    let mut answered = 0;
    for i in 0..3_000 {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let presence = format!(
            "{{\"action\":\"presence\",\"time\":1,\"user\":{{\"account_name\":\"u{i}\"}}}}\n"
        );
        s.write_all(presence.as_bytes()).unwrap();
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            Ok(n) if String::from_utf8_lossy(&buf[..n]).contains("200") => answered += 1,
            _ => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answered, 3_000, "the server stopped answering with its log pipe full");
}
