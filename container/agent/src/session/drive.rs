//! One command's run, from the moment the shell has it to its end: output to the sink as it comes, the shell's
//! report, the deadline, a cancel, the caller's departure, and the stop that follows (timed by `escalation`).

use tokio::io::AsyncReadExt;
use tokio::time::{interval, Instant, MissedTickBehavior};

use super::collector::Stream;
use super::control::Report;
use super::escalation::{self, Escalation, Step, StopReason};
use super::in_flight::{cancelled, CancelSignal};
use super::kill_cut::KillCut;
use super::shell::{Running, Shell, ShellEvent};
use super::sink::sleep_until_some;
use super::Sink;
use crate::process::fds::Pending;

/// While a command is being stopped: how often processes it starts anew are looked for and killed.
const REKILL_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// The buffers a session's output is read into, reused from command to command.
pub(super) struct Buffers {
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Default for Buffers {
    fn default() -> Buffers {
        Buffers { out: vec![0; 64 * 1024], err: vec![0; 16 * 1024] }
    }
}

/// A command's limits: when it times out, and the signal that cancels it.
pub(super) struct Limits {
    pub deadline: Option<Instant>,
    pub cancel: Option<CancelSignal>,
}

/// How a command's run ended.
pub(super) enum End {
    /// The shell reported the command done, and lives on; `pwd` is its directory now.
    Done { status: i32, pwd: Vec<u8> },
    /// The shell process ended; `pwd` is the directory it reported last, if it did.
    Died { code: i32, pwd: Option<Vec<u8>> },
}

/// What `drive` found: the end, why the agent stopped the command (if it did), and until when the command's last
/// event may wait for a stream reader that is behind.
pub(super) struct Ran {
    /// The command's number in its shell.
    pub seq: u64,
    pub end: End,
    pub stopped: Option<StopReason>,
    pub patience: Option<Instant>,
}

/// Runs one command to its end. A stream reader that stops reading holds the output back, never the timeout or a
/// cancel: while the command runs, a chunk waits for the reader at most until the deadline or the cancel; once the
/// command is being stopped, at most until the shell is given up on.
pub(super) async fn drive(
    shell: &mut Shell,
    running: Running,
    sink: &mut Sink,
    limits: Limits,
    bufs: &mut Buffers,
) -> Ran {
    let Limits { deadline, mut cancel } = limits;
    let mut running = running;
    let mut stopping: Option<Escalation> = None;
    let (mut out_open, mut err_open) = (true, true);
    let mut exit_pwd: Option<Vec<u8>> = None;
    let mut rekill = interval(REKILL_EVERY);
    rekill.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // What a wait for a slow reader watches once the command is being stopped: no cancel (the stop bounds it).
    let mut unwatched: Option<CancelSignal> = None;
    // Where the command's stderr ends once its processes are killed (bash's reports of the kill follow).
    let mut reports = KillCut::default();
    let end = loop {
        let limit = escalation::reader_limit(stopping.as_ref(), deadline);
        let mut failed_push = None;
        tokio::select! {
            read = running.stdout.read(&mut bufs.out), if out_open => match read {
                Ok(n) if n > 0 => failed_push = sink.push(Stream::Stdout, &bufs.out[..n], limit, watched(&stopping, &mut cancel, &mut unwatched)).await,
                _ => out_open = false,
            },
            ready = running.stderr.readable(), if err_open => {
                // Both pipes holding bytes: stdout's go first (as in a background process's log).
                let watch = watched(&stopping, &mut cancel, &mut unwatched);
                failed_push = take_pending(&running.stdout, Stream::Stdout, sink, &mut bufs.out, limit, watch, &mut reports).await;
                if failed_push.is_none() {
                    match ready.and_then(|()| running.stderr.try_read(&mut bufs.err)) {
                        Ok(n) if n > 0 => failed_push = push_err(sink, &mut reports, &bufs.err[..n], limit, watched(&stopping, &mut cancel, &mut unwatched)).await,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        _ => err_open = false,
                    }
                }
            },
            event = shell.next_event() => match event {
                ShellEvent::Report(Report::Done { seq, status, pwd }) if seq == running.seq => {
                    if stopping.is_some() {
                        // What is left of the command (its background jobs ignore SIGINT) goes now.
                        let _ = kill_command(shell, &running, sink, limit, watched(&stopping, &mut cancel, &mut unwatched), &mut reports).await;
                    }
                    drain(&running, sink, &mut bufs.out, limit, watched(&stopping, &mut cancel, &mut unwatched), &mut reports).await;
                    break End::Done { status, pwd };
                }
                ShellEvent::Report(Report::Done { .. }) => {}
                ShellEvent::Report(Report::Exit { pwd, .. }) => exit_pwd = Some(pwd),
                ShellEvent::Exited(code) => {
                    drain(&running, sink, &mut bufs.out, limit, watched(&stopping, &mut cancel, &mut unwatched), &mut reports).await;
                    let mut code = code;
                    for report in shell.reports_left() {
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
                }
            },
            _ = sleep_until_some(deadline), if stopping.is_none() => {
                stopping = Some(stop(shell, &running, StopReason::TimedOut));
            },
            _ = sink.closed(), if stopping.is_none() => {
                stopping = Some(stop(shell, &running, StopReason::Cancelled));
            },
            _ = cancelled(&mut cancel), if stopping.is_none() => {
                stopping = Some(stop(shell, &running, StopReason::Cancelled));
            },
            _ = rekill.tick(), if stopping.is_some() => {
                match stopping.as_mut().expect("guarded").step_at(Instant::now()) {
                    Step::Wait => {}
                    Step::InterruptAgain => shell.interrupt_processes(&running),
                    Step::KillCommand => {
                        tracing::debug!("the interrupted command's processes are still there: SIGKILL");
                        let limit = escalation::reader_limit(stopping.as_ref(), deadline);
                        failed_push = kill_command(shell, &running, sink, limit, &mut unwatched, &mut reports).await;
                    }
                    Step::GiveUpShell => {
                        tracing::warn!("the interrupted shell did not report: killing it with the command's processes");
                        shell.kill_all();
                    }
                }
            },
        }
        if let (Some(reason), None) = (failed_push, stopping) {
            stopping = Some(stop(shell, &running, reason));
        }
    };
    let seq = running.seq;
    running.finish();
    let patience = escalation::patience(stopping.as_ref(), deadline, Instant::now());
    Ran { seq, end, stopped: stopping.map(|s| s.reason), patience }
}

/// The cancel signal a wait for a stalled reader watches: the command's, until the command is being stopped
/// anyway (then none).
fn watched<'a>(
    stopping: &Option<Escalation>,
    cancel: &'a mut Option<CancelSignal>,
    none: &'a mut Option<CancelSignal>,
) -> &'a mut Option<CancelSignal> {
    if stopping.is_some() {
        none
    } else {
        cancel
    }
}

