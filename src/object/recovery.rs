//! Restart recovery: what a new agent is given before its first call. The object remembers what the sandbox
//! had (sessions with their options and variables today); when an agent it has not adopted answers, `REPLAY` is
//! given to it in order, and only then is the agent recorded as the one whose state is in place.

use sandbox_protocol::routes::{ENV as ENV_PATH, SESSIONS as SESSIONS_PATH};
use sandbox_protocol::{ErrorCode, SessionOptions, SetEnvVarsRequest, DEFAULT_SESSION_ID};

use super::request::storage_failed;
use super::session_registry;
use super::state::Adoption;
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;
use crate::forward::json_post;

/// One part of what a new agent is given before its first call.
#[derive(Debug, Clone, Copy)]
enum Replay {
    /// The last automatic save of the workspace, into an empty one (`autosave`): before the sessions, whose
    /// directories would make it not empty.
    Workspace,
    /// The network policy (`network.rs`) and the secrets (`secrets.rs`), before anything of the sandbox's runs.
    Network,
    /// The remembered sessions, with their options and variables.
    Sessions,
}

/// What a new agent is given, in this order. A capability that leaves state a new agent must have (a restore of
/// the workspace, a network policy, secrets) adds its step here, and nowhere else.
const REPLAY: &[Replay] = &[Replay::Workspace, Replay::Network, Replay::Sessions];

impl SandboxObject {
    /// Makes sure an agent answers: starts the container if it is not running, waits until its agent answers,
    /// watches it, and gives a new agent its sessions before any call reaches it. Returns the re-created sessions.
    pub(super) async fn recover(&self, link: &AgentLink) -> std::result::Result<Vec<String>, WorkerError> {
        self.known.borrow_mut().recovering();
        let boot = link.ensure_started().await?;
        self.known.borrow_mut().answered();
        match boot {
            Some(boot) => self.adopt(&boot, link).await,
            None => Ok(Vec::new()),
        }
    }

    /// The boot id of the agent whose sessions are in place (from storage when the object has just started).
    pub(super) async fn known_boot(&self) -> std::result::Result<Option<String>, WorkerError> {
        if let Some(boot) = self.known.borrow().boot() {
            return Ok(boot.map(str::to_string));
        }
        let stored = session_registry::last_boot(&self.state.storage()).await.map_err(storage_failed)?;
        let mut known = self.known.borrow_mut();
        known.boot_read(stored);
        Ok(known.boot().flatten().map(str::to_string))
    }

    /// Makes `boot` the agent whose state is in place: when it is a new one, gives it `REPLAY` in order, and only
    /// then records it. Returns the re-created session ids (for `X-Sandbox-Sessions-Recreated`).
    pub(super) async fn adopt(&self, boot: &str, link: &AgentLink) -> std::result::Result<Vec<String>, WorkerError> {
        self.known_boot().await?;
        let adoption = self.known.borrow().adoption(boot);
        if adoption == Adoption::InPlace {
            return Ok(Vec::new());
        }
        let mut recreated = Vec::new();
        for step in REPLAY {
            match (step, &adoption) {
                // A first agent has a workspace to get too when the sandbox is a fork.
                (Replay::Workspace, _) => self.restore_latest(boot, link).await?,
                (Replay::Network, _) => {
                    self.replay_network_policy(boot, link).await?;
                    self.replay_secrets(boot, link).await?;
                }
                (Replay::Sessions, Adoption::Recreate) => recreated.extend(self.replay_sessions(boot, link).await?),
                (Replay::Sessions, _) => {}
            }
        }
        session_registry::set_boot(&self.state.storage(), boot).await.map_err(storage_failed)?;
        self.known.borrow_mut().adopted(boot);
        Ok(recreated)
    }

    /// Creates the remembered sessions on the agent `boot`, with their options and variables.
    async fn replay_sessions(&self, boot: &str, link: &AgentLink) -> std::result::Result<Vec<String>, WorkerError> {
        let sessions = session_registry::all(&self.state.storage()).await.map_err(storage_failed)?;
        let mut recreated = Vec::new();
        for (session, options) in sessions {
            if self.recreate(&session, options, boot, link).await? {
                recreated.push(session);
            }
        }
        link.log
            .warn("sessions.recreated", format!("the agent restarted ({boot}); re-created sessions: {recreated:?}"));
        Ok(recreated)
    }

    /// Creates one remembered session on the agent `boot`. The default session, which the agent makes itself, gets
    /// its variables back.
    async fn recreate(
        &self,
        session: &str,
        options: SessionOptions,
        boot: &str,
        link: &AgentLink,
    ) -> std::result::Result<bool, WorkerError> {
        let (path, body) = if session == DEFAULT_SESSION_ID {
            let vars = SetEnvVarsRequest { env_vars: options.env.unwrap_or_default(), session_id: None };
            (ENV_PATH, serde_json::to_string(&vars))
        } else {
            (SESSIONS_PATH, serde_json::to_string(&options))
        };
        let body = body.map_err(|e| WorkerError::new(ErrorCode::InternalError, e.to_string()))?;
        let answer = link.send_bounded(&json_post(path, &body)?, path, Some(boot)).await?;
        match answer.status_code() {
            // Made, or made already by a call that met the restart at the same time.
            200 | 201 | 409 => Ok(true),
            412 => Err(WorkerError::unavailable("the sandbox's agent restarted again; retry", 1)),
            status => {
                link.log.error(
                    "sessions.recreate.failed",
                    format!("session {session} could not be re-created (HTTP {status})"),
                );
                Ok(false)
            }
        }
    }
}
