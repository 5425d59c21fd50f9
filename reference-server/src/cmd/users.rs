//! `get_users` (`§get-users`) and `pubkey_need` (`§pubkey`).

use std::collections::BTreeSet;

use jim_protocol::codec::encoded_len;
use jim_protocol::limits::MAX_LIST_BYTES;
use jim_protocol::{PubkeyNeed, Response, ResponseCode};

use crate::session::{Flow, Session};

/// Answers 202 with the known users, sorted. When they do not all fit in one message
/// ([`MAX_LIST_BYTES`]), the list keeps, in this order, the requester, the users connected now,
/// the accounts, then everyone else known, as many as fit (`§get-users`): a peer that registers
/// many names cannot make the answer unreadable for everyone else.
pub(crate) fn get_users(s: &mut Session) -> Flow {
    let me = s.name().map(str::to_owned);
    let names: BTreeSet<String> = {
        let reg = s.shared.registry();
        let accounts = s.shared.accounts.iter().flat_map(|a| a.names());
        let candidates = me
            .iter()
            .map(String::as_str)
            .chain(reg.sessions.keys().map(String::as_str))
            .chain(accounts)
            .chain(reg.recorded.iter().map(String::as_str))
            .chain(reg.seen.iter().map(String::as_str));
        let mut kept = BTreeSet::new();
        let mut budget = MAX_LIST_BYTES;
        for name in candidates {
            if kept.contains(name) {
                continue;
            }
            let Some(left) = budget.checked_sub(encoded_len(name) + 1) else { break };
            budget = left;
            kept.insert(name.to_owned());
        }
        kept
    };
    s.respond(Response::list(names.into_iter().collect()));
    s.flow()
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
    s.flow()
}
