//! The field corpus harness (`tests/field/`): runs a target of `manifest.json` through the
//! `jim-conformance` binary in host or spawn mode and lists where the run differs from the
//! manifest's right verdict. A port of `tests/field/measure.py` (the reference of the
//! comparison); `tests/field.rs` runs the servers, the client engineer's test the clients.
//!
//! Every wait is bounded: a host target must listen within [`START_LIMIT`] (found in the
//! kernel's socket tables, never by connecting: a connect-and-drop kills the classic lesson-3
//! server), and a runner call is killed after [`WALL_GUARD`].

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Longest a host-mode target may take to listen.
pub const START_LIMIT: Duration = Duration::from_secs(10);

/// Longest one runner call may take before the harness kills it (a hang is a finding, not a
/// stuck test).
pub const WALL_GUARD: Duration = Duration::from_secs(240);

/// The field corpus directory.
pub fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/field"))
}

/// `manifest.json`, parsed.
pub fn manifest() -> Value {
    let text = std::fs::read_to_string(dir().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The runner binary of this build.
pub fn runner() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_jim-conformance"))
}

/// Replaces `{key}` placeholders.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(text.to_owned(), |t, (k, v)| t.replace(&format!("{{{k}}}"), v))
}

/// A socket listens on TCP `port` (read from `/proc/net/tcp{,6}`, no connection made).
pub fn listening(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|path| {
        std::fs::read_to_string(path).is_ok_and(|table| {
            table.lines().skip(1).any(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                f.len() > 3 && f[1].ends_with(&want) && f[3] == "0A"
            })
        })
    })
}

/// A child in its own process group, killed (the whole group) when dropped.
pub struct Group(pub Child);

impl Drop for Group {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.0.wait();
    }
}

fn shell(command: &str, cwd: &Path) -> Command {
    use std::os::unix::process::CommandExt as _;
    let mut c = Command::new("sh");
    c.arg("-c").arg(command).current_dir(cwd).stdin(Stdio::null()).process_group(0);
    c
}

/// Starts a host-mode target on a free port and waits until it listens (or exits, when the
/// manifest says it exits at start).
/// Its output goes to `log` (the manifest's `report_contains` reads the report "with the
/// target's output lines", which in host mode only the harness has).
pub fn start_host(
    command: &str,
    cwd: &Path,
    exits: bool,
    log: &Path,
) -> Result<(Group, u16), String> {
    let port = super::free_port();
    let command = fill(command, &[("port", &port.to_string())]);
    let out = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = shell(&command, cwd).stdout(out).stderr(err).spawn().map_err(|e| e.to_string())?;
    let mut g = Group(child);
    let until = Instant::now() + START_LIMIT;
    while Instant::now() < until {
        if listening(port) {
            return Ok((g, port));
        }
        if let Ok(Some(status)) = g.0.try_wait() {
            return if exits { Ok((g, port)) } else { Err(format!("exited at start: {status}")) };
        }
        // Polling the socket table: nothing can say "listening" to a process we do not own.
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("did not listen within {} s", START_LIMIT.as_secs()))
}

/// What one runner call gave.
#[derive(Debug)]
pub struct Outcome {
    pub rc: Option<i32>,
    pub out: String,
    pub report: Option<Value>,
    pub secs: f64,
}

