//! The framing of an upload whose length is not known when it starts (a stream): each chunk goes as a frame (its
//! length in 4 bytes, big-endian, then its bytes), and a frame of length 0 ends the body. A body that stops without
//! that end was cut off, whatever the hops in between made of its end: a proxy that turns a caller's abort into a
//! clean end of a chunked body cannot make a half-sent file look whole. (A body of declared length needs none of
//! this: a short one is an error at every hop.) Pure; the clients write frames, the agent reads them.

/// The `Content-Type` of a framed upload.
pub const FRAMED_CONTENT_TYPE: &str = "application/vnd.sandbox-rs.framed";

/// The largest frame; a writer splits larger chunks.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// The 4 bytes that begin a frame of `len` bytes (`len` at most `MAX_FRAME`; 0 ends the body).
pub fn frame_head(len: usize) -> [u8; 4] {
    debug_assert!(len <= MAX_FRAME);
    (len as u32).to_be_bytes()
}

/// Reads frames from the chunks of a body as they arrive, handing back the data they carry.
#[derive(Debug, Default)]
pub struct Unframer {
    /// The bytes of a frame head read so far.
    head: Vec<u8>,
    /// Bytes of the current frame's data still to come.
    left: usize,
    ended: bool,
}

impl Unframer {
    /// The data in `chunk`, as ranges of it, in order. An error for a frame over `MAX_FRAME` or bytes after the end.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<std::ops::Range<usize>>, String> {
        let mut data = Vec::new();
        let mut at = 0;
        while at < chunk.len() {
            if self.ended {
                return Err("bytes after the end of a framed body".into());
            }
            if self.left > 0 {
                let take = self.left.min(chunk.len() - at);
                data.push(at..at + take);
                self.left -= take;
                at += take;
                continue;
            }
            let take = (4 - self.head.len()).min(chunk.len() - at);
            self.head.extend_from_slice(&chunk[at..at + take]);
            at += take;
            if self.head.len() == 4 {
                let len = u32::from_be_bytes([self.head[0], self.head[1], self.head[2], self.head[3]]) as usize;
                self.head.clear();
                if len > MAX_FRAME {
                    return Err(format!("a frame of {len} bytes is over the {MAX_FRAME} a framed body may use"));
                }
                self.left = len;
                self.ended = len == 0;
            }
        }
        Ok(data)
    }

    /// Whether the end frame has arrived (the body is whole).
    pub fn ended(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framed(chunks: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        for chunk in chunks {
            body.extend_from_slice(&frame_head(chunk.len()));
            body.extend_from_slice(chunk);
        }
        body.extend_from_slice(&frame_head(0));
        body
    }

    fn read(body: &[u8], cut: usize) -> Result<(Vec<u8>, bool), String> {
        let mut unframer = Unframer::default();
        let mut out = Vec::new();
        for piece in [&body[..cut], &body[cut..]] {
            for range in unframer.feed(piece)? {
                out.extend_from_slice(&piece[range]);
            }
        }
        Ok((out, unframer.ended()))
    }

    #[test]
    fn frames_give_back_their_data_and_the_end_is_told() {
        let body = framed(&[b"hello ", b"world"]);
        assert_eq!(read(&body, 3).unwrap(), (b"hello world".to_vec(), true));
        let (data, ended) = read(&body[..body.len() - 4], 0).unwrap();
        assert_eq!((data.as_slice(), ended), (&b"hello world"[..], false), "no end frame: cut off");
        assert!(read(&[body.clone(), b"x".to_vec()].concat(), 0).unwrap_err().contains("after the end"));
        let huge = (MAX_FRAME as u32 + 1).to_be_bytes();
        assert!(read(&huge, 2).unwrap_err().contains("over the"));
    }

    proptest! {
        /// Whatever the chunks and wherever the body is split on the way, the data comes back whole and in order.
        #[test]
        fn any_split_of_any_frames_reads_the_same(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 0..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let slices: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            let body = framed(&slices);
            let (data, ended) = read(&body, cut.index(body.len() + 1)).unwrap();
            prop_assert_eq!(data, chunks.concat());
            prop_assert!(ended);
        }
    }
}
