//! The session generator: seeded, reproducible multi-client sessions weighted toward collisions.
//!
//! A session has 2 to 6 clients (one at a time in lesson 3), a small table of names built from
//! two or three families with their prefixes, extensions and case variants (`an`, `ann`, `anna`,
//! `Ann`), one to three rooms, and 10 to about 40 steps. Each step is drawn from what makes sense
//! in the state the model predicts (a client that is down connects, a connected one logs in, a
//! logged-in one talks, joins, leaves, asks for lists, renames, quits, closes or resets; one whose
//! presence was refused goes on with its connection, tries another name or gives up), so that
//! sessions reach the interesting states: names reused after a disconnect, messages to someone
//! who just left, rooms left and rejoined.
//!
//! A server keeps some state per connection and some per name, and its bugs hide where the two
//! meet, in states an even mix of operations rarely reaches. So each session has a theme
//! (`Theme`) that weights the draw toward one family of them and, for the focused themes,
//! opens with everybody logged in (and in rooms, or with contacts) and follows some steps with
//! their natural second half: clients in two or three rooms who leave one and keep talking in
//! another; comebacks with the same name right after a quit, close or reset, with or without
//! rejoining, while the others talk in the rooms of the earlier connection; presences refused
//! with 409 whose connection goes on (requests, a free name) or goes away while the name's owner
//! is messaged. The `coverage` test measures how many sessions reach each of these states.
//! Only what the target offers is drawn (`Traits`), and features that already failed at
//! `should` level are left out of later sessions ([`Feature`]).
//!
//! The same seed, session number and traits always give the same session: the generator owns its
//! random source (XorShift, whose output is fixed by its algorithm) and looks at nothing else
//! (sizes are measured with a fixed `time`, never the clock).

use std::collections::BTreeSet;

use rand::seq::{IndexedRandom as _, SliceRandom as _};
use rand::{RngExt as _, SeedableRng as _};
use rand_xorshift::XorShiftRng;
use serde::Serialize;

use super::model::{
    BadKind, Branch, ClientId, ClientState, Dest, Expect, Link, Model, NameId, NameState, Op,
    Reply, RoomId, Rules, Session, Step, Traits,
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

/// What a session dwells on, drawn once per session. Every theme keeps every operation
/// possible; each one weights the draw toward a family of states that an even mix reaches
/// rarely (the `coverage` test measures how often each is reached).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Theme {
    /// Everything at its usual weight.
    Mixed,
    /// Two or three rooms: clients in several rooms at once, leaving one and using another,
    /// the other members' view of both.
    Rooms,
    /// Disconnects (quit, close, reset) and comebacks with the same name: rooms rejoined or
    /// not, messages to the rooms of the earlier connection, contacts and user lists again.
    Comebacks,
    /// Names in conflict: presences refused with 409 on connections that go on (requests, a
    /// free name, a close), renames by a second presence.
    Logins,
}

const THEMES: &[(u32, Theme)] =
    &[(34, Theme::Mixed), (22, Theme::Rooms), (26, Theme::Comebacks), (18, Theme::Logins)];

