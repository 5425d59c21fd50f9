//! `jim-conformance load`: the bounded load check of `jim-load`, pointed at a target the same
//! way as the suite (an address, a command to start, or the embedded reference server).
//!
//! This module only turns options into a [`LoadConfig`], starts and stops the target, and maps
//! the outcome to an exit code; the measuring is `jim_load::run`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use jim_conformance::i18n::Said;
use jim_conformance::target::{RunningTarget, TargetSpec};
use jim_load::{LoadConfig, LoadError, LoadReport};
use jim_text::Lang;

/// The defaults every option below shows in `--help` (one place: `LoadConfig::default()`).
fn d() -> LoadConfig {
    LoadConfig::default()
}

/// Options of `jim-conformance load`.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  # a gentle check of a server you started (50 connections, then up to 4 s each of direct and room traffic)
  jim-conformance load --port 7777
  # let the runner start it on a free port, and stop it at the end
  jim-conformance load --spawn \"python3 server.py -p {port}\"
  # how many clients does it survive? 1,000 held connections, ramped 100 per second
  jim-conformance load --port 7777 --connections 1000 --connects-per-sec 100
  # a server written to the course's dialect (message/mess_text)
  jim-conformance load --port 7777 --dialect course
  # a classmate's laptop (only the host you name is ever contacted)
  jim-conformance load --host 192.168.1.20 --port 7777 --json load.json

Exit status: 0 every connection held and every message delivered, and the target still answers;
1 something was lost, refused or closed, or the target died; 2 a usage error; 3 the target
cannot be reached (or started).")]
pub struct LoadArgs {
    #[command(flatten)]
    target: crate::target_args::TargetArgs,
    /// Report language: en or ru (default: from the locale, LC_ALL/LC_MESSAGES/LANG).
    #[arg(long, value_name = "LANG")]
    lang: Option<String>,
    /// Idle connections held (each logged in with a presence) for the whole check.
    #[arg(long, value_name = "N", default_value_t = d().connections)]
    connections: usize,
    /// Connects in progress at the same time while ramping up.
    #[arg(long, value_name = "N", default_value_t = d().connects_in_flight)]
    connects_in_flight: usize,
    /// Cap on new connections per second while ramping up (0: only --connects-in-flight).
    #[arg(long, value_name = "N", default_value_t = d().connects_per_sec)]
    connects_per_sec: u32,
    /// Sender/recipient pairs of the direct-relay phase (0 skips it).
    #[arg(long, value_name = "N", default_value_t = d().pairs)]
    pairs: usize,
    /// Members of the room fan-out phase (0 skips it; otherwise at least 2).
    #[arg(long, value_name = "N", default_value_t = d().room_members)]
    room_members: usize,
    /// How many room members send.
    #[arg(long, value_name = "N", default_value_t = d().room_senders)]
    room_senders: usize,
    /// Messages in flight per sender (sent and not yet delivered).
    #[arg(long, value_name = "N", default_value_t = d().window)]
    window: usize,
    /// Encoded size of each chat message in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = d().message_bytes)]
    message_bytes: usize,
    /// How long each traffic phase sends, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = d().phase_duration.as_secs_f64())]
    duration: f64,
    /// Cap on messages sent in each traffic phase.
    #[arg(long, value_name = "N", default_value_t = d().max_messages)]
    max_messages: u64,
    /// Bound on one TCP connect, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = d().connect_timeout.as_secs_f64())]
    connect_timeout: f64,
    /// Bound on each reply, and each message's delivery deadline (later counts as lost).
    #[arg(long, value_name = "SECS", default_value_t = d().reply_timeout.as_secs_f64())]
    reply_timeout: f64,
    /// Start of every account and room name the check uses (letters and digits, at most 10).
    #[arg(long, value_name = "PREFIX", default_value_t = d().name_prefix)]
    name_prefix: String,
    /// What the check writes: spec (presence with type and status, msg, rooms) or course
    /// (bare presence, message with mess_text; no room phase: the course has no rooms).
    #[arg(long, value_name = "DIALECT", default_value = "spec", value_parser = parse_dialect)]
    dialect: jim_protocol::Dialect,
    /// Stop the whole check after this many seconds, counted once the target is up (default:
    /// 60 s plus the ramp at --connects-per-sec, both phases and two of each timeout).
    #[arg(long, value_name = "SECS")]
    deadline: Option<f64>,
    /// Write the report as JSON to this file (`-`: to standard output instead of the text).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

fn parse_dialect(s: &str) -> Result<jim_protocol::Dialect, String> {
    s.parse()
}

/// What went wrong before anything could be measured, with its exit code.
struct Failure {
    code: i32,
    /// In both languages: the terminal gets `--lang`'s, the JSON report the English.
    message: Said,
}

impl Failure {
    fn usage(message: impl Into<Said>) -> Self {
        Self { code: 2, message: message.into() }
    }

    /// `more` on a line of its own after the message, in each language.
    fn then(&mut self, more: impl Fn(Lang) -> String) {
        let message = &self.message;
        self.message = Said::each(|lang| format!("{}\n{}", message.get(lang), more(lang)));
    }
}

fn secs(v: f64, what: &str) -> Result<Duration, Failure> {
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(Failure::usage(Said::new(
            format!("--{what} must be a positive number of seconds"),
            format!("--{what}: нужно положительное число секунд"),
        )))
    }
}

