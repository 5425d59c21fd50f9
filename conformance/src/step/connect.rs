//! `"connect": true`: open the connection now, or open it again after a close. Without it a
//! connection opens at its first use (server mode) or when the client connects (client mode).

use super::{Body, ConnEffect, Kind, StepResult};
use crate::case::{At, Case, Side};
use crate::i18n::Said;
use crate::vocab::StepKeyword;

/// The `connect` step.
#[derive(Debug, Clone)]
pub struct Connect;

impl Connect {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        b.expect_true()?;
        Ok(Self)
    }

    /// The executor opened the connection before this runs; what is left is to record it.
    pub(crate) async fn run<S: Side>(&self, cx: &mut Case<'_, S>, at: &At) -> StepResult {
        cx.input(at, crate::i18n::Said::new("opened a connection", "открыл соединение"), false);
        Ok(())
    }
}

impl Kind for Connect {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::Connect
    }

    fn conn_effect(&self) -> ConnEffect {
        ConnEffect::Opens
    }
}
