//! One background process: the program, its pipes, its log ring, and the truth about its state.
//!
//! A collector task reads stdout and stderr into the ring as they are written and learns the end from the reaper:
//! the status says `completed`, `failed` or `killed` only after the process was reaped, with its real exit status
//! or signal, and only after what it had written by then is in the ring. Output its descendants write after that
//! still reaches the ring (the log), not a live stream, which ends with the process.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use nix::sys::signal::Signal;
use sandbox_protocol::{ErrorCode, ProcessInfo, ProcessStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::watch;

use super::ring::{Piece, Ring, Stream, StreamLog};
use crate::clock::iso;
use crate::contain::{Group, Whole};
use crate::error::{AgentError, AgentResult};
use crate::output::incomplete_tail_start;
use crate::process::fds::{pipe, proc_path, Pending};
use crate::process::kill::{end_gently, KillSet, Scan};
use crate::process::launch::{Launch, Launched, OwnGroup};
use crate::process::reaper::{ended, Exit, ExitWatch, Reaper};
use crate::process::tree::{session_processes, ProcStat, ShellRef};
use sandbox_protocol::Limits;

/// The variable every background process and its descendants carry: its id, so that the agent finds a
/// descendant that left the process group and its parent (a double fork with `setsid`) when it kills the process.
pub const MARK_ENV: &str = "SANDBOX_PROCESS_ID";

/// What a process is started with (checked by the caller).
pub struct Spawn<'a> {
    pub id: String,
    pub command: String,
    /// The shell text that sets its variables and directory before the command runs.
    pub prelude: Vec<u8>,
    pub cwd: &'a Path,
    pub session_id: Option<String>,
    pub ring_bytes: usize,
    /// What it and all it starts may use together (checked, and enforceable here).
    pub limits: Limits,
}

pub struct Proc {
    pub id: String,
    pub pid: i32,
    pub command: String,
    pub session_id: Option<String>,
    pub started_at: SystemTime,
    state: Mutex<State>,
    /// Bumped whenever output arrives or the status changes; streams and waits watch it.
    changed: watch::Sender<u64>,
    stdin: tokio::sync::Mutex<Option<pipe::Sender>>,
    exit: ExitWatch,
    /// The start script, open until the process has ended (bash reads it by path while it runs).
    _script: OwnedFd,
    /// Its cgroup, holding it and everything it starts (`contain`); none where cgroups are not used.
    group: Option<Arc<Group>>,
    limits: Limits,
}

struct State {
    status: ProcessStatus,
    ended_at: Option<SystemTime>,
    exit: Option<Exit>,
    ring: Ring,
    /// Each stream's incomplete UTF-8 tail, held until its next bytes complete it (so every chunk in the ring
    /// decodes on its own).
    held: [Vec<u8>; 2],
}

impl Proc {
    /// Starts the process and its collector. The script is `prelude`, then `exec bash -c <command>`.
    pub fn spawn(reaper: &Reaper, spawn: Spawn<'_>) -> std::io::Result<Arc<Proc>> {
        let mut script = spawn.prelude;
        script.extend_from_slice(b"\nexec bash --norc --noprofile -c ");
        script.extend_from_slice(crate::process::prelude::quote(spawn.command.as_bytes()).as_bytes());
        script.push(b'\n');
        let script_fd = crate::process::fds::memfile("process", &script)?;
        let (stdin_read, stdin_write) = pipe()?;
        let (out_read, out_write) = pipe()?;
        let (err_read, err_write) = pipe()?;
        let group = crate::contain::current().new_group("process");
        if !spawn.limits.is_empty() {
            // Set before it starts: nothing of it runs unbounded.
            let applied = match &group {
                Some(group) => group.apply(&spawn.limits),
                None => Err("no cgroup could be made for it".to_string()),
            };
            if let Err(why) = applied {
                if let Some(group) = &group {
                    group.remove();
                }
                return Err(std::io::Error::other(format!("its limits could not be set: {why}")));
            }
        }
        let mut launch = Launch::new("bash").in_dir(spawn.cwd).with(OwnGroup);
        if let Some(group) = &group {
            launch = launch.with(group.join());
        }
        launch
            .command()
            .args(["--norc", "--noprofile", &proc_path(&script_fd)])
            .stdin(Stdio::from(stdin_read))
            .stdout(Stdio::from(out_write))
            .stderr(Stdio::from(err_write))
            .env(MARK_ENV, &spawn.id);
        let started_at = SystemTime::now();
        // The write ends are the child's now (the launch closes ours), so EOF means every writer is gone.
        let Launched { pid, exit } = launch.spawn(reaper).inspect_err(|_| {
            if let Some(group) = &group {
                group.remove();
            }
        })?;
        let (changed, _) = watch::channel(0);
        let proc = Arc::new(Proc {
            id: spawn.id,
            pid,
            command: spawn.command,
            session_id: spawn.session_id,
            started_at,
            state: Mutex::new(State {
                status: ProcessStatus::Running,
                ended_at: None,
                exit: None,
                ring: Ring::new(spawn.ring_bytes),
                held: [Vec::new(), Vec::new()],
            }),
            changed,
            stdin: tokio::sync::Mutex::new(Some(pipe::Sender::from_owned_fd(stdin_write)?)),
            exit: exit.clone(),
            _script: script_fd,
            group,
            limits: spawn.limits,
        });
        let out = pipe::Receiver::from_owned_fd(out_read)?;
        let err = pipe::Receiver::from_owned_fd(err_read)?;
        tokio::spawn(collect(Arc::clone(&proc), out, err, exit));
        Ok(proc)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("process state lock")
    }

