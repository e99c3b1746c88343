//! Background processes: `POST/GET/DELETE /v1/processes`, `GET/DELETE /v1/processes/{id}`, and a process's
//! `logs`, live `stream` (server-sent events that resume by offset), `stdin` and `wait`.

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::Event;
use axum::response::Response;
use axum::Json;
use base64::Engine;
use nix::sys::signal::Signal;
use sandbox_protocol::{
    Encoding, ErrorCode, KillAllResult, KillQuery, LogQuery, LogRange, ProcessEvent, ProcessEventType, ProcessInfo,
    ProcessList, ProcessListQuery, ProcessLogs, StartProcessRequest, StdinRequest, StdinResult, WaitCondition,
    WaitRequest, WaitResult, LAST_EVENT_ID_HEADER,
};
use tokio::sync::watch;

use super::body::JsonBody;
use super::context::TenantCtx;
use super::query::Params;
use crate::background::ring::Stream;
use crate::background::wait::{self, LineMatcher, Pattern};
use crate::background::{Proc, Spawn, Start, KILL_GRACE, MAX_COMMAND_BYTES};
use crate::error::{AgentError, AgentResult};
use crate::names::{check_env, check_no_nul, check_process_id, random_id};

/// Longest wait one call may ask for.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// About how many bytes of output one event carries at most.
const EVENT_BYTES: usize = 64 * 1024;

pub async fn start(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<StartProcessRequest>,
) -> AgentResult<(StatusCode, Json<ProcessInfo>)> {
    if req.command.trim().is_empty() {
        return Err(AgentError::invalid("command must not be empty"));
    }
    check_no_nul("command", &req.command).map_err(AgentError::invalid)?;
    if req.command.len() > MAX_COMMAND_BYTES {
        return Err(AgentError::invalid(format!(
            "command is {} bytes, more than the {MAX_COMMAND_BYTES} a process's command may have",
            req.command.len()
        )));
    }
    let id = match req.process_id {
        Some(id) => {
            check_process_id(&id).map_err(AgentError::invalid)?;
            id
        }
        None => random_id("proc"),
    };
    let env = check_env(req.env.unwrap_or_default()).map_err(AgentError::invalid)?;
    let limits = sandbox.limits_for(req.limits.as_ref())?;
    let session = sandbox.session(req.session_id.as_deref())?;
    let session_cwd = session.cwd();
    let cwd = match req.cwd.as_deref() {
        Some(cwd) => {
            let base = sandbox.workspace.to_visible(&session_cwd);
            let real = sandbox.real_path(cwd, FsPath::new(&base), "cwd")?;
            crate::tenant::ensure_cwd(&real, cwd)?;
            real
        }
        None => session_cwd,
    };
    let prelude = session.prelude_for(&cwd, &env).await;
    let spawn = Spawn {
        id,
        command: req.command,
        prelude,
        cwd: &cwd,
        session_id: Some(session.id.clone()),
        ring_bytes: 0,
        limits,
    };
    let timeout = req.timeout.filter(|ms| *ms > 0).map(Duration::from_millis);
    let proc = sandbox.processes.start(Start { spawn, timeout, auto_cleanup: req.auto_cleanup.unwrap_or(false) })?;
    Ok((StatusCode::CREATED, Json(proc.info())))
}

pub async fn list(
    TenantCtx(sandbox): TenantCtx,
    Params(query): Params<ProcessListQuery>,
) -> AgentResult<Json<ProcessList>> {
    let processes: Vec<ProcessInfo> = sandbox.processes.list(query.status).iter().map(|p| p.info()).collect();
    Ok(Json(ProcessList { success: true, count: processes.len(), processes }))
}

pub async fn show(TenantCtx(sandbox): TenantCtx, Path(id): Path<String>) -> AgentResult<Json<ProcessInfo>> {
    Ok(Json(sandbox.processes.get(&id)?.info()))
}

/// Ends the process and its whole tree (the signal given, `SIGTERM` by default, then `SIGKILL` after a grace
/// period) and answers once they are gone, with the process as it ended.
pub async fn kill(
    TenantCtx(sandbox): TenantCtx,
    Path(id): Path<String>,
    Params(query): Params<KillQuery>,
) -> AgentResult<Json<ProcessInfo>> {
    let signal = match query.signal {
        Some(text) => parse_signal(&text)?,
        None => Signal::SIGTERM,
    };
    let proc = sandbox.processes.get(&id)?;
    proc.kill(signal, KILL_GRACE).await;
    Ok(Json(proc.info()))
}

