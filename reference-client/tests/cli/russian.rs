//! Issue 15 item 5: every running line of `jim-client --lang ru` is Russian. The common paths
//! of every command (ping, send, chat from a pipe, script, listen) run against the reference
//! server, against fakes that answer badly (plain text, a push storm, a refused login, an early
//! close) and with usage errors; everything printed, stdout and stderr, goes through the one
//! scanner the runner's test uses (`jim_text::scan`). What may stay Latin: JSON, addresses,
//! commands and flags, protocol words (`presence`, `msg`, `#room`) and what the server sent
//! (quoted). Names and texts that peers send are the peers' data, not the client's words: the
//! fakes here use ones that are not English words (`bob_2`, Cyrillic), so that the scan judges
//! only what the client itself says.

use std::io::Write;

use crate::common::{Fake, RefServer, dead_port, hp, jim};

/// Runs `jim-client --lang ru ARGS` with `stdin` and returns stdout and stderr together.
fn run_ru(args: &[&str], stdin: &str) -> String {
    let out = jim()
        .arg("--lang")
        .arg("ru")
        .args(args)
        .env("NO_COLOR", "1")
        .write_stdin(stdin.to_owned())
        .output()
        .unwrap();
    jim_text::scan::printed(&out)
}

fn script_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

/// A server that logs anyone in and then sends what a chat must describe: a relay to the user,
/// one to a room, a 205 push, a probe, bytes that are not JSON, an object that is not JIM, an
/// unknown action; then it waits for the client to leave.
fn chatty_fake() -> Fake {
    Fake::start(1, |c| {
        c.read_value();
        c.write(
            "{\"response\":200}\n\
              {\"action\":\"msg\",\"time\":1,\"from\":\"bob_2\",\"to\":\"me\",\"message\":\"привет\"}\n\
              {\"action\":\"msg\",\"time\":1,\"from\":\"bob_2\",\"to\":\"#r\",\"message\":\"всем\"}\n\
              {\"response\":205}\n{\"action\":\"probe\",\"time\":1}\n\
              {\"code\":200}\n{\"action\":\"fly\",\"time\":1}\n{\"action\":\"msg\"}\n\
              {\"response\":202,\"alert\":[\"bob_2\"]}\n\
              hello there\n"
                .as_bytes(),
        );
        c.wait_close();
    })
}

