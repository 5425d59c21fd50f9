//! Finding English in what a binary prints under `--lang ru`.
//!
//! Every binary's Russian test (`jim-conformance`'s report, `jim-client`'s running lines,
//! `jim-server`'s log, the load report) runs the binary and passes each line it printed to
//! [`untranslated`]. One scanner for all of them, so that what may stay Latin is decided once:
//! ids, JSON, commands and flags, file paths, addresses, protocol words (JIM keys and actions,
//! levels, verdicts), numbers and units. A label must not touch its value (`отправлено:{…`).
//! [`reads_as_russian`](crate::reads_as_russian) is the lighter check catalog tests use on
//! single texts; this one is for whole output lines.

/// JIM keys, actions and values, levels, verdicts, delivery modes, capabilities, units:
/// words a Russian sentence about JIM uses as they are.
pub const PROTOCOL_WORDS: &[&str] = &[
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

/// True when `s` has a Cyrillic letter.
pub fn has_cyrillic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

/// A command line to type (a reproduction), not a sentence.
fn is_command_line(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or_default();
    // `jim-conformance load: cannot connect ...` is a program's message, not a command.
    if words.next().is_some_and(|second| second.ends_with(':') && second.len() > 1) {
        return false;
    }
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

/// English the word rules let through, each of its words being code or a protocol word alone:
/// a vocabulary value printed by its English name (`не JSON` is `not JSON`, `диалект unknown`).
const VALUE_NAMES: &[&[&str]] = &[&["not", "json"], &["not", "utf-8"], &["unknown"]];

/// An enum's `Debug` name in brackets (`отключение (Close)`, `(ShutdownWrite)`): capitalised
/// ASCII letters with a lower-case one, alone in brackets.
fn is_debug_name(token: &str) -> bool {
    let Some(inner) =
        token.strip_prefix('(').and_then(|t| t.trim_end_matches([',', ';', ':']).strip_suffix(')'))
    else {
        return false;
    };
    inner.len() > 1
        && inner.starts_with(|c: char| c.is_ascii_uppercase())
        && inner.chars().all(|c| c.is_ascii_alphabetic())
        && inner.chars().any(|c| c.is_ascii_lowercase())
}

/// A vocabulary value or a `Debug` name left in English among `words` (prose, data taken out).
fn value_name(words: &[&str]) -> bool {
    let bare: Vec<String> = words
        .iter()
        .map(|w| w.trim_matches(|c: char| ",.;:!?()[]'\"«»".contains(c)).to_ascii_lowercase())
        .collect();
    words.iter().any(|w| is_debug_name(w))
        || VALUE_NAMES
            .iter()
            .any(|name| bare.windows(name.len()).any(|w| w.iter().zip(*name).all(|(a, b)| a == b)))
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
    if value_name(&words) {
        return Some("an English value name");
    }
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

/// What a finished process printed, stdout then stderr, for a scan; panics (a test helper) if
/// the process panicked, since a panic message is English and a bug of its own.
pub fn printed(out: &std::process::Output) -> String {
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("panicked"), "the process panicked:\n{text}");
    text
}

/// Every line of `text` that [`untranslated`] flags, as `[name] why: line`, for a test's
/// failure message.
pub fn untranslated_lines(name: &str, text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| untranslated(line).map(|why| format!("[{name}] {why}: {line}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "jim-conformance load: cannot connect to 127.0.0.1:1: connection refused",
            "                   3 ms a < not JSON: `{'response': 200}`",
            "  определено   одноразовый, диалект unknown, сообщения без перевода строки",
            "                 168 ms a * отключение (Close)",
            "    почему:    .time: expected the current Unix time in seconds (like time.time()), got \"Wed Dec  2 11:45:37 2026\"",
            "                   5 ms b * 511 challenge: answered for bob (--accounts)",
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
            "                   3 ms a < не JSON: `{'response': 200}`",
            "               имя Guest принимается (FIN), отключение (close: закрытие)",
            "",
        ] {
            assert_eq!(untranslated(good), None, "flagged: {good}");
        }
    }
}
