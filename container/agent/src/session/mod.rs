//! A session: one persistent bash and the queue of commands it runs one at a time, in arrival order.
//!
//! `Session` is the handle request handlers hold; the actor (`actor.rs`) owns the shell and runs the queue.
//! Reading a session's state (cwd, status, history) never waits for its running command.

mod actor;
mod collector;
pub mod control;
mod drive;
mod escalation;
mod history;
pub mod in_flight;
mod kill_cut;
pub mod pool;
pub mod script;
pub mod shell;
mod sink;
pub mod table;

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sandbox_protocol::{HistoryEntry, SessionHistory, SessionInfo, SessionStatus};
use tokio::sync::{mpsc, oneshot, watch};

use crate::budget::{Budget, Charge};
use crate::clock::iso;
use crate::contain::Group;
use crate::error::{AgentError, AgentResult};
use crate::output::Capture;
use crate::process::kill::{KillSet, Scan};
use crate::process::prelude::{prelude, Start};
use crate::process::reaper::ExitWatch;
use crate::process::tree::{session_processes, ProcStat, ShellRef};
use crate::workspace::Workspace;
use collector::Collector;
use history::History;

/// How a session is made.
pub struct SessionConfig {
    pub id: String,
    pub name: Option<String>,
    /// Exported into the shell at start.
    pub env: Vec<(String, String)>,
    /// The starting directory on this machine; it exists.
    pub cwd: PathBuf,
    pub command_timeout: Option<Duration>,
    pub workspace: Workspace,
    /// The sandbox's ready shells (none: the session starts its own).
    pub pool: Option<Arc<pool::ShellPool>>,
    /// What the session's processes may use together, checked and enforceable here.
    pub limits: sandbox_protocol::Limits,
}

/// One command to run.
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    pub command: String,
    /// For this command only; `None` unsets.
    pub env: Vec<(String, Option<String>)>,
    /// For this command only, on this machine.
    pub cwd: Option<PathBuf>,
    pub timeout: Option<Duration>,
    /// Sent by the agent itself (`setEnvVars`): kept out of the session's history.
    pub internal: bool,
    /// Its entry among the sandbox's commands in flight: raised by `POST /v1/exec/cancel`, the command stops (or
    /// never starts) with exit code 130; told when it begins to run.
    pub tracked: Option<in_flight::Tracked>,
    /// The request that sent it, for the log lines of its run (which happen in the session's own task).
    pub request_id: Option<String>,
}

/// How a command ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub exit_code: i32,
    pub ended: sandbox_protocol::Ended,
    pub started_at: SystemTime,
    pub duration: Duration,
    /// The session's memory limit (of these bytes) killed the command's process.
    pub oom_killed: Option<u64>,
}

/// The buffered result of a command.
pub struct Collected {
    pub outcome: Outcome,
    pub stdout: Capture,
    pub stderr: Capture,
    /// The output's charge to the memory budget: hold it until the result made of it is sent.
    pub charge: Option<Charge>,
}

/// The timeout a command runs with: its call's, else its session's, else the sandbox's default; none when that is
/// zero. The session's actor applies it, and the listing of commands in flight shows it.
pub fn effective_timeout(
    call: Option<Duration>,
    session: Option<Duration>,
    default: Option<Duration>,
) -> Option<Duration> {
    call.or(session).or(default).filter(|t| !t.is_zero())
}

impl Collected {
    /// A command cancelled while it waited its turn: it never ran.
    pub fn withdrawn() -> Collected {
        Collected { outcome: Outcome::withdrawn(), stdout: Capture::new(0), stderr: Capture::new(0), charge: None }
    }
}

impl Outcome {
    /// A command cancelled while it waited its turn (exit code 130, `cancelled`, no time run).
    pub fn withdrawn() -> Outcome {
        Outcome {
            exit_code: escalation::EXIT_CANCELLED,
            ended: sandbox_protocol::Ended::Cancelled,
            started_at: SystemTime::now(),
            duration: Duration::ZERO,
            oom_killed: None,
        }
    }
}

/// What a streamed command sends, in order: `Start`, output chunks, then `Done` or `Failed`.
#[derive(Debug)]
pub enum StreamItem {
    Start(SystemTime),
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Done(Outcome),
    Failed(AgentError),
}

