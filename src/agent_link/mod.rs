//! How a sandbox's Durable Object reaches its agent.
//!
//! In production the agent runs in the object's container (`State::container()`): the link starts it with the
//! sandbox's environment and a fresh start id, waits (bounded) until `/v1/health` answers from an agent of that
//! start, and forwards over the container's port. A container that ends before its agent answers, or never
//! answers, fails the call promptly and is removed (no restart loop), and is not tried again for a few seconds.
//! In local development (`SANDBOX_AGENT_URL` set, containers disabled) it forwards by URL to one agent running in
//! multi-sandbox mode on the host, which tells sandboxes apart by `X-Sandbox-Id`.
//!
//! A container is watched while it runs (workerd's `monitor()`, `watch`): only then does workerd notice that it
//! exited (its agent crashed, Docker killed it, `destroy()`), so that `running()` turns false and the next call
//! starts a new one. A send that never reached an agent (nothing listening: the container is starting, restarting
//! or gone) is told apart from one that failed on the way (`Unreached`), because only the first is safe to repeat.

mod ask;
mod container;
pub mod container_life;
mod port;

use std::rc::Rc;
use std::time::Duration;

use sandbox_protocol::routes;
use sandbox_protocol::{SandboxMode, AGENT_BOOT_HEADER, AGENT_TOKEN_HEADER, EXPECTED_BOOT_HEADER};
use worker::{Container, Date, Delay, Fetch, Request, Response, State};

use crate::config::Config;
use crate::errors::WorkerError;
use crate::forward::readdress;
use crate::log::Log;
use container_life::ContainerLife;

/// The port the agent listens on inside the container.
pub use sandbox_protocol::AGENT_PORT;
/// How long the object's own quick calls to an agent (health, re-creating a session) and removing a failed
/// container may take.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(15);
/// The agent's URL inside the container (the host part is ignored by the port's fetcher).
const CONTAINER_ORIGIN: &str = "http://container";

/// The way to one sandbox's agent, for one call (or the object's alarm), and the log its steps are told in.
pub struct AgentLink {
    to: To,
    /// The sandbox every call of this link is for (`X-Sandbox-Id` to a local host agent, `SANDBOX_ID` to a
    /// container it starts).
    sandbox_id: String,
    config: Rc<Config>,
    pub log: Log,
}

enum To {
    /// The host agent of local development, and the token it asks of its callers (so that code in a local
    /// sandbox, which shares the host's loopback, cannot drive it).
    Local { base: String, token: Option<String> },
    /// The object's container, and what the object knows of its life (shared by every call of the object).
    Container { container: Container, life: Rc<ContainerLife> },
}

impl AgentLink {
    pub fn new(
        state: &State,
        config: &Rc<Config>,
        life: &Rc<ContainerLife>,
        sandbox_id: &str,
        log: Log,
    ) -> Result<AgentLink, WorkerError> {
        let to = match &config.agent_url {
            Some(base) => To::Local { base: base.clone(), token: config.agent_token.clone() },
            None => To::Container {
                container: state.container().ok_or_else(|| {
                    WorkerError::unavailable("this Worker has neither a container nor SANDBOX_AGENT_URL", 5)
                })?,
                life: life.clone(),
            },
        };
        Ok(AgentLink { to, sandbox_id: sandbox_id.to_string(), config: Rc::clone(config), log })
    }

    /// The sandbox this link reaches.
    pub fn sandbox_id(&self) -> &str {
        &self.sandbox_id
    }

    /// The container, when the agent runs in one.
    pub fn container(&self) -> Option<&Container> {
        match &self.to {
            To::Container { container, .. } => Some(container),
            To::Local { .. } => None,
        }
    }

    pub fn mode(&self) -> SandboxMode {
        match &self.to {
            To::Local { .. } => SandboxMode::Local,
            To::Container { .. } => SandboxMode::Container,
        }
    }

    /// Whether an agent that answered with `boot` may be given calls: in a container, only one of the latest
    /// start (not a copy that Docker restarted in place, which workerd removes at the next start).
    pub fn accepts(&self, boot: &str) -> bool {
        match &self.to {
            To::Local { .. } => true,
            To::Container { life, .. } => life.accepts(boot),
        }
    }

    /// Whether the agent's container is running (local mode: assumed, the host agent is not ours to start).
    pub fn running(&self) -> bool {
        match &self.to {
            To::Local { .. } => true,
            To::Container { container, .. } => container.running(),
        }
    }

    /// Sends `req` to the agent at `path`. With `expected_boot`, an agent that is another process refuses it with
    /// `AGENT_RESTARTED` before doing anything.
    pub async fn send(&self, req: &Request, path: &str, expected_boot: Option<&str>) -> Result<Response, WorkerError> {
        match self.try_send(req, path, expected_boot).await? {
            Sent::Answered(response) => Ok(response),
            Sent::Unreached(message) => Err(unreachable_agent(&message)),
        }
    }

