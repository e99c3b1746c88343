//! The sessions of one sandbox, by id. Insertion is atomic, so concurrent creates of one id cannot both win.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Session;

pub enum Inserted {
    New(Arc<Session>),
    Taken,
    Full,
}

#[derive(Default)]
pub struct SessionTable {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl SessionTable {
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.lock().get(id).cloned()
    }

    /// Inserts the session `make` builds, unless the id is taken or the table holds `limit` sessions already.
    pub fn insert_new(&self, id: &str, limit: usize, make: impl FnOnce() -> Arc<Session>) -> Inserted {
        let mut sessions = self.lock();
        if sessions.contains_key(id) {
            return Inserted::Taken;
        }
        if sessions.len() >= limit {
            return Inserted::Full;
        }
        let session = make();
        sessions.insert(id.to_string(), Arc::clone(&session));
        Inserted::New(session)
    }

    /// The session with this id, made by `make` if there is none.
    pub fn get_or_insert(&self, id: &str, make: impl FnOnce() -> Arc<Session>) -> Arc<Session> {
        Arc::clone(self.lock().entry(id.to_string()).or_insert_with(make))
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Session>> {
        self.lock().remove(id)
    }

    pub fn drain(&self) -> Vec<Arc<Session>> {
        self.lock().drain().map(|(_, s)| s).collect()
    }

    pub fn all(&self) -> Vec<Arc<Session>> {
        let mut all: Vec<_> = self.lock().values().cloned().collect();
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.sessions.lock().expect("session table lock")
    }
}
