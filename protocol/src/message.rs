//! Typed JIM messages for both dialects: tolerant reading, exact writing.
//!
//! Real peers spell the same message many ways (see PROTOCOL.md `§dialects`). This module reads
//! every tolerated spelling into one typed [`Message`] and writes exactly one canonical form per
//! [`Dialect`]. Reading also validates (required fields, types, lengths, room names) and reports a
//! [`ProtocolError`] that names the problem and the response code to send.

use serde_json::{Map, Value};

use crate::codes::ResponseCode;
use crate::error::ProtocolError;
use crate::limits::{MAX_NAME_CHARS, MAX_TEXT_CHARS};

/// The two generations of JIM in use (PROTOCOL.md `§dialects`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// The original methodology: `msg`, `quit`, `join`, `authenticate`, responses with `time`.
    #[default]
    Spec,
    /// The 2020+ course solution: `message`/`mess_text`, `exit`, `data_list`, 511 login, 205 push.
    Course,
}

impl Dialect {
    /// The lowercase name used on command lines and in reports (`spec`, `course`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Spec => "spec",
            Self::Course => "course",
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "spec" => Ok(Self::Spec),
            "course" => Ok(Self::Course),
            other => Err(format!("unknown dialect {other:?}: use spec or course")),
        }
    }
}

/// A UNIX timestamp in seconds, as JIM carries it in `time`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Timestamp(pub f64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Self(secs)
    }

    /// Reads `time` tolerantly: a number, or a string holding a number. Anything else (a
    /// formatted date, junk, `null`) counts as absent.
    pub fn from_value(value: &Value) -> Option<Self> {
        let secs = match value {
            Value::Number(n) => n.as_f64()?,
            Value::String(s) => s.trim().parse::<f64>().ok()?,
            _ => return None,
        };
        secs.is_finite().then_some(Self(secs))
    }

    /// The JSON number written for this timestamp.
    pub fn to_value(self) -> Value {
        Value::from(self.0)
    }
}

/// Where a chat message goes: a user or a `#room`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// An account name.
    User(String),
    /// A room name including its leading `#`.
    Room(String),
}

impl Target {
    /// Classifies a destination string: a leading `#` means a room.
    pub fn parse(to: &str) -> Self {
        if to.starts_with('#') { Self::Room(to.to_owned()) } else { Self::User(to.to_owned()) }
    }

    /// The destination as written in `to`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::User(s) | Self::Room(s) => s,
        }
    }
}

/// `presence`: a client announces itself (and answers a probe). `§presence`
#[derive(Debug, Clone, PartialEq)]
pub struct Presence {
    /// When it was sent.
    pub time: Option<Timestamp>,
    /// The account name the client wants.
    pub account_name: String,
    /// Spec dialect `user.status`, such as "Yep, I am here!".
    pub status: Option<String>,
    /// Spec dialect `type`, usually "status".
    pub kind: Option<String>,
    /// Course dialect `user.pubkey`, a PEM public key.
    pub pubkey: Option<String>,
}

/// `probe`: the server asks "are you there?"; the answer is a presence. `§probe`
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// When it was sent.
    pub time: Option<Timestamp>,
}

/// A chat message to a user or a room: spec `msg`, course `message`. `§msg`, `§rooms`
#[derive(Debug, Clone, PartialEq)]
pub struct Chat {
    /// When it was sent.
    pub time: Option<Timestamp>,
    /// The sender as the client wrote it (a server overrides it with the session name).
    pub from: Option<String>,
    /// The addressee.
    pub to: Target,
    /// Spec dialect `encoding` (default "ascii" when absent).
    pub encoding: Option<String>,
    /// The text.
    pub text: String,
}

/// Leaving: spec `quit`, course `exit`. `§quit`
#[derive(Debug, Clone, PartialEq)]
pub struct Quit {
    /// When it was sent.
    pub time: Option<Timestamp>,
    /// Course dialect `account_name` of the leaving user.
    pub account_name: Option<String>,
}

/// Spec dialect `authenticate`. `§authenticate`
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticate {
    /// When it was sent.
    pub time: Option<Timestamp>,
    /// The account.
    pub account_name: String,
    /// The password in clear text, as the spec has it.
    pub password: String,
}

/// `join` or `leave` a room. `§rooms`
#[derive(Debug, Clone, PartialEq)]
pub struct RoomRequest {
    /// When it was sent.
    pub time: Option<Timestamp>,
    /// The room, with its leading `#`.
    pub room: String,
}

