//! The task that owns a session's shell and runs its commands one at a time.
//!
//! For each command it reads stdout and stderr as they are written, waits for the shell's out-of-band report, and
//! enforces the timeout. A timed-out or abandoned command is interrupted (USR1 to the shell, its process tree
//! stopped and killed); if the shell does not come back within a grace period it is killed and the next command
//! gets a new shell that starts from the last reported directory and exported variables. The same restart follows
//! `exit`, `exec` or a killed shell, so a session never stays broken.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sandbox_protocol::Ended;
use sandbox_protocol::HistoryEntry;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use super::drive::{drive, Buffers, End, Limits, Ran};
use super::escalation::{self, EXIT_CANCELLED};
use super::pool::ShellPool;
use super::script::{init_script, settle_script, Scope};
use super::shell::{Running, Shell};
use super::{ExecSpec, Job, Outcome, Session, Sink};
use crate::clock::iso;
use crate::context::AgentContext;
use crate::error::{AgentError, AgentResult};
use crate::metrics::METRICS;
use crate::process::prelude::Start;

/// How long a new shell may take to be ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);

struct Saved {
    pwd: Vec<u8>,
    exports: Vec<u8>,
}

struct Actor {
    session: Arc<Session>,
    context: Arc<AgentContext>,
    env: Vec<(String, String)>,
    shell: Option<Shell>,
    /// Where a replacement shell starts: the last reported directory and exported variables.
    saved: Option<Saved>,
    terminated: watch::Receiver<bool>,
    buffers: Buffers,
    /// The sandbox's ready shells, taken before starting one.
    pool: Option<Arc<ShellPool>>,
    /// Processes the current shell's memory limit had killed when last looked at.
    oom_kills: u64,
}

/// How a session gets its first shell.
enum First {
    /// Taken from the pool; the session was answered when it was taken.
    Pooled(Box<Shell>),
    /// Started anew; the answer waits for it.
    Start(oneshot::Sender<AgentResult<()>>),
}

pub(super) fn spawn(
    session: Arc<Session>,
    context: Arc<AgentContext>,
    env: Vec<(String, String)>,
    pool: Option<Arc<ShellPool>>,
    jobs: mpsc::UnboundedReceiver<Job>,
    ready: oneshot::Sender<AgentResult<()>>,
) {
    let terminated = session.terminated.subscribe();
    let buffers = Buffers::default();
    // A shell from the pool is taken here, and the session answered now: the caller's task goes on without
    // waiting for this one to be scheduled (a wake-up of another worker thread costs a tenth of a millisecond).
    let first = match pool.as_ref().and_then(|pool| pool.take()) {
        Some(shell) => {
            let _ = ready.send(Ok(()));
            First::Pooled(Box::new(shell))
        }
        None => First::Start(ready),
    };
    let mut actor = Actor { session, context, env, shell: None, saved: None, terminated, buffers, pool, oom_kills: 0 };
    tokio::spawn(async move {
        // A shell that fails to start (descriptors exhausted for a moment, say) is started again by the next
        // command: the actor serves on, so the session is never left dead.
        actor.first_shell(first).await;
        actor.serve(jobs).await;
        // A session ended from outside has its shells killed by whoever ended it (`Remains`), off the async
        // workers; one whose handle was dropped is ended here.
        if !*actor.terminated.borrow() {
            actor.stop();
        }
    });
}

impl Actor {
    async fn serve(&mut self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        loop {
            let job = tokio::select! {
                job = jobs.recv() => job,
                _ = self.terminated.wait_for(|t| *t) => None,
            };
            let Some(job) = job else { return };
            let span = tracing::info_span!(
                "command",
                session = %self.session.id,
                request_id = job.spec.request_id.as_deref().unwrap_or(""),
            );
            self.run(job).instrument(span).await;
            if *self.terminated.borrow() {
                return;
            }
        }
    }

    /// Kills whatever is left of the current shell, keeping its state for the next one.
    fn stop(&mut self) {
        if let Some(shell) = self.shell.take() {
            shell.kill_all();
            self.keep_state(&shell, None);
        }
    }

    /// Notes where a replacement for `shell` should start.
    fn keep_state(&mut self, shell: &Shell, pwd: Option<Vec<u8>>) {
        let exports = shell.exported();
        let pwd = pwd.or_else(|| self.saved.as_ref().map(|s| s.pwd.clone())).unwrap_or_default();
        if !exports.is_empty() {
            self.saved = Some(Saved { pwd, exports });
        } else if let Some(saved) = &mut self.saved {
            saved.pwd = pwd;
        }
    }

