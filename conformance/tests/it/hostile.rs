//! Hostile fake servers, written here for the tests, each broken in one way a referee must
//! survive: never answering, flooding bytes, an endless JSON string, dripping one byte per
//! second, closing at once, dying on garbage, taking each read as one message, serving one
//! client at a time. Each run must end within its `--deadline` with the expected verdicts, and
//! the runner's memory must stay bounded while a target floods it.
//!
//! Everything is on 127.0.0.1 with port 0; every fake stops (and joins its threads) when
//! dropped; assertions are on verdicts, never on durations (a deadline-bounded run must simply
//! end, which a generous outer timeout turns into a failure instead of a hung test).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jim_conformance::report::LivenessState;
use jim_conformance::wire::Delivery;
use jim_conformance::{Report, RunOptions, TargetSpec, Verdict, run_suite};
use serde_json::{Value, json};

/// Connections a fake serves at once, at most (more are closed at once).
const MAX_FAKE_CONNECTIONS: usize = 64;

/// What a fake does with one accepted connection. It must return soon after `stop` is set.
type Behavior = fn(TcpStream, &Shared);

/// State shared by a fake's threads.
struct Shared {
    stop: AtomicBool,
    /// Set by a fake that "crashes": it stops accepting and drops every connection.
    dead: AtomicBool,
    open: AtomicUsize,
}

impl Shared {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed) && !self.dead.load(Ordering::Relaxed)
    }
}

/// A fake server on 127.0.0.1; stopped and joined when dropped.
struct Fake {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Fake {
    /// Serves each connection on its own thread.
    fn start(behavior: Behavior) -> Self {
        Self::start_with(behavior, false)
    }

    /// Serves connections one after the other in the accept loop (a blocking student server).
    fn start_serial(behavior: Behavior) -> Self {
        Self::start_with(behavior, true)
    }

    fn start_with(behavior: Behavior, serial: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared { stop: false.into(), dead: false.into(), open: 0.into() });
        let workers: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (s, w) = (Arc::clone(&shared), Arc::clone(&workers));
        let accept = std::thread::spawn(move || {
            while s.running() {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                if s.open.load(Ordering::Relaxed) >= MAX_FAKE_CONNECTIONS {
                    continue;
                }
                if serial {
                    behavior(stream, &s);
                    continue;
                }
                s.open.fetch_add(1, Ordering::Relaxed);
                let s2 = Arc::clone(&s);
                let handle = std::thread::spawn(move || {
                    behavior(stream, &s2);
                    s2.open.fetch_sub(1, Ordering::Relaxed);
                });
                let mut w = w.lock().unwrap();
                w.retain(|h| !h.is_finished());
                w.push(handle);
            }
            // Dropping the listener here refuses new connections (a dead server).
        });
        Self { port, shared, accept: Some(accept), workers }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        let handles: Vec<_> = self.workers.lock().unwrap().drain(..).collect();
        for h in handles {
            let _ = h.join();
        }
    }
}

