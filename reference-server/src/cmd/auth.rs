//! Accounts mode: spec `authenticate` (`§authenticate`) and the course 511 challenge
//! (`§course-login`).

use std::sync::Arc;

use jim_protocol::course_login::{password_key, verify_with_key};
use jim_protocol::{Authenticate, Response, ResponseCode};

use crate::session::{Flow, Login, Session};

/// Applies `authenticate`: remembers the name for the presence that follows.
pub(crate) fn authenticate(s: &mut Session, a: Authenticate) -> Flow {
    if s.name().is_some() {
        s.error(ResponseCode::BAD_REQUEST, "already logged in (see §authenticate)");
        return s.flow();
    }
    let accepted = match &s.shared.accounts {
        None => true,
        Some(accounts) => {
            accounts.password(&a.account_name).is_some_and(|pw| same(pw, &a.password))
        }
    };
    if accepted {
        s.login = Login::Anonymous { authenticated: Some(a.account_name) };
        s.ok();
    } else {
        s.login = Login::Anonymous { authenticated: None };
        s.error(ResponseCode::WRONG_CREDENTIALS, "wrong login or password (see §authenticate)");
    }
    s.flow()
}

/// Sends a fresh 511 challenge for `name` and waits for its answer.
pub(crate) fn challenge(s: &mut Session, name: String, pubkey: Option<String>) {
    let challenge = match &s.shared.config.fixed_challenge {
        Some(fixed) => fixed.clone(),
        None => {
            let mut bytes = [0u8; 64];
            rand::fill(&mut bytes);
            hex::encode(bytes)
        }
    };
    s.respond(Response {
        bin: Some(challenge.clone()),
        ..Response::new(ResponseCode::AUTH_CHALLENGE)
    });
    s.login = Login::Challenged { name, challenge, pubkey };
}

/// Checks the answer to a pending challenge: logs in, or 402 and close.
pub(crate) async fn challenge_answer(s: &mut Session, bin: Option<String>) -> Flow {
    let Login::Challenged { name, challenge, pubkey } =
        std::mem::replace(&mut s.login, Login::Anonymous { authenticated: None })
    else {
        return Flow::Continue;
    };
    let key = match (bin.as_deref(), account_key(s, &name).await) {
        (Some(answer), Some(key)) if verify_with_key(&key, &challenge, answer) => Some(key),
        _ => None,
    };
    if key.is_none() {
        tracing::info!(conn = s.conn, user = ?name, "course login failed");
        s.error(ResponseCode::WRONG_CREDENTIALS, "wrong login or password (see §course-login)");
        return Flow::Close;
    }
    crate::cmd::presence::login(s, name, pubkey).await;
    s.flow()
}

/// The course-login key of an account, computed once (PBKDF2 runs off the async workers).
async fn account_key(s: &Session, name: &str) -> Option<Arc<str>> {
    let password = s.shared.accounts.as_ref()?.password(name)?.to_owned();
    if let Some(key) = s.shared.registry().keys.get(name) {
        return Some(key.clone());
    }
    let user = name.to_owned();
    let key: Arc<str> =
        tokio::task::spawn_blocking(move || password_key(&user, &password)).await.ok()?.into();
    s.shared.registry().keys.insert(name.to_owned(), key.clone());
    Some(key)
}

/// Compares two secrets without an early exit on the first difference.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
