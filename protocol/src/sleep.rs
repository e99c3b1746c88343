//! A sandbox's own sleep settings, the SDK's `setKeepAlive` and `setSleepAfter`: kept by its Durable Object, in
//! place of the Worker's `SANDBOX_SLEEP_AFTER` for that sandbox alone.

use serde::{Deserialize, Serialize};

/// The longest `sleepAfter` a sandbox may ask for (a week); `keepAlive` is for longer.
pub const MAX_SLEEP_AFTER_SECONDS: u64 = 7 * 24 * 3600;

/// `PUT /v1/sleep`: a field left out keeps its value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SleepRequest {
    /// `true`: never stopped for being idle (until `false`, or `destroy`); saves still run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<bool>,
    /// Idle time before the sandbox sleeps: `90` or `90s`, `500ms`, `10m`, `1h` (at most a week); `default` for
    /// the Worker's `SANDBOX_SLEEP_AFTER` again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep_after: Option<String>,
}

/// The sleep settings in effect (`GET` and `PUT /v1/sleep`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SleepSettings {
    pub success: bool,
    pub keep_alive: bool,
    /// Milliseconds without a call before the sandbox sleeps (unless `keepAlive`).
    pub sleep_after_ms: u64,
    /// Whether that is the Worker's `SANDBOX_SLEEP_AFTER` (no `setSleepAfter` of the sandbox's own).
    pub sleep_after_default: bool,
}
