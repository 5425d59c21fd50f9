//! The closed vocabularies of the runner: every set of names that fixtures, profiles, the
//! command line, the reports and the JSON Schemas share. Each is one enum with one name table
//! (written once, in the `vocabulary!` invocation below), so that:
//! - strings exist only at the edges: a fixture or profile is parsed into these enums, a report
//!   prints their names, and everything in between matches on variants;
//! - a typo in a fixture is a parse error that lists the names that exist;
//! - adding a name is adding a variant, and the compiler then points at every `match` that must
//!   say what the new name means (descriptions in [`crate::catalog`], messages in
//!   [`crate::i18n`], behaviour in the executor);
//! - `tests/it/schema.rs` checks the JSON Schemas in `fixtures/schema/` against these tables.

/// Declares a vocabulary: a fieldless enum, its name table, and the conversions every
/// vocabulary has (`ALL`, `name`, `parse`, `Display`, serde as the name).
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The name fixtures, profiles, reports and schemas use.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }

            /// The value with this name.
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $( $text => Some(Self::$variant), )+
                    _ => None,
                }
            }

            /// Every name, comma separated, for "use one of ..." messages.
            pub fn names() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown {} \"{text}\" (use one of: {})",
                        stringify!($name),
                        Self::names()
                    ))
                })
            }
        }
    };
}

pub(crate) use vocabulary;

/// Orders a vocabulary by its names, so that maps keyed by it print in the same order as the
/// string maps they replace.
macro_rules! ordered_by_name {
    ($($name:ident),+) => {$(
        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.as_str().cmp(other.as_str())
            }
        }
    )+};
}

vocabulary! {
    /// How much a failing case matters (PROTOCOL.md uses RFC 2119 words). Ordered from the
    /// most to the least important.
    #[derive(PartialOrd, Ord)]
    pub enum Level {
        /// A failure fails the run.
        Must = "must",
        /// A failure is a warning, or fails the run with `--strict`.
        Should = "should",
        /// Optional behaviour: reported, never fails the run.
        May = "may",
        /// Informational observation: reported, never fails the run.
        Info = "info",
    }
}

vocabulary! {
    /// A JIM dialect as fixtures name it (independent of `jim_protocol`'s types on purpose).
    #[derive(PartialOrd, Ord)]
    pub enum Dialect {
        /// The original JIM methodology (`msg`, `quit`, rooms, `add_contact`).
        Spec = "spec",
        /// The 2020+ course solution (`message`, `exit`, 511 login, `data_list`).
        Course = "course",
    }
}

vocabulary! {
    /// Which side of the conversation the runner plays in a fixture (the fixture's `role`).
    #[derive(Default)]
    pub enum Role {
        /// The runner is the client: the fixture judges a server (server mode, the default).
        #[default]
        Client = "client",
        /// The runner is the server: the fixture judges a client (client mode).
        Server = "server",
    }
}

vocabulary! {
    /// A named tolerance: a way real, conforming-enough student code differs from the reference
    /// reading of PROTOCOL.md that a profile may accept ([`crate::catalog`] describes each).
    pub enum Tolerance {
        /// `"response": "200"`.
        StringCode = "string-code",
        /// A reply without a usable `time`.
        NoTime = "no-time",
        /// Error text under `alert` or `message`.
        ErrorTextKey = "error-text-key",
        /// Another 4xx/5xx than the one the spec assigns.
        AnyErrorCode = "any-error-code",
        /// A 202 list in another key, or as quantity + N messages.
        ListShape = "list-shape",
        /// No 200 to the sender of a delivered message.
        NoMsgAck = "no-msg-ack",
        /// A room message relayed back to its sender.
        RoomEcho = "room-echo",
        /// The connection stays open after quit/exit.
        OpenAfterQuit = "open-after-quit",
        /// A response to quit/exit before the close.
        ReplyToQuit = "reply-to-quit",
        /// The connection closed on bad input instead of a 400.
        CloseOnBadInput = "close-on-bad-input",
        /// Keys JIM does not define in a reply.
        ExtraKeys = "extra-keys",
    }
}

