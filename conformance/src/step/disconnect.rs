//! `disconnect`: the runner ends the connection: `true` or `"close"` (FIN), `"reset"` (RST,
//! `SO_LINGER` 0), or `"shutdown_write"` (the sending side only; the runner keeps reading).

use crate::i18n::Said;
use serde_json::Value;

use super::{Body, ConnEffect, Kind, StepResult};
use crate::case::{At, Case, Side};
use crate::vocab::{Direction, DisconnectKind, StepKeyword};

/// The `disconnect` step.
#[derive(Debug, Clone, Copy)]
pub struct Disconnect {
    /// How.
    pub how: DisconnectKind,
}

impl Disconnect {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        let how = match b.value {
            Value::Bool(true) => Some(DisconnectKind::Close),
            Value::String(s) => DisconnectKind::parse(s),
            _ => None,
        };
        match how {
            Some(how) => Ok(Self { how }),
            None => Err(b.error(Said::new(
                "disconnect is true, \"close\", \"reset\" or \"shutdown_write\"",
                "disconnect — это true, \"close\", \"reset\" или \"shutdown_write\"",
            ))),
        }
    }

    pub(crate) async fn run<S: Side>(&self, cx: &mut Case<'_, S>, at: &At) -> StepResult {
        if let Some(conn) = cx.conn_mut(&at.conn) {
            conn.disconnect(self.how).await;
        }
        if self.how != DisconnectKind::ShutdownWrite {
            cx.mark_ended(&at.conn);
        }
        let how_ru = match self.how {
            DisconnectKind::Close => "close: закрытие",
            DisconnectKind::Reset => "reset: сброс",
            DisconnectKind::ShutdownWrite => "shutdown_write: закрыта только запись",
        };
        let text = crate::i18n::Said::new(
            format!("disconnect ({})", self.how.as_str()),
            format!("отключение ({how_ru})"),
        );
        cx.log(&at.conn, Direction::Event, text);
        let what = match self.how {
            DisconnectKind::Close => {
                crate::i18n::Said::new("closed the connection (FIN)", "закрыл соединение (FIN)")
            }
            DisconnectKind::Reset => crate::i18n::Said::new(
                "reset the connection (RST, SO_LINGER 0)",
                "сбросил соединение (RST, SO_LINGER 0)",
            ),
            DisconnectKind::ShutdownWrite => {
                crate::i18n::Said::new("shut down its sending side", "закрыл свою сторону отправки")
            }
        };
        cx.input(at, what, false);
        Ok(())
    }
}

impl Kind for Disconnect {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::Disconnect
    }

    fn needs_conn(&self) -> bool {
        false
    }

    fn conn_effect(&self) -> ConnEffect {
        match self.how {
            DisconnectKind::Close | DisconnectKind::Reset => ConnEffect::Closes,
            DisconnectKind::ShutdownWrite => ConnEffect::Keeps,
        }
    }
}
