//! The backup routes the Durable Object calls (never a caller: the Worker serves none of them). A save:
//! `POST /v1/backup/scans`, then the manifest and each new blob fetched, then `commit` (or `DELETE`). A restore:
//! `POST /v1/backup/restores` with the manifest, each missing blob `PUT`, then `commit` (or `DELETE`).

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sandbox_protocol::{
    BackupKnown, BackupRestore, BackupRestoreQuery, BackupRestored, BackupScan, BackupScanRequest, BlobRef, ErrorCode,
};

use super::body::JsonBody;
use super::bounded_body::BoundedBody;
use super::context::TenantCtx;
use super::query::Params;
use super::AppState;
use crate::backup::hash::Hash;
use crate::backup::manifest::Manifest;
use crate::backup::restore::Restore;
use crate::backup::scan::{scan as read_tree, Changed, Hold};
use crate::backup::state::{file_changed, PendingScan};
use crate::backup::{CHUNK, RESERVED_PREFIX};
use crate::budget::charged;
use crate::error::{AgentError, AgentResult};
use crate::names::random_id;
use crate::tenant::Tenant;

/// The largest manifest a restore takes.
const MAX_MANIFEST: usize = sandbox_protocol::MAX_MANIFEST_BYTES as usize;
/// Pieces a blob is sent in.
const PIECE: usize = 256 << 10;
/// The most a save holds in memory of files that changed under an earlier save (charged to the budget).
const HOLD_AT_MOST: usize = 32 << 20;

const OCTETS: &str = "application/octet-stream";

/// The directory a call names (the workspace by default), as on this machine and as the sandbox sees it.
fn directory(sandbox: &Tenant, dir: Option<&str>) -> AgentResult<(PathBuf, String)> {
    let root = sandbox.workspace.visible_root().to_path_buf();
    let real = match dir {
        Some(dir) => sandbox.real_path(dir, &root, "dir")?,
        None => sandbox.workspace.real_root().to_path_buf(),
    };
    let shown = sandbox.workspace.to_visible(&real).to_string_lossy().into_owned();
    Ok((real, shown))
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> AgentResult<T> + Send + 'static) -> AgentResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| AgentError::internal(format!("backup work failed: {e}")))?
}

fn invalid(message: impl Into<String>) -> AgentError {
    AgentError::new(ErrorCode::BackupInvalid, message)
}

pub async fn scan(
    State(state): State<AppState>,
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<BackupScanRequest>,
) -> AgentResult<Json<BackupScan>> {
    let (real, shown) = directory(&sandbox, req.dir.as_deref())?;
    match std::fs::metadata(&real) {
        Err(e) => return Err(AgentError::from_io(&e, &shown)),
        Ok(meta) if !meta.is_dir() => {
            return Err(AgentError::new(ErrorCode::NotDirectory, format!("{shown}: not a directory")))
        }
        Ok(_) => {}
    }
    let known = sandbox.backups.known(&real);
    let volatile = sandbox.backups.volatile(&real);
    let charge = (!volatile.is_empty()).then(|| state.budget.try_charge(0)).flatten();
    let hold = Hold { volatile, charge, at_most: HOLD_AT_MOST };
    let dir = real.clone();
    let error_shown = shown.clone();
    let scan =
        blocking(move || read_tree(&dir, &known, hold).map_err(|e| AgentError::from_io(&e, &error_shown))).await?;
    let held_bytes = scan.held.as_ref().map_or(0, |c| c.bytes());
    let (entries, files, size_bytes) = (scan.manifest.entries.len(), scan.manifest.files(), scan.manifest.size());
    let blobs = scan.blobs.iter().map(|b| BlobRef { hash: b.hash.to_string(), size: b.size }).collect();
    let refs = scan.manifest.blobs().iter().map(Hash::to_string).collect();
    let skipped = scan.skipped.clone();
    let scan_id = random_id("save");
    let pending = sandbox.backups.add_scan(&scan_id, PendingScan::new(real, scan))?;
    let manifest_bytes = pending.manifest.len() as u64;
    tracing::info!(sandbox = %sandbox.id, scan = %scan_id, dir = %shown, entries, files, size_bytes, held_bytes, "save read");
    Ok(Json(BackupScan { scan_id, dir: shown, entries, files, size_bytes, blobs, refs, manifest_bytes, skipped }))
}

