//! The public routes, parsed and validated before any Durable Object is touched. Pure.

use sandbox_protocol::ids::check_sandbox_id;
use sandbox_protocol::routes;
use sandbox_protocol::ErrorCode;

use crate::errors::WorkerError;

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /v1/health`: the Worker itself answers.
    Health,
    /// Anything under `/v1/sandboxes/{id}`: `agent_path` is what the sandbox's object serves (`/v1/exec`, ...).
    /// The sandbox itself (`GET` status, `DELETE` destroy) is `/v1/sandbox`.
    Sandbox { id: String, agent_path: String },
}

pub fn parse(method: &str, path: &str) -> Result<Route, WorkerError> {
    if path == routes::HEALTH {
        return if method == "GET" { Ok(Route::Health) } else { Err(method_not_allowed(method, path)) };
    }
    let Some(rest) = path.strip_prefix(routes::SANDBOXES_PREFIX) else {
        return Err(WorkerError::new(ErrorCode::NotFound, format!("no route {path}")));
    };
    let (id, tail) = match rest.split_once('/') {
        Some((id, tail)) => (id, Some(tail)),
        None => (rest, None),
    };
    check_sandbox_id(id).map_err(|m| WorkerError::new(ErrorCode::ValidationFailed, m))?;
    match tail {
        Some(tail) => check_plain_segments(tail)?,
        None if !matches!(method, "GET" | "DELETE") => return Err(method_not_allowed(method, path)),
        None => {}
    }
    let agent_path = routes::agent_path(tail);
    // Refused here, in the caller's words: the agent would name its own path (`no route /v1/run`).
    match routes::find(&agent_path) {
        None => return Err(WorkerError::new(ErrorCode::NotFound, format!("no route {path}"))),
        Some(route) if !route.methods.contains(&method) => return Err(method_not_allowed(method, path)),
        Some(_) => {}
    }
    Ok(Route::Sandbox { id: id.to_string(), agent_path })
}

/// Every segment after the sandbox id is a route name or a plain id (`[A-Za-z0-9._-]`, not `.` or `..`): nothing
/// percent-encoded, so the object and the agent read the same id (`s%31` would be `s1` to one and not the other),
/// and no empty or dot segment, which URL normalisation could turn into another route (a session `..` into the
/// sandbox itself).
fn check_plain_segments(tail: &str) -> Result<(), WorkerError> {
    for segment in tail.split('/') {
        let plain = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !plain {
            let shown: String = segment.chars().take(64).collect();
            return Err(WorkerError::new(
                ErrorCode::ValidationFailed,
                format!("path segment {shown:?} is not a plain id (letters, digits, '.', '_', '-')"),
            ));
        }
    }
    Ok(())
}

fn method_not_allowed(method: &str, path: &str) -> WorkerError {
    WorkerError::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed on {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_route_the_worker_does_not_serve_is_named_as_the_caller_wrote_it() {
        let err = parse("POST", "/v1/sandboxes/box/run").unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (ErrorCode::NotFound, "no route /v1/sandboxes/box/run"));
        let err = parse("PUT", "/v1/sandboxes/box/exec").unwrap_err();
        assert_eq!(err.code, ErrorCode::MethodNotAllowed);
        assert_eq!(err.message, "PUT is not allowed on /v1/sandboxes/box/exec");
        assert!(parse("POST", "/v1/sandboxes/box/sandbox/stop").is_err(), "the agent's own routes are not public");
        // Backups are the Durable Object's calls on its agent, and a fork's adoption is one object's call on another:
        // a caller reaches none of them.
        for (method, path) in [
            ("POST", routes::BACKUP_SCANS),
            ("GET", routes::BACKUP_SCAN_BLOB),
            ("POST", routes::BACKUP_RESTORES),
            ("PUT", routes::BACKUP_RESTORE_BLOB),
            ("POST", routes::BACKUP_RESTORE_COMMIT),
            ("POST", routes::FORK_ADOPT),
        ] {
            let public = path.replace("/v1/", "/v1/sandboxes/box/").replace("{id}", "x").replace("{hash}", "y");
            assert_eq!(parse(method, &public).unwrap_err().code, ErrorCode::NotFound, "{method} {public}");
        }
        assert!(parse("GET", "/v1/sandboxes/box/sessions/s1/history").is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        /// No path makes the parser panic, and whatever it accepts reaches the object as plain segments only.
        #[test]
        fn any_path_is_refused_or_plain(
            method in prop_oneof![Just("GET"), Just("POST"), Just("DELETE"), Just("PUT")],
            path in "(/v1/sandboxes/)?[a-z0-9%./_ -]{0,40}",
        ) {
            if let Ok(Route::Sandbox { agent_path, id }) = parse(method, &path) {
                prop_assert!(check_sandbox_id(&id).is_ok());
                let rest = agent_path.strip_prefix("/v1/").unwrap();
                for segment in rest.split('/') {
                    prop_assert!(!segment.is_empty() && segment != "." && segment != "..", "{agent_path}");
                    prop_assert!(!segment.contains('%'), "{agent_path}");
                }
            }
        }
    }

    fn sandbox(id: &str, path: &str) -> Route {
        Route::Sandbox { id: id.into(), agent_path: path.into() }
    }

    #[test]
    fn agent_routes_lose_the_sandbox_prefix() {
        assert_eq!(parse("POST", "/v1/sandboxes/my-sandbox/exec").unwrap(), sandbox("my-sandbox", "/v1/exec"));
        assert_eq!(
            parse("GET", "/v1/sandboxes/a1/sessions/s-1/history").unwrap(),
            sandbox("a1", "/v1/sessions/s-1/history")
        );
        assert_eq!(parse("POST", "/v1/sandboxes/b/files/list").unwrap(), sandbox("b", "/v1/files/list"));
    }

    #[test]
    fn the_sandbox_itself_is_status_and_destroy() {
        assert_eq!(parse("GET", "/v1/sandboxes/box").unwrap(), sandbox("box", "/v1/sandbox"));
        assert_eq!(parse("DELETE", "/v1/sandboxes/box").unwrap(), sandbox("box", "/v1/sandbox"));
        assert_eq!(parse("POST", "/v1/sandboxes/box").unwrap_err().code, ErrorCode::MethodNotAllowed);
    }

    #[test]
    fn invalid_sandbox_ids_are_refused() {
        for path in ["/v1/sandboxes/-x/exec", "/v1/sandboxes/a_b/exec", "/v1/sandboxes//exec", "/v1/sandboxes/Ü/exec"]
        {
            assert_eq!(parse("POST", path).unwrap_err().code, ErrorCode::ValidationFailed, "{path}");
        }
        let long = format!("/v1/sandboxes/{}/exec", "a".repeat(64));
        assert_eq!(parse("POST", &long).unwrap_err().code, ErrorCode::ValidationFailed);
    }

    #[test]
    fn segments_are_canonical_ids() {
        for path in [
            "/v1/sandboxes/box/",
            "/v1/sandboxes/box/sessions/s%31",
            "/v1/sandboxes/box/sessions/..",
            "/v1/sandboxes/box/sessions/%2e%2e",
            "/v1/sandboxes/box/sessions/.",
            "/v1/sandboxes/box/sessions//history",
            "/v1/sandboxes/box/sessions/a b",
        ] {
            assert_eq!(parse("DELETE", path).unwrap_err().code, ErrorCode::ValidationFailed, "{path}");
        }
        assert_eq!(
            parse("DELETE", "/v1/sandboxes/box/sessions/s.1_a-b").unwrap(),
            sandbox("box", "/v1/sessions/s.1_a-b")
        );
    }

    #[test]
    fn other_paths_are_not_found() {
        assert_eq!(parse("GET", "/").unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(parse("GET", "/v1/sandboxes").unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(parse("GET", "/v1/health").unwrap(), Route::Health);
    }
}
