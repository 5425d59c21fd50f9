//! One client's protocol state, and the order in which each decoded item is checked
//! (PROTOCOL.md `§errors`, "Order of checks") before the command modules in [`crate::cmd`]
//! apply it.
//!
//! A [`Session`] is owned by its connection's reader; nothing else touches it. What other
//! connections need to know (name, dialect, queue) lives in the registry as a
//! [`crate::state::Peer`].

use std::collections::BTreeSet;
use std::sync::Arc;

use jim_protocol::codec::parse_raw;
use jim_protocol::message::KNOWN_ACTIONS;
use jim_protocol::{Dialect, FrameError, Message, ProtocolError, Response, ResponseCode, parse};
use serde_json::Value;

use crate::cmd;
use crate::misbehave::Misbehave;
use crate::state::{ConnId, Outbox, Shared};

/// What the connection does after an item was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Read the next item.
    Continue,
    /// Flush what is queued and close (quit, oversize, failed login, overflow).
    Close,
}

/// Where the session is in logging in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Login {
    /// No successful presence yet; `authenticated` is the name of a successful `authenticate`.
    Anonymous {
        /// Name accepted by `authenticate`, which the presence must use.
        authenticated: Option<String>,
    },
    /// A course 511 challenge was sent and awaits its answer.
    Challenged {
        /// The name the presence asked for.
        name: String,
        /// The 128 hex characters sent.
        challenge: String,
        /// The presence's public key, stored on success.
        pubkey: Option<String>,
    },
    /// Logged in under this name.
    Named(String),
}

/// Actions allowed before a successful presence (`§errors` check 6).
const BEFORE_LOGIN: [&str; 5] = ["presence", "authenticate", "quit", "exit", "Exit"];

/// One client's protocol state (see the module docs).
#[derive(Debug)]
pub(crate) struct Session {
    /// Server-wide state.
    pub shared: Arc<Shared>,
    /// This connection.
    pub conn: ConnId,
    /// This connection's outbound queue.
    pub outbox: Arc<Outbox>,
    /// The current dialect (`§dialect-detection`).
    pub dialect: Dialect,
    /// Login progress.
    pub login: Login,
    /// Rooms this session is in.
    pub rooms: BTreeSet<String>,
    /// The outbox mark taken before handling the current item (see [`Outbox::push_own`]).
    mark: u64,
    /// Wrong passwords sent on this connection (`§authenticate`).
    pub failed_logins: u32,
}

impl Session {
    /// A fresh, anonymous session.
    pub fn new(shared: Arc<Shared>, conn: ConnId, outbox: Arc<Outbox>) -> Self {
        Self {
            shared,
            conn,
            outbox,
            dialect: Dialect::Spec,
            login: Login::Anonymous { authenticated: None },
            rooms: BTreeSet::new(),
            mark: 0,
            failed_logins: 0,
        }
    }

    /// The session name after a successful presence.
    pub fn name(&self) -> Option<&str> {
        match &self.login {
            Login::Named(name) => Some(name),
            _ => None,
        }
    }

    /// Queues a message rendered in this session's dialect, encoded as it goes on the wire (its
    /// task flushes as it goes, see [`crate::state::Outbox`]).
    pub fn send(&mut self, message: &Message) {
        let bytes = self.shared.wire.message(message, self.dialect);
        self.push(bytes);
    }

    /// Queues bytes already encoded for this connection.
    pub fn push(&mut self, bytes: bytes::Bytes) {
        self.outbox.push_own(bytes, self.mark, &self.shared.stats);
    }

    /// Queues a response.
    pub fn respond(&mut self, response: Response) {
        if response.code() == ResponseCode::BAD_REQUEST
            && self.shared.misbehaves(Misbehave::SilentErrors)
        {
            return;
        }
        self.send(&Message::Response(response));
    }

    /// Queues `200 OK` (written straight to bytes on the correct path: the reply to every
    /// message and presence should cost no allocation beyond its bytes).
    pub fn ok(&mut self) {
        let bytes = self.shared.wire.ok(self.dialect);
        self.push(bytes);
    }

