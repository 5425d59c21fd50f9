//! Runs one session against a target and judges every observation as it arrives.
//!
//! Steps run one at a time. After each request the driver waits for exactly what the model
//! expects (the reply on the actor's connection, each relay on its addressee's), every wait
//! bounded by the step timeout; a value the model does not expect, wherever it shows up later,
//! is explained by [`judge::explain`]. Optional values (a message's ack under `no-msg-ack`, a
//! room echo under `room-echo`) stay allowed on their connection until they come or the session
//! ends. At the end, every logged-in client sends the barrier request and must get its answer
//! with nothing unexplained before it: a round trip proves that nothing else was on its way
//! (PROTOCOL.md §order: one connection's replies come in order), so silence is never a sleep.
//!
//! Four more round trips keep a session's outcome a fact about the server, not about timing:
//! after a request whose effects nothing showed (a room message with no other member and no
//! ack, say) the actor makes a round trip, so that another client's next request cannot
//! overtake it ([`Expect::unobserved`]); after a refused presence the barrier request tells whether the server kept the connection
//! (the client then goes on with it: what a server keeps of a refused connection is worth
//! exploring); after a client closes or resets its connection, another logged-in client makes a
//! round trip, so that a server with one loop has taken the close in before the next step
//! ([`Model::witness`]; a thread per connection may still be busy with it, so the model takes
//! either order as right for what depends on it);
//! at the end of a session every connection is shut down and the server's own close awaited, so
//! that the next session does not race the server's cleanup of this one. A careful replay adds a
//! round trip after every request ([`Op::Check`]): a response before its answer is a second one
//! to the request before ([`Obligation::OneReply`]).
//!
//! The only waits that are not reads: a name whose session just ended may still be taken for a
//! moment (the server learns of a close when it gets to it), so a presence with it is retried on
//! a fresh connection, with growing pauses, until it succeeds or the step timeout runs out.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::judge::{self, Finding, Words, code_of, list_of, relay_matches, t};
use super::model::{
    BarrierKind, Branch, ClientId, Expect, Link, ListCheck, Model, Obligation, Op, Relay, Reply,
    Rules, Session, Traits,
};
use super::wire_form;
use crate::jim::is_push;
use crate::matcher::{Tolerances, show, usable_time};
use crate::model::{DisconnectKind, Level};
use crate::wire::{Arrival, Conn, Delivery};

/// Everything a session run needs from the exploration.
#[derive(Debug, Clone)]
pub struct Env {
    /// Where the target listens.
    pub addr: SocketAddr,
    /// The step timeout.
    pub timeout: Duration,
    /// What the target offers.
    pub traits: Traits,
    /// Tolerances in force (`--strict`: none).
    pub tolerances: Tolerances,
    /// Replies must carry `time` (else the `no-time` tolerance decides).
    pub replies_need_time: bool,
    /// Check that each reply came in one piece (`--strict`).
    pub one_write: bool,
    /// Waits for replies end once a spawned target is idle ([`crate::idle`]).
    pub watch: Option<crate::idle::Watch>,
}

impl Env {
    /// The model's rules under these tolerances.
    pub fn rules(&self) -> Rules {
        Rules {
            ack_optional: self.tolerances.mode(crate::vocab::Tolerance::NoMsgAck).is_some()
                && !self.traits.acks,
            echo_allowed: self.tolerances.mode(crate::vocab::Tolerance::RoomEcho).is_some(),
            close_on_bad: self.tolerances.mode(crate::vocab::Tolerance::CloseOnBadInput).is_some(),
            close_witness: self.traits.barrier == Some(BarrierKind::Contacts),
        }
    }
}

/// How a session run ended.
#[derive(Debug, Clone, Default)]
pub struct SessionRun {
    /// The first contradiction, if any (the session stops there).
    pub finding: Option<Finding>,
    /// Style observations that do not stop the session (`--strict` only).
    pub notes: Vec<Finding>,
    /// Tolerances that were needed.
    pub lenient: BTreeSet<String>,
    /// For each step: how it turned out (None: skipped, its preconditions were gone).
    pub branches: Vec<Option<Branch>>,
    /// The target stopped answering or died (the finding says so).
    pub target_down: bool,
    /// The generator feature of the failing step (left out of later sessions when the
    /// failure is below `must`).
    pub feature: Option<super::generator::Feature>,
    /// The failure was a response on a connection that had made an earlier request: it may be
    /// a second answer to that one, which a careful replay (a round trip after each request)
    /// tells apart.
    pub stray_suspect: bool,
}

/// An optional value a connection may still receive.
#[derive(Debug, Clone)]
enum Pending {
    /// A message's ack (200).
    Ack,
    /// A room message's copy back to its sender.
    Echo(Relay),
}

/// What a wait looks for.
#[derive(Debug, Clone)]
enum Want {
    /// The response to the request (the first response that comes).
    Reply,
    /// The response to a round trip: a response with another code before it is a second
    /// answer to the client's previous request.
    RoundTrip,
    /// A relayed message.
    Relay(Relay),
}

/// Runs `session` with names prefixed by `tag`.
pub async fn run_session(env: &Env, session: &Session, tag: &str) -> SessionRun {
    // A lesson-3 server that accepts one fixed name (Guest) gets exactly that name.
    let tag = if env.traits.fixed_name.is_some() { "" } else { tag };
    let mut d = Driver {
        env,
        session,
        tag,
        model: Model::new(session, env.rules()),
        conns: (0..session.dialects.len()).map(|_| None).collect(),
        pending: vec![Vec::new(); session.dialects.len()],
        last_name: vec![None; session.dialects.len()],
        last_request: vec![None; session.dialects.len()],
        kept_open: Vec::new(),
        out: SessionRun::default(),
    };
    for (i, step) in session.steps.iter().enumerate() {
        if !d.model.applicable(&step.op) {
            d.out.branches.push(None);
            continue;
        }
        match d.step(i, &step.op, step.delivery).await {
            Ok(branch) => {
                d.model.commit(i, &step.op, branch);
                d.out.branches.push(Some(branch));
            }
            Err(f) => {
                d.out.branches.push(None);
                let e = d.model.expect(i, &step.op);
                d.out.feature = super::generator::feature(step, &e, &d.model);
                d.fail(f).await;
                break;
            }
        }
    }
    if d.out.finding.is_none() {
        if let Err(f) = d.closing_barrier(session.steps.len()).await {
            d.fail(f).await;
        }
    }
    d.farewell().await;
    for mut conn in std::mem::take(&mut d.kept_open) {
        conn.disconnect(DisconnectKind::Close).await;
    }
    d.out
}

