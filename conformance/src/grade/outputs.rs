//! What a graded class is handed on as, besides the pages: a CSV for the gradebook, a
//! Gradescope `results.json` per student, a GitHub Classroom result per student, and one JSON
//! file for the whole class (what a teacher merges when each student's repository grades
//! itself in CI).
//!
//! The Gradescope and Classroom files follow those tools' documented formats; the schemas in
//! `fixtures/schema/` (`gradescope-results`, `classroom-result`) were written from those
//! documents, and `tests/it/grade.rs` validates every file a class produces against them.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::assignment::Group;
use super::student::Outcome;
use super::words::GradeMsg;
use super::{ClassResult, StudentResult, group_score};
use crate::i18n::Lang;
use crate::model::Text;

fn text(t: &Text, lang: Lang) -> &str {
    match lang {
        Lang::Ru if !t.ru.is_empty() => &t.ru,
        _ => &t.en,
    }
}

/// One row per student: roster id, name, points, max points, the first failure, then the
/// points of each group (columns named by group id).
pub fn csv(class: &ClassResult) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let mut header: Vec<String> =
        ["id", "name", "points", "max_points", "first_failure"].map(str::to_owned).to_vec();
    header.extend(class.assignment.groups.iter().map(|g| g.id.clone()));
    let _ = w.write_record(&header);
    for s in &class.students {
        let mut row = vec![
            s.id.clone(),
            s.student.name.clone(),
            format!("{}", s.points),
            format!("{}", s.max_points),
            s.first_failure.as_ref().map(|f| f.summary(class.lang)).unwrap_or_default(),
        ];
        row.extend(s.groups.iter().map(|g| format!("{}", g.points)));
        let _ = w.write_record(&row);
    }
    w.into_inner().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

/// What a student reads under one group: every case that did not earn, why, and the hint.
fn group_output(s: &StudentResult, g: &Group, lang: Lang) -> String {
    let mut out = String::new();
    let Some(r) = s.role(g.role) else { return out };
    match &r.outcome {
        Outcome::Judged { report } => {
            for c in report.cases.iter().filter(|c| g.matches(&c.id)) {
                if c.earns() {
                    continue;
                }
                let reason = c.reason.as_deref().map(|r| report.said(r, lang)).unwrap_or("");
                let _ = writeln!(out, "{} — {}: {}", c.name(), c.verdict.as_str(), reason);
                let h = text(&c.hint, lang);
                if !h.is_empty() {
                    let _ = writeln!(out, "  {h}");
                }
            }
        }
        Outcome::CannotStart { line, .. } => {
            let _ = writeln!(out, "{}", text(line, lang));
        }
        Outcome::TimedOut { seconds } => {
            let _ = writeln!(
                out,
                "{}",
                lang.say(&GradeMsg::TimedOut { role: g.role, seconds: *seconds })
            );
        }
        Outcome::NotGraded { line } => {
            let _ = writeln!(out, "{}", text(line, lang));
        }
        Outcome::NoCommand => {
            let _ = writeln!(out, "{}", lang.say(&GradeMsg::NoCommand { role: g.role }));
        }
    }
    out
}

/// Gradescope's `results.json`: one test per group, the total as `score`.
pub fn gradescope(class: &ClassResult, s: &StudentResult) -> String {
    let lang = class.lang;
    let tests: Vec<Value> = class
        .assignment
        .groups
        .iter()
        .map(|g| {
            let score = group_score(g, s.role(g.role).map(|r| &r.outcome));
            json!({
                "name": format!("{} ({})", text(&g.title, lang), g.role.word(lang)),
                "number": g.id,
                "score": score.points,
                "max_score": score.max,
                "status": if score.total > 0 && score.points >= score.max { "passed" } else { "failed" },
                "output": group_output(s, g, lang),
                "visibility": "visible",
            })
        })
        .collect();
    let output = match &s.first_failure {
        Some(f) => f.summary(lang),
        None => lang.say(&GradeMsg::AllPass),
    };
    let v = json!({
        "score": s.points,
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// GitHub Classroom's autograding result (the JSON a grader action passes, base64-encoded, to
/// `autograding-grading-reporter`): one test per group.
pub fn classroom(class: &ClassResult, s: &StudentResult) -> String {
    let lang = class.lang;
    let did_not_run = s.roles.iter().any(|r| !matches!(r.outcome, Outcome::Judged { .. }));
    let tests: Vec<Value> = class
        .assignment
        .groups
        .iter()
        .map(|g| {
            let score = group_score(g, s.role(g.role).map(|r| &r.outcome));
            let status = match s.role(g.role).map(|r| &r.outcome) {
                Some(Outcome::Judged { .. }) if score.points >= score.max && score.total > 0 => "pass",
                Some(Outcome::Judged { .. }) => "fail",
                _ => "error",
            };
            json!({
                "name": format!("{} ({})", text(&g.title, lang), g.role.word(lang)),
                "status": status,
                "score": score.points,
                "message": group_output(s, g, lang),
                "test_code": format!("jim-conformance {} --profile {}", g.role.as_str(),
                    class.assignment.run_spec(g.role).map(|r| r.profile.as_str()).unwrap_or("")),
                "filename": "",
                "line_no": 0,
                "duration": s.role(g.role).and_then(|r| r.outcome.report()).map_or(0, |r| r.duration_ms),
            })
        })
        .collect();
    let status = if did_not_run {
        "error"
    } else if s.points >= s.max_points {
        "pass"
    } else {
        "fail"
    };
    let v = json!({
        "version": 1,
        "status": status,
        "max_score": s.max_points,
        "tests": tests,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// The whole class in one JSON file (schema `jim-conformance/grades/v1`).
pub fn summary_json(class: &ClassResult) -> String {
    let v = json!({
        "schema": "jim-conformance/grades/v1",
        "assignment": class.assignment.id,
        "max_points": class.assignment.max_points(),
        "groups": class.assignment.groups.iter().map(|g| json!({
            "id": g.id, "role": g.role.as_str(), "points": g.points, "cases": g.cases,
        })).collect::<Vec<_>>(),
        "students": class.students.iter().map(|s| json!({
            "id": s.id,
            "name": s.student.name,
            "points": s.points,
            "max_points": s.max_points,
            "groups": s.groups,
            "first_failure": s.first_failure,
            "programs": s.roles.iter().map(|r| json!({
                "role": r.role.as_str(),
                "outcome": outcome_name(&r.outcome),
                "cached": r.cached,
                "same_as": r.same_as,
                "verdicts": r.outcome.report().map(|rep| rep.cases.iter()
                    .map(|c| (c.name(), Value::from(c.verdict.as_str())))
                    .collect::<serde_json::Map<String, Value>>()),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Judged { .. } => "judged",
        Outcome::CannotStart { .. } => "cannot-start",
        Outcome::TimedOut { .. } => "timed-out",
        Outcome::NotGraded { .. } => "not-graded",
        Outcome::NoCommand => "no-command",
    }
}
