//! Patterns and the matcher. A pattern is JSON: literals must be equal, objects must have every
//! key of the pattern (extra keys are allowed), arrays must match element by element, and
//! operators (`$any`, `{"$in": [...]}`, ... see [`crate::catalog`]) match by rule.
//!
//! JIM-aware rules, each tied to a named tolerance that the profile enables:
//! - `response`: a numeric string passes only under `string-code`; another 4xx/5xx than the one
//!   expected passes only under `any-error-code`;
//! - `time` with `$time`: absent or unusable passes under `no-time` (or silently where the
//!   profile says replies need no time);
//! - `error`: text under `alert`/`message` passes under `error-text-key`;
//! - keys JIM does not define pass under `extra-keys`.
//!
//! The outcome lists every mismatch with its path, and every tolerance that was needed, so a
//! failure can say "expected 404 at .response, got 200" and a pass can say which tolerance it
//! needed.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::JIM_KEYS;
use crate::i18n::Said;
use crate::vocab::{ObjectOperator, StringOperator, Tolerance};
use jim_protocol::message::json_type;

/// How a profile treats a tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToleranceMode {
    /// Accepted, and the case is reported `pass-lenient` naming it.
    Lenient,
    /// Accepted silently (the profile considers it normal).
    Allow,
}

/// The tolerances in force for a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tolerances {
    /// Enabled tolerances and how they count.
    pub enabled: BTreeMap<Tolerance, ToleranceMode>,
    /// `--strict`: no tolerance is accepted.
    pub strict: bool,
    /// Replies need no `time` at all in this profile (course servers send bare responses).
    pub time_optional: bool,
}

impl Tolerances {
    /// No tolerance at all (for unit tests and strict checks).
    pub fn none() -> Self {
        Self::default()
    }

    /// Every known tolerance as `lenient`.
    pub fn all_lenient() -> Self {
        Self {
            enabled: Tolerance::ALL.iter().map(|t| (*t, ToleranceMode::Lenient)).collect(),
            strict: false,
            time_optional: false,
        }
    }

    /// How the named tolerance counts now, if it is accepted.
    pub fn mode(&self, tolerance: Tolerance) -> Option<ToleranceMode> {
        if self.strict { None } else { self.enabled.get(&tolerance).copied() }
    }
}

/// The result of matching one value against one pattern.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Every mismatch, each with its path; empty means a match.
    pub mismatches: Vec<Said>,
    /// Lenient tolerances that were needed for the match.
    pub lenient: BTreeSet<Tolerance>,
    /// Tolerances that would have turned a mismatch into a match (disabled, or `--strict`).
    pub would_need: BTreeSet<Tolerance>,
    /// Values captured by `$capture`.
    pub captures: Vec<(String, String)>,
}

