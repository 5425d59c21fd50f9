//! The report of a run: a summary card (target, what was detected, profile), one result per
//! case, totals, and the exit code. Three writers render it: [`human`] for terminals, [`json`]
//! (a documented, versioned schema: `fixtures/schema/report.schema.json`) and [`junit`] for CI.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::case::{Failure, Line};
use crate::i18n::{Lang, Said};
use crate::matcher::ToleranceMode;
use crate::model::{Dialect, Level, Text};
use crate::preflight::Detection;
use crate::vocab::{Capability, CapabilityState, TargetKind, Tolerance};
use crate::wire::Delivery;

pub mod human;
pub mod json;
pub mod junit;

/// Version of the JSON report format; bumped on any incompatible change.
pub const REPORT_SCHEMA: &str = "jim-conformance/report/v1";

pub use crate::vocab::{Impact, LivenessState, Verdict};

/// The result of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// Fixture id.
    pub id: String,
    /// Fixture title (the JSON report carries its English).
    pub title: Said,
    /// Fixture level.
    pub level: Level,
    /// PROTOCOL.md sections.
    pub spec: Vec<String>,
    /// Delivery mode used.
    pub delivery: Delivery,
    /// The verdict.
    pub verdict: Verdict,
    /// Why (for unimplemented, skip, expected-fail, error and fail; the JSON report carries
    /// its English).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Said>,
    /// Tolerances a pass needed.
    pub tolerances: Vec<Tolerance>,
    /// Effect on the run.
    pub impact: Impact,
    /// Details of the failing step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The fixture's hint.
    pub hint: Text,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// What went over the wire (bounded), for failures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<Line>,
    /// For a failure under split or trickle delivery: what the mode means, in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_note: Option<Text>,
    /// For a destructive case: whether the server survived it, and which input did it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Liveness>,
    /// In client mode: what the client process printed and how it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessReport>,
}

impl CaseResult {
    /// A result for `fx` with no details yet (the level is the fixture's; a profile may
    /// override it afterwards).
    pub fn new(
        fx: &crate::model::Fixture,
        delivery: Delivery,
        verdict: Verdict,
        reason: Option<Said>,
    ) -> Self {
        Self {
            id: fx.id.clone(),
            title: fx.title.clone().into(),
            level: fx.level,
            spec: fx.spec.clone(),
            delivery,
            verdict,
            reason,
            tolerances: Vec::new(),
            impact: Impact::None,
            failure: None,
            hint: fx.hint.clone(),
            duration_ms: 0,
            transcript: Vec::new(),
            mode_note: None,
            liveness: None,
            process: None,
        }
    }
}

/// The liveness check after a destructive case.
#[derive(Debug, Clone, Serialize)]
pub struct Liveness {
    /// Survived, died or zombie.
    pub state: LivenessState,
    /// What was observed, in plain words.
    pub detail: Text,
    /// The input that most likely did it: the last unusual thing the case did before the step
    /// that failed (or before the end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Said>,
    /// Everything the case did to the server, in order (bounded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    /// The last lines a spawned target printed when it was found down (its traceback, before
    /// a restart adds the next instance's lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// A process the runner started for one case (client mode): how it ended and what it printed.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessReport {
    /// The command line, with host and port filled in.
    pub command: String,
    /// "exit status 0", "killed by signal 9 (SIGKILL)", or "still running (killed by the
    /// runner)".
    pub exit: Said,
    /// The last lines of its standard output (bounded).
    pub stdout: String,
    /// The last lines of its standard error (bounded).
    pub stderr: String,
}

/// Counts per verdict.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Cases selected.
    pub selected: usize,
    /// Count per verdict name.
    pub verdicts: BTreeMap<String, usize>,
    /// Cases that fail the run.
    pub failures: usize,
    /// Cases that only warn.
    pub warnings: usize,
    /// What to fix first: the case that took the target down, else the first case that fails
    /// the run (its reason and hint), else nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<Text>,
    /// How many cases were not run and why (the deadline, a target that went down): they are
    /// neither passes nor failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_run: Option<Text>,
}

