//! File routes. Paths resolve against the session's current directory (the default session's, or the workspace)
//! and run on the blocking pool, never through the session's shell.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sandbox_protocol::{
    DeleteFileRequest, ExistsRequest, ExistsResult, FileOpResult, ListFilesRequest, MkdirRequest, MkdirResult,
    MoveFileRequest, ReadFileRequest, RenameFileRequest, RenameResult, WriteFileRequest,
};

use super::body::JsonBody;
use super::context::TenantCtx;
use super::pieces;
use super::AppState;
use crate::budget::charged;
use crate::clock::iso_now;
use crate::error::{AgentError, AgentResult};
use crate::files::list::ListOptions;
use crate::files::{list as listing, ops, Target};
use crate::tenant::Tenant;
use crate::workspace::normalize;

/// Resolves a caller's path for the call's session.
pub(super) fn target(sandbox: &Tenant, session_id: Option<&str>, path: &str, what: &str) -> AgentResult<Target> {
    let base = sandbox.base_dir(session_id)?;
    let real = sandbox.real_path(path, &base, what)?;
    let shown = normalize(&base.join(path)).to_string_lossy().into_owned();
    Ok(Target { real, shown })
}

pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> AgentResult<T> + Send + 'static,
) -> AgentResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| AgentError::internal(format!("file operation failed: {e}")))?
}

fn done(path: String) -> Json<FileOpResult> {
    Json(FileOpResult { success: true, path, timestamp: iso_now() })
}

pub async fn list(
    State(state): State<AppState>,
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<ListFilesRequest>,
) -> AgentResult<Response> {
    let dir = target(&sandbox, req.session_id.as_deref(), &req.path, "path")?;
    let options =
        ListOptions { recursive: req.recursive, include_hidden: req.include_hidden, limit: listing::MAX_ENTRIES };
    // Listing and writing a large directory are both heavy: both run off the async workers.
    let (pieces, charge) = blocking(move || {
        let shown = PathBuf::from(&dir.shown);
        let listed = listing::list(&dir, Path::new(&shown), &options)?;
        // About 240 bytes of JSON an entry, held until the answer is sent.
        let charge = state.budget.charge(256 + listed.count() * 240, "listFiles")?;
        Ok((listed.to_json(&iso_now()), charge))
    })
    .await?;
    Ok(([(CONTENT_TYPE, "application/json")], pieces::body(pieces, charge)).into_response())
}

pub async fn write(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<WriteFileRequest>,
) -> AgentResult<Json<FileOpResult>> {
    let file = target(&sandbox, req.session_id.as_deref(), &req.path, "path")?;
    let encoding = req.encoding.unwrap_or_default();
    let shown = file.shown.clone();
    blocking(move || ops::write(&file, &req.content, encoding)).await?;
    Ok(done(shown))
}

pub async fn read(
    State(state): State<AppState>,
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<ReadFileRequest>,
) -> AgentResult<Response> {
    let file = target(&sandbox, req.session_id.as_deref(), &req.path, "path")?;
    let budget = Arc::clone(&state.budget);
    let (result, charge) = blocking(move || ops::read(&file, req.encoding, (req.offset, req.length), &budget)).await?;
    // Written here, with the file's charge held until the answer is out (a `Json` would be written after it).
    let body = serde_json::to_vec(&result).map_err(|e| AgentError::internal(format!("readFile answer: {e}")))?;
    drop(result);
    Ok(([(CONTENT_TYPE, "application/json")], Body::from(charged(body, charge))).into_response())
}

pub async fn mkdir(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<MkdirRequest>,
) -> AgentResult<Json<MkdirResult>> {
    let dir = target(&sandbox, req.session_id.as_deref(), &req.path, "path")?;
    let shown = dir.shown.clone();
    let recursive = req.recursive;
    blocking(move || ops::mkdir(&dir, recursive)).await?;
    Ok(Json(MkdirResult { success: true, path: shown, recursive, timestamp: iso_now() }))
}

pub async fn delete(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<DeleteFileRequest>,
) -> AgentResult<Json<FileOpResult>> {
    let file = target(&sandbox, req.session_id.as_deref(), &req.path, "path")?;
    let shown = file.shown.clone();
    blocking(move || ops::delete(&file)).await?;
    Ok(done(shown))
}

pub async fn rename(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<RenameFileRequest>,
) -> AgentResult<Json<RenameResult>> {
    let from = target(&sandbox, req.session_id.as_deref(), &req.old_path, "oldPath")?;
    let to = target(&sandbox, req.session_id.as_deref(), &req.new_path, "newPath")?;
    let (path, new_path) = (from.shown.clone(), to.shown.clone());
    blocking(move || ops::rename(&from, &to)).await?;
    Ok(Json(RenameResult { success: true, path, new_path, timestamp: iso_now() }))
}

pub async fn move_file(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<MoveFileRequest>,
) -> AgentResult<Json<RenameResult>> {
    let from = target(&sandbox, req.session_id.as_deref(), &req.source_path, "sourcePath")?;
    let to = target(&sandbox, req.session_id.as_deref(), &req.destination_path, "destinationPath")?;
    let path = from.shown.clone();
    let dest = blocking(move || ops::move_to(&from, &to)).await?;
    Ok(Json(RenameResult { success: true, path, new_path: dest.shown, timestamp: iso_now() }))
}

pub async fn exists(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<ExistsRequest>,
) -> AgentResult<Json<ExistsResult>> {
    let file = target(&sandbox, req.session_id.as_deref(), &req.path, "path")?;
    let shown = file.shown.clone();
    let exists = blocking(move || Ok(ops::exists(&file))).await?;
    Ok(Json(ExistsResult { success: true, path: shown, exists, timestamp: iso_now() }))
}
