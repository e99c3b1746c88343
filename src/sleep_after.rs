//! `SANDBOX_SLEEP_AFTER`: how long a sandbox may sit idle before its container is stopped. Pure.

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

#[cfg(test)]
mod tests {
    use super::*;

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