impl LoadArgs {
    fn config(&self) -> Result<LoadConfig, Failure> {
        let config = LoadConfig {
            host: "127.0.0.1".to_owned(),
            port: jim_protocol::limits::DEFAULT_PORT,
            connections: self.connections,
            connects_in_flight: self.connects_in_flight,
            connects_per_sec: self.connects_per_sec,
            pairs: self.pairs,
            room_members: self.room_members,
            room_senders: self.room_senders,
            window: self.window,
            message_bytes: self.message_bytes,
            phase_duration: secs(self.duration, "duration")?,
            max_messages: self.max_messages,
            connect_timeout: secs(self.connect_timeout, "connect-timeout")?,
            reply_timeout: secs(self.reply_timeout, "reply-timeout")?,
            name_prefix: self.name_prefix.clone(),
            dialect: self.dialect,
        };
        config.validate().map_err(|e| Failure::usage(Said::of(&e)))?;
        Ok(config)
    }

    /// The target to start, or `None` for a server somebody else started (then `config` gets
    /// its host and port, and the load engine resolves and reports them itself).
    fn target(&self, config: &mut LoadConfig) -> Result<Option<TargetSpec>, Failure> {
        let spec = self.target.spec();
        match spec.map_err(|e| Failure::usage(e.get(jim_text::Lang::detect())))? {
            TargetSpec::Address { host, port } => {
                config.host = host;
                config.port = port;
                Ok(None)
            }
            spec => Ok(Some(spec)),
        }
    }
}

/// Runs `jim-conformance load` and returns the exit code.
pub async fn load(args: LoadArgs) -> i32 {
    match run(&args).await {
        Ok(code) => code,
        Err(f) => {
            eprintln!("jim-conformance load: {}", f.message.get(Lang::detect()));
            // A report file from an earlier run must not stand for this one.
            if let Some(path) = &args.json {
                let value = serde_json::json!({
                    "schema": SCHEMA,
                    "passed": false,
                    "exit_code": f.code,
                    "error": f.message.en(),
                });
                if let Err(e) = write_json(path, &value) {
                    eprintln!("jim-conformance load: {}", e.message.get(Lang::detect()));
                }
            }
            f.code
        }
    }
}

/// The `schema` of the JSON report.
const SCHEMA: &str = "jim-conformance-load/v1";

/// The deadline when `--deadline` is not given: a minute of slack plus every bounded part of the
/// check (the ramp at the connect rate, both phases, the two survival checks).
fn default_deadline(c: &LoadConfig) -> Duration {
    let ramp = if c.connects_per_sec > 0 {
        Duration::from_secs_f64(c.connections as f64 / f64::from(c.connects_per_sec))
    } else {
        Duration::ZERO
    };
    Duration::from_secs(60)
        + ramp
        + c.phase_duration * 2
        + (c.reply_timeout + c.connect_timeout) * 2
}

