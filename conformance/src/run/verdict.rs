//! From what a case did to its verdict, in one place for both modes: the outcome of the
//! executor becomes pass, pass-lenient, unimplemented (a probe answered "unknown action"), fail
//! or error; `--known-failures` turns failures into expected ones; the case's level and
//! `--strict` decide whether it fails the run; and the run's exit code follows from all that.

use std::collections::BTreeMap;

use crate::case::{Arrived, CaseRun, FailedAction, Input, Outcome};
use crate::i18n::{Lang, RunMsg, Said};
use crate::matcher::read_code;
use crate::model::{Fixture, Text};
use crate::report::{CaseResult, Impact, Liveness, LivenessState, Verdict};
use crate::vocab::{Capability, Delivery, Level, StepKeyword, Tolerance, UnimplementedIf};

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

/// The exit code of a run and why: 1 if a case fails the run, 2 if no case ran, else 0. A case
/// not run (the deadline, a target down) is not a failure, and the reason says it was not run.
pub fn exit_code(results: &[CaseResult]) -> (i32, Said) {
    let ran = results
        .iter()
        .any(|r| !matches!(r.verdict, Verdict::Skip | Verdict::Unimplemented | Verdict::NotRun));
    let failures = results.iter().filter(|r| r.impact == Impact::Failure).count();
    let not_run = results.iter().filter(|r| r.verdict == Verdict::NotRun).count();
    if failures > 0 {
        (1, Said::of(&RunMsg::CasesFail { n: failures }))
    } else if !ran && not_run > 0 {
        (2, Said::of(&RunMsg::NoneRanSomeNotRun { n: not_run }))
    } else if !ran {
        (2, Said::of(&RunMsg::NoCaseRan))
    } else if not_run > 0 {
        (0, Said::of(&RunMsg::RanPassSomeNotRun { n: not_run }))
    } else {
        (0, Said::of(&RunMsg::AllRequiredPass))
    }
}

/// `--deadline` in seconds as a person writes it (`5`, `0.5`), from milliseconds.
pub fn deadline_secs(ms: u64) -> String {
    format!("{}", ms as f64 / 1000.0)
}

/// Why a case the deadline left without a verdict was not run (`during`: it was stopped).
pub fn deadline_reason(deadline_ms: u64, during: bool) -> Said {
    Said::of(&RunMsg::Deadline { secs: deadline_secs(deadline_ms), during })
}

