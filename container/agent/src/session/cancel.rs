//! Commands in flight by the id their caller gave them (`commandId`), so that `POST /v1/exec/cancel` can stop one
//! that is queued or running even when the caller's connection cannot be closed (a Worker in between keeps it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Raised once, when the command is cancelled. The session's actor watches it like a deadline.
pub type CancelSignal = watch::Receiver<bool>;

/// The commands of one sandbox that carry an id.
#[derive(Default)]
pub struct InFlight {
    commands: Mutex<HashMap<String, watch::Sender<bool>>>,
}

/// Keeps a command registered while it is alive; dropping it forgets the id.
pub struct Registration {
    in_flight: Arc<InFlight>,
    id: String,
}

impl InFlight {
    /// Registers `id`; `None` when a command with that id is still in flight.
    pub fn register(self: &Arc<Self>, id: &str) -> Option<(Registration, CancelSignal)> {
        let mut commands = self.lock();
        if commands.contains_key(id) {
            return None;
        }
        let (tx, rx) = watch::channel(false);
        commands.insert(id.to_string(), tx);
        Some((Registration { in_flight: Arc::clone(self), id: id.to_string() }, rx))
    }

    /// Cancels the command with `id`; false when there is none in flight.
    pub fn cancel(&self, id: &str) -> bool {
        self.lock().get(id).is_some_and(|tx| {
            tx.send_replace(true);
            true
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<bool>>> {
        self.commands.lock().expect("in-flight commands lock")
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.in_flight.lock().remove(&self.id);
    }
}

/// Resolves when the signal is raised; never for a command without one.
pub async fn cancelled(signal: &mut Option<CancelSignal>) {
    if let Some(rx) = signal {
        if rx.wait_for(|raised| *raised).await.is_ok() {
            return;
        }
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_taken_until_its_registration_is_dropped() {
        let in_flight = Arc::new(InFlight::default());
        let (registration, signal) = in_flight.register("c1").unwrap();
        assert!(in_flight.register("c1").is_none());
        assert!(in_flight.cancel("c1"));
        assert!(*signal.borrow());
        drop(registration);
        assert!(!in_flight.cancel("c1"));
        assert!(in_flight.register("c1").is_some());
    }
}
