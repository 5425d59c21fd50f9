use std::io::Write;

use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

// Scripts are written in the conformance suite's fixture language (fixtures/README.md): the
// same steps, matcher and escapes as the fixtures, run by the runner's executor.

const SPEC_SCRIPT: &str = r##"// lesson 3, then rooms and contacts, spec dialect
{"send": {"action":"presence","time":"$now","type":"status","user":{"account_name":"Alice","status":"here"}}}
{"expect": {"response": 200, "time": "$number"}}
# join a room and talk to nobody in particular
{"send": {"action":"join","time":"$now","room":"#lobby"}}
{"expect": {"response": 200}}
{"send": {"action":"get_contacts","time":"$now"}}
{"expect": {"response": 202, "alert": []}, "timeout_ms": 2000}
{"send_raw": "{\"action\":\"fly\"}\n"}
{"expect": {"response": 400, "error": "$string"}}
{"send": {"action":"quit","time":"$now"}}
{"expect_close": true}
"##;

fn script_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn spec_script_passes_against_the_reference() {
    let server = RefServer::open();
    let f = script_file(SPEC_SCRIPT);
    jim()
        .arg("script")
        .args(hp(server.addr))
        .arg(f.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ok: 10 steps, every expectation held"));
}

#[test]
fn spec_script_passes_against_the_python_example() {
    let Some(server) = PyServer::start() else { return };
    let f = script_file(SPEC_SCRIPT);
    jim().arg("script").args(hp(server.addr)).arg(f.path()).assert().code(0);
}

#[test]
fn course_script_from_stdin() {
    let server = RefServer::open();
    let script = r#"
{"send": {"action":"presence","time":"$now","user":{"account_name":"Bob"}}}
{"expect": {"response": 200}}
{"send": {"action":"message","time":"$now","from":"Bob","to":"Bob","mess_text":"note to self"}}
{"expect": {"action":"message","from":"Bob","mess_text":"note to self"}}
{"expect": {"response": 200}}
{"send": {"action":"get_users","time":"$now","account_name":"Bob"}}
{"expect": {"response": 202, "data_list": ["Bob"]}}
{"send": {"action":"exit","time":"$now","account_name":"Bob"}}
{"expect_close": true}
"#;
    jim()
        .args(["script", "--json"])
        .args(hp(server.addr))
        .arg("-")
        .write_stdin(script)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(r#"{"ok":true,"steps":9}"#));
}

#[test]
fn first_mismatch_is_printed_with_line_expected_and_got() {
    let server = RefServer::open();
    let script = "{\"send\": {\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Eve\"}}}\n\
                  {\"expect\": {\"response\": 400}}\n{\"expect\": {\"response\": 200}}\n";
    let out =
        jim().arg("script").args(hp(server.addr)).arg("-").write_stdin(script).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_of(&out);
    assert!(text.contains("line 2: FAIL"), "{text}");
    assert!(text.contains("expected: {\"response\":400}"), "{text}");
    assert!(text.contains("got:      {\"response\":200"), "{text}");
    assert!(text.contains(".response: expected 400, got 200"), "{text}");

    let out = jim()
        .args(["script", "--json"])
        .args(hp(server.addr))
        .arg("-")
        .write_stdin(script)
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(stdout_of(&out).trim()).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["line"], 2);
}

#[test]
fn silence_times_out_as_a_mismatch() {
    let fake = Fake::start(1, |c| {
        c.read_value();
        c.wait_close();
    });
    let script = "{\"send\": {\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Guest\"}}}\n\
                  {\"expect\": {\"response\": 200}, \"timeout_ms\": 300}\n";
    jim().arg("script").args(hp(fake.addr)).arg("-").write_stdin(script).assert().code(1).stdout(
        predicate::str::contains("line 2: FAIL")
            .and(predicate::str::contains("nothing within 0.3 s")),
    );
    fake.join();
}

#[test]
fn plain_text_and_one_shot_close_are_reported() {
    let fake = Fake::reply(b"message received", true);
    let script = "{\"send\": {\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Guest\"}}}\n\
                  {\"expect\": {\"response\": 200}}\n";
    jim()
        .arg("script")
        .args(hp(fake.addr))
        .arg("-")
        .write_stdin(script)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("not JSON: `message received`"));
    fake.join();

    let fake = Fake::reply(b"{\"response\":200}", true);
    let script = "{\"send\": {\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Guest\"}}}\n\
                  {\"expect\": {\"response\": 200}}\n{\"expect_close\": true}\n";
    jim().arg("script").args(hp(fake.addr)).arg("-").write_stdin(script).assert().code(0);
    fake.join();
}

#[test]
fn bad_scripts_exit_2_and_unreachable_exits_3() {
    jim()
        .args(["script", "127.0.0.1", "7777", "-"])
        .write_stdin("{\"expect\": {}}\n{\"sendd\": 1}\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("script line 2"));
    jim()
        .args(["script", "127.0.0.1", "7777", "/nonexistent/checks.jsonl"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read script"));
    let out = jim()
        .arg("script")
        .args(hp(dead_port()))
        .arg("-")
        .write_stdin("{\"listen_ms\": 1}\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_no_panic(&out);
}