/// The blobs the sandbox's agent counts as stored.
pub async fn known(TenantCtx(sandbox): TenantCtx) -> Json<BackupKnown> {
    Json(BackupKnown { blobs: sandbox.backups.known_blobs().iter().map(Hash::to_string).collect() })
}

pub async fn manifest(TenantCtx(sandbox): TenantCtx, Path(id): Path<String>) -> AgentResult<Response> {
    let pending = sandbox.backups.scan(&id)?;
    Ok(([(CONTENT_TYPE, OCTETS)], pending.manifest.clone()).into_response())
}

/// A blob's bytes, read again from the files and checked against its hash before the answer begins: a file that
/// changed since the scan is a `FILE_CHANGED` answer (409, naming it), and the save answers so from then on. The
/// blob (at most 4 MiB) is held meanwhile, charged to the budget: an answer is never cut short, which a caller
/// behind a container's network might not see end.
pub async fn blob(
    State(state): State<AppState>,
    TenantCtx(sandbox): TenantCtx,
    Path((id, hash)): Path<(String, String)>,
) -> AgentResult<Response> {
    let pending = sandbox.backups.scan(&id)?;
    let blob = pending.blob(&hash)?;
    let charge = state.budget.charge(blob.size as usize, "a blob being saved")?;
    let bytes = blocking(move || {
        let mut bytes = Vec::with_capacity(blob.size as usize);
        match blob.read(PIECE, |piece| {
            bytes.extend_from_slice(piece);
            Ok(())
        }) {
            Ok(()) => Ok(bytes),
            Err(e) => {
                tracing::warn!(sandbox = %sandbox.id, blob = %blob.hash, error = %e, "a blob was not sent");
                match Changed::of(&e) {
                    Some(path) => {
                        sandbox.backups.file_changed(&pending, path);
                        let relative = path.strip_prefix(&pending.dir).unwrap_or(path);
                        Err(file_changed(relative.as_os_str().as_encoded_bytes()))
                    }
                    None => Err(AgentError::from_io(&e, &blob.hash.to_string())),
                }
            }
        }
    })
    .await?;
    Ok(([(CONTENT_TYPE, OCTETS)], Body::from(charged(bytes, charge))).into_response())
}

pub async fn commit_scan(
    TenantCtx(sandbox): TenantCtx,
    Path(id): Path<String>,
) -> AgentResult<Json<serde_json::Value>> {
    sandbox.backups.commit_scan(&id)?;
    tracing::info!(sandbox = %sandbox.id, scan = %id, "save committed");
    Ok(Json(serde_json::json!({ "success": true })))
}

pub async fn drop_scan(TenantCtx(sandbox): TenantCtx, Path(id): Path<String>) -> AgentResult<Json<serde_json::Value>> {
    sandbox.backups.drop_scan(&id)?;
    Ok(Json(serde_json::json!({ "success": true })))
}

/// Begins a restore from the manifest in the body: the staging tree is made, the target untouched.
pub async fn begin_restore(
    State(state): State<AppState>,
    TenantCtx(sandbox): TenantCtx,
    Params(query): Params<BackupRestoreQuery>,
    req: Request,
) -> AgentResult<Json<BackupRestore>> {
    let (real, shown) = directory(&sandbox, query.dir.as_deref())?;
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if query.only_if_empty == Some(true) && holds_entries(&real) {
        super::bounded_body::discard(&mut req.into_body(), tokio::time::Instant::now() + state.io_timeout).await;
        return Err(AgentError::new(ErrorCode::FileExists, format!("{shown} is not empty: kept as it is")));
    }
    let started = std::time::Instant::now();
    let mut body = BoundedBody::begin(req.into_body(), declared, MAX_MANIFEST, state.io_timeout, &state.budget).await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next_chunk().await? {
        bytes.extend_from_slice(&chunk);
    }
    let received_ms = started.elapsed().as_millis() as u64;
    let manifest = Manifest::decode(&bytes).map_err(invalid)?;
    drop(bytes);
    let restore_id = random_id("restore");
    let id = restore_id.clone();
    let (target, error_shown) = (real.clone(), shown.clone());
    let foreign = query.foreign == Some(true);
    let mut restore = blocking(move || {
        Restore::begin(&target, manifest, &id).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => invalid(e.to_string()),
            _ => AgentError::from_io(&e, &error_shown),
        })
    })
    .await?;
    restore.set_foreign(foreign);
    let missing = restore.missing().iter().map(Hash::to_string).collect();
    sandbox.backups.add_restore(&restore_id, restore)?;
    let laid_out_ms = started.elapsed().as_millis() as u64;
    tracing::info!(sandbox = %sandbox.id, restore = %restore_id, dir = %shown, received_ms, laid_out_ms, "restore begun");
    Ok(Json(BackupRestore { restore_id, dir: shown, missing }))
}

