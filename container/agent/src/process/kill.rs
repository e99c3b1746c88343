//! Killing: a set of processes that can be signalled, counted, and killed until none is left.
//!
//! Whoever ends something (a command, a session's shells, a background process, a terminal) describes what belongs
//! to it as a `KillSet` and asks the set to go. Today's one kind is `Scan`, a choice made from a fresh `/proc`
//! snapshot each time; a cgroup (whose `cgroup.kill` ends all its members in one write) is meant to be another,
//! and nobody that ends a thing needs to know which kind it holds.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::tree::{snapshot, ProcStat};

/// A set of processes that can be killed and waited for until none is left.
pub trait KillSet: Send + Sync {
    /// Sends `signal` once to each member.
    fn signal(&self, signal: Signal);
    /// How many members are alive now.
    fn count(&self) -> usize;
    /// Kills every member, and whatever joins while it does, and returns once none is left (or after a bounded
    /// wait). Blocking. Returns the processes it killed, as far as it knows them.
    fn kill_until_gone(&self) -> HashSet<i32> {
        self.kill_holding(&mut || {})
    }
    /// `kill_until_gone`, with `hold` run while the members are stopped, before any is killed: what they wrote
    /// until then can be read knowing that nothing of theirs follows, and nothing a kill causes (bash's report of
    /// a foreground process it lost) precedes it.
    fn kill_holding(&self, hold: &mut dyn FnMut()) -> HashSet<i32>;
}

/// Ends `set` gently: `first` to every member, then, for those still there after `grace`, `kill_until_gone`.
/// The blocking parts run off the async threads.
pub async fn end_gently(set: Arc<dyn KillSet>, first: Signal, grace: Duration) {
    if first != Signal::SIGKILL {
        let s = Arc::clone(&set);
        let _ = tokio::task::spawn_blocking(move || s.signal(first)).await;
        let t0 = tokio::time::Instant::now();
        while t0.elapsed() < grace {
            let s = Arc::clone(&set);
            if tokio::task::spawn_blocking(move || s.count()).await.unwrap_or(0) == 0 {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
    let _ = tokio::task::spawn_blocking(move || set.kill_until_gone()).await;
}

/// How often `end_gently` looks whether the set is empty during its grace.
const POLL: Duration = Duration::from_millis(20);

/// How long `kill_until_gone` waits for killed processes to be gone (SIGKILL takes effect when each next runs).
const GONE_WITHIN: Duration = Duration::from_secs(2);

/// The processes a selection chooses from a `/proc` snapshot taken anew for each use.
///
/// `select` runs first, before the snapshot: it reads what its choice depends on (whether a shell has been reaped)
/// and returns the choice. Read after the snapshot, a shell reaped in between would look reaped while the
/// snapshot still shows it, which is what a reused number looks like: its group was spared, and what the shell
/// left behind lived on. Never this process or PID 1.
pub struct Scan<F>(F);

impl<F, S> Scan<F>
where
    F: Fn() -> S,
    S: FnOnce(&[ProcStat]) -> Vec<i32>,
{
    pub fn new(select: F) -> Scan<F> {
        Scan(select)
    }

    /// The members in a snapshot taken now.
    pub fn members(&self) -> Vec<i32> {
        let choose = (self.0)();
        let me = std::process::id() as i32;
        choose(&snapshot()).into_iter().filter(|&pid| pid != me && pid > 1).collect()
    }
}

impl<F, S> KillSet for Scan<F>
where
    F: Fn() -> S + Send + Sync,
    S: FnOnce(&[ProcStat]) -> Vec<i32>,
{
    fn signal(&self, signal: Signal) {
        for pid in self.members() {
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }

    fn count(&self) -> usize {
        self.members().len()
    }

    /// Stops, then kills, what the selection picks from fresh snapshots, until it picks nothing but zombies: what
    /// it killed is dead, and what appeared meanwhile was killed too (at most 20 rounds of new processes; the wait
    /// for the dead at most `GONE_WITHIN`). Each is stopped before it is killed, so a tree that forks while it is
    /// being killed cannot outrun the kill; `hold` runs once, after the first round is stopped.
    fn kill_holding(&self, hold: &mut dyn FnMut()) -> HashSet<i32> {
        let mut held = false;
        let me = std::process::id() as i32;
        let mut killed: HashSet<i32> = HashSet::new();
        let mut rounds = 0;
        let deadline = Instant::now() + GONE_WITHIN;
        loop {
            let choose = (self.0)();
            let all = snapshot();
            let running: HashSet<i32> = all.iter().filter(|p| p.state != 'Z').map(|p| p.pid).collect();
            let live: Vec<i32> =
                choose(&all).into_iter().filter(|&pid| pid != me && pid > 1 && running.contains(&pid)).collect();
            if live.is_empty() {
                break;
            }
            let fresh: Vec<i32> = live.iter().copied().filter(|pid| !killed.contains(pid)).collect();
            if fresh.is_empty() || rounds >= 20 {
                if Instant::now() >= deadline {
                    tracing::warn!(left = live.len(), "killed processes are still there");
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            rounds += 1;
            for &pid in &fresh {
                let _ = kill(Pid::from_raw(pid), Signal::SIGSTOP);
            }
            if !held {
                held = true;
                hold();
            }
            for &pid in &fresh {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                killed.insert(pid);
            }
        }
        if !held {
            hold();
        }
        killed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child of this test process that is gone and reaped once `end` returns.
    fn child() -> (i32, impl FnOnce()) {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("sleep");
        let pid = child.id() as i32;
        (pid, move || {
            let _ = child.kill();
            let _ = child.wait();
        })
    }

    #[test]
    fn a_selection_reads_its_state_before_the_snapshot_is_taken() {
        // A shell that ends between the two must not be seen reaped in a snapshot that still shows it: that is
        // what a reused number looks like, and its group would be spared (a destroyed sandbox's job lived on).
        let (pid, end) = child();
        let end = std::cell::Cell::new(Some(end));
        let seen = Scan::new(|| {
            if let Some(end) = end.take() {
                end();
            }
            move |all: &[ProcStat]| all.iter().filter(|p| p.pid == pid).map(|p| p.pid).collect()
        })
        .members();
        assert!(seen.is_empty(), "the snapshot was taken before the selection read its state");
    }

    #[test]
    fn a_kill_reads_the_selections_state_before_each_snapshot() {
        let (pid, end) = child();
        let end = std::sync::Mutex::new(Some(end));
        let rounds = std::sync::atomic::AtomicUsize::new(0);
        Scan::new(|| {
            rounds.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if let Some(end) = end.lock().unwrap().take() {
                end();
            }
            move |all: &[ProcStat]| all.iter().filter(|p| p.pid == pid).map(|p| p.pid).collect()
        })
        .kill_until_gone();
        assert_eq!(rounds.into_inner(), 1, "a snapshot older than the selection's state showed the ended child");
    }

    #[test]
    fn a_set_never_holds_the_agent_or_pid_1() {
        let me = std::process::id() as i32;
        let set = Scan::new(|| move |_: &[ProcStat]| vec![1, me]);
        assert!(set.members().is_empty());
        assert!(set.kill_until_gone().is_empty());
    }
}