vocabulary! {
    /// An optional capability a fixture may require (`requires`, `probe_for`, `--expect`).
    pub enum Capability {
        /// join, leave, msg to #room.
        Rooms = "rooms",
        /// get_contacts, add/remove.
        Contacts = "contacts",
        /// get_users (course).
        Users = "users",
        /// spec authenticate.
        Auth = "auth",
        /// the course 511 challenge.
        CourseLogin = "course-login",
        /// pubkey_need (course).
        Pubkey = "pubkey",
        /// 205 pushes (course).
        Push205 = "push-205",
        /// An account and its password (`--user/--password`).
        Credentials = "credentials",
        /// An account that exists but is offline (`--offline-user`).
        OfflineAccount = "offline-account",
    }
}

vocabulary! {
    /// What the run learned about a capability, as the report says it.
    pub enum CapabilityState {
        /// The probe passed, or the options provide it.
        Present = "present",
        /// The probe was answered "unknown action" (or, for passive features, nothing).
        Unimplemented = "unimplemented",
        /// It needs options that were not given.
        Unavailable = "unavailable",
        /// The probe failed for another reason.
        Failed = "failed",
        /// No case needed a probe.
        NotProbed = "not-probed",
    }
}

vocabulary! {
    /// When a capability probe counts as "unimplemented" rather than failed.
    #[derive(Default)]
    pub enum UnimplementedIf {
        /// The first request of the capability got "unknown action" or a bare 400.
        #[default]
        UnknownAction = "unknown-action",
        /// Nothing arrived where the capability's message was expected (passive features like
        /// the 205 push), or "unknown action".
        Silence = "silence",
    }
}

vocabulary! {
    /// The key that introduces a step's action in a fixture (one per step). The step kinds
    /// themselves are [`crate::step::ServerStep`] and [`crate::step::ClientStep`].
    pub enum StepKeyword {
        /// Open (or re-open) the connection.
        Connect = "connect",
        /// Send one JSON value.
        Send = "send",
        /// Send bytes as written.
        SendRaw = "send_raw",
        /// The next value must match a pattern.
        Expect = "expect",
        /// The next value must match one of several patterns.
        ExpectAny = "expect_any",
        /// The next value is a list response.
        ExpectList = "expect_list",
        /// Nothing may arrive.
        ExpectSilence = "expect_silence",
        /// The peer closes the connection.
        ExpectClose = "expect_close",
        /// End the connection from the runner's side.
        Disconnect = "disconnect",
        /// Client mode: feed `--stdin`, then close the client's stdin.
        CloseStdin = "close_stdin",
        /// Client mode: the client exits with a status.
        ExpectExit = "expect_exit",
        /// Client mode: answer unasked requests generically from now on.
        AutoAnswer = "auto_answer",
        /// Keep reading for a while without taking values out.
        ListenMs = "listen_ms",
        /// Skip values matching a pattern under a tolerance from now on.
        Tolerate = "tolerate",
        /// Client mode: wait until the client waits for its user (reads its stdin) or exits.
        AwaitInput = "await_input",
        /// Client mode: the client shows what it shows in another case for the reply alone.
        ExpectOutput = "expect_output",
    }
}

vocabulary! {
    /// The keys a step may carry besides its action.
    pub enum StepModifier {
        /// The connection the step acts on.
        Conn = "conn",
        /// A per-step timeout.
        TimeoutMs = "timeout_ms",
        /// expect: nothing arriving is accepted under a tolerance.
        OptionalUnder = "optional_under",
        /// expect: a close is accepted under a tolerance.
        CloseOkUnder = "close_ok_under",
        /// What the step checks, in both languages.
        Note = "note",
        /// Free text, ignored.
        Comment = "comment",
        /// send/send_raw: a delivery mode forced by the fixture.
        Delivery = "delivery",
        /// expect: the value arrived in one read, apart from the one before.
        OneWrite = "one_write",
    }
}

