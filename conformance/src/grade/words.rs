//! What `grade` itself says, in English and Russian: the lines about a program that was not
//! judged (it timed out, the roster has no command, the runner could not run), the gradebook's
//! "all pass", and the command line's totals. The runner's own texts (a case's reason, a why
//! line) come from its JSON report, in both languages ([`super::student::ReportView::said`]).

use jim_text::{Lang, Localized, Noun};

use super::GradeError;
use super::assignment::{AssignmentError, Role};
use super::roster::RosterError;
use crate::i18n::Said;

const STUDENT: Noun = Noun {
    en: ["student", "students"],
    ru: ["студент", "студента", "студентов"],
};
const PROGRAM: Noun = Noun {
    en: ["program", "programs"],
    ru: ["программа", "программы", "программ"],
};
const FILE: Noun = Noun { en: ["file", "files"], ru: ["файл", "файла", "файлов"] };

impl Role {
    /// The program's name in a sentence.
    pub fn word(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Role::Server, Lang::En) => "server",
            (Role::Server, Lang::Ru) => "сервер",
            (Role::Client, Lang::En) => "client",
            (Role::Client, Lang::Ru) => "клиент",
        }
    }
}

/// A line of `grade`'s own.
#[derive(Debug, Clone)]
pub enum GradeMsg {
    /// The accounts file for `--accounts` cannot be written.
    AccountsUnwritable {
        /// The file.
        path: String,
        /// Why.
        error: Said,
    },
    /// The runner process cannot be started.
    RunnerUnstartable {
        /// The runner binary.
        path: String,
        /// Why.
        error: Said,
    },
    /// Waiting for the runner failed.
    RunnerLost {
        /// Why.
        error: Said,
    },
    /// The runner exited and left no report.
    NoReport {
        /// How it ended.
        status: Said,
    },
    /// A grading task panicked or was cancelled.
    TaskLost,
    /// The run took longer than the assignment's deadline.
    TimedOut {
        /// Which program.
        role: Role,
        /// The deadline.
        seconds: u64,
    },
    /// The roster has no command for the program.
    NoCommand {
        /// Which program.
        role: Role,
    },
    /// Nothing graded failed.
    AllPass,
    /// After the student rows: how many, how much judged, how long.
    Totals {
        /// Students graded.
        students: usize,
        /// Programs judged in this run.
        judged: usize,
        /// Programs taken from the cache.
        cached: usize,
        /// Wall time.
        seconds: f64,
    },
    /// Where the class page is.
    ClassPage {
        /// `index.html`.
        page: String,
        /// Files written.
        files: usize,
        /// The output directory.
        dir: String,
    },
}

impl Localized for GradeMsg {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::AccountsUnwritable { path, error }, Lang::En) => {
                format!("cannot write the accounts file {path}: {}", error.get(lang))
            }
            (Self::AccountsUnwritable { path, error }, Lang::Ru) => {
                format!("не удаётся записать файл учётных записей {path}: {}", error.get(lang))
            }
            (Self::RunnerUnstartable { path, error }, Lang::En) => {
                format!("cannot start the runner {path}: {}", error.get(lang))
            }
            (Self::RunnerUnstartable { path, error }, Lang::Ru) => {
                format!("не удаётся запустить проверяющую программу {path}: {}", error.get(lang))
            }
            (Self::RunnerLost { error }, Lang::En) => {
                format!("lost the runner: {}", error.get(lang))
            }
            (Self::RunnerLost { error }, Lang::Ru) => {
                format!("проверяющая программа потеряна: {}", error.get(lang))
            }
            (Self::NoReport { status }, Lang::En) => {
                format!("the runner ended ({}) without a report", status.get(lang))
            }
            (Self::NoReport { status }, Lang::Ru) => {
                format!("проверяющая программа завершилась ({}) без отчёта", status.get(lang))
            }
            (Self::TaskLost, Lang::En) => "the grading task was lost".into(),
            (Self::TaskLost, Lang::Ru) => "задача проверки потеряна".into(),
            (Self::TimedOut { role, seconds }, Lang::En) => format!(
                "the {} run did not finish within {seconds} s and was stopped",
                role.as_str()
            ),
            (Self::TimedOut { seconds, .. }, Lang::Ru) => {
                format!("проверка не уложилась в {seconds} с и была остановлена")
            }
            (Self::NoCommand { role }, Lang::En) => {
                format!("the roster gives no {} command", role.as_str())
            }
            (Self::NoCommand { role }, Lang::Ru) => {
                format!("в списке группы нет команды запуска (столбец {})", role.as_str())
            }
            (Self::AllPass, Lang::En) => "every graded case passes".into(),
            (Self::AllPass, Lang::Ru) => "все оцениваемые проверки пройдены".into(),
            (Self::Totals { students, judged, cached, seconds }, Lang::En) => format!(
                "{students} student(s), {judged} program(s) judged, {cached} from the cache, \
                 {seconds:.1} s"
            ),
            (Self::Totals { students, judged, cached, seconds }, Lang::Ru) => format!(
                "{}; проверено: {}, из кэша: {cached}; {seconds:.1} с",
                STUDENT.count(lang, *students as u64),
                PROGRAM.count(lang, *judged as u64),
            ),
            (Self::ClassPage { page, files, dir }, Lang::En) => {
                format!("class page: {page} ({files} files under {dir})")
            }
            (Self::ClassPage { page, files, dir }, Lang::Ru) => {
                format!("страница группы: {page} ({} в {dir})", FILE.count(lang, *files as u64))
            }
        }
    }
}

