//! What the client writes (builders for both dialects) and how it reads what the server writes
//! (classification of each received value).
//!
//! Builders go through [`jim_protocol::Message::to_value`], so the bytes on the wire are exactly
//! the canonical forms PROTOCOL.md shows for each dialect. [`classify`] sorts a received value
//! into a response, a push, a relayed message or "not JIM" (`§responses`, `§order` O5).

use jim_protocol::message::{ContactChange, GetContacts, GetUsers, PubkeyNeed};
use jim_protocol::{
    Authenticate, Chat, Dialect, Message, Presence, ProtocolError, Quit, Response, ResponseCode,
    ResponseCodeField, RoomRequest, Target, Timestamp,
};
use serde_json::Value;

use crate::say::Said;

/// The account name `ping` uses by default: the lesson-3 reference server accepts only `Guest`.
pub const DEFAULT_NAME: &str = "Guest";

/// The `user.status` the spec dialect presence carries.
pub const DEFAULT_STATUS: &str = "online";

fn now() -> Option<Timestamp> {
    Some(Timestamp::now())
}

/// A presence. Spec: `type:"status"` and `user.status`; course: just `user.account_name`.
pub fn presence(dialect: Dialect, name: &str) -> Value {
    let spec = dialect == Dialect::Spec;
    Message::Presence(Presence {
        time: now(),
        account_name: name.to_owned(),
        status: spec.then(|| DEFAULT_STATUS.to_owned()),
        kind: spec.then(|| "status".to_owned()),
        pubkey: None,
    })
    .to_value(dialect)
}

/// A spec `authenticate` with the password in clear text (as the spec has it).
pub fn authenticate(name: &str, password: &str) -> Value {
    Message::Authenticate(Authenticate {
        time: now(),
        account_name: name.to_owned(),
        password: password.to_owned(),
    })
    .to_value(Dialect::Spec)
}

/// The answer to a course 511 challenge: `{"response":511,"time":T,"bin":ANSWER}`.
pub fn challenge_answer(name: &str, password: &str, challenge: &str) -> Value {
    let bin = jim_protocol::course_login::answer(name, password, challenge);
    Message::Response(Response {
        code: ResponseCodeField(ResponseCode::AUTH_CHALLENGE),
        time: now(),
        text: None,
        list: None,
        quantity: None,
        bin: Some(bin),
    })
    .to_value(Dialect::Course)
}

/// A message to a user or a `#room`: spec `msg`, course `message`.
pub fn chat(dialect: Dialect, from: &str, to: &str, text: &str) -> Value {
    Message::Chat(Chat {
        time: now(),
        from: Some(from.to_owned()),
        to: Target::parse(to),
        encoding: None,
        text: text.to_owned(),
    })
    .to_value(dialect)
}

/// `join` a room (spec only; the same in both dialects).
pub fn join(room: &str) -> Value {
    Message::Join(RoomRequest { time: now(), room: room.to_owned() }).to_value(Dialect::Spec)
}

/// `leave` a room.
pub fn leave(room: &str) -> Value {
    Message::Leave(RoomRequest { time: now(), room: room.to_owned() }).to_value(Dialect::Spec)
}

/// `get_contacts` (course: with `user` = own name).
pub fn get_contacts(dialect: Dialect, me: &str) -> Value {
    let owner = (dialect == Dialect::Course).then(|| me.to_owned());
    Message::GetContacts(GetContacts { time: now(), owner }).to_value(dialect)
}

/// Add a contact: spec `add_contact` with `user_id`, course `add` with `user` and `account_name`.
pub fn add_contact(dialect: Dialect, me: &str, contact: &str) -> Value {
    Message::AddContact(contact_change(dialect, me, contact)).to_value(dialect)
}

/// Remove a contact: spec `del_contact`, course `remove`.
pub fn del_contact(dialect: Dialect, me: &str, contact: &str) -> Value {
    Message::DelContact(contact_change(dialect, me, contact)).to_value(dialect)
}

fn contact_change(dialect: Dialect, me: &str, contact: &str) -> ContactChange {
    let owner = (dialect == Dialect::Course).then(|| me.to_owned());
    ContactChange { time: now(), owner, contact: contact.to_owned() }
}

/// Course `get_users` (known users).
pub fn get_users(me: &str) -> Value {
    Message::GetUsers(GetUsers { time: now(), account_name: Some(me.to_owned()) })
        .to_value(Dialect::Course)
}

/// Course `pubkey_need` for `user`.
pub fn pubkey_need(user: &str) -> Value {
    Message::PubkeyNeed(PubkeyNeed { time: now(), account_name: user.to_owned() })
        .to_value(Dialect::Course)
}

/// Leaving: spec `{"action":"quit","time":T}`, course `{"action":"exit","time":T,"account_name":ME}`.
pub fn quit(dialect: Dialect, me: &str) -> Value {
    let account_name = (dialect == Dialect::Course).then(|| me.to_owned());
    Message::Quit(Quit { time: now(), account_name }).to_value(dialect)
}

