//! A body declared larger than the agent reads is refused here, before it is forwarded: streaming it through the
//! Durable Object only for the agent to refuse it kept the caller waiting on 50 MB, and the answer was lost when
//! the agent let the connection go under the upload. A body of no declared length is counted by the agent, which
//! reads on past the limit so that its answer arrives. An upload (`routes::streams_body`) has no such limit. Pure.

use sandbox_protocol::limits::{self, MAX_BODY_BYTES};
use sandbox_protocol::routes;
use sandbox_protocol::ErrorCode;

use crate::errors::WorkerError;

/// Refuses a call to `method` `agent_path` whose `Content-Length` is over `MAX_BODY_BYTES`, with the size and the
/// limit in the message.
pub fn check(method: &str, agent_path: &str, content_length: Option<&str>) -> Result<(), WorkerError> {
    if routes::streams_body(method, agent_path) {
        return Ok(());
    }
    match content_length.and_then(|n| n.trim().parse::<u64>().ok()) {
        Some(length) if length > MAX_BODY_BYTES as u64 => {
            Err(WorkerError::new(ErrorCode::BodyTooLarge, limits::body_too_large(Some(length))))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_declared_length_over_the_limit_is_refused() {
        let check = |length: Option<&str>| check("POST", routes::FILES_WRITE, length);
        assert!(check(None).is_ok());
        assert!(check(Some("12")).is_ok());
        assert!(check(Some(&MAX_BODY_BYTES.to_string())).is_ok());
        let err = check(Some(&(MAX_BODY_BYTES + 1).to_string())).unwrap_err();
        assert_eq!((err.code, err.code.http_status()), (ErrorCode::BodyTooLarge, 413));
        assert!(err.message.contains("32 MiB"), "{}", err.message);
        assert!(check(Some("not a number")).is_ok(), "the runtime refuses those itself");
    }

    #[test]
    fn an_upload_of_a_file_is_not_bound_by_the_json_limit() {
        let huge = (8u64 << 30).to_string();
        assert!(check("PUT", routes::FILES_CONTENT, Some(&huge)).is_ok());
        assert!(check("GET", routes::FILES_CONTENT, Some(&huge)).is_err(), "only the upload streams its body");
    }
}
