//! The `Sandbox` Durable Object: one per sandbox id. It owns the sandbox's agent link (its container, or the
//! local agent), starts the container on first use, stops it after `SANDBOX_SLEEP_AFTER` without calls, and
//! forwards every call to the agent. It remembers the sessions created through it; when the agent answering is
//! a new one (its `X-Agent-Boot` changed), it creates them again with their original options, and a call that
//! failed for want of its session is sent again and says so in `X-Sandbox-Sessions-Recreated`.

use std::cell::{Cell, RefCell};

use sandbox_protocol::{
    DestroyResult, ErrorCode, SandboxStatus, SessionOptions, SetEnvVarsRequest, DEFAULT_SESSION_ID, SANDBOX_ID_HEADER,
    SESSIONS_RECREATED_HEADER,
};
use worker::{durable_object, Date, DurableObject, Env, Method, Request, Response, Result, State};

use crate::agent_link::{boot_of, AgentLink};
use crate::errors::WorkerError;
use crate::forward::{json_post, retryable};
use crate::{session_registry, sleep_after};

/// The agent route that is the sandbox itself: `GET` is its status, `DELETE` destroys it.
const SANDBOX_PATH: &str = "/v1/sandbox";

#[durable_object]
pub struct Sandbox {
    state: State,
    env: Env,
    /// The agent answered `/v1/health` since the container last started.
    healthy: Cell<bool>,
    /// The boot id of the agent that answered last.
    boot: RefCell<Option<String>>,
    /// When the last call came (ms since the epoch), and when the idle alarm was last pushed out.
    last_call: Cell<f64>,
    alarm_pushed: Cell<f64>,
}

/// Largest `createSession` or `setEnvVars` body the object reads (options are small).
const SESSION_BODY_LIMIT: usize = 1024 * 1024;
const SESSIONS_PATH: &str = "/v1/sessions";
const ENV_PATH: &str = "/v1/env";

