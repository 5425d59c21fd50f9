//! Telling a failure: numbered steps in words, the contradiction in one sentence, expected vs
//! observed, the `jim-client` commands that replay it by hand, the Python script, and the one
//! command that replays the search; in English and Russian. Also the conversion to report cases
//! for the default run ([`cases`]).

use std::fmt::Write as _;

use super::judge::{Words, t};
use super::model::{Branch, Dest, Link, Model, Op, Session};
use super::{Config, Explored, Reported};
use crate::i18n::{Lang, Said};
use crate::model::{Dialect, Level, Text};
use crate::report::{CaseResult, Impact, Verdict};
use crate::wire::Delivery;

/// Where reproductions show the target. A target the run started listens on a port that is
/// gone when the run ends: its reproductions name the JIM course's port and open with the
/// command that starts it there, as the fixture cases' do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// Host to connect to.
    pub host: String,
    /// Port to connect to.
    pub port: String,
    /// How to start the target on that port (None: it was given by address).
    pub start: Option<String>,
}

impl Shown {
    /// A target given by address: shown as it is.
    pub fn address(addr: std::net::SocketAddr) -> Self {
        Self { host: addr.ip().to_string(), port: addr.port().to_string(), start: None }
    }

    /// A target the run started with `start` (on [`crate::case::REPRODUCTION_PORT`]), or one
    /// given by address (`start` None).
    pub fn started(start: Option<String>, addr: std::net::SocketAddr) -> Self {
        match start {
            Some(start) => Self {
                host: "127.0.0.1".into(),
                port: crate::case::REPRODUCTION_PORT.to_string(),
                start: Some(start),
            },
            None => Self::address(addr),
        }
    }

    /// The target as `explore --host H --port P` names it.
    fn as_target(&self) -> String {
        format!("--host {} --port {}", self.host, self.port)
    }
}

/// "2 случайные многоклиентские сессии": the adjectives agree with the count too.
const SESSIONS: jim_text::Noun = jim_text::Noun {
    en: ["random multi-client session", "random multi-client sessions"],
    ru: [
        "случайная многоклиентская сессия",
        "случайные многоклиентские сессии",
        "случайных многоклиентских сессий",
    ],
};

fn letter(c: usize) -> char {
    char::from(b'A' + (c % 26) as u8)
}

