//! Automatic saves, when a backup bucket is bound: the workspace is saved before every idle stop, and a new agent
//! (a new container after a stop or a crash) gets the last save back before its first call, into an empty
//! workspace only (a local sandbox's folder, which outlives its jail, is kept as it is).
//!
//! Never losing the last good save: a save is stored whole (blobs, then its manifest) before the one small write
//! that makes it current (`save:latest` in the object's storage); only then is the previous manifest removed. A
//! save that fails leaves the previous one current, and says why in the status (`lastSave`) and the logs.

use sandbox_protocol::{BackupRestoreQuery, ErrorCode, SaveOutcome};
use serde::{Deserialize, Serialize};
use worker::Date;

use super::backup_registry::{self as registry, manifest_key};
use super::backup_transfer::drop_manifest;
use super::backups::iso;
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;

/// The save a new agent gets back.
pub(super) const LATEST_SAVE_KEY: &str = "save:latest";
const LAST_SAVE_KEY: &str = "save:last-save";
const LAST_RESTORE_KEY: &str = "save:last-restore";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LatestSave {
    pub(super) manifest_key: String,
    pub(super) dir: String,
    /// The sandbox whose blobs the manifest names, when not this one's (a fork's first workspace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) blobs_of: Option<String>,
}

fn outcome(ok: bool, error: Option<String>, files: Option<usize>, size_bytes: Option<u64>) -> SaveOutcome {
    SaveOutcome { at: iso(Date::now().as_millis() as f64), ok, error, files, size_bytes }
}

impl SandboxObject {
    /// The current save, if any.
    pub(super) async fn latest_save(&self) -> Option<LatestSave> {
        self.state.storage().get(LATEST_SAVE_KEY).await.unwrap_or(None)
    }

    /// Saves the workspace of the agent in place (before the idle stop). Does nothing without a bucket or an
    /// adopted agent.
    pub(super) async fn autosave(&self, link: &AgentLink) {
        let Ok(bucket) = self.bucket() else { return };
        if !link.running() {
            return;
        }
        let Ok(Some(boot)) = self.known_boot().await else { return };
        self.known.borrow_mut().saved(Date::now().as_millis() as f64);
        let storage = self.state.storage();
        let id = match registry::new_id() {
            Ok(id) => id,
            Err(e) => return link.log.error("save.failed", e.message),
        };
        let key = manifest_key(link.sandbox_id(), &format!("save-{id}"));
        let turn = self.transfers.lock().await;
        let mut replaced = false;
        let result = match self.save(&bucket, link, Some(&boot), None, &key).await {
            Ok(scan) => {
                let previous: Option<LatestSave> = storage.get(LATEST_SAVE_KEY).await.unwrap_or(None);
                let latest = LatestSave { manifest_key: key.clone(), dir: scan.dir.clone(), blobs_of: None };
                match storage.put(LATEST_SAVE_KEY, latest).await {
                    Ok(()) => {
                        self.end_save(link, Some(&boot), &scan.scan_id, true).await;
                        if let Some(previous) = previous.filter(|p| p.manifest_key != key) {
                            let _ = drop_manifest(&bucket, &previous.manifest_key).await;
                            replaced = true;
                        }
                        Ok(scan)
                    }
                    Err(e) => {
                        self.end_save(link, Some(&boot), &scan.scan_id, false).await;
                        let _ = drop_manifest(&bucket, &key).await;
                        Err(format!("the save could not be made current: {e}"))
                    }
                }
            }
            Err(e) => Err(e.message),
        };
        let outcome = match result {
            Ok(scan) => {
                let detail = format!(
                    "{} saved ({} files, {} bytes, {} new blobs)",
                    scan.dir,
                    scan.files,
                    scan.size_bytes,
                    scan.blobs.len()
                );
                link.log.info("save.done", detail);
                outcome(true, None, Some(scan.files), Some(scan.size_bytes))
            }
            Err(message) => {
                link.log.error(
                    "save.failed",
                    format!("the workspace was not saved (the last save stays current): {message}"),
                );
                outcome(false, Some(message), None, None)
            }
        };
        if let Err(e) = storage.put(LAST_SAVE_KEY, outcome).await {
            link.log.error("storage.failed", format!("could not record the save: {e}"));
        }
        drop(turn);
        // What only the save it replaced named is no longer needed.
        if replaced {
            self.collect_blobs(link).await;
        }
    }

    /// A `REPLAY` step: the new agent `boot` gets the last save back, into an empty workspace only. A failure is
    /// recorded and logged, and the agent is used as it is; only an agent that restarted again fails the call.
    pub(super) async fn restore_latest(&self, boot: &str, link: &AgentLink) -> Result<(), WorkerError> {
        let Ok(bucket) = self.bucket() else { return Ok(()) };
        let storage = self.state.storage();
        let latest: Option<LatestSave> = storage.get(LATEST_SAVE_KEY).await.unwrap_or(None);
        let Some(latest) = latest else { return Ok(()) };
        // A fork's first workspace names its origin's blobs: the next save stores them all under this sandbox.
        let foreign = latest.blobs_of.is_some();
        let query =
            BackupRestoreQuery { dir: Some(latest.dir.clone()), only_if_empty: Some(true), foreign: Some(foreign) };
        let blobs_of = latest.blobs_of.as_deref().unwrap_or(link.sandbox_id());
        let restored = self.restore_tree(&bucket, link, Some(boot), &latest.manifest_key, blobs_of, &query).await;
        let outcome = match restored {
            Ok(restored) => {
                let detail = format!("{} restored from the last save ({} files)", restored.dir, restored.files);
                link.log.info("save.restored", detail);
                outcome(true, None, Some(restored.files), Some(restored.size_bytes))
            }
            Err(e) if e.code == ErrorCode::FileExists => {
                link.log.info("save.kept", format!("{} has files already: kept as it is", latest.dir));
                return Ok(());
            }
            Err(e) if e.code == ErrorCode::ContainerUnavailable => return Err(e),
            Err(e) => {
                link.log.error("save.restore_failed", format!("the last save was not restored: {}", e.message));
                outcome(false, Some(e.message), None, None)
            }
        };
        if let Err(e) = storage.put(LAST_RESTORE_KEY, outcome).await {
            link.log.error("storage.failed", format!("could not record the restore: {e}"));
        }
        Ok(())
    }

    /// The last automatic save's and restore's outcomes, for the status.
    pub(super) async fn save_outcomes(&self) -> (Option<SaveOutcome>, Option<SaveOutcome>) {
        let storage = self.state.storage();
        (storage.get(LAST_SAVE_KEY).await.unwrap_or(None), storage.get(LAST_RESTORE_KEY).await.unwrap_or(None))
    }

    /// Removes the last save from the store (the sandbox is destroyed: a new one of its id starts empty).
    pub(super) async fn forget_saves(&self, link: &AgentLink) {
        let latest: Option<LatestSave> = self.state.storage().get(LATEST_SAVE_KEY).await.unwrap_or(None);
        if let (Ok(bucket), Some(latest)) = (self.bucket(), latest) {
            if let Err(e) = drop_manifest(&bucket, &latest.manifest_key).await {
                link.log.warn("save.forget", format!("the last save was not removed from the store: {e}"));
            }
        }
    }
}
