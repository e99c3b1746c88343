//! A tenant is one sandbox as the agent holds it: a workspace and a table of sessions (the Worker's side of the same
//! sandbox is its Durable Object, `SandboxObject`; a caller's is the clients' `Sandbox`). In a container the agent
//! serves exactly one tenant; in local multi-sandbox mode one per `X-Sandbox-Id`, each with its own folder under
//! the root.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sandbox_protocol::{ErrorCode, SessionOptions, DEFAULT_SESSION_ID};

use crate::background::Processes;
use crate::backup::state::Backups;
use crate::context::AgentContext;
use crate::egress::record::SandboxEgress;
use crate::error::{AgentError, AgentResult};
use crate::files::tree::remove_tree;
use crate::names::{
    check_env, check_no_nul, check_sandbox_id, check_session_id, check_session_name, new_session_id, MAX_PATH_BYTES,
};
use crate::session::in_flight::InFlight;
use crate::session::pool::ShellPool;
use crate::session::table::{Inserted, SessionTable};
use crate::session::{close_all, terminate_all, Remains, Session, SessionConfig};
use crate::terminal::Terminals;
use crate::watch::Watches;
use crate::workspace::Workspace;

/// Where sessions see their workspace, in a container and in local mode alike.
pub const VISIBLE_WORKSPACE: &str = "/workspace";

pub struct Tenant {
    pub id: String,
    pub workspace: Workspace,
    /// Its commands in flight, by id: `GET /v1/commands`, `POST /v1/exec/cancel`.
    pub in_flight: Arc<InFlight>,
    /// Its background processes: they belong to the sandbox, not to a session.
    pub processes: Processes,
    /// Its terminals: they outlive their WebSockets.
    pub terminals: Terminals,
    /// Its saves and restores under way, and what its last ones stored.
    pub backups: Backups,
    /// Its file watches open.
    pub watches: Watches,
    /// Its network policy, as asked for: enforced only where its processes have a network of their own (a local
    /// jail, whose host agent holds it), so here it records a policy that restricts nothing.
    pub egress: SandboxEgress,
    sessions: SessionTable,
    context: Arc<AgentContext>,
    /// Shells started ahead for its sessions.
    pool: Arc<ShellPool>,
}

impl Tenant {
    pub fn new(id: String, workspace: Workspace, context: Arc<AgentContext>) -> Self {
        let processes = Processes::new(Arc::clone(&context.reaper), context.processes);
        let terminals = Terminals::new(Arc::clone(&context.reaper), context.terminals);
        let pool = ShellPool::new(context.shell_pool, Arc::clone(&context.reaper), workspace.real_root().to_path_buf());
        Self {
            id,
            workspace,
            in_flight: Arc::default(),
            processes,
            terminals,
            backups: Backups::default(),
            egress: SandboxEgress::default(),
            watches: Watches::default(),
            sessions: SessionTable::default(),
            context,
            pool,
        }
    }

    /// The limits a session or a process asked for, checked, with the agent's defaults for the absent ones.
    pub fn limits_for(
        &self,
        asked: Option<&sandbox_protocol::ResourceLimits>,
    ) -> AgentResult<sandbox_protocol::Limits> {
        self.context.limits_for(asked)
    }

    /// The timeout of commands whose request and session set none (`--command-timeout-ms`).
    pub fn default_command_timeout(&self) -> Option<Duration> {
        self.context.default_timeout
    }

    /// Creates a session and waits until its shell is ready.
    pub async fn create_session(&self, options: SessionOptions) -> AgentResult<Arc<Session>> {
        let id = match options.id {
            Some(id) => {
                check_session_id(&id).map_err(AgentError::invalid)?;
                id
            }
            None => new_session_id(),
        };
        let env = check_env(options.env.unwrap_or_default()).map_err(AgentError::invalid)?;
        let env: Vec<(String, String)> = env.into_iter().filter_map(|(name, value)| Some((name, value?))).collect();
        if let Some(name) = &options.name {
            check_session_name(name).map_err(AgentError::invalid)?;
        }
        let limits = self.context.limits_for(options.limits.as_ref())?;
        let cwd = match options.cwd.as_deref() {
            Some(cwd) => self.real_path(cwd, self.workspace.visible_root(), "cwd")?,
            None => self.workspace.real_root().to_path_buf(),
        };
        if let Err(err) = create_dir(&cwd, options.cwd.as_deref().unwrap_or(VISIBLE_WORKSPACE)).await {
            // The workspace may be going away under a destroy that raced with this call.
            return Err(if self.sessions.is_closed() { destroying() } else { err });
        }
        let config = SessionConfig {
            id: id.clone(),
            name: options.name,
            env,
            cwd,
            command_timeout: options.command_timeout_ms.map(Duration::from_millis),
            workspace: self.workspace.clone(),
            pool: Some(Arc::clone(&self.pool)),
            limits,
        };
        let mut ready = None;
        let session = self.sessions.insert_new(&id, self.context.max_sessions, || {
            let (session, started) = Session::start(config, Arc::clone(&self.context));
            ready = Some(started);
            session
        });
        let session = match session {
            Inserted::New(session) => session,
            Inserted::Taken => {
                return Err(AgentError::new(ErrorCode::SessionAlreadyExists, format!("session {id:?} already exists")))
            }
            Inserted::Closed => return Err(destroying()),
            Inserted::Full => {
                tracing::warn!(session = %id, max = self.context.max_sessions, "session refused: too many sessions");
                crate::metrics::METRICS.limit_hit(crate::metrics::Limit::Sessions);
                return Err(AgentError::new(
                    ErrorCode::TooManySessions,
                    format!(
                        "this sandbox has {} sessions, as many as it may: delete one first",
                        self.context.max_sessions
                    ),
                ));
            }
        };
        let Some(ready) = ready else { return Err(AgentError::internal("the session did not start")) };
        let started = ready.await.unwrap_or_else(|_| Err(AgentError::internal("the session's shell did not start")));
        if let Err(err) = started {
            self.sessions.remove(&id);
            session.terminate();
            return Err(err);
        }
        tracing::info!(session = %id, "session created");
        Ok(session)
    }

