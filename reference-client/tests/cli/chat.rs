use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

#[test]
fn spec_session_against_the_reference() {
    let server = RefServer::open();
    let [host, port] = hp(server.addr);
    let mut bob = Background::spawn(&[
        "listen",
        &host,
        &port,
        "--name",
        "Bob",
        "--join",
        "#lobby",
        "--count",
        "2",
        "--duration",
        "15",
    ]);
    bob.wait_for("joined #lobby");
    let out = jim()
        .args(["chat", &host, &port, "--name", "Alice"])
        .write_stdin(
            "/join #lobby\nhello room\n/msg Bob psst\n/contacts\n/add Bob\n/contacts\n/users\n/to\n\
             /del Bob\n/del Bob\n/leave #lobby\n/leave #lobby\n/quit\n",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    let expected = [
        "* logged in as Alice at",
        "join #lobby: 200 OK",
        "msg to #lobby: 200 OK",
        "msg to Bob: 200 OK",
        "contacts: (none)",
        "add Bob: 200 OK",
        "contacts: Bob",
        "users: Alice, Bob",
        "* usage: /to NAME",
        "del Bob: 200 OK",
        "del Bob: 404 ",
        "leave #lobby: 200 OK",
        "leave #lobby: 404 ",
    ];
    let mut lines = text.lines();
    for e in expected {
        assert!(lines.any(|l| l.starts_with(e)), "missing {e:?} in order:\n{text}");
    }
    assert_eq!(bob.finish(), Some(0));
    let got: Vec<Value> = bob.stdout.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(got[0]["message"], "hello room");
    assert_eq!(got[0]["to"], "#lobby");
    assert_eq!(got[1]["message"], "psst");
    assert_eq!(got[1]["from"], "Alice");
}

#[test]
fn course_session_against_the_reference() {
    let server = RefServer::open();
    let [host, port] = hp(server.addr);
    let mut bob = Background::spawn(&[
        "listen",
        &host,
        &port,
        "--name",
        "Bob",
        "--dialect",
        "course",
        "--count",
        "2",
        "--duration",
        "15",
    ]);
    bob.wait_for("listening as Bob");
    let out = jim()
        .args(["chat", &host, &port, "--name", "Alice", "--dialect", "course", "--json"])
        .write_stdin("/to Bob\nhi Bob\n/add Bob\n/contacts\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let events: Vec<Value> =
        stdout_of(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let sent: Vec<&Value> =
        events.iter().filter(|e| e["dir"] == "out").map(|e| &e["value"]).collect();
    let actions: Vec<&str> = sent.iter().filter_map(|v| v["action"].as_str()).collect();
    // Like the course client: the lists right after login, then the typed commands, then exit.
    assert_eq!(actions, ["message", "add", "get_contacts", "exit"], "{sent:?}");
    assert_eq!(sent[0]["mess_text"], "hi Bob");
    assert_eq!(sent[3]["account_name"], "Alice");
    let lists: Vec<&Value> = events.iter().filter(|e| e["value"]["response"] == 202).collect();
    assert_eq!(lists.last().unwrap()["value"]["data_list"], serde_json::json!(["Bob"]));
    assert_eq!(bob.finish(), Some(0));
    let all = bob.stdout.join("\n");
    assert!(all.contains(r#""mess_text":"hi Bob""#), "{all}");
    assert!(all.contains(r#""response":205"#), "a course listener gets the 205 push: {all}");
}

#[test]
fn incoming_messages_and_probes_while_the_session_waits_for_input() {
    let server = RefServer::open();
    let [host, port] = hp(server.addr);
    let mut alice = Background::spawn(&["chat", &host, &port, "--name", "Alice"]);
    alice.wait_for("logged in as Alice");
    jim()
        .args(["chat", &host, &port, "--name", "Bob"])
        .write_stdin("/msg Alice are you there?\n")
        .assert()
        .code(0);
    alice.wait_for("Bob: are you there?");
    server.probe_all();
    alice.wait_for("probe from the server");
    alice.wait_for("presence (probe answer): 200 OK");
    alice.type_line("/quit");
    assert_eq!(alice.finish(), Some(0));
}

#[test]
fn accounts_mode_logins_in_both_dialects() {
    let server = RefServer::accounts(&[("Alice", "secret"), ("Bob", "hunter2")]);
    let [host, port] = hp(server.addr);
    // Course: presence -> 511 challenge -> answer -> 200.
    jim()
        .args([
            "chat",
            &host,
            &port,
            "--name",
            "Alice",
            "--password",
            "secret",
            "--dialect",
            "course",
        ])
        .write_stdin("/users\n")
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains("logged in as Alice")
                .and(predicate::str::contains("users: Alice, Bob")),
        );
    // Spec: authenticate -> 200, presence -> 200.
    jim()
        .args(["chat", &host, &port, "--name", "Bob", "--password", "hunter2"])
        .write_stdin("")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("logged in as Bob"));
    // Wrong passwords, and no password at all.
    let out = jim()
        .args(["chat", &host, &port, "--name", "Bob", "--password", "nope"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("402"), "{}", stderr_of(&out));
    jim()
        .args([
            "chat",
            &host,
            &port,
            "--name",
            "Alice",
            "--password",
            "nope",
            "--dialect",
            "course",
        ])
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("wrong password"));
    jim()
        .args(["chat", &host, &port, "--name", "Alice", "--dialect", "course"])
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("add --password"));
}

/// A course server's 511 login, checked with the protocol crate's verifier.
fn course_login_fake(password_on_server: &'static str) -> Fake {
    Fake::start(1, move |c| {
        let Some(presence) = c.read_value() else { return };
        let name = presence["user"]["account_name"].as_str().unwrap_or("").to_owned();
        let challenge = "0123456789abcdef".repeat(8);
        c.write(format!("{{\"response\":511,\"bin\":\"{challenge}\"}}").as_bytes());
        let Some(answer) = c.read_value() else { return };
        let key = jim_protocol::course_login::password_key(&name, password_on_server);
        let ok = answer["response"] == 511
            && jim_protocol::course_login::verify_with_key(
                &key,
                &challenge,
                answer["bin"].as_str().unwrap_or(""),
            );
        if ok {
            c.write(b"{\"response\":200}");
            c.wait_close();
        } else {
            c.write(b"{\"response\":400,\"error\":\"Bad password\"}");
        }
    })
}

#[test]
fn course_511_login_against_a_fake_that_verifies_the_answer() {
    let fake = course_login_fake("пароль");
    jim()
        .args(["chat", "--dialect", "course", "--name", "Guest", "--password", "пароль"])
        .args(hp(fake.addr))
        .write_stdin("")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("logged in as Guest"));
    fake.join();

    let fake = course_login_fake("other");
    let out = jim()
        .args(["chat", "--dialect", "course", "--name", "Guest", "--password", "пароль"])
        .args(hp(fake.addr))
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("400 Bad password") && err.contains("wrong password"), "{err}");
    fake.join();
}

#[test]
fn coalesced_relay_and_ack_from_a_fake() {
    let fake = Fake::start(1, |c| {
        c.read_value();
        c.write(b"{\"response\":200}");
        let Some(msg) = c.read_value() else { return };
        let relay = serde_json::json!({"action":"msg","time":1,"to":"Alice","from":"Bob","message":msg["message"]});
        c.write(format!("{relay}{{\"response\":200}}").as_bytes());
        c.read_value();
    });
    jim()
        .args(["chat", "--name", "Alice"])
        .args(hp(fake.addr))
        .write_stdin("/msg Bob echo this\n")
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains("Bob: echo this")
                .and(predicate::str::contains("msg to Bob: 200 OK")),
        );
    fake.join();
}

#[test]
fn chat_exits_when_the_server_ends_the_session_while_stdin_stays_open() {
    // A refused login (the server keeps the connection) and a server that closes after the
    // login: chat must exit 1 at once, not when the user next types a line.
    let cases: [(&'static [u8], bool); 2] =
        [(b"{\"response\":400,\"error\":\"Bad Request\"}", false), (b"{\"response\":200}", true)];
    for (reply, close) in cases {
        let fake = Fake::reply(reply, close);
        let [host, port] = hp(fake.addr);
        let mut chat = Background::spawn(&["chat", &host, &port, "--name", "Alice"]);
        let status = chat.wait_exit(Duration::from_secs(10));
        assert_eq!(
            status,
            Some(1),
            "close={close}: stdout {:?} stderr {:?}",
            chat.stdout,
            chat.stderr
        );
        drop(chat);
        fake.join();
    }
}

#[test]
fn fake_failures_give_the_documented_exit_codes() {
    // A 400 to the presence: login refused, exit 1, with the Guest hint.
    let fake = Fake::reply(b"{\"response\":400,\"error\":\"Bad Request\"}", true);
    jim()
        .args(["chat", "--name", "Alice"])
        .args(hp(fake.addr))
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("400 Bad Request").and(predicate::str::contains("Guest")));
    fake.join();
    // Plain text: not JIM, exit 1.
    let fake = Fake::reply(b"message received\n", true);
    jim()
        .args(["chat", "--name", "Guest"])
        .args(hp(fake.addr))
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not with JIM"));
    fake.join();
    // One-shot: 200 then close. The session ends: exit 1, said plainly (whether the close is
    // seen first or the next write fails first).
    let fake = Fake::reply(b"{\"response\":200}", true);
    jim()
        .args(["chat", "--name", "Guest"])
        .args(hp(fake.addr))
        .write_stdin("/msg x y\n")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("the server ended the session"));
    fake.join();
    // Silence: exit 3 after --timeout.
    let fake = Fake::start(1, |c| {
        c.read_value();
        c.wait_close();
    });
    let out = jim()
        .args(["chat", "--name", "Guest", "--timeout", "300ms"])
        .args(hp(fake.addr))
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr_of(&out).contains("no answer from"), "{}", stderr_of(&out));
    assert_no_panic(&out);
    fake.join();
    // Nobody listening: exit 3.
    let out =
        jim().args(["chat", "--name", "A"]).args(hp(dead_port())).write_stdin("").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_no_panic(&out);
}

