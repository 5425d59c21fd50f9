//! Size limits of the protocol, in one place (PROTOCOL.md `§limits`).

/// The conventional JIM port.
pub const DEFAULT_PORT: u16 = 7777;

/// Longest account or room name, in characters (a room name counts its leading `#`).
pub const MAX_NAME_CHARS: usize = 25;

/// Longest message text, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// Longest action name, in characters.
pub const MAX_ACTION_CHARS: usize = 15;

/// The original specification's cap on a whole message, in characters. Real presences with a
/// public key come close to it; the reference server accepts more (see
/// [`DEFAULT_MAX_MESSAGE_BYTES`]).
pub const SPEC_MESSAGE_CHARS: usize = 640;

/// Default bound on one encoded message, in bytes: a larger value is reported as oversize.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Budget for the names of one 202 list response, as encoded on the wire (each name
/// JSON-escaped, plus one separator): the rest of the response fits in the 256 bytes left, so a
/// list response never exceeds [`DEFAULT_MAX_MESSAGE_BYTES`], which every reader in this project
/// accepts. Measure a name with [`crate::codec::encoded_len`].
pub const MAX_LIST_BYTES: usize = DEFAULT_MAX_MESSAGE_BYTES - 256;
