//! The JSON Schemas in `fixtures/schema/` against the runner's own name tables
//! (`jim_conformance::vocab`): a name the runner accepts must be in the schema that editors and
//! other tools validate with, and the schema must not offer a name the runner rejects. Adding a
//! step kind, a tolerance, a capability or a verdict without updating the schema fails here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use jim_conformance::step::modifiers;
use jim_conformance::suite::Suite;
use jim_conformance::vocab::{
    Capability, CapabilityState, Delivery, DetectedDialect, DetectedFraming, Dialect, Direction,
    DisconnectKind, FrameProblem, Impact, Level, LivenessState, Role, StepKeyword, TargetKind,
    Tolerance, UnimplementedIf, Verdict,
};
use serde_json::Value;

fn schema(name: &str) -> Value {
    let suite = Suite::embedded().expect("the built-in suite loads");
    let path = format!("schema/{name}.schema.json");
    let (_, text) = suite.files.iter().find(|(p, _)| *p == path).expect("the schema is built in");
    serde_json::from_str(text).expect("the schema is JSON")
}

fn at<'v>(schema: &'v Value, pointer: &str) -> &'v Value {
    schema.pointer(pointer).unwrap_or_else(|| panic!("the schema has nothing at {pointer}"))
}

/// The strings of the `enum` at `pointer`.
fn enum_at(schema: &Value, pointer: &str) -> BTreeSet<String> {
    at(schema, pointer)
        .as_array()
        .unwrap_or_else(|| panic!("{pointer} is not a list"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn names<T: std::fmt::Display>(all: impl IntoIterator<Item = T>) -> BTreeSet<String> {
    all.into_iter().map(|t| t.to_string()).collect()
}

#[track_caller]
fn same(schema_names: BTreeSet<String>, table: BTreeSet<String>, what: &str) {
    assert_eq!(schema_names, table, "{what}: the schema (left) differs from the runner's table");
}

#[test]
fn the_fixture_schema_lists_exactly_the_runners_names() {
    let s = schema("fixture");
    same(enum_at(&s, "/properties/level/enum"), names(Level::ALL), "level");
    same(enum_at(&s, "/properties/dialects/items/enum"), names(Dialect::ALL), "dialects");
    same(enum_at(&s, "/properties/requires/items/enum"), names(Capability::ALL), "requires");
    let probed = Capability::ALL.iter().filter(|c| c.probed());
    same(enum_at(&s, "/properties/probe_for/enum"), names(probed), "probe_for");
    same(enum_at(&s, "/properties/role/enum"), names(Role::ALL), "role");
    same(
        enum_at(&s, "/properties/unimplemented_if/enum"),
        names(UnimplementedIf::ALL),
        "unimplemented_if",
    );
    same(enum_at(&s, "/$defs/tolerance/enum"), names(Tolerance::ALL), "tolerance");

    let steps = at(&s, "/properties/steps/items/oneOf").as_array().unwrap();
    let mut keywords = BTreeSet::new();
    for step in steps {
        let required = step["required"].as_array().unwrap();
        assert_eq!(required.len(), 1, "a step alternative requires its one action: {step}");
        let keyword = required[0].as_str().unwrap().to_owned();
        let Some(parsed) = StepKeyword::parse(&keyword) else {
            panic!("the schema offers step \"{keyword}\", which the runner does not know")
        };
        let offered: BTreeSet<String> = step["properties"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| **k != keyword)
            .cloned()
            .collect();
        same(offered, names(modifiers(parsed).iter()), &format!("modifiers of {keyword}"));
        if let Some(delivery) = step.pointer("/properties/delivery/enum") {
            same(enum_at(delivery, ""), names(Delivery::ALL), "delivery");
        }
        if let Some(kinds) = step.pointer("/properties/disconnect/enum") {
            same(enum_at(kinds, ""), names(DisconnectKind::ALL), "disconnect");
        }
        assert!(keywords.insert(keyword.clone()), "step \"{keyword}\" is described twice");
    }
    same(keywords, names(StepKeyword::ALL), "step actions");
}

#[test]
fn the_profile_schema_lists_exactly_the_runners_names() {
    let s = schema("profile");
    same(enum_at(&s, "/properties/dialects/items/enum"), names(Dialect::ALL), "dialects");
    same(
        enum_at(&s, "/properties/tolerances/propertyNames/enum"),
        names(Tolerance::ALL),
        "tolerances",
    );
    same(enum_at(&s, "/properties/levels/additionalProperties/enum"), names(Level::ALL), "levels");
}

#[test]
fn the_report_schema_lists_exactly_the_runners_names() {
    let s = schema("report");
    let case = "/properties/cases/items/properties";
    same(enum_at(&s, "/properties/target/properties/kind/enum"), names(TargetKind::ALL), "target");
    same(
        enum_at(&s, "/properties/detected/properties/dialect/enum"),
        names(DetectedDialect::ALL),
        "detected dialect",
    );
    same(
        enum_at(&s, "/properties/detected/properties/framing/enum"),
        names(DetectedFraming::ALL),
        "detected framing",
    );
    same(
        enum_at(&s, "/properties/capabilities/additionalProperties/properties/state/enum"),
        names(CapabilityState::ALL),
        "capability state",
    );
    same(
        enum_at(&s, "/properties/options/properties/delivery/items/enum"),
        names(Delivery::ALL),
        "options delivery",
    );
    same(enum_at(&s, &format!("{case}/level/enum")), names(Level::ALL), "level");
    same(enum_at(&s, &format!("{case}/delivery/enum")), names(Delivery::ALL), "delivery");
    same(enum_at(&s, &format!("{case}/verdict/enum")), names(Verdict::ALL), "verdict");
    same(
        enum_at(&s, "/properties/summary/properties/verdicts/propertyNames/enum"),
        names(Verdict::ALL),
        "summary verdicts",
    );
    same(enum_at(&s, &format!("{case}/impact/enum")), names(Impact::ALL), "impact");
    same(
        enum_at(&s, &format!("{case}/liveness/properties/state/enum")),
        names(LivenessState::ALL),
        "liveness",
    );
    let dir = format!("{case}/transcript/items/properties/dir/enum");
    same(enum_at(&s, &dir), names(Direction::ALL), "transcript direction");
    let problem = format!("{case}/failure/properties/arrived/properties/problem/enum");
    same(enum_at(&s, &problem), names(FrameProblem::ALL), "frame problem");
    let needed = format!("{case}/tolerances/items/enum");
    same(enum_at(&s, &needed), names(Tolerance::ALL), "tolerances of a pass");
    let would = format!("{case}/failure/properties/would_need/items/enum");
    same(enum_at(&s, &would), names(Tolerance::ALL), "tolerances a failure would need");
}
