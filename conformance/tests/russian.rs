//! `--lang ru` speaks Russian on every line (issue 13 item 12, issue 15 item 5): the runner is
//! run against failing targets of every kind (misbehaving reference servers in host mode, field
//! servers in spawn mode, field clients, `explore`, an unreachable target, usage errors) and
//! every line it prints is scanned for English prose. What may stay Latin: case ids, JSON,
//! commands and flags, file paths, protocol words (JIM keys and actions, levels, verdicts),
//! numbers and units, and what the target itself printed (its output tail, a client's
//! stdout/stderr). A label must not touch its value (`отправлено:{…`).
//!
//! The scan is [`untranslated`]; `the_scanner_*` tests show what it catches and what it lets
//! through, so that a change to it that blinds it fails here too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::field::{self, Group};

/// JIM keys, actions and values, levels, verdicts, delivery modes, capabilities, units:
/// words a Russian sentence about JIM uses as they are.
const PROTOCOL_WORDS: &[&str] = &[
    // actions and keys (PROTOCOL.md, both dialects)
    "presence",
    "probe",
    "msg",
    "quit",
    "join",
    "leave",
    "authenticate",
    "response",
    "error",
    "alert",
    "time",
    "user",
    "account_name",
    "status",
    "type",
    "action",
    "to",
    "from",
    "message",
    "encoding",
    "room",
    "password",
    "contacts",
    "add_contact",
    "del_contact",
    "get_contacts",
    "get_users",
    "exit",
    "add",
    "remove",
    "sender",
    "destination",
    "mess_text",
    "message_text",
    "data_list",
    "pubkey",
    "pubkey_need",
    "online",
    "ascii",
    "utf",
    "json",
    "jim",
    "id",
    "data",
    "bin",
    // levels, verdicts, modes, dialects, profiles, capabilities
    "must",
    "should",
    "may",
    "info",
    "pass",
    "fail",
    "skip",
    "lenient",
    "unimplemented",
    "whole",
    "split",
    "trickle",
    "newline",
    "bare",
    "spec",
    "lesson",
    "auto",
    "all",
    "rooms",
    "users",
    "auth",
    "strict",
    "guest",
    "survived",
    "died",
    "zombie",
    "run",
    "not",
    // units and technical words written in Latin in Russian texts too
    "ms",
    "kib",
    "mib",
    "tcp",
    "ip",
    "os",
    "rst",
    "pid",
    "eof",
    "stdin",
    "stdout",
    "stderr",
    "recv",
    "send",
    "sendall",
    "select",
    "socket",
    "python",
    "keyerror",
    "hmac",
    "cldr",
    "sigkill",
    "sigterm",
    "signal",
    "localhost",
    "raw",
    // Python in hints (`while True: send(...)`)
    "while",
    "true",
    "false",
    "none",
    "if",
    "else",
    "in",
    "is",
    "str",
    "int",
    "dict",
    "list",
    "def",
    "return",
    "try",
    "except",
    "import",
    "with",
    "as",
    "for",
];

/// Labels whose continuation lines are the target's own output (not the runner's words).
const OUTPUT_LABELS: &[&str] = &["вывод сервера", "stdout (вывод)", "stderr (ошибки)"];

/// True for a token that is code, data or a name rather than a word of prose.
fn is_code_token(token: &str) -> bool {
    let t = token.trim_matches(|c: char| ",.;:!?()[]'\"«»".contains(c));
    t.is_empty()
        || t.starts_with('-')
        || t.starts_with('$')
        || t.starts_with('#')
        || t.contains(|c: char| {
            c.is_ascii_digit() || "/_.=<>{}[]()\\@`'\"|*+%&$#~:-".contains(c)
        })
        || PROTOCOL_WORDS.contains(&t.to_ascii_lowercase().as_str())
        // An upper-case word is a name or a verdict tag (FAIL, SKIP, KeyError is mixed).
        || (t.len() > 1 && t.chars().all(|c| c.is_ascii_uppercase() || c == '-'))
}

/// A Latin word of prose: ASCII letters only (an apostrophe allowed), not code.
fn is_english_word(token: &str) -> bool {
    let t = token.trim_matches(|c: char| ",.;:!?()[]'\"«»".contains(c));
    !is_code_token(token)
        && t.len() >= 2
        && t.chars().all(|c| c.is_ascii_alphabetic() || c == '\'')
        && !t.starts_with('\'')
}

