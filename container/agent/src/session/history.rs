//! A session's own command history, bounded: the newest entries are kept and the total is counted.

use std::collections::VecDeque;

use sandbox_protocol::HistoryEntry;

/// Entries kept per session.
pub const KEEP: usize = 1000;
/// Bytes of a command's text kept in its entry.
pub const COMMAND_BYTES: usize = 4096;

#[derive(Debug, Default)]
pub struct History {
    entries: VecDeque<HistoryEntry>,
    total: u64,
}

impl History {
    pub fn record(&mut self, mut entry: HistoryEntry) {
        if entry.command.len() > COMMAND_BYTES {
            let mut cut = COMMAND_BYTES;
            while !entry.command.is_char_boundary(cut) {
                cut -= 1;
            }
            entry.command.truncate(cut);
            entry.command.push('…');
        }
        if self.entries.len() == KEEP {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
        self.total += 1;
    }

    pub fn entries(&self) -> Vec<HistoryEntry> {
        self.entries.iter().cloned().collect()
    }

    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(command: &str) -> HistoryEntry {
        HistoryEntry { command: command.into(), exit_code: 0, started_at: String::new(), duration: 0, timed_out: false }
    }

    #[test]
    fn keeps_the_newest_and_counts_all() {
        let mut h = History::default();
        for i in 0..KEEP + 5 {
            h.record(entry(&i.to_string()));
        }
        assert_eq!(h.total(), (KEEP + 5) as u64);
        assert_eq!(h.entries().len(), KEEP);
        assert_eq!(h.entries()[0].command, "5");
    }

    #[test]
    fn long_commands_are_cut_on_a_character_boundary() {
        let mut h = History::default();
        h.record(entry(&"é".repeat(COMMAND_BYTES)));
        let kept = &h.entries()[0].command;
        assert!(kept.len() <= COMMAND_BYTES + 3);
        assert!(kept.ends_with('…'));
    }
}
