//! [`Said`]: a runner text in both languages, for the fields of a report that were English
//! strings before the runner spoke Russian (a case's reason, a failure's "why" lines, the
//! detection notes, the events, the exit reason). The JSON report keeps carrying them as
//! their English string (every field of report schema v1 keeps its type), with one map beside
//! them, `ru`, from each English text to its Russian ([`Said::collecting`]), which `grade`
//! reads; the human report shows [`Said::get`] in `--lang`.
//!
//! Build one with [`Said::new`] (both texts side by side, so leaving one out does not
//! compile) or from a catalog message (`Msg`, `ClientMsg`). `From<String>` exists for texts
//! that are not the runner's words (an OS error, a target's own text) and for code not moved
//! yet: such a text has no Russian, and `tests/it/russian.rs` finds every one that reaches a
//! `--lang ru` report.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;

use serde::Serialize;

use super::{Lang, Msg};
use crate::model::Text;

/// A text in English and Russian that serializes as its English string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Said {
    en: String,
    /// Empty: not translated (shown in English).
    ru: String,
}

impl Said {
    /// Both texts.
    pub fn new(en: impl Into<String>, ru: impl Into<String>) -> Self {
        Self { en: en.into(), ru: ru.into() }
    }

    /// What a catalog message says, in both languages.
    pub fn of<M: jim_text::Localized + ?Sized>(message: &M) -> Self {
        Self::new(message.text(Lang::En), message.text(Lang::Ru))
    }

    /// The text `say` gives in each language (for messages whose values are themselves
    /// texts in a language).
    pub fn each(say: impl Fn(Lang) -> String) -> Self {
        Self::new(say(Lang::En), say(Lang::Ru))
    }

    /// The text in `lang` (English when it has no Russian).
    pub fn get(&self, lang: Lang) -> &str {
        if lang.is_ru() && !self.ru.is_empty() { &self.ru } else { &self.en }
    }

    /// The English text.
    pub fn en(&self) -> &str {
        &self.en
    }

    /// Both texts as a fixture-style [`Text`] (an untranslated one carries its English twice).
    pub fn text(&self) -> Text {
        Text { en: self.en.clone(), ru: self.get(Lang::Ru).to_owned() }
    }

    /// The same text with `prefix` before it in each language (`step 3: ...`).
    pub fn prefixed(&self, en: &str, ru: &str) -> Self {
        Self::new(format!("{en}{}", self.en), format!("{ru}{}", self.get(Lang::Ru)))
    }
}

thread_local! {
    /// The Russian of the texts serialized inside [`Said::collecting`], keyed by their English.
    static HEARD: RefCell<Option<BTreeMap<String, String>>> = const { RefCell::new(None) };
}

impl Said {
    /// Runs `serialize` and returns what it gave with the Russian of every translated `Said`
    /// it serialized, keyed by the English it wrote. The JSON report carries this map as `ru`,
    /// so that a reader of the report (`grade`) can show a runner's text in Russian without
    /// every field changing shape: the report stays v1, the map is one key more.
    pub fn collecting<R>(serialize: impl FnOnce() -> R) -> (R, BTreeMap<String, String>) {
        let outer = HEARD.with(|h| h.replace(Some(BTreeMap::new())));
        let result = serialize();
        let heard = HEARD.with(|h| h.replace(outer)).unwrap_or_default();
        (result, heard)
    }
}

impl Serialize for Said {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !self.ru.is_empty() && self.ru != self.en {
            HEARD.with(|h| {
                if let Some(map) = h.borrow_mut().as_mut() {
                    map.entry(self.en.clone()).or_insert_with(|| self.ru.clone());
                }
            });
        }
        s.serialize_str(&self.en)
    }
}

/// The English text, for code that reads the report as data (`reason.contains("died")`).
impl Deref for Said {
    type Target = str;
    fn deref(&self) -> &str {
        &self.en
    }
}

/// The English text (logs, JUnit, tests).
impl fmt::Display for Said {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

/// Not the runner's words (or not moved to the catalog yet): English only.
impl From<String> for Said {
    fn from(en: String) -> Self {
        Self { en, ru: String::new() }
    }
}

/// Not the runner's words (or not moved to the catalog yet): English only.
impl From<&str> for Said {
    fn from(en: &str) -> Self {
        en.to_owned().into()
    }
}

impl From<Msg> for Said {
    fn from(m: Msg) -> Self {
        Self { en: m.en(), ru: m.ru() }
    }
}

impl From<&Msg> for Said {
    fn from(m: &Msg) -> Self {
        Self { en: m.en(), ru: m.ru() }
    }
}

impl From<&Said> for Said {
    fn from(s: &Said) -> Self {
        s.clone()
    }
}

impl From<Text> for Said {
    fn from(t: Text) -> Self {
        Self { en: t.en, ru: t.ru }
    }
}

impl PartialEq<str> for Said {
    fn eq(&self, other: &str) -> bool {
        self.en == other
    }
}

impl PartialEq<&str> for Said {
    fn eq(&self, other: &&str) -> bool {
        self.en == *other
    }
}