/// Runs the check: options to a configuration, the target started, the engine run within the
/// deadline, the target stopped, the report written.
///
/// Long by design: the steps happen in this order once, and each failure path has its exit
/// code and report next to it.
async fn run(args: &LoadArgs) -> Result<i32, Failure> {
    let mut config = args.config()?;
    let mut target = match args.target(&mut config)? {
        Some(spec) => {
            let t = RunningTarget::start(spec, Duration::from_secs(10)).await.map_err(|e| {
                let output = if let jim_conformance::target::TargetError::Spawn { output, .. } = &e
                {
                    output.clone()
                } else {
                    String::new()
                };
                let mut failure = Failure { code: 3, message: Said::of(&e) };
                if !output.is_empty() {
                    failure.then(|lang| {
                        format!("{}\n{output}", lang.pick("its output:", "её вывод:"))
                    });
                }
                failure
            })?;
            config.host = t.addr().ip().to_string();
            config.port = t.addr().port();
            Some(t)
        }
        None => None,
    };
    let deadline = match args.deadline {
        Some(v) => secs(v, "deadline")?,
        None => default_deadline(&config),
    };
    let described = match &target {
        Some(t) => t.describe().get(jim_text::Lang::detect()).to_owned(),
        None => format!("{}:{}", config.host, config.port),
    };
    let outcome = {
        let config = config.clone();
        let work = tokio::task::spawn_blocking(move || jim_load::run(&config));
        tokio::time::timeout(deadline, work).await
    };
    // A spawned target that died during the check is a failure whatever the network said.
    let mut exited = None;
    if let Some(t) = target.as_mut() {
        // A crash shows as a reset first and as an exit a moment later: after anything but a
        // clean pass, give the process a moment to be seen exiting.
        let clean = matches!(&outcome, Ok(Ok(Ok(r))) if r.passed());
        let until =
            tokio::time::Instant::now() + Duration::from_millis(if clean { 0 } else { 500 });
        while t.is_alive() && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !t.is_alive() {
            let status = t.exit_status().unwrap_or_else(|| "stopped".to_owned());
            exited = Some((status, t.output_tail()));
        }
        t.stop().await;
    }
    let died = |mut f: Failure| {
        if let Some((status, output)) = &exited {
            // It was up when the check began: unreachable now means it died (exit 1, not 3).
            if f.code == 3 {
                f.code = 1;
            }
            f.then(|lang| {
                let what = lang.pick(
                    "the target process EXITED during the check:",
                    "процесс цели ЗАВЕРШИЛСЯ во время проверки:",
                );
                format!("{what} {status}")
            });
            if !output.is_empty() {
                f.then(|lang| {
                    format!("{}\n{output}", lang.pick("its last output:", "его последний вывод:"))
                });
            }
        }
        if target.is_some() {
            f.then(|lang| format!("  {} {described}", lang.pick("target:", "цель:")));
        }
        f
    };
    let report = match outcome {
        Err(_) => {
            return Err(died(Failure {
                code: 1,
                message: Said::new(
                    format!(
                        "the load check of {described} did not finish within {:.0} s \
                         (--deadline); the target is probably stuck",
                        deadline.as_secs_f64()
                    ),
                    format!(
                        "нагрузочная проверка {described} не закончилась за {:.0} с \
                         (--deadline); цель, вероятно, зависла",
                        deadline.as_secs_f64()
                    ),
                ),
            }));
        }
        Ok(Err(join)) => {
            let message = Said::new(
                format!("the load engine failed: {join}"),
                format!("нагрузочный движок упал: {join}"),
            );
            return Err(Failure { code: 2, message });
        }
        Ok(Ok(Err(e))) => return Err(died(from_load_error(e, exited.is_some()))),
        Ok(Ok(Ok(report))) => report,
    };
    let (status, output) = match &exited {
        Some((s, o)) => (Some(s.as_str()), o.as_str()),
        None => (None, ""),
    };
    let lang = match &args.lang {
        Some(l) => jim_text::Lang::parse(l).ok_or_else(|| {
            Failure::usage(Said::new(
                format!("--lang {l}: use en or ru"),
                format!("--lang {l}: укажите en или ru"),
            ))
        })?,
        None => jim_text::Lang::from_env(),
    };
    print(&report, &described, status, output, args.json.as_ref(), lang)?;
    Ok(if report.passed() && exited.is_none() { 0 } else { 1 })
}

fn from_load_error(e: LoadError, target_exited: bool) -> Failure {
    let code = match e {
        LoadError::Config { .. } | LoadError::Runtime(_) => 2,
        LoadError::Resolve { .. } | LoadError::Unreachable { .. } => 3,
        LoadError::Setup { .. } => 1,
    };
    let hint = |lang: Lang| match e {
        LoadError::Setup { .. } if !target_exited => lang.pick(
            "; the check logs in with a presence per connection (names like load1a2bh0), so a \
             server that accepts only Guest, or answers one client at a time, cannot be measured",
            "; проверка входит с presence на каждом соединении (имена вроде load1a2bh0), поэтому \
             сервер, который пускает только Guest или отвечает одному клиенту за раз, измерить \
             нельзя",
        ),
        _ => "",
    };
    Failure { code, message: Said::each(|lang| format!("{}{}", lang.say(&e), hint(lang))) }
}

/// Writes `value` to `path` (`-`: standard output).
fn write_json(path: &PathBuf, value: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    if path.as_os_str() == "-" {
        println!("{text}");
        return Ok(());
    }
    std::fs::write(path, text + "\n").map_err(|e| {
        let path = path.display();
        Failure::usage(Said::each(|lang| {
            let error = jim_text::io_error(&e, lang);
            lang.either(
                format!("cannot write {path}: {error}"),
                format!("не удаётся записать {path}: {error}"),
            )
        }))
    })
}

fn print(
    report: &LoadReport,
    target: &str,
    exited: Option<&str>,
    output: &str,
    json: Option<&PathBuf>,
    lang: jim_text::Lang,
) -> Result<(), Failure> {
    if let Some(path) = json {
        let mut value = serde_json::to_value(report).map_err(|e| {
            Failure::usage(Said::new(
                format!("cannot encode the report: {e}"),
                format!("не удаётся закодировать отчёт: {e}"),
            ))
        })?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("schema".into(), SCHEMA.into());
            obj.insert("described".into(), target.into());
            obj.insert("passed".into(), (report.passed() && exited.is_none()).into());
            obj.insert("target_exited".into(), exited.into());
        }
        write_json(path, &value)?;
        if path.as_os_str() == "-" {
            return Ok(());
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{} {target}", lang.pick("target:", "цель:"));
    if let Some(status) = exited {
        let what = lang.pick(
            "the target process EXITED during the check:",
            "процесс цели ЗАВЕРШИЛСЯ во время проверки:",
        );
        let _ = writeln!(out, "{what} {status}");
        if !output.is_empty() {
            let last = lang.pick("its last output:", "его последний вывод:");
            let _ = writeln!(out, "{last}\n{}", jim_protocol::terminal::terminal_safe(output));
        }
    }
    let _ = writeln!(out, "{}", lang.say(report));
    Ok(())
}
