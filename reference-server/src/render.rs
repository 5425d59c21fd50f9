//! Encoding the messages a busy server writes most (relays, plain responses, probes) straight
//! into bytes, without building a JSON tree first.
//!
//! [`Message::to_value`] (jim-protocol) is the canonical form of every message; encoding its
//! value costs a map, a string per key and a copy of every text, for each relay and each 200.
//! [`encode`] writes the same bytes directly with jim-protocol's [`ObjectEncoder`], for the
//! shapes it knows, and says `false` for everything else, which the caller then encodes from the
//! value. The tests check byte equality with the value path for both dialects.

use jim_protocol::codec::ObjectEncoder;
use jim_protocol::{Dialect, Framing, Message, ResponseCode, Timestamp};

/// Appends `message` in `dialect` to `out`, exactly as encoding `message.to_value(dialect)`
/// would; returns `false` (and writes nothing) for a shape it does not know.
pub(crate) fn encode(
    message: &Message,
    dialect: Dialect,
    framing: Framing,
    out: &mut Vec<u8>,
) -> bool {
    let course = dialect == Dialect::Course;
    match message {
        Message::Chat(c) => {
            let mut obj = ObjectEncoder::new(out);
            obj.str("action", message.action(dialect));
            if let Some(t) = c.time {
                obj.f64("time", t.0);
            }
            if course {
                if let Some(from) = &c.from {
                    obj.str("from", from);
                }
                obj.str("to", c.to.as_str()).str("mess_text", &c.text);
            } else {
                obj.str("to", c.to.as_str());
                if let Some(from) = &c.from {
                    obj.str("from", from);
                }
                if let Some(encoding) = &c.encoding {
                    obj.str("encoding", encoding);
                }
                obj.str("message", &c.text);
            }
            obj.finish(framing);
            true
        }
        Message::Response(r) if r.list.is_none() && r.quantity.is_none() && r.bin.is_none() => {
            response(r.code(), r.time, r.text.as_deref(), framing, out);
            true
        }
        Message::Probe(p) => {
            let mut obj = ObjectEncoder::new(out);
            obj.str("action", "probe");
            if let Some(t) = p.time {
                obj.f64("time", t.0);
            }
            obj.finish(framing);
            true
        }
        _ => false,
    }
}

/// Appends a response without a list, quantity or key (the usual 200 or error), exactly as
/// encoding the value of the same [`jim_protocol::Response`] would, in either dialect.
pub(crate) fn response(
    code: ResponseCode,
    time: Option<Timestamp>,
    text: Option<&str>,
    framing: Framing,
    out: &mut Vec<u8>,
) {
    let mut obj = ObjectEncoder::new(out);
    obj.u64("response", u64::from(code.as_u16()));
    if let Some(t) = time {
        obj.f64("time", t.0);
    }
    if let Some(text) = text {
        obj.str(if code.is_error() { "error" } else { "alert" }, text);
    }
    obj.finish(framing);
}

/// Appends a 202 list response whose names are `array`, a JSON array already encoded (compact,
/// ASCII-only), exactly as encoding the value of `Response::list(names)` in `dialect` would.
pub(crate) fn list(
    time: Option<Timestamp>,
    dialect: Dialect,
    array: &[u8],
    framing: Framing,
    out: &mut Vec<u8>,
) {
    let code = ResponseCode::ACCEPTED;
    let mut obj = ObjectEncoder::new(out);
    obj.u64("response", u64::from(code.as_u16()));
    if let Some(t) = time {
        obj.f64("time", t.0);
    }
    match dialect {
        Dialect::Spec => obj.encoded("alert", array),
        Dialect::Course => obj.str("alert", code.standard_text()).encoded("data_list", array),
    };
    obj.finish(framing);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use jim_protocol::codec::{encode_value, to_bytes};
    use jim_protocol::{Chat, Probe, Response, Target};

    use super::*;

    fn both_ways(message: &Message) {
        for dialect in [Dialect::Spec, Dialect::Course] {
            for framing in [Framing::Newline, Framing::Bare] {
                let mut fast = Vec::new();
                assert!(encode(message, dialect, framing, &mut fast), "{message:?}");
                let mut slow = bytes::BytesMut::new();
                encode_value(&message.to_value(dialect), framing, &mut slow);
                assert_eq!(
                    String::from_utf8_lossy(&fast),
                    String::from_utf8_lossy(&slow),
                    "{message:?} in {dialect:?}"
                );
            }
        }
    }

    const TEXTS: [&str; 5] =
        ["", "hello", "q\"b\\s/\n\t\u{1}", "Ива § 😀", "L00001:0000000002:xxxx"];
    const TIMES: [Option<f64>; 4] = [None, Some(0.0), Some(1.5), Some(1_763_771_234.123_456_7)];

    #[test]
    fn relays_are_the_bytes_of_their_value() {
        for text in TEXTS {
            for time in TIMES {
                for from in [None, Some("alice"), Some("Ива")] {
                    for encoding in [None, Some("ascii")] {
                        for to in ["bob", "#room"] {
                            both_ways(&Message::Chat(Chat {
                                time: time.map(Timestamp),
                                from: from.map(str::to_owned),
                                to: Target::parse(to),
                                encoding: encoding.map(str::to_owned),
                                text: text.to_owned(),
                            }));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn plain_responses_and_probes_are_the_bytes_of_their_value() {
        for code in ResponseCode::ALL.into_iter().chain([ResponseCode(299), ResponseCode(599)]) {
            for time in TIMES {
                for text in TEXTS.iter().map(|t| Some((*t).to_owned())).chain([None]) {
                    both_ways(&Message::Response(Response {
                        time: time.map(Timestamp),
                        text,
                        ..Response::new(code)
                    }));
                }
            }
        }
        for time in TIMES {
            both_ways(&Message::Probe(Probe { time: time.map(Timestamp) }));
        }
        both_ways(&Message::Response(Response::new(ResponseCode::OK)));
    }

    #[test]
    fn lists_are_the_bytes_of_their_value() {
        for names in [vec![], vec!["a".to_owned()], vec!["Ива".to_owned(), "b\"c".to_owned()]] {
            let array = to_bytes(
                &serde_json::Value::from(names.iter().map(String::as_str).collect::<Vec<_>>()),
                Framing::Bare,
            );
            for dialect in [Dialect::Spec, Dialect::Course] {
                for framing in [Framing::Newline, Framing::Bare] {
                    let response = Response::list(names.clone());
                    let mut fast = Vec::new();
                    list(response.time, dialect, &array, framing, &mut fast);
                    let slow = to_bytes(&Message::Response(response).to_value(dialect), framing);
                    assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&slow));
                }
            }
        }
    }

    #[test]
    fn other_shapes_are_left_to_the_value_path() {
        let mut out = Vec::new();
        let list = Message::Response(Response::list(vec!["a".into()]));
        assert!(!encode(&list, Dialect::Spec, Framing::Newline, &mut out));
        let bin = Message::Response(Response {
            bin: Some("x".into()),
            ..Response::new(ResponseCode::AUTH_CHALLENGE)
        });
        assert!(!encode(&bin, Dialect::Course, Framing::Newline, &mut out));
        assert!(out.is_empty());
    }
}
