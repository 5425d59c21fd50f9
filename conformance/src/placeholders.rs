//! Placeholders: per-run, per-case values in fixture templates, so that cases can run in
//! parallel and again and again against one long-lived server without name clashes.
//!
//! A whole string `$kind` or `$kind:arg` is replaced by a value (`$now` by a number); inside a
//! longer string use `${kind:arg}`. `$$` at the start of a string escapes a literal `$`. Strings
//! that name a matcher operator (`$any`, `$string`, ...) are left for the matcher.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Number, Value};

use crate::vocab::{ObjectOperator, Placeholder, StringOperator};

/// Longest account or room name (PROTOCOL.md §limits).
pub const MAX_NAME: usize = 25;

/// Why a placeholder cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    /// The kind is not a [`Placeholder`].
    #[error("unknown placeholder \"{0}\" (known: {known})", known = known_kinds())]
    Unknown(String),
    /// The value needs a command-line option that was not given.
    #[error("placeholder \"{placeholder}\" needs {option}")]
    Missing {
        /// The placeholder as written.
        placeholder: String,
        /// The option that provides it.
        option: &'static str,
    },
    /// The argument is malformed.
    #[error("placeholder \"{0}\": bad argument")]
    BadArg(String),
    /// An operator appears where a concrete value is needed (in `send`).
    #[error("operator \"{0}\" cannot be sent; operators belong in expect patterns")]
    OperatorInSend(String),
}

fn known_kinds() -> String {
    Placeholder::ALL.iter().map(|k| format!("${k}")).collect::<Vec<_>>().join(", ")
}

/// True for the placeholders written `$kind:arg`; the others take no argument.
fn takes_arg(kind: Placeholder) -> bool {
    match kind {
        Placeholder::User
        | Placeholder::Room
        | Placeholder::Text
        | Placeholder::Utext
        | Placeholder::Capture
        | Placeholder::CourseAnswer => true,
        Placeholder::Now
        | Placeholder::Name
        | Placeholder::Account
        | Placeholder::Password
        | Placeholder::OfflineAccount
        | Placeholder::Pubkey
        | Placeholder::Unique => false,
    }
}

/// Where a template is used: what is sent must be concrete; patterns may hold operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `send`, `send_raw`.
    Send,
    /// `expect` patterns.
    Pattern,
}

/// The `user.pubkey` of the runner's course presences: a fixed 2048-bit RSA public key in PEM
/// form (~450 bytes), made for these tests; nobody holds its private key. Course-final servers
/// read `user.pubkey` unconditionally after a login (jim-protocol.md §6) and store it; this is
/// what they store, and what `pubkey_need` must give back.
pub const SAMPLE_PUBKEY: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh\nkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ\n0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg\ncKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc\nmwIDAQAB\n-----END PUBLIC KEY-----";

static EMBEDDED: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\$\{([a-z_]+(?::[^}]*)?)\}").ok());

/// Values of the placeholders for one run of one case.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    suffix: String,
    /// `$name`.
    pub name: String,
    /// `$account` (`--user`).
    pub account: Option<String>,
    /// `$password` (`--password`).
    pub password: Option<String>,
    /// `$offline_account` (`--offline-user`).
    pub offline_account: Option<String>,
    users: HashMap<String, String>,
    rooms: HashMap<String, String>,
    /// Values captured by `{"$capture": NAME}` so far in this case.
    pub captures: HashMap<String, String>,
    /// Lint mode: every optional value and capture is available (with dummy text).
    lint: bool,
    /// Registered accounts drawn for this case (`--accounts`): name -> course key
    /// ([`crate::course_login::password_key`]). Their presences carry a pubkey, and their 511
    /// challenges are answered.
    accounts: HashMap<String, String>,
    /// The drawn `$account` (its presences carry a pubkey; the case answers its challenge).
    registered: Option<String>,
    /// Connections whose 511 challenge was answered (at most once per connection and name).
    answered: std::collections::HashSet<(String, String)>,
}

/// Current Unix time in seconds, rounded to hundredths like `1700000000.25`.
pub fn now_seconds() -> f64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    (secs * 100.0).round() / 100.0
}

