//! What shapes a run: the options both modes share ([`RunOptions`]), and those only one mode has
//! ([`ServerOptions`], [`ClientOptions`]), each in its own type, with the CLI's defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use jim_protocol::Framing;
use serde_json::Value;

use crate::i18n::Lang;
use crate::suite::Suite;
use crate::vocab::{Capability, Delivery};

/// Everything that shapes a run. `M` holds the options of one mode: [`ServerOptions`] (the
/// default) or [`ClientOptions`].
#[derive(Debug, Clone)]
pub struct RunOptions<M = ServerOptions> {
    /// The suite (None: the one embedded at build time).
    pub suite: Option<Suite>,
    /// Profile name; None picks one from the preflight (`--profile auto`).
    pub profile: Option<String>,
    /// `--strict`: should-level failures fail the run and no tolerance is accepted.
    pub strict: bool,
    /// `--only` globs.
    pub only: Vec<String>,
    /// `--skip` globs.
    pub skip: Vec<String>,
    /// Per-step timeout.
    pub timeout: Duration,
    /// Whole-run deadline.
    pub deadline: Duration,
    /// Parallel cases (None: the profile's default).
    pub jobs: Option<usize>,
    /// `--known-failures`: id glob -> reason.
    pub known_failures: BTreeMap<String, String>,
    /// Report language.
    pub lang: Lang,
    /// `--name`: the lesson-3 name (server mode), the value of `{name}` (client mode).
    pub name: Option<String>,
    /// Delivery modes applied to every non-destructive case.
    pub delivery: Vec<Delivery>,
    /// How sent values end.
    pub framing: Framing,
    /// How long a spawned target may take to listen (client mode: to connect).
    pub startup: Duration,
    /// The options of one mode.
    pub mode: M,
}

/// Options only server mode has.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `--user`.
    pub user: Option<String>,
    /// `--password`.
    pub password: Option<String>,
    /// `--offline-user`.
    pub offline_user: Option<String>,
    /// `--expect CAP`: capabilities the target must have.
    pub expect: Vec<Capability>,
    /// Exploration after the fixture cases (`--explore-sessions`, `--seed`; default: none).
    pub explore: crate::explore::InRun,
    /// `--accounts FILE`: registered accounts cases log in with (see [`crate::accounts`]).
    pub accounts: Vec<crate::accounts::Account>,
}

/// Options only client mode has.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// The text `close_stdin` steps feed the client before closing its stdin.
    pub stdin: Option<Vec<u8>>,
}

impl<M: Default> Default for RunOptions<M> {
    fn default() -> Self {
        Self {
            suite: None,
            profile: None,
            strict: false,
            only: Vec::new(),
            skip: Vec::new(),
            timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(300),
            jobs: None,
            known_failures: BTreeMap::new(),
            lang: Lang::En,
            name: None,
            delivery: vec![Delivery::Whole],
            framing: Framing::Newline,
            startup: Duration::from_secs(10),
            mode: M::default(),
        }
    }
}

/// `newline` or `bare`, as the report names a framing.
pub fn framing_name(framing: Framing) -> &'static str {
    match framing {
        Framing::Newline => "newline",
        Framing::Bare => "bare",
    }
}

/// Parses a `--known-failures` file: a JSON object `{"id": "reason"}`, or lines `ID REASON`
/// (`#` comments and blank lines ignored).
pub fn parse_known_failures(text: &str) -> Result<BTreeMap<String, String>, String> {
    if text.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let Value::Object(o) = v else { return Err("expected a JSON object".into()) };
        return o
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                _ => Err(format!("the reason for {k} must be a string")),
            })
            .collect();
    }
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, reason) = match line.split_once(char::is_whitespace) {
            Some((id, r)) => (id.trim_end_matches(':'), r.trim()),
            None => (line.trim_end_matches(':'), "known failure"),
        };
        out.insert(
            id.to_owned(),
            if reason.is_empty() { "known failure".to_owned() } else { reason.to_owned() },
        );
    }
    Ok(out)
}
