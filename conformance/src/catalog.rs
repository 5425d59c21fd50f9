//! The closed vocabularies of the fixture format: tolerances, capabilities, placeholders and
//! pattern operators. The linter rejects anything not listed here, and the report explains each
//! entry in the words below, so one table serves the code, the docs and the student.

/// One named tolerance: a way real, conforming-enough student code differs from the reference
/// reading of PROTOCOL.md that a profile may accept.
#[derive(Debug, Clone, Copy)]
pub struct ToleranceInfo {
    /// Stable name used in profiles and reports.
    pub name: &'static str,
    /// What is tolerated, in English.
    pub en: &'static str,
    /// What is tolerated, in Russian.
    pub ru: &'static str,
}

/// Every tolerance the matcher and the runner know.
pub const TOLERANCES: &[ToleranceInfo] = &[
    ToleranceInfo {
        name: "string-code",
        en: "response code sent as a numeric string (\"200\") instead of a number",
        ru: "код ответа строкой (\"200\"), а не числом",
    },
    ToleranceInfo {
        name: "no-time",
        en: "response without a usable \"time\"",
        ru: "в ответе нет поля \"time\" (или оно не число)",
    },
    ToleranceInfo {
        name: "error-text-key",
        en: "error text under \"alert\" or \"message\" instead of \"error\"",
        ru: "текст ошибки в \"alert\" или \"message\", а не в \"error\"",
    },
    ToleranceInfo {
        name: "any-error-code",
        en: "another 4xx/5xx code instead of the exact one the spec assigns (e.g. 400 for 404)",
        ru: "другой код ошибки 4xx/5xx вместо точного (например, 400 вместо 404)",
    },
    ToleranceInfo {
        name: "list-shape",
        en: "a 202 list in contact_list/user_list/message or as quantity + N contact_list messages",
        ru: "список 202 в contact_list/user_list/message или как quantity + N сообщений contact_list",
    },
    ToleranceInfo {
        name: "no-msg-ack",
        en: "no 200 acknowledgement to the sender of a delivered message",
        ru: "отправитель доставленного сообщения не получает подтверждение 200",
    },
    ToleranceInfo {
        name: "room-echo",
        en: "a room message relayed back to its own sender",
        ru: "сообщение в комнату возвращается самому отправителю",
    },
    ToleranceInfo {
        name: "open-after-quit",
        en: "the server keeps the connection open after quit/exit (the client closes it)",
        ru: "сервер не закрывает соединение после quit/exit (его закрывает клиент)",
    },
    ToleranceInfo {
        name: "reply-to-quit",
        en: "a response to quit/exit before the close (the spec says no response)",
        ru: "ответ на quit/exit перед закрытием (по спецификации ответа нет)",
    },
    ToleranceInfo {
        name: "close-on-bad-input",
        en: "the server closes the connection on bad input instead of answering 400 (it keeps serving others)",
        ru: "на плохие данные сервер закрывает соединение вместо ответа 400 (и продолжает обслуживать других)",
    },
    ToleranceInfo {
        name: "extra-keys",
        en: "keys that JIM does not define in a reply",
        ru: "в ответе есть ключи, которых нет в JIM",
    },
];

/// Looks up a tolerance by name.
pub fn tolerance(name: &str) -> Option<&'static ToleranceInfo> {
    TOLERANCES.iter().find(|t| t.name == name)
}

