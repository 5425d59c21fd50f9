//! `get_contacts`, `add_contact`/`add`, `del_contact`/`remove` (`§contacts`).

use std::collections::BTreeSet;

use jim_protocol::codec::encoded_len;
use jim_protocol::limits::MAX_LIST_BYTES;
use jim_protocol::{ContactChange, Response, ResponseCode};

use crate::session::{Flow, Session};
use crate::store::DbOp;

/// Answers 202 with the session's contact list, sorted.
pub(crate) fn get(s: &mut Session) -> Flow {
    let Some(me) = s.name() else { return Flow::Continue };
    let list: Vec<String> = s
        .shared
        .registry()
        .contacts
        .get(me)
        .map(|c| c.iter().cloned().collect())
        .unwrap_or_default();
    s.respond(Response::list(list));
    Flow::Continue
}

/// Adds a known user to the session's contacts, as long as the list still fits in one message.
pub(crate) async fn add(s: &mut Session, c: ContactChange) -> Flow {
    let Some(me) = s.name().map(str::to_owned) else { return Flow::Continue };
    let shared = s.shared.clone();
    let outcome = {
        let mut reg = shared.registry();
        let max = shared.config.max_contacts;
        let full = reg.contact_count >= max;
        if !reg.is_known(shared.accounts.as_ref(), &c.contact) {
            Err((ResponseCode::NOT_FOUND, format!("unknown user {:?} (see §contacts)", c.contact)))
        } else {
            let list = reg.contacts.entry(me.clone()).or_default();
            if list.contains(&c.contact) {
                Ok(false)
            } else if !fits(list, &c.contact) {
                let text = "too many contacts: the list would not fit in one message; remove \
                            some first (see §limits)";
                Err((ResponseCode::BAD_REQUEST, text.to_owned()))
            } else if full {
                let text = format!(
                    "too many contacts on this server: the limit is {max} in all; remove some \
                     first (see §limits)"
                );
                Err((ResponseCode::BAD_REQUEST, text))
            } else {
                list.insert(c.contact.clone());
                reg.contact_count += 1;
                Ok(true)
            }
        }
    };
    if outcome.is_err() {
        // No empty list is kept for an owner whose add failed.
        let mut reg = shared.registry();
        if reg.contacts.get(&me).is_some_and(BTreeSet::is_empty) {
            reg.drop_contacts(&me);
        }
    }
    match outcome {
        Err((code, text)) => s.error(code, text),
        Ok(added) => {
            s.ok();
            if let (true, Some(db)) = (added, &shared.db) {
                Box::pin(db.write(DbOp::AddContact(me, c.contact))).await;
            }
        }
    }
    Flow::Continue
}

/// True when `list` plus `name` still fits in one list response ([`MAX_LIST_BYTES`]).
fn fits(list: &BTreeSet<String>, name: &str) -> bool {
    let used: usize = list.iter().map(|n| encoded_len(n) + 1).sum();
    used + encoded_len(name) < MAX_LIST_BYTES
}

/// Removes a contact; 404 when it is not in the list.
pub(crate) async fn del(s: &mut Session, c: ContactChange) -> Flow {
    let Some(me) = s.name().map(str::to_owned) else { return Flow::Continue };
    let shared = s.shared.clone();
    let removed = {
        let mut reg = shared.registry();
        let removed = reg.contacts.get_mut(&me).is_some_and(|l| l.remove(&c.contact));
        if removed {
            reg.contact_count = reg.contact_count.saturating_sub(1);
            if reg.contacts.get(&me).is_some_and(BTreeSet::is_empty) {
                reg.drop_contacts(&me);
            }
        }
        removed
    };
    if removed {
        s.ok();
        if let Some(db) = &shared.db {
            Box::pin(db.write(DbOp::DelContact(me, c.contact))).await;
        }
    } else {
        let text = format!("{:?} is not in your contacts (see §contacts)", c.contact);
        s.error(ResponseCode::NOT_FOUND, text);
    }
    Flow::Continue
}