    /// Queues an error response with `text` (which should cite a section).
    pub fn error(&mut self, code: ResponseCode, text: impl Into<String>) {
        self.respond(Response::with_text(code, text));
    }

    /// Queues the 400 for a protocol error; `crash-on-missing-field` exits here.
    pub fn protocol_error(&mut self, err: &ProtocolError) {
        if matches!(err, ProtocolError::MissingField { .. })
            && self.shared.misbehaves(Misbehave::CrashOnMissingField)
        {
            let why = self.shared.config.lang.either(err.to_string(), err.text_ru());
            self.shared.crash(format!("KeyError: {why}"));
            return;
        }
        self.error(err.code(), err.to_string());
    }

    /// Switches dialect, keeping the registry's copy in step.
    fn set_dialect(&mut self, dialect: Dialect) {
        if dialect == self.dialect {
            return;
        }
        self.dialect = dialect;
        if let Login::Named(name) = &self.login {
            let mut reg = self.shared.registry();
            if let Some(peer) = reg.sessions.get_mut(name)
                && peer.conn == self.conn
            {
                peer.dialect = dialect;
            }
        }
    }

    /// Handles one raw value from the decoder (or its framing error).
    pub async fn handle_raw(&mut self, raw: Result<bytes::Bytes, FrameError>) -> Flow {
        self.handle_item(raw.and_then(parse_raw)).await
    }

    /// Handles one decoded item, in the order of checks of `§errors`.
    pub async fn handle_item(&mut self, item: Result<Value, FrameError>) -> Flow {
        self.mark = self.outbox.mark();
        self.shared.stats.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // The checks are synchronous, so that the JSON value is gone before anything waits:
        // the connection boxes this future for every request, and a small one is cheap.
        match self.check(item) {
            Next::Done(flow) => flow,
            Next::Apply(message) => self.apply(message).await,
            // Boxed: rare, and its future (PBKDF2 off the workers, then the login) is large.
            Next::AnswerChallenge(bin) => Box::pin(cmd::auth::challenge_answer(self, bin)).await,
        }
    }

    /// Checks 1 to 7 of `§errors` on one item: answers it, or says what to do next.
    fn check(&mut self, item: Result<Value, FrameError>) -> Next {
        // 1. framing errors
        let value = match item {
            Ok(value) => value,
            Err(err) => return Next::Done(self.frame_error(&err)),
        };
        // 2. not an object
        let Value::Object(obj) = &value else {
            let err =
                ProtocolError::NotAnObject { found: jim_protocol::message::json_type(&value) };
            self.protocol_error(&err);
            return Next::Done(Flow::Continue);
        };
        let verdict = self.verdict(&value, obj);
        // The one shared rule of `§dialect-detection`, applied before anything is answered
        // (`parse` has already read it for a valid command: it is not computed twice).
        let dialect = match &verdict {
            Verdict::Apply(parsed) => parsed.dialect,
            _ => jim_protocol::message::reveal_dialect(obj),
        };
        if let Some(dialect) = dialect {
            self.set_dialect(dialect);
        }
        match verdict {
            Verdict::ClientResponse => self.client_response(&value),
            Verdict::Invalid(err) => {
                self.protocol_error(&err);
                Next::Done(Flow::Continue)
            }
            Verdict::NotLoggedIn(text) => {
                self.error(ResponseCode::UNAUTHORIZED, text);
                Next::Done(Flow::Continue)
            }
            Verdict::Nothing => Next::Done(Flow::Continue),
            // 8. the command itself
            Verdict::Apply(parsed) => Next::Apply(parsed.message),
        }
    }