impl DurableObject for Sandbox {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            healthy: Cell::new(false),
            boot: RefCell::new(None),
            last_call: Cell::new(0.0),
            alarm_pushed: Cell::new(0.0),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match self.handle(req).await {
            Ok(response) => Ok(response),
            Err(err) => err.into_response(),
        }
    }

    /// Nobody called for `SANDBOX_SLEEP_AFTER`: stop the container. The next call starts a new one.
    async fn alarm(&self) -> Result<Response> {
        let idle_for = Date::now().as_millis() as f64 - self.last_call.get();
        let after = self.sleep_after().as_millis() as f64;
        if self.last_call.get() > 0.0 && idle_for < after {
            // Calls came after the alarm was set: wait out the rest.
            self.state.storage().set_alarm((after - idle_for) as i64).await?;
            return Response::ok("still in use");
        }
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
            let boot = link.ensure_started(&id, &self.env).await?;
            self.healthy.set(true);
            // A new agent gets its sessions back before the call reaches it.
            if let Some(boot) = boot {
                self.note_boot(&boot, &id, &link).await;
            }
        }
        self.keep_awake().await;
        let response = match req.method() {
            Method::Post if path == SESSIONS_PATH => self.create_session(req, &id, &link).await,
            Method::Post if path == ENV_PATH => self.set_env_vars(req, &id, &link).await,
            Method::Delete if is_session_path(&path) => self.delete_session(req, &path, &id, &link).await,
            _ => self.forward(req, &path, &id, &link).await,
        };
        if response.is_err() {
            self.healthy.set(false);
        }
        response
    }

    /// Forwards a call; if the agent turns out to be a new one and the call failed for want of its session, the
    /// sessions are created again and the call is sent once more.
    async fn forward(
        &self,
        req: Request,
        path: &str,
        id: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let copy = if retryable(&req) { req.clone().ok() } else { None };
        let response = link.send(&req, path, id).await?;
        let recreated = self.after_answer(&response, id, link).await;
        match copy {
            Some(copy) if !recreated.is_empty() && response.status_code() == 404 => {
                let again = link.send(&copy, path, id).await?;
                // A fetched response's headers are immutable: answer with a copy.
                let headers = again.headers().clone();
                headers.set(SESSIONS_RECREATED_HEADER, &recreated.join(","))?;
                Ok(again.with_headers(headers))
            }
            _ => Ok(response),
        }
    }

    async fn create_session(
        &self,
        req: Request,
        id: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let text = small_body(req, "session options").await?;
        let sent = json_post(SESSIONS_PATH, &text)?;
        let mut response = link.send(&sent, SESSIONS_PATH, id).await?;
        self.after_answer(&response, id, link).await;
        if response.status_code() == 201 {
            let options: SessionOptions = if text.trim().is_empty() {
                SessionOptions::default()
            } else {
                serde_json::from_str(&text).unwrap_or_default()
            };
            let created: serde_json::Value = response.cloned()?.json().await?;
            let session_id = created["id"].as_str().map(str::to_string);
            session_registry::remember(&self.state.storage(), SessionOptions { id: session_id, ..options }).await?;
        }
        Ok(response)
    }

    /// Forwards `setEnvVars` and remembers the variables with the session, for its re-creation.
    async fn set_env_vars(
        &self,
        req: Request,
        id: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let text = small_body(req, "setEnvVars").await?;
        let response = link.send(&json_post(ENV_PATH, &text)?, ENV_PATH, id).await?;
        self.after_answer(&response, id, link).await;
        if response.status_code() == 200 {
            if let Ok(sent) = serde_json::from_str::<SetEnvVarsRequest>(&text) {
                let session = sent.session_id.as_deref().unwrap_or(DEFAULT_SESSION_ID);
                session_registry::add_env(&self.state.storage(), session, &sent.env_vars).await?;
            }
        }
        Ok(response)
    }

    async fn delete_session(
        &self,
        req: Request,
        path: &str,
        id: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let response = link.send(&req, path, id).await?;
        let session = &path[SESSIONS_PATH.len() + 1..];
        if response.status_code() == 200 || response.status_code() == 404 {
            session_registry::forget(&self.state.storage(), session).await?;
        }
        Ok(response)
    }

    /// Notes which agent answered; when it is a new one, creates the remembered sessions on it and returns their
    /// ids.
    async fn after_answer(&self, response: &Response, id: &str, link: &AgentLink) -> Vec<String> {
        match boot_of(response) {
            Some(boot) => self.note_boot(&boot, id, link).await,
            None => Vec::new(),
        }
    }

    /// Notes the boot id of the agent that answered; when it is a new one, creates the remembered sessions on it
    /// and returns their ids.
    async fn note_boot(&self, boot: &str, id: &str, link: &AgentLink) -> Vec<String> {
        if self.boot.borrow().as_deref() == Some(boot) {
            return Vec::new();
        }
        let storage = self.state.storage();
        let last = session_registry::last_boot(&storage).await;
        *self.boot.borrow_mut() = Some(boot.to_string());
        if last.as_deref() == Some(boot) {
            return Vec::new();
        }
        let _ = session_registry::set_boot(&storage, boot).await;
        if last.is_none() {
            return Vec::new();
        }
        let mut recreated = Vec::new();
        for (session, options) in session_registry::all(&storage).await {
            // The agent makes the default session itself (perhaps for this very call): it gets its variables back.
            let (path, body) = if session == DEFAULT_SESSION_ID {
                let vars = SetEnvVarsRequest { env_vars: options.env.unwrap_or_default(), session_id: None };
                (ENV_PATH, serde_json::to_string(&vars))
            } else {
                (SESSIONS_PATH, serde_json::to_string(&options))
            };
            let Ok(body) = body else { continue };
            let Ok(request) = json_post(path, &body) else { continue };
            if let Ok(answer) = link.send(&request, path, id).await {
                if answer.status_code() < 300 {
                    recreated.push(session);
                }
            }
        }
        recreated
    }

    fn status(&self, id: &str, link: &AgentLink) -> std::result::Result<Response, WorkerError> {
        Ok(Response::from_json(&SandboxStatus {
            success: true,
            id: id.to_string(),
            mode: link.mode().to_string(),
            running: link.running(),
        })?)
    }

    /// Ends every session and process, stops the container, and forgets the sandbox's state.
    async fn destroy(&self, req: &Request, id: &str, link: &AgentLink) -> std::result::Result<Response, WorkerError> {
        if link.running() {
            // Best effort: a container that is already gone has nothing left to end.
            let _ = link.send(req, SANDBOX_PATH, id).await;
        }
        link.stop().await?;
        self.healthy.set(false);
        *self.boot.borrow_mut() = None;
        let storage = self.state.storage();
        storage.delete_alarm().await?;
        storage.delete_all().await?;
        self.alarm_pushed.set(0.0);
        Ok(Response::from_json(&DestroyResult { success: true, id: id.to_string() })?)
    }

    /// Notes the call and keeps the idle alarm `SANDBOX_SLEEP_AFTER` ahead. The alarm is written at most once
    /// per tenth of that time (a storage write per call would cost every call); when it fires early it
    /// reschedules itself from the last call.
    async fn keep_awake(&self) {
        let now = Date::now().as_millis() as f64;
        self.last_call.set(now);
        let after = self.sleep_after();
        if now - self.alarm_pushed.get() >= after.as_millis() as f64 / 10.0 {
            self.alarm_pushed.set(now);
            let _ = self.state.storage().set_alarm(after).await;
        }
    }

    fn sleep_after(&self) -> std::time::Duration {
        self.env
            .var("SANDBOX_SLEEP_AFTER")
            .ok()
            .and_then(|v| sleep_after::parse(&v.to_string()))
            .unwrap_or(sleep_after::DEFAULT)
    }
}

/// Reads a body the object needs to look into, refusing more than `SESSION_BODY_LIMIT`.
async fn small_body(mut req: Request, what: &str) -> std::result::Result<String, WorkerError> {
    let too_large = || WorkerError::new(ErrorCode::BodyTooLarge, format!("{what}: the body is larger than 1 MiB"));
    let declared = req.headers().get("content-length")?.and_then(|n| n.parse::<usize>().ok());
    if declared.is_some_and(|n| n > SESSION_BODY_LIMIT) {
        return Err(too_large());
    }
    let body = req.bytes().await?;
    if body.len() > SESSION_BODY_LIMIT {
        return Err(too_large());
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// `/v1/sessions/{id}` (and not its history).
fn is_session_path(path: &str) -> bool {
    path.strip_prefix("/v1/sessions/").is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}