impl Outcome {
    /// True when the value matched.
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Matches `actual` against `pattern` (placeholders already expanded).
pub fn match_value(pattern: &Value, actual: &Value, tol: &Tolerances) -> Outcome {
    let mut m = Matcher { tol, out: Outcome::default() };
    m.value("", pattern, actual);
    m.out
}

/// A compact one-line rendering of a value for messages, at most `max` characters.
pub fn show(value: &Value, max: usize) -> String {
    let s = value.to_string();
    if s.chars().count() <= max {
        s
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// JSON equality where numbers compare by value (`200` equals `200.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// How far a client's `time` may be from the runner's clock.
pub const RECENT_SECONDS: f64 = 300.0;

/// Checks that `v` is a usable time within [`RECENT_SECONDS`] of now; the error says why not in
/// plain words (milliseconds, a formatted date, a fixed old value ...).
pub fn recent_time(v: &Value) -> Result<(), Said> {
    let t = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|t| t.is_finite()),
        _ => None,
    };
    let Some(t) = t else {
        let got = show(v, 60);
        return Err(Said::new(
            format!("expected the current Unix time in seconds (like time.time()), got {got}"),
            format!("ожидалось текущее время Unix в секундах (как time.time()), пришло {got}"),
        ));
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let off = t - now;
    if off.abs() <= RECENT_SECONDS {
        return Ok(());
    }
    let millis = (t / 1000.0 - now).abs() <= RECENT_SECONDS;
    let (got, secs) = (show(v, 40), off.abs());
    Err(Said::new(
        format!(
            "expected the current Unix time in seconds, got {got} ({secs:.0} s {} the runner's clock){}",
            if off < 0.0 { "behind" } else { "ahead of" },
            if millis { " (milliseconds? send seconds, like time.time())" } else { "" }
        ),
        format!(
            "ожидалось текущее время Unix в секундах, пришло {got} ({} на {secs:.0} с){}",
            if off < 0.0 {
                "отстаёт от часов проверяющего"
            } else {
                "опережает часы проверяющего"
            },
            if millis {
                " (миллисекунды? отправляйте секунды, как time.time())"
            } else {
                ""
            }
        ),
    ))
}

/// True when a `time` value is usable: a number or a numeric string (PROTOCOL.md §time).
pub fn usable_time(v: &Value) -> bool {
    match v {
        Value::Number(_) => true,
        Value::String(s) => s.trim().parse::<f64>().is_ok_and(f64::is_finite),
        _ => false,
    }
}

/// Reads a response code: an integer, or a numeric string (`Some((code, true))`).
pub fn read_code(v: &Value) -> Option<(i64, bool)> {
    match v {
        Value::Number(n) => n.as_i64().map(|c| (c, false)),
        Value::String(s) => s.trim().parse::<i64>().ok().map(|c| (c, true)),
        _ => None,
    }
}

fn is_operator_object(p: &serde_json::Map<String, Value>) -> bool {
    !p.is_empty() && p.keys().all(|k| k.starts_with('$'))
}

struct Matcher<'t> {
    tol: &'t Tolerances,
    out: Outcome,
}

impl<'t> Matcher<'t> {
    fn sub(&self) -> Matcher<'t> {
        Matcher { tol: self.tol, out: Outcome::default() }
    }

    fn merge(&mut self, other: Matcher<'_>) {
        self.out.mismatches.extend(other.out.mismatches);
        self.out.lenient.extend(other.out.lenient);
        self.out.would_need.extend(other.out.would_need);
        self.out.captures.extend(other.out.captures);
    }

    fn fail(&mut self, path: &str, msg: impl Into<Said>) -> bool {
        let msg = msg.into();
        let (en, ru) = if path.is_empty() { ("value", "значение") } else { (path, path) };
        self.out.mismatches.push(msg.prefixed(&format!("{en}: "), &format!("{ru}: ")));
        false
    }

    /// Asks for a tolerance: true if it is accepted (recorded), false otherwise (noted).
    fn tolerate(&mut self, tolerance: Tolerance) -> bool {
        match self.tol.mode(tolerance) {
            Some(ToleranceMode::Lenient) => {
                self.out.lenient.insert(tolerance);
                true
            }
            Some(ToleranceMode::Allow) => true,
            None => {
                self.out.would_need.insert(tolerance);
                false
            }
        }
    }

