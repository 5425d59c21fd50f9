//! `jim-text`: what the JIM binaries say, in English and Russian.
//!
//! The students JIM is taught to read Russian first, so every line `jim-server`, `jim-client`
//! and the load report print exists in both languages. This crate holds the pieces every binary
//! shares, so that each one only writes its own sentences:
//!
//! - [`Lang`]: the language, from `--lang` or the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`).
//! - [`Localized`]: a typed catalog. A binary's messages are an enum, and its text is one
//!   `match (self, lang)` with an arm per message and language and no wildcard: a message
//!   without its Russian arm does not compile ("pattern `(Msg::X, Lang::Ru)` not covered").
//!   Arguments are typed fields, not `{name}` holes in a string looked up at run time.
//! - [`plural`]: "1 предупреждение, 2 предупреждения, 5 предупреждений", with the CLDR rules
//!   of the Fluent project's `intl_pluralrules`.
//! - [`colour`]: colour only where it helps: on a terminal, never with `NO_COLOR` (through
//!   `anstream`, which clap uses too).
//! - [`cli`]: `--help` in the chosen language (headings, defaults, clap's own errors),
//!   "Examples" and "Exit status" sections, shell completions and man pages.
//!
//! Why not fluent or rust-i18n: both look messages up by string keys at run time and fall back
//! to English when a translation is missing, so a gap shows only when a test enumerates every
//! key, and their arguments are untyped. A `match` checks both at compile time.

pub mod cli;
pub mod colour;
pub mod io;
pub mod plural;
pub mod scan;

use std::ffi::OsString;

use serde::Serialize;

pub use io::io_error;
pub use plural::Noun;

/// The language of what a binary prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Russian.
    Ru,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ru];

    /// The code used on the command line and in JSON: `en` or `ru`.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
        }
    }

    /// Parses `en` or `ru` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Self::En),
            "ru" => Some(Self::Ru),
            _ => None,
        }
    }

    /// The language of a POSIX locale value such as `ru_RU.UTF-8`: Russian for `ru...`,
    /// English for any other non-empty value (`C`, `POSIX`, `en_US.UTF-8`, `de_DE`), `None`
    /// for an empty one (not set).
    pub fn from_locale(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        Some(if value.to_ascii_lowercase().starts_with("ru") { Self::Ru } else { Self::En })
    }

    /// The language of the environment: the first of `LC_ALL`, `LC_MESSAGES` and `LANG` that
    /// is set and not empty decides (POSIX precedence); English when none is.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Lang::from_env`] over any variable source (tests give their own).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|name| var(name).as_deref().and_then(Self::from_locale))
            .unwrap_or_default()
    }

    /// The `--lang` value among command-line arguments (`--lang ru` or `--lang=ru`, before
    /// any `--`), read before clap parses them, so that `--help` and clap's own errors can be
    /// in that language. `None` when absent or not a language.
    pub fn from_args<I, S>(args: I) -> Option<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut args = args.into_iter().map(Into::into);
        let mut found = None;
        while let Some(arg) = args.next() {
            let Some(arg) = arg.to_str().map(str::to_owned) else { continue };
            if arg == "--" {
                break;
            }
            if arg == "--lang" {
                let value = args.next();
                found = value.as_ref().and_then(|v| v.to_str()).and_then(Self::parse).or(found);
            } else if let Some(value) = arg.strip_prefix("--lang=") {
                found = Self::parse(value).or(found);
            }
        }
        found
    }

    /// The language a binary should speak: `--lang` when given, else the locale.
    pub fn detect() -> Self {
        Self::from_args(std::env::args_os().skip(1)).unwrap_or_else(Self::from_env)
    }

    /// Says `message` in this language.
    pub fn say<M: Localized + ?Sized>(self, message: &M) -> String {
        message.text(self)
    }

    /// One of two fixed texts: `en` in English, `ru` in Russian. For catalogs of plain
    /// strings, where both texts stand side by side at the call (leaving one out does not
    /// compile either).
    pub fn pick(self, en: &'static str, ru: &'static str) -> &'static str {
        match self {
            Self::En => en,
            Self::Ru => ru,
        }
    }

    /// One of two values built at the call: `en` in English, `ru` in Russian (for texts with
    /// arguments, where [`Lang::pick`]'s static strings do not do).
    pub fn either<T>(self, en: T, ru: T) -> T {
        match self {
            Self::En => en,
            Self::Ru => ru,
        }
    }

    /// True for Russian.
    pub fn is_ru(self) -> bool {
        self == Self::Ru
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A message of a typed catalog: one text per language.
///
/// Implement it with one `match (self, lang)` and no wildcard arm, so that the compiler
/// refuses a message that lacks a language:
///
/// ```
/// use jim_text::{Lang, Localized};
///
/// enum Msg {
///     Listening { addr: String },
/// }
///
/// impl Localized for Msg {
///     fn text(&self, lang: Lang) -> String {
///         match (self, lang) {
///             (Msg::Listening { addr }, Lang::En) => format!("listening on {addr}"),
///             (Msg::Listening { addr }, Lang::Ru) => format!("сервер слушает {addr}"),
///         }
///     }
/// }
///
/// assert_eq!(Lang::Ru.say(&Msg::Listening { addr: "127.0.0.1:7777".into() }),
///            "сервер слушает 127.0.0.1:7777");
/// ```
pub trait Localized {
    /// The text in `lang`.
    fn text(&self, lang: Lang) -> String;
}

/// True when `text` reads as Russian: it has Cyrillic letters, or it has no letters of a
/// sentence at all (numbers, JSON, commands, identifiers). Catalog tests use it to catch an
/// English text copied into a Russian arm.
pub fn reads_as_russian(text: &str) -> bool {
    let cyrillic = text.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c));
    cyrillic || text.lines().all(|line| is_command(line) || !has_english_words(line))
}

