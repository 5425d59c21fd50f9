//! Issue 15 items 5 and 6 for `jim-client`: Russian help, errors and hints (`--lang`, else the
//! locale), `--json -` meaning stdout, completions and the man page.

use serde_json::Value;

use crate::common::{Fake, RefServer, dead_port, hp, jim, stderr_of, stdout_of};

fn english_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !jim_text::reads_as_russian(l))
        .map(str::to_owned)
        .collect()
}

#[test]
fn russian_help_of_every_command_has_no_english_line() {
    for command in ["", "ping", "chat", "send", "script", "listen"] {
        let mut cmd = jim();
        cmd.args(["--lang", "ru"]);
        if !command.is_empty() {
            cmd.arg(command);
        }
        let out = cmd.arg("--help").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{command}");
        let help = stdout_of(&out);
        for word in ["Примеры:", "Код выхода", "Использование:"] {
            assert!(help.contains(word), "{command}: {word:?} missing\n{help}");
        }
        assert_eq!(english_lines(&help), Vec::<String>::new(), "{command}:\n{help}");
    }
    // The locale decides when --lang is absent.
    let out = jim()
        .args(["ping", "--help"])
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "ru_RU.UTF-8")
        .output()
        .unwrap();
    assert!(stdout_of(&out).contains("Код выхода:"), "{}", stdout_of(&out));
}

#[test]
fn russian_errors_and_hints() {
    let out = jim().args(["--lang", "ru", "ping"]).args(hp(dead_port())).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr_of(&out);
    assert!(err.contains("не удаётся подключиться"), "{err}");
    assert_eq!(english_lines(&err), Vec::<String>::new(), "{err}");

    let fake = Fake::reply(b"{\"response\":400,\"error\":\"Bad Request\"}", true);
    let out = jim().args(["--lang", "ru", "ping", "--name", "Alice"]).args(hp(fake.addr)).output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("подсказка: эталонный сервер урока 3 принимает только имя Guest"),
        "{err}"
    );
    assert_eq!(english_lines(&err), Vec::<String>::new(), "{err}");
    fake.join();

    for args in
        [&["--lang", "ru", "ping"][..], &["--lang", "ru", "ping", "h", "x"], &["--lang", "ru"]]
    {
        let out = jim().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr_of(&out);
        assert!(err.contains("ошибка") || err.contains("укажите"), "{args:?}: {err}");
        assert_eq!(english_lines(&err), Vec::<String>::new(), "{args:?}: {err}");
    }
}

#[test]
fn json_dash_means_stdout() {
    let server = RefServer::open();
    for json in [&["--json"][..], &["--json", "-"], &["--json=-"]] {
        let out = jim().arg("ping").args(json).args(hp(server.addr)).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{json:?}: {}", stderr_of(&out));
        let v: Value = serde_json::from_str(stdout_of(&out).trim()).unwrap();
        assert_eq!(v["code"], 200, "{json:?}");
    }
    let out = jim().args(["ping", "--json=out.json"]).args(hp(server.addr)).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("stdout"), "{}", stderr_of(&out));
}

#[test]
fn completions_and_man_page() {
    let out = jim().args(["--completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let script = stdout_of(&out);
    assert!(script.contains("_jim__client()") && script.contains("listen"), "{script}");
    let out = jim().args(["--man", "--lang", "ru"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let man = stdout_of(&out);
    assert!(man.contains(".TH jim-client 1") && man.contains("Эталонный клиент JIM"), "{man}");
}