/// One entry of the menu a logged-in or connected client draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    MsgUser,
    MsgRoom,
    Join,
    Leave,
    Contacts,
    Add,
    Del,
    Users,
    Presence,
    Quit,
    Close,
    Reset,
    Bad,
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
    let theme = *weighted(&mut rng, THEMES);
    let sizes: &[usize] = match theme {
        Theme::Mixed => &[2, 3, 3, 3, 4, 4, 5, 6],
        Theme::Rooms | Theme::Logins => &[3, 3, 4, 4, 5],
        Theme::Comebacks => &[2, 3, 3, 4, 4],
    };
    let clients = *sizes.choose(&mut rng).unwrap_or(&3);
    let dialects: Vec<Dialect> =
        (0..clients).map(|_| *traits.dialects.choose(&mut rng).unwrap_or(&Dialect::Spec)).collect();
    let (names, canon) = names(&mut rng);
    // Few rooms, so that members meet; two or three when rooms are the theme.
    let room_counts: &[(u32, usize)] = match theme {
        Theme::Rooms => &[(55, 2), (45, 3)],
        Theme::Logins => &[(1, 1)],
        Theme::Mixed | Theme::Comebacks => &[(65, 1), (25, 2), (10, 3)],
    };
    let n_rooms = *weighted(&mut rng, room_counts);
    let rooms: Vec<String> = ROOMS[..n_rooms].iter().map(|s| (*s).to_owned()).collect();
    // Each client has a name it usually logs in with: canonical names first, then variants,
    // each once while there are enough (collisions come from the other draws). When logins are
    // the theme, two clients (two pairs with four or more) want the same name.
    let mut order: Vec<usize> = canon.clone();
    let mut rest: Vec<usize> = (0..names.len()).filter(|n| !canon.contains(n)).collect();
    rest.shuffle(&mut rng);
    order.extend(rest);
    let mut own: Vec<usize> = (0..clients).map(|c| order[c % order.len().max(1)]).collect();
    if theme == Theme::Logins {
        own[clients - 1] = own[0];
        if clients >= 4 {
            own[clients - 2] = own[1];
        }
    }
    // Steps after the opening (themed sessions open with logins and joins).
    let more = match theme {
        Theme::Mixed => rng.random_range(10..=32),
        Theme::Logins => rng.random_range(8..=22),
        Theme::Rooms | Theme::Comebacks => rng.random_range(10..=24),
    };
    let session = Session { dialects, names, rooms, steps: Vec::new() };
    let draw = Draw {
        rng,
        traits,
        cfg,
        theme,
        n_names: session.names.len(),
        n_rooms,
        own,
        last_name: vec![None; clients],
    };
    let mut b = Builder { model: Model::new(&session, cfg.rules.clone()), session, draw, disabled };
    b.opening();
    let target_len = b.session.steps.len() + more;
    let mut previous: Option<ClientId> = None;
    let mut attempts = 0;
    while b.session.steps.len() < target_len && attempts < 400 {
        attempts += 1;
        // A client often acts twice in a row (leave one room, then talk in the other; refused,
        // then try again), otherwise anyone.
        let c = match previous {
            Some(p) if b.draw.rng.random_bool(0.3) => p,
            _ => b.draw.rng.random_range(0..clients),
        };
        let Some(op) = b.draw.op(&b.model, c) else { continue };
        let before = b.model.client(c).cloned();
        if b.push(op.clone()) {
            previous = Some(c);
            if let Some(before) = before {
                b.follow_up(&op, &before);
            }
        }
    }
    b.session
}

/// A session being generated: the steps so far and the state a correct server would be in.
struct Builder<'a> {
    session: Session,
    model: Model,
    draw: Draw<'a>,
    disabled: &'a BTreeSet<Feature>,
}

