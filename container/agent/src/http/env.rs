//! `POST /v1/env`: `setEnvVars`, variables exported into a session's shell for its later commands.

use axum::Json;
use sandbox_protocol::{SetEnvVarsRequest, SetEnvVarsResult};

use super::body::JsonBody;
use super::context::TenantCtx;
use crate::clock::iso_now;
use crate::error::{AgentError, AgentResult};
use crate::names::check_env;

pub async fn set_env_vars(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<SetEnvVarsRequest>,
) -> AgentResult<Json<SetEnvVarsResult>> {
    let vars = check_env(req.env_vars).map_err(AgentError::invalid)?;
    let session = sandbox.session(req.session_id.as_deref())?;
    session.set_env(&vars).await?;
    Ok(Json(SetEnvVarsResult { success: true, session_id: session.id.clone(), timestamp: iso_now() }))
}
