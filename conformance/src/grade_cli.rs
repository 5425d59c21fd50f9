//! `jim-conformance grade`: the command line of [`jim_conformance::grade`]. Parses the options,
//! grades with a progress bar, writes the outputs, and prints one line per student (with the
//! first thing to fix) and where the pages are.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use jim_conformance::grade::words::GradeMsg;
use jim_conformance::grade::{self, GradeOptions, Progress};
use jim_conformance::i18n::Lang;

use crate::progress::CaseBar;

/// Options of `grade`.
#[derive(Args, Debug)]
pub struct GradeArgs {
    /// The roster: CSV (header id,name,folder,server,client,accounts) or TOML ([[student]]
    /// tables); folders are relative to the roster file.
    #[arg(long, value_name = "FILE")]
    roster: PathBuf,
    /// The assignment: a built-in name (lesson3, messenger) or a TOML file (format: README,
    /// "Grade a class").
    #[arg(long, value_name = "NAME|FILE")]
    assignment: String,
    /// Output directory (created; existing outputs are replaced).
    #[arg(long, value_name = "DIR", default_value = "jim-grades")]
    out: PathBuf,
    /// Programs judged at once (default: the number of CPU cores). Each is a runner process
    /// with a student's program; more than the cores makes slow programs miss their timeouts.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Cache directory (default: OUT/.cache): a program whose files, suite, assignment and
    /// runner did not change is not judged again.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache: Option<PathBuf>,
    /// Judge every program again (and keep nothing).
    #[arg(long)]
    no_cache: bool,
    /// Only this student (repeatable).
    #[arg(long, value_name = "ID")]
    only: Vec<String>,
    /// Language of the pages and reports: en or ru (default: from the locale).
    #[arg(long, value_name = "LANG")]
    lang: Option<String>,
    /// Fixture directory (default: the suite built into this binary).
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
}

/// Runs `grade`; the exit code.
pub async fn grade(a: GradeArgs) -> i32 {
    match run(a).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jim-conformance grade: {e:#}");
            2
        }
    }
}

async fn run(a: GradeArgs) -> anyhow::Result<i32> {
    let lang = match &a.lang {
        Some(l) => Lang::parse(l).ok_or_else(|| anyhow::anyhow!("--lang {l}: use en or ru"))?,
        None => Lang::from_env(),
    };
    let jobs = a.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get).min(8)
    });
    if jobs == 0 || jobs > 64 {
        anyhow::bail!(
            lang.pick("--jobs must be between 1 and 64", "--jobs должно быть от 1 до 64")
        );
    }
    let runner = std::env::current_exe().map_err(|e| {
        let e = jim_text::io_error(&e, lang);
        anyhow::anyhow!(lang.either(
            format!("cannot find this program's own path to run students: {e}"),
            format!("не удаётся найти путь к этой программе, чтобы проверять студентов: {e}"),
        ))
    })?;
    let cache = if a.no_cache {
        None
    } else {
        Some(a.cache.clone().unwrap_or_else(|| a.out.join(".cache")))
    };
    let opts = GradeOptions {
        roster: a.roster.clone(),
        assignment: a.assignment.clone(),
        out: a.out.clone(),
        jobs,
        cache,
        lang,
        runner,
        fixtures: a.fixtures.clone(),
        only: a.only.clone(),
    };
    let bar = Arc::new(CaseBar::start_with(
        None,
        lang.pick(
            "{spinner} {pos} program(s) judged · {elapsed} · {msg}",
            "{spinner} проверено программ: {pos} · {elapsed} · {msg}",
        ),
    ));
    let on_progress = {
        let bar = Arc::clone(&bar);
        Arc::new(move |p: Progress| {
            bar.message(format!("{}/{} · {} {}", p.done, p.total, p.student, p.role.word(lang)));
            bar.case_done(|| {});
        })
    };
    let class = grade::grade(&opts, on_progress).await;
    bar.finish();
    // Why a class cannot be graded, in the class's language.
    let said = |e: grade::GradeError| anyhow::anyhow!(lang.say(&e));
    let class = class.map_err(said)?;
    let written = grade::write_outputs(&class, &a.out).map_err(said)?;
    let mut out = std::io::stdout().lock();
    let mut not_graded = false;
    let width = class.students.iter().map(|s| s.id.chars().count()).max().unwrap_or(2);
    for s in &class.students {
        let fix = s.first_failure.as_ref().map_or_else(|| "—".to_owned(), |f| f.summary(lang));
        not_graded |=
            s.roles.iter().any(|r| matches!(r.outcome, grade::student::Outcome::NotGraded { .. }));
        let _ = writeln!(out, "{:<width$}  {:>6}/{:<4} {}", s.id, s.points, s.max_points, fix);
    }
    let totals = GradeMsg::Totals {
        students: class.students.len(),
        judged: class.judged,
        cached: class.cached,
        seconds: class.duration.as_secs_f64(),
    };
    let _ = writeln!(out, "\n{}", lang.say(&totals));
    let page = GradeMsg::ClassPage {
        page: a.out.join("index.html").display().to_string(),
        files: written.len(),
        dir: a.out.display().to_string(),
    };
    let _ = writeln!(out, "{}", lang.say(&page));
    Ok(if not_graded { 1 } else { 0 })
}
