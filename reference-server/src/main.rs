//! `jim-server`: the reference JIM server on the command line. Parses options, sets up logging
//! on stderr, raises the file-descriptor limit, prints `listening on ADDR` (and, bound to every
//! interface, the addresses students type) and serves until SIGINT/SIGTERM. What it says is in
//! `cli_text`, in English and Russian (`--lang`, default from the locale).

mod cli_text;

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory as _, Parser, ValueEnum};
use jim_protocol::Framing;
use jim_server::{Config, Misbehave};
use jim_text::Lang;

use crate::cli_text::Say;

/// The command line; every help text is in `cli_text` (both languages).
#[derive(Debug, Parser)]
#[command(name = "jim-server", version)]
struct Cli {
    #[arg(short = 'a', long, default_value = "127.0.0.1", value_parser = parse_addr)]
    addr: IpAddr,

    #[arg(short = 'p', long, default_value_t = jim_protocol::limits::DEFAULT_PORT)]
    port: u16,

    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,

    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,

    #[arg(long, value_name = "BYTES", default_value_t = jim_protocol::limits::DEFAULT_MAX_MESSAGE_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(1..=16 * 1024 * 1024))]
    max_message_bytes: u64,

    #[arg(long, value_name = "N", default_value_t = jim_server::config::DEFAULT_MAX_CONNECTIONS,
          value_parser = parse_positive)]
    max_connections: usize,

    #[arg(long, value_name = "SECS", default_value_t = jim_server::config::DEFAULT_IDLE_TIMEOUT.as_secs())]
    idle_timeout: u64,

    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    probe_interval: Option<u64>,

    #[arg(long, value_name = "BYTES", default_value_t = jim_server::config::DEFAULT_OUTBOUND_QUEUE_BYTES,
          value_parser = parse_positive)]
    outbound_queue_bytes: usize,

    #[arg(long, value_name = "SECS", default_value_t = jim_server::config::DEFAULT_STALL_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    stall_timeout: u64,

    #[arg(long, value_name = "SECS", default_value_t = jim_server::config::DEFAULT_MESSAGE_TIMEOUT.as_secs())]
    message_timeout: u64,

    #[arg(long, value_name = "N", default_value_t = jim_server::config::DEFAULT_MAX_ROOMS,
          value_parser = parse_positive)]
    max_rooms: usize,

    #[arg(long, value_name = "N", default_value_t = jim_server::config::DEFAULT_MAX_CONTACTS,
          value_parser = parse_positive)]
    max_contacts: usize,

    #[arg(long, value_enum, default_value_t = FramingArg::Newline)]
    framing: FramingArg,

    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[arg(long, value_name = "KIND[,KIND...]")]
    misbehave: Option<String>,

    #[command(flatten)]
    common: jim_text::cli::Common,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FramingArg {
    Newline,
    Bare,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn parse_addr(s: &str) -> Result<IpAddr, String> {
    match s.trim() {
        "" => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        "localhost" => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        other => other.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| {
            let why = Lang::detect().pick(
                "is not an IP address (try 127.0.0.1, 0.0.0.0 or ::1)",
                "— не IP-адрес (например, 127.0.0.1, 0.0.0.0 или ::1)",
            );
            format!("{other:?} {why}")
        }),
    }
}

fn parse_positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{s:?}: {}",
            Lang::detect().pick("give a whole number greater than 0", "нужно целое число больше 0")
        )),
    }
}

/// The command line in `lang`.
fn command(lang: Lang) -> clap::Command {
    jim_text::cli::localize(Cli::command(), lang, &cli_text::help)
}

fn main() -> ExitCode {
    let lang = Lang::detect();
    let cli: Cli = jim_text::cli::parse(command(lang), lang);
    let lang = cli.common.lang();
    match cli.common.generate(command(lang)) {
        Ok(true) => return ExitCode::SUCCESS,
        Ok(false) => {}
        Err(e) => {
            eprintln!("{}", lang.say(&Say::Failed { error: jim_text::io_error(&e, lang) }));
            return ExitCode::FAILURE;
        }
    }
    let misbehave = match cli.misbehave.as_deref() {
        Some("help") => {
            print!("{}", Misbehave::help(lang));
            return ExitCode::SUCCESS;
        }
        Some(list) => match Misbehave::parse_list(list) {
            Ok(kinds) => kinds,
            Err(e) => {
                eprintln!("{}", lang.say(&Say::BadMisbehave { error: lang.say(&e) }));
                return ExitCode::from(2);
            }
        },
        None => Vec::new(),
    };
    let (log, guard) = init_logging(cli.log_format);
    let result = serve(cli, misbehave, lang);
    let dropped = log.error_counter().dropped_lines();
    if dropped > 0 {
        tracing::warn!(dropped, "{}", lang.say(&Say::LogsDropped { dropped: dropped as u64 }));
    }
    // Writes what is still buffered (tracing-appender bounds this wait).
    drop(guard);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", lang.say(&Say::Failed { error }));
            ExitCode::FAILURE
        }
    }
}

