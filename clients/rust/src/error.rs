//! The client's error: the server's `{ code, message }` with its HTTP status, or the client's own failure.

use std::fmt;

pub use sandbox_protocol::ErrorCode;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The server refused the call: its code, HTTP status and message. `retry_after` (seconds) comes with
    /// `CONTAINER_UNAVAILABLE`.
    Api { code: ErrorCode, status: u16, message: String, retry_after: Option<u32> },
    /// The sandbox Worker could not be reached.
    Network(String),
    /// The answer was not the API's JSON.
    InvalidResponse(String),
    /// A command's event stream ended before its `complete` or `error` event.
    StreamInterrupted,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The error's code; the client's own failures have none of the server's.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The HTTP status; 0 when there was no answer.
    pub fn status(&self) -> u16 {
        match self {
            Error::Api { status, .. } => *status,
            _ => 0,
        }
    }

    /// The error for a non-2xx answer with `body`.
    pub(crate) fn from_answer(status: u16, body: &[u8], retry_after: Option<&str>) -> Error {
        match serde_json::from_slice::<sandbox_protocol::ErrorBody>(body) {
            Ok(err) => Error::Api {
                code: err.code,
                status,
                message: err.message,
                retry_after: retry_after.and_then(|s| s.trim().parse().ok()),
            },
            Err(_) => Error::InvalidResponse(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api { code, status, message, .. } => write!(f, "{} ({status}): {message}", code.as_str()),
            Error::Network(m) => write!(f, "the sandbox cannot be reached: {m}"),
            Error::InvalidResponse(m) => write!(f, "the sandbox answered with something unexpected: {m}"),
            Error::StreamInterrupted => write!(f, "the command's event stream ended before the command did"),
        }
    }
}

impl std::error::Error for Error {}

/// In a workers-rs handler (`worker::Result`), `?` on a call of this client gives the handler's error: its text is
/// this error's (code, status and message), as `worker::Error::RustError`. Keep the `Error` itself where the
/// code matters (`e.code()`, `e.status()`).
#[cfg(feature = "worker")]
impl From<Error> for worker::Error {
    fn from(error: Error) -> worker::Error {
        worker::Error::RustError(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_keep_code_status_and_retry_after() {
        let e = Error::from_answer(503, br#"{"code":"CONTAINER_UNAVAILABLE","message":"later"}"#, Some("5"));
        assert_eq!(
            e,
            Error::Api {
                code: ErrorCode::ContainerUnavailable,
                status: 503,
                message: "later".into(),
                retry_after: Some(5)
            }
        );
        assert_eq!(e.to_string(), "CONTAINER_UNAVAILABLE (503): later");
        assert!(matches!(Error::from_answer(502, b"<html>", None), Error::InvalidResponse(_)));
    }
}
