//! Judging one observation against the model, and saying what is wrong in one sentence.
//!
//! Values are read as JSON only (PROTOCOL.md §responses): a response is an object with a numeric
//! (or numeric-string) `response` and no other `action`; a relay is an object whose `action` is
//! `msg` or `message`, with the sender in `from`/`sender`, the addressee in `to`/`destination`
//! and the text in `message`/`mess_text`/`message_text`/`"message text"` (the spellings real
//! servers use are style, never a failure). When a value contradicts the model, [`explain`]
//! looks it up in the session's history to say *why* it must not be there ("bob never joined #r,
//! yet he received its message"), in English and Russian.

use serde::Serialize;
use serde_json::Value;

use super::model::{ClientId, Dest, Link, ListCheck, Model, Obligation, Relay, Session};
use crate::matcher::{read_code, show};
use crate::model::{Level, Text};

/// Something the target did that the model forbids.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What it violates.
    pub obligation: Obligation,
    /// How much it matters.
    pub level: Level,
    /// The step (0-based) whose expectations failed; `steps.len()` for the closing barrier.
    pub step: usize,
    /// The client where it was seen.
    pub client: ClientId,
    /// The contradiction, in one sentence.
    pub sentence: Text,
    /// What the model expected.
    pub expected: Text,
    /// What was observed.
    pub observed: Text,
}

impl Finding {
    /// A finding of `obligation` at `level`, built one named part at a time: where with
    /// [`Finding::at`], then [`Finding::sentence`], [`Finding::expected`], [`Finding::observed`].
    pub fn new(obligation: Obligation, level: Level) -> Self {
        Self {
            obligation,
            level,
            step: 0,
            client: 0,
            sentence: Text::default(),
            expected: Text::default(),
            observed: Text::default(),
        }
    }

    /// Seen at `step` (0-based), on `client`'s connection.
    pub fn at(mut self, step: usize, client: ClientId) -> Self {
        self.step = step;
        self.client = client;
        self
    }

    /// The contradiction, in one sentence.
    pub fn sentence(mut self, text: Text) -> Self {
        self.sentence = text;
        self
    }

    /// What the model expected.
    pub fn expected(mut self, text: Text) -> Self {
        self.expected = text;
        self
    }

    /// What was observed.
    pub fn observed(mut self, text: Text) -> Self {
        self.observed = text;
        self
    }
}

/// Builds a [`Text`].
pub fn t(en: impl Into<String>, ru: impl Into<String>) -> Text {
    Text { en: en.into(), ru: ru.into() }
}

/// The response code of a value, if it is a response: `(code, written as a string)`.
pub fn code_of(v: &Value) -> Option<(i64, bool)> {
    match v.get("action").and_then(Value::as_str) {
        Some(a) if a != "response" => None,
        _ => v.get("response").and_then(read_code),
    }
}

/// The fields of a relayed message, if `v` is one.
#[derive(Debug, Clone, Copy)]
pub struct RelayView<'v> {
    /// Sender.
    pub from: Option<&'v str>,
    /// Addressee.
    pub to: Option<&'v str>,
    /// Text.
    pub text: Option<&'v str>,
}

/// Reads `v` as a relayed message.
pub fn relay_of(v: &Value) -> Option<RelayView<'_>> {
    match v.get("action").and_then(Value::as_str) {
        Some("msg" | "message") => {}
        _ => return None,
    }
    let first = |keys: &[&str]| keys.iter().find_map(|k| v.get(*k).and_then(Value::as_str));
    Some(RelayView {
        from: first(&["from", "sender"]),
        to: first(&["to", "destination"]),
        text: first(&["message", "mess_text", "message_text", "message text"]),
    })
}

/// The fields a list response may carry its list in, canonical ones first.
pub const LIST_KEYS: [&str; 7] =
    ["data_list", "alert", "contact_list", "user_list", "users", "contacts", "message"];

/// The names a list response holds, and whether its shape needs `list-shape`.
pub fn list_of(v: &Value) -> Option<(Vec<String>, bool)> {
    for key in LIST_KEYS {
        if let Some(Value::Array(items)) = v.get(key) {
            let names = items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect();
            return Some((names, !matches!(key, "data_list" | "alert")));
        }
    }
    None
}

