//! `jim-conformance grade`: a class in one command.
//!
//! A teacher has a roster (who, where their code is, how to start it) and an assignment (a fixed
//! profile per program and points per case group, as data). `grade` judges every student's
//! server and client with bounded parallelism, each program by a runner process of its own in
//! the student's folder with a deadline ([`student`]), turns the reports into points
//! ([`assignment`]: only a pass earns), and writes what a teacher hands on: an HTML class page
//! and a page per student ([`html`]), a CSV for the gradebook, a Gradescope `results.json` and a
//! GitHub Classroom result per student ([`outputs`]). A cache ([`cache`]) keyed by the student's
//! files, the suite, the assignment and the runner makes a re-run judge only what changed.
//!
//! Grades are facts about the code: the same files give the same verdicts (the runner's
//! promise), the students are listed in roster order whatever finished first, and a timeout, a
//! crash or a program that cannot start earns nothing and says so in one line.

pub mod assignment;
pub mod cache;
pub mod html;
pub mod outputs;
pub mod roster;
pub mod student;
pub mod words;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use self::assignment::{Assignment, AssignmentError, Group, Role};
use self::cache::{Cache, ClassKey, folder_digest};
use self::roster::{Roster, RosterError, Student};
use self::student::{Job, Outcome};
use crate::i18n::{Lang, Said};
use crate::model::Text;
use crate::suite::{Suite, SuiteError};
use crate::vocab::{Impact, Verdict};

/// What `grade` needs.
#[derive(Debug, Clone)]
pub struct GradeOptions {
    /// The roster file (CSV or TOML).
    pub roster: PathBuf,
    /// A built-in assignment name or a TOML file.
    pub assignment: String,
    /// The output directory.
    pub out: PathBuf,
    /// Programs judged at once.
    pub jobs: usize,
    /// The cache directory (None: no cache).
    pub cache: Option<PathBuf>,
    /// Language of the pages and the runner's reports.
    pub lang: Lang,
    /// The runner binary (this program).
    pub runner: PathBuf,
    /// A fixture directory instead of the built-in suite.
    pub fixtures: Option<PathBuf>,
    /// Only these student ids (empty: everybody).
    pub only: Vec<String>,
}

/// Why a class cannot be graded at all (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    /// The roster is unusable.
    #[error(transparent)]
    Roster(#[from] RosterError),
    /// The assignment is unusable.
    #[error(transparent)]
    Assignment(#[from] AssignmentError),
    /// The suite does not load.
    #[error(transparent)]
    Suite(#[from] SuiteError),
    /// An output cannot be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        message: Said,
    },
    /// `--only` names nobody.
    #[error("--only {0}: no such student in the roster")]
    NoSuchStudent(String),
}

/// One group's points for one student.
#[derive(Debug, Clone, Serialize)]
pub struct GroupScore {
    /// The group's id.
    pub group: String,
    /// Points earned (rounded to 0.01).
    pub points: f64,
    /// Points the group is worth.
    pub max: f64,
    /// Cases that earned.
    pub passed: usize,
    /// Cases of the group in the report.
    pub total: usize,
}

/// One program's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RoleResult {
    /// Which program.
    pub role: Role,
    /// What became of it.
    pub outcome: Outcome,
    /// Taken from the cache.
    pub cached: bool,
    /// The files, command and accounts are identical to this earlier student's program, so it
    /// was judged once for both (None: judged as itself).
    pub same_as: Option<String>,
}

/// The first thing a student should fix.
#[derive(Debug, Clone, Serialize)]
pub struct FirstFailure {
    /// Which program.
    pub role: Role,
    /// The case (with its delivery mode), or None for a program that did not run.
    pub case: Option<String>,
    /// One line: what happened (`grades.json` carries its English).
    pub line: Said,
    /// The case's hint, when there is one.
    pub hint: Option<Text>,
}

impl FirstFailure {
    /// One line: "server lesson3/presence: step 2: nothing within 2 s".
    pub fn summary(&self, lang: Lang) -> String {
        let role = self.role.word(lang);
        match &self.case {
            Some(c) => format!("{role} {c}: {}", self.line.get(lang)),
            None => format!("{role}: {}", self.line.get(lang)),
        }
    }
}