/// `line` with JSON objects and arrays, backtick spans and double-quoted strings taken out
/// (data, not prose).
fn without_data(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut depth = 0usize;
    let (mut in_str, mut in_tick, mut escaped) = (false, false, false);
    for c in line.chars() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        if in_tick {
            in_tick = c != '`';
            continue;
        }
        match c {
            '"' => in_str = true,
            '`' => in_tick = true,
            '{' | '[' => depth += 1,
            '}' | ']' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => {
                out.push(c);
                continue;
            }
        }
        out.push(' ');
    }
    out
}

fn has_cyrillic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

/// A command line to type (a reproduction), not a sentence.
fn is_command_line(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or_default();
    [
        "jim-client",
        "jim-server",
        "jim-conformance",
        "python3",
        "python",
        "printf",
        "nc",
        "echo",
        "cat",
        "sleep",
        "(",
        "{",
        "}",
        ")",
        "|",
        "$",
    ]
    .contains(&first)
        // `explore`'s terminals: `A$ jim-client chat ...`, `B> /msg ...`
        || (first.len() == 2 && first.starts_with(|c: char| c.is_ascii_uppercase())
            && (first.ends_with('$') || first.ends_with('>')))
        || first.contains('=')
        || line.trim_start().starts_with("import ")
        || line.trim_start().starts_with("from ")
}

/// Why `line` is not Russian, or `None` when it is (or needs no translation).
pub fn untranslated(line: &str) -> Option<&'static str> {
    let chars: Vec<char> = line.chars().collect();
    let glued = chars
        .windows(3)
        .any(|w| w[1] == ':' && has_cyrillic(&w[0].to_string()) && !w[2].is_whitespace());
    if glued {
        return Some("a label glued to its value");
    }
    if is_command_line(line.trim_start()) {
        return None;
    }
    let prose = without_data(line);
    let words: Vec<&str> = prose.split_whitespace().collect();
    let english: Vec<bool> = words.iter().map(|w| is_english_word(w)).collect();
    if has_cyrillic(&prose) {
        let run = english.windows(2).any(|w| w[0] && w[1]);
        // A part of the line (between a label's colon, a semicolon, a dash or brackets)
        // without Cyrillic and with two English words: a value left in English.
        let part = prose.split([':', ';']).any(|part| {
            !has_cyrillic(part)
                && part.split_whitespace().filter(|w| is_english_word(w)).count() >= 2
        });
        (run || part).then_some("English words in a Russian line")
    } else {
        english.iter().any(|e| *e).then_some("an English line")
    }
}

/// Headings after which the more indented lines are a program (`explore`'s Python script).
const CODE_HEADS: &[&str] = &["скрипт Python"];

/// The lines of `text` the runner wrote itself: lines under an output label (the target's
/// stdout, stderr, traceback), the tail of the target's output and printed programs are left
/// out.
fn runner_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let (mut in_output, mut in_tail) = (false, false);
    let mut code_indent: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(head) = code_indent {
            if indent > head || trimmed.is_empty() {
                continue;
            }
            code_indent = None;
        }
        if CODE_HEADS.iter().any(|h| trimmed.starts_with(h)) {
            code_indent = Some(indent);
        }
        let labelled = OUTPUT_LABELS.iter().any(|l| trimmed.starts_with(&format!("{l}:")));
        let tail_head = trimmed.starts_with("вывод сервера (");
        if labelled || tail_head {
            // The label line itself carries the first output line after the label; the
            // summary's tail heading is followed by indented lines of output.
            in_output = true;
            in_tail = tail_head;
            continue;
        }
        // A continuation line (deep indent), or any indented line of the tail, is more of
        // the same output.
        if in_output && (indent >= 15 || (in_tail && indent >= 2)) {
            continue;
        }
        (in_output, in_tail) = (false, false);
        lines.push(line);
    }
    lines
}

/// Every offending line of one run's output, with the run's name.
fn scan(name: &str, text: &str) -> Vec<String> {
    runner_lines(text)
        .into_iter()
        .filter_map(|line| untranslated(line).map(|why| format!("[{name}] {why}: {line}")))
        .collect()
}

/// The runner under test: this build's, or `JIM_CONFORMANCE_BIN` (to count what another
/// build, say main's, leaves in English).
fn runner_bin() -> std::path::PathBuf {
    std::env::var_os("JIM_CONFORMANCE_BIN").map_or_else(field::runner, Into::into)
}

