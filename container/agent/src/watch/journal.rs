//! The changes a `checkChanges` watch keeps: the latest `capacity`, each with its sequence number, so a caller's
//! cursor (the last number it saw) finds what came after it, or learns that some of it is gone. Pure.

use std::collections::VecDeque;

use sandbox_protocol::{WatchEvent, WatchEventType};

pub struct Journal {
    events: VecDeque<(u64, WatchEvent)>,
    /// The number the next change gets (the first is 1; a cursor of 0 has seen none).
    next: u64,
    capacity: usize,
}

impl Journal {
    pub fn new(capacity: usize) -> Journal {
        Journal { events: VecDeque::new(), next: 1, capacity }
    }

    pub fn push(&mut self, event: WatchEvent) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back((self.next, event));
        self.next += 1;
    }

    /// The number of the latest change (0: none yet).
    pub fn latest(&self) -> u64 {
        self.next - 1
    }

    /// The changes after `seen`, and whether any after it are lost (dropped from the journal, or an overflow
    /// among them).
    pub fn since(&self, seen: u64) -> (Vec<WatchEvent>, bool) {
        let first = self.events.front().map_or(self.next, |(n, _)| *n);
        let lost = seen + 1 < first || seen > self.latest();
        let after: Vec<WatchEvent> = self.events.iter().filter(|(n, _)| *n > seen).map(|(_, e)| e.clone()).collect();
        let overflowed = after.iter().any(|e| e.kind == WatchEventType::Overflow);
        (after, lost || overflowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(path: &str) -> WatchEvent {
        WatchEvent {
            kind: WatchEventType::Create,
            path: path.into(),
            old_path: None,
            is_directory: false,
            timestamp: String::new(),
        }
    }

    #[test]
    fn a_cursor_finds_what_came_after_it_or_learns_it_is_gone() {
        let mut journal = Journal::new(3);
        assert_eq!(journal.latest(), 0);
        assert_eq!(journal.since(0), (vec![], false));
        for p in ["a", "b"] {
            journal.push(event(p));
        }
        assert_eq!(journal.since(0).0.len(), 2);
        assert_eq!(journal.since(1), (vec![event("b")], false));
        assert_eq!(journal.since(2), (vec![], false));
        for p in ["c", "d", "e"] {
            journal.push(event(p));
        }
        let (after, lost) = journal.since(1);
        assert!(lost, "b was dropped");
        assert_eq!(after.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), ["c", "d", "e"]);
        assert_eq!(journal.since(2), (vec![event("c"), event("d"), event("e")], false), "nothing after 2 is gone");
        assert!(journal.since(99).1, "a cursor from the future is not this journal's");
    }
}
