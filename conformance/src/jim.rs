//! What the runner knows about JIM messages, read from JSON values alone (never through
//! `jim_protocol`'s types, so that the referee shares no bug with the reference server): which
//! values are pushes nobody asked for, which answers mean "unknown action", which messages say
//! goodbye, and the generic answer the runner gives a client's request in client mode.

use serde_json::{Value, json};

use crate::matcher::read_code;
use crate::placeholders::now_seconds;

/// True for a value nobody asked for that may arrive at any time after login: a 205 push or a
/// probe (PROTOCOL.md §order O5).
pub fn is_push(v: &Value) -> bool {
    let code = v.get("response").and_then(read_code).map(|(c, _)| c);
    code == Some(205) || v.get("action").and_then(Value::as_str) == Some("probe")
}

/// True when a response reads as "unknown action": a 400 with no text, a generic "bad request"
/// text, or a text saying the action is unknown or unsupported.
pub fn looks_unknown_action(v: &Value) -> bool {
    let Some((code, _)) = v.get("response").and_then(read_code) else { return false };
    if code != 400 {
        return false;
    }
    let text = ["error", "alert", "message"].iter().find_map(|k| v.get(*k).and_then(Value::as_str));
    match text {
        None => true,
        Some(t) => {
            let t = t.to_lowercase();
            t.trim().is_empty()
                || [
                    "unknown",
                    "unsupported",
                    "not supported",
                    "not implemented",
                    "invalid action",
                    "bad request",
                    "неизвест",
                    "не поддерж",
                    "некоррект",
                    "неверн",
                ]
                .iter()
                .any(|w| t.contains(w))
        }
    }
}

/// True for a client's goodbye: `quit` (spec), `exit` or `Exit` (course).
pub fn is_goodbye(v: &Value) -> bool {
    matches!(v.get("action").and_then(Value::as_str), Some("quit" | "exit" | "Exit"))
}

/// The generic answer to a request a client sends while `auto_answer` is on (None: no answer,
/// for quit/exit and for values that are not requests).
pub fn auto_reply(v: &Value) -> Option<Value> {
    let action = v.get("action")?.as_str()?;
    match action {
        "quit" | "exit" | "Exit" => None,
        "get_contacts" | "get_users" => {
            Some(json!({"response": 202, "time": now_seconds(), "alert": [], "data_list": []}))
        }
        _ => Some(json!({"response": 200, "time": now_seconds(), "alert": "OK"})),
    }
}

/// The login name a presence carries (`user.account_name`), if it is one.
pub fn presence_name(v: &Value) -> Option<&str> {
    if v.get("action").and_then(Value::as_str) != Some("presence") {
        return None;
    }
    v.pointer("/user/account_name").and_then(Value::as_str)
}

/// An ordinary login or goodbye (a presence with a name, a quit/exit): not a suspect when a
/// server breaks.
pub fn is_routine(v: &Value) -> bool {
    match v.get("action").and_then(Value::as_str) {
        Some("presence") => presence_name(v).is_some_and(|n| !n.is_empty()),
        Some("quit" | "exit") => true,
        _ => false,
    }
}

/// The polite goodbye of a logged-in connection: `quit` (spec) or `exit` with the name (course).
pub fn goodbye(course: bool, name: &str) -> Value {
    if course {
        json!({"action": "exit", "time": now_seconds(), "account_name": name})
    } else {
        json!({"action": "quit", "time": now_seconds()})
    }
}
