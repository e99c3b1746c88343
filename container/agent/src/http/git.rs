//! `POST /v1/git/checkout` (`gitCheckout`): the clone runs as a command of the session (its variables, its
//! directory, its containment and timeout), written from a checked argv (`git.rs`), never through a shell's reading
//! of what the caller sent; git's complaint comes back as a typed error.

use axum::Json;
use sandbox_protocol::{ErrorCode, GitCheckoutRequest, GitCheckoutResult};

use super::body::JsonBody;
use super::context::TenantCtx;
use super::files::{blocking, target};
use crate::clock::iso_now;
use crate::error::{short, AgentError, AgentResult};
use crate::git::{failure, Clone, ALLOWED_PROTOCOLS};
use crate::session::ExecSpec;

/// The most of git's output kept to read its complaint and the branch.
const OUTPUT_CAP: usize = 64 * 1024;

pub async fn checkout(
    TenantCtx(sandbox): TenantCtx,
    JsonBody(req, _held): JsonBody<GitCheckoutRequest>,
) -> AgentResult<Json<GitCheckoutResult>> {
    let clone = Clone::new(&req.repo_url, req.branch.as_deref(), req.depth).map_err(AgentError::invalid)?;
    let dir = match req.target_dir.clone().or_else(|| clone.default_dir()) {
        Some(dir) => dir,
        None => {
            return Err(AgentError::invalid("targetDir is needed: the repository's name cannot be told from its URL"))
        }
    };
    let session = sandbox.session(req.session_id.as_deref())?;
    let dest = target(&sandbox, req.session_id.as_deref(), &dir, "targetDir")?;
    let checked = dest.clone();
    blocking(move || match std::fs::read_dir(&checked.real).map(|mut entries| entries.next().is_none()) {
        Ok(false) => Err(AgentError::new(
            ErrorCode::FileExists,
            format!("{}: already exists and is not an empty directory", short(&checked.shown)),
        )),
        Ok(true) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Err(AgentError::new(
            ErrorCode::FileExists,
            format!("{}: already exists and is not a directory", short(&checked.shown)),
        )),
        Err(e) => Err(AgentError::from_io(&e, &checked.shown)),
    })
    .await?;
    let path = dest.real.to_string_lossy().into_owned();
    let env = vec![
        // No prompt for credentials (there is no one to answer), and no transport that runs a command.
        ("GIT_TERMINAL_PROMPT".to_string(), Some("0".to_string())),
        ("GIT_ALLOW_PROTOCOL".to_string(), Some(ALLOWED_PROTOCOLS.to_string())),
    ];
    let spec = ExecSpec {
        command: clone.command(&path),
        env,
        timeout: req.timeout.map(std::time::Duration::from_millis),
        request_id: super::trace::current(),
        ..ExecSpec::default()
    };
    tracing::info!(session = %session.id, target = %dest.shown, "git clone");
    let collected = session.exec(spec, OUTPUT_CAP).await?;
    let timed_out = collected.outcome.ended == sandbox_protocol::Ended::TimedOut;
    if collected.outcome.exit_code != 0 || timed_out {
        let stderr = String::from_utf8_lossy(&collected.stderr.into_bytes()).into_owned();
        let (code, message) = failure(&stderr, timed_out);
        return Err(AgentError::new(code, format!("gitCheckout {}: {message}", short(&req.repo_url))));
    }
    let stdout = String::from_utf8_lossy(&collected.stdout.into_bytes()).into_owned();
    let branch = stdout.lines().last().unwrap_or_default().trim().to_string();
    Ok(Json(GitCheckoutResult {
        success: true,
        repo_url: req.repo_url,
        branch,
        target_dir: dest.shown,
        timestamp: iso_now(),
    }))
}