vocabulary! {
    /// How the bytes of one message are written.
    #[derive(Default)]
    pub enum Delivery {
        /// One write per message (the default).
        #[default]
        Whole = "whole",
        /// The message cut at a few sampled positions (including inside a multi-byte UTF-8
        /// character when there is one), each piece its own write with a short pause.
        Split = "split",
        /// One byte per write, with a short pause between bytes.
        Trickle = "trickle",
    }
}

vocabulary! {
    /// How a `disconnect` step ends a connection.
    pub enum DisconnectKind {
        /// An orderly close (FIN).
        Close = "close",
        /// An abrupt reset (RST, `SO_LINGER` 0).
        Reset = "reset",
        /// Shut down the sending side only; keep reading.
        ShutdownWrite = "shutdown_write",
    }
}

vocabulary! {
    /// Why bytes from a peer are not a JSON value (`jim_protocol`'s frame errors, named).
    pub enum FrameProblem {
        /// Not JSON (plain text, Python `repr`, broken syntax).
        NotJson = "not JSON",
        /// Not UTF-8.
        NotUtf8 = "not UTF-8",
        /// Longer than the runner's limit.
        Oversize = "oversize",
        /// The connection ended in the middle of a value.
        Truncated = "truncated",
    }
}

vocabulary! {
    /// Which way a line of a case transcript went.
    pub enum Direction {
        /// The runner sent it.
        Sent = ">",
        /// The runner received it.
        Received = "<",
        /// Something happened (a connect, a close, a pause).
        Event = "*",
    }
}

vocabulary! {
    /// The verdict on one case.
    #[derive(PartialOrd, Ord)]
    pub enum Verdict {
        /// Every step held without any tolerance.
        Pass = "pass",
        /// Every step held, but only thanks to the tolerances named in the result.
        PassLenient = "pass-lenient",
        /// A step did not hold.
        Fail = "fail",
        /// The target does not implement an optional capability the case requires.
        Unimplemented = "unimplemented",
        /// Not run (the reason says why: missing credentials, wrong dialect, deadline ...).
        Skip = "skip",
        /// Failed, as `--known-failures` said it would.
        ExpectedFail = "expected-fail",
        /// Passed although `--known-failures` said it fails: update the list.
        UnexpectedPass = "unexpected-pass",
        /// The target could not be reached or died.
        Error = "error",
        /// Not run because the target went down (died or stopped answering) in an earlier
        /// case that the report names, and the runner cannot restart it (host mode); or
        /// because `--deadline` was reached before the case ran or while it ran.
        NotRun = "not-run",
    }
}

impl Verdict {
    /// True for pass and pass-lenient.
    pub fn passed(self) -> bool {
        matches!(self, Self::Pass | Self::PassLenient)
    }
}

vocabulary! {
    /// How a case's verdict affects the run.
    pub enum Impact {
        /// No effect.
        None = "none",
        /// A warning (a `should` failure without `--strict`, a `may`/`info` failure).
        Warning = "warning",
        /// Fails the run.
        Failure = "failure",
    }
}

vocabulary! {
    /// What the liveness check after a destructive case found.
    pub enum LivenessState {
        /// A new client got an answer to its presence.
        Survived = "survived",
        /// The process exited, or nobody listens any more (connection refused).
        Died = "died",
        /// New connections are accepted but never answered (or closed without an answer).
        Zombie = "zombie",
        /// The check did not run (the case was skipped, or the deadline passed).
        NotChecked = "not-checked",
    }
}

vocabulary! {
    /// What kind of target a run judges, as the report names it.
    pub enum TargetKind {
        /// A server somebody else started (`--host/--port`).
        Address = "address",
        /// A server command the runner starts (`--spawn`).
        Spawn = "spawn",
        /// The reference server inside the runner.
        Embedded = "embedded",
        /// A client command the runner starts once per case (client mode).
        Client = "client",
    }
}

vocabulary! {
    /// The dialect the preflight (or a client's first message) showed.
    #[derive(Default)]
    pub enum DetectedDialect {
        /// Spec replies.
        Spec = "spec",
        /// Course replies.
        Course = "course",
        /// Both (the server renders per connection).
        Both = "spec+course",
        /// Could not tell.
        #[default]
        Unknown = "unknown",
    }
}

