//! `join` and `leave` (`§rooms`). Messages to a room are in [`crate::cmd::chat`].

use jim_protocol::{ResponseCode, RoomRequest};

use crate::session::{Flow, Session};
use crate::state::MAX_ROOMS_PER_SESSION;

/// Joins a room, creating it if needed (already a member is fine).
pub(crate) fn join(s: &mut Session, r: RoomRequest) -> Flow {
    let Some(name) = s.name().map(str::to_owned) else { return s.flow() };
    if !s.rooms.contains(&r.room) && s.rooms.len() >= MAX_ROOMS_PER_SESSION {
        let text = format!("too many rooms: the limit is {MAX_ROOMS_PER_SESSION} (see §limits)");
        s.error(ResponseCode::BAD_REQUEST, text);
        return s.flow();
    }
    s.shared.registry().rooms.entry(r.room.clone()).or_default().insert(name);
    s.rooms.insert(r.room);
    s.ok();
    s.flow()
}

/// Leaves a room; 404 when not a member.
pub(crate) fn leave(s: &mut Session, r: RoomRequest) -> Flow {
    let Some(name) = s.name().map(str::to_owned) else { return s.flow() };
    if !s.rooms.remove(&r.room) {
        let text = format!("you are not in {}: nothing to leave (see §rooms)", r.room);
        s.error(ResponseCode::NOT_FOUND, text);
        return s.flow();
    }
    {
        let mut reg = s.shared.registry();
        if let Some(members) = reg.rooms.get_mut(&r.room) {
            members.remove(&name);
            if members.is_empty() {
                reg.rooms.remove(&r.room);
            }
        }
    }
    s.ok();
    s.flow()
}
