//! The HTTP API: routes under `/v1`, one file per group of routes. Handlers parse and validate, then call the
//! sandbox, session and file modules; they hold no logic of their own beyond shaping results.

mod answer;
mod backup;
mod body;
mod bounded_body;
mod context;
mod env;
mod exec;
mod file_content;
mod files;
mod git;
mod health;
mod metrics;
pub mod network;
mod pieces;
mod ports;
mod processes;
mod pty;
mod query;
mod screen;
mod sessions;
mod sse;
pub mod trace;
mod watch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post, put};
use axum::Router;
use sandbox_protocol::{routes, ErrorCode, AGENT_BOOT_HEADER, AGENT_TOKEN_HEADER, EXPECTED_BOOT_HEADER};

use sandbox_protocol::secret::same_secret;

use crate::budget::Budget;
use crate::error::AgentError;
use crate::tenant::Tenants;

pub use body::parse as parse_json;
pub use screen::refuse_web_pages_locally;

#[derive(Clone)]
pub struct AppState {
    pub sandboxes: Arc<Tenants>,
    pub started: Instant,
    /// Random per process; sent on every response as `X-Agent-Boot`.
    pub boot_id: Arc<str>,
    /// How long a request body may take to arrive.
    pub io_timeout: Duration,
    /// What requests in flight may hold.
    pub budget: Arc<Budget>,
    /// When set, every call must carry it (`X-Sandbox-Agent-Token`): an agent in a local sandbox's jail answers
    /// only the agent that started it.
    pub token: Option<Arc<str>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(routes::HEALTH, get(health::health))
        .route(routes::SESSIONS, post(sessions::create).get(sessions::list))
        .route(routes::SESSION, get(sessions::show).delete(sessions::remove))
        .route(routes::SESSION_HISTORY, get(sessions::history))
        .route(routes::ENV, post(env::set_env_vars))
        .route(routes::EXEC, post(exec::exec))
        .route(routes::EXEC_STREAM, post(exec::stream))
        .route(routes::EXEC_CANCEL, post(exec::cancel))
        .route(routes::COMMANDS, get(exec::list))
        .route(routes::FILES_LIST, post(files::list))
        .route(routes::FILES_WRITE, post(files::write))
        .route(routes::FILES_READ, post(files::read))
        .route(routes::FILES_MKDIR, post(files::mkdir))
        .route(routes::FILES_DELETE, post(files::delete))
        .route(routes::FILES_RENAME, post(files::rename))
        .route(routes::FILES_MOVE, post(files::move_file))
        .route(routes::FILES_EXISTS, post(files::exists))
        .route(routes::FILES_CONTENT, get(file_content::download).put(file_content::upload))
        .route(routes::GIT_CHECKOUT, post(git::checkout))
        .route(routes::WATCH, get(watch::watch))
        .route(routes::WATCH_CHANGES, post(watch::changes))
        .route(routes::WATCH_ONE, delete(watch::stop))
        .route(routes::SANDBOX, delete(sessions::destroy_sandbox))
        .route(routes::PROCESSES, post(processes::start).get(processes::list).delete(processes::kill_all))
        .route(routes::PROCESS, get(processes::show).delete(processes::kill))
        .route(routes::PROCESS_LOGS, get(processes::logs))
        .route(routes::PROCESS_STREAM, get(processes::stream))
        .route(routes::PROCESS_STDIN, post(processes::stdin))
        .route(routes::PROCESS_WAIT, post(processes::wait_for))
        .route(routes::PTY, get(pty::open))
        .route(routes::PTYS, get(pty::list))
        .route(routes::PTY_ONE, delete(pty::end))
        .route(routes::METRICS, get(metrics::metrics))
        .route(routes::NETWORK_POLICY, get(network::show).put(network::set))
        .route(routes::SECRETS, get(network::secrets).put(network::set_secret))
        .route(routes::SECRET, delete(network::delete_secret))
        .route(routes::BACKUP_SCANS, post(backup::scan))
        .route(routes::BACKUP_SCAN, delete(backup::drop_scan))
        .route(routes::BACKUP_SCAN_MANIFEST, get(backup::manifest))
        .route(routes::BACKUP_SCAN_BLOB, get(backup::blob))
        .route(routes::BACKUP_SCAN_COMMIT, post(backup::commit_scan))
        .route(routes::BACKUP_KNOWN, get(backup::known))
        .route(routes::BACKUP_RESTORES, post(backup::begin_restore))
        .route(routes::BACKUP_RESTORE, delete(backup::drop_restore))
        .route(routes::BACKUP_RESTORE_BLOB, put(backup::restore_blob))
        .route(routes::BACKUP_RESTORE_COMMIT, post(backup::commit_restore))
        .route(routes::PORT_HTTP, any(ports::pass))
        .route(routes::PORT_HTTP_PATH, any(ports::pass))
        .route(routes::PORT_HTTP_ROOT, any(ports::pass))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), refuse_other_boot))
        .layer(axum::middleware::from_fn_with_state(state.clone(), require_token))
        .layer(axum::middleware::from_fn_with_state(state.clone(), screen::refuse_web_pages))
        .layer(axum::middleware::map_response_with_state(state.clone(), stamp_boot_id))
        .layer(axum::middleware::from_fn(trace::trace_request))
        .with_state(state)
}

/// With a token configured, a call without it is refused before anything else.
async fn require_token(State(state): State<AppState>, req: axum::extract::Request, next: Next) -> Response {
    match token_refusal(state.token.as_deref(), &req) {
        None => next.run(req).await,
        Some(refusal) => refusal.into_response(),
    }
}

/// The refusal of a call without the agent's token (`X-Sandbox-Agent-Token`), if it has one.
pub fn token_refusal(token: Option<&str>, req: &axum::extract::Request) -> Option<AgentError> {
    let token = token?;
    let given = req.headers().get(AGENT_TOKEN_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    (!same_secret(given, token.as_bytes()))
        .then(|| AgentError::new(ErrorCode::Unauthorized, "this agent answers only callers with its token"))
}

/// A caller that expects another agent (`X-Agent-Boot-Expected`) is refused before anything runs: this agent is a
/// restarted one, whose sessions the caller puts back first.
async fn refuse_other_boot(State(state): State<AppState>, req: axum::extract::Request, next: Next) -> Response {
    match req.headers().get(EXPECTED_BOOT_HEADER) {
        Some(expected) if expected.as_bytes() != state.boot_id.as_bytes() => AgentError::new(
            ErrorCode::AgentRestarted,
            format!("this agent is {}, not the one expected: it restarted and has done nothing", state.boot_id),
        )
        .into_response(),
        _ => next.run(req).await,
    }
}

async fn stamp_boot_id(State(state): State<AppState>, mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(&state.boot_id) {
        response.headers_mut().insert(AGENT_BOOT_HEADER, value);
    }
    response
}

async fn not_found(uri: axum::http::Uri) -> AgentError {
    AgentError::new(ErrorCode::NotFound, format!("no route {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> AgentError {
    AgentError::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed on {}", uri.path()))
}
