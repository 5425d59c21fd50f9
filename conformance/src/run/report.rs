//! The one report builder: what every run reports (profile, options, cases, totals, exit code)
//! around what only the mode knows about its target ([`ReportParts`]).

use std::collections::BTreeMap;

use super::options::framing_name;
use super::session::{Mode, Run};
use crate::report::{
    CapabilityReport, CaseResult, OptionsInfo, ProfileInfo, REPORT_SCHEMA, Report, TargetInfo,
};
use crate::vocab::Capability;

/// What the report says that only the mode knows.
#[derive(Debug, Clone)]
pub struct ReportParts {
    /// The target.
    pub target: TargetInfo,
    /// What the run learned about capabilities.
    pub capabilities: BTreeMap<Capability, CapabilityReport>,
    /// Restarts and deaths of the target.
    pub events: Vec<crate::i18n::Said>,
    /// The last lines a spawned target printed.
    pub target_output: Option<String>,
    /// The account name used for `$name`.
    pub name_used: crate::i18n::Said,
    /// Capabilities declared with `--expect`.
    pub expect: Vec<Capability>,
    /// What to fix first when the run ended before any case (the mode's one line).
    pub root_cause: Option<crate::model::Text>,
}

/// Builds the report of `run`.
pub(crate) fn build<M: Mode>(
    run: &Run<M>,
    parts: ReportParts,
    cases: Vec<CaseResult>,
    exit_code: i32,
    exit_reason: crate::i18n::Said,
) -> Report {
    let opts = &run.opts;
    let mut report = Report {
        schema: REPORT_SCHEMA,
        tool: format!("jim-conformance {}", env!("CARGO_PKG_VERSION")),
        target: parts.target,
        detected: run.detection.clone(),
        profile: ProfileInfo {
            name: run.profile.name.clone(),
            auto: run.auto,
            strict: opts.strict,
            dialects: run.profile.dialects.clone(),
            tolerances: if opts.strict { BTreeMap::new() } else { run.profile.tolerances.clone() },
            name_used: parts.name_used,
        },
        options: OptionsInfo {
            timeout_ms: opts.timeout.as_millis() as u64,
            deadline_ms: opts.deadline.as_millis() as u64,
            jobs: opts.jobs.unwrap_or(run.profile.jobs),
            delivery: opts.delivery.clone(),
            framing: framing_name(opts.framing).to_owned(),
            expect: parts.expect,
        },
        capabilities: parts.capabilities,
        cases,
        summary: Default::default(),
        exit_code,
        exit_reason,
        duration_ms: run.started.elapsed().as_millis() as u64,
        events: parts.events,
        target_output: parts.target_output,
        lang: opts.lang,
    };
    report.summarize();
    if parts.root_cause.is_some() {
        report.summary.root_cause = parts.root_cause;
    }
    report
}
