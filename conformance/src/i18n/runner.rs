//! The words of the run around the cases: connect errors, verdict reasons, the exit reason,
//! the target's events. Kept apart from the report's own labels and messages ([`super::Msg`])
//! so that the modes' texts change without touching the rest of the catalog.

use jim_text::{Lang, Localized};

use crate::profile::ProfileError;
use crate::run::RunError;
use crate::suite::SuiteError;
use crate::target::TargetError;
use crate::wire::ConnectError;

/// How a process ended, in both languages: "exit status 1" / "код выхода 1", "killed by
/// signal 9 (SIGKILL)" / "убит сигналом 9 (SIGKILL)" ([`crate::process::describe_status`]'s
/// English, whose two forms are the only ones it writes besides the platform's own text).
pub fn exit_status(status: std::process::ExitStatus) -> super::Said {
    let en = crate::process::describe_status(status);
    let ru = status_ru(&en);
    super::Said::new(en, ru)
}

/// The Russian of a [`crate::process::describe_status`] text (for messages that carry it as
/// a string).
pub fn status_ru(en: &str) -> String {
    if let Some(code) = en.strip_prefix("exit status ") {
        format!("код выхода {code}")
    } else if let Some(signal) = en.strip_prefix("killed by signal ") {
        format!("убит сигналом {signal}")
    } else {
        en.to_owned()
    }
}

/// Why a run could not start, as the command line prints it.
impl Localized for RunError {
    fn text(&self, lang: Lang) -> String {
        match self {
            Self::Suite(e) => e.text(lang),
            Self::Profile(e) => e.text(lang),
            Self::Usage(said) => said.get(lang).to_owned(),
            Self::Target(e) => e.text(lang),
        }
    }
}

impl Localized for ProfileError {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::Invalid { file, message }, Lang::En) => format!("profile {file}: {message}"),
            (Self::Invalid { file, message }, Lang::Ru) => format!("профиль {file}: {message}"),
            (Self::Unknown { name, available }, Lang::En) => {
                format!("no profile named \"{name}\" (available: {available})")
            }
            (Self::Unknown { name, available }, Lang::Ru) => {
                format!("профиля \"{name}\" нет (есть: {available})")
            }
        }
    }
}

impl Localized for SuiteError {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::Io { path, source }, Lang::En) => {
                format!("cannot read fixtures from {path}: {source}")
            }
            (Self::Io { path, source }, Lang::Ru) => {
                format!(
                    "не удаётся прочитать фикстуры из {path}: {}",
                    jim_text::io_error(source, lang)
                )
            }
            (Self::Fixtures(errors), _) => {
                let noun = jim_text::Noun {
                    en: ["fixture file is invalid", "fixture files are invalid"],
                    ru: [
                        "файл фикстуры с ошибкой",
                        "файла фикстур с ошибками",
                        "файлов фикстур с ошибками",
                    ],
                };
                let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                format!("{}:\n  {}", noun.count(lang, errors.len() as u64), list.join("\n  "))
            }
            (Self::Profile(e), _) => e.text(lang),
        }
    }
}

impl Localized for TargetError {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::Resolve { host, message }, Lang::En) => {
                format!("cannot resolve {host}: {message}")
            }
            (Self::Resolve { host, message }, Lang::Ru) => {
                format!("не удаётся найти адрес {host}: {message}")
            }
            // Built where the process is started (the command, its status): not moved yet.
            (Self::Spawn { message, .. }, _) => message.clone(),
            (Self::Embedded(e), Lang::En) => {
                format!("cannot start the embedded reference server: {e}")
            }
            (Self::Embedded(e), Lang::Ru) => {
                format!("не удаётся запустить встроенный эталонный сервер: {e}")
            }
        }
    }
}

impl Localized for ConnectError {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::Refused { addr }, Lang::En) => {
                format!("connection refused: server down? ({addr})")
            }
            (Self::Refused { addr }, Lang::Ru) => {
                format!("в соединении отказано: сервер не запущен? ({addr})")
            }
            (Self::Timeout { addr, ms }, Lang::En) => {
                format!("connect to {addr} timed out after {ms} ms")
            }
            (Self::Timeout { addr, ms }, Lang::Ru) => {
                format!("подключение к {addr} не удалось за {ms} мс")
            }
            (Self::Other { addr, message }, Lang::En) => {
                format!("cannot connect to {addr}: {message}")
            }
            (Self::Other { addr, message }, Lang::Ru) => {
                format!("не удаётся подключиться к {addr}: {message}")
            }
        }
    }
}

/// A message of the run (verdict reasons, exit reasons, events) with its values.
#[derive(Debug, Clone, PartialEq)]
pub enum RunMsg {
    /// The exit code's reason: cases fail the run.
    CasesFail {
        /// How many.
        n: usize,
    },
    /// The exit code's reason: no case ran.
    NoCaseRan,
    /// The exit code's reason: every required case passes.
    AllRequiredPass,
    /// The exit code's reason: the target cannot be reached.
    TargetUnreachable {
        /// Why (already in the report's language).
        why: String,
    },
    /// A case listed in `--known-failures` passed.
    KnownFailurePassed {
        /// The reason given in the list.
        reason: String,
    },
    /// The runner lost a case (a bug).
    LostCase,
    /// A probe says the capability is unimplemented.
    LooksUnimplemented {
        /// The capability.
        cap: String,
        /// The step.
        step: usize,
        /// What arrived (already in the report's language).
        got: String,
    },
    /// A step failed: what arrived.
    AtStep {
        /// The step.
        step: usize,
        /// What arrived (already in the report's language).
        got: String,
    },
    /// An event: the target exited and is restarted.
    ExitedRestarting {
        /// Its exit status.
        status: String,
        /// Before which case.
        before: String,
    },
    /// Why the target is restarted (the event says "restarted " and this).
    Restarted {
        /// Why (before which case).
        before: String,
        /// Before a destructive case.
        destructive: bool,
    },
    /// Why the target is restarted after it went down.
    RestartedAfterDown {
        /// Before which case.
        before: String,
        /// The case in which it went down.
        case: String,
    },
    /// A case not run: `--deadline` was reached before it started, or while it ran (it was
    /// stopped; nothing it saw is a verdict).
    Deadline {
        /// The deadline, in seconds as the user wrote it (`5`, `0.5`).
        secs: String,
        /// Reached while the case ran.
        during: bool,
    },
    /// The exit code's reason: every required case that ran passes, and some were not run.
    RanPassSomeNotRun {
        /// How many were not run.
        n: usize,
    },
    /// The exit code's reason: no case ran to its end, some were not run.
    NoneRanSomeNotRun {
        /// How many were not run.
        n: usize,
    },
}

