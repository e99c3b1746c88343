//! Running a command: the request, the buffered result and the events of a streamed run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How output bytes are carried in JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub enum Encoding {
    /// Text: invalid UTF-8 is replaced with U+FFFD; in a buffered result one trailing `\n` is removed.
    #[default]
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    /// The exact bytes, base64-encoded.
    #[serde(rename = "base64")]
    Base64,
}

/// `POST /v1/exec` and `POST /v1/exec/stream`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecRequest {
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Set for this command only, values taken literally. A `null` value unsets the variable for this command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, Option<String>>>,
    /// Working directory for this command only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Milliseconds; overrides the session's and the agent's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// Cap on each of stdout and stderr in a buffered result (bytes); beyond it output is dropped and
    /// `truncated` is set. Streams have no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<u64>,
    /// Chosen by the caller (1-128 characters, like a session id) to cancel the command with `POST
    /// /v1/exec/cancel`; unique among the sandbox's commands in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
}

/// `POST /v1/exec/cancel`: stops a command started with this `commandId`, queued or running, as a timeout would;
/// it ends with exit code 130.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelExecRequest {
    pub command_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CancelExecResult {
    pub success: bool,
    pub command_id: String,
    /// False when no such command was in flight (it had finished, or never started).
    pub cancelled: bool,
}

/// How a command ended: on its own (`exitCode` is its status, 128+N when signal N killed it), stopped by its
/// timeout (exit code 124), or cancelled (`POST /v1/exec/cancel` or the caller leaving; exit code 130). A command
/// can exit with 124 or 130 by itself: only this field tells them apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum Ended {
    #[default]
    Exited,
    TimedOut,
    Cancelled,
}

impl Ended {
    pub const ALL: [Ended; 3] = [Ended::Exited, Ended::TimedOut, Ended::Cancelled];
}

/// The result of a buffered exec, as the SDK names it, plus `ended`, `timedOut` and `truncated`.
///
/// `ended` is the newest field: a result from an agent without it reads as `exited`, or `timedOut` when that
/// flag is set (`ExecResult::ended`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExecResult {
    pub success: bool,
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    pub command: String,
    /// Milliseconds.
    pub duration: u64,
    /// When the command started, ISO 8601.
    pub timestamp: String,
    pub session_id: String,
    /// How it ended; read it with `ended()`.
    #[serde(default, rename = "ended", skip_serializing_if = "Option::is_none")]
    pub ended_as: Option<Ended>,
    /// `ended == timedOut`, kept for callers that read it.
    pub timed_out: bool,
    pub truncated: bool,
    pub encoding: Encoding,
    /// Its session's memory limit killed the command or one of its processes (`exitCode` 137); `message` says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
    /// What the agent has to say of how the command ended, beyond its output (a memory limit reached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The command's id: the caller's `commandId`, or one the agent gave it (absent from an older agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
}

impl ExecResult {
    /// How the command ended (from an older agent without the field: from `timedOut`).
    pub fn ended(&self) -> Ended {
        self.ended_as.unwrap_or(if self.timed_out { Ended::TimedOut } else { Ended::Exited })
    }