    /// `send`, telling a request that reached no agent (safe to send again once one answers) from an answer.
    pub async fn try_send(&self, req: &Request, path: &str, expected_boot: Option<&str>) -> Result<Sent, WorkerError> {
        let url = match &self.to {
            To::Local { base, .. } => format!("{base}{path}"),
            To::Container { .. } => format!("{CONTAINER_ORIGIN}{path}"),
        };
        let forwarded = readdress(req, &url, &self.sandbox_id)?;
        if let Some(boot) = expected_boot {
            forwarded.headers().set(EXPECTED_BOOT_HEADER, boot)?;
        }
        if let To::Local { token: Some(token), .. } = &self.to {
            forwarded.headers().set(AGENT_TOKEN_HEADER, token)?;
        }
        let sent = match &self.to {
            To::Local { .. } => Fetch::Request(forwarded).send().await,
            To::Container { container, life } => {
                // Raced against the container's end: a call whose agent died may never be answered (its
                // connection cut inside Docker's network), and must not hold the caller forever.
                let seen = life.exits();
                let port = container.get_tcp_port(AGENT_PORT)?;
                let fetch = std::pin::pin!(port.fetch_request(forwarded));
                let ended = std::pin::pin!(life.ended_since(seen));
                match futures_util::future::select(fetch, ended).await {
                    futures_util::future::Either::Left((sent, _)) => sent,
                    futures_util::future::Either::Right((reason, _)) => {
                        self.log.error(
                            "call.container_ended",
                            format!("the container ended during a call to {path}: {reason}"),
                        );
                        return Err(WorkerError::unavailable(
                            format!(
                                "the sandbox's container ended during the call ({reason}); it may have taken effect \
                                 in part"
                            ),
                            1,
                        ));
                    }
                }
            }
        };
        match sent {
            Ok(response) => Ok(Sent::Answered(response)),
            Err(err) if unreached(&err.to_string()) => Ok(Sent::Unreached(err.to_string())),
            Err(err) => Err(unreachable_agent(&err.to_string())),
        }
    }

    /// The boot id of the agent answering now (a health check).
    pub async fn current_boot(&self) -> Result<Option<String>, WorkerError> {
        Ok(boot_of(&self.send_bounded(&health_request()?, routes::HEALTH, None).await?))
    }

    /// `send` for the object's own quick calls (health, re-creating sessions): an agent that takes the request
    /// and does not answer within `RECOVERY_TIMEOUT` fails it, rather than hold the caller's call forever.
    pub async fn send_bounded(
        &self,
        req: &Request,
        path: &str,
        expected_boot: Option<&str>,
    ) -> Result<Response, WorkerError> {
        within(RECOVERY_TIMEOUT, self.send(req, path, expected_boot)).await.unwrap_or_else(|| {
            Err(WorkerError::unavailable(
                format!("the sandbox's agent took {path} and did not answer within {} s", RECOVERY_TIMEOUT.as_secs()),
                1,
            ))
        })
    }

    /// The sandbox's agent's answer to `/v1/health`.
    async fn health(&self) -> Result<Response, WorkerError> {
        self.send(&health_request()?, routes::HEALTH, None).await
    }
}

fn health_request() -> Result<Request, WorkerError> {
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Get);
    Ok(Request::new_with_init(&format!("https://sandbox.internal{}", routes::HEALTH), &init)?)
}

fn now_ms() -> f64 {
    Date::now().as_millis() as f64
}

/// `future`'s output, or `None` when `limit` passes first.
async fn within<T>(limit: Duration, future: impl std::future::Future<Output = T>) -> Option<T> {
    let future = std::pin::pin!(future);
    let timer = std::pin::pin!(Delay::from(limit));
    match futures_util::future::select(future, timer).await {
        futures_util::future::Either::Left((output, _)) => Some(output),
        futures_util::future::Either::Right(_) => None,
    }
}

/// What a send came to.
pub enum Sent {
    Answered(Response),
    /// Nothing took the request (workerd's message): no agent has seen it.
    Unreached(String),
}

pub fn unreachable_agent(message: &str) -> WorkerError {
    WorkerError::unavailable(format!("the sandbox's agent cannot be reached: {message}"), 1)
}

/// Whether a failed send never reached an agent, from workerd's message: nothing listens on the container's port
/// (it is starting, or restarting after its agent died), its ingress is gone, or it is not running. Local mode:
/// the host agent refused the connection. Any other failure may have come after the agent acted.
pub fn unreached(message: &str) -> bool {
    const BEFORE_SENDING: [&str; 4] =
        ["is not listening to port", "ingress proxy is not running", "container is not running", "connection refused"];
    let message = message.to_ascii_lowercase();
    BEFORE_SENDING.iter().any(|m| message.contains(m))
}

/// The `X-Agent-Boot` of an agent's answer.
pub fn boot_of(response: &Response) -> Option<String> {
    response.headers().get(AGENT_BOOT_HEADER).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::unreached;

    #[test]
    fn only_failures_before_any_agent_saw_the_request_are_unreached() {
        assert!(unreached("Error: Container is not listening to port 3000"));
        assert!(unreached("connect(): Container ingress proxy is not running."));
        assert!(unreached("Error: The container is not running, consider calling start()"));
        assert!(unreached("TypeError: fetch failed: Connection refused"));
        assert!(!unreached("Error: Network connection lost."));
        assert!(!unreached("Error: The script will never generate a response."));
        assert!(!unreached(""));
    }
}