/// A case `--deadline` left without a verdict: not run, with why; its hint says what to do
/// about the deadline (the fixture's hint about a defect would be a guess: nothing was judged).
pub fn deadline_not_run(mut r: CaseResult, deadline_ms: u64, during: bool) -> CaseResult {
    let secs = deadline_secs(deadline_ms);
    r.verdict = Verdict::NotRun;
    r.reason = Some(deadline_reason(deadline_ms, during));
    r.tolerances.clear();
    r.failure = None;
    r.transcript.clear();
    r.hint = Text {
        en: format!(
            "The whole run may take {secs} s (--deadline) and it was used up before this case could be judged: nothing is known about it yet. Run again with a longer --deadline (a target that answers slowly, or not at all, makes every step wait up to --timeout)."
        ),
        ru: format!(
            "Весь прогон может длиться {secs} с (--deadline), и это время закончилось раньше, чем этот случай удалось проверить: о нём пока ничего не известно. Запустите снова с большим --deadline (цель, которая отвечает медленно или не отвечает, заставляет каждый шаг ждать до --timeout)."
        ),
    };
    r
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
                if let Some(hint) = f.observed_hint(&r.hint) {
                    r.hint = hint;
                }
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

/// The case whose first silence shows that a server speaks first (before the client's first
/// message), and the case whose failure shows that it answers 2xx to an unknown action.
pub const UNSOLICITED_CASE: &str = "transport/unsolicited";
/// See [`UNSOLICITED_CASE`].
pub const UNKNOWN_ACTION_CASE: &str = "errors/unknown-action";

/// Verdicts only the whole run can give (issue 13 item 2 and 3: what a case passed on must
/// have been observed, not assumed). Revised, in this order:
///
/// 1. A server that sent a value before the client's first message (`transport/unsolicited`
///    failed at an `expect_silence` step on a connection the runner had written nothing to)
///    speaks first: the value a case read as the reply to its first request may be that
///    greeting, so no case is credited with a pass (each fails under that one cause and its
///    hint).
/// 2. A server that answers an unknown action with 2xx (`errors/unknown-action` failed on a
///    2xx) says 2xx to anything: a capability probe that passed on its answer credits
///    nothing (it fails), and the cases that require that capability and passed are skipped
///    ("not credited"). Capabilities are credited by observed behaviour, never a bare 2xx.
/// 3. A tolerance may rescue a reply only where the fixture expects an error: a case that
///    passed only because `any-error-code` accepted another error than the one expected is
///    credited only when its `control` (the case that sends the valid counterpart of its
///    request) did not fail. A server that answers 400 to every `msg` also answers 400 to a
///    `msg` for an unknown user; that 400 shows nothing. A control not in the run (`--only`)
///    leaves the lenient pass as it is.
///
/// `fixture` finds a fixture by id. Returns the indices of the results it changed (the caller
/// recomputes their impact and shows them again).
pub fn revise<'f>(
    results: &mut [CaseResult],
    fixture: impl Fn(&str) -> Option<&'f Fixture>,
) -> Vec<usize> {
    let mut changed = Vec::new();
    let whole = |results: &[CaseResult], id: &str| {
        results.iter().position(|r| r.id == id && r.delivery == Delivery::Whole)
    };
    // 1. Speaks first.
    let greeting = whole(results, UNSOLICITED_CASE).and_then(|i| {
        let r = &results[i];
        let f = r.failure.as_ref().filter(|_| r.verdict == Verdict::Fail)?;
        let silence = f.action == FailedAction::Step(StepKeyword::ExpectSilence);
        (silence && f.sent.is_empty())
            .then(|| (f.arrived.describe(Lang::En), f.arrived.describe(Lang::Ru), r.hint.clone()))
    });
    if let Some((what, what_ru, hint)) = greeting {
        for (i, r) in results.iter_mut().enumerate() {
            if r.verdict.passed() && r.id != UNSOLICITED_CASE {
                r.verdict = Verdict::Fail;
                r.tolerances.clear();
                r.reason = Some(Said::new(
                    format!(
                        "not credited: the server speaks first, it sent {what} before the client's first message ({UNSOLICITED_CASE}); what this case read as its reply may be that greeting"
                    ),
                    format!(
                        "не засчитано: сервер говорит первым, он прислал {what_ru} до первого сообщения клиента ({UNSOLICITED_CASE}); то, что этот случай прочитал как ответ, может быть этим приветствием"
                    ),
                ));
                r.hint = hint.clone();
                changed.push(i);
            }
        }
        return changed;
    }
    // 2. 2xx to anything.
    let anything = whole(results, UNKNOWN_ACTION_CASE).and_then(|i| {
        let r = &results[i];
        let f = r.failure.as_ref().filter(|_| r.verdict == Verdict::Fail)?;
        let Arrived::Value { value, .. } = &f.arrived else { return None };
        let (code, _) = value.get("response").and_then(read_code)?;
        (200..300).contains(&code).then_some(code)
    });
    if let Some(code) = anything {
        let mut revoked = Vec::new();
        for (i, r) in results.iter_mut().enumerate() {
            let Some(cap) = fixture(&r.id).and_then(|f| f.probe_for) else { continue };
            if r.verdict.passed() {
                r.verdict = Verdict::Fail;
                r.tolerances.clear();
                r.reason = Some(Said::new(
                    format!(
                        "not credited: this server also answers {code} to an unknown action ({UNKNOWN_ACTION_CASE}), so a {code} here shows nothing about {cap}; a capability is credited by what it does"
                    ),
                    format!(
                        "не засчитано: этот сервер отвечает {code} и на неизвестное действие ({UNKNOWN_ACTION_CASE}), поэтому {code} здесь ничего не говорит о {cap}; возможность засчитывается по тому, что сервер делает"
                    ),
                ));
                changed.push(i);
                revoked.push(cap);
            }
        }
        for (i, r) in results.iter_mut().enumerate() {
            let Some(f) = fixture(&r.id) else { continue };
            let cap = f.requires.iter().find(|c| revoked.contains(c) && f.probe_for != Some(**c));
            if let (Some(cap), true) = (cap, r.verdict.passed()) {
                r.verdict = Verdict::Skip;
                r.tolerances.clear();
                r.reason = Some(Said::new(
                    format!(
                        "not credited: {cap} was not shown (this server answers {code} to an unknown action too, see {UNKNOWN_ACTION_CASE})"
                    ),
                    format!(
                        "не засчитано: {cap} не показана (этот сервер отвечает {code} и на неизвестное действие, см. {UNKNOWN_ACTION_CASE})"
                    ),
                ));
                changed.push(i);
            }
        }
    }
    // 3. Tolerated errors need a control that did not fail.
    for i in 0..results.len() {
        let r = &results[i];
        if r.verdict != Verdict::PassLenient || !r.tolerances.contains(&Tolerance::AnyErrorCode) {
            continue;
        }
        let Some(control) = fixture(&r.id).and_then(|f| f.control.clone()) else { continue };
        let Some(c) = whole(results, &control).map(|c| &results[c]) else { continue };
        if !matches!(c.verdict, Verdict::Fail | Verdict::Error) {
            continue;
        }
        let why = c.reason.clone().unwrap_or_default();
        let r = &mut results[i];
        r.verdict = Verdict::Fail;
        r.tolerances.clear();
        r.reason = Some(Said::each(|l| match l {
            Lang::En => format!(
                "not credited: the error reply passed only under any-error-code, and the valid request of {control} failed too ({}); this server answers with errors where it should not, so an error here shows nothing",
                why.get(l)
            ),
            Lang::Ru => format!(
                "не засчитано: ответ с ошибкой прошёл только с допуском any-error-code, а правильный запрос {control} тоже не прошёл ({}); этот сервер отвечает ошибками там, где не должен, поэтому ошибка здесь ничего не показывает",
                why.get(l)
            ),
        }));
        changed.push(i);
    }
    changed.sort_unstable();
    changed.dedup();
    changed
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

    fn fixture(id: &str, extra: &str) -> Fixture {
        let text = format!(
            r#"{{"id": "{id}", "title": "t", "spec": ["§x"], "level": "must", "dialects": ["spec"], {extra}
                "steps": [{{"conn": "a", "send": {{"action": "presence"}}}}],
                "hint": {{"en": "fixture hint", "ru": "подсказка"}}}}"#
        );
        crate::model::parse_fixture(&format!("{id}.json"), &text).unwrap()
    }

    fn failed(
        fx: &Fixture,
        action: StepKeyword,
        sent: Vec<crate::wire::Sent>,
        got: Arrived,
    ) -> CaseResult {
        let mut r = CaseResult::new(fx, Delivery::Whole, Verdict::Fail, Some("step 2".into()));
        r.failure = Some(crate::case::Failure {
            step: 2,
            conn: "a".into(),
            action: FailedAction::Step(action),
            note: None,
            sent,
            expected: Vec::new(),
            arrived: got,
            mismatches: Vec::new(),
            would_need: Vec::new(),
            reproduce: Vec::new(),
            unknown_action: false,
        });
        r
    }

    fn value(v: serde_json::Value) -> Arrived {
        Arrived::Value { raw: v.to_string(), value: v }
    }

    fn lenient(fx: &Fixture) -> CaseResult {
        let mut r = CaseResult::new(fx, Delivery::Whole, Verdict::PassLenient, None);
        r.tolerances = vec![Tolerance::AnyErrorCode];
        r
    }

    #[test]
    fn a_case_the_deadline_left_unjudged_is_neither_a_pass_nor_a_failure() {
        let fx = fixture("presence/basic", "");
        let pass = CaseResult::new(&fx, Delivery::Whole, Verdict::Pass, None);
        let failed = CaseResult::new(&fx, Delivery::Whole, Verdict::Fail, Some("step 2".into()));
        let cut = finalize(deadline_not_run(failed, 5000, true), &BTreeMap::new(), false);
        assert_eq!((cut.verdict, cut.impact), (Verdict::NotRun, Impact::None));
        assert_eq!(
            cut.reason.as_ref().unwrap().en(),
            "the deadline of 5 s was reached during this case, which was stopped unjudged"
        );
        assert!(cut.hint.en.contains("--deadline") && cut.hint.ru.contains("--deadline"));
        let (code, why) = exit_code(&[pass.clone(), cut.clone()]);
        assert_eq!(code, 0);
        assert!(why.en().contains("1 not run"), "{}", why.en());
        assert_eq!(exit_code(std::slice::from_ref(&cut)).0, 2, "nothing ran to its end");
        assert_eq!(exit_code(&[pass]).1.en(), "every required case passes");
        assert_eq!(
            deadline_reason(500, false).en(),
            "the deadline of 0.5 s was reached before this case"
        );
    }

    #[test]
    fn a_tolerated_error_is_credited_only_when_the_valid_request_did_not_fail() {
        let direct = fixture("msg/direct", "");
        let unknown = fixture("msg/unknown-user", r#""control": "msg/direct","#);
        let all = [direct.clone(), unknown.clone()];
        let find = |id: &str| all.iter().find(|f| f.id == id);
        // Every msg answered 400: msg/direct fails, and the 400 to an unknown user shows nothing.
        let msg_direct_failed = failed(
            &direct,
            StepKeyword::Expect,
            Vec::new(),
            value(serde_json::json!({"response": 400})),
        );
        let mut results = vec![msg_direct_failed, lenient(&unknown)];
        assert_eq!(revise(&mut results, find), vec![1]);
        assert_eq!(results[1].verdict, Verdict::Fail);
        assert!(results[1].reason.as_ref().unwrap().contains("msg/direct"));
        assert!(results[1].tolerances.is_empty());
        // A server that delivers msg/direct keeps its lenient pass.
        let mut results =
            vec![CaseResult::new(&direct, Delivery::Whole, Verdict::Pass, None), lenient(&unknown)];
        assert!(revise(&mut results, find).is_empty());
        assert_eq!(results[1].verdict, Verdict::PassLenient);
        // Without the control in the run, the lenient pass stays.
        let mut results = vec![lenient(&unknown)];
        assert!(revise(&mut results, find).is_empty());
    }

    #[test]
    fn a_bare_200_credits_no_capability_when_an_unknown_action_gets_200_too() {
        let unknown_action = fixture(UNKNOWN_ACTION_CASE, "");
        let join = fixture("rooms/join", r#""requires": ["rooms"], "probe_for": "rooms","#);
        let leave = fixture("rooms/leave", r#""requires": ["rooms"],"#);
        let direct = fixture("msg/direct", "");
        let all = [unknown_action.clone(), join.clone(), leave.clone(), direct.clone()];
        let find = |id: &str| all.iter().find(|f| f.id == id);
        let pass = |fx: &Fixture| CaseResult::new(fx, Delivery::Whole, Verdict::Pass, None);
        let ok_200 = value(serde_json::json!({"response": 200, "alert": "OK"}));
        let mut results = vec![
            failed(&unknown_action, StepKeyword::Expect, Vec::new(), ok_200),
            pass(&join),
            pass(&leave),
            pass(&direct),
        ];
        assert_eq!(revise(&mut results, find), vec![1, 2]);
        assert_eq!(results[1].verdict, Verdict::Fail);
        assert!(results[1].reason.as_ref().unwrap().contains("unknown action"));
        assert_eq!(results[2].verdict, Verdict::Skip);
        assert_eq!(results[3].verdict, Verdict::Pass, "a case that needs no capability stays");
        // An unknown action answered 400 leaves the 200 to join credited.
        let mut results = vec![
            CaseResult::new(&unknown_action, Delivery::Whole, Verdict::Pass, None),
            pass(&join),
        ];
        assert!(revise(&mut results, find).is_empty());
    }

    #[test]
    fn a_server_that_speaks_first_is_credited_with_no_pass() {
        let unsolicited = fixture(UNSOLICITED_CASE, "");
        let presence = fixture("lesson3/presence", "");
        let all = [unsolicited.clone(), presence.clone()];
        let find = |id: &str| all.iter().find(|f| f.id == id);
        let greeting = value(serde_json::json!({"response": "200"}));
        let before_any_send =
            failed(&unsolicited, StepKeyword::ExpectSilence, Vec::new(), greeting.clone());
        let mut results = vec![
            before_any_send,
            CaseResult::new(&presence, Delivery::Whole, Verdict::PassLenient, None),
        ];
        assert_eq!(revise(&mut results, find), vec![1]);
        assert_eq!(results[1].verdict, Verdict::Fail);
        assert!(results[1].reason.as_ref().unwrap().contains("before the client's first message"));
        assert_eq!(results[1].hint.en, "fixture hint", "the hint of transport/unsolicited");
        // A value after the request (a flood) is not speaking first: lesson3/presence keeps its
        // pass (transport/unsolicited fails on its own).
        let sent = vec![crate::wire::Sent::Json(serde_json::json!({"action": "presence"}))];
        let mut results = vec![
            failed(&unsolicited, StepKeyword::ExpectSilence, sent, greeting),
            CaseResult::new(&presence, Delivery::Whole, Verdict::Pass, None),
        ];
        assert!(revise(&mut results, find).is_empty());
    }

    #[test]
    fn a_success_where_an_error_was_due_gets_the_hint_of_what_happened() {
        let fx = fixture("presence/missing-account-name", "");
        let mut r = failed(
            &fx,
            StepKeyword::Expect,
            Vec::new(),
            value(serde_json::json!({"response": 200})),
        );
        let f = r.failure.as_mut().unwrap();
        f.expected = vec![serde_json::json!({"response": 400})];
        let fx_hint = Text::default();
        let hint = f.observed_hint(&fx_hint).unwrap();
        assert!(hint.en.contains("answered 200"), "{}", hint.en);
        assert!(!hint.en.contains("KeyError") && !hint.en.contains("died"));
        assert!(hint.ru.contains("200"));
        // Where a success was acceptable, or an error arrived, the fixture's hint stays.
        f.expected = vec![serde_json::json!({"response": {"$in": [200, 402]}})];
        assert!(f.observed_hint(&fx_hint).is_none());
        f.expected = vec![serde_json::json!({"response": 400})];
        f.arrived = value(serde_json::json!({"response": 400}));
        assert!(f.observed_hint(&fx_hint).is_none());
    }

    #[test]
    fn a_refusal_with_another_code_says_which_code_was_due_and_keeps_the_fixture_hint() {
        let fx = fixture("presence/duplicate-name", "");
        let mut r = failed(
            &fx,
            StepKeyword::Expect,
            Vec::new(),
            value(serde_json::json!({"response": 400})),
        );
        let f = r.failure.as_mut().unwrap();
        f.expected = vec![serde_json::json!({"response": 409})];
        let fixture_hint =
            Text { en: "Keep a set of names.".into(), ru: "Храните имена.".into() };
        let hint = f.observed_hint(&fixture_hint).unwrap();
        assert!(hint.en.contains("with 400 (bad request) where 409"), "{}", hint.en);
        assert!(hint.en.ends_with("Keep a set of names."), "{}", hint.en);
        assert!(
            hint.ru.contains("400")
                && hint.ru.contains("409")
                && hint.ru.ends_with("Храните имена.")
        );
        // Any error accepted (many codes): the fixture's hint stays.
        f.expected = vec![serde_json::json!({"response": {"$in": [400, 401, 402, 403, 404]}})];
        assert!(f.observed_hint(&fixture_hint).is_none());
    }

    /// Held-out H4: slow-loris on a server that served the other client but answered the
    /// stalled request 400 gets the split-request finding, not "keep serving the others".
    #[test]
    fn a_request_refused_after_arriving_in_pieces_gets_the_buffer_hint() {
        use crate::wire::Sent;
        let fx = fixture("robustness/slow-loris", "");
        let pieces = vec![
            Sent::Raw("{\"action\":\"pres".into()),
            Sent::Raw("ence\",\"time\":1700000000.25,\"user\":{\"account_name\":\"a\"}}\\n".into()),
        ];
        let mut r =
            failed(&fx, StepKeyword::Expect, pieces, value(serde_json::json!({"response": 400})));
        let f = r.failure.as_mut().unwrap();
        f.expected = vec![serde_json::json!({"response": 200, "time": "$time"})];
        let fx_hint =
            Text { en: "keep serving the others".into(), ru: "обслуживайте".into() };
        let hint = f.observed_hint(&fx_hint).unwrap();
        assert!(hint.en.contains("answered 400") && hint.en.contains("buffer"), "{}", hint.en);
        assert!(!hint.en.contains("keep serving"));
        // One whole request: the fixture's hint stays.
        f.sent = vec![Sent::Json(serde_json::json!({"action": "presence"}))];
        assert!(f.observed_hint(&fx_hint).is_none());
    }

    /// Held-out F1: a case that failed at its login is told so, not given its own hint.
    #[test]
    fn a_failure_at_the_login_gets_the_login_hint() {
        let fx = fixture("contacts/add-and-list", "");
        let mut r = failed(
            &fx,
            StepKeyword::Expect,
            Vec::new(),
            value(serde_json::json!({"response": 400})),
        );
        let f = r.failure.as_mut().unwrap();
        f.expected = vec![serde_json::json!({"response": 200})];
        let fx_hint = Text { en: "add_contact adds the name".into(), ru: "add_contact".into() };
        assert!(f.observed_hint(&fx_hint).is_none());
        f.note = Some(Text {
            en: "the login must succeed first".into(),
            ru: "сначала вход должен пройти".into(),
        });
        let hint = f.observed_hint(&fx_hint).unwrap();
        assert!(hint.en.contains("failed at its login") && !hint.en.contains("add_contact"));
        assert!(hint.ru.contains("упал на входе"));
    }
}
