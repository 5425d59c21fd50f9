//! Many idle connections, and presence round trips on one connection.
//!
//! [`hold`] opens connections with a cap on connects in flight (and optionally a rate), sends a
//! presence on each and keeps those that were answered with success; it stops early when the
//! target refuses many in a row, so a dead or full server costs seconds, not minutes.
//! [`PresenceClient`] is the probe: sequential presence round trips with their latency, used
//! alone (the round-trip benchmark) or while connections are held.

use crate::problem::{Problem, Request};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use jim_protocol::Dialect;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::Names;
use crate::error::LoadError;
use crate::latency::{Histogram, LatencySummary};
use crate::wire::{self, Inbox};

/// How many failure samples a report keeps.
const MAX_SAMPLES: usize = 5;

/// Settings for [`hold`].
#[derive(Debug, Clone)]
pub struct HoldOptions {
    /// Connections to open.
    pub connections: usize,
    /// Connects (with their presence) in progress at the same time.
    pub connects_in_flight: usize,
    /// Cap on new connections per second (0 = no cap besides `connects_in_flight`).
    pub connects_per_sec: u32,
    /// Bound on one TCP connect.
    pub connect_timeout: Duration,
    /// Bound on the presence reply.
    pub reply_timeout: Duration,
    /// Stop opening connections after this many failures in a row.
    pub stop_after_failures: usize,
    /// Account names.
    pub names: Names,
    /// The dialect of the presences.
    pub dialect: Dialect,
}

/// What [`hold`] achieved.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HoldReport {
    /// Connections asked for.
    pub requested: usize,
    /// Connections attempted (fewer than requested when it stopped early).
    pub attempted: usize,
    /// Connections whose presence was answered with success.
    pub held: usize,
    /// Connections that failed (connect error, timeout, refusal, close).
    pub failed: usize,
    /// Why opening stopped before `requested`, if it did.
    pub stopped_early: Option<Problem>,
    /// Wall time of the whole ramp, in seconds.
    pub elapsed_secs: f64,
    /// Successful connections per second during the ramp.
    pub connects_per_sec: f64,
    /// Connect + presence time of each successful connection.
    pub handshake: LatencySummary,
    /// The first few failures, in words.
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for HoldReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connections: {} requested, {} held, {} failed in {:.2} s ({:.0}/s); handshake {}",
            self.requested,
            self.held,
            self.failed,
            self.elapsed_secs,
            self.connects_per_sec,
            self.handshake
        )?;
        if let Some(why) = &self.stopped_early {
            write!(f, "\n    ! stopped early: {why}")?;
        }
        for p in &self.problems {
            write!(f, "\n    ! {p}")?;
        }
        Ok(())
    }
}

/// Connections opened by [`hold`]; they stay open until this value is dropped.
#[derive(Debug)]
pub struct Held {
    streams: Vec<TcpStream>,
    /// How the ramp went.
    pub report: HoldReport,
}

impl Held {
    /// How many held connections the target has not closed. Call after giving the runtime a
    /// moment (a few milliseconds) to notice closes.
    pub fn still_open(&self) -> usize {
        let mut buf = [0u8; 512];
        self.streams
            .iter()
            .filter(|s| match s.try_read(&mut buf) {
                Ok(0) => false,
                Ok(_) => true, // the target pushed something (a probe, a 205): still there
                Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
            })
            .count()
    }

    /// Closes every held connection now.
    pub fn close(self) {
        drop(self.streams);
    }
}

/// Raises this process's open-file limit as far as allowed and returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

