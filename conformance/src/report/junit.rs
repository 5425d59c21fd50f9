//! JUnit XML for CI: one `<testsuite>` per run, one `<testcase>` per case (and delivery mode).
//! Cases that fail the run are `<failure>`, target errors `<error>`, skipped and unimplemented
//! cases `<skipped>`. A case that failed a `should` (or `may`) requirement is a `<failure>` too,
//! of type `warning`: the case did fail, and a CI that shows it as green hides what the human
//! report says; the exit code (0 without `--strict`) stays the runner's word on the run.

use std::fmt::Write as _;

use super::{CaseResult, Impact, Report, Verdict};
use crate::wire::Delivery;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Renders the report as JUnit XML.
pub fn to_string(report: &Report) -> String {
    let tests = report.cases.len();
    let failures = report.cases.iter().filter(|c| is_failure(c)).count();
    let errors = report.cases.iter().filter(|c| c.verdict == Verdict::Error).count();
    let skipped = report
        .cases
        .iter()
        .filter(|c| {
            matches!(
                c.verdict,
                Verdict::Skip | Verdict::Unimplemented | Verdict::ExpectedFail | Verdict::NotRun
            )
        })
        .count();
    let time = report.duration_ms as f64 / 1000.0;
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"jim-conformance\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.3}\">"
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"jim-conformance.{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.3}\">",
        esc(&report.profile.name)
    );
    let _ = writeln!(x, "    <properties>");
    for (k, v) in [
        ("target", report.target.description.to_string()),
        ("profile", report.profile.name.clone()),
        ("dialect", report.detected.dialect.to_string()),
        ("exit_code", report.exit_code.to_string()),
    ] {
        let _ = writeln!(x, "      <property name=\"{k}\" value=\"{}\"/>", esc(&v));
    }
    let _ = writeln!(x, "    </properties>");
    for c in &report.cases {
        testcase(&mut x, c);
    }
    let _ = writeln!(x, "  </testsuite>\n</testsuites>");
    x
}

/// True when the case is a `<failure>`: it fails the run, or it failed a requirement that only
/// warns (a `should` without `--strict`).
fn is_failure(c: &CaseResult) -> bool {
    c.verdict != Verdict::Error
        && (c.impact == Impact::Failure
            || (c.impact == Impact::Warning && c.verdict == Verdict::Fail))
}

/// One `<testcase>`: failures and errors with their details, skips, warnings.
fn testcase(x: &mut String, c: &CaseResult) {
    let area = c.id.split('/').next().unwrap_or("jim");
    let name = if c.delivery == Delivery::Whole {
        c.id.clone()
    } else {
        format!("{} [{}]", c.id, c.delivery.as_str())
    };
    let _ = write!(
        x,
        "    <testcase name=\"{}\" classname=\"jim.{}\" time=\"{:.3}\"",
        esc(&name),
        esc(area),
        c.duration_ms as f64 / 1000.0
    );
    let message = esc(c.reason.as_deref().unwrap_or(c.verdict.as_str()));
    match (c.verdict, c.impact) {
        (Verdict::Error, _) => {
            let _ = writeln!(
                x,
                ">\n      <error message=\"{message}\" type=\"error\">{}</error>\n    </testcase>",
                esc(&detail(c))
            );
        }
        (_, Impact::Failure) => {
            let _ = writeln!(
                x,
                ">\n      <failure message=\"{message}\" type=\"{}\">{}</failure>\n    </testcase>",
                c.verdict.as_str(),
                esc(&detail(c))
            );
        }
        (Verdict::Fail, Impact::Warning) => {
            let _ = writeln!(
                x,
                ">\n      <failure message=\"{} ({}; a warning, fails the run only with --strict)\" type=\"warning\">{}</failure>\n    </testcase>",
                message,
                c.level.as_str(),
                esc(&detail(c))
            );
        }
        (Verdict::Skip | Verdict::Unimplemented | Verdict::ExpectedFail | Verdict::NotRun, _) => {
            let _ = writeln!(
                x,
                ">\n      <skipped message=\"{}: {message}\"/>\n    </testcase>",
                c.verdict.as_str()
            );
        }
        (_, Impact::Warning) => {
            let _ = writeln!(
                x,
                ">\n      <system-out>WARNING ({}): {}</system-out>\n    </testcase>",
                c.level.as_str(),
                esc(&detail(c))
            );
        }
        _ if !c.tolerances.is_empty() => {
            let _ = writeln!(
                x,
                ">\n      <system-out>pass-lenient: {}</system-out>\n    </testcase>",
                esc(&crate::vocab::join(&c.tolerances))
            );
        }
        _ => {
            let _ = writeln!(x, "/>");
        }
    }
}

/// The text of a failure or warning: the reason, the failing step, the hint.
fn detail(c: &CaseResult) -> String {
    let mut d =
        format!("{} ({}): {}\n", c.title, c.level.as_str(), c.reason.clone().unwrap_or_default());
    if let Some(f) = &c.failure {
        let _ = writeln!(d, "step {} on connection {}: {}", f.step, f.conn, f.action);
        for e in &f.expected {
            let _ = writeln!(d, "expected: {e}");
        }
        let _ = writeln!(d, "arrived: {}", f.arrived.describe(crate::i18n::Lang::En));
        for m in &f.mismatches {
            let _ = writeln!(d, "  {m}");
        }
        for r in &f.reproduce {
            let _ = writeln!(d, "reproduce: {r}");
        }
    }
    let _ = writeln!(d, "hint: {}", c.hint.en);
    d
}
