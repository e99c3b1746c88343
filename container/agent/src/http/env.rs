//! `POST /v1/env`: `setEnvVars`, variables exported into a session's shell for its later commands.

use axum::Json;
use sandbox_protocol::{SetEnvVarsRequest, SetEnvVarsResult};

use super::body::JsonBody;
use super::context::SandboxCtx;
use crate::clock::iso_now;
use crate::error::{AgentError, AgentResult};
use crate::names::{check_env_name, check_no_nul};

pub async fn set_env_vars(
    SandboxCtx(sandbox): SandboxCtx,
    JsonBody(req): JsonBody<SetEnvVarsRequest>,
) -> AgentResult<Json<SetEnvVarsResult>> {
    let mut vars = Vec::with_capacity(req.env_vars.len());
    for (name, value) in req.env_vars {
        check_env_name(&name).map_err(AgentError::invalid)?;
        if let Some(value) = &value {
            check_no_nul(&name, value).map_err(AgentError::invalid)?;
        }
        vars.push((name, value));
    }
    let session = sandbox.session(req.session_id.as_deref())?;
    session.set_env(&vars).await?;
    Ok(Json(SetEnvVarsResult { success: true, session_id: session.id.clone(), timestamp: iso_now() }))
}
