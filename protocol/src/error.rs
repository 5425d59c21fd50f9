//! Named errors: why a JSON value is not an acceptable JIM message (validation) and why a run of
//! bytes is not a JSON value (framing).
//!
//! Every error knows the response code a server should answer with ([`ProtocolError::code`],
//! [`FrameError::code`]) and its message cites the PROTOCOL.md section that explains the rule, so
//! the same text can go straight into an `error` field that a student reads.

use bytes::Bytes;
use thiserror::Error;

use crate::codes::ResponseCode;

/// Why a JSON value is not a valid JIM message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The value is JSON but not an object.
    #[error("expected a JSON object, got {found} (see §framing)")]
    NotAnObject {
        /// The JSON type that arrived ("an array", "a number", ...).
        found: &'static str,
    },
    /// Neither `action` nor `response` is present.
    #[error("the object has neither \"action\" nor \"response\" (see §dialects)")]
    NoAction,
    /// The `action` names nothing this protocol knows.
    #[error("unknown action {action:?} (see §dialects)")]
    UnknownAction {
        /// The action as sent (truncated to a readable length).
        action: String,
    },
    /// A required field is absent.
    #[error("missing field {field} (see §{section})")]
    MissingField {
        /// Dotted path of the field, such as `user.account_name`.
        field: &'static str,
        /// PROTOCOL.md section id without the `§`.
        section: &'static str,
    },
    /// A field is present with the wrong JSON type.
    #[error("field {field} must be {expected}, got {found} (see §{section})")]
    WrongType {
        /// Dotted path of the field.
        field: &'static str,
        /// What was expected, such as "a string".
        expected: &'static str,
        /// The JSON type that arrived.
        found: &'static str,
        /// PROTOCOL.md section id without the `§`.
        section: &'static str,
    },
    /// A field that must not be empty is empty.
    #[error("field {field} must not be empty (see §limits)")]
    Empty {
        /// Dotted path of the field.
        field: &'static str,
    },
    /// An account or room name is longer than [`crate::limits::MAX_NAME_CHARS`].
    #[error("{field} is {chars} characters long; the limit is {limit} (see §limits)")]
    NameTooLong {
        /// Dotted path of the field.
        field: &'static str,
        /// Its length in characters.
        chars: usize,
        /// The limit.
        limit: usize,
    },
    /// A message text is longer than [`crate::limits::MAX_TEXT_CHARS`].
    #[error("message text is {chars} characters long; the limit is {limit} (see §limits)")]
    TextTooLong {
        /// Its length in characters.
        chars: usize,
        /// The limit.
        limit: usize,
    },
    /// A room name does not start with `#` or has nothing after it.
    #[error("room name {room:?} must be '#' followed by a name (see §rooms)")]
    BadRoomName {
        /// The name as sent.
        room: String,
    },
    /// A response code that is not a three-digit number.
    #[error("response code {found} is not a three-digit number (see §codes)")]
    BadCode {
        /// What arrived, rendered as JSON.
        found: String,
    },
}

impl ProtocolError {
    /// The response code a server should answer with. Every validation error is a 400.
    pub fn code(&self) -> ResponseCode {
        ResponseCode::BAD_REQUEST
    }

    /// The message in Russian, for programs that speak it to a person (`jim-client`, the
    /// log of `jim-server`). What goes on the wire stays the English [`Display`](std::fmt::Display).
    pub fn text_ru(&self) -> String {
        match self {
            Self::NotAnObject { found } => {
                format!("ожидался объект JSON, пришло: {} (см. §framing)", json_type_ru(found))
            }
            Self::NoAction => "в объекте нет ни \"action\", ни \"response\" (см. §dialects)".into(),
            Self::UnknownAction { action } => {
                format!("неизвестное действие {action:?} (см. §dialects)")
            }
            Self::MissingField { field, section } => format!("нет поля {field} (см. §{section})"),
            Self::WrongType { field, expected, found, section } => format!(
                "поле {field} должно быть таким: {}, а пришло: {} (см. §{section})",
                json_type_ru(expected),
                json_type_ru(found)
            ),
            Self::Empty { field } => format!("поле {field} не должно быть пустым (см. §limits)"),
            Self::NameTooLong { field, chars, limit } => {
                format!("{field}: длина {chars} символов, предел {limit} (см. §limits)")
            }
            Self::TextTooLong { chars, limit } => {
                format!("текст сообщения: длина {chars} символов, предел {limit} (см. §limits)")
            }
            Self::BadRoomName { room } => {
                format!("имя комнаты {room:?} должно быть '#' и имя после него (см. §rooms)")
            }
            Self::BadCode { found } => {
                format!("код ответа {found} — не трёхзначное число (см. §codes)")
            }
        }
    }
}

