//! Response codes: the three-digit numbers a JIM server answers with.
//!
//! The code table is shared by both dialects (see PROTOCOL.md `§codes`). A [`ResponseCode`] is a
//! thin wrapper so that unknown but well-formed codes a student server invents (for example 422)
//! can still be carried and reported instead of being rejected.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A JIM response code such as `200` or `404`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResponseCode(pub u16);

impl ResponseCode {
    /// 100: basic notification.
    pub const BASIC_NOTICE: Self = Self(100);
    /// 101: important notification.
    pub const IMPORTANT_NOTICE: Self = Self(101);
    /// 200: OK.
    pub const OK: Self = Self(200);
    /// 201: created.
    pub const CREATED: Self = Self(201);
    /// 202: accepted; also "here is the list you asked for".
    pub const ACCEPTED: Self = Self(202);
    /// 205: course dialect push, "lists changed, request them again".
    pub const REFRESH: Self = Self(205);
    /// 400: malformed request or JSON.
    pub const BAD_REQUEST: Self = Self(400);
    /// 401: not authorized (log in or send presence first).
    pub const UNAUTHORIZED: Self = Self(401);
    /// 402: wrong login or password.
    pub const WRONG_CREDENTIALS: Self = Self(402);
    /// 403: forbidden.
    pub const FORBIDDEN: Self = Self(403);
    /// 404: user or room not found.
    pub const NOT_FOUND: Self = Self(404);
    /// 409: conflict, the name is already connected.
    pub const CONFLICT: Self = Self(409);
    /// 410: gone, the recipient exists but is offline.
    pub const GONE: Self = Self(410);
    /// 500: server error.
    pub const SERVER_ERROR: Self = Self(500);
    /// 511: course dialect authentication challenge (and the client's answer to it).
    pub const AUTH_CHALLENGE: Self = Self(511);

    /// Every code of the table in PROTOCOL.md `§codes`, in ascending order.
    pub const ALL: [Self; 15] = [
        Self::BASIC_NOTICE,
        Self::IMPORTANT_NOTICE,
        Self::OK,
        Self::CREATED,
        Self::ACCEPTED,
        Self::REFRESH,
        Self::BAD_REQUEST,
        Self::UNAUTHORIZED,
        Self::WRONG_CREDENTIALS,
        Self::FORBIDDEN,
        Self::NOT_FOUND,
        Self::CONFLICT,
        Self::GONE,
        Self::SERVER_ERROR,
        Self::AUTH_CHALLENGE,
    ];

    /// The numeric value.
    pub fn as_u16(self) -> u16 {
        self.0
    }

    /// True for a code in the table of `§codes`.
    pub fn is_known(self) -> bool {
        Self::ALL.contains(&self)
    }

    /// True for a well-formed code: three digits, 100 to 599.
    pub fn is_well_formed(self) -> bool {
        (100..=599).contains(&self.0)
    }

    /// True for 1xx and 2xx (success and notifications), whose text goes in `alert`.
    pub fn is_success(self) -> bool {
        (100..300).contains(&self.0)
    }

    /// True for 4xx and 5xx, whose text goes in `error`.
    pub fn is_error(self) -> bool {
        self.0 >= 400
    }

    /// The standard text of a known code, or a generic one for other codes.
    pub fn standard_text(self) -> &'static str {
        self.standard_texts().0
    }

    /// [`ResponseCode::standard_text`] in Russian, for clients that speak it.
    pub fn standard_text_ru(self) -> &'static str {
        self.standard_texts().1
    }

    /// The standard text in English and Russian, side by side.
    #[allow(clippy::match_overlapping_arm)] // exact codes first, then their classes
    fn standard_texts(self) -> (&'static str, &'static str) {
        match self.0 {
            100 => ("basic notification", "уведомление"),
            101 => ("important notification", "важное уведомление"),
            200 => ("OK", "OK"),
            201 => ("created", "создано"),
            202 => ("accepted", "принято"),
            205 => ("refresh lists", "обновите списки"),
            400 => ("bad request", "неверный запрос"),
            401 => ("not authorized", "не авторизован"),
            402 => ("wrong login or password", "неверный логин или пароль"),
            403 => ("forbidden", "запрещено"),
            404 => ("not found", "не найдено"),
            409 => ("conflict: name already in use", "конфликт: имя уже занято"),
            410 => ("gone: user offline", "нет на месте: пользователь не в сети"),
            500 => ("server error", "ошибка сервера"),
            511 => ("authentication required", "требуется вход с паролем"),
            100..=199 => ("notification", "уведомление"),
            200..=299 => ("success", "успех"),
            400..=499 => ("client error", "ошибка клиента"),
            500..=599 => ("server error", "ошибка сервера"),
            _ => ("unknown code", "неизвестный код"),
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u16> for ResponseCode {
    fn from(value: u16) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_classified() {
        for code in ResponseCode::ALL {
            assert!(code.is_known());
            assert!(code.is_well_formed());
            assert_ne!(code.standard_text(), "unknown code");
            assert_ne!(code.is_success(), code.is_error(), "{code}");
        }
        assert!(!ResponseCode(422).is_known());
        assert!(ResponseCode(422).is_well_formed());
        assert!(!ResponseCode(42).is_well_formed());
    }
}