impl Builder<'_> {
    /// The opening of a themed session, so that it reaches its theme's states early: everyone
    /// connects and logs in with the name they want (two want the same when logins are the
    /// theme), then joins one or two rooms (rooms), or a room and a contact (comebacks).
    fn opening(&mut self) {
        let theme = self.draw.theme;
        if theme == Theme::Mixed {
            return;
        }
        let clients = self.session.dialects.len();
        for c in 0..clients {
            let name = self.draw.own.get(c).copied().unwrap_or(0);
            self.push(Op::Connect { c });
            self.push(Op::Presence { c, name });
        }
        for c in 0..clients {
            let spec = self.session.dialects.get(c) == Some(&Dialect::Spec);
            let rooms = self.draw.traits.rooms && spec;
            match theme {
                Theme::Rooms if rooms => {
                    let first = self.draw.any_room();
                    self.push(Op::Join { c, room: first });
                    if self.draw.rng.random_bool(0.75) {
                        let second = (first + 1) % self.draw.n_rooms.max(1);
                        self.push(Op::Join { c, room: second });
                    }
                }
                Theme::Comebacks => {
                    if rooms && self.draw.rng.random_bool(0.8) {
                        let room =
                            if self.draw.rng.random_bool(0.7) { 0 } else { self.draw.any_room() };
                        self.push(Op::Join { c, room });
                    }
                    let seen: Vec<NameId> = self.model.seen.iter().copied().collect();
                    if self.draw.traits.contacts && self.draw.rng.random_bool(0.5) {
                        let who = self.draw.name_of(&seen);
                        self.push(Op::AddContact { c, who });
                    }
                }
                _ => {}
            }
        }
    }

    /// What the theme makes likely right after `op` (by a client that was in state `before`):
    /// the second half of the situations a random order rarely puts together.
    fn follow_up(&mut self, op: &Op, before: &ClientState) {
        let c = op.client();
        let gone = matches!(op, Op::Quit { .. } | Op::Close { .. } | Op::Reset { .. });
        match (self.draw.theme, before.link) {
            (Theme::Comebacks, Link::In) if gone => self.comeback(c, before),
            (Theme::Rooms, Link::In) if matches!(op, Op::Leave { .. }) => {
                // Left one room: talk in another one it is still in.
                let kept: Vec<RoomId> = self
                    .model
                    .client(c)
                    .map(|s| s.rooms.iter().copied().collect())
                    .unwrap_or_default();
                if let Some(room) = kept.choose(&mut self.draw.rng).copied() {
                    if self.draw.rng.random_bool(0.6) {
                        let op = self.draw.msg(c, Dest::Room(room), true, before.name.unwrap_or(0));
                        self.push(op);
                    }
                }
            }
            (Theme::Logins, Link::Up) if gone && before.tried.is_some() => {
                // A refused connection went away: the name's owner must still have it.
                let Some(name) = before.tried else { return };
                let NameState::Online(owner) = self.model.name_state(name) else { return };
                if self.draw.rng.random_bool(0.5) {
                    let senders: Vec<ClientId> = (0..self.session.dialects.len())
                        .filter(|x| *x != owner && self.logged_in(*x))
                        .collect();
                    if let Some(s) = senders.choose(&mut self.draw.rng).copied() {
                        let spec = self.session.dialects.get(s) == Some(&Dialect::Spec);
                        let from = self.model.client(s).and_then(|x| x.name).unwrap_or(0);
                        let op = self.draw.msg(s, Dest::User(name), spec, from);
                        self.push(op);
                    }
                } else if self.push(Op::Connect { c }) {
                    self.push(Op::Presence { c, name });
                }
            }
            _ => {}
        }
    }

    fn logged_in(&self, c: ClientId) -> bool {
        self.model.client(c).is_some_and(|s| s.link == Link::In)
    }

    /// A logged-in client that just quit, closed or reset comes back, mostly, at once with
    /// the same name, and rejoins one of its rooms half the time; when it does not, another
    /// member often talks in that room (the message must not reach it).
    fn comeback(&mut self, c: ClientId, before: &ClientState) {
        let Some(name) = before.name else { return };
        let back = self.draw.rng.random_bool(0.7)
            && self.push(Op::Connect { c })
            && self.push(Op::Presence { c, name });
        if !back {
            return;
        }
        let rooms: Vec<RoomId> = before.rooms.iter().copied().collect();
        let Some(room) = rooms.choose(&mut self.draw.rng).copied() else { return };
        if self.draw.rng.random_bool(0.5) {
            self.push(Op::Join { c, room });
        } else if self.draw.rng.random_bool(0.6) {
            let members: Vec<ClientId> = self.model.members(room);
            if let Some(m) = members.choose(&mut self.draw.rng).copied() {
                let from = self.model.client(m).and_then(|x| x.name).unwrap_or(0);
                let op = self.draw.msg(m, Dest::Room(room), true, from);
                self.push(op);
            }
        }
    }

    /// Appends `op` when it fits (see below) and updates the predicted state; false when it
    /// was left out.
    fn push(&mut self, op: Op) -> bool {
        let (model, cfg, traits) = (&mut self.model, self.draw.cfg, self.draw.traits);
        if !model.applicable(&op) {
            return false;
        }
        let c = op.client();
        let delivery =
            if op.is_request() && !cfg.pieces.is_empty() && self.draw.rng.random_bool(0.25) {
                *cfg.pieces.choose(&mut self.draw.rng).unwrap_or(&Delivery::Whole)
            } else {
                Delivery::Whole
            };
        let step = Step { op, delivery };
        let i = self.session.steps.len();
        let e = model.expect(i, &step.op);
        if feature(&step, &e, model).is_some_and(|f| self.disabled.contains(&f)) {
            return false;
        }
        // Without acks, a message that no other client must receive has no visible end: the
        // next request could reach the server in the same read (an optional echo of a room
        // message proves nothing either). Leave such steps out.
        if !traits.acks && matches!(step.op, Op::Msg { .. }) {
            let seen_elsewhere = e.relays.iter().any(|r| r.at != c);
            let silent = match &e.reply {
                Reply::Ok { optional: true, .. } => !seen_elsewhere,
                Reply::Either { .. } => true,
                _ => false,
            };
            if silent {
                return false;
            }
        }
        if step.delivery == Delivery::Trickle
            && wire_form::request_at(
                &self.session,
                "x".repeat(TAG_LEN).as_str(),
                model,
                &step.op,
                wire_form::longest_time(),
            )
            .is_some_and(|r| r.bytes.len() > 200)
        {
            return false;
        }
        model.commit(i, &step.op, predicted(&e, &step.op, model, traits));
        if let Some(n) = model.client(c).and_then(|s| s.name) {
            self.draw.last_name[c] = Some(n);
        }
        self.session.steps.push(step);
        true
    }
}

