//! Background processes: programs that outlive the call that started them (a dev server, a watcher), with their
//! output kept in a bounded log that a caller reads, follows live, and resumes from an offset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Encoding;

/// `POST /v1/processes`: starts a program from a session's directory and exported variables (a snapshot taken at
/// the start), in its own process group. It belongs to the sandbox, not the session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartProcessRequest {
    /// Run by `bash -c`.
    pub command: String,
    /// Chosen by the caller (1-128 of `[A-Za-z0-9._-]`); generated when absent. Unique in the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_id: Option<String>,
    /// Whose directory and exported variables it starts with (the default session when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Set for this process only; a `null` value unsets the variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, Option<String>>>,
    /// Its working directory instead of the session's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Milliseconds: when they pass, the process is killed as `DELETE` kills it. None: it runs until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Forget the process as soon as it has ended (its logs with it), rather than keep it for listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_cleanup: Option<bool>,
    /// What it and everything it starts may use together (`{ memory: '512M', pids: 256, cpu: 0.5 }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::ResourceLimits>,
}

/// Where a process is in its life. `completed` (exit code 0) and `failed` (any other) only once the agent has
/// reaped it; `killed` when a signal ended it (`signal` says which); `error` when it could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ProcessStatus {
    Starting,
    Running,
    Completed,
    Failed,
    Killed,
    Error,
}

impl ProcessStatus {
    pub fn ended(self) -> bool {
        matches!(self, ProcessStatus::Completed | ProcessStatus::Failed | ProcessStatus::Killed | ProcessStatus::Error)
    }
}

/// A background process, as the SDK's `Process` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProcessInfo {
    pub id: String,
    pub pid: i32,
    pub command: String,
    pub status: ProcessStatus,
    /// ISO 8601.
    pub start_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Its exit status once it exited by itself; 128 + N when signal N killed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that killed it (`SIGKILL`, ...), when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Its memory limit killed it (or a process it started).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
    /// The limits in effect, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::Limits>,
}

/// `GET /v1/processes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProcessList {
    pub success: bool,
    pub processes: Vec<ProcessInfo>,
    pub count: usize,
}

/// `DELETE /v1/processes`: every process of the sandbox killed (and, like every ended one, kept for listing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct KillAllResult {
    pub success: bool,
    /// Processes that were running and are now gone.
    pub killed: usize,
}

/// Where one stream's log sits in everything that stream wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LogRange {
    /// Offset of the first byte returned; the `from` bytes before it fell out of the log's ring.
    pub from: u64,
    /// Bytes the stream has written in all.
    pub to: u64,
    /// Bytes of this stream that fell out of the ring and are not returned (`from`, said plainly): 0 when the log
    /// holds everything the stream wrote. (Absent from an older agent's answer: read as 0.)
    #[serde(default)]
    pub dropped: u64,
}

impl LogRange {
    /// The range of a stream whose log holds its bytes from `from` to `to`.
    pub fn new(from: u64, to: u64) -> LogRange {
        LogRange { from, to, dropped: from }
    }
}

/// `GET /v1/processes/{id}/logs`: what the process wrote so far, as much as its ring holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProcessLogs {
    pub success: bool,
    pub process_id: String,
    /// Text (invalid UTF-8 replaced; no newline removed) or base64 (`?encoding=base64`: every byte).
    pub stdout: String,
    pub stderr: String,
    pub encoding: Encoding,
    pub stdout_range: LogRange,
    pub stderr_range: LogRange,
}

/// The type of a process's log event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ProcessEventType {
    Stdout,
    Stderr,
    /// Bytes fell out of the ring before they could be sent: `dropped` says how many.
    Dropped,
    /// The process ended (sent once, last, and only when it did).
    Exit,
}

/// One server-sent event of `GET /v1/processes/{id}/stream` (the JSON on its `data:` line). Every event but `exit`
/// carries an SSE `id:`, the offset in the process's whole output (both streams, in order) just after it: a
/// reconnect with `Last-Event-ID` (or `?from=`) resumes there, with no byte lost or repeated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProcessEvent {
    #[serde(rename = "type")]
    pub event_type: ProcessEventType,
    /// The offset after this event (as its SSE `id`).
    pub offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    /// On `exit`: the process as it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessInfo>,
}

/// `POST /v1/processes/{id}/stdin`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StdinRequest {
    #[serde(default)]
    pub data: String,
    /// How `data` is encoded: `utf-8` (default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// Close the process's stdin after `data` (it reads end-of-input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StdinResult {
    pub success: bool,
    /// Bytes written.
    pub written: usize,
    pub closed: bool,
}

/// One of a process's two output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// What `POST /v1/processes/{id}/wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum WaitCondition {
    /// The process has ended.
    Exit,
    /// A line of its output (already logged, or to come) matches `pattern`.
    Log,
    /// Something listens on `port` (and, with `path`, answers an HTTP `GET` of it with `status`, 200 by default).
    Port,
}

/// `POST /v1/processes/{id}/wait`: one call that returns when the condition holds, evaluated inside the sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitRequest {
    pub condition: WaitCondition,
    /// `log`: the text a line must contain, or a regular expression with `regex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<bool>,
    /// `log`: only this stream; both when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<LogStream>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Milliseconds (at most 15 minutes); none waits up to that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct WaitResult {
    pub success: bool,
    pub condition: WaitCondition,
    /// `log`: the line that matched (without its newline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// The process as it is now (for `exit`, as it ended).
    pub process: ProcessInfo,
}

/// The query of `GET /v1/processes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProcessListQuery {
    /// Only the processes with this status (`?status=running`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProcessStatus>,
}

/// The query of `GET /v1/processes/{id}/logs` and `.../stream`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LogQuery {
    /// `utf-8` (the default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// `.../stream` only: resume at this offset (as `Last-Event-ID` does).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::query::whole")]
    pub from: Option<u64>,
}

/// The query of `DELETE /v1/processes/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct KillQuery {
    /// The first signal, by name (`SIGINT`, `INT`) or number (then `SIGKILL` after a grace period); `SIGTERM`
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// Header of a reconnecting event stream: the last event's `id`.
pub const LAST_EVENT_ID_HEADER: &str = "last-event-id";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_request_reads_the_sdk_shape_and_refuses_misspelt_fields() {
        let r: StartProcessRequest = serde_json::from_str(
            r#"{"command":"npm run dev","processId":"web","env":{"PORT":"3000"},"autoCleanup":true}"#,
        )
        .unwrap();
        assert_eq!(r.process_id.as_deref(), Some("web"));
        assert_eq!(r.auto_cleanup, Some(true));
        assert!(serde_json::from_str::<StartProcessRequest>(r#"{"command":"x","timout":5}"#).is_err());
    }

    #[test]
    fn events_carry_their_type_on_the_type_key() {
        let e = ProcessEvent {
            event_type: ProcessEventType::Stdout,
            offset: 12,
            data: Some("hi".into()),
            dropped: None,
            process: None,
        };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"type":"stdout","offset":12,"data":"hi"}"#);
    }

    #[test]
    fn statuses_say_when_a_process_has_ended() {
        assert!(!ProcessStatus::Running.ended() && !ProcessStatus::Starting.ended());
        assert!(ProcessStatus::Killed.ended() && ProcessStatus::Completed.ended());
    }
}
