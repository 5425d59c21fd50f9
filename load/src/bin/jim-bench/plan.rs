//! What one benchmark measurement does: start a fresh target, run one shape against it with the
//! jim-load engine, sample the target's CPU time and memory from /proc around the measured part,
//! and stop it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jim_load::hold::{self, HoldOptions, PresenceClient};
use jim_load::traffic::{self, TrafficOptions, TrafficShape};
use jim_load::{Names, echo};
use serde::Serialize;

use crate::target::{TargetKind, TargetProcess, TargetSpec, process_cpu_us};

/// One benchmark shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Sequential presence round trips on one connection (echo: 150-byte round trips).
    RoundTrip,
    /// Direct relay between pairs (echo: back-to-back 150-byte writes on one connection).
    Relay,
    /// Room fan-out.
    FanOut,
    /// N idle connections held, with a probe's round trips measured meanwhile.
    Hold(usize),
}

impl Shape {
    /// The name in tables.
    pub fn label(self, kind: TargetKind, s: &Settings) -> String {
        match (self, kind) {
            (Self::RoundTrip, TargetKind::Echo) => {
                format!("round trips, 1 connection ({} B echo)", s.message_bytes)
            }
            (Self::RoundTrip, _) => "round trips, 1 connection (presence)".to_owned(),
            (Self::Relay, TargetKind::Echo) => format!(
                "back-to-back {} B writes, 1 connection, {} in flight",
                s.message_bytes, s.echo_window
            ),
            (Self::Relay, _) => format!(
                "direct relay, {} pairs, {} in flight each, {} B",
                s.pairs, s.window, s.message_bytes
            ),
            (Self::FanOut, _) => format!(
                "room fan-out, {} members, {} senders, {} in flight each",
                s.room_members, s.room_senders, s.window
            ),
            (Self::Hold(n), _) => format!("{n} held connections"),
        }
    }

    /// Whether this shape applies to that target (the echo baseline only does the first two).
    pub fn applies_to(self, kind: TargetKind) -> bool {
        kind != TargetKind::Echo || matches!(self, Self::RoundTrip | Self::Relay)
    }

    /// A stable id for JSON.
    pub fn id(self) -> String {
        match self {
            Self::RoundTrip => "round_trip".to_owned(),
            Self::Relay => "relay".to_owned(),
            Self::FanOut => "fan_out".to_owned(),
            Self::Hold(n) => format!("hold_{n}"),
        }
    }
}

/// The knobs of a benchmark run.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Interleaved repetitions.
    pub reps: usize,
    /// Round-trip measurement length, in seconds.
    pub round_trip_secs: f64,
    /// Traffic (relay, fan-out, echo stream) sending time, in seconds.
    pub traffic_secs: f64,
    /// Probe round trips while connections are held, in seconds.
    pub probe_secs: f64,
    /// Direct relay pairs.
    pub pairs: usize,
    /// Room members.
    pub room_members: usize,
    /// Room senders.
    pub room_senders: usize,
    /// Messages in flight per sender.
    pub window: usize,
    /// Payloads in flight on the echo stream.
    pub echo_window: usize,
    /// Message and payload size in bytes.
    pub message_bytes: usize,
    /// Held-connection counts.
    pub holds: Vec<usize>,
    /// Connects in flight while ramping up.
    pub connects_in_flight: usize,
    /// Delivery deadline and reply bound, in seconds.
    pub reply_timeout_secs: f64,
}

impl Settings {
    /// The standard comparison (about 5 minutes with four targets).
    pub fn standard() -> Self {
        Self {
            reps: 3,
            round_trip_secs: 3.0,
            traffic_secs: 4.0,
            probe_secs: 1.0,
            pairs: 50,
            room_members: 50,
            room_senders: 5,
            window: 8,
            echo_window: 400,
            message_bytes: 150,
            holds: vec![1_000, 5_000, 10_000],
            connects_in_flight: 64,
            reply_timeout_secs: 10.0,
        }
    }

    /// A smoke version that takes well under a minute.
    pub fn quick() -> Self {
        Self {
            reps: 1,
            round_trip_secs: 0.5,
            traffic_secs: 0.5,
            probe_secs: 0.3,
            holds: vec![200, 1_000],
            ..Self::standard()
        }
    }
}