/// `get_contacts`. `§contacts`
#[derive(Debug, Clone, PartialEq)]
pub struct GetContacts {
    /// When it was sent.
    pub time: Option<Timestamp>,
    /// Whose list (course `user`, later spec `user_login`); the session's own when absent.
    pub owner: Option<String>,
}

/// Adding or removing a contact: spec `add_contact`/`del_contact`, course `add`/`remove`.
/// `§contacts`
#[derive(Debug, Clone, PartialEq)]
pub struct ContactChange {
    /// When it was sent.
    pub time: Option<Timestamp>,
    /// Whose list (course `user`); the session's own when absent.
    pub owner: Option<String>,
    /// The contact added or removed.
    pub contact: String,
}

/// Course dialect `get_users`. `§get-users`
#[derive(Debug, Clone, PartialEq)]
pub struct GetUsers {
    /// When it was sent.
    pub time: Option<Timestamp>,
    /// The asking user.
    pub account_name: Option<String>,
}

/// Course dialect `pubkey_need`: ask for a user's public key. `§pubkey`
#[derive(Debug, Clone, PartialEq)]
pub struct PubkeyNeed {
    /// When it was sent.
    pub time: Option<Timestamp>,
    /// Whose key.
    pub account_name: String,
}

/// Spec dialect list item `{"action":"contact_list","user_id":NAME}` that follows a
/// `{"response":202,"quantity":N}`. `§contacts`
#[derive(Debug, Clone, PartialEq)]
pub struct ContactListItem {
    /// One contact.
    pub user_id: String,
}

/// A response object: `{"response": CODE, ...}`. `§responses`
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// The code.
    pub code: ResponseCodeField,
    /// When it was sent (the course dialect often omits it).
    pub time: Option<Timestamp>,
    /// Human text: `alert` for 1xx/2xx, `error` for 4xx/5xx.
    pub text: Option<String>,
    /// A list of names (spec `alert` array, course `data_list`).
    pub list: Option<Vec<String>>,
    /// Spec `quantity`: how many `contact_list` items follow.
    pub quantity: Option<u64>,
    /// Course 511 `bin`: the challenge, the answer, or a PEM key.
    pub bin: Option<String>,
}

/// The code of a [`Response`]; `Default` is 200 so that `Response { ..Default::default() }` reads well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseCodeField(pub ResponseCode);

impl Default for ResponseCodeField {
    fn default() -> Self {
        Self(ResponseCode::OK)
    }
}

impl Response {
    /// A response with the code's standard text and the current time.
    pub fn new(code: ResponseCode) -> Self {
        Self {
            code: ResponseCodeField(code),
            time: Some(Timestamp::now()),
            text: Some(code.standard_text().to_owned()),
            ..Self::default()
        }
    }

    /// A response with the given text and the current time.
    pub fn with_text(code: ResponseCode, text: impl Into<String>) -> Self {
        Self { text: Some(text.into()), ..Self::new(code) }
    }

    /// A 202 list response with the current time.
    pub fn list(names: Vec<String>) -> Self {
        Self { list: Some(names), ..Self::new(ResponseCode::ACCEPTED) }
    }

    /// The code.
    pub fn code(&self) -> ResponseCode {
        self.code.0
    }
}

/// Any JIM message of either dialect.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `presence`.
    Presence(Presence),
    /// `probe`.
    Probe(Probe),
    /// `msg` / `message`.
    Chat(Chat),
    /// `quit` / `exit`.
    Quit(Quit),
    /// `authenticate`.
    Authenticate(Authenticate),
    /// `join`.
    Join(RoomRequest),
    /// `leave`.
    Leave(RoomRequest),
    /// `get_contacts`.
    GetContacts(GetContacts),
    /// `add_contact` / `add`.
    AddContact(ContactChange),
    /// `del_contact` / `remove` / `remove_contact`.
    DelContact(ContactChange),
    /// `get_users`.
    GetUsers(GetUsers),
    /// `pubkey_need`.
    PubkeyNeed(PubkeyNeed),
    /// `contact_list` item.
    ContactList(ContactListItem),
    /// A response object.
    Response(Response),
}

/// A message read from a JSON value, with what its spelling revealed about the sender's dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The message.
    pub message: Message,
    /// `Some` when the spelling belongs to one dialect only (see `§dialect-detection`).
    pub dialect: Option<Dialect>,
}

impl Message {
    /// Reads and validates a message; see [`parse`] for the dialect hint as well.
    pub fn from_value(value: &Value) -> Result<Self, ProtocolError> {
        parse(value).map(|p| p.message)
    }