/// Opens `opts.connections` connections, each with a presence, and keeps them open. Never fails:
/// refusals and errors are counted in the report.
pub async fn hold(addr: SocketAddr, opts: &HoldOptions) -> Held {
    let started = Instant::now();
    let limit = raise_fd_limit();
    let mut problems = Vec::new();
    let mut requested = opts.connections;
    // Keep a margin for the process's other descriptors.
    let usable = usize::try_from(limit.saturating_sub(64)).unwrap_or(usize::MAX);
    if requested > usable {
        problems.push(Problem::FdLimit { limit, usable });
        requested = usable;
    }
    let mut streams = Vec::with_capacity(requested);
    let mut handshake = Histogram::new();
    let mut in_flight = FuturesUnordered::new();
    let (mut next, mut failed, mut in_a_row) = (0usize, 0usize, 0usize);
    let mut stopped_early = None;
    let cap = opts.connects_in_flight.max(1);
    loop {
        while stopped_early.is_none() && next < requested && in_flight.len() < cap {
            if opts.connects_per_sec > 0 {
                let due = started
                    + Duration::from_secs_f64(next as f64 / f64::from(opts.connects_per_sec));
                if due > Instant::now() {
                    if in_flight.is_empty() {
                        tokio::time::sleep_until(due.into()).await;
                    } else {
                        break;
                    }
                }
            }
            let name = opts.names.user('h', next);
            in_flight.push(open_one(
                addr,
                name,
                opts.dialect,
                opts.connect_timeout,
                opts.reply_timeout,
            ));
            next += 1;
        }
        let Some(result) = in_flight.next().await else {
            break;
        };
        match result {
            Ok((stream, took)) => {
                handshake.record(took);
                streams.push(stream);
                in_a_row = 0;
            }
            Err(why) => {
                failed += 1;
                in_a_row += 1;
                if problems.len() < MAX_SAMPLES {
                    problems.push(why);
                }
                if in_a_row >= opts.stop_after_failures.max(1) && stopped_early.is_none() {
                    stopped_early = Some(Problem::FailedInARow { in_a_row, held: streams.len() });
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let report = HoldReport {
        requested: opts.connections,
        attempted: next,
        held: streams.len(),
        failed: failed + (opts.connections - requested),
        stopped_early,
        elapsed_secs: elapsed,
        connects_per_sec: streams.len() as f64 / elapsed.max(1e-9),
        handshake: handshake.summary(),
        problems,
    };
    Held { streams, report }
}

async fn open_one(
    addr: SocketAddr,
    name: String,
    dialect: Dialect,
    connect_timeout: Duration,
    reply_timeout: Duration,
) -> Result<(TcpStream, Duration), Problem> {
    let t0 = Instant::now();
    let mut stream =
        wire::connect(addr, connect_timeout).await.map_err(|e| Problem::ConnectFailed(e.into()))?;
    let mut inbox = Inbox::default();
    match wire::request(&mut stream, &mut inbox, &wire::presence(&name, dialect), reply_timeout)
        .await
    {
        Ok(code) if (200..300).contains(&code) => Ok((stream, t0.elapsed())),
        Ok(code) => {
            Err(Problem::Answered { request: Request::Presence { name: Some(name) }, code })
        }
        Err(why) => Err(Problem::During {
            request: Request::Presence { name: Some(name) },
            problem: Box::new(why),
        }),
    }
}

/// Sequential presence round trips on one connection.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RoundTripReport {
    /// Round trips completed.
    pub completed: u64,
    /// Round trips that failed (at most 1: the probe stops at the first failure).
    pub failed: u64,
    /// Wall time, in seconds.
    pub elapsed_secs: f64,
    /// Completed round trips per second.
    pub per_sec: f64,
    /// Latency of each round trip.
    pub latency: LatencySummary,
    /// What went wrong, if anything.
    pub problem: Option<Problem>,
}

impl std::fmt::Display for RoundTripReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} round trips in {:.2} s ({:.0}/s); latency {}",
            self.completed, self.elapsed_secs, self.per_sec, self.latency
        )?;
        if let Some(p) = &self.problem {
            write!(f, "\n    ! {p}")?;
        }
        Ok(())
    }
}

/// One logged-in connection that measures presence round trips.
#[derive(Debug)]
pub struct PresenceClient {
    stream: TcpStream,
    inbox: Inbox,
    request: Vec<u8>,
    reply_timeout: Duration,
    name: String,
    dialect: Dialect,
}

impl PresenceClient {
    /// Connects and logs in as `name` with `dialect`'s presence (the first presence must be
    /// answered with success).
    pub async fn connect(
        addr: SocketAddr,
        name: &str,
        dialect: Dialect,
        connect_timeout: Duration,
        reply_timeout: Duration,
    ) -> Result<Self, LoadError> {
        let stream = wire::connect(addr, connect_timeout)
            .await
            .map_err(|source| LoadError::Unreachable { addr, source })?;
        let mut client = Self {
            stream,
            inbox: Inbox::default(),
            request: wire::presence(name, dialect),
            reply_timeout,
            name: name.to_owned(),
            dialect,
        };
        match client.once().await {
            Ok(_) => Ok(client),
            Err(detail) => {
                Err(LoadError::Setup { addr, shape: "presence", detail: Box::new(detail) })
            }
        }
    }

    /// One presence round trip; its duration, or what went wrong.
    pub async fn once(&mut self) -> Result<Duration, Problem> {
        let t0 = Instant::now();
        let code =
            wire::request(&mut self.stream, &mut self.inbox, &self.request, self.reply_timeout)
                .await?;
        let took = t0.elapsed();
        if (200..300).contains(&code) {
            Ok(took)
        } else {
            Err(Problem::Answered { request: Request::Presence { name: None }, code })
        }
    }

    /// Round trips one after another until `max` are done or `duration` is over; stops at the
    /// first failure.
    pub async fn round_trips(&mut self, max: u64, duration: Duration) -> RoundTripReport {
        let started = Instant::now();
        let mut latency = Histogram::new();
        let mut problem = None;
        while latency.count() < max && started.elapsed() < duration {
            match self.once().await {
                Ok(took) => latency.record(took),
                Err(why) => {
                    problem = Some(why);
                    break;
                }
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        RoundTripReport {
            completed: latency.count(),
            failed: u64::from(problem.is_some()),
            elapsed_secs: elapsed,
            per_sec: latency.count() as f64 / elapsed.max(1e-9),
            latency: latency.summary(),
            problem,
        }
    }

    /// Says goodbye with a `quit` (course: `exit`) and closes.
    pub async fn quit(mut self) {
        let quit = wire::quit(&self.name, self.dialect);
        let _ = tokio::time::timeout(self.reply_timeout, self.stream.write_all(&quit)).await;
    }
}

/// Whether the target still accepts a new client: connect, presence, success response.
/// Returns the round-trip time, or what went wrong.
pub async fn alive(
    addr: SocketAddr,
    name: &str,
    dialect: Dialect,
    connect_timeout: Duration,
    reply_timeout: Duration,
) -> Result<Duration, Problem> {
    let t0 = Instant::now();
    let mut stream =
        wire::connect(addr, connect_timeout).await.map_err(|e| Problem::ConnectFailed(e.into()))?;
    let mut inbox = Inbox::default();
    match wire::request(&mut stream, &mut inbox, &wire::presence(name, dialect), reply_timeout)
        .await
    {
        Ok(code) if (200..300).contains(&code) => Ok(t0.elapsed()),
        Ok(code) => Err(Problem::Answered { request: Request::Presence { name: None }, code }),
        Err(why) => Err(why),
    }
}
