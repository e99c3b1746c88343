//! The cgroup kinds of `process::kill::KillSet`: a whole group, or the members of a group a choice picks.

use std::collections::HashSet;
use std::sync::Arc;

use nix::sys::signal::Signal;

use super::group::Group;
use crate::process::kill::KillSet;
use crate::process::tree::{stat_of, ProcStat};

/// Every member of a group.
pub struct Whole(pub Arc<Group>);

impl KillSet for Whole {
    fn signal(&self, signal: Signal) {
        if signal == Signal::SIGKILL {
            let _ = self.0.kill();
            return;
        }
        // Frozen, no member ends and none is started while each is signalled: every number is a member's.
        let frozen = self.0.freeze().is_ok();
        for pid in self.0.members() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
        if frozen {
            self.0.thaw();
        }
    }

    fn count(&self) -> usize {
        self.0.members().len()
    }

    fn kill_holding(&self, hold: &mut dyn FnMut()) -> HashSet<i32> {
        let frozen = self.0.freeze().is_ok();
        let killed: HashSet<i32> = self.0.members().into_iter().collect();
        hold();
        let killing = self.0.kill();
        if frozen {
            self.0.thaw();
        }
        if let Err(err) = killing {
            tracing::warn!(%err, group = %self.0.dir().display(), "cgroup.kill failed");
        }
        if !self.0.wait_empty() {
            tracing::warn!(group = %self.0.dir().display(), "killed processes are still there");
        }
        killed
    }
}

/// The members of a group that `choose` picks, from what `/proc` says of each member, read while the group is
/// frozen: nothing forks, ends or joins between the choice and the signal, so the choice is exact and every
/// number signalled is the member's that was chosen.
pub struct Chosen<F> {
    group: Arc<Group>,
    choose: F,
}

impl<F: Fn(&[ProcStat]) -> Vec<i32> + Send + Sync> Chosen<F> {
    pub fn new(group: Arc<Group>, choose: F) -> Chosen<F> {
        Chosen { group, choose }
    }

    /// Freezes the group, runs `hold`, signals the chosen, thaws it; returns the chosen.
    fn frozen_signal(&self, signal: Signal, hold: &mut dyn FnMut()) -> Vec<i32> {
        let frozen = self.group.freeze().is_ok();
        let chosen = self.chosen();
        hold();
        for &pid in &chosen {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
        if frozen {
            self.group.thaw();
        }
        chosen
    }

    fn chosen(&self) -> Vec<i32> {
        let members: Vec<ProcStat> = self.group.members().into_iter().filter_map(stat_of).collect();
        let me = std::process::id() as i32;
        (self.choose)(&members).into_iter().filter(|&pid| pid != me && pid > 1).collect()
    }
}

impl<F: Fn(&[ProcStat]) -> Vec<i32> + Send + Sync> KillSet for Chosen<F> {
    fn signal(&self, signal: Signal) {
        self.frozen_signal(signal, &mut || {});
    }

    fn count(&self) -> usize {
        self.chosen().len()
    }

    /// One frozen round kills all that is chosen: nothing the chosen start can appear after it. Returns once they
    /// are gone (or after a bounded wait).
    fn kill_holding(&self, hold: &mut dyn FnMut()) -> HashSet<i32> {
        let killed: HashSet<i32> = self.frozen_signal(Signal::SIGKILL, hold).into_iter().collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while std::time::Instant::now() < deadline {
            let members: HashSet<i32> = self.group.members().into_iter().collect();
            if killed.is_disjoint(&members) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        killed
    }
}
