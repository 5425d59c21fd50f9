//! Chat messages (`§msg`, `§rooms`): direct messages and room fan-out, relayed in each
//! recipient's dialect before the sender's 200 is queued (`§order` O4).

use jim_protocol::{Chat, Message, ResponseCode, Target, Timestamp};

use crate::misbehave::Misbehave;
use crate::session::{Flow, Session};
use crate::state::Peer;
use crate::store::DbOp;

/// Applies a validated chat message.
pub(crate) async fn apply(s: &mut Session, c: Chat) -> Flow {
    let Some(me) = s.name().map(str::to_owned) else { return s.flow() };
    let shared = s.shared.clone();
    let recipients = match &c.to {
        Target::User(to) => direct_recipients(s, &me, to),
        Target::Room(room) => room_recipients(s, &me, room),
    };
    let peers = match recipients {
        Ok(peers) => peers,
        Err((code, text)) => {
            s.error(code, text);
            return s.flow();
        }
    };
    let from = match c.from {
        Some(claimed) if shared.misbehaves(Misbehave::SpoofableFrom) => claimed,
        _ => me.clone(),
    };
    let relay = Message::Chat(Chat {
        time: Some(Timestamp::now()),
        from: Some(from.clone()),
        to: c.to.clone(),
        encoding: c.encoding,
        text: c.text.clone(),
    });
    let mut lost = None;
    if !shared.misbehaves(Misbehave::DropRelays) {
        for peer in &peers {
            if !peer.deliver(&relay) && matches!(c.to, Target::User(_)) {
                lost = Some(c.to.as_str().to_owned());
            }
        }
    }
    match lost {
        Some(to) => s.error(
            ResponseCode::GONE,
            format!("{to} did not read its messages and was disconnected (see §limits)"),
        ),
        None => s.ok(),
    }
    if let Some(db) = &shared.db {
        let time = Timestamp::now().0;
        db.write(DbOp::History { time, from, to: c.to.as_str().to_owned(), text: c.text }).await;
    }
    s.flow()
}

type Outcome = Result<Vec<Peer>, (ResponseCode, String)>;

fn direct_recipients(s: &Session, me: &str, to: &str) -> Outcome {
    let reg = s.shared.registry();
    let Some(peer) = reg.sessions.get(to) else {
        return Err(if reg.is_account(s.shared.accounts.as_ref(), to) {
            (ResponseCode::GONE, format!("{to} is offline (see §msg)"))
        } else {
            (ResponseCode::NOT_FOUND, format!("no user {to:?} is connected (see §msg)"))
        });
    };
    if s.shared.misbehaves(Misbehave::BroadcastDirect) {
        return Ok(reg
            .sessions
            .iter()
            .filter(|(n, _)| n.as_str() != me)
            .map(|(_, p)| p.clone())
            .collect());
    }
    Ok(vec![peer.clone()])
}

fn room_recipients(s: &Session, me: &str, room: &str) -> Outcome {
    let reg = s.shared.registry();
    let Some(members) = reg.rooms.get(room) else {
        return Err((ResponseCode::NOT_FOUND, format!("room {room} does not exist (see §rooms)")));
    };
    if !members.contains(me) {
        let text = format!("you are not a member of {room}: join it first (see §rooms)");
        return Err((ResponseCode::FORBIDDEN, text));
    }
    if s.shared.misbehaves(Misbehave::RoomLeak) {
        return Ok(reg
            .sessions
            .iter()
            .filter(|(n, _)| n.as_str() != me)
            .map(|(_, p)| p.clone())
            .collect());
    }
    Ok(members
        .iter()
        .filter(|member| member.as_str() != me)
        .filter_map(|member| reg.sessions.get(member).cloned())
        .collect())
}