/// Log lines buffered for stderr; when they are not written fast enough, new ones are dropped.
const LOG_BUFFER_LINES: usize = 16 * 1024;

/// Logging on stderr that never blocks serving: lines go through a bounded buffer to a writer
/// thread, and are dropped (and counted) when stderr is not drained, say a pipe nobody reads.
/// A blocking writer froze the whole server once the pipe was full.
fn init_logging(
    format: LogFormat,
) -> (tracing_appender::non_blocking::NonBlocking, tracing_appender::non_blocking::WorkerGuard) {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_BUFFER_LINES)
        .thread_name("jim-log")
        .finish(std::io::stderr());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone())
        .with_ansi(jim_text::colour::Palette::for_stderr().enabled());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    (writer, guard)
}

/// Serves until a signal; the error, if any, is already in `lang`.
#[tokio::main]
async fn serve(cli: Cli, misbehave: Vec<Misbehave>, lang: Lang) -> Result<(), String> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < (cli.max_connections as u64).saturating_add(64) => {
            let say = Say::FdLimitLow { limit, wanted: cli.max_connections };
            tracing::warn!("{}", lang.say(&say));
        }
        Ok(_) => {}
        Err(e) => {
            let say = Say::FdLimitStuck { error: jim_text::io_error(&e, lang) };
            tracing::warn!("{}", lang.say(&say));
        }
    }
    let config = Config {
        max_message_bytes: cli.max_message_bytes as usize,
        max_connections: cli.max_connections,
        idle_timeout: (cli.idle_timeout > 0).then(|| Duration::from_secs(cli.idle_timeout)),
        framing: match cli.framing {
            FramingArg::Newline => Framing::Newline,
            FramingArg::Bare => Framing::Bare,
        },
        users: cli.users,
        db: cli.db,
        probe_interval: cli.probe_interval.map(Duration::from_secs),
        outbound_queue_bytes: cli.outbound_queue_bytes,
        stall_timeout: Duration::from_secs(cli.stall_timeout),
        message_timeout: (cli.message_timeout > 0)
            .then(|| Duration::from_secs(cli.message_timeout)),
        max_rooms: cli.max_rooms,
        max_contacts: cli.max_contacts,
        misbehave,
        lang,
        ..Config::default()
    };
    if !config.misbehave.is_empty() {
        let kinds: Vec<String> = config.misbehave.iter().map(ToString::to_string).collect();
        tracing::warn!("{}", lang.say(&Say::Misbehaving { kinds: kinds.join(",") }));
    }
    let shutdown = shutdown_signal(lang);
    let addr = SocketAddr::new(cli.addr, cli.port);
    let cannot_listen = |e: std::io::Error| {
        lang.say(&Say::CannotListen { addr, error: jim_text::io_error(&e, lang) })
    };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(cannot_listen)?;
    let local = listener.local_addr().map_err(cannot_listen)?;
    // The machine line (the same in every language): scripts wait for it.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {local}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("stdout: {}", jim_text::io_error(&e, lang)))?;
    drop(stdout);
    let interfaces = if local.ip().is_unspecified() {
        if_addrs::get_if_addrs()
            .map(|list| list.iter().map(if_addrs::Interface::ip).collect())
            .map_err(|e| jim_text::io_error(&e, lang))
    } else {
        Ok(Vec::new())
    };
    tracing::info!("{}", lang.say(&cli_text::ready_line(local, interfaces)));
    jim_server::run(listener, config, shutdown).await.map_err(|e| lang.say(&e))
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled: the caller calls it before printing the ready line, so a
/// script that signals the server as soon as it is ready gets a clean exit 0, not death by signal.
fn shutdown_signal(lang: Lang) -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (int, term) = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let recv = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            if int.is_none() && term.is_none() {
                let _ = tokio::signal::ctrl_c().await;
            } else {
                tokio::select! {
                    () = recv(int) => {}
                    () = recv(term) => {}
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("{}", lang.say(&Say::ShuttingDown));
    }
}
