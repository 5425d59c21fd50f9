//! `presence` (`§presence`): logging in, answering a probe, and the start of a course login.

use jim_protocol::{Message, Presence, Response, ResponseCode};

use crate::misbehave::Misbehave;
use crate::notes::Note;
use crate::session::{Flow, Login, Session};
use crate::state::{Limit, MAX_SEEN_USERS, Peer};
use crate::store::DbOp;

/// Applies a validated presence.
pub(crate) async fn apply(s: &mut Session, p: Presence) -> Flow {
    if let Login::Named(current) = &s.login {
        if *current == p.account_name {
            // The answer to a probe, or a repeat: 200, and a new key replaces the old one.
            if let Some(key) = p.pubkey {
                let shared = s.shared.clone();
                let mut reg = shared.registry();
                if let Some(peer) = reg.sessions.get_mut(current.as_str())
                    && peer.conn == s.conn
                {
                    peer.pubkey = Some(key.into());
                }
            }
            s.ok();
        } else {
            let text = format!("name already set: this connection is {current:?} (see §presence)");
            s.error(ResponseCode::BAD_REQUEST, text);
        }
        return Flow::Continue;
    }
    let name = p.account_name;
    if name.starts_with('#') {
        let text = "user.account_name must not start with '#': that names a room (see §limits)";
        s.error(ResponseCode::BAD_REQUEST, text);
        return Flow::Continue;
    }
    if is_taken(s, &name) {
        conflict(s, &name);
        return Flow::Continue;
    }
    let authenticated = match &s.login {
        Login::Anonymous { authenticated } => authenticated.clone(),
        _ => None,
    };
    match authenticated {
        Some(auth) if auth != name => {
            let text = format!(
                "presence name {name:?} differs from the authenticated name {auth:?} (see §authenticate)"
            );
            s.error(ResponseCode::UNAUTHORIZED, text);
        }
        Some(_) => Box::pin(login(s, name, p.pubkey)).await,
        None if s.shared.accounts.is_some() => {
            if p.kind.is_some() || p.status.is_some() {
                s.error(ResponseCode::UNAUTHORIZED, "authenticate first (see §authenticate)");
            } else {
                crate::cmd::auth::challenge(s, name, p.pubkey);
            }
        }
        None => Box::pin(login(s, name, p.pubkey)).await,
    }
    Flow::Continue
}

/// True when `name` is logged in on another connection (and duplicates are not allowed).
fn is_taken(s: &Session, name: &str) -> bool {
    if s.shared.misbehaves(Misbehave::DuplicateNames) {
        return false;
    }
    s.shared.registry().sessions.get(name).is_some_and(|peer| peer.conn != s.conn)
}

fn conflict(s: &mut Session, name: &str) {
    let text = format!("{name:?} is already connected; choose another name (see §presence)");
    s.error(ResponseCode::CONFLICT, text);
}

/// Logs the session in as `name`: registers it, answers 200, pushes 205 to the other course
/// sessions and records the user. Answers 409 instead if the name was taken meanwhile.
pub(crate) async fn login(s: &mut Session, name: String, pubkey: Option<String>) {
    let shared = s.shared.clone();
    let refresh = {
        let mut reg = shared.registry();
        let taken = reg.sessions.get(&name).is_some_and(|peer| peer.conn != s.conn);
        if taken && !shared.misbehaves(Misbehave::DuplicateNames) {
            drop(reg);
            conflict(s, &name);
            return;
        }
        let peer = Peer {
            conn: s.conn,
            outbox: s.outbox.clone(),
            dialect: s.dialect,
            pubkey: pubkey.map(Into::into),
            limit: Limit::of(&shared.config),
        };
        reg.sessions.insert(name.clone(), peer);
        if reg.seen.len() < MAX_SEEN_USERS {
            reg.seen.insert(name.clone());
        }
        reg.users_changed();
        // The 200 is queued under the lock, so nothing relayed to the new name can overtake it.
        s.send(&Message::Response(Response::new(ResponseCode::OK)));
        reg.course_peers_except(&name)
    };
    let note = shared.config.lang.say(&Note::LoggedIn);
    tracing::info!(conn = s.conn, user = ?name, dialect = %s.dialect, "{note}");
    s.login = Login::Named(name.clone());
    shared.push_refresh(&refresh);
    if let Some(db) = &shared.db {
        let new = {
            let mut reg = shared.registry();
            let new = reg.recorded.insert(name.clone());
            if new {
                reg.users_changed();
            }
            new
        };
        if new {
            db.write(DbOp::User(name)).await;
        }
    }
}
