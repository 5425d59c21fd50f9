//! `jim-client`: the command line of the reference JIM client. Parsing lives here and the help
//! text, in English and Russian, in `cli_text`; everything else is in the library (`jim_client`).

mod cli_text;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use jim_client::commands::{chat, listen, ping, script, send};
use jim_client::connection::Delivery;
use jim_client::error::parse_duration;
use jim_client::login::LoginOptions;
use jim_client::output::{Format, Stdout, eprint_line};
use jim_client::{ClientError, ExitStatus, ServerAddr};
use jim_conformance::vocab::Delivery as CaseDelivery;
use jim_protocol::limits::DEFAULT_PORT;
use jim_protocol::{Dialect, Framing};
use jim_text::Lang;

#[derive(Debug, Parser)]
#[command(name = "jim-client", version)]
struct Cli {
    /// Machine-readable output: JSON objects, one per line, on stdout (`--json` or `--json -`).
    #[arg(long, global = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "-", value_name = "-", value_parser = parse_json_target)]
    json: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    common: jim_text::cli::Common,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send a presence, print the answer code (lesson 3).
    Ping {
        #[command(flatten)]
        server: ServerArgs,
        /// Account name (lesson-3 servers accept only Guest).
        #[arg(long, short = 'n', default_value = "Guest")]
        name: String,
        /// Presence shape: spec (with type and user.status) or course.
        #[arg(long, default_value = "spec", value_parser = parse_dialect)]
        dialect: Dialect,
        /// How long to wait for the connection and for the answer (3, 0.5, 500ms).
        #[arg(long, default_value = "3", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Interactive chat (or commands from a pipe).
    Chat {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        login: LoginArgs,
    },
    /// Send raw JSON or bytes and print what comes back, with timings.
    Send {
        /// Server host name or IP address.
        host: String,
        /// [PORT] then the JSON messages, each sent as its own write.
        #[arg(value_name = "PORT] [JSON")]
        args: Vec<String>,
        /// Bytes to send verbatim (with escapes); repeatable, kept in command-line order.
        #[arg(long, value_name = "BYTES")]
        raw: Vec<String>,
        /// Cut each message into writes of N bytes (20 ms apart unless --trickle).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        split: Option<u32>,
        /// Write one byte (or --split N bytes) at a time, MS milliseconds apart.
        #[arg(long, value_name = "MS")]
        trickle: Option<u64>,
        /// Send all messages in a single write (what breaks most student servers).
        #[arg(long)]
        coalesce: bool,
        /// After the last write, read for MS milliseconds (or until the server closes).
        #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=600_000))]
        wait: u64,
        /// Between messages, wait until something arrives, at most MS milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(0..=600_000))]
        gap: u64,
        /// What follows each JSON message: newline or bare (nothing).
        #[arg(long, default_value = "newline", value_parser = parse_framing)]
        framing: Framing,
        /// Stop reading after this many bytes.
        #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
        max_bytes: u64,
        /// Connect timeout (3, 0.5, 500ms).
        #[arg(long, default_value = "3", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Run a JSON-lines script of sends and expectations (for CI).
    Script {
        /// Server host name or IP address.
        host: String,
        /// [PORT] then FILE (a path, or - for stdin).
        #[arg(value_name = "PORT] [FILE", num_args = 1..=2, required = true)]
        args: Vec<String>,
        /// Default wait for each expectation, and the connect timeout.
        #[arg(long, default_value = "3", value_parser = parse_duration)]
        timeout: Duration,
        /// What follows each JSON message: newline or bare (nothing).
        #[arg(long, default_value = "newline", value_parser = parse_framing)]
        framing: Framing,
        /// How each message is written: whole, split (cut at a few byte positions, pieces
        /// apart) or trickle (one byte per write), as `jim-conformance --delivery`.
        #[arg(long, default_value = "whole", value_parser = parse_delivery)]
        delivery: CaseDelivery,
        /// The server's loop turn in milliseconds: split pieces and trickled bytes are spaced
        /// to 1.5 times it, as `jim-conformance` spaces them against a slow server.
        #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
        turn: u64,
        /// The value of `$name` (lesson-3 servers accept only Guest).
        #[arg(long, short = 'n', default_value = "Guest")]
        name: String,
        /// The value of `$account` (a registered account).
        #[arg(long, requires = "password")]
        user: Option<String>,
        /// The value of `$password`.
        #[arg(long, requires = "user")]
        password: Option<String>,
        /// `--user` is a registered account of a server that admits only its database's users:
        /// its presences carry a pubkey.
        #[arg(long, requires = "user")]
        registered: bool,
        /// `$user:LABEL` (or `$user:LABEL:LEN`) logs in as the registered account NAME, whose
        /// course key (PBKDF2 of its password) answers its 511 challenge; repeatable.
        #[arg(long, value_name = "LABEL:LEN=NAME:KEY", value_parser = parse_account)]
        account: Vec<(String, String, String)>,
        /// The value of `$offline_account` (an account that exists but is not connected).
        #[arg(long, value_name = "NAME")]
        offline_user: Option<String>,
    },
    /// Log in and print every message that arrives, as JSON lines.
    Listen {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        login: LoginArgs,
        /// Join this room after logging in (repeatable).
        #[arg(long, value_name = "#ROOM")]
        join: Vec<String>,
        /// Stop after N messages.
        #[arg(long, value_name = "N")]
        count: Option<usize>,
        /// Stop after this long (10, 0.5, 500ms).
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
    },
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Server host name or IP address.
    host: String,
    /// Server port.
    #[arg(default_value_t = DEFAULT_PORT)]
    port: u16,
}

impl ServerArgs {
    fn addr(&self) -> ServerAddr {
        ServerAddr { host: self.host.clone(), port: self.port }
    }
}

#[derive(Debug, Args)]
struct LoginArgs {
    /// Account name.
    #[arg(long, short = 'n')]
    name: String,
    /// Password: spec dialect sends `authenticate` first; course dialect answers the 511.
    #[arg(long, short = 'p')]
    password: Option<String>,
    /// Dialect to write: spec (msg, quit, ...) or course (message, exit, ...).
    #[arg(long, default_value = "spec", value_parser = parse_dialect)]
    dialect: Dialect,
    /// How long to wait for each answer, and for the connection (5, 0.5, 500ms).
    #[arg(long, default_value = "5", value_parser = parse_duration)]
    timeout: Duration,
}

impl LoginArgs {
    fn options(&self) -> LoginOptions {
        LoginOptions {
            name: self.name.clone(),
            password: self.password.clone(),
            dialect: self.dialect,
            timeout: self.timeout,
        }
    }
}

/// `--json` takes only `-` (stdout): the client has no other place to write JSON to.
fn parse_json_target(s: &str) -> Result<String, String> {
    if s == "-" {
        Ok(s.to_owned())
    } else {
        Err(jim_client::output::lang()
            .pick(
                "JSON goes to stdout only: write --json or --json -",
                "JSON выводится только в stdout: пишите --json или --json -",
            )
            .to_owned())
    }
}

/// `--json -` as `--json=-`: clap's optional value needs the `=`, and without it `-` would be
/// taken for a positional argument (`script` reads stdin from `-`: write `script HOST PORT -`
/// before `--json`, or `--json` after it, as before).
fn join_json_dash(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        if arg == "--" {
            out.push(arg);
            out.extend(args);
            break;
        }
        if arg == "--json" && args.peek().is_some_and(|next| next == "-") {
            args.next();
            out.push("--json=-".into());
        } else {
            out.push(arg);
        }
    }
    out
}

/// The command line in `lang`.
fn command(lang: Lang) -> clap::Command {
    jim_text::cli::localize(Cli::command(), lang, &cli_text::help)
}

fn parse_dialect(s: &str) -> Result<Dialect, String> {
    s.parse()
}

fn parse_framing(s: &str) -> Result<Framing, String> {
    s.parse()
}

fn parse_account(s: &str) -> Result<(String, String, String), String> {
    let parsed = s.split_once('=').and_then(|(slot, rest)| {
        let (name, key) = rest.rsplit_once(':')?;
        (!slot.is_empty() && !name.is_empty() && !key.is_empty())
            .then(|| (slot.to_owned(), name.to_owned(), key.to_owned()))
    });
    parsed.ok_or_else(|| format!("{s:?}: give LABEL:LEN=NAME:KEY"))
}

fn parse_delivery(s: &str) -> Result<CaseDelivery, String> {
    CaseDelivery::parse(s).ok_or_else(|| format!("{s:?}: give whole, split or trickle"))
}

fn main() -> ExitCode {
    let lang = Lang::detect();
    jim_client::output::set_lang(lang);
    let args = join_json_dash(std::env::args_os().collect());
    let matches = match command(lang).try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => jim_text::cli::exit_with(&e, lang),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => jim_text::cli::exit_with(&e, lang),
    };
    match cli.common.generate(command(lang)) {
        Ok(true) => return ExitCode::SUCCESS,
        Ok(false) => {}
        Err(e) => {
            eprint_line(&format!("jim-client: {}", jim_text::io_error(&e, lang)));
            return ExitCode::FAILURE;
        }
    }
    let Some(subcommand) = cli.command else {
        eprint_line(&format!(
            "jim-client: {}",
            lang.pick(
                "give a command: ping, chat, send, script or listen (see --help)",
                "укажите команду: ping, chat, send, script или listen (см. --help)",
            )
        ));
        return ExitCode::from(ExitStatus::Usage.code());
    };
    match run(subcommand, cli.json.is_some(), &matches) {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) => {
            eprint_line(&format!("jim-client: {e:#}"));
            ExitCode::from(ExitStatus::Usage.code())
        }
    }
}

