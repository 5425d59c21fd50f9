//! The first contact with a target: is it there, does it answer, is it a one-shot lesson-3
//! server, which dialect do its replies speak, does it end replies with a newline, and does it
//! survive a client leaving. The answers pick the profile under `--profile auto` and fill the
//! summary card, so a student sees at once what the referee thinks their server is.

use std::net::SocketAddr;
use std::time::Duration;

use jim_protocol::Framing;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::i18n::Said;
use crate::jim::{goodbye, is_push};
use crate::matcher::read_code;
use crate::placeholders::now_seconds;
use crate::vocab::{DetectedDialect, DetectedFraming, DisconnectKind};
use crate::wire::{Arrival, Conn, ConnectError, Delivery};

/// What the preflight found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Detection {
    /// A TCP connection could be opened.
    pub reachable: bool,
    /// Why not, if not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_error: Option<Said>,
    /// The first presence got a JIM response.
    pub answered: bool,
    /// The server closed the connection after its first reply (lesson 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_shot: Option<bool>,
    /// Only the name `Guest` is accepted (the copied lesson-3 server).
    pub guest_only: bool,
    /// The dialect of its replies.
    pub dialect: DetectedDialect,
    /// How the server ends its replies.
    pub framing: DetectedFraming,
    /// Replies carry a usable `time`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replies_have_time: Option<bool>,
    /// The first reply, as received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_reply: Option<String>,
    /// The server kept answering after a client disconnected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survives_disconnect: Option<bool>,
    /// The server refuses names it does not know: a presence of a name the runner made up got
    /// a 404, or a 400/403 whose text says "not registered" (a course-final server that admits
    /// only the accounts of its database). Cases can log in only with `--accounts`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub refuses_unknown: bool,
    /// The refusal, as code and text (`400 "Пользователь не зарегистрирован."`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_with: Option<String>,
    /// The profile `--profile auto` picks.
    pub suggested_profile: String,
    /// Observations in plain words.
    pub notes: Vec<Said>,
}

/// Where to run the preflight and with which name.
#[derive(Debug, Clone)]
pub struct PreflightInput {
    /// Target address.
    pub addr: SocketAddr,
    /// Per-step timeout.
    pub timeout: Duration,
    /// `--name`, if given.
    pub name: Option<String>,
    /// A unique name to log in with otherwise.
    pub unique_name: String,
    /// Framing of what we send.
    pub framing: Framing,
}

async fn send(conn: &mut Conn, v: &Value, framing: Framing, timeout: Duration) -> bool {
    let bytes = jim_protocol::codec::to_bytes(v, framing);
    conn.write(&bytes, Delivery::Whole, Instant::now() + timeout).await.is_ok()
}

/// Reads the next response (skipping pushes and relays, at most a few).
async fn response(conn: &mut Conn, timeout: Duration) -> Arrival {
    let deadline = Instant::now() + timeout;
    for _ in 0..8 {
        let a = conn.next(deadline).await;
        match &a {
            Arrival::Value { value, .. } if is_push(value) || value.get("action").is_some() => {
                continue;
            }
            _ => return a,
        }
    }
    Arrival::Nothing
}

fn code_of(a: &Arrival) -> Option<i64> {
    match a {
        Arrival::Value { value, .. } => value.get("response").and_then(read_code).map(|(c, _)| c),
        _ => None,
    }
}

/// A spec-marked presence: accepted by course servers too, and it keeps a server that renders
/// per dialect (§dialect-detection) in the spec dialect, so later probes can tell the two apart.
fn presence(name: &str) -> Value {
    json!({"action": "presence", "time": now_seconds(), "type": "status",
           "user": {"account_name": name, "status": "online"}})
}

/// Opens a connection; the error says why not.
async fn open(input: &PreflightInput) -> Result<Conn, ConnectError> {
    Conn::open(input.addr, input.timeout).await
}

