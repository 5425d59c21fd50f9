//! Client mode's part of the catalog: what the runner says about a client it starts (what it
//! saw of the process, why a step failed, the card, the events of a transcript) and the hints
//! chosen by what the client's first message was. Kept in its own file so that the client-mode
//! words change without touching the rest of the catalog; [`super::Msg::Client`] wraps them.

use serde::Serialize;

use super::status_ru;
use crate::model::Text;

/// What was wrong with the first message a client sent, as observed: it chooses the hint of
/// the case that judges it and the root cause the other cases are folded under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FirstProblem {
    /// Python's `str(dict)` (single quotes); `client_name`: the repr names the user with
    /// `client_name` and has no `account_name`.
    PythonRepr {
        /// The repr's user key is `client_name`.
        client_name: bool,
    },
    /// A Python bytes repr `b'...'`.
    BytesRepr,
    /// Bytes that are not JSON, nor a repr the runner recognises.
    NotJson,
    /// JSON, but not a presence.
    NotPresence,
    /// A presence whose user is named by `client_name` instead of `account_name`.
    ClientName,
}

impl FirstProblem {
    /// The first message is not a JSON presence at all: nothing after it can be judged.
    pub fn blocks_everything(self) -> bool {
        !matches!(self, Self::ClientName)
    }

    /// The hint for it, in both languages.
    pub fn hint(self) -> Text {
        Text { en: self.hint_en(), ru: self.hint_ru() }
    }

    fn hint_en(self) -> String {
        match self {
            Self::PythonRepr { client_name } => {
                let mut t = "Your client sends Python's str(dict) (single quotes), not JSON: a server's json.loads cannot read it, so nothing after this first message can work. Build the message as a dict and send json.dumps(message).encode(\"utf-8\").".to_owned();
                if client_name {
                    t.push_str(" The same message also names the user with \"client_name\": the key is \"account_name\" ({\"user\": {\"account_name\": NAME}}).");
                }
                t
            }
            Self::BytesRepr => "Your client sends the text of a Python bytes object (b'...', as str(data.encode()) gives), not JSON: send the bytes themselves, sock.send(json.dumps(message).encode(\"utf-8\")).".into(),
            Self::NotJson => "The client's first message is not JSON, so nothing after it can work. Send json.dumps(message).encode(\"utf-8\") of the dict {\"action\": \"presence\", \"time\": time.time(), \"user\": {\"account_name\": NAME}}.".into(),
            Self::NotPresence => "The first message of a session must be the presence {\"action\": \"presence\", \"time\": time.time(), \"user\": {\"account_name\": NAME}}: a server refuses anything else before it.".into(),
            Self::ClientName => "The presence names the user with user.client_name: the key is account_name. Servers read user[\"account_name\"]: without it the login is refused (400), and a lesson-3 server dies with KeyError: 'account_name'. Send {\"action\": \"presence\", \"time\": time.time(), \"user\": {\"account_name\": NAME}}.".into(),
        }
    }

    fn hint_ru(self) -> String {
        match self {
            Self::PythonRepr { client_name } => {
                let mut t = "Ваш клиент отправляет str(dict) из Python (одинарные кавычки), а не JSON: json.loads сервера не может его прочитать, поэтому после этого первого сообщения ничего не работает. Соберите сообщение как dict и отправляйте json.dumps(message).encode(\"utf-8\").".to_owned();
                if client_name {
                    t.push_str(" В том же сообщении пользователь назван ключом \"client_name\": нужен ключ \"account_name\" ({\"user\": {\"account_name\": ИМЯ}}).");
                }
                t
            }
            Self::BytesRepr => "Ваш клиент отправляет текст объекта bytes из Python (b'...', как даёт str(data.encode())), а не JSON: отправляйте сами байты, sock.send(json.dumps(message).encode(\"utf-8\")).".into(),
            Self::NotJson => "Первое сообщение клиента — не JSON, поэтому после него ничего не работает. Отправляйте json.dumps(message).encode(\"utf-8\") словаря {\"action\": \"presence\", \"time\": time.time(), \"user\": {\"account_name\": ИМЯ}}.".into(),
            Self::NotPresence => "Первым сообщением сессии должен быть presence {\"action\": \"presence\", \"time\": time.time(), \"user\": {\"account_name\": ИМЯ}}: до него сервер отклоняет всё остальное.".into(),
            Self::ClientName => "В presence пользователь назван ключом user.client_name: нужен ключ account_name. Серверы читают user[\"account_name\"]: без него вход отклоняется (400), а сервер урока 3 падает с KeyError: 'account_name'. Отправляйте {\"action\": \"presence\", \"time\": time.time(), \"user\": {\"account_name\": ИМЯ}}.".into(),
        }
    }

