//! `script`: run a scenario of sends and expectations against a server, without a person at the
//! keyboard (what the CI of a student project can call).
//!
//! The language is the conformance suite's fixture language (`fixtures/README.md`), run by the
//! conformance runner's own executor, matcher and escape decoder: one scenario language in the
//! workspace. A script is one fixture step per line (blank lines and lines starting with `//` or
//! `#` are comments), or a whole fixture file:
//!
//! | line | meaning |
//! |---|---|
//! | `{"send": VALUE}` | write VALUE as compact JSON (+ `\n`); placeholders (`"$now"`, `"$user:alice"` ...) are expanded |
//! | `{"send_raw": "TEXT"}` | write bytes with escapes (`\n`, `\xNN`, `\u{HEX}`) verbatim |
//! | `{"expect": PATTERN}` | the next value must match PATTERN (pushes and probes are skipped) |
//! | `{"expect_any": [PATTERN, ...]}` | the next value must match one of them |
//! | `{"expect_close": true}` | the server closes the connection next |
//! | `{"expect_silence": {"for_ms": N}}` | nothing arrives for N ms |
//! | `{"listen_ms": N}` | keep reading for N ms (a pause that leaves what arrives for later) |
//!
//! Every step takes `"timeout_ms"` and `"conn"` (a second connection is just another name).
//! Patterns match a subset: extra keys are fine, numbers match by value, and the operators
//! (`"$any"`, `"$number"`, `{"$in": [...]}` ...) are those of the suite. Exit status: 0 when
//! every expectation held, 1 at the first mismatch (printed with its line, what was expected,
//! what arrived and why), 2 for a bad script, 3 when the server cannot be reached.

use std::collections::BTreeMap;
use std::time::Duration;

use jim_conformance::case::server::{Farewell, ServerSide, run_case};
use jim_conformance::case::{CaseEnv, CaseRun, Failure, Outcome};
use jim_conformance::i18n::Lang;
use jim_conformance::matcher::{ToleranceMode, Tolerances};
use jim_conformance::model::{Fixture, parse_script};
use jim_conformance::placeholders::Vars;
use jim_conformance::vocab::{Delivery, Tolerance};
use serde_json::json;

use crate::ServerAddr;
use crate::error::{ClientError, ExitStatus};
use crate::output::{Format, LineSink, eprint_line};
use crate::say::Say;
use jim_protocol::Framing;

/// Largest script accepted, in bytes.
pub const MAX_SCRIPT_BYTES: usize = 4 * 1024 * 1024;

/// Parses a script (see the module documentation); `Err` names the line and the problem, in
/// the `--lang` of the output.
pub fn parse(name: &str, text: &str) -> Result<Fixture, ClientError> {
    parse_script(name, text)
        .map_err(|error| ClientError::Usage(crate::output::lang().say(&Say::BadScript { error })))
}

/// What `script` needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the server is.
    pub server: ServerAddr,
    /// The parsed script.
    pub script: Fixture,
    /// Default wait for each step, and the connect timeout.
    pub timeout: Duration,
    /// What follows each JSON message.
    pub framing: Framing,
    /// Human or JSON output.
    pub format: Format,
    /// How each message is written (a reproduction of a split or trickled case).
    pub delivery: Delivery,
    /// The server's loop turn: how far apart split pieces and trickled bytes are written.
    pub turn: Duration,
    /// `$name`.
    pub name: String,
    /// `$account` and `$password`.
    pub account: Option<(String, String)>,
    /// `$account` is a registered account (its presences carry a pubkey).
    pub registered: bool,
    /// Registered accounts for `$user:LABEL` names: `(LABEL:LEN, name, course key)`.
    pub drawn: Vec<(String, String, String)>,
    /// `$offline_account`.
    pub offline: Option<String>,
}

/// A script judges values as a student's CI would: keys JIM does not define are fine, and a
/// reply needs no `time`; every other difference is a mismatch.
fn tolerances() -> Tolerances {
    Tolerances {
        enabled: BTreeMap::from([(Tolerance::ExtraKeys, ToleranceMode::Allow)]),
        strict: false,
        time_optional: true,
    }
}