/// A JSON type as [`crate::message::json_type`] names it ("an array"), in Russian.
fn json_type_ru(found: &str) -> &str {
    match found {
        "a boolean" => "логическое значение",
        "a number" => "число",
        "a string" => "строка",
        "an array" => "массив",
        "an object" => "объект",
        other => other,
    }
}

/// Why a run of bytes could not be decoded as a JSON value (PROTOCOL.md `§resync`).
///
/// After any of these the decoder goes on with the next bytes, except that the rest of an
/// oversize value is skipped first.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The bytes are UTF-8 but not valid JSON (for example a Python `repr` with single quotes).
    #[error("not valid JSON: {detail}; received {preview} (see §framing)")]
    Syntax {
        /// serde_json's description, with line and column.
        detail: String,
        /// The start of the offending bytes, escaped for display.
        preview: String,
        /// The offending bytes (at most the max message size).
        raw: Bytes,
    },
    /// The bytes are not valid UTF-8.
    #[error("not valid UTF-8 after byte {valid_up_to}; received {preview} (see §encoding)")]
    InvalidUtf8 {
        /// How many leading bytes were valid.
        valid_up_to: usize,
        /// The start of the offending bytes, escaped for display.
        preview: String,
        /// The offending bytes.
        raw: Bytes,
    },
    /// A value grew beyond the configured max message size; its bytes were discarded.
    #[error("message larger than {limit} bytes; the rest of it is discarded (see §limits)")]
    Oversize {
        /// The limit that was exceeded.
        limit: usize,
        /// The first bytes of the value, escaped for display.
        preview: String,
    },
    /// The stream ended in the middle of a value.
    #[error("connection closed in the middle of a message; received {preview} (see §framing)")]
    Truncated {
        /// The start of the incomplete value, escaped for display.
        preview: String,
        /// The incomplete bytes.
        raw: Bytes,
    },
}

impl FrameError {
    /// The response code a server should answer with (always 400).
    pub fn code(&self) -> ResponseCode {
        ResponseCode::BAD_REQUEST
    }

    /// The bytes that could not be decoded, where they were kept (not for oversize values).
    pub fn raw(&self) -> &[u8] {
        match self {
            Self::Syntax { raw, .. }
            | Self::InvalidUtf8 { raw, .. }
            | Self::Truncated { raw, .. } => raw,
            Self::Oversize { .. } => &[],
        }
    }

    /// The message in Russian (serde's detail, in English, is left out: the preview shows the
    /// bytes).
    pub fn text_ru(&self) -> String {
        match self {
            Self::Syntax { preview, .. } => format!("не JSON; получено {preview} (см. §framing)"),
            Self::InvalidUtf8 { valid_up_to, preview, .. } => {
                format!("не UTF-8 после байта {valid_up_to}; получено {preview} (см. §encoding)")
            }
            Self::Oversize { limit, .. } => {
                format!("сообщение длиннее предела ({limit} байт); остаток отброшен (см. §limits)")
            }
            Self::Truncated { preview, .. } => {
                format!("соединение закрыто посреди сообщения; получено {preview} (см. §framing)")
            }
        }
    }

    /// True when the error should end the connection (the server answers 400, then closes).
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Oversize { .. })
    }
}

/// How many bytes of a bad input [`preview`] shows.
pub const PREVIEW_BYTES: usize = 80;

/// A short, printable rendering of raw bytes for error messages: valid UTF-8 is shown as text with
/// control characters escaped, other bytes as `\xNN`; longer input is cut with `…`.
pub fn preview(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(PREVIEW_BYTES)];
    let mut out = String::with_capacity(cut.len() + 8);
    out.push('`');
    for chunk in cut.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '`' => out.push_str("\\`"),
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('`');
    if raw.len() > cut.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_escapes_and_cuts() {
        assert_eq!(preview(b"{\"a\":1}\n"), "`{\"a\":1}\\n`");
        assert_eq!(preview(b"ok\xff\xfe"), "`ok\\xff\\xfe`");
        let long = vec![b'x'; 200];
        let p = preview(&long);
        assert!(p.ends_with('…'));
        assert_eq!(p.chars().filter(|c| *c == 'x').count(), PREVIEW_BYTES);
    }

    #[test]
    fn errors_cite_a_section_and_map_to_400() {
        let e = ProtocolError::MissingField { field: "user.account_name", section: "presence" };
        assert_eq!(e.to_string(), "missing field user.account_name (see §presence)");
        assert_eq!(e.code(), ResponseCode::BAD_REQUEST);
        let f = FrameError::Oversize { limit: 10, preview: preview(b"{") };
        assert!(f.is_fatal());
        assert!(f.to_string().contains("§limits"));
        assert_eq!(e.text_ru(), "нет поля user.account_name (см. §presence)");
        let t = ProtocolError::WrongType {
            field: "user",
            expected: "an object",
            found: "a string",
            section: "presence",
        };
        assert_eq!(
            t.text_ru(),
            "поле user должно быть таким: объект, а пришло: строка (см. §presence)"
        );
    }
}
