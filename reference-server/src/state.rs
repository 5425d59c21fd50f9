//! State shared by every connection: who is logged in, rooms, contacts, known users.
//!
//! One [`Registry`] behind a `std::sync::Mutex`. Locks are held only for map lookups and updates,
//! never across an `.await`: code that needs to send to other connections clones their queue
//! handles ([`Peer`]) under the lock and sends after releasing it.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jim_protocol::{Dialect, Message, Probe, Response, ResponseCode, Timestamp};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{Accounts, Config};
use crate::misbehave::{Misbehave, Wire};
use crate::notes::Note;
use crate::store::Db;

/// Identifies one connection for the lifetime of the server.
pub(crate) type ConnId = u64;

/// Most names remembered as "seen during this run" (bounds memory against name churn).
pub(crate) const MAX_SEEN_USERS: usize = 100_000;

/// Most rooms one session may be in.
pub(crate) const MAX_ROOMS_PER_SESSION: usize = 1_000;

/// A connection's outbound queue, shared with every session that may send to it.
///
/// Deliberately small: an idle connection's outbox holds no allocation beyond itself. Values are
/// rendered in the recipient's dialect and encoded before they are queued, so a room message is
/// encoded once per dialect and its bytes are shared by every recipient ([`Outgoing`]).
///
/// It counts bytes, not messages, and watches progress. A push from another session kicks the
/// connection when the bytes waiting would pass the configured bound, or when bytes have been
/// waiting and the client has taken none of them for the stall timeout: a reader that is behind
/// but reading is never kicked for it, one that stopped reading is. The connection's own replies
/// are not refused: its task stops reading requests while they pile up (backpressure, see
/// `crate::connection`), so they stay small.
///
/// The connection writes everything queued at the moment it writes in one system call, except
/// where a [`Queued::starts_write`] boundary says otherwise (PROTOCOL.md `§framing` W3).
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    state: Mutex<OutboxState>,
    wake: Notify,
}

/// One encoded value waiting to be written.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    /// The value as it goes on the wire (framing included).
    pub bytes: Bytes,
    /// This value must not share a write with the values queued before it: it is a reply of
    /// the connection's own session that followed something else queued while the same request
    /// was being handled (a message to oneself: the relay, then the 200), so a client doing one
    /// request at a time receives them in separate writes, as from a server without batching.
    pub starts_write: bool,
}

#[derive(Debug, Default)]
struct OutboxState {
    queue: VecDeque<Queued>,
    kicked: bool,
    /// Values ever queued (see [`Outbox::mark`]).
    pushed: u64,
    /// Bytes ever queued by the connection's own session (see [`Outbox::own_bytes`]).
    own_bytes: u64,
    /// Bytes queued and not yet written, those taken for a write included.
    waiting: usize,
    /// Since when bytes have waited without the client taking any (`None`: it keeps up).
    stalled_since: Option<Instant>,
}

impl OutboxState {
    fn add(&mut self, bytes: usize, stats: &Stats) {
        if self.waiting == 0 {
            self.stalled_since = Some(Instant::now());
        }
        self.waiting += bytes;
        stats.max_waiting.fetch_max(self.waiting, Ordering::Relaxed);
    }
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A mark taken before handling a request: a reply queued later under the same mark starts
    /// a write of its own if anything was queued in between ([`Queued::starts_write`]).
    pub fn mark(&self) -> u64 {
        self.lock().pushed
    }

    /// Queues a reply of the connection's own session (its task flushes before it waits again,
    /// so nobody needs waking).
    pub fn push_own(&self, bytes: Bytes, mark: u64, stats: &Stats) {
        let mut state = self.lock();
        let starts_write = state.pushed != mark;
        state.pushed += 1;
        state.own_bytes += bytes.len() as u64;
        state.add(bytes.len(), stats);
        state.queue.push_back(Queued { bytes, starts_write });
    }

