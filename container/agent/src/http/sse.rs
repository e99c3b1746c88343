//! A `text/event-stream` response made of frames a producer yields one at a time, unbuffered.

use std::convert::Infallible;
use std::future::Future;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream;

use crate::error::{AgentError, AgentResult};

/// What yields a stream's frames (`id:`/`data:` events, comments); `None` ends the stream.
pub trait Frames: Send + 'static {
    fn next_frame(&mut self) -> impl Future<Output = Option<Bytes>> + Send;
}

pub fn response(frames: impl Frames) -> AgentResult<Response> {
    let body = stream::unfold(frames, |mut frames| async move {
        let frame = frames.next_frame().await?;
        Some((Ok::<Bytes, Infallible>(frame), frames))
    });
    Response::builder()
        .header(CONTENT_TYPE, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .map_err(|e| AgentError::internal(e.to_string()))
}
