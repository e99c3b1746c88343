//! One session's bash process: spawning it, handing it commands, and reading its reports. What a command's output
//! becomes is the actor's business; this file only owns the process and its pipes.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

use super::control::{ControlParser, Report};
use super::script::{latest_state, runner_line, wrapper, CommandPaths, Scope, STATUS_FILE};
use crate::contain::{Chosen, Group};
use crate::process::fds::{grow_pipe, memfile, pipe, proc_path, read_file, read_now};
use crate::process::kill::{KillSet, Scan};
use crate::process::launch::{Launch, Launched, OwnGroup};
use crate::process::reaper::{ended, exited, ExitWatch, Reaper};
use crate::process::tree::{
    command_members, command_processes, now_ticks, session_processes, stat_of, ProcStat, ShellRef,
};

pub struct Shell {
    pub pid: i32,
    stdin: pipe::Sender,
    /// The shell's reports.
    control: ControlReader,
    /// What the shell opens by path, for as long as it lives.
    files: Arc<ByPath>,
    exit: ExitWatch,
    seq: u64,
    /// The shell's cgroup, holding it and everything it starts (`contain`); none where cgroups are not used.
    group: Option<Arc<Group>>,
    /// The cgroup's members as the last command left them (`note_members`), for the next command's start.
    next_before: Option<HashSet<(i32, u64)>>,
}

/// The files a shell opens by path, `/proc/<agent>/fd/<n>`, whenever it runs a command and once more as it ends.
/// A path names a number, and the kernel gives a closed number to the next file the agent opens: were these
/// closed before the shell is gone, its last words (the EXIT trap runs after the agent let go of the shell) would
/// land in whatever took the number, another sandbox's command text, output pipe or input. So they outlive the
/// `Shell` until its process has been reaped (`Drop`).
struct ByPath {
    /// Kept open so the shell can reopen the control pipe by path, and so the pipe never reads as closed: the
    /// shell's end is known from the reaper, not from EOF.
    control_write: OwnedFd,
    /// The shell's state files: after each command it rewrites its exported variables into one of the first two,
    /// in turn, so one always holds the last whole state while the other is rewritten; the EXIT trap writes the
    /// third (`script::latest_state` picks). Shared with the session, which reads them for a background
    /// process's start without waiting for the shell.
    states: Arc<[OwnedFd; 3]>,
    /// Sourced before each command to give it the previous command's `$?` (`script::STATUS_FILE`).
    status: OwnedFd,
}

/// What the shell does next while a command runs: a report, or its own end (with its exit code).
pub enum ShellEvent {
    Report(Report),
    Exited(i32),
}

/// Reads and parses the control pipe.
struct ControlReader {
    pipe: pipe::Receiver,
    parser: ControlParser,
    reports: VecDeque<Report>,
}

/// A command handed to the shell and not yet finished.
pub struct Running {
    pub seq: u64,
    pub stdout: pipe::Receiver,
    pub stderr: pipe::Receiver,
    /// Clock ticks at the start: processes younger than this belong to the command (where there is no cgroup).
    since_ticks: u64,
    /// The members of the shell's cgroup at the start, by number and start time: the others belong to the command.
    before: HashSet<(i32, u64)>,
    /// The agent's copies of the write ends, held until the shell has opened them by path.
    writers: [OwnedFd; 2],
    /// The command's text and its wrapper, open until the shell has read them.
    _scripts: [OwnedFd; 2],
}

impl Shell {
    /// Starts `bash --norc --noprofile` in its own process group (and its own cgroup, where they are used), in
    /// `cwd`.
    pub fn spawn(reaper: &Reaper, cwd: &Path) -> io::Result<Shell> {
        let (stdin_read, stdin_write) = pipe()?;
        let (control_read, control_write) = pipe()?;
        let group = crate::contain::current().new_group("shell");
        let mut launch = Launch::new("bash").in_dir(cwd).with(OwnGroup);
        if let Some(group) = &group {
            launch = launch.with(group.join());
        }
        launch
            .command()
            .args(["--norc", "--noprofile"])
            .stdin(Stdio::from(stdin_read))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let states = Arc::new([memfile("state", b"")?, memfile("state", b"")?, memfile("exit-state", b"")?]);
        let status = memfile("status", STATUS_FILE)?;
        let Launched { pid, exit } = match launch.spawn(reaper) {
            Ok(launched) => launched,
            Err(err) => {
                if let Some(group) = &group {
                    group.remove();
                }
                return Err(err);
            }
        };
        Ok(Shell {
            pid,
            stdin: pipe::Sender::from_owned_fd(stdin_write)?,
            control: ControlReader {
                pipe: pipe::Receiver::from_owned_fd(control_read)?,
                parser: ControlParser::default(),
                reports: VecDeque::new(),
            },
            files: Arc::new(ByPath { control_write, states, status }),
            exit,
            seq: 0,
            group,
            next_before: None,
        })
    }

