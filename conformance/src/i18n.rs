//! The runner's own words, in English and Russian (`--lang`, default from the locale): one
//! typed catalog. Labels are a vocabulary ([`Label`]); messages with values are variants of
//! [`Msg`]. Each language is one exhaustive `match`, so a message without its Russian text does
//! not compile, and `tests` check that every Russian text is Russian (not a copied English
//! one). Fixture texts (hints, notes) carry their own translations.
//!
//! Why not fluent or rust-i18n: both look messages up by string keys at run time and fall back
//! to English when a translation is missing, so a gap shows up only if a test enumerates the
//! keys; their arguments are untyped. Here the compiler checks both, and nothing else is
//! needed. Russian plural forms are [`plural_ru`].

use crate::model::Text;
use crate::vocab::{Delivery, DetectedDialect, DetectedFraming, FrameProblem};

mod client;
mod runner;
mod said;
pub use client::{ClientMsg, FirstProblem};
pub use runner::{RunMsg, exit_status, status_ru};
pub use said::Said;

/// The language of what the runner prints: `jim_text`'s, shared with `jim-server`,
/// `jim-client` and the load report (one enum, one locale detection). Re-exported here so that
/// `crate::i18n::Lang` keeps naming it.
pub use jim_text::Lang;

/// The runner's own uses of [`Lang`]: its labels and the texts of fixtures. (`Lang::say`
/// comes from `jim_text`: [`Msg`] is a [`jim_text::Localized`] message.)
pub trait LangExt {
    /// A label in this language.
    fn label(self, label: Label) -> &'static str;

    /// A fixture text (title, hint, note) in this language.
    fn text(self, text: &Text) -> &str;
}

impl LangExt for Lang {
    fn label(self, label: Label) -> &'static str {
        match self {
            Self::En => label.as_str(),
            Self::Ru => label.ru(),
        }
    }

    fn text(self, text: &Text) -> &str {
        text.get(self.is_ru())
    }
}

