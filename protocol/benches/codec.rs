//! Micro-benchmarks of the stream decoder and the encoder: bytes per second for a stream of
//! typical JIM traffic (presence, chat messages, relays, responses), fed whole, split into small
//! chunks, and one message per read. `cargo bench -p jim-protocol`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use jim_protocol::codec::{Framing, encode_value};
use jim_protocol::{FrameDecoder, JsonCodec};
use serde_json::{Value, json};
use tokio_util::codec::Decoder;

/// A realistic mix: what a server reads and writes during a chat.
fn typical_messages() -> Vec<Value> {
    let text = "x".repeat(60);
    vec![
        json!({"action": "presence", "time": 1_700_000_000.123_456, "type": "status",
               "user": {"account_name": "student042", "status": "Yep, I am here!"}}),
        json!({"action": "msg", "time": 1_700_000_001.5, "to": "student043", "from": "student042",
               "encoding": "ascii", "message": text}),
        json!({"response": 200, "time": 1_700_000_001.6, "alert": "OK"}),
        json!({"action": "msg", "time": 1_700_000_002.0, "to": "#room", "from": "student042",
               "message": "Привет, всем! \"quoted\" {braces} [brackets]"}),
        json!({"action": "join", "time": 1_700_000_003.0, "room": "#room"}),
        json!({"response": 202, "time": 1_700_000_004.0, "alert": ["student001", "student002", "student003"]}),
        json!({"action": "message", "time": 1_700_000_005.0, "from": "a", "to": "b", "mess_text": text}),
        json!({"response": 400, "time": 1_700_000_006.0, "error": "missing field to (see §msg)"}),
    ]
}

/// The messages repeated `n` times, encoded as one stream.
fn stream(n: usize) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for _ in 0..n {
        for m in typical_messages() {
            encode_value(&m, Framing::Newline, &mut buf);
        }
    }
    buf.to_vec()
}

/// Decodes `chunks` with the full codec (framing + JSON parsing); returns the value count.
fn decode_values(chunks: &[&[u8]]) -> usize {
    let mut codec = JsonCodec::new();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut count = 0;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            black_box(item.unwrap());
            count += 1;
        }
    }
    count
}

/// Splits `chunks` into frames only (no JSON parsing); returns the frame count.
fn split_frames(chunks: &[&[u8]]) -> usize {
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut count = 0;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(frame) = decoder.next_raw(&mut buf, false) {
            black_box(frame.unwrap());
            count += 1;
        }
    }
    count
}

fn decode(c: &mut Criterion) {
    let data = stream(64);
    let messages = typical_messages().len() * 64;
    let one_per_read: Vec<&[u8]> = data.split_inclusive(|b| *b == b'\n').collect();
    let cases: Vec<(&str, Vec<&[u8]>)> = vec![
        ("whole", vec![&data[..]]),
        ("one message per read", one_per_read),
        ("split every 16 bytes", data.chunks(16).collect()),
        ("byte by byte", data.chunks(1).collect()),
    ];
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(data.len() as u64));
    for (name, chunks) in &cases {
        assert_eq!(decode_values(chunks), messages);
        assert_eq!(split_frames(chunks), messages);
        group.bench_with_input(BenchmarkId::new("values", name), chunks, |b, chunks| {
            b.iter(|| decode_values(chunks));
        });
        group.bench_with_input(BenchmarkId::new("frames only", name), chunks, |b, chunks| {
            b.iter(|| split_frames(chunks));
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let messages = typical_messages();
    let bytes = stream(1).len() as u64;
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Bytes(bytes));
    for framing in [Framing::Newline, Framing::Bare] {
        let name = format!("{framing:?}").to_lowercase();
        group.bench_function(BenchmarkId::new("typical messages", name), |b| {
            let mut buf = BytesMut::with_capacity(4096);
            b.iter(|| {
                buf.clear();
                for m in &messages {
                    encode_value(black_box(m), framing, &mut buf);
                }
                black_box(buf.len())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