/// Reads with a short timeout so that a behavior notices `stop`; None at EOF, error or stop.
fn read_some(stream: &mut TcpStream, buf: &mut [u8], shared: &Shared) -> Option<usize> {
    stream.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    loop {
        if !shared.running() {
            return None;
        }
        match stream.read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
}

/// Writes everything, giving up at stop or on an error.
fn write_all(stream: &mut TcpStream, mut bytes: &[u8], shared: &Shared) -> bool {
    stream.set_write_timeout(Some(Duration::from_millis(50))).unwrap();
    while !bytes.is_empty() {
        if !shared.running() {
            return false;
        }
        match stream.write(bytes) {
            Ok(0) => return false,
            Ok(n) => bytes = &bytes[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return false,
        }
    }
    true
}

/// The answer of a minimal correct server to one request (None: no answer; quit closes).
fn answer(v: &Value) -> Option<Value> {
    let now = 1_700_000_000.25;
    let ok = json!({"response": 200, "time": now, "alert": "OK"});
    let bad = |why: &str| json!({"response": 400, "time": now, "error": why});
    let Some(action) = v.get("action").and_then(Value::as_str) else {
        return if v.get("response").is_some() { None } else { Some(bad("no action")) };
    };
    match action {
        "presence" => match v.pointer("/user/account_name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() && name.chars().count() <= 25 => Some(ok),
            _ => Some(bad("bad presence")),
        },
        "quit" | "exit" => None,
        _ => Some(bad("unknown action")),
    }
}

fn reply(stream: &mut TcpStream, v: &Value, shared: &Shared) -> bool {
    match answer(v) {
        Some(a) => write_all(stream, format!("{a}\n").as_bytes(), shared),
        None => false,
    }
}

/// Accepts and never answers (reads and discards).
fn never_answer(mut s: TcpStream, shared: &Shared) {
    let mut buf = [0u8; 4096];
    while read_some(&mut s, &mut buf, shared).is_some() {}
}

/// Floods bytes that are not JSON, as fast as the runner reads them.
fn flood(mut s: TcpStream, shared: &Shared) {
    let chunk = vec![b'x'; 64 * 1024];
    while write_all(&mut s, &chunk, shared) {}
}

/// Starts a JSON string and never ends it.
fn endless_string(mut s: TcpStream, shared: &Shared) {
    if !write_all(&mut s, b"{\"response\":200,\"alert\":\"", shared) {
        return;
    }
    let chunk = vec![b'a'; 64 * 1024];
    while write_all(&mut s, &chunk, shared) {}
}

/// Answers each read with a correct reply, one byte per second.
fn slow_drip(mut s: TcpStream, shared: &Shared) {
    let mut buf = [0u8; 4096];
    while read_some(&mut s, &mut buf, shared).is_some() {
        let reply = b"{\"response\":200,\"time\":1700000000.25,\"alert\":\"OK\"}\n";
        for b in reply {
            if !write_all(&mut s, &[*b], shared) {
                return;
            }
            for _ in 0..50 {
                if !shared.running() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Answers the first request with half a reply, then resets the connection (RST).
fn reset_mid_reply(mut s: TcpStream, shared: &Shared) {
    let mut buf = [0u8; 4096];
    if read_some(&mut s, &mut buf, shared).is_none() {
        return;
    }
    if !write_all(&mut s, b"{\"response\":200,\"ti", shared) {
        return;
    }
    std::thread::sleep(Duration::from_millis(20));
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    rt.block_on(async move {
        s.set_nonblocking(true).unwrap();
        let t = tokio::net::TcpStream::from_std(s).unwrap();
        t.set_zero_linger().unwrap();
        drop(t);
    });
}

/// Closes every connection at once.
fn instant_close(s: TcpStream, _: &Shared) {
    drop(s);
}

/// A correct line-based server; with `die_on_garbage`, a line that is not JSON kills it: it
/// stops accepting and drops every connection (a student server whose process dies).
fn line_server(mut s: TcpStream, shared: &Shared, die_on_garbage: bool) {
    let mut buf = [0u8; 4096];
    let mut pending = Vec::new();
    while let Some(n) = read_some(&mut s, &mut buf, shared) {
        pending.extend_from_slice(&buf[..n]);
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Value>(&line) {
                Ok(v) => {
                    if !reply(&mut s, &v, shared) {
                        return;
                    }
                }
                Err(_) if die_on_garbage => {
                    shared.dead.store(true, Ordering::Relaxed);
                    let _ = s.shutdown(Shutdown::Both);
                    return;
                }
                Err(_) => {
                    let bad = json!({"response": 400, "time": 1, "error": "bad JSON"});
                    if !write_all(&mut s, format!("{bad}\n").as_bytes(), shared) {
                        return;
                    }
                }
            }
        }
    }
}

fn crash_on_garbage(s: TcpStream, shared: &Shared) {
    line_server(s, shared, true);
}

/// Takes each read as one whole message (json.loads(sock.recv(1024))).
fn single_recv(mut s: TcpStream, shared: &Shared) {
    let mut buf = [0u8; 1024];
    while let Some(n) = read_some(&mut s, &mut buf, shared) {
        let answer = match serde_json::from_slice::<Value>(&buf[..n]) {
            Ok(v) => answer(&v),
            Err(_) => Some(json!({"response": 400, "time": 1, "error": "bad JSON"})),
        };
        match answer {
            Some(a) => {
                if !write_all(&mut s, format!("{a}\n").as_bytes(), shared) {
                    return;
                }
            }
            None => return,
        }
    }
}

/// Correct per connection, but run in the accept loop: one client at a time.
fn blocking(s: TcpStream, shared: &Shared) {
    line_server(s, shared, false);
}

struct Run {
    report: Report,
    text: String,
}

impl Run {
    fn case(&self, id: &str, delivery: Delivery) -> &jim_conformance::CaseResult {
        self.report
            .cases
            .iter()
            .find(|c| c.id == id && c.delivery == delivery)
            .unwrap_or_else(|| panic!("{id} [{delivery:?}] did not run:\n{}", self.text))
    }

    fn verdict(&self, id: &str) -> Verdict {
        self.case(id, Delivery::Whole).verdict
    }

    fn reason(&self, id: &str) -> String {
        self.case(id, Delivery::Whole).reason.as_deref().unwrap_or_default().to_owned()
    }

    fn failed(&self, id: &str) {
        let v = self.verdict(id);
        assert!(matches!(v, Verdict::Fail | Verdict::Error), "{id}: {v:?}\n{}", self.text);
    }

    fn passed(&self, id: &str) {
        let v = self.verdict(id);
        assert!(v.passed(), "{id}: {v:?}\n{}", self.text);
    }

    /// `id` was not run because the target had stopped answering in an earlier case.
    fn not_run_after_zombie(&self, id: &str) {
        let c = self.case(id, Delivery::Whole);
        assert_eq!(c.verdict, Verdict::NotRun, "{}", self.text);
        let reason = c.reason.clone().unwrap_or_default();
        assert!(reason.contains("stopped answering in"), "{reason}\n{}", self.text);
    }
}

/// Runs the suite (spec profile) against a fake with a short timeout and deadline.
fn judge(fake: &Fake, only: &[&str], delivery: Vec<Delivery>, timeout: f64) -> Run {
    let opts = RunOptions {
        profile: Some("spec".into()),
        only: only.iter().map(|s| (*s).to_owned()).collect(),
        timeout: Duration::from_secs_f64(timeout),
        deadline: Duration::from_secs(20),
        delivery,
        jobs: Some(4),
        ..RunOptions::default()
    };
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let target = TargetSpec::Address { host: "127.0.0.1".into(), port: fake.port };
    // The run is bounded by its --deadline; this outer bound only turns a hang into a failure.
    let report = rt
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(60), run_suite(target, opts)).await
        })
        .expect("the run must end within its deadline")
        .unwrap();
    let style = jim_conformance::report::human::Style {
        color: false,
        lang: jim_conformance::i18n::Lang::En,
    };
    let text = jim_conformance::report::human::render(&report, style);
    Run { report, text }
}

const BASIC: &str = "presence/basic";
const MALFORMED: &str = "robustness/malformed-json";

#[test]
fn a_target_that_never_answers_fails_every_case_and_is_a_zombie() {
    let fake = Fake::start(never_answer);
    let r = judge(&fake, &[BASIC, "msg/direct", MALFORMED], vec![Delivery::Whole], 0.3);
    // The first plain case fails with the one cause; once one more presence on a new
    // connection gets no byte either, the other cases are not run (each would only wait out
    // its timeout), destructive ones included.
    let ids = [BASIC, "msg/direct", MALFORMED];
    let failed: Vec<_> = ids.iter().filter(|id| r.verdict(id) == Verdict::Fail).collect();
    assert_eq!(failed.len(), 1, "{}", r.text);
    assert!(r.reason(failed[0]).contains("nothing within"), "{}", r.text);
    for id in ids {
        assert!(r.reason(id).contains("never answers"), "{}", r.text);
        if id != *failed[0] {
            assert_eq!(r.verdict(id), Verdict::NotRun, "{id}\n{}", r.text);
        }
    }
    assert_eq!(r.report.exit_code, 1);
}

#[test]
fn a_flooding_target_fails_at_once_with_oversize() {
    let fake = Fake::start(flood);
    let r = judge(&fake, &[BASIC, "msg/direct"], vec![Delivery::Whole], 1.0);
    r.failed(BASIC);
    r.failed("msg/direct");
    assert!(r.reason(BASIC).contains("longer than 256 KiB"), "{}", r.text);
}

#[test]
fn an_endless_json_string_fails_with_oversize() {
    let fake = Fake::start(endless_string);
    let r = judge(&fake, &[BASIC], vec![Delivery::Whole], 1.0);
    r.failed(BASIC);
    assert!(r.reason(BASIC).contains("longer than 256 KiB"), "{}", r.text);
}

#[test]
fn a_target_that_drips_one_byte_per_second_fails_and_shows_the_start_of_its_reply() {
    let fake = Fake::start(slow_drip);
    let r = judge(&fake, &[BASIC], vec![Delivery::Whole], 0.5);
    r.failed(BASIC);
    assert!(r.reason(BASIC).contains("only the start of a message"), "{}", r.text);
}

#[test]
fn a_target_that_resets_mid_reply_fails_saying_so() {
    let fake = Fake::start(reset_mid_reply);
    let r = judge(&fake, &[BASIC], vec![Delivery::Whole], 1.0);
    r.failed(BASIC);
    assert!(r.reason(BASIC).contains("in the middle of a message"), "{}", r.text);
}

#[test]
fn a_target_that_closes_at_once_fails_and_is_a_zombie() {
    let fake = Fake::start(instant_close);
    let r = judge(&fake, &[BASIC, MALFORMED], vec![Delivery::Whole], 0.5);
    r.failed(BASIC);
    let reason = r.reason(BASIC);
    assert!(reason.contains("closed") || reason.contains("reset"), "{}", r.text);
    r.not_run_after_zombie(MALFORMED);
}

#[test]
fn a_target_that_dies_on_garbage_is_reported_dead_naming_the_input() {
    let fake = Fake::start(crash_on_garbage);
    let r = judge(&fake, &[BASIC, MALFORMED], vec![Delivery::Whole], 0.5);
    r.passed(BASIC);
    r.failed(MALFORMED);
    let live = r.case(MALFORMED, Delivery::Whole).liveness.clone().unwrap();
    assert_eq!(live.state, LivenessState::Died, "{}", r.text);
    let input = live.input.unwrap_or_default();
    assert!(input.contains("{action: presence}"), "the report names the input: {input}");
}

#[test]
fn a_single_recv_target_passes_whole_and_fails_split_and_trickle_saying_why() {
    let fake = Fake::start(single_recv);
    let modes = vec![Delivery::Whole, Delivery::Split, Delivery::Trickle];
    let r = judge(&fake, &[BASIC, "robustness/two-in-one-write"], modes, 1.0);
    assert!(r.case(BASIC, Delivery::Whole).verdict.passed(), "{}", r.text);
    for mode in [Delivery::Split, Delivery::Trickle] {
        let c = r.case(BASIC, mode);
        assert_eq!(c.verdict, Verdict::Fail, "{}", r.text);
        let note = c.mode_note.as_ref().expect("a failure under a mode explains the mode");
        assert!(note.en.contains("assumes one recv() returns one whole message"), "{}", note.en);
        assert!(note.ru.contains("recv()"), "{}", note.ru);
    }
    r.failed("robustness/two-in-one-write");
    // A failure under a mode the user asked for fails the run (presence/basic is a must).
    assert_eq!(r.report.exit_code, 1);
}

#[test]
fn a_target_that_serves_one_client_at_a_time_fails_the_stalled_client_case() {
    let fake = Fake::start_serial(blocking);
    let r = judge(
        &fake,
        &[BASIC, "robustness/second-client-while-first-stalls"],
        vec![Delivery::Whole],
        0.5,
    );
    r.passed(BASIC);
    r.failed("robustness/second-client-while-first-stalls");
}

/// Peak resident memory of a process in kB (VmHWM), if the OS says.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn the_runner_stays_under_100_mb_while_targets_flood_it() {
    if vm_hwm_kb(std::process::id()).is_none() {
        eprintln!("no /proc/PID/status here: skipping the memory measurement");
        return;
    }
    for (name, behavior) in [("flood", flood as Behavior), ("endless string", endless_string)] {
        let fake = Fake::start(behavior);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jim-conformance"))
            .args(["server", "--host", "127.0.0.1", "--port", &fake.port.to_string()])
            .args(["--profile", "spec", "--timeout", "1", "--deadline", "30", "--jobs", "16"])
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let mut peak = 0;
        let status = loop {
            if let Some(kb) = vm_hwm_kb(child.id()) {
                peak = peak.max(kb);
            }
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(90), "the run did not end");
            std::thread::sleep(Duration::from_millis(20));
        };
        eprintln!(
            "runner peak RSS (VmHWM) against a {name} target: {:.1} MB",
            peak as f64 / 1024.0
        );
        assert_eq!(status.code(), Some(1), "every case fails against a {name} target");
        assert!(peak > 0 && peak < 100 * 1024, "peak RSS {peak} kB with a {name} target");
    }
}