/// Runs the runner with `args` (in `cwd`) and returns what it printed (stdout and stderr).
fn runner(args: &[String], cwd: &Path) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let out_path = tmp.path().join("out.txt");
    let out = std::fs::File::create(&out_path).unwrap();
    let err = out.try_clone().unwrap();
    let mut cmd = Command::new(runner_bin());
    cmd.args(args).current_dir(cwd).stdin(Stdio::null()).stdout(out).stderr(err);
    cmd.env("NO_COLOR", "1").env("LANG", "C").env_remove("LC_ALL").env_remove("LC_MESSAGES");
    let began = Instant::now();
    let mut child = Group(cmd.spawn().unwrap());
    while began.elapsed() < field::WALL_GUARD {
        if let Ok(Some(_)) = child.0.try_wait() {
            break;
        }
        // The child's exit is observed by polling: no other wait can be bounded.
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(child);
    String::from_utf8_lossy(&std::fs::read(&out_path).unwrap_or_default()).into_owned()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// One `--lang ru` run: a name and the arguments (a misbehaving reference server, when given,
/// runs in this process and `{port}` becomes its port).
struct Run {
    name: &'static str,
    misbehave: Option<jim_server::Misbehave>,
    args: Vec<String>,
}

fn runs() -> Vec<Run> {
    use jim_server::Misbehave as M;
    let dir = field::dir();
    let dir = dir.to_str().unwrap();
    let spawn = |file: &str| format!("python3 {dir}/{file} -p {{port}} -a 127.0.0.1");
    let client = |file: &str| format!("python3 {dir}/{file} {{host}} {{port}}");
    let host = |kind: M, profile: &'static str, extra: &[&str]| {
        let mut a =
            args(&["server", "--host", "127.0.0.1", "--port", "{port}", "--profile", profile]);
        a.extend(args(&["--timeout", "0.5", "--lang", "ru"]));
        a.extend(args(extra));
        Run { name: kind.name(), misbehave: Some(kind), args: a }
    };
    vec![
        host(M::CrashOnMissingField, "spec", &[]),
        host(M::PythonRepr, "lesson3", &[]),
        host(M::WrongCode, "spec", &[]),
        host(M::NoTime, "spec", &["--delivery", "whole,split"]),
        host(M::DropRelays, "spec", &[]),
        Run {
            name: "never_reads.py",
            misbehave: None,
            args: {
                let mut a = args(&["server", "--spawn"]);
                a.push(spawn("never_reads.py"));
                a.extend(args(&["--profile", "spec", "--timeout", "0.5", "--lang", "ru"]));
                a
            },
        },
        Run {
            name: "lesson3_classic.py",
            misbehave: None,
            args: {
                let mut a = args(&["server", "--spawn"]);
                a.push(spawn("lesson3_classic.py"));
                a.extend(args(&["--lang", "ru"]));
                a
            },
        },
        Run {
            name: "client_str_dict_client_name.py",
            misbehave: None,
            args: {
                let mut a = args(&["client", "--spawn"]);
                a.push(client("client_str_dict_client_name.py"));
                a.extend(args(&["--timeout", "1", "--lang", "ru"]));
                a
            },
        },
        Run {
            name: "client_glue_reads_badly.py",
            misbehave: None,
            args: {
                let mut a = args(&["client", "--spawn"]);
                a.push(client("client_glue_reads_badly.py"));
                a.extend(args(&["--timeout", "1", "--lang", "ru"]));
                a
            },
        },
        Run {
            name: "explore room-leak",
            misbehave: Some(M::RoomLeak),
            args: args(&[
                "explore",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--profile",
                "spec",
                "--sessions",
                "30",
                "--budget",
                "20",
                "--shrink-replays",
                "40",
                "--timeout",
                "1",
                "--lang",
                "ru",
            ]),
        },
        Run {
            name: "unreachable",
            misbehave: None,
            args: args(&["server", "--host", "127.0.0.1", "--port", "{free}", "--lang", "ru"]),
        },
        Run {
            name: "usage: --spawn without {port}",
            misbehave: None,
            args: args(&["server", "--spawn", "python3 server.py", "--lang", "ru"]),
        },
        Run {
            name: "usage: unknown profile",
            misbehave: None,
            args: args(&["server", "--profile", "nosuch", "--lang", "ru"]),
        },
        Run {
            name: "usage: unknown delivery",
            misbehave: None,
            args: args(&["server", "--delivery", "nosuch", "--lang", "ru"]),
        },
    ]
}

