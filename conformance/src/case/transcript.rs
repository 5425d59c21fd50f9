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
    /// What.
    pub text: String,
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

    pub(crate) fn push(&mut self, conn: &str, dir: Direction, text: String) {
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
    pub what: String,
    /// An ordinary login or goodbye (a well-formed presence sent whole, a quit/exit): not a
    /// suspect when a server breaks.
    #[serde(skip)]
    pub routine: bool,
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {} (conn {}): {}", self.step, self.conn, self.what)
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
