//! The sandbox's network policy (`setNetworkPolicy`): enforced by its agent (a local jail's host agent), and
//! remembered here, so that a new agent (a restart, a container after an idle stop) gets it before anything else
//! of the sandbox's runs (`recovery.rs`). A sandbox that set none gets the Worker's `SANDBOX_NETWORK_POLICY`.

use sandbox_protocol::routes::NETWORK_POLICY;
use sandbox_protocol::{ErrorBody, ErrorCode, NetworkPolicy, NetworkState};
use worker::{Request, Response};

use super::request::{small_body, storage_failed};
use super::SandboxObject;
use crate::agent_link::AgentLink;
use crate::errors::WorkerError;
use crate::forward::json_put;

/// Storage key of the policy the sandbox set.
const NETWORK_KEY: &str = "network:policy";

impl SandboxObject {
    /// Sends the policy to the agent and, once it took it, remembers the policy as the agent spelled it out.
    pub(super) async fn set_network_policy(
        &self,
        req: Request,
        link: &AgentLink,
    ) -> std::result::Result<Response, WorkerError> {
        let text = small_body(req, "network policy").await?;
        let mut response = self.send(|| Ok(json_put(NETWORK_POLICY, &text)?), NETWORK_POLICY, link).await?;
        if response.status_code() != 200 {
            return Ok(response);
        }
        let state: NetworkState = response.cloned()?.json().await?;
        self.state.storage().put(NETWORK_KEY, &state.policy).await.map_err(storage_failed)?;
        link.log.info(
            "network.policy",
            format!(
                "internet {}, {} allowed, {} denied",
                state.policy.internet(),
                state.policy.allow.len(),
                state.policy.deny.len()
            ),
        );
        Ok(response)
    }

    /// Gives the agent `boot` the sandbox's policy (its own, or the Worker's default), before its sessions. An
    /// agent that cannot enforce it fails the call that started it, with the agent's own reason: a sandbox never
    /// runs open when it was meant to be closed.
    pub(super) async fn replay_network_policy(
        &self,
        boot: &str,
        link: &AgentLink,
    ) -> std::result::Result<(), WorkerError> {
        let own = self.state.storage().get::<NetworkPolicy>(NETWORK_KEY).await.map_err(storage_failed)?;
        let default =
            self.config.network_policy.clone().map_err(|why| WorkerError::new(ErrorCode::InternalError, why))?;
        let Some(policy) = own.or(default) else { return Ok(()) };
        let body =
            serde_json::to_string(&policy).map_err(|e| WorkerError::new(ErrorCode::InternalError, e.to_string()))?;
        let mut answer = link.send_bounded(&json_put(NETWORK_POLICY, &body)?, NETWORK_POLICY, Some(boot)).await?;
        match answer.status_code() {
            200 => Ok(()),
            412 => Err(WorkerError::unavailable("the sandbox's agent restarted again; retry", 1)),
            status => {
                let said: Option<ErrorBody> = answer.json().await.ok();
                let (code, message) = match said {
                    Some(body) => (body.code, body.message),
                    None => (ErrorCode::InternalError, format!("HTTP {status}")),
                };
                link.log
                    .error("network.policy.replay", format!("the sandbox's network policy was not taken: {message}"));
                Err(WorkerError::new(
                    code,
                    format!("the sandbox's network policy could not be put in place: {message}"),
                ))
            }
        }
    }
}