/// Runs the script; returns the exit status.
pub async fn run(opts: &Options, out: &mut dyn LineSink) -> ExitStatus {
    let lookup = tokio::net::lookup_host((opts.server.host.as_str(), opts.server.port)).await;
    let addr = match lookup.map(|mut addrs| addrs.next()) {
        Ok(Some(addr)) => addr,
        Ok(None) => {
            let source = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
            return unreachable(ClientError::Resolve { host: opts.server.host.clone(), source });
        }
        Err(source) => {
            return unreachable(ClientError::Resolve { host: opts.server.host.clone(), source });
        }
    };
    let mut vars = Vars::new(format!("{:x}", std::process::id() % 0xfff), opts.name.clone());
    match (&opts.account, opts.registered) {
        (Some((user, password)), true) => vars.assign_course_account(user, password),
        (Some((user, password)), false) => {
            vars.account = Some(user.clone());
            vars.password = Some(password.clone());
        }
        (None, _) => {}
    }
    for (slot, name, key) in &opts.drawn {
        let (label, len) = slot.split_once(':').unwrap_or((slot, "0"));
        let len = len.parse::<usize>().ok().filter(|n| *n > 0);
        let slot = jim_conformance::accounts::Slot { label: label.to_owned(), len };
        vars.assign_account(&slot, name, key);
    }
    vars.offline_account = opts.offline.clone();
    let env = CaseEnv {
        tolerances: tolerances(),
        timeout: opts.timeout,
        framing: opts.framing,
        delivery: opts.delivery,
        vars,
        pace: jim_conformance::wire::Pace::for_turn(opts.turn),
    };
    let side = ServerSide {
        addr,
        shown_addr: format!("{}:{}", opts.server.host, opts.server.port),
        farewell: Farewell::Nothing,
        run_tag: None,
        await_close: false,
        start: None,
        // A server given by address: every wait is waited in full.
        watch: None,
    };
    let run = run_case(&opts.script, env, side).await;
    report(&run, opts, out)
}

fn unreachable(e: ClientError) -> ExitStatus {
    crate::output::eprint_error(&e);
    e.exit_status()
}

/// Prints what happened and gives the exit status.
fn report(run: &CaseRun, opts: &Options, out: &mut dyn LineSink) -> ExitStatus {
    let human = opts.format == Format::Human;
    let lang = crate::output::lang();
    if human {
        for line in &run.transcript {
            let text = line.text.get(lang);
            out.line(&format!("+{} ms  {} {} {text}", line.ms, line.conn, line.dir));
        }
    }
    let steps = opts.script.step_count();
    match &run.outcome {
        Outcome::Pass(_) => {
            match opts.format {
                Format::Human => out.line(&lang.say(&Say::ScriptOk { steps })),
                Format::Json => out.line(&json!({"ok": true, "steps": steps}).to_string()),
            };
            ExitStatus::Ok
        }
        Outcome::Fail(f) => {
            failure(f, opts.format, out);
            ExitStatus::Failure
        }
        Outcome::Error(f) => {
            let line = lang.pick("line", "строка");
            eprint_line(&format!("jim-client: {line} {}: {}", f.step, f.arrived.describe(lang)));
            if !human {
                let got = f.arrived.describe(Lang::En);
                out.line(
                    &json!({"ok": false, "line": f.step, "error": got, "exit": 3}).to_string(),
                );
            }
            ExitStatus::Unreachable
        }
    }
}

fn failure(f: &Failure, format: Format, out: &mut dyn LineSink) {
    let expected: Vec<String> = f.expected.iter().map(ToString::to_string).collect();
    match format {
        Format::Human => {
            let lang = crate::output::lang();
            let (line, fail, want, got) = match lang {
                Lang::En => ("line", "FAIL", "expected:", "got:     "),
                Lang::Ru => ("строка", "ПРОВАЛ", "ожидалось:", "пришло:   "),
            };
            out.line(&format!("{line} {}: {fail} ({})", f.step, f.action));
            for e in &expected {
                out.line(&format!("  {want} {e}"));
            }
            out.line(&format!("  {got} {}", f.arrived.describe(lang)));
            for why in &f.mismatches {
                out.line(&format!("  {}", why.get(lang)));
            }
        }
        Format::Json => {
            let got = f.arrived.describe(Lang::En);
            let line = json!({
                "ok": false, "line": f.step, "expected": expected, "got": got,
                "why": f.mismatches,
            });
            out.line(&line.to_string());
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
        Ok(n) if n > MAX_SCRIPT_BYTES => Err(ClientError::Usage(crate::output::lang().either(
            format!("script {path} is larger than {MAX_SCRIPT_BYTES} bytes"),
            format!("сценарий {path} больше {MAX_SCRIPT_BYTES} байт"),
        ))),
        Ok(_) => Ok(text),
        Err(e) => {
            let lang = crate::output::lang();
            let error = jim_text::io_error(&e, lang);
            Err(ClientError::Usage(lang.either(
                format!("cannot read script {path}: {error}"),
                format!("не удаётся прочитать сценарий {path}: {error}"),
            )))
        }
    }
}
