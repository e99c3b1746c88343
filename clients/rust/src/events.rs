//! The typed events of a streamed command or a process's live log, read from the server-sent event stream as they
//! arrive.

use std::pin::Pin;

use futures_util::{stream, Stream, StreamExt};
use sandbox_protocol::{ExecEvent, ExecEventType, ProcessEvent, ProcessEventType};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::sse::SseParser;
use crate::transport::Chunks;

/// `start`, `stdout` / `stderr`, then `complete` or `error`. A stream cut off before its last event yields
/// `Error::StreamInterrupted`.
pub type ExecEvents = Pin<Box<dyn Stream<Item = Result<ExecEvent>>>>;

/// A process's output as `stdout`, `stderr` and `dropped` events, then `exit` once it has ended. A stream cut off
/// before `exit` yields `Error::StreamInterrupted`: open it again from the last event's `offset`.
pub type ProcessEvents = Pin<Box<dyn Stream<Item = Result<ProcessEvent>>>>;

struct Reader {
    body: Chunks,
    parser: SseParser,
    ready: std::collections::VecDeque<String>,
    ended: bool,
    finished: bool,
}

pub(crate) fn exec_events(body: Chunks) -> ExecEvents {
    events(body, |e: &ExecEvent| matches!(e.kind, ExecEventType::Complete | ExecEventType::Error))
}

pub(crate) fn watch_events(body: Chunks) -> crate::watch::WatchEvents {
    events(body, |_: &sandbox_protocol::WatchEvent| false)
}

pub(crate) fn process_events(body: Chunks) -> ProcessEvents {
    events(body, |e: &ProcessEvent| e.event_type == ProcessEventType::Exit)
}

/// Events of type `E` until one that `last` says ends the stream.
fn events<E: DeserializeOwned + 'static>(body: Chunks, last: fn(&E) -> bool) -> Pin<Box<dyn Stream<Item = Result<E>>>> {
    let reader =
        Reader { body, parser: SseParser::default(), ready: Default::default(), ended: false, finished: false };
    Box::pin(stream::unfold(reader, move |mut r| async move {
        loop {
            if r.finished {
                return None;
            }
            if let Some(data) = r.ready.pop_front() {
                let event = serde_json::from_str::<E>(&data).map_err(|e| Error::InvalidResponse(format!("event: {e}")));
                if let Ok(e) = &event {
                    r.finished = last(e);
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