/// Runs the preflight: log in, read the first reply, tell one-shot from persistent and the
/// dialect, then check that a new client is still served after the first one left.
pub async fn preflight(input: &PreflightInput) -> Detection {
    let mut d = Detection::default();
    let mut conn = match open(input).await {
        Ok(c) => c,
        Err(e) => {
            d.connect_error = Some(Said::of(&e));
            d.suggested_profile = "spec".into();
            return d;
        }
    };
    d.reachable = true;
    let (name, reply) = login(input, &mut d, &mut conn).await;
    first_reply(&mut d, &reply, input.timeout);
    if !d.guest_only && input.name.is_none() && refuses_unknown(&reply) {
        d.refuses_unknown = true;
        d.refused_with = refusal_text(&reply);
        // What to do about it (--accounts) is the early stop's line, said only when the run
        // has no accounts.
        d.notes.push(Said::new("the server refuses a name it does not know (registered accounts only, like the course-final server)", "сервер отклоняет незнакомое имя (только зарегистрированные учётные записи, как сервер финала курса)"));
    }
    if d.refuses_unknown || code_of(&reply) == Some(511) {
        // Accounts (the course database) or the 511 login: the course-final server.
        d.suggested_profile = "course".into();
        d.dialect = DetectedDialect::Course;
        conn.disconnect(DisconnectKind::Close).await;
        return d;
    }
    if !d.answered || code_of(&reply) != Some(200) {
        // A server that closes, or answers something that is not JIM, is most likely a lesson-3
        // attempt; one that does not answer at all gets the spec profile (its cases say so).
        d.suggested_profile =
            if d.guest_only || matches!(reply, Arrival::Closed { .. } | Arrival::Bad { .. }) {
                "lesson3".into()
            } else {
                "spec".into()
            };
        conn.disconnect(DisconnectKind::Close).await;
        return d;
    }
    let Some((spec_signal, course_signal)) = signals(input, &mut d, &mut conn, &name).await else {
        return d;
    };
    let farewell = goodbye(course_signal && !spec_signal, &name);
    send(&mut conn, &farewell, input.framing, input.timeout).await;
    conn.disconnect(DisconnectKind::Close).await;
    let (dialect, profile) = match (spec_signal, course_signal) {
        (true, true) => (DetectedDialect::Both, "all"),
        (false, true) => (DetectedDialect::Course, "course"),
        (true, false) => (DetectedDialect::Spec, "spec"),
        (false, false) => {
            d.notes.push(Said::new(
                "could not tell the dialect; assuming spec (use --profile course if needed)",
                "диалект определить не удалось; считаем, что spec (если нужно, укажите --profile course)",
            ));
            (DetectedDialect::Unknown, "spec")
        }
    };
    d.dialect = dialect;
    d.suggested_profile = profile.into();
    survives_disconnect(input, &mut d).await;
    d
}

/// Logs in on `conn` (with `--name`, else a unique name, else Guest for a Guest-only
/// lesson-3 server); the name that was used and the reply to its presence.
async fn login(input: &PreflightInput, d: &mut Detection, conn: &mut Conn) -> (String, Arrival) {
    let t = input.timeout;
    let name = input.name.clone().unwrap_or_else(|| input.unique_name.clone());
    send(conn, &presence(&name), input.framing, t).await;
    let reply = conn.next(Instant::now() + t).await;
    // A Guest-only lesson-3 server refuses other names: try Guest once. Its refusal is a 400,
    // or a reply that is not quite JIM (the course's solution sends it under a mangled key).
    let refused = match &reply {
        Arrival::Value { .. } => !matches!(code_of(&reply), Some(200 | 401 | 511)),
        Arrival::Bad { .. } => true,
        Arrival::Nothing | Arrival::Closed { .. } => false,
    };
    if !refused {
        return (name, reply);
    }
    if let Some(found) = bare_login(input, d, &name, &reply).await {
        *conn = found.0;
        return (name, found.1);
    }
    if input.name.is_some() {
        return (name, reply);
    }
    let Ok(mut c2) = open(input).await else { return (name, reply) };
    send(&mut c2, &presence("Guest"), input.framing, t).await;
    let r2 = c2.next(Instant::now() + t).await;
    if code_of(&r2) != Some(200) {
        return (name, reply);
    }
    d.guest_only = true;
    d.notes.push(Said::new("the name Guest is accepted and another name is refused with 400: a Guest-only lesson-3 server", "имя Guest принимается, а другое имя отклоняется с 400: сервер урока 3 только для Guest"));
    *conn = c2;
    ("Guest".into(), r2)
}

