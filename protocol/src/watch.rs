//! File watch (`watch`): a directory's (or a file's) changes as server-sent events, from inotify in the agent.

use serde::{Deserialize, Serialize};

/// The query of `GET /v1/watch`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct WatchQuery {
    /// A directory (its entries' changes) or a file (its own).
    pub path: String,
    /// Subdirectories too, those created later included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
    /// Comma-separated patterns (`*` any characters, `?` one) matched against the path relative to the watched
    /// directory: only paths that match one are reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// Comma-separated patterns: a path that matches one, or lies under a directory that does, is not reported
    /// (nor watched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    /// The caller's name for the watch, for `DELETE /v1/watch/{id}` to end it (a closed connection does not travel
    /// through the Workers in between, so a client that stops reading says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// The answer to `DELETE /v1/watch/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StopWatchResult {
    pub success: bool,
    pub watch_id: String,
    /// Whether a watch of that id was open (and is now ended).
    pub stopped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum WatchEventType {
    /// The watch is in place: changes from here on are reported.
    Ready,
    Create,
    Modify,
    Delete,
    /// `oldPath` became `path`.
    Rename,
    /// Events were dropped (more came than the reader took): what the watch covers may have changed in ways not
    /// reported; list it again.
    Overflow,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct WatchEvent {
    #[serde(rename = "type")]
    pub kind: WatchEventType,
    /// Absolute; the watched path for `ready` and `overflow`.
    pub path: String,
    /// A rename's former path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    pub is_directory: bool,
    pub timestamp: String,
}

/// `POST /v1/watch/changes` (`checkChanges`): what changed under a path since a cursor, for callers that cannot
/// hold a stream open. The first call (no `since`) puts a watch in place and answers a cursor; each later call
/// answers the changes after its cursor and a new one. The agent keeps the changes of a path so watched for 10
/// minutes after its last call, the latest 10,000 of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckChangesRequest {
    pub path: String,
    #[serde(default)]
    pub recursive: bool,
    /// Comma-separated patterns, as `watch` takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    /// The cursor of the previous answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CheckChangesResult {
    pub success: bool,
    /// The watched path, absolute.
    pub path: String,
    /// For the next call's `since`.
    pub cursor: String,
    /// The changes after `since`, oldest first.
    pub changes: Vec<WatchEvent>,
    /// Changes were lost (more came than are kept, the watch was restarted, or the cursor is unknown): list the
    /// path again rather than trust `changes` alone.
    pub overflow: bool,
    pub timestamp: String,
}
