//! A file's bytes streamed out (`readFileStream`, a ranged `readFile`) and in (`writeFile` with a stream), at any
//! size and in bounded memory: a reader thread sends fixed-size chunks through a channel of a few, and stops when
//! the caller goes; an upload's chunks go through the same kind of channel to a writer thread that fills an
//! `AtomicFile` and commits it only when the whole body has arrived.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;

use bytes::Bytes;
use sandbox_protocol::ErrorCode;
use tokio::sync::mpsc;

use super::atomic::AtomicFile;
use super::ops::{io_err, not_regular};
use super::Target;
use crate::error::{short, AgentError, AgentResult};

/// The size of a chunk read from a file.
pub const CHUNK: usize = 256 * 1024;

/// Chunks in flight between a file's thread and the connection, each way.
pub const CHANNEL_CHUNKS: usize = 4;

/// What a transfer holds at most: its channel full, a chunk at each end. Charged to the memory budget.
pub const HELD_BYTES: usize = (CHANNEL_CHUNKS + 2) * CHUNK;

/// Which bytes of a file are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub len: u64,
    /// Whether the caller asked for part of the file (`offset` or `length` given), answered as such (206).
    pub partial: bool,
}

impl ByteRange {
    /// The bytes `offset` and `length` name in a file of `size` bytes. Pure.
    pub fn of(offset: Option<u64>, length: Option<u64>, size: u64) -> Result<ByteRange, String> {
        let start = offset.unwrap_or(0);
        if start > 0 && start >= size {
            return Err(format!("offset {start} is at or past the end of the file ({size} bytes)"));
        }
        let len = length.unwrap_or(u64::MAX).min(size - start);
        Ok(ByteRange { start, len, partial: offset.is_some() || length.is_some() })
    }
}

/// An open regular file and the bytes of it to send.
pub struct Download {
    file: File,
    pub range: ByteRange,
    pub size: u64,
}

/// Opens `target` for reading `offset`/`length` of it. Regular files only (a device or FIFO would never end).
pub fn open(target: &Target, offset: Option<u64>, length: Option<u64>) -> AgentResult<Download> {
    // Non-blocking, so a FIFO put at the path does not hold the open; what was opened is checked.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(&target.real)
        .map_err(io_err(target))?;
    let meta = file.metadata().map_err(io_err(target))?;
    if meta.is_dir() {
        return Err(AgentError::new(ErrorCode::IsDirectory, format!("{}: is a directory", short(&target.shown))));
    }
    if !meta.is_file() {
        return Err(not_regular(target));
    }
    let range = ByteRange::of(offset, length, meta.len())
        .map_err(|why| AgentError::new(ErrorCode::RangeNotSatisfiable, format!("{}: {why}", short(&target.shown))))?;
    Ok(Download { file, range, size: meta.len() })
}

impl Download {
    /// The file, positioned at the range's start.
    pub fn reader(&mut self) -> io::Result<&mut File> {
        self.file.seek(SeekFrom::Start(self.range.start))?;
        Ok(&mut self.file)
    }

    /// Reads the range into `chunks` until it is sent or the receiver is gone. A file that shrank meanwhile ends
    /// with an error (the caller's transfer is cut, never short and whole-looking).
    pub fn send(mut self, chunks: mpsc::Sender<io::Result<Bytes>>) {
        if let Err(e) = self.reader() {
            let _ = chunks.blocking_send(Err(e));
            return;
        }
        let mut left = self.range.len;
        while left > 0 {
            let mut chunk = vec![0u8; CHUNK.min(left as usize)];
            let sent = match read_full(&mut self.file, &mut chunk) {
                Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while it was read")),
                Ok(n) => {
                    chunk.truncate(n);
                    left -= n as u64;
                    Ok(Bytes::from(chunk))
                }
                Err(e) => Err(e),
            };
            let failed = sent.is_err();
            if chunks.blocking_send(sent).is_err() || failed {
                return;
            }
        }
    }
}

/// Fills `buf` from `file` as far as it goes (short only at the end of the file).
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// What an upload's connection sends its writer.
pub enum Piece {
    Chunk(Bytes),
    /// The whole body has arrived: commit.
    End,
}

/// Writes the chunks that come through `pieces` into `file` (a replacement of `target`: `ops::replacement`) and
/// commits it at `End`; returns the file's size. A channel closed before `End` (the caller gone, the body refused)
/// leaves the old file as it was and no temporary behind.
pub fn receive(target: &Target, mut file: AtomicFile, mut pieces: mpsc::Receiver<Piece>) -> AgentResult<u64> {
    let mut size = 0u64;
    while let Some(piece) = pieces.blocking_recv() {
        match piece {
            Piece::Chunk(bytes) => {
                file.write_chunk(&bytes).map_err(io_err(target))?;
                size += bytes.len() as u64;
            }
            Piece::End => {
                file.commit().map_err(io_err(target))?;
                return Ok(size);
            }
        }
    }
    Err(AgentError::new(
        ErrorCode::RequestTimeout,
        format!("{}: the upload ended before its body did", short(&target.shown)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_cut_to_the_file_and_may_not_start_past_its_end() {
        let whole = ByteRange::of(None, None, 10).unwrap();
        assert_eq!(whole, ByteRange { start: 0, len: 10, partial: false });
        assert_eq!(ByteRange::of(Some(4), None, 10).unwrap(), ByteRange { start: 4, len: 6, partial: true });
        assert_eq!(ByteRange::of(Some(4), Some(3), 10).unwrap(), ByteRange { start: 4, len: 3, partial: true });
        assert_eq!(ByteRange::of(Some(8), Some(100), 10).unwrap().len, 2, "a length past the end is cut");
        assert_eq!(ByteRange::of(None, Some(0), 10).unwrap().len, 0);
        assert!(ByteRange::of(Some(10), None, 10).unwrap_err().contains("at or past the end"));
        assert!(ByteRange::of(Some(u64::MAX), Some(u64::MAX), 10).is_err());
        assert_eq!(ByteRange::of(Some(0), None, 0).unwrap().len, 0, "an empty file reads as empty");
    }
}