/// The Russian plural form for `n`: `one` (1, 21, ...), `few` (2-4, 22-24, ...), `many` (0,
/// 5-20, 25-30, ...), by the CLDR rules of [`jim_text::plural`].
pub fn plural_ru(n: u64, one: &'static str, few: &'static str, many: &'static str) -> &'static str {
    jim_text::Noun { en: [one, many], ru: [one, few, many] }.form(Lang::Ru, n)
}

crate::vocab::vocabulary! {
    /// A label of the human report (its English text is its name).
    pub enum Label {
        /// The target line of the card.
        Target = "target",
        /// What the preflight detected.
        Detected = "detected",
        /// The profile line.
        Profile = "profile",
        /// The tolerances line.
        Tolerances = "tolerances",
        /// The options line.
        Options = "options",
        /// Capabilities in the summary.
        Capabilities = "capabilities",
        /// The failing step.
        Step = "step",
        /// What was sent.
        Sent = "sent",
        /// The first acceptable answer.
        Expected = "expected",
        /// Another acceptable answer.
        Or = "or",
        /// What arrived.
        Arrived = "arrived",
        /// Why it does not match.
        Why = "why",
        /// The fixture's hint.
        Hint = "hint",
        /// The transcript.
        Transcript = "transcript",
        /// How to replay it.
        Reproduce = "reproduce",
        /// Why the verdict.
        Reason = "reason",
        /// The summary line.
        Summary = "summary",
        /// Cases selected.
        Selected = "selected",
        /// Cases that fail the run.
        FailingTheRun = "failing the run",
        /// Cases that only warn.
        Warnings = "warnings",
        /// Wall time.
        Duration = "duration",
        /// The exit code.
        ExitCode = "exit code",
        /// Tolerances that would have helped.
        WouldPassWith = "would pass with tolerance",
        /// A spawned server's output.
        ServerOutput = "server output",
        /// Only the last lines are shown.
        LastLines = "last lines",
        /// Restarts and deaths.
        Events = "events",
        /// A delivery-mode note.
        Delivery = "delivery",
        /// The liveness check.
        Liveness = "liveness",
        /// The client process.
        Client = "client",
        /// Standard output.
        Stdout = "stdout",
        /// Standard error.
        Stderr = "stderr",
        /// Nothing was sent before the failure.
        NothingSentYet = "nothing was sent yet",
        /// An empty list.
        None = "none",
        /// The name used to log in.
        Name = "name",
        /// The server survived a destructive case.
        ServerSurvived = "server survived",
        /// The server died.
        ServerDied = "server DIED",
        /// The server became a zombie.
        ServerZombie = "server became a ZOMBIE",
    }
}

impl Label {
    /// The Russian text.
    pub fn ru(self) -> &'static str {
        match self {
            Self::Target => "цель",
            Self::Detected => "определено",
            Self::Profile => "профиль",
            Self::Tolerances => "допуски",
            Self::Options => "параметры",
            Self::Capabilities => "возможности",
            Self::Step => "шаг",
            Self::Sent => "отправлено",
            Self::Expected => "ожидалось",
            Self::Or => "или",
            Self::Arrived => "пришло",
            Self::Why => "почему",
            Self::Hint => "подсказка",
            Self::Transcript => "обмен",
            Self::Reproduce => "повторить вручную",
            Self::Reason => "причина",
            Self::Summary => "итог",
            Self::Selected => "выбрано",
            Self::FailingTheRun => "провалов",
            Self::Warnings => "предупреждения",
            Self::Duration => "время",
            Self::ExitCode => "код выхода",
            Self::WouldPassWith => "прошло бы с допуском",
            Self::ServerOutput => "вывод сервера",
            Self::LastLines => "последние строки",
            Self::Events => "события",
            Self::Delivery => "доставка",
            Self::Liveness => "живучесть",
            Self::Client => "клиент",
            Self::Stdout => "stdout (вывод)",
            Self::Stderr => "stderr (ошибки)",
            Self::NothingSentYet => "ещё ничего не отправлено",
            Self::None => "нет",
            Self::Name => "имя",
            Self::ServerSurvived => "сервер выжил",
            Self::ServerDied => "сервер УПАЛ",
            Self::ServerZombie => "сервер стал ЗОМБИ",
        }
    }
}

/// What a reply that is not JSON looks like, for a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Looks {
    /// Python's `str(dict)`.
    PythonDict,
    /// A Python bytes repr `b'...'`.
    BytesRepr,
    /// Text that is not JSON at all.
    NotJim,
}

/// Whose code a delivery-mode note talks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The runner judged a server.
    Server,
    /// The runner judged a client.
    Client,
}

/// What the first contact found about the peer's connection, for the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// A server that closes after one reply.
    OneShotServer,
    /// A server that keeps the connection.
    PersistentServer,
    /// Unknown (server).
    ServerUnknown,
    /// A client that exits after its reply.
    OneShotClient,
    /// A client that stays.
    InteractiveClient,
    /// Unknown (client).
    ClientUnknown,
}