#[test]
fn every_line_of_a_russian_report_is_russian() {
    common::python3();
    let began = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cwd = field::dir();
    let mut found = Vec::new();
    let mut printed = 0;
    // Two runs at a time: the runner itself runs several cases at once.
    for pair in runs().chunks(2) {
        let outputs: Vec<(String, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = pair
                .iter()
                .map(|run| {
                    let (rt, cwd) = (&rt, &cwd);
                    s.spawn(move || {
                        let server = run.misbehave.map(|kind| {
                            let config = jim_server::Config {
                                misbehave: vec![kind],
                                ..jim_server::Config::default()
                            };
                            rt.block_on(jim_server::spawn(config)).unwrap()
                        });
                        let port = server.as_ref().map(|s| s.addr().port());
                        let free = free_port().to_string();
                        let args: Vec<String> = run
                            .args
                            .iter()
                            .map(|a| {
                                let a = a.replace("{free}", &free);
                                match port {
                                    Some(p) if a == "{port}" => p.to_string(),
                                    _ => a,
                                }
                            })
                            .collect();
                        let text = runner(&args, cwd);
                        if let Some(server) = server {
                            let _ = rt.block_on(server.stop());
                        }
                        (run.name.to_owned(), text)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (name, text) in outputs {
            assert!(!text.trim().is_empty(), "[{name}] printed nothing");
            printed += text.lines().count();
            found.extend(scan(&name, &text));
        }
    }
    eprintln!(
        "{} runs, {printed} lines printed, {} untranslated, {:.1} s",
        runs().len(),
        found.len(),
        began.elapsed().as_secs_f64()
    );
    assert!(found.is_empty(), "{} untranslated lines:\n{}", found.len(), found.join("\n"));
}

#[test]
fn the_scanner_catches_english_and_glued_labels() {
    for bad in [
        "  опции        timeout 2 s per step, deadline 300 s",
        "FAIL (must) presence/basic  presence gets 200",
        "    почему:    expected 200, got 400",
        "    отправлено:{\"action\": \"presence\"}",
        "причина: nothing within 2 s",
        "unreachable",
        "    # the server must answer the first request",
        "    пришло:    connection refused: server down? (127.0.0.1:1)",
        "    причина:   шаг 4: ничего; после: step 1 (conn a): opened a connection",
        "  профиль      spec; имя unique per case (guest_x..)",
    ] {
        assert!(untranslated(bad).is_some(), "not caught: {bad}");
    }
}

#[test]
fn the_scanner_lets_ids_json_commands_and_protocol_words_through() {
    for good in [
        "FAIL            (must) presence/basic  presence получает 200",
        "    отправлено: {\"action\": \"presence\", \"time\": 1.5, \"user\": {\"account_name\": \"x\"}}",
        "    повторить вручную: jim-client send 127.0.0.1 7777 '{\"action\": \"quit\"}'",
        "    повторить вручную: # сначала запустите сервер, чтобы он слушал 127.0.0.1:7777: python3 server.py 7777",
        "               printf '%s\\n' \\",
        "                 '{\"conn\":\"b\",\"expect\":{\"response\":409,\"time\":\"$time\"}}' |",
        "               jim-client script --delivery split --timeout 2 127.0.0.1 7777 -",
        "  jim-client --port 7777 send '{\"action\": \"presence\"}'",
        "PASS            lesson3/presence [split]  presence получает {\"response\": 200}",
        "  12 ms a → {\"response\": 200, \"time\": 1.5}",
        "итог: 5 выбрано: 3 pass, 2 fail; 2 провала, 0 предупреждений",
        "python3 repro-1.py",
        "      A$ jim-client chat 127.0.0.1 7777 --name try1_a",
        "    подсказка: не отправляйте в цикле (while True: send(...) заваливает клиента).",
        "",
    ] {
        assert_eq!(untranslated(good), None, "flagged: {good}");
    }
}

#[test]
fn the_target_output_is_not_scanned() {
    let report = "    вывод сервера:Traceback (most recent call last):\n               KeyError: 'account_name'\nитог: 1 выбрано\nвывод сервера (последние строки):\n  the server printed this\n  [err] Traceback (most recent call last):\nвремя 1.00 с";
    let lines = runner_lines(report);
    assert_eq!(lines, ["итог: 1 выбрано", "время 1.00 с"]);
    let explore = "    скрипт Python (выход 1): сохраните как repro.py\n      import socket\n      # send the presence\nПРОВАЛ 2";
    assert_eq!(
        runner_lines(explore),
        ["    скрипт Python (выход 1): сохраните как repro.py", "ПРОВАЛ 2"]
    );
}
