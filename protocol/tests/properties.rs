//! Property tests of the protocol crate: round trips of both dialects, chunking invariance of the
//! stream decoder, its memory bound on arbitrary bytes, and oversize reporting.
//!
//! Each property can fail: a decoder that treats each read as one message fails
//! `any_split_decodes_the_same_values`; a writer that drops a field fails the round trip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use bytes::BytesMut;
use jim_protocol::codec::{Framing, JsonCodec, to_bytes};
use jim_protocol::message::*;
use jim_protocol::{FrameError, ResponseCode};
use proptest::prelude::*;
use serde_json::Value;
use tokio_util::codec::Decoder;

/// Characters that stress escaping: quotes, backslashes, braces, control chars, Cyrillic, emoji.
const CHARS: &str =
    "[a-zA-Z0-9_ .,!?\\-\"\\\\/{}\\[\\]:#\\n\\t\\u{0}\\u{1f}а-яёЁ€😀\\u{7f}\\u{2028}]";

fn name() -> impl Strategy<Value = String> {
    // 1..=25 characters, never starting with '#' (that would make it a room).
    proptest::string::string_regex(&format!("[a-zA-Zа-я0-9_]{}{{0,24}}", CHARS)).unwrap()
}

fn room() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("#{}{{1,24}}", CHARS)).unwrap()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("{}{{0,40}}", CHARS)).unwrap(),
        proptest::string::string_regex(&format!("{}{{450,500}}", CHARS)).unwrap(),
    ]
}

fn time() -> impl Strategy<Value = Option<Timestamp>> {
    prop_oneof![
        Just(None),
        (0.0f64..4.0e9).prop_map(|t| Some(Timestamp(t))),
        (0u32..u32::MAX).prop_map(|t| Some(Timestamp(f64::from(t)))),
        any::<f64>().prop_filter("finite", |t| t.is_finite()).prop_map(|t| Some(Timestamp(t))),
    ]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![name().prop_map(Target::User), room().prop_map(Target::Room)]
}

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(s)
}

fn code() -> impl Strategy<Value = ResponseCode> {
    prop_oneof![
        proptest::sample::select(ResponseCode::ALL.to_vec()),
        (100u16..=599).prop_map(ResponseCode),
    ]
}

/// Messages that exist in the spec dialect.
fn spec_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        // A spec presence carries `user.status` (one with neither status nor type is course).
        (time(), name(), text(), opt(name())).prop_map(|(time, account_name, status, kind)| {
            let status = Some(status);
            Message::Presence(Presence { time, account_name, status, kind, pubkey: None })
        }),
        time().prop_map(|time| Message::Probe(Probe { time })),
        (time(), opt(name()), target(), opt(name()), text()).prop_map(
            |(time, from, to, encoding, text)| Message::Chat(Chat {
                time,
                from,
                to,
                encoding,
                text
            })
        ),
        (time(), opt(name()))
            .prop_map(|(time, account_name)| Message::Quit(Quit { time, account_name })),
        (time(), name(), text()).prop_map(|(time, account_name, password)| {
            Message::Authenticate(Authenticate { time, account_name, password })
        }),
        (time(), room()).prop_map(|(time, room)| Message::Join(RoomRequest { time, room })),
        (time(), room()).prop_map(|(time, room)| Message::Leave(RoomRequest { time, room })),
        (time(), opt(name()))
            .prop_map(|(time, owner)| Message::GetContacts(GetContacts { time, owner })),
        (time(), opt(name()), name(), any::<bool>()).prop_map(|(time, owner, contact, add)| {
            let c = ContactChange { time, owner, contact };
            if add { Message::AddContact(c) } else { Message::DelContact(c) }
        }),
        name().prop_map(|user_id| Message::ContactList(ContactListItem { user_id })),
        (
            code(),
            time(),
            opt(text()),
            opt(proptest::collection::vec(name(), 0..5)),
            opt(any::<u64>()),
            opt(text())
        )
            .prop_filter("511 and 205 belong to the course dialect", |(code, ..)| {
                *code != ResponseCode::AUTH_CHALLENGE && *code != ResponseCode::REFRESH
            })
            .prop_map(|(code, time, text, list, quantity, bin)| {
                // The spec writes a success list in `alert`, where the text would go.
                let text = if list.is_some() && !code.is_error() { None } else { text };
                Message::Response(Response {
                    code: ResponseCodeField(code),
                    time,
                    text,
                    list,
                    quantity,
                    bin,
                })
            }),
    ]
}

