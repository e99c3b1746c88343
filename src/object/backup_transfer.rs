//! Moving a directory between the sandbox's agent and the R2 bucket, for backups and automatic saves alike; the
//! sandbox never holds a credential of the store.
//!
//! A save: the agent reads the directory (`/v1/backup/scans`), the object streams each blob the bucket lacks
//! from the agent into the bucket (`blobs/<sandbox>/<hash>`, a few at once, none held whole), then the list of the
//! blobs the manifest names, then the manifest under the key it is given; the agent's save is committed (the next
//! one starts from it) only once the caller has recorded it. A
//! restore: the manifest from the bucket to the agent, then each blob it asks for, then the commit; the agent
//! checks every blob against its hash and changes nothing until all is there.
//!
//! The agent is in the sandbox, so what it answers is not trusted (`backup_agent.rs`): hashes must be 64 hex
//! digits, blobs and manifests are bounded in size before they are read, and blobs live under the sandbox's own prefix, so a
//! sandbox that stores wrong bytes under a hash spoils only its own restores (which the agent's check catches).

use futures_util::{StreamExt, TryStreamExt};
use sandbox_protocol::routes::{
    BACKUP_RESTORE, BACKUP_RESTORES, BACKUP_RESTORE_BLOB, BACKUP_RESTORE_COMMIT, BACKUP_SCAN, BACKUP_SCANS,
    BACKUP_SCAN_BLOB, BACKUP_SCAN_COMMIT, BACKUP_SCAN_MANIFEST,
};
use sandbox_protocol::{
    BackupRestore, BackupRestoreQuery, BackupRestored, BackupScan, BackupScanRequest, BlobRef, ErrorCode,
};
use worker::{Bucket, Method, ResponseBody};

use super::backup_agent::{agent_path, agent_said, is_hash, BackupAgent, Payload};
use super::backup_registry::{blob_key, refs_key};
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;

/// Reads of a save (the first and those after a file changed under it: the agent copies such a file as it reads
/// it the next time, so a second attempt holds unless many files change at once).
const SAVE_ATTEMPTS: usize = 3;

/// The largest blob (the agent's chunk).
const MAX_BLOB: u64 = 4 << 20;
/// The largest manifest (streamed through, never held).
const MAX_MANIFEST: u64 = sandbox_protocol::MAX_MANIFEST_BYTES;

pub(super) fn store_failed(what: &str, err: worker::Error) -> WorkerError {
    WorkerError::new(ErrorCode::InternalError, format!("the backup store failed to {what}: {err}"))
}

/// Blobs restored at once: the bucket's reading, the object and the agent's writing overlap.
const BLOBS_IN_FLIGHT: usize = 3;
/// Blobs saved at once: the agent's reading of one overlaps the bucket's writing of another.
const BLOBS_SAVED_AT_ONCE: usize = 3;

/// Removes a manifest and its list of blobs from the store (the blobs are the collection's: `collect.rs`).
pub(super) async fn drop_manifest(bucket: &Bucket, manifest_key: &str) -> worker::Result<()> {
    bucket.delete(manifest_key).await?;
    bucket.delete(refs_key(manifest_key)).await
}

/// An agent's answer of `size` bytes (which it must declare) streamed into the bucket as `key`: the object never
/// holds it, and a body cut short stores nothing.
async fn put_answer(
    bucket: &Bucket,
    key: &str,
    response: worker::Response,
    size: u64,
    path: &str,
    what: &str,
) -> Result<(), WorkerError> {
    let declared = response.headers().get("content-length")?.and_then(|v| v.parse::<u64>().ok());
    if declared != Some(size) {
        return Err(agent_said(path, format!("{what} of {declared:?} bytes, where {size} were said")));
    }
    let body = match response.body() {
        ResponseBody::Stream(stream) => worker::Data::ReadableStream(stream.clone()),
        ResponseBody::Body(bytes) => worker::Data::Bytes(bytes.clone()),
        ResponseBody::Empty => worker::Data::Empty,
    };
    bucket.put(key, body).execute().await.map_err(|e| store_failed(&format!("store {what}"), e))?;
    Ok(())
}

