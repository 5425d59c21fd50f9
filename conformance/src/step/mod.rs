//! The steps of a fixture: one module per step kind, each with its parsing and its execution
//! together (as mini-redis keeps parse and apply per command), and two role-typed enums that say
//! which kinds a role may use:
//! - [`ServerStep`]: server mode (`jim-conformance server`), the runner plays the client(s);
//! - [`ClientStep`]: client mode (`jim-conformance client`), the runner plays the server.
//!
//! A fixture's steps parse into one of the two, so a step a role does not allow is a parse
//! error, and the executor ([`crate::case`]) runs them without a catch-all arm: adding a step
//! kind means a variant here, a module, its keyword in [`StepKeyword`] (with its modifiers in
//! [`modifiers`]) and its entry in `fixtures/schema/fixture.schema.json`; the compiler points
//! at every `match` that must handle it, and `tests/it/schema.rs` at the schema.

use serde_json::{Map, Value};

use crate::case::{At, Case};
use crate::case::{client::ClientSide, server::ServerSide};
use crate::i18n::Said;
use crate::placeholders::Mode;
use crate::vocab::{Delivery, StepKeyword, StepModifier, Tolerance};

pub mod auto_answer;
pub mod await_input;
pub mod close_stdin;
pub mod connect;
pub mod disconnect;
pub mod expect;
pub mod expect_close;
pub mod expect_exit;
pub mod expect_list;
pub mod expect_output;
pub mod expect_silence;
pub mod listen;
pub mod send;
pub mod tolerate;

pub use auto_answer::AutoAnswer;
pub use await_input::AwaitInput;
pub use close_stdin::CloseStdin;
pub use connect::Connect;
pub use disconnect::Disconnect;
pub use expect::Expect;
pub use expect_close::ExpectClose;
pub use expect_exit::{ExitCode, ExpectExit};
pub use expect_list::ExpectList;
pub use expect_output::ExpectOutput;
pub use expect_silence::{ExpectSilence, SilenceFor};
pub use listen::Listen;
pub use send::{Payload, Send};
pub use tolerate::Tolerate;

pub use crate::case::StepResult;

/// The modifiers a step introduced by `keyword` may carry besides `conn`, `timeout_ms`,
/// `note` and `comment` (which every step may carry). The parser rejects any other key, and
/// `tests/it/schema.rs` checks the schema against this table.
pub fn modifiers(keyword: StepKeyword) -> &'static [StepModifier] {
    const COMMON: &[StepModifier] =
        &[StepModifier::Conn, StepModifier::TimeoutMs, StepModifier::Note, StepModifier::Comment];
    const SEND: &[StepModifier] = &[
        StepModifier::Conn,
        StepModifier::TimeoutMs,
        StepModifier::Note,
        StepModifier::Comment,
        StepModifier::Delivery,
    ];
    const EXPECT: &[StepModifier] = &[
        StepModifier::Conn,
        StepModifier::TimeoutMs,
        StepModifier::Note,
        StepModifier::Comment,
        StepModifier::OptionalUnder,
        StepModifier::CloseOkUnder,
        StepModifier::OneWrite,
    ];
    match keyword {
        StepKeyword::Send | StepKeyword::SendRaw => SEND,
        StepKeyword::Expect | StepKeyword::ExpectAny => EXPECT,
        StepKeyword::Connect
        | StepKeyword::ExpectList
        | StepKeyword::ExpectSilence
        | StepKeyword::ExpectClose
        | StepKeyword::Disconnect
        | StepKeyword::CloseStdin
        | StepKeyword::ExpectExit
        | StepKeyword::AutoAnswer
        | StepKeyword::AwaitInput
        | StepKeyword::ExpectOutput
        | StepKeyword::ListenMs
        | StepKeyword::Tolerate => COMMON,
    }
}

/// One step object of a fixture while it is parsed: its action and its modifiers.
#[derive(Debug)]
pub struct Body<'a> {
    /// The action key.
    pub keyword: StepKeyword,
    /// The action's value.
    pub value: &'a Value,
    object: &'a Map<String, Value>,
    at: usize,
}

