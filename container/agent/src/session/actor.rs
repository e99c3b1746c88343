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
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{interval, sleep_until, Instant, MissedTickBehavior};
use tracing::Instrument;

use super::cancel::{cancelled, CancelSignal};
use super::control::Report;
use super::script::{init_script, Scope, Start};
use super::shell::{Running, Shell};
use super::{Collected, ExecSpec, Job, Outcome, Session, SessionContext, Sink, StreamItem};
use crate::clock::iso;
use crate::error::{AgentError, AgentResult};
use crate::metrics::METRICS;
use crate::process::fds::{pending_bytes, read_now};
use crate::process::tree::{command_processes, kill_until_gone, session_processes, signal_each};

/// How long a new shell may take to be ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an interrupted shell has to report before it is replaced.
const INTERRUPT_GRACE: Duration = Duration::from_millis(1000);
/// How long an interrupted command's processes have to end on SIGINT before they are killed. SIGINT first, as a
/// Ctrl-C would: bash reports a foreground command killed by any other signal on the command's stderr
/// ("line 1: 123 Killed  sleep 30"), which is not the user's output.
const INTERRUPT_SOFT: Duration = Duration::from_millis(100);
/// While interrupting: how often processes the command starts anew are looked for and killed.
const REKILL_EVERY: Duration = Duration::from_millis(20);
/// Exit code of a command that hit its timeout (as `timeout(1)` reports it).
const EXIT_TIMED_OUT: i32 = 124;
/// Exit code of a command whose caller went away.
const EXIT_CANCELLED: i32 = 130;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    TimedOut,
    Cancelled,
}

/// How a command's run ended.
enum End {
    /// The shell reported the command done, and lives on; `pwd` is its directory now.
    Done { status: i32, pwd: Vec<u8> },
    /// The shell process ended; `pwd` is the directory it reported last, if it did.
    Died { code: i32, pwd: Option<Vec<u8>> },
}

struct Saved {
    pwd: Vec<u8>,
    exports: Vec<u8>,
}

struct Actor {
    session: Arc<Session>,
    context: Arc<SessionContext>,
    env: Vec<(String, String)>,
    shell: Option<Shell>,
    /// Where a replacement shell starts: the last reported directory and exported variables.
    saved: Option<Saved>,
    terminated: watch::Receiver<bool>,
    out_buf: Vec<u8>,
    err_buf: Vec<u8>,
}

