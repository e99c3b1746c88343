//! Backups a caller asks for: `createBackup`, `listBackups`, `deleteBackup`, `restoreBackup`. Each is a save or a
//! restore (`backup_transfer`) and a record in the object's storage (`backup_registry`): a backup exists once its
//! manifest and record are both stored, and is reachable only through the sandbox that made it.

use sandbox_protocol::{
    Backup, BackupList, BackupRestoreQuery, CreateBackupRequest, DeleteResult, ErrorCode, RestoreBackupRequest,
    RestoreBackupResult,
};
use worker::{Date, Request, Response};

use super::backup_registry::{self as registry, manifest_key, BackupRecord};
use super::backup_transfer::{drop_manifest, store_failed};
use super::request::{small_body, storage_failed};
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;

fn not_found(id: &str) -> WorkerError {
    WorkerError::new(ErrorCode::BackupNotFound, format!("no backup {id:?} in this sandbox (deleted, or expired)"))
}

pub(super) fn iso(ms: f64) -> String {
    worker::js_sys::Date::new(&ms.into()).to_iso_string().as_string().unwrap_or_default()
}

impl SandboxObject {
    /// `createBackup`.
    pub(super) async fn create_backup(&self, req: Request, link: &AgentLink) -> Result<Response, WorkerError> {
        let bucket = self.bucket()?;
        let text = small_body(req, "createBackup").await?;
        let asked: CreateBackupRequest = serde_json::from_str(&text)
            .map_err(|e| WorkerError::new(ErrorCode::ValidationFailed, format!("createBackup: {e}")))?;
        let ttl = registry::check(&asked)?;
        let _call = self.in_flight.begin();
        self.keep_awake(&link.log).await;
        let boot = self.ready_agent(link).await?;
        let boot = boot.as_deref();
        let id = registry::new_id()?;
        let key = manifest_key(link.sandbox_id(), &id);
        let turn = self.transfers.lock().await;
        let scan = self.save(&bucket, link, boot, asked.dir.clone(), &key).await.inspect_err(|e| {
            link.log.error("backup.failed", format!("backup {id} was not saved: {}", e.message));
        })?;
        let now = Date::now().as_millis() as f64;
        let expires_ms = now + ttl as f64 * 1000.0;
        let backup = Backup {
            id,
            dir: scan.dir.clone(),
            name: asked.name,
            size_bytes: scan.size_bytes,
            files: scan.files,
            created_at: iso(now),
            expires_at: iso(expires_ms),
        };
        let record = BackupRecord { backup, expires_ms };
        if let Err(e) = registry::put(&self.state.storage(), &record).await {
            self.end_save(link, boot, &scan.scan_id, false).await;
            let _ = drop_manifest(&bucket, &key).await;
            return Err(storage_failed(e));
        }
        self.end_save(link, boot, &scan.scan_id, true).await;
        drop(turn);
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

    /// `listBackups`: the backups that have not expired, newest first; expired ones are forgotten on the way.
    pub(super) async fn list_backups(&self, link: &AgentLink) -> Result<Response, WorkerError> {
        let now = Date::now().as_millis() as f64;
        let mut backups = Vec::new();
        let mut expired = false;
        for record in registry::all(&self.state.storage()).await.map_err(storage_failed)? {
            if record.expires_ms <= now {
                self.forget_backup(&record.backup.id, link).await?;
                expired = true;
            } else {
                backups.push(record.backup);
            }
        }
        if expired {
            self.collect_blobs(link).await;
        }
        Ok(Response::from_json(&BackupList { success: true, backups })?)
    }

    /// `deleteBackup`.
    pub(super) async fn delete_backup(&self, id: &str, link: &AgentLink) -> Result<Response, WorkerError> {
        self.live_backup(id).await?;
        self.forget_backup(id, link).await?;
        link.log.info("backup.deleted", format!("backup {id} deleted"));
        self.collect_blobs(link).await;
        let now = iso(Date::now().as_millis() as f64);
        Ok(Response::from_json(&DeleteResult { success: true, id: id.to_string(), timestamp: now })?)
    }

    /// A backup of this sandbox that has not expired.
    pub(super) async fn live_backup(&self, id: &str) -> Result<BackupRecord, WorkerError> {
        if !registry::is_id(id) {
            return Err(not_found(id));
        }
        let record = registry::get(&self.state.storage(), id).await.map_err(storage_failed)?;
        record.filter(|r| r.expires_ms > Date::now().as_millis() as f64).ok_or_else(|| not_found(id))
    }

    /// Removes a backup's manifest and record (its blobs are the collection's: `collect.rs`).
    async fn forget_backup(&self, id: &str, link: &AgentLink) -> Result<(), WorkerError> {
        if let Ok(bucket) = self.bucket() {
            let key = manifest_key(link.sandbox_id(), id);
            drop_manifest(&bucket, &key).await.map_err(|e| store_failed("delete a manifest", e))?;
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
        let bucket = self.bucket()?;
        let text = small_body(req, "restoreBackup").await?;
        let text = if text.trim().is_empty() { "{}" } else { text.as_str() };
        let asked: RestoreBackupRequest = serde_json::from_str(text)
            .map_err(|e| WorkerError::new(ErrorCode::ValidationFailed, format!("restoreBackup: {e}")))?;
        let record = self.live_backup(id).await?;
        let _call = self.in_flight.begin();
        self.keep_awake(&link.log).await;
        let boot = self.ready_agent(link).await?;
        let dir = Some(asked.dir.unwrap_or(record.backup.dir));
        let query = BackupRestoreQuery { dir, only_if_empty: None, foreign: None };
        let key = manifest_key(link.sandbox_id(), id);
        let own = link.sandbox_id();
        let restored = self.restore_tree(&bucket, link, boot.as_deref(), &key, own, &query).await.inspect_err(|e| {
            link.log.error("backup.restore_failed", format!("backup {id} was not restored: {}", e.message));
        })?;
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
}
