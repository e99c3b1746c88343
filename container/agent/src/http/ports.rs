//! A preview's request passed to a port in the sandbox: `ANY /v1/ports/{port}/http/{*path}`. A local sandbox's
//! network is its own, so the Worker reaches its apps through its agent, as a deployed one's through the
//! container's port. The app sees the path and query after the prefix, `Host: 127.0.0.1:<port>`, and the
//! request's headers less the agent's own; nothing listening is a 502 in plain text (a browser's answer), a path
//! that names no port a JSON 404.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use sandbox_protocol::{routes, ErrorCode, AGENT_TOKEN_HEADER, EXPECTED_BOOT_HEADER, SANDBOX_ID_HEADER};

use crate::error::AgentError;
use tokio::net::TcpStream;

pub async fn pass(mut req: Request) -> Response {
    let Some((port, path)) = routes::parse_port_http(req.uri().path()) else {
        return AgentError::new(ErrorCode::NotFound, "not a port's path: /v1/ports/{1-65535}/http/...").into_response();
    };
    let target = match req.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    let Ok(uri) = target.parse::<Uri>() else {
        return AgentError::invalid(format!("{target:?} is not a path an app can be asked for")).into_response();
    };
    *req.uri_mut() = uri;
    let headers = req.headers_mut();
    for ours in [AGENT_TOKEN_HEADER, SANDBOX_ID_HEADER, EXPECTED_BOOT_HEADER] {
        headers.remove(ours);
    }
    if let Ok(host) = HeaderValue::from_str(&format!("127.0.0.1:{port}")) {
        headers.insert(axum::http::header::HOST, host);
    }
    let unanswered =
        || (StatusCode::BAD_GATEWAY, format!("Nothing in the sandbox answers on port {port}")).into_response();
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return unanswered();
    };
    let _ = stream.set_nodelay(true);
    match crate::relay::relay(stream, req).await {
        Ok(answer) => answer.into_response(),
        Err(err) => {
            tracing::info!(port, %err, "a port's answer failed");
            unanswered()
        }
    }
}
