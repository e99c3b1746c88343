//! Background processes: programs a sandbox runs beside its sessions, that outlive the call that started them.
//!
//! They belong to the sandbox (its `Tenant`), not to a session: ending a session leaves them running; destroying
//! the sandbox or stopping the agent ends them. The table holds at most `max` of them, running or ended (an ended
//! one is kept, with its log, for listing; the oldest ended one makes room for a new process).

mod proc;
pub mod ring;
pub mod wait;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use sandbox_protocol::{ErrorCode, ProcessStatus};

use crate::error::{AgentError, AgentResult};
use crate::process::reaper::Reaper;

pub use proc::{Proc, Spawn};

/// Most processes (running, or ended and kept) one sandbox may have.
pub const DEFAULT_MAX_PROCESSES: usize = 256;
/// The default bound of one process's log ring (both streams).
pub const DEFAULT_RING_BYTES: usize = 1024 * 1024;
/// How long a killed process's tree has after the first signal before the rest is killed.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// Longest command text: it is passed to `bash -c` as one argument, which the kernel caps at 128 KiB.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;

/// How often a live log stream of a quiet process sends a comment, so that no proxy's idle timeout cuts it.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// The agent's settings for background processes (its flags).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub max_processes: usize,
    pub ring_bytes: usize,
    pub heartbeat: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { max_processes: DEFAULT_MAX_PROCESSES, ring_bytes: DEFAULT_RING_BYTES, heartbeat: DEFAULT_HEARTBEAT }
    }
}

/// One sandbox's processes, in the order they started.
pub struct Processes {
    table: Arc<Mutex<Vec<Arc<Proc>>>>,
    reaper: Arc<Reaper>,
    settings: Settings,
}

/// How a process is started (validated by the caller).
pub struct Start<'a> {
    pub spawn: Spawn<'a>,
    pub timeout: Option<Duration>,
    pub auto_cleanup: bool,
}

impl Processes {
    pub fn new(reaper: Arc<Reaper>, settings: Settings) -> Processes {
        Processes { table: Arc::default(), reaper, settings }
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Proc>>> {
        self.table.lock().expect("process table lock")
    }

    /// Starts a process. Refused when a running process has its id, or the table is full of running processes.
    /// An ended process with the id is replaced (its record and log go): a server that crashed is started again
    /// under its own name.
    pub fn start(&self, start: Start<'_>) -> AgentResult<Arc<Proc>> {
        let Start { spawn, timeout, auto_cleanup } = start;
        let mut table = self.lock();
        if let Some(at) = table.iter().position(|p| p.id == spawn.id) {
            if !table[at].status().ended() {
                return Err(AgentError::new(
                    ErrorCode::ProcessAlreadyExists,
                    format!("process {:?} is running: kill it first, or choose another processId", spawn.id),
                ));
            }
            table.remove(at);
        }
        if table.len() >= self.settings.max_processes {
            match table.iter().position(|p| p.status().ended()) {
                Some(oldest_ended) => {
                    table.remove(oldest_ended);
                }
                None => {
                    crate::metrics::METRICS.limit_hit(crate::metrics::Limit::Processes);
                    return Err(AgentError::new(
                        ErrorCode::TooManyProcesses,
                        format!("the sandbox has {} processes running, as many as it may", table.len()),
                    ));
                }
            }
        }
        let proc = Proc::spawn(&self.reaper, Spawn { ring_bytes: self.settings.ring_bytes, ..spawn }).map_err(|e| {
            tracing::error!(%e, "a background process could not start");
            AgentError::internal(format!("the process could not start: {e}"))
        })?;
        tracing::info!(process = %proc.id, pid = proc.pid, "background process started");
        table.push(Arc::clone(&proc));
        drop(table);
        if timeout.is_some() || auto_cleanup {
            tokio::spawn(watch_over(Arc::clone(&proc), timeout, auto_cleanup.then(|| Arc::clone(&self.table))));
        }
        Ok(proc)
    }

    pub fn get(&self, id: &str) -> AgentResult<Arc<Proc>> {
        self.lock()
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .ok_or_else(|| AgentError::new(ErrorCode::ProcessNotFound, format!("no process {id:?}")))
    }

    pub fn list(&self, status: Option<ProcessStatus>) -> Vec<Arc<Proc>> {
        self.lock().iter().filter(|p| status.is_none_or(|s| p.status() == s)).cloned().collect()
    }

    /// Kills every running process (each as `DELETE` does, all at once); returns how many were running.
    pub async fn kill_all(&self, first: Signal) -> usize {
        let running: Vec<Arc<Proc>> = self.lock().iter().filter(|p| !p.status().ended()).cloned().collect();
        let kills = running.iter().map(|p| p.kill(first, KILL_GRACE));
        futures_util::future::join_all(kills).await;
        running.len()
    }

    /// Ends every process at once (SIGKILL), for the sandbox's end or the agent's.
    pub fn end_all(&self) {
        for proc in self.lock().drain(..) {
            proc.end_now();
        }
    }
}

/// Kills `proc` when its timeout passes; forgets it when it ends, if it is to be cleaned up.
async fn watch_over(proc: Arc<Proc>, timeout: Option<Duration>, cleanup: Option<Arc<Mutex<Vec<Arc<Proc>>>>>) {
    let mut changes = proc.subscribe();
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    loop {
        if proc.status().ended() {
            break;
        }
        let expired = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { break },
            _ = expired => {
                tracing::info!(process = %proc.id, "the process's timeout passed: killing it");
                proc.kill(Signal::SIGTERM, KILL_GRACE).await;
                break;
            }
        }
    }
    if let Some(table) = cleanup {
        // Ended: forgotten, its log with it.
        let mut changes = proc.subscribe();
        while !proc.status().ended() {
            if changes.changed().await.is_err() {
                break;
            }
        }
        table.lock().expect("process table lock").retain(|p| !Arc::ptr_eq(p, &proc));
    }
}