    /// Queues a value from another session. The connection is kicked instead (see [`Pushed`])
    /// when the bytes waiting would pass `limit.bytes`, or when bytes have waited for
    /// `limit.stall` without the client taking any.
    pub fn push(&self, bytes: Bytes, limit: Limit, stats: &Stats) -> Pushed {
        let mut state = self.lock();
        if state.kicked {
            return Pushed::Refused;
        }
        let stalled = state.stalled_since.is_some_and(|since| since.elapsed() >= limit.stall);
        if stalled || state.waiting + bytes.len() > limit.bytes {
            state.kicked = true;
            drop(state);
            stats.kicked.fetch_add(1, Ordering::Relaxed);
            self.wake.notify_one();
            return Pushed::Overflowed;
        }
        let was_empty = state.queue.is_empty();
        state.pushed += 1;
        state.add(bytes.len(), stats);
        state.queue.push_back(Queued { bytes, starts_write: false });
        drop(state);
        // A non-empty queue already has a wake-up pending or its task is about to take it.
        if was_empty {
            self.wake.notify_one();
        }
        Pushed::Queued
    }

    /// True once kicked.
    pub fn is_kicked(&self) -> bool {
        self.lock().kicked
    }

    /// How many values wait.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Bytes queued and not yet written (values taken for a write that is under way included).
    pub fn waiting(&self) -> usize {
        self.lock().waiting
    }

    /// Bytes ever queued by the connection's own session: the connection measures its turns of
    /// work with it.
    pub fn own_bytes(&self) -> u64 {
        self.lock().own_bytes
    }

    /// `bytes` were written to the client (or dropped unwritten): progress.
    pub fn wrote(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let mut state = self.lock();
        state.waiting = state.waiting.saturating_sub(bytes);
        state.stalled_since = (state.waiting > 0).then(Instant::now);
    }

    /// How long bytes have waited without the client taking any (zero when it keeps up).
    pub fn stalled_for(&self) -> Duration {
        self.lock().stalled_since.map_or(Duration::ZERO, |since| since.elapsed())
    }

    /// Kicks the connection (it stopped taking its bytes): its task drops it.
    pub fn kick(&self) {
        self.lock().kicked = true;
        self.wake.notify_one();
    }

    /// Puts values taken but not written back at the front, in order (the socket was full).
    pub fn requeue(&self, values: VecDeque<Queued>) {
        let mut state = self.lock();
        for queued in values.into_iter().rev() {
            state.queue.push_front(queued);
        }
    }

    /// Takes every waiting value, oldest first. The queue's allocation goes with them: an idle
    /// connection's outbox keeps none.
    pub fn take(&self) -> VecDeque<Queued> {
        std::mem::take(&mut self.lock().queue)
    }

    /// Completes when something was pushed or the connection was kicked since the last call.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }
}

/// What [`Outbox::push`] did with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued for the client.
    Queued,
    /// Dropped: the queue was full, so this push kicked the connection.
    Overflowed,
    /// Dropped: the connection was already kicked.
    Refused,
}

/// A message on its way to other sessions, encoded at most once per dialect: every recipient of
/// a room message in the same dialect shares the same bytes.
pub(crate) struct Outgoing<'a> {
    message: &'a Message,
    wire: &'a Wire,
    spec: Option<Bytes>,
    course: Option<Bytes>,
}

impl<'a> Outgoing<'a> {
    /// `message`, to be encoded on `wire`.
    pub fn new(message: &'a Message, wire: &'a Wire) -> Self {
        Self { message, wire, spec: None, course: None }
    }

    /// The bytes of the message in `dialect`, encoded on first use.
    pub fn bytes(&mut self, dialect: Dialect) -> Bytes {
        let slot = match dialect {
            Dialect::Spec => &mut self.spec,
            Dialect::Course => &mut self.course,
        };
        slot.get_or_insert_with(|| self.wire.message(self.message, dialect)).clone()
    }
}

/// How to reach a logged-in session from elsewhere.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// The connection.
    pub conn: ConnId,
    /// Its outbound queue.
    pub outbox: Arc<Outbox>,
    /// Its current dialect: relays and pushes to it are rendered in this dialect.
    pub dialect: Dialect,
    /// The `user.pubkey` of its latest presence (`§pubkey`); shared, so that handing a peer
    /// around (every relay does) copies no key.
    pub pubkey: Option<Arc<str>>,
    /// When values from others disconnect it (see [`Outbox::push`]).
    pub limit: Limit,
}

/// When a push from another session disconnects a connection instead (see [`Outbox::push`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    /// Most bytes waiting.
    pub bytes: usize,
    /// Longest time bytes may wait without the client taking any.
    pub stall: Duration,
    /// The language of the log line that says so.
    pub lang: jim_text::Lang,
}