#[test]
fn every_running_line_is_russian() {
    let server = RefServer::open();
    let accounts = RefServer::accounts(&[("Alice", "secret")]);
    let [host, port] = hp(server.addr);
    let (h, p) = (host.as_str(), port.as_str());
    let [ah, ap] = hp(accounts.addr);
    let [dh, dp] = hp(dead_port());
    let pass = script_file(
        "{\"send\": {\"action\":\"presence\",\"time\":\"$now\",\"type\":\"status\",\
         \"user\":{\"account_name\":\"Guest\",\"status\":\"here\"}}}\n\
         {\"expect\": {\"response\": 200}}\n",
    );
    let fail = script_file(
        "{\"send\": {\"action\":\"fly\",\"time\":\"$now\"}}\n{\"expect\": {\"response\": 200}}\n",
    );
    let (pass, fail) = (pass.path().to_str().unwrap(), fail.path().to_str().unwrap());
    let presence = r#"{"action":"presence","time":1,"type":"status","user":{"account_name":"Ann","status":"x"}}"#;

    let mut runs: Vec<(String, String)> = Vec::new();
    let mut run = |name: &str, args: &[&str], stdin: &str| {
        runs.push((name.to_owned(), run_ru(args, stdin)));
    };
    run("ping", &["ping", h, p], "");
    run("ping refused", &["ping", &dh, &dp], "");
    let text = Fake::reply(b"hello, this is not JIM\n", true);
    run("ping not JIM", &["ping", "127.0.0.1", &text.addr.port().to_string()], "");
    text.join();
    let array = Fake::reply(b"[1,2]\n{\"status\":200}\n", true);
    run("ping array", &["ping", "127.0.0.1", &array.addr.port().to_string()], "");
    array.join();
    let push = Fake::reply(b"{\"response\":205}\n", true);
    run("ping push", &["ping", "127.0.0.1", &push.addr.port().to_string()], "");
    push.join();
    let closes = Fake::start(1, |c| {
        c.read_value();
    });
    run("ping closed", &["ping", "127.0.0.1", &closes.addr.port().to_string()], "");
    closes.join();
    let partial = Fake::reply(b"{\"response\":", false);
    let pp = partial.addr.port().to_string();
    run("ping partial", &["ping", "--timeout", "0.3", "127.0.0.1", &pp], "");
    partial.join();
    run("ping 409", &["ping", "--name", "Alice", &ah, &ap], "");
    run(
        "send",
        &[
            "send",
            h,
            p,
            presence,
            r#"{"action":"fly","time":1}"#,
            "--raw",
            "oops\\n",
            "--wait",
            "300",
        ],
        "",
    );
    run("send close", &["send", h, p, r#"{"action":"quit","time":1}"#, "--wait", "2000"], "");
    run("send bad json", &["send", h, p, "{nope"], "");
    run("send nothing", &["send", h, p], "");
    run("send refused", &["send", &dh, &dp, "{}"], "");
    run(
        "chat",
        &["chat", h, p, "--name", "ann_1"],
        "/help\n/join #r\nhello all\n/to bob_2\n/msg bob_2 hi\n/contacts\n/add bob_2\n/users\n\
         /raw {nope\n/leave r\n/nope\n/msg\nno target yet\n/leave #r\n/quit\n",
    );
    run("chat course", &["chat", h, p, "--name", "cid_3", "--dialect", "course"], "/contacts\n");
    let fake = chatty_fake();
    run("chat fake", &["chat", "127.0.0.1", &fake.addr.port().to_string(), "--name", "me"], "");
    fake.join();
    run("chat no password", &["chat", &ah, &ap, "--name", "Alice"], "");
    run("chat wrong password", &["chat", &ah, &ap, "--name", "Alice", "--password", "x"], "");
    run("script pass", &["script", h, p, pass], "");
    run("script fail", &["script", h, p, fail], "");
    run("script missing", &["script", h, p, "/nonexistent/script.jsonl"], "");
    run("script refused", &["script", &dh, &dp, pass], "");
    run("listen", &["listen", h, p, "--name", "lee_4", "--join", "#r", "--duration", "0.3"], "");
    run("listen bad room", &["listen", h, p, "--name", "lee_4", "--join", "r"], "");
    run("listen refused", &["listen", &dh, &dp, "--name", "lee_4"], "");

    let mut found = Vec::new();
    let mut printed = 0;
    for (name, text) in &runs {
        assert!(!text.trim().is_empty(), "[{name}] printed nothing");
        printed += text.lines().count();
        found.extend(jim_text::scan::untranslated_lines(name, text));
    }
    eprintln!("{} runs, {printed} lines printed, {} untranslated", runs.len(), found.len());
    assert!(found.is_empty(), "{} untranslated lines:\n{}", found.len(), found.join("\n"));
}

/// Issue 15 item 5: a script that does not parse is told in Russian: which line, and what is
/// wrong with it (the fixture language's step errors carry their Russian), for every kind of
/// mistake a student's script can make in a line; exit status 2 in each.
#[test]
fn a_bad_script_is_told_in_russian() {
    let [dh, dp] = hp(dead_port());
    let bad = [
        "{\"send\": 1}\n{\"sned\": {}}",
        "{\"send\": {\"action\":\"presence\"}",
        "// only a comment",
        "[1]",
        "{\"expect\": 1, \"send\": 2}",
        "{\"timeout_ms\": 5}",
        "{\"expect_silence\": {\"for_ms\": 99999}}",
        "{\"expect_silence\": 1}",
        "{\"listen_ms\": 0}",
        "{\"send_raw\": 5}",
        "{\"expect\": {}, \"optional_under\": \"nope\"}",
        "{\"expect\": {}, \"one_write\": 1}",
        "{\"expect_any\": []}",
        "{\"close_stdin\": true}",
        "{\"send\": {}, \"timeout_ms\": 0}",
        "{\"send\": {}, \"delivery\": \"x\"}",
        "{\"expect\": {}, \"delivery\": \"split\"}",
        "{\"disconnect\": 3}",
        "{\"expect_list\": 3}",
        "{\"expect_list\": {\"code\": 1}}",
        "{\"expect_list\": {\"nope\": 1}}",
        "{\"tolerate\": 1}",
        "{\"tolerate\": {\"tolerance\": 1, \"pattern\": {}}}",
        "{\"expect_close\": 1}",
        "{\"send\": {}, \"note\": \"x\"}",
        "{\"conn\": 5, \"send\": {}}",
    ];
    let mut found = Vec::new();
    for (i, text) in bad.iter().enumerate() {
        let file = script_file(text);
        let out = jim()
            .args(["--lang", "ru", "script", &dh, &dp])
            .arg(file.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let printed = jim_text::scan::printed(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {printed}");
        assert!(
            printed.contains("строка") || printed.contains("нет ни одного шага"),
            "{text}: {printed}"
        );
        found.extend(jim_text::scan::untranslated_lines(&format!("script {i}"), &printed));
    }
    assert!(found.is_empty(), "{} untranslated lines:\n{}", found.len(), found.join("\n"));
}

/// Without `--lang`, the locale decides (LC_ALL, then LC_MESSAGES, then LANG), as in the runner;
/// the JSON output stays English whatever the language.
#[test]
fn the_locale_chooses_russian_and_json_stays_english() {
    let server = RefServer::open();
    let [h, p] = hp(server.addr);
    let send = |env: &[(&str, &str)], json: bool| {
        let mut cmd = jim();
        cmd.env_remove("LC_ALL").env_remove("LC_MESSAGES").env_remove("LANG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        if json {
            cmd.arg("--json");
        }
        let out = cmd.args(["send", &h, &p, r#"{"action":"quit","time":1}"#]).output().unwrap();
        jim_text::scan::printed(&out)
    };
    assert!(send(&[("LANG", "ru_RU.UTF-8")], false).contains("подключено к"));
    assert!(send(&[("LC_MESSAGES", "ru_RU.UTF-8"), ("LANG", "C")], false).contains("подключено к"));
    assert!(send(&[("LC_ALL", "C"), ("LANG", "ru_RU.UTF-8")], false).contains("connected to"));
    let json = send(&[("LANG", "ru_RU.UTF-8")], true);
    assert!(json.contains("\"event\":\"closed\""), "{json}");
    assert!(!jim_text::scan::has_cyrillic(&json), "{json}");
}
