//! Message traffic with a window in flight: direct relay between pairs and room fan-out.
//!
//! Every message carries a tag `L<sender>:<seq>:` in its text. A tracker remembers each
//! message until every expected recipient has it, or until its delivery deadline passes (then the
//! window slot is freed and whatever is still missing at the end counts as lost). Senders write
//! one message per `write()`, as student clients do, and never have more than `window` messages
//! undelivered. All tasks run on one thread (a `LocalSet`), so the shared state is a plain
//! `RefCell` and the generator costs one core.
//!
//! Setup (connect, presence, join) is [`prepare`]; the measured part is [`PreparedTraffic::run`],
//! so a caller can sample the target's CPU time right around it.

use crate::problem::{Problem, Request};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use jim_protocol::{Dialect, FrameError};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, Semaphore, watch};

use crate::Names;
use crate::error::LoadError;
use crate::latency::{Histogram, LatencySummary};
use crate::wire::{self, ChatTemplate, Inbox, Incoming};

/// How many error samples a report keeps.
const MAX_SAMPLES: usize = 5;

/// Which traffic pattern to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrafficShape {
    /// `pairs` sender/recipient pairs; each sender writes to its own recipient.
    Direct {
        /// Number of pairs (twice as many connections).
        pairs: usize,
    },
    /// `members` connections join one room; the first `senders` of them write to it, and each
    /// message must reach every other member.
    Room {
        /// Connections in the room.
        members: usize,
        /// How many of them send.
        senders: usize,
    },
}

impl TrafficShape {
    /// A short name for reports: `direct relay` or `room fan-out`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Direct { .. } => "direct relay",
            Self::Room { .. } => "room fan-out",
        }
    }

    fn connections(&self) -> usize {
        match *self {
            Self::Direct { pairs } => pairs * 2,
            Self::Room { members, .. } => members,
        }
    }

    fn senders(&self) -> usize {
        match *self {
            Self::Direct { pairs } => pairs,
            Self::Room { senders, .. } => senders,
        }
    }

    /// The connection index of sender `s`.
    fn sender_conn(&self, s: usize) -> usize {
        match self {
            Self::Direct { .. } => s * 2,
            Self::Room { .. } => s,
        }
    }

    /// How many deliveries one message of sender `s` should make.
    fn fan(&self) -> u32 {
        match *self {
            Self::Direct { .. } => 1,
            Self::Room { members, .. } => members.saturating_sub(1) as u32,
        }
    }
}

/// Settings of one traffic measurement.
#[derive(Debug, Clone)]
pub struct TrafficOptions {
    /// The pattern.
    pub shape: TrafficShape,
    /// Messages in flight (sent, not yet delivered everywhere) per sender.
    pub window: usize,
    /// Encoded size of each chat message in bytes, newline included.
    pub message_bytes: usize,
    /// How long senders keep sending.
    pub duration: Duration,
    /// Cap on messages sent in total (all senders together).
    pub max_messages: u64,
    /// Connections being opened at the same time during setup.
    pub connects_in_flight: usize,
    /// Bound on one TCP connect.
    pub connect_timeout: Duration,
    /// Bound on a setup reply, and each message's delivery deadline.
    pub reply_timeout: Duration,
    /// Account and room names.
    pub names: Names,
    /// The dialect written: presences and chat messages in its shape (the room phase is
    /// spec-only: the course has no rooms).
    pub dialect: Dialect,
}

/// Connections set up for a traffic measurement, not yet sending.
#[derive(Debug)]
pub struct PreparedTraffic {
    opts: TrafficOptions,
    conns: Vec<(TcpStream, Inbox)>,
    names: Vec<String>,
    room: String,
}