/// A message of the runner with its values.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// A value the peer sent, shown as it is (data, the same in every language).
    Shown {
        /// The value, compact.
        text: String,
    },
    /// A detail from below the runner (an OS error, a placeholder error, a process's
    /// output) or a runner text not in this catalog yet, shown as written. Every use is a
    /// place where the Russian report still shows English: `grep Msg::Detail` lists them.
    Detail {
        /// The text.
        text: String,
    },
    /// The peer closed the connection.
    ConnectionClosed,
    /// The peer reset the connection.
    ConnectionReset,
    /// The connection ended in the middle of a value.
    Truncated {
        /// The bytes, escaped.
        text: String,
    },
    /// A value longer than the runner's limit.
    Oversize {
        /// The limit.
        kib: usize,
        /// Its start, escaped.
        text: String,
    },
    /// Bytes that are not a JSON value.
    Bad {
        /// What is wrong.
        problem: FrameProblem,
        /// The bytes, escaped.
        text: String,
        /// What they look like.
        looks: Option<Looks>,
    },
    /// Nothing arrived in time.
    NothingWithin {
        /// The step timeout.
        secs: f64,
    },
    /// Only the start of a value arrived in time.
    OnlyStart {
        /// The step timeout.
        secs: f64,
        /// The start, escaped.
        partial: String,
    },
    /// Liveness: the process died.
    ProcessDied {
        /// Its exit status.
        status: String,
    },
    /// Liveness: connections are refused.
    StoppedListening {
        /// The connect error.
        error: Said,
    },
    /// Liveness: the process lives and its socket still listens, but a connection is not
    /// accepted in time (its listen queue is full of clients it never took).
    ZombieQueueFull,
    /// Liveness: a new client was answered.
    NewClientAnswered,
    /// Liveness: connections are accepted and never answered.
    ZombieSilent {
        /// The timeout.
        secs: f64,
    },
    /// Liveness: new connections are closed unanswered.
    ZombieCloses,
    /// A case not run: the target went down in an earlier case and cannot be restarted.
    NotRunTargetDown {
        /// The case in which it went down.
        case: String,
        /// Died or zombie.
        state: crate::report::LivenessState,
    },
    /// Liveness: what did it.
    After {
        /// The liveness text.
        detail: Box<Msg>,
        /// The input that most likely did it.
        input: Said,
    },
    /// A text already in both languages (a connect error, a step's problem).
    Both(Said),
    /// What a failure under split or trickle delivery means.
    ModeNote {
        /// The delivery mode.
        delivery: Delivery,
        /// How the same case did with whole delivery (None: not run).
        whole_passed: Option<bool>,
        /// Whose code.
        peer: Peer,
    },
    /// The card: how the peer keeps its connection.
    Kept(Kept),
    /// The card: a dialect.
    DialectIs(DetectedDialect),
    /// The card: a framing.
    FramingIs(DetectedFraming),
    /// The card: replies carry a usable time, or not.
    RepliesTime(bool),
    /// The card: the server accepts only Guest.
    GuestOnly,
    /// The card: the target cannot be reached.
    Unreachable,
    /// The card: the options line.
    OptionsLine {
        /// Per-step timeout.
        timeout_secs: f64,
        /// Whole-run deadline.
        deadline_secs: u64,
        /// Parallel cases.
        jobs: usize,
        /// Delivery modes.
        delivery: String,
        /// Framing.
        framing: String,
    },
    /// The summary: most failures happened at login.
    MostFailedAtLogin {
        /// presence/basic passed: the cases' own presence is what the server refuses.
        basic_passed: bool,
    },
    /// The summary: the run's duration and exit code.
    DurationLine {
        /// Seconds.
        secs: f64,
        /// The exit code.
        code: i32,
        /// Why.
        reason: String,
    },
    /// Client mode: what the runner says about a client it starts.
    Client(ClientMsg),
}

impl jim_text::Localized for Msg {
    fn text(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.en(),
            Lang::Ru => self.ru(),
        }
    }
}

impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en())
    }
}

impl Msg {
    /// Both languages, for reports that carry both.
    pub fn text(&self) -> Text {
        Text { en: self.en(), ru: self.ru() }
    }