    /// What it is, in a few words (for a folded case's reason and the card).
    pub fn what(self) -> ClientMsg {
        ClientMsg::FirstIs(self)
    }
}

/// What the runner says about a client it starts.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMsg {
    /// The runner could not listen for the client.
    CannotListen {
        /// The OS error.
        error: String,
    },
    /// The client command could not be started.
    CannotStart {
        /// The command line.
        command: String,
        /// The OS error.
        error: String,
    },
    /// The runner is no longer listening (a second accept).
    NotListening,
    /// Accepting the client's connection failed.
    AcceptFailed {
        /// The OS error.
        error: String,
    },
    /// The client exited before connecting.
    ExitedWithoutConnecting {
        /// Its exit status.
        status: String,
    },
    /// The client did not connect in time.
    DidNotConnect {
        /// The bound.
        secs: f64,
    },
    /// The client is not running (any more).
    NotRunning,
    /// The runner cannot wait for the client process.
    CannotWait,
    /// The client is still running.
    StillRunning,
    /// The client crashed.
    Crashed {
        /// Its exit status.
        status: String,
        /// The last line of the traceback or panic.
        line: String,
    },
    /// The client ended with a status the step does not accept.
    Ended {
        /// Its exit status.
        status: String,
    },
    /// Writing to the client failed.
    SendFailed {
        /// The OS error.
        error: String,
    },
    /// The runner could not answer the client.
    CannotAnswer,
    /// What the client showed (its output) lacks what it shows for the reply alone.
    ShowedOtherwise,
    /// Why: a crash is never a way to handle a reply.
    WhyCrash,
    /// Why: another exit status was expected ("0", "not 0").
    WhyExit {
        /// The accepted status, in words.
        want: String,
    },
    /// Why: the client did not exit in time.
    WhyNoExit {
        /// The bound.
        secs: f64,
    },
    /// Why: bad bytes arrived while waiting for the exit.
    WhyWhileExiting,
    /// Why: the client process has ended.
    WhyEnded {
        /// Its exit status.
        status: String,
    },
    /// Why: the client left while the runner was sending.
    WhyLeftEarly {
        /// The step being sent.
        step: usize,
    },
    /// Why: lines it shows for the reply alone are missing.
    WhyMissingLines {
        /// The case that showed the reply alone.
        baseline: String,
        /// The missing lines, as shown there.
        lines: String,
    },
    /// Transcript: the client connected.
    Connected,
    /// Transcript: the client exited.
    Exited {
        /// Its exit status.
        status: String,
    },
    /// Transcript: stdin closed.
    StdinClosed,
    /// Transcript: the `--stdin` text was written, then stdin closed.
    StdinWrote {
        /// Bytes written.
        bytes: usize,
    },
    /// Transcript: writing `--stdin` failed.
    StdinFailed {
        /// The OS error.
        error: String,
    },
    /// Transcript: the client did not read its stdin in time.
    StdinUnread,
    /// Transcript: the client waits for its user (reads its stdin).
    WaitingForInput,
    /// Transcript: whether the client waits for input cannot be seen here.
    InputUnseen {
        /// How long the step waited instead.
        secs: f64,
    },
    /// Transcript: the client ended its side of the connection while the step waited.
    ClientClosed,
    /// Transcript: a generic answer (suffix).
    GenericAnswer,
    /// Card: the target line.
    Describe {
        /// The command template.
        command: String,
    },
    /// Card: the address line.
    AddressPerCase,
    /// A process the runner stopped at the end of a case.
    StoppedByRunner,
    /// A process that never started.
    NotStarted,
    /// The comment of the reproduction's first line.
    ReproduceServer,
    /// Card note: the client exited by itself after its 200.
    NoteExited,
    /// Card note: the client waited for the close, then exited 0.
    NoteWaitedClose,
    /// Card note: the client waits for its user after the 200.
    NoteInteractive,
    /// Card note: the client sent a goodbye when its input ended.
    NoteGoodbye,
    /// Card note: the client crashed reading its closed input.
    NoteEofCrash,
    /// Card note: the client sent its presence again, unasked.
    NoteRepeat,
    /// Card note: the first message is not a presence.
    NoteNotPresence {
        /// It, shown.
        shown: String,
    },
    /// Card note: the first message is not JSON.
    NoteNotJson {
        /// It, shown.
        text: String,
    },
    /// Card note: the client connected and sent nothing.
    NoteSentNothing,
    /// What a first message was.
    FirstIs(FirstProblem),
    /// A case folded under the root cause.
    Folded {
        /// The root cause, in a few words.
        what: Box<ClientMsg>,
        /// The case that reports it.
        root: String,
    },
}

