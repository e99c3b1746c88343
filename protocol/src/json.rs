//! JSON strings written fast, for the few answers that carry megabytes of text (an exec's output): the same bytes
//! as serde_json writes (tested), but scanned eight bytes at a time for the ones that need escaping.

/// Bytes with their high bit set in each of the eight lanes.
const HIGH: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// Whether any of the eight bytes in `word` needs escaping in a JSON string: a control character (below 0x20),
/// `"` or `\`. Exact: never a false answer either way.
fn any_to_escape(word: u64) -> bool {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    (below_space | zero_byte(quote) | zero_byte(backslash)) != 0
}

fn escape(byte: u8) -> Option<&'static [u8]> {
    Some(match byte {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0c => b"\\f",
        _ => return None,
    })
}

/// Whether each byte needs escaping in a JSON string: a control character, `"` or `\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// How many bytes are gone through one at a time after a word that holds a byte to escape.
const DENSE_RUN: usize = 32;

/// Writes `text` as a JSON string, quotes included. Eight bytes at a time while none needs escaping; from a word
/// that holds one, `DENSE_RUN` bytes one at a time (a table lookup each), so text dense with escapes does not pay
/// for words checked in vain, and plain text is scanned a word at a time.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        let end = match bytes.get(at..at + 8) {
            Some(word) => {
                if !any_to_escape(u64::from_le_bytes(word.try_into().unwrap_or_default())) {
                    at += 8;
                    continue;
                }
                // Where one byte needs escaping, others tend to be near: go on byte by byte for a while.
                (at + DENSE_RUN).min(bytes.len())
            }
            None => bytes.len(),
        };
        for (i, &byte) in bytes[at..end].iter().enumerate() {
            if !NEEDS_ESCAPE[usize::from(byte)] {
                continue;
            }
            let here = at + i;
            out.extend_from_slice(&bytes[copied..here]);
            match escape(byte) {
                Some(short) => out.extend_from_slice(short),
                None => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 15)],
                ]),
            }
            copied = here + 1;
        }
        at = end;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ours(text: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_byte_that_needs_it_is_escaped_as_serde_does() {
        for c in (0u8..=0x7f).map(char::from).chain(['\u{e9}', '\u{2028}', '\u{1f600}']) {
            for text in [c.to_string(), format!("{c}abcdefgh"), format!("abcdefgh{c}"), format!("abcdefg{c}xyz")] {
                assert_eq!(ours(&text), serde_json::to_string(&text).unwrap(), "{text:?}");
            }
        }
        assert_eq!(ours(""), "\"\"");
    }

    proptest! {
        #[test]
        fn any_text_is_written_as_serde_writes_it(text in any::<String>()) {
            prop_assert_eq!(ours(&text), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn text_mostly_plain_is_written_as_serde_writes_it(text in "[a-z \"\\\\\n\t\u{1}\u{1f}é]{0,80}") {
            prop_assert_eq!(ours(&text), serde_json::to_string(&text).unwrap());
        }
    }
}
