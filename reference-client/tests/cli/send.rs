use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

const PRESENCE: &str = r#"{"action":"presence","time":1,"user":{"account_name":"Guest"}}"#;

#[test]
fn reference_server_replies_are_printed_with_times() {
    let server = RefServer::open();
    let out = jim()
        .arg("send")
        .args(hp(server.addr))
        .args([PRESENCE, r#"{"action":"get_contacts","time":1}"#, r#"{"action":"quit"}"#])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(text.contains(&format!("> {PRESENCE}")), "{text}");
    assert!(text.contains("< {\"response\":200,"), "{text}");
    assert!(text.contains("< {\"response\":202,"), "{text}");
    assert!(text.contains("(server closed the connection)"), "{text}");
    assert!(text.lines().skip(1).all(|l| l.starts_with('+') && l.contains(" ms  ")), "{text}");
}

#[test]
fn json_output_course_dialect_and_raw_bytes() {
    let server = RefServer::open();
    let out = jim()
        .args(["send", "--json", "--wait", "300"])
        .args(hp(server.addr))
        .args([
            PRESENCE,
            r#"{"action":"message","time":1,"from":"Guest","to":"Guest","mess_text":"hi"}"#,
        ])
        .args(["--raw", r"\xff\n"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let events: Vec<Value> =
        stdout_of(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ins: Vec<&Value> =
        events.iter().filter(|e| e["dir"] == "in").filter_map(|e| e.get("value")).collect();
    // The course relay to oneself comes before the ack (relay before ack, §order).
    assert_eq!(ins[0]["response"], 200);
    assert_eq!(ins[1]["mess_text"], "hi");
    assert_eq!(ins[2]["response"], 200);
    assert_eq!(ins[3]["response"], 400, "invalid UTF-8 gets 400: {events:?}");
    let outs: Vec<&Value> = events.iter().filter(|e| e["dir"] == "out").collect();
    assert_eq!(outs.len(), 3);
    assert_eq!(outs[2]["preview"], "`\\xff\\n`");
    let times: Vec<u64> = events.iter().filter_map(|e| e["ms"].as_u64()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(events.last().unwrap()["event"], "end");
}

/// A fake that answers every read with the bytes it got, as JSON.
fn echo_reads() -> Fake {
    Fake::start(1, |c| {
        while let Some(chunk) = c.read_chunk() {
            let reply =
                serde_json::json!({"response": 200, "chunk": String::from_utf8_lossy(&chunk)});
            c.write(format!("{reply}\n").as_bytes());
        }
    })
}

fn chunks(out: &std::process::Output) -> Vec<String> {
    stdout_of(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["value"]["chunk"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn coalesce_sends_everything_in_one_write() {
    let fake = echo_reads();
    let out = jim()
        .args(["send", "--json", "--coalesce", "--wait", "300"])
        .args(hp(fake.addr))
        .args([r#"{"a":1}"#, r#"{"b":2}"#])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(chunks(&out), vec!["{\"a\":1}\n{\"b\":2}\n".to_owned()]);
    fake.join();
}

#[test]
fn messages_go_in_separate_writes_by_default_and_split_cuts_them() {
    let fake = echo_reads();
    let out = jim()
        .args(["send", "--json", "--wait", "300"])
        .args(hp(fake.addr))
        .args([r#"{"a":1}"#, r#"{"b":2}"#])
        .output()
        .unwrap();
    assert_eq!(chunks(&out), vec!["{\"a\":1}\n".to_owned(), "{\"b\":2}\n".to_owned()]);
    fake.join();

    let fake = echo_reads();
    let out = jim()
        .args(["send", "--json", "--split", "3", "--trickle", "30", "--wait", "300"])
        .args(hp(fake.addr))
        .arg(r#"{"abc":12345}"#)
        .output()
        .unwrap();
    let got = chunks(&out);
    assert_eq!(got.concat(), "{\"abc\":12345}\n");
    assert!(got.len() > 1 && got.iter().all(|c| c.len() <= 3), "{got:?}");
    fake.join();
}

#[test]
fn coalesced_and_invalid_bytes_from_the_server_are_shown() {
    let fake =
        Fake::reply(b"{\"response\":200}{\"response\":201}\xff\xfe {\"response\":202}\n", true);
    let out = jim().arg("send").args(hp(fake.addr)).arg(PRESENCE).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout_of(&out);
    let received: Vec<&str> =
        text.lines().filter(|l| l.contains("  < ") || l.contains("  ! ")).collect();
    assert_eq!(received.len(), 4, "{text}");
    assert!(
        received[2].contains("! not valid UTF-8") && received[2].contains("\\xff\\xfe"),
        "{text}"
    );
    assert!(received[3].ends_with("< {\"response\":202}"), "{text}");
    fake.join();
}

#[test]
fn one_shot_close_stops_the_remaining_messages() {
    let fake = Fake::reply(b"{\"response\":200}", true);
    let out = jim().arg("send").args(hp(fake.addr)).args([PRESENCE, PRESENCE]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout_of(&out).contains("(server closed the connection)"));
    assert!(stderr_of(&out).contains("1 message not sent"), "{}", stderr_of(&out));
    fake.join();
}

#[test]
fn no_reply_waits_for_wait_ms_only() {
    let fake = Fake::start(1, |c| {
        c.read_value();
        c.wait_close();
    });
    jim()
        .args(["send", "--wait", "200"])
        .args(hp(fake.addr))
        .arg(PRESENCE)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("(nothing more after 200 ms)"));
    fake.join();
}

#[test]
fn bad_arguments_exit_2_and_unreachable_exits_3() {
    jim()
        .args(["send", "127.0.0.1", "7777", "{not json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not valid JSON").and(predicate::str::contains("--raw")));
    jim()
        .args(["send", "127.0.0.1", "7777", "--raw", r"\q"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown escape"));
    jim().args(["send", "127.0.0.1", "7777"]).assert().code(2);
    let out = jim().arg("send").args(hp(dead_port())).arg(PRESENCE).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_no_panic(&out);
}

#[test]
fn plain_text_and_a_400_are_shown_as_received() {
    let fake = Fake::reply(b"message received", true);
    let out = jim().arg("send").args(hp(fake.addr)).arg(PRESENCE).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout_of(&out);
    assert!(text.contains("! not valid JSON") && text.contains("`message`"), "{text}");
    assert!(text.contains("`received`"), "{text}");
    fake.join();

    let fake = Fake::reply(b"{\"response\":400,\"error\":\"Bad Request\"}", true);
    jim().args(["send", "--json"]).args(hp(fake.addr)).arg(PRESENCE).assert().code(0).stdout(
        predicate::str::contains(r#""dir":"in","value":{"response":400,"error":"Bad Request"}"#),
    );
    fake.join();
}