/// Connects every participant, sends its presence (and `join` for a room), and waits for each
/// success response. Fails with [`LoadError::Setup`] on the first refusal.
pub async fn prepare(addr: SocketAddr, opts: TrafficOptions) -> Result<PreparedTraffic, LoadError> {
    let shape_label = opts.shape.label();
    let role = match opts.shape {
        TrafficShape::Direct { .. } => 'd',
        TrafficShape::Room { .. } => 'r',
    };
    let names: Vec<String> =
        (0..opts.shape.connections()).map(|i| opts.names.user(role, i)).collect();
    let room = opts.names.room();
    let is_room = matches!(opts.shape, TrafficShape::Room { .. });
    let (connect_timeout, reply_timeout) = (opts.connect_timeout, opts.reply_timeout);
    let dialect = opts.dialect;
    let room_name = room.clone();
    let conns = {
        let setups = futures::stream::iter(names.clone())
            .map(|name| {
                let room = room_name.clone();
                async move {
                    let mut stream = wire::connect(addr, connect_timeout)
                        .await
                        .map_err(|e| Problem::ConnectFailed(e.into()))?;
                    let mut inbox = Inbox::default();
                    let code = wire::request(
                        &mut stream,
                        &mut inbox,
                        &wire::presence(&name, dialect),
                        reply_timeout,
                    )
                    .await?;
                    if !(200..300).contains(&code) {
                        let request = Request::Presence { name: Some(name.clone()) };
                        return Err(Problem::Answered { request, code });
                    }
                    if is_room {
                        let code = wire::request(
                            &mut stream,
                            &mut inbox,
                            &wire::join(&room),
                            reply_timeout,
                        )
                        .await?;
                        if !(200..300).contains(&code) {
                            let request = Request::Join { room: room.clone() };
                            return Err(Problem::Answered { request, code });
                        }
                    }
                    Ok::<_, Problem>((stream, inbox))
                }
            })
            .buffered(opts.connects_in_flight.max(1));
        futures::pin_mut!(setups);
        let mut conns = Vec::with_capacity(names.len());
        while let Some(result) = setups.next().await {
            match result {
                Ok(conn) => conns.push(conn),
                Err(detail) => {
                    let detail = Box::new(detail);
                    return Err(LoadError::Setup { addr, shape: shape_label, detail });
                }
            }
        }
        conns
    };
    Ok(PreparedTraffic { opts, conns, names, room })
}

/// Why deliveries were lost, each lost delivery counted once under the first reason that
/// explains it, in this order: the recipient's connection ended, the sender's connection ended,
/// the target refused the message (an error response to the sender, by code: 410 when the
/// recipient is gone, 400, ...), the target never answered the message, the target answered 2xx
/// but never delivered. Responses carry no message id, so refusals and missing answers are
/// matched to a sender's lost messages by count (a JIM server answers each message once, in
/// order): the totals are exact, which message got which reason is not claimed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LossReasons {
    /// The target closed the recipient's connection (EOF).
    pub recipient_closed: u64,
    /// The recipient's connection was reset or failed.
    pub recipient_reset: u64,
    /// The target closed the sender's connection.
    pub sender_closed: u64,
    /// The sender's connection was reset or failed.
    pub sender_reset: u64,
    /// Refused with an error response, by code (`"410"`: the recipient is gone).
    pub refused: BTreeMap<String, u64>,
    /// The sender got no response at all for the message.
    pub never_acknowledged: u64,
    /// The sender got a 2xx, but the delivery never came.
    pub acknowledged_not_delivered: u64,
}

impl LossReasons {
    /// Every lost delivery counted here.
    pub fn total(&self) -> u64 {
        self.recipient_closed
            + self.recipient_reset
            + self.sender_closed
            + self.sender_reset
            + self.refused.values().sum::<u64>()
            + self.never_acknowledged
            + self.acknowledged_not_delivered
    }
}

impl std::fmt::Display for LossReasons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&jim_text::Lang::En.say(self))
    }
}

/// How a connection ended during a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnEnd {
    Open,
    Closed,
    Reset,
}

