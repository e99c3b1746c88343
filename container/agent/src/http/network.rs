//! `GET`/`PUT /v1/network/policy` where this agent runs the sandbox's processes in its own network (a container,
//! `--unconfined`): a policy that restricts nothing is recorded; one that restricts anything is refused with
//! `EGRESS_UNAVAILABLE`, since nothing here could hold it. A local jail's policy is the host agent's
//! (`local::network_policy`), which enforces it.

use axum::extract::Path;
use axum::Json;
use sandbox_protocol::{ErrorCode, NetworkPolicy, NetworkState, SecretList, SetSecretRequest};

use super::body::JsonBody;
use super::context::TenantCtx;
use crate::error::{AgentError, AgentResult};

/// Why this agent cannot hold a sandbox's network to a policy.
pub const UNENFORCED: &str = "the sandbox's processes share this agent's network (a container, or local mode with \
                              --unconfined): a policy that restricts anything cannot be enforced here";

pub async fn show(TenantCtx(sandbox): TenantCtx) -> Json<NetworkState> {
    Json(sandbox.egress.state(Err(UNENFORCED.into())))
}

pub async fn set(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(policy, _held): JsonBody<NetworkPolicy>,
) -> AgentResult<Json<NetworkState>> {
    let checked = policy.checked().map_err(AgentError::invalid)?;
    if checked.restricts() {
        return Err(AgentError::new(
            ErrorCode::EgressUnavailable,
            format!("the network policy was refused: {UNENFORCED}"),
        ));
    }
    sandbox.egress.set(&checked).map_err(AgentError::invalid)?;
    Ok(Json(sandbox.egress.state(Err(UNENFORCED.into()))))
}

/// Secrets are sent only by a proxy that is the sandbox's one way out: none here.
pub async fn secrets(TenantCtx(_sandbox): TenantCtx) -> Json<SecretList> {
    Json(SecretList { success: true, secrets: Vec::new() })
}

pub async fn set_secret(
    TenantCtx(_sandbox): TenantCtx,
    JsonBody(_secret, _held): JsonBody<SetSecretRequest>,
) -> AgentResult<Json<SecretList>> {
    Err(AgentError::new(ErrorCode::EgressUnavailable, format!("secrets are sent by an egress proxy: {UNENFORCED}")))
}

pub async fn delete_secret(TenantCtx(_sandbox): TenantCtx, Path(name): Path<String>) -> AgentResult<Json<SecretList>> {
    Err(AgentError::new(ErrorCode::SecretNotFound, format!("no secret named {name}")))
}
