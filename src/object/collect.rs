//! Collecting the store: a sandbox's blobs that no kept manifest names are deleted. Blobs are content-addressed
//! and shared by every save of the sandbox, so deleting a backup (or replacing the current save) removes only its
//! manifest; what its blobs held is reclaimed here, after a backup is deleted or expires, after a save replaces
//! the one before it, and after `destroy`.
//!
//! Kept: every blob listed beside a kept manifest (`refs/...`, written before the manifest itself): the backups that
//! have not expired, the current save, and the forks made from this sandbox whose first workspace still names its
//! blobs (`forkref:` records, dropped once the fork's copy of the manifest is gone); and every blob the running
//! agent counts as stored (it will not send those again). A kept manifest without its list, or an agent that
//! cannot be asked, stops the collection: nothing is deleted that might be needed. Saves and collections take
//! turns (`SandboxObject::transfers`), so no save can count on a blob while it is being deleted.

use std::collections::HashSet;

use sandbox_protocol::routes::BACKUP_KNOWN;
use sandbox_protocol::{BackupKnown, ErrorCode, SandboxMode};
use worker::{Bucket, Date, ListOptions, Method, Request, RequestInit};

use super::backup_registry::{self as registry, blobs_prefix, manifest_key, refs_key};
use super::backup_transfer::{drop_manifest, read_object, store_failed};
use super::request::storage_failed;
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;

/// Storage prefix of the forks made from this sandbox whose first workspace names its blobs: the key is the
/// fork's copy of the manifest.
const FORK_REF_PREFIX: &str = "forkref:";
/// The largest list of blobs the object reads (about 250,000 blobs: a terabyte).
const MAX_REFS: u64 = 16 << 20;
/// Keys deleted from the store per call.
const DELETE_BATCH: usize = 1000;

/// What a collection did.
struct Collected {
    kept: usize,
    deleted: usize,
}

impl SandboxObject {
    /// Notes that the fork whose manifest is at `fork_manifest` names this sandbox's blobs.
    pub(super) async fn record_fork_ref(&self, fork_manifest: &str) -> Result<(), WorkerError> {
        let key = format!("{FORK_REF_PREFIX}{fork_manifest}");
        self.state.storage().put(&key, fork_manifest).await.map_err(storage_failed)
    }

    /// The manifests of the forks made from this sandbox that may still name its blobs.
    pub(super) async fn fork_refs(&self) -> Result<Vec<String>, WorkerError> {
        let listed = self
            .state
            .storage()
            .list_with_options(ListOptions::new().prefix(FORK_REF_PREFIX))
            .await
            .map_err(storage_failed)?;
        let mut forks = Vec::new();
        for key in listed.keys() {
            let key = key.map_err(|e| WorkerError::new(ErrorCode::InternalError, format!("{e:?}")))?;
            if let Some(key) = key.as_string() {
                forks.push(key.trim_start_matches(FORK_REF_PREFIX).to_string());
            }
        }
        Ok(forks)
    }

    /// Deletes the sandbox's blobs that nothing kept names; logs what it did, or why it did nothing.
    pub(super) async fn collect_blobs(&self, link: &AgentLink) {
        let Ok(bucket) = self.bucket() else { return };
        let _turn = self.transfers.lock().await;
        match self.collect(&bucket, link).await {
            Ok(Collected { kept, deleted }) if deleted > 0 => {
                link.log.info("store.collected", format!("{deleted} blobs no save names deleted ({kept} kept)"));
            }
            Ok(_) => {}
            Err(e) => link.log.warn("store.not_collected", format!("nothing was collected: {}", e.message)),
        }
    }

    async fn collect(&self, bucket: &Bucket, link: &AgentLink) -> Result<Collected, WorkerError> {
        let sandbox = link.sandbox_id().to_string();
        let storage = self.state.storage();
        let now = Date::now().as_millis() as f64;
        let mut kept_manifests = Vec::new();
        for record in registry::all(&storage).await.map_err(storage_failed)? {
            let key = manifest_key(&sandbox, &record.backup.id);
            if record.expires_ms > now {
                kept_manifests.push(key);
            } else {
                // Expired: forgotten here as `listBackups` would.
                drop_manifest(bucket, &key).await.map_err(|e| store_failed("delete a manifest", e))?;
                registry::remove(&storage, &record.backup.id).await.map_err(storage_failed)?;
            }
        }
        if let Some(latest) = self.latest_save().await.filter(|l| l.blobs_of.is_none()) {
            kept_manifests.push(latest.manifest_key);
        }
        for fork_manifest in self.fork_refs().await? {
            if bucket.head(&fork_manifest).await.map_err(|e| store_failed("look up a manifest", e))?.is_some() {
                kept_manifests.push(fork_manifest);
            } else {
                // The fork has saved its own workspace (or was destroyed): it names none of these blobs now.
                storage.delete(&format!("{FORK_REF_PREFIX}{fork_manifest}")).await.map_err(storage_failed)?;
            }
        }
        let mut keep = HashSet::new();
        for manifest in &kept_manifests {
            let refs = read_object(bucket, &refs_key(manifest), MAX_REFS, "list of blobs").await?;
            keep.extend(String::from_utf8_lossy(&refs).split('\n').filter(|h| !h.is_empty()).map(str::to_string));
        }
        keep.extend(self.agent_known(link).await?);

        let prefix = blobs_prefix(&sandbox);
        let mut doomed = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut list = bucket.list().prefix(prefix.clone());
            if let Some(cursor) = cursor.take() {
                list = list.cursor(cursor);
            }
            let page = list.execute().await.map_err(|e| store_failed("list the blobs", e))?;
            for object in page.objects() {
                let key = object.key();
                if !keep.contains(key.trim_start_matches(&prefix)) {
                    doomed.push(key);
                }
            }
            match page.cursor().filter(|_| page.truncated()) {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        for batch in doomed.chunks(DELETE_BATCH) {
            bucket.delete_multiple(batch.to_vec()).await.map_err(|e| store_failed("delete blobs", e))?;
        }
        Ok(Collected { kept: keep.len(), deleted: doomed.len() })
    }

    /// The blobs the sandbox's agent counts as stored: none when no agent of this sandbox runs (a new one counts
    /// none until a save or restore); an agent that runs and cannot be asked is an error.
    async fn agent_known(&self, link: &AgentLink) -> Result<Vec<String>, WorkerError> {
        if link.mode() == SandboxMode::Container && !link.running() {
            return Ok(Vec::new());
        }
        let Some(boot) = self.known_boot().await? else { return Ok(Vec::new()) };
        let mut init = RequestInit::new();
        init.with_method(Method::Get);
        let req = Request::new_with_init(&format!("https://sandbox.internal{BACKUP_KNOWN}"), &init)?;
        let mut answer = link.send(&req, BACKUP_KNOWN, Some(&boot)).await?;
        match answer.status_code() {
            // Another agent than the one whose saves this object made: it counts nothing as stored.
            412 => Ok(Vec::new()),
            200 => {
                let declared = answer.headers().get("content-length")?.and_then(|v| v.parse::<u64>().ok());
                if declared.is_none_or(|n| n > MAX_REFS) {
                    return Err(WorkerError::new(ErrorCode::InternalError, "the agent's list of blobs is too long"));
                }
                Ok(answer.json::<BackupKnown>().await?.blobs)
            }
            status => Err(WorkerError::new(ErrorCode::InternalError, format!("the agent answered {status}"))),
        }
    }
}
