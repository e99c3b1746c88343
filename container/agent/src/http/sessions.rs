//! Session routes: create, list, show, history, delete; and `DELETE /v1/sandbox`, which ends them all.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use sandbox_protocol::{DeleteResult, SessionHistory, SessionInfo, SessionList, SessionOptions};

use super::body::JsonBody;
use super::context::TenantCtx;
use super::AppState;
use crate::clock::iso_now;
use crate::error::AgentResult;

pub async fn create(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(options, _held): JsonBody<SessionOptions>,
) -> AgentResult<(StatusCode, Json<SessionInfo>)> {
    let session = sandbox.create_session(options).await?;
    Ok((StatusCode::CREATED, Json(session.info())))
}

pub async fn list(TenantCtx(sandbox): TenantCtx) -> Json<SessionList> {
    let sessions: Vec<SessionInfo> = sandbox.sessions().iter().map(|s| s.info()).collect();
    Json(SessionList { success: true, count: sessions.len(), sessions })
}

pub async fn show(TenantCtx(sandbox): TenantCtx, Path(id): Path<String>) -> AgentResult<Json<SessionInfo>> {
    Ok(Json(sandbox.existing_session(&id)?.info()))
}

pub async fn history(TenantCtx(sandbox): TenantCtx, Path(id): Path<String>) -> AgentResult<Json<SessionHistory>> {
    Ok(Json(sandbox.existing_session(&id)?.history()))
}

pub async fn remove(TenantCtx(sandbox): TenantCtx, Path(id): Path<String>) -> AgentResult<Json<DeleteResult>> {
    let id_for_kill = id.clone();
    let sandbox_for_kill = sandbox.clone();
    // Killing walks /proc: keep it off the async workers.
    tokio::task::spawn_blocking(move || sandbox_for_kill.delete_session(&id_for_kill))
        .await
        .map_err(|e| crate::error::AgentError::internal(e.to_string()))??;
    Ok(Json(DeleteResult { success: true, id, timestamp: iso_now() }))
}

pub async fn destroy_sandbox(
    State(state): State<AppState>,
    TenantCtx(sandbox): TenantCtx,
) -> AgentResult<Json<DeleteResult>> {
    state.sandboxes.destroy(&sandbox).await?;
    Ok(Json(DeleteResult { success: true, id: sandbox.id.clone(), timestamp: iso_now() }))
}
