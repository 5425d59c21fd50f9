//! `chat`: an interactive session. Lines typed by the user become requests; messages from the
//! server are printed as they arrive, even while the user is typing.
//!
//! The loop follows PROTOCOL.md `§order`: one request at a time (the next one is sent after the
//! previous response, or after `--timeout`), probes answered with a presence (queued like any
//! request, so nothing is pipelined), 205 pushes and relays never taken for a response.
//!
//! Input comes from a channel of [`InputEvent`]s: a line editor thread on a terminal
//! ([`spawn_line_editor`]), or plain lines from a pipe ([`spawn_stdin_lines`]), which is how
//! scripts and tests drive it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jim_protocol::{Dialect, Response, Target};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::ServerAddr;
use crate::connection::{Arrival, Connection, Incoming, Reader, Writer};
use crate::error::{ClientError, ExitStatus};
use crate::login::{self, LoginOptions, is_2xx};
use crate::messages::{self, Received, classify};
use crate::output::{Format, LineSink, arrival_json, bounded, lang};
use crate::say::{self, Said, Say, said};
use jim_text::Lang;

/// The commands, as `/help` prints them.
pub const HELP: &str = "\
commands:
  /msg USER TEXT    send TEXT to USER (or to #ROOM)
  /to NAME          set the current target (a user or #room); plain lines go there
  TEXT              send TEXT to the current target
  /join #ROOM       join a room (and make it the current target)
  /leave #ROOM      leave a room
  /contacts         your contact list (get_contacts)
  /add USER         add a contact
  /del USER         remove a contact
  /users            known users (get_users)
  /raw JSON         send any JSON object as it is
  /help             this list
  /quit             leave (quit / exit) and close; end of input does the same";

/// The commands in Russian, as `/help` prints them under `--lang ru`.
pub const HELP_RU: &str = "\
команды:
  /msg ИМЯ ТЕКСТ    отправить ТЕКСТ пользователю ИМЯ (или в #КОМНАТУ)
  /to ИМЯ           выбрать собеседника (пользователя или #комнату); простые строки идут ему
  ТЕКСТ             отправить ТЕКСТ текущему собеседнику
  /join #КОМНАТА    войти в комнату (и сделать её собеседником)
  /leave #КОМНАТА   выйти из комнаты
  /contacts         список контактов (get_contacts)
  /add ИМЯ          добавить контакт
  /del ИМЯ          удалить контакт
  /users            известные пользователи (get_users)
  /raw JSON         отправить любой объект JSON как есть
  /help             этот список
  /quit             уйти (quit / exit) и закрыть соединение; конец ввода делает то же";

/// `/help` in `lang`.
pub fn help(lang: Lang) -> &'static str {
    lang.pick(HELP, HELP_RU)
}

/// How long to wait for the server to close after quit.
const QUIT_GRACE: Duration = Duration::from_secs(1);

/// The label of the presence that answers a probe.
const PROBE_ANSWER: &str = "presence (probe answer)";

/// [`PROBE_ANSWER`] in Russian.
const PROBE_ANSWER_RU: &str = "presence (ответ на probe)";

/// Most lines kept waiting while a request is pending.
const MAX_QUEUED: usize = 1000;

/// Something from the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputEvent {
    /// One line of input.
    Line(String),
    /// End of input (Ctrl-D, end of a pipe).
    End,
    /// Ctrl-C.
    Interrupt,
}

/// What `chat` needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the server is.
    pub server: ServerAddr,
    /// Who to log in as (its timeout also bounds each later request).
    pub login: LoginOptions,
    /// Human or JSON output.
    pub format: Format,
}

/// What kind of answer a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// A plain response.
    Plain,
    /// A 202 list.
    List,
    /// No response at all (quit / exit).
    None,
}

/// A request waiting to be sent.
#[derive(Debug, Clone)]
struct Request {
    value: Value,
    /// What the request is, for the lines about it (`join #r`, `msg to Bob`); its English
    /// also drives the session (a `join` sets the target).
    label: Said,
    reply: Reply,
}

/// A parsed input line.
#[derive(Debug)]
enum Command {
    Send(Request),
    Target(String),
    Help,
    Quit,
    Nothing,
    Error(Said),
}

