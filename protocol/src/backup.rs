//! Backups between the Durable Object and the agent: a save read from a directory, its blobs fetched one by one,
//! then committed; a restore begun from a manifest, its blobs sent one by one, then committed. The bytes of
//! manifests and blobs travel as `application/octet-stream`; these are the JSON bodies around them.

use serde::{Deserialize, Serialize};

/// `POST /v1/backup/scans`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupScanRequest {
    /// The directory to save, in the sandbox's view; the workspace by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
}

/// A blob: its BLAKE3 hash (64 hex digits) and size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BlobRef {
    pub hash: String,
    pub size: u64,
}

/// A directory read for a save.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BackupScan {
    pub scan_id: String,
    /// The directory saved, as the sandbox sees it.
    pub dir: String,
    pub entries: usize,
    pub files: usize,
    /// The bytes of every file.
    pub size_bytes: u64,
    /// The blobs the agent's last committed save or restore did not hold (to store unless the store has them).
    pub blobs: Vec<BlobRef>,
    /// The size of the manifest.
    pub manifest_bytes: u64,
    /// Entries not saved (FIFOs, sockets, devices, unreadable directories).
    pub skipped: Vec<String>,
}

/// The query of `POST /v1/backup/restores`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BackupRestoreQuery {
    /// The directory to restore into, in the sandbox's view; the workspace by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
}

/// A restore begun: the blobs to send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BackupRestore {
    pub restore_id: String,
    pub dir: String,
    /// Hashes of the blobs the restore needs.
    pub missing: Vec<String>,
}

/// A restore committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BackupRestored {
    pub success: bool,
    pub dir: String,
    pub files: usize,
    pub size_bytes: u64,
}
