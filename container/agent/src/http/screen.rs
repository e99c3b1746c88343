//! Requests a web page could send, refused before any route: the agent serves programs only (the Worker, the
//! clients, the tests). The rules are the protocol crate's `screen`, the same the Worker applies; in local mode,
//! where the agent listens on the developer's loopback, the `Host` must be this machine too (DNS rebinding).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sandbox_protocol::{screen, ErrorCode};

use super::AppState;
use crate::error::AgentError;

pub async fn refuse_web_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match check(state.sandboxes.is_local(), &req) {
        Ok(()) => next.run(req).await,
        Err(err) => err.into_response(),
    }
}

/// The same for the local agent that passes calls on to sandboxes' own agents.
pub async fn refuse_web_pages_locally(req: Request, next: Next) -> Response {
    match check(true, &req) {
        Ok(()) => next.run(req).await,
        Err(err) => err.into_response(),
    }
}

fn check(local: bool, req: &Request) -> Result<(), AgentError> {
    // A preview's request is a browser's by design, for the sandbox's app, admitted by its token in the Worker
    // (which alone holds the agent's token); its origin and body are the app's to judge. A web page cannot reach
    // it here: a local agent asks for `X-Sandbox-Id`, which no page sends without a preflight that lacks it.
    if sandbox_protocol::routes::parse_port_http(req.uri().path()).is_some() {
        return Ok(());
    }
    // A header that is not text is still present: it must not pass as missing.
    let header = |name: &str| req.headers().get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let refused = |message: String| AgentError::new(ErrorCode::CrossSiteRefused, message);
    screen::check_not_cross_site(header("origin"), header("sec-fetch-site"), &[]).map_err(refused)?;
    if local {
        screen::check_local_host(header("host"), &[]).map_err(refused)?;
    }
    screen::check_not_page_body(req.method().as_str(), header("content-type"))
        .map_err(|message| AgentError::new(ErrorCode::UnsupportedMediaType, message))
}