/// The result of one traffic measurement.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TrafficReport {
    /// `direct relay` or `room fan-out`.
    pub shape: &'static str,
    /// The pattern with its sizes.
    pub pattern: TrafficShape,
    /// Connections used.
    pub connections: usize,
    /// Messages in flight per sender.
    pub window: usize,
    /// Encoded size of each message.
    pub message_bytes: usize,
    /// Messages written.
    pub sent: u64,
    /// Deliveries the target should have made (sent × recipients per message).
    pub expected_deliveries: u64,
    /// Deliveries seen (each recipient counted once per message).
    pub delivered: u64,
    /// Expected deliveries never seen before the end (after waiting out each deadline).
    pub lost: u64,
    /// Why they were lost (the counts add up to `lost`).
    pub lost_because: LossReasons,
    /// Deliveries seen after their deadline (they also count as delivered).
    pub late: u64,
    /// Chat messages that were duplicates, went to a connection that should not get them, or
    /// carried no tag of ours.
    pub unexpected: u64,
    /// Success responses (acks) received.
    pub acks: u64,
    /// Error responses (code 300 or more) received.
    pub error_responses: u64,
    /// Incoming values that were not JSON or too large.
    pub bad_frames: u64,
    /// Connections the target closed or reset during the measurement.
    pub disconnects: u64,
    /// Messages that could not be written (the write failed or hung).
    pub send_errors: u64,
    /// From the first write to the last delivery, in seconds.
    pub elapsed_secs: f64,
    /// Deliveries per second.
    pub deliveries_per_sec: f64,
    /// Messages per second that reached all their recipients.
    pub messages_per_sec: f64,
    /// Send-to-delivery latency of each delivery.
    pub latency: LatencySummary,
    /// The first few problems, in words.
    pub problems: Vec<Problem>,
}

impl TrafficReport {
    /// True when nothing was lost, duplicated, refused or disconnected.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.unexpected == 0
            && self.error_responses == 0
            && self.disconnects == 0
            && self.send_errors == 0
            && self.bad_frames == 0
    }
}

impl std::fmt::Display for TrafficReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sizes = match self.pattern {
            TrafficShape::Direct { pairs } => format!("{pairs} pairs"),
            TrafficShape::Room { members, senders } => {
                format!("{members} members, {senders} senders")
            }
        };
        writeln!(
            f,
            "{} ({sizes}, window {}, {} B messages): {} sent, {} of {} deliveries made, {} lost",
            self.shape,
            self.window,
            self.message_bytes,
            self.sent,
            self.delivered,
            self.expected_deliveries,
            self.lost
        )?;
        if self.lost > 0 {
            writeln!(f, "    lost because: {}", self.lost_because)?;
        }
        write!(
            f,
            "    {:.0} deliveries/s over {:.2} s; latency {}",
            self.deliveries_per_sec, self.elapsed_secs, self.latency
        )?;
        let extras = [
            (self.late, "late"),
            (self.unexpected, "unexpected"),
            (self.error_responses, "error responses"),
            (self.bad_frames, "bad frames"),
            (self.disconnects, "disconnects"),
            (self.send_errors, "send errors"),
        ];
        for (count, what) in extras {
            if count > 0 {
                write!(f, "; {count} {what}")?;
            }
        }
        for p in &self.problems {
            write!(f, "\n    ! {p}")?;
        }
        Ok(())
    }
}

/// One message waiting for its deliveries.
#[derive(Debug)]
struct Pending {
    sent: Instant,
    deadline: Instant,
    /// Deliveries still missing.
    missing: u32,
    /// Room: which connections have it (bit per connection). Direct: unused.
    got: Box<[u64]>,
}

fn key(sender: u32, seq: u64) -> u64 {
    (u64::from(sender) << 40) | (seq & ((1 << 40) - 1))
}

/// Hashes a message key with one multiplication: keys are ours (sender and sequence number), so
/// SipHash's protection against chosen keys buys nothing and costs a good part of a delivery.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Messages = HashMap<u64, Pending, std::hash::BuildHasherDefault<KeyHasher>>;