    /// The action name this message is written with in `dialect` (`"response"` for a response).
    pub fn action(&self, dialect: Dialect) -> &'static str {
        let course = dialect == Dialect::Course;
        match self {
            Self::Presence(_) => "presence",
            Self::Probe(_) => "probe",
            Self::Chat(_) if course => "message",
            Self::Chat(_) => "msg",
            Self::Quit(_) if course => "exit",
            Self::Quit(_) => "quit",
            Self::Authenticate(_) => "authenticate",
            Self::Join(_) => "join",
            Self::Leave(_) => "leave",
            Self::GetContacts(_) => "get_contacts",
            Self::AddContact(_) if course => "add",
            Self::AddContact(_) => "add_contact",
            Self::DelContact(_) if course => "remove",
            Self::DelContact(_) => "del_contact",
            Self::GetUsers(_) => "get_users",
            Self::PubkeyNeed(_) => "pubkey_need",
            Self::ContactList(_) => "contact_list",
            Self::Response(_) => "response",
        }
    }

    /// Writes the canonical form of this message in `dialect` (PROTOCOL.md shows each one).
    /// Messages that exist in one dialect only are written in that dialect's form.
    pub fn to_value(&self, dialect: Dialect) -> Value {
        let course = dialect == Dialect::Course;
        let mut m = Map::new();
        if let Self::Response(r) = self {
            write_response(&mut m, r, dialect);
            return Value::Object(m);
        }
        m.insert("action".into(), self.action(dialect).into());
        let put_time = |m: &mut Map<String, Value>, t: Option<Timestamp>| {
            if let Some(t) = t {
                m.insert("time".into(), t.to_value());
            }
        };
        match self {
            Self::Presence(p) => {
                put_time(&mut m, p.time);
                if let (Some(kind), false) = (&p.kind, course) {
                    m.insert("type".into(), kind.as_str().into());
                }
                let mut user = Map::new();
                user.insert("account_name".into(), p.account_name.as_str().into());
                if let (Some(status), false) = (&p.status, course) {
                    user.insert("status".into(), status.as_str().into());
                }
                if let Some(key) = &p.pubkey {
                    user.insert("pubkey".into(), key.as_str().into());
                }
                m.insert("user".into(), Value::Object(user));
            }
            Self::Probe(p) => put_time(&mut m, p.time),
            Self::Chat(c) => {
                put_time(&mut m, c.time);
                if course {
                    put_opt(&mut m, "from", c.from.as_deref());
                    m.insert("to".into(), c.to.as_str().into());
                    m.insert("mess_text".into(), c.text.as_str().into());
                } else {
                    m.insert("to".into(), c.to.as_str().into());
                    put_opt(&mut m, "from", c.from.as_deref());
                    put_opt(&mut m, "encoding", c.encoding.as_deref());
                    m.insert("message".into(), c.text.as_str().into());
                }
            }
            Self::Quit(q) => {
                put_time(&mut m, q.time);
                put_opt(&mut m, "account_name", q.account_name.as_deref());
            }
            Self::Authenticate(a) => {
                put_time(&mut m, a.time);
                let mut user = Map::new();
                user.insert("account_name".into(), a.account_name.as_str().into());
                user.insert("password".into(), a.password.as_str().into());
                m.insert("user".into(), Value::Object(user));
            }
            Self::Join(r) | Self::Leave(r) => {
                put_time(&mut m, r.time);
                m.insert("room".into(), r.room.as_str().into());
            }
            Self::GetContacts(g) => {
                put_time(&mut m, g.time);
                put_opt(&mut m, if course { "user" } else { "user_login" }, g.owner.as_deref());
            }
            Self::AddContact(c) | Self::DelContact(c) => {
                put_time(&mut m, c.time);
                if course {
                    put_opt(&mut m, "user", c.owner.as_deref());
                    m.insert("account_name".into(), c.contact.as_str().into());
                } else {
                    m.insert("user_id".into(), c.contact.as_str().into());
                    put_opt(&mut m, "user", c.owner.as_deref());
                }
            }
            Self::GetUsers(g) => {
                put_time(&mut m, g.time);
                put_opt(&mut m, "account_name", g.account_name.as_deref());
            }
            Self::PubkeyNeed(p) => {
                put_time(&mut m, p.time);
                m.insert("account_name".into(), p.account_name.as_str().into());
            }
            Self::ContactList(c) => {
                m.insert("user_id".into(), c.user_id.as_str().into());
            }
            Self::Response(_) => {}
        }
        Value::Object(m)
    }
}