    /// The session a call names, or the default session (created on first use) when it names none.
    pub fn session(&self, id: Option<&str>) -> AgentResult<Arc<Session>> {
        match id {
            Some(id) if id != DEFAULT_SESSION_ID => self.existing_session(id),
            _ => self.default_session(),
        }
    }

    pub fn existing_session(&self, id: &str) -> AgentResult<Arc<Session>> {
        check_session_id(id).map_err(AgentError::invalid)?;
        self.sessions.get(id).ok_or_else(|| AgentError::session_not_found(id))
    }

    fn default_session(&self) -> AgentResult<Arc<Session>> {
        let session = self.sessions.get_or_insert(DEFAULT_SESSION_ID, || {
            let config = SessionConfig {
                id: DEFAULT_SESSION_ID.to_string(),
                name: None,
                env: Vec::new(),
                cwd: self.workspace.real_root().to_path_buf(),
                command_timeout: None,
                workspace: self.workspace.clone(),
                pool: Some(Arc::clone(&self.pool)),
                limits: self.context.limits,
            };
            // Commands queue behind the shell's start, so nobody waits for readiness here.
            tracing::info!(session = DEFAULT_SESSION_ID, "session created");
            Session::start(config, Arc::clone(&self.context)).0
        });
        session.ok_or_else(destroying)
    }

    /// Where a call's relative paths start: its session's current directory, or the workspace.
    pub fn base_dir(&self, session_id: Option<&str>) -> AgentResult<PathBuf> {
        let session = match session_id {
            Some(id) => Some(self.existing_session(id)?),
            None => self.sessions.get(DEFAULT_SESSION_ID),
        };
        Ok(session
            .map(|s| self.workspace.to_visible(&s.cwd()))
            .unwrap_or_else(|| self.workspace.visible_root().to_path_buf()))
    }

    /// A caller's path (absolute, or relative to `base`) on this machine. `what` names it in errors.
    pub fn real_path(&self, path: &str, base: &Path, what: &str) -> AgentResult<PathBuf> {
        if path.is_empty() {
            return Err(AgentError::invalid(format!("{what} must not be empty")));
        }
        if path.len() > MAX_PATH_BYTES {
            return Err(AgentError::invalid(format!(
                "{what} is {} bytes, longer than a path may be ({MAX_PATH_BYTES})",
                path.len()
            )));
        }
        check_no_nul(what, path).map_err(AgentError::invalid)?;
        Ok(self.workspace.to_real(path, base))
    }

    pub fn sessions(&self) -> Vec<Arc<Session>> {
        self.sessions.all()
    }

    /// Removes a session and ends it: from now on it runs nothing and its id is free. Its processes are returned
    /// to be killed (`Remains::kill`), which the caller may finish after answering.
    pub fn delete_session(&self, id: &str) -> AgentResult<Remains> {
        if id == DEFAULT_SESSION_ID {
            return Err(AgentError::new(
                ErrorCode::DefaultSessionProtected,
                "the default session ends with its sandbox; destroy the sandbox instead",
            ));
        }
        let session = self.existing_session(id)?;
        self.sessions.remove(id);
        let remains = close_all(std::slice::from_ref(&session));
        tracing::info!(session = %id, "session deleted");
        Ok(remains)
    }

    /// Ends every session and every process they started, and every background process. The sandbox takes no
    /// new session meanwhile, and again afterwards only if `reopen`.
    pub fn end_all(&self, reopen: bool) {
        let sessions = self.sessions.close();
        tracing::info!(sessions = sessions.len(), "ending every session of the sandbox");
        terminate_all(&sessions);
        self.end_owned(reopen);
    }

    /// Ends everything the sandbox owns besides its sessions, which the caller has closed and ended (so that many
    /// sandboxes' sessions cost one walk of /proc). The one list of a sandbox's parts: one added later (a watch, a
    /// kernel, a cgroup) is ended here, or leaks on destroy.
    fn end_owned(&self, reopen: bool) {
        self.processes.end_all();
        self.terminals.end_all();
        self.backups.end_all();
        self.watches.end_all();
        if reopen {
            self.pool.reset();
            self.sessions.open();
        } else {
            self.pool.close();
        }
    }
}