/// One step in words (before it is applied to `model`).
pub fn step_words(session: &Session, model: &Model, op: &Op) -> Text {
    let words = Words { session, tag: "", last_name: &[] };
    let c = op.client();
    let me = model.client(c);
    let who = match me.and_then(|s| s.name) {
        Some(n) => format!("{} ({})", words.name(n), letter(c)),
        None => format!("{}", letter(c)),
    };
    let course = me.is_some_and(|s| s.dialect == Dialect::Course);
    match op {
        Op::Connect { .. } => t(
            format!("{who} connects{}", if course { " (a course-dialect client)" } else { "" }),
            format!("{who} подключается{}", if course { " (клиент диалекта курса)" } else { "" }),
        ),
        Op::Presence { name, .. } => {
            let n = words.name(*name);
            match me.map(|s| (s.link, s.tried)) {
                Some((Link::In, _)) => t(
                    format!("{who} sends another presence, as {n}"),
                    format!("{who} отправляет ещё один presence, как {n}"),
                ),
                Some((Link::Up, Some(_))) => t(
                    format!("{who}, still on the connection that was refused, logs in as {n}"),
                    format!("{who}, всё на том же соединении, где был отказ, входит как {n}"),
                ),
                _ => t(format!("{who} logs in as {n}"), format!("{who} входит как {n}")),
            }
        }
        Op::Msg { to, text, forged, raw, .. } => {
            let q = Words::quote(text);
            let mut extra_en = String::new();
            let mut extra_ru = String::new();
            if let Some(f) = forged {
                let _ = write!(extra_en, ", writing \"from\": {:?}", words.name(*f));
                let _ = write!(extra_ru, ", указав \"from\": {:?}", words.name(*f));
            }
            if *raw {
                extra_en.push_str(", in raw UTF-8");
                extra_ru.push_str(", в сыром UTF-8");
            }
            match to {
                Dest::User(n) if me.and_then(|s| s.name) == Some(*n) => t(
                    format!("{who} sends {q} to themself{extra_en}"),
                    format!("{who} отправляет {q} самому себе{extra_ru}"),
                ),
                _ => t(
                    format!("{who} sends {q} to {}{extra_en}", words.dest(*to)),
                    format!("{who} отправляет {q} для {}{extra_ru}", words.dest(*to)),
                ),
            }
        }
        Op::Join { room, .. } => t(
            format!("{who} joins {}", words.room(*room)),
            format!("{who} входит в {}", words.room(*room)),
        ),
        Op::Leave { room, .. } => t(
            format!("{who} leaves {}", words.room(*room)),
            format!("{who} выходит из {}", words.room(*room)),
        ),
        Op::GetContacts { .. } => {
            t(format!("{who} asks for their contacts"), format!("{who} запрашивает свои контакты"))
        }
        Op::Check { .. } => t(
            format!(
                "{who} asks for their contacts, a round trip that shows whether anything else was still on its way"
            ),
            format!(
                "{who} запрашивает свои контакты: запрос-ответ показывает, не шло ли к нему ещё что-то"
            ),
        ),
        Op::AddContact { who: w, .. } => t(
            format!("{who} adds {} to their contacts", words.name(*w)),
            format!("{who} добавляет {} в контакты", words.name(*w)),
        ),
        Op::DelContact { who: w, .. } => t(
            format!("{who} removes {} from their contacts", words.name(*w)),
            format!("{who} удаляет {} из контактов", words.name(*w)),
        ),
        Op::GetUsers { .. } => t(
            format!("{who} asks for the list of users"),
            format!("{who} запрашивает список пользователей"),
        ),
        Op::Quit { .. } => t(
            format!("{who} quits ({})", if course { "exit" } else { "quit" }),
            format!("{who} выходит ({})", if course { "exit" } else { "quit" }),
        ),
        Op::Close { .. } | Op::Reset { .. } => {
            let (en, ru) = if matches!(op, Op::Close { .. }) {
                ("closes the connection without quit", "закрывает соединение без quit")
            } else {
                ("resets the connection (RST)", "сбрасывает соединение (RST)")
            };
            let (then_en, then_ru) = match model.witness(c) {
                Some(w) => {
                    let other = match model.client(w).and_then(|s| s.name) {
                        Some(n) => format!("{} ({})", words.name(n), letter(w)),
                        None => letter(w).to_string(),
                    };
                    (
                        format!(
                            "; then {other} asks for their contacts, a round trip that gives the server time to notice"
                        ),
                        format!(
                            "; затем {other} запрашивает свои контакты: запрос-ответ даёт серверу время это заметить"
                        ),
                    )
                }
                None => (String::new(), String::new()),
            };
            t(format!("{who} {en}{then_en}"), format!("{who} {ru}{then_ru}"))
        }
        Op::Bad { kind, .. } => {
            let (en, ru) = match kind {
                super::model::BadKind::UnknownAction => {
                    ("an unknown action", "неизвестное действие")
                }
                super::model::BadKind::Malformed => ("malformed JSON", "битый JSON"),
                super::model::BadKind::NoName => {
                    ("a presence without a name", "presence без имени")
                }
            };
            t(format!("{who} sends {en}"), format!("{who} отправляет {ru}"))
        }
    }
}

/// The numbered steps of a reported failure, in both languages; the failing step is marked. A
/// failure at the closing round trip names its request (`barrier`): a list answer that fails
/// there is the answer to that request.
pub fn steps(
    found: &Reported,
    rules: &super::model::Rules,
    barrier: Option<super::model::BarrierKind>,
) -> Text {
    let session = &found.session;
    let mut model = Model::new(session, rules.clone());
    let (mut en, mut ru) = (String::new(), String::new());
    let mut n = 0;
    for (i, step) in session.steps.iter().enumerate() {
        let Some(branch) = found.branches.get(i).copied().flatten() else {
            if i == found.finding.step && model.applicable(&step.op) {
                n += 1;
                let w = step_words(session, &model, &step.op);
                let (de, dr) = delivery_words(step.delivery);
                let _ = writeln!(en, "{n:>3}. {}{de}   <- here", w.en);
                let _ = writeln!(ru, "{n:>3}. {}{dr}   <- здесь", w.ru);
            }
            continue;
        };
        n += 1;
        let w = step_words(session, &model, &step.op);
        let (de, dr) = delivery_words(step.delivery);
        let (oe, or) = match branch {
            Branch::Refused if !matches!(step.op, Op::Bad { .. }) => (" (refused)", " (отказ)"),
            Branch::Closed if matches!(step.op, Op::Presence { .. }) => (
                " (refused; the client closes that connection)",
                " (отказ; клиент закрывает это соединение)",
            ),
            Branch::Closed => {
                (" (the server closed the connection)", " (сервер закрыл соединение)")
            }
            _ => ("", ""),
        };
        let _ = writeln!(en, "{n:>3}. {}{de}{oe}", w.en);
        let _ = writeln!(ru, "{n:>3}. {}{dr}{or}", w.ru);
        model.commit(i, &step.op, branch);
    }
    if found.finding.step >= session.steps.len() {
        n += 1;
        let (what_en, what_ru) = match barrier {
            Some(super::model::BarrierKind::Contacts) => (
                " (get_contacts: its answer is checked too)",
                " (get_contacts: его ответ тоже проверяется)",
            ),
            Some(super::model::BarrierKind::UnknownAction) => {
                (" (an unknown action, answered with 400)", " (неизвестный action, ответ 400)")
            }
            None => ("", ""),
        };
        let _ = writeln!(
            en,
            "{n:>3}. at the end, every logged-in client makes a round trip{what_en} to prove nothing else is on its way   <- here"
        );
        let _ = writeln!(
            ru,
            "{n:>3}. в конце каждый вошедший клиент делает запрос-ответ{what_ru}, чтобы доказать, что больше ничего не идёт   <- здесь"
        );
    }
    t(en, ru)
}