/// Shared bookkeeping of a measurement (single-threaded).
#[derive(Debug)]
struct Tracker {
    shape: TrafficShape,
    timeout: Duration,
    /// Messages in flight, counted against their sender's window.
    pending: Messages,
    /// Messages past their deadline that may still arrive late.
    expired: Messages,
    /// Delivery bitmaps of completed room messages, cleared, for reuse.
    spare_bitmaps: Vec<Box<[u64]>>,
    next_seq: Vec<u64>,
    sent: u64,
    max_messages: u64,
    expected: u64,
    delivered: u64,
    completed: u64,
    late: u64,
    unexpected: u64,
    acks: u64,
    error_responses: u64,
    bad_frames: u64,
    disconnects: u64,
    send_errors: u64,
    /// How each connection ended (by connection index).
    ends: Vec<ConnEnd>,
    /// 2xx responses per connection.
    acks_by_conn: Vec<u64>,
    /// Error responses per connection, by code.
    refusals_by_conn: Vec<BTreeMap<u16, u64>>,
    latency: Histogram,
    first_send: Option<Instant>,
    last_delivery: Option<Instant>,
    problems: Vec<Problem>,
}

impl Tracker {
    fn problem(&mut self, p: Problem) {
        if self.problems.len() < MAX_SAMPLES {
            self.problems.push(p);
        }
    }

    /// Registers the next message of `sender`; `None` once the message cap is reached.
    fn register(&mut self, sender: u32, now: Instant) -> Option<u64> {
        if self.sent >= self.max_messages {
            return None;
        }
        let seq = self.next_seq[sender as usize];
        self.next_seq[sender as usize] += 1;
        self.sent += 1;
        let fan = self.shape.fan();
        self.expected += u64::from(fan);
        let words = match self.shape {
            TrafficShape::Direct { .. } => 0,
            TrafficShape::Room { members, .. } => members.div_ceil(64),
        };
        let got = match self.spare_bitmaps.pop() {
            Some(bitmap) if bitmap.len() == words => bitmap,
            _ => vec![0; words].into(),
        };
        let pending = Pending { sent: now, deadline: now + self.timeout, missing: fan, got };
        self.pending.insert(key(sender, seq), pending);
        self.first_send.get_or_insert(now);
        Some(seq)
    }

    /// A message whose write failed: it was never sent.
    fn unregister(&mut self, sender: u32, seq: u64) {
        if self.pending.remove(&key(sender, seq)).is_some() {
            self.sent -= 1;
            self.expected -= u64::from(self.shape.fan());
            self.send_errors += 1;
        }
    }

    /// Whether connection `conn` should receive messages of `sender`.
    fn is_recipient(&self, sender: u32, conn: usize) -> bool {
        match self.shape {
            TrafficShape::Direct { pairs } => {
                (sender as usize) < pairs && conn == sender as usize * 2 + 1
            }
            TrafficShape::Room { members, senders } => {
                (sender as usize) < senders && conn < members && conn != sender as usize
            }
        }
    }

    /// A tagged chat message reached connection `conn`. Returns the sender whose window slot
    /// frees up, if any.
    fn deliver(&mut self, conn: usize, sender: u32, seq: u64, now: Instant) -> Option<u32> {
        if !self.is_recipient(sender, conn) {
            self.unexpected += 1;
            return None;
        }
        let k = key(sender, seq);
        let (entry, in_window) = match self.pending.get_mut(&k) {
            Some(p) => (p, true),
            None => match self.expired.get_mut(&k) {
                Some(p) => (p, false),
                None => {
                    self.unexpected += 1;
                    return None;
                }
            },
        };
        if !entry.got.is_empty() {
            let (word, bit) = (conn / 64, 1u64 << (conn % 64));
            if entry.got[word] & bit != 0 {
                self.unexpected += 1;
                return None;
            }
            entry.got[word] |= bit;
        }
        entry.missing -= 1;
        let done = entry.missing == 0;
        let sent = entry.sent;
        if now > entry.deadline {
            self.late += 1;
        }
        self.delivered += 1;
        self.latency.record(now.saturating_duration_since(sent));
        self.last_delivery = Some(now);
        if done {
            self.completed += 1;
            let finished =
                if in_window { self.pending.remove(&k) } else { self.expired.remove(&k) };
            if let Some(mut p) = finished
                && !p.got.is_empty()
            {
                p.got.fill(0);
                self.spare_bitmaps.push(p.got);
            }
            if in_window {
                return Some(sender);
            }
        }
        None
    }

