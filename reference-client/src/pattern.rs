//! Subset matching of a received JSON value against an expected pattern (used by `script`).
//!
//! A pattern says only what matters: `{"response": 200}` matches any object whose `response`
//! is 200, whatever else it carries (`time`, `alert`, extra keys). Rules:
//! - object: every key of the pattern must be present and match; extra keys are fine;
//! - array: same length, elements match in order;
//! - number: numerically equal (`200` matches `200.0`);
//! - other scalars: equal;
//! - the strings `"$any"` (anything present), `"$number"`, `"$string"`, `"$array"`, `"$object"`
//!   match by kind.

use serde_json::Value;

/// Where and why a value does not match: a JSON-path-like location and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Location such as `.user.account_name` or `[2]` (empty for the whole value).
    pub path: String,
    /// What was expected and what was found there.
    pub reason: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "at {}: {}", self.path, self.reason)
        }
    }
}

/// Checks `value` against `pattern`; `Err` names the first difference.
pub fn matches(pattern: &Value, value: &Value) -> Result<(), Mismatch> {
    check(pattern, value, &mut String::new())
}

fn fail(path: &str, reason: String) -> Result<(), Mismatch> {
    Err(Mismatch { path: path.to_owned(), reason })
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

fn check(pattern: &Value, value: &Value, path: &mut String) -> Result<(), Mismatch> {
    match pattern {
        Value::String(p) if p.starts_with('$') => {
            let ok = match p.as_str() {
                "$any" => true,
                "$number" => value.is_number(),
                "$string" => value.is_string(),
                "$array" => value.is_array(),
                "$object" => value.is_object(),
                _ => value == pattern,
            };
            if ok { Ok(()) } else { fail(path, format!("expected {p}, got {}", short(value))) }
        }
        Value::Object(want) => {
            let Value::Object(got) = value else {
                return fail(path, format!("expected an object, got {}", short(value)));
            };
            for (key, sub) in want {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                match got.get(key) {
                    Some(v) => check(sub, v, path)?,
                    None => return fail(path, "missing".to_owned()),
                }
                path.truncate(len);
            }
            Ok(())
        }
        Value::Array(want) => {
            let Value::Array(got) = value else {
                return fail(path, format!("expected an array, got {}", short(value)));
            };
            if want.len() != got.len() {
                return fail(
                    path,
                    format!(
                        "expected {} elements, got {}: {}",
                        want.len(),
                        got.len(),
                        short(value)
                    ),
                );
            }
            for (i, (p, v)) in want.iter().zip(got).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check(p, v, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Number(n) => match value.as_f64() {
            Some(v) if n.as_f64() == Some(v) => Ok(()),
            _ => fail(path, format!("expected {n}, got {}", short(value))),
        },
        _ if pattern == value => Ok(()),
        _ => fail(path, format!("expected {}, got {}", short(pattern), short(value))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_rules() {
        let v = json!({"response":200,"time":1.5,"alert":"OK","data_list":["a","b"]});
        assert!(matches(&json!({"response":200}), &v).is_ok());
        assert!(matches(&json!({"response":200.0,"time":"$number"}), &v).is_ok());
        assert!(matches(&json!({"data_list":["a","b"]}), &v).is_ok());
        let e = matches(&json!({"response":400}), &v).unwrap_err();
        assert_eq!(e.to_string(), "at .response: expected 400, got 200");
        let e = matches(&json!({"error":"$any"}), &v).unwrap_err();
        assert_eq!(e.to_string(), "at .error: missing");
        let e = matches(&json!({"data_list":["a"]}), &v).unwrap_err();
        assert!(e.to_string().starts_with("at .data_list: expected 1 elements"));
        let e = matches(&json!({"data_list":["a","$number"]}), &v).unwrap_err();
        assert_eq!(e.path, ".data_list[1]");
        assert!(matches(&json!({"response":"200"}), &v).is_err(), "no type coercion");
    }
}
