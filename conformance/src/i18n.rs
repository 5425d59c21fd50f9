//! The runner's own words, in English and Russian (`--lang`, default from the locale). Fixture
//! hints carry their own translations; this table covers the labels around them.

use serde::Serialize;

/// The language of the human report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Russian.
    Ru,
}

impl Lang {
    /// Parses `en|ru`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "en" => Some(Self::En),
            "ru" => Some(Self::Ru),
            _ => None,
        }
    }

    /// The language of the environment (`LC_ALL`, `LC_MESSAGES`, `LANG`): Russian if it starts
    /// with `ru`, English otherwise.
    pub fn from_env() -> Self {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var) {
                if !v.is_empty() {
                    return if v.starts_with("ru") { Self::Ru } else { Self::En };
                }
            }
        }
        Self::En
    }

    /// True for Russian.
    pub fn is_ru(self) -> bool {
        self == Self::Ru
    }

    /// Translates a label of the report.
    pub fn t(self, key: &'static str) -> &'static str {
        if self == Self::En {
            return key;
        }
        match key {
            "target" => "цель",
            "detected" => "определено",
            "profile" => "профиль",
            "tolerances" => "допуски",
            "capabilities" => "возможности",
            "step" => "шаг",
            "sent" => "отправлено",
            "expected" => "ожидалось",
            "or" => "или",
            "arrived" => "пришло",
            "why" => "почему",
            "hint" => "подсказка",
            "transcript" => "обмен",
            "reproduce" => "повторить вручную",
            "nothing" => "ничего",
            "connection closed" => "соединение закрыто",
            "connection reset" => "соединение сброшено (RST)",
            "summary" => "итог",
            "selected" => "выбрано",
            "warnings" => "предупреждения",
            "duration" => "время",
            "exit code" => "код выхода",
            "would pass with tolerance" => "прошло бы с допуском",
            "server output" => "вывод сервера",
            "events" => "события",
            "nothing was sent yet" => "ещё ничего не отправлено",
            "other connections of this case" => "другие соединения этого случая",
            "delivery" => "доставка",
            "liveness" => "живучесть",
            "client" => "клиент",
            other => other,
        }
    }
}
