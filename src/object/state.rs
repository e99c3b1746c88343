//! What a sandbox's Durable Object knows between calls, and the decisions it makes from it. Pure: the object
//! (`object/`) does the I/O each decision calls for, and tells this state what happened.
//!
//! - Whether the agent is known to answer: `false` after a start, a stop, a failed call or a container seen not
//!   running; a call then makes sure of the agent (`recover`) before it is forwarded.
//! - Which agent's sessions are in place (its boot id), read from storage once per object instance: a different
//!   agent answering means the sessions are created again on it before it gets the call.
//! - When the last call came and when the idle alarm was last pushed, for the idle stop.

use std::time::Duration;

/// How a newly seen agent is taken on.
#[derive(Debug, PartialEq, Eq)]
pub enum Adoption {
    /// It is the agent whose sessions are in place: nothing to do.
    InPlace,
    /// The first agent of this sandbox: nothing to re-create, it is only recorded.
    First,
    /// Another agent replaced the one whose sessions were in place: re-create them on it, then record it.
    Recreate,
}

#[derive(Debug, Default)]
pub struct ObjectState {
    /// The agent answered since the container last started, and no call failed since.
    healthy: bool,
    /// The boot id of the agent whose sessions are in place; `None` until read from storage.
    boot: Option<Option<String>>,
    /// When the last call came, and when the idle alarm was last pushed out (ms since the epoch; 0: never).
    last_call_ms: f64,
    alarm_pushed_ms: f64,
    /// When the first call came to this object instance, and when its workspace was last saved (ms since the
    /// epoch), for `SANDBOX_SAVE_EVERY`.
    first_call_ms: f64,
    last_save_ms: Option<f64>,
}

impl ObjectState {
    /// A call came; `running`: whether the container (or local agent) runs now. True when the agent must be made
    /// sure of (started, waited for, given its sessions) before the call goes on.
    pub fn needs_recovery(&mut self, running: bool) -> bool {
        if !running {
            self.healthy = false;
        }
        !self.healthy
    }

    /// An agent is being started or waited for: not known to answer until it has.
    pub fn recovering(&mut self) {
        self.healthy = false;
    }

    /// The agent answered its health check.
    pub fn answered(&mut self) {
        self.healthy = true;
    }

    /// A call failed (the agent unreachable, storage failing): the next call makes sure of the agent again.
    pub fn call_failed(&mut self) {
        self.healthy = false;
    }

    /// The boot id of the agent whose sessions are in place: `None` while storage was not read yet, then what is
    /// known (`Some(None)`: no agent yet).
    pub fn boot(&self) -> Option<Option<&str>> {
        self.boot.as_ref().map(|b| b.as_deref())
    }

    /// What storage holds, read once; an agent adopted meanwhile is newer and stays.
    pub fn boot_read(&mut self, stored: Option<String>) {
        if self.boot.is_none() {
            self.boot = Some(stored);
        }
    }

    /// How to take on the agent `boot` (storage read first).
    pub fn adoption(&self, boot: &str) -> Adoption {
        match self.boot() {
            Some(Some(known)) if known == boot => Adoption::InPlace,
            Some(Some(_)) => Adoption::Recreate,
            Some(None) | None => Adoption::First,
        }
    }

    /// `boot`'s sessions are in place (recorded in storage).
    pub fn adopted(&mut self, boot: &str) {
        self.boot = Some(Some(boot.to_string()));
    }

    /// A call came at `now_ms`. True when the idle alarm should be pushed `after` ahead: at most once per tenth of
    /// `after` (a storage write per call would cost every call; the alarm reschedules itself when it fires early).
    pub fn call_came(&mut self, now_ms: f64, after: Duration) -> bool {
        self.last_call_ms = now_ms;
        if self.first_call_ms == 0.0 {
            self.first_call_ms = now_ms;
        }
        if now_ms - self.alarm_pushed_ms >= after.as_millis() as f64 / 10.0 {
            self.alarm_pushed_ms = now_ms;
            return true;
        }
        false
    }

    /// How long the sandbox has been idle at `now_ms`: since the end of the last call (`last_end_ms`, a long exec
    /// counts until it ends), or since the last call came. `None`: no call since the object started.
    pub fn idle_ms(&self, last_end_ms: Option<f64>, now_ms: f64) -> Option<u64> {
        let last = last_end_ms.unwrap_or(0.0).max(self.last_call_ms);
        (last > 0.0).then(|| (now_ms - last).max(0.0) as u64)
    }

    /// Whether a periodic save (every `every`) is due at `now_ms` (`save_every::due`).
    pub fn save_due(&self, now_ms: f64, every: Duration) -> bool {
        self.first_call_ms > 0.0
            && crate::save_every::due(now_ms, self.last_save_ms, self.first_call_ms, self.last_call_ms, every)
    }

