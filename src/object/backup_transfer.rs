//! Moving a directory between the sandbox's agent and the R2 bucket, for backups and automatic saves alike; the
//! sandbox never holds a credential of the store.
//!
//! A save: the agent reads the directory (`/v1/backup/scans`), the object streams each blob the bucket lacks
//! from the agent into the bucket (`blobs/<sandbox>/<hash>`, a few at once, none held whole), then the manifest under the key it is
//! given; the agent's save is committed (the next one starts from it) only once the caller has recorded it. A
//! restore: the manifest from the bucket to the agent, then each blob it asks for, then the commit; the agent
//! checks every blob against its hash and changes nothing until all is there.
//!
//! The agent is in the sandbox, so what it answers is not trusted: hashes must be 64 hex digits, blobs and
//! manifests are bounded in size before they are read, and blobs live under the sandbox's own prefix, so a
//! sandbox that stores wrong bytes under a hash spoils only its own restores (which the agent's check catches).

use futures_util::{StreamExt, TryStreamExt};
use sandbox_protocol::routes::{
    BACKUP_RESTORE, BACKUP_RESTORES, BACKUP_RESTORE_BLOB, BACKUP_RESTORE_COMMIT, BACKUP_SCAN, BACKUP_SCANS,
    BACKUP_SCAN_BLOB, BACKUP_SCAN_COMMIT, BACKUP_SCAN_MANIFEST,
};
use sandbox_protocol::{
    BackupRestore, BackupRestoreQuery, BackupRestored, BackupScan, BackupScanRequest, BlobRef, ErrorBody, ErrorCode,
};
use worker::{Bucket, Headers, Method, Request, RequestInit, Response, ResponseBody};

use super::backup_registry::blob_key;
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;

/// Reads of a save (the first and those after a file changed under it: the agent copies such a file as it reads
/// it the next time, so a second attempt holds unless many files change at once).
const SAVE_ATTEMPTS: usize = 3;

/// The largest blob (the agent's chunk).
const MAX_BLOB: u64 = 4 << 20;
/// The largest manifest the object holds (about 300,000 entries).
pub(super) const MAX_MANIFEST: u64 = 32 << 20;

pub(super) fn store_failed(what: &str, err: worker::Error) -> WorkerError {
    WorkerError::new(ErrorCode::InternalError, format!("the backup store failed to {what}: {err}"))
}

fn agent_said(what: &str, message: impl std::fmt::Display) -> WorkerError {
    WorkerError::new(ErrorCode::InternalError, format!("the sandbox's agent answered {what} wrongly: {message}"))
}

/// An agent path with its `{id}` and `{hash}` filled in.
fn agent_path(route: &str, id: &str, hash: &str) -> String {
    route.replace("{id}", id).replace("{hash}", hash)
}

fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What a call to the agent carries.
enum Payload<'a> {
    None,
    Bytes(&'a str, &'a [u8]),
    /// A body streamed through as it comes (a blob from the bucket).
    Stream(worker::wasm_bindgen::JsValue),
}

