//! What a local sandbox's jail writes to its standard error (its agent's log, and whatever its code writes to a
//! descriptor it can reach there) reaches the developer's terminal only through here: line by line, each
//! prefixed with the sandbox's id, stripped of escape sequences and other control characters (so it cannot
//! retitle the terminal, move its cursor or pass as another line), each line bounded, and at most
//! `LINES_PER_SECOND` a second, the rest counted and said to be dropped.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

/// The most of one line shown; the rest is cut and marked.
pub const MAX_LINE: usize = 2048;
/// Lines of one jail shown per second.
pub const LINES_PER_SECOND: u32 = 200;

/// `line` as it may reach a terminal: escape sequences (CSI, OSC, and the two-byte ones) removed, every other
/// control character but tab removed, invalid UTF-8 replaced, at most `MAX_LINE` bytes.
pub fn clean(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out = String::with_capacity(text.len().min(MAX_LINE));
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() >= MAX_LINE {
            out.push_str(" [cut]");
            break;
        }
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates up to a final byte in @..~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC, DCS, SOS, PM, APC: up to BEL or ST (ESC \).
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// How many lines may pass in the current second, and how many were dropped since the last said so.
pub struct Throttle {
    window: Instant,
    passed: u32,
    dropped: u64,
}

impl Throttle {
    pub fn new(now: Instant) -> Throttle {
        Throttle { window: now, passed: 0, dropped: 0 }
    }

    /// Whether a line at `now` passes, and, when a new second begins after drops, how many were dropped.
    pub fn admit(&mut self, now: Instant) -> (bool, Option<u64>) {
        let mut said = None;
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.passed = 0;
            said = Some(std::mem::take(&mut self.dropped)).filter(|n| *n > 0);
        }
        if self.passed < LINES_PER_SECOND {
            self.passed += 1;
            (true, said)
        } else {
            self.dropped += 1;
            (false, said)
        }
    }
}

/// Reads the jail's standard error until it closes, writing what passes to this agent's standard error.
pub fn relay(id: String, pipe: OwnedFd) {
    tokio::spawn(async move {
        let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(pipe) else { return };
        let mut throttle = Throttle::new(Instant::now());
        let mut pending: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = match pipe.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pending.extend_from_slice(&chunk[..n]);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                show(&id, &line[..line.len() - 1], &mut throttle);
            }
            // A line that never ends is shown in parts rather than held.
            if pending.len() > MAX_LINE {
                let line = std::mem::take(&mut pending);
                show(&id, &line, &mut throttle);
            }
        }
        if !pending.is_empty() {
            show(&id, &pending, &mut throttle);
        }
    });
}

fn show(id: &str, line: &[u8], throttle: &mut Throttle) {
    let (pass, dropped) = throttle.admit(Instant::now());
    let mut err = std::io::stderr().lock();
    if let Some(n) = dropped {
        let _ = writeln!(err, "sandbox {id}| ({n} lines dropped: more than {LINES_PER_SECOND} a second)");
    }
    if pass {
        let _ = writeln!(err, "sandbox {id}| {}", clean(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_removed() {
        assert_eq!(clean(b"plain\ttext"), "plain\ttext");
        assert_eq!(clean(b"\x1b]0;pwned title\x07after"), "after");
        assert_eq!(clean(b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"), "link");
        assert_eq!(clean(b"\x1b[2J\x1b[1;31mred\x1b[0m"), "red");
        assert_eq!(clean(b"a\rforged\x08\x7fb"), "aforgedb");
        assert_eq!(clean("c1\u{9b}31m".as_bytes()), "c131m");
        assert_eq!(clean(b"\xff\xfe"), "\u{fffd}\u{fffd}");
        assert_eq!(clean(b"\x1b[1;2unfinished"), "nfinished");
        assert_eq!(clean(b"\x1b]0;never closed"), "");
    }

    #[test]
    fn a_long_line_is_cut() {
        let line = clean(&vec![b'x'; MAX_LINE * 3]);
        assert!(line.len() <= MAX_LINE + 8 && line.ends_with("[cut]"), "{}", line.len());
    }

    #[test]
    fn a_flood_is_bounded_and_counted() {
        let t0 = Instant::now();
        let mut throttle = Throttle::new(t0);
        let passed = (0..1000).filter(|_| throttle.admit(t0).0).count();
        assert_eq!(passed, LINES_PER_SECOND as usize);
        let (pass, said) = throttle.admit(t0 + Duration::from_millis(1001));
        assert!(pass);
        assert_eq!(said, Some(1000 - LINES_PER_SECOND as u64));
        assert_eq!(throttle.admit(t0 + Duration::from_millis(2500)).1, None);
    }
}
