//! The `Sandbox` Durable Object: one per sandbox id. It owns the sandbox's agent link (its container, or the
//! local agent), starts the container on first use, stops it after `SANDBOX_SLEEP_AFTER` without calls, and
//! forwards every call to the agent.

use std::cell::Cell;

use sandbox_protocol::{ErrorCode, SANDBOX_ID_HEADER};
use serde_json::json;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State};

use crate::agent_link::AgentLink;
use crate::errors::WorkerError;
use crate::sleep_after;

/// The agent route that is the sandbox itself: `GET` is its status, `DELETE` destroys it.
const SANDBOX_PATH: &str = "/v1/sandbox";

#[durable_object]
pub struct Sandbox {
    state: State,
    env: Env,
    /// The agent answered `/v1/health` since the container last started.
    healthy: Cell<bool>,
}

impl DurableObject for Sandbox {
    fn new(state: State, env: Env) -> Self {
        Self { state, env, healthy: Cell::new(false) }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match self.handle(req).await {
            Ok(response) => Ok(response),
            Err(err) => err.into_response(),
        }
    }

    /// Nobody called for `SANDBOX_SLEEP_AFTER`: stop the container. The next call starts a new one.
    async fn alarm(&self) -> Result<Response> {
        if let Ok(link) = AgentLink::new(&self.state, &self.env) {
            let _ = link.stop().await;
        }
        self.healthy.set(false);
        Response::ok("stopped")
    }
}

impl Sandbox {
    async fn handle(&self, req: Request) -> std::result::Result<Response, WorkerError> {
        let id = req
            .headers()
            .get(SANDBOX_ID_HEADER)?
            .ok_or_else(|| WorkerError::new(ErrorCode::ValidationFailed, "missing X-Sandbox-Id"))?;
        let path = req.path();
        let link = AgentLink::new(&self.state, &self.env)?;
        if path == SANDBOX_PATH {
            return match req.method() {
                Method::Get => self.status(&id, &link),
                Method::Delete => self.destroy(&req, &id, &link).await,
                other => Err(WorkerError::new(ErrorCode::MethodNotAllowed, format!("{other:?} on a sandbox"))),
            };
        }
        if !link.running() {
            self.healthy.set(false);
        }
        if !self.healthy.get() {
            link.ensure_started(&id, &self.env).await?;
            self.healthy.set(true);
        }
        self.keep_awake().await;
        let response = link.send(&req, &path, &id).await;
        if response.is_err() {
            self.healthy.set(false);
        }
        response
    }

    fn status(&self, id: &str, link: &AgentLink) -> std::result::Result<Response, WorkerError> {
        Ok(Response::from_json(&json!({
            "success": true,
            "id": id,
            "mode": link.mode(),
            "running": link.running(),
        }))?)
    }

    /// Ends every session and process, stops the container, and forgets the sandbox's state.
    async fn destroy(&self, req: &Request, id: &str, link: &AgentLink) -> std::result::Result<Response, WorkerError> {
        if link.running() {
            // Best effort: a container that is already gone has nothing left to end.
            let _ = link.send(req, SANDBOX_PATH, id).await;
        }
        link.stop().await?;
        self.healthy.set(false);
        let storage = self.state.storage();
        storage.delete_alarm().await?;
        storage.delete_all().await?;
        Ok(Response::from_json(&json!({ "success": true, "id": id }))?)
    }

    /// Pushes the idle alarm out to `SANDBOX_SLEEP_AFTER` from now.
    async fn keep_awake(&self) {
        let after = self
            .env
            .var("SANDBOX_SLEEP_AFTER")
            .ok()
            .and_then(|v| sleep_after::parse(&v.to_string()))
            .unwrap_or(sleep_after::DEFAULT);
        let _ = self.state.storage().set_alarm(after).await;
    }
}
