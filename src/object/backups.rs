//! Backups: `createBackup`, `listBackups`, `deleteBackup`, `restoreBackup`. The object moves bytes between its
//! agent and the R2 bucket; the sandbox never holds a credential of the store.
//!
//! A save: the agent reads the directory (`/v1/backup/scans`), the object stores each blob the bucket lacks
//! (`blobs/<sandbox>/<hash>`, one blob of at most 4 MiB held at a time), then the manifest
//! (`manifests/<sandbox>/<backup id>`), then its record in storage, and only then tells the agent the save is
//! committed. A restore: the manifest from the bucket to the agent, then each blob the agent asks for, then the
//! commit; the agent checks every blob against its hash and changes nothing until all is there.
//!
//! The agent is in the sandbox, so what it answers is not trusted: hashes must be 64 hex digits, blobs and
//! manifests are bounded in size before they are read, and blobs live under the sandbox's own prefix, so a
//! sandbox that stores wrong bytes under a hash spoils only its own restores (which the agent's check catches).

use sandbox_protocol::routes::{
    BACKUP_RESTORE as AGENT_RESTORE, BACKUP_RESTORES, BACKUP_RESTORE_BLOB, BACKUP_RESTORE_COMMIT, BACKUP_SCAN,
    BACKUP_SCANS, BACKUP_SCAN_BLOB, BACKUP_SCAN_COMMIT, BACKUP_SCAN_MANIFEST,
};
use sandbox_protocol::{
    Backup, BackupList, BackupRestore, BackupRestoreQuery, BackupRestored, BackupScan, BackupScanRequest,
    CreateBackupRequest, ErrorBody, ErrorCode, RestoreBackupRequest, RestoreBackupResult,
};
use worker::{Bucket, Date, Headers, Method, Request, RequestInit, Response};

use super::backup_registry::{self as registry, blob_key, manifest_key, BackupRecord};
use super::request::{small_body, storage_failed};
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;

/// The largest blob (the agent's chunk).
const MAX_BLOB: u64 = 4 << 20;
/// The largest manifest the object holds (about 300,000 entries).
const MAX_MANIFEST: u64 = 32 << 20;

fn store_failed(what: &str, err: worker::Error) -> WorkerError {
    WorkerError::new(ErrorCode::InternalError, format!("the backup store failed to {what}: {err}"))
}

fn agent_said(what: &str, message: impl std::fmt::Display) -> WorkerError {
    WorkerError::new(ErrorCode::InternalError, format!("the sandbox's agent answered {what} wrongly: {message}"))
}

fn not_found(id: &str) -> WorkerError {
    WorkerError::new(ErrorCode::BackupNotFound, format!("no backup {id:?} in this sandbox (deleted, or expired)"))
}

fn iso(ms: f64) -> String {
    worker::js_sys::Date::new(&ms.into()).to_iso_string().as_string().unwrap_or_default()
}

/// An agent path with its `{id}` and `{hash}` filled in.
fn agent_path(route: &str, id: &str, hash: &str) -> String {
    route.replace("{id}", id).replace("{hash}", hash)
}

fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl SandboxObject {
    fn bucket(&self) -> Result<&Bucket, WorkerError> {
        self.config.backups.as_ref().ok_or_else(|| {
            WorkerError::new(
                ErrorCode::BackupsNotConfigured,
                "backups need an R2 bucket bound as SANDBOX_BACKUPS (README, \"Backups\")",
            )
        })
    }

    /// The agent, started and given its sessions if it was not; its boot id.
    async fn ready_agent(&self, link: &AgentLink) -> Result<Option<String>, WorkerError> {
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
        body: Option<(&str, &[u8])>,
    ) -> Result<Response, WorkerError> {
        let headers = Headers::new();
        let mut init = RequestInit::new();
        // A bodiless POST says it is JSON (`{}`), as the agent's screen asks of every POST.
        let body = body.or((method == Method::Post).then_some(("application/json", b"{}".as_slice())));
        if let Some((content_type, bytes)) = body {
            headers.set("content-type", content_type)?;
            init.with_body(Some(worker::js_sys::Uint8Array::from(bytes).into()));
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

    async fn agent_json<T: serde::de::DeserializeOwned>(
        &self,
        link: &AgentLink,
        boot: Option<&str>,
        method: Method,
        path: &str,
        body: Option<(&str, &[u8])>,
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
        let mut response = self.agent_call(link, boot, Method::Get, path, None).await?;
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

    /// `createBackup`.
    pub(super) async fn create_backup(&self, req: Request, link: &AgentLink) -> Result<Response, WorkerError> {
        let bucket = self.bucket()?.clone();
        let text = small_body(req, "createBackup").await?;
        let asked: CreateBackupRequest = serde_json::from_str(&text)
            .map_err(|e| WorkerError::new(ErrorCode::ValidationFailed, format!("createBackup: {e}")))?;
        let ttl = registry::check(&asked)?;
        let _call = self.in_flight.begin();
        self.keep_awake(&link.log).await;
        let boot = self.ready_agent(link).await?;
        let boot = boot.as_deref();
        let scan_body = serde_json::to_vec(&BackupScanRequest { dir: asked.dir.clone() })
            .map_err(|e| WorkerError::new(ErrorCode::InternalError, e.to_string()))?;
        let scan: BackupScan =
            self.agent_json(link, boot, Method::Post, BACKUP_SCANS, Some(("application/json", &scan_body))).await?;
        let saved = self.store_scan(&bucket, &scan, link, boot).await;
        let record = match saved {
            Ok(()) => self.record_backup(&bucket, &scan, &asked, ttl, link, boot).await,
            Err(e) => Err(e),
        };
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let path = agent_path(BACKUP_SCAN, &scan.scan_id, "");
                let _ = self.agent_call(link, boot, Method::Delete, &path, None).await;
                link.log.error("backup.failed", format!("the save of {} failed: {}", scan.dir, e.message));
                return Err(e);
            }
        };
        let commit = agent_path(BACKUP_SCAN_COMMIT, &scan.scan_id, "");
        if let Err(e) = self.agent_call(link, boot, Method::Post, &commit, None).await {
            // Stored whole: only the next save's start is lost (it reads every file again).
            link.log.warn("backup.commit", format!("the agent did not take the commit: {}", e.message));
        }
        let backup = record.backup;
        link.log.info(
            "backup.created",
            format!(
                "{} saved as {} ({} files, {} bytes, {} new blobs)",
                backup.dir,
                backup.id,
                backup.files,
                backup.size_bytes,
                scan.blobs.len()
            ),
        );
        Ok(Response::from_json(&backup)?)
    }

    /// Stores each of the save's blobs that the bucket lacks, one at a time.
    async fn store_scan(
        &self,
        bucket: &Bucket,
        scan: &BackupScan,
        link: &AgentLink,
        boot: Option<&str>,
    ) -> Result<(), WorkerError> {
        for blob in &scan.blobs {
            if !is_hash(&blob.hash) || blob.size > MAX_BLOB {
                return Err(agent_said(BACKUP_SCANS, format!("a blob {:?} of {} bytes", blob.hash, blob.size)));
            }
            let key = blob_key(link.sandbox_id(), &blob.hash);
            let stored = bucket.head(&key).await.map_err(|e| store_failed("look up a blob", e))?;
            if stored.is_some_and(|object| object.size() == blob.size) {
                continue;
            }
            let path = agent_path(BACKUP_SCAN_BLOB, &scan.scan_id, &blob.hash);
            let bytes = self.agent_bytes(link, boot, &path, MAX_BLOB).await?;
            if bytes.len() as u64 != blob.size {
                return Err(WorkerError::unavailable(
                    "a file changed while it was being saved; create the backup again",
                    1,
                ));
            }
            bucket.put(&key, bytes).execute().await.map_err(|e| store_failed("store a blob", e))?;
        }
        Ok(())
    }

    /// Stores the save's manifest, then its record: from then on the backup exists.
    async fn record_backup(
        &self,
        bucket: &Bucket,
        scan: &BackupScan,
        asked: &CreateBackupRequest,
        ttl: u64,
        link: &AgentLink,
        boot: Option<&str>,
    ) -> Result<BackupRecord, WorkerError> {
        let manifest_path = agent_path(BACKUP_SCAN_MANIFEST, &scan.scan_id, "");
        let manifest = self.agent_bytes(link, boot, &manifest_path, MAX_MANIFEST).await?;
        let id = registry::new_id()?;
        let key = manifest_key(link.sandbox_id(), &id);
        bucket.put(&key, manifest).execute().await.map_err(|e| store_failed("store the manifest", e))?;
        let now = Date::now().as_millis() as f64;
        let expires_ms = now + ttl as f64 * 1000.0;
        let record = BackupRecord {
            backup: Backup {
                id,
                dir: scan.dir.clone(),
                name: asked.name.clone(),
                size_bytes: scan.size_bytes,
                files: scan.files,
                created_at: iso(now),
                expires_at: iso(expires_ms),
            },
            expires_ms,
        };
        registry::put(&self.state.storage(), &record).await.map_err(storage_failed)?;
        Ok(record)
    }

    /// `listBackups`: the backups that have not expired, newest first; expired ones are forgotten on the way.
    pub(super) async fn list_backups(&self, link: &AgentLink) -> Result<Response, WorkerError> {
        let storage = self.state.storage();
        let now = Date::now().as_millis() as f64;
        let mut backups = Vec::new();
        for record in registry::all(&storage).await.map_err(storage_failed)? {
            if record.expires_ms <= now {
                self.forget_backup(&record.backup.id, link).await?;
            } else {
                backups.push(record.backup);
            }
        }
        Ok(Response::from_json(&BackupList { success: true, backups })?)
    }

    /// `deleteBackup`.
    pub(super) async fn delete_backup(&self, id: &str, link: &AgentLink) -> Result<Response, WorkerError> {
        self.live_backup(id).await?;
        self.forget_backup(id, link).await?;
        link.log.info("backup.deleted", format!("backup {id} deleted"));
        Ok(Response::from_json(&serde_json::json!({ "success": true, "id": id }))?)
    }

    /// A backup of this sandbox that has not expired.
    async fn live_backup(&self, id: &str) -> Result<BackupRecord, WorkerError> {
        if !registry::is_id(id) {
            return Err(not_found(id));
        }
        let record = registry::get(&self.state.storage(), id).await.map_err(storage_failed)?;
        record.filter(|r| r.expires_ms > Date::now().as_millis() as f64).ok_or_else(|| not_found(id))
    }

    /// Removes a backup's manifest and record. (Its blobs stay: collecting those no backup holds is to come.)
    async fn forget_backup(&self, id: &str, link: &AgentLink) -> Result<(), WorkerError> {
        if let Ok(bucket) = self.bucket() {
            bucket
                .delete(manifest_key(link.sandbox_id(), id))
                .await
                .map_err(|e| store_failed("delete a manifest", e))?;
        }
        registry::remove(&self.state.storage(), id).await.map_err(storage_failed)?;
        Ok(())
    }

    /// `restoreBackup`: the backup's tree in place of the directory's contents (the directory it was made from,
    /// unless `dir` names another).
    pub(super) async fn restore_backup(
        &self,
        req: Request,
        id: &str,
        link: &AgentLink,
    ) -> Result<Response, WorkerError> {
        let bucket = self.bucket()?.clone();
        let text = small_body(req, "restoreBackup").await?;
        let text = if text.trim().is_empty() { "{}" } else { text.as_str() };
        let asked: RestoreBackupRequest = serde_json::from_str(text)
            .map_err(|e| WorkerError::new(ErrorCode::ValidationFailed, format!("restoreBackup: {e}")))?;
        let record = self.live_backup(id).await?;
        let manifest = read_object(&bucket, &manifest_key(link.sandbox_id(), id), MAX_MANIFEST, "manifest").await?;
        let _call = self.in_flight.begin();
        self.keep_awake(&link.log).await;
        let boot = self.ready_agent(link).await?;
        let boot = boot.as_deref();
        let query = BackupRestoreQuery { dir: Some(asked.dir.unwrap_or(record.backup.dir)) };
        let begin = sandbox_protocol::query::with_query(BACKUP_RESTORES, &query);
        let begun: BackupRestore =
            self.agent_json(link, boot, Method::Post, &begin, Some(("application/octet-stream", &manifest))).await?;
        drop(manifest);
        let restored = self.send_blobs(&bucket, &begun, link, boot).await;
        let restored = match restored {
            Ok(()) => {
                let commit = agent_path(BACKUP_RESTORE_COMMIT, &begun.restore_id, "");
                self.agent_json::<BackupRestored>(link, boot, Method::Post, &commit, None).await
            }
            Err(e) => Err(e),
        };
        let restored = match restored {
            Ok(restored) => restored,
            Err(e) => {
                let path = agent_path(AGENT_RESTORE, &begun.restore_id, "");
                let _ = self.agent_call(link, boot, Method::Delete, &path, None).await;
                link.log.error("backup.restore_failed", format!("backup {id} was not restored: {}", e.message));
                return Err(e);
            }
        };
        link.log.info(
            "backup.restored",
            format!(
                "backup {id} restored into {} ({} files, {} bytes)",
                restored.dir, restored.files, restored.size_bytes
            ),
        );
        Ok(Response::from_json(&RestoreBackupResult {
            success: true,
            id: id.to_string(),
            dir: restored.dir,
            files: restored.files,
            size_bytes: restored.size_bytes,
        })?)
    }

    /// Sends the restore each blob it needs, one at a time, from the bucket.
    async fn send_blobs(
        &self,
        bucket: &Bucket,
        begun: &BackupRestore,
        link: &AgentLink,
        boot: Option<&str>,
    ) -> Result<(), WorkerError> {
        for hash in &begun.missing {
            if !is_hash(hash) {
                return Err(agent_said(BACKUP_RESTORES, format!("a blob {hash:?}")));
            }
            let bytes = read_object(bucket, &blob_key(link.sandbox_id(), hash), MAX_BLOB, "blob").await?;
            let path = agent_path(BACKUP_RESTORE_BLOB, &begun.restore_id, hash);
            self.agent_call(link, boot, Method::Put, &path, Some(("application/octet-stream", &bytes))).await?;
        }
        Ok(())
    }
}

/// An object of the bucket, of at most `limit` bytes; a missing one is a backup that cannot be restored.
async fn read_object(bucket: &Bucket, key: &str, limit: u64, what: &str) -> Result<Vec<u8>, WorkerError> {
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
