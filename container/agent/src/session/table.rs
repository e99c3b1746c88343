//! The sessions of one sandbox, by id. Insertion is atomic, so concurrent creates of one id cannot both win; and a
//! table being emptied (its sandbox destroyed) takes no new session until it is opened again, so a call racing
//! with the destruction cannot leave a shell behind that no table knows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Session;

pub enum Inserted {
    New(Arc<Session>),
    Taken,
    Full,
    Closed,
}

#[derive(Default)]
pub struct SessionTable {
    inner: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    sessions: HashMap<String, Arc<Session>>,
    closed: bool,
}

impl SessionTable {
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.lock().sessions.get(id).cloned()
    }

    /// Inserts the session `make` builds, unless the id is taken or the table holds `limit` sessions already.
    pub fn insert_new(&self, id: &str, limit: usize, make: impl FnOnce() -> Arc<Session>) -> Inserted {
        let mut table = self.lock();
        if table.closed {
            return Inserted::Closed;
        }
        if table.sessions.contains_key(id) {
            return Inserted::Taken;
        }
        if table.sessions.len() >= limit {
            return Inserted::Full;
        }
        let session = make();
        table.sessions.insert(id.to_string(), Arc::clone(&session));
        Inserted::New(session)
    }

    /// The session with this id, made by `make` if there is none; `None` while the table is closed.
    pub fn get_or_insert(&self, id: &str, make: impl FnOnce() -> Arc<Session>) -> Option<Arc<Session>> {
        let mut table = self.lock();
        if let Some(session) = table.sessions.get(id) {
            return Some(Arc::clone(session));
        }
        if table.closed {
            return None;
        }
        Some(Arc::clone(table.sessions.entry(id.to_string()).or_insert_with(make)))
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Session>> {
        self.lock().sessions.remove(id)
    }

    /// Takes every session out and closes the table to new ones.
    pub fn close(&self) -> Vec<Arc<Session>> {
        let mut table = self.lock();
        table.closed = true;
        table.sessions.drain().map(|(_, s)| s).collect()
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Takes new sessions again.
    pub fn open(&self) {
        self.lock().closed = false;
    }

    pub fn all(&self) -> Vec<Arc<Session>> {
        let mut all: Vec<_> = self.lock().sessions.values().cloned().collect();
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner.lock().expect("session table lock")
    }
}