/// True when `line` is a command line to type (an example in a help text): its first word is
/// a hyphenated program name (`jim-client ping localhost`), an environment assignment
/// (`RUST_LOG=debug jim-server`) or a program students run (`python3`, `printf`).
fn is_command(line: &str) -> bool {
    let Some(first) = line.split_whitespace().next() else { return false };
    let hyphenated = first.contains('-')
        && !first.starts_with('-')
        && first.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    hyphenated || first.contains('=') || ["python3", "python", "printf", "pip"].contains(&first)
}

/// True when `text` has a run of Latin words that looks like an English phrase (two or more
/// lowercase words of two letters or more in a row, outside `backticks`, quotes, JSON and
/// command-line flags).
fn has_english_words(text: &str) -> bool {
    let mut in_code = false;
    let mut run = 0;
    for word in text.split(|c: char| c.is_whitespace()) {
        let ticks = word.matches('`').count();
        let code_word = in_code || ticks > 0;
        if ticks % 2 == 1 {
            in_code = !in_code;
        }
        let plain = word.trim_matches(|c: char| ",.;:!?()".contains(c));
        let is_word = !code_word
            && plain.len() >= 2
            && plain.chars().all(|c| c.is_ascii_lowercase() || c == '\'')
            && !word.starts_with('-');
        run = if is_word { run + 1 } else { 0 };
        if run >= 2 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_decides_in_posix_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(Lang::from_vars(env(&[("LANG", "ru_RU.UTF-8")])), Lang::Ru);
        assert_eq!(Lang::from_vars(env(&[("LANG", "ru_RU.UTF-8"), ("LC_ALL", "C")])), Lang::En);
        assert_eq!(Lang::from_vars(env(&[("LANG", "en_US"), ("LC_MESSAGES", "ru_UA")])), Lang::Ru);
        assert_eq!(Lang::from_vars(env(&[("LC_ALL", ""), ("LANG", "ru")])), Lang::Ru);
        assert_eq!(Lang::from_vars(env(&[])), Lang::En);
    }

    #[test]
    fn lang_is_read_from_the_arguments_before_clap() {
        assert_eq!(Lang::from_args(["ping", "--lang", "ru"]), Some(Lang::Ru));
        assert_eq!(Lang::from_args(["--lang=RU", "--help"]), Some(Lang::Ru));
        assert_eq!(Lang::from_args(["--lang", "fr"]), None);
        assert_eq!(Lang::from_args(["send", "--", "--lang", "ru"]), None);
        assert_eq!(Lang::from_args(["--lang=ru", "--lang", "en"]), Some(Lang::En));
    }

    #[test]
    fn english_copied_into_russian_is_noticed() {
        assert!(reads_as_russian("сервер слушает 127.0.0.1:7777"));
        assert!(reads_as_russian("jim-client ping 10.0.0.5 7777"));
        assert!(reads_as_russian("{\"response\": 200}"));
        assert!(!reads_as_russian("listening on 127.0.0.1:7777"));
        assert!(reads_as_russian("`listening on ADDR` — строка готовности"));
        assert!(reads_as_russian("  jim-client ping localhost"));
        assert!(!reads_as_russian("  the server closed the connection"));
    }
}
