//! Is a reply still coming? (issue 15: a class graded in two minutes; issue 13 item 4: a zombie
//! named without waiting out every timeout). A step that waits for a reply that never comes
//! waits its whole timeout (2 s), and a server that turns zombie whenever a client leaves makes
//! a run of some fifty such waits: the slowest style of a class took 3.5 minutes on its own,
//! most of it spent waiting for nothing.
//!
//! A spawned target can be watched instead ([`crate::settle`], [`crate::peer_read`]): when it
//! has taken every byte out of its sockets, has no connection waiting to be accepted, and no
//! thread of its process tree is running, it has done everything it was going to do about what
//! it was sent. When it stays so for a grace period well beyond its measured loop turn, no reply
//! is coming, and the wait ends as its timeout would have ended it, only earlier: the verdict is
//! the same. The grace covers a loop that reads in one turn and answers in the next while it
//! sleeps between turns (an `accept()` with a timeout); what it gives up is a reply that only a
//! timer would send, and nothing in the suite waits for one. A target the system does not show,
//! a target given by address, and one that never rests are waited for in full.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

/// The least time a target must stay idle before its silence counts as an answer.
pub const MIN_GRACE: Duration = Duration::from_millis(500);

/// The grace for a target whose loop turn could not be measured.
pub const UNMEASURED_GRACE: Duration = Duration::from_secs(1);

/// Longest pause between two looks at the target.
const MAX_POLL: Duration = Duration::from_millis(20);

/// A spawned target, watched for idleness while the runner waits for its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    pid: u32,
    listen: SocketAddr,
    grace: Duration,
}

impl Watch {
    /// The watch of the process tree `pid` listening on `listen`, whose replies take up to `turn`
    /// (None: not measured); None when the grace would not end before `timeout` anyway.
    pub fn new(
        pid: u32,
        listen: SocketAddr,
        turn: Option<Duration>,
        timeout: Duration,
    ) -> Option<Self> {
        let grace = turn.map_or(UNMEASURED_GRACE, |t| t.saturating_mul(3).max(MIN_GRACE));
        (grace < timeout).then_some(Self { pid, listen, grace })
    }

    /// How long the target must stay idle.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Resolves once the target has been idle for the grace period without a break; never when
    /// the system does not show it (or it is gone: the connection then tells).
    pub async fn idle(&self) {
        let mut since: Option<Instant> = None;
        let mut poll = Duration::from_millis(2);
        loop {
            let quiet = match crate::settle::busy(self.pid) {
                Some(busy) => !busy,
                None => return std::future::pending().await,
            };
            let idle = quiet
                && match crate::peer_read::unread_at(self.listen).await {
                    Some(unread) => unread == 0,
                    None => return std::future::pending().await,
                };
            match (idle, since) {
                (false, _) => since = None,
                (true, None) => since = Some(Instant::now()),
                (true, Some(t)) if t.elapsed() >= self.grace => return,
                (true, Some(_)) => {}
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(MAX_POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn the_grace_follows_the_turn_and_stays_under_the_timeout() {
        let at: SocketAddr = "127.0.0.1:20000".parse().expect("addr");
        let two = Duration::from_secs(2);
        let w = |turn| Watch::new(1, at, turn, two).map(|w| w.grace());
        assert_eq!(w(Some(Duration::from_millis(10))), Some(MIN_GRACE));
        assert_eq!(w(Some(Duration::from_millis(400))), Some(Duration::from_millis(1200)));
        assert_eq!(w(None), Some(UNMEASURED_GRACE));
        assert_eq!(w(Some(Duration::from_millis(700))), None);
    }

    /// A process that sleeps with nothing unread is idle; while a byte waits unread in a socket
    /// on its port it is not.
    #[tokio::test]
    async fn unread_bytes_keep_a_sleeping_target_busy() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let at = listener.local_addr().expect("addr");
        let mut sleeper = std::process::Command::new("sleep").arg("30").spawn().expect("sleep");
        let watch = Watch::new(sleeper.id(), at, Some(Duration::ZERO), Duration::from_secs(60))
            .expect("a watch");
        let idle = tokio::time::timeout(Duration::from_secs(20), watch.idle()).await;
        assert!(idle.is_ok(), "a sleeping process with nothing unread is idle");
        let mut ours = tokio::net::TcpStream::connect(at).await.expect("connect");
        ours.write_all(b"{").await.expect("write");
        let busy = tokio::time::timeout(MIN_GRACE * 3, watch.idle()).await;
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        drop(listener);
        assert!(busy.is_err(), "a byte unread on the target's port means a reply may come");
    }
}