    /// This result's JSON, the bytes serde writes (tested), into `out`, with its text fields written by
    /// `json::write_str`: megabytes of output are most of an exec's answer, and serde scans them a byte at a time.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let text = self.stdout.len() + self.stderr.len() + self.command.len();
        out.reserve(320 + text + text / 16);
        // Writing into a Vec cannot fail.
        let _ = write!(out, r#"{{"success":{},"exitCode":{},"stdout":"#, self.success, self.exit_code);
        crate::json::write_str(out, &self.stdout);
        out.extend_from_slice(br#","stderr":"#);
        crate::json::write_str(out, &self.stderr);
        out.extend_from_slice(br#","command":"#);
        crate::json::write_str(out, &self.command);
        let _ = write!(out, r#","duration":{},"timestamp":"#, self.duration);
        crate::json::write_str(out, &self.timestamp);
        out.extend_from_slice(br#","sessionId":"#);
        crate::json::write_str(out, &self.session_id);
        if let Some(ended) = self.ended_as {
            out.extend_from_slice(br#","ended":"#);
            let _ = serde_json::to_writer(&mut *out, &ended);
        }
        let _ = write!(out, r#","timedOut":{},"truncated":{},"encoding":"#, self.timed_out, self.truncated);
        let _ = serde_json::to_writer(&mut *out, &self.encoding);
        if self.oom_killed {
            out.extend_from_slice(br#","oomKilled":true"#);
        }
        if let Some(message) = &self.message {
            out.extend_from_slice(br#","message":"#);
            crate::json::write_str(out, message);
        }
        if let Some(id) = &self.command_id {
            out.extend_from_slice(br#","commandId":"#);
            crate::json::write_str(out, id);
        }
        out.push(b'}');
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ExecEventType {
    Start,
    Stdout,
    Stderr,
    Complete,
    Error,
}

/// One server-sent event of `POST /v1/exec/stream` (the JSON on its `data:` line).
///
/// `complete` carries `exitCode` and a `result` whose `stdout` and `stderr` are empty (the output went out as
/// events). A stream that ends without `complete` or `error` was cut off and must be treated as a failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExecEvent {
    #[serde(rename = "type")]
    pub kind: ExecEventType,
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ExecResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::ErrorBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// `start`: the command's id (the caller's `commandId`, or the agent's), to cancel it by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
}

/// What a command in flight is doing: waiting for its session's shell, or running in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum CommandState {
    Queued,
    Running,
}

/// One command in flight (`GET /v1/commands`): queued behind its session's running command, or running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommandInfo {
    /// Cancel it with `POST /v1/exec/cancel` and this id.
    pub command_id: String,
    pub session_id: String,
    /// The command as sent (its first 1,024 bytes).
    pub command: String,
    pub state: CommandState,
    /// When the agent took it, ISO 8601.
    pub queued_at: String,
    /// When it began to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Milliseconds after its start when it is stopped (its own timeout, its session's, or the sandbox's
    /// default); absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// The query of `GET /v1/commands`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommandsQuery {
    /// That session's commands only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// `GET /v1/commands` (`?sessionId=`: that session's only): the commands in flight, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommandList {
    pub success: bool,
    pub commands: Vec<CommandInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_result_written_by_hand_is_what_serde_writes(
            success: bool,
            exit_code: i32,
            stdout: String,
            stderr in "[a-z\n\"\\\u{0}-\u{1f}]{0,40}",
            command: String,
            duration: u64,
            session_id: String,
            ended in prop::option::of(prop::sample::select(Ended::ALL.to_vec())),
            timed_out: bool,
            truncated: bool,
            base64: bool,
            command_id in prop::option::of("[a-z0-9-]{1,20}"),
            oom_killed: bool,
            message in prop::option::of("[a-z \"(]{0,20}"),
        ) {
            let result = ExecResult {
                success, exit_code, stdout, stderr, command, duration,
                timestamp: "2026-11-27T10:00:00.000Z".into(),
                session_id, ended_as: ended, timed_out, truncated,
                encoding: if base64 { Encoding::Base64 } else { Encoding::Utf8 },
                oom_killed, message, command_id,
            };
            let mut ours = Vec::new();
            result.write_json(&mut ours);
            prop_assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&result).unwrap());
        }
    }

    #[test]
    fn encoding_accepts_both_spellings_of_utf8() {
        let a: Encoding = serde_json::from_str(r#""utf-8""#).unwrap();
        let b: Encoding = serde_json::from_str(r#""utf8""#).unwrap();
        assert_eq!(a, Encoding::Utf8);
        assert_eq!(b, Encoding::Utf8);
        assert!(serde_json::from_str::<Encoding>(r#""latin1""#).is_err());
    }

    #[test]
    fn exec_result_uses_sdk_field_names() {
        let r = ExecResult {
            success: true,
            exit_code: 0,
            stdout: "secret-key".into(),
            stderr: String::new(),
            command: "echo $API_KEY".into(),
            duration: 1,
            timestamp: "2026-01-01T00:00:00Z".into(),
            session_id: "s".into(),
            ended_as: Some(Ended::Exited),
            timed_out: false,
            truncated: false,
            encoding: Encoding::Utf8,
            oom_killed: false,
            message: None,
            command_id: Some("cmd-1".into()),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["commandId"], "cmd-1");
        for key in ["success", "exitCode", "stdout", "stderr", "command", "duration", "timestamp", "sessionId"] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["encoding"], "utf-8");
        assert_eq!(v["ended"], "exited");
    }

    #[test]
    fn how_a_command_ended_reads_the_same_from_older_agents() {
        for (ended, text) in [(Ended::Exited, "exited"), (Ended::TimedOut, "timedOut"), (Ended::Cancelled, "cancelled")]
        {
            assert_eq!(serde_json::to_value(ended).unwrap(), text);
        }
        let older = |timed_out: bool| {
            serde_json::from_value::<ExecResult>(serde_json::json!({
                "success": false, "exitCode": 124, "stdout": "", "stderr": "", "command": "sleep 9", "duration": 1,
                "timestamp": "t", "sessionId": "s", "timedOut": timed_out, "truncated": false, "encoding": "utf-8",
            }))
            .unwrap()
        };
        assert_eq!(older(true).ended(), Ended::TimedOut);
        assert_eq!(older(false).ended(), Ended::Exited, "exit code 124 of its own");
    }

    #[test]
    fn event_type_is_on_the_type_key() {
        let e = ExecEvent {
            kind: ExecEventType::Stdout,
            timestamp: "t".into(),
            data: Some("hi".into()),
            command: None,
            exit_code: None,
            result: None,
            error: None,
            session_id: None,
            command_id: None,
        };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"type":"stdout","timestamp":"t","data":"hi"}"#);
    }
}
