//! Before the sessions: what does the target offer? A short scripted exchange per dialect learns
//! the optional capabilities (rooms, contacts, get_users: "unknown action" means absent), the
//! request that can serve as a round-trip barrier (get_contacts, else an unknown action that
//! gets 400 and keeps the connection), whether a delivered message is acknowledged and whether
//! quit closes the connection. Only what is found here is generated, so a server without rooms
//! is never failed for rooms, and tolerated habits (no ack, open after quit) cost no timeouts
//! later. A presence that is refused or not answered ends exploration with that finding.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::judge::{Finding, code_of, t};
use super::model::{BarrierKind, Obligation, Traits};
use crate::jim::{is_push, looks_unknown_action};
use crate::model::{Dialect, DisconnectKind, Level, Text};
use crate::placeholders::now_seconds;
use crate::wire::{Arrival, Conn, Delivery};

struct Probe {
    addr: SocketAddr,
    timeout: Duration,
}

impl Probe {
    async fn open(&self) -> Option<Conn> {
        Conn::open(self.addr, self.timeout).await.ok()
    }

    async fn send(&self, conn: &mut Conn, v: &Value) -> bool {
        let bytes = jim_protocol::codec::to_bytes(v, jim_protocol::Framing::Newline);
        conn.write(&bytes, Delivery::Whole, Instant::now() + self.timeout).await.is_ok()
    }

    /// The next value that is not a push (None: nothing, closed or not JSON).
    async fn next(&self, conn: &mut Conn, within: Duration) -> Option<Value> {
        let deadline = Instant::now() + within;
        for _ in 0..64 {
            match conn.next(deadline).await {
                Arrival::Value { value, .. } if is_push(&value) => {}
                Arrival::Value { value, .. } => return Some(value),
                _ => return None,
            }
        }
        None
    }

    async fn ask(&self, conn: &mut Conn, v: &Value) -> Option<Value> {
        if !self.send(conn, v).await {
            return None;
        }
        self.next(conn, self.timeout).await
    }

    async fn login(&self, spec: bool, name: &str) -> Result<Conn, Text> {
        let mut conn = self
            .open()
            .await
            .ok_or_else(|| t("the connection was refused", "в соединении отказано"))?;
        let presence = if spec {
            json!({"action": "presence", "time": now_seconds(), "type": "status",
                   "user": {"account_name": name, "status": "online"}})
        } else {
            json!({"action": "presence", "time": now_seconds(), "user": {"account_name": name}})
        };
        match self.ask(&mut conn, &presence).await {
            Some(v) if code_of(&v).is_some_and(|(c, _)| (200..300).contains(&c)) => Ok(conn),
            Some(v) => {
                let got = crate::matcher::show(&v, 200);
                Err(t(
                    format!("a presence with a fresh name got {got}"),
                    format!("на presence со свежим именем пришло {got}"),
                ))
            }
            None => {
                let secs = self.timeout.as_secs_f64();
                Err(t(
                    format!("a presence got no answer within {secs} s"),
                    format!("на presence не пришло ответа за {secs} с"),
                ))
            }
        }
    }
}

fn code(v: &Option<Value>) -> Option<i64> {
    v.as_ref().and_then(code_of).map(|(c, _)| c)
}

fn present(v: &Option<Value>, want: i64) -> bool {
    code(v) == Some(want) && !v.as_ref().is_some_and(looks_unknown_action)
}

/// What one dialect's exchange found.
struct Found {
    rooms: bool,
    contacts: bool,
    users: bool,
    unknown_action_barrier: bool,
    acks: bool,
    closes_on_quit: bool,
}