pub(crate) enum Sink {
    Collect { output: Collector, reply: oneshot::Sender<AgentResult<Collected>> },
    Stream(mpsc::Sender<StreamItem>),
    Discard,
}

pub(crate) struct Job {
    spec: ExecSpec,
    sink: Sink,
}

pub struct Session {
    pub id: String,
    pub name: Option<String>,
    pub created_at: SystemTime,
    pub command_timeout: Option<Duration>,
    /// Set on each of its shells' cgroups as the shell becomes the session's.
    pub limits: sandbox_protocol::Limits,
    workspace: Workspace,
    state: Mutex<State>,
    jobs: mpsc::UnboundedSender<Job>,
    terminated: watch::Sender<bool>,
    /// Every shell this session has had: their process groups are the session's processes.
    shells: Mutex<Shells>,
    /// The variables the session was made with, and its current shell's state files with the number of the last
    /// command whose state they are due to hold: what a background process started from this session inherits.
    initial_env: Vec<(String, String)>,
    state_files: Mutex<Option<(Arc<[std::os::fd::OwnedFd; 3]>, u64)>>,
    budget: Arc<Budget>,
}

struct State {
    cwd: PathBuf,
    busy: bool,
    last_used: SystemTime,
    history: History,
}

impl Session {
    /// Starts the session's actor; the returned receiver resolves once its shell is ready.
    pub fn start(
        config: SessionConfig,
        context: Arc<crate::context::AgentContext>,
    ) -> (Arc<Session>, oneshot::Receiver<AgentResult<()>>) {
        let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
        let (terminated, _) = watch::channel(false);
        let now = SystemTime::now();
        let session = Arc::new(Session {
            id: config.id,
            name: config.name,
            created_at: now,
            command_timeout: config.command_timeout,
            limits: config.limits,
            workspace: config.workspace,
            state: Mutex::new(State { cwd: config.cwd, busy: false, last_used: now, history: History::default() }),
            jobs: jobs_tx,
            terminated,
            shells: Mutex::new(Shells::default()),
            initial_env: config.env.clone(),
            state_files: Mutex::new(None),
            budget: Arc::clone(&context.budget),
        });
        let (ready_tx, ready_rx) = oneshot::channel();
        actor::spawn(Arc::clone(&session), context, config.env, config.pool, jobs_rx, ready_tx);
        (session, ready_rx)
    }

    /// Runs a command and returns its buffered output, each stream capped at `cap` bytes.
    pub async fn exec(&self, spec: ExecSpec, cap: usize) -> AgentResult<Collected> {
        let (reply, result) = oneshot::channel();
        let mut tracked = spec.tracked.clone();
        let sink = Sink::Collect { output: Collector::new(cap, Some(&self.budget)), reply };
        self.submit(Job { spec, sink })?;
        tokio::select! {
            biased;
            collected = result => collected.map_err(|_| self.gone())?,
            () = in_flight::withdrawn(&mut tracked) => {
                crate::metrics::METRICS.command_ended(sandbox_protocol::Ended::Cancelled);
                Ok(Collected::withdrawn())
            }
        }
    }

    /// Exports (or, for `None`, unsets) variables in the session's shell, after the commands queued before.
    /// They last like an `export` typed in the session: through later commands and a replaced shell.
    pub async fn set_env(&self, vars: &[(String, Option<String>)]) -> AgentResult<()> {
        let spec = ExecSpec { command: script::assignments(vars), internal: true, ..ExecSpec::default() };
        let collected = self.exec(spec, 64 * 1024).await?;
        if collected.outcome.exit_code == 0 {
            return Ok(());
        }
        let detail = String::from_utf8_lossy(collected.stderr.bytes()).trim().to_string();
        Err(AgentError::invalid(format!("the shell refused the variables: {detail}")))
    }

    /// Runs a command and streams its output. Dropping the receiver kills the command.
    pub fn exec_stream(&self, spec: ExecSpec) -> AgentResult<mpsc::Receiver<StreamItem>> {
        let (tx, rx) = mpsc::channel(16);
        self.submit(Job { spec, sink: Sink::Stream(tx) })?;
        Ok(rx)
    }

