//! A read of a local sandbox that does not exist (nothing ran in it, or it was destroyed) starts no jail: a jail is
//! five processes and about 12 MB, and a loop of reads over made-up ids would otherwise fill the machine. Its lists
//! are answered empty and its processes and sessions not found, as a fresh sandbox's are; any other read is 404
//! `NOT_FOUND`. Everything else (a command, a
//! write, a terminal) starts the sandbox as before, and so does `GET /v1/health` with a sandbox id: it is the
//! Durable Object's way to make sure a sandbox runs before a call that needs it (the object sends a read of a
//! sandbox it never saw run without it).

use axum::http::{header::UPGRADE, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sandbox_protocol::{routes, BackupKnown, CommandList, ErrorCode, ProcessList, PtyList, SessionList};

use crate::error::AgentError;

/// Whether a call only reads (and so needs no jail when there is none): a `GET` or `HEAD` that is no WebSocket,
/// to any path but the health check.
pub fn only_reads(method: &Method, has_upgrade: bool, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && !has_upgrade && path != routes::HEALTH
}

/// The answer to the read `path` of the sandbox `id`, which does not exist: what a fresh sandbox answers.
pub fn answer(id: &str, path: &str) -> Response {
    let gone = format!("sandbox {id} has none (nothing ran in it here, or it was destroyed)");
    match path {
        routes::SESSIONS => Json(SessionList { success: true, sessions: Vec::new(), count: 0 }).into_response(),
        routes::PROCESSES => Json(ProcessList { success: true, processes: Vec::new(), count: 0 }).into_response(),
        routes::PTYS => Json(PtyList { success: true, ptys: Vec::new(), count: 0 }).into_response(),
        routes::COMMANDS => Json(CommandList { success: true, commands: Vec::new() }).into_response(),
        routes::BACKUP_KNOWN => Json(BackupKnown::default()).into_response(),
        p if p.starts_with("/v1/processes/") => {
            AgentError::new(ErrorCode::ProcessNotFound, format!("no such process: {gone}")).into_response()
        }
        p if p.starts_with("/v1/sessions/") => {
            AgentError::new(ErrorCode::SessionNotFound, format!("no such session: {gone}")).into_response()
        }
        _ => AgentError::new(
            ErrorCode::NotFound,
            format!(
                "sandbox {id} does not exist here (nothing ran in it, or it was destroyed): a read starts no sandbox"
            ),
        )
        .into_response(),
    }
}

/// `only_reads` for a request.
pub fn is_read(req: &axum::extract::Request) -> bool {
    only_reads(req.method(), req.headers().contains_key(UPGRADE), req.uri().path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_told_from_what_starts_a_sandbox() {
        assert!(only_reads(&Method::GET, false, routes::SESSIONS));
        assert!(only_reads(&Method::HEAD, false, routes::PROCESSES));
        assert!(!only_reads(&Method::GET, true, routes::PTY), "a terminal starts it");
        assert!(!only_reads(&Method::GET, false, routes::HEALTH), "the object's health check starts it");
        assert!(!only_reads(&Method::POST, false, routes::EXEC));
        assert!(!only_reads(&Method::DELETE, false, routes::SANDBOX));
    }
}