impl Localized for RunMsg {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::CasesFail { n }, Lang::Ru) => {
                let noun = jim_text::Noun {
                    en: ["case fails", "cases fail"],
                    ru: ["случай проваливает", "случая проваливают", "случаев проваливают"],
                };
                format!("{} прогон", noun.count(lang, *n as u64))
            }
            (Self::CasesFail { n }, Lang::En) => format!("{n} case(s) fail the run"),
            (Self::NoCaseRan, Lang::Ru) => {
                "ни один случай не выполнялся (все выбранные пропущены или не реализованы)".into()
            }
            (Self::NoCaseRan, Lang::En) => {
                "no case ran (every selected case was skipped or unimplemented)".into()
            }
            (Self::AllRequiredPass, Lang::Ru) => "все обязательные случаи проходят".into(),
            (Self::AllRequiredPass, Lang::En) => "every required case passes".into(),
            (Self::TargetUnreachable { why }, Lang::Ru) => format!("цель недоступна: {why}"),
            (Self::TargetUnreachable { why }, Lang::En) => format!("target unreachable: {why}"),
            (Self::KnownFailurePassed { reason }, Lang::Ru) => format!(
                "указан в --known-failures ({reason}), но прошёл: уберите его из списка"
            ),
            (Self::KnownFailurePassed { reason }, Lang::En) => {
                format!("listed in --known-failures ({reason}) but passed: remove it from the list")
            }
            (Self::LostCase, Lang::Ru) => "проверяющий сломался на этом случае (ошибка в jim-conformance: сообщите о ней)".into(),
            (Self::LostCase, Lang::En) => "the runner failed while running this case (a bug in jim-conformance: please report it)".into(),
            (Self::LooksUnimplemented { cap, step, got }, Lang::Ru) => format!(
                "{cap}, похоже, не реализовано: на шаге {step} пришло {got} (укажите --expect {cap}, чтобы требовать его)"
            ),
            (Self::LooksUnimplemented { cap, step, got }, Lang::En) => format!(
                "{cap} looks unimplemented: step {step} got {got} (use --expect {cap} to require it)"
            ),
            (Self::AtStep { step, got }, Lang::Ru) => format!("шаг {step}: {got}"),
            (Self::AtStep { step, got }, Lang::En) => format!("step {step}: {got}"),
            (Self::ExitedRestarting { status, before }, Lang::Ru) => {
                format!("цель завершилась ({}); перезапуск перед {before}", status_ru(status))
            }
            (Self::ExitedRestarting { status, before }, Lang::En) => {
                format!("the target exited ({status}); restarting it before {before}")
            }
            (Self::Restarted { before, destructive: true }, Lang::Ru) => {
                format!("перед разрушающим случаем {before}")
            }
            (Self::Restarted { before, destructive: true }, Lang::En) => {
                format!("before destructive case {before}")
            }
            (Self::Restarted { before, .. }, Lang::Ru) => format!("перед {before}"),
            (Self::Restarted { before, .. }, Lang::En) => format!("before {before}"),
            (Self::RestartedAfterDown { before, case }, Lang::Ru) => {
                format!("перед {before} (цель упала в случае {case})")
            }
            (Self::RestartedAfterDown { before, case }, Lang::En) => {
                format!("before {before} (the target went down in {case})")
            }
            (Self::Deadline { secs, during: false }, Lang::En) => {
                format!("the deadline of {secs} s was reached before this case")
            }
            (Self::Deadline { secs, during: false }, Lang::Ru) => {
                format!("предел времени прогона {secs} с (--deadline) был достигнут до этого случая")
            }
            (Self::Deadline { secs, during: true }, Lang::En) => format!(
                "the deadline of {secs} s was reached during this case, which was stopped unjudged"
            ),
            (Self::Deadline { secs, during: true }, Lang::Ru) => format!(
                "предел времени прогона {secs} с (--deadline) был достигнут во время этого случая; он остановлен без вердикта"
            ),
            (Self::RanPassSomeNotRun { n }, Lang::En) => {
                format!("every required case that ran passes; {n} not run (see the summary)")
            }
            (Self::RanPassSomeNotRun { n }, Lang::Ru) => format!(
                "все выполненные обязательные случаи проходят; не запускались: {n} (см. итог)"
            ),
            (Self::NoneRanSomeNotRun { n }, Lang::En) => {
                format!("no case ran to its end; {n} not run (see the summary)")
            }
            (Self::NoneRanSomeNotRun { n }, Lang::Ru) => {
                format!("ни один случай не выполнен до конца; не запускались: {n} (см. итог)")
            }
        }
    }
}
