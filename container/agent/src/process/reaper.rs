//! The one place that waits for children. It reaps every child that exits, whoever started it: the agent may be
//! PID 1 in its container, or a child subreaper, so orphaned grandchildren come to it and must not stay zombies.
//! Code that spawns a process registers it here in the same step and gets its exit code from a channel.

use std::collections::HashMap;
use std::io;
use std::process::Command;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// How a process ended, as a shell reports it: the exit status, or 128 + the signal number.
pub type ExitCode = i32;

/// How a process ended: it exited with a status, or a signal killed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// As a shell reports it: the status, or 128 + the signal number.
    pub fn shell_code(self) -> ExitCode {
        match self {
            Exit::Code(code) => code,
            Exit::Signal(signal) => 128 + signal,
        }
    }
}

pub struct Reaper {
    waiters: Mutex<HashMap<i32, watch::Sender<Option<Exit>>>>,
}

/// Resolves to how a child ended. Cloneable: several tasks can wait for one child.
pub type ExitWatch = watch::Receiver<Option<Exit>>;

impl Reaper {
    /// Starts reaping. Must run inside the Tokio runtime, before any child is spawned.
    pub fn start() -> io::Result<Arc<Reaper>> {
        let mut sigchld = signal(SignalKind::child())?;
        let reaper = Arc::new(Reaper { waiters: Mutex::new(HashMap::new()) });
        let me = Arc::clone(&reaper);
        tokio::spawn(async move {
            loop {
                me.reap_all();
                if sigchld.recv().await.is_none() {
                    return;
                }
            }
        });
        Ok(reaper)
    }

    /// Spawns `command` and registers it before it can be reaped, so its exit code is never lost.
    pub fn spawn(&self, command: &mut Command) -> io::Result<(i32, ExitWatch)> {
        let mut waiters = self.waiters.lock().expect("reaper lock");
        let child = command.spawn()?;
        let pid = child.id() as i32;
        // The child is ours to wait for: dropping std's handle neither waits nor kills.
        drop(child);
        let (tx, rx) = watch::channel(None);
        waiters.insert(pid, tx);
        Ok((pid, rx))
    }

    fn reap_all(&self) {
        let mut waiters = self.waiters.lock().expect("reaper lock");
        loop {
            let (pid, code) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, status)) => (pid, Exit::Code(status)),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, Exit::Signal(sig as i32)),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) => continue,
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            };
            if let Some(tx) = waiters.remove(&pid.as_raw()) {
                let _ = tx.send(Some(code));
            }
        }
    }
}

/// Waits until the watched child has exited and returns its exit code.
pub async fn exited(watch: &mut ExitWatch) -> ExitCode {
    ended(watch).await.shell_code()
}

/// Waits until the watched child has ended and returns how.
pub async fn ended(watch: &mut ExitWatch) -> Exit {
    loop {
        if let Some(exit) = *watch.borrow_and_update() {
            return exit;
        }
        if watch.changed().await.is_err() {
            // The reaper is gone (the runtime is shutting down): report a kill.
            return Exit::Signal(9);
        }
    }
}

/// Makes this process the reaper of its orphaned descendants (not needed when it is PID 1).
pub fn become_subreaper() {
    if std::process::id() != 1 {
        if let Err(err) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::warn!(%err, "cannot become the subreaper: orphans of the sessions' commands may stay zombies");
        }
    }
}
