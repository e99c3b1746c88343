//! Waiting inside the sandbox for a process to reach a point: its end, a line of its output, or a port that answers.
//! One call does the whole wait; nothing polls from outside. The line matcher is pure.

use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use sandbox_protocol::{ErrorCode, LogStream, ProcessInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ring::{Piece, Stream};
use super::Proc;
use crate::error::{AgentError, AgentResult};

/// Longest line a log wait looks at: a longer one is matched on its first part.
const MAX_LINE: usize = 64 * 1024;
/// How often a port wait tries to connect.
const PORT_POLL: Duration = Duration::from_millis(50);
/// How long one try of a port wait may take.
const PORT_TRY: Duration = Duration::from_secs(2);

pub enum Pattern {
    Text(String),
    Regex(Regex),
}

impl Pattern {
    pub fn new(text: &str, regex: bool) -> Result<Pattern, String> {
        if text.is_empty() {
            return Err("pattern must not be empty".into());
        }
        if !regex {
            return Ok(Pattern::Text(text.to_string()));
        }
        regex::RegexBuilder::new(text)
            .size_limit(1 << 20)
            .build()
            .map(Pattern::Regex)
            .map_err(|e| format!("pattern is not a regular expression this agent reads: {e}"))
    }

    fn matches(&self, line: &str) -> bool {
        match self {
            Pattern::Text(text) => line.contains(text.as_str()),
            Pattern::Regex(regex) => regex.is_match(line),
        }
    }
}

/// Finds the first line of a process's output that matches, reading the output piece by piece as it comes. A line
/// still being written is tried too (a prompt without a newline), and again once it is longer.
pub struct LineMatcher {
    pattern: Pattern,
    streams: [bool; 2],
    partial: [Vec<u8>; 2],
    /// Offset in the whole output up to which pieces were fed.
    pub next: u64,
}

impl LineMatcher {
    pub fn new(pattern: Pattern, stream: Option<LogStream>) -> LineMatcher {
        let streams = match stream {
            None => [true, true],
            Some(LogStream::Stdout) => [true, false],
            Some(LogStream::Stderr) => [false, true],
        };
        LineMatcher { pattern, streams, partial: [Vec::new(), Vec::new()], next: 0 }
    }

    /// Feeds pieces read from `self.next` on; the matching line, if one now matches.
    pub fn feed(&mut self, pieces: &[Piece]) -> Option<String> {
        for piece in pieces {
            self.next = piece.end;
            let i = match piece.stream {
                Stream::Stdout => 0,
                Stream::Stderr => 1,
            };
            if !self.streams[i] {
                continue;
            }
            let mut rest = piece.bytes.as_slice();
            while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
                self.take(i, &rest[..newline]);
                let line = std::mem::take(&mut self.partial[i]);
                if let Some(found) = self.check(&line) {
                    return Some(found);
                }
                rest = &rest[newline + 1..];
            }
            self.take(i, rest);
            if !self.partial[i].is_empty() {
                if let Some(found) = self.check(&self.partial[i]) {
                    return Some(found);
                }
            }
        }
        None
    }

    fn take(&mut self, i: usize, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.partial[i].len());
        self.partial[i].extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn check(&self, line: &[u8]) -> Option<String> {
        let text = String::from_utf8_lossy(line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        self.pattern.matches(text).then(|| text.to_string())
    }
}

/// Waits until a line matches (looking first at what the ring still holds). Fails when the process ends first.
pub async fn for_log(proc: &Arc<Proc>, mut matcher: LineMatcher) -> AgentResult<String> {
    let mut changes = proc.subscribe();
    loop {
        changes.borrow_and_update();
        let (_, pieces, ended) = proc.read_from(matcher.next, 1 << 20);
        if let Some(line) = matcher.feed(&pieces) {
            return Ok(line);
        }
        if let Some(info) = ended {
            return Err(exited_first(&info, "no line of its output matched"));
        }
        if pieces.is_empty() && changes.changed().await.is_err() {
            return Err(AgentError::internal("the process's record went away"));
        }
    }
}

/// Waits until the process has ended.
pub async fn for_exit(proc: &Arc<Proc>) -> ProcessInfo {
    let mut changes = proc.subscribe();
    loop {
        changes.borrow_and_update();
        if proc.status().ended() {
            return proc.info();
        }
        if changes.changed().await.is_err() {
            return proc.info();
        }
    }
}

/// Waits until something listens on `port` on the loopback interface and, with `path`, answers a `GET` of it with
/// `status`. Fails when the process ends first.
pub async fn for_port(proc: &Arc<Proc>, port: u16, http: Option<(&str, u16)>) -> AgentResult<()> {
    loop {
        if answers(port, http).await {
            return Ok(());
        }
        if proc.status().ended() {
            let what = match http {
                Some((path, status)) => format!("port {port} did not answer GET {path} with {status}"),
                None => format!("nothing listened on port {port}"),
            };
            return Err(exited_first(&proc.info(), &what));
        }
        tokio::time::sleep(PORT_POLL).await;
    }
}

async fn answers(port: u16, http: Option<(&str, u16)>) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let Some((path, status)) = http else { return Some(true) };
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 64];
        let mut read = 0;
        while read < 12 {
            match stream.read(&mut head[read..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
        Some(status_of(&head[..read]) == Some(status))
    };
    tokio::time::timeout(PORT_TRY, attempt).await.ok().flatten().unwrap_or(false)
}

/// The status code of an HTTP/1.x status line.
fn status_of(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head.get(..12)?).ok()?;
    let rest = text.strip_prefix("HTTP/1.")?;
    rest.get(2..5)?.parse().ok()
}

