//! What a session or a background process may use (`limits`), and what it uses (`usage`). The limits are spelled
//! as users look for them (`{ memory: '512M', pids: 256, cpu: 0.5 }`) and checked here, once, into numbers.

use serde::{Deserialize, Serialize};

/// The smallest memory limit: below it a shell cannot start its first command.
pub const MIN_MEMORY_BYTES: u64 = 8 << 20;
/// The largest memory limit taken (1 TiB); more is no limit.
pub const MAX_MEMORY_BYTES: u64 = 1 << 40;
/// The fewest processes a limit may allow: the shell and a pipeline of a few.
pub const MIN_PIDS: u64 = 8;
/// The most processes a limit may name (the kernel's own largest pid count).
pub const MAX_PIDS: u64 = 4_194_304;
/// CPU limits, in CPUs (0.5: half of one CPU's time).
pub const MIN_CPU: f64 = 0.01;
pub const MAX_CPU: f64 = 1024.0;

/// Limits as a caller writes them, on `createSession` and `startProcess`. Each absent one is the sandbox's
/// default (the agent's `--limit-*` flags), if it has one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceLimits {
    /// Memory of all its processes together: bytes, or a size such as `"512M"`, `"1.5G"`, `"64k"` (powers of
    /// 1024). Reaching it kills a process of the session (`exitCode: 137`, `oomKilled: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemorySize>,
    /// Processes (and threads) alive at once; a fork past it fails (`Resource temporarily unavailable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
    /// CPU time, in CPUs: `0.5` is half of one CPU's time, `2` two CPUs'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
}

/// A memory size: bytes, or text with a unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum MemorySize {
    Bytes(u64),
    Text(String),
}

/// Limits checked and in numbers: what the agent applies and a session's info shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
    /// Thousandths of a CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_millis: Option<u64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.memory_bytes.is_none() && self.pids.is_none() && self.cpu_millis.is_none()
    }

    /// Each of these that is absent taken from `defaults`.
    pub fn or(self, defaults: Limits) -> Limits {
        Limits {
            memory_bytes: self.memory_bytes.or(defaults.memory_bytes),
            pids: self.pids.or(defaults.pids),
            cpu_millis: self.cpu_millis.or(defaults.cpu_millis),
        }
    }
}

/// What a session or a process uses now, where the agent can read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// CPU time used since it started, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
    /// Processes its memory limit killed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub oom_kills: u64,
}

/// One session's use, in a sandbox's status and the agent's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionUsage {
    pub session_id: String,
    pub usage: ResourceUsage,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ResourceLimits {
    /// The limits in numbers, or what is wrong with one (naming it and the range it must be in).
    pub fn check(&self) -> Result<Limits, String> {
        let memory_bytes = match &self.memory {
            None => None,
            Some(MemorySize::Bytes(n)) => Some(*n),
            Some(MemorySize::Text(text)) => Some(parse_size(text).ok_or_else(|| {
                format!("limits.memory: {text:?} is not a size (a number of bytes, or one such as \"512M\" or \"2G\")")
            })?),
        };
        if let Some(n) = memory_bytes {
            if !(MIN_MEMORY_BYTES..=MAX_MEMORY_BYTES).contains(&n) {
                return Err(format!(
                    "limits.memory: {n} bytes is outside {} MiB to {} GiB",
                    MIN_MEMORY_BYTES >> 20,
                    MAX_MEMORY_BYTES >> 30
                ));
            }
        }
        if let Some(pids) = self.pids {
            if !(MIN_PIDS..=MAX_PIDS).contains(&pids) {
                return Err(format!("limits.pids: {pids} is outside {MIN_PIDS} to {MAX_PIDS}"));
            }
        }
        let cpu_millis = match self.cpu {
            None => None,
            Some(cpu) if cpu.is_finite() && (MIN_CPU..=MAX_CPU).contains(&cpu) => Some((cpu * 1000.0).round() as u64),
            Some(cpu) => return Err(format!("limits.cpu: {cpu} is outside {MIN_CPU} to {MAX_CPU} CPUs")),
        };
        Ok(Limits { memory_bytes, pids: self.pids, cpu_millis })
    }
}

/// `"512M"`, `"1.5G"`, `"64k"`, `"100"`, `"2GiB"`, `"300MB"`: a size in bytes, units in powers of 1024.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok().filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    let bytes = number * (1u64 << shift) as f64;
    (bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_in_powers_of_1024() {
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size(" 300 MB "), Some(300 << 20));
        assert_eq!(parse_size("100"), Some(100));
        for bad in ["", "M", "-1M", "1.2.3G", "12X", "1e9", "NaN"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn limits_are_checked_into_numbers_and_the_wrong_one_is_named() {
        let limits: ResourceLimits = serde_json::from_str(r#"{"memory":"512M","pids":256,"cpu":0.5}"#).unwrap();
        assert_eq!(
            limits.check(),
            Ok(Limits { memory_bytes: Some(512 << 20), pids: Some(256), cpu_millis: Some(500) })
        );
        let bytes: ResourceLimits = serde_json::from_str(r#"{"memory":67108864}"#).unwrap();
        assert_eq!(bytes.check().unwrap().memory_bytes, Some(64 << 20));
        for (json, named) in [
            (r#"{"memory":"1M"}"#, "limits.memory"),
            (r#"{"memory":"lots"}"#, "limits.memory"),
            (r#"{"pids":1}"#, "limits.pids"),
            (r#"{"cpu":0}"#, "limits.cpu"),
            (r#"{"cpu":5000}"#, "limits.cpu"),
        ] {
            let limits: ResourceLimits = serde_json::from_str(json).unwrap();
            assert!(limits.check().unwrap_err().starts_with(named), "{json}");
        }
        assert!(serde_json::from_str::<ResourceLimits>(r#"{"disk":"1G"}"#).is_err(), "an unknown limit is refused");
    }

    #[test]
    fn absent_limits_are_the_defaults() {
        let own = Limits { memory_bytes: Some(1 << 30), ..Limits::default() };
        let defaults = Limits { memory_bytes: Some(1 << 29), pids: Some(64), cpu_millis: None };
        assert_eq!(own.or(defaults), Limits { memory_bytes: Some(1 << 30), pids: Some(64), cpu_millis: None });
        assert!(Limits::default().is_empty());
    }
}
