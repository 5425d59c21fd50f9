//! Framing: turning a TCP byte stream into JSON values and back (PROTOCOL.md `§framing`,
//! `§resync`).
//!
//! JIM has no framing: peers write one JSON object per `send()`, and TCP may split it or glue two
//! together. [`FrameDecoder`] finds where each value ends with a small resumable scanner (brackets
//! outside strings, string escapes), so a value split anywhere, coalesced with others or trickled
//! byte by byte decodes the same, in time linear in its size. Each complete value is then parsed
//! on its own ([`parse_raw`]: a fast reader for the usual shapes, serde_json for the rest), so a
//! bad value yields an error item and decoding resumes right after it. Nothing beyond the max
//! message size is ever buffered.
//!
//! [`JsonCodec`] wraps the decoder as a tokio-util `Decoder`/`Encoder` for `Framed` streams.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde_json::Value;
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{FrameError, preview};
use crate::limits::DEFAULT_MAX_MESSAGE_BYTES;
use crate::scan::{
    byte_table, find, find_not_plain_ascii, find_not_plain_input, find_quote_or_backslash,
};

/// How a writer ends each JSON value on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// Compact JSON followed by `\n` (the default: harmless to `json.loads`, needed by line readers).
    #[default]
    Newline,
    /// Compact JSON with nothing after it, as most student code writes.
    Bare,
}

impl std::str::FromStr for Framing {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "newline" => Ok(Self::Newline),
            "bare" => Ok(Self::Bare),
            other => Err(format!("unknown framing {other:?}: use newline or bare")),
        }
    }
}

/// What kind of value the scanner is in the middle of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Between values.
    Idle,
    /// Inside an object or array: bracket depth, inside a string, after a backslash.
    Container { depth: usize, in_string: bool, escaped: bool },
    /// Inside a top-level string.
    String { escaped: bool },
    /// A bare token (number, literal or junk) that ends before whitespace, `{`, `[` or `"`.
    Token,
}