/// What a value received from a server is (`§responses`, `§order` O5).
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A response to a request (any code except the 205 push).
    Response(Response),
    /// The course 205 push: "lists changed". Never the answer to a request.
    Refresh(Response),
    /// A probe: the server wants a presence back.
    Probe,
    /// A relayed message (`msg` / `message`).
    Chat(Chat),
    /// One `{"action":"contact_list","user_id":NAME}` item after a `quantity` response.
    ContactItem(String),
    /// Another well-formed action the client has no use for.
    OtherAction(String),
    /// An action object with a problem (missing fields, wrong types): what is wrong.
    Malformed(Said),
    /// Not a JIM message at all: why.
    NotJim(Said),
}

/// Sorts one received value into a [`Received`] kind.
pub fn classify(value: &Value) -> Received {
    let Value::Object(obj) = value else {
        let found = jim_protocol::message::json_type(value);
        return Received::NotJim(crate::say::protocol_error(&ProtocolError::NotAnObject { found }));
    };
    match jim_protocol::parse(value) {
        Ok(parsed) => match parsed.message {
            Message::Response(r) if r.code() == ResponseCode::REFRESH => Received::Refresh(r),
            Message::Response(r) => Received::Response(r),
            Message::Probe(_) => Received::Probe,
            Message::Chat(c) => Received::Chat(c),
            Message::ContactList(item) => Received::ContactItem(item.user_id),
            other => Received::OtherAction(other.action(Dialect::Spec).to_owned()),
        },
        Err(ProtocolError::NoAction) => {
            let key = ["code", "reply", "status"].into_iter().find(|k| obj.contains_key(*k));
            let (hint_en, hint_ru) = key
                .map(|k| {
                    (
                        format!(" (it has {k:?}: JIM calls that field \"response\")"),
                        format!(" (в нём есть {k:?}: в JIM это поле называется \"response\")"),
                    )
                })
                .unwrap_or_default();
            Received::NotJim(Said::new(
                format!("the object has neither \"response\" nor \"action\"{hint_en}"),
                format!("в объекте нет ни \"response\", ни \"action\"{hint_ru}"),
            ))
        }
        Err(e @ ProtocolError::BadCode { .. }) => Received::NotJim(crate::say::protocol_error(&e)),
        Err(e) if obj.contains_key("response") => Received::NotJim(crate::say::protocol_error(&e)),
        Err(e) => Received::Malformed(crate::say::protocol_error(&e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    #[test]
    fn presence_shapes_per_dialect() {
        let spec = presence(Dialect::Spec, "Guest");
        assert_eq!(spec["type"], "status");
        assert_eq!(spec["user"], json!({"account_name":"Guest","status":"online"}));
        assert!(spec["time"].is_f64());
        let course = presence(Dialect::Course, "Guest");
        assert_eq!(course["user"], json!({"account_name":"Guest"}));
        assert!(course.get("type").is_none());
    }

    #[test]
    fn course_answer_matches_the_test_vector() {
        let v = challenge_answer("Alice", "secret", &"0".repeat(128));
        assert_eq!(v["response"], 511);
        assert_eq!(v["bin"], "fNQN8KWKQNB9JJBlnWDyOg==");
    }

    #[test]
    fn requests_per_dialect() {
        assert_eq!(chat(Dialect::Course, "a", "b", "hi")["mess_text"], "hi");
        assert_eq!(chat(Dialect::Spec, "a", "#r", "hi")["action"], "msg");
        assert_eq!(add_contact(Dialect::Course, "a", "b")["action"], "add");
        assert_eq!(del_contact(Dialect::Spec, "a", "b")["user_id"], "b");
        assert_eq!(quit(Dialect::Course, "a")["account_name"], "a");
        assert!(quit(Dialect::Spec, "a").get("account_name").is_none());
        assert_eq!(get_contacts(Dialect::Course, "a")["user"], "a");
    }

    #[test]
    fn classification() {
        assert!(matches!(classify(&json!({"response":"200"})), Received::Response(_)));
        assert!(matches!(classify(&json!({"response":205})), Received::Refresh(_)));
        assert_eq!(classify(&json!({"action":"probe","time":1})), Received::Probe);
        assert!(matches!(
            classify(&json!({"action":"message","from":"a","to":"b","mess_text":"x"})),
            Received::Chat(_)
        ));
        let Received::NotJim(why) = classify(&json!({"code":200})) else { panic!() };
        assert!(why.contains("\"code\""), "{why}");
        assert!(why.get(jim_text::Lang::Ru).contains("в JIM это поле"), "{why:?}");
        assert!(matches!(classify(&json!([1])), Received::NotJim(_)));
        assert!(matches!(classify(&json!({"response":"abc"})), Received::NotJim(_)));
        assert!(matches!(classify(&json!({"action":"msg"})), Received::Malformed(_)));
    }
}