    /// English.
    pub fn en(&self) -> String {
        match self {
            Self::Shown { text } | Self::Detail { text } => text.clone(),
            Self::ConnectionClosed => "connection closed".into(),
            Self::ConnectionReset => "connection reset".into(),
            Self::Truncated { text } => {
                format!("the connection was closed (or reset) in the middle of a message: {text}")
            }
            Self::Oversize { kib, text } => format!(
                "a message longer than {kib} KiB (an endless stream of bytes?): {text}; the rest was discarded"
            ),
            Self::Bad { problem, text, looks } => {
                let hint = match looks {
                    Some(Looks::PythonDict) => " (looks like Python's str(dict): use json.dumps)",
                    Some(Looks::BytesRepr) => {
                        " (looks like a Python bytes repr b'...': send the bytes themselves)"
                    }
                    Some(Looks::NotJim) => " (responds, but not JIM)",
                    None => "",
                };
                format!("{problem}: {text}{hint}")
            }
            Self::NothingWithin { secs } => format!("nothing within {secs} s"),
            Self::OnlyStart { secs, partial } => format!(
                "only the start of a message within {secs} s: {partial} (it is sent very slowly, or never finished)"
            ),
            Self::ProcessDied { status } => {
                format!("the server process died during this case ({status})")
            }
            Self::StoppedListening { error } => {
                format!(
                    "after this case the server died or stopped listening: {}",
                    error.get(Lang::En)
                )
            }
            Self::ZombieQueueFull => "after this case the server still listens but accepts no new connection: its queue of clients waiting to be accepted is full (a zombie)".into(),
            Self::NewClientAnswered => "a new client was answered after this case".into(),
            Self::ZombieSilent { secs } => format!(
                "after this case the server accepts connections but does not answer a presence within {secs} s (a zombie)"
            ),
            Self::ZombieCloses => {
                "after this case the server closes new connections without answering (a zombie)"
                    .into()
            }
            Self::NotRunTargetDown { case, state } => {
                let how = match state {
                    crate::report::LivenessState::Zombie => "stopped answering",
                    _ => "died",
                };
                format!(
                    "not run: the target {how} in {case}, and a target the runner did not start cannot be restarted (fix that case first, or run with --spawn)"
                )
            }
            Self::After { detail, input } => {
                format!("{}; after: {}", detail.en(), input.get(Lang::En))
            }
            Self::Both(said) => said.get(Lang::En).to_owned(),
            Self::ModeNote { delivery, whole_passed, peer } => {
                mode_note_en(*delivery, *whole_passed, *peer)
            }
            Self::Kept(k) => match k {
                Kept::OneShotServer => "one-shot (closes after one reply)",
                Kept::PersistentServer => "persistent connection",
                Kept::ServerUnknown => "connection kept? unknown",
                Kept::OneShotClient => "one-shot (exits after its reply)",
                Kept::InteractiveClient => "interactive (stays after its reply)",
                Kept::ClientUnknown => "one-shot or interactive? unknown",
            }
            .into(),
            Self::DialectIs(d) => format!("dialect {d}"),
            Self::FramingIs(f) => format!("{f} framing"),
            Self::RepliesTime(true) => "replies carry time".into(),
            Self::RepliesTime(false) => "replies without time".into(),
            Self::GuestOnly => "Guest-only".into(),
            Self::Unreachable => "unreachable".into(),
            Self::OptionsLine { timeout_secs, deadline_secs, jobs, delivery, framing } => format!(
                "timeout {timeout_secs} s per step, deadline {deadline_secs} s, jobs {jobs}, delivery {delivery}, framing {framing}"
            ),
            Self::MostFailedAtLogin { basic_passed: false } => {
                "most failing cases failed at their login (presence): fix presence/basic first"
                    .into()
            }
            Self::MostFailedAtLogin { basic_passed: true } => {
                "most failing cases failed at their login (presence) although presence/basic passed: the server refuses the presence these cases send (compare it with presence/basic's: fields, length, name)"
                    .into()
            }
            Self::DurationLine { secs, code, reason } => {
                format!("duration {secs:.2} s; exit code {code} ({reason})")
            }
            Self::Client(m) => m.en(),
        }
    }

