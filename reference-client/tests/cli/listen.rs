use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

#[test]
fn prints_each_message_as_a_json_line_until_the_server_closes() {
    let fake = Fake::start(1, |c| {
        c.read_value();
        c.write(b"{\"response\":200}\n");
        c.write(b"{\"action\":\"msg\",\"time\":1,\"to\":\"Bob\",\"from\":\"Ann\",\"message\":\"one\"}{\"response\":205}");
        c.write(b"garbage\n{\"action\":\"probe\",\"time\":2}\n");
        // The probe must be answered with a presence before we close.
        let answer = c.read_value();
        let ok =
            answer.is_some_and(|a| a["action"] == "presence" && a["user"]["account_name"] == "Bob");
        c.write(if ok { b"{\"answered\":true}\n" } else { b"{\"answered\":false}\n" });
    });
    let out = jim().args(["listen", "--name", "Bob"]).args(hp(fake.addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let lines: Vec<Value> =
        stdout_of(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0]["message"], "one");
    assert_eq!(lines[1]["response"], 205);
    assert_eq!(lines[2]["action"], "probe");
    assert_eq!(lines[3]["answered"], true);
    let err = stderr_of(&out);
    assert!(err.contains("listening as Bob") && err.contains("not JSON"), "{err}");
    assert!(err.contains("closed the connection"), "{err}");
    fake.join();
}

#[test]
fn reference_rooms_in_course_dialect_and_count() {
    let server = RefServer::open();
    let [host, port] = hp(server.addr);
    let mut listener = Background::spawn(&[
        "listen",
        &host,
        &port,
        "--name",
        "Carol",
        "--dialect",
        "course",
        "--join",
        "#games",
        "--count",
        "1",
        "--duration",
        "15",
    ]);
    listener.wait_for("joined #games");
    jim()
        .args(["chat", &host, &port, "--name", "Dan", "--dialect", "course"])
        .write_stdin("/join #games\ngg\n")
        .assert()
        .code(0);
    assert_eq!(listener.finish(), Some(0));
    // Rooms exist only in the spec dialect: a `join` makes the server treat the connection as
    // spec (§dialect-detection), so the room relay may come as msg/message or message/mess_text.
    let first: Value = serde_json::from_str(&listener.stdout[0]).unwrap();
    assert!(first["message"] == "gg" || first["mess_text"] == "gg", "{first}");
    assert_eq!(first["to"], "#games");
    assert!(listener.stderr.iter().any(|l| l.contains("count reached")), "{:?}", listener.stderr);
}

#[test]
fn duration_bounds_a_quiet_listen_and_failures_are_clear() {
    let server = RefServer::open();
    jim()
        .args(["listen", "--name", "Q", "--duration", "300ms"])
        .args(hp(server.addr))
        .assert()
        .code(0)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("stopped (duration elapsed) after 0 messages"));
    jim()
        .args(["listen", "--name", "Q", "--join", "lobby"])
        .args(hp(server.addr))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--join '#lobby'"));
    let out = jim().args(["listen", "--name", "Q"]).args(hp(dead_port())).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_no_panic(&out);
}

#[test]
fn fake_failures_give_the_documented_exit_codes() {
    let fake = Fake::reply(b"{\"response\":400,\"error\":\"Bad Request\"}", true);
    jim().args(["listen", "--name", "Bob"]).args(hp(fake.addr)).assert().code(1).stderr(
        predicate::str::contains("refused").and(predicate::str::contains("400 Bad Request")),
    );
    fake.join();
    let fake = Fake::reply(b"message received", true);
    jim()
        .args(["listen", "--name", "Guest"])
        .args(hp(fake.addr))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not with JIM"));
    fake.join();
    let fake = Fake::start(1, |c| {
        c.read_value();
        c.wait_close();
    });
    jim()
        .args(["listen", "--name", "Guest", "--timeout", "300ms"])
        .args(hp(fake.addr))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no answer from"));
    fake.join();
}