/// Another program's English (a parser's message) quoted as code in a Russian line; its own
/// backticks become quotes, so that the quotation stays one.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

/// Why a class cannot be graded, as `grade` prints it. What a parser said (of CSV, TOML) and
/// what a custom assignment's check says (the assignment file's language, like a fixture's)
/// stay English: quoted as code in a Russian line.
impl Localized for GradeError {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (e, Lang::En) => e.to_string(),
            (Self::Roster(e), Lang::Ru) => lang.say(e),
            (Self::Assignment(e), Lang::Ru) => lang.say(e),
            (Self::Suite(e), Lang::Ru) => lang.say(e),
            (Self::Write { path, message }, Lang::Ru) => {
                format!("не удаётся записать {path}: {}", message.get(lang))
            }
            (Self::NoSuchStudent(id), Lang::Ru) => {
                format!("--only {id}: такого студента нет в списке группы")
            }
        }
    }
}

impl Localized for RosterError {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (e, Lang::En) => e.to_string(),
            (Self::Read { path, message }, Lang::Ru) => {
                format!("не удаётся прочитать список группы {path}: {}", message.get(lang))
            }
            (Self::Parse { path, format, message }, Lang::Ru) => {
                format!("список группы {path} — не {format}: {}", code(message))
            }
            (Self::Student { path, row, message }, Lang::Ru) => {
                format!("{path}, студент {row}: {}", message.get(lang))
            }
            (Self::Empty(path), Lang::Ru) => format!("в списке группы {path} нет студентов"),
        }
    }
}

impl Localized for AssignmentError {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (e, Lang::En) => e.to_string(),
            (Self::Read { name, message }, Lang::Ru) => {
                format!("задание {name}: {}", message.get(lang))
            }
            (Self::Parse { name, message }, Lang::Ru) => {
                format!("задание {name} не разбирается: {}", code(message))
            }
            (Self::Invalid { name, message }, Lang::Ru) => {
                format!("задание {name} не подходит к набору проверок: {}", code(message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_has_its_russian() {
        let error = Said::new("permission denied", "доступ запрещён");
        for m in [
            GradeMsg::AccountsUnwritable { path: "/x".into(), error: error.clone() },
            GradeMsg::RunnerUnstartable { path: "/x".into(), error: error.clone() },
            GradeMsg::RunnerLost { error },
            GradeMsg::NoReport { status: Said::new("exit status 2", "код выхода 2") },
            GradeMsg::TaskLost,
            GradeMsg::TimedOut { role: Role::Server, seconds: 240 },
            GradeMsg::NoCommand { role: Role::Client },
            GradeMsg::AllPass,
            GradeMsg::Totals { students: 2, judged: 5, cached: 0, seconds: 1.0 },
            GradeMsg::ClassPage { page: "out/index.html".into(), files: 21, dir: "out".into() },
        ] {
            let ru = Lang::Ru.say(&m);
            assert_eq!(jim_text::scan::untranslated(&ru), None, "{ru}");
            assert_ne!(ru, Lang::En.say(&m));
        }
        let totals = GradeMsg::Totals { students: 2, judged: 5, cached: 0, seconds: 1.0 };
        assert!(Lang::Ru.say(&totals).starts_with("2 студента; проверено: 5 программ"));
    }
}