/// Runs `jim-conformance ROLE TARGET_ARGS OPTIONS --json R --lang en [--profile P]`.
pub fn run_runner(
    role: &str,
    target_args: &[String],
    options: &[String],
    profile: &str,
    cwd: &Path,
) -> Outcome {
    let tmp = tempfile::tempdir().unwrap();
    let report_path = tmp.path().join("report.json");
    let out_path = tmp.path().join("out.txt");
    let mut cmd = Command::new(runner());
    cmd.arg(role).args(target_args).args(options);
    // The manifests' verdicts are those of the fixtures: exploration (issue 14) is judged in
    // tests/explore*.rs, and its sessions would cost every server run of a debug build seconds.
    if role == "server" && !options.iter().any(|o| o == "--explore-sessions") {
        cmd.args(["--explore-sessions", "0"]);
    }
    cmd.arg("--json").arg(&report_path).args(["--lang", "en"]);
    if profile != "auto" {
        cmd.args(["--profile", profile]);
    }
    let out_file = std::fs::File::create(&out_path).unwrap();
    let err_file = out_file.try_clone().unwrap();
    cmd.current_dir(cwd).stdin(Stdio::null()).stdout(out_file).stderr(err_file);
    let began = Instant::now();
    let mut child = Group(cmd.spawn().unwrap());
    let mut rc = None;
    while began.elapsed() < WALL_GUARD {
        if let Ok(Some(status)) = child.0.try_wait() {
            rc = Some(status.code().unwrap_or(-1));
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(child);
    let secs = began.elapsed().as_secs_f64();
    let out = String::from_utf8_lossy(&std::fs::read(&out_path).unwrap_or_default()).into_owned();
    let report =
        std::fs::read_to_string(&report_path).ok().and_then(|t| serde_json::from_str(&t).ok());
    Outcome { rc, out, report, secs }
}

/// A case's key as the human report prints it: `ID` or `ID [split]`.
pub fn case_key(case: &Value) -> String {
    let id = case["id"].as_str().unwrap_or_default();
    match case["delivery"].as_str() {
        None | Some("whole") => id.to_owned(),
        Some(d) => format!("{id} [{d}]"),
    }
}

/// `expect` with the keys of the mode's block (`host` / `spawn`) replaced.
pub fn merged(expect: &Value, mode_block: Option<&Value>) -> Value {
    let mut e = expect.clone();
    if let (Some(e), Some(Value::Object(block))) = (e.as_object_mut(), mode_block) {
        for (k, v) in block {
            e.insert(k.clone(), v.clone());
        }
    }
    e
}

const FAILED: &[&str] = &["fail", "error"];
const PASSED: &[&str] = &["pass", "pass-lenient"];

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn re(pattern: &str) -> regex::Regex {
    regex::RegexBuilder::new(pattern).case_insensitive(true).build().unwrap()
}

/// Where the run differs from the expectation (the manifest's semantics, see its README).
pub fn evaluate(expect: &Value, auto_picks: Option<&str>, o: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(exit) = expect["exit"].as_i64() {
        if o.rc.map(i64::from) != Some(exit) {
            problems.push(format!("exit {:?} (expected {exit})", o.rc));
        }
    }
    let Some(report) = &o.report else {
        problems.push("no JSON report".into());
        return problems;
    };
    let profile = report["profile"]["name"].as_str().unwrap_or_default();
    if let Some(want) = auto_picks {
        if profile != want {
            problems.push(format!("profile {profile} (auto must pick {want})"));
        }
    }
    let cases: Vec<(String, &Value)> = report["cases"]
        .as_array()
        .map(|a| a.iter().map(|c| (case_key(c), c)).collect())
        .unwrap_or_default();
    let matching = |pattern: &str| -> Vec<(String, &Value)> {
        // " [split]" names a delivery mode, not a glob character class.
        let p =
            regex::Regex::new(r" \[(whole|split|trickle)\]$").unwrap().replace(pattern, " [[]$1]");
        let glob = globset::Glob::new(&p).unwrap().compile_matcher();
        cases.iter().filter(|(k, _)| glob.is_match(k)).map(|(k, c)| (k.clone(), *c)).collect()
    };
    let verdict = |c: &Value| c["verdict"].as_str().unwrap_or_default().to_owned();
    let not_run_ok = expect["not_run_ok"].as_bool().unwrap_or(false);
    for p in strs(&expect["fail"]) {
        let found = matching(&p);
        if found.is_empty() {
            problems.push(format!("{p}: absent (expected fail)"));
        }
        for (k, c) in found {
            if !FAILED.contains(&verdict(c).as_str()) {
                problems.push(format!("{k}: {} (expected fail)", verdict(c)));
            }
        }
    }
    for p in strs(&expect["pass"]) {
        let found = matching(&p);
        if found.is_empty() {
            problems.push(format!("{p}: absent (expected pass)"));
        }
        for (k, c) in found {
            let v = verdict(c);
            let not_run_allowed = not_run_ok && v == "not-run";
            if !(PASSED.contains(&v.as_str()) || not_run_allowed) {
                problems.push(format!("{k}: {v} (expected pass)"));
            }
        }
    }
    for p in strs(&expect["not_fail"]) {
        for (k, c) in matching(&p) {
            if FAILED.contains(&verdict(c).as_str()) {
                problems.push(format!("{k}: {} (must not fail)", verdict(c)));
            }
        }
    }
    for p in strs(&expect["not_pass"]) {
        for (k, c) in matching(&p) {
            if PASSED.contains(&verdict(c).as_str()) {
                problems.push(format!("{k}: {} (must not pass)", verdict(c)));
            }
        }
    }
    if let Some(map) = expect["verdicts"].as_object() {
        for (p, wanted) in map {
            let wanted = match wanted {
                Value::String(s) => vec![s.clone()],
                w => strs(w),
            };
            let found = matching(p);
            if found.is_empty() && !wanted.iter().any(|w| w == "not-run") {
                problems.push(format!("{p}: absent (expected {})", wanted.join("/")));
            }
            for (k, c) in found {
                if !wanted.contains(&verdict(c)) {
                    problems.push(format!("{k}: {} (expected {})", verdict(c), wanted.join("/")));
                }
            }
        }
    }
    if let Some(map) = expect["liveness"].as_object() {
        for (p, state) in map {
            for (k, c) in matching(p) {
                let got = c["liveness"]["state"].as_str().unwrap_or("none");
                if Some(got) != state.as_str() {
                    problems.push(format!("{k}: liveness {got} (expected {state})"));
                }
            }
        }
    }
    for rule in expect["hints"].as_array().into_iter().flatten() {
        for (k, c) in matching(rule["case"].as_str().unwrap_or_default()) {
            if !FAILED.contains(&verdict(c).as_str()) {
                continue;
            }
            let text = format!(
                "{} {}",
                c["hint"]["en"].as_str().unwrap_or_default(),
                c["reason"].as_str().unwrap_or_default()
            );
            if let Some(m) = rule["match"].as_str() {
                if !re(m).is_match(&text) {
                    problems.push(format!("{k}: hint does not say /{m}/"));
                }
            }
            if let Some(m) = rule["not_match"].as_str() {
                if re(m).is_match(&text) {
                    problems.push(format!("{k}: hint says /{m}/"));
                }
            }
        }
    }
    if let Some(m) = expect["root_cause"]["match"].as_str() {
        let line = root_cause_line(report, &o.out);
        if !re(m).is_match(&line) {
            problems.push(format!("root cause does not say /{m}/"));
        }
    }
    if let Some(m) = expect["report_contains"].as_str() {
        if !re(m).is_match(&o.out) {
            problems.push(format!("report lacks /{m}/"));
        }
    }
    if let Some(m) = expect["report_not_contains"].as_str() {
        if re(m).is_match(&o.out) {
            problems.push(format!("report says /{m}/"));
        }
    }
    problems
}

/// The report's root-cause line: its `summary.root_cause` when it has one, else (as
/// `measure.py`) the deadline's "not run" line, else the reason and hint of the first failing
/// case, else the exit reason and the output.
fn root_cause_line(report: &Value, out: &str) -> String {
    match &report["summary"]["root_cause"] {
        Value::String(s) if !s.is_empty() => return s.clone(),
        Value::Object(o) => {
            if let Some(s) = o.get("en").and_then(Value::as_str) {
                return s.to_owned();
            }
        }
        _ => {}
    }
    // A run cut by --deadline says so first (the cases it did not reach are "not run").
    if let Some(s) = report["summary"]["not_run"]["en"].as_str() {
        return s.to_owned();
    }
    let first = report["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| FAILED.contains(&c["verdict"].as_str().unwrap_or_default()));
    match first {
        Some(c) => format!(
            "{} {}",
            c["reason"].as_str().unwrap_or_default(),
            c["hint"]["en"].as_str().unwrap_or_default()
        ),
        None => format!("{} {out}", report["exit_reason"].as_str().unwrap_or_default()),
    }
}

/// One run of a manifest target in one mode: the mismatches (empty when right) and the
/// outcome.
pub fn one(
    target: &Value,
    run: &Value,
    mode: &str,
    cwd: &Path,
    folder: &Path,
) -> (Vec<String>, Outcome) {
    let dir = dir();
    let dir_s = dir.display().to_string();
    let folder_s = folder.display().to_string();
    let extra = [("dir", dir_s.as_str()), ("folder", folder_s.as_str())];
    let options: Vec<String> = strs(&run["options"]).iter().map(|o| fill(o, &extra)).collect();
    let expect = merged(&run["expect"], run.get(mode));
    let start = fill(target["start"].as_str().unwrap_or_default(), &extra);
    let role = target["role"].as_str().unwrap_or("server");
    let profile = run["profile"].as_str().unwrap_or("auto");
    let auto_picks = if profile == "auto" { run["auto_picks"].as_str() } else { None };
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("target.log");
    let (host, target_args) = if mode == "host" {
        let exits = target["host_start"].as_str() == Some("exits");
        match start_host(&start, cwd, exits, &log) {
            Ok((g, port)) => {
                let args = ["--host", "127.0.0.1", "--port"].map(str::to_owned);
                let mut args = args.to_vec();
                args.push(port.to_string());
                (Some(g), args)
            }
            Err(e) => {
                let o = Outcome { rc: None, out: String::new(), report: None, secs: 0.0 };
                return (vec![format!("host start: {e}")], o);
            }
        }
    } else {
        (None, vec!["--spawn".to_owned(), start])
    };
    let mut o = run_runner(role, &target_args, &options, profile, cwd);
    drop(host);
    if let Ok(lines) = std::fs::read(&log) {
        o.out.push_str("\n[host-mode target output]\n");
        o.out.push_str(&String::from_utf8_lossy(&lines));
    }
    let problems = evaluate(&expect, auto_picks, &o);
    keep_if_wrong(target, mode, &problems, &o);
    (problems, o)
}

/// With `JIM_FIELD_KEEP=DIR`, a run that got a wrong verdict leaves its human report (with the
/// host-mode target's output) and its JSON report in DIR, to read why after a flaky run.
fn keep_if_wrong(target: &Value, mode: &str, problems: &[String], o: &Outcome) {
    let Some(keep) = std::env::var_os("JIM_FIELD_KEEP") else { return };
    if problems.is_empty() {
        return;
    }
    let keep = PathBuf::from(keep);
    let _ = std::fs::create_dir_all(&keep);
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = target["id"].as_str().unwrap_or("target");
    let stem = keep.join(format!("{id}-{mode}-{}-{n}", std::process::id()));
    let _ = std::fs::write(stem.with_extension("txt"), &o.out);
    if let Some(report) = &o.report {
        let _ = std::fs::write(stem.with_extension("json"), report.to_string());
    }
}

/// Runs `jobs` closures at most `width` at a time on threads; results in input order.
pub fn in_parallel<T: Send, R: Send>(
    items: Vec<T>,
    width: usize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let queue = std::sync::Mutex::new(items.into_iter().enumerate().collect::<Vec<_>>());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..width.max(1) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some((i, item)) = next else { break };
                    let r = work(item);
                    results.lock().unwrap().push((i, r));
                }
            });
        }
    });
    let mut r = results.into_inner().unwrap();
    r.sort_by_key(|(i, _)| *i);
    r.into_iter().map(|(_, r)| r).collect()
}
