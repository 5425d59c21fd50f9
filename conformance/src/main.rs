//! `jim-conformance`: the command line. Parses options, runs the suite (or lints it), prints the
//! report, writes JSON/JUnit files, and exits with 0 (all required cases pass), 1 (failures),
//! 2 (usage or fixture error) or 3 (target unreachable).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use jim_conformance::i18n::Lang;
use jim_conformance::report::human::{self, Style};
use jim_conformance::runner::{RunOptions, Session, parse_known_failures};
use jim_conformance::suite::Suite;
use jim_conformance::wire::Delivery;
use jim_conformance::{RunError, TargetSpec};
use jim_protocol::Framing;

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
    Server(Box<ServerArgs>),
    /// Check every fixture and profile (schema, ids, citations, placeholders, reachability).
    Lint {
        /// Fixture directory (default: the suite built into this binary).
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct ServerArgs {
    /// Host of a running server.
    #[arg(long, conflicts_with = "spawn")]
    host: Option<String>,
    /// Port of a running server (default 7777 with --host).
    #[arg(long, conflicts_with = "spawn")]
    port: Option<u16>,
    /// Start this command, replacing {port} by a free port; restart it when it dies and before
    /// destructive cases; stop it at the end. Example: "python3 server.py -p {port}".
    #[arg(long, value_name = "CMD")]
    spawn: Option<String>,
    /// Profile: auto (decided by a preflight), lesson3, spec, course, all.
    #[arg(long, default_value = "auto")]
    profile: String,
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
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Independent cases run in parallel (default: the profile's, 4; 1 for lesson3).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// File of known failures: JSON {"id": "reason"} or lines "ID REASON"; those fail as
    /// expected-fail, and an unexpected pass fails the run.
    #[arg(long, value_name = "FILE")]
    known_failures: Option<PathBuf>,
    /// Report language: en or ru (default: from the locale).
    #[arg(long, value_name = "LANG")]
    lang: Option<String>,
    /// Account name for one-shot/lesson-3 presence (default Guest for lesson 3).
    #[arg(long)]
    name: Option<String>,
    /// An existing account (runs the authenticate / course-login fixtures).
    #[arg(long)]
    user: Option<String>,
    /// Its password.
    #[arg(long)]
    password: Option<String>,
    /// An existing account that is not connected (runs the 410 fixture).
    #[arg(long, value_name = "NAME")]
    offline_user: Option<String>,
    /// Declare that the target has this optional capability: its cases must pass instead of
    /// being reported unimplemented (repeatable): rooms, contacts, users, auth, course-login,
    /// pubkey, push-205.
    #[arg(long, value_name = "CAP")]
    expect: Vec<String>,
    /// Delivery modes applied to every non-destructive case: whole, split, trickle (comma
    /// separated) or all.
    #[arg(long, default_value = "whole")]
    delivery: String,
    /// How our messages end: newline (default) or bare.
    #[arg(long, default_value = "newline")]
    framing: String,
    /// Fixture directory (default: the suite built into this binary).
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
}

fn load_suite(dir: Option<&PathBuf>) -> Result<Suite, RunError> {
    Ok(match dir {
        Some(d) => Suite::from_dir(d)?,
        None => Suite::embedded()?,
    })
}

fn usage(msg: impl Into<String>) -> RunError {
    RunError::Usage(msg.into())
}

fn options(a: &ServerArgs) -> Result<RunOptions, RunError> {
    let secs = |v: f64, what: &str| {
        if v.is_finite() && v > 0.0 && v <= 86_400.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(usage(format!("--{what} must be a positive number of seconds")))
        }
    };
    let lang = match &a.lang {
        Some(l) => Lang::parse(l).ok_or_else(|| usage(format!("--lang {l}: use en or ru")))?,
        None => Lang::from_env(),
    };
    let delivery = if a.delivery == "all" {
        vec![Delivery::Whole, Delivery::Split, Delivery::Trickle]
    } else {
        a.delivery
            .split(',')
            .map(|d| {
                Delivery::parse(d.trim()).ok_or_else(|| {
                    usage(format!("--delivery {d}: use whole, split, trickle or all"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let framing: Framing = a.framing.parse().map_err(usage)?;
    let known_failures = match &a.known_failures {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?;
            parse_known_failures(&text).map_err(|e| usage(format!("{}: {e}", p.display())))?
        }
        None => Default::default(),
    };
    if a.jobs == Some(0) {
        return Err(usage("--jobs must be at least 1"));
    }
    Ok(RunOptions {
        suite: Some(load_suite(a.fixtures.as_ref())?),
        profile: if a.profile == "auto" { None } else { Some(a.profile.clone()) },
        strict: a.strict,
        only: a.only.clone(),
        skip: a.skip.clone(),
        timeout: secs(a.timeout, "timeout")?,
        deadline: secs(a.deadline, "deadline")?,
        jobs: a.jobs,
        known_failures,
        lang,
        name: a.name.clone(),
        user: a.user.clone(),
        password: a.password.clone(),
        offline_user: a.offline_user.clone(),
        expect: a.expect.clone(),
        delivery,
        framing,
        startup: Duration::from_secs(10),
    })
}

fn list(session: &Session) -> i32 {
    let selected = session.selected();
    println!("profile {}: {} fixture(s)", session.profile().name, selected.len());
    for f in &selected {
        let dialects: Vec<&str> = f.dialects.iter().map(|d| d.as_str()).collect();
        let mut tags = vec![f.level.as_str().to_owned(), dialects.join("+")];
        if !f.requires.is_empty() {
            tags.push(format!("requires {}", f.requires.join(",")));
        }
        if f.destructive {
            tags.push("destructive".into());
        }
        println!("  {:<40} {:<40} {}", f.id, tags.join(" "), f.title);
    }
    if selected.is_empty() { 2 } else { 0 }
}

async fn server(a: ServerArgs) -> Result<i32, RunError> {
    let opts = options(&a)?;
    let lang = opts.lang;
    let target = match (&a.spawn, &a.host, a.port) {
        (Some(cmd), _, _) => {
            if !cmd.contains("{port}") {
                return Err(usage(
                    "--spawn needs {port} in the command, e.g. \"python3 server.py -p {port}\"",
                ));
            }
            TargetSpec::Spawn { command: cmd.clone() }
        }
        (None, None, None) => TargetSpec::embedded(),
        (None, host, port) => TargetSpec::Address {
            host: host.clone().unwrap_or_else(|| "127.0.0.1".into()),
            port: port.unwrap_or(jim_protocol::limits::DEFAULT_PORT),
        },
    };
    let session = Arc::new(Session::prepare(target, opts).await?);
    if a.list {
        let code = list(&session);
        session.finish().await;
        return Ok(code);
    }
    let style = Style::detect(lang);
    let card = session.report(Vec::new(), 0, String::new()).await;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", human::card(&card, style));
    let result = session
        .run_all(|c| {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", human::case(c, style));
            let _ = out.flush();
        })
        .await;
    session.finish().await;
    let report = result?;
    let _ = writeln!(out, "\n{}", human::summary(&report, style));
    if let Some(p) = &a.json {
        std::fs::write(p, jim_conformance::report::json::to_string(&report))
            .map_err(|e| usage(format!("cannot write {}: {e}", p.display())))?;
    }
    if let Some(p) = &a.junit {
        std::fs::write(p, jim_conformance::report::junit::to_string(&report))
            .map_err(|e| usage(format!("cannot write {}: {e}", p.display())))?;
    }
    Ok(report.exit_code)
}

fn lint(dir: Option<PathBuf>) -> anyhow::Result<i32> {
    let (files, protocol, origin) = match &dir {
        Some(d) => {
            let suite_files = collect(d).with_context(|| format!("reading {}", d.display()))?;
            let protocol = d
                .parent()
                .map(|p| p.join("PROTOCOL.md"))
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default();
            (suite_files, protocol, d.display().to_string())
        }
        None => {
            let s = Suite::embedded();
            match s {
                Ok(s) => (s.files, s.protocol_md, s.origin),
                Err(e) => {
                    println!("{e}");
                    return Ok(2);
                }
            }
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
    Ok(if r.problems.is_empty() && r.fixtures > 0 { 0 } else { 2 })
}

fn collect(dir: &std::path::Path) -> std::io::Result<Vec<(String, String)>> {
    fn walk(
        dir: &std::path::Path,
        root: &std::path::Path,
        out: &mut Vec<(String, String)>,
    ) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, root, out)?;
            } else if p.extension().is_some_and(|e| e == "json") {
                let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&p)?));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Lint { fixtures } => match lint(fixtures) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("jim-conformance lint: {e:#}");
                2
            }
        },
        Command::Server(args) => {
            let args = *args;
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("jim-conformance: cannot start the async runtime: {e}");
                    std::process::exit(2);
                }
            };
            match runtime.block_on(server(args)) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("jim-conformance: {e}");
                    if let RunError::Target(jim_conformance::target::TargetError::Spawn {
                        output,
                        ..
                    }) = &e
                    {
                        if !output.is_empty() {
                            eprintln!("its output:\n{output}");
                        }
                    }
                    e.exit_code()
                }
            }
        }
    };
    std::process::exit(code);
}