    /// The path the shell writes its reports to.
    pub fn control_path(&self) -> String {
        proc_path(&self.files.control_write)
    }

    /// The path of the state file the EXIT trap writes.
    pub fn exit_state_path(&self) -> String {
        proc_path(&self.files.states[2])
    }

    /// The exported variables as the shell last wrote them (`export -p` text; empty before its first report).
    pub fn exported(&self) -> Vec<u8> {
        exported_from(&self.files.states)
    }

    /// The state files, for the session to read the exported variables from at any time.
    pub fn state_files(&self) -> Arc<[OwnedFd; 3]> {
        Arc::clone(&self.files.states)
    }

    /// Hands the shell a command's text; its output arrives on the returned pipes. `user`: a command of the
    /// user's, whose status the next command's `$?` shows.
    pub async fn start(&mut self, script: &[u8], scope: &Scope<'_>, user: bool) -> io::Result<Running> {
        self.seq += 1;
        let script = memfile("command", script)?;
        let (out_read, out_write) = pipe()?;
        let (err_read, err_write) = pipe()?;
        grow_pipe(&out_read, 1 << 20);
        let wrapper = wrapper(
            self.seq,
            &CommandPaths {
                script: &proc_path(&script),
                stdout: &proc_path(&out_write),
                stderr: &proc_path(&err_write),
                control: &self.control_path(),
                state: &proc_path(&self.files.states[(self.seq % 2) as usize]),
                status: &proc_path(&self.files.status),
            },
            scope,
            user,
        );
        let wrapper = memfile("run", wrapper.as_bytes())?;
        let since_ticks = now_ticks();
        let before = self.next_before.take().unwrap_or_else(|| self.members_now());
        self.stdin.write_all(runner_line(&proc_path(&wrapper)).as_bytes()).await?;
        Ok(Running {
            seq: self.seq,
            stdout: pipe::Receiver::from_owned_fd(out_read)?,
            stderr: pipe::Receiver::from_owned_fd(err_read)?,
            since_ticks,
            before,
            writers: [out_write, err_write],
            _scripts: [script, wrapper],
        })
    }

    /// Whether the shell process has already ended.
    pub fn has_exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    /// The shell as the process-tree functions know it, reaped or not as of now.
    pub fn reference(&self) -> ShellRef {
        ShellRef { pid: self.pid, reaped: self.has_exited() }
    }

    /// The watch on the shell's end, for its session (which kills what is left when it is ended).
    pub fn exit_watch(&self) -> ExitWatch {
        self.exit.clone()
    }

    /// Notes the members of the shell's cgroup now, between commands, as the next command's `before`: between
    /// two commands the shell starts nothing, and what an earlier job starts meanwhile descends from it. Called
    /// once the last command's answer is on its way, so the next command's start does not read them (a read of
    /// `cgroup.procs` costs about as much as a tenth of a whole `exec`).
    pub fn note_members(&mut self) {
        if self.group.is_some() {
            self.next_before = Some(self.members_now());
        }
    }

    /// The members of the shell's cgroup other than the shell, by number and start time (none without a cgroup).
    fn members_now(&self) -> HashSet<(i32, u64)> {
        let Some(group) = &self.group else { return HashSet::new() };
        group
            .members()
            .into_iter()
            .filter(|&pid| pid != self.pid)
            .filter_map(stat_of)
            .map(|p| (p.pid, p.start_ticks))
            .collect()
    }

    /// The shell's cgroup, for its session (which kills and removes it when it is ended).
    pub fn group(&self) -> Option<Arc<Group>> {
        self.group.clone()
    }

    /// The shell's next report, or its end. Cancel-safe: nothing read is lost when the future is dropped.
    pub async fn next_event(&mut self) -> ShellEvent {
        tokio::select! {
            report = self.control.next_report() => ShellEvent::Report(report),
            code = exited(&mut self.exit) => ShellEvent::Exited(code),
        }
    }

    /// Reports the shell wrote and nobody read yet, without waiting (after its end).
    pub fn reports_left(&mut self) -> Vec<Report> {
        self.control.pending_reports()
    }

