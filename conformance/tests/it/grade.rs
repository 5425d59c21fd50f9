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
    grade_in("en", roster, out)
}

fn grade_in(lang: &str, roster: &Path, out: &Path) -> (i32, String) {
    let o = Command::new(BIN)
        .args(["grade", "--roster"])
        .arg(roster)
        .args(["--assignment", "lesson3", "--jobs", "2", "--lang", lang, "--out"])
        .arg(out)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), text)
}

/// `dir/roster.csv` with `rows` under the header, and `dir/broken`: a server that cannot start
/// (an import that fails).
fn roster_with_broken(dir: &Path, rows: &str) -> PathBuf {
    let broken = dir.join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("server.py"), "import no_such_module_here\n").unwrap();
    let roster = dir.join("roster.csv");
    std::fs::write(&roster, format!("id,name,folder,server,client,accounts\n{rows}")).unwrap();
    roster
}

#[test]
fn a_small_class_is_graded_cached_and_written_in_every_gradebook_format() {
    let dir = tempfile::tempdir().unwrap();
    let roster = roster_with_broken(
        dir.path(),
        &format!(
            "a1,Анна,{a},python3 server.py -p {{port}},python3 client.py {{host}} {{port}},\n\
             a2,Copy of Анна,{b},python3 server.py -p {{port}},python3 client.py {{host}} {{port}},\n\
             b1,Broken,broken,python3 server.py -p {{port}},,\n",
            a = class_folder("s08"),
            b = class_folder("s13"),
        ),
    );
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

/// What a reader of a grade page reads, one line per paragraph, row or cell: the style, what
/// the program printed (`<pre class="program">`: its words, not ours) and the markup are left
/// out; `<code>` becomes backticks (a command, an id, a program's exception: data).
fn page_text(html: &str) -> String {
    let re = |p: &str| regex::Regex::new(p).unwrap();
    let t = re(r"(?s)<style>.*?</style>").replace_all(html, "");
    let t = re(r#"(?s)<pre class="program">.*?</pre>"#).replace_all(&t, "");
    let t = re(r"(?s)<code>(.*?)</code>").replace_all(&t, "`$1`");
    let t = re(r"<br>|</(p|h\d|tr|td|th|summary|caption|title|li)>").replace_all(&t, "\n");
    let t = re(r"<[^>]*>").replace_all(&t, "");
    t.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn the_page_scan_reads_our_words_and_not_the_programs() {
    let page = "<p><strong>Причина:</strong> step 2: nothing within 2 s</p>\n\
        <pre class=\"program\">Traceback (most recent call last):</pre>\n\
        <p>не запускается: <code>No module named x</code></p>";
    let text = page_text(page);
    let found = jim_text::scan::untranslated_lines("page", &text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("nothing within 2 s"), "{found:?}");
}

/// Issue 15 item 5: under `--lang ru` everything a student or a teacher reads of a graded
/// class is Russian: the class page, the student pages (the runner's reasons and why lines
/// come from its JSON report's `ru`), the CSV's first failure, Gradescope's and Classroom's
/// texts and what `grade` prints. A server that turns zombie (its client fails some cases
/// too) and a server that cannot start.
#[test]
fn a_russian_class_reads_in_russian() {
    let dir = tempfile::tempdir().unwrap();
    let roster = roster_with_broken(
        dir.path(),
        &format!(
            "a1,Анна,{a},python3 server.py -p {{port}},python3 client.py {{host}} {{port}} -n Alice,\n\
             b1,Борис,broken,python3 server.py -p {{port}},,\n",
            a = class_folder("s05"),
        ),
    );
    let out = dir.path().join("out");
    let (code, printed) = grade_in("ru", &roster, &out);
    assert_eq!(code, 0, "{printed}");
    let mut found = jim_text::scan::untranslated_lines("grade", &printed);

    // What the pages are made from: the runner's report, valid against its schema, with the
    // Russian of its texts in `ru`.
    let report = read_json(&out.join(".work/a1-server.json"));
    let errors: Vec<_> =
        validator("report.schema.json").iter_errors(&report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let ru = report["ru"].as_object().unwrap();
    let reason = report["cases"].as_array().unwrap().iter().find_map(|c| c["reason"].as_str());
    assert!(reason.is_some_and(|r| ru.contains_key(r)), "{reason:?} not in {ru:?}");
    let a1 = std::fs::read_to_string(out.join("students/a1.html")).unwrap();
    assert!(a1.matches("<section class=\"case\">").count() >= 2, "a1 fails some cases: {a1}");
    for page in ["index.html", "students/a1.html", "students/b1.html"] {
        let html = std::fs::read_to_string(out.join(page)).unwrap();
        found.extend(jim_text::scan::untranslated_lines(page, &page_text(&html)));
    }
    let mut csv = csv::Reader::from_path(out.join("grades.csv")).unwrap();
    for row in csv.records() {
        let row = row.unwrap();
        let first = row.get(4).unwrap();
        assert!(!first.is_empty(), "both students fail something");
        found.extend(jim_text::scan::untranslated_lines("grades.csv", first));
    }
    for id in ["a1", "b1"] {
        let name = format!("gradescope/{id}");
        let gs = read_json(&out.join("gradescope").join(id).join("results.json"));
        let mut texts = vec![gs["output"].as_str().unwrap().to_owned()];
        for t in gs["tests"].as_array().unwrap() {
            texts.push(t["name"].as_str().unwrap().to_owned());
            texts.push(t["output"].as_str().unwrap().to_owned());
        }
        let cr = read_json(&out.join("classroom").join(format!("{id}.json")));
        for t in cr["tests"].as_array().unwrap() {
            texts.push(t["name"].as_str().unwrap().to_owned());
            texts.push(t["message"].as_str().unwrap().to_owned());
        }
        assert!(
            texts.iter().any(|t| t.contains("шаг") || t.contains("не запускается")),
            "{texts:?}"
        );
        for t in texts {
            found.extend(jim_text::scan::untranslated_lines(&name, &t));
        }
    }
    assert!(found.is_empty(), "{} untranslated lines:\n{}", found.len(), found.join("\n"));
}

/// A roster or an assignment that cannot be used is told in the class's language too: each of
/// these exits 2 with one Russian line.
#[test]
fn a_bad_roster_is_told_in_russian() {
    let dir = tempfile::tempdir().unwrap();
    let rosters = [
        ("folder.csv", "id,name,folder,server,client,accounts\nx1,X,nope,python3 s.py,,\n"),
        ("port.csv", "id,name,folder,server,client,accounts\nx1,X,.,python3 s.py,,\n"),
        ("host.csv", "id,name,folder,server,client,accounts\nx1,X,.,,python3 c.py,\n"),
        ("id.csv", "id,name,folder,server,client,accounts\nx/1,X,.,,,\n"),
        ("twice.csv", "id,name,folder,server,client,accounts\nx1,X,.,,,\nx1,Y,.,,,\n"),
        ("account.csv", "id,name,folder,server,client,accounts\nx1,X,.,,,nopass\n"),
        ("empty.csv", "id,name\n"),
        ("parse.csv", "idd,name\n1,2\n"),
        ("good.csv", "id,name,folder,server,client,accounts\nx1,X,.,,,\n"),
    ];
    for (name, text) in rosters {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let mut runs: Vec<Vec<&str>> =
        rosters[..rosters.len() - 1].iter().map(|(name, _)| vec![*name, "lesson3"]).collect();
    runs.push(vec!["missing.csv", "lesson3"]);
    runs.push(vec!["good.csv", "lesson33"]);
    runs.push(vec!["good.csv", "lesson3", "--only", "zz"]);
    runs.push(vec!["good.csv", "lesson3", "--jobs", "0"]);
    let mut found = Vec::new();
    for run in runs {
        let o = Command::new(BIN)
            .current_dir(dir.path())
            .args(["grade", "--lang", "ru", "--out", "out", "--roster", run[0], "--assignment"])
            .args(&run[1..])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let printed = jim_text::scan::printed(&o);
        assert_eq!(o.status.code(), Some(2), "{run:?}: {printed}");
        assert!(jim_text::scan::has_cyrillic(&printed), "{run:?}: {printed}");
        found.extend(jim_text::scan::untranslated_lines(&run.join(" "), &printed));
    }
    assert!(found.is_empty(), "{} untranslated lines:\n{}", found.len(), found.join("\n"));
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

/// Headless Chromium: `$CHROMIUM`, else Debian's `chromium` (or the other usual names) on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// What one headless Chromium run of a page gave: its stdout (the DOM with `--dump-dom`) and
/// every line the page wrote to the console.
struct Rendered {
    stdout: String,
    console: Vec<String>,
}

/// Chromium on `page` with `args`, in a profile of its own under `scratch`, killed after 90 s.
/// The flags are the ones a closed network needs (no background connections, no sandbox as
/// root) plus console logging on stderr.
fn render(browser: &Path, scratch: &Path, page: &Path, args: &[String]) -> Rendered {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = scratch.join(format!("chromium-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > give_up {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish {} in 90 s", page.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(status.success(), "chromium on {}: {status}\n{stderr}", page.display());
    Rendered {
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        // Chromium logs each console message of the page as `...:CONSOLE(line)] "text", source: ...`.
        console: stderr.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_owned).collect(),
    }
}

/// Pixels of `png` whose colour is exactly `rgb`, with the image's size.
fn count_colour(png_file: &Path, rgb: [u8; 3]) -> (u32, u32, usize) {
    let mut decoder = png::Decoder::new(std::fs::File::open(png_file).unwrap());
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("a screenshot in {other:?}"),
    };
    let n = buf[..info.buffer_size()].chunks_exact(step).filter(|px| px[..3] == rgb).count();
    (info.width, info.height, n)
}

/// The class page and a student page as a teacher opens them: in headless Chromium (Debian's
/// package; `.ci/run` installs it and sets `JIM_REQUIRE_CHROMIUM=1`, elsewhere the test says it
/// was skipped). Checked: no console message at all (the pages have no script, so any message is
/// a fault), the matrix rows and a student's page in the rendered DOM, and a screenshot whose
/// matrix cells are painted in their band colours. The class is graded with a relative `--out`
/// from the roster's folder, as a teacher types it.
#[test]
fn the_class_page_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("JIM_REQUIRE_CHROMIUM").is_none(),
            "JIM_REQUIRE_CHROMIUM is set but no chromium was found (set CHROMIUM or PATH)"
        );
        eprintln!("skipped: no chromium on PATH (Debian: apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    roster_with_broken(
        dir.path(),
        &format!(
            "a1,Анна,{a},python3 server.py -p {{port}},python3 client.py {{host}} {{port}},\n\
             b1,Борис,broken,python3 server.py -p {{port}},,\n",
            a = class_folder("s08"),
        ),
    );
    let o = Command::new(BIN)
        .current_dir(dir.path())
        .args(["grade", "--roster", "roster.csv", "--assignment", "lesson3", "--jobs", "2"])
        .args(["--lang", "ru", "--out", "out"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{text}");
    let out = dir.path().join("out");
    let index = out.join("index.html");
    let student = out.join("students/a1.html");
    let broken_page = out.join("students/b1.html");

    let dom = render(&browser, dir.path(), &index, &["--dump-dom".into()]);
    assert!(dom.console.is_empty(), "the class page wrote to the console: {:?}", dom.console);
    for needle in [
        "<table id=\"matrix\">",
        "data-student=\"a1\"",
        "data-student=\"b1\"",
        "Анна",
        "Борис",
        "2 студента",
        "ModuleNotFoundError",
        "20/20",
        "0/20",
    ] {
        assert!(dom.stdout.contains(needle), "the rendered class page lacks {needle}");
    }
    for page in [&student, &broken_page] {
        let dom = render(&browser, dir.path(), page, &["--dump-dom".into()]);
        assert!(
            dom.console.is_empty(),
            "{} wrote to the console: {:?}",
            page.display(),
            dom.console
        );
        assert!(dom.stdout.contains("index.html"), "{}: no way back to the class", page.display());
    }
    let a1 = render(&browser, dir.path(), &student, &["--dump-dom".into()]);
    assert!(a1.stdout.contains("Анна (a1): 20/20"), "{}", a1.stdout);
    assert!(
        a1.stdout.contains("все обязательные случаи проходят"),
        "the runner's reason in Russian"
    );

    // A screenshot of the class: a1's five cells are painted "all points" green, b1's five
    // "not run" grey; the legend alone has far fewer pixels of each.
    let shot = dir.path().join("class.png");
    let shot_arg = format!("--screenshot={}", shot.display());
    let r = render(&browser, dir.path(), &index, &[shot_arg, "--window-size=1280,900".into()]);
    assert!(r.console.is_empty(), "{:?}", r.console);
    let (w, h, green) = count_colour(&shot, [0xc8, 0xef, 0xc8]);
    let (_, _, grey) = count_colour(&shot, [0xdd, 0xdd, 0xdd]);
    assert_eq!((w, h), (1280, 900));
    assert!(green > 10_000, "matrix cells of a1 not painted: {green} green pixels");
    assert!(grey > 10_000, "matrix cells of b1 not painted: {grey} grey pixels");
    // Kept for a human to look at after the run.
    let _ = std::fs::copy(&shot, Path::new(env!("CARGO_TARGET_TMPDIR")).join("class-page.png"));
}
