//! `jim-client`: the command line of the reference JIM client. Parsing and help text live here;
//! everything else is in the library (`jim_client`).

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
use jim_protocol::limits::DEFAULT_PORT;
use jim_protocol::{Dialect, Framing};

const ABOUT: &str =
    "The reference JIM client: check a JIM (JSON Instant Messaging) server by hand.";

const TOP_HELP: &str = "\
Examples:
  jim-client ping 127.0.0.1 7777                    # lesson 3: presence as Guest -> \"200 OK (3 ms)\"
  jim-client chat 127.0.0.1 7777 --name Alice       # interactive chat, /help inside
  jim-client send 127.0.0.1 7777 '{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Guest\"}}'
  jim-client script 127.0.0.1 7777 checks.jsonl     # scripted checks for CI (fixture steps)
  jim-client listen 127.0.0.1 7777 --name Bob       # print every message as a JSON line

PORT defaults to 7777. Add --json (anywhere) for machine-readable output.

Exit status (every command):
  0  success (ping: a 2xx answer; script: every expectation held)
  1  the server answered, but not as hoped (another code, not JIM, a script mismatch)
  2  usage error (bad arguments, bad script)
  3  the server cannot be reached, closed without answering, or did not answer in time";

const PING_HELP: &str = "\
Sends one presence (one write), prints the answer and closes: the lesson-3 exchange.

Examples:
  jim-client ping localhost                     # 200 OK (2 ms)
  jim-client ping 127.0.0.1 8888 --name Alice   # lesson-3 servers accept only Guest
  jim-client ping 127.0.0.1 7777 --dialect course --json

Exit status: 0 for 2xx; 1 for any other code, or a reply that is not a JIM response
(plain text, broken JSON, an object without \"response\": the message says which);
2 usage; 3 unreachable, closed without answering, or no answer within --timeout.";

const CHAT_HELP: &str = "\
Logs in (presence; with --password: spec `authenticate` first, or the course 511 challenge
answered), then reads commands. Messages from the server are printed as they arrive.

Commands (type /help inside):
  /msg USER TEXT    /to NAME    TEXT (to the current target)    /join #ROOM    /leave #ROOM
  /contacts    /add USER    /del USER    /users    /raw JSON    /help    /quit

One request is sent at a time: the next one waits for the previous answer (or --timeout).
A probe from the server is answered with a presence. When stdin is not a terminal, commands
are read line by line and end of input quits, so it can be scripted:

  printf '/join #lobby\\nhello all\\n/quit\\n' | jim-client chat 127.0.0.1 7777 --name Alice
  jim-client chat 127.0.0.1 7777 --name Alice --password secret --dialect course

Exit status: 0 after /quit or end of input; 1 if the login is refused or the server ends the
session first; 3 if the server cannot be reached or does not answer.";

const SEND_HELP: &str = "\
Sends each JSON argument as its own write (followed by \\n unless --framing bare), then prints
everything received, with its arrival time in ms since connecting. Before each next message
it waits until something arrives or --gap passes; after the last one it reads for --wait or
until the server closes. Bytes that are not JSON are shown as an error line with a preview.

Examples:
  jim-client send 127.0.0.1 7777 '{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Guest\"}}'
  jim-client send 127.0.0.1 7777 --raw '{\"action\":\"pres' --raw 'ence\"}\\n'     # raw bytes
  jim-client send 127.0.0.1 7777 --raw '\\xff\\xfe\\n' '{\"action\":\"quit\"}'        # order kept
  jim-client send 127.0.0.1 7777 --coalesce MSG1 MSG2     # both in ONE write (pipelining)
  jim-client send 127.0.0.1 7777 --split 5 MSG            # 5-byte writes, 20 ms apart
  jim-client send 127.0.0.1 7777 --trickle 50 MSG         # one byte every 50 ms

--raw escapes: \\n \\r \\t \\0 \\\\ \\xNN \\u{HEX}. If the first message is a bare number, give
PORT explicitly. Exit status: 0 when everything was sent; 1 when the connection closed or
failed first; 2 usage; 3 unreachable.";

