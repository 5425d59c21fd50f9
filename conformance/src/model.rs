//! The fixture format: one JSON scenario per file (see `fixtures/README.md` and
//! `fixtures/schema/fixture.schema.json`). Parsing is strict: an unknown key or a step with two
//! actions is an error that names the file, the step and the key, because a typo in a fixture
//! must never silently weaken the suite.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::vocab::{Capability, StepKeyword, Tolerance};
pub use crate::vocab::{Dialect, DisconnectKind, Level, Role, UnimplementedIf};

/// A text in both languages of the suite.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// English.
    pub en: String,
    /// Russian.
    pub ru: String,
}

impl Text {
    /// The text in `lang` (`"ru"` or anything else for English), falling back to English.
    pub fn get(&self, ru: bool) -> &str {
        if ru && !self.ru.is_empty() { &self.ru } else { &self.en }
    }
}

/// The exit status an `expect_exit` step accepts (client mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitCode {
    /// Exactly this status.
    Exact(i32),
    /// Any status but 0 (the client reports a failure).
    Nonzero,
    /// Any status: the client only has to exit (without crashing).
    Any,
}

impl ExitCode {
    /// True when `code` is accepted.
    pub fn accepts(self, code: Option<i32>) -> bool {
        match self {
            Self::Exact(want) => code == Some(want),
            Self::Nonzero => code.is_some_and(|c| c != 0),
            Self::Any => true,
        }
    }

    /// "0", "not 0", "any".
    pub fn describe(self) -> String {
        match self {
            Self::Exact(c) => c.to_string(),
            Self::Nonzero => "not 0".to_owned(),
            Self::Any => "any".to_owned(),
        }
    }
}

/// A list expectation (`expect_list`): a 202 response carrying names, in any accepted shape.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListExpect {
    /// The response code (default 202).
    pub code: u16,
    /// Names (placeholders allowed) that must be in the list.
    pub contains: Vec<Value>,
    /// Names that must not be in the list.
    pub excludes: Vec<Value>,
    /// If set, the list must hold exactly these names (in any order).
    pub equals: Option<Vec<Value>>,
}

/// What `expect_silence` waits for.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Silence {
    /// Nothing may arrive before a value matching this pattern (a round-trip barrier that an
    /// earlier step set in motion).
    Before(Value),
    /// Nothing may arrive for this many milliseconds (only where no barrier is possible).
    ForMs(u64),
}

/// One action of a step.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Open (or re-open) the connection.
    Connect,
    /// Send one JSON value (placeholders expanded), compact, with the run's framing.
    Send(Value),
    /// Send bytes as written (escapes `\n \r \t \\ \xNN`, placeholders in `${...}`).
    SendRaw(String),
    /// The next value must match one of these patterns.
    Expect(Vec<Value>),
    /// The next value must be a list response.
    ExpectList(ListExpect),
    /// Nothing may arrive (see [`Silence`]).
    ExpectSilence(Silence),
    /// The peer must close the connection.
    ExpectClose,
    /// End the connection from our side.
    Disconnect(DisconnectKind),
    /// Client mode: write the `--stdin` text (if any) to the client, then close its stdin.
    CloseStdin,
    /// Client mode: the client process must exit with this status, without crashing; requests
    /// it sends meanwhile get generic answers if `auto_answer` is on.
    ExpectExit(ExitCode),
    /// Client mode: from now on, requests that no `expect` asks for get a generic answer (200,
    /// or an empty 202 list), so that interactive clients can go on whatever they send.
    AutoAnswer,
    /// Keep reading the connection for this many milliseconds without taking values out: they
    /// stay for the next expects, with the read boundaries of a client that reads all the time
    /// (`one_write` checks need them).
    Listen(u64),
    /// From now on, values on this connection matching `pattern` may be skipped under the named
    /// tolerance (for example a room message echoed to its sender).
    Tolerate {
        /// The tolerance.
        tolerance: Tolerance,
        /// What may be skipped.
        pattern: Value,
    },
}