/// Incremental splitter of a byte stream into raw JSON values (see the module docs).
///
/// Invariant: after [`FrameDecoder::next_raw`] returns `None`, the buffer holds at most
/// `max_message_bytes` bytes.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max: usize,
    state: Scan,
    /// Bytes of the current value already scanned (they stay at the front of the buffer).
    scanned: usize,
    /// The current value passed the limit: its bytes are being dropped until it ends.
    discarding: bool,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE_BYTES)
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl FrameDecoder {
    /// A decoder that reports values longer than `max_message_bytes` as oversize.
    pub fn new(max_message_bytes: usize) -> Self {
        Self { max: max_message_bytes.max(1), state: Scan::Idle, scanned: 0, discarding: false }
    }

    /// The configured max message size in bytes.
    pub fn max_message_bytes(&self) -> usize {
        self.max
    }

    /// True while part of a value has been received but not its end.
    pub fn in_value(&self) -> bool {
        self.state != Scan::Idle
    }

    /// Takes the next complete raw value out of `buf`: `Ok(bytes)` for a complete value or token
    /// (not yet checked to be valid JSON), `Err` for an oversize value (reported once) or, when
    /// `eof` is set, a truncated one. `None` means more bytes are needed.
    pub fn next_raw(&mut self, buf: &mut BytesMut, eof: bool) -> Option<Result<Bytes, FrameError>> {
        loop {
            if self.state == Scan::Idle {
                let skip = buf.iter().take_while(|b| is_ws(**b)).count();
                buf.advance(skip);
                let first = *buf.first()?;
                self.state = match first {
                    b'{' | b'[' => Scan::Container { depth: 0, in_string: false, escaped: false },
                    b'"' => Scan::String { escaped: false },
                    _ => Scan::Token,
                };
                // The opening quote of a string is consumed by the state change itself.
                self.scanned = usize::from(first == b'"');
            }
            let end = self.scan(buf);
            match end {
                Some(end) => {
                    let value = buf.split_to(end).freeze();
                    self.state = Scan::Idle;
                    self.scanned = 0;
                    if std::mem::take(&mut self.discarding) {
                        continue;
                    }
                    if end > self.max {
                        return Some(Err(FrameError::Oversize {
                            limit: self.max,
                            preview: preview(&value),
                        }));
                    }
                    return Some(Ok(value));
                }
                None if eof && self.state == Scan::Token && !self.discarding => {
                    // A bare token is complete at the end of the stream.
                    let value = buf.split().freeze();
                    self.state = Scan::Idle;
                    self.scanned = 0;
                    return Some(Ok(value));
                }
                None if self.discarding => {
                    buf.clear();
                    self.scanned = 0;
                    if eof {
                        self.state = Scan::Idle;
                        self.discarding = false;
                    }
                    return None;
                }
                None if buf.len() > self.max => {
                    let err = FrameError::Oversize { limit: self.max, preview: preview(buf) };
                    buf.clear();
                    self.scanned = 0;
                    self.discarding = !eof;
                    if eof {
                        self.state = Scan::Idle;
                    }
                    return Some(Err(err));
                }
                None if eof => {
                    let raw = buf.split().freeze();
                    self.state = Scan::Idle;
                    self.scanned = 0;
                    return Some(Err(FrameError::Truncated { preview: preview(&raw), raw }));
                }
                None => return None,
            }
        }
    }

    /// Scans unscanned bytes of the current value; returns the end offset when it completes.
    ///
    /// Each state jumps to the next byte that can change it (a quote or backslash inside a
    /// string, a quote or bracket outside one), so the usual value costs a few searches rather
    /// than a state-machine step per byte.
    fn scan(&mut self, buf: &[u8]) -> Option<usize> {
        let len = buf.len();
        let mut i = self.scanned.min(len);
        let done = match &mut self.state {
            Scan::Idle => None,
            Scan::Container { depth, in_string, escaped } => {
                // Locals, so that the loop runs in registers.
                let (mut d, mut in_str, mut esc) = (*depth, *in_string, *escaped);
                let mut done = None;
                while i < len {
                    if esc {
                        // The byte after a backslash inside a string, whatever it is.
                        esc = false;
                        i += 1;
                    } else if in_str {
                        // Jump to the next quote or backslash: strings are the long parts.
                        let Some(k) = find_quote_or_backslash(&buf[i..]) else {
                            break;
                        };
                        i += k;
                        if buf[i] == b'\\' {
                            esc = true;
                        } else {
                            in_str = false;
                        }
                        i += 1;
                    } else {
                        // Between strings the runs are short: a byte at a time.
                        let b = buf[i];
                        i += 1;
                        match b {
                            b'"' => in_str = true,
                            b'{' | b'[' => d += 1,
                            b'}' | b']' => {
                                d = d.saturating_sub(1);
                                if d == 0 {
                                    done = Some(i);
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                (*depth, *in_string, *escaped) = (d, in_str, esc);
                done
            }
            Scan::String { escaped } => loop {
                if *escaped {
                    if i >= len {
                        break None;
                    }
                    *escaped = false;
                    i += 1;
                    continue;
                }
                let Some(k) = find_quote_or_backslash(&buf[i..]) else {
                    break None;
                };
                i += k + 1;
                if buf[i - 1] == b'"' {
                    break Some(i);
                }
                *escaped = true;
            },
            Scan::Token => find(&buf[i..], &TOKEN_STOPS).map(|k| i + k),
        };
        if done.is_none() {
            self.scanned = len;
        }
        done
    }
}

/// The bytes that end a bare token (`§framing` D2).
static TOKEN_STOPS: [bool; 256] = byte_table(b" \t\n\r{[\"");

/// Parses one complete raw value into JSON, classifying failures (invalid UTF-8 or syntax).
pub fn parse_raw(raw: Bytes) -> Result<Value, FrameError> {
    let text = match std::str::from_utf8(&raw) {
        Ok(text) => text,
        Err(e) => {
            return Err(FrameError::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
                preview: preview(&raw),
                raw,
            });
        }
    };
    if let Some(value) = FastParser::parse(text) {
        return Ok(value);
    }
    // From the checked text: serde_json need not validate UTF-8 again.
    serde_json::from_str(text).or_else(|e| {
        // A number beyond the range of a double (`1e400`) is valid JSON that serde_json refuses
        // to hold; Python reads it as infinity, which no JSON value here can be. It reads as
        // `null`, so an unusable `time` counts as absent (`§time`) instead of failing the whole
        // message, and any other field reports its type.
        out_of_range_as_null(text).and_then(|text| serde_json::from_str(&text).ok()).ok_or_else(
            || FrameError::Syntax {
                detail: e.to_string(),
                preview: preview(&raw),
                raw: raw.clone(),
            },
        )
    })
}

/// `text` with every number outside the range of an `f64` (outside strings) replaced by
/// `null`, or `None` when there is none. Linear in the text.
fn out_of_range_as_null(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let (mut copied, mut i, mut replaced) = (0, 0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Skip the string: to its closing quote, stepping over escapes.
                i += 1;
                while let Some(k) = bytes.get(i..).and_then(find_quote_or_backslash) {
                    i += k + 1;
                    if bytes[i - 1] == b'"' {
                        break;
                    }
                    i += 1;
                }
            }
            b'-' | b'0'..=b'9' => {
                let len = bytes[i..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .unwrap_or(bytes.len() - i);
                let number = text.get(i..i + len)?;
                if number.parse::<f64>().is_ok_and(f64::is_infinite) {
                    out.push_str(text.get(copied..i)?);
                    out.push_str("null");
                    copied = i + len;
                    replaced = true;
                }
                i += len;
            }
            _ => i += 1,
        }
    }
    replaced.then(|| {
        out.push_str(text.get(copied..).unwrap_or_default());
        out
    })
}

/// Reads the JSON that peers usually send straight into a [`Value`], with the result
/// `serde_json::from_str` gives for the same text, and gives up (`None`) on everything else:
/// escapes, negative numbers, exponents, deep nesting, numbers out of range and every syntax
/// error, which serde_json then reads (or reports) itself. It saves serde's generic machinery
/// and the growth of small maps on every request a server reads.
struct FastParser<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

/// Deepest nesting the fast path reads (serde_json's own limit is 128).
const FAST_MAX_DEPTH: usize = 32;

impl<'a> FastParser<'a> {
    fn parse(text: &'a str) -> Option<Value> {
        let mut p = Self { text, at: 0, depth: 0 };
        let value = p.value()?;
        p.skip_ws();
        (p.at == text.len()).then_some(value)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(|s| Value::String(s.to_owned())),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Option<Value> {
        let rest = self.text.as_bytes().get(self.at..).unwrap_or_default();
        rest.starts_with(word.as_bytes()).then(|| {
            self.at += word.len();
            value
        })
    }

    /// A string without escapes or control characters; the opening quote is at `at`.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at + 1;
        let bytes = self.text.as_bytes();
        let len = find_not_plain_input(&bytes[start..])?;
        let end = start + len;
        if bytes[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        // The quotes are ASCII, so both ends fall on character boundaries.
        self.text.get(start..end)
    }

    /// A non-negative integer (as `u64`) or decimal fraction (as `f64`) without an exponent.
    fn number(&mut self) -> Option<Value> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
        let int = digits(start);
        if int > 1 && bytes[start] == b'0' {
            return None;
        }
        let mut end = start + int;
        let fraction = bytes.get(end) == Some(&b'.');
        if fraction {
            let frac = digits(end + 1);
            if frac == 0 {
                return None;
            }
            end += 1 + frac;
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            return None;
        }
        let number = self.text.get(start..end)?;
        self.at = end;
        if fraction {
            let x: f64 = number.parse().ok()?;
            serde_json::Number::from_f64(x).map(Value::Number)
        } else {
            number.parse::<u64>().ok().map(Value::from)
        }
    }

    fn object(&mut self) -> Option<Value> {
        self.enter()?;
        let mut map = serde_json::Map::with_capacity(if self.depth == 1 { 8 } else { 4 });
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            self.depth -= 1;
            return Some(Value::Object(map));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return None;
            }
            self.at += 1;
            let value = self.value()?;
            map.insert(key.to_owned(), value);
            self.skip_ws();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => break,
                _ => return None,
            }
        }
        self.at += 1;
        self.depth -= 1;
        Some(Value::Object(map))
    }

    fn array(&mut self) -> Option<Value> {
        self.enter()?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            self.depth -= 1;
            return Some(Value::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.skip_ws();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => break,
                _ => return None,
            }
        }
        self.at += 1;
        self.depth -= 1;
        Some(Value::Array(items))
    }

    /// Steps over an opening bracket, within the depth the fast path reads.
    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.at += 1;
        (self.depth <= FAST_MAX_DEPTH).then_some(())
    }
}

