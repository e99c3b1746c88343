//! One sandbox's connection: its transport, its path and its token; sends JSON calls and reads their answers.

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::transport::{Answer, Body, Call, Chunks, Detached, Transport};
use sandbox_protocol::frames::{frame_head, MAX_FRAME};
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
        let body = json.as_deref().map(Body::Json);
        self.exchange(Call { method, path: &full_path, body, token: self.token.as_deref(), page_host: None }).await
    }

    /// Sends `chunks` (a file's bytes, any length) framed (`sandbox_protocol::frames`) as the body of a call, and
    /// decodes its JSON answer. A stream that fails half way never ends its frames: the file is left as it was.
    pub async fn upload<R: DeserializeOwned>(&self, method: &str, path: &str, chunks: Chunks) -> Result<R> {
        let full_path = format!("{}{path}", self.base);
        let body = Some(Body::Framed(framed(chunks)));
        let answer =
            self.exchange(Call { method, path: &full_path, body, token: self.token.as_deref(), page_host: None });
        let bytes = collect(answer.await?.body).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::InvalidResponse(format!("{e}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(200)])))
        })
    }

    async fn exchange(&self, call: Call<'_>) -> Result<Answer> {
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

/// `chunks` as frames: each non-empty chunk (split at `MAX_FRAME`) after its length, then the end frame. A chunk
/// that is an error is passed on as one, and no end frame follows it.
fn framed(chunks: Chunks) -> Chunks {
    let frames = chunks.flat_map(|chunk| {
        let frames: Vec<Result<Vec<u8>>> = match chunk {
            Ok(bytes) => {
                bytes.chunks(MAX_FRAME).map(|part| Ok([frame_head(part.len()).as_slice(), part].concat())).collect()
            }
            Err(e) => vec![Err(e)],
        };
        futures_util::stream::iter(frames)
    });
    let end = futures_util::stream::once(async { Ok(frame_head(0).to_vec()) });
    // Nothing follows an error: above all not the end frame, which would make the bytes before it a whole file.
    Box::pin(frames.chain(end).scan(false, |failed, frame| {
        let item = (!*failed).then(|| {
            *failed = frame.is_err();
            frame
        });
        std::future::ready(item)
    }))
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

#[cfg(test)]
mod framing_tests {
    use super::*;
    use futures_util::StreamExt;

    async fn read(chunks: Vec<Result<Vec<u8>>>) -> Vec<Result<Vec<u8>>> {
        framed(Box::pin(futures_util::stream::iter(chunks))).collect().await
    }

    #[tokio::test]
    async fn chunks_are_framed_and_an_error_is_never_followed_by_the_end() {
        let whole = read(vec![Ok(b"ab".to_vec()), Ok(Vec::new()), Ok(b"c".to_vec())]).await;
        let bytes: Vec<u8> = whole.into_iter().flat_map(|f| f.unwrap()).collect();
        assert_eq!(bytes, [&[0, 0, 0, 2][..], b"ab", &[0, 0, 0, 1], b"c", &[0, 0, 0, 0]].concat());
        let cut = read(vec![Ok(b"ab".to_vec()), Err(Error::Network("gone".into()))]).await;
        assert_eq!(cut.len(), 2, "the frame, the error, and no end frame");
        assert!(cut[1].is_err());
    }
}
