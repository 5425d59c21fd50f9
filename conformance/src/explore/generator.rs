//! The session generator: seeded, reproducible multi-client sessions weighted toward collisions.
//!
//! A session has 2 to 6 clients (one at a time in lesson 3), a small table of names built from
//! two or three families with their prefixes, extensions and case variants (`an`, `ann`, `anna`,
//! `Ann`), one or two rooms, and 6 to 28 steps. Each step is drawn from what makes sense in the
//! state the model predicts (a client that is down connects, a connected one logs in, a logged-in
//! one talks, joins, leaves, asks for lists, quits, closes or resets), so that sessions reach the
//! interesting states: names reused after a disconnect, messages to someone who just left, rooms
//! left and rejoined. Only what the target offers is drawn (`Traits`), and features that already
//! failed at `should` level are left out of later sessions ([`Feature`]).
//!
//! The same seed, session number and traits always give the same session: the generator owns its
//! random source (XorShift, whose output is fixed by its algorithm) and looks at nothing else.

use std::collections::BTreeSet;

use rand::seq::{IndexedRandom as _, SliceRandom as _};
use rand::{RngExt as _, SeedableRng as _};
use rand_xorshift::XorShiftRng;
use serde::Serialize;

use super::model::{
    BadKind, Branch, ClientId, Dest, Expect, Link, Model, NameState, Op, Reply, Rules, Session,
    Step, Traits,
};
use super::wire_form::{self, MAX_REQUEST_BYTES};
use crate::model::Dialect;
use crate::wire::Delivery;

/// Length of a session prefix (`abc0012_`): names stay within 25 characters.
pub const TAG_LEN: usize = 8;

/// A kind of step that can be left out of later sessions once it failed at `should` level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// A message to oneself.
    SelfMsg,
    /// A message to a name nobody uses.
    MsgUnknown,
    /// A message to a room one is not in.
    RoomOutsider,
    /// leave of a room one is not in.
    LeaveOutsider,
    /// join of a room one is in.
    Rejoin,
    /// Adding an unknown contact.
    AddUnknown,
    /// Removing a name that is not a contact.
    DelMissing,
    /// A presence repeated on the same connection.
    RepeatPresence,
    /// A presence with another name on a logged-in connection.
    Rename,
    /// Raw UTF-8 input.
    RawText,
    /// A connection reset.
    Reset,
    /// Bad input.
    BadInput,
    /// A request before the presence.
    BeforePresence,
    /// A request cut into pieces (split or trickle delivery).
    Pieces,
}

/// The feature a step belongs to, if it is one of those.
pub fn feature(step: &Step, e: &Expect, model: &Model) -> Option<Feature> {
    use super::model::Obligation as O;
    if step.delivery != Delivery::Whole {
        return Some(Feature::Pieces);
    }
    let c = step.op.client();
    match &step.op {
        Op::Msg { raw: true, .. } => Some(Feature::RawText),
        Op::Msg { to: Dest::User(n), .. } if model.name_state(*n) == NameState::Online(c) => {
            Some(Feature::SelfMsg)
        }
        Op::Reset { .. } => Some(Feature::Reset),
        Op::Bad { .. } => Some(Feature::BadInput),
        _ => match e.obligation {
            O::UnknownRecipient => Some(Feature::MsgUnknown),
            O::NotMember => Some(Feature::RoomOutsider),
            O::LeaveNotMember => Some(Feature::LeaveOutsider),
            O::Join if matches!(e.reply, Reply::Either { .. }) => Some(Feature::Rejoin),
            O::AddUnknown => Some(Feature::AddUnknown),
            O::DelMissing => Some(Feature::DelMissing),
            O::RepeatPresence => Some(Feature::RepeatPresence),
            O::Rename => Some(Feature::Rename),
            O::BeforePresence => Some(Feature::BeforePresence),
            _ => None,
        },
    }
}