/// A tokio-util codec for JIM: decodes a stream of JSON values (each item is a value or the
/// error for one bad value; decoding goes on after it) and encodes values as compact JSON with
/// the configured [`Framing`].
#[derive(Debug, Clone, Default)]
pub struct JsonCodec {
    decoder: FrameDecoder,
    framing: Framing,
}

impl JsonCodec {
    /// A codec with the default 64 KiB limit and newline framing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the max message size in bytes.
    pub fn with_max_message_bytes(mut self, max: usize) -> Self {
        self.decoder = FrameDecoder::new(max);
        self
    }

    /// Sets how encoded values end.
    pub fn with_framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    /// The configured max message size in bytes.
    pub fn max_message_bytes(&self) -> usize {
        self.decoder.max_message_bytes()
    }

    /// The configured framing.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The decoder, for callers that want raw values (see [`FrameDecoder::next_raw`]).
    pub fn decoder_mut(&mut self) -> &mut FrameDecoder {
        &mut self.decoder
    }
}

/// serde_json's compact output with every non-ASCII character escaped as `\uXXXX` (UTF-16, lowercase
/// hex), exactly like Python's `json.dumps` default, so that peers decoding with ASCII still cope
/// (PROTOCOL.md `§encoding`).
struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> std::io::Result<()>
    where
        W: ?Sized + std::io::Write,
    {
        let bytes = fragment.as_bytes();
        if bytes.is_ascii() {
            return writer.write_all(bytes);
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if !c.is_ascii() {
                writer.write_all(&bytes[start..i])?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&bytes[start..])
    }
}

