//! Request bodies as JSON: read as a `BoundedBody` (size, time, memory budget), with errors that say what was wrong (`INVALID_JSON` for bytes
//! that are not JSON, `VALIDATION_FAILED` for JSON of the wrong shape, `BODY_TOO_LARGE` over the limit).

use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use sandbox_protocol::limits::MAX_BODY_BYTES;
use sandbox_protocol::ErrorCode;
use serde::de::DeserializeOwned;

use super::bounded_body::{discard, BoundedBody};
use super::AppState;
use crate::budget::Charge;
use crate::error::{AgentError, AgentResult};

/// A JSON request body: always an object (an empty body or an array is refused, not read as defaults). The second
/// field is the body's charge to the memory budget: a handler keeps it (`JsonBody(req, _held)`) while the parsed
/// request lives.
pub struct JsonBody<T>(pub T, pub Charge);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = AgentError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AgentError> {
        let declared =
            req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let content_type = req.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("\u{fffd}").to_string());
        let json = sandbox_protocol::screen::check_json_body(req.method().as_str(), content_type.as_deref());
        let mut body = req.into_body();
        if let Err(message) = json {
            let deadline = tokio::time::Instant::now() + state.io_timeout;
            tokio::spawn(async move { discard(&mut body, deadline).await });
            return Err(AgentError::new(ErrorCode::UnsupportedMediaType, message));
        }
        let mut chunks = BoundedBody::begin(body, declared, MAX_BODY_BYTES, state.io_timeout, &state.budget).await?;
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(MAX_BODY_BYTES as u64) as usize);
        while let Some(chunk) = chunks.next_chunk().await? {
            bytes.extend_from_slice(&chunk);
        }
        parse(&bytes).map(|value| JsonBody(value, chunks.into_charge()))
    }
}

/// Parses a body, telling malformed JSON apart from JSON of the wrong shape.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> AgentResult<T> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(AgentError::invalid("the request body is empty: send a JSON object")),
        // serde reads a struct from an array too: `[]` must not pass as "all defaults".
        Some(b'[') => return Err(AgentError::invalid("the request body must be a JSON object, not an array")),
        _ => {}
    }
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => AgentError::invalid(format!("invalid request: {e}")),
            Category::Syntax | Category::Eof | Category::Io => {
                AgentError::new(ErrorCode::InvalidJson, format!("request body is not valid JSON: {e}"))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sandbox_protocol::{ExecRequest, SessionOptions, WriteFileRequest};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// Whatever the bytes, a body is a value or one of the two client errors: never a panic, never a 500.
        #[test]
        fn any_body_parses_or_is_a_client_error(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            for code in [
                parse::<ExecRequest>(&bytes).err().map(|e| e.code),
                parse::<SessionOptions>(&bytes).err().map(|e| e.code),
                parse::<WriteFileRequest>(&bytes).err().map(|e| e.code),
            ]
            .into_iter()
            .flatten()
            {
                prop_assert!(matches!(code, ErrorCode::InvalidJson | ErrorCode::ValidationFailed), "{code:?}");
            }
        }

        /// JSON-looking input (objects with arbitrary keys and values) the same.
        #[test]
        fn any_json_object_parses_or_fails_validation(
            fields in proptest::collection::btree_map("[a-zA-Z]{1,12}", any::<i64>().prop_map(|n| n.to_string()), 0..6)
        ) {
            let json = serde_json::to_vec(&fields).unwrap();
            if let Err(e) = parse::<ExecRequest>(&json) {
                prop_assert_eq!(e.code, ErrorCode::ValidationFailed);
            }
        }
    }

    #[test]
    fn malformed_json_and_wrong_shapes_are_told_apart() {
        assert_eq!(parse::<ExecRequest>(b"{nope").unwrap_err().code, ErrorCode::InvalidJson);
        assert_eq!(parse::<ExecRequest>(br#"{"command":1}"#).unwrap_err().code, ErrorCode::ValidationFailed);
        assert_eq!(
            parse::<ExecRequest>(br#"{"command":"x","timeoutt":1}"#).unwrap_err().code,
            ErrorCode::ValidationFailed
        );
        assert_eq!(parse::<ExecRequest>(b"").unwrap_err().code, ErrorCode::ValidationFailed);
        assert_eq!(parse::<ExecRequest>(br#"{"command":"true"}"#).unwrap().command, "true");
        assert_eq!(parse::<ExecRequest>(br#"["true"]"#).unwrap_err().code, ErrorCode::ValidationFailed);
        assert_eq!(parse::<sandbox_protocol::SessionOptions>(b" ").unwrap_err().code, ErrorCode::ValidationFailed);
        assert_eq!(parse::<sandbox_protocol::SessionOptions>(b"[]").unwrap_err().code, ErrorCode::ValidationFailed);
        assert!(parse::<sandbox_protocol::SessionOptions>(b"{}").is_ok());
    }
}