fn parse_command(line: &str, dialect: Dialect, me: &str, target: Option<&str>) -> Command {
    let line = line.trim();
    if line.is_empty() {
        return Command::Nothing;
    }
    let send = |value, label: Said, reply| Command::Send(Request { value, label, reply });
    // A label that reads the same in both languages: the action and its argument.
    let same = |text: String| said(text.clone(), text);
    let chat = |to: &str, text: &str| {
        let label = said(format!("msg to {to}"), format!("msg для {to}"));
        send(messages::chat(dialect, me, to, text), label, Reply::Plain)
    };
    if !line.starts_with('/') {
        return match target {
            Some(to) => chat(to, line),
            None => Command::Error(said(
                "no current target: use /to NAME (or /msg NAME TEXT) first",
                "собеседник не выбран: сначала /to ИМЯ (или /msg ИМЯ ТЕКСТ)",
            )),
        };
    }
    let (cmd, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let one_arg = |usage: &str| -> Result<&str, Said> {
        if rest.is_empty() || rest.contains(char::is_whitespace) {
            Err(said(format!("usage: {usage}"), format!("использование: {usage}")))
        } else {
            Ok(rest)
        }
    };
    let room_arg = |usage: &str| -> Result<&str, Said> {
        let room = one_arg(usage)?;
        if room.starts_with('#') && room.len() > 1 {
            Ok(room)
        } else {
            Err(said(
                format!("room names start with '#': {cmd} #{room}"),
                format!("имена комнат начинаются с '#': {cmd} #{room}"),
            ))
        }
    };
    let result = match cmd {
        "/msg" => match rest.split_once(char::is_whitespace) {
            Some((to, text)) => Ok(chat(to, text.trim())),
            None => Err(said("usage: /msg USER TEXT", "использование: /msg ИМЯ ТЕКСТ")),
        },
        "/to" => one_arg("/to NAME").map(|n| Command::Target(n.to_owned())),
        "/join" => room_arg("/join #ROOM")
            .map(|r| send(messages::join(r), same(format!("join {r}")), Reply::Plain)),
        "/leave" => room_arg("/leave #ROOM")
            .map(|r| send(messages::leave(r), same(format!("leave {r}")), Reply::Plain)),
        "/contacts" => {
            let label = said("contacts", "контакты");
            Ok(send(messages::get_contacts(dialect, me), label, Reply::List))
        }
        "/users" => Ok(send(messages::get_users(me), said("users", "пользователи"), Reply::List)),
        "/add" => one_arg("/add USER").map(|u| {
            send(messages::add_contact(dialect, me, u), same(format!("add {u}")), Reply::Plain)
        }),
        "/del" => one_arg("/del USER").map(|u| {
            send(messages::del_contact(dialect, me, u), same(format!("del {u}")), Reply::Plain)
        }),
        "/raw" => match serde_json::from_str::<Value>(rest) {
            Ok(v) => Ok(send(v, same("raw".to_owned()), Reply::Plain)),
            Err(e) => Err(said(
                format!("/raw needs one JSON value: {e}"),
                format!(
                    "/raw ждёт одно значение JSON (ошибка в строке {}, столбце {})",
                    e.line(),
                    e.column()
                ),
            )),
        },
        "/help" | "/?" => Ok(Command::Help),
        "/quit" | "/exit" => Ok(Command::Quit),
        other => Err(said(
            format!("unknown command {other}: /help lists them"),
            format!("неизвестная команда {other}: /help — список команд"),
        )),
    };
    result.unwrap_or_else(Command::Error)
}

/// The request in flight.
struct Pending {
    label: Said,
    reply: Reply,
    deadline: tokio::time::Instant,
}

/// Something waiting its turn: requests, and local output kept in input order.
enum Queued {
    Request(Request),
    Note(Said),
    Help,
    Quit,
}

/// The state of one chat session.
struct Chat<'a> {
    writer: Writer,
    dialect: Dialect,
    name: String,
    target: Option<String>,
    prompt: Option<Prompt>,
    queue: VecDeque<Queued>,
    pending: Option<Pending>,
    /// Spec `quantity` lists: items still expected, and the label they belong to.
    list_items: Option<(u64, Said)>,
    timeout: Duration,
    format: Format,
    out: &'a mut dyn LineSink,
    quit_deadline: Option<tokio::time::Instant>,
    /// The last line printed about something that arrived, and how often it came again since.
    repeated: Option<(String, u64)>,
}