/// How many bytes `text` takes as a JSON string written by [`encode_value`]: quotes included,
/// escapes counted as written (`\"` 2, a control character 2 or 6, a non-ASCII character 6 per
/// UTF-16 unit). Lets a writer keep a list within a size budget without encoding it twice.
pub fn encoded_len(text: &str) -> usize {
    2 + text
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
            '\0'..='\u{1f}' => 6,
            c if c.is_ascii() => 1,
            c => 6 * c.len_utf16(),
        })
        .sum::<usize>()
}

/// Encodes one value as compact, ASCII-only JSON plus the framing's terminator into `dst`.
pub fn encode_value(value: &Value, framing: Framing, dst: &mut BytesMut) {
    use serde::Serialize as _;
    let mut ser = serde_json::Serializer::with_formatter(dst.writer(), AsciiFormatter);
    // Writing a Value into a BytesMut cannot fail: keys are strings, numbers are finite.
    let _ = value.serialize(&mut ser);
    if framing == Framing::Newline {
        dst.put_u8(b'\n');
    }
}

/// Writes one JSON object field by field, byte for byte as [`encode_value`] writes the same
/// object held in a [`Value`] (compact, ASCII-only, fields in the order written), without
/// building the value first: for writers that send many small objects of a known shape.
#[derive(Debug)]
pub struct ObjectEncoder<'a> {
    dst: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> ObjectEncoder<'a> {
    /// Starts an object at the end of `dst`.
    pub fn new(dst: &'a mut Vec<u8>) -> Self {
        dst.push(b'{');
        Self { dst, empty: true }
    }

    fn key(&mut self, key: &str) {
        if !std::mem::take(&mut self.empty) {
            self.dst.push(b',');
        }
        self.string(key);
        self.dst.push(b':');
    }

    /// A JSON string: copied as it is when nothing in it needs an escape (printable ASCII
    /// without `"` or `\`, the usual case), else written by serde_json with the ASCII formatter.
    fn string(&mut self, text: &str) {
        if find_not_plain_ascii(text.as_bytes()).is_some() {
            self.serialize(text);
        } else {
            self.dst.reserve(text.len() + 2);
            self.dst.push(b'"');
            self.dst.extend_from_slice(text.as_bytes());
            self.dst.push(b'"');
        }
    }

    fn serialize<T: serde::Serialize + ?Sized>(&mut self, value: &T) {
        let mut ser = serde_json::Serializer::with_formatter(&mut *self.dst, AsciiFormatter);
        // Writing a string or a number into a Vec cannot fail.
        let _ = value.serialize(&mut ser);
    }

    /// A string field.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        self.string(value);
        self
    }

    /// A number field written as a float (`null` when not finite, as `Value::from` does).
    pub fn f64(&mut self, key: &str, value: f64) -> &mut Self {
        self.key(key);
        self.serialize(&value);
        self
    }

    /// A field whose value is JSON already encoded as [`encode_value`] encodes it (compact,
    /// ASCII-only, no framing): for a large value written many times, such as a list shared by
    /// every answer until it changes. The caller vouches for `json`.
    pub fn encoded(&mut self, key: &str, json: &[u8]) -> &mut Self {
        self.key(key);
        self.dst.extend_from_slice(json);
        self
    }

    /// A whole-number field.
    pub fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        self.serialize(&value);
        self
    }

    /// Closes the object and adds the framing's terminator.
    pub fn finish(self, framing: Framing) {
        self.dst.push(b'}');
        if framing == Framing::Newline {
            self.dst.push(b'\n');
        }
    }
}

