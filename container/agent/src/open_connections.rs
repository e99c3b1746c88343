//! The connections open now, and which of them are idle: a connection with no request in flight (between
//! requests, or one whose first request head has not fully come: a half-open one) can be shed to make room for a
//! new one when the agent is at its cap, the oldest first. A request is in flight from the moment its head is
//! read until its response body has been sent or dropped (`Busy`, carried inside the body), so a long stream
//! is never taken for idle.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::held_body::Holding;

/// One open connection: its requests in flight, and the signal that sheds it.
#[derive(Default)]
pub struct Connection {
    in_flight: AtomicUsize,
    shed: Notify,
}

impl Connection {
    /// Resolves when the connection is chosen to be shed.
    pub async fn shed(&self) {
        self.shed.notified().await;
    }
}

/// Every open connection, by the order it was accepted in.
#[derive(Default)]
pub struct OpenConnections {
    open: Mutex<(u64, BTreeMap<u64, Arc<Connection>>)>,
}

impl OpenConnections {
    /// Registers a new connection; it is forgotten when the returned guard is dropped.
    pub fn add(self: &Arc<Self>) -> Registered {
        let connection = Arc::new(Connection::default());
        let mut open = self.open.lock().expect("open connections");
        open.0 += 1;
        let id = open.0;
        open.1.insert(id, Arc::clone(&connection));
        Registered { id, connection, all: Arc::clone(self) }
    }

    /// Sheds the oldest connection with no request in flight; false when every open one is busy.
    pub fn shed_oldest_idle(&self) -> bool {
        let mut open = self.open.lock().expect("open connections");
        let idle =
            open.1.iter().find(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0).map(|(id, c)| (*id, Arc::clone(c)));
        match idle {
            Some((id, connection)) => {
                // Forgotten at once, so the next shed picks another; its task ends it and gives back its slot.
                open.1.remove(&id);
                connection.shed.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A connection's place among the open ones, given up when dropped.
pub struct Registered {
    id: u64,
    pub connection: Arc<Connection>,
    all: Arc<OpenConnections>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.all.open.lock().expect("open connections").1.remove(&self.id);
    }
}

/// A request in flight on its connection, until dropped.
pub struct Busy(Arc<Connection>);

impl Busy {
    pub fn start(connection: &Arc<Connection>) -> Busy {
        connection.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(connection))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request in flight until it is sent or dropped.
pub type BusyBody = Holding<axum::body::Body, Busy>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_idle_connection_is_shed_never_a_busy_one() {
        let all = Arc::new(OpenConnections::default());
        let first = all.add();
        let second = all.add();
        let third = all.add();
        let busy = Busy::start(&first.connection);
        assert!(all.shed_oldest_idle(), "the second is idle");
        assert!(all.open.lock().unwrap().1.contains_key(&first.id), "a busy connection stays");
        assert!(!all.open.lock().unwrap().1.contains_key(&second.id), "the oldest idle one goes");
        assert!(all.shed_oldest_idle(), "then the third");
        assert!(!all.shed_oldest_idle(), "only a busy one is left");
        drop(busy);
        assert!(all.shed_oldest_idle(), "idle once its request is done");
        drop((first, second, third));
        assert!(all.open.lock().unwrap().1.is_empty());
    }
}