/// Runs `chat` with input from `input`; returns the exit status (0 after /quit or end of input,
/// 1 when the server closes the session first, 3 when it cannot be reached).
pub async fn run(
    opts: &Options,
    input: mpsc::Receiver<InputEvent>,
    out: &mut dyn LineSink,
    prompt: Option<Prompt>,
) -> ExitStatus {
    match chat(opts, input, out, prompt).await {
        Ok(status) => status,
        Err(e) => {
            crate::output::eprint_error(&e);
            e.exit_status()
        }
    }
}

async fn chat(
    opts: &Options,
    mut input: mpsc::Receiver<InputEvent>,
    out: &mut dyn LineSink,
    prompt: Option<Prompt>,
) -> Result<ExitStatus, ClientError> {
    let l = &opts.login;
    let conn = Connection::connect(&opts.server.host, opts.server.port, l.timeout).await?;
    let peer = conn.peer();
    let session = login::login(conn, l).await?;
    let mut chat = Chat {
        writer: session.writer,
        dialect: session.dialect,
        name: session.name,
        target: None,
        prompt,
        queue: VecDeque::new(),
        pending: None,
        list_items: None,
        timeout: l.timeout,
        format: opts.format,
        out,
        quit_deadline: None,
        repeated: None,
    };
    let welcome = &session.welcome;
    chat.note(&Said::each(|lang| {
        lang.say(&Say::LoggedIn {
            name: chat.name.clone(),
            peer: peer.to_string(),
            dialect: chat.dialect.to_string(),
            code: welcome.code().as_u16(),
            text: say::response_text(welcome, lang),
        })
    }));
    chat.update_prompt();
    if let Some(users) = &session.users {
        chat.note(&Said::each(|lang| lang.say(&Say::Users { names: list_text(users, lang) })));
    }
    if let Some(contacts) = &session.contacts {
        let names = |lang| list_text(contacts, lang);
        chat.note(&Said::each(|lang| lang.say(&Say::Contacts { names: names(lang) })));
    }
    for arrival in session.early {
        chat.on_arrival(&arrival);
    }
    let mut arrivals = spawn_reader(session.reader);
    let mut input_open = true;
    loop {
        if chat.pump().await.is_err() {
            // The note about the failed write is printed; the session cannot go on.
            chat.note(&Said::of(&Say::SessionEnded));
            return Ok(ExitStatus::Failure);
        }
        let far = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
        let pending_deadline = chat.pending.as_ref().map(|p| p.deadline);
        let quit_deadline = chat.quit_deadline;
        tokio::select! {
            next = arrivals.recv() => match next {
                Some(Ok(arrival)) => {
                    chat.on_arrival(&arrival);
                    if let Incoming::Closed { .. } = arrival.item {
                        return Ok(if quit_deadline.is_some() { ExitStatus::Ok } else {
                            chat.note(&Said::of(&Say::SessionEnded));
                            ExitStatus::Failure
                        });
                    }
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(ExitStatus::Failure),
            },
            event = input.recv(), if input_open && quit_deadline.is_none() => match event {
                Some(InputEvent::Line(line)) => {
                    chat.on_line(&line);
                    if let Some(p) = &chat.prompt {
                        p.line_done();
                    }
                }
                Some(InputEvent::End) | None => {
                    input_open = false;
                    chat.queue.push_back(Queued::Quit);
                }
                Some(InputEvent::Interrupt) => {
                    input_open = false;
                    chat.queue.clear();
                    chat.pending = None;
                    chat.queue.push_back(Queued::Quit);
                }
            },
            _ = tokio::time::sleep_until(pending_deadline.unwrap_or(far)), if pending_deadline.is_some() => {
                if let Some(p) = chat.pending.take() {
                    let within = chat.timeout;
                    chat.note(&Said::each(|lang| lang.say(&Say::NoAnswerWithin {
                        label: p.label.get(lang).to_owned(),
                        within,
                    })));
                }
            },
            _ = tokio::time::sleep_until(quit_deadline.unwrap_or(far)), if quit_deadline.is_some() => {
                return Ok(ExitStatus::Ok);
            },
            _ = tokio::signal::ctrl_c(), if quit_deadline.is_none() => {
                chat.queue.clear();
                chat.pending = None;
                chat.queue.push_back(Queued::Quit);
            },
        }
    }
}

fn list_text(names: &[String], lang: Lang) -> String {
    if names.is_empty() { lang.say(&Say::NoNames) } else { names.join(", ") }
}

/// Moves the reader into a task that forwards every arrival until the connection ends.
fn spawn_reader(mut reader: Reader) -> mpsc::Receiver<Result<Arrival, ClientError>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let far = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
            let next = reader.next_until(far).await;
            let stop = match &next {
                Ok(Some(a)) => matches!(a.item, Incoming::Closed { .. }),
                Ok(None) => continue,
                Err(_) => true,
            };
            if let Some(item) = next.transpose() {
                if tx.send(item).await.is_err() {
                    break;
                }
            }
            if stop {
                break;
            }
        }
    });
    rx
}

