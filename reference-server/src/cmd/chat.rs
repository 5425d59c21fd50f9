//! Chat messages (`§msg`, `§rooms`): direct messages and room fan-out, relayed in each
//! recipient's dialect before the sender's 200 is queued (`§order` O4).

use jim_protocol::{Chat, Message, ResponseCode, Target, Timestamp};

use crate::misbehave::Misbehave;
use crate::session::{Flow, Session};
use crate::state::{Outgoing, Peer};
use crate::store::DbOp;

/// Applies a validated chat message.
pub(crate) async fn apply(s: &mut Session, c: Chat) -> Flow {
    let shared = s.shared.clone();
    if let (Some(op), Some(db)) = (relay(s, c), &shared.db) {
        // Boxed: the write's future would otherwise make every chat message's future (boxed
        // per request by the connection) larger, with or without a database.
        Box::pin(db.write(op)).await;
    }
    Flow::Continue
}

/// Relays `c` and queues the sender's answer; returns the history record to store, when there
/// is a database.
fn relay(s: &mut Session, c: Chat) -> Option<DbOp> {
    let me = s.name().map(str::to_owned)?;
    let shared = s.shared.clone();
    let recipients = match &c.to {
        Target::User(to) => direct_recipients(s, &me, to),
        Target::Room(room) => room_recipients(s, &me, room),
    };
    let peers = match recipients {
        Ok(peers) => peers,
        Err((code, text)) => {
            s.error(code, text);
            return None;
        }
    };
    let from = match c.from {
        Some(claimed) if shared.misbehaves(Misbehave::SpoofableFrom) => claimed,
        _ => me,
    };
    let is_direct = matches!(c.to, Target::User(_));
    let relay = Message::Chat(Chat {
        time: Some(Timestamp::now()),
        from: Some(from),
        to: c.to,
        encoding: c.encoding,
        text: c.text,
    });
    let mut lost = false;
    if !shared.misbehaves(Misbehave::DropRelays) {
        // Encoded once per dialect, whatever the number of recipients.
        let mut outgoing = Outgoing::new(&relay, &shared.wire);
        for peer in &peers {
            if !peer.deliver(&mut outgoing, &shared.stats) && is_direct {
                lost = true;
            }
        }
    }
    let Message::Chat(relay) = relay else { return None };
    if lost {
        let to = relay.to.as_str();
        s.error(
            ResponseCode::GONE,
            format!("{to} did not read its messages and was disconnected (see §limits)"),
        );
    } else {
        s.ok();
    }
    shared.db.as_ref()?;
    let time = Timestamp::now().0;
    let from = relay.from.unwrap_or_default();
    let to = match relay.to {
        Target::User(name) | Target::Room(name) => name,
    };
    Some(DbOp::History { time, from, to, text: relay.text })
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
