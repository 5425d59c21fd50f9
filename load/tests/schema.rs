//! The load report file has a JSON Schema (issue 15 item 6): the committed copy is the one the
//! report types generate, and a real report of a check against the reference server, written
//! the way `jim-conformance load --json` writes it, validates against it, as does the failure
//! form. `JIM_BLESS=1 cargo test -p jim-load --test schema` rewrites the committed copy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use jim_load::schema::{REPORT_SCHEMA_ID, report_file_schema};
use jim_load::{LoadConfig, LoadReport, run};
use jim_protocol::Dialect;
use serde_json::{Value, json};

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/schema/load-report.schema.json")
}

fn committed() -> Value {
    let text = std::fs::read_to_string(committed_path()).expect("the committed schema");
    serde_json::from_str(&text).expect("the committed schema is JSON")
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = report_file_schema();
    if std::env::var_os("JIM_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        std::fs::write(committed_path(), text).unwrap();
    }
    assert_eq!(
        committed(),
        generated,
        "the report types changed: JIM_BLESS=1 cargo test -p jim-load --test schema"
    );
}

/// A small load check with `dialect` against the reference server on loopback.
fn check_the_reference(dialect: Dialect) -> LoadReport {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let stop = async move {
                let _ = stop_rx.await;
            };
            jim_server::run(listener, jim_server::Config::default(), stop).await.unwrap();
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let config = LoadConfig {
        port: addr.port(),
        connections: 6,
        pairs: 2,
        room_members: 3,
        room_senders: 1,
        max_messages: 40,
        phase_duration: Duration::from_secs(2),
        dialect,
        ..LoadConfig::default()
    };
    let report = run(&config).unwrap();
    let _ = stop_tx.send(());
    server.join().unwrap();
    report
}

/// A report wrapped like the command line writes it, and the schema's verdict on it.
fn validate(report: &LoadReport) -> (Value, Vec<String>) {
    let mut value = serde_json::to_value(report).unwrap();
    let obj = value.as_object_mut().unwrap();
    obj.insert("schema".into(), REPORT_SCHEMA_ID.into());
    obj.insert("described".into(), "the reference".into());
    obj.insert("passed".into(), report.passed().into());
    obj.insert("target_exited".into(), Value::Null);
    let validator = jsonschema::validator_for(&committed()).unwrap();
    let errors = validator.iter_errors(&value).map(|e| e.to_string()).collect();
    (value, errors)
}

/// `--dialect course` (issue 15 item 6): the reference server takes the course shapes; the
/// room phase is skipped (the course has no rooms) and nothing is lost.
#[test]
fn a_course_dialect_check_passes_on_the_reference() {
    let report = check_the_reference(Dialect::Course);
    assert!(report.passed(), "{report}");
    let direct = report.direct.report().expect("the direct phase ran");
    assert_eq!((direct.sent, direct.lost), (40, 0), "{report}");
    assert!(report.room.report().is_none(), "{report}");
    let (value, errors) = validate(&report);
    assert_eq!(errors, Vec::<String>::new(), "{value:#}");
    assert_eq!(value["config"]["dialect"], "course");
}

#[test]
fn a_real_report_and_a_failure_validate() {
    let report = check_the_reference(Dialect::Spec);
    // The report in Russian (issue 15 item 5): no English line.
    let ru = jim_text::Lang::Ru.say(&report);
    assert!(ru.contains("итог: ПРОЙДЕНО"), "{ru}");
    let english: Vec<&str> = ru.lines().filter(|l| !jim_text::reads_as_russian(l)).collect();
    assert_eq!(english, Vec::<&str>::new(), "{ru}");
    let (value, errors) = validate(&report);
    assert!(value["direct"]["lost_because"].is_object(), "{value}");
    assert_eq!(errors, Vec::<String>::new(), "{value:#}");
    let validator = jsonschema::validator_for(&committed()).unwrap();

    let failure = json!({"schema": REPORT_SCHEMA_ID, "passed": false, "exit_code": 3,
                         "error": "cannot connect"});
    assert!(validator.is_valid(&failure));
    // The schema says something: a report without its verdict, or a phase of an unknown
    // status, does not validate.
    let mut no_verdict = value.clone();
    no_verdict.as_object_mut().unwrap().remove("passed");
    assert!(!validator.is_valid(&no_verdict));
    let mut odd_phase = value;
    odd_phase["room"]["status"] = "exploded".into();
    assert!(!validator.is_valid(&odd_phase));
}