/// One student's grade.
#[derive(Debug, Clone, Serialize)]
pub struct StudentResult {
    /// The roster entry.
    #[serde(skip)]
    pub student: Arc<Student>,
    /// The student's id.
    pub id: String,
    /// Per program.
    pub roles: Vec<RoleResult>,
    /// Per group, in the assignment's order.
    pub groups: Vec<GroupScore>,
    /// Points earned.
    pub points: f64,
    /// Points possible.
    pub max_points: f64,
    /// What to fix first (None: nothing failed).
    pub first_failure: Option<FirstFailure>,
}

impl StudentResult {
    /// The outcome of `role`, if it was graded.
    pub fn role(&self, role: Role) -> Option<&RoleResult> {
        self.roles.iter().find(|r| r.role == role)
    }
}

/// The whole class.
#[derive(Debug, Clone)]
pub struct ClassResult {
    /// The assignment.
    pub assignment: Assignment,
    /// The roster file.
    pub roster: PathBuf,
    /// Students in roster order.
    pub students: Vec<StudentResult>,
    /// Wall time.
    pub duration: Duration,
    /// Distinct programs judged in this run (not from the cache).
    pub judged: usize,
    /// Distinct programs taken from the cache.
    pub cached: usize,
    /// Language of the pages.
    pub lang: Lang,
    /// Every fixture's title in both languages (the runners' JSON reports carry English).
    pub titles: std::collections::BTreeMap<String, Text>,
}

/// A program finished (for a progress bar).
#[derive(Debug, Clone)]
pub struct Progress {
    /// Programs finished so far.
    pub done: usize,
    /// Programs in all.
    pub total: usize,
    /// Who.
    pub student: String,
    /// Which program.
    pub role: Role,
}

pub(crate) fn io_said(e: &std::io::Error) -> Said {
    Said::each(|lang| jim_text::io_error(e, lang))
}

/// `path` made absolute against the current directory (not resolved: symlinks stay).
fn absolute(path: &Path) -> Result<PathBuf, GradeError> {
    std::path::absolute(path)
        .map_err(|e| GradeError::Write { path: path.display().to_string(), message: io_said(&e) })
}

