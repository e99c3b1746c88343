//! What a sandbox's Durable Object does with a call, decided from its method and agent path alone. Pure.
//!
//! Most calls go to the agent as they came. The object answers the sandbox's own routes itself, and looks into
//! the calls whose effect it must remember for a restarted agent: sessions made, variables set, sessions ended.

use sandbox_protocol::routes::{
    BACKUP, BACKUPS, BACKUP_RESTORE_ONE, ENV, FORK, FORK_ADOPT, NETWORK_POLICY, PORT, PORTS, SANDBOX, SECRET, SECRETS,
    SESSION, SESSIONS, SLEEP,
};
use sandbox_protocol::ErrorCode;

use crate::errors::WorkerError;

/// What the object does with a call: answer it itself, or send it to the agent.
#[derive(Debug, PartialEq, Eq)]
pub enum ObjectCall {
    Own(Own),
    Agent(AgentCall),
}

/// The calls the object answers itself, from its storage and what it knows: no agent is started for them.
#[derive(Debug, PartialEq, Eq)]
pub enum Own {
    /// `GET /v1/sandbox`: the sandbox's status, answered without starting anything.
    Status,
    /// `DELETE /v1/sandbox`: end everything and forget the sandbox.
    Destroy,
    /// `POST /v1/ports`, `GET /v1/ports`, `DELETE /v1/ports/{port}`: the object's own (storage), no agent.
    ExposePort,
    ListPorts,
    UnexposePort {
        port: u16,
    },
    /// `POST /v1/backups`, `GET /v1/backups`, `DELETE /v1/backups/{id}`, `POST /v1/backups/{id}/restore`: the
    /// backup store is the object's (the agent reads and writes files for it).
    CreateBackup,
    ListBackups,
    DeleteBackup {
        id: String,
    },
    RestoreBackup {
        id: String,
    },
    /// `POST /v1/fork`: a new sandbox whose workspace starts as this one's.
    Fork,
    /// `POST /v1/fork/adopt`: from a fork's origin (never a caller: the Worker serves no such route), where this new
    /// sandbox's workspace is.
    AdoptFork,
    /// `GET /v1/sleep`, `PUT /v1/sleep`: the sandbox's own sleep settings (`setKeepAlive`, `setSleepAfter`).
    GetSleep,
    SetSleep,
}

/// The calls that go to the agent, and those among them whose effect the object remembers for a restarted agent.
#[derive(Debug, PartialEq, Eq)]
pub enum AgentCall {
    /// `POST /v1/sessions`: its options are remembered.
    CreateSession,
    /// `POST /v1/env`: the variables are remembered with their session.
    SetEnvVars,
    /// `PUT /v1/network/policy`: the policy the agent took is remembered, for a new agent.
    SetNetworkPolicy,
    /// `PUT /v1/network/secrets`: given a placeholder of the object's own, and remembered with its value.
    SetSecret,
    /// `DELETE /v1/network/secrets/{name}`: forgotten once the agent dropped it.
    DeleteSecret { name: String },
    /// `DELETE /v1/sessions/{id}`: the session is forgotten once the agent ended it.
    DeleteSession { session: String },
    /// Anything else, sent as it came.
    AsItCame,
}