struct Driver<'a> {
    env: &'a Env,
    session: &'a Session,
    tag: &'a str,
    model: Model,
    conns: Vec<Option<Conn>>,
    pending: Vec<Vec<Pending>>,
    last_name: Vec<Option<usize>>,
    /// The step of each client's last answered request on its current connection.
    last_request: Vec<Option<usize>>,
    /// Connections a server left open after quit (the `open-after-quit` tolerance): kept open
    /// until the session ends, so that a later login with the quitting name shows whether the
    /// quit freed it (closing them here would free it by the close instead).
    kept_open: Vec<Conn>,
    out: SessionRun,
}

impl Driver<'_> {
    fn words(&self) -> Words<'_> {
        Words { session: self.session, tag: self.tag, last_name: &self.last_name }
    }

    async fn fail(&mut self, mut f: Finding) {
        if matches!(f.obligation, Obligation::KeepsConnection | Obligation::Alive)
            || f.observed.en.starts_with("nothing")
            || f.observed.en.starts_with("connection")
        {
            if let Some(down) = liveness(self.env.addr, self.env.timeout).await {
                self.out.target_down = true;
                f.obligation = Obligation::Alive;
                f.level = Level::Must;
                f.sentence = t(
                    format!("{} ({})", down.en, f.sentence.en),
                    format!("{} ({})", down.ru, f.sentence.ru),
                );
            }
        }
        self.out.finding = Some(f);
    }

    /// Accepts a tolerated variant (noting it), or records a `--strict` style note.
    fn tolerate(&mut self, name: &str, step: usize, client: ClientId, what: &Value) {
        let tolerance = crate::vocab::Tolerance::parse(name);
        match tolerance.and_then(|t| self.env.tolerances.mode(t)) {
            Some(mode) => {
                if mode == crate::matcher::ToleranceMode::Lenient {
                    self.out.lenient.insert(name.to_owned());
                }
            }
            None => {
                if self.out.notes.iter().any(|n| n.expected.en == name) {
                    return;
                }
                let info = tolerance.map(crate::vocab::Tolerance::describe);
                let (en, ru) = info.map_or((name.to_owned(), name.to_owned()), |i| (i.en, i.ru));
                let shown = self.words().unwire(&show(what, 200));
                self.out.notes.push(
                    Finding::new(Obligation::Style, Level::Should)
                        .at(step, client)
                        .sentence(t(
                            format!("{en} (tolerance {name}, refused by --strict)"),
                            format!("{ru} (допуск {name}, не принимается с --strict)"),
                        ))
                        .expected(t(name, name))
                        .observed(t(shown.clone(), shown)),
                );
            }
        }
    }

    async fn write(
        &mut self,
        c: ClientId,
        op: &Op,
        delivery: Delivery,
        step: usize,
    ) -> Result<(), Finding> {
        let Some(req) = wire_form::request(self.session, self.tag, &self.model, op) else {
            return Ok(());
        };
        let extra = match delivery {
            Delivery::Whole => Duration::ZERO,
            Delivery::Split => crate::wire::SPLIT_PAUSE * 12,
            Delivery::Trickle => crate::wire::TRICKLE_PAUSE * 3 * req.bytes.len() as u32,
        };
        let deadline = Instant::now() + self.env.timeout + extra;
        let result = match self.conns.get_mut(c).and_then(Option::as_mut) {
            Some(conn) => conn.write(&req.bytes, delivery, deadline).await,
            None => Err(std::io::Error::new(std::io::ErrorKind::NotConnected, "not connected")),
        };
        result.map_err(|e| {
            let who = self.words().who(c);
            Finding::new(Obligation::KeepsConnection, Level::Must).at(step, c).sentence(t(
                    format!("{}'s request could not be written: the server closed or reset the connection ({e})", who.en),
                    format!("запрос {} не удалось отправить: сервер закрыл или сбросил соединение ({e})", who.ru),
                )).expected(t("an open connection", "открытое соединение")).observed(t(format!("connection closed ({e})"), format!("соединение закрыто ({e})")))
        })
    }

    async fn step(&mut self, i: usize, op: &Op, delivery: Delivery) -> Result<Branch, Finding> {
        let c = op.client();
        let e = self.model.expect(i, op);
        match op {
            Op::Connect { .. } => {
                match Conn::open(self.env.addr, self.env.timeout).await {
                    Ok(mut conn) => {
                        conn.watch(self.env.watch);
                        self.conns[c] = Some(conn);
                    }
                    Err(err) => {
                        let who = self.words().who(c);
                        return Err(Finding::new(Obligation::Alive, Level::Must)
                            .at(i, c)
                            .sentence(t(
                                format!("{} could not connect: {err}", who.en),
                                format!("{} не смог подключиться: {err}", who.ru),
                            ))
                            .expected(t("the connection is accepted", "соединение принимается"))
                            .observed(t(
                                format!("connection failed: {err}"),
                                format!("соединение не удалось: {err}"),
                            )));
                    }
                }
                self.pending[c].clear();
                self.last_request[c] = None;
                Ok(Branch::Accepted)
            }
            Op::Close { .. } | Op::Reset { .. } => {
                let kind = if matches!(op, Op::Reset { .. }) {
                    DisconnectKind::Reset
                } else {
                    DisconnectKind::Close
                };
                if let Some(mut conn) = self.conns[c].take() {
                    conn.disconnect(kind).await;
                }
                if let Some(w) = self.model.witness(c) {
                    let op = Op::GetContacts { c: w };
                    let e = self.model.expect(i, &op);
                    self.write(w, &op, Delivery::Whole, i).await?;
                    self.await_on(i, w, vec![Want::Reply], &e).await?;
                    self.last_request[w] = Some(i);
                }
                Ok(Branch::Accepted)
            }
            Op::Quit { .. } => self.quit(i, c, op).await,
            Op::Presence { name, .. } if e.reply == Reply::Eventually => {
                self.eventually(i, c, op, *name, &e).await
            }
            Op::Check { .. } => {
                self.write(c, op, delivery, i).await?;
                let branch = self.await_on(i, c, vec![Want::RoundTrip], &e).await?;
                self.last_request[c] = Some(i);
                Ok(branch.unwrap_or(Branch::Accepted))
            }
            _ => {
                self.write(c, op, delivery, i).await?;
                let branch = self.await_effects(i, c, &e).await?;
                self.last_request[c] = Some(i);
                if e.unobserved() && branch != Branch::Closed {
                    self.settle(i, c).await?;
                }
                if let (Op::Presence { name, .. }, Branch::Accepted) = (op, branch) {
                    self.last_name[c] = Some(*name);
                }
                match (op, branch) {
                    (_, Branch::Closed) => {}
                    (Op::Presence { .. }, Branch::Refused) => {
                        return self.after_refusal(i, c).await;
                    }
                    // Under close-on-bad-input the client gives up after bad input, so that
                    // what follows does not depend on whether this server closed it.
                    (Op::Bad { .. }, _) if self.model.rules().close_on_bad => {}
                    _ => return Ok(branch),
                }
                self.give_up(c).await;
                Ok(Branch::Closed)
            }
        }
    }

    /// A round trip on client `c`'s connection after a request whose effects nothing showed
    /// ([`Expect::unobserved`]): its answer proves the request processed before the next step
    /// starts. Without it, a room message with no other member and no ack could be overtaken
    /// by another client's join at a threaded server, and that client would receive it (a
    /// false failure that depends on the scheduler: 96 of 400 runs of such a session against
    /// the lenient test server, 16 at a time). A response before the answer is a second one to
    /// the request. Without a barrier request there is nothing to settle with.
    async fn settle(&mut self, i: usize, c: ClientId) -> Result<(), Finding> {
        let Some(kind) = self.env.traits.barrier else { return Ok(()) };
        let probe = barrier_op(kind, c);
        let e = self.model.expect(i, &probe);
        self.write(c, &probe, Delivery::Whole, i).await?;
        self.await_on(i, c, vec![Want::RoundTrip], &e).await?;
        Ok(())
    }

    async fn give_up(&mut self, c: ClientId) {
        if let Some(mut conn) = self.conns[c].take() {
            conn.disconnect(DisconnectKind::Close).await;
        }
    }

    /// After a refused presence the client goes on with its connection, if the server kept it:
    /// servers may close it after the refusal, so a round trip (the barrier request, whatever
    /// its answer) tells which. Without a barrier the client gives the connection up.
    async fn after_refusal(&mut self, i: usize, c: ClientId) -> Result<Branch, Finding> {
        let Some(kind) = self.env.traits.barrier else {
            self.give_up(c).await;
            return Ok(Branch::Closed);
        };
        let probe = barrier_op(kind, c);
        if self.write(c, &probe, Delivery::Whole, i).await.is_err() {
            self.give_up(c).await;
            return Ok(Branch::Closed);
        }
        let deadline = Instant::now() + self.env.timeout;
        loop {
            let Some(conn) = self.conns.get_mut(c).and_then(Option::as_mut) else {
                return Ok(Branch::Closed);
            };
            match conn.next(deadline).await {
                Arrival::Value { value, .. } if is_push(&value) => {}
                Arrival::Value { value, .. } if code_of(&value).is_some() => {
                    return Ok(Branch::Refused);
                }
                Arrival::Value { value, .. } => {
                    if !self.take_pending(c, &value) {
                        return Err(judge::explain(&self.model, &self.words(), c, &value, i));
                    }
                }
                Arrival::Closed { .. } => {
                    self.give_up(c).await;
                    return Ok(Branch::Closed);
                }
                Arrival::Bad { kind, text, .. } => {
                    let who = self.words().who(c);
                    return Err(Finding::new(Obligation::BeforePresence, Level::Must)
                        .at(i, c)
                        .sentence(t(
                            format!("{} received bytes that are not a JSON value ({kind}) after the refused presence", who.en),
                            format!("{} получил байты, которые не являются JSON ({kind}), после отказа на presence", who.ru),
                        ))
                        .expected(t("a JSON response", "JSON-ответ"))
                        .observed(t(text.clone(), text)));
                }
                Arrival::Nothing => {
                    let who = self.words().who(c);
                    let secs = self.env.timeout.as_secs_f64();
                    return Err(Finding::new(Obligation::BeforePresence, Level::Should)
                        .at(i, c)
                        .sentence(t(
                            format!("after refusing {}'s presence of step {}, the server neither answered the next request nor closed the connection within {secs} s", who.en, i + 1),
                            format!("отказав в presence {} на шаге {}, сервер за {secs} с не ответил на следующий запрос и не закрыл соединение", who.ru, i + 1),
                        ))
                        .expected(t("an answer (401) or a closed connection", "ответ (401) или закрытое соединение"))
                        .observed(t(format!("nothing within {secs} s"), format!("ничего за {secs} с"))));
                }
            }
        }
    }

    /// Waits for what `e` says must follow a request of client `c`.
    async fn await_effects(
        &mut self,
        i: usize,
        c: ClientId,
        e: &Expect,
    ) -> Result<Branch, Finding> {
        let mut mine: Vec<Want> = Vec::new();
        let mut others: Vec<(ClientId, Vec<Want>)> = Vec::new();
        for r in &e.relays {
            if r.at == c {
                mine.push(Want::Relay(r.clone()));
            } else if let Some(entry) = others.iter_mut().find(|(at, _)| *at == r.at) {
                entry.1.push(Want::Relay(r.clone()));
            } else {
                others.push((r.at, vec![Want::Relay(r.clone())]));
            }
        }
        match &e.reply {
            Reply::Ok { optional: true, .. } => self.pending[c].push(Pending::Ack),
            Reply::None | Reply::Eventually => {}
            _ => mine.push(Want::Reply),
        }
        if let Some(echo) = &e.echo {
            self.pending[c].push(Pending::Echo(echo.clone()));
        }
        let mut branch = Branch::Accepted;
        if !mine.is_empty() {
            if let Some(b) = self.await_on(i, c, mine, e).await? {
                branch = b;
            }
        }
        if branch == Branch::Accepted || matches!(e.reply, Reply::Ok { .. }) {
            for (at, wants) in others {
                self.await_on(i, at, wants, e).await?;
            }
        }
        Ok(branch)
    }

    /// Reads client `c` until every want has arrived (in any order), allowing its pending
    /// optional values; the branch a reply chose, if there was a reply.
    async fn await_on(
        &mut self,
        i: usize,
        c: ClientId,
        mut wants: Vec<Want>,
        e: &Expect,
    ) -> Result<Option<Branch>, Finding> {
        let deadline = Instant::now() + self.env.timeout;
        let mut branch = None;
        let mut skipped = 0usize;
        while !wants.is_empty() {
            let Some(conn) = self.conns.get_mut(c).and_then(Option::as_mut) else {
                return Err(self.missing(i, c, &wants[0], e, "connection closed"));
            };
            let arrival = conn.next(deadline).await;
            let pieces = conn.last_pieces();
            match arrival {
                Arrival::Value { value, .. } => {
                    if is_push(&value) {
                        skipped += 1;
                        if skipped > 1000 {
                            return Err(self.missing(i, c, &wants[0], e, "only pushes"));
                        }
                        continue;
                    }
                    // A small value written at once arrives in one read; a long list may not.
                    if self.env.one_write && value.to_string().len() < 1024 {
                        if let Some(p) =
                            pieces.and_then(|p| (p.reads > 1).then(|| p.problem()).flatten())
                        {
                            if !self.out.notes.iter().any(|n| n.obligation == Obligation::OneWrite)
                            {
                                let shown = self.words().unwire(&show(&value, 200));
                                self.out.notes.push(
                                    Finding::new(Obligation::OneWrite, Level::Should)
                                        .at(i, c)
                                        .sentence(t(p.clone(), p))
                                        .expected(t(
                                            "one value per write",
                                            "одно значение за одну запись",
                                        ))
                                        .observed(t(shown.clone(), shown)),
                                );
                            }
                        }
                    }
                    // A response that contradicts the model may be a second answer to this
                    // client's previous request: a careful replay tells (see `Want::RoundTrip`).
                    let suspect = code_of(&value).is_some() && self.last_request[c].is_some();
                    if let Some((code, _)) = code_of(&value) {
                        if let Some(k) =
                            wants.iter().position(|w| matches!(w, Want::Reply | Want::RoundTrip))
                        {
                            let round_trip = matches!(wants[k], Want::RoundTrip);
                            if round_trip && !reply_code_is(&e.reply, code) {
                                if self.take_pending(c, &value) {
                                    continue;
                                }
                                return Err(self.second_answer(i, c, &value));
                            }
                            let b = match self.judge_reply(i, c, e, &value).await {
                                Ok(b) => b,
                                Err(f) => {
                                    self.out.stray_suspect |= suspect;
                                    return Err(f);
                                }
                            };
                            branch = Some(b);
                            wants.remove(k);
                            if b == Branch::Refused {
                                // A refused request causes no relays.
                                wants.retain(|w| matches!(w, Want::Reply));
                            }
                            continue;
                        }
                    }
                    let words = self.words();
                    if let Some(k) = wants.iter().position(
                        |w| matches!(w, Want::Relay(r) if relay_matches(&words, r, &value)),
                    ) {
                        wants.remove(k);
                        continue;
                    }
                    if self.take_pending(c, &value) {
                        continue;
                    }
                    let relays: Vec<Relay> = wants
                        .iter()
                        .filter_map(|w| if let Want::Relay(r) = w { Some(r.clone()) } else { None })
                        .collect();
                    if let Some(f) = judge::altered(&self.words(), &relays, c, &value, i) {
                        return Err(f);
                    }
                    self.out.stray_suspect |= suspect;
                    return Err(judge::explain(&self.model, &self.words(), c, &value, i));
                }
                Arrival::Bad { kind, text, .. } => {
                    let who = self.words().who(c);
                    return Err(Finding::new(e.obligation, Level::Must).at(i, c).sentence(t(
                            format!("{} received bytes that are not a JSON value ({kind}): responds, but not JIM", who.en),
                            format!("{} получил байты, которые не являются JSON ({kind}): отвечает, но не на JIM", who.ru),
                        )).expected(t("a JSON object", "JSON-объект")).observed(t(text.clone(), text)));
                }
                Arrival::Closed { reset } => {
                    if e.may_close && wants.iter().any(|w| matches!(w, Want::Reply)) {
                        self.note_close_tolerance(e);
                        return Ok(Some(Branch::Closed));
                    }
                    let what = if reset { "connection reset" } else { "connection closed" };
                    return Err(self.missing(i, c, &wants[0], e, what));
                }
                Arrival::Nothing => {
                    if matches!(e.reply, Reply::Either { silent_ok: true, .. })
                        && wants.iter().all(|w| matches!(w, Want::Reply))
                    {
                        return Ok(Some(Branch::Accepted));
                    }
                    return Err(self.missing(i, c, &wants[0], e, "nothing"));
                }
            }
        }
        Ok(branch)
    }

    /// A response at a round trip that is not its answer: a second response to the request
    /// the client made before.
    fn second_answer(&self, i: usize, c: ClientId, v: &Value) -> Finding {
        let words = self.words();
        let who = words.who(c);
        let shown = words.unwire(&show(v, 200));
        let before = self.last_request[c];
        let what = describe_op(
            self.session,
            None,
            &before.and_then(|k| self.session.steps.get(k)).map(|s| s.op.clone()),
        );
        let k = before.map_or(0, |k| k + 1);
        Finding::new(Obligation::OneReply, Level::Must)
            .at(i, c)
            .sentence(t(
                format!("{}'s request of step {k} ({}) got a second response: {shown}", who.en, what.en),
                format!("на запрос {} с шага {k} ({}) пришёл второй ответ: {shown}", who.ru, what.ru),
            ))
            .expected(t(
                format!("one response to the request of step {k}; the next one answers the round trip of step {} (202 with the contact list)", i + 1),
                format!("один ответ на запрос шага {k}; следующий — ответ на запрос-ответ шага {} (202 со списком контактов)", i + 1),
            ))
            .observed(t(shown.clone(), shown))
    }

    fn note_close_tolerance(&mut self, e: &Expect) {
        if e.obligation == Obligation::BadInput {
            if let Some(crate::matcher::ToleranceMode::Lenient) =
                self.env.tolerances.mode(crate::vocab::Tolerance::CloseOnBadInput)
            {
                self.out.lenient.insert("close-on-bad-input".into());
            }
        }
    }

    fn take_pending(&mut self, c: ClientId, v: &Value) -> bool {
        let words = Words { session: self.session, tag: self.tag, last_name: &self.last_name };
        let pos = self.pending[c].iter().position(|p| match p {
            Pending::Ack => code_of(v).is_some_and(|(code, _)| (200..300).contains(&code)),
            Pending::Echo(r) => relay_matches(&words, r, v),
        });
        match pos {
            Some(k) => {
                if matches!(self.pending[c][k], Pending::Echo(_)) {
                    if let Some(crate::matcher::ToleranceMode::Lenient) =
                        self.env.tolerances.mode(crate::vocab::Tolerance::RoomEcho)
                    {
                        self.out.lenient.insert("room-echo".into());
                    }
                }
                self.pending[c].remove(k);
                true
            }
            None => false,
        }
    }

    fn missing(&self, i: usize, c: ClientId, want: &Want, e: &Expect, what: &str) -> Finding {
        let secs = self.env.timeout.as_secs_f64();
        let (observed_en, observed_ru) = match what {
            "nothing" => (format!("nothing within {secs} s"), format!("ничего за {secs} с")),
            "connection closed" => {
                ("connection closed".to_owned(), "соединение закрыто".to_owned())
            }
            "connection reset" => ("connection reset".to_owned(), "соединение сброшено".to_owned()),
            other => (other.to_owned(), other.to_owned()),
        };
        let words = self.words();
        let who = words.who(c);
        match want {
            Want::Relay(r) => {
                let sender = words.name(r.from);
                let q = Words::quote(&r.text);
                let dest = words.dest(r.to);
                Finding::new(Obligation::Delivery, e.relay_level).at(i, c).sentence(t(
                        format!("{} never received {sender}'s message to {dest} of step {} ({q}): {observed_en}", who.en, r.step + 1),
                        format!("{} так и не получил сообщение {sender} для {dest} с шага {} ({q}): {observed_ru}", who.ru, r.step + 1),
                    )).expected(t(format!("the message from {sender} to {dest}: {q}"), format!("сообщение от {sender} для {dest}: {q}"))).observed(t(observed_en, observed_ru))
            }
            Want::Reply | Want::RoundTrip => {
                let (obligation, level) = if what == "nothing" || what == "only pushes" {
                    (e.obligation, e.level)
                } else {
                    (Obligation::KeepsConnection, Level::Must)
                };
                Finding::new(obligation, level)
                    .at(i, c)
                    .sentence(t(
                        format!(
                            "the server did not answer {}'s request of step {}: {observed_en}",
                            who.en,
                            i + 1
                        ),
                        format!(
                            "сервер не ответил на запрос {} с шага {}: {observed_ru}",
                            who.ru,
                            i + 1
                        ),
                    ))
                    .expected(describe_reply(&e.reply))
                    .observed(t(observed_en, observed_ru))
            }
        }
    }

    /// Judges a response against the expected reply; the branch it chose.
    async fn judge_reply(
        &mut self,
        i: usize,
        c: ClientId,
        e: &Expect,
        v: &Value,
    ) -> Result<Branch, Finding> {
        let Some((code, stringy)) = code_of(v) else {
            return Err(judge::explain(&self.model, &self.words(), c, v, i));
        };
        if stringy {
            self.tolerate("string-code", i, c, v);
        }
        if self.env.replies_need_time && !v.get("time").is_some_and(usable_time) {
            self.tolerate("no-time", i, c, v);
        }
        let ok = (200..300).contains(&code);
        let err = code >= 400;
        let who = self.words().who(c);
        let shown = self.words().unwire(&show(v, 200));
        let wrong = |_: &Self, en: String, ru: String| {
            Finding::new(e.obligation, e.level)
                .at(i, c)
                .sentence(t(en, ru))
                .expected(describe_reply(&e.reply))
                .observed(t(shown.clone(), shown.clone()))
        };
        let what = describe_op(
            self.session,
            self.model.client(c).map(|s| s.dialect),
            &self.session.steps.get(i).map(|s| s.op.clone()),
        );
        match &e.reply {
            Reply::Ok { code: want, list, .. } => {
                if i64::from(*want) == code {
                    if let Some(check) = list {
                        self.check_list(i, c, e, check, v).await?;
                    }
                    Ok(Branch::Accepted)
                } else if err {
                    Err(wrong(
                        self,
                        format!(
                            "{} was refused with {code} ({}): {}",
                            what.en,
                            e.obligation.title().en,
                            reason_text(v)
                        ),
                        format!(
                            "{} отклонено с кодом {code} ({}): {}",
                            what.ru,
                            e.obligation.title().ru,
                            reason_text(v)
                        ),
                    ))
                } else {
                    Err(wrong(
                        self,
                        format!("{} got {code} where {want} is due", what.en),
                        format!("{} получил {code}, а положен {want}", what.ru),
                    ))
                }
            }
            Reply::Refused { codes } => {
                if err {
                    if !codes.iter().any(|k| i64::from(*k) == code) {
                        self.tolerate("any-error-code", i, c, v);
                    }
                    Ok(Branch::Refused)
                } else {
                    Err(wrong(
                        self,
                        format!(
                            "{} was answered {code}, yet it must be refused ({})",
                            what.en,
                            e.obligation.title().en
                        ),
                        format!(
                            "на {} ответили {code}, а должны были отказать ({})",
                            what.ru,
                            e.obligation.title().ru
                        ),
                    ))
                }
            }
            Reply::Either { .. } => {
                if ok {
                    Ok(Branch::Accepted)
                } else if err {
                    Ok(Branch::Refused)
                } else {
                    Err(wrong(
                        self,
                        format!("{} got {code}: neither a success nor an error", what.en),
                        format!("{} получил {code}: ни успех, ни ошибка", what.ru),
                    ))
                }
            }
            Reply::None | Reply::Eventually => Err(wrong(
                self,
                format!("{} received a response where none is due", who.en),
                format!("{} получил ответ, которого не должно быть", who.ru),
            )),
        }
    }

    async fn check_list(
        &mut self,
        i: usize,
        c: ClientId,
        e: &Expect,
        check: &ListCheck,
        v: &Value,
    ) -> Result<(), Finding> {
        let listed = match list_of(v) {
            Some((names, odd_shape)) => {
                if odd_shape {
                    self.tolerate("list-shape", i, c, v);
                }
                names
            }
            None => match v.get("quantity").and_then(Value::as_u64).filter(|n| *n <= 1000) {
                Some(n) => {
                    self.tolerate("list-shape", i, c, v);
                    let deadline = Instant::now() + self.env.timeout;
                    let mut names = Vec::new();
                    while (names.len() as u64) < n {
                        let Some(conn) = self.conns.get_mut(c).and_then(Option::as_mut) else {
                            break;
                        };
                        match conn.next(deadline).await {
                            Arrival::Value { value, .. } if is_push(&value) => {}
                            Arrival::Value { value, .. } => names.push(
                                ["user_id", "account_name", "user_login", "contact"]
                                    .iter()
                                    .find_map(|k| value.get(*k).and_then(Value::as_str))
                                    .map_or_else(|| value.to_string(), str::to_owned),
                            ),
                            _ => break,
                        }
                    }
                    names
                }
                None => {
                    let shown = self.words().unwire(&show(v, 200));
                    return Err(Finding::new(e.obligation, e.level)
                        .at(i, c)
                        .sentence(judge::no_list(v))
                        .expected(describe_reply(&e.reply))
                        .observed(t(shown.clone(), shown)));
                }
            },
        };
        if let Some(problem) = judge::check_list(&self.words(), check, &listed) {
            let what = describe_op(
                self.session,
                self.model.client(c).map(|s| s.dialect),
                &self.session.steps.get(i).map(|s| s.op.clone()),
            );
            let shown = self.words().unwire(&show(v, 200));
            return Err(Finding::new(e.obligation, e.level)
                .at(i, c)
                .sentence(t(
                    format!("{}: {}", what.en, problem.en),
                    format!("{}: {}", what.ru, problem.ru),
                ))
                .expected(describe_reply(&e.reply))
                .observed(t(shown.clone(), shown)));
        }
        Ok(())
    }

    async fn quit(&mut self, i: usize, c: ClientId, op: &Op) -> Result<Branch, Finding> {
        self.write(c, op, Delivery::Whole, i).await?;
        let mut left_open = false;
        if self.env.traits.closes_on_quit {
            let deadline = Instant::now() + self.env.timeout;
            while let Some(conn) = self.conns.get_mut(c).and_then(Option::as_mut) {
                match conn.next(deadline).await {
                    Arrival::Closed { .. } => break,
                    Arrival::Value { value, .. } if is_push(&value) => {}
                    Arrival::Value { value, .. }
                        if code_of(&value).is_some() && !self.take_pending(c, &value) =>
                    {
                        self.tolerate("reply-to-quit", i, c, &value);
                    }
                    Arrival::Value { value, .. } => {
                        if !self.take_pending(c, &value) {
                            return Err(judge::explain(&self.model, &self.words(), c, &value, i));
                        }
                    }
                    Arrival::Bad { .. } => break,
                    Arrival::Nothing => {
                        let who = self.words().who(c);
                        if self
                            .env
                            .tolerances
                            .mode(crate::vocab::Tolerance::OpenAfterQuit)
                            .is_some()
                        {
                            self.tolerate("open-after-quit", i, c, &Value::Null);
                            left_open = true;
                            break;
                        }
                        let secs = self.env.timeout.as_secs_f64();
                        return Err(Finding::new(Obligation::QuitCloses, Level::Must).at(i, c).sentence(t(format!("{} sent quit at step {}, yet the connection was still open {secs} s later", who.en, i + 1),
                              format!("{} отправил quit на шаге {}, но через {secs} с соединение всё ещё открыто", who.ru, i + 1))).expected(t("the server closes the connection", "сервер закрывает соединение")).observed(t(format!("nothing within {secs} s"), format!("ничего за {secs} с"))));
                    }
                }
            }
        } else {
            self.tolerate("open-after-quit", i, c, &Value::Null);
            left_open = true;
        }
        if let Some(mut conn) = self.conns[c].take() {
            if left_open {
                self.kept_open.push(conn);
            } else {
                conn.disconnect(DisconnectKind::Close).await;
            }
        }
        Ok(Branch::Accepted)
    }

    /// A presence with a name whose session ended: retried on fresh connections until it is
    /// accepted, within the step timeout.
    async fn eventually(
        &mut self,
        i: usize,
        c: ClientId,
        op: &Op,
        name: usize,
        e: &Expect,
    ) -> Result<Branch, Finding> {
        let deadline = Instant::now() + self.env.timeout;
        let mut pause = Duration::from_millis(5);
        let mut last = String::from("nothing");
        loop {
            if self.conns[c].is_none() {
                match Conn::open(self.env.addr, self.env.timeout).await {
                    Ok(mut conn) => {
                        conn.watch(self.env.watch);
                        self.conns[c] = Some(conn);
                    }
                    Err(err) => {
                        last = err.to_string();
                        break;
                    }
                }
            }
            self.write(c, op, Delivery::Whole, i).await?;
            let attempt = Instant::now() + self.env.timeout;
            let Some(conn) = self.conns.get_mut(c).and_then(Option::as_mut) else { break };
            let arrival = loop {
                match conn.next(attempt).await {
                    Arrival::Value { value, .. } if is_push(&value) => {}
                    other => break other,
                }
            };
            match arrival {
                Arrival::Value { value, .. } if code_of(&value).is_some() => {
                    let (code, stringy) = code_of(&value).unwrap_or((0, false));
                    if (200..300).contains(&code) {
                        if stringy {
                            self.tolerate("string-code", i, c, &value);
                        }
                        self.last_name[c] = Some(name);
                        return Ok(Branch::Accepted);
                    }
                    last = self.words().unwire(&show(&value, 200));
                }
                Arrival::Value { value, .. } => {
                    return Err(judge::explain(&self.model, &self.words(), c, &value, i));
                }
                Arrival::Nothing => {
                    last = format!("nothing within {} s", self.env.timeout.as_secs_f64());
                    break;
                }
                Arrival::Closed { .. } => last = "connection closed".into(),
                Arrival::Bad { text, .. } => {
                    last = text;
                    break;
                }
            }
            if let Some(mut old) = self.conns[c].take() {
                old.disconnect(DisconnectKind::Close).await;
            }
            if Instant::now() + pause >= deadline {
                break;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
        let words = self.words();
        let n = words.name(name);
        let (how_en, how_ru, at) = match self.model.name_state(name) {
            super::model::NameState::Leaving(by, at) => match by {
                super::model::LeftBy::Quit => ("quit", "вышел (quit)", at),
                super::model::LeftBy::Close => ("closed the connection", "закрыл соединение", at),
                super::model::LeftBy::Reset => ("reset the connection", "сбросил соединение", at),
                super::model::LeftBy::Other => ("ended that session", "завершил ту сессию", at),
            },
            _ => ("left", "ушёл", i),
        };
        let secs = self.env.timeout.as_secs_f64();
        Err(Finding::new(Obligation::NameFreed, e.level).at(i, c).sentence(t(
                format!("{n} {how_en} at step {}, yet the name {n} was still refused at step {} for {secs} s", at + 1, i + 1),
                format!("{n} {how_ru} на шаге {}, но имя {n} на шаге {} всё ещё отклонялось {secs} с", at + 1, i + 1),
            )).expected(t(format!("the name {n} is free: presence gets 200"), format!("имя {n} свободно: presence получает 200"))).observed(t(last.clone(), last)))
    }

    /// Every logged-in client sends the barrier request; nothing unexplained may come first.
    async fn closing_barrier(&mut self, step: usize) -> Result<(), Finding> {
        let Some(kind) = self.env.traits.barrier else { return Ok(()) };
        for c in 0..self.session.dialects.len() {
            // Logged in, or connected without a name (say, after a refused presence): either
            // way nothing else may be on its way.
            if self.model.client(c).is_none_or(|s| s.link == Link::Down) {
                continue;
            }
            let op = barrier_op(kind, c);
            let e = self.model.expect(step, &op);
            self.write(c, &op, Delivery::Whole, step).await?;
            if self.await_on(step, c, vec![Want::Reply], &e).await? == Some(Branch::Closed) {
                continue;
            }
        }
        Ok(())
    }

    /// Ends the session: logged-in clients quit, every connection is shut down, and the
    /// server's own close is awaited (within one step timeout for all of them), so that the
    /// next session starts on a server that has let go of this one's connections (a server
    /// that reuses what a closed connection left behind, its socket number say, then behaves
    /// the same way in every replay).
    async fn farewell(&mut self) {
        let deadline = Instant::now() + self.env.timeout;
        let mut open = Vec::new();
        for c in 0..self.conns.len() {
            let Some(mut conn) = self.conns[c].take() else { continue };
            if self.model.client(c).map(|s| s.link) == Some(Link::In) {
                let op = Op::Quit { c };
                if let Some(req) = wire_form::request(self.session, self.tag, &self.model, &op) {
                    let _ = conn.write(&req.bytes, Delivery::Whole, deadline).await;
                }
            }
            conn.disconnect(DisconnectKind::ShutdownWrite).await;
            open.push(conn);
        }
        for mut conn in open {
            while !matches!(conn.next(deadline).await, Arrival::Closed { .. } | Arrival::Nothing) {}
            conn.disconnect(DisconnectKind::Close).await;
        }
    }
}

/// The barrier request of client `c`.
pub fn barrier_op(kind: BarrierKind, c: ClientId) -> Op {
    match kind {
        BarrierKind::Contacts => Op::GetContacts { c },
        BarrierKind::UnknownAction => Op::Bad { c, kind: super::model::BadKind::UnknownAction },
    }
}

/// True when `code` is the code `reply` wants (the success code, or one of the refusal codes
/// of a barrier that is refused: an unknown action's 400).
fn reply_code_is(reply: &Reply, code: i64) -> bool {
    match reply {
        Reply::Ok { code: want, .. } => i64::from(*want) == code,
        Reply::Refused { codes } => codes.iter().any(|k| i64::from(*k) == code),
        _ => false,
    }
}

fn reason_text(v: &Value) -> String {
    ["error", "alert", "message"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .map_or_else(|| "no text".to_owned(), |s| format!("{s:?}"))
}

/// What a reply should be, in words.
pub fn describe_reply(r: &Reply) -> crate::model::Text {
    match r {
        Reply::None => t(
            "no response (the server closes the connection)",
            "без ответа (сервер закрывает соединение)",
        ),
        Reply::Ok { code, optional: true, .. } => {
            t(format!("{code}, or no answer"), format!("{code} или без ответа"))
        }
        Reply::Ok { code, list: Some(_), .. } => {
            t(format!("{code} with the list"), format!("{code} со списком"))
        }
        Reply::Ok { code, .. } => t(format!("{code}"), format!("{code}")),
        Reply::Refused { codes } => {
            let c: Vec<String> = codes.iter().map(u16::to_string).collect();
            t(format!("an error ({})", c.join(" or ")), format!("ошибка ({})", c.join(" или ")))
        }
        Reply::Either { code, .. } => {
            t(format!("{code} or an error"), format!("{code} или ошибка"))
        }
        Reply::Eventually => t("200 within the step timeout", "200 в пределах таймаута шага"),
    }
}

/// A request in words, for failure sentences.
pub fn describe_op(
    session: &Session,
    dialect: Option<crate::model::Dialect>,
    op: &Option<Op>,
) -> crate::model::Text {
    let words = Words { session, tag: "", last_name: &[] };
    let _ = dialect;
    match op {
        Some(Op::Presence { name, .. }) => t(
            format!("the presence of {}", words.name(*name)),
            format!("presence {}", words.name(*name)),
        ),
        Some(Op::Msg { to, .. }) => t(
            format!("the message to {}", words.dest(*to)),
            format!("сообщение для {}", words.dest(*to)),
        ),
        Some(Op::Join { room, .. }) => {
            t(format!("join {}", words.room(*room)), format!("join {}", words.room(*room)))
        }
        Some(Op::Leave { room, .. }) => {
            t(format!("leave {}", words.room(*room)), format!("leave {}", words.room(*room)))
        }
        Some(Op::GetContacts { .. } | Op::Check { .. }) | None => t("get_contacts", "get_contacts"),
        Some(Op::AddContact { who, .. }) => t(
            format!("adding contact {}", words.name(*who)),
            format!("добавление контакта {}", words.name(*who)),
        ),
        Some(Op::DelContact { who, .. }) => t(
            format!("removing contact {}", words.name(*who)),
            format!("удаление контакта {}", words.name(*who)),
        ),
        Some(Op::GetUsers { .. }) => t("get_users", "get_users"),
        Some(Op::Quit { .. }) => t("quit", "quit"),
        Some(Op::Bad { kind, .. }) => {
            t(format!("bad input ({kind:?})"), format!("плохие данные ({kind:?})"))
        }
        Some(Op::Connect { .. } | Op::Close { .. } | Op::Reset { .. }) => {
            t("the connection", "соединение")
        }
    }
}

/// After a failure: is the target still there? None when a new client is answered; else what
/// happened, in words.
pub async fn liveness(addr: SocketAddr, timeout: Duration) -> Option<crate::model::Text> {
    let mut conn = match Conn::open(addr, timeout).await {
        Ok(c) => c,
        Err(e) => {
            return Some(t(
                format!("the server died or stopped listening: {e}"),
                format!("сервер упал или перестал принимать соединения: {e}"),
            ));
        }
    };
    let name = format!("alive{}", std::process::id() % 100_000);
    let presence = serde_json::json!({"action": "presence", "time": crate::placeholders::now_seconds(),
        "user": {"account_name": name}});
    let bytes = jim_protocol::codec::to_bytes(&presence, jim_protocol::Framing::Newline);
    let _ = conn.write(&bytes, Delivery::Whole, Instant::now() + timeout).await;
    let answer = conn.next(Instant::now() + timeout).await;
    let quit = serde_json::json!({"action": "quit"});
    let _ = conn
        .write(
            &jim_protocol::codec::to_bytes(&quit, jim_protocol::Framing::Newline),
            Delivery::Whole,
            Instant::now() + Duration::from_millis(200),
        )
        .await;
    conn.disconnect(DisconnectKind::Close).await;
    match answer {
        Arrival::Value { .. } | Arrival::Bad { .. } => None,
        Arrival::Nothing => Some(t(
            format!(
                "the server accepts connections but does not answer a presence within {} s (a zombie)",
                timeout.as_secs_f64()
            ),
            format!(
                "сервер принимает соединения, но не отвечает на presence за {} с (зомби)",
                timeout.as_secs_f64()
            ),
        )),
        Arrival::Closed { .. } => Some(t(
            "the server closes new connections without answering (a zombie)",
            "сервер закрывает новые соединения, не отвечая (зомби)",
        )),
    }
}