    fn submit(&self, job: Job) -> AgentResult<()> {
        if *self.terminated.borrow() {
            return Err(self.gone());
        }
        self.jobs.send(job).map_err(|_| self.gone())
    }

    fn gone(&self) -> AgentError {
        AgentError::session_not_found(&self.id)
    }

    /// The shell's working directory on this machine, as of its last command.
    pub fn cwd(&self) -> PathBuf {
        self.lock().cwd.clone()
    }

    pub fn info(&self) -> SessionInfo {
        let state = self.lock();
        SessionInfo {
            success: true,
            id: self.id.clone(),
            name: self.name.clone(),
            cwd: self.workspace.to_visible(&state.cwd).to_string_lossy().into_owned(),
            status: if state.busy { SessionStatus::Busy } else { SessionStatus::Idle },
            created_at: iso(self.created_at),
            last_used_at: iso(state.last_used),
            command_count: state.history.total(),
            command_timeout_ms: self.command_timeout.map(|d| d.as_millis() as u64),
            limits: (!self.limits.is_empty()).then_some(self.limits),
            usage: self.usage(),
        }
    }

    /// What the session's processes use now: its shells' cgroups together (none without cgroups).
    pub fn usage(&self) -> Option<sandbox_protocol::ResourceUsage> {
        let shells = self.shells.lock().expect("shells lock");
        let mut groups = shells.all.iter().filter_map(|s| s.group.as_ref()).peekable();
        groups.peek()?;
        let mut total = sandbox_protocol::ResourceUsage::default();
        for usage in groups.map(|g| g.usage()) {
            let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            };
            total.memory_bytes = add(total.memory_bytes, usage.memory_bytes);
            total.cpu_ms = add(total.cpu_ms, usage.cpu_ms);
            total.pids = add(total.pids, usage.pids);
            total.oom_kills += usage.oom_kills;
        }
        Some(total)
    }

    pub fn history(&self) -> SessionHistory {
        let state = self.lock();
        SessionHistory {
            success: true,
            session_id: self.id.clone(),
            entries: state.history.entries(),
            total: state.history.total(),
        }
    }

    /// Kills every process of the session, grandchildren included, and stops its actor. Queued and running
    /// commands end; later calls fail with `SESSION_NOT_FOUND`.
    pub fn terminate(&self) {
        terminate_all(std::slice::from_ref(&self));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("session state lock")
    }

    fn began(&self) {
        let mut state = self.lock();
        state.busy = true;
        state.last_used = SystemTime::now();
    }

    fn ended(&self, entry: Option<HistoryEntry>, pwd: Option<&[u8]>) {
        let mut state = self.lock();
        state.busy = false;
        state.last_used = SystemTime::now();
        if let Some(cwd) = pwd.and_then(pwd_path) {
            state.cwd = cwd;
        }
        if let Some(entry) = entry {
            state.history.record(entry);
        }
    }

    /// Records the directory a new shell reported.
    fn set_cwd(&self, pwd: &[u8]) {
        if let Some(cwd) = pwd_path(pwd) {
            self.lock().cwd = cwd;
        }
    }

    /// The session's exported variables as its last finished command left them (its shell's `export -p`; empty
    /// before its shell first started), never waiting for the command it runs now. The shell writes them just
    /// after it reports a command done: a read that comes first waits for them (a few milliseconds at most).
    pub async fn exported_now(&self) -> Vec<u8> {
        let Some((files, due)) = self.state_files.lock().expect("state files lock").clone() else { return Vec::new() };
        for _ in 0..200 {
            let text = shell::exported_from(&files);
            if script::state_seq(&text).is_some_and(|seq| seq >= due) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        shell::exported_from(&files)
    }

    /// The variables the session was made with.
    /// The start of the script of a program launched from this session now (a background process, a terminal):
    /// what it inherits, the session's last exported variables (never waiting for its running command) or, before
    /// its first command, those it was created with; then `env`; then `cwd`. The one place this is decided.
    pub async fn prelude_for(&self, cwd: &Path, env: &[(String, Option<String>)]) -> Vec<u8> {
        let exports = self.exported_now().await;
        let start = if exports.is_empty() {
            Start::Fresh { env: &self.initial_env, cwd }
        } else {
            Start::Restore { exports: &exports, cwd }
        };
        prelude(&start, env)
    }

    fn set_state_files(&self, files: Arc<[std::os::fd::OwnedFd; 3]>, due: u64) {
        *self.state_files.lock().expect("state files lock") = Some((files, due));
    }

    /// The shell finished command `seq`: its state is due in the state files.
    fn state_due(&self, seq: u64) {
        if let Some((_, due)) = self.state_files.lock().expect("state files lock").as_mut() {
            *due = seq;
        }
    }

    /// Records a new shell. False when the session has been terminated meanwhile: the caller must end the shell
    /// itself (termination has already walked the process table and would not see it).
    fn add_shell(&self, shell: &shell::Shell) -> bool {
        let mut shells = self.shells.lock().expect("shells lock");
        if shells.closed {
            return false;
        }
        shells.all.push(ShellRecord { pid: shell.pid, exit: shell.exit_watch(), group: shell.group() });
        true
    }
}

