//! A local sandbox's network policy (`GET`/`PUT /v1/network/policy`), answered by this agent, never by the jail's:
//! the policy and the proxy that holds the jail to it live outside the jail, where its code cannot reach them.

use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::Json;
use sandbox_protocol::{ErrorCode, NetworkPolicy, NetworkState};

use super::{sandbox_id, LocalState};
use crate::egress::record::SandboxEgress;
use crate::egress::PROXY_URL;
use crate::error::{AgentError, AgentResult};
use crate::http::{parse_json, token_refusal};

/// The most a policy's body may be (two lists of 256 rules of at most 300 characters, with room to spare).
const MAX_POLICY_BYTES: usize = 1 << 20;
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn show(State(state): State<LocalState>, req: Request) -> AgentResult<Json<NetworkState>> {
    if let Some(refusal) = token_refusal(state.token.as_deref(), &req) {
        return Err(refusal);
    }
    let id = sandbox_id(&req)?;
    let egress = state.children.egress.get(&id).unwrap_or_default();
    Ok(Json(egress.state(Ok(PROXY_URL.into()))))
}

pub async fn set(State(state): State<LocalState>, req: Request) -> AgentResult<Json<NetworkState>> {
    if let Some(refusal) = token_refusal(state.token.as_deref(), &req) {
        return Err(refusal);
    }
    let id = sandbox_id(&req)?;
    let content_type = req.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("\u{fffd}").to_string());
    sandbox_protocol::screen::check_json_body("PUT", content_type.as_deref())
        .map_err(|m| AgentError::new(ErrorCode::UnsupportedMediaType, m))?;
    let bytes = tokio::time::timeout(BODY_TIMEOUT, to_bytes(req.into_body(), MAX_POLICY_BYTES))
        .await
        .map_err(|_| AgentError::new(ErrorCode::RequestTimeout, "the policy did not arrive in time"))?
        .map_err(|_| {
            AgentError::new(ErrorCode::BodyTooLarge, format!("a network policy is at most {MAX_POLICY_BYTES} bytes"))
        })?;
    let policy: NetworkPolicy = parse_json(&bytes)?;
    state.children.set_policy(&id, &policy).await?;
    let egress = state.children.egress.get(&id).unwrap_or_else(|| std::sync::Arc::new(SandboxEgress::default()));
    Ok(Json(egress.state(Ok(PROXY_URL.into()))))
}
