//! Text from a peer made safe to print on a terminal.
//!
//! Names, texts and error messages come from the other side of a socket. Printed raw, a C0 or
//! C1 control character can drive the terminal (ESC and CSI, U+009B, start escape sequences some
//! terminals execute), a newline or a line separator forges output lines, and a bidirectional
//! override or isolate (U+202E RIGHT-TO-LEFT OVERRIDE and friends) makes a line read as
//! something else than it is. [`terminal_safe`] shows each of those as a visible escape
//! (`\u{202e}`) and leaves everything else, TAB included, as it is. Every program of this
//! project that prints what a peer sent goes through it.

use std::borrow::Cow;

/// True for the characters [`terminal_safe`] escapes: C0 controls except TAB, DEL, C1 controls
/// (U+0080 to U+009F), the bidirectional marks, embeddings, overrides and isolates (U+061C,
/// U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069), the line and paragraph separators
/// (U+2028, U+2029) and the byte order mark / zero-width no-break space (U+FEFF).
pub fn is_unsafe_on_terminal(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{feff}'
        )
}

/// `text` with every character of [`is_unsafe_on_terminal`] written as a Rust-style escape
/// (`\u{1b}`, `\u{9b}`, `\u{202e}`); borrowed when nothing needs escaping (the usual case).
///
/// ```
/// use jim_protocol::terminal::terminal_safe;
/// assert_eq!(terminal_safe("hi"), "hi");
/// assert_eq!(terminal_safe("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
/// assert_eq!(terminal_safe("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
/// assert_eq!(terminal_safe("\u{9b}31m"), "\\u{9b}31m");
/// ```
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_on_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_on_terminal(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_characters_are_escaped_and_nothing_else() {
        let listed = (0u32..0x20)
            .filter(|&c| c != 0x09)
            .chain(0x7f..=0x9f)
            .chain([0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0xfeff])
            .chain(0x202a..=0x202e)
            .chain(0x2066..=0x2069);
        for c in listed.filter_map(char::from_u32) {
            assert!(is_unsafe_on_terminal(c), "{:?} is not escaped", c);
        }
        for c in ['\t', ' ', 'a', 'é', 'Ж', '§', '😀', '\u{a0}', '\u{200b}', '\u{2070}'] {
            assert!(!is_unsafe_on_terminal(c), "{c:?} is escaped");
        }
    }

    proptest::proptest! {
        /// Whatever a peer sends, the result holds no character a terminal could act on, and
        /// text without such characters comes back unchanged.
        #[test]
        fn nothing_unsafe_survives(text in "(\\PC|[\\x00-\\x1f\\x7f-\\u{9f}\\u{200e}\\u{200f}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}\\u{feff}\\u{2028}])*") {
            let safe = terminal_safe(&text);
            proptest::prop_assert!(!safe.chars().any(is_unsafe_on_terminal), "{:?}", safe);
            if !text.chars().any(is_unsafe_on_terminal) {
                proptest::prop_assert!(matches!(safe, Cow::Borrowed(_)));
                proptest::prop_assert_eq!(&*safe, &*text);
            }
            // Every other character stays, in order; each unsafe one becomes its escape.
            let expected: String = text
                .chars()
                .map(|c| {
                    if is_unsafe_on_terminal(c) { c.escape_unicode().to_string() } else { c.to_string() }
                })
                .collect();
            proptest::prop_assert_eq!(&*safe, expected.as_str());
        }
    }
}
