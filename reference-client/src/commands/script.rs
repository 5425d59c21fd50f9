//! `script`: run a JSON-lines file of sends and expectations against a server, without a
//! person at the keyboard (what the CI of a student project can call).
//!
//! Format: one JSON object per line; blank lines and lines starting with `//` or `#` are
//! comments. Steps:
//!
//! | line | meaning |
//! |---|---|
//! | `{"send": VALUE}` | write VALUE as compact JSON (+ `\n`); the string `"$now"` anywhere in it becomes the current UNIX time |
//! | `{"send_raw": "TEXT"}` | write bytes with escapes (`\n`, `\xNN`, `\u{HEX}`), verbatim |
//! | `{"expect": PATTERN}` | the next value received must match PATTERN (subset match, see [`crate::pattern`]) |
//! | `{"wait_for": PATTERN}` | skip received values until one matches |
//! | `{"expect_close": true}` | the server closes the connection next |
//! | `{"expect_silence_ms": N}` | nothing arrives for N ms |
//! | `{"sleep_ms": N}` | pause |
//!
//! `expect`, `wait_for` and `expect_close` take an optional `"timeout_ms": N` (default
//! `--timeout`). Exit status: 0 when every expectation held, 1 at the first mismatch (printed
//! with its line number, expected and got), 2 for a bad script, 3 when the server is unreachable.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::ServerAddr;
use crate::connection::{Connection, Incoming, Reader};
use crate::error::{ClientError, ExitStatus};
use crate::output::{Format, LineSink};
use crate::pattern;
use jim_protocol::Framing;

/// How many skipped values a `wait_for` failure shows.
const MAX_SKIPPED_SHOWN: usize = 5;

/// Largest script accepted, in bytes.
pub const MAX_SCRIPT_BYTES: usize = 4 * 1024 * 1024;

/// One step of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Write a JSON value (with `$now` replaced at send time).
    Send(Value),
    /// Write bytes verbatim.
    SendRaw(Vec<u8>),
    /// The next value must match.
    Expect {
        /// The pattern.
        pattern: Value,
        /// How long to wait.
        timeout: Option<Duration>,
    },
    /// Skip values until one matches.
    WaitFor {
        /// The pattern.
        pattern: Value,
        /// How long to wait in all.
        timeout: Option<Duration>,
    },
    /// The server must close next.
    ExpectClose {
        /// How long to wait.
        timeout: Option<Duration>,
    },
    /// Nothing may arrive for this long.
    ExpectSilence(Duration),
    /// Pause.
    Sleep(Duration),
}

/// A step with the line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// 1-based line number in the script.
    pub number: usize,
    /// The step.
    pub step: Step,
}

/// Parses a script; `Err` names the line and the problem.
pub fn parse(text: &str) -> Result<Vec<Line>, String> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with("//") || t.starts_with('#') {
            continue;
        }
        let step = parse_step(t).map_err(|e| format!("script line {number}: {e}"))?;
        lines.push(Line { number, step });
    }
    Ok(lines)
}

fn ms_field(obj: &Map<String, Value>, key: &str) -> Result<Option<Duration>, String> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(ms) if ms <= 86_400_000 => Ok(Some(Duration::from_millis(ms))),
            _ => Err(format!("{key:?} must be a whole number of milliseconds, got {v}")),
        },
    }
}

fn parse_step(text: &str) -> Result<Step, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("not a JSON object ({e})"))?;
    let Value::Object(obj) = value else {
        return Err("each line must be a JSON object such as {\"send\": {...}}".into());
    };
    let timeout = ms_field(&obj, "timeout_ms")?;
    let known =
        ["send", "send_raw", "expect", "wait_for", "expect_close", "expect_silence_ms", "sleep_ms"];
    let keys: Vec<&str> = obj.keys().map(String::as_str).filter(|k| *k != "timeout_ms").collect();
    if keys.len() != 1 || !known.contains(&keys[0]) {
        return Err(format!(
            "expected exactly one of {} (plus an optional timeout_ms), got {:?}",
            known.join(", "),
            keys
        ));
    }
    let key = keys[0];
    let v = &obj[key];
    Ok(match key {
        "send" => Step::Send(v.clone()),
        "send_raw" => {
            let Some(s) = v.as_str() else { return Err("send_raw takes a string".into()) };
            Step::SendRaw(crate::escape::unescape(s)?)
        }
        "expect" => Step::Expect { pattern: v.clone(), timeout },
        "wait_for" => Step::WaitFor { pattern: v.clone(), timeout },
        "expect_close" => Step::ExpectClose { timeout },
        "expect_silence_ms" => Step::ExpectSilence(ms_field(&obj, key)?.unwrap_or_default()),
        _ => Step::Sleep(ms_field(&obj, key)?.unwrap_or_default()),
    })
}

