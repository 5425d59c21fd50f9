//! What each name of the fixture vocabularies means, in the words a student reads: tolerances,
//! capabilities, placeholders and pattern operators, plus the keys and codes JIM defines.
//!
//! The names themselves live in [`crate::vocab`]; this module only describes them, with one
//! exhaustive `match` per vocabulary, so a new name cannot go undescribed.

use crate::model::Text;
use crate::vocab::{Capability, ObjectOperator, Placeholder, StringOperator, Tolerance};

fn text(en: &str, ru: &str) -> Text {
    Text { en: en.to_owned(), ru: ru.to_owned() }
}

impl Tolerance {
    /// What is tolerated.
    pub fn describe(self) -> Text {
        match self {
            Self::StringCode => text(
                "response code sent as a numeric string (\"200\") instead of a number",
                "код ответа строкой (\"200\"), а не числом",
            ),
            Self::NoTime => text(
                "response without a usable \"time\"",
                "в ответе нет поля \"time\" (или оно не число)",
            ),
            Self::ErrorTextKey => text(
                "error text under \"alert\" or \"message\" instead of \"error\"",
                "текст ошибки в \"alert\" или \"message\", а не в \"error\"",
            ),
            Self::AnyErrorCode => text(
                "another 4xx/5xx code instead of the exact one the spec assigns (e.g. 400 for 404)",
                "другой код ошибки 4xx/5xx вместо точного (например, 400 вместо 404)",
            ),
            Self::ListShape => text(
                "a 202 list in contact_list/user_list/message or as quantity + N contact_list messages",
                "список 202 в contact_list/user_list/message или как quantity + N сообщений contact_list",
            ),
            Self::NoMsgAck => text(
                "no 200 acknowledgement to the sender of a delivered message",
                "отправитель доставленного сообщения не получает подтверждение 200",
            ),
            Self::RoomEcho => text(
                "a room message relayed back to its own sender",
                "сообщение в комнату возвращается самому отправителю",
            ),
            Self::OpenAfterQuit => text(
                "the server keeps the connection open after quit/exit (the session ends all the same: the name is free while it is open; the client closes it)",
                "сервер не закрывает соединение после quit/exit (сессия всё равно завершается: имя свободно, пока соединение открыто; закрывает его клиент)",
            ),
            Self::ReplyToQuit => text(
                "a response to quit/exit before the close (the spec says no response)",
                "ответ на quit/exit перед закрытием (по спецификации ответа нет)",
            ),
            Self::CloseOnBadInput => text(
                "the server closes the connection on bad input instead of answering 400 (it keeps serving others)",
                "на плохие данные сервер закрывает соединение вместо ответа 400 (и продолжает обслуживать других)",
            ),
            Self::ExtraKeys => text(
                "keys that JIM does not define in a reply",
                "в ответе есть ключи, которых нет в JIM",
            ),
        }
    }
}

/// How the runner decides whether a capability is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapabilitySource {
    /// A probe fixture (`probe_for`) runs first; "unknown action" means unimplemented.
    Probe,
    /// The user supplies it on the command line (`--user/--password`, `--offline-user`), or the
    /// embedded reference provides it.
    Options,
}

impl Capability {
    /// How the runner learns whether the target has it.
    pub fn source(self) -> CapabilitySource {
        match self {
            Self::Rooms
            | Self::Contacts
            | Self::Users
            | Self::Auth
            | Self::CourseLogin
            | Self::Pubkey
            | Self::Push205 => CapabilitySource::Probe,
            Self::Credentials | Self::OfflineAccount => CapabilitySource::Options,
        }
    }

    /// True when a probe fixture decides it.
    pub fn probed(self) -> bool {
        self.source() == CapabilitySource::Probe
    }

