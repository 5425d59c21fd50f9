//! `join` and `leave` (`§rooms`). Messages to a room are in [`crate::cmd::chat`].
//!
//! A room exists while it has members: the last one to leave (or disconnect) frees it. Rooms are
//! bounded per session (`MAX_ROOMS_PER_SESSION`) and in total (`Config::max_rooms`), so peers
//! cannot grow the server's memory with rooms (`§limits`).

use jim_protocol::{ResponseCode, RoomRequest};

use crate::session::{Flow, Session};
use crate::state::{MAX_ROOMS_PER_SESSION, Registry, shrink};

/// Joins a room, creating it if needed (already a member is fine).
pub(crate) fn join(s: &mut Session, r: RoomRequest) -> Flow {
    let Some(name) = s.name().map(str::to_owned) else { return Flow::Continue };
    if !s.rooms.contains(&r.room) && s.rooms.len() >= MAX_ROOMS_PER_SESSION {
        let text = format!("too many rooms: the limit is {MAX_ROOMS_PER_SESSION} (see §limits)");
        s.error(ResponseCode::BAD_REQUEST, text);
        return Flow::Continue;
    }
    let max_rooms = s.shared.config.max_rooms;
    let joined = {
        let mut reg = s.shared.registry();
        let joined = reg.rooms.contains_key(&r.room) || reg.rooms.len() < max_rooms;
        if joined {
            reg.rooms.entry(r.room.clone()).or_default().insert(name);
        }
        joined
    };
    if !joined {
        let text = format!(
            "too many rooms on this server: the limit is {max_rooms}; join an existing room \
             (see §limits)"
        );
        s.error(ResponseCode::BAD_REQUEST, text);
        return Flow::Continue;
    }
    s.rooms.insert(r.room);
    s.ok();
    Flow::Continue
}

/// Leaves a room; 404 when not a member.
pub(crate) fn leave(s: &mut Session, r: RoomRequest) -> Flow {
    let Some(name) = s.name().map(str::to_owned) else { return Flow::Continue };
    if !s.rooms.remove(&r.room) {
        let text = format!("you are not in {}: nothing to leave (see §rooms)", r.room);
        s.error(ResponseCode::NOT_FOUND, text);
        return Flow::Continue;
    }
    remove_member(&mut s.shared.registry(), &r.room, &name);
    s.ok();
    Flow::Continue
}

/// Takes `name` out of `room`, and frees the room when it was the last member.
pub(crate) fn remove_member(reg: &mut Registry, room: &str, name: &str) {
    if let Some(members) = reg.rooms.get_mut(room) {
        members.remove(name);
        if members.is_empty() {
            reg.rooms.remove(room);
            shrink(&mut reg.rooms);
        }
    }
}
