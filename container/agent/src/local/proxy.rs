//! Passing a request on to a sandbox's own agent, over the Unix socket only this agent can reach, and its answer
//! back (`relay.rs`: bodies streamed, a terminal's upgrade joined, the connection as long as the caller's).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response};
use sandbox_protocol::{ErrorCode, AGENT_TOKEN_HEADER, SANDBOX_ID_HEADER};
use tokio::net::UnixStream;

use super::launch::ChildAgent;
use crate::error::AgentError;

/// Sends `req` to `child` and returns its answer, its body still arriving.
pub async fn forward(child: &ChildAgent, mut req: Request) -> Result<Response<Body>, AgentError> {
    let unavailable = |e: String| AgentError::new(ErrorCode::ContainerUnavailable, format!("the sandbox's agent: {e}"));
    let stream = UnixStream::connect(&child.socket).await.map_err(|e| unavailable(e.to_string()))?;
    let headers = req.headers_mut();
    headers.remove(SANDBOX_ID_HEADER);
    headers.insert(axum::http::header::HOST, HeaderValue::from_static("127.0.0.1"));
    headers.insert(AGENT_TOKEN_HEADER, HeaderValue::from_str(&child.token).map_err(|e| unavailable(e.to_string()))?);
    crate::relay::relay(stream, req).await.map_err(unavailable)
}
