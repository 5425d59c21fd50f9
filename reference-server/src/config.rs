//! What the server can be told: limits, framing, accounts, persistence, probes and deliberate
//! defects. Every field has a sensible default, so `Config::default()` is a correct open-mode
//! server on the protocol's defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jim_protocol::Framing;
use jim_protocol::limits::DEFAULT_MAX_MESSAGE_BYTES;

use crate::misbehave::Misbehave;

/// Default cap on simultaneous connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_000;

/// Default idle timeout: a connection that sends nothing for this long is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Default bound on the bytes waiting for one connection: a client further behind than this is
/// disconnected (a reader that keeps up with the load check's largest window stays far below).
pub const DEFAULT_OUTBOUND_QUEUE_BYTES: usize = 8 * 1024 * 1024;

/// Default time a connection with bytes waiting may go without taking any of them before it is
/// disconnected: a client that is behind but reading is never kicked for being behind.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time a message may take from its first byte to its last (slow-loris bound).
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Default cap on rooms that exist at once.
pub const DEFAULT_MAX_ROOMS: usize = 10_000;

/// Default cap on contact-list entries kept at once, all owners together.
pub const DEFAULT_MAX_CONTACTS: usize = 100_000;

/// How long a closing connection may take to flush what was already queued for it.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Server configuration. Build it with struct update syntax:
/// `Config { max_connections: 10, ..Config::default() }`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest accepted JSON value in bytes; a larger one gets 400 and the connection is closed.
    pub max_message_bytes: usize,
    /// Most simultaneous connections; one more is accepted and closed at once.
    pub max_connections: usize,
    /// Close a connection that sends nothing for this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// How each written JSON value ends on the wire (newline by default).
    pub framing: Framing,
    /// A `name:password` file that switches on accounts mode (`§authenticate`). Read by
    /// [`crate::run`] when [`Config::accounts`] is `None`.
    pub users: Option<PathBuf>,
    /// Accounts given directly (takes precedence over [`Config::users`]).
    pub accounts: Option<Accounts>,
    /// SQLite file that keeps users, contacts and message history across runs.
    pub db: Option<PathBuf>,
    /// Send a probe to every logged-in session this often (`None`: only on request).
    pub probe_interval: Option<Duration>,
    /// Bound on the bytes waiting for one connection (values from other sessions beyond it
    /// disconnect it, so that it cannot stall anyone or hold unbounded memory).
    pub outbound_queue_bytes: usize,
    /// A connection with bytes waiting that takes none of them for this long is disconnected.
    pub stall_timeout: Duration,
    /// A message must be complete this long after its first byte arrived, or the connection is
    /// closed (`None`: no bound; only the idle timeout applies).
    pub message_timeout: Option<Duration>,
    /// Most rooms that exist at once; joining one more new room gets 400.
    pub max_rooms: usize,
    /// Most contact-list entries, all owners together; adding one more gets 400.
    pub max_contacts: usize,
    /// Password attempts per account (`§authenticate`, `§course-login`): how many may come at
    /// once, and how often one more is let through after that.
    pub login_rate: LoginRate,
    /// How long a closing connection may take to flush its queue (quit, EOF, shutdown).
    pub flush_timeout: Duration,
    /// Deliberate defects for testing clients and the conformance suite (empty: correct server).
    pub misbehave: Vec<Misbehave>,
    /// A fixed course-login challenge (128 hex characters) instead of fresh random bytes, so
    /// tests can use known answers. Never set this on a real server.
    pub fixed_challenge: Option<String>,
    /// The language of the operator's log lines (`jim-server --lang`); English by default.
    pub lang: jim_text::Lang,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            framing: Framing::Newline,
            users: None,
            accounts: None,
            db: None,
            probe_interval: None,
            outbound_queue_bytes: DEFAULT_OUTBOUND_QUEUE_BYTES,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            message_timeout: Some(DEFAULT_MESSAGE_TIMEOUT),
            max_rooms: DEFAULT_MAX_ROOMS,
            max_contacts: DEFAULT_MAX_CONTACTS,
            login_rate: LoginRate::default(),
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            misbehave: Vec::new(),
            fixed_challenge: None,
            lang: jim_text::Lang::En,
        }
    }
}

/// How fast passwords may be tried against one account (a token bucket: `burst` attempts at
/// once, then one per `every`). An attempt beyond it waits for its turn, at most `max_wait`;
/// later than that it is refused (402) and the connection closed. A successful login gives its
/// turn back, so only wrong passwords use the budget up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRate {
    /// Attempts let through at once.
    pub burst: u32,
    /// One more attempt per this much time.
    pub every: Duration,
    /// Longest an attempt waits for its turn.
    pub max_wait: Duration,
    /// Wrong passwords one connection may send (`authenticate`); the last gets 402 and closes.
    pub per_connection: u32,
}

