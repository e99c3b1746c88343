//! A command that stops when its caller drops it: an `exec` future dropped before its answer (a `select!` or a
//! timeout of the caller's gave up on it), or an `exec_stream` dropped before its last event, as aborting does in
//! the JS client. A closed connection alone does not reach the sandbox through a Worker, so the call knows its
//! command's id (the caller's, or one made here) and sends `cancel` for it: a queued command then never runs,
//! and a running one is stopped.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use sandbox_protocol::{routes, CancelExecRequest, ExecEvent, ExecEventType};

use crate::connection::{at, Connection};
use crate::error::{Error, Result};
use crate::events::ExecEvents;
use crate::transport::Transport;

pub(crate) struct StopOnDrop<T: Transport> {
    events: ExecEvents,
    connection: Arc<Connection<T>>,
    command_id: String,
    /// The command's last event (`complete` or `error`) has been read: nothing is left to stop.
    ended: bool,
}

pub(crate) fn stop_on_drop<T: Transport + 'static>(
    events: ExecEvents,
    connection: Arc<Connection<T>>,
    command_id: String,
) -> ExecEvents {
    Box::pin(StopOnDrop { events, connection, command_id, ended: false })
}

impl<T: Transport> Stream for StopOnDrop<T> {
    type Item = Result<ExecEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let next = this.events.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(event))) = &next {
            this.ended |= matches!(event.kind, ExecEventType::Complete | ExecEventType::Error);
        }
        next
    }
}

impl<T: Transport> Drop for StopOnDrop<T> {
    fn drop(&mut self) {
        if !self.ended {
            cancel_detached(&self.connection, std::mem::take(&mut self.command_id));
        }
    }
}

/// Held while an `exec` waits for its answer: dropped before `answered`, it cancels the command.
pub(crate) struct CancelOnDrop<'a, T: Transport> {
    connection: &'a Connection<T>,
    command_id: Option<String>,
}

impl<'a, T: Transport> CancelOnDrop<'a, T> {
    pub(crate) fn new(connection: &'a Connection<T>, command_id: String) -> Self {
        CancelOnDrop { connection, command_id: Some(command_id) }
    }

    /// The answer came: nothing to cancel.
    pub(crate) fn answered(mut self) {
        self.command_id = None;
    }
}

impl<T: Transport> Drop for CancelOnDrop<'_, T> {
    fn drop(&mut self) {
        if let Some(id) = self.command_id.take() {
            cancel_detached(self.connection, id);
        }
    }
}

fn cancel_detached<T: Transport>(connection: &Connection<T>, command_id: String) {
    connection.send_detached("POST", at(routes::EXEC_CANCEL), &CancelExecRequest { command_id });
}

/// The command's id: the caller's `command_id`, or one of the client's own, set in `options` so that it is sent.
pub(crate) fn command_id_of(options: &mut crate::ExecOptions) -> Result<String> {
    match &options.command_id {
        Some(id) => Ok(id.clone()),
        None => Ok(options.command_id.insert(new_command_id()?).clone()),
    }
}

/// A command id of the client's own: `rs-` and 16 random hex digits.
pub(crate) fn new_command_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| Error::Network(format!("no randomness for a command id: {e}")))?;
    Ok(format!("rs-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_ids_differ_and_are_plain() {
        let a = super::new_command_id().unwrap();
        let b = super::new_command_id().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 19);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'), "{a}");
    }
}