/// An object of the bucket, of at most `limit` bytes, as a body to stream on; a missing one is a backup that
/// cannot be restored.
pub(super) async fn open_object(
    bucket: &Bucket,
    key: &str,
    limit: u64,
    what: &str,
) -> Result<Payload<'static>, WorkerError> {
    let object = bucket.get(key).execute().await.map_err(|e| store_failed("read", e))?;
    let object = object.ok_or_else(|| {
        WorkerError::new(ErrorCode::BackupInvalid, format!("a {what} of the backup is missing from the store"))
    })?;
    if object.size() > limit {
        return Err(WorkerError::new(ErrorCode::BackupInvalid, format!("a {what} of the backup is too large")));
    }
    let body = object.body().ok_or_else(|| WorkerError::new(ErrorCode::BackupInvalid, format!("an empty {what}")))?;
    Ok(match body.response_body().map_err(|e| store_failed("read", e))? {
        ResponseBody::Stream(stream) => Payload::Stream(stream.into()),
        ResponseBody::Body(bytes) => Payload::Stream(worker::js_sys::Uint8Array::from(&bytes[..]).into()),
        ResponseBody::Empty => Payload::Stream(worker::js_sys::Uint8Array::new_with_length(0).into()),
    })
}

/// Copies the bucket's object `from` to `to`, streamed through (a fork's manifest and its list of blobs).
pub(super) async fn copy_object(bucket: &Bucket, from: &str, to: &str) -> Result<(), WorkerError> {
    let object = bucket.get(from).execute().await.map_err(|e| store_failed("read", e))?;
    let object =
        object.ok_or_else(|| WorkerError::new(ErrorCode::BackupInvalid, "the save is missing from the store"))?;
    let body = object.body().ok_or_else(|| WorkerError::new(ErrorCode::BackupInvalid, "an empty save"))?;
    let data = match body.response_body().map_err(|e| store_failed("read", e))? {
        ResponseBody::Stream(stream) => worker::Data::ReadableStream(stream),
        ResponseBody::Body(bytes) => worker::Data::Bytes(bytes),
        ResponseBody::Empty => worker::Data::Empty,
    };
    bucket.put(to, data).execute().await.map_err(|e| store_failed("copy a save", e))?;
    Ok(())
}

/// An object of the bucket, of at most `limit` bytes; a missing one is a backup that cannot be restored.
pub(super) async fn read_object(bucket: &Bucket, key: &str, limit: u64, what: &str) -> Result<Vec<u8>, WorkerError> {
    let object = bucket.get(key).execute().await.map_err(|e| store_failed("read", e))?;
    let object = object.ok_or_else(|| {
        WorkerError::new(ErrorCode::BackupInvalid, format!("a {what} of the backup is missing from the store"))
    })?;
    if object.size() > limit {
        return Err(WorkerError::new(ErrorCode::BackupInvalid, format!("a {what} of the backup is too large")));
    }
    let body = object.body().ok_or_else(|| WorkerError::new(ErrorCode::BackupInvalid, format!("an empty {what}")))?;
    body.bytes().await.map_err(|e| store_failed("read", e))
}

impl SandboxObject {
    pub(super) fn bucket(&self) -> Result<Bucket, WorkerError> {
        self.config.backups.clone().ok_or_else(|| {
            WorkerError::new(
                ErrorCode::BackupsNotConfigured,
                "backups need an R2 bucket bound as SANDBOX_BACKUPS (README, \"Backups\")",
            )
        })
    }

    /// The agent, started and given what it must have if it was not; its boot id.
    pub(super) async fn ready_agent(&self, link: &AgentLink) -> Result<Option<String>, WorkerError> {
        let needs_recovery = self.known.borrow_mut().needs_recovery(link.running());
        if needs_recovery {
            self.recover(link).await?;
        }
        self.known_boot().await
    }

