//! From what a case did to its verdict, in one place for both modes: the outcome of the
//! executor becomes pass, pass-lenient, unimplemented (a probe answered "unknown action"), fail
//! or error; `--known-failures` turns failures into expected ones; the case's level and
//! `--strict` decide whether it fails the run; and the run's exit code follows from all that.

use std::collections::BTreeMap;

use crate::case::{Arrived, CaseRun, Input, Outcome};
use crate::i18n::{RunMsg, Said};
use crate::model::{Fixture, Text};
use crate::report::{CaseResult, Impact, Liveness, LivenessState, Verdict};
use crate::vocab::{Capability, Delivery, Level, UnimplementedIf};

/// How a verdict affects the run, given the case's level and `--strict`.
pub fn impact(level: Level, verdict: Verdict, strict: bool) -> Impact {
    match verdict {
        Verdict::Error | Verdict::UnexpectedPass => Impact::Failure,
        Verdict::Fail => match level {
            Level::Must => Impact::Failure,
            Level::Should if strict => Impact::Failure,
            Level::Should | Level::May => Impact::Warning,
            Level::Info => Impact::None,
        },
        _ => Impact::None,
    }
}

fn glob_match(pattern: &str, id: &str) -> bool {
    globset::Glob::new(pattern).map(|g| g.compile_matcher().is_match(id)).unwrap_or(pattern == id)
}

/// Applies `--known-failures` (expected-fail, unexpected-pass) and computes the impact.
pub fn finalize(
    mut r: CaseResult,
    known_failures: &BTreeMap<String, String>,
    strict: bool,
) -> CaseResult {
    let known = known_failures.iter().find(|(pattern, _)| glob_match(pattern, &r.id));
    if let Some((_, reason)) = known {
        match r.verdict {
            Verdict::Fail | Verdict::Error => {
                r.verdict = Verdict::ExpectedFail;
                r.reason = Some(reason.as_str().into());
            }
            v if v.passed() => {
                r.verdict = Verdict::UnexpectedPass;
                r.reason = Some(Said::of(&RunMsg::KnownFailurePassed { reason: reason.clone() }));
            }
            _ => {}
        }
    }
    r.impact = impact(r.level, r.verdict, strict);
    // A case that killed the target (or made it a zombie) fails the run whatever its level:
    // a server that dies on a client's input is broken for every later client.
    let took_it_down = r
        .liveness
        .as_ref()
        .is_some_and(|l| matches!(l.state, LivenessState::Died | LivenessState::Zombie));
    if took_it_down && matches!(r.verdict, Verdict::Fail | Verdict::Error) {
        r.impact = Impact::Failure;
    }
    r
}

/// The result of a case whose task ended without a result (a bug in the runner): an error, so
/// that it is never silently missing from the report.
pub fn lost_case(
    fx: &Fixture,
    delivery: Delivery,
    known_failures: &BTreeMap<String, String>,
    strict: bool,
) -> CaseResult {
    let r = CaseResult::new(fx, delivery, Verdict::Error, Some(Said::of(&RunMsg::LostCase)));
    finalize(r, known_failures, strict)
}

/// The exit code of a run and why: 1 if a case fails the run, 2 if no case ran, else 0.
pub fn exit_code(results: &[CaseResult]) -> (i32, Said) {
    let ran = results
        .iter()
        .any(|r| !matches!(r.verdict, Verdict::Skip | Verdict::Unimplemented | Verdict::NotRun));
    let failures = results.iter().filter(|r| r.impact == Impact::Failure).count();
    if failures > 0 {
        (1, Said::of(&RunMsg::CasesFail { n: failures }))
    } else if !ran {
        (2, Said::of(&RunMsg::NoCaseRan))
    } else {
        (0, Said::of(&RunMsg::AllRequiredPass))
    }
}