impl Chat<'_> {
    /// Prints a line about something that arrived, cut to [`crate::output::MAX_LINE_CHARS`]. A line equal to
    /// the one before is counted instead (a server flooding probes or pushes printed millions of
    /// identical lines), and the count is printed before the next different line.
    fn show(&mut self, line: &str) {
        let line = bounded(line);
        if let Some((last, times)) = &mut self.repeated
            && *last == line
        {
            *times += 1;
            return;
        }
        self.flush_repeats();
        self.out.line(&line);
        self.repeated = Some((line.into_owned(), 0));
    }

    /// Prints how often the last line came again, if it did.
    fn flush_repeats(&mut self) {
        if let Some((_, times)) = self.repeated.take()
            && times > 0
        {
            match self.format {
                Format::Human => {
                    self.out.line(&format!("  {}", lang().say(&Say::Repeated { times })))
                }
                Format::Json => {
                    self.out.line(&json!({"event": "repeated", "count": times}).to_string())
                }
            };
        }
    }

    /// A note about the session: in `--lang` for people, in English in the JSON output.
    fn note(&mut self, text: &Said) {
        self.flush_repeats();
        match self.format {
            Format::Human => self.out.line(&format!("* {}", text.get(lang()))),
            Format::Json => self.out.line(&json!({"event": "note", "note": text.en()}).to_string()),
        };
    }

    fn update_prompt(&self) {
        if let Some(p) = &self.prompt {
            p.set(match &self.target {
                Some(t) => format!("{} → {t}> ", self.name),
                None => format!("{}> ", self.name),
            });
        }
    }

    fn on_line(&mut self, line: &str) {
        match parse_command(line, self.dialect, &self.name, self.target.as_deref()) {
            Command::Send(req) => {
                if self.queue.len() >= MAX_QUEUED {
                    self.note(&Said::of(&Say::QueueFull));
                    return;
                }
                if let Some(room) = req.label.strip_prefix("join ") {
                    self.target = Some(room.to_owned());
                    self.update_prompt();
                }
                if let Some(room) = req.label.strip_prefix("leave ") {
                    if self.target.as_deref() == Some(room) {
                        self.target = None;
                        self.update_prompt();
                    }
                }
                self.queue.push_back(Queued::Request(req));
            }
            Command::Target(t) => {
                let talking = Said::of(&Say::TalkingTo { name: t.clone() });
                self.queue.push_back(Queued::Note(talking));
                self.target = Some(t);
                self.update_prompt();
            }
            Command::Help => self.queue.push_back(Queued::Help),
            Command::Quit => self.queue.push_back(Queued::Quit),
            Command::Nothing => {}
            Command::Error(e) => self.queue.push_back(Queued::Note(e)),
        }
    }

    /// Sends queued requests while nothing is pending.
    async fn pump(&mut self) -> Result<(), ClientError> {
        while self.pending.is_none() && self.quit_deadline.is_none() {
            let Some(next) = self.queue.pop_front() else { return Ok(()) };
            match next {
                Queued::Request(req) => {
                    self.sent(&req.value);
                    let doing = said(
                        format!("sending {}", req.label.en()),
                        format!("отправка {}", req.label.get(Lang::Ru)),
                    );
                    if let Err(e) = self.writer.send_value(&req.value, &doing).await {
                        let label = &req.label;
                        self.note(&Said::each(|lang| {
                            lang.say(&Say::NotSent {
                                label: label.get(lang).to_owned(),
                                error: lang.say(&e),
                            })
                        }));
                        return Err(e);
                    }
                    if req.reply != Reply::None {
                        self.pending = Some(Pending {
                            label: req.label,
                            reply: req.reply,
                            deadline: tokio::time::Instant::now() + self.timeout,
                        });
                    }
                }
                Queued::Note(text) => self.note(&text),
                Queued::Help => {
                    for l in help(lang()).lines() {
                        self.out.line(l);
                    }
                }
                Queued::Quit => {
                    let bye = messages::quit(self.dialect, &self.name);
                    self.sent(&bye);
                    let _ = self.writer.send_value(&bye, &said("quitting", "выход")).await;
                    self.writer.shutdown().await;
                    self.quit_deadline = Some(tokio::time::Instant::now() + QUIT_GRACE);
                }
            }
        }
        Ok(())
    }

    fn sent(&mut self, value: &Value) {
        if self.format == Format::Json {
            let ms = self.writer.elapsed().as_millis() as u64;
            self.out.line(&json!({"ms": ms, "dir": "out", "value": value}).to_string());
        }
    }

    fn on_arrival(&mut self, arrival: &Arrival) {
        let received = match &arrival.item {
            Incoming::Value(v) => Some(classify(v)),
            _ => None,
        };
        if self.format == Format::Json {
            if let Some(Received::Probe) = received {
                // Probes differ only in their time: one stands for a run of them.
                self.show(r#"{"dir":"in","value":{"action":"probe"}}"#);
            } else {
                self.flush_repeats();
                self.out.line(&arrival_json(arrival).to_string());
                self.repeated = None;
            }
        }
        let value = match &arrival.item {
            Incoming::Value(v) => v,
            Incoming::Bad(e) => {
                if self.format == Format::Human {
                    self.show(&format!("! {}", say::frame_error(e).get(lang())));
                }
                return;
            }
            Incoming::Closed { reset } => {
                if self.format == Format::Human {
                    self.show(&format!("* {}", lang().say(&Say::ServerClosed { reset: *reset })));
                }
                return;
            }
        };
        let Some(received) = received else { return };
        if let Received::Probe = received {
            // Answer with a presence, queued first so it is not pipelined after a request. One
            // queued answer covers every probe that arrives before it is sent, so a server that
            // floods probes cannot grow the queue.
            let queued = matches!(self.queue.front(),
                Some(Queued::Request(r)) if r.label.en() == PROBE_ANSWER);
            if !queued {
                let presence = messages::presence(self.dialect, &self.name);
                let label = said(PROBE_ANSWER, PROBE_ANSWER_RU);
                let req = Request { value: presence, label, reply: Reply::Plain };
                self.queue.push_front(Queued::Request(req));
            }
        }
        if self.format == Format::Json {
            if let Received::Response(_) = received {
                self.pending = None;
            }
            return;
        }
        let lang = lang();
        let line = match received {
            Received::Response(r) => match self.pending.take() {
                Some(p) => self.describe_response(&p, &r),
                None => lang.say(&Say::UnexpectedResponse {
                    code: r.code().as_u16(),
                    text: say::response_text(&r, lang),
                }),
            },
            Received::Refresh(_) => format!("* {}", lang.say(&Say::Refresh)),
            Received::Probe => format!("* {}", lang.say(&Say::Probe)),
            Received::Chat(c) => {
                let from = c.from.as_deref().unwrap_or("?");
                match &c.to {
                    Target::Room(room) => format!("[{room}] {from}: {}", c.text),
                    Target::User(to) if *to == self.name => format!("{from}: {}", c.text),
                    Target::User(to) => format!("{from} → {to}: {}", c.text),
                }
            }
            Received::ContactItem(name) => match self.list_items.take() {
                Some((left, label)) => {
                    if left > 1 {
                        self.list_items = Some((left - 1, label));
                    }
                    format!("  - {name}")
                }
                None => lang.say(&Say::ContactItem { name }),
            },
            Received::OtherAction(action) => {
                format!("* {}", lang.say(&Say::OtherAction { action, value: value.to_string() }))
            }
            Received::Malformed(why) => format!(
                "! {}",
                lang.say(&Say::Malformed { value: value.to_string(), why: why.get(lang).into() })
            ),
            Received::NotJim(why) => format!(
                "! {}",
                lang.say(&Say::NotJim { value: value.to_string(), why: why.get(lang).into() })
            ),
        };
        self.show(&line);
    }

    fn describe_response(&mut self, p: &Pending, r: &Response) -> String {
        let lang = lang();
        let code = r.code().as_u16();
        let label = p.label.get(lang);
        if p.reply == Reply::List && is_2xx(r) {
            if let Some(list) = &r.list {
                return format!("{label}: {}", list_text(list, lang));
            }
            if let Some(n) = r.quantity {
                if n > 0 {
                    self.list_items = Some((n, p.label.clone()));
                }
                return lang.say(&Say::Follow { label: label.to_owned(), count: n });
            }
        }
        format!("{label}: {code} {}", say::response_text(r, lang))
    }
}