/// What the report tells the student to fix first (see [`Summary::root_cause`]): the first
/// case in run order that fails the run or took the target down (a death or a zombie explains
/// the failures after it, not those before it).
fn root_cause(cases: &[CaseResult]) -> Option<Text> {
    let down = |c: &CaseResult| {
        c.liveness
            .as_ref()
            .is_some_and(|l| matches!(l.state, LivenessState::Died | LivenessState::Zombie))
    };
    let first = cases.iter().find(|c| {
        matches!(c.verdict, Verdict::Fail | Verdict::Error)
            && (c.impact == Impact::Failure || down(c))
    })?;
    if let (true, Some(live)) = (down(first), first.liveness.as_ref()) {
        let (en, ru) = match live.state {
            LivenessState::Zombie => ("stopped answering (a zombie)", "перестал отвечать (зомби)"),
            _ => ("died", "упал"),
        };
        return Some(Text {
            en: format!("the server {en} in {}: {} {}", first.id, live.detail.en, first.hint.en),
            ru: format!("сервер {ru} в случае {}: {} {}", first.id, live.detail.ru, first.hint.ru),
        });
    }
    let reason = first.reason.clone().unwrap_or_default();
    Some(Text {
        en: format!("{}: {} {}", first.id, reason.get(Lang::En), first.hint.en),
        ru: format!("{}: {} {}", first.id, reason.get(Lang::Ru), first.hint.ru),
    })
}

/// The target as the report describes it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// What kind of target.
    pub kind: TargetKind,
    /// One line for humans (the JSON report carries its English).
    pub description: Said,
    /// `host:port` actually used (last one, for a restarted spawn).
    pub address: String,
}

/// The profile in force.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileInfo {
    /// Name.
    pub name: String,
    /// Chosen by `--profile auto` from the preflight.
    pub auto: bool,
    /// `--strict`.
    pub strict: bool,
    /// Dialects selected.
    pub dialects: Vec<Dialect>,
    /// Tolerances (empty under `--strict`).
    pub tolerances: BTreeMap<Tolerance, ToleranceMode>,
    /// The account name used for `$name`.
    pub name_used: Said,
}

/// Options of the run that shape results.
#[derive(Debug, Clone, Serialize)]
pub struct OptionsInfo {
    /// Per-step timeout.
    pub timeout_ms: u64,
    /// Whole-run deadline.
    pub deadline_ms: u64,
    /// Parallel cases.
    pub jobs: usize,
    /// Delivery modes.
    pub delivery: Vec<Delivery>,
    /// `newline` or `bare`.
    pub framing: String,
    /// Capabilities declared with `--expect`.
    pub expect: Vec<Capability>,
}

/// What the run learned about one capability.
#[derive(Debug, Clone, Serialize)]
pub struct CapabilityReport {
    /// What the run learned.
    pub state: CapabilityState,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Said>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`REPORT_SCHEMA`].
    pub schema: &'static str,
    /// `jim-conformance` and its version.
    pub tool: String,
    /// The target.
    pub target: TargetInfo,
    /// What the preflight found.
    pub detected: Detection,
    /// The profile.
    pub profile: ProfileInfo,
    /// Options.
    pub options: OptionsInfo,
    /// Capabilities.
    pub capabilities: BTreeMap<Capability, CapabilityReport>,
    /// Results in run order (id order; destructive cases last).
    pub cases: Vec<CaseResult>,
    /// Totals.
    pub summary: Summary,
    /// 0 all required pass, 1 failures, 2 usage/fixture error, 3 target unreachable.
    pub exit_code: i32,
    /// Why that exit code.
    pub exit_reason: Said,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Restarts and deaths of the target.
    pub events: Vec<Said>,
    /// The last lines a spawned target printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_output: Option<String>,
    /// Language of the human report.
    #[serde(skip)]
    pub lang: Lang,
}

impl Report {
    /// Recomputes the summary from the cases.
    pub fn summarize(&mut self) {
        let mut s = Summary { selected: self.cases.len(), ..Summary::default() };
        for c in &self.cases {
            *s.verdicts.entry(c.verdict.as_str().to_owned()).or_default() += 1;
            match c.impact {
                Impact::Failure => s.failures += 1,
                Impact::Warning => s.warnings += 1,
                Impact::None => {}
            }
        }
        s.root_cause = root_cause(&self.cases);
        s.not_run = not_run(&self.cases, self.options.deadline_ms);
        self.summary = s;
    }
}

/// Cases not run, counted.
const NOT_RUN: jim_text::Noun = jim_text::Noun {
    en: ["case was not run", "cases were not run"],
    ru: ["случай не запускался", "случая не запускались", "случаев не запускались"],
};