/// The branch a correct server takes (used to predict the state while generating). A refused
/// presence keeps its connection when a round trip can tell whether the server kept it too
/// (the driver then goes on using it); without a barrier the client gives it up.
fn predicted(e: &Expect, op: &Op, model: &Model, traits: &Traits) -> Branch {
    match (&e.reply, op) {
        (Reply::Refused { .. }, Op::Presence { .. }) if traits.barrier.is_none() => Branch::Closed,
        (_, Op::Bad { .. }) if model.rules().close_on_bad => Branch::Closed,
        (Reply::Refused { .. }, _) => Branch::Refused,
        _ => Branch::Accepted,
    }
}

/// The generator's random source and what it knows besides the model's state.
struct Draw<'a> {
    rng: XorShiftRng,
    traits: &'a Traits,
    cfg: &'a GenConfig,
    theme: Theme,
    n_names: usize,
    n_rooms: usize,
    /// The name each client usually logs in with.
    own: Vec<NameId>,
    /// The name each client had on its last logged-in connection (for comebacks).
    last_name: Vec<Option<NameId>>,
}

impl Draw<'_> {
    fn any_name(&mut self) -> NameId {
        self.rng.random_range(0..self.n_names.max(1))
    }

    fn any_room(&mut self) -> RoomId {
        self.rng.random_range(0..self.n_rooms.max(1))
    }

    /// One of `items`, or a random name when there is none.
    fn name_of(&mut self, items: &[NameId]) -> NameId {
        match items.choose(&mut self.rng) {
            Some(n) => *n,
            None => self.any_name(),
        }
    }

    fn bad(&mut self, c: ClientId) -> Option<Op> {
        let kind =
            *[BadKind::UnknownAction, BadKind::Malformed, BadKind::NoName].choose(&mut self.rng)?;
        Some(Op::Bad { c, kind })
    }

    /// An operation for client `c` in the state `model` predicts.
    fn op(&mut self, model: &Model, c: ClientId) -> Option<Op> {
        let me = model.client(c)?.clone();
        match me.link {
            Link::Down => Some(Op::Connect { c }),
            Link::Up => self.up(model, c, &me),
            Link::In => self.logged_in(model, c, &me),
        }
    }

    /// A connected client that is not logged in: it logs in, mostly; after a refused
    /// presence it also goes on with requests, another name, or gives the connection up.
    fn up(&mut self, model: &Model, c: ClientId, me: &ClientState) -> Option<Op> {
        let spec = me.dialect == Dialect::Spec;
        let online = model.online();
        let leaving = leaving(model, self.n_names);
        let free: Vec<NameId> =
            (0..self.n_names).filter(|n| model.name_state(*n) == NameState::Free).collect();
        let mut menu: Vec<(u32, Pick)> = Vec::new();
        let refused = me.tried;
        if refused.is_some() {
            menu.extend([(25, Pick::Presence), (20, Pick::MsgUser), (15, Pick::Close)]);
            menu.extend([(4, Pick::Reset), (5, Pick::Contacts)]);
            if self.traits.rooms && spec {
                menu.extend([(5, Pick::Join), (4, Pick::MsgRoom)]);
            }
            if self.traits.contacts {
                menu.push((3, Pick::Add));
            }
        } else {
            menu.extend([(88, Pick::Presence), (4, Pick::MsgUser), (2, Pick::Close)]);
            menu.push((1, Pick::Contacts));
        }
        if self.cfg.hostile {
            menu.push((4, Pick::Bad));
        }
        Some(match *weighted(&mut self.rng, &menu) {
            Pick::Presence => {
                let own = self.last_name[c].unwrap_or(self.own.get(c).copied().unwrap_or(0));
                let name = match (refused, self.rng.random_range(0..100)) {
                    // Refused: a free name now, mostly.
                    (Some(_), 0..55) if !free.is_empty() => self.name_of(&free),
                    (Some(t), 55..70) => t,
                    (Some(_), 70..85) if !leaving.is_empty() => self.name_of(&leaving),
                    (Some(_), _) => own,
                    (None, 0..20) if self.theme == Theme::Logins && !online.is_empty() => {
                        self.name_of(&online)
                    }
                    (None, 0..62) => own,
                    (None, 62..74) => *self.own.choose(&mut self.rng)?,
                    (None, 74..90) if !leaving.is_empty() => self.name_of(&leaving),
                    _ => self.any_name(),
                };
                Op::Presence { c, name }
            }
            Pick::MsgUser if refused.is_some() => {
                // To the user who has the name it was refused, mostly.
                let owner =
                    refused.filter(|t| matches!(model.name_state(*t), NameState::Online(_)));
                let to = match owner {
                    Some(t) if self.rng.random_bool(0.6) => t,
                    _ => self.name_of(&online),
                };
                let text = text(&mut self.rng);
                msg_op(c, Dest::User(to), text, spec, None)
            }
            Pick::MsgUser => {
                let to = self.any_name();
                Op::Msg { c, to: Dest::User(to), text: "early".into(), forged: None, raw: false }
            }
            Pick::MsgRoom => {
                let room = self.any_room();
                msg_op(c, Dest::Room(room), "early".into(), spec, None)
            }
            Pick::Join => Op::Join { c, room: self.any_room() },
            Pick::Contacts => Op::GetContacts { c },
            Pick::Add => {
                let who = self.name_of(&online);
                Op::AddContact { c, who }
            }
            Pick::Close => Op::Close { c },
            Pick::Reset => Op::Reset { c },
            _ => self.bad(c)?,
        })
    }

    /// A logged-in client: talks, joins, leaves, asks for lists, renames, quits, closes or
    /// resets, with the weights of the session's theme.
    fn logged_in(&mut self, model: &Model, c: ClientId, me: &ClientState) -> Option<Op> {
        use Theme::{Comebacks, Logins, Mixed, Rooms};
        let spec = me.dialect == Dialect::Spec;
        let theme = self.theme;
        let in_rooms = me.rooms.len();
        // Rooms it was in on an earlier connection and is not in now.
        let earlier: Vec<RoomId> = me
            .room_log
            .iter()
            .filter(|(r, (at, joined))| *joined && *at < me.connected_at && !me.rooms.contains(r))
            .map(|(r, _)| *r)
            .collect();
        let pick = |m: [u32; 4]| match theme {
            Mixed => m[0],
            Rooms => m[1],
            Comebacks => m[2],
            Logins => m[3],
        };
        let mut menu: Vec<(u32, Pick)> = vec![(pick([30, 12, 22, 22]), Pick::MsgUser)];
        menu.extend([
            (pick([4, 3, 9, 6]), Pick::Quit),
            (pick([3, 3, 9, 6]), Pick::Close),
            (pick([2, 1, 4, 2]), Pick::Reset),
        ]);
        if self.traits.rooms && spec {
            let join = match in_rooms {
                0 => pick([22, 25, 18, 6]) + if earlier.is_empty() { 0 } else { 10 },
                n if n < self.n_rooms => pick([6, 16, 6, 2]),
                _ => 3,
            };
            let leave = match in_rooms {
                0 => 2,
                1 => pick([9, 8, 7, 4]),
                _ => pick([9, 14, 8, 4]),
            };
            menu.extend([(pick([24, 30, 20, 8]), Pick::MsgRoom), (join, Pick::Join)]);
            menu.push((leave, Pick::Leave));
        }
        if self.traits.contacts {
            menu.extend([
                (pick([4, 2, 7, 3]), Pick::Contacts),
                (pick([6, 3, 9, 4]), Pick::Add),
                (pick([4, 2, 4, 2]), Pick::Del),
            ]);
        }
        if self.traits.users && !spec {
            menu.push((pick([4, 2, 8, 4]), Pick::Users));
        }
        if spec {
            menu.push((pick([3, 2, 2, 10]), Pick::Presence));
        }
        if self.cfg.hostile {
            menu.push((3, Pick::Bad));
        }
        let my_name = me.name.unwrap_or(0);
        let online = model.online();
        let leaving = leaving(model, self.n_names);
        let mine: Vec<RoomId> = me.rooms.iter().copied().collect();
        Some(match *weighted(&mut self.rng, &menu) {
            Pick::MsgUser => {
                let to = match self.rng.random_range(0..100) {
                    0..55 if !online.is_empty() => self.name_of(&online),
                    55..63 => my_name,
                    63..75 if !leaving.is_empty() && self.traits.acks => self.name_of(&leaving),
                    _ => self.any_name(),
                };
                self.msg(c, Dest::User(to), spec, my_name)
            }
            Pick::MsgRoom => {
                let room = if !mine.is_empty() && self.rng.random_bool(0.75) {
                    *mine.choose(&mut self.rng)?
                } else if !earlier.is_empty() && self.rng.random_bool(0.5) {
                    *earlier.choose(&mut self.rng)?
                } else {
                    self.any_room()
                };
                self.msg(c, Dest::Room(room), spec, my_name)
            }
            Pick::Join => {
                let others: Vec<RoomId> =
                    (0..self.n_rooms).filter(|r| !me.rooms.contains(r)).collect();
                let room = if !earlier.is_empty() && self.rng.random_bool(0.6) {
                    *earlier.choose(&mut self.rng)?
                } else if !others.is_empty() && self.rng.random_bool(0.85) {
                    *others.choose(&mut self.rng)?
                } else {
                    self.any_room()
                };
                Op::Join { c, room }
            }
            Pick::Leave => {
                let room = if !mine.is_empty() && self.rng.random_bool(0.8) {
                    *mine.choose(&mut self.rng)?
                } else {
                    self.any_room()
                };
                Op::Leave { c, room }
            }
            Pick::Contacts => Op::GetContacts { c },
            Pick::Add => {
                let known: Vec<NameId> = model.seen.iter().copied().collect();
                let who = if !known.is_empty() && (self.rng.random_bool(0.8) || !spec) {
                    self.name_of(&known)
                } else {
                    self.any_name()
                };
                Op::AddContact { c, who }
            }
            Pick::Del => {
                let listed: Vec<NameId> = model
                    .contacts
                    .get(&my_name)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default();
                let who = if !listed.is_empty() && (self.rng.random_bool(0.8) || !spec) {
                    self.name_of(&listed)
                } else {
                    self.any_name()
                };
                Op::DelContact { c, who }
            }
            Pick::Users => Op::GetUsers { c },
            Pick::Presence => {
                let free: Vec<NameId> =
                    (0..self.n_names).filter(|n| model.name_state(*n) == NameState::Free).collect();
                let others: Vec<NameId> =
                    online.iter().copied().filter(|n| *n != my_name).collect();
                let name = match (theme, self.rng.random_range(0..100)) {
                    (Logins, 0..45) if !free.is_empty() => self.name_of(&free),
                    (Logins, 45..65) if !others.is_empty() => self.name_of(&others),
                    (Logins, 65..80) if !leaving.is_empty() => self.name_of(&leaving),
                    (_, 0..60) => my_name,
                    _ => self.any_name(),
                };
                Op::Presence { c, name }
            }
            Pick::Quit => Op::Quit { c },
            Pick::Close => Op::Close { c },
            Pick::Reset => Op::Reset { c },
            Pick::Bad => self.bad(c)?,
        })
    }

    fn msg(&mut self, c: ClientId, to: Dest, spec: bool, my_name: NameId) -> Op {
        let text = text(&mut self.rng);
        let forged =
            (spec && self.rng.random_bool(0.15)).then(|| self.any_name()).filter(|n| *n != my_name);
        let raw = !text.is_ascii() && self.rng.random_bool(0.15);
        let mut op = msg_op(c, to, text, spec, forged);
        if let Op::Msg { raw: r, text, .. } = &mut op {
            *r = raw && !text.is_ascii();
        }
        op
    }
}

