//! The typed events of a streamed command, read from the server-sent event stream as they arrive.

use std::pin::Pin;

use futures_util::{stream, Stream, StreamExt};
use sandbox_protocol::{ExecEvent, ExecEventType};

use crate::error::{Error, Result};
use crate::sse::SseParser;
use crate::transport::Chunks;

/// `start`, `stdout` / `stderr`, then `complete` or `error`. A stream cut off before its last event yields
/// `Error::StreamInterrupted`.
pub type ExecEvents = Pin<Box<dyn Stream<Item = Result<ExecEvent>>>>;

struct Reader {
    body: Chunks,
    parser: SseParser,
    ready: std::collections::VecDeque<String>,
    ended: bool,
    finished: bool,
}

pub(crate) fn exec_events(body: Chunks) -> ExecEvents {
    let reader =
        Reader { body, parser: SseParser::default(), ready: Default::default(), ended: false, finished: false };
    Box::pin(stream::unfold(reader, |mut r| async move {
        loop {
            if r.finished {
                return None;
            }
            if let Some(data) = r.ready.pop_front() {
                let event =
                    serde_json::from_str::<ExecEvent>(&data).map_err(|e| Error::InvalidResponse(format!("event: {e}")));
                if let Ok(e) = &event {
                    r.finished = matches!(e.kind, ExecEventType::Complete | ExecEventType::Error);
                }
                return Some((event, r));
            }
            if r.ended {
                r.finished = true;
                return Some((Err(Error::StreamInterrupted), r));
            }
            match r.body.next().await {
                Some(Ok(chunk)) => r.ready.extend(r.parser.push(&chunk)),
                Some(Err(e)) => {
                    r.finished = true;
                    return Some((Err(e), r));
                }
                None => {
                    r.ended = true;
                    r.ready.extend(r.parser.finish());
                }
            }
        }
    }))
}
