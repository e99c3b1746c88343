//! Wall-clock timestamps as the API writes them: ISO 8601, UTC, milliseconds (`2026-11-26T07:06:31.123Z`), the
//! form of JavaScript's `Date.prototype.toISOString`. Pure: the instant comes in, the text goes out.
//!
//! Any instant is written, including the ones code in a sandbox can give a file (`touch -d @99999999999999` on a
//! tmpfs is year 3,170,843): instants beyond what a JavaScript `Date` holds are clamped to its limits, so every
//! timestamp this agent writes parses with `new Date()`.

use std::time::{SystemTime, UNIX_EPOCH};

/// The farthest a JavaScript `Date` reaches from the epoch either way, in milliseconds (100,000,000 days).
const JS_DATE_LIMIT_MS: i64 = 8_640_000_000_000_000;
const MS_PER_DAY: i64 = 86_400_000;

/// An ISO 8601 timestamp held without allocating: at most 27 bytes (`+275760-09-13T00:00:00.000Z`).
#[derive(Clone, Copy)]
pub struct Iso {
    bytes: [u8; 27],
    len: u8,
}

impl Iso {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

pub fn iso(at: SystemTime) -> String {
    iso_ms(epoch_ms(at)).as_str().to_string()
}

pub fn iso_now() -> String {
    iso(SystemTime::now())
}

/// `at` as milliseconds since the epoch, rounded down as JavaScript does (the millisecond it falls in).
pub fn epoch_ms(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_millis()).unwrap_or(i64::MAX);
            // 0.5 ms before the epoch is in the millisecond -1.
            let partial = before.subsec_nanos() % 1_000_000 != 0;
            whole.saturating_neg().saturating_sub(i64::from(partial))
        }
    }
}

/// Formats milliseconds since the epoch; years outside 0-9999 get a sign and six digits, as in JavaScript.
pub fn iso_ms(ms: i64) -> Iso {
    let ms = ms.clamp(-JS_DATE_LIMIT_MS, JS_DATE_LIMIT_MS);
    let (days, in_day) = (ms.div_euclid(MS_PER_DAY), ms.rem_euclid(MS_PER_DAY));
    let (year, month, day) = civil_from_days(days);
    let mut out = Iso { bytes: [0; 27], len: 0 };
    let mut put = |text: &[u8]| {
        let at = usize::from(out.len);
        out.bytes[at..at + text.len()].copy_from_slice(text);
        out.len += text.len() as u8;
    };
    if (0..=9999).contains(&year) {
        put(&digits::<4>(year as u64));
    } else {
        put(if year < 0 { b"-" } else { b"+" });
        put(&digits::<6>(year.unsigned_abs()));
    }
    let (hour, minute) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (second, milli) = (in_day / 1000 % 60, in_day % 1000);
    put(b"-");
    put(&digits::<2>(month));
    put(b"-");
    put(&digits::<2>(day));
    put(b"T");
    put(&digits::<2>(hour as u64));
    put(b":");
    put(&digits::<2>(minute as u64));
    put(b":");
    put(&digits::<2>(second as u64));
    put(b".");
    put(&digits::<3>(milli as u64));
    put(b"Z");
    out
}

/// `n` in exactly `N` decimal digits (the caller keeps `n` below 10^N).
fn digits<const N: usize>(mut n: u64) -> [u8; N] {
    let mut out = [b'0'; N];
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out
}

/// The proleptic Gregorian (year, month, day) of a day counted from 1970-01-01: days are grouped into 400-year
/// eras of 146,097 days, and years are counted from March so that the leap day ends the year.
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let shifted = days + 719_468; // from 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u64;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u64;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_140_791_123);
        assert_eq!(iso(t), "2025-11-26T07:06:31.123Z");
        assert_eq!(iso(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_ms(951_782_400_000).as_str(), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn instants_before_the_epoch_fall_in_their_millisecond() {
        assert_eq!(iso(UNIX_EPOCH - Duration::from_micros(500)), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso(UNIX_EPOCH - Duration::from_millis(1)), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso(UNIX_EPOCH - Duration::from_secs(100_000_000_000)), "-001199-02-15T14:13:20.000Z");
    }

    #[test]
    fn far_instants_read_as_javascript_writes_them() {
        // What `new Date(ms).toISOString()` gives for these.
        assert_eq!(iso_ms(253_402_300_800_000).as_str(), "+010000-01-01T00:00:00.000Z");
        assert_eq!(iso_ms(-62_167_219_200_000).as_str(), "0000-01-01T00:00:00.000Z");
        assert_eq!(iso_ms(-62_167_219_200_001).as_str(), "-000001-12-31T23:59:59.999Z");
        assert_eq!(iso_ms(JS_DATE_LIMIT_MS).as_str(), "+275760-09-13T00:00:00.000Z");
        assert_eq!(iso_ms(-JS_DATE_LIMIT_MS).as_str(), "-271821-04-20T00:00:00.000Z");
        // Beyond a Date's reach: clamped, never a panic.
        assert_eq!(iso_ms(i64::MAX).as_str(), "+275760-09-13T00:00:00.000Z");
        assert_eq!(iso_ms(i64::MIN).as_str(), "-271821-04-20T00:00:00.000Z");
        assert_eq!(iso(UNIX_EPOCH + Duration::from_secs(99_999_999_999_999)), "+275760-09-13T00:00:00.000Z");
    }

    proptest! {
        #[test]
        fn agrees_with_the_time_crate_for_years_0_to_9999(ms in -62_167_219_200_000i64..253_402_300_800_000) {
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second(), t.millisecond()
            );
            let ours = iso_ms(ms);
            prop_assert_eq!(ours.as_str(), expected);
        }
    }
}
