//! A `text/event-stream` response (axum's `Sse`) of the events a producer yields as they come, unbuffered, with a
//! keep-alive comment (`: keep-alive`) after each quiet interval when one is asked for.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{stream, StreamExt};

/// What yields a stream's events: one, or a few that belong together, at a time; `None` ends the stream.
pub trait Events: Send + 'static {
    fn next_events(&mut self) -> impl Future<Output = Option<Vec<Event>>> + Send;
}

pub fn response(events: impl Events, keep_alive: Option<Duration>) -> Response {
    let events = stream::unfold(events, |mut events| async move {
        let batch = events.next_events().await?;
        Some((stream::iter(batch.into_iter().map(Ok::<Event, Infallible>)), events))
    })
    .flatten();
    let sse = Sse::new(events);
    match keep_alive {
        Some(every) => sse.keep_alive(KeepAlive::new().interval(every).text("keep-alive")).into_response(),
        None => sse.into_response(),
    }
}