    /// Why the deliveries still missing were lost (see [`LossReasons`]).
    fn loss_reasons(&self) -> LossReasons {
        let mut reasons = LossReasons::default();
        let mut lost: Vec<(&u64, &Pending)> =
            self.pending.iter().chain(self.expired.iter()).filter(|(_, p)| p.missing > 0).collect();
        lost.sort_by_key(|(k, _)| **k);
        // What each sender's responses can still explain: refusals by code, then silence.
        let senders = self.next_seq.len();
        let mut refusals: Vec<BTreeMap<u16, u64>> = (0..senders)
            .map(|s| {
                self.refusals_by_conn.get(self.shape.sender_conn(s)).cloned().unwrap_or_default()
            })
            .collect();
        let mut unanswered: Vec<u64> = (0..senders)
            .map(|s| {
                let conn = self.shape.sender_conn(s);
                let answered = self.acks_by_conn.get(conn).copied().unwrap_or(0)
                    + refusals[s].values().sum::<u64>();
                self.next_seq[s].saturating_sub(answered)
            })
            .collect();
        for (k, p) in lost {
            let s = (*k >> 40) as usize;
            let sender_end =
                self.ends.get(self.shape.sender_conn(s)).copied().unwrap_or(ConnEnd::Open);
            let mut open_recipients = 0u64;
            for r in self.missing_recipients(s, p) {
                match self.ends.get(r).copied().unwrap_or(ConnEnd::Open) {
                    ConnEnd::Closed => reasons.recipient_closed += 1,
                    ConnEnd::Reset => reasons.recipient_reset += 1,
                    ConnEnd::Open => open_recipients += 1,
                }
            }
            if open_recipients == 0 {
                continue;
            }
            let n = open_recipients;
            match sender_end {
                ConnEnd::Closed => reasons.sender_closed += n,
                ConnEnd::Reset => reasons.sender_reset += n,
                ConnEnd::Open => {
                    let refused = refusals.get_mut(s).and_then(|codes| {
                        let code = codes.iter().find(|(_, c)| **c > 0).map(|(code, _)| *code)?;
                        if let Some(c) = codes.get_mut(&code) {
                            *c -= 1;
                        }
                        Some(code)
                    });
                    if let Some(code) = refused {
                        *reasons.refused.entry(code.to_string()).or_default() += n;
                    } else if unanswered.get(s).is_some_and(|u| *u > 0) {
                        if let Some(u) = unanswered.get_mut(s) {
                            *u -= 1;
                        }
                        reasons.never_acknowledged += n;
                    } else {
                        reasons.acknowledged_not_delivered += n;
                    }
                }
            }
        }
        reasons
    }

    /// The connections that should have got message `p` of sender `s` and did not.
    fn missing_recipients(&self, s: usize, p: &Pending) -> Vec<usize> {
        match self.shape {
            TrafficShape::Direct { .. } => vec![s * 2 + 1],
            TrafficShape::Room { members, .. } => (0..members)
                .filter(|&c| c != s)
                .filter(|&c| p.got.get(c / 64).is_none_or(|w| w & (1u64 << (c % 64)) == 0))
                .collect(),
        }
    }

    /// Moves messages past their deadline out of the windows; returns the freed senders.
    fn expire(&mut self, now: Instant) -> Vec<u32> {
        let overdue: Vec<u64> =
            self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(k, _)| *k).collect();
        let mut freed = Vec::with_capacity(overdue.len());
        for k in overdue {
            if let Some(p) = self.pending.remove(&k) {
                self.expired.insert(k, p);
                freed.push((k >> 40) as u32);
            }
        }
        freed
    }
}