/// Where and how targets run.
#[derive(Debug, Clone)]
pub struct Env {
    /// CPU for targets (None = not pinned).
    pub target_cpu: Option<usize>,
    /// Directory for target logs.
    pub log_dir: PathBuf,
}

/// One measurement's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Which target.
    pub target: TargetKind,
    /// Which shape.
    pub shape: Shape,
    /// Repetition index, from 0.
    pub rep: usize,
    /// Metric name -> value.
    pub metrics: BTreeMap<&'static str, f64>,
    /// Failures and remarks in words.
    pub notes: Vec<String>,
    /// The target process's whole CPU time (start to stop), in microseconds.
    pub cpu_total_us: f64,
}

impl Sample {
    fn new(target: TargetKind, shape: Shape, rep: usize) -> Self {
        Self { target, shape, rep, metrics: BTreeMap::new(), notes: Vec::new(), cpu_total_us: 0.0 }
    }

    fn set(&mut self, name: &'static str, value: Option<f64>) {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            self.metrics.insert(name, v);
        }
    }

    /// A metric, if measured.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied()
    }

    /// A one-line summary for the progress log.
    pub fn brief(&self) -> String {
        let mut parts = Vec::new();
        for (key, unit) in [
            ("per_sec", "/s"),
            ("p50_us", " µs p50"),
            ("p99_us", " µs p99"),
            ("cpu_us_per_msg", " CPU µs/msg"),
            ("held", " held"),
            ("rss_per_conn_kib", " KiB/conn"),
            ("lost", " lost"),
        ] {
            if let Some(v) = self.get(key) {
                parts.push(format!("{}{unit}", crate::report::num(v)));
            }
        }
        if !self.notes.is_empty() {
            parts.push(format!("[{}]", self.notes.join("; ")));
        }
        parts.join(", ")
    }
}

/// CPU time of the target and of this generator, and wall time, over a measured part.
struct Meter {
    target: Option<f64>,
    own: Option<f64>,
    started: Instant,
}

/// What a [`Meter`] saw.
struct Usage {
    /// Target CPU time, in microseconds.
    target_us: Option<f64>,
}

impl Meter {
    fn start(target: &TargetProcess) -> Self {
        Self { target: target.cpu_us(), own: process_cpu_us("self"), started: Instant::now() }
    }

    /// Stops, and records how busy the target and the generator were.
    fn stop(self, target: &TargetProcess, sample: &mut Sample) -> Usage {
        let wall_us = self.started.elapsed().as_secs_f64() * 1e6;
        let target_us = self.target.zip(target.cpu_us()).map(|(a, b)| b - a);
        let own_us = self.own.zip(process_cpu_us("self")).map(|(a, b)| b - a);
        sample.set("server_busy_pct", target_us.map(|t| 100.0 * t / wall_us));
        sample.set("generator_busy_pct", own_us.map(|t| 100.0 * t / wall_us));
        Usage { target_us }
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.001))
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts a fresh `spec`, measures `shape` on it once, stops it.
pub async fn measure(
    spec: &TargetSpec,
    shape: Shape,
    rep: usize,
    s: &Settings,
    env: &Env,
) -> Sample {
    let mut sample = Sample::new(spec.kind, shape, rep);
    let target = match TargetProcess::spawn(spec, env.target_cpu, &env.log_dir) {
        Ok(t) => t,
        Err(e) => {
            sample.notes.push(format!("could not start: {e:#}"));
            return sample;
        }
    };
    let names = match Names::new("b") {
        Ok(n) => n,
        Err(e) => {
            sample.notes.push(e.to_string());
            return sample;
        }
    };
    let result = match (shape, spec.kind) {
        (Shape::RoundTrip, TargetKind::Echo) => echo_round_trips(&target, s, &mut sample).await,
        (Shape::Relay, TargetKind::Echo) => echo_stream(&target, s, &mut sample).await,
        (Shape::RoundTrip, _) => presence_round_trips(&target, &names, s, &mut sample).await,
        (Shape::Relay, _) => {
            let shape = TrafficShape::Direct { pairs: s.pairs };
            traffic_shape(&target, shape, &names, s, &mut sample).await
        }
        (Shape::FanOut, _) => {
            let shape = TrafficShape::Room { members: s.room_members, senders: s.room_senders };
            traffic_shape(&target, shape, &names, s, &mut sample).await
        }
        (Shape::Hold(n), _) => hold_shape(&target, n, &names, s, &mut sample).await,
    };
    if let Err(e) = result {
        sample.notes.push(e);
    }
    if let Some(status) = target.exit_status() {
        let last = target.last_log_line().unwrap_or_else(|| "no output".to_owned());
        sample.notes.push(format!("the target exited ({status}): {last}"));
        sample.set("target_died", Some(1.0));
    }
    // Its whole CPU time, so the run can tell how much other processes used the machine.
    sample.cpu_total_us = target.cpu_us().unwrap_or(0.0);
    drop(target);
    sample
}

