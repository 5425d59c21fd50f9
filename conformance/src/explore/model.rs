//! The oracle: a model of what JIM obliges a server to do, written from PROTOCOL.md alone.
//!
//! It shares no code with the reference server (nor with `jim_protocol`'s message types): a bug
//! in the server it judges cannot hide in the model too. It knows sessions and names, rooms and
//! membership, contacts and who ever logged in; for each operation of a generated session it
//! says what the server must answer ([`Reply`]), who must receive which message ([`Relay`]) and
//! what changes afterwards ([`Model::commit`]). Everything not listed is forbidden: a value that
//! arrives where the model expects none is a misdelivery, a duplicate or an unsolicited value.
//!
//! Timing is never part of an obligation. What a server cannot be seen to have done yet (the end
//! of a session whose connection we closed) is a [`NameState::Leaving`] name: it must become free
//! within the step timeout, and until then a message to it may be accepted or refused.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{Dialect, Level, Text};
use crate::wire::Delivery;

/// A client of a session (its index).
pub type ClientId = usize;
/// A name of the session's name table (its index).
pub type NameId = usize;
/// A room of the session's room table (its index).
pub type RoomId = usize;

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dest {
    /// A user, by name.
    User(NameId),
    /// A room.
    Room(RoomId),
}

/// Malformed or invalid input (only with `hostile` sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BadKind {
    /// `{"action":"dance","time":T}`: 400.
    UnknownAction,
    /// `{action: "presence"}`: not JSON, 400.
    Malformed,
    /// A presence whose `user` is `{}`: 400.
    NoName,
}

/// One operation of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Open the client's connection.
    Connect {
        /// The client.
        c: ClientId,
    },
    /// Log in (or, logged in already, repeat or change the name).
    Presence {
        /// The client.
        c: ClientId,
        /// The name.
        name: NameId,
    },
    /// A direct or room message.
    Msg {
        /// The sender.
        c: ClientId,
        /// The addressee.
        to: Dest,
        /// The text.
        text: String,
        /// A `from` that is not the sender's name (spec only; the server must ignore it).
        forged: Option<NameId>,
        /// Sent as raw UTF-8 instead of `\u` escapes.
        raw: bool,
    },
    /// Join a room.
    Join {
        /// The client.
        c: ClientId,
        /// The room.
        room: RoomId,
    },
    /// Leave a room.
    Leave {
        /// The client.
        c: ClientId,
        /// The room.
        room: RoomId,
    },
    /// Ask for the contact list.
    GetContacts {
        /// The client.
        c: ClientId,
    },
    /// Add a contact.
    AddContact {
        /// The client.
        c: ClientId,
        /// The contact.
        who: NameId,
    },
    /// Remove a contact.
    DelContact {
        /// The client.
        c: ClientId,
        /// The contact.
        who: NameId,
    },
    /// Ask for the known users (course).
    GetUsers {
        /// The client.
        c: ClientId,
    },
    /// quit (spec) / exit (course).
    Quit {
        /// The client.
        c: ClientId,
    },
    /// Close the connection (FIN) without a word.
    Close {
        /// The client.
        c: ClientId,
    },
    /// Reset the connection (RST).
    Reset {
        /// The client.
        c: ClientId,
    },
    /// Invalid input.
    Bad {
        /// The client.
        c: ClientId,
        /// What.
        kind: BadKind,
    },
    /// A round trip (get_contacts) that proves nothing else is on its way to the client: the
    /// first response is the answer to this request, and a response before it is a second one
    /// to the client's previous request. Only in the careful replays that tell which request a
    /// stray response belongs to (never drawn by the generator).
    Check {
        /// The client.
        c: ClientId,
    },
}

/// The acting client of an operation, by reference or by mutable reference (one list of arms
/// for [`Op::client`] and [`Op::client_mut`]).
macro_rules! actor {
    ($op:expr) => {
        match $op {
            Op::Connect { c }
            | Op::Presence { c, .. }
            | Op::Msg { c, .. }
            | Op::Join { c, .. }
            | Op::Leave { c, .. }
            | Op::GetContacts { c }
            | Op::AddContact { c, .. }
            | Op::DelContact { c, .. }
            | Op::GetUsers { c }
            | Op::Quit { c }
            | Op::Close { c }
            | Op::Reset { c }
            | Op::Bad { c, .. }
            | Op::Check { c } => c,
        }
    };
}

impl Op {
    /// The client that acts.
    pub fn client(&self) -> ClientId {
        *actor!(self)
    }

    /// The client that acts, to renumber it.
    pub fn client_mut(&mut self) -> &mut ClientId {
        actor!(self)
    }

    /// True for operations that write a request.
    pub fn is_request(&self) -> bool {
        !matches!(self, Self::Connect { .. } | Self::Close { .. } | Self::Reset { .. })
    }
}

/// One step of a session: an operation and how its bytes are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The operation.
    pub op: Op,
    /// How the request is written.
    pub delivery: Delivery,
}

/// A generated session: its clients (each with a dialect), its tables of names and rooms (the
/// parts of names after the session's unique prefix) and its steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// The dialect each client writes.
    pub dialects: Vec<Dialect>,
    /// Name table (without the session prefix).
    pub names: Vec<String>,
    /// Room table (without `#` and the session prefix).
    pub rooms: Vec<String>,
    /// The steps.
    pub steps: Vec<Step>,
}