/// The lesson-3 presence: no `type`, no `status` (a shorter request than [`presence`]).
fn bare_presence(name: &str) -> Value {
    json!({"action": "presence", "time": now_seconds(), "user": {"account_name": name}})
}

/// A refused spec-form presence retried in the lesson-3 form on a new connection: a server
/// that reads one small `recv()` (100 bytes) cuts the longer spec form, answers 400 and closes,
/// yet serves the presence its lesson asks for. The connection and the reply when that one got
/// a 200. A server that stopped accepting after its first client (a spawned one-shot that
/// exits) cannot be asked again: the first refusal stands, and the runner restarts it later.
async fn bare_login(
    input: &PreflightInput,
    d: &mut Detection,
    name: &str,
    first: &Arrival,
) -> Option<(Conn, Arrival)> {
    if refuses_unknown(first) || !matches!(first, Arrival::Value { .. }) {
        return None;
    }
    let t = input.timeout;
    let mut c = open(input).await.ok()?;
    send(&mut c, &bare_presence(name), input.framing, t).await;
    let r = c.next(Instant::now() + t).await;
    if code_of(&r) != Some(200) {
        c.disconnect(DisconnectKind::Close).await;
        return None;
    }
    let code = code_of(first).map_or_else(|| "?".to_owned(), |c| c.to_string());
    d.notes.push(Said::new(
        format!("the spec-form presence (with type and status) got {code}, the lesson-3 form (account_name only) got 200: the server reads too few bytes or wants the short form"),
        format!("на presence в форме спецификации (с type и status) пришёл ответ {code}, на форму урока 3 (только account_name) — 200: сервер читает слишком мало байт или ждёт короткую форму"),
    ));
    Some((c, r))
}

/// Words of a refusal that says the name is not registered (Russian and English, as course
/// servers and their students write them).
static UNREGISTERED: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    regex::RegexBuilder::new(
        r"не\s*зарегистр|незарегистр|нет\s+такого\s+пользовател|пользовател\S*\s+не\s+(найден|существу)|неизвестн\S*\s+(пользовател|имя|логин)|unregistered|not\s+registered|unknown\s+(user|account|name|login)|no\s+such\s+(user|account)|(user|account)\s+not\s+found|(user|account)\s+does\s*n[o']?t\s+exist",
    )
    .case_insensitive(true)
    .build()
    .ok()
});

/// A refusal of an unknown name: 404 to a presence (§errors: unknown user), or 400/403 with a
/// text that says "not registered". 401 is not one: it asks for authentication first, and 409
/// says the name is taken.
pub fn refuses_unknown(reply: &Arrival) -> bool {
    let Arrival::Value { value, .. } = reply else { return false };
    match value.get("response").and_then(read_code).map(|(c, _)| c) {
        Some(404) => true,
        Some(400 | 403) => {
            let mut texts = Vec::new();
            strings(value, &mut texts);
            let re = UNREGISTERED.as_ref();
            texts.iter().any(|t| re.is_some_and(|re| re.is_match(t)))
        }
        _ => false,
    }
}

/// A refusal as code and first text (`400 "Пользователь не зарегистрирован."`), short.
fn refusal_text(reply: &Arrival) -> Option<String> {
    let Arrival::Value { value, .. } = reply else { return None };
    let code = value.get("response").and_then(read_code).map(|(c, _)| c)?;
    let mut texts = Vec::new();
    if let Some(Value::Object(o)) = Some(value) {
        o.iter().filter(|(k, _)| *k != "response").for_each(|(_, v)| strings(v, &mut texts));
    }
    Some(match texts.first() {
        Some(t) => format!("{code} \"{}\"", t.chars().take(80).collect::<String>()),
        None => code.to_string(),
    })
}

