//! One HTTP/1 request relayed over a connection it is given, and its answer back, bodies streamed both ways. A
//! WebSocket upgrade that the far side accepts is joined to the caller's. The connection lives exactly as long as
//! the caller's request: when the caller goes away, the far side sees its connection close (a command in a local
//! sandbox stops as it would for a direct caller); an upgraded one lives until either side closes.
//!
//! Used for a local sandbox's own agent (`local/proxy.rs`, over its Unix socket) and for a port in the sandbox
//! (`http/ports.rs`, a preview's request in local mode).

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, UPGRADE};
use axum::http::{Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::AbortHandle;

use crate::gathered_body::Gathered;
use crate::held_body::Holding;

/// Request bodies up to this size are read whole before the request is sent on, so head and body leave in one
/// write: a far side that answers a route without reading its body (`POST .../commit` with `{}`) and closes could
/// otherwise cut the body's write, and its answer would be lost with it.
const WHOLE_BODY: usize = 64 << 10;

/// Sends `req` over `stream` and returns the answer, its body still arriving. The error says why the far side
/// could not be asked (its connection failed before an answer).
pub async fn relay<S>(stream: S, req: Request) -> Result<Response<Body>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    // Ends the connection when dropped: with the request future (caller gone before the answer) or with the body.
    let guard = Abort(
        tokio::spawn(async move {
            let _ = connection.with_upgrades().await;
        })
        .abort_handle(),
    );
    let (mut parts, body) = req.into_parts();
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let body = match declared {
        Some(length) if length <= WHOLE_BODY => {
            Body::from(axum::body::to_bytes(body, length).await.map_err(|e| format!("the request's body: {e}"))?)
        }
        // Small frames (a proxy's chunks of a few KiB) go on gathered: one write each at this hop and the next.
        _ => Body::new(Gathered::new(body)),
    };
    let websocket = parts.headers.get(UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let caller_upgrade = if websocket { parts.extensions.remove::<OnUpgrade>() } else { None };
    let mut answer = sender.send_request(Request::from_parts(parts, body)).await.map_err(|e| e.to_string())?;
    if let (StatusCode::SWITCHING_PROTOCOLS, Some(caller_upgrade)) = (answer.status(), caller_upgrade) {
        let far_upgrade = hyper::upgrade::on(&mut answer);
        tokio::spawn(async move {
            // The far connection is handed over by its task, which then ends: the join holds it from here.
            let _guard = guard;
            let (Ok(caller), Ok(far)) = (caller_upgrade.await, far_upgrade.await) else { return };
            let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(caller), &mut TokioIo::new(far)).await;
        });
        return Ok(answer.map(|_| Body::empty()));
    }
    // The far side's body holds its connection open until it is done or dropped.
    Ok(answer.map(|body| Body::new(Holding { body, held: guard })))
}

/// Aborts the connection task when dropped.
struct Abort(AbortHandle);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}
