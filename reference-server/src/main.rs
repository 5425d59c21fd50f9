//! `jim-server`: the reference JIM server on the command line. Parses options, sets up logging
//! on stderr, raises the file-descriptor limit, prints `listening on ADDR` and serves until
//! SIGINT/SIGTERM.

use std::io::{IsTerminal as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use jim_protocol::Framing;
use jim_server::{Config, Misbehave};

const EXAMPLES: &str = "\
Examples:
  jim-server                           serve on 127.0.0.1:7777 (open mode: any name may log in)
  jim-server -a 0.0.0.0 -p 7777        serve a classroom: every interface, port 7777
  jim-server -a ::1 -p 0               IPv6 loopback on a free port (the ready line shows it)
  jim-server --users users.txt         accounts mode: `name:password` lines, '#' comments
  jim-server --db chat.sqlite          keep users, contacts and history across runs
  jim-server --misbehave help          list the deliberate defects for testing clients
  jim-server --misbehave no-time,late-replies=3
  RUST_LOG=debug jim-server            more logs (on stderr)

When ready, the server prints exactly one line on stdout: `listening on ADDR`.";

/// The reference JIM (JSON Instant Messaging) server: both dialects (spec and course), rooms,
/// contacts, accounts, hard to break.
#[derive(Debug, Parser)]
#[command(name = "jim-server", version, after_help = EXAMPLES)]
struct Cli {
    /// Address to listen on: 127.0.0.1 (this machine only), 0.0.0.0 (every IPv4 interface, for
    /// a classroom), ::1 or :: for IPv6. An empty string means every interface.
    #[arg(short = 'a', long, default_value = "127.0.0.1", value_parser = parse_addr)]
    addr: IpAddr,

    /// TCP port; 0 picks a free one.
    #[arg(short = 'p', long, default_value_t = jim_protocol::limits::DEFAULT_PORT)]
    port: u16,

    /// Accounts file (`name:password` per line, `#` comments): enables `authenticate` and the
    /// course 511 login; without it any name may log in.
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,

    /// SQLite file keeping users, contacts and message history (created if missing).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,

    /// Largest accepted message in bytes; a larger one gets 400 and the connection is closed.
    #[arg(long, value_name = "BYTES", default_value_t = jim_protocol::limits::DEFAULT_MAX_MESSAGE_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(1..=16 * 1024 * 1024))]
    max_message_bytes: u64,

    /// Most simultaneous connections; one more is closed at once.
    #[arg(long, value_name = "N", default_value_t = jim_server::config::DEFAULT_MAX_CONNECTIONS,
          value_parser = parse_positive)]
    max_connections: usize,

    /// Close a connection that sends nothing for SECS seconds (0: never).
    #[arg(long, value_name = "SECS", default_value_t = jim_server::config::DEFAULT_IDLE_TIMEOUT.as_secs())]
    idle_timeout: u64,

    /// Send a probe to every logged-in client every SECS seconds (default: never).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    probe_interval: Option<u64>,

    /// Bytes waiting for one client past which it is disconnected (it is too far behind).
    #[arg(long, value_name = "BYTES", default_value_t = jim_server::config::DEFAULT_OUTBOUND_QUEUE_BYTES,
          value_parser = parse_positive)]
    outbound_queue_bytes: usize,

    /// Disconnect a client that takes none of the bytes waiting for it for SECS seconds.
    #[arg(long, value_name = "SECS", default_value_t = jim_server::config::DEFAULT_STALL_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    stall_timeout: u64,

    /// Close a connection whose message is not complete SECS seconds after its first byte
    /// (slow-loris bound; 0: never).
    #[arg(long, value_name = "SECS", default_value_t = jim_server::config::DEFAULT_MESSAGE_TIMEOUT.as_secs())]
    message_timeout: u64,

    /// Most rooms that exist at once.
    #[arg(long, value_name = "N", default_value_t = jim_server::config::DEFAULT_MAX_ROOMS,
          value_parser = parse_positive)]
    max_rooms: usize,

    /// Most contact-list entries kept, all users together.
    #[arg(long, value_name = "N", default_value_t = jim_server::config::DEFAULT_MAX_CONTACTS,
          value_parser = parse_positive)]
    max_contacts: usize,

    /// How each JSON value ends on the wire: `newline` (default) or `bare` (no newline, as most
    /// student code writes).
    #[arg(long, value_enum, default_value_t = FramingArg::Newline)]
    framing: FramingArg,

    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// Deliberate defects, comma-separated (`--misbehave help` lists them), for testing clients
    /// and the conformance suite against a hostile server.
    #[arg(long, value_name = "KIND[,KIND...]")]
    misbehave: Option<String>,
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
        other => {
            other.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| {
                format!("{other:?} is not an IP address (try 127.0.0.1, 0.0.0.0 or ::1)")
            })
        }
    }
}

fn parse_positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?}: give a whole number greater than 0")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let misbehave = match cli.misbehave.as_deref() {
        Some("help") => {
            print!("{}", Misbehave::help());
            return ExitCode::SUCCESS;
        }
        Some(list) => match Misbehave::parse_list(list) {
            Ok(kinds) => kinds,
            Err(e) => {
                eprintln!("error: --misbehave: {e}");
                return ExitCode::from(2);
            }
        },
        None => Vec::new(),
    };
    let (log, guard) = init_logging(cli.log_format);
    let result = serve(cli, misbehave);
    let dropped = log.error_counter().dropped_lines();
    if dropped > 0 {
        tracing::warn!(dropped, "log lines were dropped: stderr was not read fast enough");
    }
    // Writes what is still buffered (tracing-appender bounds this wait).
    drop(guard);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jim-server: {e:#}");
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
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    (writer, guard)
}

#[tokio::main]
async fn serve(cli: Cli, misbehave: Vec<Misbehave>) -> anyhow::Result<()> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) if n < (cli.max_connections as u64).saturating_add(64) => tracing::warn!(
            "the file-descriptor limit is {n}: fewer than --max-connections {} can be served",
            cli.max_connections
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("could not raise the file-descriptor limit: {e}"),
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
        ..Config::default()
    };
    if !config.misbehave.is_empty() {
        let kinds: Vec<String> = config.misbehave.iter().map(ToString::to_string).collect();
        tracing::warn!("MISBEHAVING on purpose: {}", kinds.join(","));
    }
    let addr = SocketAddr::new(cli.addr, cli.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (port in use? try -p 0)"))?;
    let local = listener.local_addr().context("listener address")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {local}").and_then(|()| stdout.flush()).context("stdout")?;
    drop(stdout);
    tracing::info!("listening on {local}");
    jim_server::run(listener, config, shutdown_signal()).await?;
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}
