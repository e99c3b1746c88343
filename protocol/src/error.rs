//! Error codes and their HTTP statuses: the one place where a failure becomes a status code.

use serde::{Deserialize, Serialize};

/// Every error the API reports, by its stable wire code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// A field is missing, of the wrong type or out of range; an id, name or path is invalid.
    ValidationFailed,
    /// The body is not JSON at all.
    InvalidJson,
    /// The request body is larger than the server accepts.
    BodyTooLarge,
    /// The request body did not arrive in time.
    RequestTimeout,
    /// No such route.
    NotFound,
    /// The route exists, the method does not.
    MethodNotAllowed,
    SessionNotFound,
    SessionAlreadyExists,
    /// The default session ends with its sandbox, not on its own.
    DefaultSessionProtected,
    FileNotFound,
    NotDirectory,
    IsDirectory,
    FileExists,
    DirectoryNotEmpty,
    PermissionDenied,
    FileTooLarge,
    /// The file is not a regular file (a device, a FIFO, a socket): the file API reads and writes regular files.
    UnsupportedFileType,
    /// The disk (or the caller's quota) is full; nothing was changed.
    NoSpace,
    /// A bearer token is required and was missing or wrong.
    Unauthorized,
    /// A request a browser sent from another site (foreign `Origin`, `Sec-Fetch-Site`, or a `Host` that is not
    /// this server's): refused, so a web page cannot drive a sandbox.
    CrossSiteRefused,
    /// A body that is not `application/json` on a JSON route.
    UnsupportedMediaType,
    /// The sandbox already has as many sessions as it may.
    TooManySessions,
    ProcessNotFound,
    /// A process with that `processId` exists (running, or ended and kept for listing).
    ProcessAlreadyExists,
    /// The sandbox has as many processes as it may, none of them ended (an ended one makes room).
    TooManyProcesses,
    /// The process has ended, or its stdin was closed: it takes no input.
    ProcessNotRunning,
    /// A wait's condition cannot hold any more: the process ended first (the message gives its exit code).
    ProcessExited,
    /// A wait's condition did not hold within its timeout.
    WaitTimedOut,
    /// The port is not exposed.
    PortNotExposed,
    /// Local mode: this machine runs as many sandboxes as the agent's `--max-sandboxes` allows; destroy one first.
    TooManySandboxes,
    /// No terminal with that id (it ended, or never was).
    PtyNotFound,
    /// The agent is at its limit of memory or work in flight; retry after `Retry-After` seconds.
    ResourceExhausted,
    /// The sandbox's container (or local agent) cannot be reached now; retry later.
    ContainerUnavailable,
    /// The agent is stopping and takes no new work.
    ShuttingDown,
    /// The agent is not the one the caller expected (`X-Agent-Boot-Expected`): it restarted, and has done nothing.
    AgentRestarted,
    InternalError,
    /// A code this version does not know (sent by a newer peer); never sent.
    #[serde(other)]
    #[cfg_attr(test, schemars(skip))]
    Unknown,
}

impl ErrorCode {
    /// Every code a server sends (all but `Unknown`).
    pub const ALL: [ErrorCode; 36] = {
        use ErrorCode::*;
        [
            ValidationFailed,
            InvalidJson,
            BodyTooLarge,
            RequestTimeout,
            NotFound,
            MethodNotAllowed,
            SessionNotFound,
            SessionAlreadyExists,
            DefaultSessionProtected,
            FileNotFound,
            NotDirectory,
            IsDirectory,
            FileExists,
            DirectoryNotEmpty,
            PermissionDenied,
            FileTooLarge,
            UnsupportedFileType,
            NoSpace,
            Unauthorized,
            CrossSiteRefused,
            UnsupportedMediaType,
            TooManySessions,
            ProcessNotFound,
            ProcessAlreadyExists,
            TooManyProcesses,
            ProcessNotRunning,
            ProcessExited,
            WaitTimedOut,
            PortNotExposed,
            TooManySandboxes,
            PtyNotFound,
            ResourceExhausted,
            ContainerUnavailable,
            ShuttingDown,
            AgentRestarted,
            InternalError,
        ]
    };

    /// The HTTP status this error is reported with.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            ValidationFailed | InvalidJson | NotDirectory | IsDirectory | DefaultSessionProtected => 400,
            UnsupportedFileType => 400,
            Unauthorized => 401,
            AgentRestarted => 412,
            RequestTimeout | WaitTimedOut => 408,
            PermissionDenied | CrossSiteRefused => 403,
            NotFound | SessionNotFound | FileNotFound | ProcessNotFound | PortNotExposed => 404,
            PtyNotFound => 404,
            MethodNotAllowed => 405,
            SessionAlreadyExists | FileExists | DirectoryNotEmpty => 409,
            ProcessAlreadyExists | ProcessNotRunning | ProcessExited => 409,
            BodyTooLarge | FileTooLarge => 413,
            UnsupportedMediaType => 415,
            TooManySessions | TooManyProcesses | TooManySandboxes => 429,
            ContainerUnavailable | ShuttingDown | ResourceExhausted => 503,
            NoSpace => 507,
            InternalError | Unknown => 500,
        }
    }

    /// The wire spelling, e.g. `SESSION_NOT_FOUND`.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            ValidationFailed => "VALIDATION_FAILED",
            InvalidJson => "INVALID_JSON",
            BodyTooLarge => "BODY_TOO_LARGE",
            RequestTimeout => "REQUEST_TIMEOUT",
            NotFound => "NOT_FOUND",
            MethodNotAllowed => "METHOD_NOT_ALLOWED",
            SessionNotFound => "SESSION_NOT_FOUND",
            SessionAlreadyExists => "SESSION_ALREADY_EXISTS",
            DefaultSessionProtected => "DEFAULT_SESSION_PROTECTED",
            FileNotFound => "FILE_NOT_FOUND",
            NotDirectory => "NOT_DIRECTORY",
            IsDirectory => "IS_DIRECTORY",
            FileExists => "FILE_EXISTS",
            DirectoryNotEmpty => "DIRECTORY_NOT_EMPTY",
            PermissionDenied => "PERMISSION_DENIED",
            FileTooLarge => "FILE_TOO_LARGE",
            UnsupportedFileType => "UNSUPPORTED_FILE_TYPE",
            NoSpace => "NO_SPACE",
            Unauthorized => "UNAUTHORIZED",
            CrossSiteRefused => "CROSS_SITE_REFUSED",
            UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            TooManySessions => "TOO_MANY_SESSIONS",
            ProcessNotFound => "PROCESS_NOT_FOUND",
            ProcessAlreadyExists => "PROCESS_ALREADY_EXISTS",
            TooManyProcesses => "TOO_MANY_PROCESSES",
            ProcessNotRunning => "PROCESS_NOT_RUNNING",
            ProcessExited => "PROCESS_EXITED",
            WaitTimedOut => "WAIT_TIMED_OUT",
            PortNotExposed => "PORT_NOT_EXPOSED",
            TooManySandboxes => "TOO_MANY_SANDBOXES",
            PtyNotFound => "PTY_NOT_FOUND",
            ResourceExhausted => "RESOURCE_EXHAUSTED",
            ContainerUnavailable => "CONTAINER_UNAVAILABLE",
            ShuttingDown => "SHUTTING_DOWN",
            AgentRestarted => "AGENT_RESTARTED",
            InternalError => "INTERNAL_ERROR",
            Unknown => "UNKNOWN",
        }
    }
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
        for code in ErrorCode::ALL {
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
