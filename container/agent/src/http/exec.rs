//! `POST /v1/exec` (buffered result) and `POST /v1/exec/stream` (server-sent events as the command writes).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sandbox_protocol::Ended;
use sandbox_protocol::{
    CancelExecRequest, CancelExecResult, CommandList, CommandsQuery, Encoding, ErrorCode, ExecEvent, ExecEventType,
    ExecRequest, ExecResult,
};
use tokio::sync::mpsc;

use super::body::JsonBody;
use super::context::TenantCtx;
use super::query::Params;
use crate::budget::{charged, Charge};
use crate::clock::{iso, iso_now};
use crate::error::{AgentError, AgentResult};
use crate::names::{check_command_id, check_env, check_no_nul};
use crate::output::{encode_result, ChunkEncoder};
use crate::session::in_flight::{withdrawn, Described, Registration, Tracked};
use crate::session::{effective_timeout, ExecSpec, Outcome, Session, StreamItem};
use crate::tenant::Tenant;

/// Default cap on each of stdout and stderr in a buffered result.
pub const DEFAULT_OUTPUT_CAP: u64 = sandbox_protocol::limits::DEFAULT_MAX_OUTPUT_BYTES;
/// The largest cap a request may ask for.
pub const MAX_OUTPUT_CAP: u64 = sandbox_protocol::limits::MAX_OUTPUT_BYTES;

struct Prepared {
    session: Arc<Session>,
    spec: ExecSpec,
    encoding: Encoding,
    cap: usize,
    /// Keeps the command listed (and its id taken) while it is in flight.
    registration: Registration,
}

fn prepare(sandbox: &Tenant, req: ExecRequest) -> AgentResult<Prepared> {
    check_no_nul("command", &req.command).map_err(AgentError::invalid)?;
    let env = check_env(req.env.unwrap_or_default()).map_err(AgentError::invalid)?;
    let cap = req.max_output_bytes.unwrap_or(DEFAULT_OUTPUT_CAP);
    if cap > MAX_OUTPUT_CAP {
        return Err(AgentError::invalid(format!("maxOutputBytes may be at most {MAX_OUTPUT_CAP}")));
    }
    let session = sandbox.session(req.session_id.as_deref())?;
    let cwd = match req.cwd.as_deref() {
        Some(cwd) => {
            let base = sandbox.workspace.to_visible(&session.cwd());
            let real = sandbox.real_path(cwd, Path::new(&base), "cwd")?;
            crate::tenant::ensure_cwd(&real, cwd)?;
            Some(real)
        }
        None => None,
    };
    if let Some(id) = req.command_id.as_deref() {
        check_command_id(id).map_err(AgentError::invalid)?;
    }
    let timeout = req.timeout.map(Duration::from_millis);
    let effective = effective_timeout(timeout, session.command_timeout, sandbox.default_command_timeout());
    let what = Described { session_id: &session.id, command: &req.command, timeout: effective };
    let (registration, tracked) = sandbox.in_flight.register(req.command_id.as_deref(), what).ok_or_else(|| {
        AgentError::invalid(format!(
            "commandId {} is in use by a command in flight",
            req.command_id.unwrap_or_default()
        ))
    })?;
    let spec = ExecSpec {
        command: req.command,
        env,
        cwd,
        timeout,
        internal: false,
        tracked: Some(tracked),
        request_id: super::trace::current(),
    };
    Ok(Prepared { session, spec, encoding: req.encoding.unwrap_or_default(), cap: cap as usize, registration })
}

pub async fn exec(TenantCtx(sandbox): TenantCtx, JsonBody(req, _held): JsonBody<ExecRequest>) -> AgentResult<Response> {
    let Prepared { session, spec, encoding, cap, registration } = prepare(&sandbox, req)?;
    let command = spec.command.clone();
    // Dropping this future (the client went away) drops the reply channel, which kills the command.
    let collected = session.exec(spec, cap).await?;
    let command_id = registration.id().to_string();
    drop(registration);
    let truncated = collected.stdout.truncated() || collected.stderr.truncated();
    if truncated {
        crate::metrics::METRICS.limit_hit(crate::metrics::Limit::Output);
    }
    let result = ExecResult {
        stdout: encode_result(collected.stdout.into_bytes(), encoding),
        stderr: encode_result(collected.stderr.into_bytes(), encoding),
        truncated,
        command_id: Some(command_id),
        ..result(&collected.outcome, command, &session.id, encoding)
    };
    Ok(written(&result, collected.charge))
}

/// The result's JSON in one buffer sized for it up front (a large output is copied once, not regrown), holding
/// the output's charge to the memory budget until it is written out.
fn written(result: &ExecResult, charge: Option<Charge>) -> Response {
    let mut body = Vec::new();
    result.write_json(&mut body);
    ([(CONTENT_TYPE, "application/json")], Body::from(charged(body, charge))).into_response()
}

fn result(outcome: &Outcome, command: String, session_id: &str, encoding: Encoding) -> ExecResult {
    ExecResult {
        success: outcome.exit_code == 0,
        exit_code: outcome.exit_code,
        stdout: String::new(),
        stderr: String::new(),
        command,
        duration: outcome.duration.as_millis() as u64,
        timestamp: iso(outcome.started_at),
        session_id: session_id.to_string(),
        ended_as: Some(outcome.ended),
        timed_out: outcome.ended == Ended::TimedOut,
        truncated: false,
        encoding,
        oom_killed: outcome.oom_killed.is_some(),
        message: outcome.oom_killed.map(|limit| {
            format!(
                "killed (SIGKILL): the session's processes reached their memory limit of {} MiB together",
                limit >> 20
            )
        }),
        command_id: None,
    }
}

