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
    /// Every blob the manifest names (hashes, each once): what the store must keep while the save is kept.
    #[serde(default)]
    pub refs: Vec<String>,
    /// The size of the manifest.
    pub manifest_bytes: u64,
    /// Entries not saved (FIFOs, sockets, devices, unreadable directories).
    pub skipped: Vec<String>,
}

/// `GET /v1/backup/known`: the blobs the agent counts as stored (those of each directory's last committed save or
/// restore), which it will not send again; the store must keep them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BackupKnown {
    pub blobs: Vec<String>,
}

/// The query of `POST /v1/backup/restores`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BackupRestoreQuery {
    /// The directory to restore into, in the sandbox's view; the workspace by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// Restore only into an empty (or absent) directory: one with entries is refused with `FILE_EXISTS` and kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_if_empty: Option<bool>,
    /// The blobs are another sandbox's (a fork's first restore): the agent does not count them as stored, so the
    /// next save stores every file under this sandbox's own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign: Option<bool>,
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

/// The longest a backup is kept (`ttl`, seconds): 30 days.
pub const MAX_BACKUP_TTL_SECONDS: u64 = 30 * 24 * 3600;
/// How long a backup is kept when `ttl` is not given: 3 days.
pub const DEFAULT_BACKUP_TTL_SECONDS: u64 = 3 * 24 * 3600;
/// The longest backup name, in bytes.
pub const MAX_BACKUP_NAME_BYTES: usize = 256;
/// The largest manifest a save may have and a restore takes (about two million entries); the object streams it
/// between the agent and the store, never holding it.
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// `createBackup`: saves a directory of the sandbox (the workspace by default) to the backup store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBackupRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// A name of the caller's, shown in `listBackups`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Seconds the backup is kept (3 days by default, 30 at most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
}

/// A backup: made by `createBackup`, listed by `listBackups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// Unguessable; reachable only through the sandbox that made it.
    pub id: String,
    pub dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The bytes of its files.
    pub size_bytes: u64,
    pub files: usize,
    pub created_at: String,
    pub expires_at: String,
}

/// `listBackups`: the sandbox's backups that have not expired, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BackupList {
    pub success: bool,
    pub backups: Vec<Backup>,
}

/// `restoreBackup`: puts a backup's tree in place of a directory's contents (the directory it was made from by
/// default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreBackupRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
}

/// A backup restored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RestoreBackupResult {
    pub success: bool,
    pub id: String,
    pub dir: String,
    pub files: usize,
    pub size_bytes: u64,
}

/// How the sandbox's last automatic save (before an idle stop) or restore (after a new start) went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SaveOutcome {
    pub at: String,
    pub ok: bool,
    /// Why it failed (the previous save is still the current one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

/// `fork`: makes sandbox `newId`, whose workspace starts as this one's: its last automatic save (one is made
/// now if there is none), or the backup named.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForkRequest {
    pub new_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

/// A fork made: the new sandbox gets the workspace on its first call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ForkResult {
    pub success: bool,
    pub id: String,
    pub from: String,
    pub dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

/// What a fork's origin tells the new sandbox's object (`/v1/fork/adopt`, never a caller's route): where its first
/// workspace is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForkAdopt {
    pub manifest_key: String,
    pub dir: String,
    /// The sandbox whose blobs the manifest names.
    pub blobs_of: String,
}