/// Reads stdin line by line on a task (for pipes and tests).
pub fn spawn_stdin_lines() -> mpsc::Receiver<InputEvent> {
    use tokio::io::AsyncBufReadExt;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        loop {
            let event = match lines.next_line().await {
                Ok(Some(line)) => InputEvent::Line(line),
                Ok(None) | Err(_) => InputEvent::End,
            };
            let end = event == InputEvent::End;
            if tx.send(event).await.is_err() || end {
                break;
            }
        }
    });
    rx
}

/// A line sink that prints through the line editor, above the prompt (through
/// [`crate::output::printable`]).
pub struct EditorPrinter<P: rustyline::ExternalPrinter + Send>(pub P);

impl<P: rustyline::ExternalPrinter + Send> LineSink for EditorPrinter<P> {
    fn line(&mut self, text: &str) -> bool {
        self.0.print(format!("{}\n", crate::output::printable(text))).is_ok()
    }
}

/// The line editor's prompt, shared with the session: it shows the current target.
#[derive(Debug, Clone)]
pub struct Prompt {
    text: Arc<Mutex<String>>,
    done: std::sync::mpsc::SyncSender<()>,
}

impl Prompt {
    /// Sets the text shown before the next line.
    pub fn set(&self, text: String) {
        if let Ok(mut guard) = self.text.lock() {
            *guard = text;
        }
    }

