//! One span per request, and its request id: the caller's `X-Request-Id` (the Worker's, which took its caller's or
//! made one) when it is a plain id, else one made here. Everything the request causes is logged inside its span,
//! its error body carries the id (`current`), and the response returns it. A request that ends in an error is
//! logged with its status and time; one that succeeds only at `debug` (the events it caused say what happened).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use sandbox_protocol::ids::valid_request_id;
use sandbox_protocol::{REQUEST_ID_HEADER, SANDBOX_ID_HEADER};
use tracing::Instrument;

use crate::metrics::METRICS;

tokio::task_local! {
    static REQUEST_ID: Arc<str>;
}

/// The id of the request being answered, inside its handling.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.to_string()).ok()
}

pub async fn trace_request(req: Request, next: Next) -> Response {
    let given = req.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).filter(|id| valid_request_id(id));
    let id: Arc<str> = match given {
        Some(id) => id.into(),
        None => crate::names::random_id("req").into(),
    };
    let route = req.extensions().get::<MatchedPath>().cloned();
    let sandbox = req.headers().get(SANDBOX_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %crate::error::short(req.uri().path()),
        sandbox = %sandbox,
    );
    let started = Instant::now();
    let mut response = REQUEST_ID.scope(id.clone(), next.run(req).instrument(span.clone())).await;
    let status = response.status().as_u16();
    let took = started.elapsed();
    METRICS.request(route.as_ref().map(MatchedPath::as_str), status, took);
    let ms = took.as_secs_f64() * 1000.0;
    span.in_scope(|| match status {
        500.. => tracing::warn!(status, ms, "answered"),
        400.. => tracing::info!(status, ms, "answered"),
        _ => tracing::debug!(status, ms, "answered"),
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}
