//! Validation of the names a request carries. The id rules live in the protocol crate (the Worker checks them
//! too); what only the agent needs is here. Pure functions; each returns a message for `VALIDATION_FAILED`.

pub use sandbox_protocol::ids::{check_env_name, check_sandbox_id, check_session_id};

/// Values reach the shell as C strings: they cannot hold NUL.
pub fn check_no_nul(what: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        Err(format!("{what} must not contain a NUL character"))
    } else {
        Ok(())
    }
}

/// A fresh session id: `session-` and 16 random hex digits.
pub fn new_session_id() -> String {
    random_id("session")
}

/// `prefix-` and 16 random hex digits.
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = new_session_id();
        assert!(check_session_id(&a).is_ok());
        assert_ne!(a, new_session_id());
    }
}