/// Whether a directory has an entry besides the agent's own (a restore's staging left by a crash).
fn holds_entries(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| {
        entries.any(|e| e.is_ok_and(|e| !e.file_name().as_encoded_bytes().starts_with(RESERVED_PREFIX.as_bytes())))
    })
}

/// One blob the restore needs, written where it belongs as it arrives and checked against its hash; a blob that
/// does not match spoils the restore (it is abandoned; the directory is as it was).
pub async fn restore_blob(
    State(state): State<AppState>,
    TenantCtx(sandbox): TenantCtx,
    Path((id, hash)): Path<(String, String)>,
    req: Request,
) -> AgentResult<Json<serde_json::Value>> {
    let pending = sandbox.backups.restore(&id)?;
    let ended = || AgentError::new(ErrorCode::BackupNotFound, "the restore has ended");
    // The restore is held only to take the blob's writer and to record it: its blobs are written side by side.
    let writer = {
        let held = pending.lock().await;
        let restore = held.as_ref().ok_or_else(ended)?;
        Hash::parse(&hash).and_then(|h| restore.blob(h))
    };
    let mut writer = writer
        .ok_or_else(|| AgentError::new(ErrorCode::BackupNotFound, format!("the restore needs no blob {hash:?}")))?;
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let mut body =
        BoundedBody::begin(req.into_body(), declared, CHUNK as usize, state.io_timeout, &state.budget).await?;
    let mut failed = None;
    while let Some(chunk) = body.next_chunk().await? {
        if let Err(e) = tokio::task::block_in_place(|| writer.write(&chunk)) {
            failed = Some(AgentError::from_io(&e, &hash));
            break;
        }
    }
    let mut held = pending.lock().await;
    let failed = match (failed, held.as_mut()) {
        (Some(e), _) => Some(e),
        (None, None) => Some(ended()),
        (None, Some(restore)) => writer.finish().map(|h| restore.received(h)).err().map(invalid),
    };
    if let Some(e) = failed {
        if let Some(restore) = held.take() {
            tokio::task::block_in_place(|| restore.abandon());
        }
        drop(held);
        let _ = sandbox.backups.take_restore(&id);
        tracing::warn!(sandbox = %sandbox.id, restore = %id, error = %e.message, "restore abandoned");
        return Err(e);
    }
    Ok(Json(serde_json::json!({ "success": true })))
}

pub async fn commit_restore(
    TenantCtx(sandbox): TenantCtx,
    Path(id): Path<String>,
) -> AgentResult<Json<BackupRestored>> {
    let pending = sandbox.backups.take_restore(&id)?;
    let restore = pending.lock().await.take();
    let restore = restore.ok_or_else(|| AgentError::new(ErrorCode::BackupNotFound, "the restore has ended"))?;
    let (dir, files, size_bytes) = (restore.target().to_path_buf(), restore.files(), restore.size());
    let foreign = restore.foreign();
    let target = dir.clone();
    let known =
        blocking(move || restore.commit().map_err(|e| AgentError::from_io(&e, &target.to_string_lossy()))).await?;
    if !foreign {
        sandbox.backups.restored(&dir, known);
    }
    let shown = sandbox.workspace.to_visible(&dir).to_string_lossy().into_owned();
    tracing::info!(sandbox = %sandbox.id, restore = %id, dir = %shown, files, size_bytes, "restore committed");
    Ok(Json(BackupRestored { success: true, dir: shown, files, size_bytes }))
}

pub async fn drop_restore(
    TenantCtx(sandbox): TenantCtx,
    Path(id): Path<String>,
) -> AgentResult<Json<serde_json::Value>> {
    let pending = sandbox.backups.take_restore(&id)?;
    if let Some(restore) = pending.lock().await.take() {
        blocking(move || {
            restore.abandon();
            Ok(())
        })
        .await?;
    }
    Ok(Json(serde_json::json!({ "success": true })))
}