    fn try_sub(&mut self, path: &str, p: &Value, a: &Value) -> Option<Matcher<'t>> {
        let mut s = self.sub();
        s.value(path, p, a);
        if s.out.ok() { Some(s) } else { None }
    }

    fn value(&mut self, path: &str, p: &Value, a: &Value) -> bool {
        match p {
            Value::String(op) if op.starts_with('$') => self.string_op(path, op, a),
            Value::Object(po) if is_operator_object(po) => {
                let mut ok = true;
                for (k, arg) in po {
                    ok &= self.object_op(path, k, arg, a);
                }
                ok
            }
            Value::Object(po) => {
                let Value::Object(ao) = a else {
                    return self.fail(
                        path,
                        Said::new(
                            format!("expected an object, got {}", show(a, 120)),
                            format!("ожидался объект, пришло {}", show(a, 120)),
                        ),
                    );
                };
                let mut ok = true;
                for (k, pv) in po {
                    let kp = format!("{path}.{k}");
                    ok &= self.key(&kp, k, pv, ao);
                }
                let extra: Vec<&String> = ao
                    .keys()
                    .filter(|k| !po.contains_key(*k) && !JIM_KEYS.contains(&k.as_str()))
                    .collect();
                if !extra.is_empty() && !self.tolerate(Tolerance::ExtraKeys) {
                    let names: Vec<String> = extra.iter().map(|k| format!("\"{k}\"")).collect();
                    ok &= self.fail(
                        path,
                        Said::new(
                            format!("keys that JIM does not define: {}", names.join(", ")),
                            format!("ключи, которых нет в JIM: {}", names.join(", ")),
                        ),
                    );
                }
                ok
            }
            Value::Array(pa) => {
                let Value::Array(aa) = a else {
                    return self.fail(
                        path,
                        Said::new(
                            format!("expected an array, got {}", show(a, 120)),
                            format!("ожидался массив, пришло {}", show(a, 120)),
                        ),
                    );
                };
                if pa.len() != aa.len() {
                    return self.fail(
                        path,
                        Said::new(
                            format!(
                                "expected {} elements, got {}: {}",
                                pa.len(),
                                aa.len(),
                                show(a, 120)
                            ),
                            format!(
                                "ожидалось элементов: {}, пришло {}: {}",
                                pa.len(),
                                aa.len(),
                                show(a, 120)
                            ),
                        ),
                    );
                }
                let mut ok = true;
                for (i, (pv, av)) in pa.iter().zip(aa).enumerate() {
                    ok &= self.value(&format!("{path}[{i}]"), pv, av);
                }
                ok
            }
            literal => {
                if json_eq(literal, a) {
                    true
                } else {
                    self.fail(
                        path,
                        Said::new(
                            format!("expected {}, got {}", show(literal, 120), show(a, 120)),
                            format!("ожидалось {}, пришло {}", show(literal, 120), show(a, 120)),
                        ),
                    )
                }
            }
        }
    }

    fn key(&mut self, kp: &str, k: &str, pv: &Value, ao: &serde_json::Map<String, Value>) -> bool {
        let optional = match pv {
            Value::Object(o) if o.len() == 1 => o.get(ObjectOperator::Optional.as_str()),
            _ => None,
        };
        let inner = optional.unwrap_or(pv);
        if pv.as_str() == Some(StringOperator::Absent.as_str()) {
            return match ao.get(k) {
                None => true,
                Some(v) => self.fail(
                    kp,
                    Said::new(
                        format!("must be absent, got {}", show(v, 120)),
                        format!("должно отсутствовать, пришло {}", show(v, 120)),
                    ),
                ),
            };
        }
        match (k, ao.get(k)) {
            ("response", Some(a)) => self.response(kp, inner, a),
            ("time", got) if inner.as_str() == Some(StringOperator::Time.as_str()) => match got {
                Some(v) if usable_time(v) => true,
                _ if optional.is_some() || self.tol.time_optional => true,
                _ if self.tolerate(Tolerance::NoTime) => true,
                Some(v) => self.fail(
                    kp,
                    Said::new(
                        format!("expected a time (number), got {}", show(v, 60)),
                        format!("ожидалось время (число), пришло {}", show(v, 60)),
                    ),
                ),
                None => self.fail(
                    kp,
                    Said::new(
                        "missing (replies should carry \"time\")",
                        "нет (в ответах должно быть \"time\")",
                    ),
                ),
            },
            ("error", None) => {
                let alt =
                    ["alert", "message"].into_iter().find_map(|alt| ao.get(alt).map(|v| (alt, v)));
                match alt {
                    Some((alt, v)) if optional.is_none() => {
                        if let Some(s) = self.try_sub(&format!("{kp}→{alt}"), inner, v) {
                            if self.tolerate(Tolerance::ErrorTextKey) {
                                self.merge(s);
                                return true;
                            }
                        }
                        self.fail(
                            kp,
                            Said::new(
                                format!("missing (the text came under \"{alt}\")"),
                                format!("нет (текст пришёл под ключом \"{alt}\")"),
                            ),
                        )
                    }
                    _ if optional.is_some() => true,
                    _ => self.fail(kp, Said::new("missing", "нет")),
                }
            }
            (_, Some(a)) => self.value(kp, inner, a),
            (_, None) if optional.is_some() => true,
            (_, None) => self.fail(kp, Said::new("missing", "нет")),
        }
    }

    fn response(&mut self, kp: &str, p: &Value, a: &Value) -> bool {
        if let Value::Object(o) = p {
            if o.contains_key(ObjectOperator::Exact.as_str()) {
                return self.value(kp, p, a);
            }
        }
        let Some((code, is_string)) = read_code(a) else {
            return self.fail(
                kp,
                Said::new(
                    format!("expected a numeric response code, got {}", show(a, 60)),
                    format!("ожидался числовой код ответа, пришло {}", show(a, 60)),
                ),
            );
        };
        if is_string && !self.tolerate(Tolerance::StringCode) {
            return self.fail(
                kp,
                Said::new(
                    format!("the code is the string {}; send a number", show(a, 20)),
                    format!("код — строка {}; отправляйте число", show(a, 20)),
                ),
            );
        }
        let num = Value::from(code);
        if let Some(s) = self.try_sub(kp, p, &num) {
            self.merge(s);
            return true;
        }
        // Only a pattern that expects an error and nothing else: where a success is also
        // acceptable (a capability probe), a 400 means "not understood", not "another error".
        let accepts = |c: i64| match_value(p, &Value::from(c), &Tolerances::none()).ok();
        let expects_error = [400, 401, 402, 403, 404, 405, 409, 410, 500].into_iter().any(accepts)
            && ![200, 201, 202, 205, 511].into_iter().any(accepts);
        if (400..=599).contains(&code) && expects_error && self.tolerate(Tolerance::AnyErrorCode) {
            return true;
        }
        let expected = describe(p);
        let expected_ru = match expected.strip_prefix("one of ") {
            Some(list) => format!("одно из {list}"),
            None => expected.clone(),
        };
        self.fail(
            kp,
            Said::new(
                format!("expected {expected}, got {code}"),
                format!("ожидалось {expected_ru}, пришло {code}"),
            ),
        )
    }

    fn string_op(&mut self, path: &str, name: &str, a: &Value) -> bool {
        let Some(op) = StringOperator::parse(name) else {
            return self.fail(path, format!("unknown operator {name} in the fixture"));
        };
        let what = match op {
            StringOperator::Any => return true,
            StringOperator::Recent => {
                return match recent_time(a) {
                    Ok(()) => true,
                    Err(why) => self.fail(path, why),
                };
            }
            StringOperator::Number if a.is_number() => return true,
            StringOperator::Int if a.is_i64() || a.is_u64() => return true,
            StringOperator::String if a.is_string() => return true,
            StringOperator::Nonempty if a.as_str().is_some_and(|s| !s.trim().is_empty()) => {
                return true;
            }
            StringOperator::Time if usable_time(a) => return true,
            StringOperator::Object if a.is_object() => return true,
            StringOperator::Array if a.is_array() => return true,
            StringOperator::Bool if a.is_boolean() => return true,
            StringOperator::Number => ("a number", "число"),
            StringOperator::Int => ("an integer", "целое число"),
            StringOperator::String => ("a string", "строка"),
            StringOperator::Nonempty => ("a non-empty string", "непустая строка"),
            StringOperator::Time => {
                ("a time (number or numeric string)", "время (число или строка с числом)")
            }
            StringOperator::Object => ("an object", "объект"),
            StringOperator::Array => ("an array", "массив"),
            StringOperator::Bool => ("a boolean", "логическое значение"),
            StringOperator::Absent => ("nothing here", "ничего"),
        };
        let (en, ru) = what;
        let got = show(a, 120);
        self.fail(
            path,
            Said::new(format!("expected {en}, got {got}"), format!("ожидалось {ru}, пришло {got}")),
        )
    }

    fn object_op(&mut self, path: &str, name: &str, arg: &Value, a: &Value) -> bool {
        let Some(op) = ObjectOperator::parse(name) else {
            return self.fail(path, format!("unknown operator {name} in the fixture"));
        };
        match op {
            ObjectOperator::In => {
                let Value::Array(options) = arg else {
                    return self.fail(path, "$in needs a list");
                };
                if options.iter().any(|o| json_eq(o, a)) {
                    true
                } else {
                    self.fail(
                        path,
                        Said::new(
                            format!("expected one of {}, got {}", show(arg, 120), show(a, 120)),
                            format!(
                                "ожидалось одно из {}, пришло {}",
                                show(arg, 120),
                                show(a, 120)
                            ),
                        ),
                    )
                }
            }
            ObjectOperator::Regex => {
                let Some(re) = arg.as_str().and_then(|r| Regex::new(r).ok()) else {
                    return self.fail(path, format!("bad regex {} in the fixture", show(arg, 60)));
                };
                match a.as_str() {
                    Some(s) if re.is_match(s) => true,
                    _ => self.fail(
                        path,
                        Said::new(
                            format!(
                                "expected text matching /{}/, got {}",
                                re.as_str(),
                                show(a, 120)
                            ),
                            format!("ожидался текст по /{}/, пришло {}", re.as_str(), show(a, 120)),
                        ),
                    ),
                }
            }
            ObjectOperator::Optional => self.value(path, arg, a),
            ObjectOperator::Not => {
                if self.try_sub(path, arg, a).is_some() {
                    self.fail(
                        path,
                        Said::new(
                            format!("must not match {}, got {}", show(arg, 80), show(a, 120)),
                            format!(
                                "не должно совпадать с {}, пришло {}",
                                show(arg, 80),
                                show(a, 120)
                            ),
                        ),
                    )
                } else {
                    true
                }
            }
            ObjectOperator::AnyOf => {
                let Value::Array(alts) = arg else {
                    return self.fail(path, "$anyof needs a list");
                };
                for alt in alts {
                    if let Some(s) = self.try_sub(path, alt, a) {
                        self.merge(s);
                        return true;
                    }
                }
                self.fail(
                    path,
                    Said::new(
                        format!("expected any of {}, got {}", show(arg, 160), show(a, 120)),
                        format!("ожидалось любое из {}, пришло {}", show(arg, 160), show(a, 120)),
                    ),
                )
            }
            ObjectOperator::Contains => self.contains(path, arg, a),
            ObjectOperator::Len => self.len(path, arg, a),
            ObjectOperator::Range => self.range(path, arg, a),
            ObjectOperator::Exact => {
                if json_eq(arg, a) && json_type(arg) == json_type(a) {
                    true
                } else {
                    self.fail(
                        path,
                        Said::new(
                            format!("expected exactly {}, got {}", show(arg, 120), show(a, 120)),
                            format!("ожидалось ровно {}, пришло {}", show(arg, 120), show(a, 120)),
                        ),
                    )
                }
            }
            ObjectOperator::Capture => {
                let name = arg.as_str().unwrap_or("capture").to_owned();
                let text = match a {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                self.out.captures.push((name, text));
                true
            }
        }
    }
    /// `$contains`: an array with, for each pattern, an element matching it.
    fn contains(&mut self, path: &str, arg: &Value, a: &Value) -> bool {
        let Value::Array(items) = a else {
            return self.fail(
                path,
                Said::new(
                    format!("expected an array, got {}", show(a, 120)),
                    format!("ожидался массив, пришло {}", show(a, 120)),
                ),
            );
        };
        let Value::Array(wanted) = arg else {
            return self.fail(path, "$contains needs a list");
        };
        let mut ok = true;
        for w in wanted {
            let hit = items
                .iter()
                .enumerate()
                .find_map(|(i, it)| self.try_sub(&format!("{path}[{i}]"), w, it));
            match hit {
                Some(s) => self.merge(s),
                None => {
                    ok &= self.fail(
                        path,
                        Said::new(
                            format!("no element matches {} in {}", show(w, 80), show(a, 160)),
                            format!(
                                "ни один элемент не подходит под {} в {}",
                                show(w, 80),
                                show(a, 160)
                            ),
                        ),
                    );
                }
            }
        }
        ok
    }

    /// `$len`: a string's length in characters or an array's length, N or {min, max}.
    fn len(&mut self, path: &str, arg: &Value, a: &Value) -> bool {
        let len = match a {
            Value::String(s) => s.chars().count(),
            Value::Array(v) => v.len(),
            _ => {
                return self.fail(
                    path,
                    Said::new(
                        format!("expected a string or array, got {}", show(a, 80)),
                        format!("ожидалась строка или массив, пришло {}", show(a, 80)),
                    ),
                );
            }
        };
        let (min, max) = match arg {
            Value::Number(n) => (n.as_u64().unwrap_or(0), n.as_u64().unwrap_or(0)),
            Value::Object(o) => (
                o.get("min").and_then(Value::as_u64).unwrap_or(0),
                o.get("max").and_then(Value::as_u64).unwrap_or(u64::MAX),
            ),
            _ => return self.fail(path, "$len needs N or {min,max}"),
        };
        let len = len as u64;
        if (min..=max).contains(&len) {
            true
        } else {
            self.fail(
                path,
                Said::new(
                    format!("length {len} is outside {min}..={max}"),
                    format!("длина {len} вне {min}..={max}"),
                ),
            )
        }
    }

    /// `$range`: a number in [LO, HI].
    fn range(&mut self, path: &str, arg: &Value, a: &Value) -> bool {
        let bounds = arg
            .as_array()
            .map(|b| (b.first().and_then(Value::as_f64), b.get(1).and_then(Value::as_f64)));
        let (Some((Some(lo), Some(hi))), Some(x)) = (bounds, a.as_f64()) else {
            return self.fail(
                path,
                Said::new(
                    format!("expected a number in {}, got {}", show(arg, 40), show(a, 80)),
                    format!("ожидалось число в {}, пришло {}", show(arg, 40), show(a, 80)),
                ),
            );
        };
        if (lo..=hi).contains(&x) {
            true
        } else {
            self.fail(
                path,
                Said::new(
                    format!("expected a number in [{lo}, {hi}], got {x}"),
                    format!("ожидалось число в [{lo}, {hi}], пришло {x}"),
                ),
            )
        }
    }
}