    pub fn status(&self) -> ProcessStatus {
        self.lock().status
    }

    pub fn info(&self) -> ProcessInfo {
        let state = self.lock();
        ProcessInfo {
            id: self.id.clone(),
            pid: self.pid,
            command: self.command.clone(),
            status: state.status,
            start_time: iso(self.started_at),
            end_time: state.ended_at.map(iso),
            exit_code: state.exit.map(Exit::shell_code),
            signal: match state.exit {
                Some(Exit::Signal(n)) => Some(signal_name(n)),
                _ => None,
            },
            session_id: self.session_id.clone(),
            // SIGKILLed, and its memory limit killed a process of its: the limit killed it.
            oom_killed: self.limits.memory_bytes.is_some()
                && matches!(state.exit, Some(Exit::Signal(9)))
                && self.group.as_ref().is_some_and(|g| g.oom_kills() > 0),
            limits: (!self.limits.is_empty()).then_some(self.limits),
        }
    }

    /// A receiver that sees every change (output, status); mark it seen before reading, then wait on it.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The output from offset `from` on (at most about `max` bytes), the bytes from `from` on that were dropped,
    /// and, when nothing is left to read and the process has ended, how it ended.
    pub fn read_from(&self, from: u64, max: usize) -> (u64, Vec<Piece>, Option<ProcessInfo>) {
        let (dropped, pieces, ended) = {
            let state = self.lock();
            let (dropped, pieces) = state.ring.read_from(from, max);
            (dropped, pieces, state.status.ended())
        };
        let done = (ended && pieces.is_empty()).then(|| self.info());
        (dropped, pieces, done)
    }

    pub fn logs(&self) -> (StreamLog, StreamLog) {
        let state = self.lock();
        (state.ring.stream(Stream::Stdout), state.ring.stream(Stream::Stderr))
    }

    /// Writes to the process's stdin; `end` closes it afterwards. Refused once it is closed or the process ended.
    pub async fn write_stdin(&self, bytes: &[u8], end: bool) -> AgentResult<usize> {
        let mut stdin = self.stdin.lock().await;
        let Some(pipe) = stdin.as_mut() else {
            return Err(not_running(&self.id, "its stdin is closed"));
        };
        if self.status().ended() {
            *stdin = None;
            return Err(not_running(&self.id, "it has ended"));
        }
        if let Err(err) = pipe.write_all(bytes).await {
            *stdin = None;
            return Err(not_running(&self.id, &format!("its stdin is closed ({err})")));
        }
        if end {
            *stdin = None;
        }
        Ok(bytes.len())
    }

    /// Whether its stdin was closed.
    pub async fn stdin_closed(&self) -> bool {
        self.stdin.lock().await.is_none()
    }

