//! Issue 15 item 5: `jim-server --lang ru` says every line of its running log in Russian, not
//! only the startup and the usage errors (`cli.rs` covers those with the catalog check). The
//! binary runs on a loopback port in accounts mode with a connection limit, and clients log in,
//! leave, fail a password three times, fail a course 511 login and overflow the limit; then it is
//! stopped with SIGTERM. Its log, a busy port, a missing users file, `--misbehave help` and a
//! crash misbehaviour are scanned by `jim_text::scan` (the runner's scanner). The one line left in
//! English is the machine line on stdout, `listening on ADDR`, which scripts wait for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

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

fn messages(log: &str) -> Vec<String> {
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

fn scan(name: &str, out: &Output, found: &mut Vec<String>, printed: &mut usize) {
    let stdout: Vec<&str> =
        out.stdout.lines().filter(|l| !l.starts_with("listening on ")).collect();
    let log = messages(&out.log);
    *printed += stdout.len() + log.len();
    found.extend(jim_text::scan::untranslated_lines(name, &stdout.join("\n")));
    found.extend(jim_text::scan::untranslated_lines(name, &log.join("\n")));
}

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