fn put_opt(m: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        m.insert(key.into(), v.into());
    }
}

fn write_response(m: &mut Map<String, Value>, r: &Response, dialect: Dialect) {
    let code = r.code();
    m.insert("response".into(), code.as_u16().into());
    if let Some(t) = r.time {
        m.insert("time".into(), t.to_value());
    }
    let text_key = if code.is_error() { "error" } else { "alert" };
    let list_value =
        |l: &Vec<String>| Value::Array(l.iter().map(|s| Value::from(s.as_str())).collect());
    match (dialect, &r.list) {
        (Dialect::Spec, Some(list)) => {
            // The spec carries lists in `alert`; an error's text still fits in `error`.
            if code.is_error() {
                put_opt(m, "error", r.text.as_deref());
            }
            m.insert("alert".into(), list_value(list));
        }
        (_, list) => {
            put_opt(m, text_key, r.text.as_deref());
            if let Some(list) = list {
                m.insert("data_list".into(), list_value(list));
            }
        }
    }
    if let Some(q) = r.quantity {
        m.insert("quantity".into(), q.into());
    }
    put_opt(m, "bin", r.bin.as_deref());
}

/// The JSON type name of a value, for error messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Field access with tolerated aliases and typed errors.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    section: &'static str,
}

impl<'a> Fields<'a> {
    /// The first present key among `keys` (aliases), which must hold a string.
    fn opt_str(
        &self,
        field: &'static str,
        keys: &[&str],
    ) -> Result<Option<&'a str>, ProtocolError> {
        for key in keys {
            match self.obj.get(*key) {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) => return Ok(Some(s)),
                Some(other) => {
                    return Err(ProtocolError::WrongType {
                        field,
                        expected: "a string",
                        found: json_type(other),
                        section: self.section,
                    });
                }
            }
        }
        Ok(None)
    }

    fn req_str(&self, field: &'static str, keys: &[&str]) -> Result<&'a str, ProtocolError> {
        self.opt_str(field, keys)?
            .ok_or(ProtocolError::MissingField { field, section: self.section })
    }

    fn time(&self) -> Option<Timestamp> {
        self.obj.get("time").and_then(Timestamp::from_value)
    }
}

fn check_name(field: &'static str, name: &str) -> Result<String, ProtocolError> {
    let chars = name.chars().count();
    if chars == 0 {
        return Err(ProtocolError::Empty { field });
    }
    if chars > MAX_NAME_CHARS {
        return Err(ProtocolError::NameTooLong { field, chars, limit: MAX_NAME_CHARS });
    }
    Ok(name.to_owned())
}

fn check_room(room: &str) -> Result<String, ProtocolError> {
    if !room.starts_with('#') || room.len() < 2 {
        return Err(ProtocolError::BadRoomName { room: room.chars().take(40).collect() });
    }
    check_name("room", room)
}

fn check_target(to: &str) -> Result<Target, ProtocolError> {
    if to.starts_with('#') {
        check_room(to).map(Target::Room)
    } else {
        check_name("to", to).map(Target::User)
    }
}

fn check_text(text: &str) -> Result<String, ProtocolError> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(ProtocolError::TextTooLong { chars, limit: MAX_TEXT_CHARS });
    }
    Ok(text.to_owned())
}

/// Reads the account name of a presence: `user.account_name`, `user.client_name`, `user` as a
/// plain string, or a top-level `account_name`.
fn presence_user(
    f: &Fields<'_>,
) -> Result<(String, Option<String>, Option<String>), ProtocolError> {
    const FIELD: &str = "user.account_name";
    match f.obj.get("user") {
        Some(Value::Object(user)) => {
            let u = Fields { obj: user, section: f.section };
            let name = u.req_str(FIELD, &["account_name", "client_name"])?;
            let status = u.opt_str("user.status", &["status"])?.map(str::to_owned);
            let pubkey = u.opt_str("user.pubkey", &["pubkey"])?.map(str::to_owned);
            Ok((check_name(FIELD, name)?, status, pubkey))
        }
        Some(Value::String(name)) => Ok((check_name(FIELD, name)?, None, None)),
        None | Some(Value::Null) => {
            let name = f.req_str(FIELD, &["account_name"])?;
            Ok((check_name(FIELD, name)?, None, None))
        }
        Some(other) => Err(ProtocolError::WrongType {
            field: "user",
            expected: "an object",
            found: json_type(other),
            section: f.section,
        }),
    }
}