async fn one(p: &Probe, dialect: Dialect, tag: &str) -> Result<Found, Text> {
    let spec = dialect == Dialect::Spec;
    let a_name = format!("{tag}a");
    let b_name = format!("{tag}b");
    let mut a = p.login(spec, &a_name).await?;
    let mut f = Found {
        rooms: false,
        contacts: false,
        users: false,
        unknown_action_barrier: false,
        acks: true,
        closes_on_quit: true,
    };
    let contacts = if spec {
        json!({"action": "get_contacts", "time": now_seconds()})
    } else {
        json!({"action": "get_contacts", "time": now_seconds(), "user": a_name})
    };
    let r = p.ask(&mut a, &contacts).await;
    f.contacts = present(&r, 202);
    if r.is_none() {
        a = p.login(spec, &format!("{tag}c")).await?;
    }
    if spec {
        let room = format!("#{tag}r");
        let r =
            p.ask(&mut a, &json!({"action": "join", "time": now_seconds(), "room": room})).await;
        f.rooms = present(&r, 200);
        if f.rooms {
            let _ = p
                .ask(&mut a, &json!({"action": "leave", "time": now_seconds(), "room": room}))
                .await;
        } else if r.is_none() {
            a = p.login(spec, &format!("{tag}d")).await?;
        }
    } else {
        let r = p
            .ask(
                &mut a,
                &json!({"action": "get_users", "time": now_seconds(), "account_name": a_name}),
            )
            .await;
        f.users = present(&r, 202);
        if r.is_none() {
            a = p.login(spec, &format!("{tag}d")).await?;
        }
    }
    if !f.contacts {
        let unknown = json!({"action": super::wire_form::UNKNOWN_ACTION, "time": now_seconds()});
        let first = p.ask(&mut a, &unknown).await;
        let second = p.ask(&mut a, &unknown).await;
        f.unknown_action_barrier = code(&first) == Some(400) && code(&second) == Some(400);
        if first.is_none() || second.is_none() {
            a = p.login(spec, &format!("{tag}e")).await?;
        }
    }
    // Is a delivered message acknowledged? b receives it, then a's next value within the
    // timeout says (a 200 before the barrier's answer, or before nothing).
    if let Ok(mut b) = p.login(spec, &b_name).await {
        let msg = if spec {
            json!({"action": "msg", "time": now_seconds(), "to": b_name, "from": a_name,
                   "encoding": "ascii", "message": "calibration"})
        } else {
            json!({"action": "message", "time": now_seconds(), "from": a_name, "to": b_name,
                   "mess_text": "calibration"})
        };
        if p.send(&mut a, &msg).await && p.next(&mut b, p.timeout).await.is_some() {
            let next = if f.contacts {
                p.ask(&mut a, &contacts).await
            } else if f.unknown_action_barrier {
                p.ask(
                    &mut a,
                    &json!({"action": super::wire_form::UNKNOWN_ACTION, "time": now_seconds()}),
                )
                .await
            } else {
                p.next(&mut a, p.timeout).await
            };
            f.acks = code(&next) == Some(200);
            if f.acks && (f.contacts || f.unknown_action_barrier) {
                let _ = p.next(&mut a, p.timeout).await;
            }
        }
        b.disconnect(DisconnectKind::Close).await;
    }
    let quit = if spec {
        json!({"action": "quit", "time": now_seconds()})
    } else {
        json!({"action": "exit", "time": now_seconds(), "account_name": a_name})
    };
    if p.send(&mut a, &quit).await {
        let deadline = Instant::now() + p.timeout;
        f.closes_on_quit = loop {
            match a.next(deadline).await {
                Arrival::Closed { .. } => break true,
                Arrival::Nothing => break false,
                _ => {}
            }
        };
    }
    a.disconnect(DisconnectKind::Close).await;
    Ok(f)
}

/// Learns the target's traits for `dialects`; a finding when a fresh presence is not accepted.
pub async fn calibrate(
    addr: SocketAddr,
    timeout: Duration,
    dialects: &[Dialect],
    tag: &str,
) -> Result<Traits, Finding> {
    let p = Probe { addr, timeout };
    let mut traits = Traits {
        dialects: dialects.to_vec(),
        rooms: false,
        contacts: true,
        users: false,
        acks: true,
        closes_on_quit: true,
        barrier: None,
        lesson3: false,
        fixed_name: None,
    };
    let mut unknown_barrier = true;
    for (i, d) in dialects.iter().enumerate() {
        let found = one(&p, *d, &format!("{tag}{i}")).await.map_err(|why| {
            Finding::new(Obligation::PresenceAccepted, Level::Must)
                .sentence(t(
                    format!("exploration could not start: {}", why.en),
                    format!("исследование не началось: {}", why.ru),
                ))
                .expected(t(
                    "200 to a presence with a fresh name",
                    "200 на presence со свежим именем",
                ))
                .observed(why)
        })?;
        traits.rooms |= found.rooms;
        traits.users |= found.users;
        traits.contacts &= found.contacts;
        traits.acks &= found.acks;
        traits.closes_on_quit &= found.closes_on_quit;
        unknown_barrier &= found.unknown_action_barrier || found.contacts;
    }
    traits.barrier = if traits.contacts {
        Some(BarrierKind::Contacts)
    } else if unknown_barrier {
        Some(BarrierKind::UnknownAction)
    } else {
        None
    };
    Ok(traits)
}
