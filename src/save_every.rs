//! `SANDBOX_SAVE_EVERY`: how often a busy sandbox's workspace is saved (with a backup bucket), so that a container
//! that dies loses at most that much work; and when such a save is due. Pure.

use std::time::Duration;

/// When the variable is missing or unreadable.
pub const DEFAULT: Duration = Duration::from_secs(5 * 60);

/// Reads the variable as `SANDBOX_SLEEP_AFTER` is read (`5m`, `90s`, ...); `0` (or `off`) means no periodic save.
pub fn parse(text: &str) -> Option<Option<Duration>> {
    match text.trim() {
        "0" | "off" => Some(None),
        other => crate::sleep_after::parse(other).map(Some),
    }
}

/// Whether a periodic save is due at `now_ms`: `every` has passed since the last save (or since the object
/// started, `since_ms`, when none was made), and a call came after it, so an idle sandbox is not saved again and
/// again.
pub fn due(now_ms: f64, last_save_ms: Option<f64>, since_ms: f64, last_call_ms: f64, every: Duration) -> bool {
    let from = last_save_ms.unwrap_or(since_ms);
    now_ms - from >= every.as_millis() as f64 && last_call_ms > last_save_ms.unwrap_or(0.0)
}

/// Milliseconds from `now_ms` until the next save is due (1 when it is due now: an alarm is set ahead): `every`
/// after the last save, or after `since_ms` when none was made.
pub fn until_due(now_ms: f64, last_save_ms: Option<f64>, since_ms: f64, every: Duration) -> i64 {
    let due_at = last_save_ms.unwrap_or(since_ms) + every.as_millis() as f64;
    (due_at - now_ms).max(1.0) as i64
}

/// The alarm's next delay: the idle decision's, or sooner when a periodic save comes first (`until_save`). Calls
/// push the alarm out; this keeps them from pushing it past the save.
pub fn next_alarm_ms(idle_ms: i64, until_save: Option<i64>) -> i64 {
    match until_save {
        Some(until_save) => idle_ms.min(until_save),
        None => idle_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_or_a_duration() {
        assert_eq!(parse("0"), Some(None));
        assert_eq!(parse("off"), Some(None));
        assert_eq!(parse("5m"), Some(Some(Duration::from_secs(300))));
        assert_eq!(parse("soon"), None);
    }

    #[test]
    fn a_save_is_due_after_its_period_and_only_after_calls() {
        let every = Duration::from_secs(300);
        // Never saved: due once the period has passed since the object started, if anything was called.
        assert!(!due(100_000.0, None, 0.0, 50_000.0, every));
        assert!(due(300_000.0, None, 0.0, 50_000.0, every));
        assert!(!due(300_000.0, None, 0.0, 0.0, every));
        // Saved at 300 s: not again before 600 s, and not at all without a call since.
        assert!(!due(500_000.0, Some(300_000.0), 0.0, 400_000.0, every));
        assert!(due(600_000.0, Some(300_000.0), 0.0, 400_000.0, every));
        assert!(!due(900_000.0, Some(300_000.0), 0.0, 200_000.0, every));
    }

    #[test]
    fn the_alarm_comes_no_later_than_the_next_save() {
        let every = Duration::from_secs(300);
        assert_eq!(until_due(100_000.0, None, 0.0, every), 200_000);
        assert_eq!(until_due(700_000.0, Some(300_000.0), 0.0, every), 1);
        assert_eq!(next_alarm_ms(600_000, Some(until_due(100_000.0, Some(100_000.0), 0.0, every))), 300_000);
        assert_eq!(next_alarm_ms(100_000, Some(300_000)), 100_000);
        assert_eq!(next_alarm_ms(600_000, None), 600_000);
    }
}