    async fn run(&mut self, job: Job) {
        let Job { spec, mut sink } = job;
        if sink.is_closed() {
            // The caller left while the command waited its turn: it never starts.
            return;
        }
        let started_at = SystemTime::now();
        // Cancelled, or withdrawn by its cancel, while it waited its turn; otherwise it is taken to run now.
        if spec.tracked.as_ref().is_some_and(|t| *t.signal.borrow() || !t.try_begin()) {
            // Cancelled while it waited its turn: it never starts.
            let soon = Some(Instant::now() + escalation::GRACE);
            sink.start(started_at, soon, &mut None).await;
            let outcome = Outcome {
                exit_code: EXIT_CANCELLED,
                ended: Ended::Cancelled,
                started_at,
                duration: Duration::ZERO,
                oom_killed: None,
            };
            METRICS.command_ended(Ended::Cancelled);
            sink.finish(outcome, soon, &mut None).await;
            return;
        }
        let t0 = Instant::now();
        self.session.began();
        let timeout =
            super::effective_timeout(spec.timeout, self.session.command_timeout, self.context.default_timeout);
        let deadline = timeout.map(|t| t0 + t);
        let mut cancel = spec.tracked.as_ref().map(|t| t.signal.clone());
        let ran = match self.start_command(&spec).await {
            Ok(running) => {
                sink.start(started_at, deadline, &mut cancel).await;
                let shell = self.shell.as_mut().expect("a started command has a shell");
                let limits = Limits { deadline, cancel: cancel.clone() };
                drive(shell, running, &mut sink, limits, &mut self.buffers).await
            }
            Err(err) => {
                self.session.ended(None, None);
                sink.fail(err).await;
                return;
            }
        };
        let Ran { seq, end, stopped, patience } = ran;
        let memory_killed = self.memory_killed();
        let (status, pwd) = match end {
            End::Done { status, pwd } => {
                self.session.state_due(seq);
                (status, Some(pwd))
            }
            End::Died { code, pwd } => {
                tracing::warn!(code, "the session's shell ended during the command; the next command gets a new one");
                METRICS.shell_lost();
                if let Some(shell) = self.shell.take() {
                    self.keep_state(&shell, pwd.clone());
                }
                (code, pwd)
            }
        };
        let (exit_code, ended) = escalation::result(stopped, status);
        // SIGKILL, and the session's memory limit killed a process meanwhile: that was the command's.
        let oom_killed = memory_killed.filter(|_| exit_code == 128 + 9);
        if let Some(limit) = oom_killed {
            tracing::info!(limit, "the command was killed by its session's memory limit");
        }
        let outcome = Outcome { exit_code, ended, started_at, duration: t0.elapsed(), oom_killed };
        METRICS.command_ended(ended);
        if ended != Ended::Exited {
            tracing::info!(?ended, ms = outcome.duration.as_millis() as u64, "command stopped");
        }
        let entry = (!spec.internal).then(|| HistoryEntry {
            command: spec.command,
            exit_code,
            started_at: iso(started_at),
            duration: outcome.duration.as_millis() as u64,
            timed_out: ended == Ended::TimedOut,
        });
        self.session.ended(entry, pwd.as_deref());
        // A stopped command's end waits for a stalled reader only a little; a finished one as long as the reader
        // is there and the command is neither cancelled nor past its deadline.
        let mut watch = if stopped.is_some() { None } else { cancel };
        sink.finish(outcome, patience, &mut watch).await;
        if let Some(shell) = self.shell.as_mut() {
            shell.note_members();
        }
    }

    /// Whether the session's memory limit killed a process since this was last asked (its limit, if so). Read only
    /// for a session with a memory limit.
    fn memory_killed(&mut self) -> Option<u64> {
        let limit = self.session.limits.memory_bytes?;
        let kills = self.shell.as_ref().and_then(|s| s.group()).map(|g| g.oom_kills())?;
        let killed = kills > self.oom_kills;
        self.oom_kills = kills;
        killed.then_some(limit)
    }