/// The state every task of a measurement shares.
struct Shared {
    tracker: RefCell<Tracker>,
    windows: Vec<Semaphore>,
    sending: Cell<bool>,
    /// Signalled whenever the window count of a message drops (delivery or expiry).
    progress: Notify,
}

impl Shared {
    fn free(&self, senders: &[u32]) {
        for &s in senders {
            if let Some(w) = self.windows.get(s as usize) {
                w.add_permits(1);
            }
        }
        if !senders.is_empty() {
            self.progress.notify_one();
        }
    }
}

impl PreparedTraffic {
    /// The number of connections set up.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Sends for the configured duration (or until the message cap), waits for the last
    /// deliveries or their deadlines, and reports. Must run inside a tokio `LocalSet`.
    pub async fn run(self) -> TrafficReport {
        let PreparedTraffic { opts, conns, names, room } = self;
        let shape = opts.shape;
        let senders = shape.senders();
        let shared = Rc::new(Shared {
            tracker: RefCell::new(Tracker {
                shape,
                timeout: opts.reply_timeout,
                pending: Messages::with_capacity_and_hasher(
                    senders * opts.window * 2,
                    Default::default(),
                ),
                expired: Messages::default(),
                spare_bitmaps: Vec::new(),
                next_seq: vec![0; senders],
                sent: 0,
                max_messages: opts.max_messages,
                expected: 0,
                delivered: 0,
                completed: 0,
                late: 0,
                unexpected: 0,
                acks: 0,
                error_responses: 0,
                bad_frames: 0,
                disconnects: 0,
                send_errors: 0,
                ends: vec![ConnEnd::Open; conns.len()],
                acks_by_conn: vec![0; conns.len()],
                refusals_by_conn: vec![BTreeMap::new(); conns.len()],
                latency: Histogram::new(),
                first_send: None,
                last_delivery: None,
                problems: Vec::new(),
            }),
            windows: (0..senders).map(|_| Semaphore::new(opts.window.max(1))).collect(),
            sending: Cell::new(true),
            progress: Notify::new(),
        });
        let (stop_tx, stop_rx) = watch::channel(false);

        let mut readers = Vec::with_capacity(conns.len());
        let mut writers = Vec::with_capacity(senders);
        for (i, (stream, inbox)) in conns.into_iter().enumerate() {
            let (read_half, write_half) = stream.into_split();
            readers.push(tokio::task::spawn_local(read_loop(
                i,
                read_half,
                inbox,
                Rc::clone(&shared),
                stop_rx.clone(),
            )));
            let sender = (0..senders).find(|&s| shape.sender_conn(s) == i);
            match sender {
                Some(s) => {
                    let to = match shape {
                        TrafficShape::Direct { .. } => names[i + 1].clone(),
                        TrafficShape::Room { .. } => room.clone(),
                    };
                    let template = ChatTemplate::new(
                        s as u32,
                        &names[i],
                        &to,
                        opts.message_bytes,
                        opts.dialect,
                    );
                    writers.push(tokio::task::spawn_local(write_loop(
                        s as u32,
                        write_half,
                        template,
                        Rc::clone(&shared),
                        opts.reply_timeout,
                    )));
                }
                // Keep the write half open so the connection is not half-closed.
                None => {
                    readers.push(tokio::task::spawn_local(hold_open(write_half, stop_rx.clone())));
                }
            }
        }
        let tick =
            (opts.reply_timeout / 4).clamp(Duration::from_millis(5), Duration::from_millis(100));
        let sweeper = tokio::task::spawn_local(sweep(Rc::clone(&shared), tick, stop_rx.clone()));

        // Send until the duration is over or every writer stopped (cap reached, or errors).
        let all_writers = futures::future::join_all(writers);
        futures::pin_mut!(all_writers);
        let finished = tokio::time::timeout(opts.duration, &mut all_writers).await;
        shared.sending.set(false);
        for w in &shared.windows {
            w.close();
        }
        // The write halves stay alive until the readers stop: dropping one half-closes its socket.
        let _write_halves = match finished {
            Ok(halves) => halves,
            Err(_) => all_writers.await,
        };

        // Drain: wait for the deliveries still in flight, or for their deadlines.
        let drain_limit = opts.reply_timeout + tick * 2 + Duration::from_secs(1);
        let _ = tokio::time::timeout(drain_limit, async {
            while !shared.tracker.borrow().pending.is_empty() {
                shared.progress.notified().await;
            }
        })
        .await;

        let _ = stop_tx.send(true);
        for r in readers {
            let _ = r.await;
        }
        let _ = sweeper.await;

        let mut t = shared.tracker.borrow_mut();
        let start = t.first_send.unwrap_or_else(Instant::now);
        let end = t.last_delivery.unwrap_or_else(Instant::now);
        let elapsed = end.saturating_duration_since(start).as_secs_f64().max(1e-9);
        let lost = t.expected.saturating_sub(t.delivered);
        let lost_because = t.loss_reasons();
        if lost > 0 {
            let within = opts.reply_timeout;
            t.problem(Problem::Lost { lost, within, because: lost_because.clone() });
        }
        TrafficReport {
            shape: shape.label(),
            pattern: shape,
            connections: names.len(),
            window: opts.window,
            message_bytes: ChatTemplate::new(0, &names[0], &room, opts.message_bytes, opts.dialect)
                .len(),
            sent: t.sent,
            expected_deliveries: t.expected,
            delivered: t.delivered,
            lost,
            lost_because,
            late: t.late,
            unexpected: t.unexpected,
            acks: t.acks,
            error_responses: t.error_responses,
            bad_frames: t.bad_frames,
            disconnects: t.disconnects,
            send_errors: t.send_errors,
            elapsed_secs: if t.delivered == 0 { 0.0 } else { elapsed },
            deliveries_per_sec: t.delivered as f64 / elapsed,
            messages_per_sec: t.completed as f64 / elapsed,
            latency: t.latency.summary(),
            problems: std::mem::take(&mut t.problems),
        }
    }
}