/// Messages that exist in the course dialect.
fn course_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (time(), name(), opt(text())).prop_map(|(time, account_name, pubkey)| {
            Message::Presence(Presence { time, account_name, status: None, kind: None, pubkey })
        }),
        (time(), name(), target(), text()).prop_map(|(time, from, to, text)| {
            Message::Chat(Chat { time, from: Some(from), to, encoding: None, text })
        }),
        (time(), opt(name()))
            .prop_map(|(time, account_name)| Message::Quit(Quit { time, account_name })),
        (time(), opt(name()))
            .prop_map(|(time, owner)| Message::GetContacts(GetContacts { time, owner })),
        (time(), opt(name()), name(), any::<bool>()).prop_map(|(time, owner, contact, add)| {
            let c = ContactChange { time, owner, contact };
            if add { Message::AddContact(c) } else { Message::DelContact(c) }
        }),
        (time(), opt(name()))
            .prop_map(|(time, account_name)| Message::GetUsers(GetUsers { time, account_name })),
        (time(), name()).prop_map(|(time, account_name)| Message::PubkeyNeed(PubkeyNeed {
            time,
            account_name
        })),
        (
            code(),
            time(),
            opt(text()),
            opt(proptest::collection::vec(name(), 0..5)),
            opt(any::<u64>()),
            opt(text())
        )
            .prop_map(|(code, time, text, list, quantity, bin)| {
                Message::Response(Response {
                    code: ResponseCodeField(code),
                    time,
                    text,
                    list,
                    quantity,
                    bin,
                })
            }),
    ]
}

fn any_message() -> impl Strategy<Value = (Message, Dialect)> {
    prop_oneof![
        spec_message().prop_map(|m| (m, Dialect::Spec)),
        course_message().prop_map(|m| (m, Dialect::Course)),
    ]
}

/// Decodes `chunks` in order, as a socket would deliver them, then flushes at EOF.
fn decode_chunks(codec: &mut JsonCodec, chunks: &[&[u8]]) -> Vec<Result<Value, FrameError>> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
        assert!(buf.len() <= codec.max_message_bytes(), "buffer grew past the limit");
    }
    while let Some(item) = codec.decode_eof(&mut buf).unwrap() {
        out.push(item);
    }
    out
}

