//! `ping`: the lesson-3 exchange. Send one presence, read one answer, report it, close.
//!
//! Exit status: 0 for a 2xx answer, 1 for any other code or an answer that is not a JIM
//! response (plain text, broken JSON, an object without `response`), 3 when the server cannot be
//! reached, closes without answering, or says nothing within the timeout.

use std::time::Duration;

use jim_protocol::{Dialect, Response};
use serde_json::{Value, json};

use crate::ServerAddr;
use crate::connection::{Connection, Incoming, format_target};
use crate::error::{ClientError, ExitStatus, Hint};
use crate::login::{is_2xx, not_jim_detail, response_text};
use crate::messages::{self, Received, classify};
use crate::output::{self, Format, LineSink, eprint_line};
use crate::say::{self, said};
use jim_text::Lang;

/// How long to keep reading after a non-JSON reply, to show the whole of it.
const NOT_JIM_GRACE: Duration = Duration::from_millis(300);

/// What `ping` needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the server is.
    pub server: ServerAddr,
    /// The account name (default `Guest`).
    pub name: String,
    /// The presence shape to send.
    pub dialect: Dialect,
    /// Bound on connecting and on waiting for the answer (each).
    pub timeout: Duration,
    /// Human or JSON output.
    pub format: Format,
}

/// The answer to one ping: a JIM response (anything else is a [`ClientError`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The response.
    pub response: Response,
    /// The value as received.
    pub raw: Value,
    /// Time from sending the presence to the answer.
    pub elapsed: Duration,
}

/// Runs `ping`, printing the result; returns the exit status.
pub async fn run(opts: &Options, out: &mut dyn LineSink) -> ExitStatus {
    let presence = messages::presence(opts.dialect, &opts.name);
    let target = format_target(&opts.server.host, opts.server.port);
    match ping(opts, &presence).await {
        Ok(Answer { response, raw, elapsed }) => {
            let code = response.code().as_u16();
            let text = response_text(&response);
            let shown = crate::say::response_text(&response, output::lang());
            let ok = is_2xx(&response);
            let hint = hint_for(code, &opts.name);
            match opts.format {
                Format::Human => {
                    let took = crate::error::secs_in(elapsed, output::lang());
                    out.line(&format!("{code} {shown} ({took})"));
                    if let (Some(h), false) = (hint, ok) {
                        let lead = output::lang().pick("hint", "подсказка");
                        eprint_line(&format!("{lead}: {}", output::lang().say(&h)));
                    }
                }
                Format::Json => {
                    out.line(
                        &json!({
                            "ok": ok, "outcome": "response", "server": target,
                            "code": code, "text": text, "ms": elapsed.as_millis() as u64,
                            "sent": presence, "received": raw,
                            "hint": hint.map(|h| h.to_string()),
                        })
                        .to_string(),
                    );
                }
            }
            if ok { ExitStatus::Ok } else { ExitStatus::Failure }
        }
        Err(err) => report_error(opts, &target, &presence, &err, out),
    }
}

fn hint_for(code: u16, name: &str) -> Option<Hint> {
    match code {
        400 if name != messages::DEFAULT_NAME => Some(Hint::OnlyGuest),
        409 => Some(Hint::NameTaken),
        511 | 401 => Some(Hint::WantsPasswordLogin),
        _ => None,
    }
}

fn report_error(
    opts: &Options,
    target: &str,
    presence: &Value,
    err: &ClientError,
    out: &mut dyn LineSink,
) -> ExitStatus {
    let status = err.exit_status();
    match opts.format {
        Format::Human => output::eprint_error(err),
        Format::Json => {
            let outcome = match err {
                ClientError::NotJim { .. } => "not_jim",
                ClientError::NoAnswer { .. } => "no_answer",
                ClientError::ClosedEarly { .. } => "closed",
                _ => "unreachable",
            };
            out.line(
                &json!({
                    "ok": false, "outcome": outcome, "server": target,
                    "error": err.to_string(), "sent": presence, "exit": status.code(),
                })
                .to_string(),
            );
        }
    }
    status
}

/// Connects, sends `presence`, and reads the first answer.
pub async fn ping(opts: &Options, presence: &Value) -> Result<Answer, ClientError> {
    let conn = Connection::connect(&opts.server.host, opts.server.port, opts.timeout).await?;
    let Connection { mut reader, mut writer } = conn;
    let peer = reader.peer();
    let sent_at = writer.elapsed();
    writer.send_value(presence, &say::sending("presence")).await?;
    let Some(arrival) = reader.next(opts.timeout).await? else {
        if reader.has_partial() {
            return Err(ClientError::NotJim {
                peer,
                detail: say::partial(&reader.transcript_preview(), opts.timeout),
            });
        }
        return Err(ClientError::NoAnswer {
            peer,
            after: opts.timeout,
            waiting_for: said("presence", "presence"),
        });
    };
    let elapsed = arrival.at.saturating_sub(sent_at);
    match arrival.item {
        Incoming::Closed { .. } => {
            Err(ClientError::ClosedEarly { peer, waiting_for: said("presence", "presence") })
        }
        Incoming::Bad(e) => {
            // Plain text arrives as several bad tokens: read on briefly to show all of it.
            let grace = tokio::time::Instant::now() + NOT_JIM_GRACE;
            while let Ok(Some(a)) = reader.next_until(grace).await {
                if matches!(a.item, Incoming::Closed { .. }) {
                    break;
                }
            }
            Err(ClientError::NotJim {
                peer,
                detail: {
                    let preview = reader.transcript_preview();
                    let why = say::frame_reason(&e);
                    said(
                        format!("received {preview} ({})", why.en()),
                        format!("получено {preview} ({})", why.get(Lang::Ru)),
                    )
                },
            })
        }
        Incoming::Value(v) => match classify(&v) {
            Received::Response(response) => Ok(Answer { response, raw: v, elapsed }),
            Received::Refresh(_) => Err(ClientError::NotJim {
                peer,
                detail: not_jim_detail(
                    &v,
                    &said(
                        "a 205 push, not a response to the presence (see §push-205)",
                        "извещение 205, а не ответ на presence (см. §push-205)",
                    ),
                ),
            }),
            Received::NotJim(why) => {
                Err(ClientError::NotJim { peer, detail: not_jim_detail(&v, &why) })
            }
            _ => Err(ClientError::NotJim {
                peer,
                detail: not_jim_detail(
                    &v,
                    &said(
                        "a message, not a response to the presence",
                        "сообщение, а не ответ на presence",
                    ),
                ),
            }),
        },
    }
}