    /// Russian.
    pub fn ru(&self) -> String {
        match self {
            Self::Shown { text } | Self::Detail { text } => text.clone(),
            Self::ConnectionClosed => "соединение закрыто".into(),
            Self::ConnectionReset => "соединение сброшено (RST)".into(),
            Self::Truncated { text } => format!("соединение закрыто посреди сообщения: {text}"),
            Self::Oversize { kib, text } => format!(
                "сообщение длиннее {kib} КиБ (поток байтов без конца?): {text}; остаток отброшен"
            ),
            Self::Bad { problem, text, looks } => {
                let hint = match looks {
                    Some(Looks::PythonDict) => {
                        " (похоже на str(dict) из Python: используйте json.dumps)"
                    }
                    Some(Looks::BytesRepr) => {
                        " (похоже на repr байтов b'...': отправляйте сами байты)"
                    }
                    Some(Looks::NotJim) => " (отвечает, но не на JIM)",
                    None => "",
                };
                format!("{}: {text}{hint}", frame_problem_ru(*problem))
            }
            Self::NothingWithin { secs } => format!("ничего за {secs} с"),
            Self::OnlyStart { secs, partial } => format!(
                "за {secs} с пришло только начало сообщения: {partial} (отправка очень медленная или сообщение не закончено)"
            ),
            Self::ProcessDied { status } => {
                format!("процесс сервера завершился во время этого случая ({})", status_ru(status))
            }
            Self::StoppedListening { error } => {
                format!(
                    "после этого случая сервер упал или перестал принимать соединения: {}",
                    error.get(Lang::Ru)
                )
            }
            Self::ZombieQueueFull => "после этого случая сервер всё ещё слушает порт, но не принимает новых соединений: его очередь ожидающих клиентов заполнена (зомби)".into(),
            Self::NewClientAnswered => "после этого случая новый клиент получил ответ".into(),
            Self::ZombieSilent { secs } => format!(
                "после этого случая сервер принимает соединения, но не отвечает на presence за {secs} с (зомби)"
            ),
            Self::ZombieCloses => {
                "после этого случая сервер закрывает новые соединения, не отвечая (зомби)".into()
            }
            Self::NotRunTargetDown { case, state } => {
                let how = match state {
                    crate::report::LivenessState::Zombie => "перестал отвечать",
                    _ => "упал",
                };
                format!(
                    "не запускался: сервер {how} в случае {case}, а сервер, запущенный не проверяющим, перезапустить нельзя (сначала исправьте тот случай или запускайте с --spawn)"
                )
            }
            Self::After { detail, input } => {
                format!("{}; после: {}", detail.ru(), input.get(Lang::Ru))
            }
            Self::Both(said) => said.get(Lang::Ru).to_owned(),
            Self::ModeNote { delivery, whole_passed, peer } => mode_note_ru(*delivery, *whole_passed, *peer),
            Self::Kept(k) => match k {
                Kept::OneShotServer => "одноразовый (закрывает после одного ответа)",
                Kept::PersistentServer => "постоянное соединение",
                Kept::ServerUnknown => "держит ли соединение? неизвестно",
                Kept::OneShotClient => "одноразовый (выходит после ответа)",
                Kept::InteractiveClient => "интерактивный (остаётся после ответа)",
                Kept::ClientUnknown => "одноразовый или интерактивный? неизвестно",
            }
            .into(),
            Self::DialectIs(d) => match d {
                DetectedDialect::Spec => "диалект spec".into(),
                DetectedDialect::Course => "диалект course".into(),
                DetectedDialect::Both => "диалекты spec и course".into(),
                DetectedDialect::Unknown => "диалект не определён".into(),
            },
            Self::FramingIs(f) => match f {
                DetectedFraming::Newline => "сообщения с переводом строки".into(),
                DetectedFraming::Bare => "сообщения без перевода строки".into(),
                DetectedFraming::Unknown => "разделитель сообщений неизвестен".into(),
            },
            Self::RepliesTime(true) => "в ответах есть time".into(),
            Self::RepliesTime(false) => "в ответах нет time".into(),
            Self::GuestOnly => "только Guest".into(),
            Self::Unreachable => "недоступен".into(),
            Self::OptionsLine { timeout_secs, deadline_secs, jobs, delivery, framing } => format!(
                "тайм-аут {timeout_secs} с на шаг, предел {deadline_secs} с, параллельно {jobs}, доставка {delivery}, разделитель {framing}"
            ),
            Self::MostFailedAtLogin { basic_passed: false } => {
                "большинство случаев упало уже на входе (presence): сначала исправьте presence/basic"
                    .into()
            }
            Self::MostFailedAtLogin { basic_passed: true } => {
                "большинство случаев упало уже на входе (presence), хотя presence/basic прошёл: сервер отклоняет presence, который шлют эти случаи (сравните его с presence из presence/basic: поля, длина, имя)"
                    .into()
            }
            Self::DurationLine { secs, code, reason } => {
                format!("время {secs:.2} с; код выхода {code} ({reason})")
            }
            Self::Client(m) => m.ru(),
        }
    }
}

