//! One program of one student, judged by a runner process of its own.
//!
//! Why a process and not a call: the student's program must run in the student's folder (its
//! relative paths, `@accounts.txt`, a `common/` package next to it), and a working directory
//! belongs to a process; a runner that a hostile program wedges or floods takes only itself
//! down, and the per-student deadline is a kill of its whole process group, not a hope that
//! every await point cooperates. The runner is this very binary (`server` or `client` mode,
//! nothing else), and what comes back is its JSON report (`fixtures/schema/report.schema.json`),
//! read into [`ReportView`] with the runner's own vocabularies: a verdict the runner adds is a
//! verdict `grade` reads, and the human text is never parsed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::assignment::{Role, RunSpec};
use super::io_said;
use super::roster::Student;
use super::words::GradeMsg;
use crate::i18n::{Lang, Said};
use crate::model::Text;
use crate::process::{SharedTail, capture, kill_group, spawn_argv, tail_text};
use crate::vocab::{Delivery, Impact, Level, Verdict};

/// Largest runner report read back (transcripts are bounded by the runner; this is a backstop).
const MAX_REPORT_BYTES: u64 = 32 << 20;

/// Time the runner gets past the assignment's deadline to stop the program and write its
/// report, before its whole group is killed.
const GRACE: Duration = Duration::from_secs(20);

/// What became of one program.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The runner judged it.
    Judged {
        /// The runner's report.
        report: Box<ReportView>,
    },
    /// The program could not be started, exited at once, or never listened / connected.
    CannotStart {
        /// One line: what happened.
        line: Text,
        /// The last lines the program printed.
        output: String,
    },
    /// The run took longer than the assignment's deadline and was stopped.
    TimedOut {
        /// The deadline, in seconds.
        seconds: u64,
    },
    /// The run could not be done for a reason that is not the program's behaviour (a roster
    /// that misses what the program needs, a runner that failed).
    NotGraded {
        /// One line: what happened and what to do.
        line: Text,
    },
    /// The roster has no command for this program.
    NoCommand,
}

impl Outcome {
    /// The report, if the runner judged the program.
    pub fn report(&self) -> Option<&ReportView> {
        match self {
            Self::Judged { report } => Some(report),
            _ => None,
        }
    }

    /// True when the outcome says something stable about the code or the roster (worth
    /// caching): a report, or no command. A timeout, a runner failure or a program that did
    /// not start may be the machine's (a server that did not listen within 10 s on a loaded
    /// machine) and is tried again; it costs one start.
    pub fn is_cacheable(&self) -> bool {
        matches!(self, Self::Judged { .. } | Self::NoCommand)
    }
}

/// The part of the runner's JSON report that grading reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportView {
    /// The report format (`jim-conformance/report/v1`).
    pub schema: String,
    /// The profile in force.
    pub profile: ProfileView,
    /// One result per case (and delivery mode), in run order.
    pub cases: Vec<CaseView>,
    /// The runner's exit code.
    pub exit_code: i32,
    /// Why that exit code.
    #[serde(default)]
    pub exit_reason: String,
    /// Wall time of the run.
    #[serde(default)]
    pub duration_ms: u64,
    /// Restarts and deaths of the target.
    #[serde(default)]
    pub events: Vec<String>,
    /// The last lines a spawned server printed.
    #[serde(default)]
    pub target_output: Option<String>,
    /// Totals; grading reads only `root_cause` (the one line of a run that ended early).
    #[serde(default)]
    pub summary: serde_json::Value,
    /// The Russian of the runner's texts above, keyed by their English.
    #[serde(default)]
    pub ru: std::collections::BTreeMap<String, String>,
}

impl ReportView {
    /// A runner's text of this report (a reason, a why line, an event) in `lang`: its Russian
    /// from `ru`, else as written.
    pub fn said<'a>(&'a self, en: &'a str, lang: Lang) -> &'a str {
        match lang {
            Lang::Ru => self.ru.get(en).map_or(en, String::as_str),
            Lang::En => en,
        }
    }
}

/// The profile, as the report names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileView {
    /// Its name.
    pub name: String,
}

/// One case result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseView {
    /// Fixture id.
    pub id: String,
    /// Fixture title.
    #[serde(default)]
    pub title: String,
    /// Level in force.
    pub level: Level,
    /// Delivery mode.
    pub delivery: Delivery,
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// Effect on the run.
    pub impact: Impact,
    /// The failing step.
    #[serde(default)]
    pub failure: Option<FailureView>,
    /// The hint, in both languages.
    #[serde(default)]
    pub hint: Text,
    /// What went over the wire.
    #[serde(default)]
    pub transcript: Vec<LineView>,
    /// Client mode: how the process ended and what it printed.
    #[serde(default)]
    pub process: Option<ProcessView>,
}

