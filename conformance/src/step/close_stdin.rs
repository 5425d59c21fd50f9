//! `"close_stdin": true` (client mode): write the `--stdin` text (if any) to the client, then
//! close its standard input, as a user who typed the text and pressed Ctrl-D.

use crate::i18n::Said;
use tokio::io::AsyncWriteExt;

use super::{Body, Kind, StepResult};
use crate::case::client::ClientSide;
use crate::case::{At, Case};
use crate::i18n::ClientMsg;
use crate::vocab::{Direction, StepKeyword};

/// The `close_stdin` step.
#[derive(Debug, Clone)]
pub struct CloseStdin;

impl CloseStdin {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        b.expect_true()?;
        Ok(Self)
    }

    pub(crate) async fn run(&self, cx: &mut Case<'_, ClientSide>, at: &At) -> StepResult {
        let text = cx.side.case.stdin.clone();
        let Some(mut stdin) = cx.side.process().and_then(|p| p.stdin.take()) else {
            return Ok(());
        };
        let mut note = ClientMsg::StdinClosed;
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            let write = tokio::time::timeout_at(at.deadline, stdin.write_all(&text));
            note = match write.await {
                Ok(Ok(())) => ClientMsg::StdinWrote { bytes: text.len() },
                Ok(Err(e)) => ClientMsg::StdinFailed { error: e.to_string() },
                Err(_) => ClientMsg::StdinUnread,
            };
        }
        drop(stdin);
        cx.log("a", Direction::Event, note.text());
        Ok(())
    }
}

impl Kind for CloseStdin {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::CloseStdin
    }

    fn needs_conn(&self) -> bool {
        false
    }

    fn acts_on_conn(&self) -> bool {
        false
    }
}
