//! `jim-conformance`: the command line. Parses options, runs the suite against a server or a
//! client (or lints it, or load-checks a server), prints the report, writes JSON/JUnit files,
//! and exits with 0 (all required cases pass), 1 (failures), 2 (usage or fixture error) or 3
//! (target unreachable: a server that is down, a client that cannot be started or never
//! connects).

mod cli_help;
mod grade_cli;
mod load_cli;
mod progress;
mod target_args;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use jim_conformance::i18n::{Lang, LangExt as _, Said};
use jim_conformance::report::human::{self, Style};
use jim_conformance::run::{
    ClientOptions, Mode, Run, RunOptions, ServerOptions, Session, parse_known_failures,
};
use jim_conformance::suite::Suite;
use jim_conformance::vocab::Capability;
use jim_conformance::wire::Delivery;
use jim_conformance::{ClientSession, RunError};
use jim_protocol::Framing;
use jim_text::Localized as _;

#[derive(Parser, Debug)]
#[command(
    name = "jim-conformance",
    version,
    about = "Judge a JIM server by host and port: replays the fixture suite and explains every failure."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the suite against a server (no target: the embedded reference server).
    #[command(after_help = cli_help::SERVER)]
    Server(Box<ServerArgs>),
    /// Run the client suite against a client: the runner plays the server on 127.0.0.1 and
    /// starts the client once per case.
    #[command(after_help = cli_help::CLIENT)]
    Client(Box<ClientArgs>),
    /// Grade a class: every student's server and client from a roster, points per case group
    /// from an assignment; writes an HTML class page, a page per student, a CSV, Gradescope
    /// and GitHub Classroom results.
    #[command(after_help = cli_help::GRADE)]
    Grade(Box<grade_cli::GradeArgs>),
    /// A bounded load check of a server: N held connections, direct relay between pairs and
    /// room fan-out with a window in flight; reports what was held, delivered and lost,
    /// throughput, latency, and whether the target survived.
    Load(Box<load_cli::LoadArgs>),
    /// Model-based exploration: seeded random sessions of 2-6 clients judged against a model of
    /// JIM's obligations; a failure is shrunk to a few steps, told in words, with a Python
    /// script and jim-client commands that reproduce it.
    #[command(after_help = cli_help::EXPLORE)]
    Explore(Box<ExploreCmd>),
    /// Check every fixture and profile (schema, ids, citations, placeholders, reachability).
    Lint {
        /// Fixture directory (default: the suite built into this binary).
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    #[command(after_help = cli_help::COMPLETIONS)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout: `jim-conformance man > jim-conformance.1`.
    Man,
}

