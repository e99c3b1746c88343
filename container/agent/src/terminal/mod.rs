//! Terminals: an interactive bash on a pseudo-terminal, which outlives the WebSocket it is viewed through.
//!
//! A reader task copies the terminal's output into a bounded scrollback and to every attached viewer. Attaching
//! takes the scrollback and subscribes under one lock, so a viewer that reattaches sees the screen's recent past and
//! then everything after it, nothing twice and nothing missed. Input from every viewer goes to the terminal as it
//! comes (two viewers typing interleave, as on a shared screen). A terminal nobody has been attached to for the idle
//! time is ended, with its whole session.

mod pty;

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use sandbox_protocol::{ErrorCode, PtyInfo};
use tokio::sync::{broadcast, watch};

use crate::clock::iso;
use crate::contain::Group;
use crate::error::{AgentError, AgentResult};
use crate::process::kill::{KillSet, Scan};
use crate::process::reaper::{ended, ExitWatch, Reaper};
use crate::process::tree::{session_processes, ProcStat, ShellRef};

pub use pty::Master;

/// The agent's settings for terminals (its flags).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// How much recent output a reattaching viewer gets first.
    pub scrollback_bytes: usize,
    /// How long a terminal may have no viewer before it is ended.
    pub idle: Duration,
    /// Most terminals one sandbox may have.
    pub max_terminals: usize,
    /// How often a viewer is pinged: traffic that keeps proxies from closing a quiet WebSocket (Cloudflare's edge
    /// closes one idle for 100 s). A viewer that sends nothing, not even a pong, for three of these is let go.
    pub ping: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            scrollback_bytes: 1024 * 1024,
            idle: Duration::from_secs(10 * 60),
            max_terminals: 32,
            ping: Duration::from_secs(30),
        }
    }
}

pub struct Terminal {
    pub id: String,
    pub pid: i32,
    pub session_id: Option<String>,
    pub created_at: SystemTime,
    pub master: Master,
    state: Mutex<State>,
    output: broadcast::Sender<Bytes>,
    exit: ExitWatch,
    /// The shell's end code, once its output is all read.
    ended: watch::Sender<Option<i32>>,
    _rcfile: OwnedFd,
    /// Its cgroup, holding its shell and everything started there (`contain`); none where cgroups are not used.
    group: Option<Arc<Group>>,
}

struct State {
    scrollback: VecDeque<u8>,
    cap: usize,
    cols: u16,
    rows: u16,
    attached: usize,
    /// When the last viewer left (or the terminal started with none).
    alone_since: Option<Instant>,
}

/// What a viewer gets when it attaches: the recent output, then the live output, and the end; it counts as
/// attached while `viewer` lives.
pub struct Attached {
    pub scrollback: Vec<u8>,
    pub live: broadcast::Receiver<Bytes>,
    pub ended: watch::Receiver<Option<i32>>,
    pub viewer: Viewer,
}

pub struct Viewer {
    terminal: Arc<Terminal>,
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let mut state = self.terminal.lock();
        state.attached -= 1;
        if state.attached == 0 {
            state.alone_since = Some(Instant::now());
        }
    }
}

impl Terminal {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("terminal lock")
    }

    pub fn attach(self: &Arc<Self>) -> Attached {
        let mut state = self.lock();
        state.attached += 1;
        state.alone_since = None;
        Attached {
            scrollback: state.scrollback.iter().copied().collect(),
            live: self.output.subscribe(),
            ended: self.ended.subscribe(),
            viewer: Viewer { terminal: Arc::clone(self) },
        }
    }

    pub fn resize(&self, cols: u16, rows: u16) -> std::io::Result<()> {
        self.master.resize(cols, rows)?;
        let mut state = self.lock();
        (state.cols, state.rows) = (cols, rows);
        Ok(())
    }

    pub fn info(&self) -> PtyInfo {
        let state = self.lock();
        PtyInfo {
            id: self.id.clone(),
            pid: self.pid,
            cols: state.cols,
            rows: state.rows,
            attached: state.attached,
            created_at: iso(self.created_at),
            session_id: self.session_id.clone(),
        }
    }

    fn is_ended(&self) -> bool {
        self.ended.borrow().is_some()
    }

    /// Ends the shell and everything started there: its cgroup's members, or where it has none, everything in its
    /// session (its process group, their descendants).
    pub fn end(&self) {
        match &self.group {
            Some(group) => group.remove(),
            None => {
                self.processes().kill_until_gone();
            }
        }
    }

    /// Its shell and everything in its session, as a set to kill.
    fn processes(&self) -> impl KillSet + '_ {
        Scan::new(|| {
            let me = ShellRef { pid: self.pid, reaped: self.exit.borrow().is_some() };
            move |all: &[ProcStat]| {
                let mut pids = session_processes(all, &[me]);
                pids.extend(all.iter().filter(|p| p.sid == me.pid).map(|p| p.pid));
                pids.sort_unstable();
                pids.dedup();
                pids
            }
        })
    }
}

/// One sandbox's terminals.
pub struct Terminals {
    table: Arc<Mutex<Vec<Arc<Terminal>>>>,
    reaper: Arc<Reaper>,
    settings: Settings,
}

impl Terminals {
    pub fn new(reaper: Arc<Reaper>, settings: Settings) -> Terminals {
        Terminals { table: Arc::default(), reaper, settings }
    }