/// One optional capability a fixture may require.
#[derive(Debug, Clone, Copy)]
pub struct CapabilityInfo {
    /// Stable name used in fixtures, `--expect` and reports.
    pub name: &'static str,
    /// What it is, in English.
    pub en: &'static str,
    /// How the runner learns whether the target has it.
    pub source: CapabilitySource,
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

/// Every capability a fixture may require.
pub const CAPABILITIES: &[CapabilityInfo] = &[
    CapabilityInfo {
        name: "rooms",
        en: "rooms: join, leave, msg to #room",
        source: CapabilitySource::Probe,
    },
    CapabilityInfo {
        name: "contacts",
        en: "contact list: get_contacts, add/remove",
        source: CapabilitySource::Probe,
    },
    CapabilityInfo { name: "users", en: "get_users (course)", source: CapabilitySource::Probe },
    CapabilityInfo { name: "auth", en: "spec authenticate", source: CapabilitySource::Probe },
    CapabilityInfo {
        name: "course-login",
        en: "course 511 challenge login",
        source: CapabilitySource::Probe,
    },
    CapabilityInfo { name: "pubkey", en: "pubkey_need (course)", source: CapabilitySource::Probe },
    CapabilityInfo {
        name: "push-205",
        en: "205 'refresh lists' pushes (course)",
        source: CapabilitySource::Probe,
    },
    CapabilityInfo {
        name: "credentials",
        en: "an account and its password (--user/--password)",
        source: CapabilitySource::Options,
    },
    CapabilityInfo {
        name: "offline-account",
        en: "an account that exists but is offline (--offline-user)",
        source: CapabilitySource::Options,
    },
];

/// Looks up a capability by name.
pub fn capability(name: &str) -> Option<&'static CapabilityInfo> {
    CAPABILITIES.iter().find(|c| c.name == name)
}

/// Placeholder kinds (`$kind` or `$kind:arg`) that fixtures may use in `send`, `send_raw` and
/// `expect`, with the arguments they take.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("now", "the current Unix time as a number (a string inside ${...})"),
    (
        "name",
        "the account name chosen with --name, else the profile default (Guest for lesson 3), else a unique name",
    ),
    (
        "user",
        "user:LABEL[:LEN] -> a unique name per run and case, e.g. alice_k3f9 (LEN pads it to exactly LEN chars)",
    ),
    ("room", "room:LABEL -> a unique room name, e.g. #lobby_k3f9"),
    ("account", "the account given with --user"),
    ("password", "the password given with --password"),
    ("offline_account", "an existing account that is not connected (--offline-user)"),
    ("text", "text:N -> N ASCII characters"),
    ("utext", "utext:N -> N non-ASCII (Cyrillic) characters"),
    ("capture", "capture:NAME -> a value captured earlier in the case by {\"$capture\": NAME}"),
    (
        "course_answer",
        "course_answer:NAME -> the 511 answer for --user/--password to the challenge captured as NAME",
    ),
    ("pubkey", "a sample RSA public key in PEM form"),
    ("unique", "a token unique to this run and case (for markers)"),
];

/// String operators: a pattern string equal to one of these matches by type.
pub const STRING_OPERATORS: &[(&str, &str)] = &[
    ("$any", "any value (the key must be present)"),
    ("$number", "any number"),
    ("$int", "an integer"),
    ("$string", "any string"),
    ("$nonempty", "a non-empty string"),
    ("$time", "a usable time: a number or a numeric string"),
    ("$recent", "a usable time within 5 minutes of the runner's clock (what a client sends)"),
    ("$object", "any object"),
    ("$array", "any array"),
    ("$bool", "true or false"),
    ("$absent", "(as an object value) the key must be absent"),
];

/// Object operators: a pattern object whose keys all start with `$`; every operator must hold.
pub const OBJECT_OPERATORS: &[(&str, &str)] = &[
    ("$in", "equal to one of the listed values"),
    ("$regex", "a string matching the regular expression"),
    ("$optional", "(as an object value) the key may be absent; if present it must match"),
    ("$not", "must not match the pattern"),
    ("$anyof", "must match at least one of the patterns"),
    ("$contains", "an array with, for each pattern, an element matching it"),
    ("$len", "string length in characters or array length: N or {\"min\":A,\"max\":B}"),
    ("$range", "a number in [LO, HI]"),
    ("$exact", "this literal, with no tolerance applied"),
    ("$capture", "matches anything present and remembers it (as text) under this name"),
];

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
