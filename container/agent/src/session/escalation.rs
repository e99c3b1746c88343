//! How a command is stopped, as decisions over time: pure, so "what happens at t" is tested without a shell.
//!
//! A command that times out or whose caller leaves is interrupted as a Ctrl-C would: the shell is asked to abandon
//! it and its processes get SIGINT. After `AGAIN` its processes get SIGINT once more: one whose fork was under way
//! at the first (the shell had begun to start it when it was asked to stop) did not get it. Those still there after
//! `SOFT` are killed; a shell that has not reported the command done after `GRACE` is given up on and killed with
//! everything it started (the session's next command gets a new shell). The actor acts on each `Step`; the timing
//! lives here.

use std::time::Duration;

use sandbox_protocol::Ended;
use tokio::time::Instant;

/// How long an interrupted command's processes have to end on SIGINT before they are killed. SIGINT first, as a
/// Ctrl-C would: bash reports a foreground command killed by any other signal on the command's stderr
/// ("line 1: 123 Killed  sleep 30"), which is not the user's output.
pub const SOFT: Duration = Duration::from_millis(150);
/// When the command's processes get SIGINT a second time: one that the shell was forking at the first missed it,
/// and killing it would make bash print "Killed" into the command's stderr.
pub const AGAIN: Duration = Duration::from_millis(50);
/// How long an interrupted shell has to report before it is replaced.
pub const GRACE: Duration = Duration::from_millis(1000);
/// Exit code of a command that hit its timeout (as `timeout(1)` reports it).
pub const EXIT_TIMED_OUT: i32 = 124;
/// Exit code of a command whose caller went away or cancelled it.
pub const EXIT_CANCELLED: i32 = 130;

/// Why a command is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    TimedOut,
    Cancelled,
}

/// What to do to a command being stopped, at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// SIGINT was sent; give its processes time to end.
    Wait,
    /// SIGINT to the command's processes again, those started since the first among them (once).
    InterruptAgain,
    /// Kill what is left of the command (its processes that ignored SIGINT, or were started since).
    KillCommand,
    /// The shell did not report in time: kill it with everything it started.
    GiveUpShell,
}

/// A command being stopped: why, and since when.
#[derive(Debug, Clone, Copy)]
pub struct Escalation {
    pub reason: StopReason,
    again_at: Instant,
    interrupted_again: bool,
    hard_from: Instant,
    give_up: Instant,
}

impl Escalation {
    /// The stop begins at `now` (the shell has been asked to abandon the command, its processes got SIGINT).
    pub fn begin(reason: StopReason, now: Instant) -> Escalation {
        Escalation {
            reason,
            again_at: now + AGAIN,
            interrupted_again: false,
            hard_from: now + SOFT,
            give_up: now + GRACE,
        }
    }

    /// The step due at `now`; `InterruptAgain` is given once.
    pub fn step_at(&mut self, now: Instant) -> Step {
        if now >= self.give_up {
            Step::GiveUpShell
        } else if now >= self.hard_from {
            Step::KillCommand
        } else if now >= self.again_at && !self.interrupted_again {
            self.interrupted_again = true;
            Step::InterruptAgain
        } else {
            Step::Wait
        }
    }
}

/// Until when a chunk of output may wait for a stream reader that is behind: the command's deadline while it
/// runs, the moment the shell is given up on once it is being stopped.
pub fn reader_limit(stopping: Option<&Escalation>, deadline: Option<Instant>) -> Option<Instant> {
    match stopping {
        Some(stop) => Some(stop.give_up),
        None => deadline,
    }
}

/// Until when a command's last event (its result) may wait for a stream reader that is behind, decided at `now`,
/// when the command ended: a grace period past the stop, or past the deadline; no limit for a command without one.
pub fn patience(stopping: Option<&Escalation>, deadline: Option<Instant>, now: Instant) -> Option<Instant> {
    reader_limit(stopping, deadline).map(|at| at.max(now) + GRACE)
}

/// The exit code and end a caller sees: the shell's status, unless the agent stopped the command.
pub fn result(stopped: Option<StopReason>, status: i32) -> (i32, Ended) {
    match stopped {
        Some(StopReason::TimedOut) => (EXIT_TIMED_OUT, Ended::TimedOut),
        Some(StopReason::Cancelled) => (EXIT_CANCELLED, Ended::Cancelled),
        None => (status, Ended::Exited),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_stop_waits_interrupts_again_then_kills_the_command_then_gives_up_on_the_shell() {
        let t0 = Instant::now();
        let mut stop = Escalation::begin(StopReason::TimedOut, t0);
        assert_eq!(stop.step_at(t0), Step::Wait);
        assert_eq!(stop.step_at(t0 + AGAIN - ms(1)), Step::Wait);
        assert_eq!(stop.step_at(t0 + AGAIN), Step::InterruptAgain);
        assert_eq!(stop.step_at(t0 + AGAIN + ms(1)), Step::Wait, "once");
        assert_eq!(stop.step_at(t0 + SOFT - ms(1)), Step::Wait);
        assert_eq!(stop.step_at(t0 + SOFT), Step::KillCommand);
        assert_eq!(stop.step_at(t0 + GRACE - ms(1)), Step::KillCommand);
        assert_eq!(stop.step_at(t0 + GRACE), Step::GiveUpShell);
        assert_eq!(stop.step_at(t0 + GRACE * 10), Step::GiveUpShell);
    }

    #[test]
    fn a_slow_reader_holds_output_until_the_deadline_then_until_the_shell_is_given_up() {
        let t0 = Instant::now();
        let deadline = Some(t0 + ms(5000));
        assert_eq!(reader_limit(None, deadline), deadline);
        assert_eq!(reader_limit(None, None), None);
        let stop = Escalation::begin(StopReason::Cancelled, t0 + ms(10));
        // Once stopping, a command without a deadline is bounded too.
        assert_eq!(reader_limit(Some(&stop), None), Some(t0 + ms(10) + GRACE));
        assert_eq!(reader_limit(Some(&stop), deadline), Some(t0 + ms(10) + GRACE));
    }

    #[test]
    fn the_result_waits_a_grace_past_its_limit_and_never_forever_once_stopped() {
        let t0 = Instant::now();
        assert_eq!(patience(None, None, t0), None);
        assert_eq!(patience(None, Some(t0 + ms(300)), t0), Some(t0 + ms(300) + GRACE));
        // A limit already past counts from now.
        assert_eq!(patience(None, Some(t0), t0 + ms(50)), Some(t0 + ms(50) + GRACE));
        let stop = Escalation::begin(StopReason::TimedOut, t0);
        assert_eq!(patience(Some(&stop), None, t0 + ms(20)), Some(t0 + GRACE + GRACE));
    }

    #[test]
    fn a_stopped_command_reports_the_agent_s_code_not_the_shell_s() {
        assert_eq!(result(None, 0), (0, Ended::Exited));
        assert_eq!(result(None, 124), (124, Ended::Exited));
        assert_eq!(result(Some(StopReason::TimedOut), 130), (EXIT_TIMED_OUT, Ended::TimedOut));
        assert_eq!(result(Some(StopReason::Cancelled), 0), (EXIT_CANCELLED, Ended::Cancelled));
    }
}
