//! The JSON Schema of the load report file (`jim-conformance load --json FILE`), so that a
//! teacher's script or a CI step can rely on its shape. It is generated from the report types
//! (schemars), so it cannot drift from what is written; the committed copy,
//! `fixtures/schema/load-report.schema.json`, is checked against it by a test, and a real report
//! is validated against the committed copy.
//!
//! The file is one of two objects: a finished check (the [`LoadReport`] fields, plus `schema`,
//! `described`, `passed` and `target_exited` that the command line adds) or a check that could
//! not run (`schema`, `passed: false`, `exit_code`, `error`).

use serde_json::{Value, json};

use crate::LoadReport;

/// The `schema` value of the report file, naming this version of its shape.
pub const REPORT_SCHEMA_ID: &str = "jim-conformance-load/v1";

/// The JSON Schema (draft 2020-12) of the load report file.
pub fn report_file_schema() -> Value {
    let mut report = schemars::schema_for!(LoadReport).to_value();
    let defs = report
        .as_object_mut()
        .and_then(|o| {
            o.remove("$schema");
            o.remove("title");
            o.remove("$defs")
        })
        .unwrap_or_else(|| json!({}));
    if let Some(obj) = report.as_object_mut() {
        let props = obj.entry("properties").or_insert_with(|| json!({}));
        if let Some(props) = props.as_object_mut() {
            props.insert("schema".into(), json!({"const": REPORT_SCHEMA_ID}));
            props.insert(
                "described".into(),
                json!({"type": "string", "description": "The target as the user gave it."}),
            );
            props.insert(
                "passed".into(),
                json!({"type": "boolean", "description": "The verdict: the check passed."}),
            );
            props.insert(
                "target_exited".into(),
                json!({"type": ["string", "null"],
                       "description": "How a spawned target exited during the check, if it did."}),
            );
        }
        let required = obj.entry("required").or_insert_with(|| json!([]));
        if let Some(required) = required.as_array_mut() {
            required.extend(["schema", "passed"].map(Value::from));
        }
    }
    let mut all_defs = match defs {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    all_defs.insert("Finished".into(), report);
    all_defs.insert(
        "Failed".into(),
        json!({
            "description": "The check could not run or was stopped (no report).",
            "type": "object",
            "properties": {
                "schema": {"const": REPORT_SCHEMA_ID},
                "passed": {"const": false},
                "exit_code": {"type": "integer", "minimum": 1, "maximum": 255},
                "error": {"type": "string"}
            },
            "required": ["schema", "passed", "exit_code", "error"],
            "additionalProperties": false
        }),
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.invalid/jim-conformance/load-report.schema.json",
        "title": "jim-conformance load report",
        "description": "What `jim-conformance load --json FILE` writes: a finished load check, or why it could not run.",
        "oneOf": [{"$ref": "#/$defs/Finished"}, {"$ref": "#/$defs/Failed"}],
        "$defs": all_defs,
    })
}
