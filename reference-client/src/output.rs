//! Writing results: human lines or JSON lines on stdout, flushed per line, safe when the
//! reader of a pipe goes away (`jim-client listen ... | head -1` must not panic).

use std::borrow::Cow;
use std::io::Write;
use std::sync::OnceLock;

use jim_text::Lang;

use jim_protocol::FrameError;
use jim_protocol::terminal::terminal_safe;
use serde_json::{Value, json};

use crate::connection::{Arrival, Incoming};

/// The language of the human lines, set once by the binary from `--lang` or the locale. It is
/// process-wide like the locale it stands for, so every subcommand's messages follow it without
/// a language field threaded through each of them; JSON output is the same in every language.
static LANG: OnceLock<Lang> = OnceLock::new();

/// Sets the language of the human lines (the first call wins).
pub fn set_lang(lang: Lang) {
    let _ = LANG.set(lang);
}

/// The language of the human lines: English until [`set_lang`].
pub fn lang() -> Lang {
    LANG.get().copied().unwrap_or_default()
}

/// `jim-client: ERROR` in the chosen language, on stderr.
pub fn eprint_error(error: &dyn jim_text::Localized) {
    eprint_line(&format!("jim-client: {}", lang().say(error)));
}

/// Human text or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Readable lines (the default).
    #[default]
    Human,
    /// One JSON object per line, for machines (`--json`).
    Json,
}

/// Something that takes whole output lines. The interactive chat routes lines through the
/// line editor so they do not garble the prompt; everything else writes to stdout.
pub trait LineSink: Send {
    /// Emits one line (without its newline). Returns false once the output is gone.
    fn line(&mut self, text: &str) -> bool;
}

/// Standard output, flushed after each line; a closed pipe makes [`LineSink::line`] return false.
/// Lines go through [`printable`].
#[derive(Debug, Default)]
pub struct Stdout {
    closed: bool,
}

impl LineSink for Stdout {
    fn line(&mut self, text: &str) -> bool {
        if self.closed {
            return false;
        }
        let mut out = std::io::stdout().lock();
        let ok = writeln!(out, "{}", printable(text)).and_then(|()| out.flush()).is_ok();
        self.closed = !ok;
        ok
    }
}

/// Collects lines in memory (for tests of the library).
#[derive(Debug, Default, Clone)]
pub struct Lines(pub Vec<String>);

impl LineSink for Lines {
    fn line(&mut self, text: &str) -> bool {
        self.0.push(text.to_owned());
        true
    }
}

/// One line for the error stream; failures to write it are ignored.
pub fn eprint_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", printable(text));
}

/// `text` safe for a terminal (jim-protocol's [`terminal_safe`]): C0 and C1 control characters
/// other than TAB (escape sequences, CSI, newlines, bells), bidirectional overrides, isolates and
/// marks, line separators and U+FEFF are shown as `\u{1b}`-style escapes. Names and texts come
/// from peers, and a peer must not be able to drive the user's terminal, forge output lines or
/// make a line read backwards.
pub fn printable(text: &str) -> Cow<'_, str> {
    terminal_safe(text)
}

/// Longest line the interactive commands print; the rest is cut and counted, so a flooding
/// server cannot make one line fill the screen.
pub const MAX_LINE_CHARS: usize = 2000;

/// `text` cut to [`MAX_LINE_CHARS`] characters, saying how many were left out.
pub fn bounded(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_LINE_CHARS) {
        None => Cow::Borrowed(text),
        Some((at, _)) => {
            let (kept, rest) = text.split_at_checked(at).unwrap_or((text, ""));
            let more = crate::say::Say::More { chars: rest.chars().count() };
            Cow::Owned(format!("{kept}{}", lang().say(&more)))
        }
    }
}

/// The JSON event for something received: `{"ms":N,"dir":"in","value":V}`,
/// `{"ms":N,"dir":"in","error":TEXT,"preview":BYTES}` or `{"ms":N,"event":"closed"}`.
pub fn arrival_json(arrival: &Arrival) -> Value {
    let ms = arrival.ms() as u64;
    match &arrival.item {
        Incoming::Value(v) => json!({"ms": ms, "dir": "in", "value": v}),
        Incoming::Bad(e) => {
            json!({"ms": ms, "dir": "in", "error": e.to_string(), "kind": frame_kind(e)})
        }
        Incoming::Closed { reset } => {
            json!({"ms": ms, "event": if *reset { "reset" } else { "closed" }})
        }
    }
}

/// The human line for something received: `+12 ms  <value>`, `+12 ms  ! not valid JSON ...`.
pub fn arrival_human(arrival: &Arrival) -> String {
    let ms = arrival.ms();
    match &arrival.item {
        Incoming::Value(v) => format!("+{ms} ms  < {v}"),
        Incoming::Bad(e) => format!("+{ms} ms  ! {}", crate::say::frame_error(e).get(lang())),
        Incoming::Closed { reset } => {
            format!("+{ms} ms  ({})", lang().say(&crate::say::Say::ServerClosed { reset: *reset }))
        }
    }
}

/// A short name for a framing error kind.
pub fn frame_kind(e: &FrameError) -> &'static str {
    match e {
        FrameError::Syntax { .. } => "syntax",
        FrameError::InvalidUtf8 { .. } => "invalid_utf8",
        FrameError::Oversize { .. } => "oversize",
        FrameError::Truncated { .. } => "truncated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16 item 8: what the client printed raw (U+202E, U+202C, U+FEFF, C1) comes out
    /// escaped.
    #[test]
    fn bidi_and_c1_controls_are_escaped() {
        let peer = "a\u{202e}b\u{202c}c\u{feff}d\u{9b}31me\u{1b}[2J";
        let shown = printable(peer);
        assert_eq!(shown, "a\\u{202e}b\\u{202c}c\\u{feff}d\\u{9b}31me\\u{1b}[2J");
    }

    #[test]
    fn long_lines_are_cut_and_counted() {
        let long = "ж".repeat(MAX_LINE_CHARS + 5);
        let cut = bounded(&long);
        assert!(cut.ends_with("… (5 more characters)"), "{cut}");
        assert_eq!(bounded("short"), "short");
    }
}