impl<'a> Body<'a> {
    pub(crate) fn new(
        keyword: StepKeyword,
        object: &'a Map<String, Value>,
        number: usize,
    ) -> Result<Self, Said> {
        let at = number;
        let allowed = modifiers(keyword);
        for key in object.keys() {
            match StepModifier::parse(key) {
                Some(m) if !allowed.contains(&m) => {
                    return Err(Said::new(
                        format!("step {at}: \"{key}\" does not apply to {keyword}"),
                        format!("шаг {at}: \"{key}\" не относится к {keyword}"),
                    ));
                }
                _ => {}
            }
        }
        let value = object.get(keyword.as_str()).unwrap_or(&Value::Null);
        Ok(Self { keyword, value, object, at })
    }

    /// "step N: message" (a message without its Russian stays English: a fixture author's).
    pub fn error(&self, message: impl Into<Said>) -> Said {
        let at = self.at;
        message.into().prefixed(&format!("step {at}: "), &format!("шаг {at}: "))
    }

    /// For actions written `"KEY": true`.
    pub fn expect_true(&self) -> Result<(), Said> {
        if self.value == &Value::Bool(true) {
            Ok(())
        } else {
            let k = self.keyword;
            Err(self.error(Said::new(
                format!("\"{k}\" takes the value true"),
                format!("\"{k}\" принимает только значение true"),
            )))
        }
    }

    /// A modifier naming a tolerance, if present.
    pub fn tolerance(&self, modifier: StepModifier) -> Result<Option<Tolerance>, Said> {
        match self.object.get(modifier.as_str()) {
            None => Ok(None),
            Some(Value::String(name)) => tolerance(name).map(Some).map_err(|e| self.error(e)),
            Some(_) => Err(self.error(Said::new(
                format!("{modifier} must be a tolerance name"),
                format!("{modifier} должно быть именем допуска"),
            ))),
        }
    }

    /// A true/false modifier (false when absent).
    pub fn flag(&self, modifier: StepModifier) -> Result<bool, Said> {
        match self.object.get(modifier.as_str()) {
            None | Some(Value::Bool(false)) => Ok(false),
            Some(Value::Bool(true)) => Ok(true),
            Some(_) => Err(self.error(Said::new(
                format!("{modifier} must be true or false"),
                format!("{modifier} должно быть true или false"),
            ))),
        }
    }

    /// The `delivery` modifier, if present.
    pub fn delivery(&self) -> Result<Option<Delivery>, Said> {
        match self.object.get(StepModifier::Delivery.as_str()) {
            None => Ok(None),
            Some(Value::String(d)) => match Delivery::parse(d) {
                Some(d) => Ok(Some(d)),
                None => Err(self.error(Said::new(
                    "delivery must be whole, split or trickle",
                    "delivery должно быть whole, split или trickle",
                ))),
            },
            Some(_) => {
                Err(self
                    .error(Said::new("delivery must be a string", "delivery должно быть строкой")))
            }
        }
    }
}

/// A tolerance by name, or an error listing the names.
pub fn tolerance(name: &str) -> Result<Tolerance, Said> {
    Tolerance::parse(name).ok_or_else(|| {
        let known = Tolerance::names();
        Said::new(
            format!("unknown tolerance \"{name}\" (known: {known})"),
            format!("неизвестный допуск \"{name}\" (известны: {known})"),
        )
    })
}

/// A value a step expands with the case's placeholders, for lint.
#[derive(Debug, Clone, Copy)]
pub enum Template<'a> {
    /// A JSON template (sent, or a pattern).
    Json(&'a Value, Mode),
    /// `send_raw` text.
    Raw(&'a str),
}

/// What a step does to its connection, for lint's "no step after a close".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnEffect {
    /// Opens (or re-opens) it.
    Opens,
    /// Closes it: later steps on it need a `connect` first.
    Closes,
    /// Uses it, or does not touch it.
    Keeps,
}

/// What every step kind says about itself, whatever the role.
pub trait Kind {
    /// The keyword it was written with.
    fn keyword(&self) -> StepKeyword;

    /// The step needs its connection open before it runs (server mode connects at first use;
    /// client mode waits for the client to connect).
    fn needs_conn(&self) -> bool {
        true
    }

    /// It acts on its connection at all (the steps about the client process do not).
    fn acts_on_conn(&self) -> bool {
        true
    }

    /// What it does to its connection.
    fn conn_effect(&self) -> ConnEffect {
        ConnEffect::Keeps
    }