/// Replaces every `"$now"` string in `value` with the current UNIX time.
pub fn fill_now(value: &Value) -> Value {
    match value {
        Value::String(s) if s == "$now" => jim_protocol::Timestamp::now().to_value(),
        Value::Array(a) => Value::Array(a.iter().map(fill_now).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), fill_now(v))).collect())
        }
        other => other.clone(),
    }
}

/// What `script` needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the server is.
    pub server: ServerAddr,
    /// The parsed script.
    pub steps: Vec<Line>,
    /// Default wait for expectations, and the connect timeout.
    pub timeout: Duration,
    /// What follows each JSON message.
    pub framing: Framing,
    /// Human or JSON output.
    pub format: Format,
}

/// A failed expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Script line.
    pub line: usize,
    /// What the line expected.
    pub expected: String,
    /// What happened instead.
    pub got: String,
    /// Where the difference is, when a value was compared.
    pub reason: Option<String>,
}

/// Runs the script; returns the exit status.
pub async fn run(opts: &Options, out: &mut dyn LineSink) -> ExitStatus {
    let conn = match Connection::connect(&opts.server.host, opts.server.port, opts.timeout).await {
        Ok(c) => c,
        Err(e) => {
            crate::output::eprint_error(&e);
            if opts.format == Format::Json {
                out.line(&json!({"ok": false, "error": e.to_string(), "exit": 3}).to_string());
            }
            return e.exit_status();
        }
    };
    let Connection { mut reader, mut writer } = conn;
    writer.set_framing(opts.framing);
    let human = opts.format == Format::Human;
    for line in &opts.steps {
        let n = line.number;
        let result = match &line.step {
            Step::Send(v) => {
                let v = fill_now(v);
                let r = writer.send_value(&v, &format!("sending line {n}")).await;
                if human {
                    out.line(&format!("line {n}: sent {v}"));
                }
                r.map_err(|e| fail(n, "to send", &e.to_string(), None))
            }
            Step::SendRaw(bytes) => {
                let r = writer.send_bytes(bytes, &format!("sending line {n}")).await;
                if human {
                    out.line(&format!(
                        "line {n}: sent raw {}",
                        jim_protocol::error::preview(bytes)
                    ));
                }
                r.map_err(|e| fail(n, "to send", &e.to_string(), None))
            }
            Step::Expect { pattern, timeout } => {
                expect(&mut reader, n, pattern, timeout.unwrap_or(opts.timeout), false, out, human)
                    .await
            }
            Step::WaitFor { pattern, timeout } => {
                expect(&mut reader, n, pattern, timeout.unwrap_or(opts.timeout), true, out, human)
                    .await
            }
            Step::ExpectClose { timeout } => {
                let limit = timeout.unwrap_or(opts.timeout);
                match reader.next(limit).await {
                    Ok(Some(a)) => match a.item {
                        Incoming::Closed { .. } => {
                            if human {
                                out.line(&format!(
                                    "line {n}: ok, the server closed the connection"
                                ));
                            }
                            Ok(())
                        }
                        other => Err(fail(n, "the server to close", &describe(&other), None)),
                    },
                    Ok(None) => Err(fail(
                        n,
                        "the server to close",
                        &format!("still open after {} ms", limit.as_millis()),
                        None,
                    )),
                    Err(e) => Err(fail(n, "the server to close", &e.to_string(), None)),
                }
            }
            Step::ExpectSilence(d) => match reader.next(*d).await {
                Ok(None) => {
                    if human {
                        out.line(&format!("line {n}: ok, nothing for {} ms", d.as_millis()));
                    }
                    Ok(())
                }
                Ok(Some(a)) => Err(fail(
                    n,
                    &format!("nothing for {} ms", d.as_millis()),
                    &describe(&a.item),
                    None,
                )),
                Err(e) => Err(fail(n, "silence", &e.to_string(), None)),
            },
            Step::Sleep(d) => {
                tokio::time::sleep(*d).await;
                Ok(())
            }
        };
        if let Err(f) = result {
            report_failure(&f, opts.format, out);
            return ExitStatus::Failure;
        }
    }
    let count = opts.steps.len();
    match opts.format {
        Format::Human => out.line(&format!("ok: {count} steps, every expectation held")),
        Format::Json => out.line(&json!({"ok": true, "steps": count}).to_string()),
    };
    ExitStatus::Ok
}

fn fail(line: usize, expected: &str, got: &str, reason: Option<String>) -> Failure {
    Failure { line, expected: expected.to_owned(), got: got.to_owned(), reason }
}

