//! Session memory: the calls whose effect the object remembers for a restarted agent (a session made, its
//! variables set, a session ended), checked against what storage can hold before the agent changes anything.

use sandbox_protocol::routes::{ENV as ENV_PATH, SESSIONS as SESSIONS_PATH};
use sandbox_protocol::{ErrorCode, SessionOptions, SetEnvVarsRequest, DEFAULT_SESSION_ID};
use worker::{Method, Request, Response};

use super::request::{small_body, storage_failed};
use super::session_registry;
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;
use crate::forward::json_post;

impl SandboxObject {
    /// Creates a session and remembers its options. They are checked against what storage can hold before the
    /// agent makes anything; should storage fail all the same, the session is ended again.
    pub(super) async fn create_session(
        &self,
        req: Request,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let text = small_body(req, "session options").await?;
        let options: Option<SessionOptions> = serde_json::from_str(&text).ok();
        if let Some(options) = &options {
            session_registry::record(options).map_err(|m| WorkerError::new(ErrorCode::BodyTooLarge, m))?;
        }
        let mut response = self.send(|| Ok(json_post(SESSIONS_PATH, &text)?), SESSIONS_PATH, link).await?;
        let (201, Some(options)) = (response.status_code(), options) else { return Ok(response) };
        let created: serde_json::Value = response.cloned()?.json().await?;
        let Some(session) = created["id"].as_str().map(str::to_string) else { return Ok(response) };
        let options = SessionOptions { id: Some(session.clone()), ..options };
        let stored = match session_registry::record(&options) {
            Ok(record) => session_registry::put(&self.state.storage(), &session, record).await.map_err(storage_failed),
            Err(message) => Err(WorkerError::new(ErrorCode::BodyTooLarge, message)),
        };
        if let Err(err) = stored {
            // Not remembered means not re-created after a restart: end it now rather than lose it later.
            let path = format!("{SESSIONS_PATH}/{session}");
            let mut init = worker::RequestInit::new();
            init.with_method(Method::Delete);
            let delete = Request::new_with_init(&format!("https://sandbox.internal{path}"), &init)?;
            let ended = link.send(&delete, &path, self.known_boot().await?.as_deref()).await;
            let detail = match ended {
                Ok(response) => {
                    format!("session {session} was not remembered and is ended (HTTP {})", response.status_code())
                }
                Err(e) => format!("session {session} was not remembered, and ending it failed: {}", e.message),
            };
            link.log.error("session.unremembered", detail);
            return Err(err);
        }
        Ok(response)
    }

    /// Forwards `setEnvVars` and remembers the variables with the session, for its re-creation. The merged record
    /// is checked before the agent changes anything.
    pub(super) async fn set_env_vars(
        &self,
        req: Request,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let text = small_body(req, "setEnvVars").await?;
        let merged = match serde_json::from_str::<SetEnvVarsRequest>(&text) {
            Ok(sent) => {
                let session = sent.session_id.clone().unwrap_or_else(|| DEFAULT_SESSION_ID.to_string());
                let stored = session_registry::get(&self.state.storage(), &session).await.map_err(storage_failed)?;
                let base = stored.unwrap_or(SessionOptions { id: Some(session.clone()), ..SessionOptions::default() });
                let merged = session_registry::with_env(base, &sent.env_vars);
                let record =
                    session_registry::record(&merged).map_err(|m| WorkerError::new(ErrorCode::BodyTooLarge, m))?;
                Some((session, record))
            }
            // The agent says what is wrong with it.
            Err(_) => None,
        };
        let response = self.send(|| Ok(json_post(ENV_PATH, &text)?), ENV_PATH, link).await?;
        if let (200, Some((session, record))) = (response.status_code(), merged) {
            session_registry::put(&self.state.storage(), &session, record).await.map_err(storage_failed)?;
        }
        Ok(response)
    }

    pub(super) async fn delete_session(
        &self,
        req: Request,
        path: &str,
        session: &str,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let response = self.forward(req, path, link).await?;
        if response.status_code() == 200 || response.status_code() == 404 {
            session_registry::forget(&self.state.storage(), session).await.map_err(storage_failed)?;
        }
        Ok(response)
    }
}