fn delivery_words(d: Delivery) -> (&'static str, &'static str) {
    match d {
        Delivery::Whole => ("", ""),
        Delivery::Split => (" [the request cut into pieces]", " [запрос разрезан на куски]"),
        Delivery::Trickle => {
            (" [the request sent one byte at a time]", " [запрос по одному байту]")
        }
    }
}

/// The `jim-client` commands that replay the session by hand: one terminal per client.
pub fn jim_client(
    found: &Reported,
    rules: &super::model::Rules,
    shown: &Shown,
    lang: Lang,
) -> Vec<String> {
    let session = &found.session;
    let tag = "try1_";
    let (host, port) = (shown.host.as_str(), shown.port.as_str());
    let mut model = Model::new(session, rules.clone());
    let clients =
        (0..session.dialects.len()).map(letter).map(String::from).collect::<Vec<_>>().join(", ");
    let header = if lang.is_ru() {
        format!(
            "# по терминалу на клиента ({clients}), строки в этом порядке; имена начинаются с {tag} (измените, чтобы запустить снова)"
        )
    } else {
        format!(
            "# one terminal per client ({clients}), lines in this order; names carry the prefix {tag} (change it to run again)"
        )
    };
    let header = crate::case::with_start(shown.start.as_deref(), &format!("{host}:{port}"), header);
    let mut out: Vec<String> = header.get(lang).lines().map(str::to_owned).collect();
    for (i, step) in session.steps.iter().enumerate() {
        let branch = found.branches.get(i).copied().flatten();
        if !model.applicable(&step.op) {
            continue;
        }
        let op = &step.op;
        let c = op.client();
        let l = letter(c);
        let course = model.client(c).is_some_and(|s| s.dialect == Dialect::Course);
        let dialect = if course { " --dialect course" } else { "" };
        let logged = model.client(c).is_some_and(|s| s.link == Link::In);
        let refused_here = model.client(c).is_some_and(|s| s.link == Link::Up && s.tried.is_some());
        let line = match op {
            // jim-client leaves after a refused login; the connection lives on in the script.
            _ if refused_here && op.is_request() => Some(format!(
                "{l}: ({})",
                lang.pick(
                    "jim-client leaves after a refused login: the Python script goes on with that connection",
                    "jim-client выходит после отказа во входе: скрипт Python продолжает с этим соединением"
                )
            )),
            Op::Connect { .. } => None,
            Op::Presence { name, .. } if !logged => Some(format!(
                "{l}$ jim-client chat {host} {port} --name {}{dialect}",
                session.name(tag, *name)
            )),
            Op::Close { .. } => {
                let then = model
                    .witness(c)
                    .map(|w| format!("; {} {}> /contacts", lang.pick("then", "затем"), letter(w)))
                    .unwrap_or_default();
                let press = lang.pick(
                    "press Ctrl-C (the connection closes without quit)",
                    "нажмите Ctrl-C (соединение закроется без quit)",
                );
                Some(format!("{l}: {press}{then}"))
            }
            Op::Reset { .. } => {
                Some(format!(
                    "{l}: ({})",
                    lang.pick(
                        "jim-client cannot reset a connection: the Python script does",
                        "jim-client не умеет сбрасывать соединение: это делает скрипт Python"
                    )
                ))
            }
            Op::Quit { .. } => Some(format!("{l}> /quit")),
            Op::Join { room, .. } => Some(format!("{l}> /join {}", session.room(tag, *room))),
            Op::Leave { room, .. } => Some(format!("{l}> /leave {}", session.room(tag, *room))),
            Op::GetContacts { .. } | Op::Check { .. } => Some(format!("{l}> /contacts")),
            Op::AddContact { who, .. } => Some(format!("{l}> /add {}", session.name(tag, *who))),
            Op::DelContact { who, .. } => Some(format!("{l}> /del {}", session.name(tag, *who))),
            Op::GetUsers { .. } => Some(format!("{l}> /users")),
            Op::Msg { to, text, forged: None, raw: false, .. }
                if logged && !text.contains('\n') && !text.is_empty() && text.trim() == text =>
            {
                let dest = match to {
                    Dest::User(n) => session.name(tag, *n),
                    Dest::Room(r) => session.room(tag, *r),
                };
                Some(format!("{l}> /msg {dest} {text}"))
            }
            _ => {
                super::wire_form::request(session, tag, &model, op).and_then(|r| r.value).map(|v| {
                    if logged {
                        format!("{l}> /raw {v}")
                    } else {
                        format!(
                            "{l}$ jim-client send {host} {port} '{}'",
                            v.to_string().replace('\'', "'\\''")
                        )
                    }
                })
            }
        };
        if let Some(line) = line.filter(|l| out.last() != Some(l)) {
            out.push(line);
        }
        if let Some(b) = branch {
            model.commit(i, op, b);
        } else {
            break;
        }
    }
    out
}

