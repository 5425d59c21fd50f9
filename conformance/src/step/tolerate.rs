//! `tolerate`: from now on, values on this connection matching `pattern` may be skipped under
//! the named tolerance (for example a room message echoed to its sender under `room-echo`).

use crate::i18n::Said;
use serde_json::Value;

use super::{Body, Kind, StepResult, Template, tolerance};
use crate::case::{At, Case, Side};
use crate::placeholders::Mode;
use crate::vocab::{StepKeyword, Tolerance};

/// The `tolerate` step.
#[derive(Debug, Clone)]
pub struct Tolerate {
    /// The tolerance that allows skipping.
    pub tolerance: Tolerance,
    /// What may be skipped.
    pub pattern: Value,
}

impl Tolerate {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        let shape = || {
            b.error(Said::new(
                "tolerate takes {\"tolerance\": NAME, \"pattern\": P}",
                "tolerate принимает {\"tolerance\": NAME, \"pattern\": P}",
            ))
        };
        let Value::Object(t) = b.value else { return Err(shape()) };
        if t.len() != 2 {
            return Err(shape());
        }
        let tolerance = match t.get("tolerance") {
            Some(Value::String(s)) => tolerance(s).map_err(|e| b.error(e))?,
            _ => {
                return Err(b.error(Said::new(
                    "tolerate needs \"tolerance\"",
                    "tolerate требует \"tolerance\"",
                )));
            }
        };
        let Some(pattern) = t.get("pattern").cloned() else {
            return Err(
                b.error(Said::new("tolerate needs \"pattern\"", "tolerate требует \"pattern\""))
            );
        };
        Ok(Self { tolerance, pattern })
    }

    pub(crate) fn run<S: Side>(&self, cx: &mut Case<'_, S>, at: &At) -> StepResult {
        let pattern = cx.expand(at, &self.pattern, Mode::Pattern)?;
        cx.conns.entry(at.conn.clone()).or_default().skip.push((self.tolerance, pattern));
        Ok(())
    }
}

impl Kind for Tolerate {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::Tolerate
    }

    fn needs_conn(&self) -> bool {
        false
    }

    fn templates(&self) -> Vec<Template<'_>> {
        vec![Template::Json(&self.pattern, Mode::Pattern)]
    }
}
