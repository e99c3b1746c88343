//! `checkChanges`: watches kept for callers that ask now and then instead of holding a stream. Each watched path
//! (with its options) has one `Journal`, filled by a task from a `Watch` of its own, and kept for `IDLE` after its
//! last call; a cursor is the journal's id and the number of the last change its caller saw, so a cursor of a
//! journal that was since dropped (expired, the agent restarted) is told apart and answered with `overflow`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sandbox_protocol::WatchEvent;

use super::journal::Journal;
use super::Watch;
use crate::names::random_id;

/// How long a journal outlives its last call.
const IDLE: Duration = Duration::from_secs(600);

/// The changes a journal keeps.
const KEPT: usize = 10_000;

/// A sandbox's journals, by what they watch.
#[derive(Clone, Default)]
pub struct Journals {
    table: Arc<Mutex<HashMap<String, Arc<Kept>>>>,
}

pub struct Kept {
    pub id: String,
    journal: Mutex<Journal>,
    last_call: Mutex<Instant>,
}

impl Kept {
    /// The changes after `cursor` (this journal's, or another's: then all are said lost), and the new cursor.
    pub fn since(&self, cursor: Option<&str>) -> (Vec<WatchEvent>, bool, String) {
        *self.last_call.lock().expect("journal") = Instant::now();
        let journal = self.journal.lock().expect("journal");
        let seen = cursor.and_then(|c| c.strip_prefix(&format!("{}.", self.id))).and_then(|n| n.parse::<u64>().ok());
        let (changes, lost) = match (cursor, seen) {
            (None, _) => (Vec::new(), false),
            (Some(_), Some(seen)) => journal.since(seen),
            (Some(_), None) => (Vec::new(), true),
        };
        (changes, lost, format!("{}.{}", self.id, journal.latest()))
    }
}

impl Journals {
    /// The journal of `key`, if one is kept.
    pub fn get(&self, key: &str) -> Option<Arc<Kept>> {
        self.table.lock().expect("journals").get(key).cloned()
    }

    /// Keeps a journal of `key` filled from `watch` (a task reads it until the journal has been idle for `IDLE`,
    /// or the watch ends); returns it, or the one another call kept first.
    pub fn keep(&self, key: String, mut watch: Watch) -> Arc<Kept> {
        let kept = Arc::new(Kept {
            id: random_id("chg"),
            journal: Mutex::new(Journal::new(KEPT)),
            last_call: Mutex::new(Instant::now()),
        });
        {
            let mut table = self.table.lock().expect("journals");
            if let Some(first) = table.get(&key) {
                return Arc::clone(first);
            }
            table.insert(key.clone(), Arc::clone(&kept));
        }
        let (table, filled) = (Arc::clone(&self.table), Arc::clone(&kept));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    batch = watch.next() => match batch {
                        Some(events) => {
                            let mut journal = filled.journal.lock().expect("journal");
                            events.into_iter().for_each(|e| journal.push(e));
                        }
                        None => break,
                    },
                    _ = tokio::time::sleep(IDLE / 10) => {
                        if filled.last_call.lock().expect("journal").elapsed() > IDLE {
                            break;
                        }
                    }
                }
            }
            let mut table = table.lock().expect("journals");
            if table.get(&key).is_some_and(|k| Arc::ptr_eq(k, &filled)) {
                table.remove(&key);
            }
        });
        kept
    }
}
