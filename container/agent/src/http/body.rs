//! Request bodies: JSON read under a size limit, with errors that say what was wrong (`INVALID_JSON` for bytes
//! that are not JSON, `VALIDATION_FAILED` for JSON of the wrong shape, `BODY_TOO_LARGE` over the limit).

use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::BodyExt;
use sandbox_protocol::ErrorCode;
use serde::de::DeserializeOwned;

use super::AppState;
use crate::budget::Charge;
use crate::error::{AgentError, AgentResult};

use sandbox_protocol::limits::{self, MAX_BODY_BYTES};

/// How much of a body over the limit is read and dropped before the answer, so that the caller (still sending)
/// gets it rather than a connection cut; past this the connection is let go.
const DRAIN_LIMIT: u64 = 256 * 1024 * 1024;

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
        // A body that trickles in must not hold the request (and what it has read so far) for ever.
        let deadline = tokio::time::Instant::now() + state.io_timeout;
        if let Err(message) = json {
            tokio::spawn(async move { discard(&mut body, deadline).await });
            return Err(AgentError::new(ErrorCode::UnsupportedMediaType, message));
        }
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            // Answered at once, and the body read on and dropped meanwhile: the caller, still sending, gets the
            // answer instead of a connection cut under it (a reset would discard the answer unread).
            tokio::spawn(async move { discard(&mut body, deadline).await });
            return Err(too_large(declared));
        }
        let declared = declared.unwrap_or(0) as usize;
        // Charged before it is read: a body that does not fit is refused without being taken into memory (it is
        // read and dropped, so the client gets the answer rather than a broken connection).
        let Some(mut charge) = state.budget.try_charge(declared.max(1)) else {
            discard(&mut body, deadline).await;
            return Err(state.budget.exhausted("request body"));
        };
        let mut charged = declared.max(1);
        let mut bytes = Vec::with_capacity(declared);
        loop {
            let frame = tokio::time::timeout_at(deadline, body.frame()).await.map_err(|_| {
                AgentError::new(
                    ErrorCode::RequestTimeout,
                    format!("the request body did not arrive within {} ms", state.io_timeout.as_millis()),
                )
            })?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| {
                AgentError::new(ErrorCode::InvalidJson, format!("could not read the request body: {e}"))
            })?;
            let Ok(data) = frame.into_data() else { continue };
            if bytes.len() + data.len() > MAX_BODY_BYTES {
                tokio::spawn(async move { discard(&mut body, deadline).await });
                return Err(too_large(None));
            }
            if bytes.len() + data.len() > charged {
                let more = (bytes.len() + data.len() - charged).max(64 * 1024);
                if !charge.try_grow(more) {
                    drop(bytes);
                    discard(&mut body, deadline).await;
                    return Err(state.budget.exhausted("request body"));
                }
                charged += more;
            }
            bytes.extend_from_slice(&data);
        }
        parse(&bytes).map(|value| JsonBody(value, charge))
    }
}

/// Reads the rest of a body and drops it, until `deadline` or `DRAIN_LIMIT` bytes.
async fn discard(body: &mut axum::body::Body, deadline: tokio::time::Instant) {
    let mut read = 0u64;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, body.frame()).await {
        read += frame.data_ref().map_or(0, |d| d.len() as u64);
        if read > DRAIN_LIMIT {
            return;
        }
    }
}

fn too_large(declared: Option<u64>) -> AgentError {
    crate::metrics::METRICS.limit_hit(crate::metrics::Limit::Body);
    AgentError::new(ErrorCode::BodyTooLarge, limits::body_too_large(declared))
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