impl Session {
    /// The full name of `n` on the wire, with the session's unique prefix.
    pub fn name(&self, tag: &str, n: NameId) -> String {
        format!("{tag}{}", self.names.get(n).map_or("?", String::as_str))
    }

    /// The full room name of `r` on the wire (`#` + prefix + room).
    pub fn room(&self, tag: &str, r: RoomId) -> String {
        format!("#{tag}{}", self.rooms.get(r).map_or("?", String::as_str))
    }
}

/// An obligation of the protocol: what a failure violates. One vocabulary, one name table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Obligation {
    /// A presence with a free, valid name is accepted (§presence).
    PresenceAccepted,
    /// A name connected elsewhere is refused (§presence, 409).
    DuplicateRefused,
    /// After quit, close or reset the name is free again (§transport, §quit).
    NameFreed,
    /// A repeated presence with the same name is accepted (§presence).
    RepeatPresence,
    /// A second presence with another name is refused, or the session takes the new name.
    Rename,
    /// A message to a connected user or to a room one is in is accepted (§msg).
    MsgAccepted,
    /// Each addressee receives the message exactly once (§msg, §rooms).
    Delivery,
    /// Nobody else receives anything (§msg, §rooms, §order).
    Privacy,
    /// Each request gets exactly one response (§order O2).
    OneReply,
    /// The relayed `from` is the sender's login name (§msg).
    FromIsSender,
    /// The relayed text is the text that was sent (§encoding).
    TextUnchanged,
    /// A message to a user who is not connected is refused (§msg, 404).
    UnknownRecipient,
    /// A message to a room the sender is not in is refused (§rooms, 403/404).
    NotMember,
    /// join is accepted (§rooms).
    Join,
    /// leave of a room one is in is accepted (§rooms).
    Leave,
    /// leave of a room one is not in is refused (§rooms, 404).
    LeaveNotMember,
    /// The contact list is what was added and not removed (§contacts).
    Contacts,
    /// Adding a known user as a contact is accepted (§contacts).
    AddContact,
    /// Adding an unknown user is refused (§contacts, 404).
    AddUnknown,
    /// Removing a contact in the list is accepted (§contacts).
    DelContact,
    /// Removing a name not in the list is refused (§contacts, 404).
    DelMissing,
    /// get_users lists every connected user (§get-users).
    Users,
    /// Requests before a presence are refused (§errors, 401).
    BeforePresence,
    /// Bad input gets 400 and the connection lives on (§errors, §robustness).
    BadInput,
    /// After quit/exit the server closes the connection (§quit).
    QuitCloses,
    /// The server keeps a connection open unless it has a reason to close (§transport).
    KeepsConnection,
    /// The server stays up and answering (§robustness).
    Alive,
    /// A reply is written with one send() (§framing W3).
    OneWrite,
    /// A variant that the profile tolerates, with `--strict` (string code, no time, ...).
    Style,
}

