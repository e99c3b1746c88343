//! Command output as the API carries it: capped capture for buffered results, UTF-8 decoding that never splits a
//! character across stream chunks, and the one-trailing-newline rule of text results. Pure logic, no I/O.

use base64::Engine;
use sandbox_protocol::Encoding;

/// Bytes of one stream (stdout or stderr) kept up to a cap; what comes after the cap, or what the memory budget
/// has no room for (`session::collector` decides), is counted, not kept.
#[derive(Debug)]
pub struct Capture {
    bytes: Vec<u8>,
    cap: usize,
    dropped: u64,
}

impl Capture {
    pub fn new(cap: usize) -> Self {
        Self { bytes: Vec::new(), cap, dropped: 0 }
    }

    /// How many more bytes the cap leaves room for.
    pub fn room(&self) -> usize {
        self.cap.saturating_sub(self.bytes.len())
    }

    /// Keeps the first `keep` bytes of `chunk` (at most the room left) and counts the rest as dropped.
    pub fn keep(&mut self, chunk: &[u8], keep: usize) {
        let keep = keep.min(self.room()).min(chunk.len());
        self.bytes.extend_from_slice(&chunk[..keep]);
        self.dropped += (chunk.len() - keep) as u64;
    }

    pub fn truncated(&self) -> bool {
        self.dropped > 0
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The whole output of a buffered result in the requested encoding. Text drops exactly one trailing `\n`
/// (so `echo hi` gives `"hi"`) and replaces invalid UTF-8; base64 keeps every byte. Valid UTF-8, the usual case,
/// becomes the text without a copy.
pub fn encode_result(mut bytes: Vec<u8>, encoding: Encoding) -> String {
    match encoding {
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        Encoding::Utf8 => {
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            String::from_utf8(bytes).unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
        }
    }
}

/// Encodes stream chunks. For text, a character split between two chunks is held back until it is whole, so the
/// concatenated events equal the lossy decoding of the whole output.
#[derive(Debug, Default)]
pub struct ChunkEncoder {
    encoding: Encoding,
    pending: Vec<u8>,
}

impl ChunkEncoder {
    pub fn new(encoding: Encoding) -> Self {
        Self { encoding, pending: Vec::new() }
    }

    /// The encoded text of `chunk`, or `None` when all of it is held back.
    pub fn push(&mut self, chunk: &[u8]) -> Option<String> {
        if self.encoding == Encoding::Base64 {
            return Some(base64::engine::general_purpose::STANDARD.encode(chunk));
        }
        self.pending.extend_from_slice(chunk);
        let keep_from = incomplete_tail_start(&self.pending);
        let tail = self.pending.split_off(keep_from);
        let whole = std::mem::replace(&mut self.pending, tail);
        if whole.is_empty() {
            None
        } else {
            Some(String::from_utf8_lossy(&whole).into_owned())
        }
    }

    /// Whatever is still held back, decoded as it is.
    pub fn finish(&mut self) -> Option<String> {
        if self.pending.is_empty() {
            None
        } else {
            Some(String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned())
        }
    }
}

/// Where a UTF-8 sequence that could still be completed by more bytes starts (the buffer's length if none).
pub(crate) fn incomplete_tail_start(buf: &[u8]) -> usize {
    let len = buf.len();
    for back in 1..=len.min(3) {
        let b = buf[len - back];
        if b & 0b1100_0000 == 0b1000_0000 {
            continue; // continuation byte: look further back for the lead byte
        }
        let needed = match b {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return len,
        };
        return if back < needed { len - back } else { len };
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_up_to_the_cap_and_reports_the_rest() {
        let mut c = Capture::new(5);
        c.keep(b"abc", 3);
        assert!(!c.truncated());
        c.keep(b"defg", 4);
        assert_eq!(c.bytes(), b"abcde");
        assert!(c.truncated());
    }

    #[test]
    fn capture_keeps_what_it_is_told_within_the_cap() {
        let mut c = Capture::new(5);
        c.keep(b"abc", 2);
        assert_eq!((c.bytes(), c.room(), c.truncated()), (&b"ab"[..], 3, true));
        c.keep(b"cdefg", 9);
        assert_eq!(c.bytes(), b"abcde");
    }

    #[test]
    fn text_results_drop_exactly_one_trailing_newline() {
        assert_eq!(encode_result(b"secret-key\n".to_vec(), Encoding::Utf8), "secret-key");
        assert_eq!(encode_result(b"a\n\n".to_vec(), Encoding::Utf8), "a\n");
        assert_eq!(encode_result(b"no newline".to_vec(), Encoding::Utf8), "no newline");
        assert_eq!(encode_result(b"crlf\r\n".to_vec(), Encoding::Utf8), "crlf\r");
        assert_eq!(encode_result(b"".to_vec(), Encoding::Utf8), "");
    }

    #[test]
    fn text_results_replace_invalid_utf8_and_keep_nul() {
        assert_eq!(encode_result(b"a\0b\xffc".to_vec(), Encoding::Utf8), "a\0b\u{fffd}c");
    }

    #[test]
    fn base64_results_keep_every_byte() {
        assert_eq!(encode_result(b"a\n".to_vec(), Encoding::Base64), "YQo=");
    }

    #[test]
    fn chunks_never_split_a_character() {
        let text = "héllo → wörld 🎉".as_bytes();
        for split in 0..text.len() {
            let mut enc = ChunkEncoder::new(Encoding::Utf8);
            let mut out = String::new();
            out.extend(enc.push(&text[..split]));
            out.extend(enc.push(&text[split..]));
            out.extend(enc.finish());
            assert_eq!(out, "héllo → wörld 🎉", "split at {split}");
        }
    }

    #[test]
    fn chunks_pass_invalid_bytes_through_as_replacement() {
        let mut enc = ChunkEncoder::new(Encoding::Utf8);
        assert_eq!(enc.push(b"a\xff").as_deref(), Some("a\u{fffd}"));
        assert_eq!(enc.push(b"\xe2\x82").as_deref(), None);
        assert_eq!(enc.finish().as_deref(), Some("\u{fffd}"));
    }
}
