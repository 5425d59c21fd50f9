//! What each operation writes, in each dialect: the requests as a normal client of that dialect
//! sends them (PROTOCOL.md §dialects), so that a course server reads course messages and a spec
//! server spec ones. Written once and used by the driver and by the Python emitter.

use serde_json::{Value, json};

use super::model::{BadKind, Dest, Model, Op, Session};
use crate::model::Dialect;
use crate::placeholders::now_seconds;

/// Largest request a session writes: the original spec's cap on one message (640), which is
/// what student code reads with one `recv(1024)` even with a long name.
pub const MAX_REQUEST_BYTES: usize = 640;

/// Malformed JSON that a `Bad { Malformed }` step writes.
pub const MALFORMED: &str = "{action: \"presence\", time: 1}";

/// The unknown action of `Bad { UnknownAction }` and of the unknown-action barrier.
pub const UNKNOWN_ACTION: &str = "dance";

/// One request, ready to be written.
#[derive(Debug, Clone)]
pub struct Request {
    /// The JSON value (None for malformed input).
    pub value: Option<Value>,
    /// Written as raw UTF-8 (not `\u` escapes).
    pub raw_utf8: bool,
    /// The bytes on the wire (newline framing).
    pub bytes: Vec<u8>,
}

fn encode(value: &Value, raw_utf8: bool) -> Vec<u8> {
    if raw_utf8 {
        let mut bytes = serde_json::to_vec(value).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    } else {
        jim_protocol::codec::to_bytes(value, jim_protocol::Framing::Newline)
    }
}

/// The request `op` writes in the current state (names with the session prefix `tag`), or None
/// for steps that write nothing (connect, close, reset).
pub fn request(session: &Session, tag: &str, model: &Model, op: &Op) -> Option<Request> {
    request_at(session, tag, model, op, json!(now_seconds()))
}

/// [`request`] with a given `time` value (the Python emitter writes an expression there).
pub fn request_at(
    session: &Session,
    tag: &str,
    model: &Model,
    op: &Op,
    time: Value,
) -> Option<Request> {
    let c = op.client();
    let me = model.client(c)?;
    let spec = me.dialect == Dialect::Spec;
    let name = |n| session.name(tag, n);
    // Not logged in (yet), a client writes the name it asked for, as course clients do.
    let own = me.name.or(me.tried).map(name).unwrap_or_else(|| name(0));
    let (value, raw_utf8) = match op {
        Op::Connect { .. } | Op::Close { .. } | Op::Reset { .. } => return None,
        Op::Presence { name: n, .. } => (presence(spec, &name(*n), &time), false),
        Op::Msg { to, text, forged, raw, .. } => {
            let to = match to {
                Dest::User(n) => name(*n),
                Dest::Room(r) => session.room(tag, *r),
            };
            let from = forged.map(name).unwrap_or_else(|| own.clone());
            (msg(spec, &to, &from, text, &time), *raw)
        }
        Op::Join { room, .. } => {
            (json!({"action": "join", "time": time, "room": session.room(tag, *room)}), false)
        }
        Op::Leave { room, .. } => {
            (json!({"action": "leave", "time": time, "room": session.room(tag, *room)}), false)
        }
        Op::GetContacts { .. } | Op::Check { .. } if spec => {
            (json!({"action": "get_contacts", "time": time}), false)
        }
        Op::GetContacts { .. } | Op::Check { .. } => {
            (json!({"action": "get_contacts", "time": time, "user": own}), false)
        }
        Op::AddContact { who, .. } if spec => {
            (json!({"action": "add_contact", "time": time, "user_id": name(*who)}), false)
        }
        Op::AddContact { who, .. } => {
            (json!({"action": "add", "time": time, "user": own, "account_name": name(*who)}), false)
        }
        Op::DelContact { who, .. } if spec => {
            (json!({"action": "del_contact", "time": time, "user_id": name(*who)}), false)
        }
        Op::DelContact { who, .. } => (
            json!({"action": "remove", "time": time, "user": own, "account_name": name(*who)}),
            false,
        ),
        Op::GetUsers { .. } => {
            (json!({"action": "get_users", "time": time, "account_name": own}), false)
        }
        Op::Quit { .. } if spec => (json!({"action": "quit", "time": time}), false),
        Op::Quit { .. } => (json!({"action": "exit", "time": time, "account_name": own}), false),
        Op::Bad { kind: BadKind::Malformed, .. } => {
            let mut bytes = MALFORMED.as_bytes().to_vec();
            bytes.push(b'\n');
            return Some(Request { value: None, raw_utf8: false, bytes });
        }
        Op::Bad { kind: BadKind::UnknownAction, .. } => {
            (json!({"action": UNKNOWN_ACTION, "time": time}), false)
        }
        Op::Bad { kind: BadKind::NoName, .. } => {
            (json!({"action": "presence", "time": time, "user": {}}), false)
        }
    };
    let bytes = encode(&value, raw_utf8);
    Some(Request { value: Some(value), raw_utf8, bytes })
}

fn presence(spec: bool, name: &str, time: &Value) -> Value {
    if spec {
        json!({"action": "presence", "time": time, "type": "status",
               "user": {"account_name": name, "status": "online"}})
    } else {
        json!({"action": "presence", "time": time, "user": {"account_name": name}})
    }
}

fn msg(spec: bool, to: &str, from: &str, text: &str, time: &Value) -> Value {
    if spec {
        json!({"action": "msg", "time": time, "to": to, "from": from, "encoding": "ascii",
               "message": text})
    } else {
        json!({"action": "message", "time": time, "from": from, "to": to, "mess_text": text})
    }
}

/// A `time` as long as any real one (13 characters until the year 2286), for sizes: they,
/// and so what the generator makes of them, must not depend on the clock.
pub fn longest_time() -> Value {
    json!(9_999_999_999.99_f64)
}

/// Bytes of a message request with these (longest) names and text.
pub fn msg_size(spec: bool, to: &str, from: &str, text: &str, raw_utf8: bool) -> usize {
    encode(&msg(spec, &format!("#{to}"), from, text, &longest_time()), raw_utf8).len()
}