impl Limit {
    /// The limit `config` sets.
    pub fn of(config: &Config) -> Self {
        Self {
            bytes: config.outbound_queue_bytes.max(1),
            stall: config.stall_timeout,
            lang: config.lang,
        }
    }
}

impl Peer {
    /// Queues a message rendered in this peer's dialect. When the peer is too far behind or has
    /// stopped reading, it is disconnected (so it stalls no one) and `false` is returned.
    pub fn deliver(&self, message: &mut Outgoing<'_>, stats: &Stats) -> bool {
        match self.outbox.push(message.bytes(self.dialect), self.limit, stats) {
            Pushed::Queued => true,
            Pushed::Overflowed => {
                // Once per connection: a busy room must not turn one slow reader into a flood.
                let note = Note::StoppedReading { conn: self.conn };
                tracing::warn!(conn = self.conn, "{}", self.limit.lang.say(&note));
                false
            }
            Pushed::Refused => false,
        }
    }
}

/// Everything behind the lock.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Logged-in sessions by name.
    pub sessions: HashMap<String, Peer>,
    /// Room name (with `#`) to member names. A room exists while it has members.
    pub rooms: HashMap<String, BTreeSet<String>>,
    /// Contact lists by owner name.
    pub contacts: HashMap<String, BTreeSet<String>>,
    /// Names that logged in during this run.
    pub seen: HashSet<String>,
    /// Names recorded in the database (known accounts with `--db`).
    pub recorded: HashSet<String>,
    /// Cached course-login keys (`password_key`) by account name.
    pub keys: HashMap<String, Arc<str>>,
    /// The `get_users` answer while nobody logs in or out (see [`crate::cmd::users`]).
    pub users: Option<Arc<crate::cmd::users::UserList>>,
    /// Counts the changes to what `get_users` lists (a list chosen before one is not kept).
    pub users_version: u64,
    /// Contact-list entries, all owners together (bounded by `Config::max_contacts`).
    pub contact_count: usize,
    /// Password attempts per account: when the next one may be evaluated (see
    /// [`crate::cmd::auth`]). Only names of accounts and one shared key for unknown names.
    pub login_turns: HashMap<String, Instant>,
}

impl Registry {
    /// Something `get_users` lists changed: the cached answer is stale.
    pub fn users_changed(&mut self) {
        self.users = None;
        self.users_version += 1;
    }

    /// Removes `owner`'s contact list (the count follows).
    pub fn drop_contacts(&mut self, owner: &str) {
        if let Some(list) = self.contacts.remove(owner) {
            self.contact_count = self.contact_count.saturating_sub(list.len());
            shrink(&mut self.contacts);
        }
    }

    /// Every other logged-in course-dialect session: the recipients of a 205 push.
    pub fn course_peers_except(&self, name: &str) -> Vec<Peer> {
        self.sessions
            .iter()
            .filter(|(n, p)| n.as_str() != name && p.dialect == Dialect::Course)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// True when `name` is a known account: in the users file or recorded in the database.
    pub fn is_account(&self, accounts: Option<&Accounts>, name: &str) -> bool {
        accounts.is_some_and(|a| a.password(name).is_some()) || self.recorded.contains(name)
    }

    /// True when `name` is a known user: connected, seen this run, or an account.
    pub fn is_known(&self, accounts: Option<&Accounts>, name: &str) -> bool {
        self.sessions.contains_key(name)
            || self.seen.contains(name)
            || self.is_account(accounts, name)
    }
}

/// Gives memory back after many entries left a map (a hash map never shrinks by itself, so
/// 150,000 rooms that came and went would keep their table for the whole run).
pub(crate) fn shrink<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > 64 && map.len() < map.capacity() / 4 {
        map.shrink_to(map.len() * 2);
    }
}

/// Counters for tests and benchmarks (see [`crate::RunningServer::stats`]).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Items handled (requests, bad input, responses from clients).
    pub requests: AtomicU64,
    /// The most bytes that ever waited for one connection.
    pub max_waiting: AtomicUsize,
    /// Connections disconnected for not reading.
    pub kicked: AtomicU64,
    /// Password attempts that waited for their turn or were refused.
    pub logins_held: AtomicU64,
}

