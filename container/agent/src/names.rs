//! Validation of the names a request carries. The id rules live in the protocol crate (the Worker checks them
//! too); what only the agent needs is here. Pure functions; each returns a message for `VALIDATION_FAILED`.

use std::collections::BTreeMap;

pub use sandbox_protocol::ids::{check_command_id, check_env_name, check_sandbox_id, check_session_id};

/// Values reach the shell as C strings: they cannot hold NUL.
pub fn check_no_nul(what: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        Err(format!("{what} must not contain a NUL character"))
    } else {
        Ok(())
    }
}

/// Variables as a request carries them (`None` unsets): names checked, values free of NUL, in name order.
pub fn check_env(vars: BTreeMap<String, Option<String>>) -> Result<Vec<(String, Option<String>)>, String> {
    vars.into_iter()
        .map(|(name, value)| {
            check_env_name(&name)?;
            if let Some(value) = &value {
                check_no_nul(&name, value)?;
            }
            Ok((name, value))
        })
        .collect()
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
    fn env_names_and_values_are_checked() {
        let ok = BTreeMap::from([("A".to_string(), Some("1".to_string())), ("B".to_string(), None)]);
        assert_eq!(check_env(ok).unwrap().len(), 2);
        assert!(check_env(BTreeMap::from([("1A".to_string(), None)])).is_err());
        assert!(check_env(BTreeMap::from([("A".to_string(), Some("a\0b".to_string()))])).is_err());
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = new_session_id();
        assert!(check_session_id(&a).is_ok());
        assert_ne!(a, new_session_id());
    }
}
