//! Accounts mode: spec `authenticate` (`§authenticate`) and the course 511 challenge
//! (`§course-login`), both slowed down against password guessing.
//!
//! Every password attempt on an account takes a turn from that account's token bucket
//! ([`crate::config::LoginRate`]: a burst, then one per interval) before it is checked, so
//! guesses spread over many connections still come at most a few per second per account; an
//! attempt that would wait too long is refused (402) and its connection closed. A correct
//! password gives its turn back, so honest logins do not use the budget up. Unknown names share
//! one bucket (the map stays as small as the accounts file). One connection may send only a few
//! wrong passwords before it is closed; a wrong course answer closes at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use jim_protocol::course_login::{password_key, verify_with_key};
use jim_protocol::{Authenticate, Response, ResponseCode};

use crate::notes::Note;
use crate::session::{Flow, Login, Session};

/// Applies `authenticate`: remembers the name for the presence that follows.
pub(crate) async fn authenticate(s: &mut Session, a: Authenticate) -> Flow {
    if s.name().is_some() {
        s.error(ResponseCode::BAD_REQUEST, "already logged in (see §authenticate)");
        return Flow::Continue;
    }
    let Some(accounts) = &s.shared.accounts else {
        // Open mode: any password is fine, and there is nothing to guess.
        s.login = Login::Anonymous { authenticated: Some(a.account_name) };
        s.ok();
        return Flow::Continue;
    };
    let correct = accounts.password(&a.account_name).is_some_and(|pw| same(pw, &a.password));
    let Some(turn) = take_turn(s, &a.account_name).await else {
        return refuse(s);
    };
    if correct {
        turn.give_back(s);
        s.login = Login::Anonymous { authenticated: Some(a.account_name) };
        s.ok();
        return Flow::Continue;
    }
    s.login = Login::Anonymous { authenticated: None };
    s.failed_logins += 1;
    let limit = s.shared.config.login_rate.per_connection;
    if s.failed_logins >= limit {
        let note = Note::WrongPasswords { limit };
        tracing::info!(conn = s.conn, "{}", s.shared.config.lang.say(&note));
        let text = format!(
            "wrong login or password, {limit} times on this connection: closing it \
             (see §authenticate)"
        );
        s.error(ResponseCode::WRONG_CREDENTIALS, text);
        return Flow::Close;
    }
    s.error(ResponseCode::WRONG_CREDENTIALS, "wrong login or password (see §authenticate)");
    Flow::Continue
}

/// A password attempt's turn, taken from its account's bucket.
struct Turn {
    key: String,
}

impl Turn {
    /// A correct password: the attempt did not use the budget up.
    fn give_back(self, s: &Session) {
        let every = s.shared.config.login_rate.every;
        let mut reg = s.shared.registry();
        if let Some(next) = reg.login_turns.get_mut(&self.key) {
            let now = Instant::now();
            *next = next.checked_sub(every).unwrap_or(now).max(now);
        }
    }
}

/// Waits for a password attempt's turn on `name`'s account (GCRA: the bucket is the time the
/// next attempt is due). `None` when the turn is further away than `max_wait`.
async fn take_turn(s: &Session, name: &str) -> Option<Turn> {
    let rate = s.shared.config.login_rate;
    let known = s.shared.registry().is_account(s.shared.accounts.as_ref(), name);
    // Unknown names share one bucket, so guessing names cannot grow the map.
    let key = if known { name.to_owned() } else { String::new() };
    let now = Instant::now();
    let burst = rate.every.saturating_mul(rate.burst.saturating_sub(1));
    let wait = {
        let mut reg = s.shared.registry();
        let due = reg.login_turns.get(&key).copied().unwrap_or(now).max(now);
        // The attempt may go once `due` is within the burst's allowance of now.
        let wait = due.saturating_duration_since(now).saturating_sub(burst);
        if wait > rate.max_wait {
            s.shared.stats.logins_held.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        reg.login_turns.insert(key.clone(), due + rate.every);
        wait
    };
    if !wait.is_zero() {
        s.shared.stats.logins_held.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(wait).await;
    }
    Some(Turn { key })
}

/// Too many attempts on one account: 402 and close, without checking the password.
fn refuse(s: &mut Session) -> Flow {
    s.login = Login::Anonymous { authenticated: None };
    s.error(
        ResponseCode::WRONG_CREDENTIALS,
        "too many login attempts for this account; try again in a few seconds (see §authenticate)",
    );
    Flow::Close
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
    let Some(turn) = take_turn(s, &name).await else {
        return refuse(s);
    };
    let key = match (bin.as_deref(), account_key(s, &name).await) {
        (Some(answer), Some(key)) if verify_with_key(&key, &challenge, answer) => Some(key),
        _ => None,
    };
    if key.is_some() {
        turn.give_back(s);
    } else {
        let note = s.shared.config.lang.say(&Note::CourseLoginFailed);
        tracing::info!(conn = s.conn, user = ?name, "{note}");
        s.error(ResponseCode::WRONG_CREDENTIALS, "wrong login or password (see §course-login)");
        return Flow::Close;
    }
    crate::cmd::presence::login(s, name, pubkey).await;
    Flow::Continue
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