/// Begins stopping the command: the shell is asked to abandon it and its processes get SIGINT.
fn stop(shell: &Shell, running: &Running, reason: StopReason) -> Escalation {
    tracing::info!(?reason, "interrupting the command: SIGINT (twice), SIGKILL after a grace period");
    shell.interrupt(running);
    Escalation::begin(reason, Instant::now())
}

/// Reads what the command wrote that is still in its pipes. Counted first, so a background writer that keeps
/// writing cannot hold the result back; a stalled reader holds it back only until `limit` or the cancel.
async fn drain(
    running: &Running,
    sink: &mut Sink,
    buf: &mut [u8],
    limit: Option<Instant>,
    cancel: &mut Option<CancelSignal>,
    reports: &mut KillCut,
) {
    for (reader, stream) in [(&running.stdout, Stream::Stdout), (&running.stderr, Stream::Stderr)] {
        if take_pending(reader, stream, sink, buf, limit, cancel, reports).await.is_some() {
            return;
        }
    }
}

/// Kills what is left of the command while reading what its pipes hold with its processes stopped, delivers that,
/// and cuts its stderr there (`kill_cut`). `Some(reason)` when a chunk could not be delivered.
async fn kill_command(
    shell: &Shell,
    running: &Running,
    sink: &mut Sink,
    limit: Option<Instant>,
    cancel: &mut Option<CancelSignal>,
    reports: &mut KillCut,
) -> Option<StopReason> {
    let mut held: [Vec<u8>; 2] = Default::default();
    shell.kill_command_holding(running, &mut || {
        for (reader, into) in [&running.stdout, &running.stderr].into_iter().zip(held.iter_mut()) {
            let mut buf = [0u8; 16384];
            let mut pending = Pending::of(reader);
            while let Some(n) = pending.read(reader, &mut buf) {
                into.extend_from_slice(&buf[..n]);
            }
        }
    });
    let [out, err] = held;
    let mut failed = None;
    if !out.is_empty() {
        failed = sink.push(Stream::Stdout, &out, limit, cancel).await;
    }
    if failed.is_none() && !err.is_empty() {
        failed = push_err(sink, reports, &err, limit, cancel).await;
    }
    reports.cut();
    failed
}

/// Delivers a chunk of stderr, unless it came after the command's processes were killed.
async fn push_err(
    sink: &mut Sink,
    reports: &mut KillCut,
    chunk: &[u8],
    limit: Option<Instant>,
    cancel: &mut Option<CancelSignal>,
) -> Option<StopReason> {
    let chunk = reports.filter(chunk);
    if chunk.is_empty() {
        return None;
    }
    sink.push(Stream::Stderr, &chunk, limit, cancel).await
}

/// Delivers what one pipe holds right now, asking the kernel (Tokio's readiness can lag behind it). `Some(reason)`
/// when a chunk could not be delivered.
async fn take_pending(
    reader: &tokio::net::unix::pipe::Receiver,
    stream: Stream,
    sink: &mut Sink,
    buf: &mut [u8],
    limit: Option<Instant>,
    cancel: &mut Option<CancelSignal>,
    reports: &mut KillCut,
) -> Option<StopReason> {
    let mut pending = Pending::of(reader);
    while let Some(n) = pending.read(reader, buf) {
        let pushed = match stream {
            Stream::Stderr => push_err(sink, reports, &buf[..n], limit, cancel).await,
            Stream::Stdout => sink.push(stream, &buf[..n], limit, cancel).await,
        };
        if let Some(reason) = pushed {
            return Some(reason);
        }
    }
    None
}
