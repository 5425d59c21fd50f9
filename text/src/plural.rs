//! Counted nouns: "1 message, 2 messages", "1 сообщение, 2 сообщения, 5 сообщений".
//!
//! The plural category of a number comes from the CLDR rules (`intl_pluralrules`, the Fluent
//! project's crate): Russian has `one` (1, 21, 101), `few` (2-4, 22-24) and `many` (0, 5-20,
//! 11-14, 25-30), English `one` and `other`. A [`Noun`] holds the forms and puts the number
//! in front.

use std::sync::OnceLock;

use intl_pluralrules::{PluralCategory, PluralRuleType, PluralRules};
use unic_langid::LanguageIdentifier;

use crate::Lang;

/// A noun with its plural forms in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Noun {
    /// English: singular, plural.
    pub en: [&'static str; 2],
    /// Russian: one (1, 21), few (2-4, 22-24), many (0, 5-20, 25-30).
    pub ru: [&'static str; 3],
}

impl Noun {
    /// The form that goes with `n`.
    pub fn form(&self, lang: Lang, n: u64) -> &'static str {
        match (lang, category(lang, n)) {
            (Lang::En, PluralCategory::ONE) => self.en[0],
            (Lang::En, _) => self.en[1],
            (Lang::Ru, PluralCategory::ONE) => self.ru[0],
            (Lang::Ru, PluralCategory::FEW) => self.ru[1],
            (Lang::Ru, _) => self.ru[2],
        }
    }

    /// `n` and its form: "5 предупреждений" (digits grouped by [`group`]).
    pub fn count(&self, lang: Lang, n: u64) -> String {
        format!("{} {}", group(lang, n), self.form(lang, n))
    }
}

/// The CLDR plural category of the whole number `n` in `lang` (`OTHER` if the rules cannot be
/// built, which does not happen for the two languages here).
pub fn category(lang: Lang, n: u64) -> PluralCategory {
    static EN: OnceLock<Option<PluralRules>> = OnceLock::new();
    static RU: OnceLock<Option<PluralRules>> = OnceLock::new();
    let (cell, code) = match lang {
        Lang::En => (&EN, "en"),
        Lang::Ru => (&RU, "ru"),
    };
    let rules = cell.get_or_init(|| {
        let id: LanguageIdentifier = code.parse().ok()?;
        PluralRules::create(id, PluralRuleType::CARDINAL).ok()
    });
    rules.as_ref().and_then(|r| r.select(n).ok()).unwrap_or(PluralCategory::OTHER)
}

/// `n` with its digits grouped as each language writes them: `12,345` in English, `12 345`
/// (a no-break space) in Russian; numbers under 10,000 stay ungrouped in Russian, as
/// its typography wants.
pub fn group(lang: Lang, n: u64) -> String {
    let digits = n.to_string();
    let sep = match lang {
        Lang::En if n >= 1_000 => ",",
        Lang::Ru if n >= 10_000 => "\u{a0}",
        _ => return digits,
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * sep.len());
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const WARNING: Noun = Noun {
        en: ["warning", "warnings"],
        ru: ["предупреждение", "предупреждения", "предупреждений"],
    };

    #[test]
    fn russian_has_three_forms_by_the_last_digits() {
        let forms: Vec<&str> = [0, 1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 101, 111, 1_000_001]
            .iter()
            .map(|&n| WARNING.form(Lang::Ru, n))
            .collect();
        assert_eq!(
            forms,
            [
                "предупреждений",
                "предупреждение",
                "предупреждения",
                "предупреждения",
                "предупреждений",
                "предупреждений",
                "предупреждений",
                "предупреждений",
                "предупреждение",
                "предупреждения",
                "предупреждений",
                "предупреждение",
                "предупреждений",
                "предупреждение",
            ]
        );
    }

    #[test]
    fn english_has_two() {
        assert_eq!(WARNING.count(Lang::En, 1), "1 warning");
        assert_eq!(WARNING.count(Lang::En, 0), "0 warnings");
        assert_eq!(WARNING.count(Lang::En, 12_345), "12,345 warnings");
    }

    #[test]
    fn digits_are_grouped_per_language() {
        assert_eq!(group(Lang::Ru, 5_000), "5000");
        assert_eq!(group(Lang::Ru, 20_000), "20\u{a0}000");
        assert_eq!(group(Lang::Ru, 1_234_567), "1\u{a0}234\u{a0}567");
        assert_eq!(group(Lang::En, 999), "999");
        assert_eq!(group(Lang::En, 1_000_000), "1,000,000");
    }
}
