use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

#[test]
fn reference_spec_dialect_answers_200() {
    let server = RefServer::open();
    let out = jim().arg("ping").args(hp(server.addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let line = stdout_of(&out);
    let re = regex_lite(&line);
    assert!(re, "unexpected output {line:?}");
}

/// `200 OK (N ms)` and nothing else.
fn regex_lite(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("200 OK (") else { return false };
    let Some(ms) = rest.strip_suffix(" ms)\n") else { return false };
    ms.chars().all(|c| c.is_ascii_digit()) && !ms.is_empty()
}

#[test]
fn reference_course_dialect_json_output() {
    let server = RefServer::open();
    let out = jim()
        .args(["ping", "--dialect", "course", "--json", "--name", "Alice"])
        .args(hp(server.addr))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_str(stdout_of(&out).trim()).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["code"], 200);
    assert_eq!(v["sent"]["user"], serde_json::json!({"account_name": "Alice"}));
    assert!(v["sent"].get("type").is_none(), "course presence has no type");
    assert!(v["ms"].is_u64());
}

#[test]
fn python_example_server_answers_200() {
    let Some(server) = PyServer::start() else {
        eprintln!("python3 not available: skipped");
        return;
    };
    jim()
        .arg("ping")
        .args(hp(server.addr))
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("200 welcome, Guest ("));
}

#[test]
fn unreachable_server_exits_3_with_one_clear_line() {
    let addr = dead_port();
    let out = jim().arg("ping").args(hp(addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr_of(&out);
    assert!(err.contains(&format!("cannot connect to {addr}")), "{err}");
    assert!(err.contains("is the server running"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_no_panic(&out);
}

#[test]
fn coalesced_replies_are_decoded_separately() {
    let fake =
        Fake::reply(b"{\"response\":200,\"alert\":\"OK\"}{\"action\":\"probe\",\"time\":1}", false);
    jim()
        .arg("ping")
        .args(hp(fake.addr))
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("200 OK ("));
    fake.join();
}

#[test]
fn one_shot_server_closing_after_the_reply_is_fine() {
    // A lesson-3 server: bare {"response":200}, no newline, then close.
    let fake = Fake::reply(b"{\"response\":200}", true);
    jim()
        .arg("ping")
        .args(hp(fake.addr))
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("200 OK ("));
    fake.join();
}

#[test]
fn plain_text_reply_is_not_jim_exit_1() {
    let fake = Fake::reply(b"message received", true);
    let out = jim().arg("ping").args(hp(fake.addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("responds, but not with JIM"), "{err}");
    assert!(err.contains("`message received`"), "{err}");
    assert_no_panic(&out);
    fake.join();
}

#[test]
fn plain_text_without_close_is_not_jim_either() {
    let fake = Fake::reply(b"ok", false);
    let out = jim().args(["ping", "--timeout", "1"]).args(hp(fake.addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("`ok`"), "{}", stderr_of(&out));
    fake.join();
}

#[test]
fn json_without_response_field_is_not_jim() {
    let fake = Fake::reply(b"{\"code\":200}\n", true);
    let out = jim().args(["ping", "--json"]).args(hp(fake.addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(stdout_of(&out).trim()).unwrap();
    assert_eq!(v["outcome"], "not_jim");
    assert!(v["error"].as_str().unwrap().contains("\"code\""), "{v}");
}

#[test]
fn a_400_exits_1_and_hints_at_guest() {
    let fake = Fake::reply(b"{\"response\":400,\"error\":\"Bad Request\"}", true);
    let out = jim().args(["ping", "--name", "Alice"]).args(hp(fake.addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout_of(&out).starts_with("400 Bad Request ("), "{}", stdout_of(&out));
    assert!(stderr_of(&out).contains("--name Guest"), "{}", stderr_of(&out));
    fake.join();
}

#[test]
fn no_reply_exits_3_after_the_timeout() {
    let fake = Fake::start(1, |c| {
        c.read_value();
        c.wait_close();
    });
    let out = jim().args(["ping", "--timeout", "500ms"]).args(hp(fake.addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr_of(&out);
    assert!(err.contains(&format!("no answer from {} within 500 ms", fake.addr)), "{err}");
    assert_no_panic(&out);
    fake.join();
}

#[test]
fn close_without_reply_exits_3() {
    let fake = Fake::start(1, |c| {
        c.read_value();
    });
    let out = jim().arg("ping").args(hp(fake.addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr_of(&out).contains("closed the connection without answering"));
    fake.join();
}

#[test]
fn usage_errors_exit_2() {
    jim().args(["ping"]).assert().code(2);
    jim().args(["ping", "127.0.0.1", "notaport"]).assert().code(2);
    jim().args(["ping", "127.0.0.1", "--dialect", "klingon"]).assert().code(2);
    jim()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("jim-client ping 127.0.0.1 7777"))
        .stdout(predicate::str::contains("Exit status"));
}

#[test]
fn terminal_escapes_from_the_server_are_not_printed_raw() {
    // An OSC "set window title" sequence and a newline in the response text.
    let fake =
        Fake::reply(b"{\"response\":200,\"alert\":\"OK\\u001b]0;pwned\\u0007\\nFORGED\"}\n", true);
    let out = jim().arg("ping").args(hp(fake.addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "raw control bytes: {text:?}");
    assert!(!text.lines().any(|l| l.starts_with("FORGED")), "a forged line: {text:?}");
    assert!(text.contains("pwned"), "the text is still shown, escaped: {text:?}");
    fake.join();
}

#[test]
fn a_205_push_is_not_taken_for_the_answer() {
    // §push-205: a client must not take the push for the response to its request.
    let fake = Fake::reply(b"{\"response\":205}\n", true);
    let out = jim().arg("ping").args(hp(fake.addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout_of(&out));
    assert!(stderr_of(&out).contains("205"), "{}", stderr_of(&out));
    fake.join();
}
