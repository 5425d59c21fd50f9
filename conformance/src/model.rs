//! The fixture format: one JSON scenario per file (see `fixtures/README.md` and
//! `fixtures/schema/fixture.schema.json`). Parsing is strict: an unknown key or a step with two
//! actions is an error that names the file, the step and the key, because a typo in a fixture
//! must never silently weaken the suite. Steps parse into the kinds their role allows
//! ([`crate::step::ServerStep`] or [`crate::step::ClientStep`]), so a fixture that loads can be
//! run without a step the executor does not know.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::i18n::{Lang, Said};
use crate::step::{Body, ClientStep, Kind, RoleStep, ServerStep};
use crate::vocab::{Capability, StepKeyword};
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

/// One step of a scenario: what every step has, and its kind (one of the role's kinds).
#[derive(Debug, Clone)]
pub struct Step<K> {
    /// 1-based position in the fixture.
    pub number: usize,
    /// The connection the step acts on (default `a`).
    pub conn: String,
    /// Per-step timeout override in milliseconds (otherwise `--timeout`).
    pub timeout_ms: Option<u64>,
    /// What the step checks, shown with a failure.
    pub note: Option<Text>,
    /// What to do.
    pub kind: K,
    /// The step as written (placeholders unexpanded): a reproduction prints it as a line of a
    /// `jim-client script`, which runs it with this crate's executor.
    pub source: Value,
}

/// The steps of a fixture, typed by the role the runner plays.
#[derive(Debug, Clone)]
pub enum Scenario {
    /// The runner is the client: the fixture judges a server (server mode).
    Server(Vec<Step<ServerStep>>),
    /// The runner is the server: the fixture judges a client (client mode).
    Client(Vec<Step<ClientStep>>),
}

/// One scenario.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Stable path-like id, equal to the file path under `fixtures/` without `.json`.
    pub id: String,
    /// One line saying what is checked, in both languages.
    pub title: Text,
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
    /// This scenario is the probe that decides whether the target has this capability.
    pub probe_for: Option<Capability>,
    /// When the probe means "unimplemented".
    pub unimplemented_if: UnimplementedIf,
    /// The case that sends the valid counterpart of this case's request (`msg/direct` for
    /// `msg/unknown-user`): an error reply here that only a tolerance accepts is credited
    /// only when the control did not fail (see `run::verdict::revise`).
    pub control: Option<String>,
    /// The steps.
    pub scenario: Scenario,
    /// What a failure usually means and how to check by hand.
    pub hint: Text,
    /// The file it came from, relative to the fixtures directory.
    pub path: String,
}

impl Fixture {
    /// Which side the runner plays.
    pub fn role(&self) -> Role {
        match self.scenario {
            Scenario::Server(_) => Role::Client,
            Scenario::Client(_) => Role::Server,
        }
    }

    /// The steps, if the fixture judges a server.
    pub fn server_steps(&self) -> Option<&[Step<ServerStep>]> {
        match &self.scenario {
            Scenario::Server(steps) => Some(steps),
            Scenario::Client(_) => None,
        }
    }

    /// The steps, if the fixture judges a client.
    pub fn client_steps(&self) -> Option<&[Step<ClientStep>]> {
        match &self.scenario {
            Scenario::Client(steps) => Some(steps),
            Scenario::Server(_) => None,
        }
    }

    /// How many steps it has.
    pub fn step_count(&self) -> usize {
        match &self.scenario {
            Scenario::Server(s) => s.len(),
            Scenario::Client(s) => s.len(),
        }
    }

    /// What every step says about itself, in order.
    pub fn step_kinds(&self) -> Vec<(&str, &dyn Kind)> {
        match &self.scenario {
            Scenario::Server(s) => s.iter().map(|s| (s.conn.as_str(), s.kind.kind())).collect(),
            Scenario::Client(s) => s.iter().map(|s| (s.conn.as_str(), s.kind.kind())).collect(),
        }
    }

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
    "control",
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

/// Parses `{"en": ..., "ru": ...}`; `what` names it in errors.
pub(crate) fn parse_text(v: &Value, what: &str) -> Result<Text, String> {
    let Value::Object(o) = v else {
        return Err(format!("{what} must be an object {{\"en\": ..., \"ru\": ...}}"));
    };
    for k in o.keys() {
        if k != "en" && k != "ru" {
            return Err(format!("{what}: unknown language key \"{k}\" (use en, ru)"));
        }
    }
    let get = |k: &str| match o.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(format!("{what}: \"{k}\" must be a non-empty string")),
    };
    Ok(Text { en: get("en")?, ru: get("ru")? })
}