    /// Saves `dir` (the workspace when `None`): its new blobs, then its manifest under `manifest_key`. The agent's
    /// save stays open: `end_save` commits it once the caller has recorded the save, or drops it. A file that
    /// changed between the reading and the sending (a log being written) makes it read again, a few times.
    pub(super) async fn save(
        &self,
        bucket: &Bucket,
        link: &AgentLink,
        boot: Option<&str>,
        dir: Option<String>,
        manifest_key: &str,
    ) -> Result<BackupScan, WorkerError> {
        let agent = BackupAgent { link, boot };
        let body = serde_json::to_vec(&BackupScanRequest { dir })
            .map_err(|e| WorkerError::new(ErrorCode::InternalError, e.to_string()))?;
        let mut attempt = 1;
        loop {
            let payload = Payload::Bytes("application/json", &body);
            let scan: BackupScan = agent.json(Method::Post, BACKUP_SCANS, payload).await?;
            match self.store_scan(bucket, &scan, &agent, manifest_key).await {
                Ok(()) => return Ok(scan),
                Err(e) => {
                    self.end_save(link, boot, &scan.scan_id, false).await;
                    if e.code != ErrorCode::FileChanged || attempt == SAVE_ATTEMPTS {
                        return Err(e);
                    }
                    link.log.info("save.again", format!("{} (attempt {attempt})", e.message));
                    attempt += 1;
                }
            }
        }
    }

    /// Stores each of the save's blobs that the bucket lacks, then its manifest.
    async fn store_scan(
        &self,
        bucket: &Bucket,
        scan: &BackupScan,
        agent: &BackupAgent<'_>,
        manifest_key: &str,
    ) -> Result<(), WorkerError> {
        if let Some(blob) = scan.blobs.iter().find(|b| !is_hash(&b.hash) || b.size > MAX_BLOB) {
            return Err(agent_said(BACKUP_SCANS, format!("a blob {:?} of {} bytes", blob.hash, blob.size)));
        }
        if let Some(hash) = scan.refs.iter().find(|h| !is_hash(h)) {
            return Err(agent_said(BACKUP_SCANS, format!("a blob {hash:?} named")));
        }
        // Refused before anything is stored: a restore would refuse it.
        if scan.manifest_bytes > MAX_MANIFEST {
            return Err(WorkerError::new(
                ErrorCode::FileTooLarge,
                format!(
                    "{} has too many entries to save ({}: a manifest of {} MiB, at most {} MiB); save its \
                     subdirectories one by one",
                    scan.dir,
                    scan.entries,
                    scan.manifest_bytes >> 20,
                    MAX_MANIFEST >> 20
                ),
            ));
        }
        futures_util::stream::iter(&scan.blobs)
            .map(|blob| self.store_blob(bucket, &scan.scan_id, blob, agent))
            .buffer_unordered(BLOBS_SAVED_AT_ONCE)
            .try_collect::<Vec<()>>()
            .await?;
        let path = agent_path(BACKUP_SCAN_MANIFEST, &scan.scan_id, "");
        let manifest = agent.call(Method::Get, &path, Payload::None).await?;
        let refs = scan.refs.join("\n");
        bucket.put(refs_key(manifest_key), refs).execute().await.map_err(|e| store_failed("store the blob list", e))?;
        put_answer(bucket, manifest_key, manifest, scan.manifest_bytes, &path, "the manifest").await?;
        Ok(())
    }

    /// One blob from the agent into the bucket, unless the bucket has it, streamed through: the object never holds
    /// it. The agent's answer must declare the blob's size, which the bucket's write holds it to (a body cut short
    /// stores nothing).
    async fn store_blob(
        &self,
        bucket: &Bucket,
        scan_id: &str,
        blob: &BlobRef,
        agent: &BackupAgent<'_>,
    ) -> Result<(), WorkerError> {
        let key = blob_key(agent.link.sandbox_id(), &blob.hash);
        let stored = bucket.head(&key).await.map_err(|e| store_failed("look up a blob", e))?;
        if stored.is_some_and(|object| object.size() == blob.size) {
            return Ok(());
        }
        let path = agent_path(BACKUP_SCAN_BLOB, scan_id, &blob.hash);
        // A file that changed since the scan is the agent's `FILE_CHANGED` answer: the save is read again.
        self.stream_blob(bucket, &key, &path, blob, agent).await?;
        Ok(())
    }

