//! The rules for ids and names on the wire: session ids, sandbox ids, environment variable names. Pure; each
//! check returns a message for the `VALIDATION_FAILED` error it leads to.

/// Session ids: 1 to 128 bytes of `[A-Za-z0-9._-]`, other than `.` and `..` (a URL would rewrite those: a request
/// for session `..` would reach the sandbox itself).
pub fn check_session_id(id: &str) -> Result<(), String> {
    check_plain_id("session id", id)
}

/// The `commandId` a caller gives a command to cancel it: the same rules as a session id.
pub fn check_command_id(id: &str) -> Result<(), String> {
    check_plain_id("commandId", id)
}

/// A watch's `watchId`, which `DELETE /v1/watch/{id}` names to end it.
pub fn check_watch_id(id: &str) -> Result<(), String> {
    check_plain_id("watchId", id)
}

/// A background process's `processId`: the same rules as a session id.
pub fn check_process_id(id: &str) -> Result<(), String> {
    check_plain_id("processId", id)
}

fn check_plain_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 128 {
        return Err(format!("{what} must be 1 to 128 characters, got {}", id.len()));
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return Err(format!("{what} {id:?} may only contain letters, digits, '.', '_' and '-'"));
    }
    if id == "." || id == ".." {
        return Err(format!("{what} {id:?} is not allowed (a URL path would rewrite it)"));
    }
    Ok(())
}

/// Whether a caller's `X-Request-Id` is taken as it is: 1 to 128 of `[A-Za-z0-9._:-]`. Anything else is replaced
/// with an id of the Worker's or the agent's making (it goes into every log line, and must not forge one).
pub fn valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Sandbox ids as the SDK has them: a DNS label of 1 to 63 characters (letters, digits and inner hyphens).
pub fn check_sandbox_id(id: &str) -> Result<(), String> {
    let valid = (1..=63).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(format!("sandbox id {id:?} must be 1 to 63 letters, digits or inner hyphens (a DNS label)"))
    }
}

/// Environment variable names a shell can export: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn check_env_name(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let valid = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!("invalid environment variable name {name:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids() {
        assert!(check_session_id("user-1").is_ok());
        assert!(check_session_id("a.b_C-9").is_ok());
        assert!(check_session_id(&"x".repeat(128)).is_ok());
        assert!(check_session_id("").is_err());
        assert!(check_session_id(&"x".repeat(129)).is_err());
        assert!(check_session_id("a/b").is_err());
        assert!(check_session_id("a b").is_err());
        assert!(check_session_id("é").is_err());
        assert!(check_session_id(".").is_err());
        assert!(check_session_id("..").is_err());
        assert!(check_session_id("...").is_ok());
        assert!(check_session_id(".hidden").is_ok());
    }

    #[test]
    fn sandbox_ids_follow_dns_label_rules() {
        assert!(check_sandbox_id("my-sandbox").is_ok());
        assert!(check_sandbox_id(&"a".repeat(63)).is_ok());
        assert!(check_sandbox_id(&"a".repeat(64)).is_err());
        assert!(check_sandbox_id("-a").is_err());
        assert!(check_sandbox_id("a-").is_err());
        assert!(check_sandbox_id("a_b").is_err());
        assert!(check_sandbox_id("").is_err());
    }

    #[test]
    fn env_names() {
        assert!(check_env_name("API_KEY").is_ok());
        assert!(check_env_name("_x1").is_ok());
        assert!(check_env_name("1X").is_err());
        assert!(check_env_name("A-B").is_err());
        assert!(check_env_name("").is_err());
        assert!(check_env_name("A=B").is_err());
    }
}