/// Why a list response holds no list, in words: a list field that is there with something else
/// in it (`"alert": {}` from a server that keeps contacts in a dict) is named with what it is;
/// otherwise the fields looked for.
pub fn no_list(v: &Value) -> Text {
    let found = LIST_KEYS.iter().find_map(|k| {
        let kind = match v.get(*k)? {
            Value::Object(_) => ("an object", "объект"),
            Value::String(_) => ("a string", "строка"),
            Value::Number(_) => ("a number", "число"),
            Value::Bool(_) => ("true/false", "true/false"),
            Value::Null => ("null", "null"),
            Value::Array(_) => return None,
        };
        Some((*k, kind))
    });
    match found {
        Some((key, (en, ru))) => t(
            format!("the list response holds no list: \"{key}\" is {en}, not a list of names"),
            format!("в ответе-списке нет списка: \"{key}\" — {ru}, а не список имён"),
        ),
        None => {
            let keys = LIST_KEYS.join(", ");
            t(
                format!("the list response holds no list (looked for {keys}, quantity)"),
                format!("в ответе-списке нет списка (искали {keys}, quantity)"),
            )
        }
    }
}

/// Words for the people and things of a session.
pub struct Words<'a> {
    /// The session.
    pub session: &'a Session,
    /// Its prefix on the wire.
    pub tag: &'a str,
    /// The name each client last used.
    pub last_name: &'a [Option<usize>],
}

impl Words<'_> {
    /// A client: its (last) name, else "connection B".
    pub fn who(&self, c: ClientId) -> Text {
        match self.last_name.get(c).copied().flatten() {
            Some(n) => {
                let name = self.name(n);
                t(name.clone(), name)
            }
            None => {
                let letter = char::from(b'A' + (c % 26) as u8);
                t(format!("connection {letter}"), format!("соединение {letter}"))
            }
        }
    }

    /// A name as the story tells it (without the session prefix).
    pub fn name(&self, n: usize) -> String {
        self.session.names.get(n).cloned().unwrap_or_else(|| "?".into())
    }

    /// A room as the story tells it.
    pub fn room(&self, r: usize) -> String {
        format!("#{}", self.session.rooms.get(r).map_or("?", String::as_str))
    }

    /// An addressee.
    pub fn dest(&self, d: Dest) -> String {
        match d {
            Dest::User(n) => self.name(n),
            Dest::Room(r) => self.room(r),
        }
    }

    /// The addressee as written on the wire.
    pub fn dest_wire(&self, d: Dest) -> String {
        match d {
            Dest::User(n) => self.session.name(self.tag, n),
            Dest::Room(r) => self.session.room(self.tag, r),
        }
    }

    /// A text, quoted and shortened.
    pub fn quote(text: &str) -> String {
        let shown: String = text.chars().take(40).collect();
        let more = if text.chars().count() > 40 { "…" } else { "" };
        format!("{:?}{more}", shown)
    }

    /// Removes the session prefix from what the target sent, for readable sentences.
    pub fn unwire(&self, s: &str) -> String {
        s.replace(self.tag, "")
    }
}

/// True when `v` is the relay `r` (sender, addressee and text all as sent).
pub fn relay_matches(words: &Words<'_>, r: &Relay, v: &Value) -> bool {
    relay_of(v).is_some_and(|view| {
        view.from == Some(words.session.name(words.tag, r.from).as_str())
            && view.to == Some(words.dest_wire(r.to).as_str())
            && view.text == Some(r.text.as_str())
    })
}

/// Checks a list response's names; None when they are right, else what is wrong.
pub fn check_list(words: &Words<'_>, check: &ListCheck, listed: &[String]) -> Option<Text> {
    let full = |n: &usize| words.session.name(words.tag, *n);
    match check {
        ListCheck::Equals(want) => {
            let mut want: Vec<String> = want.iter().map(full).collect();
            let mut got: Vec<String> = listed.to_vec();
            want.sort();
            want.dedup();
            got.sort();
            got.dedup();
            (want != got || got.len() != listed.len()).then(|| {
                let w: Vec<String> = want.iter().map(|s| words.unwire(s)).collect();
                let g: Vec<String> = listed.iter().map(|s| words.unwire(s)).collect();
                t(
                    format!("the list should be exactly {w:?}, each name once; it is {g:?}"),
                    format!("список должен быть ровно {w:?}, каждое имя один раз; пришло {g:?}"),
                )
            })
        }
        ListCheck::Includes { must, never } => {
            let missing: Vec<String> =
                must.iter().map(full).filter(|n| !listed.contains(n)).collect();
            let wrong: Vec<String> =
                never.iter().map(full).filter(|n| listed.contains(n)).collect();
            if missing.is_empty() && wrong.is_empty() {
                return None;
            }
            let m: Vec<String> = missing.iter().map(|s| words.unwire(s)).collect();
            let w: Vec<String> = wrong.iter().map(|s| words.unwire(s)).collect();
            Some(t(
                format!(
                    "connected users missing from the list: {m:?}; names that never logged in but are listed: {w:?}"
                ),
                format!(
                    "в списке нет подключённых пользователей {m:?}; в нём есть никогда не входившие {w:?}"
                ),
            ))
        }
    }
}

