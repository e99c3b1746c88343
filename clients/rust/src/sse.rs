//! Server-sent events: splits a byte stream into the `data:` payloads of its events. Pure; the I/O is elsewhere.

/// Feed it chunks as they come; it returns each complete event's data (its `data:` lines joined by `\n`).
#[derive(Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Vec<String>,
}

impl SseParser {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &byte in chunk {
            if byte != b'\n' {
                self.line.push(byte);
                continue;
            }
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.is_empty() {
                if !self.data.is_empty() {
                    events.push(std::mem::take(&mut self.data).join("\n"));
                }
            } else if let Some(rest) = line.strip_prefix(b"data:") {
                let rest = rest.strip_prefix(b" ").unwrap_or(rest);
                self.data.push(String::from_utf8_lossy(rest).into_owned());
            }
        }
        events
    }

    /// The last event, when the stream ended without the blank line after it.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.line);
        if let Some(data) = rest.strip_prefix(b"data:") {
            self.data.push(String::from_utf8_lossy(data.strip_prefix(b" ").unwrap_or(data)).into_owned());
        }
        (!self.data.is_empty()).then(|| std::mem::take(&mut self.data).join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_comments_skipped() {
        let mut p = SseParser::default();
        assert!(p.push(b": comment\ndata: {\"a\"").is_empty());
        assert_eq!(p.push(b":1}\n\ndata:x\r\ndata: y\n\n"), vec!["{\"a\":1}".to_string(), "x\ny".to_string()]);
        assert_eq!(p.push(b"data: last"), Vec::<String>::new());
        assert_eq!(p.finish().as_deref(), Some("last"));
        assert_eq!(p.finish(), None);
    }
}