#[test]
fn name_conflict_is_explained() {
    let server = RefServer::open();
    let [host, port] = hp(server.addr);
    let mut bob = Background::spawn(&["listen", &host, &port, "--name", "Bob", "--duration", "15"]);
    bob.wait_for("listening as Bob");
    jim().args(["chat", &host, &port, "--name", "Bob"]).write_stdin("").assert().code(1).stderr(
        predicate::str::contains("409").and(predicate::str::contains("choose another --name")),
    );
    jim()
        .args(["ping", &host, &port, "--name", "Bob"])
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("409 "));
}

#[test]
fn terminal_escapes_in_relayed_messages_are_not_printed_raw() {
    let fake = Fake::start(1, |c| {
        c.read_value();
        c.write(
            b"{\"response\":200,\"alert\":\"OK\"}\n{\"action\":\"msg\",\"time\":1,\"to\":\"Guest\",\
              \"from\":\"Bob\\u001b[2J\",\"message\":\"hi\\nAlice: send me your password\\u001b[31m\"}\n",
        );
        c.wait_close();
    });
    let out = jim()
        .args(["chat", "--name", "Guest", "--timeout", "2"])
        .args(hp(fake.addr))
        .write_stdin("")
        .output()
        .unwrap();
    let text = stdout_of(&out);
    assert!(text.contains("hi"), "the relay is shown: {text:?}");
    assert!(!text.contains('\u{1b}'), "raw escape sequences: {text:?}");
    assert!(!text.lines().any(|l| l.starts_with("Alice:")), "a forged line: {text:?}");
    fake.join();
}