#[derive(Args, Debug)]
struct ServerArgs {
    #[command(flatten)]
    target: target_args::TargetArgs,
    /// Profile: auto (decided by a preflight), lesson3, spec, course, all.
    #[arg(long, default_value = "auto")]
    profile: String,
    /// An existing account (runs the authenticate / course-login fixtures).
    #[arg(long)]
    user: Option<String>,
    /// Its password.
    #[arg(long)]
    password: Option<String>,
    /// Registered accounts to log in with, for a server that admits only the users of its
    /// database (the course-final server): a file of name:password lines (# comments). Every
    /// case that logs in draws its own accounts from it; --user/--password is one more entry.
    #[arg(long, value_name = "FILE")]
    accounts: Option<PathBuf>,
    /// An existing account that is not connected (runs the 410 fixture).
    #[arg(long, value_name = "NAME")]
    offline_user: Option<String>,
    /// Declare that the target has this optional capability: its cases must pass instead of
    /// being reported unimplemented (repeatable): rooms, contacts, users, auth, course-login,
    /// pubkey, push-205.
    #[arg(long, value_name = "CAP")]
    expect: Vec<String>,
    /// Account name for one-shot/lesson-3 presence (default Guest for lesson 3).
    #[arg(long)]
    name: Option<String>,
    /// Random multi-client sessions explored after the fixture cases, judged against a model of
    /// the protocol (cases explore/...); 0 switches exploration off.
    #[arg(long, value_name = "N", default_value_t = jim_conformance::explore::Budget::default().sessions)]
    explore_sessions: usize,
    /// The exploration's seed: the same seed against the same server gives the same sessions.
    #[arg(long, default_value_t = jim_conformance::explore::DEFAULT_SEED)]
    seed: u64,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct ExploreCmd {
    #[command(flatten)]
    target: target_args::TargetArgs,
    #[command(flatten)]
    explore: jim_conformance::explore::cli::ExploreArgs,
}

#[derive(Args, Debug)]
struct ClientArgs {
    /// The client command; {host} and {port} become the runner's address (a new port per
    /// case), {name} the --name. Example: "python3 client.py {host} {port}".
    #[arg(long, value_name = "CMD")]
    spawn: String,
    /// Profile: auto (one-shot or interactive, from a first run), client-lesson3,
    /// client-interactive.
    #[arg(long, default_value = "auto")]
    profile: String,
    /// Text fed to an interactive client's stdin before it is closed (TEXT, or @FILE).
    #[arg(long, value_name = "TEXT|@FILE")]
    stdin: Option<String>,
    /// The value of {name} in the command (default Guest).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Options of both modes.
#[derive(Args, Debug)]
struct CommonArgs {
    /// Should-level failures fail the run, and no tolerance is accepted.
    #[arg(long)]
    strict: bool,
    /// Only fixtures whose id matches this glob (repeatable), e.g. "rooms/*".
    #[arg(long, value_name = "GLOB")]
    only: Vec<String>,
    /// Leave out fixtures whose id matches this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    skip: Vec<String>,
    /// List the selected fixtures and exit.
    #[arg(long)]
    list: bool,
    /// Per-step timeout in seconds.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    timeout: f64,
    /// Deadline for the whole run in seconds.
    #[arg(long, default_value_t = 300.0, value_name = "SECS")]
    deadline: f64,
    /// Write the JSON report here ("-": standard output; the human report then goes to
    /// standard error).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report here ("-": standard output, as for --json).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Independent cases run in parallel (default: the profile's, 4; 1 for lesson3; at most 16).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// File of known failures: JSON {"id": "reason"} or lines "ID REASON"; those fail as
    /// expected-fail, and an unexpected pass fails the run.
    #[arg(long, value_name = "FILE")]
    known_failures: Option<PathBuf>,
    /// Report language: en or ru (default: from the locale).
    #[arg(long, value_name = "LANG")]
    lang: Option<String>,
    /// Delivery modes applied to every non-destructive case (client mode: to the runner's
    /// replies): whole, split, trickle (comma separated) or all.
    #[arg(long, default_value = "whole")]
    delivery: String,
    /// How our messages end: newline (default) or bare.
    #[arg(long, default_value = "newline")]
    framing: String,
    /// Fixture directory (default: the suite built into this binary).
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
}

/// Largest file the runner reads for --stdin @FILE or --known-failures.
const MAX_OPTION_FILE: u64 = 1 << 20;

fn read_small_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>, RunError> {
    use std::io::Read as _;
    let shown = path.display();
    let cannot = |e: std::io::Error| {
        usage2(
            format!("{what}: cannot read {shown}: {e}"),
            format!("{what}: не удаётся прочитать {shown}: {}", jim_text::io_error(&e, Lang::Ru)),
        )
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_OPTION_FILE + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > MAX_OPTION_FILE {
        return Err(usage2(
            format!("{what}: {shown} is larger than {MAX_OPTION_FILE} bytes"),
            format!("{what}: {shown} больше {MAX_OPTION_FILE} байт"),
        ));
    }
    Ok(bytes)
}

fn load_suite(dir: Option<&PathBuf>) -> Result<Suite, RunError> {
    Ok(match dir {
        Some(d) => Suite::from_dir(d)?,
        None => Suite::embedded()?,
    })
}

/// True when a machine-readable report goes to standard output (`--json -` or `--junit -`): the
/// human report then goes to standard error, so that stdout stays one parsable document.
fn reports_to_stdout(a: &CommonArgs) -> bool {
    let dash = |p: &Option<PathBuf>| p.as_deref().is_some_and(|p| p.as_os_str() == "-");
    dash(&a.json) || dash(&a.junit)
}

/// Writes human text to stdout, or to stderr when stdout carries a report.
fn human_out(to_stderr: bool, text: &str) {
    if to_stderr {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{text}");
        let _ = err.flush();
    } else {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{text}");
        let _ = out.flush();
    }
}

fn usage(msg: impl Into<Said>) -> RunError {
    RunError::Usage(msg.into())
}

/// A usage error in both languages.
fn usage2(en: String, ru: String) -> RunError {
    RunError::Usage(Said::new(en, ru))
}

fn options<M: Default>(
    a: &CommonArgs,
    profile: &str,
    name: Option<String>,
) -> Result<RunOptions<M>, RunError> {
    let secs = |v: f64, what: &str| {
        if v.is_finite() && v > 0.0 && v <= 86_400.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(usage2(
                format!("--{what} must be a positive number of seconds"),
                format!("--{what}: нужно положительное число секунд"),
            ))
        }
    };
    let lang = match &a.lang {
        Some(l) => Lang::parse(l).ok_or_else(|| {
            usage2(format!("--lang {l}: use en or ru"), format!("--lang {l}: укажите en или ru"))
        })?,
        None => Lang::from_env(),
    };
    let delivery = if a.delivery == "all" {
        vec![Delivery::Whole, Delivery::Split, Delivery::Trickle]
    } else {
        a.delivery
            .split(',')
            .map(|d| {
                Delivery::parse(d.trim()).ok_or_else(|| {
                    usage2(
                        format!("--delivery {d}: use whole, split, trickle or all"),
                        format!("--delivery {d}: укажите whole, split, trickle или all"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let framing: Framing = a.framing.parse().map_err(usage)?;
    let known_failures = match &a.known_failures {
        Some(p) => {
            let bytes = read_small_file(p, "--known-failures")?;
            let text = String::from_utf8_lossy(&bytes);
            parse_known_failures(&text).map_err(|e| usage(format!("{}: {e}", p.display())))?
        }
        None => Default::default(),
    };
    if a.jobs == Some(0) {
        return Err(usage(Said::new("--jobs must be at least 1", "--jobs: нужно не меньше 1")));
    }
    Ok(RunOptions {
        suite: Some(load_suite(a.fixtures.as_ref())?),
        profile: if profile == "auto" { None } else { Some(profile.to_owned()) },
        strict: a.strict,
        only: a.only.clone(),
        skip: a.skip.clone(),
        timeout: secs(a.timeout, "timeout")?,
        deadline: secs(a.deadline, "deadline")?,
        jobs: a.jobs,
        known_failures,
        lang,
        name,
        delivery,
        framing,
        startup: Duration::from_secs(10),
        ..RunOptions::default()
    })
}

/// `profile NAME: N fixtures`, the head of a `--list`.
fn list_head(lang: Lang, profile: &str, n: usize) -> String {
    let fixtures = jim_text::Noun {
        en: ["fixture", "fixtures"],
        ru: ["фикстура", "фикстуры", "фикстур"],
    };
    format!("{} {profile}: {}", lang.pick("profile", "профиль"), fixtures.count(lang, n as u64))
}

fn list(session: &Session, lang: Lang) -> i32 {
    let mut out = std::io::stdout().lock();
    let selected = session.selected();
    let _ = writeln!(out, "{}", list_head(lang, &session.profile().name, selected.len()));
    for f in &selected {
        let dialects: Vec<&str> = f.dialects.iter().map(|d| d.as_str()).collect();
        let mut tags = vec![f.level.as_str().to_owned(), dialects.join("+")];
        if !f.requires.is_empty() {
            let requires: Vec<&str> = f.requires.iter().map(|r| r.as_str()).collect();
            tags.push(format!("{} {}", lang.pick("requires", "требует"), requires.join(",")));
        }
        if f.destructive {
            tags.push(lang.pick("destructive", "разрушающий").into());
        }
        let _ = writeln!(out, "  {:<40} {:<40} {}", f.id, tags.join(" "), lang.text(&f.title));
    }
    if selected.is_empty() { 2 } else { 0 }
}

async fn server(a: ServerArgs) -> Result<i32, RunError> {
    let mut opts: RunOptions<ServerOptions> = options(&a.common, &a.profile, a.name.clone())?;
    opts.mode.user = a.user.clone();
    opts.mode.password = a.password.clone();
    opts.mode.offline_user = a.offline_user.clone();
    if let Some(path) = &a.accounts {
        opts.mode.accounts =
            jim_conformance::accounts::read_file(path).map_err(|e| usage(e.to_string()))?;
    }
    opts.mode.expect = a
        .expect
        .iter()
        .map(|cap| {
            Capability::parse(cap).ok_or_else(|| {
                let known = Capability::names();
                usage2(
                    format!("--expect {cap}: unknown capability (known: {known})"),
                    format!("--expect {cap}: неизвестная возможность (известны: {known})"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    opts.mode.explore = jim_conformance::explore::InRun {
        seed: a.seed,
        target: Some(a.target.shown()),
        ..jim_conformance::explore::InRun::with_sessions(a.explore_sessions)
    };
    let lang = opts.lang;
    let target = a.target.spec().map_err(RunError::Usage)?;
    let session = Arc::new(Session::prepare(target, opts).await?);
    if a.common.list {
        let code = list(&session, lang);
        session.finish().await;
        return Ok(code);
    }
    run_and_report(&session, &a.common, Style::detect(lang)).await
}

/// Either mode's run as the user sees it: the card, one line per case as it ends (under a
/// progress bar on a terminal), the totals, then the report files; the target is stopped
/// before the totals.
async fn run_and_report<M: Mode>(
    session: &Arc<Run<M>>,
    common: &CommonArgs,
    style: Style,
) -> Result<i32, RunError> {
    let to_stderr = reports_to_stdout(common);
    let card = session.report(Vec::new(), 0, Said::default()).await;
    human_out(to_stderr, &format!("{}\n", human::card(&card, style)));
    let bar = progress::CaseBar::start();
    let result = session
        .run_all(|c| {
            bar.case_done(|| human_out(to_stderr, &human::case(c, style)));
        })
        .await;
    bar.finish();
    session.finish().await;
    let report = result?;
    human_out(to_stderr, &format!("\n{}\n", human::summary(&report, style)));
    write_reports(&report, common)?;
    Ok(report.exit_code)
}

fn write_reports(report: &jim_conformance::Report, a: &CommonArgs) -> Result<(), RunError> {
    if let Some(p) = &a.json {
        write_file_or_stdout(p, &jim_conformance::report::json::to_string(report))?;
    }
    if let Some(p) = &a.junit {
        write_file_or_stdout(p, &jim_conformance::report::junit::to_string(report))?;
    }
    Ok(())
}

/// Writes `text` to the file `path`, or to standard output when `path` is "-".
fn write_file_or_stdout(path: &std::path::Path, text: &str) -> Result<(), RunError> {
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(text.as_bytes())
            .and_then(|()| if text.ends_with('\n') { Ok(()) } else { out.write_all(b"\n") })
            .and_then(|()| out.flush())
            .map_err(|e| usage(format!("cannot write the report to standard output: {e}")));
    }
    std::fs::write(path, text).map_err(|e| usage(format!("cannot write {}: {e}", path.display())))
}

/// `client --list`: the selection of the given profile (or of every client profile under
/// auto), without starting the client.
fn list_client(opts: &RunOptions<ClientOptions>) -> Result<i32, RunError> {
    let mut out = std::io::stdout().lock();
    use jim_conformance::profile::{IdFilter, ProfileTarget};
    let suite = match &opts.suite {
        Some(s) => s.clone(),
        None => Suite::embedded()?,
    };
    let filter = IdFilter::new(&opts.only, &opts.skip).map_err(usage)?;
    let profiles: Vec<&jim_conformance::profile::Profile> = match &opts.profile {
        Some(p) => vec![suite.profile(p)?],
        None => suite.profiles.values().filter(|p| p.target == ProfileTarget::Client).collect(),
    };
    let mut any = false;
    for profile in profiles {
        let selected: Vec<_> =
            suite.fixtures.iter().filter(|f| profile.selects(f) && filter.allows(&f.id)).collect();
        let _ = writeln!(out, "{}", list_head(opts.lang, &profile.name, selected.len()));
        for f in &selected {
            let level = profile.level_of(f);
            let title = opts.lang.text(&f.title);
            let _ = writeln!(out, "  {:<40} {:<8} {title}", f.id, level.as_str());
        }
        any |= !selected.is_empty();
    }
    Ok(if any { 0 } else { 2 })
}

async fn client(a: ClientArgs) -> Result<i32, RunError> {
    let mut opts: RunOptions<ClientOptions> = options(&a.common, &a.profile, a.name.clone())?;
    opts.mode.stdin = match &a.stdin {
        Some(s) => match s.strip_prefix('@') {
            Some(path) => Some(read_small_file(std::path::Path::new(path), "--stdin")?),
            None => {
                let mut text = s.replace("\\n", "\n").into_bytes();
                if !text.ends_with(b"\n") {
                    text.push(b'\n');
                }
                Some(text)
            }
        },
        None => None,
    };
    if a.common.list {
        return list_client(&opts);
    }
    let lang = opts.lang;
    let session = Arc::new(ClientSession::prepare(&a.spawn, opts).await?);
    run_and_report(&session, &a.common, Style::detect(lang)).await
}

fn lint(dir: Option<PathBuf>) -> i32 {
    let read = match &dir {
        Some(d) => {
            Suite::read_dir(d).map(|(files, protocol)| (files, protocol, d.display().to_string()))
        }
        None => Suite::embedded().map(|s| (s.files, s.protocol_md, s.origin)),
    };
    let (files, protocol, origin) = match read {
        Ok(r) => r,
        Err(e) => {
            eprintln!("jim-conformance lint: {e}");
            return 2;
        }
    };
    let r = jim_conformance::lint::lint_files(&files, &protocol);
    for p in &r.problems {
        println!("{p}");
    }
    println!(
        "lint {origin}: {} fixture(s), {} profile(s), {} problem(s)",
        r.fixtures,
        r.profiles,
        r.problems.len()
    );
    if r.problems.is_empty() && r.fixtures > 0 { 0 } else { 2 }
}

/// Runs a subcommand; its exit code.
async fn run_command(command: Command, lang: Lang) -> i32 {
    let result = match command {
        Command::Load(args) => return load_cli::load(*args).await,
        Command::Explore(args) => {
            let shown = args.target.shown();
            return match args.target.spec() {
                Ok(spec) => jim_conformance::explore::cli::run(spec, shown, args.explore).await,
                Err(e) => {
                    eprintln!("jim-conformance: {}", e.get(lang));
                    2
                }
            };
        }
        Command::Server(args) => server(*args).await,
        Command::Client(args) => client(*args).await,
        Command::Grade(args) => return grade_cli::grade(*args).await,
        Command::Lint { fixtures } => return lint(fixtures),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "jim-conformance", &mut std::io::stdout());
            return 0;
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            return match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("jim-conformance man: cannot write the manual page: {e}");
                    2
                }
            };
        }
    };
    match result {
        Ok(c) => c,
        Err(e) => {
            eprintln!("jim-conformance: {}", e.text(lang));
            if let RunError::Target(jim_conformance::target::TargetError::Spawn {
                output, ..
            }) = &e
            {
                if !output.is_empty() {
                    eprintln!("{}\n{output}", lang.pick("its output:", "его вывод:"));
                }
            }
            e.exit_code()
        }
    }
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM; what arrived and the conventional exit code.
#[cfg(unix)]
async fn interrupted(lang: Lang) -> (&'static str, i32) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let terminate = async {
        match term.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => match r {
            Ok(()) => (lang.pick("interrupted (Ctrl-C)", "прервано (Ctrl-C)"), 130),
            Err(_) => std::future::pending().await,
        },
        () = terminate => (lang.pick("terminated (SIGTERM)", "остановлено (SIGTERM)"), 143),
    }
}

/// Waits for Ctrl-C (Windows has no SIGTERM); what arrived and the conventional exit code.
#[cfg(not(unix))]
async fn interrupted(lang: Lang) -> (&'static str, i32) {
    match tokio::signal::ctrl_c().await {
        Ok(()) => (lang.pick("interrupted (Ctrl-C)", "прервано (Ctrl-C)"), 130),
        Err(_) => std::future::pending().await,
    }
}

fn main() {
    // The language of what is printed before the options are read, and of errors: `--lang`
    // when given (read before clap), else the locale. Usage errors too (clap's own words in
    // Russian under `--lang ru`, through jim-text like the other binaries).
    let lang = Lang::detect();
    let cli: Cli = jim_text::cli::parse(<Cli as clap::CommandFactory>::command(), lang);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            let what =
                lang.pick("cannot start the async runtime", "не удаётся запустить среду async");
            eprintln!("jim-conformance: {what}: {}", jim_text::io_error(&e, lang));
            std::process::exit(2);
        }
    };
    let code = runtime.block_on(async {
        tokio::select! {
            code = run_command(cli.command, lang) => code,
            (what, code) = interrupted(lang) => {
                // Spawned servers and clients run in process groups of their own: the
                // terminal's SIGINT does not reach them, so end them here.
                let ended = jim_conformance::process::kill_all_groups();
                let also = if ended > 0 {
                    let groups = jim_text::Noun {
                        en: ["process group it had started", "process groups it had started"],
                        ru: [
                            "запущенная им группа процессов",
                            "запущенные им группы процессов",
                            "запущенных им групп процессов",
                        ],
                    };
                    let ended = groups.count(lang, ended as u64);
                    format!("; {} {ended}", lang.pick("ended the", "завершены"))
                } else {
                    String::new()
                };
                eprintln!("jim-conformance: {what}{also}");
                code
            }
        }
    });
    // Background work (the load engine's thread after a --deadline stop, cases still running
    // after an interruption) is not waited for.
    runtime.shutdown_background();
    std::process::exit(code);
}