#[test]
fn whole_runs_against_every_broken_target_end_within_their_deadline_with_nothing_passed() {
    let targets: [(&str, Behavior); 6] = [
        ("never-answer", never_answer),
        ("flood", flood),
        ("endless string", endless_string),
        ("slow drip", slow_drip),
        ("instant close", instant_close),
        ("reset mid-reply", reset_mid_reply),
    ];
    std::thread::scope(|scope| {
        for (name, behavior) in targets {
            scope.spawn(move || {
                let fake = Fake::start(behavior);
                let opts = RunOptions {
                    profile: Some("spec".into()),
                    timeout: Duration::from_millis(300),
                    deadline: Duration::from_secs(4),
                    jobs: Some(8),
                    ..RunOptions::default()
                };
                let rt =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let target = TargetSpec::Address { host: "127.0.0.1".into(), port: fake.port };
                let report = rt
                    .block_on(async {
                        tokio::time::timeout(Duration::from_secs(60), run_suite(target, opts)).await
                    })
                    .unwrap_or_else(|_| panic!("the run against the {name} target did not end"))
                    .unwrap();
                assert_eq!(report.exit_code, 1, "{name}");
                assert!(report.cases.len() > 40, "{name}: the whole profile was selected");
                for c in &report.cases {
                    assert!(
                        !c.verdict.passed() && c.verdict != Verdict::UnexpectedPass,
                        "{name}: {} passed",
                        c.id
                    );
                }
            });
        }
    });
}

