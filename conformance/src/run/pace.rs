//! How slow is the target's loop? (server mode, issue 13 item 8). A select loop whose clock is
//! an `accept()` with a 0.3 s timeout answers a request only at the end of its turn; pieces of a
//! split request written 15 ms apart then land in one `recv()`, and a server that takes each
//! `recv()` for one whole message passes or fails by luck. Before the cases, the runner logs in
//! a few times and times the goodbye written right after each reply: it arrives while the
//! server waits out its next turn, so the slowest is the turn. The pieces of split and
//! trickled messages are then spaced by that turn ([`Pace::for_turn`]), so the verdicts do not
//! depend on where the turns fall.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::ServerMode;
use super::session::Run;
use crate::jim::{goodbye, is_push};
use crate::placeholders::now_seconds;
use crate::vocab::{Delivery, Dialect, DisconnectKind};
use crate::wire::{Arrival, Conn, Pace};

/// Replies timed (the slowest is taken as the turn).
const SAMPLES: usize = 4;

/// The longest wait for one timed reply: a target slower than this is paced at the caps.
const MAX_WAIT: Duration = Duration::from_secs(2);

impl Run<ServerMode> {
    /// Measures the target's loop turn and returns the pace for its split and trickled
    /// messages. Only a target that answered the preflight is measured (a silent one has no
    /// turn to measure); a reply that does not come ends the measurement with what was seen.
    pub(crate) async fn measure_pace(&self) -> (Pace, Option<Duration>) {
        if !self.detection.answered || Instant::now() >= self.deadline {
            return (Pace::for_turn(Duration::ZERO), None);
        }
        let turn = tokio::time::timeout_at(self.deadline, self.slowest_reply()).await;
        match turn {
            Ok(Some(turn)) => (Pace::for_turn(turn), Some(turn)),
            _ => (Pace::for_turn(Duration::ZERO), None),
        }
    }

    /// The slowest of [`SAMPLES`] goodbyes: each connection logs in, and the goodbye is
    /// written as soon as the reply to the presence arrives; the time until the server acts
    /// on it (closes, or answers it) is timed. The reply to the presence was sent during a
    /// turn, so the goodbye arrives while the server waits out the next one (a presence on a
    /// new connection is no measure: the connection itself wakes an `accept()` clock).
    async fn slowest_reply(&self) -> Option<Duration> {
        let wait = self.opts.timeout.min(MAX_WAIT);
        let course = self.profile.dialects == [Dialect::Course];
        let framing = self.opts.framing;
        let mut slowest: Option<Duration> = None;
        for _ in 0..SAMPLES {
            let Ok(mut conn) = Conn::open(self.mode.addr(), self.opts.timeout).await else {
                break;
            };
            let name =
                self.mode.name.clone().unwrap_or_else(|| self.mode.unique_name("pace", self));
            let presence = json!({
                "action": "presence", "time": now_seconds(), "user": {"account_name": name}
            });
            let bytes = jim_protocol::codec::to_bytes(&presence, framing);
            let logged_in =
                conn.write(&bytes, Delivery::Whole, Instant::now() + wait).await.is_ok()
                    && matches!(next_reply(&mut conn, Instant::now() + wait).await, Some(false));
            let mut took = None;
            if logged_in {
                let bye = jim_protocol::codec::to_bytes(&goodbye(course, &name), framing);
                let sent = Instant::now();
                if conn.write(&bye, Delivery::Whole, sent + wait).await.is_ok()
                    && next_reply(&mut conn, sent + wait).await.is_some()
                {
                    took = Some(sent.elapsed());
                }
            }
            conn.disconnect(DisconnectKind::Close).await;
            let Some(took) = took else { break };
            slowest = Some(slowest.map_or(took, |s| s.max(took)));
        }
        slowest
    }
}

/// What the target did next before `deadline`, pushes skipped: `Some(false)` a reply (a value,
/// or bytes that are not JSON), `Some(true)` it closed the connection, `None` nothing.
async fn next_reply(conn: &mut Conn, deadline: Instant) -> Option<bool> {
    for _ in 0..8 {
        match conn.next(deadline).await {
            Arrival::Value { value, .. } if is_push(&value) => {}
            Arrival::Value { .. } | Arrival::Bad { .. } => return Some(false),
            Arrival::Closed { .. } => return Some(true),
            Arrival::Nothing => return None,
        }
    }
    None
}