    /// Checks 3 to 7 of `§errors` on an object, answering nothing yet.
    fn verdict(&self, value: &Value, obj: &serde_json::Map<String, Value>) -> Verdict {
        let action = obj.get("action");
        // 3. responses from the client
        let response_like = match action {
            None | Some(Value::Null) => true,
            Some(Value::String(a)) => a == "response",
            Some(_) => false,
        };
        if response_like && obj.contains_key("response") {
            return Verdict::ClientResponse;
        }
        // 4. no string action (parse names the problem)
        let Some(action) = action.and_then(Value::as_str) else {
            return match parse(value) {
                Err(err) => Verdict::Invalid(err),
                Ok(_) => Verdict::Nothing,
            };
        };
        // 5. unknown action, spelled exactly
        if !KNOWN_ACTIONS.contains(&action) || matches!(action, "probe" | "contact_list") {
            let action = action.chars().take(40).collect();
            return Verdict::Invalid(ProtocolError::UnknownAction { action });
        }
        // 6. not logged in
        if self.name().is_none() && !BEFORE_LOGIN.contains(&action) {
            return Verdict::NotLoggedIn(match self.login {
                Login::Challenged { .. } => "answer the 511 challenge first (see §course-login)",
                _ => "send presence first (see §presence)",
            });
        }
        // 7. fields
        match parse(value) {
            Ok(parsed) => Verdict::Apply(parsed),
            Err(err) => Verdict::Invalid(err),
        }
    }

    async fn apply(&mut self, message: Message) -> Flow {
        match message {
            Message::Presence(p) => cmd::presence::apply(self, p).await,
            // Boxed: rare, and it may wait for its turn (`§authenticate`: password guessing).
            Message::Authenticate(a) => Box::pin(cmd::auth::authenticate(self, a)).await,
            Message::Chat(c) => cmd::chat::apply(self, c).await,
            Message::Quit(_) => cmd::quit::apply(self),
            Message::Join(r) => cmd::rooms::join(self, r),
            Message::Leave(r) => cmd::rooms::leave(self, r),
            Message::GetContacts(_) => cmd::contacts::get(self),
            // Boxed, like every rarely used command that waits (for the database).
            Message::AddContact(c) => Box::pin(cmd::contacts::add(self, c)).await,
            Message::DelContact(c) => Box::pin(cmd::contacts::del(self, c)).await,
            Message::GetUsers(_) => cmd::users::get_users(self),
            Message::PubkeyNeed(p) => cmd::users::pubkey_need(self, p),
            // Filtered out before: probe and contact_list are unknown actions from a client,
            // responses were handled in check 3.
            Message::Probe(_) | Message::ContactList(_) | Message::Response(_) => Flow::Continue,
        }
    }

    fn frame_error(&mut self, err: &FrameError) -> Flow {
        match err {
            FrameError::Truncated { .. } => Flow::Close,
            FrameError::Syntax { .. } | FrameError::InvalidUtf8 { .. }
                if self.shared.misbehaves(Misbehave::CrashOnMalformed) =>
            {
                let why = self.shared.config.lang.either(err.to_string(), err.text_ru());
                self.shared.crash(format!("JSONDecodeError: {why}"));
                Flow::Close
            }
            _ => {
                self.error(err.code(), err.to_string());
                if err.is_fatal() { Flow::Close } else { Flow::Continue }
            }
        }
    }

    /// A response object from the client: only the 511 answer means something.
    fn client_response(&mut self, value: &Value) -> Next {
        let is_511 = value
            .get("response")
            .and_then(|c| jim_protocol::message::read_code(c).ok())
            .is_some_and(|c| c == ResponseCode::AUTH_CHALLENGE);
        if is_511 && matches!(self.login, Login::Challenged { .. }) {
            let bin = value.get("bin").and_then(Value::as_str).map(str::to_owned);
            return Next::AnswerChallenge(bin);
        }
        Next::Done(Flow::Continue)
    }
}

/// What checks 3 to 7 of `§errors` found (see [`Session::verdict`]).
enum Verdict {
    /// A response object from the client.
    ClientResponse,
    /// Answer with this error.
    Invalid(ProtocolError),
    /// Answer 401 with this text.
    NotLoggedIn(&'static str),
    /// Nothing to answer.
    Nothing,
    /// A valid command.
    Apply(jim_protocol::message::Parsed),
}

/// What [`Session::check`] decided about an item.
enum Next {
    /// Answered (or ignored); the connection goes on as the flow says.
    Done(Flow),
    /// A valid command to apply.
    Apply(Message),
    /// The answer to the pending 511 challenge, with its `bin`.
    AnswerChallenge(Option<String>),
}
