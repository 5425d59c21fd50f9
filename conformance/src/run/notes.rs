//! What a failure under split or trickle delivery means, in plain words: "your server assumes
//! one recv() returns one whole message" when the same case passed with whole delivery.

use std::collections::HashMap;

use crate::i18n::Msg;
use crate::model::Text;
use crate::report::{CaseResult, Verdict};
use crate::vocab::Delivery;

pub use crate::i18n::Peer;

/// What a failure under a delivery mode means, in plain words. `whole_passed` says how the
/// same case did with whole delivery in this run (None: not run).
pub fn mode_note(delivery: Delivery, whole_passed: Option<bool>, peer: Peer) -> Option<Text> {
    if delivery == Delivery::Whole {
        return None;
    }
    Some(Msg::ModeNote { delivery, whole_passed, peer }.text())
}

/// Adds a [`mode_note`] to failures under split or trickle delivery as results come out in
/// run order (a case's whole-delivery result comes before its other modes).
#[derive(Debug)]
pub struct ModeNotes {
    peer: Peer,
    whole: HashMap<String, bool>,
}

impl ModeNotes {
    /// Notes for a run judging `peer`.
    pub fn new(peer: Peer) -> Self {
        Self { peer, whole: HashMap::new() }
    }

    /// Remembers a whole-delivery verdict, or notes what a failure under another mode means.
    pub fn apply(&mut self, r: &mut CaseResult) {
        if r.delivery == Delivery::Whole {
            self.whole.insert(r.id.clone(), r.verdict.passed());
        } else if matches!(r.verdict, Verdict::Fail | Verdict::Error | Verdict::ExpectedFail) {
            let whole_passed = self.whole.get(&r.id).copied();
            r.mode_note = mode_note(r.delivery, whole_passed, self.peer);
            // What was observed (whole passed, the pieces failed) is the hint, not the
            // fixture's own, which is about the request itself.
            if let (Some(true), Some(note)) = (whole_passed, &r.mode_note) {
                r.hint = note.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_mode_note_says_what_the_mode_means_for_whom() {
        assert!(mode_note(Delivery::Whole, Some(true), Peer::Server).is_none());
        let server = mode_note(Delivery::Split, Some(true), Peer::Server).unwrap();
        assert!(server.en.contains("passes with whole delivery"), "{}", server.en);
        assert!(server.en.contains("your server assumes one recv() returns one whole message"));
        assert!(server.en.contains("multi-byte UTF-8"));
        assert!(server.ru.contains("ваш сервер"), "{}", server.ru);
        let client = mode_note(Delivery::Trickle, None, Peer::Client).unwrap();
        assert!(client.en.contains("your client assumes one recv()"), "{}", client.en);
        assert!(client.en.contains("one byte at a time"));
        let both = mode_note(Delivery::Split, Some(false), Peer::Client).unwrap();
        assert!(both.en.contains("with whole delivery too"), "{}", both.en);
    }
}