impl Default for LoginRate {
    fn default() -> Self {
        Self {
            burst: 10,
            every: Duration::from_millis(500),
            max_wait: Duration::from_secs(5),
            per_connection: 3,
        }
    }
}

/// Password accounts (accounts mode): name to clear-text password, as in a `--users` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    passwords: BTreeMap<String, String>,
}

/// Why a users file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// The file could not be read.
    #[error("cannot read users file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not `name:password` or the name breaks the name rules of `§limits`.
    #[error("users file line {line}: {problem} (expected `name:password`, see §authenticate)")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },
}

/// What is wrong with a line of a users file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// No `:` between name and password.
    #[error("no ':' between name and password")]
    NoColon,
    /// Nothing before the `:`.
    #[error("empty name")]
    EmptyName,
    /// More than 25 characters.
    #[error("name longer than 25 characters")]
    TooLong,
    /// A name cannot start with `#` (that is a room).
    #[error("name starts with '#'")]
    RoomName,
}

impl jim_text::Localized for AccountsError {
    fn text(&self, lang: jim_text::Lang) -> String {
        use jim_text::Lang::{En, Ru};
        match (self, lang) {
            (Self::Read { .. } | Self::Line { .. }, En) => self.to_string(),
            (Self::Read { path, source }, Ru) => {
                format!(
                    "не удаётся прочитать файл пользователей {}: {}",
                    path.display(),
                    jim_text::io_error(source, Ru)
                )
            }
            (Self::Line { line, problem }, Ru) => {
                let problem = match problem {
                    LineProblem::NoColon => "нет ':' между именем и паролем",
                    LineProblem::EmptyName => "пустое имя",
                    LineProblem::TooLong => "имя длиннее 25 символов",
                    LineProblem::RoomName => "имя начинается с '#'",
                };
                format!(
                    "файл пользователей, строка {line}: {problem} (нужно `имя:пароль`, см. §authenticate)"
                )
            }
        }
    }
}

impl Accounts {
    /// Accounts from `(name, password)` pairs.
    pub fn from_pairs<N: Into<String>, P: Into<String>>(
        pairs: impl IntoIterator<Item = (N, P)>,
    ) -> Self {
        Self { passwords: pairs.into_iter().map(|(n, p)| (n.into(), p.into())).collect() }
    }

    /// Parses a users file: `name:password` lines (the password is everything after the first
    /// `:`), blank lines and lines starting with `#` ignored.
    pub fn parse(text: &str) -> Result<Self, AccountsError> {
        let mut passwords = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let bad = |problem| AccountsError::Line { line: i + 1, problem };
            let Some((name, password)) = line.split_once(':') else {
                return Err(bad(LineProblem::NoColon));
            };
            let name = name.trim();
            let chars = name.chars().count();
            if chars == 0 {
                return Err(bad(LineProblem::EmptyName));
            }
            if chars > jim_protocol::limits::MAX_NAME_CHARS {
                return Err(bad(LineProblem::TooLong));
            }
            if name.starts_with('#') {
                return Err(bad(LineProblem::RoomName));
            }
            passwords.insert(name.to_owned(), password.to_owned());
        }
        Ok(Self { passwords })
    }

    /// Reads and parses a users file.
    pub fn from_file(path: &Path) -> Result<Self, AccountsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| AccountsError::Read { path: path.to_owned(), source })?;
        Self::parse(&text)
    }

    /// The password of `name`, if that account exists.
    pub fn password(&self, name: &str) -> Option<&str> {
        self.passwords.get(name).map(String::as_str)
    }

    /// Account names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.passwords.keys().map(String::as_str)
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.passwords.len()
    }

    /// True when there are no accounts.
    pub fn is_empty(&self) -> bool {
        self.passwords.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn users_file_parses_comments_and_colons() {
        let a = Accounts::parse("# accounts\n\nAlice:secret\nBob:a:b\r\n").unwrap();
        assert_eq!(a.password("Alice"), Some("secret"));
        assert_eq!(a.password("Bob"), Some("a:b"));
        assert_eq!(a.len(), 2);
        assert!(Accounts::parse("nocolon\n").is_err());
        assert!(Accounts::parse(":pw\n").is_err());
        assert!(Accounts::parse("#room:pw\n").is_ok(), "a comment line");
        assert!(Accounts::parse(" #x:pw\n").is_ok(), "also a comment");
    }
}