/// Blobs restored at once: the bucket's reading, the object and the agent's writing overlap.
const BLOBS_IN_FLIGHT: usize = 3;
/// Blobs saved at once: the agent's reading of one overlaps the bucket's writing of another.
const BLOBS_SAVED_AT_ONCE: usize = 3;

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

    /// Sends one backup call to the agent; an error answer is passed on with its code and message.
    async fn agent_call(
        &self,
        link: &AgentLink,
        boot: Option<&str>,
        method: Method,
        path: &str,
        body: Payload<'_>,
    ) -> Result<Response, WorkerError> {
        let headers = Headers::new();
        let mut init = RequestInit::new();
        match body {
            // A bodiless POST says it is JSON (`{}`), as the agent's screen asks of every POST.
            Payload::None if method == Method::Post => {
                headers.set("content-type", "application/json")?;
                init.with_body(Some("{}".into()));
            }
            Payload::None => {}
            Payload::Bytes(content_type, bytes) => {
                headers.set("content-type", content_type)?;
                init.with_body(Some(worker::js_sys::Uint8Array::from(bytes).into()));
            }
            Payload::Stream(stream) => {
                headers.set("content-type", "application/octet-stream")?;
                init.with_body(Some(stream));
            }
        }
        init.with_method(method).with_headers(headers);
        let req = Request::new_with_init(&format!("https://sandbox.internal{path}"), &init)?;
        let mut response = link.send(&req, path, boot).await?;
        match response.status_code() {
            200..=299 => Ok(response),
            412 => Err(WorkerError::unavailable("the sandbox's agent restarted during the backup; retry", 1)),
            status => {
                let text = response.text().await.unwrap_or_default();
                Err(match serde_json::from_str::<ErrorBody>(&text) {
                    Ok(body) => WorkerError::new(body.code, body.message),
                    Err(_) => agent_said(path, format!("HTTP {status}")),
                })
            }
        }
    }

    /// A call whose answer says only that it was done: its body is read to its end, so its connection is free at
    /// once (an unread body holds its socket until it is collected, and a save or restore makes hundreds of calls).
    async fn agent_done(
        &self,
        link: &AgentLink,
        boot: Option<&str>,
        method: Method,
        path: &str,
        body: Payload<'_>,
    ) -> Result<(), WorkerError> {
        let mut response = self.agent_call(link, boot, method, path, body).await?;
        response.text().await.map_err(|e| agent_said(path, e))?;
        Ok(())
    }

    async fn agent_json<T: serde::de::DeserializeOwned>(
        &self,
        link: &AgentLink,
        boot: Option<&str>,
        method: Method,
        path: &str,
        body: Payload<'_>,
    ) -> Result<T, WorkerError> {
        let mut response = self.agent_call(link, boot, method, path, body).await?;
        response.json::<T>().await.map_err(|e| agent_said(path, e))
    }

    /// An agent's binary answer of at most `limit` bytes.
    async fn agent_bytes(
        &self,
        link: &AgentLink,
        boot: Option<&str>,
        path: &str,
        limit: u64,
    ) -> Result<Vec<u8>, WorkerError> {
        let mut response = self.agent_call(link, boot, Method::Get, path, Payload::None).await?;
        let declared = response.headers().get("content-length")?.and_then(|v| v.parse::<u64>().ok());
        if declared.is_none_or(|n| n > limit) {
            return Err(agent_said(path, format!("a body of {declared:?} bytes (at most {limit})")));
        }
        let bytes = response.bytes().await.map_err(|e| agent_said(path, e))?;
        if bytes.len() as u64 > limit {
            return Err(agent_said(path, "a longer body than it declared"));
        }
        Ok(bytes)
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
        let body = serde_json::to_vec(&BackupScanRequest { dir })
            .map_err(|e| WorkerError::new(ErrorCode::InternalError, e.to_string()))?;
        let mut attempt = 1;
        loop {
            let payload = Payload::Bytes("application/json", &body);
            let scan: BackupScan = self.agent_json(link, boot, Method::Post, BACKUP_SCANS, payload).await?;
            match self.store_scan(bucket, &scan, link, boot, manifest_key).await {
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
        link: &AgentLink,
        boot: Option<&str>,
        manifest_key: &str,
    ) -> Result<(), WorkerError> {
        if let Some(blob) = scan.blobs.iter().find(|b| !is_hash(&b.hash) || b.size > MAX_BLOB) {
            return Err(agent_said(BACKUP_SCANS, format!("a blob {:?} of {} bytes", blob.hash, blob.size)));
        }
        futures_util::stream::iter(&scan.blobs)
            .map(|blob| self.store_blob(bucket, &scan.scan_id, blob, link, boot))
            .buffer_unordered(BLOBS_SAVED_AT_ONCE)
            .try_collect::<Vec<()>>()
            .await?;
        let path = agent_path(BACKUP_SCAN_MANIFEST, &scan.scan_id, "");
        let manifest = self.agent_bytes(link, boot, &path, MAX_MANIFEST).await?;
        bucket.put(manifest_key, manifest).execute().await.map_err(|e| store_failed("store the manifest", e))?;
        Ok(())
    }

    /// One blob from the agent into the bucket, unless the bucket has it, streamed through: the object never holds
    /// it. The agent's answer must declare the blob's size, which the bucket's write holds it to (a body cut short,
    /// as the agent cuts one whose file changed, stores nothing).
    async fn store_blob(
        &self,
        bucket: &Bucket,
        scan_id: &str,
        blob: &BlobRef,
        link: &AgentLink,
        boot: Option<&str>,
    ) -> Result<(), WorkerError> {
        let key = blob_key(link.sandbox_id(), &blob.hash);
        let stored = bucket.head(&key).await.map_err(|e| store_failed("look up a blob", e))?;
        if stored.is_some_and(|object| object.size() == blob.size) {
            return Ok(());
        }
        let path = agent_path(BACKUP_SCAN_BLOB, scan_id, &blob.hash);
        let response = self.agent_call(link, boot, Method::Get, &path, Payload::None).await?;
        let declared = response.headers().get("content-length")?.and_then(|v| v.parse::<u64>().ok());
        if declared != Some(blob.size) {
            return Err(agent_said(&path, format!("a body of {declared:?} bytes for a blob of {}", blob.size)));
        }
        let body = match response.body() {
            ResponseBody::Stream(stream) => worker::Data::ReadableStream(stream.clone()),
            ResponseBody::Body(bytes) => worker::Data::Bytes(bytes.clone()),
            ResponseBody::Empty => worker::Data::Empty,
        };
        if let Err(e) = bucket.put(&key, body).execute().await {
            // A body cut short is most often a file that changed; the agent then says so.
            if let Err(changed) = self.agent_call(link, boot, Method::Get, &path, Payload::None).await {
                if changed.code == ErrorCode::FileChanged {
                    return Err(changed);
                }
            }
            return Err(store_failed("store a blob", e));
        }
        Ok(())
    }

    /// Commits the agent's save (the next one starts from it), or drops it. A commit the agent does not take costs
    /// only the next save's start (it reads every file again).
    pub(super) async fn end_save(&self, link: &AgentLink, boot: Option<&str>, scan_id: &str, commit: bool) {
        let result = if commit {
            let path = agent_path(BACKUP_SCAN_COMMIT, scan_id, "");
            self.agent_done(link, boot, Method::Post, &path, Payload::None).await
        } else {
            let path = agent_path(BACKUP_SCAN, scan_id, "");
            self.agent_done(link, boot, Method::Delete, &path, Payload::None).await
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
        let manifest = read_object(bucket, manifest_key, MAX_MANIFEST, "manifest").await?;
        let begin = sandbox_protocol::query::with_query(BACKUP_RESTORES, query);
        let begun: BackupRestore = self
            .agent_json(link, boot, Method::Post, &begin, Payload::Bytes("application/octet-stream", &manifest))
            .await?;
        drop(manifest);
        let restored = match self.send_blobs(bucket, &begun, link, boot, blobs_of).await {
            Ok(()) => {
                let commit = agent_path(BACKUP_RESTORE_COMMIT, &begun.restore_id, "");
                self.agent_json::<BackupRestored>(link, boot, Method::Post, &commit, Payload::None).await
            }
            Err(e) => Err(e),
        };
        if restored.is_err() {
            let path = agent_path(BACKUP_RESTORE, &begun.restore_id, "");
            let _ = self.agent_done(link, boot, Method::Delete, &path, Payload::None).await;
        }
        restored
    }

    /// Sends the restore each blob it needs, a few at a time, each streamed from the bucket to the agent.
    async fn send_blobs(
        &self,
        bucket: &Bucket,
        begun: &BackupRestore,
        link: &AgentLink,
        boot: Option<&str>,
        blobs_of: &str,
    ) -> Result<(), WorkerError> {
        if let Some(hash) = begun.missing.iter().find(|h| !is_hash(h)) {
            return Err(agent_said(BACKUP_RESTORES, format!("a blob {hash:?}")));
        }
        futures_util::stream::iter(&begun.missing)
            .map(|hash| self.send_blob(bucket, &begun.restore_id, hash, link, boot, blobs_of))
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
        link: &AgentLink,
        boot: Option<&str>,
        blobs_of: &str,
    ) -> Result<(), WorkerError> {
        let key = blob_key(blobs_of, hash);
        let object = bucket.get(&key).execute().await.map_err(|e| store_failed("read", e))?;
        let object = object.ok_or_else(|| {
            WorkerError::new(ErrorCode::BackupInvalid, "a blob of the backup is missing from the store")
        })?;
        if object.size() > MAX_BLOB {
            return Err(WorkerError::new(ErrorCode::BackupInvalid, "a blob of the backup is too large"));
        }
        let body = object.body().ok_or_else(|| WorkerError::new(ErrorCode::BackupInvalid, "an empty blob"))?;
        let payload = match body.response_body().map_err(|e| store_failed("read", e))? {
            ResponseBody::Stream(stream) => Payload::Stream(stream.into()),
            ResponseBody::Body(bytes) => Payload::Stream(worker::js_sys::Uint8Array::from(&bytes[..]).into()),
            ResponseBody::Empty => Payload::Stream(worker::js_sys::Uint8Array::new_with_length(0).into()),
        };
        let path = agent_path(BACKUP_RESTORE_BLOB, restore_id, hash);
        self.agent_done(link, boot, Method::Put, &path, payload).await?;
        Ok(())
    }
}
