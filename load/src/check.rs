//! The load check: hold connections, push direct and room traffic, check the target survived.
//!
//! This is what `jim-conformance load` runs. The phases are sequential and each is bounded:
//! ramp up the held connections, direct relay for `phase_duration`, room fan-out for
//! `phase_duration`, then the survival check (the held connections still open, the first client
//! still answered, a new client can still log in).

use crate::problem::Problem;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jim_protocol::Dialect;
use serde::Serialize;

use crate::config::LoadConfig;
use crate::error::LoadError;
use crate::hold::{self, HoldOptions, HoldReport, PresenceClient};
use crate::traffic::{self, TrafficOptions, TrafficReport, TrafficShape};
use crate::{Names, block_on_local};

/// What happened to one traffic phase.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PhaseOutcome {
    /// The phase ran; here is its report.
    Ran(Box<TrafficReport>),
    /// The configuration skipped it.
    Skipped {
        /// Why.
        reason: Problem,
    },
    /// The target refused the setup (presence or join), so no traffic was sent.
    SetupFailed {
        /// What the target did.
        reason: Problem,
    },
}

impl PhaseOutcome {
    /// The report, if the phase ran.
    pub fn report(&self) -> Option<&TrafficReport> {
        match self {
            Self::Ran(r) => Some(r),
            _ => None,
        }
    }
}

/// Everything a load check found.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LoadReport {
    /// The address measured.
    pub target: String,
    /// The settings used.
    pub config: LoadConfig,
    /// The held connections' ramp.
    pub connections: HoldReport,
    /// Held connections the target had not closed at the end.
    pub still_open: usize,
    /// The direct-relay phase.
    pub direct: PhaseOutcome,
    /// The room fan-out phase.
    pub room: PhaseOutcome,
    /// Chat messages sent in both phases.
    pub messages_sent: u64,
    /// Deliveries expected in both phases.
    pub deliveries_expected: u64,
    /// Deliveries made in both phases.
    pub deliveries_made: u64,
    /// Deliveries lost in both phases.
    pub deliveries_lost: u64,
    /// Whether the target still logged a new client in at the end.
    pub survived: bool,
    /// Whether the first client (connected before everything else) still got an answer at the
    /// end: a server that stalls or drops old connections under load fails here.
    pub first_client_answered: bool,
    /// The survival check in words.
    pub liveness: String,
    /// Wall time of the whole check, in seconds.
    pub elapsed_secs: f64,
}

impl LoadReport {
    /// True when the target survived (a new client logs in and the first client still gets an
    /// answer), held every connection, and lost or refused nothing.
    pub fn passed(&self) -> bool {
        let phases_ok = [&self.direct, &self.room].iter().all(|p| match p {
            PhaseOutcome::Ran(r) => r.clean(),
            PhaseOutcome::Skipped { .. } => true,
            PhaseOutcome::SetupFailed { .. } => false,
        });
        self.survived
            && self.first_client_answered
            && phases_ok
            && self.connections.held == self.connections.requested
            && self.still_open == self.connections.held
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "JIM load check of {}: {} connections held; {} pairs; room of {} with {} senders; \
             window {}; {} B messages; {:.1} s per phase",
            self.target,
            c.connections,
            c.pairs,
            c.room_members,
            c.room_senders,
            c.window,
            c.message_bytes,
            c.phase_duration.as_secs_f64()
        )?;
        writeln!(f, "  {}", self.connections)?;
        writeln!(
            f,
            "    {} of {} held connections still open at the end",
            self.still_open, self.connections.held
        )?;
        for phase in [&self.direct, &self.room] {
            match phase {
                PhaseOutcome::Ran(r) => writeln!(f, "  {r}")?,
                PhaseOutcome::Skipped { reason } => writeln!(f, "  skipped: {reason}")?,
                PhaseOutcome::SetupFailed { reason } => writeln!(f, "  not run: {reason}")?,
            }
        }
        writeln!(
            f,
            "  target survived: {} ({})",
            if self.survived { "yes" } else { "NO" },
            self.liveness
        )?;
        write!(
            f,
            "result: {}: {} messages sent, {} of {} deliveries made, {} lost, in {:.1} s",
            if self.passed() { "PASS" } else { "FAIL" },
            self.messages_sent,
            self.deliveries_made,
            self.deliveries_expected,
            self.deliveries_lost,
            self.elapsed_secs
        )
    }
}

