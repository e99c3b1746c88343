//! How a sandbox's Durable Object reaches its agent.
//!
//! In production the agent runs in the object's container (`State::container()`): the link starts it with the
//! sandbox's environment, waits (bounded) until `/v1/health` answers, and forwards over the container's port.
//! In local development (`SANDBOX_AGENT_URL` set, containers disabled) it forwards by URL to one agent running in
//! multi-sandbox mode on the host, which tells sandboxes apart by `X-Sandbox-Id`.

use std::time::Duration;

use sandbox_protocol::{AGENT_BOOT_HEADER, AGENT_TOKEN_HEADER, EXPECTED_BOOT_HEADER};
use worker::{Container, ContainerStartupOptions, Delay, Env, Fetch, Request, Response, State};

use crate::errors::WorkerError;
use crate::forward::readdress;

/// The port the agent listens on inside the container.
pub const AGENT_PORT: u16 = 3000;
/// The variable that selects local mode.
pub const AGENT_URL_VAR: &str = "SANDBOX_AGENT_URL";
/// The token the local host agent asks of its callers (set by `npm run dev` and the tests).
pub const AGENT_TOKEN_VAR: &str = "SANDBOX_AGENT_TOKEN";
/// Optional JSON object of extra environment variables for the container.
pub const CONTAINER_ENV_VAR: &str = "SANDBOX_CONTAINER_ENV";
/// How long a starting container may take to answer `/v1/health`.
const START_DEADLINE: Duration = Duration::from_secs(30);
const START_POLL: Duration = Duration::from_millis(100);
/// The agent's URL inside the container (the host part is ignored by the port's fetcher).
const CONTAINER_ORIGIN: &str = "http://container";

pub enum AgentLink {
    /// The host agent of local development, and the token it asks of its callers (so that code in a local
    /// sandbox, which shares the host's loopback, cannot drive it).
    Local {
        base: String,
        token: Option<String>,
    },
    Container(Container),
}

impl AgentLink {
    pub fn new(state: &State, env: &Env) -> Result<AgentLink, WorkerError> {
        if let Ok(url) = env.var(AGENT_URL_VAR) {
            let base = url.to_string().trim_end_matches('/').to_string();
            if !base.is_empty() {
                let token = env
                    .secret(AGENT_TOKEN_VAR)
                    .map(|s| s.to_string())
                    .or_else(|_| env.var(AGENT_TOKEN_VAR).map(|v| v.to_string()))
                    .ok()
                    .filter(|t| !t.is_empty());
                return Ok(AgentLink::Local { base, token });
            }
        }
        state
            .container()
            .map(AgentLink::Container)
            .ok_or_else(|| WorkerError::unavailable("this Worker has neither a container nor SANDBOX_AGENT_URL", 5))
    }

    pub fn mode(&self) -> &'static str {
        match self {
            AgentLink::Local { .. } => "local",
            AgentLink::Container(_) => "container",
        }
    }

    /// Whether the agent's container is running (local mode: assumed, the host agent is not ours to start).
    pub fn running(&self) -> bool {
        match self {
            AgentLink::Local { .. } => true,
            AgentLink::Container(container) => container.running(),
        }
    }

    /// Makes sure an agent answers: starts the container if it is not running, then waits until `/v1/health`
    /// answers. Concurrent first calls all wait; only the first starts (`start` marks the container running).
    /// Returns the boot id of the agent that answered.
    pub async fn ensure_started(&self, sandbox_id: &str, env: &Env) -> Result<Option<String>, WorkerError> {
        let container = match self {
            // The sandbox's own agent answers (in isolated local mode, the one in its jail, started now if need be).
            AgentLink::Local { .. } => {
                return match self.health(sandbox_id).await {
                    Ok(response) if response.status_code() == 200 => Ok(boot_of(&response)),
                    _ => Err(WorkerError::unavailable("the sandbox's agent cannot be reached", 1)),
                };
            }
            AgentLink::Container(container) => container,
        };
        if !container.running() {
            start(container, sandbox_id, env)?;
        }
        let port = container.get_tcp_port(AGENT_PORT)?;
        let mut waited = Duration::ZERO;
        while waited < START_DEADLINE {
            if let Ok(response) = port.fetch(format!("{CONTAINER_ORIGIN}/v1/health"), None).await {
                if response.status_code() == 200 {
                    return Ok(boot_of(&response));
                }
            }
            Delay::from(START_POLL).await;
            waited += START_POLL;
        }
        Err(WorkerError::unavailable("the sandbox's agent did not become healthy in time", 5))
    }

    /// Sends `req` to the agent at `path`. With `expected_boot`, an agent that is another process refuses it with
    /// `AGENT_RESTARTED` before doing anything.
    pub async fn send(
        &self,
        req: &Request,
        path: &str,
        sandbox_id: &str,
        expected_boot: Option<&str>,
    ) -> Result<Response, WorkerError> {
        let url = match self {
            AgentLink::Local { base, .. } => format!("{base}{path}"),
            AgentLink::Container(_) => format!("{CONTAINER_ORIGIN}{path}"),
        };
        let forwarded = readdress(req, &url, sandbox_id)?;
        if let Some(boot) = expected_boot {
            forwarded.headers().set(EXPECTED_BOOT_HEADER, boot)?;
        }
        if let AgentLink::Local { token: Some(token), .. } = self {
            forwarded.headers().set(AGENT_TOKEN_HEADER, token)?;
        }
        let sent = match self {
            AgentLink::Local { .. } => Fetch::Request(forwarded).send().await,
            AgentLink::Container(container) => container.get_tcp_port(AGENT_PORT)?.fetch_request(forwarded).await,
        };
        sent.map_err(|e| WorkerError::unavailable(format!("the sandbox's agent cannot be reached: {e}"), 1))
    }

    /// The boot id of the agent answering now (a health check).
    pub async fn current_boot(&self, sandbox_id: &str) -> Result<Option<String>, WorkerError> {
        Ok(boot_of(&self.health(sandbox_id).await?))
    }

    /// The sandbox's agent's answer to `/v1/health`.
    async fn health(&self, sandbox_id: &str) -> Result<Response, WorkerError> {
        let mut init = worker::RequestInit::new();
        init.with_method(worker::Method::Get);
        let probe = Request::new_with_init("https://sandbox.internal/v1/health", &init)?;
        self.send(&probe, "/v1/health", sandbox_id, None).await
    }

    /// Stops the container (local mode: nothing to stop).
    pub async fn stop(&self) -> Result<(), WorkerError> {
        if let AgentLink::Container(container) = self {
            if container.running() {
                container.destroy(None).await?;
            }
        }
        Ok(())
    }
}

/// The `X-Agent-Boot` of an agent's answer.
pub fn boot_of(response: &Response) -> Option<String> {
    response.headers().get(AGENT_BOOT_HEADER).ok().flatten()
}

/// Starts the container with the sandbox's id and the configured environment.
fn start(container: &Container, sandbox_id: &str, env: &Env) -> Result<(), WorkerError> {
    let mut options = ContainerStartupOptions::new();
    options.add_env("SANDBOX_ID", sandbox_id);
    for (key, value) in container_env(env) {
        options.add_env(&key, &value);
    }
    options.enable_internet(true);
    container.start(Some(options)).map_err(|e| WorkerError::unavailable(format!("the container did not start: {e}"), 5))
}

fn container_env(env: &Env) -> Vec<(String, String)> {
    env.var(CONTAINER_ENV_VAR)
        .ok()
        .and_then(|v| serde_json::from_str::<std::collections::BTreeMap<String, String>>(&v.to_string()).ok())
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}
