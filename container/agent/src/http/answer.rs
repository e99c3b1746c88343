//! An `AgentError` as an HTTP answer: the status its code maps to (`ErrorCode::http_status`), `Retry-After` when
//! it is worth a retry, and a body that carries the id of the request it answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sandbox_protocol::ErrorCode;

use crate::error::AgentError;

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::Json(self.body(super::trace::current()));
        if self.code == ErrorCode::ResourceExhausted {
            return (status, [(axum::http::header::RETRY_AFTER, "1")], body).into_response();
        }
        (status, body).into_response()
    }
}