    /// Hands the command to the shell, starting a shell first when there is none (or it just died).
    async fn start_command(&mut self, spec: &ExecSpec) -> AgentResult<Running> {
        let scope = Scope { cwd: spec.cwd.as_deref(), env: &spec.env };
        for attempt in 0..2 {
            self.ensure_shell().await?;
            let shell = self.shell.as_mut().expect("ensured");
            match shell.start(spec.command.as_bytes(), &scope, !spec.internal).await {
                Ok(running) => return Ok(running),
                Err(err) if attempt == 1 => {
                    return Err(AgentError::internal(format!("the session's shell failed: {err}")))
                }
                Err(_) => self.stop(),
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// The session's first shell. One from the pool is started and ready: the session was answered already, and
    /// its variables and directory are applied before its first command (which queues behind). Otherwise the
    /// answer waits for a new shell's start, and says if it failed.
    async fn first_shell(&mut self, first: First) {
        let shell = match first {
            First::Pooled(shell) => *shell,
            First::Start(ready) => {
                let _ = ready.send(self.ensure_shell().await);
                return;
            }
        };
        if let Err(err) = self.start_shell(shell, true).await {
            if *self.terminated.borrow() {
                return;
            }
            tracing::debug!(%err, "a pooled shell failed: starting one");
            // A failure here reaches the first command, whose own start tries again.
            if let Err(err) = self.ensure_shell().await {
                tracing::warn!(session = %self.session.id, %err, "the session's shell did not start");
            }
        }
    }

    async fn ensure_shell(&mut self) -> AgentResult<()> {
        if self.shell.as_ref().is_some_and(|s| !s.has_exited()) {
            return Ok(());
        }
        self.stop();
        if let Some(shell) = self.pool.as_ref().and_then(|pool| pool.take()) {
            match self.start_shell(shell, true).await {
                Ok(()) => return Ok(()),
                // A pooled shell that fails its first command of the session's (killed meanwhile): a new one.
                Err(err) if !*self.terminated.borrow() => tracing::debug!(%err, "a pooled shell failed: starting one"),
                Err(err) => return Err(err),
            }
        }
        if *self.terminated.borrow() {
            return Err(AgentError::session_not_found(&self.session.id));
        }
        let shell = Shell::spawn(&self.context.reaper, &self.session.cwd()).map_err(|e| {
            if *self.terminated.borrow() {
                // The session was ended meanwhile (its sandbox destroyed, its folder gone).
                ended_while_starting()
            } else {
                start_failed(&e)
            }
        })?;
        self.start_shell(shell, false).await
    }

    /// Makes `shell` the session's: its variables and directory (and, unless it comes `pooled` with them already,
    /// the traps), then its first report.
    async fn start_shell(&mut self, mut shell: Shell, pooled: bool) -> AgentResult<()> {
        if *self.terminated.borrow() || !self.session.add_shell(&shell) {
            // The session was terminated while this shell started: it goes too.
            shell.kill_all();
            return Err(AgentError::session_not_found(&self.session.id));
        }
        if !self.session.limits.is_empty() {
            let applied = match shell.group() {
                Some(group) => group.apply(&self.session.limits),
                None => Err("the shell has no cgroup".to_string()),
            };
            if let Err(why) = applied {
                shell.kill_all();
                tracing::warn!(%why, "the session's limits could not be set on its shell");
                return Err(AgentError::new(
                    sandbox_protocol::ErrorCode::LimitsUnavailable,
                    format!("the session's limits could not be set: {why}"),
                ));
            }
            self.oom_kills = shell.group().map(|g| g.oom_kills()).unwrap_or(0);
        }
        let cwd = self.session.cwd();
        let pwd;
        let start = match &self.saved {
            Some(saved) => {
                pwd = if saved.pwd.is_empty() {
                    cwd.clone()
                } else {
                    PathBuf::from(std::ffi::OsStr::from_bytes(&saved.pwd))
                };
                Start::Restore { exports: &saved.exports, cwd: &pwd }
            }
            None => Start::Fresh { env: &self.env, cwd: &cwd },
        };
        let script = if pooled {
            settle_script(&start)
        } else {
            init_script(&shell.control_path(), &shell.exit_state_path(), &start)
        };
        let terminated = self.terminated.clone();
        let failed = |what: String| {
            if *terminated.borrow() {
                // Killed because the session (or its sandbox) was ended meanwhile: not a failure of bash.
                AgentError::new(
                    sandbox_protocol::ErrorCode::ShuttingDown,
                    "the session was ended while its shell started",
                )
            } else {
                AgentError::internal(format!("bash did not start: {what}"))
            }
        };
        let running = shell.start(&script, &Scope::default(), false).await.map_err(|e| failed(e.to_string()))?;
        let limits = Limits { deadline: Some(Instant::now() + START_TIMEOUT), cancel: None };
        let ran = drive(&mut shell, running, &mut Sink::Discard, limits, &mut self.buffers).await;
        match ran.end {
            End::Done { pwd, .. } => {
                self.session.set_cwd(&pwd);
                self.session.set_state_files(shell.state_files(), ran.seq);
                self.shell = Some(shell);
                Ok(())
            }
            End::Died { code, .. } => {
                shell.kill_all();
                Err(failed(format!("it exited with status {code}")))
            }
        }
    }
}

fn ended_while_starting() -> AgentError {
    AgentError::new(sandbox_protocol::ErrorCode::ShuttingDown, "the session was ended while its shell started")
}

/// A shell that could not be spawned. Out of descriptors, processes or memory is a passing state of the machine:
/// a retryable `RESOURCE_EXHAUSTED` (the next call starts the shell again).
fn start_failed(err: &std::io::Error) -> AgentError {
    use nix::libc::{EAGAIN, EMFILE, ENFILE, ENOMEM};
    let message = format!("cannot start bash: {err}");
    tracing::error!(%err, "the session's shell did not start");
    METRICS.command_not_started();
    match err.raw_os_error() {
        Some(EMFILE | ENFILE | EAGAIN | ENOMEM) => {
            AgentError::new(sandbox_protocol::ErrorCode::ResourceExhausted, message)
        }
        _ => AgentError::internal(message),
    }
}