fn exited_first(info: &ProcessInfo, what: &str) -> AgentError {
    let how = match (&info.signal, info.exit_code) {
        (Some(signal), _) => format!("killed by {signal}"),
        (None, Some(code)) => format!("exit code {code}"),
        (None, None) => "its end".to_string(),
    };
    AgentError::new(ErrorCode::ProcessExited, format!("process {} ended first ({how}): {what}", info.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(stream: Stream, end: u64, text: &str) -> Piece {
        Piece { stream, end, bytes: text.as_bytes().to_vec() }
    }

    #[test]
    fn a_line_matches_across_pieces_and_a_prompt_matches_without_its_newline() {
        let mut m = LineMatcher::new(Pattern::new("Ready on", false).unwrap(), None);
        assert_eq!(m.feed(&[piece(Stream::Stdout, 6, "start\nRe")]), None);
        assert_eq!(m.next, 6);
        assert_eq!(m.feed(&[piece(Stream::Stdout, 20, "ady on port")]).as_deref(), Some("Ready on port"));
    }

    #[test]
    fn only_the_asked_stream_is_read_and_lines_of_the_two_do_not_mix() {
        let mut m = LineMatcher::new(Pattern::new("error: x", false).unwrap(), Some(LogStream::Stderr));
        assert_eq!(m.feed(&[piece(Stream::Stdout, 9, "error: x\n")]), None);
        assert_eq!(m.feed(&[piece(Stream::Stderr, 15, "error:"), piece(Stream::Stdout, 18, " x\n")]), None);
        assert_eq!(m.feed(&[piece(Stream::Stderr, 21, " x\r\n")]).as_deref(), Some("error: x"));
    }

    #[test]
    fn regular_expressions_are_checked_and_bounded() {
        let mut m = LineMatcher::new(Pattern::new(r"listening on :(\d+)$", true).unwrap(), None);
        assert_eq!(m.feed(&[piece(Stream::Stdout, 24, "listening on :8080\n")]).as_deref(), Some("listening on :8080"));
        assert!(Pattern::new("(", true).is_err());
        assert!(Pattern::new("", false).is_err());
        assert!(Pattern::new(r"\w{1000}{1000}", true).is_err(), "too large a program is refused");
    }

    #[test]
    fn status_lines_are_read() {
        assert_eq!(status_of(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status_of(b"HTTP/1.0 404 Not Found"), Some(404));
        assert_eq!(status_of(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(status_of(b"HTTP/1.1 2"), None);
    }
}
