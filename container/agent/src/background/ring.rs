//! A background process's output: stdout and stderr in the order they were written, in one ring bounded in bytes.
//! Pure.
//!
//! Every byte has an absolute position in the whole output (both streams, in order: the *offset* a live stream's
//! events carry and resume from) and one in its own stream (what `logs` reports). When the ring is full the oldest
//! bytes go, and how many went is always known: nothing is dropped silently. Chunks are kept as they were read, so
//! the interleaving of the two streams survives a replay.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

#[derive(Debug)]
struct Chunk {
    stream: Stream,
    /// Offset of its first byte in the whole output.
    at: u64,
    /// Offset of its first byte in its own stream.
    stream_at: u64,
    bytes: Vec<u8>,
}

/// A piece of the output as read back: its stream, where it ends in the whole output (the position to resume
/// after it), and its bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Piece {
    pub stream: Stream,
    pub end: u64,
    pub bytes: Vec<u8>,
}

/// One stream's bytes still held, and where they sit in that stream.
#[derive(Debug, PartialEq, Eq)]
pub struct StreamLog {
    /// Offset (in this stream) of the first byte held: the bytes before it were dropped.
    pub from: u64,
    /// Bytes this stream has written in all.
    pub to: u64,
    pub bytes: Vec<u8>,
}

#[derive(Debug)]
pub struct Ring {
    chunks: VecDeque<Chunk>,
    cap: usize,
    held: usize,
    /// Bytes written in all, both streams, and each stream's.
    end: u64,
    stream_end: [u64; 2],
}

impl Ring {
    /// A ring that holds at most `cap` bytes (at least 1).
    pub fn new(cap: usize) -> Ring {
        Ring { chunks: VecDeque::new(), cap: cap.max(1), held: 0, end: 0, stream_end: [0; 2] }
    }

    pub fn push(&mut self, stream: Stream, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let i = stream.index();
        // A write larger than the ring keeps only its tail.
        let skip = bytes.len().saturating_sub(self.cap);
        let kept = &bytes[skip..];
        let chunk = Chunk {
            stream,
            at: self.end + skip as u64,
            stream_at: self.stream_end[i] + skip as u64,
            bytes: kept.to_vec(),
        };
        self.end += bytes.len() as u64;
        self.stream_end[i] += bytes.len() as u64;
        self.held += kept.len();
        self.chunks.push_back(chunk);
        self.evict();
    }

    /// Drops the oldest bytes until the ring holds at most `cap`.
    fn evict(&mut self) {
        while self.held > self.cap {
            let over = self.held - self.cap;
            let first = self.chunks.front_mut().expect("bytes held are in chunks");
            if first.bytes.len() <= over {
                self.held -= first.bytes.len();
                self.chunks.pop_front();
            } else {
                first.bytes.drain(..over);
                first.at += over as u64;
                first.stream_at += over as u64;
                self.held -= over;
            }
        }
    }

    /// Offset of the first byte still held in the whole output (everything before it was dropped).
    pub fn start(&self) -> u64 {
        self.chunks.front().map_or(self.end, |c| c.at)
    }

    /// Bytes written in all, both streams.
    #[cfg(test)]
    pub fn end(&self) -> u64 {
        self.end
    }

    /// What was written from offset `from` on, at most about `max` bytes (whole chunks, the first one cut at
    /// `from`, and at least one piece when there is any), and how many bytes from `from` on were dropped before it.
    pub fn read_from(&self, from: u64, max: usize) -> (u64, Vec<Piece>) {
        let start = self.start();
        let dropped = start.saturating_sub(from);
        let from = from.max(start);
        let mut pieces = Vec::new();
        let mut taken = 0;
        // The chunks are in order of `at`: find the first that ends after `from`.
        let first = self.chunks.partition_point(|c| c.at + c.bytes.len() as u64 <= from);
        for chunk in self.chunks.range(first..) {
            if taken >= max && !pieces.is_empty() {
                break;
            }
            let skip = from.saturating_sub(chunk.at) as usize;
            let bytes = chunk.bytes[skip..].to_vec();
            taken += bytes.len();
            pieces.push(Piece { stream: chunk.stream, end: chunk.at + chunk.bytes.len() as u64, bytes });
        }
        (dropped, pieces)
    }

