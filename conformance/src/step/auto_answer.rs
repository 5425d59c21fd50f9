//! `"auto_answer": true` (client mode): from now on, requests that no `expect` asks for get a
//! generic answer (200, or an empty 202 list for get_contacts/get_users; nothing for
//! quit/exit), so that interactive clients can go on whatever they send.

use super::{Body, Kind, StepResult};
use crate::case::Case;
use crate::case::client::ClientSide;
use crate::i18n::Said;
use crate::vocab::StepKeyword;

/// The `auto_answer` step.
#[derive(Debug, Clone)]
pub struct AutoAnswer;

impl AutoAnswer {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        b.expect_true()?;
        Ok(Self)
    }

    pub(crate) fn run(&self, cx: &mut Case<'_, ClientSide>) -> StepResult {
        cx.side.auto_answer = true;
        Ok(())
    }
}

impl Kind for AutoAnswer {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::AutoAnswer
    }

    fn needs_conn(&self) -> bool {
        false
    }

    fn acts_on_conn(&self) -> bool {
        false
    }
}
