//! `jim-conformance lint`: every check a fixture must pass before it may judge anyone. Parse
//! errors (which include unknown capabilities and tolerances, and steps the fixture's role does
//! not allow), ids that differ from their file path, duplicate ids, citations of PROTOCOL.md
//! sections that do not exist, unknown placeholders and operators, captures used before they
//! are made, and steps that can never run (a connection used after it was closed).

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde_json::Value;

use crate::model::{Fixture, parse_fixture};
use crate::placeholders::{Vars, decode_raw};
use crate::profile::Profile;
use crate::step::{ConnEffect, Template};
use crate::vocab::Capability;

/// The result of linting a suite.
#[derive(Debug, Default)]
pub struct LintReport {
    /// Fixture files checked.
    pub fixtures: usize,
    /// Profile files checked.
    pub profiles: usize,
    /// Problems, each "file: message".
    pub problems: Vec<String>,
}

/// Section ids defined in PROTOCOL.md (`<a id="presence">` -> `§presence`).
pub fn protocol_sections(protocol_md: &str) -> BTreeSet<String> {
    let Ok(re) = Regex::new(r#"<a id="([a-z0-9-]+)">"#) else { return BTreeSet::new() };
    re.captures_iter(protocol_md)
        .filter_map(|c| c.get(1))
        .map(|m| format!("§{}", m.as_str()))
        .collect()
}

fn walk_strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| walk_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| walk_strings(x, out)),
        _ => {}
    }
}

fn captures_defined(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(name)) = o.get("$capture") {
                out.insert(name.clone());
            }
            o.values().for_each(|x| captures_defined(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| captures_defined(x, out)),
        _ => {}
    }
}

fn regexes(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$regex") {
                out.push(r.clone());
            }
            o.values().for_each(|x| regexes(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| regexes(x, out)),
        _ => {}
    }
}

/// What the templates of a fixture's steps use, checked step by step in order.
struct Templates {
    vars: Vars,
    captured: BTreeSet<String>,
    uses_credentials: bool,
    uses_offline: bool,
    problems: Vec<String>,
}

impl Default for Templates {
    fn default() -> Self {
        Self {
            vars: Vars::for_lint(),
            captured: BTreeSet::new(),
            uses_credentials: false,
            uses_offline: false,
            problems: Vec::new(),
        }
    }
}

/// Checks the values one step expands: placeholders and operators known, captures defined
/// before use, regexes valid, raw escapes valid; notes which options they need.
fn check_template(lint: &mut Templates, at: &str, template: Template<'_>) {
    let p = &mut lint.problems;
    let (template, mode) = match template {
        Template::Json(v, mode) => (v, mode),
        Template::Raw(text) => {
            if let Err(e) = decode_raw(&mut lint.vars, text) {
                p.push(format!("{at}: {e}"));
            }
            lint.uses_credentials |= text.contains("${account")
                || text.contains("${password")
                || text.contains("${course_answer");
            lint.uses_offline |= text.contains("${offline_account");
            return;
        }
    };
    let mut strings = Vec::new();
    walk_strings(template, &mut strings);
    for s in strings {
        for needle in ["$capture:", "${capture:", "$course_answer:", "${course_answer:"] {
            if let Some(pos) = s.find(needle) {
                let name: String = s
                    .get(pos + needle.len()..)
                    .unwrap_or_default()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !lint.captured.contains(&name) {
                    p.push(format!("{at}: capture \"{name}\" is used before a {{\"$capture\": \"{name}\"}} defines it"));
                }
            }
        }
        lint.uses_credentials |= ["account", "password", "course_answer"]
            .iter()
            .any(|n| s.contains(&format!("${n}")) || s.contains(&format!("${{{n}")));
        lint.uses_offline |= s.contains("$offline_account") || s.contains("${offline_account");
    }
    let mut patterns = Vec::new();
    regexes(template, &mut patterns);
    for r in patterns {
        if Regex::new(&r).is_err() {
            p.push(format!("{at}: invalid $regex {r:?}"));
        }
    }
    if let Err(e) = lint.vars.expand(template, mode) {
        p.push(format!("{at}: {e}"));
    }
    captures_defined(template, &mut lint.captured);
}

