//! Escapes for raw bytes written in a fixture (`send_raw`) or on a command line (`jim-client
//! send --raw`): the one escape decoder of the workspace, so that every reproduction the runner
//! prints means the same bytes to `jim-client`.
//!
//! Reproducing a framing problem needs exact bytes: a newline in the middle of a value, a lone
//! `0xFF`, a half message. Shells and JSON make those awkward, so raw text takes escapes:
//! `\n`, `\r`, `\t`, `\0`, `\\`, `\"`, `\'`, `\xNN` (one byte) and `\u{HEX}` (the UTF-8 of a
//! code point).

/// Turns an escaped string into bytes, or says which escape is wrong.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some((_, e)) = chars.next() else {
            return Err(format!("a lone backslash ends {text:?}: write \\\\ for a backslash"));
        };
        match e {
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            '0' => out.push(0),
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            '\'' => out.push(b'\''),
            'x' => {
                let hex: String = (0..2).filter_map(|_| chars.next().map(|(_, h)| h)).collect();
                let byte = (hex.len() == 2)
                    .then(|| u8::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| {
                        format!("bad escape at byte {at} of {text:?}: \\x needs two hex digits")
                    })?;
                out.push(byte);
            }
            'u' => {
                let bad = || format!("bad escape at byte {at} of {text:?}: write \\u{{41}}");
                if chars.next().map(|(_, c)| c) != Some('{') {
                    return Err(bad());
                }
                let mut hex = String::new();
                loop {
                    match chars.next() {
                        Some((_, '}')) => break,
                        Some((_, h)) if h.is_ascii_hexdigit() && hex.len() < 6 => hex.push(h),
                        _ => return Err(bad()),
                    }
                }
                let c =
                    u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32).ok_or_else(bad)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            other => {
                return Err(format!(
                    "unknown escape \\{other} at byte {at} of {text:?}: use \\n \\r \\t \\0 \\\\ \\xNN or \\u{{HEX}}"
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape(r#"{"a":1}\n"#).unwrap(), b"{\"a\":1}\n");
        assert_eq!(unescape(r"\xff\x00\t\r\\").unwrap(), vec![0xff, 0, b'\t', b'\r', b'\\']);
        assert_eq!(unescape(r"\u{418}ж").unwrap(), "Иж".as_bytes());
        assert!(unescape(r"\q").is_err());
        assert!(unescape(r"\x4").is_err());
        assert!(unescape(r"\xZZ").is_err());
        assert!(unescape(r"\u{110000}").is_err());
        assert!(unescape("\\").is_err());
    }
}
