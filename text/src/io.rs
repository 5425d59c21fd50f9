//! Operating-system errors in the user's language.
//!
//! `std::io::Error` displays the C library's English ("No such file or directory (os error
//! 2)"), which would leave an English tail on every Russian "cannot read FILE" line. The kinds a
//! user of these binaries meets (a missing file, a busy port, a refused connection, ...) have a
//! Russian text here; any other error keeps the system's words after a Russian lead, so nothing
//! is lost.

use std::io::{Error, ErrorKind};

use crate::Lang;

/// `error` in `lang`: the system's own text in English; in Russian, the kind in Russian and the
/// OS error number, when there is one (`нет такого файла или каталога (ошибка ОС 2)`).
pub fn io_error(error: &Error, lang: Lang) -> String {
    if lang == Lang::En {
        return error.to_string();
    }
    let code = error.raw_os_error().map(|n| format!(" (ошибка ОС {n})")).unwrap_or_default();
    let kind = match error.kind() {
        ErrorKind::NotFound => "нет такого файла или каталога",
        ErrorKind::PermissionDenied => "нет прав доступа",
        ErrorKind::ConnectionRefused => "в соединении отказано",
        ErrorKind::ConnectionReset => "соединение сброшено другой стороной",
        ErrorKind::ConnectionAborted => "соединение прервано",
        ErrorKind::NotConnected => "нет соединения",
        ErrorKind::AddrInUse => "адрес уже используется",
        ErrorKind::AddrNotAvailable => "адрес недоступен на этом компьютере",
        ErrorKind::BrokenPipe => "другая сторона закрыла соединение",
        ErrorKind::AlreadyExists => "уже существует",
        ErrorKind::InvalidInput => "недопустимый аргумент",
        ErrorKind::InvalidData => "неверные данные",
        ErrorKind::TimedOut => "время ожидания истекло",
        ErrorKind::UnexpectedEof => "данные закончились раньше времени",
        ErrorKind::IsADirectory => "это каталог, а не файл",
        ErrorKind::NotADirectory => "это не каталог",
        ErrorKind::StorageFull => "нет места на диске",
        ErrorKind::OutOfMemory => "не хватает памяти",
        ErrorKind::HostUnreachable => "узел недоступен",
        ErrorKind::NetworkUnreachable => "сеть недоступна",
        ErrorKind::Interrupted => "прервано",
        _ => return format!("системная ошибка: {error}"),
    };
    format!("{kind}{code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_errors_are_russian_and_keep_the_os_number() {
        let missing = Error::from_raw_os_error(2);
        assert_eq!(io_error(&missing, Lang::Ru), "нет такого файла или каталога (ошибка ОС 2)");
        assert!(io_error(&missing, Lang::En).contains("No such file"));
        let odd = Error::other("weird");
        assert_eq!(io_error(&odd, Lang::Ru), "системная ошибка: weird");
    }
}