impl Obligation {
    /// Stable id (used in report ids: `explore/ID`).
    pub fn id(self) -> &'static str {
        match self {
            Self::PresenceAccepted => "presence-accepted",
            Self::DuplicateRefused => "duplicate-refused",
            Self::NameFreed => "name-freed",
            Self::RepeatPresence => "repeat-presence",
            Self::Rename => "rename",
            Self::MsgAccepted => "msg-accepted",
            Self::Delivery => "delivery",
            Self::Privacy => "privacy",
            Self::OneReply => "one-reply",
            Self::FromIsSender => "from-is-sender",
            Self::TextUnchanged => "text-unchanged",
            Self::UnknownRecipient => "unknown-recipient",
            Self::NotMember => "not-member",
            Self::Join => "join",
            Self::Leave => "leave",
            Self::LeaveNotMember => "leave-not-member",
            Self::Contacts => "contacts",
            Self::AddContact => "add-contact",
            Self::AddUnknown => "add-unknown",
            Self::DelContact => "del-contact",
            Self::DelMissing => "del-missing",
            Self::Users => "users",
            Self::BeforePresence => "before-presence",
            Self::BadInput => "bad-input",
            Self::QuitCloses => "quit-closes",
            Self::KeepsConnection => "keeps-connection",
            Self::Alive => "alive",
            Self::OneWrite => "one-write",
            Self::Style => "style",
        }
    }

    /// What it says, in both languages.
    pub fn title(self) -> Text {
        let (en, ru) = match self {
            Self::PresenceAccepted => (
                "a presence with a free name is accepted",
                "presence со свободным именем принимается",
            ),
            Self::DuplicateRefused => (
                "a name that is connected elsewhere is refused",
                "имя, подключённое в другом соединении, отклоняется",
            ),
            Self::NameFreed => (
                "after quit, close or reset the name is free again",
                "после quit, закрытия или сброса имя снова свободно",
            ),
            Self::RepeatPresence => (
                "a repeated presence with the same name is accepted",
                "повторный presence с тем же именем принимается",
            ),
            Self::Rename => (
                "a presence with another name is refused, or the session takes that name",
                "presence с другим именем отклоняется, или сессия получает это имя",
            ),
            Self::MsgAccepted => (
                "a message to a connected user, or to a room one is in, is accepted",
                "сообщение подключённому пользователю или в свою комнату принимается",
            ),
            Self::Delivery => (
                "each addressee receives the message exactly once",
                "каждый адресат получает сообщение ровно один раз",
            ),
            Self::Privacy => (
                "nobody receives what was not addressed to them",
                "никто не получает того, что адресовано не ему",
            ),
            Self::OneReply => (
                "each request gets exactly one response",
                "на каждый запрос приходит ровно один ответ",
            ),
            Self::FromIsSender => (
                "the relayed \"from\" is the sender's login name",
                "\"from\" в пересланном сообщении — имя, под которым вошёл отправитель",
            ),
            Self::TextUnchanged => (
                "the relayed text is exactly the text that was sent",
                "пересланный текст в точности равен отправленному",
            ),
            Self::UnknownRecipient => (
                "a message to a user who is not connected is refused",
                "сообщение неподключённому пользователю отклоняется",
            ),
            Self::NotMember => (
                "a message to a room the sender is not in is refused",
                "сообщение в комнату, где отправителя нет, отклоняется",
            ),
            Self::Join => ("join is accepted", "join принимается"),
            Self::Leave => {
                ("leave of a room one is in is accepted", "leave своей комнаты принимается")
            }
            Self::LeaveNotMember => {
                ("leave of a room one is not in is refused", "leave чужой комнаты отклоняется")
            }
            Self::Contacts => (
                "the contact list holds what was added and not removed",
                "список контактов содержит добавленное и не удалённое",
            ),
            Self::AddContact => (
                "adding a known user as a contact is accepted",
                "добавление известного пользователя в контакты принимается",
            ),
            Self::AddUnknown => (
                "adding an unknown user as a contact is refused",
                "добавление неизвестного пользователя в контакты отклоняется",
            ),
            Self::DelContact => (
                "removing a contact in the list is accepted",
                "удаление контакта из списка принимается",
            ),
            Self::DelMissing => (
                "removing a name that is not in the list is refused",
                "удаление имени, которого нет в списке, отклоняется",
            ),
            Self::Users => (
                "get_users lists every connected user",
                "get_users перечисляет всех подключённых пользователей",
            ),
            Self::BeforePresence => {
                ("a request before the presence is refused", "запрос до presence отклоняется")
            }
            Self::BadInput => (
                "bad input gets 400 and the connection lives on",
                "на плохие данные — 400, соединение живёт дальше",
            ),
            Self::QuitCloses => (
                "after quit/exit the server closes the connection",
                "после quit/exit сервер закрывает соединение",
            ),
            Self::KeepsConnection => (
                "the server does not close a connection without a reason",
                "сервер не закрывает соединение без причины",
            ),
            Self::Alive => {
                ("the server keeps running and answering", "сервер продолжает работать и отвечать")
            }
            Self::OneWrite => {
                ("each reply is written with one send()", "каждый ответ записывается одним send()")
            }
            Self::Style => (
                "replies use the canonical forms (--strict)",
                "ответы в каноническом виде (--strict)",
            ),
        };
        Text { en: en.to_owned(), ru: ru.to_owned() }
    }
}

/// What must come back on the acting client's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Nothing (quit/exit; the server closes instead).
    None,
    /// A success with this exact code (200, 202); `list` checks a list response; `optional`:
    /// the reply may be missing (a message's ack under `no-msg-ack`).
    Ok {
        /// The code.
        code: u16,
        /// What the list must hold.
        list: Option<ListCheck>,
        /// May be missing.
        optional: bool,
    },
    /// An error (any 4xx/5xx; the first code is the exact one, others equally right).
    Refused {
        /// Exact codes.
        codes: Vec<u16>,
    },
    /// Either a success with this code or an error; the answer decides what follows.
    Either {
        /// The success code.
        code: u16,
        /// No answer at all is fine too (a message to a leaving user, without acks): the wait
        /// lasts the step timeout.
        silent_ok: bool,
    },
    /// A presence with a name whose session was ended: must succeed within the step timeout
    /// (the driver retries on fresh connections while it is refused).
    Eventually,
}

/// The names a list response must (not) hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListCheck {
    /// Exactly these of the session's names (contacts).
    Equals(Vec<NameId>),
    /// At least `must`, and none of `never` (users).
    Includes {
        /// Names that must be listed.
        must: Vec<NameId>,
        /// Names of this session that must not be listed.
        never: Vec<NameId>,
    },
}

/// A message one client must receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// Who receives it.
    pub at: ClientId,
    /// The sender's login name.
    pub from: NameId,
    /// Where it was addressed.
    pub to: Dest,
    /// The text.
    pub text: String,
    /// The step that sent it.
    pub step: usize,
}

/// Everything the model expects from one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The obligation the reply stands for.
    pub obligation: Obligation,
    /// Its level.
    pub level: Level,
    /// What comes back to the actor.
    pub reply: Reply,
    /// Deliveries that must arrive, in order per client (a message to oneself included).
    pub relays: Vec<Relay>,
    /// Level of the deliveries (must; should for raw UTF-8 input; may for a message to oneself).
    pub relay_level: Level,
    /// A copy that may come back to the sender (a room message, under `room-echo`).
    pub echo: Option<Relay>,
    /// quit/exit: the server must close the connection.
    pub closes: bool,
    /// The server may close the connection after its reply (a refused login; bad input under
    /// `close-on-bad-input`).
    pub may_close: bool,
}