/// Reads everything a connection receives and books it.
async fn read_loop(
    conn: usize,
    mut read_half: OwnedReadHalf,
    mut inbox: Inbox,
    shared: Rc<Shared>,
    stop: watch::Receiver<bool>,
) {
    // Made once: a read per wake-up must not register a new waiter each time.
    let mut watch_stop = stop.clone();
    let stopped = watch_stop.changed();
    tokio::pin!(stopped);
    loop {
        // Frames that arrived with the setup replies are handled first.
        handle_buffered(conn, &mut inbox, &shared);
        let filled = tokio::select! {
            biased;
            _ = &mut stopped => return,
            r = inbox.fill(&mut read_half) => r,
        };
        match filled {
            Ok(true) => {}
            Ok(false) => {
                handle_buffered(conn, &mut inbox, &shared);
                if !*stop.borrow() {
                    let mut t = shared.tracker.borrow_mut();
                    if let Some(end) = t.ends.get_mut(conn) {
                        *end = ConnEnd::Closed;
                    }
                    t.disconnects += 1;
                    t.problem(Problem::TargetClosed { conn });
                }
                return;
            }
            Err(e) => {
                let mut t = shared.tracker.borrow_mut();
                if let Some(end) = t.ends.get_mut(conn) {
                    *end = ConnEnd::Reset;
                }
                t.disconnects += 1;
                t.problem(Problem::ConnReadFailed { conn, error: e.into() });
                return;
            }
        }
    }
}

/// Handles every complete frame buffered on connection `conn` (one clock reading for all).
fn handle_buffered(conn: usize, inbox: &mut Inbox, shared: &Shared) {
    let now = Instant::now();
    let mut freed = false;
    {
        let mut t = shared.tracker.borrow_mut();
        while let Some(frame) = inbox.buffered() {
            if let Some(s) = handle_frame(&mut t, conn, frame, now) {
                // The window semaphores are not part of the tracker: free the slot at once.
                if let Some(w) = shared.windows.get(s as usize) {
                    w.add_permits(1);
                }
                freed = true;
            }
        }
    }
    if freed {
        shared.progress.notify_one();
    }
}

