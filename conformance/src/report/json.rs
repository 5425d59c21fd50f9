//! The JSON report: the [`Report`] serialized as is. Its schema is
//! `fixtures/schema/report.schema.json`; `schema` names the version.

use super::Report;

/// The report as pretty-printed JSON.
pub fn to_string(report: &Report) -> String {
    serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialize the report: {e}\"}}"))
}