impl CaseView {
    /// The name a gradebook shows: the id, with the delivery mode when it is not whole.
    pub fn name(&self) -> String {
        if self.delivery == Delivery::Whole {
            self.id.clone()
        } else {
            format!("{} [{}]", self.id, self.delivery.as_str())
        }
    }

    /// True when the case earns its points.
    pub fn earns(&self) -> bool {
        self.verdict.passed()
    }
}

/// The failing step of a case.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FailureView {
    /// What was expected (patterns).
    #[serde(default)]
    pub expected: Vec<Value>,
    /// What arrived instead.
    #[serde(default)]
    pub arrived: Value,
    /// Each difference, in words.
    #[serde(default)]
    pub mismatches: Vec<String>,
    /// Commands that reproduce the failure by hand.
    #[serde(default)]
    pub reproduce: Vec<String>,
}

/// One transcript line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LineView {
    /// Milliseconds since the case started.
    #[serde(default)]
    pub ms: u64,
    /// Connection name.
    #[serde(default)]
    pub conn: String,
    /// `>` sent, `<` received, `*` event.
    #[serde(default)]
    pub dir: String,
    /// What.
    #[serde(default)]
    pub text: String,
}

/// A client process, as the client-mode report describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessView {
    /// The command.
    #[serde(default)]
    pub command: String,
    /// How it ended.
    #[serde(default)]
    pub exit: String,
    /// Its last output lines.
    #[serde(default)]
    pub stdout: String,
    /// Its last error lines.
    #[serde(default)]
    pub stderr: String,
}

/// What one runner invocation needs.
#[derive(Debug, Clone)]
pub struct Job {
    /// The student.
    pub student: Arc<Student>,
    /// Which program.
    pub role: Role,
    /// How it is run.
    pub spec: RunSpec,
    /// The program's deadline.
    pub deadline: Duration,
    /// Language of the reports.
    pub lang: Lang,
    /// The runner binary.
    pub runner: PathBuf,
    /// `--fixtures` for the runner (None: its built-in suite).
    pub fixtures: Option<PathBuf>,
    /// Where the runner writes its JSON report.
    pub report_path: PathBuf,
}

impl Job {
    /// The student's command for this role.
    pub fn command(&self) -> Option<&str> {
        match self.role {
            Role::Server => self.student.server.as_deref(),
            Role::Client => self.student.client.as_deref(),
        }
    }

    /// The runner's arguments.
    pub fn args(&self, command: &str) -> Vec<String> {
        let mut a: Vec<String> = vec![
            self.role.as_str().into(),
            "--spawn".into(),
            command.into(),
            "--profile".into(),
            self.spec.profile.clone(),
            "--timeout".into(),
            self.spec.timeout.to_string(),
            "--deadline".into(),
            self.deadline.as_secs_f64().to_string(),
            "--delivery".into(),
            self.spec.delivery.join(","),
            "--lang".into(),
            match self.lang {
                Lang::En => "en".into(),
                Lang::Ru => "ru".into(),
            },
            "--json".into(),
            self.report_path.display().to_string(),
        ];
        if self.spec.strict {
            a.push("--strict".into());
        }
        if let Some(name) = &self.spec.name {
            a.extend(["--name".into(), name.clone()]);
        }
        if let Some(fixtures) = &self.fixtures {
            a.extend(["--fixtures".into(), fixtures.display().to_string()]);
        }
        if self.role == Role::Client {
            if let Some(stdin) = &self.spec.stdin {
                a.extend(["--stdin".into(), stdin.clone()]);
            }
        }
        if self.role == Role::Server && !self.student.accounts.is_empty() {
            // The whole pool: every case that logs in draws its own accounts from it.
            a.extend(["--accounts".into(), self.accounts_path().display().to_string()]);
        }
        a
    }

    /// Where the student's accounts are written for `--accounts` (next to the report).
    fn accounts_path(&self) -> PathBuf {
        self.report_path.with_extension("accounts.txt")
    }

    /// Writes the student's accounts as `name:password` lines for `--accounts`.
    fn write_accounts(&self) -> std::io::Result<()> {
        if self.role != Role::Server || self.student.accounts.is_empty() {
            return Ok(());
        }
        let text: String =
            self.student.accounts.iter().map(|(n, p)| format!("{n}:{p}\n")).collect();
        std::fs::write(self.accounts_path(), text)
    }
}

