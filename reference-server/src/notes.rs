//! What the server writes to its log for the person running it, in English and Russian
//! ([`crate::Config::lang`]). Only the lines an operator acts on are here (refused connections,
//! a client dropped for not reading, a lost database write, shutdown); per-request debug lines
//! stay in English, for whoever reads the code.

use jim_text::{Lang, Localized, Noun};

const WRONG_PASSWORD: Noun = Noun {
    en: ["wrong password", "wrong passwords"],
    ru: ["неверный пароль", "неверных пароля", "неверных паролей"],
};

/// One line of the operator's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Note {
    /// `accept()` failed (out of file descriptors and the like); the server retries.
    AcceptFailed { error: String },
    /// The server stopped after a signal, every queued reply written.
    ShutDown,
    /// New connections are being closed because `--max-connections` are open.
    LimitReached { max: usize, closed: u64 },
    /// A client stopped reading what was sent to it and was disconnected.
    StoppedReading { conn: u64 },
    /// A `crash-*` misbehaviour fired.
    Crashing { reason: String },
    /// The database thread is gone; a write was lost.
    DbGone,
    /// A database write failed.
    DbWriteFailed { path: String, error: String },
    /// A client logged in (the connection, name and dialect are the line's fields).
    LoggedIn,
    /// A logged-in client left.
    Left,
    /// A course 511 login was answered wrongly; the connection is closed.
    CourseLoginFailed,
    /// Too many wrong passwords on one connection; it is closed.
    WrongPasswords { limit: u32 },
}

impl Localized for Note {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::AcceptFailed { error }, Lang::En) => format!("accept failed: {error}"),
            (Self::AcceptFailed { error }, Lang::Ru) => {
                format!("не удалось принять соединение: {error}")
            }
            (Self::ShutDown, Lang::En) => "shut down".to_owned(),
            (Self::ShutDown, Lang::Ru) => "сервер остановлен".to_owned(),
            (Self::LimitReached { max, closed }, Lang::En) => format!(
                "connection limit reached ({max}): closed {closed} new connection(s) since the \
                 last note"
            ),
            (Self::LimitReached { max, closed }, Lang::Ru) => format!(
                "достигнут предел соединений ({max}): закрыто новых соединений с прошлой записи: \
                 {closed}"
            ),
            (Self::StoppedReading { conn }, Lang::En) => format!(
                "connection {conn}: outbound queue full or not read, disconnecting a client that \
                 stopped reading"
            ),
            (Self::StoppedReading { conn }, Lang::Ru) => format!(
                "соединение {conn}: очередь отправки переполнена или не читается, клиент, \
                 переставший читать, отключён"
            ),
            (Self::Crashing { reason }, Lang::En) => {
                format!("crashing on purpose (--misbehave): {reason}")
            }
            (Self::Crashing { reason }, Lang::Ru) => {
                format!("намеренное падение (--misbehave): {reason}")
            }
            (Self::DbGone, Lang::En) => "database writer is gone; a write was lost".to_owned(),
            (Self::DbGone, Lang::Ru) => {
                "поток записи в базу данных завершился; запись потеряна".to_owned()
            }
            (Self::DbWriteFailed { path, error }, Lang::En) => {
                format!("database {path}: write failed: {error}")
            }
            (Self::DbWriteFailed { path, error }, Lang::Ru) => {
                format!("база данных {path}: запись не удалась: {error}")
            }
            (Self::LoggedIn, Lang::En) => "logged in".to_owned(),
            (Self::LoggedIn, Lang::Ru) => "вход выполнен".to_owned(),
            (Self::Left, Lang::En) => "left".to_owned(),
            (Self::Left, Lang::Ru) => "клиент вышел".to_owned(),
            (Self::CourseLoginFailed, Lang::En) => "course login failed".to_owned(),
            (Self::CourseLoginFailed, Lang::Ru) => {
                "вход по курсу (511) не удался: соединение закрыто".to_owned()
            }
            (Self::WrongPasswords { limit }, Lang::En) => {
                format!("{limit} {}: closing", WRONG_PASSWORD.form(lang, u64::from(*limit)))
            }
            (Self::WrongPasswords { limit }, Lang::Ru) => format!(
                "{} {}: соединение закрывается",
                limit,
                WRONG_PASSWORD.form(lang, u64::from(*limit))
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_note_has_a_russian_text() {
        let notes = [
            Note::AcceptFailed { error: "x".into() },
            Note::ShutDown,
            Note::LimitReached { max: 10, closed: 3 },
            Note::StoppedReading { conn: 7 },
            Note::Crashing { reason: "x".into() },
            Note::DbGone,
            Note::DbWriteFailed { path: "chat.sqlite".into(), error: "x".into() },
            Note::LoggedIn,
            Note::Left,
            Note::CourseLoginFailed,
            Note::WrongPasswords { limit: 3 },
        ];
        for note in notes {
            let ru = Lang::Ru.say(&note);
            assert!(jim_text::reads_as_russian(&ru), "{ru}");
            assert_ne!(ru, Lang::En.say(&note));
        }
    }
}