impl Action {
    /// The step key that introduces this action.
    pub fn keyword(&self) -> StepKeyword {
        match self {
            Self::Connect => StepKeyword::Connect,
            Self::Send(_) => StepKeyword::Send,
            Self::SendRaw(_) => StepKeyword::SendRaw,
            Self::Expect(v) if v.len() == 1 => StepKeyword::Expect,
            Self::Expect(_) => StepKeyword::ExpectAny,
            Self::ExpectList(_) => StepKeyword::ExpectList,
            Self::ExpectSilence(_) => StepKeyword::ExpectSilence,
            Self::ExpectClose => StepKeyword::ExpectClose,
            Self::Disconnect(_) => StepKeyword::Disconnect,
            Self::CloseStdin => StepKeyword::CloseStdin,
            Self::ExpectExit(_) => StepKeyword::ExpectExit,
            Self::AutoAnswer => StepKeyword::AutoAnswer,
            Self::Listen(_) => StepKeyword::ListenMs,
            Self::Tolerate { .. } => StepKeyword::Tolerate,
        }
    }
}

/// One step of a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The connection the step acts on (default `a`).
    pub conn: String,
    /// What to do.
    pub action: Action,
    /// Per-step timeout override in milliseconds (otherwise `--timeout`).
    pub timeout_ms: Option<u64>,
    /// For `expect`: nothing arriving is accepted under this tolerance (e.g. `no-msg-ack`).
    pub optional_under: Option<Tolerance>,
    /// For `expect`: the connection being closed instead is accepted under this tolerance
    /// (e.g. `close-on-bad-input`).
    pub close_ok_under: Option<Tolerance>,
    /// What the step checks, shown with a failure.
    pub note: Option<Text>,
    /// For `send`/`send_raw`: a delivery mode forced by the fixture (robustness checks).
    pub delivery: Option<crate::wire::Delivery>,
    /// For `expect`: the value must have arrived in one read, and not in the same read as the
    /// value before it (§framing W3: one object per write; see [`crate::read_log`]).
    pub one_write: bool,
}

/// One scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Fixture {
    /// Stable path-like id, equal to the file path under `fixtures/` without `.json`.
    pub id: String,
    /// One line saying what is checked.
    pub title: String,
    /// PROTOCOL.md section ids, with the `§`.
    pub spec: Vec<String>,
    /// How much a failure matters.
    pub level: Level,
    /// The dialects the scenario is written for.
    pub dialects: Vec<Dialect>,
    /// Capabilities beyond the core that the scenario needs.
    pub requires: Vec<Capability>,
    /// The scenario may kill or wedge the target: it runs last, alone, after a restart.
    pub destructive: bool,
    /// Which side the runner plays.
    pub role: Role,
    /// This scenario is the probe that decides whether the target has this capability.
    pub probe_for: Option<Capability>,
    /// When the probe means "unimplemented".
    pub unimplemented_if: UnimplementedIf,
    /// The scenario.
    pub steps: Vec<Step>,
    /// What a failure usually means and how to check by hand.
    pub hint: Text,
    /// The file it came from, relative to the fixtures directory.
    pub path: String,
}

impl Fixture {
    /// The case logs in with the one account of `--user` (or an offline account): such cases
    /// run one at a time, or they would collide with 409.
    pub fn shares_account(&self) -> bool {
        self.requires
            .iter()
            .any(|r| matches!(r, Capability::Credentials | Capability::OfflineAccount))
    }
}

/// A problem in one fixture file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FixtureError {
    /// The file, relative to the fixtures directory.
    pub path: String,
    /// What is wrong and where.
    pub message: String,
}

const TOP_KEYS: &[&str] = &[
    "$schema",
    "id",
    "title",
    "spec",
    "level",
    "dialects",
    "requires",
    "destructive",
    "role",
    "probe_for",
    "unimplemented_if",
    "steps",
    "hint",
    "comment",
];

fn err(path: &str, message: impl Into<String>) -> FixtureError {
    FixtureError { path: path.to_owned(), message: message.into() }
}

fn string_field(obj: &Map<String, Value>, key: &str, path: &str) -> Result<String, FixtureError> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(err(path, format!("\"{key}\" must not be empty"))),
        Some(_) => Err(err(path, format!("\"{key}\" must be a string"))),
        None => Err(err(path, format!("missing \"{key}\""))),
    }
}

fn string_list(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Vec<String>, FixtureError> {
    match obj.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(err(path, format!("\"{key}\" must be a list of strings"))),
            })
            .collect(),
        Some(_) => Err(err(path, format!("\"{key}\" must be a list of strings"))),
    }
}

fn parse_text(v: &Value, what: &str, path: &str) -> Result<Text, FixtureError> {
    let Value::Object(o) = v else {
        return Err(err(path, format!("{what} must be an object {{\"en\": ..., \"ru\": ...}}")));
    };
    for k in o.keys() {
        if k != "en" && k != "ru" {
            return Err(err(path, format!("{what}: unknown language key \"{k}\" (use en, ru)")));
        }
    }
    let get = |k: &str| match o.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(err(path, format!("{what}: \"{k}\" must be a non-empty string"))),
    };
    Ok(Text { en: get("en")?, ru: get("ru")? })
}

