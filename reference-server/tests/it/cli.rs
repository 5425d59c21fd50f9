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

/// Issue 15 item 5: Russian everywhere, from `--lang` or the locale.
#[test]
fn help_and_defects_speak_russian() {
    for (args, env) in [(&["--lang", "ru", "--help"][..], None), (&["--help"], Some("ru_RU.UTF-8"))]
    {
        let mut cmd = Command::cargo_bin("jim-server").unwrap();
        cmd.args(args).env_remove("LC_ALL").env_remove("LC_MESSAGES");
        if let Some(locale) = env {
            cmd.env("LANG", locale);
        }
        let out = cmd.assert().success().get_output().stdout.clone();
        let help = String::from_utf8(out).unwrap();
        for word in ["Использование:", "Параметры:", "Примеры:", "Код выхода:", "по умолчанию"]
        {
            assert!(help.contains(word), "{word:?} missing:\n{help}");
        }
        for word in ["Usage:", "Options:", "Examples:", "Exit status:", "[default:", "Print help"] {
            assert!(!help.contains(word), "{word:?} in Russian help:\n{help}");
        }
    }
    let out = Command::cargo_bin("jim-server")
        .unwrap()
        .args(["--misbehave", "help", "--lang", "ru"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        assert!(jim_text::reads_as_russian(line), "an English line: {line}");
    }
    Command::cargo_bin("jim-server")
        .unwrap()
        .args(["--lang", "ru", "--misbehave", "bogus"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("неизвестный дефект"));
    Command::cargo_bin("jim-server")
        .unwrap()
        .args(["--lang", "ru", "--no-such-flag"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("неизвестный аргумент «--no-such-flag»"));
}

/// Issue 15 item 6: the help says how to use it and what the exit codes mean.
#[test]
fn help_has_examples_and_exit_status() {
    let out = Command::cargo_bin("jim-server")
        .unwrap()
        .args(["--lang", "en", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(out).unwrap();
    assert!(help.contains("Examples:\n"), "{help}");
    assert!(help.contains("Exit status:\n  0  stopped by Ctrl-C or SIGTERM"), "{help}");
    assert!(help.contains("  2  usage error"), "{help}");
}

#[test]
fn completions_and_man_page_are_generated() {
    for (shell, marker) in [
        ("bash", "_jim__server()"),
        ("zsh", "#compdef jim-server"),
        ("fish", "complete -c jim-server"),
    ] {
        Command::cargo_bin("jim-server")
            .unwrap()
            .args(["--completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains(marker).and(predicate::str::contains("misbehave")));
    }
    Command::cargo_bin("jim-server").unwrap().args(["--man"]).assert().success().stdout(
        predicate::str::contains(".TH jim-server 1").and(predicate::str::contains("\\-\\-users")),
    );
    Command::cargo_bin("jim-server")
        .unwrap()
        .args(["--man", "--lang", "ru"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Эталонный сервер JIM"));
}

/// NO_COLOR wins over everything, even CLICOLOR_FORCE (no-color.org).
#[test]
fn no_color_keeps_escape_codes_out_of_the_log() {
    let log_of = |no_color: bool| {
        let mut cmd = Command::cargo_bin("jim-server").unwrap();
        cmd.args(["-p", "0"])
            .env("CLICOLOR_FORCE", "1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let mut child = cmd.spawn().unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
        signal(&child, "-TERM");
        assert!(wait_exit(&mut child).success());
        let mut log = String::new();
        child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
        log
    };
    assert!(log_of(false).contains('\u{1b}'), "CLICOLOR_FORCE gives colour");
    let plain = log_of(true);
    assert!(!plain.contains('\u{1b}') && plain.contains("listening on"), "{plain}");
}

/// `-a 0.0.0.0` tells the teacher what students type; a loopback server says nothing of it.
#[test]
fn a_classroom_server_says_what_students_type() {
    let mut child = Command::cargo_bin("jim-server")
        .unwrap()
        .args(["-a", "0.0.0.0", "-p", "0", "--lang", "en"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    assert!(ready.starts_with("listening on 0.0.0.0:"), "the machine line stays: {ready}");
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child).success());
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    // Which of the two depends on this machine's interfaces; both name the port.
    let port = ready.trim_end().rsplit(':').next().unwrap().to_owned();
    assert!(
        log.contains("students type: jim-client ping ") && log.contains(&port)
            || log.contains(&format!("only this machine can connect (127.0.0.1 {port})")),
        "{log}"
    );
}

/// The lines of a tracing log without their `TIME LEVEL target:` prefix.
fn log_messages(log: &str) -> Vec<String> {
    log.lines()
        .map(|line| {
            if line.starts_with(|c: char| c.is_ascii_digit()) {
                line.split_whitespace().skip(3).collect::<Vec<_>>().join(" ")
            } else {
                line.to_owned()
            }
        })
        .filter(|l| !l.trim().is_empty())
        .collect()
}

fn english_lines(lines: &[String]) -> Vec<String> {
    lines.iter().filter(|l| !jim_text::reads_as_russian(l)).cloned().collect()
}

/// Issue 15 item 5, the acceptance scan: under `--lang ru` no line of the help, the startup
/// log or a usage error is English (option names, commands, addresses and JSON aside). The one
/// exception is the machine line on stdout, `listening on ADDR`, which scripts wait for.
#[test]
fn russian_help_startup_and_errors_have_no_english_line() {
    let help = Command::cargo_bin("jim-server")
        .unwrap()
        .args(["--lang", "ru", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help: Vec<String> = String::from_utf8(help).unwrap().lines().map(str::to_owned).collect();
    assert!(help.len() > 50, "{help:?}");
    assert_eq!(english_lines(&help), Vec::<String>::new());

    for addr in ["0.0.0.0", "127.0.0.1"] {
        let mut child = Command::cargo_bin("jim-server")
            .unwrap()
            .args(["--lang", "ru", "-a", addr, "-p", "0", "--misbehave", "no-time"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        stdout.read_line(&mut ready).unwrap();
        assert!(ready.starts_with("listening on "), "{ready}");
        signal(&child, "-TERM");
        assert!(wait_exit(&mut child).success());
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "", "stdout has only the ready line");
        let mut log = String::new();
        child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
        let lines = log_messages(&log);
        assert!(lines.len() >= 3, "{log}");
        assert!(log.contains("сервер останавливается"), "{log}");
        assert_eq!(english_lines(&lines), Vec::<String>::new(), "{log}");
    }

    let missing = tempfile::tempdir().unwrap().path().join("no-such-users.txt");
    let missing = missing.to_str().unwrap();
    for (args, code) in [
        (&["--lang", "ru", "-p", "x"][..], 2),
        (&["--lang", "ru", "--max-connections", "0"], 2),
        (&["--lang", "ru", "--max-message-bytes", "0"], 2),
        (&["--lang", "ru", "--framing", "crlf"], 2),
        (&["--lang", "ru", "--misbehave", "late-replies=x"], 2),
        (&["--lang", "ru", "-p", "0", "--users", missing], 1),
    ] {
        let out = Command::cargo_bin("jim-server")
            .unwrap()
            .args(args)
            .env("NO_COLOR", "1")
            .assert()
            .code(code)
            .get_output()
            .stderr
            .clone();
        let log = String::from_utf8(out).unwrap();
        let lines = log_messages(&log);
        assert!(lines.iter().any(|l| l.contains("ошибка")), "{args:?}: {log}");
        assert_eq!(english_lines(&lines), Vec::<String>::new(), "{args:?}: {log}");
    }
}

/// The server's output: stdout, then the log (stderr) without its `TIME LEVEL target:` prefix.
struct Output {
    stdout: String,
    log: String,
}

/// Waits for the child to exit (bounded), then collects what it wrote.
fn finish(mut child: Child, err_path: &std::path::Path) -> Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the server did not exit");
        // Exit is observed by polling: std has no bounded wait.
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let log = std::fs::read_to_string(err_path).unwrap();
    Output { stdout, log }
}

fn server(args: &[&str], err_path: &std::path::Path) -> Child {
    Command::cargo_bin("jim-server")
        .unwrap()
        .args(["--lang", "ru"])
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(err_path).unwrap())
        .spawn()
        .unwrap()
}

/// Reads the ready line and returns the loopback address to connect to.
fn ready(child: &mut Child) -> (String, BufReader<std::process::ChildStdout>) {
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port = line
        .trim_end()
        .rsplit(':')
        .next()
        .unwrap_or_else(|| panic!("bad ready line {line:?}"))
        .to_owned();
    (format!("127.0.0.1:{port}"), stdout)
}

/// One connection: writes `lines`, each after the answer to the one before, and returns what
/// came back (until the server closes or 2 s of silence).
fn session(addr: &str, lines: &[&str]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut got = String::new();
    for line in lines {
        if s.write_all(format!("{line}\n").as_bytes()).is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    got
}

fn scan(name: &str, out: &Output, found: &mut Vec<String>, printed: &mut usize) {
    let stdout: Vec<&str> =
        out.stdout.lines().filter(|l| !l.starts_with("listening on ")).collect();
    let log = log_messages(&out.log);
    *printed += stdout.len() + log.len();
    found.extend(jim_text::scan::untranslated_lines(name, &stdout.join("\n")));
    found.extend(jim_text::scan::untranslated_lines(name, &log.join("\n")));
}

/// Issue 15 item 5: `jim-server --lang ru` says every line of its running log in Russian, not
/// only the startup and the usage errors (`russian_help_startup_and_errors_have_no_english_line`
/// covers those). The
/// binary runs on a loopback port in accounts mode with a connection limit, and clients log in,
/// leave, fail a password three times, fail a course 511 login and overflow the limit; then it is
/// stopped with SIGTERM. Its log, a busy port, a missing users file, `--misbehave help` and a
/// crash misbehaviour are scanned by `jim_text::scan` (the runner's scanner). The one line left in
/// English is the machine line on stdout, `listening on ADDR`, which scripts wait for.
#[test]
fn every_line_of_a_russian_server_log_is_russian() {
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users.txt");
    std::fs::write(&users, "alice:secret\n").unwrap();
    let users = users.to_str().unwrap();
    let err = tmp.path().join("err.txt");
    let (mut found, mut printed) = (Vec::new(), 0);

    // A session of every kind against a classroom server.
    let mut child =
        server(&["-a", "0.0.0.0", "-p", "0", "--users", users, "--max-connections", "3"], &err);
    let (addr, stdout) = ready(&mut child);
    let auth = |password: &str| {
        format!(
            r#"{{"action":"authenticate","time":1,"user":{{"account_name":"alice","password":"{password}"}}}}"#
        )
    };
    let presence = r#"{"action":"presence","time":1,"type":"status","user":{"account_name":"alice","status":"x"}}"#;
    let got = session(&addr, &[&auth("secret"), presence, r#"{"action":"quit","time":1}"#]);
    assert!(got.contains("200"), "{got}");
    let wrong = auth("wrong");
    session(&addr, &[&wrong, &wrong, &wrong, &wrong]);
    let course = r#"{"action":"presence","time":1,"user":{"account_name":"alice"}}"#;
    let got = session(&addr, &[course, r#"{"response":511,"time":1,"bin":"AAAA"}"#]);
    assert!(got.contains("511"), "{got}");
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    // The fourth connection is over the limit: the server closes it at once.
    let mut over = TcpStream::connect(&addr).unwrap();
    over.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = over.read(&mut [0u8; 512]);
    drop(idle);
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    child.stdout = Some(stdout.into_inner());
    let out = finish(child, &err);
    scan("classroom session", &out, &mut found, &mut printed);
    let classroom_log = out.log;

    // A crash misbehaviour, a busy port, a missing users file, --misbehave help.
    let mut child = server(&["-p", "0", "--misbehave", "crash-on-missing-field"], &err);
    let (addr, stdout) = ready(&mut child);
    session(&addr, &[r#"{"action":"presence","time":1}"#]);
    child.stdout = Some(stdout.into_inner());
    scan("crash", &finish(child, &err), &mut found, &mut printed);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    scan("busy port", &finish(server(&["-p", &port], &err), &err), &mut found, &mut printed);
    let missing = tmp.path().join("none.txt");
    let args = ["-p", "0", "--users", missing.to_str().unwrap()];
    scan("no users file", &finish(server(&args, &err), &err), &mut found, &mut printed);
    let help = finish(server(&["--misbehave", "help"], &err), &err);
    assert!(help.stdout.lines().count() > 20, "{}", help.stdout);
    scan("--misbehave help", &help, &mut found, &mut printed);

    eprintln!("{printed} lines printed, {} untranslated", found.len());
    assert!(found.is_empty(), "{} untranslated lines:\n{}", found.len(), found.join("\n"));
    for word in ["вход выполнен", "клиент вышел", "3 неверных пароля", "предел соединений"]
    {
        assert!(classroom_log.contains(word), "{word:?} missing:\n{classroom_log}");
    }
}
