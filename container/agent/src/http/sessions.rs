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

/// The answer comes once the session is ended (it takes no more commands, its id is free) and everything of its
/// shells has been sent SIGKILL (their cgroups' `cgroup.kill`, or their process groups: one write or one signal
/// each). The wait for them to be gone, the cgroups' removal, and where there are no cgroups the search for
/// anything that left the process groups (it walks /proc), follow 2 ms later, off the async workers, not waited for.
pub async fn remove(TenantCtx(sandbox): TenantCtx, Path(id): Path<String>) -> AgentResult<Json<DeleteResult>> {
    let remains = sandbox.delete_session(&id)?;
    remains.kill_groups();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let _ = tokio::task::spawn_blocking(move || remains.kill()).await;
    });
    Ok(Json(DeleteResult { success: true, id, timestamp: iso_now() }))
}

pub async fn destroy_sandbox(
    State(state): State<AppState>,
    TenantCtx(sandbox): TenantCtx,
) -> AgentResult<Json<DeleteResult>> {
    state.sandboxes.destroy(&sandbox).await?;
    Ok(Json(DeleteResult { success: true, id: sandbox.id.clone(), timestamp: iso_now() }))
}