/// In a JSON report a client message is its English text, like the other details there.
impl Serialize for ClientMsg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.en())
    }
}

impl ClientMsg {
    /// Both languages.
    pub fn text(&self) -> Text {
        Text { en: self.en(), ru: self.ru() }
    }

    /// English.
    pub fn en(&self) -> String {
        match self {
            Self::CannotListen { error } => format!("cannot listen on 127.0.0.1: {error}"),
            Self::CannotStart { command, error } => format!("cannot start `{command}`: {error}"),
            Self::NotListening => "the runner is not listening".into(),
            Self::AcceptFailed { error } => {
                format!("accepting the client's connection failed: {error}")
            }
            Self::ExitedWithoutConnecting { status } => format!(
                "the client exited ({status}) without connecting: does the command use {{host}} and {{port}}? (its output is below)"
            ),
            Self::DidNotConnect { secs } => format!(
                "the client did not connect within {secs} s: does the command use {{host}} and {{port}}?"
            ),
            Self::NotRunning => "the client is not running".into(),
            Self::CannotWait => "cannot wait for the client process".into(),
            Self::StillRunning => "the client is still running".into(),
            Self::Crashed { status, line } => format!("the client crashed ({status}): {line}"),
            Self::Ended { status } => format!("the client ended with {status}"),
            Self::SendFailed { error } => format!("sending to the client failed: {error}"),
            Self::CannotAnswer => "cannot answer the client".into(),
            Self::ShowedOtherwise => {
                "the client showed something else than for the same reply alone".into()
            }
            Self::WhyCrash => {
                "a crash (traceback or panic) is never a correct way to handle a reply".into()
            }
            Self::WhyExit { want } => format!("expected exit status {want}"),
            Self::WhyNoExit { secs } => format!("the client did not exit within {secs} s"),
            Self::WhyWhileExiting => "while waiting for the client to exit".into(),
            Self::WhyEnded { status } => {
                format!("the client process has ended ({status}); its output is below")
            }
            Self::WhyLeftEarly { step } => format!(
                "the client closed the connection while the runner was still sending step {step}"
            ),
            Self::WhyMissingLines { baseline, lines } => format!(
                "for the reply alone ({baseline}) it showed {lines}; here it did not: it did not understand the reply"
            ),
            Self::Connected => "the client connected".into(),
            Self::Exited { status } => format!("the client exited ({status})"),
            Self::StdinClosed => "stdin closed".into(),
            Self::StdinWrote { bytes } => {
                format!("wrote {bytes} bytes of --stdin, then closed stdin")
            }
            Self::StdinFailed { error } => format!("writing --stdin failed ({error}); stdin closed"),
            Self::StdinUnread => "the client did not read its stdin in time; stdin closed".into(),
            Self::WaitingForInput => "the client waits for its user (it reads its stdin)".into(),
            Self::InputUnseen { secs } => format!(
                "whether the client waits for its user cannot be seen on this system: waited {secs} s"
            ),
            Self::ClientClosed => "the client closed the connection".into(),
            Self::GenericAnswer => "(generic answer)".into(),
            Self::Describe { command } => {
                format!("client `{command}`, started once per case against the runner on 127.0.0.1")
            }
            Self::AddressPerCase => "127.0.0.1 (a new port per case)".into(),
            Self::StoppedByRunner => "still running at the end of the case: stopped by the runner".into(),
            Self::NotStarted => "not started".into(),
            Self::ReproduceServer => "a correct server to try the client against".into(),
            Self::NoteExited => {
                "after a 200 the client exited by itself: a one-shot lesson-3 client".into()
            }
            Self::NoteWaitedClose => "after a 200 the client waited for the server to close, then exited with status 0: a one-shot lesson-3 client".into(),
            Self::NoteInteractive => "after a 200 the client waits for its user (it reads its stdin): an interactive client (a one-shot client that behaves otherwise: use --profile client-lesson3)".into(),
            Self::NoteGoodbye => "when its input ended the client said goodbye: an interactive client".into(),
            Self::NoteEofCrash => "when its input ended the client crashed reading it: an interactive client".into(),
            Self::NoteRepeat => "after its 200 the client sent its presence again, unasked".into(),
            Self::NoteNotPresence { shown } => {
                format!("the client's first message is not a presence: {shown}")
            }
            Self::NoteNotJson { text } => format!("the client's first message is not JSON: {text}"),
            Self::NoteSentNothing => "the client connected but sent nothing".into(),
            Self::FirstIs(p) => match p {
                FirstProblem::PythonRepr { client_name: false } => {
                    "the client's first message is Python's str(dict), not JSON".into()
                }
                FirstProblem::PythonRepr { client_name: true } => "the client's first message is Python's str(dict), not JSON (and names the user with client_name)".into(),
                FirstProblem::BytesRepr => {
                    "the client's first message is a Python bytes repr b'...', not JSON".into()
                }
                FirstProblem::NotJson => "the client's first message is not JSON".into(),
                FirstProblem::NotPresence => "the client's first message is not a presence".into(),
                FirstProblem::ClientName => {
                    "the presence names the user with user.client_name: the key is account_name"
                        .into()
                }
            },
            Self::Folded { what, root } => format!(
                "not judged: {}; fix that first (reported by {root})",
                what.en()
            ),
        }
    }