/// The summary's line about the cases not run: how many, and why (those the deadline left
/// without a verdict, then the others with the first one's reason).
fn not_run(cases: &[CaseResult], deadline_ms: u64) -> Option<Text> {
    let not_run: Vec<&CaseResult> = cases.iter().filter(|c| c.verdict == Verdict::NotRun).collect();
    if not_run.is_empty() {
        return None;
    }
    let deadline =
        [false, true].map(|during| crate::run::verdict::deadline_reason(deadline_ms, during));
    let (late, other): (Vec<&CaseResult>, Vec<&CaseResult>) =
        not_run.into_iter().partition(|c| c.reason.as_ref().is_some_and(|r| deadline.contains(r)));
    let secs = crate::run::verdict::deadline_secs(deadline_ms);
    let mut en = Vec::new();
    let mut ru = Vec::new();
    if !late.is_empty() {
        let n = late.len() as u64;
        en.push(format!(
            "{}: the deadline of {secs} s was reached first; they are neither passes nor failures (run again with a longer --deadline)",
            NOT_RUN.count(Lang::En, n)
        ));
        ru.push(format!(
            "{}: предел времени прогона {secs} с (--deadline) был достигнут раньше; это ни успехи, ни провалы (запустите снова с большим --deadline)",
            NOT_RUN.count(Lang::Ru, n)
        ));
    }
    if let Some(first) = other.first() {
        let n = other.len() as u64;
        let why = first.reason.clone().unwrap_or_default();
        en.push(format!("{}: {}", NOT_RUN.count(Lang::En, n), why.get(Lang::En)));
        ru.push(format!("{}: {}", NOT_RUN.count(Lang::Ru, n), why.get(Lang::Ru)));
    }
    Some(Text { en: en.join("; "), ru: ru.join("; ") })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::case::Arrived;
    use crate::wire::Sent;
    use serde_json::json;

    fn case(id: &str, verdict: Verdict, impact: Impact, failure: Option<Failure>) -> CaseResult {
        CaseResult {
            id: id.into(),
            title: "a title with <xml> & \"quotes\"".into(),
            level: Level::Must,
            spec: vec!["§presence".into()],
            delivery: Delivery::Whole,
            verdict,
            reason: (verdict != Verdict::Pass).then(|| "because".into()),
            tolerances: if verdict == Verdict::PassLenient {
                vec![Tolerance::NoTime]
            } else {
                vec![]
            },
            impact,
            failure,
            hint: Text { en: "do this".into(), ru: "сделайте это".into() },
            duration_ms: 3,
            transcript: vec![],
            mode_note: None,
            liveness: None,
            process: None,
        }
    }

    fn sample() -> Report {
        let failure = Failure {
            step: 2,
            conn: "a".into(),
            action: crate::case::FailedAction::Step(crate::vocab::StepKeyword::Expect),
            note: None,
            sent: vec![Sent::Json(json!({"action":"presence"})), Sent::Raw("{x\\n".into())],
            expected: vec![json!({"response": 200}), json!({"response": 201})],
            arrived: Arrived::Value {
                value: json!({"response": 202}),
                raw: "`{\"response\":202}`".into(),
            },
            mismatches: vec![".response: expected 200, got 202".into()],
            would_need: vec![],
            reproduce: vec!["jim-client send 127.0.0.1 7777 '{\"action\":\"presence\"}'".into()],
            unknown_action: false,
        };
        let mut r = Report {
            schema: REPORT_SCHEMA,
            tool: "jim-conformance test".into(),
            target: TargetInfo {
                kind: TargetKind::Address,
                description: "127.0.0.1:7777".into(),
                address: "127.0.0.1:7777".into(),
            },
            detected: Detection {
                reachable: true,
                dialect: crate::vocab::DetectedDialect::Spec,
                framing: crate::vocab::DetectedFraming::Newline,
                ..Detection::default()
            },
            profile: ProfileInfo {
                name: "spec".into(),
                auto: true,
                strict: false,
                dialects: vec![Dialect::Spec],
                tolerances: BTreeMap::new(),
                name_used: "x".into(),
            },
            options: OptionsInfo {
                timeout_ms: 2000,
                deadline_ms: 300_000,
                jobs: 4,
                delivery: vec![Delivery::Whole],
                framing: "newline".into(),
                expect: vec![],
            },
            capabilities: BTreeMap::new(),
            cases: vec![
                case("presence/basic", Verdict::Fail, Impact::Failure, Some(failure)),
                case("presence/lenient", Verdict::PassLenient, Impact::None, None),
                case("rooms/join", Verdict::Unimplemented, Impact::None, None),
                case("errors/x", Verdict::Error, Impact::Failure, None),
                case("msg/y", Verdict::Fail, Impact::Warning, None),
            ],
            summary: Summary::default(),
            exit_code: 1,
            exit_reason: "failures".into(),
            duration_ms: 10,
            events: vec![],
            target_output: None,
            lang: Lang::En,
        };
        r.summarize();
        r
    }

    #[test]
    fn junit_is_valid_xml_with_one_testcase_per_case() {
        let r = sample();
        let xml = junit::to_string(&r);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(cases.len(), 5);
        // presence/basic fails the run; msg/y failed a `should`: a warning, but a failed case.
        assert_eq!(doc.descendants().filter(|n| n.has_tag_name("failure")).count(), 2);
        let should = cases.iter().find(|n| n.attribute("name") == Some("msg/y")).unwrap();
        let failure = should.children().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(failure.attribute("type"), Some("warning"));
        assert_eq!(doc.descendants().filter(|n| n.has_tag_name("error")).count(), 1);
        assert_eq!(doc.descendants().filter(|n| n.has_tag_name("skipped")).count(), 1);
        let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
        assert_eq!(suite.attribute("tests"), Some("5"));
        assert_eq!(suite.attribute("failures"), Some("2"));
        assert_eq!(suite.attribute("errors"), Some("1"));
    }

    #[test]
    fn json_carries_the_schema_version_and_the_failure() {
        let v: serde_json::Value = serde_json::from_str(&json::to_string(&sample())).unwrap();
        assert_eq!(v["schema"], REPORT_SCHEMA);
        assert_eq!(v["summary"]["failures"], 2);
        assert_eq!(v["summary"]["warnings"], 1);
        assert_eq!(v["cases"][0]["failure"]["arrived"]["kind"], "value");
        assert_eq!(v["cases"][0]["verdict"], "fail");
        assert_eq!(v["cases"][1]["verdict"], "pass-lenient");
    }

    /// `grade` shows a runner's reason in Russian from the JSON report alone: every field
    /// keeps its English, and `ru` gives the Russian of each translated text once.
    #[test]
    fn json_maps_each_translated_text_to_its_russian() {
        let mut r = sample();
        r.cases[0].reason = Some(Said::new("step 2: nothing within 2 s", "шаг 2: ничего за 2 с"));
        r.events = vec![Said::new("the server died", "сервер упал"), "untranslated".into()];
        let v: serde_json::Value = serde_json::from_str(&json::to_string(&r)).unwrap();
        assert_eq!(v["cases"][0]["reason"], "step 2: nothing within 2 s");
        assert_eq!(v["ru"]["step 2: nothing within 2 s"], "шаг 2: ничего за 2 с");
        assert_eq!(v["ru"]["the server died"], "сервер упал");
        assert!(v["ru"].get("untranslated").is_none(), "{}", v["ru"]);
        // Outside a report, a Said is collected by nobody.
        let (_, heard) = Said::collecting(|| ());
        assert!(heard.is_empty());
    }

    /// Issue 16 item 8: what a target controls (its replies, names, output) reaches the
    /// terminal with C0/C1 controls and bidi overrides escaped, colour on or off.
    #[test]
    fn target_text_reaches_the_terminal_escaped() {
        let evil = "a\u{9b}31m\u{202e}txt\u{1b}]0;title\u{7}\u{feff}\u{2028}z";
        let mut r = sample();
        r.target.description = evil.into();
        r.cases[0].title = evil.into();
        if let Some(f) = r.cases[0].failure.as_mut() {
            f.arrived = Arrived::Problem { message: evil.into() };
            f.mismatches.push(evil.into());
        }
        for color in [false, true] {
            let text = human::render(&r, human::Style { color, lang: Lang::Ru });
            let raw: Vec<char> = text
                .chars()
                .filter(|&c| {
                    c != '\n' && c != '\u{1b}' && jim_protocol::terminal::is_unsafe_on_terminal(c)
                })
                .collect();
            assert!(raw.is_empty(), "raw {raw:?} in:\n{text}");
            assert!(text.contains("\\u{9b}31m") && text.contains("\\u{202e}txt"), "{text}");
            // The only ESC left is the report's own colour, and only with colour on.
            assert_eq!(text.contains('\u{1b}'), color, "{text}");
            assert!(!text.contains("\u{1b}]0;"), "an OSC sequence got through:\n{text}");
        }
    }

    #[test]
    fn human_report_shows_every_part_of_a_failure() {
        let text = human::render(&sample(), human::Style { color: false, lang: Lang::En });
        for needle in [
            "FAIL",
            "step:",
            "sent:",
            "expected:",
            "or:",
            "arrived:",
            "why:",
            "hint:",
            "reproduce:",
            "jim-client send",
            "[no-time]",
        ] {
            assert!(text.contains(needle), "missing {needle:?}:\n{text}");
        }
        assert!(!text.contains('\u{1b}'));
        let ru = human::render(&sample(), human::Style { color: true, lang: Lang::Ru });
        assert!(ru.contains("ожидалось") && ru.contains("сделайте это") && ru.contains('\u{1b}'));
    }
}