/// Reads a response code tolerantly: an integer or a string of digits, 100 to 599 (`§limits`).
pub fn read_code(value: &Value) -> Result<ResponseCode, ProtocolError> {
    let n = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n @ 100..=599) => Ok(ResponseCode(n as u16)),
        _ => Err(ProtocolError::BadCode { found: value.to_string().chars().take(40).collect() }),
    }
}

fn parse_response(obj: &Map<String, Value>, code_value: &Value) -> Result<Parsed, ProtocolError> {
    let f = Fields { obj, section: "responses" };
    let code = read_code(code_value)?;
    let text = f.opt_str("error", &["error"])?.or(match obj.get("alert") {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    });
    let text = match text {
        Some(t) => Some(t),
        None => match obj.get("message") {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        },
    };
    let mut list = None;
    // The list spellings of `§dialects`, in its order of preference.
    for key in ["alert", "data_list", "contact_list", "user_list", "message"] {
        if let Some(Value::Array(items)) = obj.get(key) {
            let mut names = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => names.push(s.clone()),
                    other => names.push(other.to_string()),
                }
            }
            list = Some(names);
            break;
        }
    }
    let quantity = match obj.get("quantity") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let bin = f.opt_str("bin", &["bin"])?.map(str::to_owned);
    let response = Response {
        code: ResponseCodeField(code),
        time: f.time(),
        text: text.map(str::to_owned),
        list,
        quantity,
        bin,
    };
    Ok(Parsed { message: Message::Response(response), dialect: reveal_dialect(obj) })
}

/// Which dialect an object's spelling reveals, without validating it (PROTOCOL.md
/// `§dialect-detection`). The action decides when it belongs to one dialect; a presence is spec
/// when it carries `type` or `user.status` and course otherwise; other objects are judged by
/// their fields (`mess_text`/`message_text`, 511/205 codes, `data_list` vs an `alert` list).
pub fn reveal_dialect(obj: &Map<String, Value>) -> Option<Dialect> {
    use Dialect::{Course, Spec};
    let action = obj.get("action").and_then(Value::as_str).map(canonical_action);
    let by_action = match action {
        Some("presence") => {
            let user = obj.get("user").and_then(Value::as_object);
            let has_status = user.is_some_and(|u| u.contains_key("status"));
            Some(if obj.contains_key("type") || has_status { Spec } else { Course })
        }
        Some(
            "msg" | "quit" | "authenticate" | "join" | "leave" | "add_contact" | "del_contact"
            | "probe" | "contact_list",
        ) => Some(Spec),
        Some("message" | "exit" | "add" | "remove" | "get_users" | "pubkey_need") => Some(Course),
        Some("get_contacts") => obj.get("user").filter(|u| u.is_string()).map(|_| Course),
        _ => None,
    };
    if by_action.is_some() || action.is_some_and(|a| a != "response") {
        return by_action.or_else(|| {
            (obj.contains_key("mess_text") || obj.contains_key("message_text")).then_some(Course)
        });
    }
    let code = obj.get("response").and_then(|c| read_code(c).ok());
    if code == Some(ResponseCode::AUTH_CHALLENGE) || code == Some(ResponseCode::REFRESH) {
        return Some(Course);
    }
    match (obj.get("data_list"), obj.get("alert")) {
        (Some(Value::Array(_)), _) => Some(Course),
        (_, Some(Value::Array(_))) => Some(Spec),
        _ => None,
    }
}

/// Every action a client or server may send, spelled exactly as it must be (`§dialects`). Actions
/// are case-sensitive; the one tolerated variant, `Exit`, reads as `exit`.
pub const KNOWN_ACTIONS: [&str; 19] = [
    "presence",
    "probe",
    "msg",
    "message",
    "quit",
    "exit",
    "Exit",
    "authenticate",
    "join",
    "leave",
    "get_contacts",
    "add_contact",
    "del_contact",
    "add",
    "remove",
    "remove_contact",
    "get_users",
    "pubkey_need",
    "contact_list",
];

/// Maps the tolerated spelling `Exit` to `exit`; every other action stays as written.
fn canonical_action(action: &str) -> &str {
    if action == "Exit" { "exit" } else { action }
}