    /// The values it expands with placeholders.
    fn templates(&self) -> Vec<Template<'_>> {
        Vec::new()
    }

    /// True for steps that check something (a fixture must have one).
    fn checks(&self) -> bool {
        false
    }
}

/// A step of a fixture that judges a server: the runner plays the client(s).
#[derive(Debug, Clone)]
pub enum ServerStep {
    /// `connect`.
    Connect(Connect),
    /// `send`, `send_raw`.
    Send(Send),
    /// `expect`, `expect_any`.
    Expect(Expect),
    /// `expect_list`.
    ExpectList(ExpectList),
    /// `expect_silence`.
    ExpectSilence(ExpectSilence),
    /// `expect_close`.
    ExpectClose(ExpectClose),
    /// `disconnect`.
    Disconnect(Disconnect),
    /// `listen_ms`.
    Listen(Listen),
    /// `tolerate`.
    Tolerate(Tolerate),
}

/// A step of a fixture that judges a client: the runner plays the server on the client's one
/// connection.
#[derive(Debug, Clone)]
pub enum ClientStep {
    /// `connect`: wait for the client to connect.
    Connect(Connect),
    /// `send`, `send_raw`: the runner's reply.
    Send(Send),
    /// `expect`, `expect_any`: what the client sends.
    Expect(Expect),
    /// `expect_silence` (`for_ms` only: no barrier can be set in motion in a client).
    ExpectSilence(SilenceFor),
    /// `expect_close`: the client closes its connection.
    ExpectClose(ExpectClose),
    /// `disconnect`: the runner closes the connection.
    Disconnect(Disconnect),
    /// `close_stdin`.
    CloseStdin(CloseStdin),
    /// `expect_exit`.
    ExpectExit(ExpectExit),
    /// `auto_answer`.
    AutoAnswer(AutoAnswer),
    /// `await_input`: wait until the client waits for its user.
    AwaitInput(AwaitInput),
    /// `expect_output`: the client shows what it shows for the reply alone.
    ExpectOutput(ExpectOutput),
}

fn only_in(keyword: StepKeyword, mode: &str, role: &str) -> Said {
    Said::new(
        format!("\"{keyword}\" is a {mode}-mode step: this fixture needs \"role\": \"{role}\""),
        format!("\"{keyword}\" — шаг режима {mode}: такой проверке нужно \"role\": \"{role}\""),
    )
}

/// The steps one role may take: how they parse, and what each says about itself.
pub trait RoleStep: Sized {
    /// Parses a step body; the error says what is wrong, with the step number.
    fn parse(body: &Body<'_>, conn: &str) -> Result<Self, Said>;

    /// The kind, for what every kind says about itself.
    fn kind(&self) -> &dyn Kind;
}

impl RoleStep for ServerStep {
    fn parse(b: &Body<'_>, _conn: &str) -> Result<Self, Said> {
        Ok(match b.keyword {
            StepKeyword::Connect => Self::Connect(Connect::parse(b)?),
            StepKeyword::Send | StepKeyword::SendRaw => Self::Send(Send::parse(b)?),
            StepKeyword::Expect | StepKeyword::ExpectAny => Self::Expect(Expect::parse(b)?),
            StepKeyword::ExpectList => Self::ExpectList(ExpectList::parse(b)?),
            StepKeyword::ExpectSilence => Self::ExpectSilence(ExpectSilence::parse(b)?),
            StepKeyword::ExpectClose => Self::ExpectClose(ExpectClose::parse(b)?),
            StepKeyword::Disconnect => Self::Disconnect(Disconnect::parse(b)?),
            StepKeyword::ListenMs => Self::Listen(Listen::parse(b)?),
            StepKeyword::Tolerate => Self::Tolerate(Tolerate::parse(b)?),
            StepKeyword::CloseStdin
            | StepKeyword::ExpectExit
            | StepKeyword::AutoAnswer
            | StepKeyword::AwaitInput
            | StepKeyword::ExpectOutput => {
                return Err(b.error(only_in(b.keyword, "client", "server")));
            }
        })
    }