vocabulary! {
    /// How the peer ends the values it writes, as far as the first contact showed.
    #[derive(Default)]
    pub enum DetectedFraming {
        /// A newline after each value.
        Newline = "newline",
        /// Nothing after a value.
        Bare = "bare",
        /// Nothing arrived to tell.
        #[default]
        Unknown = "unknown",
    }
}

vocabulary! {
    /// A placeholder kind (`$kind` or `$kind:arg`) that fixtures may use in `send`, `send_raw`
    /// and patterns ([`crate::catalog`] describes each).
    pub enum Placeholder {
        /// The current Unix time.
        Now = "now",
        /// The lesson-3 name.
        Name = "name",
        /// A unique user name per run and case.
        User = "user",
        /// A unique room name.
        Room = "room",
        /// `--user`.
        Account = "account",
        /// `--password`.
        Password = "password",
        /// `--offline-user`.
        OfflineAccount = "offline_account",
        /// N ASCII characters.
        Text = "text",
        /// N non-ASCII characters.
        Utext = "utext",
        /// A value captured earlier in the case.
        Capture = "capture",
        /// The course 511 answer.
        CourseAnswer = "course_answer",
        /// A sample RSA public key.
        Pubkey = "pubkey",
        /// A token unique to this run and case.
        Unique = "unique",
    }
}

vocabulary! {
    /// A string operator: a pattern string equal to one of these matches by type.
    pub enum StringOperator {
        /// Any value (the key must be present).
        Any = "$any",
        /// Any number.
        Number = "$number",
        /// An integer.
        Int = "$int",
        /// Any string.
        String = "$string",
        /// A non-empty string.
        Nonempty = "$nonempty",
        /// A usable time.
        Time = "$time",
        /// A usable time close to the runner's clock.
        Recent = "$recent",
        /// Any object.
        Object = "$object",
        /// Any array.
        Array = "$array",
        /// true or false.
        Bool = "$bool",
        /// (as an object value) the key must be absent.
        Absent = "$absent",
    }
}

vocabulary! {
    /// An object operator: a pattern object whose keys all start with `$`.
    pub enum ObjectOperator {
        /// Equal to one of the listed values.
        In = "$in",
        /// A string matching a regular expression.
        Regex = "$regex",
        /// The key may be absent.
        Optional = "$optional",
        /// Must not match.
        Not = "$not",
        /// Must match one of the patterns.
        AnyOf = "$anyof",
        /// An array with an element matching each pattern.
        Contains = "$contains",
        /// A length in a range.
        Len = "$len",
        /// A number in a range.
        Range = "$range",
        /// This literal, with no tolerance.
        Exact = "$exact",
        /// Matches anything present and remembers it.
        Capture = "$capture",
    }
}

ordered_by_name!(Tolerance, Capability);

/// Names of vocabulary values (or anything printable), joined with `", "`.
pub fn join<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_round_trip_and_serialize_as_names() {
        for t in Tolerance::ALL {
            assert_eq!(Tolerance::parse(t.as_str()), Some(*t));
        }
        assert_eq!(serde_json::to_string(&FrameProblem::NotJson).unwrap(), "\"not JSON\"");
        assert_eq!(serde_json::from_str::<Level>("\"should\"").unwrap(), Level::Should);
        let e = serde_json::from_str::<Tolerance>("\"string_code\"").unwrap_err().to_string();
        assert!(
            e.contains("unknown Tolerance \"string_code\"") && e.contains("string-code"),
            "{e}"
        );
    }

    #[test]
    fn maps_keyed_by_a_vocabulary_keep_the_name_order() {
        let mut names: Vec<&str> = Tolerance::ALL.iter().map(|t| t.as_str()).collect();
        names.sort_unstable();
        let mut sorted = Tolerance::ALL.to_vec();
        sorted.sort();
        assert_eq!(sorted.iter().map(|t| t.as_str()).collect::<Vec<_>>(), names);
        assert!(Level::Must < Level::Info, "levels sort from the most important");
    }
}