fn sanitize(label: &str) -> String {
    label.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

impl Vars {
    /// Values for a case run whose unique suffix is `suffix` (short, `[a-z0-9]`).
    pub fn new(suffix: impl Into<String>, name: impl Into<String>) -> Self {
        Self { suffix: suffix.into(), name: name.into(), ..Self::default() }
    }

    /// The registered accounts drawn for this case, as `(slot, name, course key)` with the
    /// slot as `LABEL:LEN` ([`crate::accounts::Slot::key`]), sorted; and whether `$account`
    /// is a drawn registered account. A reproduction passes them to `jim-client script`.
    pub fn drawn(&self) -> (Vec<(String, String, String)>, bool) {
        let mut drawn: Vec<(String, String, String)> = self
            .users
            .iter()
            .filter_map(|(slot, name)| {
                self.accounts.get(name).map(|key| (slot.clone(), name.clone(), key.clone()))
            })
            .collect();
        drawn.sort();
        (drawn, self.registered.is_some())
    }

    /// Values for linting: everything is available with dummy values.
    pub fn for_lint() -> Self {
        Self {
            suffix: "lint0".into(),
            name: "Guest".into(),
            account: Some("account".into()),
            password: Some("password".into()),
            offline_account: Some("offline".into()),
            lint: true,
            ..Self::default()
        }
    }

    /// Logs the `$user:LABEL[:LEN]` of `slot` in as the registered account `name` (drawn from
    /// the pool for this case): the placeholder gives that name, its presences carry a pubkey
    /// and its 511 challenge is answered with its course `key`.
    pub fn assign_account(&mut self, slot: &crate::accounts::Slot, name: &str, key: &str) {
        self.users.insert(slot.key(), name.to_owned());
        self.accounts.insert(name.to_owned(), key.to_owned());
    }

    /// Makes `name` (drawn from the pool) the `$account` of this case, with its password.
    pub fn assign_course_account(&mut self, name: &str, password: &str) {
        self.account = Some(name.to_owned());
        self.password = Some(password.to_owned());
        self.registered = Some(name.to_owned());
    }

    /// The course answer to a 511 challenge that arrived on `conn`, logged in as `login`: a
    /// `{"response": 511, "bin": <128 hex digits>}` while `login` is a drawn account whose
    /// challenge on `conn` was not answered yet. (A `pubkey_need` reply is a 511 too; its
    /// `bin` is a PEM key, not hex.)
    pub fn challenge_answer(&mut self, conn: &str, login: &str, value: &Value) -> Option<Value> {
        let key = self.accounts.get(login)?;
        let code = value.get("response").and_then(crate::matcher::read_code).map(|(c, _)| c);
        let bin = value.get("bin").and_then(Value::as_str)?;
        if code != Some(511) || bin.len() != 128 || !bin.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        if !self.answered.insert((conn.to_owned(), login.to_owned())) {
            return None;
        }
        let answer = crate::course_login::answer_with_key(key, bin);
        Some(serde_json::json!({"response": 511, "bin": answer}))
    }

    /// A presence of a drawn account without `user.pubkey` gets [`SAMPLE_PUBKEY`], as the
    /// course-final client's presence has one (a server that reads it unconditionally dies on
    /// its absence, and that is not what the case is about).
    fn add_pubkey(&self, value: &mut Map<String, Value>) {
        if value.get("action").and_then(Value::as_str) != Some("presence") {
            return;
        }
        let Some(Value::Object(user)) = value.get_mut("user") else { return };
        let drawn = user.get("account_name").and_then(Value::as_str).is_some_and(|n| {
            self.accounts.contains_key(n) || self.registered.as_deref() == Some(n)
        });
        if drawn && !user.contains_key("pubkey") {
            user.insert("pubkey".into(), Value::String(SAMPLE_PUBKEY.to_owned()));
        }
    }

    /// The unique token of this case run.
    pub fn suffix(&self) -> &str {
        &self.suffix
    }

    /// The unique name for `$user:LABEL[:LEN]`.
    pub fn user(&mut self, label: &str, len: Option<usize>) -> String {
        let key = format!("{label}:{}", len.unwrap_or(0));
        if let Some(n) = self.users.get(&key) {
            return n.clone();
        }
        let tail = format!("_{}", self.suffix);
        let mut base: String = sanitize(label);
        if base.is_empty() {
            base.push('u');
        }
        let name = match len {
            Some(len) => {
                let room = len.saturating_sub(tail.len()).max(1);
                let mut b: String = base.chars().take(room).collect();
                while b.len() < room {
                    b.push('x');
                }
                let mut n = format!("{b}{tail}");
                n.truncate(len.max(1));
                n
            }
            None => {
                let b: String = base.chars().take(MAX_NAME.saturating_sub(tail.len())).collect();
                format!("{b}{tail}")
            }
        };
        self.users.insert(key, name.clone());
        name
    }

    /// The unique room for `$room:LABEL` (with the `#`).
    pub fn room(&mut self, label: &str) -> String {
        if let Some(r) = self.rooms.get(label) {
            return r.clone();
        }
        let tail = format!("_{}", self.suffix);
        let base: String = sanitize(label).chars().take(MAX_NAME - 1 - tail.len()).collect();
        let room = format!("#{base}{tail}");
        self.rooms.insert(label.to_owned(), room.clone());
        room
    }

    /// Resolves one placeholder (`kind` or `kind:arg`) to a JSON value.
    ///
    /// Long by design: one short arm per placeholder kind, so the whole table of what each
    /// becomes stays in one exhaustive `match` over [`Placeholder`].
    pub fn resolve(&mut self, spec: &str) -> Result<Value, PlaceholderError> {
        let (kind, arg) = match spec.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (spec, None),
        };
        let missing =
            |option| PlaceholderError::Missing { placeholder: format!("${spec}"), option };
        let bad = || PlaceholderError::BadArg(format!("${spec}"));
        let count = |a: Option<&str>| -> Result<usize, PlaceholderError> {
            a.and_then(|a| a.parse::<usize>().ok()).filter(|n| *n <= 100_000).ok_or_else(bad)
        };
        let kind = match Placeholder::parse(kind) {
            Some(k) if takes_arg(k) || arg.is_none() => k,
            _ => return Err(PlaceholderError::Unknown(format!("${spec}"))),
        };
        Ok(match kind {
            Placeholder::Now => {
                Number::from_f64(now_seconds()).map(Value::Number).unwrap_or(Value::Null)
            }
            Placeholder::Name => Value::String(self.name.clone()),
            Placeholder::Unique => Value::String(self.suffix.clone()),
            Placeholder::Pubkey => Value::String(SAMPLE_PUBKEY.to_owned()),
            Placeholder::Account => {
                Value::String(self.account.clone().ok_or_else(|| missing("--user"))?)
            }
            Placeholder::Password => {
                Value::String(self.password.clone().ok_or_else(|| missing("--password"))?)
            }
            Placeholder::OfflineAccount => Value::String(
                self.offline_account.clone().ok_or_else(|| missing("--offline-user"))?,
            ),
            Placeholder::User => {
                let arg = arg.ok_or_else(bad)?;
                let (label, len) = match arg.split_once(':') {
                    Some((l, n)) => (
                        l,
                        Some(
                            n.parse::<usize>()
                                .ok()
                                .filter(|n| (1..=200).contains(n))
                                .ok_or_else(bad)?,
                        ),
                    ),
                    None => (arg, None),
                };
                if label.is_empty() {
                    return Err(bad());
                }
                Value::String(self.user(label, len))
            }
            Placeholder::Room => {
                let label = arg.filter(|l| !l.is_empty()).ok_or_else(bad)?;
                Value::String(self.room(label))
            }
            Placeholder::Text => {
                let n = count(arg)?;
                let pattern = "the quick brown fox jumps over the lazy dog ";
                Value::String(pattern.chars().cycle().take(n).collect())
            }
            Placeholder::Utext => {
                let n = count(arg)?;
                Value::String("съешь же ещё этих мягких булок ".chars().cycle().take(n).collect())
            }
            Placeholder::Capture => {
                let name = arg.filter(|l| !l.is_empty()).ok_or_else(bad)?;
                match self.captures.get(name) {
                    Some(v) => Value::String(v.clone()),
                    None if self.lint => Value::String("captured".into()),
                    None => {
                        return Err(PlaceholderError::BadArg(format!(
                            "${spec} (nothing captured yet)"
                        )));
                    }
                }
            }
            Placeholder::CourseAnswer => {
                let name = arg.filter(|l| !l.is_empty()).ok_or_else(bad)?;
                let account = self.account.clone().ok_or_else(|| missing("--user"))?;
                let password = self.password.clone().ok_or_else(|| missing("--password"))?;
                let challenge = match self.captures.get(name) {
                    Some(c) => c.clone(),
                    None if self.lint => "0".repeat(128),
                    None => {
                        return Err(PlaceholderError::BadArg(format!(
                            "${spec} (no challenge captured)"
                        )));
                    }
                };
                Value::String(crate::course_login::answer(&account, &password, &challenge))
            }
        })
    }

    /// Expands every placeholder in a template.
    pub fn expand(&mut self, template: &Value, mode: Mode) -> Result<Value, PlaceholderError> {
        match template {
            Value::String(s) => self.expand_string_value(s, mode),
            Value::Array(items) => items
                .iter()
                .map(|v| self.expand(v, mode))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    if k.starts_with('$') {
                        if mode == Mode::Send {
                            return Err(PlaceholderError::OperatorInSend(k.clone()));
                        }
                        if ObjectOperator::parse(k).is_none() {
                            return Err(PlaceholderError::Unknown(k.clone()));
                        }
                        // Regexes and capture names are taken literally.
                        let keep = matches!(
                            ObjectOperator::parse(k),
                            Some(ObjectOperator::Regex | ObjectOperator::Capture)
                        );
                        let v = if keep { v.clone() } else { self.expand(v, mode)? };
                        out.insert(k.clone(), v);
                    } else {
                        out.insert(self.expand_str(k)?, self.expand(v, mode)?);
                    }
                }
                if mode == Mode::Send && (!self.accounts.is_empty() || self.registered.is_some()) {
                    self.add_pubkey(&mut out);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    fn expand_string_value(&mut self, s: &str, mode: Mode) -> Result<Value, PlaceholderError> {
        if let Some(rest) = s.strip_prefix("$$") {
            return Ok(Value::String(format!("${rest}")));
        }
        if let Some(body) = s.strip_prefix('$') {
            if !body.starts_with('{') {
                if StringOperator::parse(s).is_some() {
                    return if mode == Mode::Pattern {
                        Ok(Value::String(s.to_owned()))
                    } else {
                        Err(PlaceholderError::OperatorInSend(s.to_owned()))
                    };
                }
                return self.resolve(body);
            }
        }
        Ok(Value::String(self.expand_str(s)?))
    }

    /// Expands `${...}` inside a string (numbers are written as text).
    pub fn expand_str(&mut self, s: &str) -> Result<String, PlaceholderError> {
        let Some(re) = EMBEDDED.as_ref() else { return Ok(s.to_owned()) };
        if !s.contains("${") {
            return Ok(s.to_owned());
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for caps in re.captures_iter(s) {
            let (Some(all), Some(inner)) = (caps.get(0), caps.get(1)) else { continue };
            out.push_str(s.get(last..all.start()).unwrap_or_default());
            match self.resolve(inner.as_str())? {
                Value::String(v) => out.push_str(&v),
                other => out.push_str(&other.to_string()),
            }
            last = all.end();
        }
        out.push_str(s.get(last..).unwrap_or_default());
        if out.contains("${") {
            return Err(PlaceholderError::Unknown(out));
        }
        Ok(out)
    }
}

/// Decodes `send_raw` text: expands `${...}`, then the escapes of [`crate::escape`].
pub fn decode_raw(vars: &mut Vars, text: &str) -> Result<Vec<u8>, PlaceholderError> {
    let text = vars.expand_str(text)?;
    crate::escape::unescape(&text).map_err(|e| PlaceholderError::BadArg(format!("send_raw: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_unique_stable_and_short() {
        let mut v = Vars::new("k3f07", "Guest");
        let a = v.user("alice", None);
        assert_eq!(a, "alice_k3f07");
        assert_eq!(v.user("alice", None), a);
        let long = v.user("averyveryverylongnamethatgoeson", None);
        assert_eq!(long.chars().count(), 25);
        assert_eq!(v.user("x", Some(25)).len(), 25);
        assert_eq!(v.user("x", Some(26)).len(), 26);
        assert!(v.room("lobby").starts_with("#lobby_"));
    }

    #[test]
    fn expands_templates() {
        let mut v = Vars::new("ab", "Guest");
        let t = json!({"action":"presence","time":"$now","user":{"account_name":"$user:bob"},
                       "note":"hi ${user:bob}", "esc":"$$now", "n":"$name"});
        let out = v.expand(&t, Mode::Send).unwrap();
        assert!(out["time"].is_f64());
        assert_eq!(out["user"]["account_name"], "bob_ab");
        assert_eq!(out["note"], "hi bob_ab");
        assert_eq!(out["esc"], "$now");
        assert_eq!(out["n"], "Guest");
        assert!(v.expand(&json!("$nosuch"), Mode::Send).is_err());
        assert!(v.expand(&json!("$any"), Mode::Send).is_err());
        assert_eq!(
            v.expand(&json!({"$in":["$user:bob"]}), Mode::Pattern).unwrap(),
            json!({"$in":["bob_ab"]})
        );
        assert!(v.expand(&json!("$account"), Mode::Send).is_err());
        assert_eq!(v.expand(&json!("$text:5"), Mode::Send).unwrap(), json!("the q"));
    }

    #[test]
    fn a_drawn_account_names_the_label_carries_a_pubkey_and_answers_its_challenge_once() {
        let mut v = Vars::new("ab", "Guest");
        let slot = crate::accounts::Slot { label: "alice".into(), len: None };
        let key = crate::course_login::password_key("Мария", "мой пароль");
        v.assign_account(&slot, "Мария", &key);
        let t = json!({"action":"presence","time":"$now","user":{"account_name":"$user:alice"}});
        let out = v.expand(&t, Mode::Send).unwrap();
        assert_eq!(out["user"]["account_name"], "Мария");
        assert_eq!(out["user"]["pubkey"], SAMPLE_PUBKEY);
        let other = json!({"action":"presence","time":1,"user":{"account_name":"$user:bob"}});
        let out = v.expand(&other, Mode::Send).unwrap();
        assert!(out["user"].get("pubkey").is_none(), "a generated name gets no pubkey");
        let challenge = json!({"response": 511, "bin": "0123456789abcdef".repeat(8)});
        let answer = v.challenge_answer("a", "Мария", &challenge).unwrap();
        let want =
            crate::course_login::answer("Мария", "мой пароль", &"0123456789abcdef".repeat(8));
        assert_eq!(answer, json!({"response": 511, "bin": want}));
        assert!(v.challenge_answer("a", "Мария", &challenge).is_none(), "answered once");
        assert!(v.challenge_answer("b", "bob_ab", &challenge).is_none(), "not a drawn account");
        let key = json!({"response": 511, "bin": SAMPLE_PUBKEY});
        assert!(v.challenge_answer("c", "Мария", &key).is_none(), "a pubkey_need reply");
        v.assign_course_account("judy", "judy:colon");
        let t = json!({"action":"presence","time":1,"user":{"account_name":"$account"}});
        let out = v.expand(&t, Mode::Send).unwrap();
        assert_eq!(out["user"]["pubkey"], SAMPLE_PUBKEY, "the $account presence carries one too");
        assert!(v.challenge_answer("d", "judy", &challenge).is_none(), "the case answers itself");
    }

    #[test]
    fn decodes_raw_escapes() {
        let mut v = Vars::new("ab", "Guest");
        assert_eq!(
            decode_raw(&mut v, r#"{"a":1}\n\xff\\"#).unwrap(),
            b"{\"a\":1}\n\xff\\".to_vec()
        );
        assert!(decode_raw(&mut v, r"\q").is_err());
        assert_eq!(decode_raw(&mut v, "${user:z}").unwrap(), b"z_ab".to_vec());
    }
}