/// Encodes one value as a standalone byte vector (compact JSON plus the framing's terminator).
pub fn to_bytes(value: &Value, framing: Framing) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode_value(value, framing, &mut buf);
    buf.to_vec()
}

impl Decoder for JsonCodec {
    type Item = Result<Value, FrameError>;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        Ok(self.decoder.next_raw(src, false).map(|r| r.and_then(parse_raw)))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        Ok(self.decoder.next_raw(src, true).map(|r| r.and_then(parse_raw)))
    }
}

impl Encoder<&Value> for JsonCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: &Value, dst: &mut BytesMut) -> Result<(), Self::Error> {
        encode_value(item, self.framing, dst);
        Ok(())
    }
}

impl Encoder<Value> for JsonCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: Value, dst: &mut BytesMut) -> Result<(), Self::Error> {
        encode_value(&item, self.framing, dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    /// Feeds `chunks` one by one and collects every item, then flushes at EOF.
    fn run(codec: &mut JsonCodec, chunks: &[&[u8]]) -> Vec<Result<Value, FrameError>> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                out.push(item);
            }
        }
        while let Some(item) = codec.decode_eof(&mut buf).unwrap() {
            out.push(item);
        }
        assert!(buf.is_empty(), "decode_eof must consume everything");
        out
    }

    fn values(items: Vec<Result<Value, FrameError>>) -> Vec<Value> {
        items.into_iter().map(|i| i.unwrap()).collect()
    }

    #[test]
    fn coalesced_split_and_whitespace() {
        let mut c = JsonCodec::new();
        let got =
            values(run(&mut c, &[b"{\"a\":1}{\"b\":\"}{\\\"\"}\n  [1,", b"2] 3 \"x\" true\n"]));
        assert_eq!(
            got,
            vec![
                json!({"a":1}),
                json!({"b":"}{\""}),
                json!([1, 2]),
                json!(3),
                json!("x"),
                json!(true)
            ]
        );
    }

    #[test]
    fn garbage_resyncs_on_next_value() {
        let mut c = JsonCodec::new();
        let items = run(&mut c, &[b"hello {\"a\":1} {'x': 1} \xff\xfe {\"b\":2}"]);
        assert!(matches!(items[0], Err(FrameError::Syntax { .. })));
        assert_eq!(items[1].as_ref().unwrap(), &json!({"a":1}));
        assert!(matches!(items[2], Err(FrameError::Syntax { .. })), "python repr");
        assert!(matches!(items[3], Err(FrameError::InvalidUtf8 { .. })));
        assert_eq!(items[4].as_ref().unwrap(), &json!({"b":2}));
        assert_eq!(items.len(), 5);
    }

    #[test]
    fn invalid_utf8_inside_a_string() {
        let mut c = JsonCodec::new();
        let items = run(&mut c, &[b"{\"a\":\"\xc3\x28\"}{\"ok\":1}"]);
        assert!(matches!(items[0], Err(FrameError::InvalidUtf8 { valid_up_to: 6, .. })));
        assert_eq!(items[1].as_ref().unwrap(), &json!({"ok":1}));
    }

    #[test]
    fn oversize_is_reported_once_and_skipped() {
        let mut c = JsonCodec::new().with_max_message_bytes(16);
        let big = format!("{{\"t\":\"{}\"}}", "x".repeat(100));
        let items = run(&mut c, &[big.as_bytes(), b"{\"ok\":1}"]);
        assert!(matches!(items[0], Err(FrameError::Oversize { limit: 16, .. })));
        assert_eq!(items[1].as_ref().unwrap(), &json!({"ok":1}));
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn oversize_in_small_chunks_never_buffers_past_the_limit() {
        let mut c = JsonCodec::new().with_max_message_bytes(32);
        let mut buf = BytesMut::new();
        let mut errors = 0;
        buf.extend_from_slice(b"\"");
        for _ in 0..1000 {
            buf.extend_from_slice(b"abcdefgh");
            while let Some(item) = c.decode(&mut buf).unwrap() {
                assert!(item.is_err());
                errors += 1;
            }
            assert!(buf.len() <= 32);
        }
        assert_eq!(errors, 1);
    }

    /// `§time`: a number beyond a double's range is valid JSON; it reads as `null` (so an
    /// unusable `time` counts as absent), in strings nothing changes, and broken JSON stays
    /// broken.
    #[test]
    fn numbers_out_of_range_read_as_null() {
        let parse = |text: &str| parse_raw(Bytes::copy_from_slice(text.as_bytes()));
        assert_eq!(
            parse(r#"{"action":"fly","time":1e400}"#).unwrap(),
            json!({"action":"fly","time":null})
        );
        assert_eq!(
            parse(r#"{"t":"1e400","n":[-1E+999, 2e3, 1e308],"x":1e400}"#).unwrap(),
            json!({"t":"1e400","n":[null, 2000.0, 1e308],"x":null})
        );
        let long = format!("[1{}]", "0".repeat(400));
        assert_eq!(parse(&long).unwrap(), json!([null]));
        assert_eq!(
            parse(r#"{"s":"a\"1e400","y":1e400}"#).unwrap(),
            json!({"s":"a\"1e400","y":null})
        );
        assert!(matches!(parse(r#"{"time":1e400,}"#), Err(FrameError::Syntax { .. })));
        assert!(matches!(parse("1e400x"), Err(FrameError::Syntax { .. })));
    }

    #[test]
    fn eof_mid_value_is_truncated() {
        let mut c = JsonCodec::new();
        let items = run(&mut c, &[b"{\"a\":1}{\"b\":"]);
        assert_eq!(items[0].as_ref().unwrap(), &json!({"a":1}));
        assert!(matches!(items[1], Err(FrameError::Truncated { .. })));
    }

    #[test]
    fn encoder_writes_compact_json_with_framing() {
        let v = json!({"action":"presence","time":1.5});
        let mut c = JsonCodec::new();
        let mut dst = BytesMut::new();
        c.encode(&v, &mut dst).unwrap();
        assert_eq!(&dst[..], b"{\"action\":\"presence\",\"time\":1.5}\n");
        assert_eq!(to_bytes(&v, Framing::Bare), b"{\"action\":\"presence\",\"time\":1.5}".to_vec());
    }

    #[test]
    fn encoded_len_is_what_the_encoder_writes() {
        for text in [
            "",
            "Alice",
            "a\"b\\c/",
            "\u{0}\u{1f}\u{7f}\u{8}\u{c}\n\r\t",
            "Ива § 😀",
            "ж".repeat(25).as_str(),
        ] {
            let written = to_bytes(&Value::from(text), Framing::Bare).len();
            assert_eq!(encoded_len(text), written, "{text:?}");
        }
    }

    /// Where each value ends, by the rules of `§framing` D2 applied one byte at a time: the
    /// plain definition the fast scanner must agree with.
    fn reference_ends(bytes: &[u8]) -> Vec<usize> {
        let mut ends = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if is_ws(bytes[i]) {
                i += 1;
                continue;
            }
            let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
            let first = bytes[i];
            let mut j = i;
            let end = loop {
                if j == bytes.len() {
                    break (first != b'{' && first != b'[' && first != b'"').then_some(j);
                }
                let b = bytes[j];
                match first {
                    b'{' | b'[' => {
                        if in_string {
                            if escaped {
                                escaped = false;
                            } else if b == b'\\' {
                                escaped = true;
                            } else if b == b'"' {
                                in_string = false;
                            }
                        } else if b == b'"' {
                            in_string = true;
                        } else if b == b'{' || b == b'[' {
                            depth += 1;
                        } else if b == b'}' || b == b']' {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break Some(j + 1);
                            }
                        }
                    }
                    b'"' => {
                        if j > i {
                            if escaped {
                                escaped = false;
                            } else if b == b'\\' {
                                escaped = true;
                            } else if b == b'"' {
                                break Some(j + 1);
                            }
                        }
                    }
                    _ => {
                        if is_ws(b) || b == b'{' || b == b'[' || b == b'"' {
                            break Some(j);
                        }
                    }
                }
                j += 1;
            };
            match end {
                Some(end) => {
                    ends.push(end);
                    i = end;
                }
                None => break,
            }
        }
        ends
    }

    proptest::proptest! {
        /// The fast scanner finds the same value ends as the byte-at-a-time definition, however
        /// the stream is cut into reads.
        #[test]
        fn scanner_agrees_with_the_plain_definition(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"{}[]\"\\ \nax1:,".to_vec()), 0..80),
            cuts in proptest::collection::vec(0usize..80, 0..6),
        ) {
            let expected = reference_ends(&bytes);
            let mut decoder = FrameDecoder::new(1 << 20);
            let mut buf = BytesMut::new();
            let mut consumed = 0;
            let mut got = Vec::new();
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|c| *c < bytes.len()).collect();
            cuts.sort_unstable();
            cuts.push(bytes.len());
            let mut from = 0;
            for to in cuts {
                buf.extend_from_slice(&bytes[from..to]);
                from = to;
                loop {
                    let before = buf.len();
                    let Some(item) = decoder.next_raw(&mut buf, false) else {
                        consumed += before - buf.len();
                        break;
                    };
                    let raw = item.unwrap();
                    consumed += before - buf.len();
                    got.push(consumed);
                    proptest::prop_assert!(!raw.is_empty());
                }
            }
            // A bare token at the very end completes only at end of stream.
            let before = buf.len();
            if let Some(Ok(_)) = decoder.next_raw(&mut buf, true) {
                got.push(consumed + before - buf.len());
            }
            proptest::prop_assert_eq!(got, expected);
        }
    }

    /// JSON-like texts from pieces that are valid, nearly valid and odd.
    fn json_like() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let atom = prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "-0",
            "01",
            "1.5",
            "1.",
            ".5",
            "1e3",
            "1E-2",
            "18446744073709551615",
            "18446744073709551616",
            "1763771234.1234567",
            "0.1",
            "1e400",
            "true",
            "false",
            "null",
            "nul",
            "\"\"",
            "\"a\"",
            "\"a\\\"b\"",
            "\"\\u00e9\"",
            "\"é§😀\"",
            "\"\t\"",
            "\"x",
        ])
        .prop_map(str::to_owned);
        let leaf = atom.boxed();
        leaf.prop_recursive(4, 24, 5, |inner| {
            let key =
                prop::sample::select(vec!["\"a\"", "\"b\"", "\"a\"", "\"\"", "\"k\\n\"", "1"]);
            let sep = prop::sample::select(vec![",", ", ", " ,", ",,", ""]);
            prop_oneof![
                (prop::collection::vec((key, inner.clone()), 0..5), sep.clone()).prop_map(
                    |(fields, sep)| {
                        let fields: Vec<String> =
                            fields.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
                        format!("{{{}}}", fields.join(sep))
                    }
                ),
                (prop::collection::vec(inner, 0..5), sep)
                    .prop_map(|(items, sep)| format!("[{}]", items.join(sep))),
            ]
        })
        .prop_map(|v| format!(" {v}\n"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// The fast reader gives exactly serde_json's value (keys in the same order), or leaves
        /// the text to serde_json.
        #[test]
        fn the_fast_reader_agrees_with_serde_json(text in json_like()) {
            let serde: Result<Value, _> = serde_json::from_str(&text);
            if let Some(fast) = FastParser::parse(&text) {
                let serde = serde.expect("serde_json refused what the fast reader read");
                proptest::prop_assert_eq!(&fast, &serde);
                proptest::prop_assert_eq!(fast.to_string(), serde.to_string());
            }
        }
    }

    #[test]
    fn the_fast_reader_reads_what_clients_usually_send() {
        for text in [
            r#"{"action":"presence","time":1763771234.5,"type":"status","user":{"account_name":"ann","status":"here"}}"#,
            r##"{"action":"msg","time":1763771234,"to":"#room","from":"ann","encoding":"ascii","message":"hi there"}"##,
            r#"{"response":200,"alert":["a","b"]}"#,
        ] {
            let fast = FastParser::parse(text).expect(text);
            assert_eq!(fast.to_string(), serde_json::from_str::<Value>(text).unwrap().to_string());
        }
        assert!(FastParser::parse(r#"{"a":"x\ny"}"#).is_none());
        assert!(FastParser::parse("{\"a\":1}x").is_none());
    }

    #[test]
    fn object_encoder_writes_what_encode_value_writes() {
        let texts = [
            "",
            "plain",
            "q\"b\\s/",
            "\u{0}\u{1f}\u{7f}\n\t",
            "Ива § 😀",
            " ~\u{7f}",
            "a\u{80}",
            "é",
        ];
        for text in texts {
            for time in [0.0, 1.5, 1_763_771_234.123_456, 1e21, -0.0, f64::NAN] {
                for framing in [Framing::Newline, Framing::Bare] {
                    let mut fast = Vec::new();
                    let mut obj = ObjectEncoder::new(&mut fast);
                    obj.u64("response", 200).f64("time", time).str(text, text);
                    obj.finish(framing);
                    let mut map = serde_json::Map::new();
                    map.insert("response".into(), 200.into());
                    map.insert("time".into(), Value::from(time));
                    map.insert(text.into(), text.into());
                    let slow = to_bytes(&Value::Object(map), framing);
                    assert_eq!(&fast[..], &slow[..], "{text:?} {time}");
                }
            }
        }
        let mut empty = Vec::new();
        ObjectEncoder::new(&mut empty).finish(Framing::Bare);
        assert_eq!(&empty[..], b"{}");
    }

    #[test]
    fn encoder_escapes_non_ascii_like_python() {
        // Python: json.dumps({"t": "Ива § 😀"}, separators=(",", ":"))
        let v = json!({"t": "Ива § 😀"});
        let out = to_bytes(&v, Framing::Bare);
        assert_eq!(out, br#"{"t":"\u0418\u0432\u0430 \u00a7 \ud83d\ude00"}"#.to_vec());
        let back: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, v);
    }
}