/// Checks one parsed fixture; `sections` may be empty (then citations are not checked).
pub fn check_fixture(f: &Fixture, sections: &BTreeSet<String>) -> Vec<String> {
    let mut p = Vec::new();
    let expected_id = f.path.trim_end_matches(".json");
    if f.id != expected_id {
        p.push(format!(
            "id \"{}\" must equal the file path without .json: \"{expected_id}\"",
            f.id
        ));
    }
    for s in &f.spec {
        if !s.starts_with('§') {
            p.push(format!("spec \"{s}\" must start with §"));
        } else if !sections.is_empty() && !sections.contains(s) {
            p.push(format!("spec \"{s}\" is not a section id of PROTOCOL.md"));
        }
    }
    if let Some(cap) = f.probe_for {
        if !cap.probed() {
            p.push(format!("probe_for \"{cap}\" is not a probed capability"));
        }
        if !f.requires.contains(&cap) {
            p.push(format!("a probe for \"{cap}\" must also list it in requires"));
        }
        for &r in &f.requires {
            if r != cap && r.probed() {
                p.push(format!("a probe may require only its own capability and option capabilities, not \"{r}\""));
            }
        }
    }
    let mut lint = Templates::default();
    let mut closed: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, (conn, kind)) in f.step_kinds().into_iter().enumerate() {
        let at = format!("step {}", i + 1);
        if let Some(closed_at) = closed.get(conn) {
            if kind.acts_on_conn() && kind.conn_effect() != ConnEffect::Opens {
                p.push(format!(
                    "{at} on connection {conn} is unreachable: the connection was closed at step {closed_at} (add a connect step to reopen it)"
                ));
            }
        }
        match kind.conn_effect() {
            ConnEffect::Closes => {
                closed.insert(conn, i + 1);
            }
            ConnEffect::Opens => {
                closed.remove(conn);
            }
            ConnEffect::Keeps => {}
        }
        for template in kind.templates() {
            check_template(&mut lint, &at, template);
        }
    }
    p.append(&mut lint.problems);
    if lint.uses_credentials && !f.requires.contains(&Capability::Credentials) {
        p.push(
            "uses $account/$password/$course_answer but does not require \"credentials\"".into(),
        );
    }
    if lint.uses_offline && !f.requires.contains(&Capability::OfflineAccount) {
        p.push("uses $offline_account but does not require \"offline-account\"".into());
    }
    if !f.step_kinds().iter().any(|(_, kind)| kind.checks()) {
        p.push("no expect step: the fixture checks nothing".into());
    }
    p
}

/// Lints every file of a suite given as (path, text) pairs, plus PROTOCOL.md.
pub fn lint_files(files: &[(String, String)], protocol_md: &str) -> LintReport {
    let sections = protocol_sections(protocol_md);
    let mut report = LintReport::default();
    if sections.is_empty() {
        report
            .problems
            .push("PROTOCOL.md: no section ids found; spec citations were not checked".into());
    }
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut fixtures = Vec::new();
    for (path, text) in files {
        if path.starts_with("schema/") {
            if let Err(e) = serde_json::from_str::<Value>(text) {
                report.problems.push(format!("{path}: not valid JSON: {e}"));
            }
            continue;
        }
        if path.starts_with("profiles/") {
            report.profiles += 1;
            if let Err(e) = Profile::parse(path, text) {
                report.problems.push(e.to_string());
            }
            continue;
        }
        report.fixtures += 1;
        match parse_fixture(path, text) {
            Ok(f) => {
                if let Some(other) = ids.insert(f.id.clone(), path.clone()) {
                    report
                        .problems
                        .push(format!("{path}: duplicate id \"{}\" (also in {other})", f.id));
                }
                for problem in check_fixture(&f, &sections) {
                    report.problems.push(format!("{path}: {problem}"));
                }
                fixtures.push(f);
            }
            Err(e) => report.problems.push(e.to_string()),
        }
    }
    let used: BTreeSet<Capability> = fixtures.iter().flat_map(|f| f.requires.clone()).collect();
    for cap in used {
        if cap.probed() && !fixtures.iter().any(|f| f.probe_for == Some(cap)) {
            report.problems.push(format!(
                "capability \"{cap}\" is required but no fixture has probe_for: \"{cap}\""
            ));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn fixture(steps: &str, extra: &str) -> (String, String) {
        (
            "t/x.json".into(),
            format!(
                r#"{{"id":"t/x","title":"t","spec":["§presence"],"level":"must","dialects":["spec"],{extra}
                "steps":{steps},"hint":{{"en":"e","ru":"р"}}}}"#
            ),
        )
    }

    const MD: &str = r#"<a id="presence"></a>"#;

    #[test]
    fn accepts_a_good_fixture() {
        let f = fixture(
            r#"[{"send":{"action":"presence","time":"$now","user":{"account_name":"$user:a"}}},{"expect":{"response":200,"time":"$time"}}]"#,
            "",
        );
        let r = lint_files(&[f], MD);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn rejects_unknown_placeholders_unreachable_steps_and_bad_citations() {
        let f = fixture(
            r#"[{"send":{"x":"$nosuch"}},{"expect_close":true},{"expect":{"response":200}}]"#,
            "",
        );
        let r = lint_files(&[f], MD);
        let all = r.problems.join("\n");
        assert!(all.contains("unknown placeholder"), "{all}");
        assert!(all.contains("unreachable"), "{all}");
        let f = fixture(r#"[{"expect":{"response":200}}]"#, "").1.replace("§presence", "§nosuch");
        let r = lint_files(&[("t/x.json".into(), f)], MD);
        assert!(r.problems.join("\n").contains("§nosuch"));
    }

    #[test]
    fn rejects_duplicates_captures_and_credentials() {
        let a = fixture(
            r#"[{"send":{"bin":"$course_answer:ch"}},{"expect":{"bin":{"$capture":"ch"}}}]"#,
            "",
        );
        let mut b = a.clone();
        b.0 = "t/y.json".into();
        let r = lint_files(&[a, b], MD);
        let all = r.problems.join("\n");
        assert!(all.contains("duplicate id"), "{all}");
        assert!(all.contains("used before"), "{all}");
        assert!(all.contains("credentials"), "{all}");
    }
}
