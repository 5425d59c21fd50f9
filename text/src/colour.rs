//! Colour where it helps, and nowhere else.
//!
//! Whether a stream gets colour is `anstream`'s decision (the crate clap prints its help
//! through): never with `NO_COLOR` set (<https://no-color.org>), always with `CLICOLOR_FORCE`,
//! never on a dumb terminal or when the stream is not a terminal (a pipe, a file, CI logs).
//! Every binary asks [`Palette::for_stdout`] or [`Palette::for_stderr`] once and paints with it,
//! so no binary has its own idea of when colour is on.

use std::fmt;

use anstyle::{AnsiColor, Style};

/// What a piece of text means, which decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Success (green).
    Good,
    /// Failure (bold red).
    Bad,
    /// A warning or something unusual (yellow).
    Warn,
    /// Secondary detail: timings, arrows (dimmed).
    Dim,
    /// What the eye should find first (bold).
    Strong,
    /// Something the user can type (cyan).
    Command,
}

impl Tone {
    fn style(self) -> Style {
        match self {
            Self::Good => AnsiColor::Green.on_default(),
            Self::Bad => AnsiColor::Red.on_default().bold(),
            Self::Warn => AnsiColor::Yellow.on_default(),
            Self::Dim => Style::new().dimmed(),
            Self::Strong => Style::new().bold(),
            Self::Command => AnsiColor::Cyan.on_default(),
        }
    }
}

/// Paints text for one output stream: with ANSI colours, or as plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    enabled: bool,
}

impl Palette {
    /// Colour on, whatever the stream.
    pub const ON: Palette = Palette { enabled: true };
    /// Plain text.
    pub const OFF: Palette = Palette { enabled: false };

    /// The palette for standard output (see the module docs for when colour is on).
    pub fn for_stdout() -> Self {
        Self::new(anstream::AutoStream::choice(&std::io::stdout()))
    }

    /// The palette for standard error.
    pub fn for_stderr() -> Self {
        Self::new(anstream::AutoStream::choice(&std::io::stderr()))
    }

    fn new(choice: anstream::ColorChoice) -> Self {
        Self { enabled: !matches!(choice, anstream::ColorChoice::Never) }
    }

    /// True when this palette writes colour.
    pub fn enabled(self) -> bool {
        self.enabled
    }

    /// `text` in the colour of `tone` (plain when colour is off).
    pub fn paint<T: fmt::Display>(self, tone: Tone, text: T) -> Painted<T> {
        Painted { style: if self.enabled { tone.style() } else { Style::new() }, text }
    }
}

/// Text with its style; `Display` writes the escape codes around it (none for a plain style).
#[derive(Debug, Clone, Copy)]
pub struct Painted<T> {
    style: Style,
    text: T,
}

impl<T: fmt::Display> fmt::Display for Painted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.style.render(), self.text, self.style.render_reset())
    }
}

/// True when `NO_COLOR` asks for no colour (set and not empty, as no-color.org says). For
/// outputs that do not go through a [`Palette`], such as a logging library's ANSI switch.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_palette_writes_no_escape_codes() {
        assert_eq!(Palette::OFF.paint(Tone::Bad, "FAIL").to_string(), "FAIL");
        let coloured = Palette::ON.paint(Tone::Bad, "FAIL").to_string();
        assert!(coloured.contains("\u{1b}[") && coloured.contains("FAIL"), "{coloured:?}");
    }
}
