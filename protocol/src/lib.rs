//! `jim-protocol`: everything about JIM (JSON Instant Messaging) that a server, a client and a
//! referee share.
//!
//! - [`message`]: typed messages of both dialects (spec and course), read tolerantly and written
//!   canonically, with validation that names what is wrong;
//! - [`codes`]: the response code table;
//! - [`codec`]: the stream decoder/encoder (a tokio-util codec) that survives split, coalesced,
//!   trickled, malformed and oversize input;
//! - [`course_login`]: the course dialect's 511 challenge/answer;
//! - [`limits`]: name, text and message size limits;
//! - [`scan`]: the word-at-a-time string searches every reader and writer shares;
//! - [`terminal`]: peer text made safe to print ([`terminal::terminal_safe`]).
//!
//! Section ids like `§framing` refer to PROTOCOL.md at the repository root, our spec of record.

pub mod codec;
pub mod codes;
pub mod course_login;
pub mod error;
pub mod limits;
pub mod message;
pub mod scan;
pub mod terminal;

pub use codec::{FrameDecoder, Framing, JsonCodec};
pub use codes::ResponseCode;
pub use error::{FrameError, ProtocolError};
pub use message::{
    Authenticate, Chat, ContactChange, ContactListItem, Dialect, GetContacts, GetUsers, Message,
    Parsed, Presence, Probe, PubkeyNeed, Quit, Response, ResponseCodeField, RoomRequest, Target,
    Timestamp, detect_dialect, parse, reveal_dialect,
};