fn run(subcommand: Command, json: bool, matches: &ArgMatches) -> anyhow::Result<ExitStatus> {
    let lang = jim_client::output::lang();
    let format = if json { Format::Json } else { Format::Human };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context(lang.pick("cannot start the async runtime", "не удаётся запустить среду async"))?;
    let mut stdout = Stdout::default();
    let status = match subcommand {
        Command::Ping { server, name, dialect, timeout } => {
            let opts = ping::Options { server: server.addr(), name, dialect, timeout, format };
            runtime.block_on(ping::run(&opts, &mut stdout))
        }
        Command::Chat { server, login } => {
            let opts = chat::Options { server: server.addr(), login: login.options(), format };
            let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
            if interactive && format == Format::Human {
                run_interactive_chat(&runtime, &opts)?
            } else {
                runtime.block_on(async {
                    let input = chat::spawn_stdin_lines();
                    chat::run(&opts, input, &mut stdout, None).await
                })
            }
        }
        Command::Send {
            host,
            args,
            raw,
            split,
            trickle,
            coalesce,
            wait,
            gap,
            framing,
            max_bytes,
            timeout,
        } => {
            let send_matches = matches.subcommand_matches("send");
            let (port, messages) = match send_messages(send_matches, &args, &raw) {
                Ok(v) => v,
                Err(e) => return Ok(usage(&e)),
            };
            if messages.is_empty() {
                return Ok(usage(&ClientError::Usage(
                    lang.pick(
                        "nothing to send: give JSON messages or --raw BYTES (see --help)",
                        "нечего отправлять: дайте сообщения JSON или --raw BYTES (см. --help)",
                    )
                    .into(),
                )));
            }
            let delivery = match (split, trickle) {
                (None, None) => Delivery::Whole,
                (size, pause) => Delivery::Split {
                    size: size.unwrap_or(1) as usize,
                    pause: Duration::from_millis(pause.unwrap_or(20)),
                },
            };
            let opts = send::Options {
                server: ServerAddr { host, port },
                messages,
                framing,
                delivery,
                coalesce,
                gap: Duration::from_millis(gap),
                wait: Duration::from_millis(wait),
                max_bytes,
                timeout,
                format,
            };
            runtime.block_on(send::run(&opts, &mut stdout))
        }
        Command::Script {
            host,
            args,
            timeout,
            framing,
            delivery,
            turn,
            name,
            user,
            password,
            registered,
            account,
            offline_user,
        } => {
            let (port, path) = match args.as_slice() {
                [path] => (DEFAULT_PORT, path.clone()),
                [port, path] => match port.parse::<u16>() {
                    Ok(p) => (p, path.clone()),
                    Err(_) => {
                        return Ok(usage(&ClientError::Usage(format!(
                            "{port:?} {}",
                            lang.pick(
                                "is not a port number (usage: script HOST [PORT] FILE|-)",
                                "— не номер порта (использование: script HOST [PORT] FILE|-)",
                            )
                        ))));
                    }
                },
                _ => {
                    return Ok(usage(&ClientError::Usage(
                        lang.pick(
                            "usage: script HOST [PORT] FILE|-",
                            "использование: script HOST [PORT] FILE|-",
                        )
                        .into(),
                    )));
                }
            };
            let text = match script::read_script(&path) {
                Ok(t) => t,
                Err(e) => return Ok(usage(&e)),
            };
            let script = match script::parse(&path, &text) {
                Ok(s) => s,
                Err(e) => return Ok(usage(&e)),
            };
            let opts = script::Options {
                server: ServerAddr { host, port },
                script,
                timeout,
                framing,
                format,
                delivery,
                turn: Duration::from_millis(turn),
                name,
                account: user.zip(password),
                registered,
                drawn: account,
                offline: offline_user,
            };
            runtime.block_on(script::run(&opts, &mut stdout))
        }
        Command::Listen { server, login, join, count, duration } => {
            for room in &join {
                if !room.starts_with('#') || room.len() < 2 {
                    return Ok(usage(&ClientError::Usage(format!(
                        "{}: --join '#{room}'",
                        lang.pick("room names start with '#'", "имена комнат начинаются с '#'")
                    ))));
                }
            }
            let opts = listen::Options {
                server: server.addr(),
                login: login.options(),
                rooms: join,
                count,
                duration,
            };
            runtime.block_on(listen::run(&opts, &mut stdout))
        }
    };
    // A task may still be blocked reading stdin (chat reads it on a blocking thread); dropping
    // the runtime normally waits for it, so a chat the server ended would linger until the user
    // typed a line. Leave such work behind: the process exits now.
    runtime.shutdown_background();
    Ok(status)
}