/// Reads and validates one message of either dialect, tolerating the spellings listed in
/// PROTOCOL.md `§dialects`, and says which dialect its spelling reveals.
pub fn parse(value: &Value) -> Result<Parsed, ProtocolError> {
    let Value::Object(obj) = value else {
        return Err(ProtocolError::NotAnObject { found: json_type(value) });
    };
    let action = match obj.get("action") {
        Some(Value::String(a)) => Some(a.as_str()),
        None | Some(Value::Null) => None,
        Some(other) => {
            return Err(ProtocolError::WrongType {
                field: "action",
                expected: "a string",
                found: json_type(other),
                section: "dialects",
            });
        }
    };
    let lower = action.map(canonical_action);
    match (lower, obj.get("response")) {
        (None | Some("response"), Some(code)) => return parse_response(obj, code),
        (None, None) => return Err(ProtocolError::NoAction),
        _ => {}
    }
    let action = lower.unwrap_or_default();
    let section = match action {
        "presence" => "presence",
        "probe" => "probe",
        "msg" | "message" => "msg",
        "quit" | "exit" => "quit",
        "authenticate" => "authenticate",
        "join" | "leave" => "rooms",
        "get_contacts" | "add_contact" | "add" | "del_contact" | "remove" | "remove_contact"
        | "contact_list" => "contacts",
        "get_users" => "get-users",
        "pubkey_need" => "pubkey",
        _ => {
            return Err(ProtocolError::UnknownAction { action: action_preview(obj.get("action")) });
        }
    };
    let f = Fields { obj, section };
    let time = f.time();
    let message = match action {
        "presence" => {
            let (account_name, status, pubkey) = presence_user(&f)?;
            let kind = f.opt_str("type", &["type"])?.map(str::to_owned);
            Message::Presence(Presence { time, account_name, status, kind, pubkey })
        }
        "probe" => Message::Probe(Probe { time }),
        "msg" | "message" => {
            let to = check_target(f.req_str("to", &["to", "destination"])?)?;
            let from = f.opt_str("from", &["from", "sender"])?.map(str::to_owned);
            let text_keys = ["message", "mess_text", "message_text", "message text"];
            // Errors name the body as the sender's dialect spells it.
            let field = if action == "message" { "mess_text" } else { "message" };
            let text = check_text(f.req_str(field, &text_keys)?)?;
            let encoding = f.opt_str("encoding", &["encoding"])?.map(str::to_owned);
            Message::Chat(Chat { time, from, to, encoding, text })
        }
        "quit" | "exit" => {
            // Ignored by servers (`§quit`), so read leniently: nothing may stop a client leaving.
            let account_name = obj.get("account_name").and_then(Value::as_str).map(str::to_owned);
            Message::Quit(Quit { time, account_name })
        }
        "authenticate" => {
            let Some(Value::Object(user)) = obj.get("user") else {
                return Err(match obj.get("user") {
                    None => ProtocolError::MissingField { field: "user", section },
                    Some(other) => ProtocolError::WrongType {
                        field: "user",
                        expected: "an object",
                        found: json_type(other),
                        section,
                    },
                });
            };
            let u = Fields { obj: user, section };
            let account_name = check_name(
                "user.account_name",
                u.req_str("user.account_name", &["account_name", "client_name"])?,
            )?;
            let password = u.req_str("user.password", &["password"])?.to_owned();
            Message::Authenticate(Authenticate { time, account_name, password })
        }
        "join" | "leave" => {
            let room = check_room(f.req_str("room", &["room"])?)?;
            let r = RoomRequest { time, room };
            if action == "join" { Message::Join(r) } else { Message::Leave(r) }
        }
        "get_contacts" => {
            let owner = f.opt_str("user", &["user", "user_login"])?;
            let owner = owner.map(|o| check_name("user", o)).transpose()?;
            Message::GetContacts(GetContacts { time, owner })
        }
        "add_contact" | "add" | "del_contact" | "remove" | "remove_contact" => {
            // Errors name the contact as the sender's dialect spells it.
            let field = if matches!(action, "add" | "remove") { "account_name" } else { "user_id" };
            let contact = check_name(
                field,
                f.req_str(field, &["user_id", "user_login", "account_name", "contact"])?,
            )?;
            let owner = f.opt_str("user", &["user"])?.map(|o| check_name("user", o)).transpose()?;
            let change = ContactChange { time, owner, contact };
            if matches!(action, "add_contact" | "add") {
                Message::AddContact(change)
            } else {
                Message::DelContact(change)
            }
        }
        "get_users" => {
            let account_name = f.opt_str("account_name", &["account_name"])?.map(str::to_owned);
            Message::GetUsers(GetUsers { time, account_name })
        }
        "pubkey_need" => {
            let account_name =
                check_name("account_name", f.req_str("account_name", &["account_name"])?)?;
            Message::PubkeyNeed(PubkeyNeed { time, account_name })
        }
        _ => {
            let user_id = check_name("user_id", f.req_str("user_id", &["user_id"])?)?;
            Message::ContactList(ContactListItem { user_id })
        }
    };
    Ok(Parsed { message, dialect: reveal_dialect(obj) })
}

