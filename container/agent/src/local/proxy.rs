//! Passing a request on to a sandbox's own agent and its answer back, bodies streamed both ways. The connection to
//! the child lives exactly as long as the caller's request: when the caller goes away, the child sees its
//! connection close and stops the command, as it would for a direct caller.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::UPGRADE;
use axum::http::{HeaderValue, Response, StatusCode};
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use sandbox_protocol::{ErrorCode, AGENT_TOKEN_HEADER, SANDBOX_ID_HEADER};
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

use super::children::ChildAgent;
use crate::error::AgentError;

/// Sends `req` to `child` and returns its answer, its body still arriving.
pub async fn forward(child: &ChildAgent, req: Request) -> Result<Response<Body>, AgentError> {
    let unavailable = |e: String| AgentError::new(ErrorCode::ContainerUnavailable, format!("the sandbox's agent: {e}"));
    let stream = TcpStream::connect(child.addr).await.map_err(|e| unavailable(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| unavailable(e.to_string()))?;
    // Ends the connection when dropped: with the request future (caller gone before the answer) or with the body.
    let guard = Abort(
        tokio::spawn(async move {
            let _ = connection.with_upgrades().await;
        })
        .abort_handle(),
    );
    let (mut parts, body) = req.into_parts();
    // A WebSocket (a terminal): once the child accepts it, the two upgraded connections are joined.
    let websocket = parts.headers.get(UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let caller_upgrade = if websocket { parts.extensions.remove::<OnUpgrade>() } else { None };
    parts.headers.remove(SANDBOX_ID_HEADER);
    parts.headers.insert(axum::http::header::HOST, HeaderValue::from_static("127.0.0.1"));
    let token = HeaderValue::from_str(&child.token).map_err(|e| unavailable(e.to_string()))?;
    parts.headers.insert(AGENT_TOKEN_HEADER, token);
    let mut answer =
        sender.send_request(Request::from_parts(parts, body)).await.map_err(|e| unavailable(e.to_string()))?;
    if let (StatusCode::SWITCHING_PROTOCOLS, Some(caller_upgrade)) = (answer.status(), caller_upgrade) {
        let child_upgrade = hyper::upgrade::on(&mut answer);
        tokio::spawn(async move {
            // The child's connection is handed over by its task, which then ends: the join holds it from here.
            let _guard = guard;
            let (Ok(caller), Ok(child)) = (caller_upgrade.await, child_upgrade.await) else { return };
            let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(caller), &mut TokioIo::new(child)).await;
        });
        return Ok(answer.map(|_| Body::empty()));
    }
    Ok(answer.map(|body| Body::new(Guarded { body, _guard: guard })))
}

/// Aborts the connection task when dropped.
struct Abort(AbortHandle);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The child's response body, holding its connection open until the body is done or dropped.
struct Guarded {
    body: Incoming,
    _guard: Abort,
}

impl hyper::body::Body for Guarded {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
