//! What a case leaves behind besides its outcome: the transcript of what went over the wire
//! (bounded, for failure reports) and the inputs it gave the target (to name the one that broke
//! a server).

use serde::Serialize;
use tokio::time::Instant;

use crate::vocab::Direction;

/// Lines a transcript keeps, at most.
const MAX_LINES: usize = 200;

/// Inputs a case records, at most.
const MAX_INPUTS: usize = 32;

/// One line of the case transcript.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// Milliseconds since the case started.
    pub ms: u64,
    /// The connection.
    pub conn: String,
    /// Sent, received, or an event.
    pub dir: Direction,
    /// What: the value as sent or received (data, the same in both languages), or an event
    /// in words.
    pub text: crate::i18n::Said,
}

/// The bounded transcript of one case.
#[derive(Debug)]
pub(crate) struct Transcript {
    started: Instant,
    lines: Vec<Line>,
}

impl Transcript {
    pub(crate) fn new() -> Self {
        Self { started: Instant::now(), lines: Vec::new() }
    }

    pub(crate) fn push(&mut self, conn: &str, dir: Direction, text: crate::i18n::Said) {
        if self.lines.len() < MAX_LINES {
            let ms = self.started.elapsed().as_millis() as u64;
            self.lines.push(Line { ms, conn: conn.to_owned(), dir, text });
        }
    }

    pub(crate) fn into_lines(self) -> Vec<Line> {
        self.lines
    }
}

/// One thing a case did to the target: a send, a connect or a disconnect.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    /// 1-based step number.
    pub step: usize,
    /// The connection.
    pub conn: String,
    /// What, shown briefly ("raw `{action: presence}\n`", "closed the connection").
    pub what: crate::i18n::Said,
    /// An ordinary login or goodbye (a well-formed presence sent whole, a quit/exit): not a
    /// suspect when a server breaks.
    #[serde(skip)]
    pub routine: bool,
}

impl Input {
    /// "step 2 (conn a): what" in `lang`.
    pub fn text(&self, lang: jim_text::Lang) -> String {
        let (step, conn) = (self.step, &self.conn);
        let what = self.what.get(lang);
        match lang {
            jim_text::Lang::En => format!("step {step} (conn {conn}): {what}"),
            jim_text::Lang::Ru => format!("шаг {step} (соединение {conn}): {what}"),
        }
    }
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(jim_text::Lang::En))
    }
}

/// The inputs of one case, bounded.
#[derive(Debug, Default)]
pub(crate) struct Inputs(Vec<Input>);

impl Inputs {
    pub(crate) fn push(&mut self, input: Input) {
        if self.0.len() < MAX_INPUTS {
            self.0.push(input);
        }
    }

    pub(crate) fn into_vec(self) -> Vec<Input> {
        self.0
    }
}