/// Cuts `bytes` at the given relative positions.
fn split_at_positions<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut chunks = Vec::new();
    let mut last = 0;
    for p in points {
        chunks.push(&bytes[last..p]);
        last = p;
    }
    chunks.push(&bytes[last..]);
    chunks
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Writing a message in its dialect and reading it back gives the same message, and the
    /// spelling never claims the other dialect.
    #[test]
    fn encode_then_decode_round_trips((message, dialect) in any_message(), newline in any::<bool>()) {
        let framing = if newline { Framing::Newline } else { Framing::Bare };
        let bytes = to_bytes(&message.to_value(dialect), framing);
        let items = decode_chunks(&mut JsonCodec::new(), &[&bytes]);
        prop_assert_eq!(items.len(), 1);
        let value = items.into_iter().next().unwrap().unwrap();
        let parsed = parse(&value).unwrap();
        prop_assert_eq!(&parsed.message, &message);
        let other = match dialect { Dialect::Spec => Dialect::Course, Dialect::Course => Dialect::Spec };
        prop_assert_ne!(parsed.dialect, Some(other), "{}", value);
    }

    /// `encoded_len` predicts exactly how many bytes the writer spends on a string.
    #[test]
    fn encoded_len_matches_the_writer(text in text(), any_text in any::<String>()) {
        for t in [&text, &any_text] {
            let written = to_bytes(&Value::from(t.as_str()), Framing::Bare).len();
            prop_assert_eq!(jim_protocol::codec::encoded_len(t), written, "{:?}", t);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any split of a stream of N encoded messages decodes to the same N values.
    #[test]
    fn any_split_decodes_the_same_values(
        messages in proptest::collection::vec(any_message(), 1..12),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..40),
        newline in any::<bool>(),
    ) {
        let framing = if newline { Framing::Newline } else { Framing::Bare };
        let values: Vec<Value> = messages.iter().map(|(m, d)| m.to_value(*d)).collect();
        let stream: Vec<u8> = values.iter().flat_map(|v| to_bytes(v, framing)).collect();
        let chunks = split_at_positions(&stream, &cuts);
        let got: Vec<Value> = decode_chunks(&mut JsonCodec::new(), &chunks)
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        prop_assert_eq!(got, values);
    }

    /// Byte-by-byte delivery (a trickling peer) decodes the same values.
    #[test]
    fn byte_by_byte_decodes_the_same_values(messages in proptest::collection::vec(any_message(), 1..4)) {
        let values: Vec<Value> = messages.iter().map(|(m, d)| m.to_value(*d)).collect();
        let stream: Vec<u8> = values.iter().flat_map(|v| to_bytes(v, Framing::Bare)).collect();
        let chunks: Vec<&[u8]> = stream.chunks(1).collect();
        let got: Vec<Value> = decode_chunks(&mut JsonCodec::new(), &chunks)
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        prop_assert_eq!(got, values);
    }

    /// Arbitrary bytes, in arbitrary chunks, never panic, never make the buffer exceed the limit,
    /// and are consumed completely at EOF.
    #[test]
    fn arbitrary_bytes_never_panic_or_overgrow(
        bytes in proptest::collection::vec(
            prop_oneof![
                3 => proptest::sample::select(b"{}[]\"\\ \n:,".to_vec()),
                2 => any::<u8>(),
                1 => proptest::sample::select(b"atrue0-9e.".to_vec()),
            ],
            0..600,
        ),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..30),
        max in 1usize..128,
    ) {
        let mut codec = JsonCodec::new().with_max_message_bytes(max);
        let chunks = split_at_positions(&bytes, &cuts);
        let mut buf = BytesMut::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while codec.decode(&mut buf).unwrap().is_some() {}
            prop_assert!(buf.len() <= max, "buffer {} > max {}", buf.len(), max);
        }
        while codec.decode_eof(&mut buf).unwrap().is_some() {}
        prop_assert!(buf.is_empty());
    }

    /// A value bigger than the limit is reported as oversize exactly once, however it is split,
    /// and the messages around it still decode.
    #[test]
    fn every_oversize_value_is_reported(
        before in any_message(),
        after in any_message(),
        extra in 1usize..3000,
        shape in 0u8..3,
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let max = 256;
        let filler = "y".repeat(max + extra);
        let big = match shape {
            0 => format!("{{\"action\":\"msg\",\"message\":\"{filler}\"}}"),
            1 => format!("\"{filler}\""),
            _ => format!("[{}]", "[1],".repeat((max + extra) / 4) + "0"),
        };
        let first = before.0.to_value(before.1);
        let last = after.0.to_value(after.1);
        let first_len = to_bytes(&first, Framing::Newline).len();
        let last_len = to_bytes(&last, Framing::Newline).len();
        prop_assume!(first_len <= max && last_len <= max);
        let mut stream = to_bytes(&first, Framing::Newline);
        stream.extend_from_slice(big.as_bytes());
        stream.extend(to_bytes(&last, Framing::Newline));
        let chunks = split_at_positions(&stream, &cuts);
        let items = decode_chunks(&mut JsonCodec::new().with_max_message_bytes(max), &chunks);
        prop_assert_eq!(items.len(), 3, "{:?}", items);
        prop_assert_eq!(items[0].as_ref().unwrap(), &first);
        let oversize = matches!(items[1], Err(FrameError::Oversize { limit, .. }) if limit == max);
        prop_assert!(oversize);
        prop_assert_eq!(items[2].as_ref().unwrap(), &last);
    }
}

/// The tokio-util codec works under a real `FramedRead` over an in-memory pipe written in odd
/// chunks, and errors do not end the stream.
#[tokio::test]
async fn framed_read_survives_errors() {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::FramedRead;

    let (mut tx, rx) = tokio::io::duplex(64);
    let writer = tokio::spawn(async move {
        for chunk in [&b"{\"action\":\"pres"[..], b"ence\"}{bad}", b" \xff {\"a\":", b"1}"] {
            tx.write_all(chunk).await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    let items: Vec<_> = FramedRead::new(rx, JsonCodec::new()).collect().await;
    writer.await.unwrap();
    let items: Vec<_> = items.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(items.len(), 4, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap()["action"], "presence");
    assert!(matches!(items[1], Err(FrameError::Syntax { .. })));
    assert!(matches!(items[2], Err(FrameError::InvalidUtf8 { .. })));
    assert_eq!(items[3].as_ref().unwrap()["a"], 1);
}