    /// Russian.
    pub fn ru(&self) -> String {
        match self {
            Self::CannotListen { error } => {
                format!("не удаётся слушать порт на 127.0.0.1: {error}")
            }
            Self::CannotStart { command, error } => {
                format!("не удаётся запустить `{command}`: {error}")
            }
            Self::NotListening => "проверка больше не принимает соединений".into(),
            Self::AcceptFailed { error } => {
                format!("не удалось принять соединение клиента: {error}")
            }
            Self::ExitedWithoutConnecting { status } => format!(
                "клиент завершился ({}), не подключившись: есть ли в команде {{host}} и {{port}}? (его вывод ниже)",
                status_ru(status)
            ),
            Self::DidNotConnect { secs } => format!(
                "клиент не подключился за {secs} с: есть ли в команде {{host}} и {{port}}?"
            ),
            Self::NotRunning => "клиент не запущен".into(),
            Self::CannotWait => "не удаётся дождаться процесса клиента".into(),
            Self::StillRunning => "клиент всё ещё работает".into(),
            Self::Crashed { status, line } => format!("клиент упал ({}): `{line}`", status_ru(status)),
            Self::Ended { status } => format!("клиент завершился: {}", status_ru(status)),
            Self::SendFailed { error } => format!("отправка клиенту не удалась: {error}"),
            Self::CannotAnswer => "не удаётся ответить клиенту".into(),
            Self::ShowedOtherwise => {
                "клиент показал не то, что показывает на тот же ответ, пришедший отдельно".into()
            }
            Self::WhyCrash => {
                "падение (traceback или panic) — никогда не правильная реакция на ответ".into()
            }
            Self::WhyExit { want } => format!("ожидался код выхода {want}"),
            Self::WhyNoExit { secs } => format!("клиент не завершился за {secs} с"),
            Self::WhyWhileExiting => "пока проверка ждала завершения клиента".into(),
            Self::WhyEnded { status } => {
                format!("процесс клиента завершился ({}); его вывод ниже", status_ru(status))
            }
            Self::WhyLeftEarly { step } => format!(
                "клиент закрыл соединение, пока проверка ещё отправляла шаг {step}"
            ),
            Self::WhyMissingLines { baseline, lines } => format!(
                "на тот же ответ отдельно ({baseline}) он показал {lines}; здесь — нет: ответ не понят"
            ),
            Self::Connected => "клиент подключился".into(),
            Self::Exited { status } => format!("клиент завершился ({})", status_ru(status)),
            Self::StdinClosed => "stdin закрыт".into(),
            Self::StdinWrote { bytes } => {
                format!("записано байт из --stdin: {bytes}, затем stdin закрыт")
            }
            Self::StdinFailed { error } => {
                format!("запись --stdin не удалась ({error}); stdin закрыт")
            }
            Self::StdinUnread => "клиент не прочитал stdin вовремя; stdin закрыт".into(),
            Self::WaitingForInput => "клиент ждёт пользователя (читает stdin)".into(),
            Self::InputUnseen { secs } => format!(
                "на этой системе не видно, ждёт ли клиент пользователя: ожидание {secs} с"
            ),
            Self::ClientClosed => "клиент закрыл соединение".into(),
            Self::GenericAnswer => "(типовой ответ)".into(),
            Self::Describe { command } => format!(
                "клиент `{command}`, запускается заново для каждого случая и подключается к проверке на 127.0.0.1"
            ),
            Self::AddressPerCase => "127.0.0.1 (новый порт для каждого случая)".into(),
            Self::StoppedByRunner => "ещё работал в конце случая: остановлен проверкой".into(),
            Self::NotStarted => "не запущен".into(),
            Self::ReproduceServer => "правильный сервер, чтобы проверить на нём клиента".into(),
            Self::NoteExited => {
                "после 200 клиент сам завершился: одноразовый клиент урока 3".into()
            }
            Self::NoteWaitedClose => "после 200 клиент дождался закрытия соединения сервером и завершился с кодом 0: одноразовый клиент урока 3".into(),
            Self::NoteInteractive => "после 200 клиент ждёт пользователя (читает stdin): интерактивный клиент (если это одноразовый клиент, укажите --profile client-lesson3)".into(),
            Self::NoteGoodbye => "когда ввод закончился, клиент попрощался: интерактивный клиент".into(),
            Self::NoteEofCrash => "когда ввод закончился, клиент упал при его чтении: интерактивный клиент".into(),
            Self::NoteRepeat => "после 200 клиент без запроса снова отправил presence".into(),
            Self::NoteNotPresence { shown } => {
                format!("первое сообщение клиента — не presence: {shown}")
            }
            Self::NoteNotJson { text } => format!("первое сообщение клиента — не JSON: {text}"),
            Self::NoteSentNothing => "клиент подключился, но ничего не отправил".into(),
            Self::FirstIs(p) => match p {
                FirstProblem::PythonRepr { client_name: false } => {
                    "первое сообщение клиента — str(dict) из Python, а не JSON".into()
                }
                FirstProblem::PythonRepr { client_name: true } => "первое сообщение клиента — str(dict) из Python, а не JSON (и пользователь назван ключом client_name)".into(),
                FirstProblem::BytesRepr => {
                    "первое сообщение клиента — repr байтов b'...' из Python, а не JSON".into()
                }
                FirstProblem::NotJson => "первое сообщение клиента — не JSON".into(),
                FirstProblem::NotPresence => "первое сообщение клиента — не presence".into(),
                FirstProblem::ClientName => {
                    "в presence пользователь назван ключом user.client_name: нужен account_name"
                        .into()
                }
            },
            Self::Folded { what, root } => format!(
                "не проверялось: {}; сначала исправьте это (об этом сообщает {root})",
                what.ru()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cyrillic(s: &str) -> bool {
        s.chars().any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
    }

    fn problems() -> Vec<FirstProblem> {
        vec![
            FirstProblem::PythonRepr { client_name: false },
            FirstProblem::PythonRepr { client_name: true },
            FirstProblem::BytesRepr,
            FirstProblem::NotJson,
            FirstProblem::NotPresence,
            FirstProblem::ClientName,
        ]
    }

    /// One message of every kind.
    pub(crate) fn samples() -> Vec<ClientMsg> {
        let s = || "x".to_owned();
        let mut all = vec![
            ClientMsg::CannotListen { error: s() },
            ClientMsg::CannotStart { command: s(), error: s() },
            ClientMsg::NotListening,
            ClientMsg::AcceptFailed { error: s() },
            ClientMsg::ExitedWithoutConnecting { status: s() },
            ClientMsg::DidNotConnect { secs: 1.0 },
            ClientMsg::NotRunning,
            ClientMsg::CannotWait,
            ClientMsg::StillRunning,
            ClientMsg::Crashed { status: s(), line: s() },
            ClientMsg::Ended { status: s() },
            ClientMsg::SendFailed { error: s() },
            ClientMsg::CannotAnswer,
            ClientMsg::ShowedOtherwise,
            ClientMsg::WhyCrash,
            ClientMsg::WhyExit { want: s() },
            ClientMsg::WhyNoExit { secs: 1.0 },
            ClientMsg::WhyWhileExiting,
            ClientMsg::WhyEnded { status: s() },
            ClientMsg::WhyLeftEarly { step: 1 },
            ClientMsg::WhyMissingLines { baseline: s(), lines: s() },
            ClientMsg::Connected,
            ClientMsg::Exited { status: s() },
            ClientMsg::StdinClosed,
            ClientMsg::StdinWrote { bytes: 1 },
            ClientMsg::StdinFailed { error: s() },
            ClientMsg::StdinUnread,
            ClientMsg::WaitingForInput,
            ClientMsg::InputUnseen { secs: 1.0 },
            ClientMsg::ClientClosed,
            ClientMsg::GenericAnswer,
            ClientMsg::Describe { command: s() },
            ClientMsg::AddressPerCase,
            ClientMsg::StoppedByRunner,
            ClientMsg::NotStarted,
            ClientMsg::ReproduceServer,
            ClientMsg::NoteExited,
            ClientMsg::NoteWaitedClose,
            ClientMsg::NoteInteractive,
            ClientMsg::NoteGoodbye,
            ClientMsg::NoteEofCrash,
            ClientMsg::NoteRepeat,
            ClientMsg::NoteNotPresence { shown: s() },
            ClientMsg::NoteNotJson { text: s() },
            ClientMsg::NoteSentNothing,
        ];
        for p in problems() {
            all.push(ClientMsg::FirstIs(p));
            all.push(ClientMsg::Folded { what: Box::new(p.what()), root: s() });
        }
        all
    }

    #[test]
    fn every_client_message_and_hint_is_translated_into_russian() {
        for m in samples() {
            let (en, ru) = (m.en(), m.ru());
            assert!(!en.is_empty() && en != ru && cyrillic(&ru), "{m:?}: {en:?} / {ru:?}");
        }
        for p in problems() {
            let h = p.hint();
            assert!(!h.en.is_empty() && cyrillic(&h.ru) && h.en != h.ru, "{p:?}");
        }
    }

    #[test]
    fn the_client_name_hint_names_the_key_and_not_str_dict() {
        let h = FirstProblem::ClientName.hint().en;
        assert!(h.contains("account_name") && h.contains("client_name"), "{h}");
        assert!(
            !h.contains("str(dict)") && !h.contains("json.dumps") && !h.contains("repr"),
            "{h}"
        );
        let both = FirstProblem::PythonRepr { client_name: true }.hint().en;
        assert!(both.contains("json.dumps") && both.contains("client_name"), "{both}");
    }
}