/// What the generator may use, besides the target's traits.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Invalid input (unknown actions, malformed JSON, a presence without a name).
    pub hostile: bool,
    /// Delivery modes besides whole (split, trickle).
    pub pieces: Vec<Delivery>,
    /// The model's rules (tolerances), so predictions match the judge's.
    pub rules: Rules,
}

const FAMILIES: &[&str] = &["ann", "bob", "eve", "dan", "kim", "lee", "ива", "max"];
const ROOMS: &[&str] = &["r", "lobby", "dev"];

/// Pieces texts are made of, with weights (the alphabet of the issue: ASCII, Cyrillic, emoji,
/// quotes, backslashes, braces, newlines).
const PIECES: &[(u32, &str)] = &[
    (30, "hi"),
    (10, "hello there"),
    (6, "1 2 3"),
    (8, "привет"),
    (4, "Ива"),
    (5, "😀"),
    (3, "🎉🎉"),
    (4, "\"quoted\""),
    (3, "it's"),
    (4, "back\\slash"),
    (3, "C:\\new"),
    (9, "}{"),
    (6, "{\"action\":\"quit\"}"),
    (2, "}"),
    (4, "line\nbreak"),
    (2, "\n"),
    (2, "tab\there"),
    (2, "ё"),
];

fn weighted<'a, T>(rng: &mut XorShiftRng, items: &'a [(u32, T)]) -> &'a T {
    let total: u32 = items.iter().map(|(w, _)| *w).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for (w, item) in items {
        if pick < *w {
            return item;
        }
        pick -= w;
    }
    &items[items.len() - 1].1
}

fn text(rng: &mut XorShiftRng) -> String {
    match rng.random_range(0..100) {
        0..6 => String::new(),
        6..10 => "x".repeat(500),
        10..13 => {
            let mut s = String::new();
            while s.chars().count() < 480 {
                let piece: &&str = weighted(rng, PIECES);
                s.push_str(piece);
                s.push(' ');
            }
            s
        }
        _ => {
            let n = rng.random_range(1..=3);
            let parts: Vec<&str> = (0..n).map(|_| *weighted(rng, PIECES)).collect();
            parts.join(" ")
        }
    }
}

/// Builds the name table: families with variants. The first name of each family is its
/// canonical form.
fn names(rng: &mut XorShiftRng) -> (Vec<String>, Vec<usize>) {
    let families = rng.random_range(2..=3);
    let mut pool: Vec<&str> = FAMILIES.to_vec();
    let mut table: Vec<String> = Vec::new();
    let mut canon = Vec::new();
    for _ in 0..families {
        let i = rng.random_range(0..pool.len());
        let base = pool.remove(i);
        canon.push(table.len());
        table.push(base.to_owned());
        let chars: Vec<char> = base.chars().collect();
        let mut variants = vec![
            format!("{base}{}", chars.last().copied().unwrap_or('a')),
            {
                let mut c = chars.clone();
                if let Some(f) = c.first_mut() {
                    *f = f.to_uppercase().next().unwrap_or(*f);
                }
                c.into_iter().collect()
            },
            chars[..chars.len().saturating_sub(1).max(1)].iter().collect(),
        ];
        variants.retain(|v| v != base && !table.contains(v));
        let keep = rng.random_range(1..=variants.len().max(1));
        for v in variants.into_iter().take(keep) {
            table.push(v);
        }
    }
    (table, canon)
}

