//! `get_contacts`, `add_contact`/`add`, `del_contact`/`remove` (`§contacts`).

use jim_protocol::{ContactChange, Response, ResponseCode};

use crate::session::{Flow, Session};
use crate::state::MAX_CONTACTS;
use crate::store::DbOp;

/// Answers 202 with the session's contact list, sorted.
pub(crate) fn get(s: &mut Session) -> Flow {
    let Some(me) = s.name() else { return s.flow() };
    let list: Vec<String> = s
        .shared
        .registry()
        .contacts
        .get(me)
        .map(|c| c.iter().cloned().collect())
        .unwrap_or_default();
    s.respond(Response::list(list));
    s.flow()
}

/// Adds a known user to the session's contacts.
pub(crate) async fn add(s: &mut Session, c: ContactChange) -> Flow {
    let Some(me) = s.name().map(str::to_owned) else { return s.flow() };
    let shared = s.shared.clone();
    let outcome = {
        let mut reg = shared.registry();
        if !reg.is_known(shared.accounts.as_ref(), &c.contact) {
            Err((ResponseCode::NOT_FOUND, format!("unknown user {:?} (see §contacts)", c.contact)))
        } else {
            let list = reg.contacts.entry(me.clone()).or_default();
            if list.len() >= MAX_CONTACTS && !list.contains(&c.contact) {
                let text = format!("too many contacts: the limit is {MAX_CONTACTS} (see §limits)");
                Err((ResponseCode::BAD_REQUEST, text))
            } else {
                Ok(list.insert(c.contact.clone()))
            }
        }
    };
    match outcome {
        Err((code, text)) => s.error(code, text),
        Ok(added) => {
            s.ok();
            if let (true, Some(db)) = (added, &shared.db) {
                db.write(DbOp::AddContact(me, c.contact)).await;
            }
        }
    }
    s.flow()
}

/// Removes a contact; 404 when it is not in the list.
pub(crate) async fn del(s: &mut Session, c: ContactChange) -> Flow {
    let Some(me) = s.name().map(str::to_owned) else { return s.flow() };
    let shared = s.shared.clone();
    let removed = shared.registry().contacts.get_mut(&me).is_some_and(|l| l.remove(&c.contact));
    if removed {
        s.ok();
        if let Some(db) = &shared.db {
            db.write(DbOp::DelContact(me, c.contact)).await;
        }
    } else {
        let text = format!("{:?} is not in your contacts (see §contacts)", c.contact);
        s.error(ResponseCode::NOT_FOUND, text);
    }
    s.flow()
}