const SCRIPT_HELP: &str = "\
Runs a scenario (FILE, or - for stdin) written in the conformance suite's fixture language:
one step per line (blank lines and lines starting with // or # are comments), or a whole
fixture file. Steps use connection \"a\" unless they say \"conn\":

  {\"send\": {\"action\":\"presence\",\"time\":\"$now\",\"user\":{\"account_name\":\"Guest\"}}}
  {\"expect\": {\"response\": 200}}                 next value must match (pushes are skipped)
  {\"expect\": {\"response\": 200}, \"timeout_ms\": 5000}
  {\"expect_any\": [{\"response\": 200}, {\"response\": 202}]}
  {\"send_raw\": \"{\\\"action\\\":\\\"quit\\\"}\\n\"}         bytes with escapes (\\n \\xNN \\u{HEX})
  {\"expect_silence\": {\"for_ms\": 500}}           nothing may arrive for 500 ms
  {\"expect_close\": true}                         the server closes the connection next
  {\"listen_ms\": 100}                             keep reading for 100 ms

Patterns (fixtures/README.md): every key of the pattern must match, extra keys are fine,
numbers match by value (200 = 200.0); \"$any\", \"$number\", \"$string\", \"$array\",
\"$object\", {\"$in\": [...]}, {\"$regex\": ...} and the other operators match by rule.
Placeholders: \"$now\" is the current time, \"$user:alice\" a unique name per run.

Example:
  jim-client script 127.0.0.1 7777 checks.jsonl
  printf '%s\\n' '{\"send\":{\"action\":\"presence\",\"time\":\"$now\",\"user\":{\"account_name\":\"Guest\"}}}' \\
    '{\"expect\":{\"response\":200}}' | jim-client script 127.0.0.1 7777 -

Exit status: 0 when every expectation held; 1 at the first mismatch (line number, expected,
got, why); 2 for a bad script; 3 when the server cannot be reached.";

const LISTEN_HELP: &str = "\
Logs in like chat, joins the --join rooms, then prints every message that arrives as one
compact JSON line on stdout (flushed per line, with or without --json); status goes to
stderr. Answers probes.
Stops when the server closes, on Ctrl-C, after --count messages or after --duration.

Examples:
  jim-client listen 127.0.0.1 7777 --name Bob
  jim-client listen 127.0.0.1 7777 --name Bob --join '#lobby' | jq .
  jim-client listen 127.0.0.1 7777 --name Bob --count 1 --duration 10   # for scripts

Exit status: 0 when it stops normally; 1 when the login or a join is refused; 3 unreachable.";

#[derive(Debug, Parser)]
#[command(name = "jim-client", version, about = ABOUT, after_help = TOP_HELP)]
struct Cli {
    /// Machine-readable output: JSON objects, one per line.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send a presence, print the answer code (lesson 3).
    #[command(after_help = PING_HELP)]
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
    #[command(after_help = CHAT_HELP)]
    Chat {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        login: LoginArgs,
    },
    /// Send raw JSON or bytes and print what comes back, with timings.
    #[command(after_help = SEND_HELP)]
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
    #[command(after_help = SCRIPT_HELP)]
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
    },
    /// Log in and print every message that arrives, as JSON lines.
    #[command(after_help = LISTEN_HELP)]
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

fn parse_dialect(s: &str) -> Result<Dialect, String> {
    s.parse()
}

fn parse_framing(s: &str) -> Result<Framing, String> {
    s.parse()
}

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => e.exit(),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match run(cli, &matches) {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) => {
            eprint_line(&format!("jim-client: {e:#}"));
            ExitCode::from(ExitStatus::Usage.code())
        }
    }
}

fn run(cli: Cli, matches: &ArgMatches) -> anyhow::Result<ExitStatus> {
    let format = if cli.json { Format::Json } else { Format::Human };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut stdout = Stdout::default();
    let status = match cli.command {
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
                    "nothing to send: give JSON messages or --raw BYTES (see --help)".into(),
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
        Command::Script { host, args, timeout, framing } => {
            let (port, path) = match args.as_slice() {
                [path] => (DEFAULT_PORT, path.clone()),
                [port, path] => match port.parse::<u16>() {
                    Ok(p) => (p, path.clone()),
                    Err(_) => {
                        return Ok(usage(&ClientError::Usage(format!(
                            "{port:?} is not a port number (usage: script HOST [PORT] FILE|-)"
                        ))));
                    }
                },
                _ => {
                    return Ok(usage(&ClientError::Usage(
                        "usage: script HOST [PORT] FILE|-".into(),
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
            };
            runtime.block_on(script::run(&opts, &mut stdout))
        }
        Command::Listen { server, login, join, count, duration } => {
            for room in &join {
                if !room.starts_with('#') || room.len() < 2 {
                    return Ok(usage(&ClientError::Usage(format!(
                        "room names start with '#': --join '#{room}'"
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
    eprint_line(&format!("jim-client: {e}"));
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
                ClientError::Usage(format!("{first} is not a port number (1-65535)"))
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
    let editor = chat::spawn_line_editor(&format!("{}> ", opts.login.name))
        .context("cannot start the line editor")?;
    let chat::LineEditor { input, mut printer, prompt, thread } = editor;
    let status = runtime.block_on(chat::run(opts, input, printer.as_mut(), Some(prompt)));
    if !thread.is_finished() {
        printer.line("* session over: press Enter to exit");
        let _ = thread.join();
    }
    Ok(status)
}
