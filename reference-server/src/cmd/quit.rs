//! `quit` / `exit` (`§quit`) and the end of a session for any reason.

use crate::misbehave::Misbehave;
use crate::notes::Note;
use crate::session::{Flow, Login, Session};
use crate::state::shrink;

/// Applies quit/exit: no reply, the connection flushes and closes.
pub(crate) fn apply(s: &mut Session) -> Flow {
    if s.shared.misbehaves(Misbehave::IgnoreQuit) {
        return Flow::Continue;
    }
    Flow::Close
}

/// Ends the session: frees the name, leaves every room, pushes 205 to the other course
/// sessions. Called once when the connection ends, whatever the cause.
pub(crate) fn end(s: &mut Session) {
    let Login::Named(name) =
        std::mem::replace(&mut s.login, Login::Anonymous { authenticated: None })
    else {
        return;
    };
    let shared = s.shared.clone();
    let refresh = {
        let mut reg = shared.registry();
        if reg.sessions.get(&name).is_some_and(|peer| peer.conn == s.conn) {
            reg.sessions.remove(&name);
            shrink(&mut reg.sessions);
            reg.users_changed();
        }
        for room in std::mem::take(&mut s.rooms) {
            crate::cmd::rooms::remove_member(&mut reg, &room, &name);
        }
        reg.course_peers_except(&name)
    };
    tracing::info!(conn = s.conn, user = ?name, "{}", shared.config.lang.say(&Note::Left));
    shared.push_refresh(&refresh);
}