/// Grades the class; `progress` is called as each program finishes.
pub async fn grade(
    opts: &GradeOptions,
    progress: Arc<dyn Fn(Progress) + Send + Sync>,
) -> Result<ClassResult, GradeError> {
    let started = Instant::now();
    let suite = match &opts.fixtures {
        Some(d) => Suite::from_dir(d)?,
        None => Suite::embedded()?,
    };
    let assignment = Assignment::load(&opts.assignment, &suite)?;
    let mut roster: Roster = roster::load(&opts.roster)?;
    for id in &opts.only {
        if !roster.students.iter().any(|s| &s.id == id) {
            return Err(GradeError::NoSuchStudent(id.clone()));
        }
    }
    if !opts.only.is_empty() {
        roster.students.retain(|s| opts.only.contains(&s.id));
    }
    // Each runner works in its student's folder: every path handed to it must be absolute, or
    // a relative `--out` (what a teacher types) sends its report into the student's folder.
    let work = absolute(&opts.out.join(".work"))?;
    let fixtures = match &opts.fixtures {
        Some(d) => Some(absolute(d)?),
        None => None,
    };
    std::fs::create_dir_all(&work).map_err(|e| GradeError::Write {
        path: work.display().to_string(),
        message: io_said(&e),
    })?;
    let class_key = ClassKey::new(&opts.runner, &suite.files, &assignment.source);
    let cache = Cache::new(opts.cache.clone());
    let deadline = Duration::from_secs_f64(assignment.deadline);

    let mut jobs = Vec::new();
    for (i, student) in roster.students.iter().enumerate() {
        let student = Arc::new(student.clone());
        let digest = folder_digest(&student.folder);
        for role in Role::ALL {
            let Some(spec) = assignment.run_spec(role) else { continue };
            let job = Job {
                student: Arc::clone(&student),
                role,
                spec: spec.clone(),
                deadline,
                lang: opts.lang,
                runner: opts.runner.clone(),
                fixtures: fixtures.clone(),
                report_path: work.join(format!("{}-{}.json", student.id, role.as_str())),
            };
            let key = class_key.job_key(&job, &digest);
            jobs.push((i, job, key));
        }
    }
    // Identical programs (same files, command, accounts) are judged once and share the
    // outcome: copied code gets the same verdicts by construction, and a class of copies costs
    // one run per distinct program.
    let mut first_of_key: std::collections::BTreeMap<String, usize> = Default::default();
    let mut runs: Vec<(Job, String)> = Vec::new();
    let mut slots: Vec<(usize, Role, usize)> = Vec::with_capacity(jobs.len());
    for (i, job, key) in jobs {
        let run = *first_of_key.entry(key.clone()).or_insert_with(|| {
            runs.push((job.clone(), key.clone()));
            runs.len() - 1
        });
        slots.push((i, job.role, run));
    }
    let total = runs.len();
    let permits = Arc::new(tokio::sync::Semaphore::new(opts.jobs.max(1)));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for (n, (job, key)) in runs.iter().cloned().enumerate() {
        let permits = Arc::clone(&permits);
        let cache = cache.clone();
        let progress = Arc::clone(&progress);
        let done = Arc::clone(&done);
        set.spawn(async move {
            let (outcome, cached) = match cache.get(&key) {
                Some(o) => (o, true),
                None => {
                    let _permit = permits.acquire_owned().await;
                    let o = student::run(&job).await;
                    cache.put(&key, &o);
                    (o, false)
                }
            };
            let finished = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            progress(Progress {
                done: finished,
                total,
                student: job.student.id.clone(),
                role: job.role,
            });
            (n, outcome, cached)
        });
    }
    let mut outcomes: Vec<Option<(Outcome, bool)>> = vec![None; total];
    while let Some(joined) = set.join_next().await {
        if let Ok((n, outcome, cached)) = joined {
            if let Some(slot) = outcomes.get_mut(n) {
                *slot = Some((outcome, cached));
            }
        }
    }
    let judged = outcomes.iter().flatten().filter(|(_, c)| !c).count();
    let cached = outcomes.iter().flatten().filter(|(_, c)| *c).count();
    let results: Vec<(usize, RoleResult)> = slots
        .into_iter()
        .map(|(i, role, run)| {
            let (outcome, cached) = outcomes.get(run).cloned().flatten().unwrap_or_else(|| {
                let line = Said::of(&words::GradeMsg::TaskLost).text();
                (Outcome::NotGraded { line }, false)
            });
            let same_as = runs
                .get(run)
                .map(|(job, _)| job.student.id.clone())
                .filter(|id| roster.students.get(i).is_some_and(|s| &s.id != id));
            (i, RoleResult { role, outcome, cached, same_as })
        })
        .collect();
    let mut students = Vec::with_capacity(roster.students.len());
    for (i, student) in roster.students.iter().enumerate() {
        let roles: Vec<RoleResult> =
            results.iter().filter(|(j, _)| *j == i).map(|(_, r)| r.clone()).collect();
        students.push(score(Arc::new(student.clone()), roles, &assignment));
    }
    Ok(ClassResult {
        assignment,
        roster: opts.roster.clone(),
        students,
        duration: started.elapsed(),
        judged,
        cached,
        lang: opts.lang,
        titles: suite.fixtures.iter().map(|f| (f.id.clone(), f.title.clone())).collect(),
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The points of one group from one program's outcome: its share per case that earns.
pub fn group_score(group: &Group, outcome: Option<&Outcome>) -> GroupScore {
    let cases: Vec<_> = outcome
        .and_then(Outcome::report)
        .map(|r| r.cases.iter().filter(|c| group.matches(&c.id)).collect())
        .unwrap_or_default();
    let passed = cases.iter().filter(|c| c.earns()).count();
    let total = cases.len();
    let points = if total == 0 { 0.0 } else { round2(group.points * passed as f64 / total as f64) };
    GroupScore { group: group.id.clone(), points, max: group.points, passed, total }
}

/// A student's grade from the outcomes of their programs.
pub fn score(
    student: Arc<Student>,
    roles: Vec<RoleResult>,
    assignment: &Assignment,
) -> StudentResult {
    let groups: Vec<GroupScore> = assignment
        .groups
        .iter()
        .map(|g| group_score(g, roles.iter().find(|r| r.role == g.role).map(|r| &r.outcome)))
        .collect();
    let points = round2(groups.iter().map(|g| g.points).sum());
    let first_failure = first_failure(&roles, assignment);
    StudentResult {
        id: student.id.clone(),
        student,
        roles,
        groups,
        points,
        max_points: assignment.max_points(),
        first_failure,
    }
}

/// What to fix first: a program that did not run; else the first case that fails the run; else
/// the first graded case that did not earn.
fn first_failure(roles: &[RoleResult], assignment: &Assignment) -> Option<FirstFailure> {
    for r in roles {
        let line = match &r.outcome {
            Outcome::CannotStart { line, .. } => line.clone().into(),
            Outcome::TimedOut { seconds } => {
                Said::of(&words::GradeMsg::TimedOut { role: r.role, seconds: *seconds })
            }
            Outcome::NotGraded { line } => line.clone().into(),
            Outcome::NoCommand => Said::of(&words::GradeMsg::NoCommand { role: r.role }),
            Outcome::Judged { .. } => continue,
        };
        return Some(FirstFailure { role: r.role, case: None, line, hint: None });
    }
    // A case not run (the deadline, a target down) earns nothing but is no failure: it is
    // named only when nothing graded failed.
    let pick = |want: u8| {
        roles.iter().find_map(|r| {
            let report = r.outcome.report()?;
            report
                .cases
                .iter()
                .find(|c| {
                    let graded = assignment.group_of(r.role, &c.id).is_some();
                    let not_run = c.verdict == Verdict::NotRun;
                    match want {
                        0 => c.impact == Impact::Failure,
                        1 => graded && !c.earns() && !not_run,
                        _ => graded && not_run,
                    }
                })
                .map(|c| {
                    let en = c.reason.as_deref().unwrap_or_else(|| c.verdict.as_str());
                    let line = student::without_ports_text(en, report.said(en, Lang::Ru));
                    FirstFailure {
                        role: r.role,
                        case: Some(c.name()),
                        line: line.into(),
                        hint: Some(c.hint.clone()),
                    }
                })
        })
    };
    pick(0).or_else(|| pick(1)).or_else(|| pick(2))
}

/// `line` with the program's `last` line in it quoted as code (the runner's line often ends
/// with it already), else with it added: the program's words (its exception) are data in a
/// Russian sentence, as a command is.
pub fn quoting(line: &str, last: &str) -> String {
    let quoted = format!("`{last}`");
    if line.contains(&quoted) {
        line.to_owned()
    } else if line.contains(last) {
        line.replacen(last, &quoted, 1)
    } else {
        format!("{line}: {quoted}")
    }
}

/// The last non-empty line of a program's output (the exception of a traceback).
pub fn last_line(output: &str) -> Option<String> {
    output
        .lines()
        .rev()
        .map(|l| l.trim_start_matches("[err] ").trim_start_matches("[out] ").trim())
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

/// Writes every output of a graded class into `out`; the files written.
pub fn write_outputs(
    class: &ClassResult,
    out: &std::path::Path,
) -> Result<Vec<PathBuf>, GradeError> {
    let mut written = Vec::new();
    let mut put = |rel: String, text: String| -> Result<(), GradeError> {
        let path = out.join(&rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| GradeError::Write {
                path: dir.display().to_string(),
                message: io_said(&e),
            })?;
        }
        std::fs::write(&path, text).map_err(|e| GradeError::Write {
            path: path.display().to_string(),
            message: io_said(&e),
        })?;
        written.push(path);
        Ok(())
    };
    put("index.html".into(), html::class_page(class))?;
    for s in &class.students {
        put(format!("students/{}.html", s.id), html::student_page(class, s))?;
        put(format!("gradescope/{}/results.json", s.id), outputs::gradescope(class, s))?;
        put(format!("classroom/{}.json", s.id), outputs::classroom(class, s))?;
    }
    put("grades.csv".into(), outputs::csv(class))?;
    put("grades.json".into(), outputs::summary_json(class))?;
    Ok(written)
}