/// A [`FrameProblem`] in Russian (its English is its vocabulary name).
pub(crate) fn frame_problem_ru(problem: FrameProblem) -> &'static str {
    match problem {
        FrameProblem::NotJson => "не JSON",
        FrameProblem::NotUtf8 => "не UTF-8",
        FrameProblem::Oversize => "слишком длинное",
        FrameProblem::Truncated => "оборвано",
    }
}

fn mode_note_en(delivery: Delivery, whole_passed: Option<bool>, peer: Peer) -> String {
    let (who, what) = match peer {
        Peer::Server => ("server", "request"),
        Peer::Client => ("client", "reply"),
    };
    let mode = match delivery {
        Delivery::Whole => return String::new(),
        Delivery::Split => format!(
            "each {what} is cut into pieces written separately (split delivery; a cut falls inside a multi-byte UTF-8 character when there is one)"
        ),
        Delivery::Trickle => format!("each {what} arrives one byte at a time (trickle delivery)"),
    };
    let advice = format!(
        "your {who} assumes one recv() returns one whole message. Keep a buffer per connection, append what recv() returns, and take complete JSON values out of it (json.JSONDecoder().raw_decode); decode UTF-8 only once a value is complete, and never treat a message that has not fully arrived as an error."
    );
    match whole_passed {
        Some(true) => format!("passes with whole delivery but fails when {mode}: {advice}"),
        Some(false) => format!(
            "fails when {mode}, and with whole delivery too: fix the whole-delivery failure first"
        ),
        None => format!("fails when {mode}. If it passes with --delivery whole, {advice}"),
    }
}

