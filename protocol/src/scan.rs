//! Searching JSON text for the bytes that matter, eight bytes at a time.
//!
//! Strings are the long parts of JIM messages (texts, keys, names), and every reader and writer
//! in this project asks the same three questions of them: where does this string end (a `"` or a
//! `\`), where does it stop being plain for a reader (add control characters), and where does it
//! stop being plain for an ASCII writer (add every byte from 0x80). Each search looks at one
//! little-endian `u64` at a time (SWAR: the high bit of each byte that stops the search is set;
//! the lowest mark is exact, since a borrow can only mark bytes above a real match), and finishes
//! the tail with a byte table. The table is the definition; the property tests hold the word
//! searches to it. The decoder, the fast reader and the encoder of [`crate::codec`] use these,
//! and so does the load engine's reply classifier: one copy.

/// The offset of the first `"` or `\` in `bytes`: where a JSON string ends or escapes.
#[inline]
pub fn find_quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    find_swar(bytes, |x| eq_mask(x, b'"') | eq_mask(x, b'\\'), &STRING_STOPS)
}

/// The offset of the first `"`, `\` or control character (below 0x20) in `bytes`: where a
/// reader must stop copying a string as it is (its end, an escape, or a byte JSON forbids raw).
#[inline]
pub fn find_not_plain_input(bytes: &[u8]) -> Option<usize> {
    find_swar(bytes, input_string_mask, &NEEDS_ESCAPE_IN_INPUT)
}

/// The offset of the first `"`, `\`, control character or non-ASCII byte (0x80 and up) in
/// `bytes`: where an ASCII-only writer (PROTOCOL.md `§encoding`) must stop copying a string as it
/// is, and where a reader that takes only printable ASCII strings gives up.
#[inline]
pub fn find_not_plain_ascii(bytes: &[u8]) -> Option<usize> {
    find_swar(bytes, output_string_mask, &NEEDS_ESCAPE)
}

/// The offset of the first byte of `bytes` marked in `stops` (a table lookup per byte).
#[inline]
pub(crate) fn find(bytes: &[u8], stops: &[bool; 256]) -> Option<usize> {
    bytes.iter().position(|&b| stops[usize::from(b)])
}

/// `mask` marks the high bit of each byte of a little-endian word that stops the search (the
/// lowest mark must be exact; marks above it may be false), `stops` says the same per byte for
/// the tail.
#[inline]
fn find_swar(bytes: &[u8], mask: impl Fn(u64) -> u64, stops: &[bool; 256]) -> Option<usize> {
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let marks = mask(u64::from_le_bytes(*chunk));
        if marks != 0 {
            return Some(i + (marks.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let tail = bytes.get(i..).unwrap_or_default();
    find(tail, stops).map(|k| i + k)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `x` equal to `b` (see [`find_swar`]: a borrow can only mark bytes above a match).
#[inline]
fn eq_mask(x: u64, b: u8) -> u64 {
    let v = x ^ (ONES * u64::from(b));
    v.wrapping_sub(ONES) & !v & HIGHS
}

/// The bytes of `x` below `n` (`n` at most 0x80), in the same way.
#[inline]
fn lt_mask(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

/// [`NEEDS_ESCAPE_IN_INPUT`] a word at a time.
#[inline]
fn input_string_mask(x: u64) -> u64 {
    eq_mask(x, b'"') | eq_mask(x, b'\\') | lt_mask(x, 0x20)
}

/// [`NEEDS_ESCAPE`] a word at a time.
#[inline]
fn output_string_mask(x: u64) -> u64 {
    eq_mask(x, b'"') | eq_mask(x, b'\\') | lt_mask(x, 0x20) | (x & HIGHS)
}

/// A byte table with `true` at each byte of `bytes`.
pub(crate) const fn byte_table(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}

/// Inside a string: the bytes that can end it or escape the next one.
static STRING_STOPS: [bool; 256] = byte_table(b"\"\\");

/// What ends a reader's plain copy of a string: its closing quote, a backslash, or a control
/// character (which JSON forbids unescaped).
static NEEDS_ESCAPE_IN_INPUT: [bool; 256] = {
    let mut table = byte_table(b"\"\\");
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table
};

/// The bytes a JSON string writer must escape (`"`, `\`, control characters) or that the ASCII
/// formatter rewrites (everything from 0x80).
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = byte_table(b"\"\\");
    let mut b = 0;
    while b < 256 {
        if b < 0x20 || b >= 0x80 {
            table[b] = true;
        }
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The word-at-a-time searches find what the byte tables find.
        #[test]
        fn word_searches_agree_with_the_tables(
            bytes in proptest::collection::vec(proptest::sample::select(
                vec![b'a', b' ', b'"', b'\\', 0x1f, 0x20, 0x7f, 0x80, 0xc3, 0xff, 0x00, 0x21, 0x5b]), 0..40),
        ) {
            let table = |t: &[bool; 256]| bytes.iter().position(|&b| t[usize::from(b)]);
            proptest::prop_assert_eq!(find_quote_or_backslash(&bytes), table(&STRING_STOPS));
            proptest::prop_assert_eq!(find_not_plain_input(&bytes), table(&NEEDS_ESCAPE_IN_INPUT));
            proptest::prop_assert_eq!(find_not_plain_ascii(&bytes), table(&NEEDS_ESCAPE));
        }
    }

    #[test]
    fn the_tables_say_what_the_names_say() {
        for b in 0..=255u8 {
            let i = usize::from(b);
            assert_eq!(STRING_STOPS[i], b == b'"' || b == b'\\');
            assert_eq!(NEEDS_ESCAPE_IN_INPUT[i], STRING_STOPS[i] || b < 0x20);
            assert_eq!(NEEDS_ESCAPE[i], NEEDS_ESCAPE_IN_INPUT[i] || b >= 0x80);
        }
    }
}
