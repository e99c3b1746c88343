//! Reading a refused body to its end (and dropping it) before answering: a caller over HTTP that is still sending
//! when the answer comes has its connection cut under it (`EPIPE`), and never reads the answer. Bounded: past
//! `DRAIN_LIMIT` the connection is let go. Through a service binding nothing needs it, and it costs little.

use futures_util::StreamExt;
use worker::Request;

/// How much of a refused body is read and dropped before the connection is let go.
pub const DRAIN_LIMIT: usize = 256 * 1024 * 1024;

/// Reads a request's body to its end and drops it (at most `DRAIN_LIMIT` in all, `read` of it already read).
pub async fn request(mut req: Request, read: usize) {
    if let Ok(chunks) = req.stream() {
        stream(chunks, read).await;
    }
}

/// The rest of a body already being read.
pub async fn stream(mut chunks: worker::ByteStream, mut read: usize) {
    while let Some(Ok(chunk)) = chunks.next().await {
        read += chunk.len();
        if read > DRAIN_LIMIT {
            break;
        }
    }
}