    /// Asks the shell to abandon `running` (its USR1 trap) and sends SIGINT to the command's processes, as a
    /// Ctrl-C would. Never a signal to a number that is no longer the shell's: once reaped, the pid may be
    /// someone else's.
    pub fn interrupt(&self, running: &Running) {
        if !self.has_exited() {
            if let Err(err) = kill(Pid::from_raw(self.pid), Signal::SIGUSR1) {
                tracing::debug!(%err, "the shell did not take the interrupt");
            }
        }
        self.interrupt_processes(running);
    }

    /// SIGINT to the processes `running` started (the shell spared).
    pub fn interrupt_processes(&self, running: &Running) {
        self.command_processes(running).signal(Signal::SIGINT);
    }

    /// Kills what is left of `running`: the processes it started, the shell itself spared, with `hold` run while
    /// they are stopped, before any is killed.
    pub fn kill_command_holding(&self, running: &Running, hold: &mut dyn FnMut()) {
        self.command_processes(running).kill_holding(hold);
    }

    /// Kills the shell and every process it started (its cgroup's all, and the cgroup goes too).
    pub fn kill_all(&self) {
        match &self.group {
            Some(group) => group.remove(),
            None => {
                Scan::new(|| {
                    let me = self.reference();
                    move |all: &[ProcStat]| session_processes(all, &[me])
                })
                .kill_until_gone();
            }
        }
    }

    /// The processes `running` started, the shell spared, as a set to kill: chosen among the cgroup's members
    /// while it is frozen, or from `/proc` where there is none.
    fn command_processes<'a>(&'a self, running: &'a Running) -> Box<dyn KillSet + 'a> {
        let since = running.since_ticks;
        match &self.group {
            Some(group) => {
                let shell = self.pid;
                let before = &running.before;
                Box::new(Chosen::new(Arc::clone(group), move |members: &[ProcStat]| {
                    command_members(members, shell, before)
                }))
            }
            None => Box::new(Scan::new(move || {
                let me = self.reference();
                move |all: &[ProcStat]| command_processes(all, me, since)
            })),
        }
    }
}

impl Drop for Shell {
    /// Closes the shell's input (a live shell reads its end and exits) but keeps the files it opens by path until
    /// it has been reaped (`ByPath`).
    fn drop(&mut self) {
        if self.has_exited() {
            return;
        }
        let files = Arc::clone(&self.files);
        let mut exit = self.exit.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    ended(&mut exit).await;
                    drop(files);
                });
            }
            // No runtime: the agent is ending, and the shell with it. The numbers are never given out again.
            Err(_) => std::mem::forget(files),
        }
    }
}

/// The exported variables in a shell's state files, as it last wrote them whole (`export -p` text; empty before
/// its first report).
pub fn exported_from(states: &[OwnedFd; 3]) -> Vec<u8> {
    let files: Vec<Vec<u8>> = states.iter().map(|f| read_file(f).unwrap_or_default()).collect();
    latest_state(&[&files[0], &files[1], &files[2]]).to_vec()
}

impl ControlReader {
    /// The next report. Cancel-safe: nothing read is lost when the future is dropped.
    async fn next_report(&mut self) -> Report {
        let mut buf = [0u8; 8192];
        loop {
            if let Some(report) = self.reports.pop_front() {
                return report;
            }
            match self.pipe.read(&mut buf).await {
                Ok(0) | Err(_) => std::future::pending::<()>().await,
                Ok(n) => {
                    let mut out = Vec::new();
                    self.parser.push(&buf[..n], &mut out);
                    self.reports.extend(out);
                }
            }
        }
    }

    /// Reports already written but not yet read, without waiting.
    fn pending_reports(&mut self) -> Vec<Report> {
        let mut buf = [0u8; 8192];
        while let Ok(n) = read_now(&self.pipe, &mut buf) {
            if n == 0 {
                break;
            }
            let mut out = Vec::new();
            self.parser.push(&buf[..n], &mut out);
            self.reports.extend(out);
        }
        self.reports.drain(..).collect()
    }
}

impl Running {
    /// Ends the command's hold on its pipes. Output that background processes write later is read and discarded,
    /// so they neither block nor die of SIGPIPE, and it never reaches another command.
    pub fn finish(self) {
        drop(self.writers);
        for reader in [self.stdout, self.stderr] {
            let mut buf = [0u8; 1];
            match read_now(&reader, &mut buf) {
                Ok(0) => {}
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => {}
                _ => {
                    tokio::spawn(discard(reader));
                }
            }
        }
    }
}

async fn discard(mut reader: pipe::Receiver) {
    let mut buf = vec![0u8; 16384];
    while let Ok(n) = reader.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}