    /// How often a viewer is pinged (`Settings::ping`).
    pub fn ping(&self) -> Duration {
        self.settings.ping
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Terminal>>> {
        self.table.lock().expect("terminal table lock")
    }

    /// Starts a terminal of `cols` x `rows` in `cwd`, its shell first running `prelude` (variables, directory).
    pub fn open(
        &self,
        cols: u16,
        rows: u16,
        cwd: &Path,
        prelude: &[u8],
        session_id: Option<String>,
    ) -> AgentResult<Arc<Terminal>> {
        let mut table = self.lock();
        table.retain(|t| !t.is_ended());
        if table.len() >= self.settings.max_terminals {
            return Err(AgentError::new(
                ErrorCode::ResourceExhausted,
                format!("the sandbox has {} terminals open, as many as it may", table.len()),
            ));
        }
        let mut rc = prelude.to_vec();
        rc.extend_from_slice(b"\nPS1='\\u@sandbox:\\w\\$ '\n");
        let rcfile =
            crate::process::fds::memfile("terminal-rc", &rc).map_err(|e| AgentError::internal(e.to_string()))?;
        let group = crate::contain::current().new_group("terminal");
        let rc_path = crate::process::fds::proc_path(&rcfile);
        let (pid, exit, master) =
            pty::spawn(&self.reaper, group.as_deref(), (cols, rows), cwd, &rc_path).map_err(|e| {
                if let Some(group) = &group {
                    group.remove();
                }
                tracing::error!(%e, "a terminal could not start");
                AgentError::internal(format!("the terminal could not start: {e}"))
            })?;
        let (output, _) = broadcast::channel(1024);
        let (ended_tx, _) = watch::channel(None);
        let terminal = Arc::new(Terminal {
            id: crate::names::random_id("pty"),
            pid,
            session_id,
            created_at: SystemTime::now(),
            master,
            state: Mutex::new(State {
                scrollback: VecDeque::new(),
                cap: self.settings.scrollback_bytes.max(1),
                cols,
                rows,
                attached: 0,
                alone_since: Some(Instant::now()),
            }),
            output,
            exit,
            ended: ended_tx,
            _rcfile: rcfile,
            group,
        });
        tracing::info!(terminal = %terminal.id, pid, "terminal started");
        table.push(Arc::clone(&terminal));
        tokio::spawn(pump(Arc::clone(&terminal)));
        tokio::spawn(watch_idle(Arc::downgrade(&terminal), self.settings.idle));
        Ok(terminal)
    }

    pub fn get(&self, id: &str) -> AgentResult<Arc<Terminal>> {
        self.lock()
            .iter()
            .find(|t| t.id == id && !t.is_ended())
            .cloned()
            .ok_or_else(|| AgentError::new(ErrorCode::PtyNotFound, format!("no terminal {id:?}")))
    }

    pub fn list(&self) -> Vec<Arc<Terminal>> {
        self.lock().iter().filter(|t| !t.is_ended()).cloned().collect()
    }

    /// Ends a terminal and its session's processes.
    pub fn end(&self, id: &str) -> AgentResult<()> {
        let terminal = self.get(id)?;
        terminal.end();
        self.lock().retain(|t| !Arc::ptr_eq(t, &terminal));
        Ok(())
    }

    /// Ends every terminal (the sandbox's end, or the agent's).
    pub fn end_all(&self) {
        for terminal in self.lock().drain(..) {
            terminal.end();
        }
    }
}

/// Copies the terminal's output to its scrollback and its viewers until every process on it is gone, then tells
/// them how the shell ended.
async fn pump(terminal: Arc<Terminal>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match terminal.master.read(&mut buf).await {
            Ok(n) if n > 0 => {
                let chunk = Bytes::copy_from_slice(&buf[..n]);
                let mut state = terminal.lock();
                state.scrollback.extend(chunk.iter());
                let over = state.scrollback.len().saturating_sub(state.cap);
                state.scrollback.drain(..over);
                // Under the lock: a viewer attaching now gets this chunk either in its scrollback or live.
                let _no_viewer = terminal.output.send(chunk);
            }
            _ => break,
        }
    }
    let mut exit = terminal.exit.clone();
    let code = match tokio::time::timeout(Duration::from_secs(5), ended(&mut exit)).await {
        Ok(how) => how.shell_code(),
        Err(_) => {
            // The terminal closed but its shell lives on (it closed its own descriptors): end it.
            terminal.end();
            ended(&mut exit).await.shell_code()
        }
    };
    tracing::info!(terminal = %terminal.id, code, "terminal ended");
    terminal.ended.send_replace(Some(code));
}

/// Ends a terminal that has had no viewer for `idle`.
async fn watch_idle(terminal: std::sync::Weak<Terminal>, idle: Duration) {
    let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    loop {
        tokio::time::sleep(tick).await;
        let Some(terminal) = terminal.upgrade() else { return };
        if terminal.is_ended() {
            return;
        }
        let alone = terminal.lock().alone_since;
        if alone.is_some_and(|since| since.elapsed() >= idle) {
            tracing::info!(terminal = %terminal.id, "no viewer for the idle time: ending the terminal");
            terminal.end();
            return;
        }
    }
}
