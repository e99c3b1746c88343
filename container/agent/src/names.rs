//! Validation of the names a request carries. The id rules live in the protocol crate (the Worker checks them
//! too); what only the agent needs is here. Pure functions; each returns a message for `VALIDATION_FAILED`.

use std::collections::BTreeMap;

pub use sandbox_protocol::ids::{
    check_command_id, check_env_name, check_process_id, check_sandbox_id, check_session_id, check_watch_id,
};

/// Values reach the shell as C strings: they cannot hold NUL.
pub fn check_no_nul(what: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        Err(format!("{what} must not contain a NUL character"))
    } else {
        Ok(())
    }
}

/// Most variables one request may set. Every command of the session carries them into each program it starts.
pub const MAX_ENV_VARS: usize = 1024;
/// Most bytes of names and values one request may set: a process's whole environment must fit in what `execve`
/// takes (a quarter of the stack limit, 2 MiB by default), or every program the session starts fails.
pub const MAX_ENV_BYTES: usize = 1024 * 1024;
/// Longest single `NAME=value` the kernel passes to a program (`MAX_ARG_STRLEN`).
const MAX_ENV_ENTRY: usize = 128 * 1024 - 1;
/// Longest session name.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest path a request may name (the kernel's `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// Variables as a request carries them (`None` unsets): names checked, values free of NUL, sizes bounded, in name
/// order.
pub fn check_env(vars: BTreeMap<String, Option<String>>) -> Result<Vec<(String, Option<String>)>, String> {
    if vars.len() > MAX_ENV_VARS {
        return Err(format!("{} variables is more than the {MAX_ENV_VARS} one request may set", vars.len()));
    }
    let mut total = 0;
    vars.into_iter()
        .map(|(name, value)| {
            check_env_name(&name)?;
            if let Some(value) = &value {
                check_no_nul(&name, value)?;
                let entry = name.len() + 1 + value.len();
                if entry > MAX_ENV_ENTRY {
                    return Err(format!(
                        "{name}: {entry} bytes is more than a program's environment entry may hold ({MAX_ENV_ENTRY})"
                    ));
                }
                total += entry;
            }
            if total > MAX_ENV_BYTES {
                return Err(format!("the variables are more than the {MAX_ENV_BYTES} bytes one request may set"));
            }
            Ok((name, value))
        })
        .collect()
}

/// A session name: at most `MAX_NAME_BYTES`, no NUL.
pub fn check_session_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_NAME_BYTES {
        return Err(format!("name is {} bytes, more than {MAX_NAME_BYTES}", name.len()));
    }
    check_no_nul("name", name)
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
    fn env_sizes_are_bounded() {
        let many: BTreeMap<_, _> = (0..=MAX_ENV_VARS).map(|i| (format!("V{i}"), Some(String::new()))).collect();
        assert!(check_env(many).unwrap_err().contains("variables"));
        assert!(check_env(BTreeMap::from([("A".to_string(), Some("x".repeat(MAX_ENV_ENTRY)))])).is_err());
        let big: BTreeMap<_, _> = (0..9).map(|i| (format!("V{i}"), Some("x".repeat(120_000)))).collect();
        assert!(check_env(big).unwrap_err().contains("bytes"));
        let fine: BTreeMap<_, _> = (0..8).map(|i| (format!("V{i}"), Some("x".repeat(120_000)))).collect();
        assert!(check_env(fine).is_ok());
        assert!(check_session_name(&"n".repeat(MAX_NAME_BYTES)).is_ok());
        assert!(check_session_name(&"n".repeat(MAX_NAME_BYTES + 1)).is_err());
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = new_session_id();
        assert!(check_session_id(&a).is_ok());
        assert_ne!(a, new_session_id());
    }
}