/// Runs one job to its outcome. Never fails: whatever happens becomes an [`Outcome`].
pub async fn run(job: &Job) -> Outcome {
    let Some(command) = job.command() else { return Outcome::NoCommand };
    let _ = std::fs::remove_file(&job.report_path);
    if let Err(e) = job.write_accounts() {
        let path = job.accounts_path().display().to_string();
        return not_graded(GradeMsg::AccountsUnwritable { path, error: io_said(&e) });
    }
    let args = job.args(command);
    let mut child = match spawn_argv(&job.runner, &args, &job.student.folder) {
        Ok(c) => c,
        Err(e) => {
            let path = job.runner.display().to_string();
            return not_graded(GradeMsg::RunnerUnstartable { path, error: io_said(&e) });
        }
    };
    let stderr: SharedTail = Arc::default();
    let stdout: SharedTail = Arc::default();
    let mut readers = Vec::new();
    if let Some(err) = child.stderr.take() {
        readers.push(capture(err, Arc::clone(&stderr), ""));
    }
    if let Some(out) = child.stdout.take() {
        readers.push(capture(out, Arc::clone(&stdout), ""));
    }
    let limit = job.deadline + GRACE;
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            kill_group(&mut child).await;
            return not_graded(GradeMsg::RunnerLost { error: io_said(&e) });
        }
        Err(_) => {
            kill_group(&mut child).await;
            return Outcome::TimedOut { seconds: job.deadline.as_secs() };
        }
    };
    // The runner has exited; its pipes close once the programs it started are gone too.
    kill_group(&mut child).await;
    for r in readers {
        let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
    }
    if let Some(report) = read_report(&job.report_path) {
        if report.exit_code == 3 && report.cases.is_empty() {
            // The program cannot start (or nothing listens): the runner's one line.
            let cause = &report.summary["root_cause"];
            let en = cause["en"].as_str().unwrap_or(&report.exit_reason);
            let ru = cause["ru"].as_str().unwrap_or_else(|| report.said(en, Lang::Ru));
            let output = report.target_output.clone().unwrap_or_default();
            return cannot_start(without_ports_text(en, ru), output);
        }
        return Outcome::Judged { report: Box::new(report) };
    }
    let err = tail_text(&stderr);
    // The runner speaks the class's language on its standard error: its line is that text in
    // both slots.
    let line = match err.lines().find(|l| !l.trim().is_empty()) {
        Some(l) => {
            let l = without_ports(l.trim_start_matches("jim-conformance: "));
            Text { en: l.clone(), ru: l }
        }
        None => Said::of(&GradeMsg::NoReport { status: crate::i18n::exit_status(status) }).text(),
    };
    match status.code() {
        Some(3) => cannot_start(
            line,
            err.split_once("its output:\n").map(|(_, o)| o.to_owned()).unwrap_or_default(),
        ),
        _ => Outcome::NotGraded { line },
    }
}

/// A program that did not start: the runner's line with the program's last line (its
/// exception) quoted in it.
fn cannot_start(line: Text, output: String) -> Outcome {
    let line = match super::last_line(&output) {
        Some(last) => {
            Text { en: super::quoting(&line.en, &last), ru: super::quoting(&line.ru, &last) }
        }
        None => line,
    };
    Outcome::CannotStart { line, output }
}

fn not_graded(message: GradeMsg) -> Outcome {
    Outcome::NotGraded { line: Said::of(&message).text() }
}

fn read_report(path: &Path) -> Option<ReportView> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MAX_REPORT_BYTES).read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// `line` with the free port the runner picked replaced by `{port}`, so that the same program
/// gets the same line on every run (and a cache key is not needed to compare two runs).
pub fn without_ports(line: &str) -> String {
    without_ports_of(line, line)
}

/// An English line and its Russian, each without the ports the English names.
pub fn without_ports_text(en: &str, ru: &str) -> Text {
    Text { en: without_ports(en), ru: without_ports_of(en, ru) }
}

/// `line` with the ports that `named_in` names replaced by `{port}` (the Russian of a line
/// says "порт" where the English says "port": the numbers are the English line's).
fn without_ports_of(named_in: &str, line: &str) -> String {
    static PORT: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\bport (\d{2,5})\b|(?:127\.0\.0\.1|localhost|\[::1\]):(\d{2,5})\b").ok()
    });
    let Some(re) = PORT.as_ref() else { return line.to_owned() };
    let ports: std::collections::BTreeSet<&str> = re
        .captures_iter(named_in)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)).map(|m| m.as_str()))
        .collect();
    let mut out = line.to_owned();
    for p in ports {
        if let Ok(word) = regex::Regex::new(&format!(r"\b{p}\b")) {
            out = word.replace_all(&out, "{port}").into_owned();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_picked_port_leaves_the_line() {
        assert_eq!(
            without_ports("`python3 server.py -p 35319` exited before listening on port 35319: X"),
            "`python3 server.py -p {port}` exited before listening on port {port}: X"
        );
        assert_eq!(
            without_ports("connection refused: server down? (127.0.0.1:33867)"),
            "connection refused: server down? (127.0.0.1:{port})"
        );
        assert_eq!(without_ports("step 2: nothing within 2 s"), "step 2: nothing within 2 s");
        let t = without_ports_text(
            "`python3 s.py -p 35319` exited before listening on port 35319",
            "`python3 s.py -p 35319` завершился, не начав слушать порт 35319",
        );
        assert_eq!(t.ru, "`python3 s.py -p {port}` завершился, не начав слушать порт {port}");
    }
}
