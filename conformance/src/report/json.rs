//! The JSON report: the [`Report`] serialized as is, plus `ru`. Its schema is
//! `fixtures/schema/report.schema.json`; `schema` names the version.
//!
//! The runner's texts (a case's reason, a failure's "why" lines, events, the exit reason) are
//! [`Said`] values that the report carries as their English string, as it did before the
//! runner spoke Russian. `ru` maps each such English text to its Russian, once: a reader that
//! shows the report to a Russian student (`grade`) looks a text up there, and every field
//! keeps its type.

use super::Report;
use crate::i18n::Said;

/// The report as pretty-printed JSON.
pub fn to_string(report: &Report) -> String {
    let (value, ru) = Said::collecting(|| serde_json::to_value(report));
    let text = value.and_then(|mut v| {
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "ru".into(),
                serde_json::Value::from(serde_json::Map::from_iter(
                    ru.into_iter().map(|(en, ru)| (en, serde_json::Value::from(ru))),
                )),
            );
        }
        serde_json::to_string_pretty(&v)
    });
    text.unwrap_or_else(|e| format!("{{\"error\":\"cannot serialize the report: {e}\"}}"))
}
