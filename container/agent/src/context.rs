//! What every sandbox this agent serves shares: the reaper, the memory budget, and the settings each sandbox's
//! sessions, background processes and terminals are made with (from the agent's `Config`, read once at start).

use std::sync::Arc;
use std::time::Duration;

use crate::budget::Budget;
use crate::process::reaper::Reaper;

pub struct AgentContext {
    pub reaper: Arc<Reaper>,
    /// Used when neither the request nor the session sets a timeout.
    pub default_timeout: Option<Duration>,
    /// Most sessions one sandbox may have (the default session included).
    pub max_sessions: usize,
    /// What each sandbox's background processes may hold.
    pub processes: crate::background::Settings,
    /// Each sandbox's terminals: scrollback, idle time, how many.
    pub terminals: crate::terminal::Settings,
    /// What requests in flight may hold; buffered output is charged to it.
    pub budget: Arc<Budget>,
    /// How many ready shells each sandbox keeps for its new sessions.
    pub shell_pool: usize,
    /// What each session and background process may use unless it says (`--limit-*`).
    pub limits: sandbox_protocol::Limits,
}

impl AgentContext {
    /// The limits a session or process asked for (checked), each absent one the agent's default, and whether
    /// they can be enforced here.
    pub fn limits_for(
        &self,
        asked: Option<&sandbox_protocol::ResourceLimits>,
    ) -> crate::error::AgentResult<sandbox_protocol::Limits> {
        use crate::error::AgentError;
        let own = match asked {
            Some(asked) => asked.check().map_err(AgentError::invalid)?,
            None => sandbox_protocol::Limits::default(),
        };
        let limits = own.or(self.limits);
        crate::contain::current().check(&limits).map_err(|why| {
            AgentError::new(sandbox_protocol::ErrorCode::LimitsUnavailable, format!("limits cannot be enforced: {why}"))
        })?;
        Ok(limits)
    }
}