    /// Milliseconds until the next periodic save is due (`save_every::until_due`); `None` when there is nothing
    /// to save (no call since the last save).
    pub fn until_save(&self, now_ms: f64, every: Duration) -> Option<i64> {
        let pending = self.first_call_ms > 0.0 && self.last_call_ms > self.last_save_ms.unwrap_or(0.0);
        pending.then(|| crate::save_every::until_due(now_ms, self.last_save_ms, self.first_call_ms, every))
    }

    /// The workspace was saved (or a save was tried) at `now_ms`.
    pub fn saved(&mut self, now_ms: f64) {
        self.last_save_ms = Some(now_ms);
    }

    /// The idle alarm stopped the container.
    pub fn stopped(&mut self) {
        self.healthy = false;
    }

    /// The sandbox was destroyed: its storage is empty (no agent's sessions in place), and the next call starts
    /// anew and sets the alarm again.
    pub fn destroyed(&mut self) {
        self.healthy = false;
        self.boot = Some(None);
        self.alarm_pushed_ms = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_periodic_save_is_scheduled_only_while_there_is_something_to_save() {
        let every = Duration::from_secs(60);
        let after = Duration::from_secs(600);
        let mut s = ObjectState::default();
        assert_eq!(s.until_save(1_000.0, every), None, "no call yet");
        s.call_came(10_000.0, after);
        assert_eq!(s.until_save(20_000.0, every), Some(50_000));
        assert!(!s.save_due(20_000.0, every));
        assert!(s.save_due(70_000.0, every));
        s.saved(70_000.0);
        assert_eq!(s.until_save(80_000.0, every), None, "nothing came since the save: no alarm for it");
        assert!(!s.save_due(200_000.0, every));
        s.call_came(90_000.0, after);
        assert_eq!(s.until_save(100_000.0, every), Some(30_000));
        assert_eq!(s.until_save(500_000.0, every), Some(1), "overdue: as soon as may be");
    }

    #[test]
    fn a_call_makes_sure_of_the_agent_until_it_answered_and_again_after_a_failure_or_stop() {
        let mut s = ObjectState::default();
        assert!(s.needs_recovery(true), "a new object knows nothing of the agent");
        s.recovering();
        s.answered();
        assert!(!s.needs_recovery(true));
        assert!(s.needs_recovery(false), "a container seen not running");
        s.answered();
        s.call_failed();
        assert!(s.needs_recovery(true));
        s.answered();
        s.stopped();
        assert!(s.needs_recovery(true));
        s.answered();
        s.destroyed();
        assert!(s.needs_recovery(true));
    }

    #[test]
    fn sessions_are_recreated_only_on_an_agent_that_replaced_a_known_one() {
        let mut s = ObjectState::default();
        assert_eq!(s.boot(), None, "storage not read yet");
        s.boot_read(None);
        assert_eq!(s.boot(), Some(None));
        assert_eq!(s.adoption("b1"), Adoption::First);
        s.adopted("b1");
        assert_eq!(s.adoption("b1"), Adoption::InPlace);
        assert_eq!(s.adoption("b2"), Adoption::Recreate);
        s.destroyed();
        assert_eq!(s.adoption("b3"), Adoption::First, "a destroyed sandbox has no sessions to bring back");
    }

    #[test]
    fn storage_is_read_once_and_never_overrides_a_newer_agent() {
        let mut s = ObjectState::default();
        s.adopted("new");
        s.boot_read(Some("old".into()));
        assert_eq!(s.boot(), Some(Some("new")));
        let mut s = ObjectState::default();
        s.boot_read(Some("stored".into()));
        assert_eq!(s.adoption("stored"), Adoption::InPlace);
    }

    #[test]
    fn the_alarm_is_pushed_at_most_once_per_tenth_of_the_idle_time() {
        let after = Duration::from_secs(100);
        let mut s = ObjectState::default();
        assert!(s.call_came(1_000_000.0, after));
        assert!(!s.call_came(1_005_000.0, after));
        assert!(!s.call_came(1_009_999.0, after));
        assert!(s.call_came(1_010_000.0, after));
        s.destroyed();
        assert!(s.call_came(1_010_001.0, after), "after a destroy the alarm is set again at once");
    }

    #[test]
    fn idle_counts_from_the_later_of_the_last_call_and_the_last_end() {
        let mut s = ObjectState::default();
        assert_eq!(s.idle_ms(None, 5_000.0), None, "no call yet");
        s.call_came(1_000.0, Duration::from_secs(60));
        assert_eq!(s.idle_ms(None, 5_000.0), Some(4_000));
        // A long call that began at 1 000 and ended at 4 500.
        assert_eq!(s.idle_ms(Some(4_500.0), 5_000.0), Some(500));
        // A clock that went back reads as not idle.
        assert_eq!(s.idle_ms(None, 500.0), Some(0));
    }
}