/// The verdict on a case run: `r` is the result so far (its level set); `expected` are the
/// capabilities declared with `--expect` (a probe for one of them never makes it
/// unimplemented).
pub fn judge(mut r: CaseResult, fx: &Fixture, run: CaseRun, expected: &[Capability]) -> CaseResult {
    r.duration_ms = run.duration.as_millis() as u64;
    if fx.destructive {
        let failed_at = match &run.outcome {
            Outcome::Pass(_) => None,
            Outcome::Fail(f) | Outcome::Error(f) => Some(f.step),
        };
        r.liveness = Some(Liveness {
            state: LivenessState::NotChecked,
            detail: Text::default(),
            input: suspect(&run.inputs, failed_at),
            inputs: run.inputs.iter().map(ToString::to_string).collect(),
            output: None,
        });
    }
    match run.outcome {
        Outcome::Pass(lenient) => {
            if !lenient.is_empty() {
                r.verdict = Verdict::PassLenient;
                r.tolerances = lenient.into_iter().collect();
            }
        }
        Outcome::Fail(f) => {
            let cap = fx.probe_for.filter(|c| !expected.contains(c));
            // Silence means "unimplemented" only where the capability's own message was
            // awaited: the probe's last step (its logins before it did succeed).
            let silent = matches!(f.arrived, Arrived::Nothing { .. })
                && fx.unimplemented_if == UnimplementedIf::Silence
                && f.step == fx.step_count();
            if let (Some(cap), true) = (cap, f.unknown_action || silent) {
                r.verdict = Verdict::Unimplemented;
                r.reason = Some(Said::each(|l| {
                    let got = f.arrived.describe(l);
                    l.say(&RunMsg::LooksUnimplemented { cap: cap.to_string(), step: f.step, got })
                }));
            } else {
                r.verdict = Verdict::Fail;
                r.reason = Some(Said::each(|l| {
                    l.say(&RunMsg::AtStep { step: f.step, got: f.arrived.describe(l) })
                }));
                r.failure = Some(*f);
                r.transcript = run.transcript;
            }
        }
        Outcome::Error(f) => {
            r.verdict = Verdict::Error;
            r.reason = Some(Said::each(|l| f.arrived.describe(l)));
            r.failure = Some(*f);
            r.transcript = run.transcript;
        }
    }
    if !r.verdict.passed() {
        // Keep the report small: a passing case's output is not needed.
        r.process = run.process;
    }
    r
}

/// The inputs of a case that may have broken the server: the unusual things it did (not
/// ordinary logins) up to the step that failed, or to the end if nothing failed; the last
/// input if all were ordinary.
pub fn suspect(inputs: &[Input], failed_at: Option<usize>) -> Option<Said> {
    let before: Vec<&Input> =
        inputs.iter().filter(|i| failed_at.is_none_or(|step| i.step <= step)).collect();
    let unusual: Vec<&Input> = before.iter().copied().filter(|i| !i.routine).collect();
    if unusual.is_empty() {
        return before.last().map(|i| Said::each(|l| i.text(l)));
    }
    let shown = unusual.len().min(4);
    Some(Said::each(|l| {
        let texts: Vec<String> =
            unusual[unusual.len() - shown..].iter().map(|i| i.text(l)).collect();
        let text = texts.join(l.pick(", then ", ", затем "));
        if unusual.len() > shown { format!("… {text}") } else { text }
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_suspect_input_is_the_unusual_one_before_the_failing_step() {
        let input = |step, routine, what: &str| Input {
            step,
            conn: "a".into(),
            what: what.into(),
            routine,
        };
        let inputs = vec![
            input(1, true, "login"),
            input(3, false, "raw `{action: presence}\\n`"),
            input(5, true, "login b"),
        ];
        assert_eq!(
            suspect(&inputs, Some(4)).unwrap(),
            "step 3 (conn a): raw `{action: presence}\\n`"
        );
        assert_eq!(suspect(&inputs[..1], None).unwrap().en(), "step 1 (conn a): login");
        assert!(suspect(&[], Some(2)).is_none());
    }
}
