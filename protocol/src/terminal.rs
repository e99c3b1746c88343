//! Terminals: a real pseudo-terminal running an interactive bash, reached over a WebSocket (`GET /v1/pty`), that
//! outlives its connection and is reattached by its id. Binary frames carry the terminal's bytes both ways; text
//! frames carry `PtyControl` as JSON.

use serde::{Deserialize, Serialize};

/// A control message of a terminal's WebSocket (a text frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PtyControl {
    /// From the client: the terminal's new size.
    Resize { cols: u16, rows: u16 },
    /// From the agent, first: the terminal is attached (`ptyId` reattaches it later).
    #[serde(rename_all = "camelCase")]
    Ready { pty_id: String },
    /// From the agent, last: the terminal's shell ended with this code (128 + N for signal N).
    Exit { code: i32 },
}

/// A terminal, as `GET /v1/ptys` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PtyInfo {
    pub id: String,
    pub pid: i32,
    pub cols: u16,
    pub rows: u16,
    /// WebSockets attached now.
    pub attached: usize,
    /// ISO 8601.
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PtyList {
    pub success: bool,
    pub ptys: Vec<PtyInfo>,
    pub count: usize,
}

/// The query of `GET /v1/pty` (the WebSocket that opens a terminal, or reattaches to one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PtyQuery {
    /// Columns, 80 by default (on a reattach: a resize).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::query::pty_size")]
    pub cols: Option<u16>,
    /// Rows, 24 by default (on a reattach: a resize).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::query::pty_size")]
    pub rows: Option<u16>,
    /// A new terminal starts in this session's directory with its variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Reattach to this terminal instead of opening one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pty_id: Option<String>,
}

/// The largest terminal size accepted, each way.
pub const MAX_PTY_DIMENSION: u16 = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_carry_their_type() {
        let resize: PtyControl = serde_json::from_str(r#"{"type":"resize","cols":120,"rows":40}"#).unwrap();
        assert_eq!(resize, PtyControl::Resize { cols: 120, rows: 40 });
        let ready = serde_json::to_string(&PtyControl::Ready { pty_id: "pty-1".into() }).unwrap();
        assert_eq!(ready, r#"{"type":"ready","ptyId":"pty-1"}"#);
        assert_eq!(serde_json::to_string(&PtyControl::Exit { code: 3 }).unwrap(), r#"{"type":"exit","code":3}"#);
    }
}