async fn echo_round_trips(
    target: &TargetProcess,
    s: &Settings,
    sample: &mut Sample,
) -> Result<(), String> {
    let timeout = secs(s.reply_timeout_secs);
    // Warm-up, not measured.
    echo::round_trips(target.addr, s.message_bytes, 200, secs(1.0), timeout)
        .await
        .map_err(|e| e.to_string())?;
    let meter = Meter::start(target);
    let r =
        echo::round_trips(target.addr, s.message_bytes, u64::MAX, secs(s.round_trip_secs), timeout)
            .await
            .map_err(|e| e.to_string())?;
    let usage = meter.stop(target, sample);
    round_trip_metrics(sample, &r, usage.target_us);
    Ok(())
}

async fn echo_stream(
    target: &TargetProcess,
    s: &Settings,
    sample: &mut Sample,
) -> Result<(), String> {
    let timeout = secs(s.reply_timeout_secs);
    let meter = Meter::start(target);
    let r =
        echo::stream(target.addr, s.message_bytes, s.echo_window, secs(s.traffic_secs), timeout)
            .await
            .map_err(|e| e.to_string())?;
    let usage = meter.stop(target, sample);
    sample.set("per_sec", Some(r.per_sec));
    sample.set("sent", Some(r.written as f64));
    sample.set("lost", Some(r.written.saturating_sub(r.echoed) as f64));
    sample.set("cpu_us_per_msg", usage.target_us.map(|c| c / r.echoed.max(1) as f64));
    sample.set("peak_rss_kib", target.peak_rss_kib());
    if let Some(p) = r.problem {
        sample.notes.push(p);
    }
    Ok(())
}

fn round_trip_metrics(sample: &mut Sample, r: &jim_load::RoundTripReport, cpu_us: Option<f64>) {
    sample.set("per_sec", Some(r.per_sec));
    sample.set("p50_us", Some(r.latency.p50_us));
    sample.set("p99_us", Some(r.latency.p99_us));
    sample.set("failures", Some(r.failed as f64));
    sample.set("cpu_us_per_msg", cpu_us.map(|c| c / r.completed.max(1) as f64));
    if let Some(p) = &r.problem {
        sample.notes.push(p.to_string());
    }
}

async fn presence_round_trips(
    target: &TargetProcess,
    names: &Names,
    s: &Settings,
    sample: &mut Sample,
) -> Result<(), String> {
    let timeout = secs(s.reply_timeout_secs);
    let mut client = PresenceClient::connect(
        target.addr,
        &names.user('p', 0),
        jim_protocol::Dialect::Spec,
        CONNECT_TIMEOUT,
        timeout,
    )
    .await
    .map_err(|e| e.to_string())?;
    let _ = client.round_trips(200, secs(1.0)).await; // warm-up
    let meter = Meter::start(target);
    let r = client.round_trips(u64::MAX, secs(s.round_trip_secs)).await;
    let usage = meter.stop(target, sample);
    round_trip_metrics(sample, &r, usage.target_us);
    sample.set("peak_rss_kib", target.peak_rss_kib());
    client.quit().await;
    Ok(())
}