/// Runs the load check described by `config` and reports. Blocking: it runs the generator on a
/// thread of its own (one core), so it can be called from plain code or, through
/// `tokio::task::spawn_blocking`, from async code.
///
/// Errors only when nothing can be measured: an invalid configuration, a host that does not
/// resolve, or a target that does not accept even the first client.
pub fn run(config: &LoadConfig) -> Result<LoadReport, LoadError> {
    config.validate()?;
    let config = config.clone();
    let worker = std::thread::Builder::new()
        .name("jim-load".to_owned())
        .spawn(move || block_on_local(run_local(config)))
        .map_err(|e| LoadError::Runtime(format!("cannot start the load thread: {e}")))?;
    worker
        .join()
        .map_err(|_| LoadError::Runtime("the load thread stopped unexpectedly".to_owned()))?
        .and_then(|r| r)
}

/// Resolves `host:port` to its first address.
pub async fn resolve(host: &str, port: u16) -> Result<SocketAddr, LoadError> {
    let resolve_err = |detail: String| LoadError::Resolve { host: host.to_owned(), port, detail };
    let mut addrs =
        tokio::net::lookup_host((host, port)).await.map_err(|e| resolve_err(e.to_string()))?;
    addrs.next().ok_or_else(|| resolve_err("no address found".to_owned()))
}

/// The check itself; must run inside a tokio `LocalSet` (see [`block_on_local`]).
pub async fn run_local(config: LoadConfig) -> Result<LoadReport, LoadError> {
    config.validate()?;
    let started = Instant::now();
    let addr = resolve(&config.host, config.port).await?;
    let names = Names::new(&config.name_prefix)?;
    let (ct, rt) = (config.connect_timeout, config.reply_timeout);
    let dialect = config.dialect;
    let mut probe = PresenceClient::connect(addr, &names.user('p', 0), dialect, ct, rt).await?;

    let held = hold::hold(
        addr,
        &HoldOptions {
            connections: config.connections,
            connects_in_flight: config.connects_in_flight,
            connects_per_sec: config.connects_per_sec,
            connect_timeout: ct,
            reply_timeout: rt,
            stop_after_failures: config.connects_in_flight.max(20),
            names: names.clone(),
            dialect,
        },
    )
    .await;

    let traffic_opts = |shape| TrafficOptions {
        shape,
        window: config.window,
        message_bytes: config.message_bytes,
        duration: config.phase_duration,
        max_messages: config.max_messages,
        connects_in_flight: config.connects_in_flight,
        connect_timeout: ct,
        reply_timeout: rt,
        names: names.clone(),
        dialect,
    };
    let direct = if config.pairs == 0 {
        PhaseOutcome::Skipped { reason: Problem::NoPairs }
    } else {
        phase(addr, traffic_opts(TrafficShape::Direct { pairs: config.pairs })).await
    };
    let room = if config.room_members == 0 {
        PhaseOutcome::Skipped { reason: Problem::NoRoomMembers }
    } else if dialect == Dialect::Course {
        PhaseOutcome::Skipped { reason: Problem::CourseHasNoRooms }
    } else {
        let shape =
            TrafficShape::Room { members: config.room_members, senders: config.room_senders };
        phase(addr, traffic_opts(shape)).await
    };

    // Survival: give the runtime a moment to notice closed connections, then ask.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let still_open = held.still_open();
    let first = probe.once().await;
    let fresh = hold::alive(addr, &names.user('p', 1), dialect, ct, rt).await;
    let survived = fresh.is_ok();
    let first_client_answered = first.is_ok();
    let liveness = match (&first, &fresh) {
        (Ok(_), Ok(t)) => format!(
            "the first client still answered and a new client logged in in {:.1} ms",
            t.as_secs_f64() * 1000.0
        ),
        (Err(e), Ok(_)) => format!("a new client logged in, but the first client failed: {e}"),
        (_, Err(e)) => format!("a new client could not log in: {e}"),
    };
    let hold_report = held.report.clone();
    held.close();
    probe.quit().await;

    let reports = [direct.report(), room.report()];
    let sum = |f: fn(&TrafficReport) -> u64| reports.iter().flatten().map(|r| f(r)).sum::<u64>();
    Ok(LoadReport {
        target: addr.to_string(),
        messages_sent: sum(|r| r.sent),
        deliveries_expected: sum(|r| r.expected_deliveries),
        deliveries_made: sum(|r| r.delivered),
        deliveries_lost: sum(|r| r.lost),
        config,
        connections: hold_report,
        still_open,
        direct,
        room,
        survived,
        first_client_answered,
        liveness,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

async fn phase(addr: SocketAddr, opts: TrafficOptions) -> PhaseOutcome {
    match traffic::prepare(addr, opts).await {
        Ok(prepared) => PhaseOutcome::Ran(Box::new(prepared.run().await)),
        Err(e) => PhaseOutcome::SetupFailed { reason: e.into() },
    }
}
