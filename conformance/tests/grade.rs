//! `jim-conformance grade` end to end on a small class: two copies of one correct program, a
//! server that cannot start, and what the gradebook files look like. The outputs are validated
//! against the schemas written from Gradescope's and GitHub Classroom's documents
//! (`fixtures/schema/gradescope-results.schema.json`, `classroom-result.schema.json`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_jim-conformance");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn class_folder(id: &str) -> String {
    repo().join("conformance/tests/field/class").join(id).display().to_string()
}

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("fixtures/schema").join(name)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn grade(roster: &Path, out: &Path) -> (i32, String) {
    let o = Command::new(BIN)
        .args(["grade", "--roster"])
        .arg(roster)
        .args(["--assignment", "lesson3", "--jobs", "2", "--lang", "en", "--out"])
        .arg(out)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), text)
}

#[test]
fn a_small_class_is_graded_cached_and_written_in_every_gradebook_format() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("server.py"), "import no_such_module_here\n").unwrap();
    let roster = dir.path().join("roster.csv");
    std::fs::write(
        &roster,
        format!(
            "id,name,folder,server,client,accounts\n\
             a1,Анна,{a},python3 server.py -p {{port}},python3 client.py {{host}} {{port}},\n\
             a2,Copy of Анна,{b},python3 server.py -p {{port}},python3 client.py {{host}} {{port}},\n\
             b1,Broken,broken,python3 server.py -p {{port}},,\n",
            a = class_folder("s08"),
            b = class_folder("s13"),
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let (code, text) = grade(&roster, &out);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("4 program(s) judged, 0 from the cache"), "{text}");

    let grades = read_json(&out.join("grades.json"));
    let students = grades["students"].as_array().unwrap();
    let ids: Vec<_> = students.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a1", "a2", "b1"], "roster order");
    // Identical code: judged once, identical verdicts and points.
    assert_eq!(students[0]["points"], students[1]["points"]);
    assert_eq!(students[0]["programs"], {
        let mut p = students[1]["programs"].clone();
        for prog in p.as_array_mut().unwrap() {
            assert_eq!(prog["same_as"], "a1");
            prog["same_as"] = Value::Null;
        }
        p
    });
    // A server that cannot start earns nothing and is told in one line, with the exception.
    let b1 = &students[2];
    assert_eq!(b1["points"], 0.0);
    assert_eq!(b1["programs"][0]["outcome"], "cannot-start");
    let line = b1["first_failure"]["line"].as_str().unwrap();
    assert!(!line.contains('\n') && line.contains("ModuleNotFoundError"), "{line}");
    let csv = std::fs::read_to_string(out.join("grades.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.lines().nth(3).unwrap().starts_with("b1,Broken,0,20,server: "), "{csv}");

    let gradescope = validator("gradescope-results.schema.json");
    let classroom = validator("classroom-result.schema.json");
    for id in ids {
        let gs = read_json(&out.join("gradescope").join(id).join("results.json"));
        let errors: Vec<_> = gradescope.iter_errors(&gs).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{id}: {errors:?}");
        let sum: f64 =
            gs["tests"].as_array().unwrap().iter().map(|t| t["score"].as_f64().unwrap()).sum();
        assert!((sum - gs["score"].as_f64().unwrap()).abs() < 0.01, "{id}: the tests add up");
        let cr = read_json(&out.join("classroom").join(format!("{id}.json")));
        let errors: Vec<_> = classroom.iter_errors(&cr).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{id}: {errors:?}");
        let page =
            std::fs::read_to_string(out.join("students").join(format!("{id}.html"))).unwrap();
        assert!(!page.contains("http://") && !page.contains("https://"), "self-contained");
    }
    assert_eq!(read_json(&out.join("classroom/b1.json"))["status"], "error");
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    for needle in
        ["data-student=\"a1\"", "data-student=\"b1\"", "Анна", "Answers a presence with 200"]
    {
        assert!(index.contains(needle), "index.html lacks {needle}");
    }

    // The same files again: only the server that did not start is tried again (it may have
    // been the machine's fault); the grades are the same.
    let (code, text) = grade(&roster, &out);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1 program(s) judged, 3 from the cache"), "{text}");
    let again = read_json(&out.join("grades.json"));
    for (a, b) in students.iter().zip(again["students"].as_array().unwrap()) {
        assert_eq!(a["points"], b["points"]);
        assert_eq!(a["first_failure"], b["first_failure"]);
    }
}

#[test]
fn a_schema_refuses_what_gradescope_would_not_read() {
    let gradescope = validator("gradescope-results.schema.json");
    assert!(gradescope.is_valid(&serde_json::json!({"score": 3, "tests": []})));
    assert!(!gradescope.is_valid(&serde_json::json!({"score": "3"})));
    assert!(
        !gradescope
            .is_valid(&serde_json::json!({"tests": [{"name": "x", "visibility": "public"}]}))
    );
    let classroom = validator("classroom-result.schema.json");
    assert!(
        !classroom.is_valid(
            &serde_json::json!({"version": 1, "status": "ok", "max_score": 1, "tests": []})
        )
    );
}

#[test]
fn the_classroom_example_reads_the_file_its_roster_makes() {
    let dir = repo().join("examples/classroom");
    let roster = jim_conformance::grade::roster::load(&dir.join("roster.csv")).unwrap();
    assert_eq!(roster.students.len(), 1);
    let id = &roster.students[0].id;
    let workflow = std::fs::read_to_string(dir.join(".github/workflows/classroom.yml")).unwrap();
    assert!(workflow.contains(&format!("jim-grades/classroom/{id}.json")), "{workflow}");
    assert!(workflow.contains("--roster roster.csv"));
    // The reporter reads runner `jim`'s result from JIM_RESULTS.
    assert!(workflow.contains("JIM_RESULTS:") && workflow.contains("runners: jim"));
}