fn capability(name: &str, what: &str, path: &str) -> Result<Capability, FixtureError> {
    Capability::parse(name).ok_or_else(|| {
        err(path, format!("{what} unknown capability \"{name}\" (known: {})", Capability::names()))
    })
}

/// Parses one step object of a fixture whose runner plays the role of `K`. The error is in
/// both languages: a script's author (`jim-client script`) is a student.
fn parse_step<K: RoleStep>(v: &Value, number: usize) -> Result<Step<K>, Said> {
    let at = |en: String, ru: String| {
        Said::new(en, ru).prefixed(&format!("step {number}: "), &format!("шаг {number}: "))
    };
    let Value::Object(o) = v else {
        return Err(at("a step must be an object".into(), "шаг должен быть объектом JSON".into()));
    };
    let mut keyword = None;
    for k in o.keys() {
        if let Some(kw) = StepKeyword::parse(k) {
            if let Some(first) = keyword {
                return Err(at(
                    format!("two actions \"{first}\" and \"{k}\" in one step"),
                    format!("два действия \"{first}\" и \"{k}\" в одном шаге"),
                ));
            }
            keyword = Some(kw);
        } else if crate::vocab::StepModifier::parse(k).is_none() {
            return Err(at(format!("unknown key \"{k}\""), format!("неизвестный ключ \"{k}\"")));
        }
    }
    let Some(keyword) = keyword else {
        let names = StepKeyword::names();
        // Quoted in Russian: key names in a Russian sentence are code.
        let quoted: Vec<String> = names.split(", ").map(|n| format!("`{n}`")).collect();
        return Err(at(
            format!("no action (one of {names})"),
            format!("нет действия (одно из: {})", quoted.join(", ")),
        ));
    };
    let conn = match o.get("conn") {
        None => "a".to_owned(),
        Some(Value::String(c)) if !c.is_empty() && c.len() <= 16 => c.clone(),
        Some(_) => {
            return Err(at(
                "conn must be a short non-empty string".into(),
                "conn должно быть короткой непустой строкой".into(),
            ));
        }
    };
    let timeout_ms = match o.get("timeout_ms") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(ms) if (1..=30_000).contains(&ms) => Some(ms),
            _ => {
                return Err(at(
                    "timeout_ms must be 1..=30000".into(),
                    "timeout_ms должно быть от 1 до 30000".into(),
                ));
            }
        },
    };
    let note = match o.get("note") {
        None => None,
        Some(n) => Some(parse_text(n, &format!("step {number}: note")).map_err(|e| {
            Said::new(
                e,
                format!(
                    "шаг {number}: note должно быть объектом {{\"en\": ..., \"ru\": ...}} с непустыми строками"
                ),
            )
        })?),
    };
    let body = Body::new(keyword, o, number)?;
    let kind = K::parse(&body, &conn)?;
    Ok(Step { number, conn, timeout_ms, note, kind, source: v.clone() })
}

fn parse_steps<K: RoleStep>(steps: &[Value], path: &str) -> Result<Vec<Step<K>>, FixtureError> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| parse_step(s, i + 1).map_err(|m| err(path, m.to_string())))
        .collect()
}

/// Why a script does not parse.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScriptError {
    /// A line that is not a step: which, and why (in both languages).
    #[error("{name}: script line {number}: {problem}")]
    Line {
        /// The script's name.
        name: String,
        /// The line.
        number: usize,
        /// What is wrong with it.
        problem: Said,
    },
    /// Only comments and blank lines.
    #[error("{name}: the script has no step")]
    NoStep {
        /// The script's name.
        name: String,
    },
    /// A whole fixture file that does not parse (the fixture language's errors are a fixture
    /// author's, in English).
    #[error(transparent)]
    Fixture(#[from] FixtureError),
}

