//! Error codes and their HTTP statuses: the one place where a failure becomes a status code.

use serde::{Deserialize, Serialize};

/// Declares the error codes from one table: each variant with its wire spelling and its HTTP status, so the enum,
/// `ALL`, `as_str` and `http_status` cannot disagree (serde's spelling is checked against `as_str` in the tests).
macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $wire:literal, $status:literal;)*) => {
        /// Every error the API reports, by its stable wire code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(test, derive(schemars::JsonSchema))]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
            /// A code this version does not know (sent by a newer peer); never sent.
            #[serde(other)]
            #[cfg_attr(test, schemars(skip))]
            Unknown,
        }

        impl ErrorCode {
            /// Every code a server sends (all but `Unknown`).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            /// The HTTP status this error is reported with.
            pub fn http_status(self) -> u16 {
                match self {
                    $(ErrorCode::$name => $status,)*
                    ErrorCode::Unknown => 500,
                }
            }

            /// The wire spelling, e.g. `SESSION_NOT_FOUND`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $wire,)*
                    ErrorCode::Unknown => "UNKNOWN",
                }
            }
        }
    };
}

error_codes! {
    /// A field is missing, of the wrong type or out of range; an id, name or path is invalid.
    ValidationFailed = "VALIDATION_FAILED", 400;
    /// The body is not JSON at all.
    InvalidJson = "INVALID_JSON", 400;
    /// The request body is larger than the server accepts.
    BodyTooLarge = "BODY_TOO_LARGE", 413;
    /// The request body did not arrive in time.
    RequestTimeout = "REQUEST_TIMEOUT", 408;
    /// No such route.
    NotFound = "NOT_FOUND", 404;
    /// The route exists, the method does not.
    MethodNotAllowed = "METHOD_NOT_ALLOWED", 405;
    SessionNotFound = "SESSION_NOT_FOUND", 404;
    SessionAlreadyExists = "SESSION_ALREADY_EXISTS", 409;
    /// The default session ends with its sandbox, not on its own.
    DefaultSessionProtected = "DEFAULT_SESSION_PROTECTED", 400;
    FileNotFound = "FILE_NOT_FOUND", 404;
    NotDirectory = "NOT_DIRECTORY", 400;
    IsDirectory = "IS_DIRECTORY", 400;
    FileExists = "FILE_EXISTS", 409;
    DirectoryNotEmpty = "DIRECTORY_NOT_EMPTY", 409;
    PermissionDenied = "PERMISSION_DENIED", 403;
    FileTooLarge = "FILE_TOO_LARGE", 413;
    /// `gitCheckout`: no repository at the URL (or no access to one that exists).
    GitRepositoryNotFound = "GIT_REPOSITORY_NOT_FOUND", 404;
    /// `gitCheckout`: the repository has no such branch or tag.
    GitBranchNotFound = "GIT_BRANCH_NOT_FOUND", 404;
    /// `gitCheckout`: the repository asked for credentials, or refused the ones given.
    GitAuthFailed = "GIT_AUTH_FAILED", 403;
    /// `gitCheckout`: the repository's host could not be reached.
    GitNetworkError = "GIT_NETWORK_ERROR", 502;
    /// `gitCheckout`: git failed for another reason (its message is in the error's).
    GitCloneFailed = "GIT_CLONE_FAILED", 422;
    /// A watch over a limit: the sandbox's watches, or the kernel's inotify instances or watches.
    WatchLimit = "WATCH_LIMIT", 429;
    /// A network policy that restricts anything, where this agent cannot enforce one (no network namespace of the
    /// sandbox's own): refused rather than pretended.
    EgressUnavailable = "EGRESS_UNAVAILABLE", 501;
    /// The sandbox has as many secrets as it may (32): delete one first.
    TooManySecrets = "TOO_MANY_SECRETS", 429;
    /// No secret of that name.
    SecretNotFound = "SECRET_NOT_FOUND", 404;
    /// A range that starts at or past the end of the file.
    RangeNotSatisfiable = "RANGE_NOT_SATISFIABLE", 416;
    /// The file is not a regular file (a device, a FIFO, a socket): the file API reads and writes regular files.
    UnsupportedFileType = "UNSUPPORTED_FILE_TYPE", 400;
    /// The disk (or the caller's quota) is full; nothing was changed.
    NoSpace = "NO_SPACE", 507;
    /// A bearer token is required and was missing or wrong.
    Unauthorized = "UNAUTHORIZED", 401;
    /// A request a browser sent from another site (foreign `Origin`, `Sec-Fetch-Site`, or a `Host` that is not
    /// this server's): refused, so a web page cannot drive a sandbox.
    CrossSiteRefused = "CROSS_SITE_REFUSED", 403;
    /// A body that is not `application/json` on a JSON route.
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE", 415;
    /// The sandbox already has as many sessions as it may.
    TooManySessions = "TOO_MANY_SESSIONS", 429;
    ProcessNotFound = "PROCESS_NOT_FOUND", 404;
    /// A process with that `processId` exists (running, or ended and kept for listing).
    ProcessAlreadyExists = "PROCESS_ALREADY_EXISTS", 409;
    /// The sandbox has as many processes as it may, none of them ended (an ended one makes room).
    TooManyProcesses = "TOO_MANY_PROCESSES", 429;
    /// The process has ended, or its stdin was closed: it takes no input.
    ProcessNotRunning = "PROCESS_NOT_RUNNING", 409;
    /// A wait's condition cannot hold any more: the process ended first (the message gives its exit code).
    ProcessExited = "PROCESS_EXITED", 409;
    /// A wait's condition did not hold within its timeout.
    WaitTimedOut = "WAIT_TIMED_OUT", 408;
    /// The port is not exposed.
    PortNotExposed = "PORT_NOT_EXPOSED", 404;
    /// Local mode: this machine runs as many sandboxes as the agent's `--max-sandboxes` allows; destroy one first.
    TooManySandboxes = "TOO_MANY_SANDBOXES", 429;
    /// No terminal with that id (it ended, or never was).
    PtyNotFound = "PTY_NOT_FOUND", 404;
    /// The agent is at its limit of memory or work in flight; retry after `Retry-After` seconds.
    ResourceExhausted = "RESOURCE_EXHAUSTED", 503;
    /// The sandbox's container (or local agent) cannot be reached now; retry later.
    ContainerUnavailable = "CONTAINER_UNAVAILABLE", 503;
    /// The agent is stopping and takes no new work.
    ShuttingDown = "SHUTTING_DOWN", 503;
    /// The agent is not the one the caller expected (`X-Agent-Boot-Expected`): it restarted, and has done nothing.
    AgentRestarted = "AGENT_RESTARTED", 412;
    /// Backups need an R2 bucket bound as `SANDBOX_BACKUPS`, and this deployment has none.
    BackupsNotConfigured = "BACKUPS_NOT_CONFIGURED", 501;
    /// A fork's new sandbox is in use already (it has sessions, a save or backups): fork to a new id.
    SandboxAlreadyExists = "SANDBOX_ALREADY_EXISTS", 409;
    /// No backup, save or restore with that id (it ended, expired, or belongs to another sandbox).
    BackupNotFound = "BACKUP_NOT_FOUND", 404;
    /// A backup's manifest or blob is corrupt, truncated or not this backup's; nothing was changed.
    BackupInvalid = "BACKUP_INVALID", 422;
    /// A file changed between a save's reading of it and its sending, in every attempt the save made (a file
    /// written without a pause); nothing was stored as current. Files seen changing are held in memory by the next
    /// save, up to a bound, so a log being written does not stop saves.
    FileChanged = "FILE_CHANGED", 409;
    /// Resource limits were asked for (`limits`, or the agent's `--limit-*` defaults) that this sandbox cannot
    /// enforce: the agent makes no cgroups here, or lacks the controller (the message names it). Nothing started.
    LimitsUnavailable = "LIMITS_UNAVAILABLE", 501;
    InternalError = "INTERNAL_ERROR", 500;
}

/// The body of every error response: `{ "code": "...", "message": "...", "requestId": "..." }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// The call's `X-Request-Id`, to find its log lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_spelling_matches_serde() {
        for &code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert_eq!(serde_json::from_value::<ErrorCode>(code.as_str().into()).unwrap(), code);
        }
    }

    #[test]
    fn unknown_codes_from_a_newer_peer_still_parse() {
        let body: ErrorBody = serde_json::from_str(r#"{"code":"SOMETHING_NEW","message":"m"}"#).unwrap();
        assert_eq!(body.code, ErrorCode::Unknown);
    }

    #[test]
    fn sdk_statuses() {
        assert_eq!(ErrorCode::SessionNotFound.http_status(), 404);
        assert_eq!(ErrorCode::SessionAlreadyExists.http_status(), 409);
        assert_eq!(ErrorCode::FileTooLarge.http_status(), 413);
        assert_eq!(ErrorCode::ContainerUnavailable.http_status(), 503);
        assert_eq!(ErrorCode::IsDirectory.http_status(), 400);
    }
}