pub(super) fn spawn(
    session: Arc<Session>,
    context: Arc<SessionContext>,
    env: Vec<(String, String)>,
    jobs: mpsc::UnboundedReceiver<Job>,
    ready: oneshot::Sender<AgentResult<()>>,
) {
    let terminated = session.terminated.subscribe();
    let mut actor = Actor {
        session,
        context,
        env,
        shell: None,
        saved: None,
        terminated,
        out_buf: vec![0; 64 * 1024],
        err_buf: vec![0; 16 * 1024],
    };
    tokio::spawn(async move {
        // A shell that fails to start (descriptors exhausted for a moment, say) is started again by the next
        // command: the actor serves on, so the session is never left dead.
        let started = actor.ensure_shell().await;
        let _ = ready.send(started);
        actor.serve(jobs).await;
        actor.stop();
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
            kill_until_gone(|all| session_processes(all, &[shell.reference()]));
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
        if spec.cancel.as_ref().is_some_and(|c| *c.borrow()) {
            // Cancelled while it waited its turn: it never starts.
            let soon = Some(Instant::now() + INTERRUPT_GRACE);
            sink.start(started_at, soon, &mut None).await;
            let outcome =
                Outcome { exit_code: EXIT_CANCELLED, ended: Ended::Cancelled, started_at, duration: Duration::ZERO };
            METRICS.command_ended(Ended::Cancelled);
            sink.finish(outcome, soon, &mut None).await;
            return;
        }
        let t0 = Instant::now();
        self.session.began();
        let timeout = spec.timeout.or(self.session.command_timeout).or(self.context.default_timeout);
        let deadline = timeout.filter(|t| !t.is_zero()).map(|t| t0 + t);
        let mut cancel = spec.cancel.clone();
        let end = match self.start_command(&spec).await {
            Ok(running) => {
                sink.start(started_at, deadline, &mut cancel).await;
                let shell = self.shell.as_mut().expect("a started command has a shell");
                drive(shell, running, &mut sink, deadline, cancel.clone(), &mut self.out_buf, &mut self.err_buf).await
            }
            Err(err) => {
                self.session.ended(None, None);
                sink.fail(err).await;
                return;
            }
        };
        let (end, reason, patience) = end;
        let (status, pwd) = match end {
            End::Done { status, pwd } => (status, Some(pwd)),
            End::Died { code, pwd } => {
                tracing::warn!(code, "the session's shell ended during the command; the next command gets a new one");
                METRICS.shell_lost();
                if let Some(shell) = self.shell.take() {
                    self.keep_state(&shell, pwd.clone());
                }
                (code, pwd)
            }
        };
        let (exit_code, ended) = match reason {
            Some(Reason::TimedOut) => (EXIT_TIMED_OUT, Ended::TimedOut),
            Some(Reason::Cancelled) => (EXIT_CANCELLED, Ended::Cancelled),
            None => (status, Ended::Exited),
        };
        let outcome = Outcome { exit_code, ended, started_at, duration: t0.elapsed() };
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
        let mut watch = if reason.is_some() { None } else { cancel };
        sink.finish(outcome, patience, &mut watch).await;
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

    async fn ensure_shell(&mut self) -> AgentResult<()> {
        if self.shell.as_ref().is_some_and(|s| !s.has_exited()) {
            return Ok(());
        }
        self.stop();
        if *self.terminated.borrow() {
            return Err(AgentError::session_not_found(&self.session.id));
        }
        let cwd = self.session.cwd();
        let mut shell = Shell::spawn(&self.context.reaper, &cwd).map_err(|e| {
            if *self.terminated.borrow() {
                // The session was ended meanwhile (its sandbox destroyed, its folder gone).
                ended_while_starting()
            } else {
                start_failed(&e)
            }
        })?;
        if !self.session.add_shell(shell.pid, shell.exit.clone()) {
            // The session was terminated while this shell started: it goes too.
            kill_until_gone(|all| session_processes(all, &[shell.reference()]));
            return Err(AgentError::session_not_found(&self.session.id));
        }
        let (control, state) = (shell.control_path(), shell.exit_state_path());
        let script = match &self.saved {
            Some(saved) => {
                let pwd = if saved.pwd.is_empty() {
                    cwd.clone()
                } else {
                    PathBuf::from(std::ffi::OsStr::from_bytes(&saved.pwd))
                };
                init_script(&control, &state, &Start::Restore { exports: &saved.exports, cwd: &pwd })
            }
            None => init_script(&control, &state, &Start::Fresh { env: &self.env, cwd: &cwd }),
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
        let mut sink = Sink::Discard;
        let deadline = Some(Instant::now() + START_TIMEOUT);
        let (end, _, _) =
            drive(&mut shell, running, &mut sink, deadline, None, &mut self.out_buf, &mut self.err_buf).await;
        match end {
            End::Done { pwd, .. } => {
                self.session.set_cwd(&pwd);
                self.shell = Some(shell);
                Ok(())
            }
            End::Died { code, .. } => Err(failed(format!("it exited with status {code}"))),
        }
    }
}

/// Runs one command to its end: output to the sink as it comes, the report, the timeout, the caller's departure.
/// A stream reader that stops reading holds the output back, never the timeout or a cancel: while the command
/// runs, a chunk waits for the reader at most until the deadline or the cancel; once the command is being stopped,
/// at most until the shell is given up on. Returns how the command ended, why it was stopped, and until when its
/// last event may wait for the reader.
async fn drive(
    shell: &mut Shell,
    running: Running,
    sink: &mut Sink,
    deadline: Option<Instant>,
    mut cancel: Option<CancelSignal>,
    out_buf: &mut [u8],
    err_buf: &mut [u8],
) -> (End, Option<Reason>, Option<Instant>) {
    let mut running = running;
    let mut interrupt: Option<Interrupt> = None;
    let mut out_open = true;
    let mut err_open = true;
    let mut exit_pwd: Option<Vec<u8>> = None;
    let mut rekill = interval(REKILL_EVERY);
    rekill.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let mut unwatched: Option<CancelSignal> = None;
    let end = loop {
        let mut failed_push = None;
        // How long a chunk may wait for a stalled stream reader, and whether a cancel ends the wait.
        let limit = interrupt.map_or(deadline, |stopping| Some(stopping.give_up));
        tokio::select! {
            read = running.stdout.read(out_buf), if out_open => match read {
                Ok(n) if n > 0 => failed_push = sink.push(Stream::Stdout, &out_buf[..n], limit, watched(&interrupt, &mut cancel, &mut unwatched)).await,
                _ => out_open = false,
            },
            read = running.stderr.read(err_buf), if err_open => match read {
                Ok(n) if n > 0 => failed_push = sink.push(Stream::Stderr, &err_buf[..n], limit, watched(&interrupt, &mut cancel, &mut unwatched)).await,
                _ => err_open = false,
            },
            report = shell.control.next_report() => match report {
                Report::Done { seq, status, pwd } if seq == running.seq => {
                    if interrupt.is_some() {
                        // What is left of the command (its background jobs ignore SIGINT) goes now.
                        let since = running.since_ticks;
                        kill_until_gone(|all| command_processes(all, shell.reference(), since));
                    }
                    drain(&running, sink, out_buf, limit, watched(&interrupt, &mut cancel, &mut unwatched)).await;
                    break End::Done { status, pwd };
                }
                Report::Done { .. } => {}
                Report::Exit { pwd, .. } => exit_pwd = Some(pwd),
            },
            code = crate::process::reaper::exited(&mut shell.exit) => {
                drain(&running, sink, out_buf, limit, watched(&interrupt, &mut cancel, &mut unwatched)).await;
                let mut code = code;
                for report in shell.control.pending_reports() {
                    match report {
                        Report::Exit { pwd, .. } => exit_pwd = Some(pwd),
                        Report::Done { seq, status, pwd } if seq == running.seq => {
                            code = status;
                            exit_pwd = Some(pwd);
                        }
                        Report::Done { .. } => {}
                    }
                }
                break End::Died { code, pwd: exit_pwd };
            },
            _ = sleep_until_some(deadline), if interrupt.is_none() => {
                interrupt = Some(begin_interrupt(shell, &running, Reason::TimedOut));
            },
            _ = sink.closed(), if interrupt.is_none() => {
                interrupt = Some(begin_interrupt(shell, &running, Reason::Cancelled));
            },
            _ = cancelled(&mut cancel), if interrupt.is_none() => {
                interrupt = Some(begin_interrupt(shell, &running, Reason::Cancelled));
            },
            _ = rekill.tick(), if interrupt.is_some() => {
                let Interrupt { hard_from, give_up, .. } = interrupt.expect("guarded");
                let now = Instant::now();
                if now >= give_up {
                    tracing::warn!("the interrupted shell did not report: killing it with the command's processes");
                    kill_until_gone(|all| session_processes(all, &[shell.reference()]));
                } else if now >= hard_from {
                    tracing::debug!("the interrupted command's processes are still there: SIGKILL");
                    let since = running.since_ticks;
                    kill_until_gone(|all| command_processes(all, shell.reference(), since));
                }
            },
        }
        if let (Some(reason), None) = (failed_push, interrupt) {
            interrupt = Some(begin_interrupt(shell, &running, reason));
        }
    };
    running.finish();
    let patience = match interrupt {
        Some(stopping) => Some(stopping.give_up.max(Instant::now()) + INTERRUPT_GRACE),
        None => deadline.map(|at| at.max(Instant::now()) + INTERRUPT_GRACE),
    };
    (end, interrupt.map(|i| i.reason), patience)
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

/// The cancel signal a wait for a stalled reader watches: the command's, until the command is being stopped
/// anyway (then none: the wait is bounded by the stop's own limit).
fn watched<'a>(
    interrupt: &Option<Interrupt>,
    cancel: &'a mut Option<CancelSignal>,
    none: &'a mut Option<CancelSignal>,
) -> &'a mut Option<CancelSignal> {
    if interrupt.is_some() {
        none
    } else {
        cancel
    }
}

/// A command being stopped: why, from when its processes are killed outright, and when to give up on the shell.
#[derive(Clone, Copy)]
struct Interrupt {
    reason: Reason,
    hard_from: Instant,
    give_up: Instant,
}

/// Asks the shell to abandon the command and interrupts the command's processes (SIGINT; those still there after
/// `INTERRUPT_SOFT` are killed).
fn begin_interrupt(shell: &Shell, running: &Running, reason: Reason) -> Interrupt {
    tracing::info!(?reason, "interrupting the command: SIGINT, SIGKILL after a grace period");
    shell.interrupt();
    let since = running.since_ticks;
    signal_each(|all| command_processes(all, shell.reference(), since), nix::sys::signal::Signal::SIGINT);
    let now = Instant::now();
    Interrupt { reason, hard_from: now + INTERRUPT_SOFT, give_up: now + INTERRUPT_GRACE }
}

/// Reads what the command wrote that is still in its pipes. Counted first, so a background writer that keeps
/// writing cannot hold the result back; a stalled reader holds it back only until `limit` or the cancel.
async fn drain(
    running: &Running,
    sink: &mut Sink,
    buf: &mut [u8],
    limit: Option<Instant>,
    cancel: &mut Option<CancelSignal>,
) {
    for (reader, stream) in [(&running.stdout, Stream::Stdout), (&running.stderr, Stream::Stderr)] {
        let mut left = pending_bytes(reader);
        while left > 0 {
            let want = left.min(buf.len());
            match read_now(reader, &mut buf[..want]) {
                Ok(n) if n > 0 => {
                    left -= n;
                    if sink.push(stream, &buf[..n], limit, cancel).await.is_some() {
                        return;
                    }
                }
                _ => break,
            }
        }
    }
}

/// Sends `item` to a stream's reader, waiting while the reader is behind, but only until `limit` or `cancel`.
async fn deliver(
    tx: &mpsc::Sender<StreamItem>,
    item: StreamItem,
    limit: Option<Instant>,
    cancel: &mut Option<CancelSignal>,
) -> Option<Reason> {
    match tx.try_send(item) {
        Ok(()) => None,
        Err(mpsc::error::TrySendError::Closed(_)) => Some(Reason::Cancelled),
        Err(mpsc::error::TrySendError::Full(item)) => tokio::select! {
            sent = tx.send(item) => sent.err().map(|_| Reason::Cancelled),
            _ = sleep_until_some(limit) => Some(Reason::TimedOut),
            _ = cancelled(cancel) => Some(Reason::Cancelled),
        },
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

impl Sink {
    /// Delivers a chunk. `Some(reason)` when it could not: the caller is gone, or `limit` passed or `cancel` was
    /// raised while a slow reader held the stream back (the chunk is then dropped).
    async fn push(
        &mut self,
        stream: Stream,
        bytes: &[u8],
        limit: Option<Instant>,
        cancel: &mut Option<CancelSignal>,
    ) -> Option<Reason> {
        match stream {
            Stream::Stdout => METRICS.output(bytes.len(), 0),
            Stream::Stderr => METRICS.output(0, bytes.len()),
        }
        match self {
            Sink::Collect { stdout, stderr, .. } => {
                match stream {
                    Stream::Stdout => stdout.push(bytes),
                    Stream::Stderr => stderr.push(bytes),
                }
                None
            }
            Sink::Stream(tx) => {
                let item = match stream {
                    Stream::Stdout => StreamItem::Stdout(bytes.to_vec()),
                    Stream::Stderr => StreamItem::Stderr(bytes.to_vec()),
                };
                deliver(tx, item, limit, cancel).await
            }
            Sink::Discard => None,
        }
    }

    fn is_closed(&self) -> bool {
        match self {
            Sink::Collect { reply, .. } => reply.is_closed(),
            Sink::Stream(tx) => tx.is_closed(),
            Sink::Discard => false,
        }
    }

    /// Resolves when the caller has gone away.
    async fn closed(&mut self) {
        match self {
            Sink::Collect { reply, .. } => reply.closed().await,
            Sink::Stream(tx) => tx.closed().await,
            Sink::Discard => std::future::pending().await,
        }
    }

    async fn start(&mut self, at: SystemTime, limit: Option<Instant>, cancel: &mut Option<CancelSignal>) {
        if let Sink::Stream(tx) = self {
            let _ = deliver(tx, StreamItem::Start(at), limit, cancel).await;
        }
    }

    async fn finish(self, outcome: Outcome, limit: Option<Instant>, cancel: &mut Option<CancelSignal>) {
        match self {
            Sink::Collect { stdout, stderr, reply } => {
                let _ = reply.send(Ok(Collected { outcome, stdout, stderr }));
            }
            Sink::Stream(tx) => {
                let _ = deliver(&tx, StreamItem::Done(outcome), limit, cancel).await;
            }
            Sink::Discard => {}
        }
    }

    async fn fail(self, err: AgentError) {
        match self {
            Sink::Collect { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Sink::Stream(tx) => {
                let _ = tx.send(StreamItem::Failed(err)).await;
            }
            Sink::Discard => {}
        }
    }
}
