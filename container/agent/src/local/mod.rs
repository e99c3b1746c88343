//! Local development with isolation (`--multi-sandbox ROOT --isolate`): this agent serves no sandbox itself. Each
//! sandbox has an agent of its own in a jail of its own (`children.rs`, `launch.rs`, `jail.rs`) that sees the
//! sandbox's folder as `/workspace` and nothing of the other sandboxes or of this agent, runs as no user of the
//! host, with no capability and a network of its own (`network.rs`), as a container would; every call is passed
//! on to it (`proxy.rs`), so paths, processes and files look as they do deployed. What a jail writes to its
//! standard error reaches this agent's through `jail_log.rs`.

pub mod absent;
pub mod children;
pub mod egress;
pub mod jail;
pub mod jail_log;
pub mod launch;
pub mod network;
pub mod proxy;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use sandbox_protocol::{routes, DeleteResult, ErrorCode, Health, SANDBOX_ID_HEADER};

use crate::clock::iso_now;
use crate::error::{AgentError, AgentResult};
use crate::http::{refuse_web_pages_locally, token_refusal};
use crate::names::check_sandbox_id;
use children::Children;

#[derive(Clone)]
pub struct LocalState {
    pub children: Arc<Children>,
    pub started: Instant,
    pub boot_id: Arc<str>,
    /// Asked of every call but the bare health check (`SANDBOX_AGENT_TOKEN`): the Worker's proof that a call is
    /// its own, for anything else on this machine's loopback (a jail has a loopback of its own).
    pub token: Option<Arc<str>>,
}

pub fn router(state: LocalState) -> Router {
    Router::new()
        .route(routes::SANDBOX, delete(destroy))
        .route(routes::SANDBOX_STOP, post(stop))
        .route(routes::NETWORK_POLICY, get(egress::show).put(egress::set))
        .route(routes::SECRETS, get(egress::secrets).put(egress::set_secret))
        .route(routes::SECRET, delete(egress::delete_secret))
        .fallback(pass_on)
        .layer(axum::middleware::from_fn(refuse_web_pages_locally))
        .with_state(state)
}

/// The sandbox a call names (`X-Sandbox-Id`, required).
pub(crate) fn sandbox_id(req: &Request) -> AgentResult<String> {
    let id = req
        .headers()
        .get(SANDBOX_ID_HEADER)
        .ok_or_else(|| AgentError::invalid("this agent serves many sandboxes: the X-Sandbox-Id header is required"))?
        .to_str()
        .map_err(|_| AgentError::invalid("the X-Sandbox-Id header is not valid text"))?
        .to_string();
    check_sandbox_id(&id).map_err(AgentError::invalid)?;
    Ok(id)
}

/// Every call for a sandbox goes to its own agent, started on first use; `/v1/health` without a sandbox is
/// answered here.
async fn pass_on(State(state): State<LocalState>, req: Request) -> Response {
    if req.uri().path() == routes::HEALTH && !req.headers().contains_key(SANDBOX_ID_HEADER) {
        return Json(Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_ms: state.started.elapsed().as_millis() as u64,
            boot_id: state.boot_id.to_string(),
        })
        .into_response();
    }
    let answer = async {
        if let Some(refusal) = token_refusal(state.token.as_deref(), &req) {
            return Err(refusal);
        }
        let id = sandbox_id(&req)?;
        if absent::is_read(&req) && !state.children.exists(&id) {
            return Ok(absent::answer(&id, req.uri().path()));
        }
        let child = state.children.get(&id).await?;
        let metrics = req.uri().path() == routes::METRICS;
        let answer = proxy::forward(&child, req).await?;
        match (metrics, state.children.egress.get(&id)) {
            (true, Some(egress)) => Ok(egress::with_metrics(answer, &egress).await),
            _ => Ok(answer),
        }
    };
    match answer.await {
        Ok(response) => response.into_response(),
        Err(err) => err.into_response(),
    }
}

/// Stops the sandbox's jail and keeps its folder (the Durable Object's idle stop); its next call starts it anew.
async fn stop(State(state): State<LocalState>, req: Request) -> AgentResult<Json<DeleteResult>> {
    if let Some(refusal) = token_refusal(state.token.as_deref(), &req) {
        return Err(refusal);
    }
    let id = sandbox_id(&req)?;
    state.children.stop(&id).await;
    Ok(Json(DeleteResult { success: true, id, timestamp: iso_now() }))
}

/// Ends the sandbox: its agent and everything in its jail, and its folder.
async fn destroy(State(state): State<LocalState>, req: Request) -> AgentResult<Json<DeleteResult>> {
    if let Some(refusal) = token_refusal(state.token.as_deref(), &req) {
        return Err(refusal);
    }
    let id = sandbox_id(&req)?;
    state.children.destroy(&id).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AgentError::new(ErrorCode::InternalError, e.to_string()),
        _ => AgentError::from_io(&e, "/workspace"),
    })?;
    Ok(Json(DeleteResult { success: true, id, timestamp: iso_now() }))
}