/// Names whose session ended but that the server may not have freed yet.
fn leaving(model: &Model, n_names: usize) -> Vec<NameId> {
    (0..n_names).filter(|n| matches!(model.name_state(*n), NameState::Leaving(..))).collect()
}

/// A message, its text shortened until the longest form of the request stays within the
/// original spec's 640 bytes (what student code reads in one recv), raw UTF-8 counted.
fn msg_op(c: ClientId, to: Dest, mut text: String, spec: bool, forged: Option<NameId>) -> Op {
    let probe = |t: &str| {
        wire_form::msg_size(spec, &"x".repeat(TAG_LEN + 24), &"x".repeat(TAG_LEN + 24), t, false)
    };
    while !text.is_empty() && probe(&text) > MAX_REQUEST_BYTES {
        text.pop();
    }
    Op::Msg { c, to, text, forged, raw: false }
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

    pub(crate) fn cfg() -> GenConfig {
        GenConfig {
            hostile: true,
            pieces: Vec::new(),
            rules: Rules {
                ack_optional: false,
                echo_allowed: false,
                close_on_bad: false,
                close_witness: true,
            },
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_session_and_another_seed_another() {
        let a = generate(7, 3, &traits(), &cfg(), &BTreeSet::new());
        let c = generate(8, 3, &traits(), &cfg(), &BTreeSet::new());
        assert_ne!(a, c);
        assert!((2..=6).contains(&a.dialects.len()));
        // Whatever the clock says meanwhile (sizes are measured with a fixed `time`).
        for i in 0..300 {
            let a = generate(14, i, &traits(), &cfg(), &BTreeSet::new());
            let b = generate(14, i, &traits(), &cfg(), &BTreeSet::new());
            assert_eq!(a, b, "session {i}");
        }
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
                model.commit(k, &step.op, predicted(&e, &step.op, &model, &traits()));
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

/// How often generated sessions reach the states a fixture suite never does: a pure measure of
/// the generator (no server), replaying each session in the model with the branches a correct
/// server takes.
#[cfg(test)]
mod coverage {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::explore::model::BarrierKind;

    /// A state worth reaching, and the operation that must happen in it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub(crate) enum Situation {
        /// A request on a connection whose presence was refused (still open).
        AfterRefusal,
        /// A presence with a free name on a connection whose presence was refused.
        RetryAfterRefusal,
        /// A name refused to a connection that has gone away is messaged or asked for by a
        /// presence while its owner is still online.
        OwnerAfterRefusedLeft,
        /// A room message relayed where the sender or a recipient is in two rooms or more.
        TwoRooms,
        /// A room message by or for a member who left another room on this connection.
        KeptRoomAfterLeave,
        /// A room message relayed while a logged-in client that was a member on an earlier
        /// connection, with the same name, is not a member now.
        FormerMember,
        /// A room message relayed to a client that rejoined the room after coming back.
        RejoinedAfterComeback,
        /// get_contacts by a name with contacts, on a later connection than the last change.
        ContactsAfterComeback,
        /// A presence with a name whose session ended.
        NameReused,
        /// A second presence with another name on a logged-in connection.
        Rename,
        /// get_users while a name that logged in is gone.
        UsersAfterLeave,
    }

    /// The situations one session reaches.
    pub(crate) fn situations(s: &Session, traits: &Traits, rules: &Rules) -> BTreeSet<Situation> {
        use Situation as S;
        let mut out = BTreeSet::new();
        let mut model = Model::new(s, rules.clone());
        let n = s.dialects.len();
        // Per client: (name, rooms) of its previous logged-in connection.
        let mut previous: Vec<Option<(NameId, BTreeSet<RoomId>)>> = vec![None; n];
        let mut refused_gone: BTreeSet<NameId> = BTreeSet::new();
        let mut changed_at: BTreeMap<NameId, usize> = BTreeMap::new();
        for (i, step) in s.steps.iter().enumerate() {
            if !model.applicable(&step.op) {
                continue;
            }
            let c = step.op.client();
            let me = model.client(c).unwrap().clone();
            let e = model.expect(i, &step.op);
            let refused_here = me.link == Link::Up && me.tried.is_some();
            match &step.op {
                Op::Presence { name, .. } => {
                    let state = model.name_state(*name);
                    if refused_here && state == NameState::Free {
                        out.insert(S::RetryAfterRefusal);
                    }
                    if matches!(state, NameState::Leaving(..)) && me.link == Link::Up {
                        out.insert(S::NameReused);
                    }
                    if me.link == Link::In && me.name != Some(*name) {
                        out.insert(S::Rename);
                    }
                    if refused_gone.contains(name)
                        && matches!(state, NameState::Online(o) if o != c)
                    {
                        out.insert(S::OwnerAfterRefusedLeft);
                    }
                }
                Op::Msg { to, .. } => {
                    if refused_here {
                        out.insert(S::AfterRefusal);
                    }
                    match to {
                        Dest::User(u) => {
                            if refused_gone.contains(u)
                                && matches!(model.name_state(*u), NameState::Online(o) if o != c)
                            {
                                out.insert(S::OwnerAfterRefusedLeft);
                            }
                        }
                        Dest::Room(r) if model.members(*r).contains(&c) => {
                            let mut involved: Vec<ClientId> =
                                e.relays.iter().map(|x| x.at).collect();
                            involved.push(c);
                            let state = |x: ClientId| model.client(x).unwrap();
                            if involved.iter().any(|x| state(*x).rooms.len() >= 2) {
                                out.insert(S::TwoRooms);
                            }
                            if involved.iter().any(|x| {
                                let st = state(*x);
                                st.room_log.iter().any(|(room, (at, joined))| {
                                    room != r && !joined && *at >= st.connected_at
                                })
                            }) {
                                out.insert(S::KeptRoomAfterLeave);
                            }
                            for (x, before) in previous.iter().enumerate() {
                                let st = state(x);
                                let former = before.as_ref().is_some_and(|(name, rooms)| {
                                    rooms.contains(r) && st.name == Some(*name)
                                });
                                if st.link == Link::In && former && !st.rooms.contains(r) {
                                    out.insert(S::FormerMember);
                                }
                                if e.relays.iter().any(|rel| rel.at == x) && former {
                                    out.insert(S::RejoinedAfterComeback);
                                }
                            }
                        }
                        Dest::Room(_) => {}
                    }
                }
                Op::GetContacts { .. } => {
                    if refused_here {
                        out.insert(S::AfterRefusal);
                    }
                    if let Some(name) = me.name {
                        let listed = model.contacts.get(&name).is_some_and(|l| !l.is_empty());
                        if listed && changed_at.get(&name).is_some_and(|at| *at < me.connected_at) {
                            out.insert(S::ContactsAfterComeback);
                        }
                    }
                }
                Op::GetUsers { .. }
                    if model
                        .seen
                        .iter()
                        .any(|x| !matches!(model.name_state(*x), NameState::Online(_))) =>
                {
                    out.insert(S::UsersAfterLeave);
                }
                Op::AddContact { .. }
                | Op::DelContact { .. }
                | Op::Join { .. }
                | Op::Leave { .. } => {
                    if refused_here {
                        out.insert(S::AfterRefusal);
                    }
                    if let (Some(name), Op::AddContact { .. } | Op::DelContact { .. }) =
                        (me.name, &step.op)
                    {
                        changed_at.insert(name, i);
                    }
                }
                Op::Quit { .. } | Op::Close { .. } | Op::Reset { .. } => {
                    if let (Link::In, Some(name)) = (me.link, me.name) {
                        previous[c] = Some((name, me.rooms.clone()));
                    }
                    if let Some(t) = me.tried.filter(|_| refused_here) {
                        refused_gone.insert(t);
                    }
                }
                _ => {}
            }
            model.commit(i, &step.op, predicted(&e, &step.op, &model, traits));
        }
        // The closing barrier asks every logged-in client for its contacts.
        if traits.barrier == Some(BarrierKind::Contacts) {
            for x in 0..n {
                let st = model.client(x).unwrap();
                if let (Link::In, Some(name)) = (st.link, st.name) {
                    let listed = model.contacts.get(&name).is_some_and(|l| !l.is_empty());
                    if listed && changed_at.get(&name).is_some_and(|at| *at < st.connected_at) {
                        out.insert(S::ContactsAfterComeback);
                    }
                }
            }
        }
        out
    }

    /// For the first `sessions` sessions of `seed`: how many reach each situation, and the
    /// first that does.
    pub(crate) fn measure(
        seed: u64,
        sessions: u64,
        traits: &Traits,
        cfg: &GenConfig,
    ) -> BTreeMap<Situation, (usize, u64)> {
        let mut out: BTreeMap<Situation, (usize, u64)> = BTreeMap::new();
        for i in 0..sessions {
            let s = generate(seed, i, traits, cfg, &BTreeSet::new());
            for sit in situations(&s, traits, &cfg.rules) {
                let entry = out.entry(sit).or_insert((0, i));
                entry.0 += 1;
            }
        }
        out
    }

    fn spec_server() -> Traits {
        Traits { dialects: vec![Dialect::Spec], users: false, ..super::tests::traits() }
    }

    fn valid_only() -> GenConfig {
        GenConfig { hostile: false, ..super::tests::cfg() }
    }

    #[test]
    fn sessions_reach_the_states_fixtures_never_do() {
        let spec = measure(crate::explore::DEFAULT_SEED, 100, &spec_server(), &valid_only());
        let mut course_traits = spec_server();
        course_traits.dialects = vec![Dialect::Course];
        course_traits.rooms = false;
        course_traits.users = true;
        let course = measure(crate::explore::DEFAULT_SEED, 100, &course_traits, &valid_only());
        eprintln!("spec server, 100 sessions (sessions reaching it, first): {spec:?}");
        eprintln!("course server, 100 sessions: {course:?}");
        use Situation as S;
        let spec_wanted = [
            S::AfterRefusal,
            S::RetryAfterRefusal,
            S::OwnerAfterRefusedLeft,
            S::TwoRooms,
            S::KeptRoomAfterLeave,
            S::FormerMember,
            S::RejoinedAfterComeback,
            S::ContactsAfterComeback,
            S::NameReused,
            S::Rename,
        ];
        let course_wanted = [
            S::AfterRefusal,
            S::RetryAfterRefusal,
            S::OwnerAfterRefusedLeft,
            S::ContactsAfterComeback,
            S::NameReused,
            S::UsersAfterLeave,
        ];
        for (server, got, wanted) in
            [("spec", &spec, &spec_wanted[..]), ("course", &course, &course_wanted[..])]
        {
            for sit in wanted {
                let (sessions, first) = got.get(sit).copied().unwrap_or((0, u64::MAX));
                assert!(
                    sessions >= 8 && first < 20,
                    "{server} server: {sit:?} is reached by {sessions} of 100 sessions (first: {first})"
                );
            }
        }
    }
}
