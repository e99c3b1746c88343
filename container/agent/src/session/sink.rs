//! Where a command's output and result go: collected for a plain exec, sent to a stream's reader, or dropped (the
//! shell's own start-up). A reader that falls behind, or collected output waiting for room in the memory budget,
//! holds output back, but never past the limit the actor gives (the deadline, or the end of a stop) nor past a
//! cancel: then the chunk is dropped and the command stopped.

use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::collector::{Pushed, Stream};
use super::escalation::StopReason;
use super::in_flight::{cancelled, CancelSignal};
use super::{Collected, Outcome, Sink, StreamItem};
use crate::error::AgentError;
use crate::metrics::METRICS;

/// Sends `item` to a stream's reader, waiting while the reader is behind, but only until `limit` or `cancel`.
pub(super) async fn deliver(
    tx: &mpsc::Sender<StreamItem>,
    item: StreamItem,
    limit: Option<Instant>,
    cancel: &mut Option<CancelSignal>,
) -> Option<StopReason> {
    match tx.try_send(item) {
        Ok(()) => None,
        Err(mpsc::error::TrySendError::Closed(_)) => Some(StopReason::Cancelled),
        Err(mpsc::error::TrySendError::Full(item)) => tokio::select! {
            sent = tx.send(item) => sent.err().map(|_| StopReason::Cancelled),
            _ = sleep_until_some(limit) => Some(StopReason::TimedOut),
            _ = cancelled(cancel) => Some(StopReason::Cancelled),
        },
    }
}

pub(super) async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Sink {
    /// Delivers a chunk. `Some(reason)` when it could not: the caller is gone, or `limit` passed or `cancel` was
    /// raised while a slow reader held the stream back (the chunk is then dropped).
    pub(super) async fn push(
        &mut self,
        stream: Stream,
        bytes: &[u8],
        limit: Option<Instant>,
        cancel: &mut Option<CancelSignal>,
    ) -> Option<StopReason> {
        match stream {
            Stream::Stdout => METRICS.output(bytes.len(), 0),
            Stream::Stderr => METRICS.output(0, bytes.len()),
        }
        match self {
            Sink::Collect { output, reply } => loop {
                let Pushed::Wait(reservation) = output.push(stream, bytes) else { return None };
                // Waiting for room holds the command (its pipe fills) but never past the deadline or a cancel.
                let granted = tokio::select! {
                    granted = reservation.granted() => granted,
                    _ = sleep_until_some(limit) => return Some(StopReason::TimedOut),
                    _ = cancelled(cancel) => return Some(StopReason::Cancelled),
                    _ = reply.closed() => return Some(StopReason::Cancelled),
                };
                output.grant(granted);
            },
            Sink::Stream(tx) => {
                let item = match stream {
                    Stream::Stdout => StreamItem::Stdout(bytes.to_vec()),
                    Stream::Stderr => StreamItem::Stderr(bytes.to_vec()),
                };
                deliver(tx, item, limit, cancel).await
            }
            Sink::Discard => None,
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        match self {
            Sink::Collect { reply, .. } => reply.is_closed(),
            Sink::Stream(tx) => tx.is_closed(),
            Sink::Discard => false,
        }
    }

    /// Resolves when the caller has gone away.
    pub(super) async fn closed(&mut self) {
        match self {
            Sink::Collect { reply, .. } => reply.closed().await,
            Sink::Stream(tx) => tx.closed().await,
            Sink::Discard => std::future::pending().await,
        }
    }

    pub(super) async fn start(&mut self, at: SystemTime, limit: Option<Instant>, cancel: &mut Option<CancelSignal>) {
        if let Sink::Stream(tx) = self {
            let _ = deliver(tx, StreamItem::Start(at), limit, cancel).await;
        }
    }

    pub(super) async fn finish(self, outcome: Outcome, limit: Option<Instant>, cancel: &mut Option<CancelSignal>) {
        match self {
            Sink::Collect { output, reply } => {
                let (stdout, stderr, charge) = output.finish();
                let _ = reply.send(Ok(Collected { outcome, stdout, stderr, charge }));
            }
            Sink::Stream(tx) => {
                let _ = deliver(&tx, StreamItem::Done(outcome), limit, cancel).await;
            }
            Sink::Discard => {}
        }
    }

    pub(super) async fn fail(self, err: AgentError) {
        match self {
            Sink::Collect { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Sink::Stream(tx) => {
                let _ = tx.send(StreamItem::Failed(err)).await;
            }
            Sink::Discard => {}
        }
    }
}
