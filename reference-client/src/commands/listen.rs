//! `listen`: log in, optionally join rooms, then print every message that arrives as one JSON
//! line on stdout (flushed per line, so `| jq` and `| grep --line-buffered` see it at once).
//!
//! Status lines (logged in, joined, closed) go to stderr, so stdout holds only JSON. A probe is
//! answered with a presence automatically. It stops when the server closes, on Ctrl-C, after
//! `--count` messages or after `--duration`, and leaves politely (quit / exit) when it can.

use std::time::Duration;

use crate::ServerAddr;
use crate::connection::{Connection, Incoming};
use crate::error::{ClientError, ExitStatus};
use crate::login::{self, LoginOptions, await_response, is_2xx};
use crate::messages::{self, Received, classify};
use crate::output::{self, LineSink, eprint_line};
use crate::say::{self, Say, StopReason, said};

/// What `listen` needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the server is.
    pub server: ServerAddr,
    /// Who to log in as.
    pub login: LoginOptions,
    /// Rooms to join after logging in.
    pub rooms: Vec<String>,
    /// Stop after this many messages.
    pub count: Option<usize>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// Runs `listen`; returns the exit status (0 when it ends normally).
pub async fn run(opts: &Options, out: &mut dyn LineSink) -> ExitStatus {
    match listen(opts, out).await {
        Ok(status) => status,
        Err(e) => {
            crate::output::eprint_error(&e);
            e.exit_status()
        }
    }
}

async fn listen(opts: &Options, out: &mut dyn LineSink) -> Result<ExitStatus, ClientError> {
    let l = &opts.login;
    let conn = Connection::connect(&opts.server.host, opts.server.port, l.timeout).await?;
    let peer = conn.peer();
    let mut session = login::login(conn, l).await?;
    let lang = output::lang();
    eprint_line(&lang.say(&Say::Listening {
        name: session.name.clone(),
        peer: peer.to_string(),
        dialect: session.dialect.to_string(),
        code: session.welcome.code().as_u16(),
        text: say::response_text(&session.welcome, lang),
    }));
    if let Some(users) = &session.users {
        eprint_line(&lang.say(&Say::Users { names: users.join(", ") }));
    }
    let mut backlog = std::mem::take(&mut session.early);
    for room in &opts.rooms {
        session
            .writer
            .send_value(&messages::join(room), &say::sending(&format!("join {room}")))
            .await?;
        let waiting = said(format!("join {room}"), format!("join {room}"));
        let r = await_response(&mut session.reader, l.timeout, &waiting, &mut backlog).await?;
        if !is_2xx(&r) {
            let code = r.code().as_u16();
            let text = say::response_text(&r, lang);
            let cannot = Say::CannotJoin { room: room.clone(), code, text };
            eprint_line(&format!("jim-client: {}", lang.say(&cannot)));
            return Ok(ExitStatus::Failure);
        }
        eprint_line(&lang.say(&Say::Joined { room: room.clone() }));
    }

    let deadline = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let far = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
    let mut printed = 0usize;
    let mut backlog = backlog.into_iter();
    let reason = loop {
        if opts.count.is_some_and(|c| printed >= c) {
            break StopReason::Count;
        }
        let arrival = match backlog.next() {
            Some(a) => a,
            None => {
                let until = deadline.unwrap_or(far);
                tokio::select! {
                    next = session.reader.next_until(until) => match next? {
                        Some(a) => a,
                        None => break StopReason::Duration,
                    },
                    _ = tokio::signal::ctrl_c() => break StopReason::Interrupted,
                }
            }
        };
        match &arrival.item {
            Incoming::Value(v) => {
                if !out.line(&v.to_string()) {
                    break StopReason::OutputClosed;
                }
                printed += 1;
                if classify(v) == Received::Probe {
                    let presence = messages::presence(session.dialect, &session.name);
                    session
                        .writer
                        .send_value(&presence, &said("answering a probe", "ответ на probe"))
                        .await?;
                }
            }
            Incoming::Bad(e) => {
                let error = say::frame_error(e).get(lang).to_owned();
                eprint_line(&format!("jim-client: {}", lang.say(&Say::NotJsonBytes { error })));
            }
            Incoming::Closed { reset } => {
                eprint_line(&format!("{peer}: {}", lang.say(&Say::ServerClosed { reset: *reset })));
                return Ok(ExitStatus::Ok);
            }
        }
    };
    let bye = messages::quit(session.dialect, &session.name);
    let _ = session.writer.send_value(&bye, &said("quitting", "выход")).await;
    session.writer.shutdown().await;
    eprint_line(&lang.say(&Say::Stopped { reason, printed }));
    Ok(ExitStatus::Ok)
}
