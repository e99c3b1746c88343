//! Small helpers of the object's calls: reading a body it must look into, telling reads apart, keeping a call's
//! query, and storage failures as callers see them.

use futures_util::StreamExt;
use sandbox_protocol::ErrorCode;
use worker::Request;

use crate::drain;
use crate::errors::WorkerError;

/// Largest `createSession` or `setEnvVars` body the object reads (options are small).
const SESSION_BODY_LIMIT: usize = 1024 * 1024;

/// A storage failure, as callers see it: no engine text (it is logged).
pub(super) fn storage_failed(err: worker::Error) -> WorkerError {
    worker::console_error!(
        "{}",
        crate::log::line(crate::log::Level::Error, "", None, "storage.failed", &err.to_string())
    );
    WorkerError::new(ErrorCode::InternalError, "the sandbox's state could not be stored; nothing was remembered")
}

/// Reads a JSON body the object needs to look into, refusing another type and more than `SESSION_BODY_LIMIT`.
pub(super) async fn small_body(mut req: Request, what: &str) -> std::result::Result<String, WorkerError> {
    // Read as JSON: it must say it is (the front door refused only the types a page sends unasked).
    let content_type = req.headers().get("content-type")?;
    if let Err(message) = sandbox_protocol::screen::check_json_body("POST", content_type.as_deref()) {
        drain::request(req, 0).await;
        return Err(WorkerError::new(ErrorCode::UnsupportedMediaType, format!("{what}: {message}")));
    }
    let too_large = || WorkerError::new(ErrorCode::BodyTooLarge, format!("{what}: the body is larger than 1 MiB"));
    let mut body = Vec::new();
    let mut chunks = req.stream()?;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > SESSION_BODY_LIMIT {
            // Read the rest and drop it, so the caller gets this answer rather than a connection cut while it
            // still sends.
            let read = body.len() + chunk.len();
            drop(body);
            drain::stream(chunks, read).await;
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Whether a call only reads: a `GET` that is no WebSocket.
pub(super) fn only_reads(req: &Request) -> std::result::Result<bool, WorkerError> {
    Ok(req.method() == worker::Method::Get && req.headers().get("upgrade")?.is_none())
}

/// The agent path `path` with the call's query as it came (`?from=`, `?encoding=`, ...): the agent reads plain
/// tokens only.
pub(super) fn with_query(req: &Request, path: &str) -> std::result::Result<String, WorkerError> {
    Ok(match req.url()?.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    })
}