    /// The agent's answer for one blob, streamed into the bucket under `key`.
    async fn stream_blob(
        &self,
        bucket: &Bucket,
        key: &str,
        path: &str,
        blob: &BlobRef,
        agent: &BackupAgent<'_>,
    ) -> Result<(), WorkerError> {
        let response = agent.call(Method::Get, path, Payload::None).await?;
        if crate::test_hooks::put_fails() {
            return Err(store_failed("store a blob", worker::Error::RustError("an injected failure".into())));
        }
        put_answer(bucket, key, response, blob.size, path, "a blob").await
    }

    /// Commits the agent's save (the next one starts from it), or drops it. A commit the agent does not take costs
    /// only the next save's start (it reads every file again).
    pub(super) async fn end_save(&self, link: &AgentLink, boot: Option<&str>, scan_id: &str, commit: bool) {
        let agent = BackupAgent { link, boot };
        let result = if commit {
            let path = agent_path(BACKUP_SCAN_COMMIT, scan_id, "");
            agent.done(Method::Post, &path, Payload::None).await
        } else {
            let path = agent_path(BACKUP_SCAN, scan_id, "");
            agent.done(Method::Delete, &path, Payload::None).await
        };
        if let Err(e) = result {
            link.log
                .warn("backup.end_save", format!("the agent did not take the end of save {scan_id}: {}", e.message));
        }
    }

    /// Restores the manifest at `manifest_key` into `query.dir`: the manifest to the agent, each blob it asks for
    /// (from `blobs_of`'s blobs), then the commit; on a failure the restore is abandoned and the directory is as it
    /// was.
    pub(super) async fn restore_tree(
        &self,
        bucket: &Bucket,
        link: &AgentLink,
        boot: Option<&str>,
        manifest_key: &str,
        blobs_of: &str,
        query: &BackupRestoreQuery,
    ) -> Result<BackupRestored, WorkerError> {
        let agent = BackupAgent { link, boot };
        let manifest = open_object(bucket, manifest_key, MAX_MANIFEST, "manifest").await?;
        let begin = sandbox_protocol::query::with_query(BACKUP_RESTORES, query);
        let begun: BackupRestore = agent.json(Method::Post, &begin, manifest).await?;
        let restored = match self.send_blobs(bucket, &begun, &agent, blobs_of).await {
            Ok(()) => {
                let commit = agent_path(BACKUP_RESTORE_COMMIT, &begun.restore_id, "");
                agent.json::<BackupRestored>(Method::Post, &commit, Payload::None).await
            }
            Err(e) => Err(e),
        };
        if restored.is_err() {
            let path = agent_path(BACKUP_RESTORE, &begun.restore_id, "");
            let _ = agent.done(Method::Delete, &path, Payload::None).await;
        }
        restored
    }

    /// Sends the restore each blob it needs, a few at a time, each streamed from the bucket to the agent.
    async fn send_blobs(
        &self,
        bucket: &Bucket,
        begun: &BackupRestore,
        agent: &BackupAgent<'_>,
        blobs_of: &str,
    ) -> Result<(), WorkerError> {
        if let Some(hash) = begun.missing.iter().find(|h| !is_hash(h)) {
            return Err(agent_said(BACKUP_RESTORES, format!("a blob {hash:?}")));
        }
        futures_util::stream::iter(&begun.missing)
            .map(|hash| self.send_blob(bucket, &begun.restore_id, hash, agent, blobs_of))
            .buffer_unordered(BLOBS_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn send_blob(
        &self,
        bucket: &Bucket,
        restore_id: &str,
        hash: &str,
        agent: &BackupAgent<'_>,
        blobs_of: &str,
    ) -> Result<(), WorkerError> {
        let payload = open_object(bucket, &blob_key(blobs_of, hash), MAX_BLOB, "blob").await?;
        let path = agent_path(BACKUP_RESTORE_BLOB, restore_id, hash);
        agent.done(Method::Put, &path, payload).await?;
        Ok(())
    }
}