/// Parses a script (`jim-client script`): server-mode fixture steps, one JSON object per line
/// (blank lines and lines starting with `//` or `#` are comments), or a whole fixture file. In
/// a JSON-lines script a step's number is its line number, so that failures name the line.
pub fn parse_script(name: &str, text: &str) -> Result<Fixture, ScriptError> {
    if text.trim_start().starts_with('{') {
        if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(text) {
            if o.contains_key("steps") {
                return Ok(parse_fixture(name, text)?);
            }
        }
    }
    let mut steps = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let t = line.trim();
        if t.is_empty() || t.starts_with("//") || t.starts_with('#') {
            continue;
        }
        // The line number says where: the step's own "step N: " would say it twice.
        let at = |m: Said| {
            let strip = |s: &str, prefix: String| s.strip_prefix(&prefix).unwrap_or(s).to_owned();
            let problem = Said::new(
                strip(m.en(), format!("step {number}: ")),
                strip(m.get(Lang::Ru), format!("шаг {number}: ")),
            );
            ScriptError::Line { name: name.to_owned(), number, problem }
        };
        let value: Value = serde_json::from_str(t).map_err(|e| {
            at(Said::new(
                format!("not a JSON object ({e})"),
                format!("не объект JSON (ошибка в столбце {})", e.column()),
            ))
        })?;
        steps.push(parse_step::<ServerStep>(&value, number).map_err(at)?);
    }
    if steps.is_empty() {
        return Err(ScriptError::NoStep { name: name.to_owned() });
    }
    Ok(Fixture {
        id: "script".into(),
        title: Text { en: format!("script {name}"), ru: format!("сценарий {name}") },
        spec: Vec::new(),
        level: Level::Must,
        dialects: vec![Dialect::Spec, Dialect::Course],
        requires: Vec::new(),
        destructive: false,
        probe_for: None,
        unimplemented_if: UnimplementedIf::default(),
        control: None,
        scenario: Scenario::Server(steps),
        hint: Text::default(),
        path: name.to_owned(),
    })
}

/// Parses one fixture file. `path` is relative to the fixtures directory (`presence/basic.json`).
///
/// Long by design: one short block per top-level key, in the order `fixtures/README.md`
/// documents them, each with the error that names the key.
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
    let title = match o.get("title") {
        // A plain string (fixtures written before titles had Russian) is English only; a test
        // of the suite fails on it.
        Some(Value::String(s)) if !s.trim().is_empty() => Text { en: s.clone(), ru: String::new() },
        Some(t @ Value::Object(_)) => parse_text(t, "title").map_err(|m| err(path, m))?,
        _ => return Err(err(path, "\"title\" must be {\"en\": ..., \"ru\": ...}")),
    };
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
    let role = match o.get("role").map(Value::as_str) {
        None => Some(Role::Client),
        Some(r) => r.and_then(Role::parse),
    }
    .ok_or_else(|| err(path, "\"role\" must be \"client\" or \"server\""))?;
    let probe_for = match o.get("probe_for") {
        None => None,
        Some(Value::String(s)) => Some(capability(s, "probe_for", path)?),
        Some(_) => return Err(err(path, "\"probe_for\" must be a capability name")),
    };
    let unimplemented_if = match o.get("unimplemented_if").map(Value::as_str) {
        None => Some(UnimplementedIf::default()),
        Some(u) => u.and_then(UnimplementedIf::parse),
    }
    .ok_or_else(|| err(path, "\"unimplemented_if\" must be \"unknown-action\" or \"silence\""))?;
    let control = match o.get("control") {
        None => None,
        Some(Value::String(c)) if !c.trim().is_empty() => Some(c.clone()),
        Some(_) => return Err(err(path, "\"control\" must be the id of another fixture")),
    };
    let scenario = match (o.get("steps"), role) {
        (Some(Value::Array(steps)), Role::Client) if !steps.is_empty() => {
            Scenario::Server(parse_steps(steps, path)?)
        }
        (Some(Value::Array(steps)), Role::Server) if !steps.is_empty() => {
            Scenario::Client(parse_steps(steps, path)?)
        }
        _ => return Err(err(path, "\"steps\" must be a non-empty list")),
    };
    let hint = match o.get("hint") {
        Some(h) => parse_text(h, "hint").map_err(|m| err(path, m))?,
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
        probe_for,
        unimplemented_if,
        control,
        scenario,
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
        let steps = f.server_steps().unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].conn, "a");
        assert!(matches!(steps[1].kind, ServerStep::Expect(ref e) if e.alternatives.len() == 1));
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

    #[test]
    fn a_script_is_fixture_steps_one_per_line() {
        let text = "// log in\n{\"send\": {\"action\":\"presence\"}}\n\n{\"expect\": {\"response\": 200}}\n";
        let f = parse_script("s.jsonl", text).unwrap();
        let steps = f.server_steps().unwrap();
        assert_eq!(steps.iter().map(|s| s.number).collect::<Vec<_>>(), [2, 4]);
        let e = parse_script("s.jsonl", "{\"send\": 1}\n{\"sned\": {}}\n").unwrap_err();
        assert!(e.to_string().starts_with("s.jsonl: script line 2: unknown key \"sned\""), "{e}");
        let ScriptError::Line { number: 2, problem, .. } = e else { panic!("{e}") };
        assert_eq!(problem.get(Lang::Ru), "неизвестный ключ \"sned\"");
        let e = parse_script("s.jsonl", "{\"close_stdin\": true}").unwrap_err();
        assert!(e.to_string().contains("client-mode step"), "{e}");
        assert!(parse_script("s.json", OK).unwrap().server_steps().is_some());
    }
}
