//! `expect_output` (client mode): what the client shows (its stdout and stderr) must include
//! everything it shows in another case for the same reply alone:
//! `{"expect_output": {"as_in": "client/lesson3/accepted"}}` after the client exited.
//!
//! Why by comparison: a case about reading a reply (a 200 glued to the next message) is about
//! whether the client understood it, and its exit status does not say that (a client may print
//! "could not read the server's message" and exit 0). What a client prints is its own business,
//! in any language; what it prints for the 200 alone is what it prints when it understood it.
//! So every line it showed there must be shown here too (digits are compared as digits, so a
//! time or a port that differs does not count; extra lines, such as the next message printed
//! too, are fine). The other case's run comes from the run ([`crate::run::client`]), which runs
//! it once and shares it; when it did not pass, or printed nothing, there is nothing to compare
//! with and the step passes.

use crate::i18n::Said;
use serde_json::{Value, json};

use super::{Body, Kind, StepResult};
use crate::case::client::ClientSide;
use crate::case::{Arrived, At, Case, Details};
use crate::i18n::ClientMsg;
use crate::vocab::StepKeyword;

/// Lines shown in a failure, at most.
const LINES_SHOWN: usize = 3;

/// The `expect_output` step.
#[derive(Debug, Clone)]
pub struct ExpectOutput {
    /// The case whose output this one must include.
    pub as_in: String,
}

impl ExpectOutput {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        match b.value {
            Value::Object(o) if o.len() == 1 => match o.get("as_in") {
                Some(Value::String(id)) if !id.is_empty() => Ok(Self { as_in: id.clone() }),
                _ => Err(b.error("expect_output is {\"as_in\": FIXTURE-ID}")),
            },
            _ => Err(b.error("expect_output is {\"as_in\": FIXTURE-ID}")),
        }
    }

    pub(crate) async fn run(&self, cx: &mut Case<'_, ClientSide>, at: &At) -> StepResult {
        let baseline = cx.side.case.baseline.clone();
        let Some(base) = baseline.as_ref().filter(|b| b.id == self.as_in) else { return Ok(()) };
        let Some(base_output) = &base.output else { return Ok(()) };
        let here = match cx.side.process() {
            Some(p) => {
                p.drain_output().await;
                p.output()
            }
            None => return Ok(()),
        };
        let missing = missing_lines(base_output, &here);
        if missing.is_empty() {
            return Ok(());
        }
        let lines = missing
            .iter()
            .take(LINES_SHOWN)
            .map(|l| format!("`{l}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let why = ClientMsg::WhyMissingLines { baseline: self.as_in.clone(), lines }.text().into();
        let details = Details {
            expected: vec![json!({"$output_as_in": self.as_in})],
            why: vec![why],
            ..Details::default()
        };
        Err(cx.fail(at, Arrived::Client { saw: ClientMsg::ShowedOtherwise }, details))
    }
}

/// A line as compared: trimmed, runs of digits as one `#`, runs of spaces as one space.
fn normal(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut last = ' ';
    for c in line.trim().chars() {
        let c = if c.is_ascii_digit() {
            '#'
        } else if c.is_whitespace() {
            ' '
        } else {
            c
        };
        if (c == '#' || c == ' ') && c == last {
            continue;
        }
        out.push(c);
        last = c;
    }
    out
}

/// The lines of `base` (as shown there) whose normal form is not among the lines of `here`.
pub fn missing_lines(base: &str, here: &str) -> Vec<String> {
    let shown: std::collections::BTreeSet<String> =
        here.lines().map(normal).filter(|l| !l.is_empty()).collect();
    base.lines()
        .filter(|l| {
            let n = normal(l);
            !n.is_empty() && !shown.contains(&n)
        })
        .map(|l| l.trim().chars().take(120).collect())
        .collect()
}

impl Kind for ExpectOutput {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::ExpectOutput
    }

    fn needs_conn(&self) -> bool {
        false
    }

    fn acts_on_conn(&self) -> bool {
        false
    }

    fn checks(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_shown_for_the_reply_alone_must_be_shown_again_whatever_the_digits() {
        assert!(missing_lines("200 : OK\n", "200 : OK\nprobe received\n").is_empty());
        assert_eq!(
            missing_lines("200 : OK\n", "Не удалось прочитать сообщение сервера.\n"),
            vec!["200 : OK".to_owned()]
        );
        let base =
            "Сообщение от сервера:  {\"response\":200,\"time\":1796175362.93}\n , длиной  57  байт";
        let glued = "Сообщение от сервера:  {\"response\":200,\"time\":1796175999.1}\n{\"action\":\"probe\"}\n , длиной  100  байт";
        assert!(missing_lines(base, glued).is_empty(), "times and lengths are digits");
        assert!(missing_lines("", "anything").is_empty());
    }
}
