//! What a failure under split or trickle delivery means, in plain words: "your server assumes
//! one recv() returns one whole message" when the same case passed with whole delivery.

use std::collections::HashMap;

use crate::model::Text;
use crate::report::{CaseResult, Verdict};
use crate::vocab::Delivery;

/// Whose code a delivery-mode note talks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The runner judged a server.
    Server,
    /// The runner judged a client.
    Client,
}

/// What a failure under a delivery mode means, in plain words. `whole_passed` says how the
/// same case did with whole delivery in this run (None: not run).
pub fn mode_note(delivery: Delivery, whole_passed: Option<bool>, peer: Peer) -> Option<Text> {
    let (who_en, who_ru, what_en, what_ru) = match peer {
        Peer::Server => ("server", "сервер", "request", "запрос"),
        Peer::Client => ("client", "клиент", "reply", "ответ"),
    };
    let (mode_en, mode_ru) = match delivery {
        Delivery::Whole => return None,
        Delivery::Split => (
            format!(
                "each {what_en} is cut into pieces written separately (split delivery; a cut falls inside a multi-byte UTF-8 character when there is one)"
            ),
            format!(
                "каждый {what_ru} режется на куски, отправленные отдельно (доставка split; если есть многобайтовый символ UTF-8, один разрез приходится внутрь него)"
            ),
        ),
        Delivery::Trickle => (
            format!("each {what_en} arrives one byte at a time (trickle delivery)"),
            format!("каждый {what_ru} приходит по одному байту (доставка trickle)"),
        ),
    };
    let advice_en = format!(
        "your {who_en} assumes one recv() returns one whole message. Keep a buffer per connection, append what recv() returns, and take complete JSON values out of it (json.JSONDecoder().raw_decode); decode UTF-8 only once a value is complete, and never treat a message that has not fully arrived as an error."
    );
    let advice_ru = format!(
        "ваш {who_ru} считает, что один recv() возвращает одно целое сообщение. Держите буфер на соединение, дописывайте в него то, что вернул recv(), и вынимайте из него целые JSON-значения (json.JSONDecoder().raw_decode); декодируйте UTF-8 только когда значение пришло целиком и не считайте ошибкой сообщение, которое ещё не дошло."
    );
    Some(match whole_passed {
        Some(true) => Text {
            en: format!("passes with whole delivery but fails when {mode_en}: {advice_en}"),
            ru: format!("проходит при обычной доставке, но падает, когда {mode_ru}: {advice_ru}"),
        },
        Some(false) => Text {
            en: format!(
                "fails when {mode_en}, and with whole delivery too: fix the whole-delivery failure first"
            ),
            ru: format!(
                "падает, когда {mode_ru}, и при обычной доставке тоже: сначала исправьте обычный случай"
            ),
        },
        None => Text {
            en: format!("fails when {mode_en}. If it passes with --delivery whole, {advice_en}"),
            ru: format!(
                "падает, когда {mode_ru}. Если с --delivery whole проходит, то {advice_ru}"
            ),
        },
    })
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
            r.mode_note = mode_note(r.delivery, self.whole.get(&r.id).copied(), self.peer);
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
