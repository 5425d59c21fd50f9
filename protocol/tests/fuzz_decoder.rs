//! Fuzzing the stream decoder (issue 16): arbitrary bytes, cut into reads at arbitrary places,
//! never panic, never make the decoder hold more than the message limit, give the same items
//! however the stream is cut, and end with the buffer consumed.
//!
//! cargo-fuzz needs a nightly toolchain and its own tool, which this project's CI does not
//! install; this is the equivalent with proptest. The default run (`cargo test`) tries 2,000
//! streams; the long run is kept out of it:
//!
//! ```sh
//! JIM_FUZZ_CASES=1000000 cargo test --release -p jim-protocol --test fuzz_decoder -- --ignored
//! ```
#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use jim_protocol::FrameDecoder;
use jim_protocol::codec::parse_raw;
use proptest::prelude::*;

const MAX: usize = 256;

/// Bytes that stress the scanner: JSON structure, escapes, whitespace, invalid UTF-8, anything.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"{}[]\":,\\ \n\tae1.-E+0".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..2048)
}

/// Decodes `bytes` cut at `cuts`; returns the items as comparable text.
fn decode(bytes: &[u8], cuts: &[usize]) -> Vec<String> {
    let mut decoder = FrameDecoder::new(MAX);
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut from = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    for to in cuts {
        buf.extend_from_slice(&bytes[from..to.max(from)]);
        from = to.max(from);
        while let Some(item) = decoder.next_raw(&mut buf, false) {
            items.push(describe(item));
        }
        assert!(buf.len() <= MAX, "the decoder holds {} bytes", buf.len());
    }
    while let Some(item) = decoder.next_raw(&mut buf, true) {
        items.push(describe(item));
    }
    assert!(buf.is_empty(), "bytes left after the end of the stream");
    items
}

fn describe(item: Result<bytes::Bytes, jim_protocol::FrameError>) -> String {
    match item.and_then(parse_raw) {
        Ok(value) => value.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

fn check(bytes: &[u8], cuts: &[usize]) {
    let whole = decode(bytes, &[]);
    let cut = decode(bytes, cuts);
    assert_eq!(whole, cut, "the items depend on how the stream was cut");
    let trickled: Vec<usize> = (0..bytes.len()).collect();
    assert_eq!(whole, decode(bytes, &trickled), "one byte per read differs");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn the_decoder_survives_any_stream(bytes in stream(), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        check(&bytes, &cuts);
    }
}

#[test]
#[ignore = "long fuzzing run; see the module docs"]
fn the_decoder_survives_any_stream_long() {
    let cases =
        std::env::var("JIM_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases));
    runner
        .run(&(stream(), prop::collection::vec(any::<usize>(), 0..8)), |(bytes, cuts)| {
            check(&bytes, &cuts);
            Ok(())
        })
        .unwrap();
}