impl Expect {
    fn new(obligation: Obligation, level: Level, reply: Reply) -> Self {
        Self {
            obligation,
            level,
            reply,
            relays: Vec::new(),
            relay_level: Level::Must,
            echo: None,
            closes: false,
            may_close: false,
        }
    }

    /// True when nothing the request causes is sure to be seen: no delivery is due and its
    /// reply may not come (an optional ack; an answer that may be silence). Then nothing shows
    /// that the server has processed it, and at a server that serves connections in parallel
    /// another client's next request may overtake it (a join that lands before an earlier
    /// room message, and receives it). The driver then makes the actor settle it with a round
    /// trip on its own connection (replies come in order), so that the next step starts after
    /// it in every run.
    pub fn unobserved(&self) -> bool {
        self.relays.is_empty()
            && matches!(
                self.reply,
                Reply::Ok { optional: true, .. } | Reply::Either { silent_ok: true, .. }
            )
    }
}

/// How an operation turned out, as far as it changes the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Branch {
    /// The expected outcome (or the success of an `Either`).
    Accepted,
    /// The refusal of an `Either` (or a refused login).
    Refused,
    /// The server closed the connection (allowed after a refused login or bad input).
    Closed,
}

/// Why a name's session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftBy {
    /// quit / exit.
    Quit,
    /// An orderly close (FIN) by the client.
    Close,
    /// A reset (RST).
    Reset,
    /// The server closed it (after bad input or a refused login), or a rename.
    Other,
}

/// What the model knows about a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameState {
    /// Nobody logged in with it in this session.
    Free,
    /// Logged in on this client.
    Online(ClientId),
    /// Its session ended at this step, but the server may not have seen it yet.
    Leaving(LeftBy, usize),
}

/// A client's connection, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// No connection.
    Down,
    /// Connected, not logged in.
    Up,
    /// Logged in.
    In,
}

/// One client's state.
#[derive(Debug, Clone)]
pub struct ClientState {
    /// The dialect it writes.
    pub dialect: Dialect,
    /// Its connection.
    pub link: Link,
    /// Its login name.
    pub name: Option<NameId>,
    /// The name its last presence on this connection asked for (refused or not): what a
    /// client of the course dialect writes as its own name until it is logged in.
    pub tried: Option<NameId>,
    /// Rooms it is in.
    pub rooms: BTreeSet<RoomId>,
    /// Room -> the step where it last joined or left it, and whether that was a join.
    pub room_log: BTreeMap<RoomId, (usize, bool)>,
    /// The step where it last connected.
    pub connected_at: usize,
}

/// A message that was sent, for explanations.
#[derive(Debug, Clone)]
pub struct SentMsg {
    /// Step.
    pub step: usize,
    /// Sender client.
    pub by: ClientId,
    /// Sender name.
    pub from: NameId,
    /// Addressee.
    pub to: Dest,
    /// Text.
    pub text: String,
    /// Who had to receive it.
    pub recipients: Vec<ClientId>,
}

/// What the target offers, learned before the sessions (see `calibrate`).
#[derive(Debug, Clone, Serialize)]
pub struct Traits {
    /// Dialects the sessions use.
    pub dialects: Vec<Dialect>,
    /// Rooms work (spec).
    pub rooms: bool,
    /// Contacts work.
    pub contacts: bool,
    /// get_users works (course).
    pub users: bool,
    /// A delivered message is acknowledged (200).
    pub acks: bool,
    /// quit/exit closes the connection.
    pub closes_on_quit: bool,
    /// The request that proves silence on a connection (a round trip).
    pub barrier: Option<BarrierKind>,
    /// The lesson-3 profile: one presence per connection, one client at a time.
    pub lesson3: bool,
    /// The only name a lesson-3 server accepts.
    pub fixed_name: Option<String>,
}

/// The request a barrier sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BarrierKind {
    /// get_contacts (202 with the list, judged too).
    Contacts,
    /// An unknown action (400).
    UnknownAction,
}

/// The rules that depend on the run: tolerances and `--strict`.
#[derive(Debug, Clone)]
pub struct Rules {
    /// A message's ack may be missing (`no-msg-ack`).
    pub ack_optional: bool,
    /// A room message may come back to its sender (`room-echo`).
    pub echo_allowed: bool,
    /// Bad input may close the connection (`close-on-bad-input`).
    pub close_on_bad: bool,
    /// After a client closes or resets its connection, another logged-in client makes a round
    /// trip (get_contacts) before the next step ([`Model::witness`]). The target answers
    /// get_contacts.
    pub close_witness: bool,
}

/// The model's state during one session.
#[derive(Debug, Clone)]
pub struct Model {
    /// Clients.
    pub clients: Vec<ClientState>,
    /// Names.
    pub names: Vec<NameState>,
    /// Names that ever logged in (known users).
    pub seen: BTreeSet<NameId>,
    /// Contact lists by name.
    pub contacts: BTreeMap<NameId, BTreeSet<NameId>>,
    /// Messages sent so far.
    pub sent: Vec<SentMsg>,
    /// Rooms that a session was in when it ended (quit, close, reset, a server close): the server may still count that member, whatever later steps did, because
    /// nothing a client can see proves when it processed the end (the witness's round trip
    /// runs on another connection, which a server with a thread per client serves on its own).
    /// A message from a non-member to such a room may get 403 as well as 404 until the session
    /// ends.
    lingering: BTreeSet<RoomId>,
    rules: Rules,
}

