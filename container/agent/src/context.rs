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
}