fn action_preview(action: Option<&Value>) -> String {
    match action {
        Some(Value::String(s)) => s.chars().take(40).collect(),
        Some(other) => other.to_string().chars().take(40).collect(),
        None => String::new(),
    }
}

/// Guesses the dialect of a raw JSON value without validating it (see `§dialect-detection`).
pub fn detect_dialect(value: &Value) -> Option<Dialect> {
    value.as_object().and_then(reveal_dialect)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn ok(v: Value) -> Parsed {
        parse(&v).unwrap()
    }

    #[test]
    fn spec_presence_reads_and_writes_canonically() {
        let v = json!({"action":"presence","time":1.5,"type":"status",
                       "user":{"account_name":"Alice","status":"here"}});
        let p = ok(v.clone());
        assert_eq!(p.dialect, Some(Dialect::Spec));
        assert_eq!(p.message.to_value(Dialect::Spec), v);
        let course = p.message.to_value(Dialect::Course);
        assert_eq!(course, json!({"action":"presence","time":1.5,"user":{"account_name":"Alice"}}));
    }

    #[test]
    fn dialect_detection_follows_the_table() {
        let d = |v: Value| detect_dialect(&v);
        assert_eq!(
            d(json!({"action":"presence","user":{"account_name":"a"}})),
            Some(Dialect::Course)
        );
        assert_eq!(
            d(json!({"action":"presence","type":"status","user":{"account_name":"a"}})),
            Some(Dialect::Spec)
        );
        assert_eq!(
            d(json!({"action":"msg","to":"b","mess_text":"x"})),
            Some(Dialect::Spec),
            "action wins"
        );
        assert_eq!(d(json!({"action":"Exit"})), Some(Dialect::Course));
        assert_eq!(d(json!({"action":"get_contacts","user":"me"})), Some(Dialect::Course));
        assert_eq!(d(json!({"action":"get_contacts","user_login":"me"})), None);
        assert_eq!(d(json!({"action":"remove_contact","user_id":"x"})), None);
        assert_eq!(d(json!({"action":"dance","mess_text":"x"})), Some(Dialect::Course));
        assert_eq!(d(json!({"response":511,"bin":"x"})), Some(Dialect::Course));
        assert_eq!(d(json!({"response":202,"alert":["a"]})), Some(Dialect::Spec));
        assert_eq!(d(json!({"response":200})), None);
        assert_eq!(d(json!([1])), None);
    }

    #[test]
    fn presence_name_variants_are_tolerated() {
        for v in [
            json!({"action":"presence","user":{"client_name":"Bob"}}),
            json!({"action":"presence","user":"Bob"}),
            json!({"action":"presence","account_name":"Bob","time":"12.5"}),
        ] {
            let Message::Presence(p) = ok(v).message else { panic!() };
            assert_eq!(p.account_name, "Bob");
        }
    }

    #[test]
    fn time_is_tolerant() {
        let t = |v: Value| Timestamp::from_value(&v);
        assert_eq!(t(json!(5)), Some(Timestamp(5.0)));
        assert_eq!(t(json!(5.25)), Some(Timestamp(5.25)));
        assert_eq!(t(json!(" 7.5 ")), Some(Timestamp(7.5)));
        assert_eq!(t(json!("Mon Jan 1")), None);
        assert_eq!(t(json!(null)), None);
    }

    #[test]
    fn course_message_variants_normalise() {
        let a = ok(json!({"action":"message","time":1,"from":"a","to":"b","mess_text":"hi"}));
        let b = ok(
            json!({"action":"message","sender":"a","destination":"b","message_text":"hi","time":1}),
        );
        assert_eq!(a.message, b.message);
        assert_eq!(a.dialect, Some(Dialect::Course));
        assert_eq!(
            a.message.to_value(Dialect::Spec),
            json!({"action":"msg","time":1.0,"to":"b","from":"a","message":"hi"})
        );
    }

    #[test]
    fn validation_errors_are_named() {
        let err = |v: Value| parse(&v).unwrap_err();
        assert!(matches!(err(json!([1])), ProtocolError::NotAnObject { .. }));
        assert!(matches!(err(json!({"time":1})), ProtocolError::NoAction));
        assert!(matches!(err(json!({"action":"dance"})), ProtocolError::UnknownAction { .. }));
        assert!(matches!(err(json!({"action":"MSG"})), ProtocolError::UnknownAction { .. }));
        assert!(matches!(ok(json!({"action":"Exit"})).message, Message::Quit(_)));
        // Missing fields are named as the client's own dialect spells them.
        assert!(matches!(
            err(json!({"action":"message","to":"b"})),
            ProtocolError::MissingField { field: "mess_text", .. }
        ));
        assert!(matches!(
            err(json!({"action":"msg","to":"b"})),
            ProtocolError::MissingField { field: "message", .. }
        ));
        assert!(matches!(
            err(json!({"action":"add","user":"me"})),
            ProtocolError::MissingField { field: "account_name", .. }
        ));
        assert!(matches!(
            err(json!({"action":"del_contact"})),
            ProtocolError::MissingField { field: "user_id", .. }
        ));
        // §quit: `account_name` is ignored, so a bad one never stops a client from leaving.
        assert!(matches!(ok(json!({"action":"exit","account_name":5})).message, Message::Quit(_)));
        assert!(matches!(
            err(json!({"action":"presence","user":{}})),
            ProtocolError::MissingField { field: "user.account_name", .. }
        ));
        assert!(matches!(
            err(json!({"action":"presence","user":{"account_name":5}})),
            ProtocolError::WrongType { .. }
        ));
        assert!(matches!(
            err(json!({"action":"presence","user":{"account_name":"x".repeat(26)}})),
            ProtocolError::NameTooLong { chars: 26, .. }
        ));
        assert!(matches!(
            err(json!({"action":"msg","to":"b","message":"я".repeat(501)})),
            ProtocolError::TextTooLong { chars: 501, .. }
        ));
        assert!(matches!(
            err(json!({"action":"join","room":"lobby"})),
            ProtocolError::BadRoomName { .. }
        ));
        assert!(matches!(
            err(json!({"action":"msg","to":"#","message":""})),
            ProtocolError::BadRoomName { .. }
        ));
        assert!(matches!(err(json!({"response":"abc"})), ProtocolError::BadCode { .. }));
        // §limits: a response code is three digits, 100 to 599.
        assert!(matches!(err(json!({"response":700})), ProtocolError::BadCode { .. }));
        assert!(matches!(err(json!({"response":"99"})), ProtocolError::BadCode { .. }));
        ok(json!({"response":599}));
        // 25 characters is still fine, counted in characters, not bytes.
        ok(json!({"action":"presence","user":{"account_name":"ж".repeat(25)}}));
    }

    #[test]
    fn responses_read_both_dialects() {
        let r = ok(json!({"response":"202","data_list":["a","b"]}));
        let Message::Response(resp) = &r.message else { panic!() };
        assert_eq!(resp.code(), ResponseCode::ACCEPTED);
        assert_eq!(resp.list.as_deref(), Some(&["a".to_owned(), "b".to_owned()][..]));
        assert_eq!(r.dialect, Some(Dialect::Course));
        let e = ok(json!({"response":400,"message":"плохо"}));
        let Message::Response(resp) = e.message else { panic!() };
        assert_eq!(resp.text.as_deref(), Some("плохо"));
        // Every list spelling of §dialects, the first present one winning.
        for key in ["alert", "data_list", "contact_list", "user_list", "message"] {
            let Message::Response(resp) = ok(json!({"response":202, key:["a"]})).message else {
                panic!()
            };
            assert_eq!(resp.list, Some(vec!["a".to_owned()]), "{key}");
        }
        let both = ok(json!({"response":202,"data_list":["d"],"alert":["a"]})).message;
        let Message::Response(resp) = both else { panic!() };
        assert_eq!(resp.list, Some(vec!["a".to_owned()]), "alert comes first in §dialects");
        // "action":"response" added to every reply is still a response.
        assert!(matches!(
            ok(json!({"action":"response","response":200})).message,
            Message::Response(_)
        ));
    }

    #[test]
    fn responses_write_per_dialect() {
        let r = Message::Response(Response {
            time: Some(Timestamp(2.0)),
            ..Response::list(vec!["x".into()])
        });
        assert_eq!(r.to_value(Dialect::Spec), json!({"response":202,"time":2.0,"alert":["x"]}));
        assert_eq!(
            r.to_value(Dialect::Course),
            json!({"response":202,"time":2.0,"alert":"accepted","data_list":["x"]})
        );
        let e = Message::Response(Response {
            time: None,
            ..Response::with_text(ResponseCode::NOT_FOUND, "no bob")
        });
        assert_eq!(e.to_value(Dialect::Course), json!({"response":404,"error":"no bob"}));
    }
}
