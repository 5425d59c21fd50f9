//! Logging in: `presence`, with spec `authenticate` first or the course 511 challenge when a
//! password is given (PROTOCOL.md `§presence`, `§authenticate`, `§course-login`).
//!
//! `chat` and `listen` share this, so both log in exactly the same way and explain a refusal the
//! same way (wrong name, name taken, password needed).

use std::time::Duration;

use jim_protocol::{Dialect, Response, ResponseCode};
use serde_json::Value;

use crate::connection::{Arrival, Connection, Incoming, Reader, Writer};
use crate::error::{ClientError, Hint};
use crate::messages::{self, Received, classify};
use crate::say::{self, Said, said};
use jim_text::Lang;

/// Most pushes, probes and relays kept while waiting for a response; the rest are counted,
/// not kept, so a server that floods them cannot make the client hoard memory.
pub const MAX_EARLY: usize = 100;

/// Who to log in as, and how.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// The account name.
    pub name: String,
    /// The password: spec dialect sends `authenticate` first; course dialect answers a 511.
    pub password: Option<String>,
    /// Which dialect to write.
    pub dialect: Dialect,
    /// How long to wait for each answer.
    pub timeout: Duration,
}

/// A logged-in connection.
#[derive(Debug)]
pub struct Session {
    /// The receiving side.
    pub reader: Reader,
    /// The sending side.
    pub writer: Writer,
    /// The account name.
    pub name: String,
    /// The dialect the client writes.
    pub dialect: Dialect,
    /// The response that completed the login.
    pub welcome: Response,
    /// Pushes, probes and relays that arrived while logging in, in order.
    pub early: Vec<Arrival>,
    /// Course dialect: the known users asked for right after login (`None` if not asked or
    /// not answered with a list).
    pub users: Option<Vec<String>>,
    /// Course dialect: the contact list asked for right after login.
    pub contacts: Option<Vec<String>>,
}

/// Logs in on `conn` (see the module docs).
pub async fn login(conn: Connection, opts: &LoginOptions) -> Result<Session, ClientError> {
    let Connection { mut reader, mut writer } = conn;
    let peer = reader.peer();
    let mut early = Vec::new();
    let refused = |r: &Response, hint: Option<Hint>| ClientError::LoginRefused {
        peer,
        name: opts.name.clone(),
        code: r.code().as_u16(),
        text: Said::each(|lang| say::response_text(r, lang)),
        hint,
    };

    if let (Some(password), Dialect::Spec) = (&opts.password, opts.dialect) {
        let auth = messages::authenticate(&opts.name, password);
        writer.send_value(&auth, &say::sending("authenticate")).await?;
        let r = await_response(
            &mut reader,
            opts.timeout,
            &said("authenticate", "authenticate"),
            &mut early,
        )
        .await?;
        if !is_2xx(&r) {
            return Err(refused(&r, Some(Hint::CheckNameAndPassword)));
        }
    }

    let presence = messages::presence(opts.dialect, &opts.name);
    writer.send_value(&presence, &say::sending("presence")).await?;
    let mut r =
        await_response(&mut reader, opts.timeout, &said("presence", "presence"), &mut early)
            .await?;

    if r.code() == ResponseCode::AUTH_CHALLENGE {
        let Some(challenge) = r.bin.clone() else {
            return Err(refused(&r, Some(Hint::NoBinChallenge)));
        };
        let Some(password) = &opts.password else {
            return Err(refused(&r, Some(Hint::ChallengeWantsPassword)));
        };
        let answer = messages::challenge_answer(&opts.name, password, &challenge);
        writer
            .send_value(&answer, &said("answering the 511 challenge", "ответ на вызов 511"))
            .await?;
        r = await_response(
            &mut reader,
            opts.timeout,
            &said("the 511 answer", "ответ на вызов 511"),
            &mut early,
        )
        .await?;
        if !is_2xx(&r) {
            return Err(refused(&r, Some(Hint::WrongPassword)));
        }
    }

    if !is_2xx(&r) {
        let hint = match r.code().as_u16() {
            409 => Some(Hint::NameTaken),
            401 => Some(Hint::AddPassword),
            400 if opts.name != messages::DEFAULT_NAME => Some(Hint::OnlyGuest),
            _ => None,
        };
        return Err(refused(&r, hint));
    }
    let mut session = Session {
        reader,
        writer,
        name: opts.name.clone(),
        dialect: opts.dialect,
        welcome: r,
        early,
        users: None,
        contacts: None,
    };
    if opts.dialect == Dialect::Course {
        course_startup(&mut session, opts.timeout).await?;
    }
    Ok(session)
}