/// A relay that is one of the `due` ones with its sender or its text changed, if `v` is one.
pub fn altered(
    words: &Words<'_>,
    due: &[Relay],
    at: ClientId,
    v: &Value,
    step: usize,
) -> Option<Finding> {
    let view = relay_of(v)?;
    let who = words.who(at);
    let shown = words.unwire(&show(v, 240));
    for r in due {
        let from = words.session.name(words.tag, r.from);
        let to = words.dest_wire(r.to);
        let sender = words.name(r.from);
        let dest = words.dest(r.to);
        let sent = Words::quote(&r.text);
        if view.to == Some(to.as_str()) && view.text == Some(r.text.as_str()) {
            let got = view.from.map_or_else(|| "nothing".to_owned(), |f| words.unwire(f));
            return Some(Finding::new(Obligation::FromIsSender, Level::Must).at(step, at).sentence(t(
                    format!(
                        "{sender} sent {sent} to {dest} at step {}, yet it reached {} with \"from\" {got:?}",
                        r.step + 1,
                        who.en
                    ),
                    format!(
                        "{sender} отправил {sent} для {dest} на шаге {}, но {} получил его с \"from\" {got:?}",
                        r.step + 1,
                        who.ru
                    ),
                ))
                .expected(t(
                    format!("\"from\": {sender:?} (the sender's login name)"),
                    format!("\"from\": {sender:?} (имя, под которым вошёл отправитель)"),
                ))
                .observed(t(shown.clone(), shown)));
        }
        if view.to == Some(to.as_str()) && view.from == Some(from.as_str()) {
            let got = view.text.map_or_else(|| "no text".to_owned(), Words::quote);
            return Some(
                Finding::new(Obligation::TextUnchanged, Level::Must)
                    .at(step, at)
                    .sentence(t(
                        format!(
                            "{sender} sent {sent} to {dest} at step {}, but {} received {got}",
                            r.step + 1,
                            who.en
                        ),
                        format!(
                            "{sender} отправил {sent} для {dest} на шаге {}, а {} получил {got}",
                            r.step + 1,
                            who.ru
                        ),
                    ))
                    .expected(t(
                        format!("the text {sent}, unchanged"),
                        format!("текст {sent} без изменений"),
                    ))
                    .observed(t(shown.clone(), shown)),
            );
        }
    }
    None
}

