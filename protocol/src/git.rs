//! `gitCheckout`: a repository cloned into the sandbox, with the SDK's names.

use serde::{Deserialize, Serialize};

/// `POST /v1/git/checkout`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitCheckoutRequest {
    /// `https://`, `http://`, `git://`, `ssh://`, `file://`, `user@host:path`, or an absolute path in the sandbox.
    pub repo_url: String,
    /// The branch (or tag) to check out; the repository's default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Where the clone goes (must not exist, or be an empty directory); the repository's name in the session's
    /// directory when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_dir: Option<String>,
    /// A shallow clone of this many commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// Milliseconds; the clone is stopped when it passes (the session's, else the sandbox's, command timeout when
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct GitCheckoutResult {
    pub success: bool,
    pub repo_url: String,
    /// The branch checked out (the default branch's name when none was asked for).
    pub branch: String,
    /// Where the clone is, absolute.
    pub target_dir: String,
    pub timestamp: String,
}
