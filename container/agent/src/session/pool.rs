//! Shells started ahead of need. Starting bash and running its first command takes a few milliseconds; a sandbox
//! keeps a few shells that have done so, and a new session takes one and only has to be given its variables and
//! directory (one short command). Taken shells are replaced in the background. A shell is taken once and belongs
//! to that session from then on; a pooled shell that died meanwhile (code in the sandbox can kill any process) is
//! passed over. The pool's shells end with their sandbox.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::drive::{drive, Buffers, End, Limits};
use super::script::{init_script, Scope};
use super::shell::Shell;
use super::Sink;
use crate::process::prelude::Start;
use crate::process::reaper::Reaper;

/// How long a pooled shell may take to be ready.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refill waits after a take.
const AFTER_TAKE: Duration = Duration::from_millis(3);

pub struct ShellPool {
    /// How many ready shells it keeps (0: none; every session starts its own).
    size: usize,
    reaper: Arc<Reaper>,
    /// Where its shells start (the sandbox's workspace).
    cwd: PathBuf,
    ready: Mutex<Vec<Shell>>,
    filling: AtomicBool,
    closed: AtomicBool,
    /// Counts resets: a shell started before one is not kept.
    generation: AtomicU64,
}

impl ShellPool {
    pub fn new(size: usize, reaper: Arc<Reaper>, cwd: PathBuf) -> Arc<ShellPool> {
        let pool = Arc::new(ShellPool {
            size,
            reaper,
            cwd,
            ready: Mutex::default(),
            filling: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        });
        pool.refill();
        pool
    }

    /// A ready shell, if the pool has one; a replacement is started in the background either way, a moment later
    /// (`AFTER_TAKE`), so that the session that took one answers before a new bash competes for the CPU.
    pub fn take(self: &Arc<Self>) -> Option<Shell> {
        let taken = loop {
            let Some(shell) = self.lock().pop() else { break None };
            if !shell.has_exited() {
                break Some(shell);
            }
            tracing::debug!("a pooled shell had ended: passed over");
            shell.kill_all();
        };
        self.refill_after(AFTER_TAKE);
        taken
    }

    /// Ends the pool's shells and starts new ones: nothing of a sandbox's past (its code could reach a waiting
    /// shell) is handed to a session after a destroy.
    pub fn reset(self: &Arc<Self>) {
        self.end_ready();
        self.refill();
    }

    /// Ends the pool's shells; it keeps none from now on (its sandbox is ending).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.end_ready();
    }

    fn end_ready(&self) {
        let shells: Vec<Shell> = {
            let mut ready = self.lock();
            self.generation.fetch_add(1, Ordering::AcqRel);
            ready.drain(..).collect()
        };
        for shell in shells {
            shell.kill_all();
        }
    }

    /// Starts shells in the background until the pool is full (one filler at a time).
    fn refill(self: &Arc<Self>) {
        self.refill_after(Duration::ZERO);
    }

    fn refill_after(self: &Arc<Self>, delay: Duration) {
        if self.size == 0 || self.closed.load(Ordering::Acquire) || self.lock().len() >= self.size {
            return;
        }
        if self.filling.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.filling.store(false, Ordering::Release);
            return;
        };
        let pool = Arc::clone(self);
        runtime.spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut buffers = Buffers::default();
            while !pool.closed.load(Ordering::Acquire) && pool.lock().len() < pool.size {
                let generation = pool.generation.load(Ordering::Acquire);
                match warm_up(&pool.reaper, &pool.cwd, &mut buffers).await {
                    Ok(shell) => {
                        let mut ready = pool.lock();
                        if pool.generation.load(Ordering::Acquire) != generation || pool.closed.load(Ordering::Acquire)
                        {
                            // Started before a reset: not kept (the loop starts another unless closed).
                            drop(ready);
                            shell.kill_all();
                            continue;
                        }
                        ready.push(shell);
                    }
                    Err(err) => {
                        // Sessions start their own shells meanwhile; the next take tries again.
                        tracing::warn!(%err, "a shell for the pool did not start");
                        break;
                    }
                }
            }
            pool.filling.store(false, Ordering::Release);
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Shell>> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ShellPool {
    fn drop(&mut self) {
        self.close();
    }
}

/// Starts a shell and runs its first command (the traps, no variables of a session's, the workspace).
async fn warm_up(reaper: &Reaper, cwd: &std::path::Path, buffers: &mut Buffers) -> Result<Shell, String> {
    let mut shell = Shell::spawn(reaper, cwd).map_err(|e| e.to_string())?;
    let script = init_script(&shell.control_path(), &shell.exit_state_path(), &Start::Fresh { env: &[], cwd });
    let running = match shell.start(&script, &Scope::default(), false).await {
        Ok(running) => running,
        Err(err) => {
            shell.kill_all();
            return Err(err.to_string());
        }
    };
    let limits = Limits { deadline: Some(Instant::now() + WARM_UP_TIMEOUT), cancel: None };
    match drive(&mut shell, running, &mut Sink::Discard, limits, buffers).await.end {
        End::Done { .. } => Ok(shell),
        End::Died { code, .. } => {
            shell.kill_all();
            Err(format!("bash exited with status {code}"))
        }
    }
}