/// Generates session `index` of the run with `seed`. `disabled` features are not drawn.
pub fn generate(
    seed: u64,
    index: u64,
    traits: &Traits,
    cfg: &GenConfig,
    disabled: &BTreeSet<Feature>,
) -> Session {
    let mut rng = XorShiftRng::seed_from_u64(
        seed ^ index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    if traits.lesson3 {
        return lesson3(&mut rng, traits);
    }
    let clients = *[2usize, 3, 3, 3, 4, 4, 5, 6].choose(&mut rng).unwrap_or(&3);
    let dialects: Vec<Dialect> =
        (0..clients).map(|_| *traits.dialects.choose(&mut rng).unwrap_or(&Dialect::Spec)).collect();
    let (names, canon) = names(&mut rng);
    // Few rooms, so that members meet: one room in three sessions out of four.
    let n_rooms = if rng.random_bool(0.75) { 1 } else { 2 };
    let rooms: Vec<String> = ROOMS[..n_rooms].iter().map(|s| (*s).to_owned()).collect();
    // Each client has a name it usually logs in with: canonical names first, then variants,
    // each once while there are enough (collisions come from the other draws).
    let mut order: Vec<usize> = canon.clone();
    let mut rest: Vec<usize> = (0..names.len()).filter(|n| !canon.contains(n)).collect();
    rest.shuffle(&mut rng);
    order.extend(rest);
    let own: Vec<usize> = (0..clients).map(|c| order[c % order.len().max(1)]).collect();
    let mut session = Session { dialects, names, rooms, steps: Vec::new() };
    let mut model = Model::new(&session, cfg.rules.clone());
    let target_len = rng.random_range(10..=32);
    let mut attempts = 0;
    while session.steps.len() < target_len && attempts < 400 {
        attempts += 1;
        let c = rng.random_range(0..clients);
        let Some(op) = draw(&mut rng, &session, &model, traits, cfg, c, &own) else { continue };
        if !model.applicable(&op) {
            continue;
        }
        let delivery = if op.is_request() && !cfg.pieces.is_empty() && rng.random_bool(0.25) {
            *cfg.pieces.choose(&mut rng).unwrap_or(&Delivery::Whole)
        } else {
            Delivery::Whole
        };
        let step = Step { op, delivery };
        let i = session.steps.len();
        let e = model.expect(i, &step.op);
        if feature(&step, &e, &model).is_some_and(|f| disabled.contains(&f)) {
            continue;
        }
        // Without acks, a message nobody receives and nobody answers is invisible: the next
        // request could reach the server in the same read. Leave such steps out.
        if !traits.acks && matches!(step.op, Op::Msg { .. }) {
            let silent = match &e.reply {
                Reply::Ok { optional: true, .. } => e.relays.is_empty() && e.echo.is_none(),
                Reply::Either { .. } => true,
                _ => false,
            };
            if silent {
                continue;
            }
        }
        if step.delivery == Delivery::Trickle
            && wire_form::request(&session, "x".repeat(TAG_LEN).as_str(), &model, &step.op)
                .is_some_and(|r| r.bytes.len() > 200)
        {
            continue;
        }
        model.commit(i, &step.op, predicted(&e, &step.op, &model));
        session.steps.push(step);
    }
    session
}

/// The branch a correct server takes (used to predict the state while generating).
fn predicted(e: &Expect, op: &Op, _model: &Model) -> Branch {
    match (&e.reply, op) {
        (Reply::Refused { .. }, Op::Presence { .. }) => Branch::Closed,
        (_, Op::Bad { .. }) if _model.rules().close_on_bad => Branch::Closed,
        (Reply::Refused { .. }, _) => Branch::Refused,
        _ => Branch::Accepted,
    }
}

#[allow(clippy::too_many_arguments)]
fn draw(
    rng: &mut XorShiftRng,
    session: &Session,
    model: &Model,
    traits: &Traits,
    cfg: &GenConfig,
    c: ClientId,
    own: &[usize],
) -> Option<Op> {
    let me = model.client(c)?;
    let spec = me.dialect == Dialect::Spec;
    let n_names = session.names.len();
    let leaving: Vec<usize> =
        (0..n_names).filter(|n| matches!(model.name_state(*n), NameState::Leaving(..))).collect();
    let online: Vec<usize> = model.online();
    Some(match me.link {
        Link::Down => Op::Connect { c },
        Link::Up => {
            let roll = rng.random_range(0..100);
            if roll < 5 && cfg.hostile {
                Op::Bad {
                    c,
                    kind: *[BadKind::UnknownAction, BadKind::Malformed, BadKind::NoName]
                        .choose(rng)?,
                }
            } else if roll < 9 {
                let to = Dest::User(rng.random_range(0..n_names));
                Op::Msg { c, to, text: "early".into(), forged: None, raw: false }
            } else {
                let name = match rng.random_range(0..100) {
                    0..62 => own.get(c).copied().unwrap_or(0),
                    62..74 => own.choose(rng).copied().unwrap_or(0),
                    74..90 if !leaving.is_empty() => *leaving.choose(rng)?,
                    _ => rng.random_range(0..n_names),
                };
                Op::Presence { c, name }
            }
        }
        Link::In => {
            let mut menu: Vec<(u32, u8)> = vec![(30, 0), (4, 9), (3, 10), (2, 11)];
            if traits.rooms && spec {
                let join = if me.rooms.is_empty() { 22 } else { 6 };
                menu.extend([(24, 1), (join, 2), (9, 3)]);
            }
            if traits.contacts {
                menu.extend([(4, 4), (6, 5), (4, 6)]);
            }
            if traits.users && !spec {
                menu.push((4, 7));
            }
            if spec {
                menu.push((3, 8));
            }
            if cfg.hostile {
                menu.push((3, 12));
            }
            let my_name = me.name.unwrap_or(0);
            match *weighted(rng, &menu) {
                0 => {
                    let to = match rng.random_range(0..100) {
                        0..55 if !online.is_empty() => *online.choose(rng)?,
                        55..63 => my_name,
                        63..75 if !leaving.is_empty() && traits.acks => *leaving.choose(rng)?,
                        _ => rng.random_range(0..n_names),
                    };
                    msg(rng, c, Dest::User(to), spec, session, my_name)
                }
                1 => {
                    let room = rng.random_range(0..session.rooms.len());
                    msg(rng, c, Dest::Room(room), spec, session, my_name)
                }
                2 => Op::Join { c, room: rng.random_range(0..session.rooms.len()) },
                3 => {
                    let mine: Vec<usize> = me.rooms.iter().copied().collect();
                    let room = if !mine.is_empty() && rng.random_bool(0.8) {
                        *mine.choose(rng)?
                    } else {
                        rng.random_range(0..session.rooms.len())
                    };
                    Op::Leave { c, room }
                }
                4 => Op::GetContacts { c },
                5 => {
                    let known: Vec<usize> = model.seen.iter().copied().collect();
                    let who = if !known.is_empty() && (rng.random_bool(0.8) || !spec) {
                        *known.choose(rng)?
                    } else {
                        rng.random_range(0..n_names)
                    };
                    Op::AddContact { c, who }
                }
                6 => {
                    let mine: Vec<usize> = model
                        .contacts
                        .get(&my_name)
                        .map(|s| s.iter().copied().collect())
                        .unwrap_or_default();
                    let who = if !mine.is_empty() && (rng.random_bool(0.8) || !spec) {
                        *mine.choose(rng)?
                    } else {
                        rng.random_range(0..n_names)
                    };
                    Op::DelContact { c, who }
                }
                7 => Op::GetUsers { c },
                8 => {
                    let name =
                        if rng.random_bool(0.6) { my_name } else { rng.random_range(0..n_names) };
                    Op::Presence { c, name }
                }
                9 => Op::Quit { c },
                10 => Op::Close { c },
                11 => Op::Reset { c },
                _ => Op::Bad {
                    c,
                    kind: *[BadKind::UnknownAction, BadKind::Malformed, BadKind::NoName]
                        .choose(rng)?,
                },
            }
        }
    })
}

fn msg(
    rng: &mut XorShiftRng,
    c: ClientId,
    to: Dest,
    spec: bool,
    session: &Session,
    my_name: usize,
) -> Op {
    let mut text = text(rng);
    let forged = (spec && rng.random_bool(0.08))
        .then(|| rng.random_range(0..session.names.len()))
        .filter(|n| *n != my_name);
    let raw = !text.is_ascii() && rng.random_bool(0.15);
    // Keep every request within the original spec's 640 bytes (what student code reads in one
    // recv): shorten the text until the longest form of the request fits.
    let probe = |t: &str| {
        wire_form::msg_size(spec, &"x".repeat(TAG_LEN + 24), &"x".repeat(TAG_LEN + 24), t, raw)
    };
    while !text.is_empty() && probe(&text) > MAX_REQUEST_BYTES {
        text.pop();
    }
    Op::Msg { c, to, text, forged, raw }
}

fn lesson3(rng: &mut XorShiftRng, traits: &Traits) -> Session {
    let clients = rng.random_range(1..=3);
    let (mut names, _) = names(rng);
    if let Some(fixed) = &traits.fixed_name {
        names = vec![fixed.clone()];
    }
    let mut steps = Vec::new();
    for c in 0..clients {
        steps.push(Step { op: Op::Connect { c }, delivery: Delivery::Whole });
        let name = rng.random_range(0..names.len());
        steps.push(Step { op: Op::Presence { c, name }, delivery: Delivery::Whole });
        steps.push(Step { op: Op::Close { c }, delivery: Delivery::Whole });
    }
    Session {
        dialects: vec![*traits.dialects.first().unwrap_or(&Dialect::Spec); clients],
        names,
        rooms: Vec::new(),
        steps,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::explore::model::BarrierKind;

    pub(crate) fn traits() -> Traits {
        Traits {
            dialects: vec![Dialect::Spec, Dialect::Course],
            rooms: true,
            contacts: true,
            users: true,
            acks: true,
            closes_on_quit: true,
            barrier: Some(BarrierKind::Contacts),
            lesson3: false,
            fixed_name: None,
        }
    }

    fn cfg() -> GenConfig {
        GenConfig {
            hostile: true,
            pieces: Vec::new(),
            rules: Rules { ack_optional: false, echo_allowed: false, close_on_bad: false },
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_session_and_another_seed_another() {
        let a = generate(7, 3, &traits(), &cfg(), &BTreeSet::new());
        let b = generate(7, 3, &traits(), &cfg(), &BTreeSet::new());
        let c = generate(8, 3, &traits(), &cfg(), &BTreeSet::new());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!((2..=6).contains(&a.dialects.len()));
    }

    #[test]
    fn names_fit_and_requests_stay_within_640_bytes() {
        for i in 0..300 {
            let s = generate(1, i, &traits(), &cfg(), &BTreeSet::new());
            for n in &s.names {
                assert!(n.chars().count() + TAG_LEN <= 25, "{n}");
            }
            let mut model = Model::new(&s, cfg().rules);
            for (k, step) in s.steps.iter().enumerate() {
                if !model.applicable(&step.op) {
                    continue;
                }
                if let Some(r) = wire_form::request(&s, "abc012_", &model, &step.op) {
                    assert!(
                        r.bytes.len() <= MAX_REQUEST_BYTES,
                        "{} bytes: {:?}",
                        r.bytes.len(),
                        step.op
                    );
                }
                let e = model.expect(k, &step.op);
                model.commit(k, &step.op, predicted(&e, &step.op, &model));
            }
        }
    }

    #[test]
    fn disabled_features_are_not_drawn() {
        let all: BTreeSet<Feature> = [Feature::SelfMsg, Feature::Reset, Feature::BadInput].into();
        for i in 0..200 {
            let s = generate(5, i, &traits(), &cfg(), &all);
            assert!(s.steps.iter().all(|st| !matches!(st.op, Op::Reset { .. } | Op::Bad { .. })));
        }
    }
}