/// Every string in a value (bounded by the value, which the wire bounded).
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// What the reply to the first presence says: answered, framing, time, and in plain words.
fn first_reply(d: &mut Detection, reply: &Arrival, t: Duration) {
    match reply {
        Arrival::Value { value, raw, newline_after, .. } => {
            d.first_reply = Some(raw.clone());
            d.framing = match newline_after {
                Some(true) => DetectedFraming::Newline,
                Some(false) | None => DetectedFraming::Bare,
            };
            match value.get("response").and_then(read_code) {
                Some((code, _)) => {
                    d.answered = true;
                    d.replies_have_time =
                        Some(value.get("time").is_some_and(crate::matcher::usable_time));
                    match code {
                        200 => {}
                        511 => d.notes.push(Said::new("the presence was answered with a 511 challenge: the server wants a course login (give --user and --password)", "на presence пришёл вызов 511: сервер ждёт вход по курсу (укажите --user и --password)")),
                        401 => d.notes.push(Said::new("the presence was answered with 401: the server wants authentication first (give --user and --password)", "на presence пришёл ответ 401: сервер сначала ждёт authenticate (укажите --user и --password)")),
                        c => d.notes.push(Said::new(format!("the first presence was answered with {c}, not 200"), format!("на первый presence пришёл ответ {c}, а не 200"))),
                    }
                }
                None => d.notes.push(Said::new(
                    "the reply to a presence has no numeric \"response\": responds, but not JIM",
                    "в ответе на presence нет числового \"response\": отвечает, но не на JIM",
                )),
            }
        }
        Arrival::Bad { text, .. } => {
            d.first_reply = Some(text.clone());
            d.notes.push(Said::new(
                format!("the reply to a presence is not JSON ({text}): responds, but not JIM"),
                format!("ответ на presence — не JSON ({text}): отвечает, но не на JIM"),
            ));
        }
        Arrival::Nothing => d.notes.push(Said::new(
            format!(
                "the server accepted the connection but did not answer a presence within {} s",
                t.as_secs_f64()
            ),
            format!("сервер принял соединение, но не ответил на presence за {} с", t.as_secs_f64()),
        )),
        Arrival::Closed { .. } => {
            d.notes.push(Said::new(
                "the server closed the connection without answering a presence",
                "сервер закрыл соединение, не ответив на presence",
            ));
        }
    }
}

/// One-shot or persistent, and which dialect the answers speak: (spec, course) signals, or
/// None for a one-shot server (closed after one reply).
async fn signals(
    input: &PreflightInput,
    d: &mut Detection,
    conn: &mut Conn,
    name: &str,
) -> Option<(bool, bool)> {
    let (t, framing) = (input.timeout, input.framing);
    // One-shot? A persistent server answers the next request; a lesson-3 server has closed.
    let contacts = json!({"action": "get_contacts", "time": now_seconds(), "user_login": name});
    let sent = send(conn, &contacts, framing, t).await;
    let r = if sent { response(conn, t).await } else { Arrival::Closed { reset: true } };
    let (mut spec_signal, mut course_signal) = (false, false);
    match &r {
        Arrival::Closed { .. } => {
            d.one_shot = Some(true);
            d.suggested_profile = "lesson3".into();
            d.notes.push(Said::new(
                "the server closes the connection after one reply: a one-shot lesson-3 server",
                "сервер закрывает соединение после одного ответа: одноразовый сервер урока 3",
            ));
            return None;
        }
        Arrival::Value { value, .. } => {
            d.one_shot = Some(false);
            if code_of(&r) == Some(202) {
                if value.get("data_list").is_some() {
                    course_signal = true;
                } else if value.get("alert").is_some_and(Value::is_array) {
                    spec_signal = true;
                }
            }
        }
        Arrival::Nothing => {
            d.one_shot = Some(false);
            d.notes.push(Said::new(
                "get_contacts got no answer (ignored silently?)",
                "на get_contacts ответа нет (молча пропущен?)",
            ));
        }
        Arrival::Bad { .. } => d.one_shot = Some(false),
    }
    if !spec_signal && !course_signal {
        let contacts = json!({"action": "get_contacts", "time": now_seconds(), "user": name});
        if send(conn, &contacts, framing, t).await {
            let r = response(conn, t).await;
            if let (Some(202), Arrival::Value { value, .. }) = (code_of(&r), &r) {
                course_signal = value.get("data_list").is_some();
            }
        }
    }
    let users = json!({"action": "get_users", "time": now_seconds(), "account_name": name});
    if send(conn, &users, framing, t).await && code_of(&response(conn, t).await) == Some(202) {
        course_signal = true;
    }
    if !spec_signal && !course_signal {
        (spec_signal, course_signal) = message_signals(input, conn, name).await;
    }
    Some((spec_signal, course_signal))
}

