//! The Worker's errors: a code from the protocol (which gives the HTTP status) and a message, answered as the
//! same `{code, message}` JSON the agent uses. Failures of the runtime itself become `INTERNAL_ERROR`.

use sandbox_protocol::{ErrorBody, ErrorCode};

#[derive(Debug)]
pub struct WorkerError {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds, for `Retry-After` on `CONTAINER_UNAVAILABLE`.
    pub retry_after: Option<u32>,
    /// The call's `X-Request-Id`, put in the body.
    pub request_id: Option<String>,
}

impl WorkerError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None, request_id: None }
    }

    pub fn unavailable(message: impl Into<String>, retry_after: u32) -> Self {
        Self {
            code: ErrorCode::ContainerUnavailable,
            message: message.into(),
            retry_after: Some(retry_after),
            request_id: None,
        }
    }

    /// This error as the answer to the call `request_id`.
    pub fn for_request(mut self, request_id: Option<String>) -> Self {
        self.request_id = self.request_id.or(request_id);
        self
    }

    pub fn into_response(self) -> worker::Result<worker::Response> {
        let body = ErrorBody { code: self.code, message: self.message, request_id: self.request_id };
        let mut response = worker::Response::from_json(&body)?.with_status(self.code.http_status());
        if let Some(seconds) = self.retry_after {
            response.headers_mut().set("retry-after", &seconds.to_string())?;
        }
        Ok(response)
    }
}

impl From<worker::Error> for WorkerError {
    fn from(err: worker::Error) -> Self {
        WorkerError::new(ErrorCode::InternalError, err.to_string())
    }
}