    /// What it is.
    pub fn describe(self) -> Text {
        match self {
            Self::Rooms => {
                text("rooms: join, leave, msg to #room", "комнаты: join, leave, msg в #комнату")
            }
            Self::Contacts => text(
                "contact list: get_contacts, add/remove",
                "список контактов: get_contacts, add/remove",
            ),
            Self::Users => text("get_users (course)", "get_users (курс)"),
            Self::Auth => text("spec authenticate", "authenticate (спецификация)"),
            Self::CourseLogin => text("course 511 challenge login", "вход курса через вызов 511"),
            Self::Pubkey => text("pubkey_need (course)", "pubkey_need (курс)"),
            Self::Push205 => text(
                "205 'refresh lists' pushes (course)",
                "оповещения 205 «обновите списки» (курс)",
            ),
            Self::Credentials => text(
                "an account and its password (--user/--password)",
                "учётная запись и её пароль (--user/--password)",
            ),
            Self::OfflineAccount => text(
                "an account that exists but is offline (--offline-user)",
                "существующая учётная запись не в сети (--offline-user)",
            ),
        }
    }
}

impl Placeholder {
    /// What it becomes, and the arguments it takes.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Now => "the current Unix time as a number (a string inside ${...})",
            Self::Name => {
                "the account name chosen with --name, else the profile default (Guest for lesson 3), else a unique name"
            }
            Self::User => {
                "user:LABEL[:LEN] -> a unique name per run and case, e.g. alice_k3f9 (LEN pads it to exactly LEN chars)"
            }
            Self::Room => "room:LABEL -> a unique room name, e.g. #lobby_k3f9",
            Self::Account => "the account given with --user",
            Self::Password => "the password given with --password",
            Self::OfflineAccount => "an existing account that is not connected (--offline-user)",
            Self::Text => "text:N -> N ASCII characters",
            Self::Utext => "utext:N -> N non-ASCII (Cyrillic) characters",
            Self::Capture => {
                "capture:NAME -> a value captured earlier in the case by {\"$capture\": NAME}"
            }
            Self::CourseAnswer => {
                "course_answer:NAME -> the 511 answer for --user/--password to the challenge captured as NAME"
            }
            Self::Pubkey => "a sample RSA public key in PEM form",
            Self::Unique => "a token unique to this run and case (for markers)",
        }
    }
}

impl StringOperator {
    /// What it matches.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Any => "any value (the key must be present)",
            Self::Number => "any number",
            Self::Int => "an integer",
            Self::String => "any string",
            Self::Nonempty => "a non-empty string",
            Self::Time => "a usable time: a number or a numeric string",
            Self::Recent => {
                "a usable time within 5 minutes of the runner's clock (what a client sends)"
            }
            Self::Object => "any object",
            Self::Array => "any array",
            Self::Bool => "true or false",
            Self::Absent => "(as an object value) the key must be absent",
        }
    }
}

impl ObjectOperator {
    /// What it checks.
    pub fn describe(self) -> &'static str {
        match self {
            Self::In => "equal to one of the listed values",
            Self::Regex => "a string matching the regular expression",
            Self::Optional => {
                "(as an object value) the key may be absent; if present it must match"
            }
            Self::Not => "must not match the pattern",
            Self::AnyOf => "must match at least one of the patterns",
            Self::Contains => "an array with, for each pattern, an element matching it",
            Self::Len => "string length in characters or array length: N or {\"min\":A,\"max\":B}",
            Self::Range => "a number in [LO, HI]",
            Self::Exact => "this literal, with no tolerance applied",
            Self::Capture => "matches anything present and remembers it (as text) under this name",
        }
    }
}

/// Keys that JIM defines somewhere; other keys in a reply are "extra" (flagged with --strict).
pub const JIM_KEYS: &[&str] = &[
    "action",
    "time",
    "response",
    "alert",
    "error",
    "message",
    "type",
    "user",
    "account_name",
    "status",
    "to",
    "from",
    "encoding",
    "room",
    "user_id",
    "user_login",
    "quantity",
    "data_list",
    "contact_list",
    "user_list",
    "bin",
    "mess_text",
    "message_text",
    "message text",
    "sender",
    "destination",
    "password",
    "pubkey",
    "client_name",
];

/// Response codes the spec assigns (PROTOCOL.md §codes), for reports and lint.
pub const CODES: &[(u16, &str)] = &[
    (100, "basic notification"),
    (101, "important notification"),
    (200, "OK"),
    (201, "created"),
    (202, "accepted"),
    (205, "refresh lists"),
    (400, "bad request"),
    (401, "not authorized"),
    (402, "wrong login or password"),
    (403, "forbidden"),
    (404, "not found"),
    (409, "conflict"),
    (410, "gone"),
    (500, "server error"),
    (511, "authentication required"),
];