/// The shells a session has had, and whether the session has been terminated: from then on no shell is added.
#[derive(Default)]
struct Shells {
    all: Vec<ShellRecord>,
    closed: bool,
}

/// A shell of a session's: its number, its exit watch (so a reaped one is known), and its cgroup when it has one.
#[derive(Clone)]
struct ShellRecord {
    pid: i32,
    exit: ExitWatch,
    group: Option<Arc<Group>>,
}

/// The shells without a cgroup as they stand now.
fn shell_refs(shells: &[ShellRecord]) -> Vec<ShellRef> {
    shells.iter().map(|s| ShellRef { pid: s.pid, reaped: s.exit.borrow().is_some() }).collect()
}

/// Terminates many sessions at once: one walk of the process table for all of them, so ending a sandbox of a
/// thousand sessions costs one scan, not a thousand.
pub fn terminate_all(sessions: &[impl std::ops::Deref<Target = Session>]) {
    close_all(sessions).kill();
}

/// Marks the sessions ended (no command starts in them from now on, a shell starting is killed as it registers)
/// and returns what is left to kill. Cheap: no process is looked for.
pub fn close_all(sessions: &[impl std::ops::Deref<Target = Session>]) -> Remains {
    let mut shells = Vec::new();
    for session in sessions {
        let mut recorded = session.shells.lock().expect("shells lock");
        recorded.closed = true;
        session.terminated.send_replace(true);
        shells.extend(recorded.all.iter().cloned());
    }
    Remains { shells }
}

/// The shells of ended sessions and everything they started, still to be killed.
#[must_use = "what an ended session left runs until killed"]
pub struct Remains {
    shells: Vec<ShellRecord>,
}

impl Remains {
    /// SIGKILL to everything of each shell at once: its cgroup's members (`cgroup.kill`), or, for a shell without
    /// one, its process group (the shell, its commands and their jobs, unless they left the group), without
    /// walking /proc; `kill` then finds the rest. A shell not yet reaped still owns its group's number, so the
    /// signal cannot reach anyone else's.
    pub fn kill_groups(&self) {
        for shell in &self.shells {
            match &shell.group {
                Some(group) => {
                    let _ = group.kill();
                }
                None if shell.exit.borrow().is_none() => {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(shell.pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                None => {}
            }
        }
    }

    /// Kills them all and returns once none is left, removing their cgroups (blocking).
    pub fn kill(self) {
        let (grouped, scanned): (Vec<ShellRecord>, Vec<ShellRecord>) =
            self.shells.into_iter().partition(|s| s.group.is_some());
        for group in grouped.iter().filter_map(|s| s.group.as_ref()) {
            group.remove();
        }
        if !scanned.is_empty() {
            // Whether each shell has been reaped is read anew before every snapshot.
            Scan::new(|| {
                let refs = shell_refs(&scanned);
                move |all: &[ProcStat]| session_processes(all, &refs)
            })
            .kill_until_gone();
        }
    }
}

/// A directory as the shell reported it (`$PWD` bytes); nothing when it reported none.
fn pwd_path(pwd: &[u8]) -> Option<PathBuf> {
    (!pwd.is_empty()).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(pwd)))
}
