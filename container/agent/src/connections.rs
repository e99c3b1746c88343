//! Serving connections within bounds: how many may be open at once, how long a request head may take to arrive
//! (which is also how long a kept-alive connection may sit idle between requests), and a graceful end. Without
//! them a half-sent request head stays open forever, and a thousand idle connections take the descriptors that
//! sessions need, so health and exec stop answering. At the cap, the oldest connection with no request in flight
//! (an idle kept-alive one, or a half-open one whose head has not come) is closed to make room
//! (`open_connections.rs`); only when every open one is busy is a new one answered with a 503
//! `RESOURCE_EXHAUSTED` at once and closed. The cap is at most half the descriptors the agent may open
//! (`server.rs`), so connections alone never exhaust them.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use sandbox_protocol::{ErrorBody, ErrorCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};

use crate::open_connections::{Busy, BusyBody, Connection, OpenConnections};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; more are refused.
    pub max_connections: usize,
    /// How long a request head may take to arrive, and a kept-alive connection may wait for its next request.
    pub head_timeout: Duration,
}

/// How long a new connection waits for the slot of the idle one shed for it.
const SHED_WAIT: Duration = Duration::from_secs(1);
/// Refusals written at once; beyond them, a connection over the cap is closed without an answer.
const MAX_REFUSALS: usize = 64;
/// How long a refusal may take to be written.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// A listener the agent serves: TCP (a container's port, the local agent's) or Unix (a local sandbox's agent in
/// its jail, reached only by the agent that started it).
pub trait Accept {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn next(&self) -> impl std::future::Future<Output = io::Result<Self::Stream>>;
}

impl Accept for TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn next(&self) -> io::Result<Self::Stream> {
        let (stream, _) = self.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

impl Accept for UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn next(&self) -> io::Result<Self::Stream> {
        Ok(self.accept().await?.0)
    }
}

/// Serves `app` on `listener` until `stop` turns true, then lets the open connections finish their requests for
/// at most `grace`.
pub async fn serve<L: Accept>(
    listener: L,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let open = Arc::new(OpenConnections::default());
    loop {
        let stream = tokio::select! {
            accepted = listener.next() => match accepted {
                Ok(stream) => stream,
                // Out of descriptors, or the peer left before we accepted: wait a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => Some(slot),
            // At the cap: the oldest connection with no request in flight (half-open ones among them) makes room.
            Err(_) if open.shed_oldest_idle() => {
                tokio::time::timeout(SHED_WAIT, Arc::clone(&slots).acquire_owned()).await.ok().and_then(Result::ok)
            }
            Err(_) => None,
        };
        let Some(slot) = slot else {
            if let Ok(refusal) = Arc::clone(&refusals).try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream, limits.max_connections).await;
                    drop(refusal);
                });
            }
            continue;
        };
        let registered = open.add();
        let service = tracked(TowerToHyperService::new(app.clone()), Arc::clone(&registered.connection));
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.head_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = registered.connection.shed() => {}
                _ = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(registered);
            drop(slot);
        });
    }
    // Every slot back means every connection has ended.
    let _ = tokio::time::timeout(grace, slots.acquire_many(limits.max_connections as u32)).await;
}

/// `service` with each request counted in flight on `connection` until its response body is done.
fn tracked(
    service: TowerToHyperService<Router>,
    connection: Arc<Connection>,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = hyper::Response<BusyBody>,
    Error = std::convert::Infallible,
    Future = impl std::future::Future<Output = Result<hyper::Response<BusyBody>, std::convert::Infallible>> + Send,
> + Clone {
    let service = Arc::new(service);
    hyper::service::service_fn(move |req| {
        let busy = Busy::start(&connection);
        let answer = hyper::service::Service::call(&*service, req);
        async move {
            let response = answer.await?;
            Ok(response.map(|body| BusyBody { body, held: busy }))
        }
    })
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Answers a connection over the cap with a 503 and closes it.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, cap: usize) {
    tracing::warn!(cap, "connection refused: the agent serves as many connections as it may");
    crate::metrics::METRICS.limit_hit(crate::metrics::Limit::Connections);
    let body = ErrorBody {
        code: ErrorCode::ResourceExhausted,
        message: format!("the agent has {cap} connections open, as many as it serves at once; retry shortly"),
        request_id: None,
    };
    let body = serde_json::to_string(&body).unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 {} Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        ErrorCode::ResourceExhausted.http_status(),
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
        // Read what the request sent so far: closing with unread data would reset the connection and lose the answer.
        let mut head = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(50), stream.read(&mut head)).await;
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Raises this process's soft limit of open descriptors to its hard limit (at most `want`), so connections and
/// sessions are bounded by the agent's own caps rather than by a default of 1,024. Returns the soft limit now.
pub fn raise_descriptor_limit(want: u64) -> io::Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    let target = hard.min(want).max(soft);
    if target > soft {
        setrlimit(Resource::RLIMIT_NOFILE, target, hard).map_err(io::Error::from)?;
    }
    Ok(target)
}