/// A call that raced with the sandbox's destruction.
fn destroying() -> AgentError {
    AgentError::new(ErrorCode::ShuttingDown, "the sandbox is being destroyed; retry the call")
}

/// A working directory a call names, made when it is missing, as a session's is: a per-command `cwd` and a
/// process's agree with `createSession` (the shell's `cd` would otherwise fail with an internal path in its text).
pub fn ensure_cwd(real: &Path, shown: &str) -> AgentResult<()> {
    if real.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(real).map_err(|e| AgentError::from_io(&e, shown))
}

async fn create_dir(real: &Path, shown: &str) -> AgentResult<()> {
    // Mostly there already: one `stat` here rather than a trip to a blocking thread.
    if real.is_dir() {
        return Ok(());
    }
    tokio::fs::create_dir_all(real).await.map_err(|e| AgentError::from_io(&e, shown))
}

/// The sandboxes one agent serves.
pub enum Tenants {
    /// In a container: one sandbox.
    Single(Arc<Tenant>),
    /// Local mode: one sandbox per id, each in `root/<id>`.
    Multi { root: PathBuf, context: Arc<AgentContext>, sandboxes: Mutex<HashMap<String, Arc<Tenant>>> },
}

impl Tenants {
    /// The sandbox a request is for. `header` is its `X-Sandbox-Id`, which local mode requires.
    pub fn get(&self, header: Option<&str>) -> AgentResult<Arc<Tenant>> {
        match self {
            Tenants::Single(sandbox) => Ok(Arc::clone(sandbox)),
            Tenants::Multi { root, context, sandboxes } => {
                let id = header.ok_or_else(|| {
                    AgentError::invalid("this agent serves many sandboxes: the X-Sandbox-Id header is required")
                })?;
                check_sandbox_id(id).map_err(AgentError::invalid)?;
                let mut map = sandboxes.lock().expect("sandboxes lock");
                if let Some(sandbox) = map.get(id) {
                    return Ok(Arc::clone(sandbox));
                }
                let real = root.join(id);
                std::fs::create_dir_all(&real).map_err(|e| AgentError::from_io(&e, VISIBLE_WORKSPACE))?;
                let workspace = Workspace::new(VISIBLE_WORKSPACE, real);
                let sandbox = Arc::new(Tenant::new(id.to_string(), workspace, Arc::clone(context)));
                map.insert(id.to_string(), Arc::clone(&sandbox));
                Ok(sandbox)
            }
        }
    }

    /// Local multi-sandbox mode: the agent runs on a developer's machine.
    pub fn is_local(&self) -> bool {
        matches!(self, Tenants::Multi { .. })
    }

    /// Ends a sandbox: its sessions and processes; in local mode its folder too, so a later call starts afresh.
    /// Calls that race with it get `SHUTTING_DOWN` rather than a session nobody would end; in local mode the
    /// sandbox leaves the table only after its folder is gone, so a new one never starts in a folder being removed.
    pub async fn destroy(&self, sandbox: &Arc<Tenant>) -> AgentResult<()> {
        let local = self.is_local();
        // Killing walks /proc: keep it off the async workers.
        let ending = Arc::clone(sandbox);
        tokio::task::spawn_blocking(move || ending.end_all(!local))
            .await
            .map_err(|e| AgentError::internal(e.to_string()))?;
        if let Tenants::Multi { sandboxes, .. } = self {
            let root = sandbox.workspace.real_root().to_path_buf();
            let removed = tokio::task::spawn_blocking(move || remove_tree(&root))
                .await
                .map_err(|e| AgentError::internal(e.to_string()));
            let mut map = sandboxes.lock().expect("sandboxes lock");
            if map.get(&sandbox.id).is_some_and(|current| Arc::ptr_eq(current, sandbox)) {
                map.remove(&sandbox.id);
            }
            drop(map);
            match removed? {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(AgentError::from_io(&e, VISIBLE_WORKSPACE)),
            }
        }
        Ok(())
    }

    /// Sessions alive in every sandbox.
    pub fn session_count(&self) -> usize {
        match self {
            Tenants::Single(sandbox) => sandbox.sessions().len(),
            Tenants::Multi { sandboxes, .. } => {
                sandboxes.lock().expect("sandboxes lock").values().map(|sandbox| sandbox.sessions().len()).sum()
            }
        }
    }

    /// Ends every session of every sandbox (on shutdown).
    pub fn end_all(&self) {
        match self {
            Tenants::Single(sandbox) => sandbox.end_all(false),
            Tenants::Multi { sandboxes, .. } => {
                let all: Vec<Arc<Tenant>> = sandboxes.lock().expect("sandboxes lock").values().cloned().collect();
                let sessions: Vec<Arc<Session>> = all.iter().flat_map(|sandbox| sandbox.sessions.close()).collect();
                terminate_all(&sessions);
                for sandbox in &all {
                    sandbox.end_owned(false);
                }
            }
        }
    }
}