impl Model {
    /// The state before the first step.
    pub fn new(session: &Session, rules: Rules) -> Self {
        Self {
            clients: session
                .dialects
                .iter()
                .map(|d| ClientState {
                    dialect: *d,
                    link: Link::Down,
                    name: None,
                    tried: None,
                    rooms: BTreeSet::new(),
                    room_log: BTreeMap::new(),
                    connected_at: 0,
                })
                .collect(),
            names: vec![NameState::Free; session.names.len()],
            seen: BTreeSet::new(),
            contacts: BTreeMap::new(),
            sent: Vec::new(),
            lingering: BTreeSet::new(),
            rules,
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The client's state (a default for an index out of range).
    pub fn client(&self, c: ClientId) -> Option<&ClientState> {
        self.clients.get(c)
    }

    fn link(&self, c: ClientId) -> Link {
        self.clients.get(c).map_or(Link::Down, |s| s.link)
    }

    /// The name state (Free for an index out of range).
    pub fn name_state(&self, n: NameId) -> NameState {
        self.names.get(n).copied().unwrap_or(NameState::Free)
    }

    /// True when the operation can run now: its client's connection is in the right state.
    /// (A shrunk session may hold steps whose preconditions are gone; they are skipped.)
    pub fn applicable(&self, op: &Op) -> bool {
        let c = op.client();
        if c >= self.clients.len() {
            return false;
        }
        match (op, self.link(c)) {
            (Op::Connect { .. }, Link::Down) => true,
            (Op::Check { .. }, link) => link == Link::In,
            // Course clients never send a second presence (the generator draws renames for
            // spec clients only), and the course's own server keeps both names when one comes:
            // a presence meant for a connection the server closed after a refusal, applied to
            // a later logged-in one, would judge the course solution on a request no course
            // client makes.
            (Op::Presence { .. }, Link::In) => {
                self.clients.get(c).is_none_or(|s| s.dialect != Dialect::Course)
            }
            (Op::Connect { .. }, _) | (_, Link::Down) => false,
            _ => true,
        }
    }

    /// The client that makes a round trip right after client `c` closes or resets its
    /// connection (the first other logged-in client). At a server that serves every connection
    /// from one loop this makes the close taken in before the next step, so that what a
    /// disconnect leaves behind (a reused socket number) shows the same way in every replay. It
    /// proves nothing at a server with a thread per connection (the closing thread may still be
    /// busy, writing a logout row say): whatever depends on the close being processed is
    /// judged so that either order is right (a leaving name, a room whose member ended its session).
    pub fn witness(&self, c: ClientId) -> Option<ClientId> {
        if !self.rules.close_witness {
            return None;
        }
        (0..self.clients.len()).find(|x| *x != c && self.clients[*x].link == Link::In)
    }

    /// Live members of a room.
    pub fn members(&self, room: RoomId) -> Vec<ClientId> {
        (0..self.clients.len())
            .filter(|c| self.clients[*c].link == Link::In && self.clients[*c].rooms.contains(&room))
            .collect()
    }

    /// True when a member of `room` left it by ending its session, which the server may not
    /// have processed yet (the room may still exist there). It stays true when that client
    /// connects again: the new connection is not the old session, whose end is still unseen.
    fn leaving_members(&self, room: RoomId) -> bool {
        self.lingering.contains(&room)
    }

    /// Connected names (online).
    pub fn online(&self) -> Vec<NameId> {
        (0..self.names.len()).filter(|n| matches!(self.names[*n], NameState::Online(_))).collect()
    }

    /// What the model expects from `op` at step `step`. Call only when [`Self::applicable`].
    pub fn expect(&self, step: usize, op: &Op) -> Expect {
        use Level::{May, Must, Should};
        use Obligation as O;
        let c = op.client();
        let me = self.clients.get(c);
        let dialect = me.map_or(Dialect::Spec, |s| s.dialect);
        let logged = me.is_some_and(|s| s.link == Link::In);
        let my_name = me.and_then(|s| s.name);
        let spec = dialect == Dialect::Spec;
        if !logged
            && matches!(
                op,
                Op::Msg { .. }
                    | Op::Join { .. }
                    | Op::Leave { .. }
                    | Op::GetContacts { .. }
                    | Op::AddContact { .. }
                    | Op::DelContact { .. }
                    | Op::GetUsers { .. }
                    | Op::Check { .. }
            )
        {
            let level = if matches!(op, Op::Msg { .. }) { Must } else { Should };
            return Expect::new(O::BeforePresence, level, Reply::Refused { codes: vec![401] });
        }
        match op {
            Op::Connect { .. } | Op::Close { .. } | Op::Reset { .. } => {
                Expect::new(O::KeepsConnection, Must, Reply::None)
            }
            Op::Presence { name, .. } => {
                let state = self.name_state(*name);
                match (my_name, state) {
                    (None, NameState::Free) => Expect::new(
                        O::PresenceAccepted,
                        Must,
                        Reply::Ok { code: 200, list: None, optional: false },
                    ),
                    (mine, NameState::Online(_)) if state != NameState::Online(c) => {
                        // Logged in already: "name already set" (400) may come first.
                        let codes = if mine.is_some() { vec![409, 400] } else { vec![409] };
                        let mut e =
                            Expect::new(O::DuplicateRefused, Must, Reply::Refused { codes });
                        e.may_close = true;
                        e
                    }
                    (None, NameState::Leaving(by, _)) => {
                        let level = if by == LeftBy::Reset { Should } else { Must };
                        Expect::new(O::NameFreed, level, Reply::Eventually)
                    }
                    (Some(mine), _) if mine == *name && spec => Expect::new(
                        O::RepeatPresence,
                        Should,
                        Reply::Ok { code: 200, list: None, optional: false },
                    ),
                    _ => {
                        let mut e = Expect::new(
                            O::Rename,
                            Must,
                            Reply::Either { code: 200, silent_ok: false },
                        );
                        e.may_close = true;
                        e
                    }
                }
            }
            Op::Msg { to, text, raw, .. } => {
                let from = my_name.unwrap_or(0);
                let relay = |at| Relay { at, from, to: *to, text: text.clone(), step };
                let mut e = match to {
                    Dest::User(n) => match self.name_state(*n) {
                        NameState::Online(r) => {
                            let mut e = Expect::new(
                                O::MsgAccepted,
                                Must,
                                Reply::Ok {
                                    code: 200,
                                    list: None,
                                    optional: self.rules.ack_optional,
                                },
                            );
                            e.relays.push(relay(r));
                            if r == c {
                                e.relay_level = May;
                            }
                            e
                        }
                        NameState::Leaving(..) => Expect::new(
                            O::UnknownRecipient,
                            Must,
                            Reply::Either { code: 200, silent_ok: self.rules.ack_optional },
                        ),
                        NameState::Free => Expect::new(
                            O::UnknownRecipient,
                            if spec { Must } else { Should },
                            Reply::Refused { codes: vec![404] },
                        ),
                    },
                    Dest::Room(room) => {
                        let members = self.members(*room);
                        if members.contains(&c) {
                            let mut e = Expect::new(
                                O::MsgAccepted,
                                Must,
                                Reply::Ok {
                                    code: 200,
                                    list: None,
                                    optional: self.rules.ack_optional,
                                },
                            );
                            e.relays =
                                members.iter().filter(|m| **m != c).map(|m| relay(*m)).collect();
                            if self.rules.echo_allowed {
                                e.echo = Some(relay(c));
                            }
                            e
                        } else {
                            let codes = if !members.is_empty() {
                                vec![403]
                            } else if self.leaving_members(*room) {
                                vec![403, 404]
                            } else {
                                vec![404]
                            };
                            Expect::new(O::NotMember, Should, Reply::Refused { codes })
                        }
                    }
                };
                if *raw {
                    e.level = e.level.max(Should);
                    e.relay_level = e.relay_level.max(Should);
                }
                e
            }
            Op::Join { room, .. } => {
                if me.is_some_and(|s| s.rooms.contains(room)) {
                    Expect::new(O::Join, May, Reply::Either { code: 200, silent_ok: false })
                } else {
                    Expect::new(O::Join, Must, Reply::Ok { code: 200, list: None, optional: false })
                }
            }
            Op::Leave { room, .. } => {
                if me.is_some_and(|s| s.rooms.contains(room)) {
                    Expect::new(
                        O::Leave,
                        Must,
                        Reply::Ok { code: 200, list: None, optional: false },
                    )
                } else {
                    Expect::new(O::LeaveNotMember, Should, Reply::Refused { codes: vec![404] })
                }
            }
            Op::GetContacts { .. } | Op::Check { .. } => {
                let list: Vec<NameId> = my_name
                    .and_then(|n| self.contacts.get(&n))
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default();
                Expect::new(
                    O::Contacts,
                    Must,
                    Reply::Ok { code: 202, list: Some(ListCheck::Equals(list)), optional: false },
                )
            }
            Op::AddContact { who, .. } => {
                if self.seen.contains(who) {
                    Expect::new(
                        O::AddContact,
                        Must,
                        Reply::Ok { code: 200, list: None, optional: false },
                    )
                } else if spec {
                    Expect::new(O::AddUnknown, Should, Reply::Refused { codes: vec![404] })
                } else {
                    Expect::new(O::AddUnknown, May, Reply::Either { code: 200, silent_ok: false })
                }
            }
            Op::DelContact { who, .. } => {
                let listed =
                    my_name.and_then(|n| self.contacts.get(&n)).is_some_and(|s| s.contains(who));
                if listed {
                    Expect::new(
                        O::DelContact,
                        Must,
                        Reply::Ok { code: 200, list: None, optional: false },
                    )
                } else if spec {
                    Expect::new(O::DelMissing, Should, Reply::Refused { codes: vec![404] })
                } else {
                    Expect::new(O::DelMissing, May, Reply::Either { code: 200, silent_ok: false })
                }
            }
            Op::GetUsers { .. } => {
                let never: Vec<NameId> =
                    (0..self.names.len()).filter(|n| !self.seen.contains(n)).collect();
                Expect::new(
                    O::Users,
                    Must,
                    Reply::Ok {
                        code: 202,
                        list: Some(ListCheck::Includes { must: self.online(), never }),
                        optional: false,
                    },
                )
            }
            Op::Quit { .. } => {
                let mut e = Expect::new(O::QuitCloses, Must, Reply::None);
                e.closes = true;
                e
            }
            Op::Bad { .. } => {
                let mut e = Expect::new(O::BadInput, Must, Reply::Refused { codes: vec![400] });
                e.may_close = self.rules.close_on_bad;
                e
            }
        }
    }

    /// Applies `op` after the target behaved as `branch` (the expected outcome, or one of the
    /// outcomes the model allows).
    pub fn commit(&mut self, step: usize, op: &Op, branch: Branch) {
        let c = op.client();
        if c >= self.clients.len() {
            return;
        }
        if branch == Branch::Closed {
            self.end_session(c, step, LeftBy::Other);
            return;
        }
        let logged = self.clients[c].link == Link::In;
        match op {
            Op::Connect { .. } => {
                self.clients[c].link = Link::Up;
                self.clients[c].connected_at = step;
                self.clients[c].tried = None;
            }
            Op::Presence { name, .. } => {
                self.clients[c].tried = Some(*name);
                if branch != Branch::Accepted {
                    return;
                }
                let old = self.clients[c].name;
                if let Some(old) = old.filter(|o| o != name) {
                    if let Some(s) = self.names.get_mut(old) {
                        *s = NameState::Leaving(LeftBy::Other, step);
                    }
                }
                if let Some(s) = self.names.get_mut(*name) {
                    *s = NameState::Online(c);
                }
                self.seen.insert(*name);
                self.clients[c].name = Some(*name);
                self.clients[c].link = Link::In;
            }
            Op::Msg { to, text, .. } if logged => {
                let recipients = self.expect(step, op).relays.iter().map(|r| r.at).collect();
                let from = self.clients[c].name.unwrap_or(0);
                self.sent.push(SentMsg {
                    step,
                    by: c,
                    from,
                    to: *to,
                    text: text.clone(),
                    recipients,
                });
                if let (Dest::User(n), Branch::Refused) = (to, branch) {
                    // A refused message to a leaving name: the server has ended that session.
                    if let Some(s @ NameState::Leaving(..)) = self.names.get_mut(*n) {
                        *s = NameState::Free;
                    }
                }
            }
            Op::Join { room, .. } if logged && branch == Branch::Accepted => {
                self.clients[c].rooms.insert(*room);
                self.clients[c].room_log.insert(*room, (step, true));
            }
            Op::Leave { room, .. } if logged && branch == Branch::Accepted => {
                self.clients[c].rooms.remove(room);
                self.clients[c].room_log.insert(*room, (step, false));
            }
            Op::AddContact { who, .. } if logged && branch == Branch::Accepted => {
                if let Some(me) = self.clients[c].name {
                    if self.seen.contains(who) {
                        self.contacts.entry(me).or_default().insert(*who);
                    }
                }
            }
            Op::DelContact { who, .. } if logged && branch == Branch::Accepted => {
                if let Some(me) = self.clients[c].name {
                    self.contacts.entry(me).or_default().remove(who);
                }
            }
            Op::Quit { .. } => self.end_session(c, step, LeftBy::Quit),
            Op::Close { .. } => self.end_session(c, step, LeftBy::Close),
            Op::Reset { .. } => self.end_session(c, step, LeftBy::Reset),
            _ => {}
        }
    }

    fn end_session(&mut self, c: ClientId, step: usize, by: LeftBy) {
        let Some(state) = self.clients.get_mut(c) else { return };
        if let Some(n) = state.name.take() {
            if let Some(s) = self.names.get_mut(n) {
                *s = NameState::Leaving(by, step);
            }
        }
        state.link = Link::Down;
        state.tried = None;
        self.lingering.append(&mut state.rooms);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn session() -> Session {
        Session {
            dialects: vec![Dialect::Spec; 3],
            names: vec!["ann".into(), "bob".into(), "cat".into()],
            rooms: vec!["r".into()],
            steps: Vec::new(),
        }
    }

    fn rules() -> Rules {
        Rules { ack_optional: false, echo_allowed: false, close_on_bad: false, close_witness: true }
    }

    fn login(m: &mut Model, c: ClientId, n: NameId) {
        m.commit(0, &Op::Connect { c }, Branch::Accepted);
        m.commit(0, &Op::Presence { c, name: n }, Branch::Accepted);
    }

    #[test]
    fn a_room_message_goes_to_the_other_members_only() {
        let mut m = Model::new(&session(), rules());
        for c in 0..3 {
            login(&mut m, c, c);
        }
        m.commit(1, &Op::Join { c: 0, room: 0 }, Branch::Accepted);
        m.commit(2, &Op::Join { c: 1, room: 0 }, Branch::Accepted);
        let op = Op::Msg { c: 0, to: Dest::Room(0), text: "hi".into(), forged: None, raw: false };
        let e = m.expect(3, &op);
        assert_eq!(e.relays.iter().map(|r| r.at).collect::<Vec<_>>(), vec![1]);
        let from_outside =
            Op::Msg { c: 2, to: Dest::Room(0), text: "x".into(), forged: None, raw: false };
        assert_eq!(m.expect(4, &from_outside).reply, Reply::Refused { codes: vec![403] });
        m.commit(5, &Op::Leave { c: 1, room: 0 }, Branch::Accepted);
        assert!(m.expect(6, &op).relays.is_empty());
    }

    /// What nothing observable confirms must be settled by a round trip (CI once failed a
    /// conforming threaded server when a join overtook a room message nobody else received).
    #[test]
    fn a_message_nobody_sees_arrive_is_unobserved() {
        let optional = Rules { ack_optional: true, ..rules() };
        let mut m = Model::new(&session(), optional);
        for c in 0..3 {
            login(&mut m, c, c);
        }
        m.commit(1, &Op::Join { c: 0, room: 0 }, Branch::Accepted);
        let to_room =
            Op::Msg { c: 0, to: Dest::Room(0), text: "hi".into(), forged: None, raw: false };
        assert!(m.expect(2, &to_room).unobserved(), "alone in the room, no ack");
        let to_bob =
            Op::Msg { c: 0, to: Dest::User(1), text: "x".into(), forged: None, raw: false };
        assert!(!m.expect(2, &to_bob).unobserved(), "bob's relay shows it");
        m.commit(3, &Op::Join { c: 1, room: 0 }, Branch::Accepted);
        assert!(!m.expect(4, &to_room).unobserved(), "the other member's relay shows it");
        m.commit(5, &Op::Close { c: 1 }, Branch::Accepted);
        assert!(m.expect(6, &to_bob).unobserved(), "to a leaving name: silence allowed");
        // With acks due, the ack shows it.
        let mut m = Model::new(&session(), rules());
        login(&mut m, 0, 0);
        m.commit(1, &Op::Join { c: 0, room: 0 }, Branch::Accepted);
        assert!(!m.expect(2, &to_room).unobserved());
    }

    /// A presence on a logged-in connection is a spec client's rename; course clients make
    /// none (a step drawn for a connection the server closed is skipped on a later one).
    #[test]
    fn only_spec_clients_send_a_second_presence() {
        let mut s = session();
        s.dialects[1] = Dialect::Course;
        let mut m = Model::new(&s, rules());
        login(&mut m, 0, 0);
        login(&mut m, 1, 1);
        assert!(m.applicable(&Op::Presence { c: 0, name: 2 }));
        assert!(!m.applicable(&Op::Presence { c: 1, name: 2 }));
        m.commit(2, &Op::Connect { c: 2 }, Branch::Accepted);
        assert!(m.applicable(&Op::Presence { c: 2, name: 2 }));
    }

    #[test]
    fn a_name_is_taken_while_online_and_leaving_after_a_close() {
        let mut m = Model::new(&session(), rules());
        login(&mut m, 0, 0);
        m.commit(1, &Op::Connect { c: 1 }, Branch::Accepted);
        let dup = Op::Presence { c: 1, name: 0 };
        assert_eq!(m.expect(2, &dup).obligation, Obligation::DuplicateRefused);
        m.commit(3, &Op::Close { c: 0 }, Branch::Accepted);
        assert_eq!(m.expect(4, &dup).reply, Reply::Eventually);
        let to_ann =
            Op::Msg { c: 1, to: Dest::User(0), text: "x".into(), forged: None, raw: false };
        // not logged in yet: refused before presence
        assert_eq!(m.expect(5, &to_ann).obligation, Obligation::BeforePresence);
    }

    /// Held-out F3: a threaded server that writes a logout row before it lets a reset client go
    /// still has the room when the client has already connected again; the reconnect must not
    /// make the model forget that the old session's end may be unprocessed.
    #[test]
    fn a_member_that_reset_and_reconnected_may_still_hold_the_room() {
        let mut m = Model::new(&session(), rules());
        login(&mut m, 1, 1);
        login(&mut m, 2, 2);
        let to_room =
            Op::Msg { c: 2, to: Dest::Room(0), text: "x".into(), forged: None, raw: false };
        assert_eq!(m.expect(1, &to_room).reply, Reply::Refused { codes: vec![404] });
        m.commit(2, &Op::Join { c: 1, room: 0 }, Branch::Accepted);
        assert_eq!(m.expect(3, &to_room).reply, Reply::Refused { codes: vec![403] });
        m.commit(4, &Op::Reset { c: 1 }, Branch::Accepted);
        assert_eq!(m.expect(5, &to_room).reply, Reply::Refused { codes: vec![403, 404] });
        m.commit(6, &Op::Connect { c: 1 }, Branch::Accepted);
        assert_eq!(m.expect(7, &to_room).reply, Reply::Refused { codes: vec![403, 404] });
        m.commit(8, &Op::Presence { c: 1, name: 0 }, Branch::Accepted);
        m.commit(9, &Op::Join { c: 1, room: 0 }, Branch::Accepted);
        m.commit(10, &Op::Leave { c: 1, room: 0 }, Branch::Accepted);
        assert_eq!(m.expect(11, &to_room).reply, Reply::Refused { codes: vec![403, 404] });
    }

    #[test]
    fn contacts_are_kept_by_name_across_sessions() {
        let mut m = Model::new(&session(), rules());
        login(&mut m, 0, 0);
        login(&mut m, 1, 1);
        m.commit(2, &Op::AddContact { c: 0, who: 1 }, Branch::Accepted);
        m.commit(3, &Op::Quit { c: 0 }, Branch::Accepted);
        m.commit(4, &Op::Connect { c: 2 }, Branch::Accepted);
        m.commit(5, &Op::Presence { c: 2, name: 0 }, Branch::Accepted);
        match m.expect(6, &Op::GetContacts { c: 2 }).reply {
            Reply::Ok { list: Some(ListCheck::Equals(l)), .. } => assert_eq!(l, vec![1]),
            other => panic!("{other:?}"),
        }
    }
}
