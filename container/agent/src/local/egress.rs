//! A local sandbox's network policy (`GET`/`PUT /v1/network/policy`) and secrets (`/v1/network/secrets`), answered by this agent, never by the jail's:
//! the policy and the proxy that holds the jail to it live outside the jail, where its code cannot reach them.

use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;
use sandbox_protocol::{
    check_secret_name, ErrorCode, NetworkPolicy, NetworkState, SecretList, SetSecretRequest, MAX_SECRETS,
};

use super::{sandbox_id, LocalState};
use crate::egress::record::SandboxEgress;
use crate::egress::secrets::Secret;
use crate::egress::PROXY_URL;
use crate::error::{AgentError, AgentResult};
use crate::http::{parse_json, token_refusal};

/// The most a policy's or a secret's body may be (two lists of 256 rules of at most 300 characters, with room to
/// spare).
const MAX_POLICY_BYTES: usize = 1 << 20;
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of a jail's metrics read to add the proxy's to them.
const MAX_METRICS_BYTES: usize = 16 << 20;

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
    let policy: NetworkPolicy = json_body(req).await?;
    state.children.set_policy(&id, &policy).await?;
    Ok(Json(state.children.egress.of(&id).state(Ok(PROXY_URL.into()))))
}

/// `GET /v1/network/secrets`: the sandbox's secrets, without their values.
pub async fn secrets(State(state): State<LocalState>, req: Request) -> AgentResult<Json<SecretList>> {
    if let Some(refusal) = token_refusal(state.token.as_deref(), &req) {
        return Err(refusal);
    }
    let id = sandbox_id(&req)?;
    let secrets = state.children.egress.get(&id).map(|e| e.secrets.list()).unwrap_or_default();
    Ok(Json(SecretList { success: true, secrets }))
}

/// `PUT /v1/network/secrets`: a secret made or replaced; from the next request its proxy sends to its hosts.
pub async fn set_secret(State(state): State<LocalState>, req: Request) -> AgentResult<Json<SecretList>> {
    if let Some(refusal) = token_refusal(state.token.as_deref(), &req) {
        return Err(refusal);
    }
    let id = sandbox_id(&req)?;
    let asked: SetSecretRequest = json_body(req).await?;
    let secret = Secret::new(&asked).map_err(AgentError::invalid)?;
    let egress = state.children.egress.of(&id);
    egress.secrets.set(secret).map_err(|_| {
        AgentError::new(
            ErrorCode::TooManySecrets,
            format!("a sandbox has at most {MAX_SECRETS} secrets: delete one first"),
        )
    })?;
    tracing::info!(sandbox = id, secret = asked.name, hosts = ?asked.hosts, "secret set");
    Ok(Json(SecretList { success: true, secrets: egress.secrets.list() }))
}

/// `DELETE /v1/network/secrets/{name}`.
pub async fn delete_secret(
    State(state): State<LocalState>,
    Path(name): Path<String>,
    req: Request,
) -> AgentResult<Json<SecretList>> {
    if let Some(refusal) = token_refusal(state.token.as_deref(), &req) {
        return Err(refusal);
    }
    let id = sandbox_id(&req)?;
    check_secret_name(&name).map_err(AgentError::invalid)?;
    let egress = state.children.egress.get(&id);
    if !egress.as_ref().is_some_and(|e| e.secrets.delete(&name)) {
        return Err(AgentError::new(ErrorCode::SecretNotFound, format!("no secret named {name}")));
    }
    tracing::info!(sandbox = id, secret = name, "secret deleted");
    let secrets = egress.map(|e| e.secrets.list()).unwrap_or_default();
    Ok(Json(SecretList { success: true, secrets }))
}

/// A JSON body of at most `MAX_POLICY_BYTES`, within `BODY_TIMEOUT`.
async fn json_body<T: serde::de::DeserializeOwned>(req: Request) -> AgentResult<T> {
    let content_type = req.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("\u{fffd}").to_string());
    sandbox_protocol::screen::check_json_body("PUT", content_type.as_deref())
        .map_err(|m| AgentError::new(ErrorCode::UnsupportedMediaType, m))?;
    let bytes = tokio::time::timeout(BODY_TIMEOUT, to_bytes(req.into_body(), MAX_POLICY_BYTES))
        .await
        .map_err(|_| AgentError::new(ErrorCode::RequestTimeout, "the body did not arrive in time"))?
        .map_err(|_| {
            AgentError::new(ErrorCode::BodyTooLarge, format!("this body is at most {MAX_POLICY_BYTES} bytes"))
        })?;
    parse_json(&bytes)
}

/// The jail's `GET /v1/metrics` with the proxy's counters after it, when it is Prometheus text (its JSON brief is
/// passed as it is).
pub async fn with_metrics(answer: axum::response::Response, egress: &SandboxEgress) -> axum::response::Response {
    let text =
        answer.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/plain"));
    if !text || answer.status() != axum::http::StatusCode::OK {
        return answer;
    }
    let (parts, body) = answer.into_parts();
    let Ok(Ok(bytes)) = tokio::time::timeout(BODY_TIMEOUT, to_bytes(body, MAX_METRICS_BYTES)).await else {
        return (axum::http::StatusCode::BAD_GATEWAY, "the sandbox's metrics could not be read").into_response();
    };
    let mut out = bytes.to_vec();
    out.extend_from_slice(egress.prometheus().as_bytes());
    let mut parts = parts;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    axum::response::Response::from_parts(parts, axum::body::Body::from(out))
}
