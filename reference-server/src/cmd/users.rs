//! `get_users` (`§get-users`) and `pubkey_need` (`§pubkey`).
//!
//! `get_users` lists up to 64 KiB of names, and peers may ask for it in a pipeline: the answer
//! is chosen and encoded once and shared ([`UserList`]) until someone logs in or out, so a
//! request costs a copy of the bytes, and the registry lock is held only to collect the names
//! that fit, never to sort or encode them.

use std::sync::Arc;

use bytes::Bytes;
use jim_protocol::codec::{encode_value, encoded_len};
use jim_protocol::limits::MAX_LIST_BYTES;
use jim_protocol::{Framing, PubkeyNeed, Response, ResponseCode};
use serde_json::Value;

use crate::session::{Flow, Session};

/// The known users as `get_users` answers them, sorted, with their JSON array encoded once.
#[derive(Debug)]
pub(crate) struct UserList {
    names: Vec<String>,
    array: Bytes,
}

/// Answers 202 with the known users, sorted. When they do not all fit in one message
/// ([`MAX_LIST_BYTES`]), the list keeps, in this order, the requester, the users connected now,
/// the accounts, then everyone else known, as many as fit (`§get-users`): a peer that registers
/// many names cannot make the answer unreadable for everyone else.
pub(crate) fn get_users(s: &mut Session) -> Flow {
    let Some(me) = s.name().map(str::to_owned) else { return Flow::Continue };
    let mut list = shared_list(s);
    if list.names.binary_search(&me).is_err() {
        // The connected users alone overflow the answer and the requester was cut: this answer
        // is the requester's own.
        list = Arc::new(select(s, Some(&me)).0);
    }
    match s.shared.wire.list(s.dialect, &list.array) {
        Some(bytes) => s.push(bytes),
        None => s.respond(Response::list(list.names.clone())),
    }
    Flow::Continue
}

/// The list shared by every requester while nobody logs in or out.
fn shared_list(s: &Session) -> Arc<UserList> {
    if let Some(list) = &s.shared.registry().users {
        return list.clone();
    }
    let (list, version) = select(s, None);
    let list = Arc::new(list);
    let mut reg = s.shared.registry();
    if reg.users_version == version {
        reg.users = Some(list.clone());
    }
    list
}

/// Chooses the names of the answer (with `me` first, if given) under the lock, then sorts and
/// encodes them without it; also returns the registry's version of the users it saw.
fn select(s: &Session, me: Option<&str>) -> (UserList, u64) {
    let (mut names, version) = {
        let reg = s.shared.registry();
        let accounts = s.shared.accounts.iter().flat_map(|a| a.names());
        let candidates = me
            .into_iter()
            .chain(reg.sessions.keys().map(String::as_str))
            .chain(accounts)
            .chain(reg.recorded.iter().map(String::as_str))
            .chain(reg.seen.iter().map(String::as_str));
        let mut kept = std::collections::HashSet::new();
        let mut budget = MAX_LIST_BYTES;
        for name in candidates {
            if kept.contains(name) {
                continue;
            }
            let Some(left) = budget.checked_sub(encoded_len(name) + 1) else { break };
            budget = left;
            kept.insert(name);
        }
        let names: Vec<String> = kept.into_iter().map(str::to_owned).collect();
        (names, reg.users_version)
    };
    names.sort_unstable();
    let mut array = bytes::BytesMut::new();
    let value = Value::Array(names.iter().map(|n| Value::from(n.as_str())).collect());
    encode_value(&value, Framing::Bare, &mut array);
    (UserList { names, array: array.freeze() }, version)
}

/// Answers 511 with the user's public key, or 400 when there is none.
pub(crate) fn pubkey_need(s: &mut Session, p: PubkeyNeed) -> Flow {
    let key =
        s.shared.registry().sessions.get(&p.account_name).and_then(|peer| peer.pubkey.clone());
    match key {
        Some(pem) => {
            s.respond(Response {
                bin: Some(pem.to_string()),
                ..Response::new(ResponseCode::AUTH_CHALLENGE)
            });
        }
        None => {
            let text = format!("no public key for {} (see §pubkey)", p.account_name);
            s.error(ResponseCode::BAD_REQUEST, text);
        }
    }
    Flow::Continue
}
