//! Bearer-token access: when a token is configured, every request must carry it. Compared in constant time. Pure.

use sandbox_protocol::ErrorCode;

use crate::errors::WorkerError;

/// `expected` is the configured token (none or empty: the Worker is open, kept private by its deployment).
pub fn check_bearer(expected: Option<&str>, authorization: Option<&str>) -> Result<(), WorkerError> {
    let Some(expected) = expected.filter(|t| !t.is_empty()) else { return Ok(()) };
    let given = authorization.and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(WorkerError::new(ErrorCode::Unauthorized, "missing or wrong bearer token"))
    }
}

/// Equality whose time depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= (x ^ y) as usize;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_without_a_token() {
        assert!(check_bearer(None, None).is_ok());
        assert!(check_bearer(Some(""), None).is_ok());
    }

    #[test]
    fn a_token_must_match_exactly() {
        assert!(check_bearer(Some("s3cret"), Some("Bearer s3cret")).is_ok());
        for header in [None, Some("Bearer s3cre"), Some("Bearer s3cret2"), Some("s3cret"), Some("bearer s3cret")] {
            assert_eq!(check_bearer(Some("s3cret"), header).unwrap_err().code, ErrorCode::Unauthorized);
        }
    }
}