fn mode_note_ru(delivery: Delivery, whole_passed: Option<bool>, peer: Peer) -> String {
    let (who, what) = match peer {
        Peer::Server => ("сервер", "запрос"),
        Peer::Client => ("клиент", "ответ"),
    };
    let mode = match delivery {
        Delivery::Whole => return String::new(),
        Delivery::Split => format!(
            "каждый {what} режется на куски, отправленные отдельно (доставка split; если есть многобайтовый символ UTF-8, один разрез приходится внутрь него)"
        ),
        Delivery::Trickle => format!("каждый {what} приходит по одному байту (доставка trickle)"),
    };
    let advice = format!(
        "ваш {who} считает, что один recv() возвращает одно целое сообщение. Держите буфер на соединение, дописывайте в него то, что вернул recv(), и вынимайте из него целые JSON-значения (json.JSONDecoder().raw_decode); декодируйте UTF-8 только когда значение пришло целиком и не считайте ошибкой сообщение, которое ещё не дошло."
    );
    match whole_passed {
        Some(true) => format!("проходит при обычной доставке, но падает, когда {mode}: {advice}"),
        Some(false) => format!(
            "падает, когда {mode}, и при обычной доставке тоже: сначала исправьте обычный случай"
        ),
        None => format!("падает, когда {mode}. Если с --delivery whole проходит, то {advice}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One message of every kind, with values.
    fn samples() -> Vec<Msg> {
        let mut all = vec![
            Msg::ConnectionClosed,
            Msg::ConnectionReset,
            Msg::Truncated { text: "`{`".into() },
            Msg::Oversize { kib: 256, text: "`xxx`".into() },
            Msg::NothingWithin { secs: 2.0 },
            Msg::OnlyStart { secs: 2.0, partial: "`{`".into() },
            Msg::ProcessDied { status: "exit status 1".into() },
            Msg::StoppedListening { error: Said::new("connection refused", "отказ") },
            Msg::NewClientAnswered,
            Msg::ZombieSilent { secs: 2.0 },
            Msg::ZombieCloses,
            Msg::After { detail: Box::new(Msg::ZombieCloses), input: "step 1".into() },
            Msg::NotRunTargetDown {
                case: "robustness/abrupt-reset".into(),
                state: crate::report::LivenessState::Died,
            },
            Msg::GuestOnly,
            Msg::Unreachable,
            Msg::MostFailedAtLogin { basic_passed: false },
            Msg::MostFailedAtLogin { basic_passed: true },
            Msg::DurationLine { secs: 1.0, code: 0, reason: "ok".into() },
            Msg::OptionsLine {
                timeout_secs: 2.0,
                deadline_secs: 300,
                jobs: 4,
                delivery: "whole".into(),
                framing: "newline".into(),
            },
        ];
        for problem in FrameProblem::ALL {
            for looks in
                [None, Some(Looks::PythonDict), Some(Looks::BytesRepr), Some(Looks::NotJim)]
            {
                all.push(Msg::Bad { problem: *problem, text: "`x`".into(), looks });
            }
        }
        for delivery in [Delivery::Split, Delivery::Trickle] {
            for whole_passed in [Some(true), Some(false), None] {
                for peer in [Peer::Server, Peer::Client] {
                    all.push(Msg::ModeNote { delivery, whole_passed, peer });
                }
            }
        }
        for kept in [
            Kept::OneShotServer,
            Kept::PersistentServer,
            Kept::ServerUnknown,
            Kept::OneShotClient,
            Kept::InteractiveClient,
            Kept::ClientUnknown,
        ] {
            all.push(Msg::Kept(kept));
        }
        all.extend(DetectedDialect::ALL.iter().map(|d| Msg::DialectIs(*d)));
        all.extend(DetectedFraming::ALL.iter().map(|f| Msg::FramingIs(*f)));
        all.extend([Msg::RepliesTime(true), Msg::RepliesTime(false)]);
        all
    }

    fn cyrillic(s: &str) -> bool {
        s.chars().any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
    }

    #[test]
    fn every_message_and_label_is_translated_into_russian() {
        for m in samples() {
            let (en, ru) = (m.en(), m.ru());
            assert!(!en.is_empty() && en != ru && cyrillic(&ru), "{m:?}: {en:?} / {ru:?}");
        }
        for l in Label::ALL {
            assert!(cyrillic(l.ru()) && l.ru() != l.as_str(), "label {l:?} is not in Russian");
        }
    }

    /// Every fixture of the suite has its title, hint and step notes in Russian (a title
    /// written as a plain string has none: the report would show it in English).
    #[test]
    fn every_fixture_text_has_its_russian() {
        let suite = crate::suite::Suite::embedded().expect("the embedded suite loads");
        let mut missing = Vec::new();
        for f in &suite.fixtures {
            let notes: Vec<&Text> = match (f.server_steps(), f.client_steps()) {
                (Some(steps), _) => steps.iter().filter_map(|s| s.note.as_ref()).collect(),
                (_, Some(steps)) => steps.iter().filter_map(|s| s.note.as_ref()).collect(),
                _ => Vec::new(),
            };
            let texts = [("title", &f.title), ("hint", &f.hint)]
                .into_iter()
                .chain(notes.into_iter().map(|n| ("step note", n)));
            for (what, t) in texts {
                let ru = t.ru.trim();
                if ru.is_empty() || ru == t.en.trim() || !jim_text::reads_as_russian(ru) {
                    missing.push(format!("{}: {what} {:?} has no Russian ({ru:?})", f.id, t.en));
                }
            }
        }
        assert!(suite.fixtures.len() > 100, "only {} fixtures", suite.fixtures.len());
        assert!(missing.is_empty(), "{} texts:\n{}", missing.len(), missing.join("\n"));
    }

    #[test]
    fn russian_plurals_follow_the_cldr_rules() {
        let p = |n| plural_ru(n, "случай", "случая", "случаев");
        assert_eq!(
            [p(1), p(2), p(5), p(11), p(21), p(22), p(25), p(112)],
            ["случай", "случая", "случаев", "случаев", "случай", "случая", "случаев", "случаев"]
        );
    }
}