    /// The kind, for what every kind says about itself.
    fn kind(&self) -> &dyn Kind {
        match self {
            Self::Connect(s) => s,
            Self::Send(s) => s,
            Self::Expect(s) => s,
            Self::ExpectList(s) => s,
            Self::ExpectSilence(s) => s,
            Self::ExpectClose(s) => s,
            Self::Disconnect(s) => s,
            Self::Listen(s) => s,
            Self::Tolerate(s) => s,
        }
    }
}

impl RoleStep for ClientStep {
    fn parse(b: &Body<'_>, conn: &str) -> Result<Self, Said> {
        if conn != "a" {
            return Err(b.error(format!(
                "client-mode fixtures have one connection, \"a\" (the client's), not \"{conn}\""
            )));
        }
        Ok(match b.keyword {
            StepKeyword::Connect => Self::Connect(Connect::parse(b)?),
            StepKeyword::Send | StepKeyword::SendRaw => Self::Send(Send::parse(b)?),
            StepKeyword::Expect | StepKeyword::ExpectAny => {
                let expect = Expect::parse(b)?;
                if expect.one_write {
                    return Err(b.error("\"one_write\" is not available in client mode"));
                }
                Self::Expect(expect)
            }
            StepKeyword::ExpectSilence => match ExpectSilence::parse(b)? {
                ExpectSilence::For(f) => Self::ExpectSilence(f),
                ExpectSilence::Before(_) => {
                    return Err(b.error(
                        "expect_silence with a barrier (before) is not available in client mode",
                    ));
                }
            },
            StepKeyword::ExpectClose => Self::ExpectClose(ExpectClose::parse(b)?),
            StepKeyword::Disconnect => Self::Disconnect(Disconnect::parse(b)?),
            StepKeyword::CloseStdin => Self::CloseStdin(CloseStdin::parse(b)?),
            StepKeyword::ExpectExit => Self::ExpectExit(ExpectExit::parse(b)?),
            StepKeyword::AutoAnswer => Self::AutoAnswer(AutoAnswer::parse(b)?),
            StepKeyword::AwaitInput => Self::AwaitInput(AwaitInput::parse(b)?),
            StepKeyword::ExpectOutput => Self::ExpectOutput(ExpectOutput::parse(b)?),
            StepKeyword::ExpectList | StepKeyword::ListenMs | StepKeyword::Tolerate => {
                return Err(b.error(format!("\"{}\" is not available in client mode", b.keyword)));
            }
        })
    }

    /// The kind, for what every kind says about itself.
    fn kind(&self) -> &dyn Kind {
        match self {
            Self::Connect(s) => s,
            Self::Send(s) => s,
            Self::Expect(s) => s,
            Self::ExpectSilence(s) => s,
            Self::ExpectClose(s) => s,
            Self::Disconnect(s) => s,
            Self::CloseStdin(s) => s,
            Self::ExpectExit(s) => s,
            Self::AutoAnswer(s) => s,
            Self::AwaitInput(s) => s,
            Self::ExpectOutput(s) => s,
        }
    }
}

impl ServerStep {
    pub(crate) async fn run(&self, cx: &mut Case<'_, ServerSide>, at: &At) -> StepResult {
        match self {
            Self::Connect(s) => s.run(cx, at).await,
            Self::Send(s) => s.run(cx, at).await,
            Self::Expect(s) => s.run(cx, at).await,
            Self::ExpectList(s) => s.run(cx, at).await,
            Self::ExpectSilence(s) => s.run(cx, at).await,
            Self::ExpectClose(s) => s.run_server(cx, at).await,
            Self::Disconnect(s) => s.run(cx, at).await,
            Self::Listen(s) => s.run(cx, at).await,
            Self::Tolerate(s) => s.run(cx, at),
        }
    }
}

impl ClientStep {
    pub(crate) async fn run(&self, cx: &mut Case<'_, ClientSide>, at: &At) -> StepResult {
        match self {
            Self::Connect(s) => s.run(cx, at).await,
            Self::Send(s) => s.run(cx, at).await,
            Self::Expect(s) => s.run(cx, at).await,
            Self::ExpectSilence(s) => s.run(cx, at).await,
            Self::ExpectClose(s) => s.run_client(cx, at).await,
            Self::Disconnect(s) => s.run(cx, at).await,
            Self::CloseStdin(s) => s.run(cx, at).await,
            Self::ExpectExit(s) => s.run(cx, at).await,
            Self::AutoAnswer(s) => s.run(cx),
            Self::AwaitInput(s) => s.run(cx, at).await,
            Self::ExpectOutput(s) => s.run(cx, at).await,
        }
    }
}
