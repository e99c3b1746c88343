//! What the object asks of a running agent for itself (its counters, its commands, its terminals): bounded in
//! time, never starting a container.

use std::time::Duration;

use sandbox_protocol::{routes, CommandInfo, CommandList, MetricsSummary, NetworkState, PtyList};

use super::{within, AgentLink};
use crate::forward::json_get;

/// How long a sandbox's status waits for its agent's counters before it answers without them.
const SUMMARY_TIMEOUT: Duration = Duration::from_secs(2);

impl AgentLink {
    /// The running agent's counters in brief, for the sandbox's status: `None` when no container runs (nothing is
    /// started for it) or the agent does not answer within `SUMMARY_TIMEOUT` (logged).
    pub async fn summary(&self) -> Option<MetricsSummary> {
        self.ask(routes::METRICS, "status.summary", "the agent's counters").await
    }

    /// The running agent's commands in flight (none asked of an agent that does not run).
    pub async fn commands(&self) -> Option<Vec<CommandInfo>> {
        let list: Option<CommandList> = self.ask(routes::COMMANDS, "status.commands", "the agent's commands").await;
        list.map(|list| list.commands)
    }

    /// The running agent's network policy and its latest refusals, for the sandbox's status.
    pub async fn network(&self) -> Option<NetworkState> {
        self.ask(routes::NETWORK_POLICY, "status.network", "the sandbox's network policy").await
    }

    /// How many of the running agent's terminals have a viewer attached now (their traffic does not pass through
    /// this object, so the idle alarm asks). 0 when no container runs or the agent does not answer in time.
    pub async fn watched_terminals(&self) -> usize {
        let list: Option<PtyList> = self.ask(routes::PTYS, "idle.terminals", "the agent's terminals").await;
        list.map_or(0, |list| list.ptys.iter().filter(|pty| pty.attached > 0).count())
    }

    /// `GET route` of the running agent, read as JSON within `SUMMARY_TIMEOUT`; never starts a container. `None`
    /// when none runs, or (logged as `event`, naming `what`) when the answer fails or is late.
    async fn ask<T: serde::de::DeserializeOwned>(&self, route: &str, event: &str, what: &str) -> Option<T> {
        if !self.running() {
            return None;
        }
        let asked = async {
            let req = json_get(route).map_err(|e| e.to_string())?;
            let mut response = self.send(&req, route, None).await.map_err(|e| e.message)?;
            if response.status_code() != 200 {
                return Err(format!("HTTP {}", response.status_code()));
            }
            response.json::<T>().await.map_err(|e| e.to_string())
        };
        match within(SUMMARY_TIMEOUT, asked).await {
            Some(Ok(value)) => Some(value),
            Some(Err(message)) => {
                self.log.warn(event, format!("{what} could not be read: {message}"));
                None
            }
            None => {
                self.log.warn(event, format!("{what} did not come in time"));
                None
            }
        }
    }
}