/// The dialect from a message to oneself: a spec `msg` answered 2xx, or a course `message`
/// relayed or answered 2xx.
async fn message_signals(input: &PreflightInput, conn: &mut Conn, name: &str) -> (bool, bool) {
    let (t, framing) = (input.timeout, input.framing);
    let msg = json!({"action": "msg", "time": now_seconds(), "to": name, "from": name, "encoding": "ascii", "message": "preflight"});
    if send(conn, &msg, framing, t).await {
        // A 2xx to a msg is the spec dialect (whatever its text says).
        if code_of(&response(conn, t).await).is_some_and(|c| c < 300) {
            return (true, false);
        }
    }
    let msg = json!({"action": "message", "time": now_seconds(), "from": name, "to": name, "mess_text": "preflight"});
    if send(conn, &msg, framing, t).await {
        let deadline = Instant::now() + t.min(Duration::from_millis(600));
        if let Arrival::Value { value, .. } = conn.next(deadline).await {
            let ok = value.get("response").and_then(read_code).is_some_and(|(c, _)| c < 300);
            return (false, value.get("mess_text").is_some() || ok);
        }
    }
    (false, false)
}

/// Does it still answer after a client left? (A classic bug kills the serving thread.)
async fn survives_disconnect(input: &PreflightInput, d: &mut Detection) {
    let Ok(mut c3) = open(input).await else { return };
    let t = input.timeout;
    let probe_name = if d.guest_only {
        "Guest".to_owned()
    } else {
        format!("{}z", input.unique_name.chars().take(24).collect::<String>())
    };
    send(&mut c3, &presence(&probe_name), input.framing, t).await;
    let r = c3.next(Instant::now() + t).await;
    let alive = matches!(r, Arrival::Value { .. });
    d.survives_disconnect = Some(alive);
    if !alive {
        d.notes.push(Said::new("after the first client disconnected, a new client got no answer: the server stopped serving (a classic bug: json.loads(b\"\") on a closed socket kills the serving loop)", "после отключения первого клиента новый клиент не получил ответа: сервер перестал обслуживать (классическая ошибка: json.loads(b\"\") на закрытом сокете убивает цикл обслуживания)"));
    }
    let bye = goodbye(d.dialect == DetectedDialect::Course, &probe_name);
    send(&mut c3, &bye, input.framing, t).await;
    c3.disconnect(DisconnectKind::Close).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn reply(v: Value) -> Arrival {
        Arrival::Value {
            value: v,
            raw: String::new(),
            newline_after: Some(false),
            same_read: false,
        }
    }

    #[test]
    fn a_refusal_of_an_unknown_name_is_told_from_other_refusals() {
        let yes = [
            json!({"response": 400, "error": "Пользователь не зарегистрирован."}),
            json!({"response": 400, "error": "Unknown user"}),
            json!({"response": "403", "alert": "user is not registered"}),
            json!({"response": 404, "error": "no"}),
            json!({"response": 400, "respondefault_ip_addressse": "нет такого пользователя"}),
        ];
        for v in yes {
            assert!(refuses_unknown(&reply(v.clone())), "{v}");
        }
        let no = [
            json!({"response": 400, "error": "Bad Request"}),
            json!({"response": 400, "error": "Имя пользователя уже занято."}),
            json!({"response": 401, "error": "unknown user"}),
            json!({"response": 409, "error": "name taken"}),
            json!({"response": 200}),
        ];
        for v in no {
            assert!(!refuses_unknown(&reply(v.clone())), "{v}");
        }
        assert!(!refuses_unknown(&Arrival::Closed { reset: false }));
    }
}