fn handle_frame(
    t: &mut Tracker,
    conn: usize,
    frame: Result<Bytes, FrameError>,
    now: Instant,
) -> Option<u32> {
    let raw = match frame {
        Ok(raw) => raw,
        Err(e) => {
            t.bad_frames += 1;
            t.problem(Problem::BadValue { conn, error: e });
            return None;
        }
    };
    match wire::classify(&raw) {
        Some(Incoming::Chat(text)) => match wire::parse_tag(&text) {
            Some((sender, seq)) => t.deliver(conn, sender, seq, now),
            None => {
                t.unexpected += 1;
                None
            }
        },
        Some(Incoming::Response(code)) if (200..300).contains(&code) => {
            t.acks += 1;
            if let Some(n) = t.acks_by_conn.get_mut(conn) {
                *n += 1;
            }
            None
        }
        Some(Incoming::Response(code)) => {
            t.error_responses += 1;
            if let Some(codes) = t.refusals_by_conn.get_mut(conn) {
                *codes.entry(code).or_default() += 1;
            }
            let text = wire::error_text(&raw);
            t.problem(Problem::GotResponse { conn, code, text });
            None
        }
        Some(Incoming::Other) => None,
        None => {
            t.bad_frames += 1;
            t.problem(Problem::NonJson { conn, text: wire::error_text(&raw) });
            None
        }
    }
}

/// Writes messages of sender `sender` while its window and the duration allow.
async fn write_loop(
    sender: u32,
    mut write_half: OwnedWriteHalf,
    mut template: ChatTemplate,
    shared: Rc<Shared>,
    write_timeout: Duration,
) -> OwnedWriteHalf {
    let Some(window) = shared.windows.get(sender as usize) else {
        return write_half;
    };
    while shared.sending.get() {
        match window.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => break, // closed: the duration is over
        }
        if !shared.sending.get() {
            break;
        }
        let Some(seq) = shared.tracker.borrow_mut().register(sender, Instant::now()) else {
            break;
        };
        let bytes = template.stamp(seq);
        let written = write_message(&mut write_half, bytes, write_timeout).await;
        if !matches!(written, Ok(Ok(()))) {
            let mut t = shared.tracker.borrow_mut();
            t.unregister(sender, seq);
            t.problem(match written {
                Ok(Err(e)) => Problem::SenderWriteFailed { sender, error: e.into() },
                _ => Problem::SenderBlocked { sender, within: write_timeout },
            });
            break;
        }
    }
    // Returned, not dropped: dropping would half-close the socket while acks still arrive.
    write_half
}

/// Writes one message (one `write()`), within `timeout`. The usual write goes through at once
/// and costs no timer; only one the kernel cannot take whole waits, under the timeout.
pub(crate) async fn write_message(
    w: &mut OwnedWriteHalf,
    bytes: &[u8],
    timeout: Duration,
) -> Result<std::io::Result<()>, tokio::time::error::Elapsed> {
    let rest = match w.try_write(bytes) {
        Ok(n) if n == bytes.len() => return Ok(Ok(())),
        Ok(n) => &bytes[n..],
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => bytes,
        Err(e) => return Ok(Err(e)),
    };
    tokio::time::timeout(timeout, w.write_all(rest)).await
}

async fn hold_open(write_half: OwnedWriteHalf, mut stop: watch::Receiver<bool>) {
    let _ = stop.changed().await;
    drop(write_half);
}

/// Expires overdue messages every `tick` until stopped.
async fn sweep(shared: Rc<Shared>, tick: Duration, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(tick);
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            _ = interval.tick() => {
                let freed = shared.tracker.borrow_mut().expire(Instant::now());
                shared.free(&freed);
                if shared.tracker.borrow().pending.is_empty() {
                    shared.progress.notify_one();
                }
            }
        }
    }
}
