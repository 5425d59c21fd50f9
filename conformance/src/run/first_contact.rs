//! The first run of a client (the client-mode preflight): does it start, connect and speak, what
//! is its first message, and does it exit after a 200 (a one-shot lesson-3 client) or stay (an
//! interactive one)? The answers fill the summary card and pick the profile under
//! `--profile auto`.

use std::time::Duration;

use jim_protocol::Framing;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::case::client::{ClientCase, ClientProcess, MAX_AUTO_ANSWERS};
use crate::case::stdin_wait::InputWait;
use crate::i18n::ClientMsg;
use crate::jim::auto_reply;
use crate::placeholders::now_seconds;
use crate::preflight::Detection;
use crate::vocab::{Delivery, DetectedDialect, DetectedFraming, DisconnectKind};
use crate::wire::{Arrival, Conn};

/// The profile `--profile auto` picks for a client that exits after its reply.
pub const ONE_SHOT_PROFILE: &str = "client-lesson3";
/// The profile `--profile auto` picks for a client that stays after its reply.
pub const INTERACTIVE_PROFILE: &str = "client-interactive";

/// How long the first contact waits for a client to exit by itself after its reply where the
/// system does not show whether the client reads its stdin (no `/proc`): elsewhere the first
/// contact waits for the exit or for the client to block on its stdin, whichever happens.
pub const SETTLE: Duration = Duration::from_millis(1000);

/// What the first run of a client showed (the client-mode preflight).
#[derive(Debug, Clone, Default)]
pub struct FirstContact {
    /// Why the client never connected, if it did not.
    pub error: Option<String>,
    /// Its first message, as received (escaped).
    pub first: Option<String>,
    /// The start of its first write as sent, at most [`FIRST_BYTES`].
    pub first_bytes: Vec<u8>,
    /// Its first message as JSON, if it was JSON.
    pub first_value: Option<Value>,
    /// Whether a newline followed the first message.
    pub newline: Option<bool>,
    /// After a 200 to its first message (and generic answers to what followed), the client
    /// exited by itself, or with status 0 once the runner closed the connection (a one-shot
    /// lesson-3 client), rather than staying for more input (an interactive one).
    pub exited_after_reply: Option<bool>,
    /// It exited only after the runner closed the connection.
    pub waited_for_close: bool,
    /// The process, for the report.
    pub process: Option<crate::report::ProcessReport>,
}

/// Most bytes of a client's first write the first contact keeps to say what it was.
pub const FIRST_BYTES: usize = 4096;

/// The bytes of the client's first write, without taking them from the connection: waits until
/// something arrives (or `deadline`), then keeps what is there, at most [`FIRST_BYTES`].
async fn peek_first(stream: &tokio::net::TcpStream, deadline: Instant) -> Vec<u8> {
    let mut buf = vec![0u8; FIRST_BYTES];
    match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
        Ok(Ok(n)) => {
            buf.truncate(n);
            buf
        }
        _ => Vec::new(),
    }
}

/// How often the first contact looks whether the client waits for its user.
const LOOK_EVERY: Duration = Duration::from_millis(10);

/// What a client did after its reply, as far as the first contact watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    /// It exited.
    Exited,
    /// One of its threads blocks reading its stdin: an interactive client, waiting for its user.
    WaitsForInput,
    /// Neither, within the bound.
    Neither,
}

/// Waits for the client to exit or (when `look`) to block reading its stdin, answering its
/// requests generically meanwhile. Both are observable events: the bound is `until` when the
/// system shows the stdin state, and `blind` (the old fixed settle time) when it does not.
async fn settle_and_watch(
    process: &mut ClientProcess,
    conn: &mut Option<Conn>,
    framing: Framing,
    timeout: Duration,
    (until, blind): (Instant, Instant),
    look: bool,
    answered: &mut usize,
) -> Settled {
    let mut until = until;
    loop {
        if process.poll_exit().is_some() {
            return Settled::Exited;
        }
        if look {
            match process.input_wait() {
                InputWait::Waiting => return Settled::WaitsForInput,
                InputWait::Unknown => until = until.min(blind),
                InputWait::NotWaiting => {}
            }
        }
        let next_look = if look { (Instant::now() + LOOK_EVERY).min(until) } else { until };
        let read = async {
            match conn.as_mut() {
                Some(c) => Some(c.next(next_look).await),
                None => std::future::pending().await,
            }
        };
        let arrival = tokio::select! {
            status = process.wait() => {
                return if status.is_some() { Settled::Exited } else { Settled::Neither };
            }
            a = read => a,
            () = tokio::time::sleep_until(next_look) => None,
        };
        match arrival {
            Some(Arrival::Closed { .. }) => *conn = None,
            Some(Arrival::Value { value, .. }) if *answered < MAX_AUTO_ANSWERS => {
                if let (Some(reply), Some(c)) = (auto_reply(&value), conn.as_mut()) {
                    let bytes = jim_protocol::codec::to_bytes(&reply, framing);
                    let _ = c.write(&bytes, Delivery::Whole, Instant::now() + timeout).await;
                    *answered += 1;
                }
            }
            _ => {}
        }
        if Instant::now() >= until {
            return if process.poll_exit().is_some() { Settled::Exited } else { Settled::Neither };
        }
    }
}