/// What the course client does right after logging in: ask for the user list and the contact
/// list. Besides filling its lists, `get_users` tells the server this connection speaks the
/// course dialect (a presence without `pubkey` does not, `§dialect-detection`), so relays come
/// as `message`/`mess_text` and 205 pushes arrive. A server that does not answer in time or
/// answers with an error is tolerated: these lists are a convenience.
async fn course_startup(session: &mut Session, timeout: Duration) -> Result<(), ClientError> {
    let requests = [
        ("get_users", messages::get_users(&session.name)),
        ("get_contacts", messages::get_contacts(Dialect::Course, &session.name)),
    ];
    for (what, request) in requests {
        session.writer.send_value(&request, &say::sending(what)).await?;
        let list = match await_response(
            &mut session.reader,
            timeout,
            &said(what, what),
            &mut session.early,
        )
        .await
        {
            Ok(r) if is_2xx(&r) => r.list,
            Ok(_) | Err(ClientError::NoAnswer { .. }) => None,
            Err(e) => return Err(e),
        };
        match what {
            "get_users" => session.users = list,
            _ => session.contacts = list,
        }
    }
    Ok(())
}

/// True for 2xx.
pub fn is_2xx(r: &Response) -> bool {
    (200..300).contains(&r.code().as_u16())
}

/// The text of a response, or the standard text of its code.
pub fn response_text(r: &Response) -> String {
    match r.text.as_deref() {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => r.code().standard_text().to_owned(),
    }
}

/// Reads until a response arrives; other items (pushes, probes, relays) go to `early`, which
/// keeps at most [`MAX_EARLY`] of them.
pub async fn await_response(
    reader: &mut Reader,
    timeout: Duration,
    waiting_for: &Said,
    early: &mut Vec<Arrival>,
) -> Result<Response, ClientError> {
    let peer = reader.peer();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut skipped = 0usize;
    loop {
        let Some(arrival) = reader.next_until(deadline).await? else {
            if skipped > 0 {
                // Complete values did arrive, just never a response.
                return Err(ClientError::NoAnswer {
                    peer,
                    after: timeout,
                    waiting_for: {
                        let also = say::meanwhile(skipped);
                        said(
                            format!("{} ({})", waiting_for.en(), also.en()),
                            format!("{} ({})", waiting_for.get(Lang::Ru), also.get(Lang::Ru)),
                        )
                    },
                });
            }
            if reader.has_partial() {
                return Err(ClientError::NotJim {
                    peer,
                    detail: say::partial(&reader.transcript_preview(), timeout),
                });
            }
            return Err(ClientError::NoAnswer {
                peer,
                after: timeout,
                waiting_for: waiting_for.clone(),
            });
        };
        match &arrival.item {
            Incoming::Closed { .. } => {
                return Err(ClientError::ClosedEarly { peer, waiting_for: waiting_for.clone() });
            }
            Incoming::Bad(e) => {
                return Err(ClientError::NotJim { peer, detail: say::frame_error(e) });
            }
            Incoming::Value(v) => match classify(v) {
                Received::Response(r) => return Ok(r),
                Received::NotJim(why) => {
                    return Err(ClientError::NotJim { peer, detail: not_jim_detail(v, &why) });
                }
                _ => {
                    skipped += 1;
                    if early.len() < MAX_EARLY {
                        early.push(arrival);
                    }
                }
            },
        }
    }
}

/// "received `...`: why", with the value cut to a readable length.
pub fn not_jim_detail(v: &Value, why: &Said) -> Said {
    let text = v.to_string();
    say::received(&jim_protocol::error::preview(text.as_bytes()), why)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A server that floods pushes before answering must not make the client hoard them.
    #[tokio::test]
    async fn a_flood_of_pushes_before_the_response_is_not_hoarded() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let pushes = b"{\"response\":205}\n".repeat(20_000);
            socket.write_all(&pushes).await.unwrap();
            socket.write_all(b"{\"response\":200}\n").await.unwrap();
            socket
        });
        let conn =
            Connection::connect("127.0.0.1", addr.port(), Duration::from_secs(10)).await.unwrap();
        let Connection { mut reader, writer: _writer } = conn;
        let mut early = Vec::new();
        let waiting = said("presence", "presence");
        let r = await_response(&mut reader, Duration::from_secs(20), &waiting, &mut early)
            .await
            .unwrap();
        assert_eq!(r.code(), ResponseCode::OK);
        assert!(!early.is_empty());
        assert!(early.len() <= MAX_EARLY, "{} pushes kept", early.len());
        drop(server.await.unwrap());
    }
}