/// Runs the suite against the embedded reference server.
fn reference(only: &[&str], delivery: Vec<Delivery>) -> Run {
    let opts = RunOptions {
        profile: Some("all".into()),
        only: only.iter().map(|s| (*s).to_owned()).collect(),
        delivery,
        jobs: Some(16),
        deadline: Duration::from_secs(120),
        ..RunOptions::default()
    };
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let report = rt.block_on(run_suite(TargetSpec::embedded(), opts)).unwrap();
    let style = jim_conformance::report::human::Style {
        color: false,
        lang: jim_conformance::i18n::Lang::En,
    };
    let text = jim_conformance::report::human::render(&report, style);
    Run { report, text }
}

#[test]
fn the_reference_server_passes_split_and_trickle_delivery_and_survives_every_robustness_case() {
    // Split: every fixture (destructive ones run whole, each followed by the liveness check).
    // Trickle: a sample (every byte is a write; the full trickle run is measured, not tested).
    let (split, trickle) = std::thread::scope(|scope| {
        let split = scope.spawn(|| reference(&[], vec![Delivery::Split]));
        let trickle = scope.spawn(|| {
            reference(&["presence/*", "*/unicode-raw", "lesson3/*"], vec![Delivery::Trickle])
        });
        (split.join().unwrap(), trickle.join().unwrap())
    });
    for r in [&split, &trickle] {
        assert_eq!(r.report.exit_code, 0, "{}", r.text);
        for c in &r.report.cases {
            assert_eq!(c.verdict, Verdict::Pass, "{}: {}", c.id, r.text);
        }
    }
    let destructive: Vec<_> = split.report.cases.iter().filter(|c| c.liveness.is_some()).collect();
    assert!(destructive.len() >= 19, "{}", split.text);
    for c in destructive {
        let live = c.liveness.as_ref().unwrap();
        assert_eq!(live.state, LivenessState::Survived, "{}: {}", c.id, split.text);
    }
    assert!(split.report.cases.iter().any(|c| c.id == "msg/unicode-raw"));
}
