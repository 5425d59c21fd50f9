//! Where the reads on one connection ended, so that the runner can tell how a value reached it:
//! in one read or in several (the peer wrote it in pieces), and alone or in the same read as the
//! value before it (the peer wrote both at once).
//!
//! PROTOCOL.md §framing W3: one object per write. TCP keeps no write boundaries, so this is
//! evidence, not proof, and fixtures use it only where it is deterministic on a loopback
//! connection to a correct peer (`one_write` in `fixtures/README.md`):
//! - a small value written with one `send()` arrives in one read (the kernel queues a write as
//!   one segment and a read takes all that is queued), so a value that needed several reads was
//!   written in several pieces;
//! - two values written at clearly different times, while the runner keeps reading, arrive in
//!   different reads, so two such values in one read were held back and written together.
//!
//! The log keeps only the read boundaries after the end of the last value (bounded), so its
//! memory does not grow with the connection's traffic.

use std::collections::VecDeque;

/// Most read boundaries kept between two values; past that the log stops drawing conclusions
/// about the value in progress (it assumes separate reads and several pieces).
const MAX_BOUNDARIES: usize = 4096;

/// How one value arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pieces {
    /// The number of reads its bytes came in (1 = one piece).
    pub reads: usize,
    /// It began in the same read as the end of the value before it on this connection.
    pub with_previous: bool,
}

impl Pieces {
    /// What this says about the writer, for a failure report; None for one value in one write.
    pub fn problem(&self) -> Option<String> {
        if self.reads > 1 {
            Some(format!(
                "it arrived in {} pieces (separate reads): the server wrote one message with several send() calls (§framing W3); a client that does one recv() + json.loads per message breaks on it",
                self.reads
            ))
        } else if self.with_previous {
            Some(
                "it arrived in the same read as the message before it, although the two were caused apart: the server held the first back and wrote both in one send() (§framing W3); a client that does one recv() + json.loads per message breaks on it"
                    .to_owned(),
            )
        } else {
            None
        }
    }
}

/// The read boundaries of one connection.
#[derive(Debug, Clone, Default)]
pub struct ReadLog {
    /// Bytes received so far (stream offset of the end of the last read).
    received: u64,
    /// Stream offsets where reads ended, after the end of the last value.
    ends: VecDeque<u64>,
    /// Stream offset just after the last value, if there was one.
    previous_end: Option<u64>,
    /// Boundaries were dropped since the last value (the cap was hit).
    overflowed: bool,
}

impl ReadLog {
    /// A read returned `n` bytes.
    pub fn on_read(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.received += n as u64;
        if self.ends.len() >= MAX_BOUNDARIES {
            self.ends.pop_front();
            self.overflowed = true;
        }
        self.ends.push_back(self.received);
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// A value of `len` bytes was taken out, ending `unread` bytes before the end of what was
    /// received (the bytes still buffered after it). Returns how it arrived.
    pub fn on_value(&mut self, len: usize, unread: usize) -> Pieces {
        let end = self.received.saturating_sub(unread as u64);
        let start = end.saturating_sub(len as u64);
        let pieces = if self.overflowed {
            Pieces { reads: 2, with_previous: false }
        } else {
            // A read that ended strictly inside the value split it.
            let inside = self.ends.iter().filter(|e| **e > start && **e < end).count();
            // A read that ended between the previous value's end and this value's start
            // (both included) separates them.
            let with_previous = self
                .previous_end
                .is_some_and(|prev| !self.ends.iter().any(|e| *e >= prev && *e <= start));
            Pieces { reads: inside + 1, with_previous }
        };
        // Keep only what the next value can need: boundaries at or after this value's end.
        while self.ends.front().is_some_and(|e| *e < end) {
            self.ends.pop_front();
        }
        self.previous_end = Some(end);
        self.overflowed = false;
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_read_one_value() {
        let mut log = ReadLog::default();
        log.on_read(17); // `{"response":200}\n`
        assert_eq!(log.on_value(16, 1), Pieces { reads: 1, with_previous: false });
    }

    #[test]
    fn a_value_in_three_reads() {
        let mut log = ReadLog::default();
        log.on_read(5);
        log.on_read(5);
        log.on_read(7);
        assert_eq!(log.on_value(16, 1).reads, 3);
    }

    #[test]
    fn two_values_in_one_read_and_then_apart() {
        let mut log = ReadLog::default();
        log.on_read(20); // `{"a":1}{"b":2}{"c":` two values glued, and the start of a third
        assert!(!log.on_value(7, 13).with_previous);
        assert_eq!(log.on_value(7, 6), Pieces { reads: 1, with_previous: true });
        log.on_read(3); // `3}\n`: the third value ends in a second read
        assert_eq!(log.on_value(8, 1), Pieces { reads: 2, with_previous: true });
        log.on_read(8); // `{"d":4}\n` on its own
        assert_eq!(log.on_value(7, 1), Pieces { reads: 1, with_previous: false });
    }

    #[test]
    fn a_newline_in_its_own_read_still_separates() {
        let mut log = ReadLog::default();
        log.on_read(7); // `{"a":1}`
        log.on_value(7, 0);
        log.on_read(1); // `\n`
        log.on_read(7); // `{"b":2}`
        assert_eq!(log.on_value(7, 0), Pieces { reads: 1, with_previous: false });
    }

    #[test]
    fn a_value_read_together_with_the_start_of_the_next() {
        let mut log = ReadLog::default();
        log.on_read(10); // `{"a":1}\n{"` (value 1, then the start of value 2)
        assert_eq!(log.on_value(7, 3).reads, 1);
        log.on_read(6); // `b":2}\n`
        let second = log.on_value(7, 1);
        assert_eq!(second, Pieces { reads: 2, with_previous: true });
    }

    #[test]
    fn the_log_stays_bounded() {
        let mut log = ReadLog::default();
        for _ in 0..(MAX_BOUNDARIES * 2) {
            log.on_read(1);
        }
        assert!(log.ends.len() <= MAX_BOUNDARIES);
        let p = log.on_value(4, 0);
        assert!(p.reads > 1 && !p.with_previous);
        // Only the boundary at the value's end is kept (it separates it from the next one).
        assert_eq!(log.ends, [log.received()]);
    }
}