fn describe(item: &Incoming) -> String {
    match item {
        Incoming::Value(v) => v.to_string(),
        Incoming::Bad(e) => format!("bytes that are not JSON: {e}"),
        Incoming::Closed { reset: false } => "the server closed the connection".into(),
        Incoming::Closed { reset: true } => "the connection was reset by the server".into(),
    }
}

async fn expect(
    reader: &mut Reader,
    n: usize,
    pattern: &Value,
    limit: Duration,
    skip: bool,
    out: &mut dyn LineSink,
    human: bool,
) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut skipped = Vec::new();
    let mut skipped_count = 0usize;
    loop {
        let arrival = match reader.next_until(deadline).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                let mut got = format!("nothing within {} ms", limit.as_millis());
                if reader.has_partial() {
                    got.push_str(&format!(
                        " (an incomplete value is pending; received so far: {})",
                        reader.transcript_preview()
                    ));
                }
                if !skipped.is_empty() {
                    got.push_str(&format!("; skipped {skipped_count}: {}", skipped.join(" ")));
                    if skipped_count > skipped.len() {
                        got.push_str(" …");
                    }
                }
                return Err(fail(n, &pattern.to_string(), &got, None));
            }
            Err(e) => return Err(fail(n, &pattern.to_string(), &e.to_string(), None)),
        };
        let result = match &arrival.item {
            Incoming::Value(v) => pattern::matches(pattern, v).map_err(|m| m.to_string()),
            other => Err(describe(other)),
        };
        match result {
            Ok(()) => {
                if human {
                    out.line(&format!("line {n}: ok {}", describe(&arrival.item)));
                }
                return Ok(());
            }
            Err(reason) => {
                let closed = matches!(arrival.item, Incoming::Closed { .. });
                if skip && !closed {
                    skipped_count += 1;
                    if skipped.len() < MAX_SKIPPED_SHOWN {
                        skipped.push(describe(&arrival.item));
                    }
                    continue;
                }
                let reason = matches!(arrival.item, Incoming::Value(_)).then_some(reason);
                return Err(fail(n, &pattern.to_string(), &describe(&arrival.item), reason));
            }
        }
    }
}

fn report_failure(f: &Failure, format: Format, out: &mut dyn LineSink) {
    match format {
        Format::Human => {
            out.line(&format!("line {}: FAIL", f.line));
            out.line(&format!("  expected: {}", f.expected));
            out.line(&format!("  got:      {}", f.got));
            if let Some(r) = &f.reason {
                out.line(&format!("  {r}"));
            }
        }
        Format::Json => {
            out.line(
                &json!({
                    "ok": false, "line": f.line, "expected": f.expected,
                    "got": f.got, "reason": f.reason,
                })
                .to_string(),
            );
        }
    }
}

/// Reads a script from a file path, or from stdin for `-`, bounded in size.
pub fn read_script(path: &str) -> Result<String, ClientError> {
    use std::io::Read;
    let mut text = String::new();
    let limit = MAX_SCRIPT_BYTES as u64 + 1;
    let result = if path == "-" {
        std::io::stdin().lock().take(limit).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_string(&mut text))
    };
    match result {
        Ok(n) if n > MAX_SCRIPT_BYTES => Err(ClientError::Usage(format!(
            "script {path} is larger than {MAX_SCRIPT_BYTES} bytes"
        ))),
        Ok(_) => Ok(text),
        Err(e) => Err(ClientError::Usage(format!("cannot read script {path}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_steps_and_reports_bad_lines() {
        let text = "// login\n# comment\n\n{\"send\": {\"action\":\"presence\",\"time\":\"$now\"}}\n\
                    {\"expect\": {\"response\": 200}, \"timeout_ms\": 500}\n{\"expect_close\": true}\n\
                    {\"sleep_ms\": 10}\n{\"send_raw\": \"{\\\\xff}\\\\n\"}\n";
        let steps = parse(text).unwrap();
        assert_eq!(steps.len(), 5);
        assert_eq!(steps[0].number, 4);
        assert!(matches!(
            steps[1].step,
            Step::Expect { timeout: Some(t), .. } if t == Duration::from_millis(500)
        ));
        assert_eq!(steps[4].step, Step::SendRaw(b"{\xff}\n".to_vec()));
        let e = parse("{\"send\":1}\n{\"sned\": {}}\n").unwrap_err();
        assert!(e.starts_with("script line 2:"), "{e}");
        assert!(parse("[1]").is_err());
        assert!(parse("{\"sleep_ms\": -1}").is_err());
    }

    #[test]
    fn now_is_filled_in() {
        let v = fill_now(&json!({"time":"$now","user":{"x":["$now"]}}));
        assert!(v["time"].is_f64());
        assert!(v["user"]["x"][0].is_f64());
    }
}