async fn traffic_shape(
    target: &TargetProcess,
    shape: TrafficShape,
    names: &Names,
    s: &Settings,
    sample: &mut Sample,
) -> Result<(), String> {
    let opts = TrafficOptions {
        shape,
        window: s.window,
        message_bytes: s.message_bytes,
        duration: secs(s.traffic_secs),
        max_messages: u64::MAX,
        connects_in_flight: s.connects_in_flight,
        connect_timeout: CONNECT_TIMEOUT,
        reply_timeout: secs(s.reply_timeout_secs),
        names: names.clone(),
        dialect: jim_protocol::Dialect::Spec,
    };
    let prepared = traffic::prepare(target.addr, opts).await.map_err(|e| e.to_string())?;
    let meter = Meter::start(target);
    let r = prepared.run().await;
    let usage = meter.stop(target, sample);
    sample.set("per_sec", Some(r.deliveries_per_sec));
    sample.set("messages_per_sec", Some(r.messages_per_sec));
    sample.set("p50_us", Some(r.latency.p50_us));
    sample.set("p99_us", Some(r.latency.p99_us));
    sample.set("sent", Some(r.sent as f64));
    sample.set("delivered", Some(r.delivered as f64));
    sample.set("lost", Some(r.lost as f64));
    let errors = r.unexpected + r.error_responses + r.bad_frames + r.disconnects + r.send_errors;
    sample.set("errors", Some(errors as f64));
    sample.set("cpu_us_per_msg", usage.target_us.map(|c| c / r.delivered.max(1) as f64));
    sample.set("peak_rss_kib", target.peak_rss_kib());
    sample.notes.extend(r.problems.iter().take(2).map(ToString::to_string));
    Ok(())
}

async fn hold_shape(
    target: &TargetProcess,
    n: usize,
    names: &Names,
    s: &Settings,
    sample: &mut Sample,
) -> Result<(), String> {
    let timeout = secs(s.reply_timeout_secs);
    let mut probe = PresenceClient::connect(
        target.addr,
        &names.user('p', 0),
        jim_protocol::Dialect::Spec,
        CONNECT_TIMEOUT,
        timeout,
    )
    .await
    .map_err(|e| e.to_string())?;
    let _ = probe.round_trips(100, secs(0.5)).await; // warm-up
    let idle = target.rss_kib();
    let opts = HoldOptions {
        connections: n,
        connects_in_flight: s.connects_in_flight,
        connects_per_sec: 0,
        connect_timeout: CONNECT_TIMEOUT,
        reply_timeout: timeout,
        stop_after_failures: 200,
        names: names.clone(),
        dialect: jim_protocol::Dialect::Spec,
    };
    let held = hold::hold(target.addr, &opts).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let with_n = target.rss_kib();
    let r = probe.round_trips(u64::MAX, secs(s.probe_secs)).await;
    let peak = target.peak_rss_kib();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let still_open = held.still_open();
    let alive = hold::alive(
        target.addr,
        &names.user('p', 1),
        jim_protocol::Dialect::Spec,
        CONNECT_TIMEOUT,
        timeout,
    )
    .await;

    sample.set("requested", Some(n as f64));
    sample.set("handshakes", Some(held.report.held as f64));
    sample.set("held", Some(still_open as f64));
    sample.set("failures", Some(n.saturating_sub(still_open) as f64));
    sample.set("connect_secs", Some(held.report.elapsed_secs));
    sample.set("rss_idle_kib", idle);
    sample.set("rss_held_kib", with_n);
    if still_open > 0 {
        sample.set("rss_per_conn_kib", idle.zip(with_n).map(|(a, b)| (b - a) / still_open as f64));
    }
    sample.set("peak_rss_kib", peak);
    if r.completed > 0 {
        sample.set("probe_p50_us", Some(r.latency.p50_us));
        sample.set("probe_p99_us", Some(r.latency.p99_us));
        sample.set("probe_per_sec", Some(r.per_sec));
    }
    sample.set("alive", Some(if alive.is_ok() { 1.0 } else { 0.0 }));
    if let Some(why) = &held.report.stopped_early {
        sample.notes.push(format!("ramp stopped: {why}"));
    }
    if let Some(p) = held.report.problems.first() {
        sample.notes.push(format!("first failure: {p}"));
    }
    if let Some(p) = &r.problem {
        sample.notes.push(format!("probe: {p}"));
    }
    if let Err(e) = alive {
        sample.notes.push(format!("new client after the hold: {e}"));
    }
    // Close our side; the caller stops the target right after.
    held.close();
    Ok(())
}
