//! Sessions: the options that create one, what the API tells about one, and its command history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `createSession` options, as the SDK names them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Exported into the session's shell. A `null` value is skipped, as the SDK skips `undefined`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, Option<String>>>,
    /// The session's starting directory; created when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Default timeout of this session's commands, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_timeout_ms: Option<u64>,
    /// Accepted for SDK compatibility; every session here is an isolated shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<bool>,
    /// What the session's processes may use together (`{ memory: '512M', pids: 256, cpu: 0.5 }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::ResourceLimits>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// Waiting for a command.
    Idle,
    /// Running a command.
    Busy,
}

/// What `GET /v1/sessions/{id}` (and session creation) returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub success: bool,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The shell's working directory after its last command.
    pub cwd: String,
    pub status: SessionStatus,
    pub created_at: String,
    pub last_used_at: String,
    pub command_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_timeout_ms: Option<u64>,
    /// The limits in effect (the session's own, else the sandbox's defaults), when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::Limits>,
    /// What its processes use now, where the agent can read it (with cgroups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::ResourceUsage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionList {
    pub success: bool,
    pub sessions: Vec<SessionInfo>,
    pub count: usize,
}

/// One finished command of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub command: String,
    pub exit_code: i32,
    pub started_at: String,
    /// Milliseconds.
    pub duration: u64,
    pub timed_out: bool,
}

/// `GET /v1/sessions/{id}/history`: the newest entries, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionHistory {
    pub success: bool,
    pub session_id: String,
    pub entries: Vec<HistoryEntry>,
    /// Commands run in all; more than `entries.len()` when the oldest were dropped.
    pub total: u64,
}

/// Reply to a delete of a session or a sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeleteResult {
    pub success: bool,
    pub id: String,
    pub timestamp: String,
}

/// `POST /v1/env`: `setEnvVars`, exporting variables into a session's shell for its later commands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetEnvVarsRequest {
    /// Values are taken literally; a `null` value unsets the variable.
    pub env_vars: BTreeMap<String, Option<String>>,
    /// The default session when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SetEnvVarsResult {
    pub success: bool,
    pub session_id: String,
    pub timestamp: String,
}

/// `GET /v1/sandboxes/{id}` on the Worker: the sandbox's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SandboxStatus {
    pub success: bool,
    pub id: String,
    pub mode: SandboxMode,
    /// Whether the sandbox's container runs.
    pub running: bool,
    /// Calls the sandbox is answering now (streams included); the idle stop waits for them.
    #[serde(default)]
    pub in_flight: u32,
    /// When the container was last stopped by the sandbox itself, and why (`idle for 600 s ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// What the running agent has done since it started (absent when no container runs, or it did not answer in
    /// time: the status never starts or waits for one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<MetricsSummary>,
    /// The commands in flight in the running agent, queued or running (absent as `agent` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<crate::CommandInfo>>,
    /// The last automatic save of the workspace (before an idle stop), when a backup bucket is bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_save: Option<crate::SaveOutcome>,
    /// The last automatic restore of the workspace (into a new container, from the last save).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restore: Option<crate::SaveOutcome>,
    /// The sleep settings in effect (`setKeepAlive`, `setSleepAfter`).
    #[serde(default)]
    pub keep_alive: bool,
    #[serde(default)]
    pub sleep_after_ms: u64,
    /// What holds the sandbox's processes, as its running agent reports it (absent as `agent` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containment: Option<Containment>,
    /// The network policy in effect, and its latest refusals (absent as `agent` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::NetworkState>,
}

/// What holds a sandbox's processes, so that ending a command, a session or a process ends all it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Containment {
    /// A cgroup per session shell, background process and terminal: nothing started there can leave it.
    Cgroup,
    /// Process groups and process trees (where the agent cannot make cgroups): `setsid` and a double fork leave
    /// them.
    ProcessGroup,
    /// A kind this version does not know (sent by a newer agent); never sent.
    #[serde(other)]
    #[cfg_attr(test, schemars(skip))]
    Unknown,
}

/// The agent's counters in brief: `GET /v1/metrics` asked for `application/json`, and a sandbox status's `agent`.
/// The Prometheus text of the same route has them in full (by route, stream and limit, with latencies).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MetricsSummary {
    pub uptime_ms: u64,
    /// Sessions alive now.
    pub sessions: u64,
    /// Processes in the sandbox besides the agent, where the agent can count them (in a container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<u64>,
    /// Requests answered, and how many of them with a 4xx or a 5xx.
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub commands: CommandCounts,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    /// Requests refused at a limit (sessions, memory, connections).
    pub limits_hit: u64,
    /// Session shells that ended during a command (each replaced at the next one).
    pub shells_lost: u64,
    /// What holds the sandbox's processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containment: Option<Containment>,
    /// Each session's use of memory, CPU and processes (with cgroups; one agent's sessions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_usage: Vec<crate::SessionUsage>,
}

/// Commands run, by how they ended (`Ended`), and those whose shell could not start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommandCounts {
    pub exited: u64,
    pub timed_out: u64,
    pub cancelled: u64,
    pub not_started: u64,
}

/// Where a sandbox's agent runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// In the sandbox's own container (production, and `wrangler dev` with containers).
    Container,
    /// On the host, one agent for every sandbox (`SANDBOX_AGENT_URL`, local development).
    Local,
    /// A mode this version does not know (sent by a newer Worker); never sent.
    #[serde(other)]
    #[cfg_attr(test, schemars(skip))]
    Unknown,
}

/// `DELETE /v1/sandboxes/{id}` on the Worker: the sandbox was destroyed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DestroyResult {
    pub success: bool,
    pub id: String,
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub status: String,
    pub version: String,
    pub uptime_ms: u64,
    /// Random per agent process: a different value means the agent restarted.
    pub boot_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_options_read_the_sdk_shape() {
        let o: SessionOptions = serde_json::from_str(
            r#"{"name":"data-analysis","env":{"API_KEY":"secret-key","X":null},"cwd":"/workspace/analysis","commandTimeoutMs":5}"#,
        )
        .unwrap();
        assert_eq!(o.name.as_deref(), Some("data-analysis"));
        assert_eq!(o.env.unwrap()["API_KEY"].as_deref(), Some("secret-key"));
        assert_eq!(o.command_timeout_ms, Some(5));
    }

    #[test]
    fn session_options_reject_misspelt_fields() {
        assert!(serde_json::from_str::<SessionOptions>(r#"{"cmd":"/x"}"#).is_err());
    }
}
