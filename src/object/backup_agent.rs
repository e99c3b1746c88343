//! The agent's backup routes (`/v1/backup/...`), as the object calls them: one sandbox's agent, at the boot whose
//! state the object has in place (an agent that restarted refuses the call). What the agent answers is not
//! trusted: it is in the sandbox. Its answers are bounded in size before they are read, and an error answer is
//! passed on with its code and message.

use sandbox_protocol::{ErrorBody, ErrorCode};
use worker::{Headers, Method, Request, RequestInit, Response};

use crate::agent_link::AgentLink;
use crate::errors::WorkerError;

/// The largest JSON answer of the agent the object reads (a save's lists of blobs and of entries skipped, a
/// restore's list of blobs it lacks).
const MAX_JSON_ANSWER: u64 = 16 << 20;

pub(super) fn agent_said(what: &str, message: impl std::fmt::Display) -> WorkerError {
    WorkerError::new(ErrorCode::InternalError, format!("the sandbox's agent answered {what} wrongly: {message}"))
}

/// An agent path with its `{id}` and `{hash}` filled in.
pub(super) fn agent_path(route: &str, id: &str, hash: &str) -> String {
    route.replace("{id}", id).replace("{hash}", hash)
}

/// Whether the agent named a blob as a blob is named: 64 hex digits.
pub(super) fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What a call to the agent carries.
pub(super) enum Payload<'a> {
    None,
    Bytes(&'a str, &'a [u8]),
    /// A body streamed through as it comes (a blob from the bucket).
    Stream(worker::wasm_bindgen::JsValue),
}

/// The sandbox's agent, for backup calls: its link, and the boot id it must have.
pub(super) struct BackupAgent<'a> {
    pub(super) link: &'a AgentLink,
    pub(super) boot: Option<&'a str>,
}

impl BackupAgent<'_> {
    /// Sends one backup call to the agent; an error answer is passed on with its code and message.
    pub(super) async fn call(&self, method: Method, path: &str, body: Payload<'_>) -> Result<Response, WorkerError> {
        let headers = Headers::new();
        let mut init = RequestInit::new();
        match body {
            // A bodiless POST says it is JSON (`{}`), as the agent's screen asks of every POST.
            Payload::None if method == Method::Post => {
                headers.set("content-type", "application/json")?;
                init.with_body(Some("{}".into()));
            }
            Payload::None => {}
            Payload::Bytes(content_type, bytes) => {
                headers.set("content-type", content_type)?;
                init.with_body(Some(worker::js_sys::Uint8Array::from(bytes).into()));
            }
            Payload::Stream(stream) => {
                headers.set("content-type", "application/octet-stream")?;
                init.with_body(Some(stream));
            }
        }
        init.with_method(method).with_headers(headers);
        let req = Request::new_with_init(&format!("https://sandbox.internal{path}"), &init)?;
        let mut response = self.link.send(&req, path, self.boot).await?;
        match response.status_code() {
            200..=299 => Ok(response),
            412 => Err(WorkerError::unavailable("the sandbox's agent restarted during the backup; retry", 1)),
            status => {
                let text = response.text().await.unwrap_or_default();
                Err(match serde_json::from_str::<ErrorBody>(&text) {
                    Ok(body) => WorkerError::new(body.code, body.message),
                    Err(_) => agent_said(path, format!("HTTP {status}")),
                })
            }
        }
    }

    /// A call whose answer says only that it was done: its body is read to its end, so its connection is free at
    /// once (an unread body holds its socket until it is collected, and a save or restore makes hundreds of calls).
    pub(super) async fn done(&self, method: Method, path: &str, body: Payload<'_>) -> Result<(), WorkerError> {
        let mut response = self.call(method, path, body).await?;
        response.text().await.map_err(|e| agent_said(path, e))?;
        Ok(())
    }

    /// An agent's JSON answer, of at most `MAX_JSON_ANSWER` bytes (it is in the sandbox: its size is checked
    /// before it is read).
    pub(super) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Payload<'_>,
    ) -> Result<T, WorkerError> {
        let answer = self.bytes_of(method, path, body, MAX_JSON_ANSWER).await?;
        serde_json::from_slice(&answer).map_err(|e| agent_said(path, e))
    }

    /// The answer to a call, of at most `limit` bytes, which it must declare.
    async fn bytes_of(
        &self,
        method: Method,
        path: &str,
        body: Payload<'_>,
        limit: u64,
    ) -> Result<Vec<u8>, WorkerError> {
        let mut response = self.call(method, path, body).await?;
        let declared = response.headers().get("content-length")?.and_then(|v| v.parse::<u64>().ok());
        if declared.is_none_or(|n| n > limit) {
            return Err(agent_said(path, format!("a body of {declared:?} bytes (at most {limit})")));
        }
        let bytes = response.bytes().await.map_err(|e| agent_said(path, e))?;
        if bytes.len() as u64 > limit {
            return Err(agent_said(path, "a longer body than it declared"));
        }
        Ok(bytes)
    }
}
