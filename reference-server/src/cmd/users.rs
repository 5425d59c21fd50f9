//! `get_users` (`§get-users`) and `pubkey_need` (`§pubkey`).

use std::collections::BTreeSet;

use jim_protocol::{PubkeyNeed, Response, ResponseCode};

use crate::session::{Flow, Session};

/// Answers 202 with every known user, sorted.
pub(crate) fn get_users(s: &mut Session) -> Flow {
    let names: BTreeSet<String> = {
        let reg = s.shared.registry();
        let mut names: BTreeSet<String> = reg.sessions.keys().cloned().collect();
        names.extend(reg.seen.iter().cloned());
        names.extend(reg.recorded.iter().cloned());
        if let Some(accounts) = &s.shared.accounts {
            names.extend(accounts.names().map(str::to_owned));
        }
        names
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
            s.respond(Response { bin: Some(pem), ..Response::new(ResponseCode::AUTH_CHALLENGE) });
        }
        None => {
            let text = format!("no public key for {} (see §pubkey)", p.account_name);
            s.error(ResponseCode::BAD_REQUEST, text);
        }
    }
    s.flow()
}
