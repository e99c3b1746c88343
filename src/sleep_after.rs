//! `SANDBOX_SLEEP_AFTER`: how long a sandbox may sit idle before its container is stopped, and what the idle
//! alarm decides when it fires. Pure.

use std::time::Duration;

/// When the variable is missing or unreadable.
pub const DEFAULT: Duration = Duration::from_secs(10 * 60);

/// Reads `90`, `90s`, `500ms`, `10m` or `1h` (a bare number is seconds).
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let ms = match unit.trim() {
        "" | "s" => n.checked_mul(1000)?,
        "ms" => n,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// A sandbox's own sleep settings, as its object stores them (`setKeepAlive`, `setSleepAfter`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Own {
    pub keep_alive: bool,
    /// `None`: the Worker's `SANDBOX_SLEEP_AFTER`.
    pub sleep_after_ms: Option<u64>,
}

impl Own {
    /// The idle time in effect, the Worker's `default` unless the sandbox set its own.
    pub fn sleep_after(&self, default: Duration) -> Duration {
        self.sleep_after_ms.map(Duration::from_millis).unwrap_or(default)
    }

    /// These settings with a caller's request applied: a field left out is kept; `sleepAfter` is a duration as
    /// `parse` reads it, of at most `MAX_SLEEP_AFTER_SECONDS`, or `default`.
    pub fn with(self, request: &sandbox_protocol::SleepRequest) -> Result<Own, String> {
        let mut next = self;
        if let Some(keep_alive) = request.keep_alive {
            next.keep_alive = keep_alive;
        }
        if let Some(text) = &request.sleep_after {
            next.sleep_after_ms = if text.trim() == "default" {
                None
            } else {
                let after = parse(text).ok_or_else(|| {
                    format!("sleepAfter {text:?}: a duration such as 90s, 10m or 1h (or \"default\") is expected")
                })?;
                let max = Duration::from_secs(sandbox_protocol::MAX_SLEEP_AFTER_SECONDS);
                if after > max {
                    return Err(format!(
                        "sleepAfter {text:?}: at most {} hours; use keepAlive for longer",
                        max.as_secs() / 3600
                    ));
                }
                Some(after.as_millis() as u64)
            };
        }
        Ok(next)
    }
}

/// What the idle alarm does when it fires.
#[derive(Debug, PartialEq)]
pub enum OnAlarm {
    /// Stop the container.
    Stop,
    /// Not idle: fire again after this many milliseconds.
    Later { ms: i64, in_flight: u32 },
}

/// `in_flight`: calls still being answered (streams included); `idle_ms`: since the last call came (`None`: no
/// call since the object started); `after`: `SANDBOX_SLEEP_AFTER`. A call in flight always defers the stop, however
/// long ago it started.
pub fn on_alarm(in_flight: u32, idle_ms: Option<u64>, after: Duration) -> OnAlarm {
    let after_ms = after.as_millis() as u64;
    if in_flight > 0 {
        return OnAlarm::Later { ms: after_ms as i64, in_flight };
    }
    match idle_ms {
        Some(idle) if idle < after_ms => OnAlarm::Later { ms: (after_ms - idle) as i64, in_flight: 0 },
        _ => OnAlarm::Stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alarm_never_stops_a_sandbox_with_a_call_in_flight() {
        let after = Duration::from_secs(600);
        assert_eq!(on_alarm(1, Some(3_600_000), after), OnAlarm::Later { ms: 600_000, in_flight: 1 });
        assert_eq!(on_alarm(0, Some(100_000), after), OnAlarm::Later { ms: 500_000, in_flight: 0 });
        assert_eq!(on_alarm(0, Some(600_000), after), OnAlarm::Stop);
        assert_eq!(on_alarm(0, None, after), OnAlarm::Stop);
    }

    #[test]
    fn a_sandbox_sets_its_own_sleep_and_keeps_what_it_left_out() {
        use sandbox_protocol::SleepRequest;
        let default = Duration::from_secs(600);
        let ask = |keep_alive: Option<bool>, after: Option<&str>| SleepRequest {
            keep_alive,
            sleep_after: after.map(str::to_string),
        };
        let own = Own::default().with(&ask(None, Some("90s"))).unwrap();
        assert_eq!((own.keep_alive, own.sleep_after(default)), (false, Duration::from_secs(90)));
        let own = own.with(&ask(Some(true), None)).unwrap();
        assert_eq!((own.keep_alive, own.sleep_after(default)), (true, Duration::from_secs(90)));
        let own = own.with(&ask(None, Some("default"))).unwrap();
        assert_eq!((own.keep_alive, own.sleep_after(default)), (true, default));
        for bad in ["soon", "0", "-1s", "", "8h0m", "170h"] {
            assert!(own.with(&ask(None, Some(bad))).is_err(), "{bad}");
        }
        assert!(own.with(&ask(None, Some("168h"))).is_ok());
    }

    #[test]
    fn units() {
        assert_eq!(parse("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("0"), None);
        assert_eq!(parse("soon"), None);
        assert_eq!(parse("5d"), None);
    }
}