/// Starts the client once: waits for its connection and first message, answers 200 and watches
/// whether it exits within `settle` while its stdin stays open.
pub async fn first_contact(
    case: &ClientCase,
    framing: Framing,
    timeout: Duration,
    settle: Duration,
) -> FirstContact {
    let mut contact = FirstContact::default();
    let mut process = match ClientProcess::start(&case.command, &case.name).await {
        Ok(p) => p,
        Err(e) => {
            contact.error = Some(e.en());
            return contact;
        }
    };
    let mut conn = match process.accept(case.startup).await {
        Ok(c) => {
            // The start of the first write, as sent (the reader's report shows only 80
            // escaped bytes; a Python repr names its user key further in).
            contact.first_bytes = peek_first(&c, Instant::now() + timeout).await;
            Some(Conn::new(c))
        }
        Err(e) => {
            contact.error = Some(e.en());
            contact.process = Some(process.finish().await);
            return contact;
        }
    };
    let arrival = match conn.as_mut() {
        Some(c) => c.next(Instant::now() + timeout).await,
        None => Arrival::Closed { reset: false },
    };
    match arrival {
        Arrival::Value { value, raw, newline_after, .. } => {
            contact.first = Some(raw);
            contact.first_value = Some(value);
            contact.newline = newline_after;
            let reply = json!({"response": 200, "time": now_seconds(), "alert": "OK"});
            let bytes = jim_protocol::codec::to_bytes(&reply, framing);
            if let Some(c) = conn.as_mut() {
                let _ = c.write(&bytes, Delivery::Whole, Instant::now() + timeout).await;
            }
            let mut answered = 0;
            // After its 200 a one-shot client exits (or waits for the close), an interactive
            // one blocks reading its stdin: wait for whichever of these events happens, not for
            // a guessed pause (a loaded machine delays both).
            let bound = case.startup.max(timeout);
            let now = Instant::now();
            let settled = if settle.is_zero() {
                Settled::Neither
            } else {
                let limits = (now + bound, now + settle);
                settle_and_watch(
                    &mut process,
                    &mut conn,
                    framing,
                    timeout,
                    limits,
                    true,
                    &mut answered,
                )
                .await
            };
            let exited = if settled == Settled::Exited {
                true
            } else if settle.is_zero() || settled == Settled::WaitsForInput {
                if settle.is_zero() {
                    contact.exited_after_reply = None;
                } else {
                    contact.exited_after_reply = Some(false);
                }
                contact.process = Some(process.finish().await);
                return contact;
            } else {
                // A lesson-3 client may wait for the server to close: close, and see whether
                // it then ends with status 0 (an interactive client reports the close as an
                // error, or keeps going). A client that exits on the close is seen exiting as
                // soon as it does; the bound is the one a client has to start (--startup), not
                // a guess of how fast a loaded machine stops an interpreter. Only an
                // interactive client that ignores the close waits it out, once per run.
                if let Some(mut c) = conn.take() {
                    c.disconnect(DisconnectKind::Close).await;
                }
                let until = Instant::now() + bound;
                let zero = settle_and_watch(
                    &mut process,
                    &mut conn,
                    framing,
                    timeout,
                    (until, until),
                    false,
                    &mut answered,
                )
                .await
                    == Settled::Exited
                    && process.poll_exit().is_some_and(|s| s.success());
                contact.waited_for_close = zero;
                zero
            };
            contact.exited_after_reply = Some(exited);
        }
        Arrival::Bad { text, .. } => contact.first = Some(text),
        Arrival::Closed { .. } | Arrival::Nothing => {}
    }
    contact.process = Some(process.finish().await);
    contact
}

/// The summary card's view of the first contact.
pub fn detect(c: &FirstContact) -> Detection {
    let mut d = Detection {
        reachable: true,
        dialect: DetectedDialect::Unknown,
        framing: match c.newline {
            Some(true) => DetectedFraming::Newline,
            Some(false) => DetectedFraming::Bare,
            None => DetectedFraming::Unknown,
        },
        first_reply: c.first.clone(),
        one_shot: c.exited_after_reply,
        ..Detection::default()
    };
    match &c.first_value {
        Some(v) if v.get("action").and_then(Value::as_str) == Some("presence") => {
            d.answered = true;
            d.dialect = dialect_of(v);
        }
        Some(v) => {
            let shown = crate::matcher::show(v, 120);
            d.notes.push(crate::i18n::Said::new(
                format!("the client's first message is not a presence: {shown}"),
                format!("первое сообщение клиента — не presence: {shown}"),
            ));
        }
        None => match &c.first {
            Some(text) => d.notes.push(crate::i18n::Said::new(
                format!("the client's first message is not JSON: {text}"),
                format!("первое сообщение клиента — не JSON: {text}"),
            )),
            None => d.notes.push(crate::i18n::Said::new(
                "the client connected but sent nothing",
                "клиент подключился, но ничего не отправил",
            )),
        },
    }
    d.suggested_profile = match c.exited_after_reply {
        Some(true) if c.waited_for_close => {
            d.notes.push(ClientMsg::NoteWaitedClose.text().into());
            ONE_SHOT_PROFILE.into()
        }
        Some(true) => {
            d.notes.push(ClientMsg::NoteExited.text().into());
            ONE_SHOT_PROFILE.into()
        }
        Some(false) => {
            d.notes.push(ClientMsg::NoteInteractive.text().into());
            INTERACTIVE_PROFILE.into()
        }
        None => ONE_SHOT_PROFILE.into(),
    };
    d
}

fn dialect_of(presence: &Value) -> DetectedDialect {
    let user = presence.get("user");
    if presence.get("type").is_some() || user.and_then(|u| u.get("status")).is_some() {
        DetectedDialect::Spec
    } else {
        // A presence with a pubkey, or with neither type nor status, is what the course
        // solution sends (PROTOCOL.md §dialect-detection).
        DetectedDialect::Course
    }
}