/// Everything a connection needs from the server.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The configuration.
    pub config: Config,
    /// Accounts mode: the accounts (`None`: open mode).
    pub accounts: Option<Accounts>,
    /// The registry (see the module docs for the locking rule).
    registry: Mutex<Registry>,
    /// The database, with `--db`.
    pub db: Option<Db>,
    /// Cancelled when the server must stop at once (a `crash-*` misbehaviour): every connection
    /// is dropped without flushing.
    pub kill: CancellationToken,
    /// Why the server crashed, when it did.
    pub crash_reason: Mutex<Option<String>>,
    /// How values are encoded and written (the correct writer, unless misbehaving).
    pub wire: Wire,
    /// Serialises connections under `one-client-at-a-time`.
    pub one_at_a_time: Option<Arc<tokio::sync::Semaphore>>,
    /// Counters.
    pub stats: Stats,
    next_conn: AtomicU64,
}

impl Shared {
    /// Shared state for `config`, with accounts and database already loaded.
    pub fn new(config: Config, accounts: Option<Accounts>, db: Option<(Db, Loaded)>) -> Self {
        let mut registry = Registry::default();
        let db = db.map(|(db, loaded)| {
            registry.recorded = loaded.users;
            registry.contact_count = loaded.contacts.values().map(BTreeSet::len).sum();
            registry.contacts = loaded.contacts;
            db
        });
        let one_at_a_time = config
            .misbehave
            .contains(&Misbehave::OneClientAtATime)
            .then(|| Arc::new(tokio::sync::Semaphore::new(1)));
        let wire = Wire::new(&config.misbehave, config.framing);
        Self {
            wire,
            config,
            accounts,
            registry: Mutex::new(registry),
            db,
            kill: CancellationToken::new(),
            crash_reason: Mutex::new(None),
            one_at_a_time,
            stats: Stats::default(),
            next_conn: AtomicU64::new(1),
        }
    }

    /// Locks the registry. A poisoned lock (a panic elsewhere) is recovered: the registry has no
    /// invariants that a half-done update could break badly enough to stop serving.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// True when the misbehaviour `kind` is on.
    pub fn misbehaves(&self, kind: Misbehave) -> bool {
        self.config.misbehave.contains(&kind)
    }

    /// Sends a probe to every logged-in session, in its dialect.
    pub fn probe_all(&self) {
        let peers: Vec<Peer> = self.registry().sessions.values().cloned().collect();
        let probe = Message::Probe(Probe { time: Some(Timestamp::now()) });
        let mut probe = Outgoing::new(&probe, &self.wire);
        for peer in peers {
            peer.deliver(&mut probe, &self.stats);
        }
    }

    /// Pushes a 205 "refresh lists" to each of `peers` (`§push-205`).
    pub fn push_refresh(&self, peers: &[Peer]) {
        let push = Message::Response(Response::new(ResponseCode::REFRESH));
        let mut push = Outgoing::new(&push, &self.wire);
        for peer in peers {
            peer.deliver(&mut push, &self.stats);
        }
    }

    /// Stops the whole server at once (used by the `crash-*` misbehaviours).
    pub fn crash(&self, reason: String) {
        tracing::error!("{}", self.config.lang.say(&Note::Crashing { reason: reason.clone() }));
        let mut slot = self.crash_reason.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(reason);
        self.kill.cancel();
    }
}

/// What the database held at startup.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// Every name that ever logged in.
    pub users: HashSet<String>,
    /// Contact lists by owner.
    pub contacts: HashMap<String, BTreeSet<String>>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write;

    use super::*;

    /// A log sink for one test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_slow_reader_is_reported_once_however_many_messages_miss_it() {
        let log = Captured::default();
        let sink = log.clone();
        let subscriber =
            tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).finish();
        let peer = Peer {
            conn: 7,
            outbox: Arc::new(Outbox::default()),
            dialect: Dialect::Spec,
            pubkey: None,
            limit: Limit { bytes: 40, stall: Duration::from_secs(3600), lang: jim_text::Lang::En },
        };
        let probe = Message::Probe(Probe { time: None });
        let wire = Wire::new(&[], jim_protocol::Framing::Newline);
        let mut probe = Outgoing::new(&probe, &wire);
        let delivered: Vec<bool> = tracing::subscriber::with_default(subscriber, || {
            (0..100).map(|_| peer.deliver(&mut probe, &Stats::default())).collect()
        });
        assert_eq!(delivered.iter().filter(|d| **d).count(), 2);
        assert!(peer.outbox.is_kicked());
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("outbound queue full").count(), 1, "{text}");
    }
}
