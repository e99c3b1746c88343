//! One sandbox's connection: its transport, its path and its token; sends JSON calls and reads their answers.

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::transport::{Answer, Call, Chunks, Detached, Transport};
use sandbox_protocol::routes;

pub(crate) struct Connection<T> {
    transport: T,
    /// `/v1/sandboxes/{id}`.
    base: String,
    token: Option<String>,
}

impl<T: Transport> Connection<T> {
    pub fn new(transport: T, sandbox_id: &str, token: Option<String>) -> Self {
        Connection { transport, base: format!("{}{}", routes::SANDBOXES_PREFIX, encode(sandbox_id)), token }
    }

    pub fn with_token(self, token: &str) -> Self {
        Connection { token: Some(token.to_string()), ..self }
    }

    /// A connection to another sandbox through the same transport, with the same token.
    pub fn for_sandbox(&self, sandbox_id: &str) -> Self
    where
        T: Clone,
    {
        Connection::new(self.transport.clone(), sandbox_id, self.token.clone())
    }

    /// Sends a call and decodes its JSON answer; a non-2xx answer is an `Error::Api`.
    pub async fn call<R: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<R> {
        let answer = self.open(method, path, body).await?;
        let bytes = collect(answer.body).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::InvalidResponse(format!("{e}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(200)])))
        })
    }

    /// Sends a call and returns its body unread, once the answer is known to be a success.
    pub async fn open(&self, method: &str, path: &str, body: Option<&impl Serialize>) -> Result<Answer> {
        let json = body.map(|b| serde_json::to_string(b).expect("request bodies serialize"));
        let full_path = format!("{}{path}", self.base);
        let call =
            Call { method, path: &full_path, body: json.as_deref(), token: self.token.as_deref(), page_host: None };
        let answer = self.transport.send(call).await?;
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        let bytes = collect(answer.body).await.unwrap_or_default();
        Err(Error::from_answer(answer.status, &bytes, answer.retry_after.as_deref()))
    }
}

impl<T: Transport> Connection<T> {
    /// Sends a call whose answer nobody waits for (`Transport::send_detached`).
    pub fn send_detached(&self, method: &'static str, path: &str, body: &impl Serialize) {
        let body = serde_json::to_string(body).expect("request bodies serialize");
        let path = format!("{}{path}", self.base);
        self.transport.send_detached(Detached { method, path, body: Some(body), token: self.token.clone() });
    }
}

#[cfg(feature = "worker")]
impl<T: crate::transport::Upgrade> Connection<T> {
    /// Asks for a WebSocket at `path` and returns the `101` that carries it; a refusal is an `Error::Api`, as for
    /// any call.
    pub async fn upgrade(&self, path: &str, page_host: Option<&str>) -> Result<worker::Response> {
        let full_path = format!("{}{path}", self.base);
        let call = Call { method: "GET", path: &full_path, body: None, token: self.token.as_deref(), page_host };
        let mut response = self.transport.upgrade(call).await?;
        if response.status_code() == 101 {
            return Ok(response);
        }
        let bytes = response.bytes().await.unwrap_or_default();
        let retry_after = response.headers().get("retry-after").ok().flatten();
        Err(Error::from_answer(response.status_code(), &bytes, retry_after.as_deref()))
    }
}

async fn collect(mut body: Chunks) -> Result<Vec<u8>> {
    let mut all = Vec::new();
    while let Some(chunk) = body.next().await {
        all.extend_from_slice(&chunk?);
    }
    Ok(all)
}

/// Percent-encodes a path segment (ids are plain, but nothing may break the path).
pub(crate) fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An id as one path segment: encoded, and refused when a URL would rewrite it (empty, `.`, `..`: a session
/// `..` would address the sandbox itself).
/// What follows the sandbox's prefix for the protocol's route `route` (`/exec` for `routes::EXEC`).
pub(crate) fn at(route: &str) -> &str {
    routes::under_sandbox(route)
}

/// `at(route)` with its session id filled in.
pub(crate) fn at_id(route: &str, id: &str) -> crate::error::Result<String> {
    Ok(routes::with_id(at(route), &id_segment(id)?))
}

pub(crate) fn id_segment(id: &str) -> crate::error::Result<String> {
    if id.is_empty() || id == "." || id == ".." {
        return Err(crate::error::Error::Api {
            code: sandbox_protocol::ErrorCode::ValidationFailed,
            status: 400,
            message: format!("id {id:?} cannot be part of a URL path"),
            retry_after: None,
        });
    }
    Ok(encode(id))
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(super::encode("my-sandbox"), "my-sandbox");
        assert_eq!(super::encode("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn ids_a_url_would_rewrite_are_refused() {
        for id in ["", ".", ".."] {
            assert_eq!(super::id_segment(id).unwrap_err().code(), Some(sandbox_protocol::ErrorCode::ValidationFailed));
        }
        assert_eq!(super::id_segment("...").unwrap(), "...");
    }
}
