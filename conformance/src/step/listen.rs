//! `listen_ms`: keep reading the connection for N milliseconds without taking values out: they
//! stay for the next expects, with the read boundaries of a client that reads all the time
//! (`one_write` checks need them).

use crate::i18n::Said;
use std::time::Duration;

use tokio::time::Instant;

use super::{Body, Kind, StepResult};
use crate::case::{At, Case, Side};
use crate::vocab::{Direction, StepKeyword};

/// Longest `listen_ms`.
const MAX_LISTEN_MS: u64 = 10_000;

/// The `listen_ms` step.
#[derive(Debug, Clone, Copy)]
pub struct Listen {
    /// How long, in milliseconds.
    pub ms: u64,
}

impl Listen {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        match b.value.as_u64() {
            Some(ms) if (1..=MAX_LISTEN_MS).contains(&ms) => Ok(Self { ms }),
            _ => Err(b.error(Said::new(
                "listen_ms must be 1..=10000",
                "listen_ms должно быть от 1 до 10000",
            ))),
        }
    }

    pub(crate) async fn run<S: Side>(&self, cx: &mut Case<'_, S>, at: &At) -> StepResult {
        let until = Instant::now() + Duration::from_millis(self.ms);
        if let Some(conn) = cx.conn_mut(&at.conn) {
            conn.listen(until).await;
        }
        let text = crate::i18n::Said::new(
            format!("listened {} ms", self.ms),
            format!("слушали {} мс", self.ms),
        );
        cx.log(&at.conn, Direction::Event, text);
        Ok(())
    }
}

impl Kind for Listen {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::ListenMs
    }
}