pub async fn stream(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<ExecRequest>,
) -> AgentResult<Response> {
    let Prepared { session, spec, encoding, registration, .. } = prepare(&sandbox, req)?;
    let command = spec.command.clone();
    let tracked = spec.tracked.clone();
    // Events are written after the request's own scope has ended: its id goes with them.
    let request_id = spec.request_id.clone();
    let items = session.exec_stream(spec)?;
    let events = EventWriter {
        items,
        registration,
        tracked,
        command,
        session_id: session.id.clone(),
        stdout: ChunkEncoder::new(encoding),
        stderr: ChunkEncoder::new(encoding),
        encoding,
        request_id,
        ended: false,
    };
    Ok(super::sse::response(events, None))
}

/// `POST /v1/exec/cancel`: stops the command with this `commandId`, as a timeout would (exit code 130).
pub async fn cancel(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<CancelExecRequest>,
) -> Json<CancelExecResult> {
    let cancelled = sandbox.in_flight.cancel(&req.command_id);
    Json(CancelExecResult { success: true, command_id: req.command_id, cancelled })
}

/// `GET /v1/commands` (`?sessionId=`): the sandbox's commands in flight, oldest first.
pub async fn list(TenantCtx(sandbox): TenantCtx, Params(query): Params<CommandsQuery>) -> Json<CommandList> {
    Json(CommandList { success: true, commands: sandbox.in_flight.list(query.session_id.as_deref()) })
}

/// Turns a command's stream items into server-sent event frames.
struct EventWriter {
    items: mpsc::Receiver<StreamItem>,
    /// Keeps the command listed (and its id taken) while the stream lasts.
    registration: Registration,
    /// Its entry, to end the stream at once when a cancel withdraws the command from its queue.
    tracked: Option<Tracked>,
    command: String,
    session_id: String,
    stdout: ChunkEncoder,
    stderr: ChunkEncoder,
    encoding: Encoding,
    /// The id of the request that started the stream, for its `error` event.
    request_id: Option<String>,
    ended: bool,
}

impl super::sse::Events for EventWriter {
    async fn next_events(&mut self) -> Option<Vec<Event>> {
        if self.ended {
            return None;
        }
        loop {
            let item = tokio::select! {
                biased;
                item = self.items.recv() => item,
                () = withdrawn(&mut self.tracked) => {
                    // Cancelled while it waited its turn: it never runs, and its caller learns so now.
                    crate::metrics::METRICS.command_ended(Ended::Cancelled);
                    let outcome = Outcome::withdrawn();
                    self.ended = true;
                    return Some(vec![self.start_event(outcome.started_at), self.complete_event(&outcome)]);
                }
            };
            let Some(item) = item else {
                self.ended = true;
                let err = AgentError::new(ErrorCode::SessionNotFound, "the session ended before the command finished");
                return Some(vec![self.error_event(err)]);
            };
            let events = match item {
                StreamItem::Start(at) => vec![self.start_event(at)],
                StreamItem::Stdout(bytes) => match self.stdout.push(&bytes) {
                    Some(data) => vec![data_event(ExecEventType::Stdout, data)],
                    None => continue,
                },
                StreamItem::Stderr(bytes) => match self.stderr.push(&bytes) {
                    Some(data) => vec![data_event(ExecEventType::Stderr, data)],
                    None => continue,
                },
                StreamItem::Done(outcome) => {
                    self.ended = true;
                    let mut events = Vec::new();
                    if let Some(data) = self.stdout.finish() {
                        events.push(data_event(ExecEventType::Stdout, data));
                    }
                    if let Some(data) = self.stderr.finish() {
                        events.push(data_event(ExecEventType::Stderr, data));
                    }
                    events.push(self.complete_event(&outcome));
                    events
                }
                StreamItem::Failed(err) => {
                    self.ended = true;
                    vec![self.error_event(err)]
                }
            };
            return Some(events);
        }
    }
}

impl EventWriter {
    fn start_event(&self, at: std::time::SystemTime) -> Event {
        sse_event(&ExecEvent {
            command: Some(self.command.clone()),
            session_id: Some(self.session_id.clone()),
            command_id: Some(self.registration.id().to_string()),
            ..event(ExecEventType::Start, iso(at))
        })
    }

    fn complete_event(&self, outcome: &Outcome) -> Event {
        let result = ExecResult {
            command_id: Some(self.registration.id().to_string()),
            ..result(outcome, self.command.clone(), &self.session_id, self.encoding)
        };
        sse_event(&ExecEvent {
            exit_code: Some(outcome.exit_code),
            session_id: Some(self.session_id.clone()),
            result: Some(result),
            ..event(ExecEventType::Complete, iso_now())
        })
    }

    fn error_event(&self, err: AgentError) -> Event {
        sse_event(&ExecEvent {
            error: Some(err.body(self.request_id.clone())),
            session_id: Some(self.session_id.clone()),
            ..event(ExecEventType::Error, iso_now())
        })
    }
}

fn event(kind: ExecEventType, timestamp: String) -> ExecEvent {
    ExecEvent {
        kind,
        timestamp,
        data: None,
        command: None,
        exit_code: None,
        result: None,
        error: None,
        session_id: None,
        command_id: None,
    }
}

fn data_event(kind: ExecEventType, data: String) -> Event {
    sse_event(&ExecEvent { data: Some(data), ..event(kind, iso_now()) })
}

fn sse_event(event: &ExecEvent) -> Event {
    Event::default().data(serde_json::to_string(event).expect("events serialize"))
}