    /// One stream's bytes still held.
    pub fn stream(&self, stream: Stream) -> StreamLog {
        let i = stream.index();
        let mut bytes = Vec::new();
        let mut from = None;
        for chunk in self.chunks.iter().filter(|c| c.stream == stream) {
            from.get_or_insert(chunk.stream_at);
            bytes.extend_from_slice(&chunk.bytes);
        }
        let to = self.stream_end[i];
        StreamLog { from: from.unwrap_or(to), to, bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(pieces: &[Piece]) -> String {
        pieces.iter().map(|p| String::from_utf8_lossy(&p.bytes).into_owned()).collect()
    }

    #[test]
    fn the_streams_keep_their_order_and_their_own_offsets() {
        let mut r = Ring::new(100);
        r.push(Stream::Stdout, b"one ");
        r.push(Stream::Stderr, b"err ");
        r.push(Stream::Stdout, b"two");
        let (dropped, pieces) = r.read_from(0, usize::MAX);
        assert_eq!(dropped, 0);
        assert_eq!(text(&pieces), "one err two");
        assert_eq!(pieces.iter().map(|p| p.end).collect::<Vec<_>>(), [4, 8, 11]);
        assert_eq!(r.stream(Stream::Stdout), StreamLog { from: 0, to: 7, bytes: b"one two".to_vec() });
        assert_eq!(r.stream(Stream::Stderr), StreamLog { from: 0, to: 4, bytes: b"err ".to_vec() });
    }

    #[test]
    fn reading_resumes_inside_a_chunk_without_loss_or_repeat() {
        let mut r = Ring::new(100);
        r.push(Stream::Stdout, b"abcdef");
        r.push(Stream::Stderr, b"XY");
        for from in 0..=8 {
            let (_, pieces) = r.read_from(from, usize::MAX);
            assert_eq!(text(&pieces), "abcdefXY"[from as usize..], "from {from}");
        }
        assert!(r.read_from(8, usize::MAX).1.is_empty());
        assert!(r.read_from(50, usize::MAX).1.is_empty(), "past the end: nothing yet");
    }

    #[test]
    fn a_full_ring_drops_the_oldest_bytes_and_counts_them() {
        let mut r = Ring::new(10);
        r.push(Stream::Stdout, b"0123456");
        r.push(Stream::Stderr, b"abcdef");
        assert_eq!(r.start(), 3);
        assert_eq!(r.end(), 13);
        let (dropped, pieces) = r.read_from(0, usize::MAX);
        assert_eq!(dropped, 3);
        assert_eq!(text(&pieces), "3456abcdef");
        let out = r.stream(Stream::Stdout);
        assert_eq!((out.from, out.to, out.bytes.as_slice()), (3, 7, &b"3456"[..]));
        r.push(Stream::Stderr, b"0123456789XY");
        let (dropped, pieces) = r.read_from(13, usize::MAX);
        assert_eq!((dropped, text(&pieces)), (2, "23456789XY".to_string()));
        let out = r.stream(Stream::Stdout);
        assert_eq!((out.from, out.to, out.bytes.len()), (7, 7, 0), "all of stdout dropped, and said so");
        let err = r.stream(Stream::Stderr);
        assert_eq!((err.from, err.to), (8, 18));
    }

    #[test]
    fn a_read_is_bounded_but_always_makes_progress() {
        let mut r = Ring::new(1000);
        for _ in 0..10 {
            r.push(Stream::Stdout, &[b'x'; 50]);
        }
        let (_, pieces) = r.read_from(0, 120);
        assert_eq!(pieces.len(), 3);
        let (_, pieces) = r.read_from(0, 0);
        assert_eq!(pieces.len(), 1);
    }

    #[test]
    fn any_sequence_of_writes_reads_back_as_the_tail_of_the_whole() {
        // Writes of many sizes into small rings: what is held is always the last bytes written, in order.
        for cap in [1usize, 3, 7, 16, 64] {
            let mut r = Ring::new(cap);
            let mut all = Vec::new();
            for n in 0..60usize {
                let stream = if n % 3 == 0 { Stream::Stderr } else { Stream::Stdout };
                let bytes: Vec<u8> = (0..(n * 7 % 13)).map(|i| (n * 31 + i) as u8).collect();
                r.push(stream, &bytes);
                all.extend_from_slice(&bytes);
                let (dropped, pieces) = r.read_from(0, usize::MAX);
                let held: Vec<u8> = pieces.iter().flat_map(|p| p.bytes.clone()).collect();
                assert!(held.len() <= cap);
                assert_eq!(dropped as usize + held.len(), all.len());
                assert_eq!(held, all[dropped as usize..]);
            }
        }
    }
}