pub async fn kill_all(TenantCtx(sandbox): TenantCtx) -> AgentResult<Json<KillAllResult>> {
    let killed = sandbox.processes.kill_all(Signal::SIGTERM).await;
    Ok(Json(KillAllResult { success: true, killed }))
}

pub async fn logs(
    TenantCtx(sandbox): TenantCtx,
    Path(id): Path<String>,
    Params(query): Params<LogQuery>,
) -> AgentResult<Json<ProcessLogs>> {
    let encoding = query.encoding.unwrap_or_default();
    let proc = sandbox.processes.get(&id)?;
    let (stdout, stderr) = proc.logs();
    Ok(Json(ProcessLogs {
        success: true,
        process_id: proc.id.clone(),
        stdout: encode(&stdout.bytes, encoding),
        stderr: encode(&stderr.bytes, encoding),
        encoding,
        stdout_range: LogRange::new(stdout.from, stdout.to),
        stderr_range: LogRange::new(stderr.from, stderr.to),
    }))
}

/// The output as server-sent events: from `?from=` or `Last-Event-ID` (or the start of what the log holds), then
/// live; a comment every heartbeat while the process is quiet; `exit` once it has ended and all is sent.
pub async fn stream(
    TenantCtx(sandbox): TenantCtx,
    Path(id): Path<String>,
    Params(query): Params<LogQuery>,
    headers: HeaderMap,
) -> AgentResult<Response> {
    let encoding = query.encoding.unwrap_or_default();
    let from = match (query.from, headers.get(LAST_EVENT_ID_HEADER)) {
        (Some(from), _) => from,
        (None, Some(resume)) => {
            let text = resume.to_str().unwrap_or("\u{fffd}");
            text.trim().parse::<u64>().map_err(|_| {
                AgentError::invalid(format!("{LAST_EVENT_ID_HEADER} {text:?} is not an offset (a whole number)"))
            })?
        }
        (None, None) => 0,
    };
    let proc = sandbox.processes.get(&id)?;
    let events = LogEvents { changes: proc.subscribe(), proc, pos: from, encoding, done: false };
    Ok(super::sse::response(events, Some(sandbox.processes.settings().heartbeat)))
}

struct LogEvents {
    proc: Arc<Proc>,
    changes: watch::Receiver<u64>,
    /// The offset the next event starts at.
    pos: u64,
    encoding: Encoding,
    done: bool,
}

impl super::sse::Events for LogEvents {
    async fn next_events(&mut self) -> Option<Vec<Event>> {
        let mut events = Vec::new();
        while !self.done {
            self.changes.borrow_and_update();
            let (dropped, pieces, ended) = self.proc.read_from(self.pos, EVENT_BYTES * 4);
            if dropped > 0 {
                self.pos += dropped;
                events.push(self.event(ProcessEventType::Dropped, None, Some(dropped), None));
            }
            for piece in pieces {
                self.pos = piece.end;
                let kind = match piece.stream {
                    Stream::Stdout => ProcessEventType::Stdout,
                    Stream::Stderr => ProcessEventType::Stderr,
                };
                events.push(self.event(kind, Some(encode(&piece.bytes, self.encoding)), None, None));
            }
            if !events.is_empty() {
                return Some(events);
            }
            if let Some(info) = ended {
                self.done = true;
                return Some(vec![self.event(ProcessEventType::Exit, None, None, Some(info))]);
            }
            // Quiet: the stream's keep-alive speaks meanwhile.
            if self.changes.changed().await.is_err() {
                self.done = true;
            }
        }
        None
    }
}

impl LogEvents {
    /// One event at the current offset; every one but `exit` carries it as its id, to resume from.
    fn event(
        &self,
        kind: ProcessEventType,
        data: Option<String>,
        dropped: Option<u64>,
        process: Option<ProcessInfo>,
    ) -> Event {
        let exit = kind == ProcessEventType::Exit;
        let event = ProcessEvent { event_type: kind, offset: self.pos, data, dropped, process };
        let json = serde_json::to_string(&event).expect("an event serialises");
        match exit {
            true => Event::default().data(json),
            false => Event::default().id(self.pos.to_string()).data(json),
        }
    }
}