/// A short description of a pattern for "expected ..." texts.
pub fn describe(p: &Value) -> String {
    match p {
        Value::Object(o) if o.len() == 1 && o.contains_key("$in") => {
            format!("one of {}", show(&o["$in"], 80))
        }
        other => show(other, 120),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn spec_tol() -> Tolerances {
        let mut t = Tolerances::all_lenient();
        t.enabled.insert(Tolerance::ExtraKeys, ToleranceMode::Allow);
        t
    }

    #[test]
    fn literals_and_extra_keys() {
        let p = json!({"response": 200});
        assert!(
            match_value(
                &p,
                &json!({"response": 200, "time": 1.5, "alert": "OK"}),
                &Tolerances::none()
            )
            .ok()
        );
        let o = match_value(&p, &json!({"response": 200, "weird": 1}), &Tolerances::none());
        assert!(!o.ok());
        assert!(o.would_need.contains(&Tolerance::ExtraKeys));
        assert!(match_value(&p, &json!({"response": 200, "weird": 1}), &spec_tol()).ok());
        assert!(match_value(&json!(200), &json!(200.0), &Tolerances::none()).ok());
    }

    #[test]
    fn response_code_tolerances() {
        let p = json!({"response": 404});
        let o = match_value(&p, &json!({"response": "404"}), &spec_tol());
        assert!(o.ok() && o.lenient.contains(&Tolerance::StringCode));
        let o = match_value(&p, &json!({"response": "404"}), &Tolerances::none());
        assert!(!o.ok() && o.would_need.contains(&Tolerance::StringCode));
        let o = match_value(&p, &json!({"response": 400}), &spec_tol());
        assert!(o.ok() && o.lenient.contains(&Tolerance::AnyErrorCode));
        let o = match_value(&p, &json!({"response": 200}), &spec_tol());
        assert!(!o.ok());
        assert!(o.mismatches[0].contains("expected 404, got 200"), "{:?}", o.mismatches);
        let mut strict = spec_tol();
        strict.strict = true;
        assert!(!match_value(&p, &json!({"response": 400}), &strict).ok());
        // a success pattern never accepts an error code
        assert!(
            !match_value(&json!({"response": 200}), &json!({"response": 400}), &spec_tol()).ok()
        );
        assert!(
            match_value(
                &json!({"response": {"$in": [200, 202]}}),
                &json!({"response": 202}),
                &Tolerances::none()
            )
            .ok()
        );
        // a pattern that also accepts a success is not rescued by any-error-code
        let probe = json!({"response": {"$in": [200, 402]}});
        assert!(!match_value(&probe, &json!({"response": 400}), &spec_tol()).ok());
    }

    #[test]
    fn time_and_error_text() {
        let p = json!({"response": 400, "time": "$time", "error": "$nonempty"});
        let full = json!({"response": 400, "time": 1.0, "error": "bad"});
        assert!(match_value(&p, &full, &Tolerances::none()).ok());
        let bare = json!({"response": 400, "alert": "bad"});
        let o = match_value(&p, &bare, &spec_tol());
        assert!(o.ok(), "{:?}", o.mismatches);
        assert!(
            o.lenient.contains(&Tolerance::NoTime) && o.lenient.contains(&Tolerance::ErrorTextKey)
        );
        let o = match_value(&p, &bare, &Tolerances::none());
        assert_eq!(o.mismatches.len(), 2, "{:?}", o.mismatches);
        let course = Tolerances { time_optional: true, ..Tolerances::none() };
        assert!(
            match_value(
                &json!({"response": 200, "time": "$time"}),
                &json!({"response": 200}),
                &course
            )
            .ok()
        );
        assert!(
            match_value(&json!({"time": "$time"}), &json!({"time": "17.5"}), &Tolerances::none())
                .ok()
        );
    }

    #[test]
    fn operators() {
        let none = Tolerances::none();
        assert!(match_value(&json!({"$regex": "^a+$"}), &json!("aaa"), &none).ok());
        assert!(!match_value(&json!({"$regex": "^a+$"}), &json!("ab"), &none).ok());
        assert!(match_value(&json!({"$contains": ["b"]}), &json!(["a", "b"]), &none).ok());
        assert!(!match_value(&json!({"$contains": ["c"]}), &json!(["a", "b"]), &none).ok());
        assert!(match_value(&json!({"x": {"$optional": "$int"}}), &json!({}), &none).ok());
        assert!(!match_value(&json!({"x": {"$optional": "$int"}}), &json!({"x": "s"}), &none).ok());
        assert!(match_value(&json!({"x": "$absent"}), &json!({}), &none).ok());
        assert!(!match_value(&json!({"x": "$absent"}), &json!({"x": 1}), &none).ok());
        assert!(match_value(&json!({"$not": 1}), &json!(2), &none).ok());
        assert!(match_value(&json!({"$anyof": [1, "$string"]}), &json!("z"), &none).ok());
        assert!(match_value(&json!({"$len": {"min": 2, "max": 3}}), &json!("ыыы"), &none).ok());
        assert!(match_value(&json!({"$range": [400, 499]}), &json!(404), &none).ok());
        let o = match_value(
            &json!({"bin": {"$capture": "c", "$regex": "^[0-9a-f]{4}$"}}),
            &json!({"bin": "00ff"}),
            &none,
        );
        assert!(o.ok());
        assert_eq!(o.captures, vec![("c".to_owned(), "00ff".to_owned())]);
        assert!(
            !match_value(
                &json!({"response": {"$exact": 400}}),
                &json!({"response": "400"}),
                &spec_tol()
            )
            .ok()
        );
    }

    #[test]
    fn mismatches_name_the_path() {
        let o = match_value(
            &json!({"action": "msg", "user": {"account_name": "bob"}}),
            &json!({"action": "message", "user": {}}),
            &Tolerances::none(),
        );
        assert_eq!(o.mismatches.len(), 2);
        assert!(o.mismatches[0].starts_with(".action: expected \"msg\", got \"message\""));
        assert!(o.mismatches[1].starts_with(".user.account_name: missing"));
    }
}
