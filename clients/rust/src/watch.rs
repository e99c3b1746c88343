//! `watch`: a path's changes as a stream of `WatchEvent`s. Dropping the stream ends the watch in the sandbox: a
//! closed connection does not travel through the Workers in between, so `DELETE /watch/{watchId}` is sent (in the
//! background, as a dropped `exec_stream` cancels its command).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use sandbox_protocol::{routes, WatchEvent};

use crate::connection::{at_id, Connection};
use crate::error::Result;
use crate::transport::Transport;

/// A watch's events, `ready` first. The stream ends (with `Error::StreamInterrupted`) when the watch does: its path
/// removed, its sandbox destroyed.
pub type WatchEvents = Pin<Box<dyn Stream<Item = Result<WatchEvent>>>>;

/// What `watch` reports.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Subdirectories too, those made later included.
    pub recursive: bool,
    /// Patterns (`*`, `?`) matched against paths relative to the watched directory: only matches are reported.
    pub include: Vec<String>,
    /// Patterns: what matches, or lies under a directory that does, is neither reported nor watched.
    pub exclude: Vec<String>,
}

pub(crate) struct StopWatchOnDrop<T: Transport> {
    pub(crate) events: WatchEvents,
    pub(crate) connection: Arc<Connection<T>>,
    pub(crate) watch_id: String,
}

impl<T: Transport> Stream for StopWatchOnDrop<T> {
    type Item = Result<WatchEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().events.as_mut().poll_next(cx)
    }
}

impl<T: Transport> Drop for StopWatchOnDrop<T> {
    fn drop(&mut self) {
        if let Ok(path) = at_id(routes::WATCH_ONE, &self.watch_id) {
            self.connection.send_detached("DELETE", &path, &serde_json::Value::Null);
        }
    }
}