fn usage(e: &ClientError) -> ExitStatus {
    jim_client::output::eprint_error(e);
    e.exit_status()
}

/// Splits `send`'s positional arguments into the port and the messages, and merges `--raw`
/// values in command-line order.
fn send_messages(
    matches: Option<&ArgMatches>,
    args: &[String],
    raw: &[String],
) -> Result<(u16, Vec<send::Outgoing>), ClientError> {
    let mut positions: Vec<usize> =
        matches.and_then(|m| m.indices_of("args")).map(Iterator::collect).unwrap_or_default();
    let raw_positions: Vec<usize> =
        matches.and_then(|m| m.indices_of("raw")).map(Iterator::collect).unwrap_or_default();
    let mut json_args = args;
    let mut port = DEFAULT_PORT;
    if let Some(first) = args.first() {
        if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
            port = first.parse().map_err(|_| {
                let why = jim_client::output::lang()
                    .pick("is not a port number (1-65535)", "— не номер порта (1-65535)");
                ClientError::Usage(format!("{first} {why}"))
            })?;
            json_args = &args[1..];
            if !positions.is_empty() {
                positions.remove(0);
            }
        }
    }
    let mut items: Vec<(usize, send::Outgoing)> = Vec::new();
    for (i, text) in json_args.iter().enumerate() {
        let at = positions.get(i).copied().unwrap_or(usize::MAX - json_args.len() + i);
        items.push((at, send::Outgoing::json(text, i + 1)?));
    }
    for (i, text) in raw.iter().enumerate() {
        let bytes = jim_client::escape::unescape(text).map_err(ClientError::Usage)?;
        let at = raw_positions.get(i).copied().unwrap_or(usize::MAX - raw.len() + i);
        items.push((at, send::Outgoing::Raw(bytes)));
    }
    items.sort_by_key(|(at, _)| *at);
    Ok((port, items.into_iter().map(|(_, m)| m).collect()))
}

fn run_interactive_chat(
    runtime: &tokio::runtime::Runtime,
    opts: &chat::Options,
) -> anyhow::Result<ExitStatus> {
    let lang = jim_client::output::lang();
    let editor = chat::spawn_line_editor(&format!("{}> ", opts.login.name)).context(
        lang.pick("cannot start the line editor", "не удаётся запустить редактор строк"),
    )?;
    let chat::LineEditor { input, mut printer, prompt, thread } = editor;
    let status = runtime.block_on(chat::run(opts, input, printer.as_mut(), Some(prompt)));
    if !thread.is_finished() {
        printer.line(jim_client::output::lang().pick(
            "* session over: press Enter to exit",
            "* сеанс окончен: нажмите Enter, чтобы выйти",
        ));
        let _ = thread.join();
    }
    Ok(status)
}