fn tolerance(name: &str, at: &str, path: &str) -> Result<Tolerance, FixtureError> {
    Tolerance::parse(name).ok_or_else(|| {
        err(path, format!("{at}: unknown tolerance \"{name}\" (known: {})", Tolerance::names()))
    })
}

fn capability(name: &str, what: &str, path: &str) -> Result<Capability, FixtureError> {
    Capability::parse(name).ok_or_else(|| {
        err(path, format!("{what} unknown capability \"{name}\" (known: {})", Capability::names()))
    })
}

fn parse_step(v: &Value, index: usize, path: &str) -> Result<Step, FixtureError> {
    let at = format!("step {}", index + 1);
    let Value::Object(o) = v else {
        return Err(err(path, format!("{at}: a step must be an object")));
    };
    let mut action_key = None;
    for k in o.keys() {
        if StepKeyword::parse(k).is_some() {
            if let Some(first) = action_key {
                return Err(err(
                    path,
                    format!("{at}: two actions \"{first}\" and \"{k}\" in one step"),
                ));
            }
            action_key = Some(k.as_str());
        } else if crate::vocab::StepModifier::parse(k).is_none() {
            return Err(err(path, format!("{at}: unknown key \"{k}\"")));
        }
    }
    let Some(key) = action_key else {
        return Err(err(path, format!("{at}: no action (one of {})", StepKeyword::names())));
    };
    let body = &o[key];
    let action = match key {
        "connect" => Action::Connect,
        "send" => Action::Send(body.clone()),
        "send_raw" => match body {
            Value::String(s) => Action::SendRaw(s.clone()),
            _ => return Err(err(path, format!("{at}: send_raw must be a string"))),
        },
        "expect" => Action::Expect(vec![body.clone()]),
        "expect_any" => match body {
            Value::Array(alts) if !alts.is_empty() => Action::Expect(alts.clone()),
            _ => {
                return Err(err(
                    path,
                    format!("{at}: expect_any must be a non-empty list of patterns"),
                ));
            }
        },
        "expect_list" => Action::ExpectList(parse_list(body, &at, path)?),
        "expect_silence" => match body {
            Value::Object(s) if s.len() == 1 && s.contains_key("before") => {
                Action::ExpectSilence(Silence::Before(s["before"].clone()))
            }
            Value::Object(s) if s.len() == 1 && s.contains_key("for_ms") => {
                match s["for_ms"].as_u64() {
                    Some(ms) if ms <= 10_000 => Action::ExpectSilence(Silence::ForMs(ms)),
                    _ => return Err(err(path, format!("{at}: for_ms must be 0..=10000"))),
                }
            }
            _ => {
                return Err(err(
                    path,
                    format!(
                        "{at}: expect_silence takes {{\"before\": PATTERN}} or {{\"for_ms\": N}}"
                    ),
                ));
            }
        },
        "expect_close" => Action::ExpectClose,
        "close_stdin" => Action::CloseStdin,
        "auto_answer" => Action::AutoAnswer,
        "expect_exit" => {
            let code = match body {
                Value::Bool(true) => Some(ExitCode::Exact(0)),
                Value::Object(e) if e.len() == 1 => match e.get("code") {
                    Some(Value::String(c)) if c == "nonzero" => Some(ExitCode::Nonzero),
                    Some(Value::String(c)) if c == "any" => Some(ExitCode::Any),
                    Some(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()).map(ExitCode::Exact),
                    None => None,
                },
                _ => None,
            };
            match code {
                Some(c) => Action::ExpectExit(c),
                None => {
                    return Err(err(
                        path,
                        format!(
                            "{at}: expect_exit is true (status 0) or {{\"code\": N | \"nonzero\" | \"any\"}}"
                        ),
                    ));
                }
            }
        }
        "disconnect" => match body {
            Value::Bool(true) => Action::Disconnect(DisconnectKind::Close),
            Value::String(s) if s == "close" => Action::Disconnect(DisconnectKind::Close),
            Value::String(s) if s == "reset" => Action::Disconnect(DisconnectKind::Reset),
            Value::String(s) if s == "shutdown_write" => {
                Action::Disconnect(DisconnectKind::ShutdownWrite)
            }
            _ => {
                return Err(err(
                    path,
                    format!("{at}: disconnect is true, \"close\", \"reset\" or \"shutdown_write\""),
                ));
            }
        },
        "listen_ms" => match body.as_u64() {
            Some(ms) if (1..=10_000).contains(&ms) => Action::Listen(ms),
            _ => return Err(err(path, format!("{at}: listen_ms must be 1..=10000"))),
        },
        "tolerate" => match body {
            Value::Object(t) if t.len() == 2 => {
                let tolerance = match t.get("tolerance") {
                    Some(Value::String(s)) => tolerance(s, &at, path)?,
                    _ => return Err(err(path, format!("{at}: tolerate needs \"tolerance\""))),
                };
                let Some(pattern) = t.get("pattern").cloned() else {
                    return Err(err(path, format!("{at}: tolerate needs \"pattern\"")));
                };
                Action::Tolerate { tolerance, pattern }
            }
            _ => {
                return Err(err(
                    path,
                    format!("{at}: tolerate takes {{\"tolerance\": NAME, \"pattern\": P}}"),
                ));
            }
        },
        _ => return Err(err(path, format!("{at}: unknown action \"{key}\""))),
    };
    if matches!(key, "connect" | "expect_close" | "close_stdin" | "auto_answer")
        && body != &Value::Bool(true)
    {
        return Err(err(path, format!("{at}: \"{key}\" takes the value true")));
    }
    let conn = match o.get("conn") {
        None => "a".to_owned(),
        Some(Value::String(c)) if !c.is_empty() && c.len() <= 16 => c.clone(),
        Some(_) => return Err(err(path, format!("{at}: conn must be a short non-empty string"))),
    };
    let timeout_ms = match o.get("timeout_ms") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(ms) if (1..=30_000).contains(&ms) => Some(ms),
            _ => return Err(err(path, format!("{at}: timeout_ms must be 1..=30000"))),
        },
    };
    let optional_under = match o.get("optional_under") {
        None => None,
        Some(Value::String(s)) => Some(tolerance(s, &at, path)?),
        Some(_) => return Err(err(path, format!("{at}: optional_under must be a tolerance name"))),
    };
    let close_ok_under = match o.get("close_ok_under") {
        None => None,
        Some(Value::String(s)) => Some(tolerance(s, &at, path)?),
        Some(_) => return Err(err(path, format!("{at}: close_ok_under must be a tolerance name"))),
    };
    let note = match o.get("note") {
        None => None,
        Some(n) => Some(parse_text(n, &format!("{at}: note"), path)?),
    };
    let delivery = match o.get("delivery") {
        None => None,
        Some(Value::String(d)) => match crate::vocab::Delivery::parse(d) {
            Some(d) => Some(d),
            None => {
                return Err(err(path, format!("{at}: delivery must be whole, split or trickle")));
            }
        },
        Some(_) => return Err(err(path, format!("{at}: delivery must be a string"))),
    };
    let one_write = match o.get("one_write") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) if matches!(action, Action::Expect(_)) => true,
        Some(Value::Bool(true)) => {
            return Err(err(
                path,
                format!("{at}: one_write only applies to expect and expect_any"),
            ));
        }
        Some(_) => return Err(err(path, format!("{at}: one_write must be true or false"))),
    };
    Ok(Step { conn, action, timeout_ms, optional_under, close_ok_under, note, delivery, one_write })
}