    /// Tells the editor that the last line was handled, so the next prompt is up to date.
    pub fn line_done(&self) {
        let _ = self.done.try_send(());
    }
}

/// A line editor running on its own thread.
pub struct LineEditor {
    /// What the user types.
    pub input: mpsc::Receiver<InputEvent>,
    /// Prints above the prompt.
    pub printer: Box<dyn LineSink>,
    /// The prompt, updated by the session.
    pub prompt: Prompt,
    /// The editor thread; it ends after end of input, Ctrl-C, `/quit`, or the first line
    /// typed once the session is over.
    pub thread: std::thread::JoinHandle<()>,
}

/// Starts the line editor on its own thread, showing `initial_prompt` until the session sets
/// another.
pub fn spawn_line_editor(
    initial_prompt: &str,
) -> Result<LineEditor, rustyline::error::ReadlineError> {
    use rustyline::error::ReadlineError;
    let mut editor = rustyline::DefaultEditor::new()?;
    let printer = editor.create_external_printer()?;
    let shared = Arc::new(Mutex::new(initial_prompt.to_owned()));
    let (done, done_rx) = std::sync::mpsc::sync_channel(1);
    let prompt = Prompt { text: Arc::clone(&shared), done };
    let (tx, rx) = mpsc::channel(64);
    let thread = std::thread::spawn(move || {
        loop {
            if tx.is_closed() {
                break;
            }
            let text = shared.lock().map(|p| p.clone()).unwrap_or_else(|_| "> ".to_owned());
            let event = match editor.readline(&text) {
                Ok(line) => {
                    let _ = editor.add_history_entry(line.as_str());
                    InputEvent::Line(line)
                }
                Err(ReadlineError::Interrupted) => InputEvent::Interrupt,
                Err(_) => InputEvent::End,
            };
            let last = match &event {
                InputEvent::Line(l) => matches!(l.trim(), "/quit" | "/exit"),
                _ => true,
            };
            if tx.blocking_send(event).is_err() || last {
                break;
            }
            // Give the session a moment to handle the line, so the next prompt shows its effect.
            let _ = done_rx.recv_timeout(Duration::from_millis(200));
        }
    });
    Ok(LineEditor { input: rx, printer: Box::new(EditorPrinter(printer)), prompt, thread })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::output::Lines;

    /// Issue 16 item 9: a server that floods probes (100,000 in one write) gets a handful of
    /// lines printed, not one per probe (7,045,645 lines in 11 s before).
    #[tokio::test]
    async fn a_probe_storm_prints_a_few_lines() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut presence = [0u8; 512];
            let _ = s.read(&mut presence).await.unwrap();
            let mut storm = b"{\"response\":200,\"alert\":\"OK\"}\n".to_vec();
            for i in 0..100_000 {
                storm.extend_from_slice(
                    format!("{{\"action\":\"probe\",\"time\":{i}}}\n").as_bytes(),
                );
            }
            // The client writes presences back meanwhile: drain them so nobody blocks.
            let (mut rd, mut wr) = s.into_split();
            let drain = tokio::spawn(async move {
                let mut sink = vec![0u8; 1 << 16];
                while rd.read(&mut sink).await.is_ok_and(|n| n > 0) {}
            });
            wr.write_all(&storm).await.unwrap();
            drop(wr);
            drain.abort();
        });
        let opts = Options {
            server: ServerAddr { host: "127.0.0.1".into(), port },
            login: LoginOptions {
                name: "Alice".into(),
                password: None,
                dialect: Dialect::Spec,
                timeout: Duration::from_secs(10),
            },
            format: Format::Human,
        };
        let (_input, rx) = mpsc::channel(1);
        let mut out = Lines::default();
        let status = tokio::time::timeout(Duration::from_secs(30), run(&opts, rx, &mut out, None))
            .await
            .expect("chat did not end when the server closed");
        server.await.unwrap();
        assert_eq!(status, ExitStatus::Failure, "{:?}", out.0);
        assert!(out.0.len() < 20, "{} lines: {:?}", out.0.len(), &out.0[..20.min(out.0.len())]);
        assert!(out.0.iter().any(|l| l.contains("more times")), "{:?}", out.0);
    }

    /// A chat session on a loopback connection nobody answers.
    async fn session(out: &mut Lines) -> (Chat<'_>, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let writer = Connection::from_stream(client, addr).writer;
        let chat = Chat {
            writer,
            dialect: Dialect::Spec,
            name: "me".into(),
            target: None,
            prompt: None,
            queue: VecDeque::new(),
            pending: None,
            list_items: None,
            timeout: Duration::from_secs(1),
            format: Format::Human,
            out,
            quit_deadline: None,
            repeated: None,
        };
        (chat, server)
    }

    #[tokio::test]
    async fn a_probe_flood_queues_one_answer() {
        let mut out = Lines::default();
        let (mut chat, _server) = session(&mut out).await;
        let probe = Arrival {
            at: Duration::ZERO,
            item: Incoming::Value(json!({"action":"probe","time":1})),
        };
        for _ in 0..10_000 {
            chat.on_arrival(&probe);
        }
        assert_eq!(chat.queue.len(), 1, "one presence answers every probe still unanswered");
        // Once that answer is sent, the next probe gets its own answer.
        chat.pump().await.unwrap();
        assert!(chat.queue.is_empty());
        chat.pending = None;
        chat.on_arrival(&probe);
        assert_eq!(chat.queue.len(), 1);
    }

    fn req(line: &str, target: Option<&str>) -> Option<Value> {
        match parse_command(line, Dialect::Spec, "me", target) {
            Command::Send(r) => Some(r.value),
            _ => None,
        }
    }

    #[test]
    fn commands_become_requests() {
        let v = req("/msg Bob hello there", None).unwrap_or_default();
        assert_eq!(v["to"], "Bob");
        assert_eq!(v["message"], "hello there");
        assert_eq!(req("hi", Some("#lobby")).unwrap_or_default()["to"], "#lobby");
        assert!(req("hi", None).is_none());
        assert_eq!(req("/join #r", None).unwrap_or_default()["action"], "join");
        assert!(req("/join r", None).is_none());
        assert_eq!(req("/add Bob", None).unwrap_or_default()["action"], "add_contact");
        assert!(req("/add", None).is_none());
        assert_eq!(req("/users", None).unwrap_or_default()["action"], "get_users");
        assert!(matches!(parse_command("/quit", Dialect::Spec, "me", None), Command::Quit));
        assert!(matches!(parse_command("/nope", Dialect::Spec, "me", None), Command::Error(_)));
    }
}
