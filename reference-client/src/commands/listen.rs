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
use crate::login::{self, LoginOptions, await_response, is_2xx, response_text};
use crate::messages::{self, Received, classify};
use crate::output::{LineSink, eprint_line};

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
    eprint_line(&format!(
        "listening as {} on {peer} ({} dialect): {} {}",
        session.name,
        session.dialect,
        session.welcome.code(),
        response_text(&session.welcome)
    ));
    if let Some(users) = &session.users {
        eprint_line(&format!("users: {}", users.join(", ")));
    }
    let mut backlog = std::mem::take(&mut session.early);
    for room in &opts.rooms {
        session.writer.send_value(&messages::join(room), &format!("joining {room}")).await?;
        let r =
            await_response(&mut session.reader, l.timeout, &format!("join {room}"), &mut backlog)
                .await?;
        if !is_2xx(&r) {
            eprint_line(&format!(
                "jim-client: cannot join {room}: {} {}",
                r.code(),
                response_text(&r)
            ));
            return Ok(ExitStatus::Failure);
        }
        eprint_line(&format!("joined {room}"));
    }

    let deadline = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let far = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
    let mut printed = 0usize;
    let mut backlog = backlog.into_iter();
    let reason = loop {
        if opts.count.is_some_and(|c| printed >= c) {
            break "count reached";
        }
        let arrival = match backlog.next() {
            Some(a) => a,
            None => {
                let until = deadline.unwrap_or(far);
                tokio::select! {
                    next = session.reader.next_until(until) => match next? {
                        Some(a) => a,
                        None => break "duration elapsed",
                    },
                    _ = tokio::signal::ctrl_c() => break "interrupted",
                }
            }
        };
        match &arrival.item {
            Incoming::Value(v) => {
                if !out.line(&v.to_string()) {
                    break "output closed";
                }
                printed += 1;
                if classify(v) == Received::Probe {
                    let presence = messages::presence(session.dialect, &session.name);
                    session.writer.send_value(&presence, "answering a probe").await?;
                }
            }
            Incoming::Bad(e) => {
                eprint_line(&format!("jim-client: received bytes that are not JSON: {e}"));
            }
            Incoming::Closed { reset } => {
                let how = if *reset { "reset the connection" } else { "closed the connection" };
                eprint_line(&format!("{peer} {how}"));
                return Ok(ExitStatus::Ok);
            }
        }
    };
    let bye = messages::quit(session.dialect, &session.name);
    let _ = session.writer.send_value(&bye, "quitting").await;
    session.writer.shutdown().await;
    eprint_line(&format!("stopped ({reason}) after {printed} message(s)"));
    Ok(ExitStatus::Ok)
}