pub fn classify(method: &str, path: &str) -> Result<ObjectCall, WorkerError> {
    Ok(match (method, path) {
        ("GET", SANDBOX) => ObjectCall::Own(Own::Status),
        ("DELETE", SANDBOX) => ObjectCall::Own(Own::Destroy),
        (_, SANDBOX) => {
            return Err(WorkerError::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed on a sandbox")))
        }
        ("POST", PORTS) => ObjectCall::Own(Own::ExposePort),
        ("GET", PORTS) => ObjectCall::Own(Own::ListPorts),
        (_, PORTS) => return Err(not_allowed(method, path)),
        (_, path) if path.starts_with(PORT.trim_end_matches("{id}")) => {
            let rest = &path[PORT.trim_end_matches("{id}").len()..];
            let port = rest
                .parse()
                .map_err(|_| WorkerError::new(ErrorCode::ValidationFailed, format!("{rest:?} is not a port number")))?;
            if method != "DELETE" {
                return Err(not_allowed(method, path));
            }
            ObjectCall::Own(Own::UnexposePort { port })
        }
        ("GET", SLEEP) => ObjectCall::Own(Own::GetSleep),
        ("PUT", SLEEP) => ObjectCall::Own(Own::SetSleep),
        (_, SLEEP) => return Err(not_allowed(method, path)),
        ("POST", FORK) => ObjectCall::Own(Own::Fork),
        ("POST", FORK_ADOPT) => ObjectCall::Own(Own::AdoptFork),
        (_, FORK) => return Err(not_allowed(method, path)),
        ("POST", BACKUPS) => ObjectCall::Own(Own::CreateBackup),
        ("GET", BACKUPS) => ObjectCall::Own(Own::ListBackups),
        (_, BACKUPS) => return Err(not_allowed(method, path)),
        (_, path) if path.starts_with(BACKUP.trim_end_matches("{id}")) => backup_call(method, path)?,
        ("POST", SESSIONS) => ObjectCall::Agent(AgentCall::CreateSession),
        ("POST", ENV) => ObjectCall::Agent(AgentCall::SetEnvVars),
        ("PUT", NETWORK_POLICY) => ObjectCall::Agent(AgentCall::SetNetworkPolicy),
        ("PUT", SECRETS) => ObjectCall::Agent(AgentCall::SetSecret),
        ("DELETE", path) if path.starts_with(SECRET.trim_end_matches("{id}")) => {
            let name = &path[SECRET.trim_end_matches("{id}").len()..];
            ObjectCall::Agent(AgentCall::DeleteSecret { name: name.to_string() })
        }
        ("DELETE", _) => match session_of(path) {
            Some(session) => ObjectCall::Agent(AgentCall::DeleteSession { session: session.to_string() }),
            None => ObjectCall::Agent(AgentCall::AsItCame),
        },
        _ => ObjectCall::Agent(AgentCall::AsItCame),
    })
}

fn not_allowed(method: &str, path: &str) -> WorkerError {
    WorkerError::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed on {path}"))
}

/// `DELETE /v1/backups/{id}` or `POST /v1/backups/{id}/restore`.
fn backup_call(method: &str, path: &str) -> Result<ObjectCall, WorkerError> {
    let rest = &path[BACKUP.trim_end_matches("{id}").len()..];
    let restore_tail = BACKUP_RESTORE_ONE.trim_start_matches(BACKUP);
    Ok(match (method, rest.strip_suffix(restore_tail)) {
        ("POST", Some(id)) if !id.is_empty() && !id.contains('/') => {
            ObjectCall::Own(Own::RestoreBackup { id: id.to_string() })
        }
        ("DELETE", None) if !rest.is_empty() && !rest.contains('/') => {
            ObjectCall::Own(Own::DeleteBackup { id: rest.to_string() })
        }
        _ => return Err(not_allowed(method, path)),
    })
}

/// The session `/v1/sessions/{id}` names (and not its history, nor anything below it).
fn session_of(path: &str) -> Option<&str> {
    let prefix = SESSION.trim_end_matches("{id}");
    path.strip_prefix(prefix).filter(|rest| !rest.is_empty() && !rest.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, path: &str) -> ObjectCall {
        classify(method, path).unwrap()
    }

    #[test]
    fn the_sleep_settings_are_the_objects_own() {
        assert_eq!(call("GET", "/v1/sleep"), ObjectCall::Own(Own::GetSleep));
        assert_eq!(call("PUT", "/v1/sleep"), ObjectCall::Own(Own::SetSleep));
        assert_eq!(classify("POST", "/v1/sleep").unwrap_err().code, ErrorCode::MethodNotAllowed);
    }

    #[test]
    fn the_sandbox_itself_is_answered_by_the_object() {
        assert_eq!(call("GET", "/v1/sandbox"), ObjectCall::Own(Own::Status));
        assert_eq!(call("DELETE", "/v1/sandbox"), ObjectCall::Own(Own::Destroy));
        let err = classify("POST", "/v1/sandbox").unwrap_err();
        assert_eq!(err.code, ErrorCode::MethodNotAllowed);
    }

    #[test]
    fn the_calls_whose_effect_is_remembered_are_told_apart() {
        assert_eq!(call("POST", "/v1/sessions"), ObjectCall::Agent(AgentCall::CreateSession));
        assert_eq!(call("POST", "/v1/env"), ObjectCall::Agent(AgentCall::SetEnvVars));
        assert_eq!(call("PUT", "/v1/network/policy"), ObjectCall::Agent(AgentCall::SetNetworkPolicy));
        assert_eq!(call("GET", "/v1/network/policy"), ObjectCall::Agent(AgentCall::AsItCame));
        assert_eq!(call("PUT", "/v1/network/secrets"), ObjectCall::Agent(AgentCall::SetSecret));
        assert_eq!(
            call("DELETE", "/v1/network/secrets/GH"),
            ObjectCall::Agent(AgentCall::DeleteSecret { name: "GH".into() })
        );
        assert_eq!(
            call("DELETE", "/v1/sessions/build-1"),
            ObjectCall::Agent(AgentCall::DeleteSession { session: "build-1".into() })
        );
    }

    #[test]
    fn ports_are_the_objects_own() {
        assert_eq!(call("POST", "/v1/ports"), ObjectCall::Own(Own::ExposePort));
        assert_eq!(call("GET", "/v1/ports"), ObjectCall::Own(Own::ListPorts));
        assert_eq!(call("DELETE", "/v1/ports/8080"), ObjectCall::Own(Own::UnexposePort { port: 8080 }));
        assert_eq!(classify("DELETE", "/v1/ports/http").unwrap_err().code, ErrorCode::ValidationFailed);
        assert_eq!(classify("DELETE", "/v1/ports/99999").unwrap_err().code, ErrorCode::ValidationFailed);
        assert_eq!(classify("GET", "/v1/ports/8080").unwrap_err().code, ErrorCode::MethodNotAllowed);
        assert_eq!(classify("DELETE", "/v1/ports").unwrap_err().code, ErrorCode::MethodNotAllowed);
    }

    #[test]
    fn backups_are_the_objects_own() {
        assert_eq!(call("POST", "/v1/backups"), ObjectCall::Own(Own::CreateBackup));
        assert_eq!(call("GET", "/v1/backups"), ObjectCall::Own(Own::ListBackups));
        assert_eq!(call("DELETE", "/v1/backups/bk-1"), ObjectCall::Own(Own::DeleteBackup { id: "bk-1".into() }));
        assert_eq!(call("POST", "/v1/backups/bk-1/restore"), ObjectCall::Own(Own::RestoreBackup { id: "bk-1".into() }));
        assert_eq!(call("POST", "/v1/fork"), ObjectCall::Own(Own::Fork));
        assert_eq!(call("POST", "/v1/fork/adopt"), ObjectCall::Own(Own::AdoptFork));
        for (method, path) in
            [("PUT", "/v1/backups"), ("GET", "/v1/backups/bk-1"), ("POST", "/v1/backups/bk-1"), ("GET", "/v1/fork")]
        {
            assert_eq!(classify(method, path).unwrap_err().code, ErrorCode::MethodNotAllowed, "{method} {path}");
        }
    }

    #[test]
    fn everything_else_goes_to_the_agent_as_it_came() {
        for (method, path) in [
            ("GET", "/v1/sessions"),
            ("GET", "/v1/sessions/build-1"),
            ("DELETE", "/v1/sessions/build-1/history"),
            ("DELETE", "/v1/sessions/"),
            ("POST", "/v1/exec"),
            ("GET", "/v1/env"),
            ("GET", "/v1/metrics"),
        ] {
            assert_eq!(call(method, path), ObjectCall::Agent(AgentCall::AsItCame), "{method} {path}");
        }
    }
}