pub async fn stdin(
    TenantCtx(sandbox): TenantCtx,
    Path(id): Path<String>,
    JsonBody(req, _held): JsonBody<StdinRequest>,
) -> AgentResult<Json<StdinResult>> {
    let bytes = match req.encoding.unwrap_or_default() {
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(req.data.as_bytes())
            .map_err(|e| AgentError::invalid(format!("data is not base64: {e}")))?,
        Encoding::Utf8 => req.data.into_bytes(),
    };
    let proc = sandbox.processes.get(&id)?;
    let end = req.end.unwrap_or(false);
    let written = proc.write_stdin(&bytes, end).await?;
    Ok(Json(StdinResult { success: true, written, closed: proc.stdin_closed().await }))
}

/// Waits inside the sandbox until the condition holds: an error says which way it did not.
pub async fn wait_for(
    TenantCtx(sandbox): TenantCtx,
    Path(id): Path<String>,
    JsonBody(req, _held): JsonBody<WaitRequest>,
) -> AgentResult<Json<WaitResult>> {
    let limit = match req.timeout {
        Some(ms) if Duration::from_millis(ms) > MAX_WAIT => {
            return Err(AgentError::invalid(format!("timeout may be at most {} ms", MAX_WAIT.as_millis())))
        }
        Some(ms) => Duration::from_millis(ms),
        None => MAX_WAIT,
    };
    let proc = sandbox.processes.get(&id)?;
    let waited = async {
        match req.condition {
            WaitCondition::Exit => Ok((None, wait::for_exit(&proc).await)),
            WaitCondition::Log => {
                let text = req.pattern.as_deref().ok_or_else(|| AgentError::invalid("a log wait needs a pattern"))?;
                let pattern = Pattern::new(text, req.regex.unwrap_or(false)).map_err(AgentError::invalid)?;
                let line = wait::for_log(&proc, LineMatcher::new(pattern, req.stream)).await?;
                Ok((Some(line), proc.info()))
            }
            WaitCondition::Port => {
                let port =
                    req.port.filter(|p| *p > 0).ok_or_else(|| AgentError::invalid("a port wait needs a port"))?;
                let path = req.path.as_deref();
                if let Some(path) = path {
                    if !path.starts_with('/') || path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
                        return Err(AgentError::invalid("path must start with '/' and hold no spaces or controls"));
                    }
                }
                wait::for_port(&proc, port, path.map(|p| (p, req.status.unwrap_or(200)))).await?;
                Ok((None, proc.info()))
            }
        }
    };
    let (line, process) = tokio::time::timeout(limit, waited).await.map_err(|_| {
        AgentError::new(
            ErrorCode::WaitTimedOut,
            format!(
                "process {id}: the {} condition did not hold within {} ms",
                serde_json::to_value(req.condition)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                limit.as_millis()
            ),
        )
    })??;
    Ok(Json(WaitResult { success: true, condition: req.condition, line, process }))
}

/// Text (invalid UTF-8 replaced) or base64; unlike an exec result, nothing is trimmed: a log is read in parts.
fn encode(bytes: &[u8], encoding: Encoding) -> String {
    match encoding {
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// `SIGINT`, `INT` or `2`; the signals a caller may send are the ones that end a program.
fn parse_signal(text: &str) -> AgentResult<Signal> {
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    let signal = match text.parse::<i32>() {
        Ok(n) => Signal::try_from(n).ok(),
        Err(_) => name.parse::<Signal>().ok(),
    };
    match signal {
        Some(s @ (Signal::SIGTERM | Signal::SIGINT | Signal::SIGKILL | Signal::SIGHUP | Signal::SIGQUIT)) => Ok(s),
        Some(s @ (Signal::SIGUSR1 | Signal::SIGUSR2)) => Ok(s),
        _ => Err(AgentError::invalid(format!(
            "signal {text:?} is not one of SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGKILL, SIGUSR1, SIGUSR2"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_read_by_name_or_number_and_limited_to_those_that_end_a_program() {
        assert_eq!(parse_signal("SIGINT").unwrap(), Signal::SIGINT);
        assert_eq!(parse_signal("term").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("SIGSTOP").is_err());
        assert!(parse_signal("SIGNOPE").is_err());
        assert!(parse_signal("0").is_err());
    }
}