/// The command that replays the search that found it.
pub fn replay_command(cfg: &Config, target: &str) -> String {
    let target = cfg.replay_target.as_deref().unwrap_or(target);
    let mut cmd = String::from("jim-conformance explore");
    if !target.is_empty() {
        cmd.push_str(&format!(" {target}"));
    }
    cmd.push_str(&format!(" --seed {}", cfg.seed));
    let defaults = Config::default();
    if let Some(p) = &cfg.profile {
        cmd.push_str(&format!(" --profile {p}"));
    }
    if cfg.sessions != defaults.sessions {
        cmd.push_str(&format!(" --sessions {}", cfg.sessions));
    }
    if cfg.timeout != defaults.timeout {
        cmd.push_str(&format!(" --timeout {}", cfg.timeout.as_secs_f64()));
    }
    if cfg.strict {
        cmd.push_str(" --strict");
    }
    if !cfg.pieces.is_empty() {
        cmd.push_str(" --delivery all");
    }
    if !cfg.hostile {
        cmd.push_str(" --no-bad-input");
    }
    cmd
}

/// The whole human report of an exploration.
pub fn human(ex: &Explored, cfg: &Config, target: &str, shown: &Shown, lang: Lang) -> String {
    let ru = lang.is_ru();
    let mut o = String::new();
    let rules = rules_of(ex, cfg);
    if let Some(tr) = &ex.traits {
        let caps: Vec<&str> = [("rooms", tr.rooms), ("contacts", tr.contacts), ("users", tr.users)]
            .iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect();
        let barrier = tr.barrier.map_or(lang.pick("none", "нет"), |b| match b {
            super::model::BarrierKind::Contacts => "get_contacts",
            super::model::BarrierKind::UnknownAction => {
                lang.pick("unknown action (400)", "неизвестный action (400)")
            }
        });
        let yes =
            |b: bool| if b { lang.pick("true", "да") } else { lang.pick("false", "нет") };
        let _ = writeln!(
            o,
            "{} {}; {} {}; {}: {}; {}: {}; {}: {}; {}: {barrier}",
            if ru { "диалекты" } else { "dialects" },
            tr.dialects.iter().map(|d| d.as_str()).collect::<Vec<_>>().join("+"),
            if ru { "возможности" } else { "capabilities" },
            if caps.is_empty() { "-".to_owned() } else { caps.join(", ") },
            if ru { "урок 3" } else { "lesson 3" },
            yes(tr.lesson3),
            lang.pick("acks", "подтверждения"),
            yes(tr.acks),
            lang.pick("quit closes", "quit закрывает"),
            yes(tr.closes_on_quit),
            lang.pick("barrier", "барьер"),
        );
    }
    let _ = writeln!(
        o,
        "{}: {} {}, seed {}, {:.2} {} ({:.1} {}){}",
        if ru { "сессии" } else { "sessions" },
        ex.sessions,
        if ru { "выполнено" } else { "run" },
        ex.seed,
        ex.session_ms as f64 / 1000.0,
        lang.pick("s", "с"),
        ex.sessions as f64 / (ex.session_ms.max(1) as f64 / 1000.0),
        if ru { "сессий/с" } else { "sessions/s" },
        if ex.lenient.is_empty() {
            String::new()
        } else {
            format!(
                "; {}: {}",
                if ru { "допуски" } else { "tolerances" },
                ex.lenient.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        }
    );
    if let Some(why) = &ex.cut_short {
        let _ = writeln!(o, "{}", why.get(lang));
    }
    for (k, f) in ex.findings.iter().enumerate() {
        let level = f.finding.level.as_str();
        let _ = writeln!(
            o,
            "\n{} {} ({level}) explore/{}: {}",
            if ru { "ПРОВАЛ" } else { "FAIL" },
            k + 1,
            f.finding.obligation.id(),
            f.finding.sentence.get(ru)
        );
        let _ = writeln!(
            o,
            "    {}: {}",
            if ru { "обязательство" } else { "obligation" },
            f.finding.obligation.title().get(ru)
        );
        if f.session.steps.is_empty() {
            let _ = writeln!(
                o,
                "    {}: {}",
                if ru { "ожидалось" } else { "expected" },
                f.finding.expected.get(ru)
            );
            let _ = writeln!(
                o,
                "    {}: {}",
                if ru { "пришло" } else { "observed" },
                f.finding.observed.get(ru)
            );
            continue;
        }
        let shrunk = if f.confirmed {
            if ru {
                format!(
                    "сессия {} из {} шагов, сокращена до {} ({} повторов)",
                    f.session_index,
                    f.original_steps,
                    f.session.steps.len(),
                    f.replays
                )
            } else {
                format!(
                    "session {} of {} steps, shrunk to {} ({} replays)",
                    f.session_index,
                    f.original_steps,
                    f.session.steps.len(),
                    f.replays
                )
            }
        } else if ru {
            format!(
                "сессия {} из {} шагов (не сокращена: сокращённая версия не повторялась надёжно)",
                f.session_index, f.original_steps
            )
        } else {
            format!(
                "session {} of {} steps (not shrunk: a shorter one did not fail reliably)",
                f.session_index, f.original_steps
            )
        };
        let _ = writeln!(o, "    {shrunk}");
        let st = steps(f, &rules, ex.traits.as_ref().and_then(|t| t.barrier));
        for line in st.get(ru).lines() {
            let _ = writeln!(o, "    {line}");
        }
        let _ = writeln!(
            o,
            "    {}: {}",
            if ru { "ожидалось" } else { "expected" },
            f.finding.expected.get(ru)
        );
        let _ = writeln!(
            o,
            "    {}: {}",
            if ru { "пришло" } else { "observed" },
            f.finding.observed.get(ru)
        );
        let _ = writeln!(
            o,
            "    {}:",
            if ru { "вручную (jim-client)" } else { "by hand (jim-client)" }
        );
        for line in jim_client(f, &rules, shown, lang) {
            let _ = writeln!(o, "      {line}");
        }
        let _ = writeln!(
            o,
            "    {}: {}",
            if ru { "повторить поиск" } else { "replay the search" },
            replay_command(cfg, target)
        );
        let _ = writeln!(
            o,
            "    {}",
            if ru {
                "скрипт Python (выход 1, пока ошибка есть; 0, когда исправлена): сохраните как repro.py и запустите python3 repro.py HOST PORT"
            } else {
                "Python script (exit 1 while the bug is there, 0 once fixed): save as repro.py, run python3 repro.py HOST PORT"
            }
        );
        if let Some(tr) = &ex.traits {
            let script = super::python::script(
                f,
                tr,
                &rules,
                cfg.timeout.as_secs_f64(),
                cfg.seed,
                &replay_command(cfg, target),
            );
            for line in script.lines() {
                let _ = writeln!(o, "      {line}");
            }
        }
    }
    for n in &ex.notes {
        let _ = writeln!(
            o,
            "\n{} ({}) explore/{}: {}",
            if ru { "ЗАМЕЧАНИЕ" } else { "NOTE" },
            n.level.as_str(),
            n.obligation.id(),
            n.sentence.get(ru)
        );
        let _ =
            writeln!(o, "    {}: {}", if ru { "пришло" } else { "observed" }, n.observed.get(ru));
    }
    if ex.findings.is_empty() {
        let _ = writeln!(
            o,
            "\n{}",
            if ru {
                "противоречий с моделью не найдено"
            } else {
                "no contradiction with the model found"
            }
        );
    }
    o
}

/// The model rules the exploration used.
pub fn rules_of(ex: &Explored, cfg: &Config) -> super::model::Rules {
    let acks = ex.traits.as_ref().is_none_or(|t| t.acks);
    super::model::Rules {
        ack_optional: cfg.tolerances.mode(crate::vocab::Tolerance::NoMsgAck).is_some() && !acks,
        echo_allowed: cfg.tolerances.mode(crate::vocab::Tolerance::RoomEcho).is_some(),
        close_on_bad: cfg.tolerances.mode(crate::vocab::Tolerance::CloseOnBadInput).is_some(),
        close_witness: ex
            .traits
            .as_ref()
            .is_some_and(|t| t.barrier == Some(super::model::BarrierKind::Contacts)),
    }
}

/// A report case of the exploration, built from the parts that vary; the rest of a
/// [`CaseResult`] (no spec sections, whole delivery, no transcript) is the same for all.
/// The one case of an exploration that did not run, or did not finish: `verdict` (skip, not
/// run, fail) and why, in both languages.
pub(crate) fn not_explored(verdict: Verdict, why: &Text, level: Level, lang: Lang) -> CaseResult {
    let _ = lang;
    let title = Text {
        en: "random multi-client sessions against the model".into(),
        ru: "случайные многоклиентские сессии против модели".into(),
    };
    Case::new("sessions", &title, level)
        .verdict(verdict, Impact::None)
        .reason(Some(why))
        .hint(why.clone())
        .build()
}

struct Case(CaseResult);

impl Case {
    /// Case `explore/ID` titled `title`, at `level`: a failure until [`Case::verdict`] says
    /// otherwise.
    fn new(id: &str, title: &Text, level: Level) -> Self {
        Self(CaseResult {
            id: format!("explore/{id}"),
            title: Said::new(title.en.clone(), title.ru.clone()),
            level,
            spec: Vec::new(),
            delivery: Delivery::Whole,
            verdict: Verdict::Fail,
            reason: None,
            tolerances: Vec::new(),
            impact: Impact::None,
            failure: None,
            hint: Text::default(),
            duration_ms: 0,
            transcript: Vec::new(),
            mode_note: None,
            liveness: None,
            process: None,
        })
    }

    fn verdict(mut self, verdict: Verdict, impact: Impact) -> Self {
        self.0.verdict = verdict;
        self.0.impact = impact;
        self
    }

    fn reason(mut self, reason: Option<&Text>) -> Self {
        self.0.reason = reason.map(|t| Said::new(t.en.clone(), t.ru.clone()));
        self
    }

    fn tolerances(mut self, tolerances: Vec<crate::vocab::Tolerance>) -> Self {
        self.0.tolerances = tolerances;
        self
    }

    fn failure(mut self, failure: crate::case::Failure) -> Self {
        self.0.failure = Some(failure);
        self
    }

    fn hint(mut self, hint: Text) -> Self {
        self.0.hint = hint;
        self
    }

    fn took(mut self, ms: u64) -> Self {
        self.0.duration_ms = ms;
        self
    }

    fn build(self) -> CaseResult {
        self.0
    }
}

/// The exploration as report cases (for the default `server` run): one per failure, one per
/// style note, or one passing case `explore/sessions`.
pub fn cases(ex: &Explored, cfg: &Config, shown: &Shown, lang: Lang) -> Vec<CaseResult> {
    let ru = lang.is_ru();
    let target = shown.as_target();
    let rules = rules_of(ex, cfg);
    let mut out = Vec::new();
    for f in &ex.findings {
        let level = f.finding.level;
        let steps = steps(f, &rules, ex.traits.as_ref().and_then(|t| t.barrier));
        let mut reproduce = jim_client(f, &rules, shown, lang);
        reproduce.push(replay_command(cfg, &target));
        // The standalone Python script is long: the report names the command that writes it
        // (the `explore` subcommand prints it and `--save-repro` saves it).
        let replay = replay_command(cfg, &target);
        let hint = Text {
            en: format!(
                "{}\n{}\nexpected: {}\nobserved: {}\nPython script that reproduces it (exit 1 while the bug is there): {replay} --save-repro DIR",
                f.finding.obligation.title().en,
                steps.en,
                f.finding.expected.en,
                f.finding.observed.en,
            ),
            ru: format!(
                "{}\n{}\nожидалось: {}\nпришло: {}\nскрипт Python, который воспроизводит ошибку (выход 1, пока она есть): {replay} --save-repro ПАПКА",
                f.finding.obligation.title().ru,
                steps.ru,
                f.finding.expected.ru,
                f.finding.observed.ru,
            ),
        };
        let failure = crate::case::Failure {
            step: f.finding.step + 1,
            conn: letter(f.finding.client).to_string(),
            action: crate::case::FailedAction::Explore,
            note: Some(f.finding.obligation.title()),
            sent: Vec::new(),
            expected: vec![serde_json::Value::String(f.finding.expected.get(ru).to_owned())],
            arrived: crate::case::Arrived::Problem {
                message: f.finding.observed.get(ru).to_owned().into(),
            },
            mismatches: vec![f.finding.sentence.get(ru).to_owned().into()],
            would_need: Vec::new(),
            reproduce: reproduce.into_iter().map(Into::into).collect(),
            unknown_action: false,
        };
        let impact = crate::run::verdict::impact(level, Verdict::Fail, cfg.strict);
        out.push(
            Case::new(f.finding.obligation.id(), &f.finding.sentence, level)
                .verdict(Verdict::Fail, impact)
                .reason(Some(&f.finding.sentence))
                .failure(failure)
                .hint(hint)
                .took(ex.total_ms)
                .build(),
        );
    }
    for n in &ex.notes {
        let impact = crate::run::verdict::impact(Level::Should, Verdict::Fail, cfg.strict);
        out.push(
            Case::new(n.obligation.id(), &n.sentence, Level::Should)
                .verdict(Verdict::Fail, impact)
                .reason(Some(&n.sentence))
                .hint(n.sentence.clone())
                .build(),
        );
    }
    if out.is_empty() {
        let title = Text {
            en: format!(
                "{} (seed {}) without a contradiction with the model",
                SESSIONS.count(Lang::En, ex.sessions as u64),
                ex.seed
            ),
            ru: format!(
                "{} (seed {}) без противоречий с моделью",
                SESSIONS.count(Lang::Ru, ex.sessions as u64),
                ex.seed
            ),
        };
        let lenient: Vec<crate::vocab::Tolerance> =
            ex.lenient.iter().filter_map(|n| crate::vocab::Tolerance::parse(n)).collect();
        let verdict = if lenient.is_empty() { Verdict::Pass } else { Verdict::PassLenient };
        let replay = replay_command(cfg, &target);
        out.push(
            Case::new("sessions", &title, Level::Must)
                .verdict(verdict, Impact::None)
                .reason(ex.cut_short.as_ref().map(crate::i18n::Said::text).as_ref())
                .hint(Text {
                    en: format!("replay these sessions: {replay}"),
                    ru: format!("повторить эти сессии: {replay}"),
                })
                .tolerances(lenient)
                .took(ex.total_ms)
                .build(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::super::judge::{Finding, no_list};
    use super::super::model::{BarrierKind, Obligation, Step, Traits};
    use super::*;

    fn step(op: Op) -> Step {
        Step { op, delivery: Delivery::Whole }
    }

    /// bob logs in, adds nobody, and the closing get_contacts gets `"alert": {}` (held-out H5).
    fn contacts_failure() -> Explored {
        let session = Session {
            dialects: vec![Dialect::Spec],
            names: vec!["bob".into()],
            rooms: Vec::new(),
            steps: vec![step(Op::Connect { c: 0 }), step(Op::Presence { c: 0, name: 0 })],
        };
        let answer = serde_json::json!({"response": 202, "alert": {}});
        let finding = Finding::new(Obligation::Contacts, Level::Must)
            .at(2, 0)
            .sentence(no_list(&answer))
            .expected(t("202 with the list", "202 со списком"))
            .observed(t(answer.to_string(), answer.to_string()));
        let found = Reported {
            finding,
            session_index: 3,
            original_steps: 9,
            session,
            branches: vec![Some(Branch::Accepted), Some(Branch::Accepted)],
            replays: 5,
            confirmed: true,
        };
        Explored {
            seed: 14,
            traits: Some(Traits {
                dialects: vec![Dialect::Spec],
                rooms: true,
                contacts: true,
                users: false,
                acks: true,
                closes_on_quit: true,
                barrier: Some(BarrierKind::Contacts),
                lesson3: false,
                fixed_name: None,
            }),
            sessions: 4,
            session_ms: 408_450,
            total_ms: 409_000,
            findings: vec![found],
            notes: Vec::new(),
            lenient: Default::default(),
            target_down: false,
            cut_short: None,
        }
    }

    fn ran_port() -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], 31374))
    }

    /// A spawned target's port is gone when the run ends: reproductions name port 7777 after
    /// the command that starts it there, and the replay names `--spawn` (held-out H3).
    #[test]
    fn reproductions_of_a_spawned_target_start_it_on_the_course_port() {
        let ex = contacts_failure();
        let cfg = Config {
            replay_target: Some("--spawn 'python3 server.py -p {port}'".into()),
            ..Config::default()
        };
        let shown = Shown::started(Some("python3 server.py -p 7777".into()), ran_port());
        for lang in [Lang::En, Lang::Ru] {
            let cases = cases(&ex, &cfg, &shown, lang);
            let lines: Vec<String> = cases[0]
                .failure
                .as_ref()
                .unwrap()
                .reproduce
                .iter()
                .map(|s| s.get(lang).to_owned())
                .collect();
            let all = lines.join("\n");
            assert!(!all.contains("31374"), "{all}");
            assert!(lines[0].contains("127.0.0.1:7777: python3 server.py -p 7777"), "{all}");
            assert!(all.contains("A$ jim-client chat 127.0.0.1 7777 --name try1_bob"), "{all}");
            assert!(
                all.contains("jim-conformance explore --spawn 'python3 server.py -p {port}'"),
                "{all}"
            );
            let text = human(&ex, &cfg, "--spawn 'x'", &shown, lang);
            assert!(!text.contains("31374"), "{text}");
            assert!(text.contains("jim-client chat 127.0.0.1 7777"), "{text}");
        }
        // A target given by address is shown as it is, with no start line.
        let shown = Shown::started(None, ran_port());
        let text = human(&ex, &Config::default(), "", &shown, Lang::En);
        assert!(text.contains("jim-client chat 127.0.0.1 31374"), "{text}");
        assert!(!text.contains("start the server first"), "{text}");
    }

    /// The step line of an explored failure has no empty section list (held-out H2), its steps
    /// name the closing request and its reason what the list field held (H5), and a Russian
    /// report counts seconds in Russian.
    #[test]
    fn an_explored_contacts_failure_reads_without_gaps() {
        let ex = contacts_failure();
        let shown = Shown::address(ran_port());
        let ru = &cases(&ex, &Config::default(), &shown, Lang::Ru)[0];
        let style = crate::report::human::Style { color: false, lang: Lang::Ru };
        let text = crate::report::human::case(ru, style);
        assert!(text.contains("3 explore (соединение: A)"), "{text}");
        assert!(!text.contains("(,"), "{text}");
        assert!(text.contains("\"alert\" — объект, а не список имён"), "{text}");
        assert!(!text.contains("искали"), "{text}");
        assert!(ru.hint.ru.contains("запрос-ответ (get_contacts"), "{}", ru.hint.ru);
        let en = &cases(&ex, &Config::default(), &shown, Lang::En)[0];
        assert!(en.hint.en.contains("round trip (get_contacts"), "{}", en.hint.en);
        let header = human(&ex, &Config::default(), "", &shown, Lang::Ru);
        assert!(header.contains("408.45 с (0.0 сессий/с)"), "{header}");
        assert!(human(&ex, &Config::default(), "", &shown, Lang::En).contains("408.45 s"));
        // Nothing like a list field at all: the fields looked for.
        let bare = no_list(&serde_json::json!({"response": 202}));
        assert!(bare.en.contains("looked for data_list, alert"), "{}", bare.en);
    }

    #[test]
    fn the_passing_case_counts_sessions_in_agreement() {
        let mut ex = contacts_failure();
        ex.findings.clear();
        let shown = Shown::address(ran_port());
        for (n, want) in [
            (1, "1 случайная многоклиентская сессия"),
            (2, "2 случайные многоклиентские сессии"),
            (100, "100 случайных многоклиентских сессий"),
        ] {
            ex.sessions = n;
            let c = &cases(&ex, &Config::default(), &shown, Lang::Ru)[0];
            assert!(c.title.get(Lang::Ru).starts_with(want), "{}", c.title.get(Lang::Ru));
        }
    }
}