    /// Ends the process and everything it started: `first` to every process of its tree, then, for those still
    /// there after `grace`, SIGKILL (each stopped first, so a tree that forks cannot outrun it). Returns once the
    /// tree is gone and the process reaped (or after a bounded wait if the reaper is slow).
    pub async fn kill(self: &Arc<Self>, first: Signal, grace: Duration) {
        end_gently(Arc::from(self.processes()), first, grace).await;
        if let Some(group) = self.group.clone() {
            let _ = tokio::task::spawn_blocking(move || group.remove()).await;
        }
        let mut exit = self.exit.clone();
        let _ = tokio::time::timeout(Duration::from_secs(5), ended(&mut exit)).await;
        // The collector marks the end; wait for it (briefly), so the answer shows the final status.
        let mut changes = self.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while !self.status().ended() {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// Its processes, as a set to kill: its cgroup's members; where it has none, itself until reaped, its
    /// process group while the number is still its own, their descendants, and the processes that carry its mark
    /// and were left to the agent (a double fork), with theirs.
    pub fn processes(self: &Arc<Self>) -> Box<dyn KillSet + 'static> {
        if let Some(group) = &self.group {
            return Box::new(Whole(Arc::clone(group)));
        }
        let this = Arc::clone(self);
        Box::new(Scan::new(move || {
            let me = ShellRef { pid: this.pid, reaped: this.exit.borrow().is_some() };
            let this = Arc::clone(&this);
            move |all: &[ProcStat]| this.tree_in(all, me)
        }))
    }

    /// Kills everything of it at once and waits until it is gone (blocking): the sandbox's end.
    pub fn end_now(&self) {
        match &self.group {
            Some(group) => group.remove(),
            None => {
                let me = ShellRef { pid: self.pid, reaped: self.exit.borrow().is_some() };
                Scan::new(|| move |all: &[ProcStat]| self.tree_in(all, me)).kill_until_gone();
            }
        }
    }

    fn tree_in(&self, all: &[ProcStat], me: ShellRef) -> Vec<i32> {
        let mut pids = session_processes(all, &[me]);
        let agent = std::process::id() as i32;
        let orphans: Vec<i32> = all
            .iter()
            .filter(|p| p.ppid == agent && p.pid != self.pid && !pids.contains(&p.pid))
            .filter(|p| carries_mark(p.pid, &self.id))
            .map(|p| p.pid)
            .collect();
        for orphan in orphans {
            pids.push(orphan);
            pids.extend(crate::process::tree::descendants_of(all, orphan));
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }
}

/// Whether process `pid` carries `MARK_ENV=<id>` in its environment.
fn carries_mark(pid: i32, id: &str) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { return false };
    let wanted = format!("{MARK_ENV}={id}");
    environ.split(|b| *b == 0).any(|entry| entry == wanted.as_bytes())
}

fn not_running(id: &str, why: &str) -> AgentError {
    AgentError::new(ErrorCode::ProcessNotRunning, format!("process {id} takes no input: {why}"))
}

/// `SIGTERM` for 15, and so on.
pub fn signal_name(n: i32) -> String {
    Signal::try_from(n).map(|s| s.as_str().to_string()).unwrap_or_else(|_| format!("signal {n}"))
}

/// Reads the process's output into its ring until both pipes close, and records its end when the reaper has it.
async fn collect(proc: Arc<Proc>, mut out: pipe::Receiver, err: pipe::Receiver, mut exit: ExitWatch) {
    let mut out_buf = vec![0u8; 64 * 1024];
    let mut err_buf = vec![0u8; 16 * 1024];
    let (mut out_open, mut err_open, mut done) = (true, true, false);
    while out_open || err_open || !done {
        tokio::select! {
            read = out.read(&mut out_buf), if out_open => match read {
                Ok(n) if n > 0 => append(&proc, Stream::Stdout, &out_buf[..n]),
                _ => {
                    out_open = false;
                    flush(&proc, Stream::Stdout);
                }
            },
            ready = err.readable(), if err_open => {
                // When both pipes hold bytes, which were written first is unknowable; stdout's go first, so a
                // process that writes its output and then its error keeps that order (and a full ring drops the
                // output before the error, not the error behind output read after it).
                if out_open {
                    take_pending(&proc, &out, Stream::Stdout, &mut out_buf);
                }
                match ready.and_then(|()| err.try_read(&mut err_buf)) {
                    Ok(n) if n > 0 => append(&proc, Stream::Stderr, &err_buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    _ => {
                        err_open = false;
                        flush(&proc, Stream::Stderr);
                    }
                }
            },
            how = ended(&mut exit), if !done => {
                // What it wrote before it ended is in the ring before the end is told.
                take_pending(&proc, &out, Stream::Stdout, &mut out_buf);
                take_pending(&proc, &err, Stream::Stderr, &mut err_buf);
                flush(&proc, Stream::Stdout);
                flush(&proc, Stream::Stderr);
                finish(&proc, how);
                done = true;
            },
        }
    }
}

/// Moves what a pipe holds right now into the ring, asking the kernel (Tokio's readiness can lag behind it).
fn take_pending(proc: &Proc, reader: &pipe::Receiver, stream: Stream, buf: &mut [u8]) {
    let mut pending = Pending::of(reader);
    while let Some(n) = pending.read(reader, buf) {
        append(proc, stream, &buf[..n]);
    }
}

fn append(proc: &Proc, stream: Stream, bytes: &[u8]) {
    {
        let mut state = proc.lock();
        let i = stream as usize;
        let mut whole = std::mem::take(&mut state.held[i]);
        whole.extend_from_slice(bytes);
        let cut = incomplete_tail_start(&whole);
        state.held[i] = whole.split_off(cut);
        state.ring.push(stream, &whole);
    }
    proc.notify();
}

fn flush(proc: &Proc, stream: Stream) {
    {
        let mut state = proc.lock();
        let held = std::mem::take(&mut state.held[stream as usize]);
        state.ring.push(stream, &held);
    }
    proc.notify();
}

fn finish(proc: &Proc, how: Exit) {
    {
        let mut state = proc.lock();
        state.exit = Some(how);
        state.ended_at = Some(SystemTime::now());
        state.status = match how {
            Exit::Code(0) => ProcessStatus::Completed,
            Exit::Code(_) => ProcessStatus::Failed,
            Exit::Signal(_) => ProcessStatus::Killed,
        };
    }
    tracing::info!(process = %proc.id, pid = proc.pid, exit = how.shell_code(), "background process ended");
    proc.notify();
}