/// Why the value `v` that arrived at client `at` contradicts the model: a duplicate, a message
/// for someone else, a room message for a non-member, an altered text or sender, or a value
/// nobody caused.
pub fn explain(model: &Model, words: &Words<'_>, at: ClientId, v: &Value, step: usize) -> Finding {
    let who = words.who(at);
    let shown = words.unwire(&show(v, 240));
    let observed = t(shown.clone(), shown);
    let finding = |obligation, sentence: Text, expected: Text| {
        Finding::new(obligation, Level::Must)
            .at(step, at)
            .sentence(sentence)
            .expected(expected)
            .observed(observed.clone())
    };
    let nothing =
        t(format!("nothing more for {}", who.en), format!("для {} больше ничего", who.ru));
    let Some(view) = relay_of(v) else {
        if code_of(v).is_some() {
            return finding(
                Obligation::Privacy,
                t(
                    format!(
                        "{} received a response although every request of theirs had its answer already",
                        who.en
                    ),
                    format!("{} получил ответ, хотя на все его запросы уже ответили", who.ru),
                ),
                nothing,
            );
        }
        return finding(
            Obligation::Privacy,
            t(
                format!("{} received a value that is neither a response nor a message", who.en),
                format!("{} получил значение, которое не ответ и не сообщение", who.ru),
            ),
            nothing,
        );
    };
    // The message it copies: same sender, addressee and text; else same addressee and text
    // (the sender was rewritten), else same sender and addressee (the text was changed).
    let wire_from = |m: &super::model::SentMsg| words.session.name(words.tag, m.from);
    let exact = model.sent.iter().rev().find(|m| {
        view.from == Some(wire_from(m).as_str())
            && view.to == Some(words.dest_wire(m.to).as_str())
            && view.text == Some(m.text.as_str())
    });
    if let Some(m) = exact {
        let sender = words.name(m.from);
        let dest = words.dest(m.to);
        let q = Words::quote(&m.text);
        if m.recipients.contains(&at) {
            return finding(
                Obligation::Delivery,
                t(
                    format!(
                        "{} received {sender}'s message of step {} to {dest} ({q}) twice",
                        who.en,
                        m.step + 1
                    ),
                    format!(
                        "{} получил сообщение {sender} с шага {} для {dest} ({q}) дважды",
                        who.ru,
                        m.step + 1
                    ),
                ),
                t(
                    "each addressee receives a message exactly once",
                    "каждый адресат получает сообщение ровно один раз",
                ),
            );
        }
        let sentence = match m.to {
            _ if m.by == at => t(
                format!("{sender}'s own message to {dest} (step {}) came back to them", m.step + 1),
                format!(
                    "собственное сообщение {sender} для {dest} (шаг {}) вернулось к нему",
                    m.step + 1
                ),
            ),
            Dest::Room(r) => {
                let log = model.client(at).and_then(|s| s.room_log.get(&r).copied());
                let room = words.room(r);
                match log {
                    None => t(
                        format!(
                            "{} never joined {room}, yet received its message from {sender} (step {}, {q})",
                            who.en,
                            m.step + 1
                        ),
                        format!(
                            "{} не входил в {room}, но получил сообщение этой комнаты от {sender} (шаг {}, {q})",
                            who.ru,
                            m.step + 1
                        ),
                    ),
                    Some((left, false)) => t(
                        format!(
                            "{} left {room} at step {}, yet received its message from {sender} (step {}, {q})",
                            who.en,
                            left + 1,
                            m.step + 1
                        ),
                        format!(
                            "{} вышел из {room} на шаге {}, но получил сообщение этой комнаты от {sender} (шаг {}, {q})",
                            who.ru,
                            left + 1,
                            m.step + 1
                        ),
                    ),
                    Some((joined, true)) => {
                        let connected = model.client(at).map_or(0, |s| s.connected_at);
                        t(
                            format!(
                                "{} was in {room} only on an earlier connection (joined at step {}, connected again at step {}), yet received its message from {sender} (step {}, {q})",
                                who.en,
                                joined + 1,
                                connected + 1,
                                m.step + 1
                            ),
                            format!(
                                "{} был в {room} только в прошлом соединении (вошёл на шаге {}, подключился заново на шаге {}), но получил сообщение этой комнаты от {sender} (шаг {}, {q})",
                                who.ru,
                                joined + 1,
                                connected + 1,
                                m.step + 1
                            ),
                        )
                    }
                }
            }
            Dest::User(n) => {
                let mine = model.client(at).and_then(|s| s.name);
                let twist = match mine {
                    Some(me) if me != n => {
                        let (a, b) = (words.name(me), words.name(n));
                        format!(" ({a} is not {b}: names are compared exactly)")
                    }
                    None if model.client(at).is_some_and(|s| s.link != Link::In) => {
                        " (it is not logged in)".to_owned()
                    }
                    _ => String::new(),
                };
                let twist_ru = twist
                    .replace("is not", "— не")
                    .replace("names are compared exactly", "имена сравниваются точно")
                    .replace("it is not logged in", "он не вошёл");
                t(
                    format!(
                        "{sender}'s message to {dest} (step {}, {q}) reached {}{twist}",
                        m.step + 1,
                        who.en
                    ),
                    format!(
                        "сообщение {sender} для {dest} (шаг {}, {q}) дошло до {}{twist_ru}",
                        m.step + 1,
                        who.ru
                    ),
                )
            }
        };
        return finding(
            Obligation::Privacy,
            sentence,
            t(
                format!("{} receives only messages addressed to them or to their rooms", who.en),
                format!("{} получает только сообщения для себя и своих комнат", who.ru),
            ),
        );
    }
    let due: Vec<&super::model::SentMsg> =
        model.sent.iter().rev().filter(|m| m.recipients.contains(&at)).collect();
    if let Some(m) = due.iter().find(|m| {
        view.to == Some(words.dest_wire(m.to).as_str()) && view.text == Some(m.text.as_str())
    }) {
        let sender = words.name(m.from);
        let got = view.from.map(|f| words.unwire(f)).unwrap_or_else(|| "nothing".into());
        return finding(
            Obligation::FromIsSender,
            t(
                format!(
                    "{sender} sent the message of step {} to {}, yet it arrived with \"from\" {got:?}",
                    m.step + 1,
                    words.dest(m.to)
                ),
                format!(
                    "{sender} отправил сообщение шага {} для {}, но оно пришло с \"from\" {got:?}",
                    m.step + 1,
                    words.dest(m.to)
                ),
            ),
            t(
                format!("\"from\": {sender:?} (the sender's login name)"),
                format!("\"from\": {sender:?} (имя, под которым вошёл отправитель)"),
            ),
        );
    }
    if let Some(m) = due.iter().find(|m| {
        view.to == Some(words.dest_wire(m.to).as_str()) && view.from == Some(wire_from(m).as_str())
    }) {
        let sender = words.name(m.from);
        let got = view.text.map_or_else(|| "no text".to_owned(), Words::quote);
        let sent = Words::quote(&m.text);
        return finding(
            Obligation::TextUnchanged,
            t(
                format!(
                    "{sender} sent {sent} to {} at step {}, but {} received {got}",
                    words.dest(m.to),
                    m.step + 1,
                    who.en
                ),
                format!(
                    "{sender} отправил {sent} для {} на шаге {}, а {} получил {got}",
                    words.dest(m.to),
                    m.step + 1,
                    who.ru
                ),
            ),
            t(format!("the text {sent}, unchanged"), format!("текст {sent} без изменений")),
        );
    }
    finding(
        Obligation::Privacy,
        t(
            format!("{} received a message that nobody in this session sent that way", who.en),
            format!("{} получил сообщение, которого в этой сессии никто так не отправлял", who.ru),
        ),
        nothing,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::explore::model::{Branch, Op, Rules};
    use crate::model::Dialect;
    use serde_json::json;

    #[test]
    fn a_room_message_at_a_non_member_is_explained_by_the_room_log() {
        let session = Session {
            dialects: vec![Dialect::Spec; 3],
            names: vec!["ann".into(), "bob".into(), "cat".into()],
            rooms: vec!["r".into()],
            steps: Vec::new(),
        };
        let mut m = Model::new(
            &session,
            Rules {
                ack_optional: false,
                echo_allowed: false,
                close_on_bad: false,
                close_witness: true,
            },
        );
        for c in 0..3 {
            m.commit(0, &Op::Connect { c }, Branch::Accepted);
            m.commit(1, &Op::Presence { c, name: c }, Branch::Accepted);
        }
        m.commit(2, &Op::Join { c: 0, room: 0 }, Branch::Accepted);
        m.commit(3, &Op::Join { c: 1, room: 0 }, Branch::Accepted);
        let op = Op::Msg { c: 0, to: Dest::Room(0), text: "hi".into(), forged: None, raw: false };
        m.commit(4, &op, Branch::Accepted);
        let last = [Some(0), Some(1), Some(2)];
        let words = Words { session: &session, tag: "t_", last_name: &last };
        let v = json!({"action": "msg", "from": "t_ann", "to": "#t_r", "message": "hi"});
        let f = explain(&m, &words, 2, &v, 5);
        assert_eq!(f.obligation, Obligation::Privacy);
        assert!(
            f.sentence.en.starts_with("cat never joined #r, yet received its message"),
            "{}",
            f.sentence.en
        );
        let twice = explain(&m, &words, 1, &v, 5);
        assert_eq!(twice.obligation, Obligation::Delivery);
        let spoofed = json!({"action": "msg", "from": "t_cat", "to": "#t_r", "message": "hi"});
        assert_eq!(explain(&m, &words, 1, &spoofed, 5).obligation, Obligation::FromIsSender);
        let changed = json!({"action": "msg", "from": "t_ann", "to": "#t_r", "message": "h"});
        assert_eq!(explain(&m, &words, 1, &changed, 5).obligation, Obligation::TextUnchanged);
    }
}