fn parse_list(body: &Value, at: &str, path: &str) -> Result<ListExpect, FixtureError> {
    let Value::Object(o) = body else {
        return Err(err(path, format!("{at}: expect_list must be an object")));
    };
    let mut list = ListExpect { code: 202, ..ListExpect::default() };
    for (k, v) in o {
        match (k.as_str(), v) {
            ("code", c) => {
                list.code = c.as_u64().and_then(|c| u16::try_from(c).ok()).unwrap_or(0);
                if !(100..=599).contains(&list.code) {
                    return Err(err(path, format!("{at}: expect_list code must be 100..=599")));
                }
            }
            ("contains", Value::Array(a)) => list.contains = a.clone(),
            ("excludes", Value::Array(a)) => list.excludes = a.clone(),
            ("equals", Value::Array(a)) => list.equals = Some(a.clone()),
            _ => return Err(err(path, format!("{at}: expect_list: bad key \"{k}\""))),
        }
    }
    Ok(list)
}

/// Parses one fixture file. `path` is relative to the fixtures directory (`presence/basic.json`).
pub fn parse_fixture(path: &str, text: &str) -> Result<Fixture, FixtureError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| err(path, format!("not valid JSON: {e}")))?;
    let Value::Object(o) = &value else {
        return Err(err(path, "a fixture must be a JSON object"));
    };
    for k in o.keys() {
        if !TOP_KEYS.contains(&k.as_str()) {
            return Err(err(path, format!("unknown key \"{k}\"")));
        }
    }
    let id = string_field(o, "id", path)?;
    let title = string_field(o, "title", path)?;
    let spec = string_list(o, "spec", path)?;
    if spec.is_empty() {
        return Err(err(
            path,
            "\"spec\" must cite at least one PROTOCOL.md section, like \"§presence\"",
        ));
    }
    let level_s = string_field(o, "level", path)?;
    let level = Level::parse(&level_s).ok_or_else(|| {
        err(path, format!("level \"{level_s}\" is not must, should, may or info"))
    })?;
    let mut dialects = Vec::new();
    for d in string_list(o, "dialects", path)? {
        dialects.push(
            Dialect::parse(&d)
                .ok_or_else(|| err(path, format!("dialect \"{d}\" is not spec or course")))?,
        );
    }
    if dialects.is_empty() {
        return Err(err(path, "\"dialects\" must list spec and/or course"));
    }
    let requires = string_list(o, "requires", path)?
        .iter()
        .map(|r| capability(r, "requires", path))
        .collect::<Result<Vec<_>, _>>()?;
    let destructive = match o.get("destructive") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(err(path, "\"destructive\" must be true or false")),
    };
    let role = match o.get("role").map(|r| r.as_str()) {
        None | Some(Some("client")) => Role::Client,
        Some(Some("server")) => Role::Server,
        Some(_) => return Err(err(path, "\"role\" must be \"client\" or \"server\"")),
    };
    let probe_for = match o.get("probe_for") {
        None => None,
        Some(Value::String(s)) => Some(capability(s, "probe_for", path)?),
        Some(_) => return Err(err(path, "\"probe_for\" must be a capability name")),
    };
    let unimplemented_if = match o.get("unimplemented_if").map(|r| r.as_str()) {
        None | Some(Some("unknown-action")) => UnimplementedIf::UnknownAction,
        Some(Some("silence")) => UnimplementedIf::Silence,
        Some(_) => {
            return Err(err(
                path,
                "\"unimplemented_if\" must be \"unknown-action\" or \"silence\"",
            ));
        }
    };
    let steps = match o.get("steps") {
        Some(Value::Array(steps)) if !steps.is_empty() => steps
            .iter()
            .enumerate()
            .map(|(i, s)| parse_step(s, i, path))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(err(path, "\"steps\" must be a non-empty list")),
    };
    let hint = match o.get("hint") {
        Some(h) => parse_text(h, "hint", path)?,
        None => return Err(err(path, "missing \"hint\" {\"en\": ..., \"ru\": ...}")),
    };
    Ok(Fixture {
        id,
        title,
        spec,
        level,
        dialects,
        requires,
        destructive,
        role,
        probe_for,
        unimplemented_if,
        steps,
        hint,
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const OK: &str = r#"{"id":"x/y","title":"t","spec":["§presence"],"level":"must","dialects":["spec"],
      "steps":[{"send":{"action":"presence"}},{"expect":{"response":200}}],
      "hint":{"en":"e","ru":"р"}}"#;

    #[test]
    fn parses_a_minimal_fixture() {
        let f = parse_fixture("x/y.json", OK).unwrap();
        assert_eq!(f.id, "x/y");
        assert_eq!(f.steps.len(), 2);
        assert_eq!(f.steps[0].conn, "a");
        assert!(matches!(f.steps[1].action, Action::Expect(ref v) if v.len() == 1));
    }

    #[test]
    fn rejects_two_actions_and_unknown_keys() {
        let two = OK.replace(r#"{"send":{"action":"presence"}}"#, r#"{"send":{},"expect":{}}"#);
        assert!(parse_fixture("x.json", &two).unwrap_err().message.contains("two actions"));
        let unknown = OK.replace(r#""level""#, r#""levle":"must","level""#);
        assert!(parse_fixture("x.json", &unknown).unwrap_err().message.contains("levle"));
        let bad_level = OK.replace(r#""must""#, r#""maybe""#);
        assert!(parse_fixture("x.json", &bad_level).is_err());
    }
}
