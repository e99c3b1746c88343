//! Error codes and their HTTP statuses: the one place where a failure becomes a status code.

use serde::{Deserialize, Serialize};

/// Every error the API reports, by its stable wire code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// A field is missing, of the wrong type or out of range; an id, name or path is invalid.
    ValidationFailed,
    /// The body is not JSON at all.
    InvalidJson,
    /// The request body is larger than the server accepts.
    BodyTooLarge,
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
    /// A bearer token is required and was missing or wrong.
    Unauthorized,
    /// The sandbox's container (or local agent) cannot be reached now; retry later.
    ContainerUnavailable,
    /// The agent is stopping and takes no new work.
    ShuttingDown,
    InternalError,
    /// A code this version does not know (sent by a newer peer).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status this error is reported with.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            ValidationFailed | InvalidJson | NotDirectory | IsDirectory | DefaultSessionProtected => 400,
            Unauthorized => 401,
            PermissionDenied => 403,
            NotFound | SessionNotFound | FileNotFound => 404,
            MethodNotAllowed => 405,
            SessionAlreadyExists | FileExists | DirectoryNotEmpty => 409,
            BodyTooLarge | FileTooLarge => 413,
            ContainerUnavailable | ShuttingDown => 503,
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
            Unauthorized => "UNAUTHORIZED",
            ContainerUnavailable => "CONTAINER_UNAVAILABLE",
            ShuttingDown => "SHUTTING_DOWN",
            InternalError => "INTERNAL_ERROR",
            Unknown => "UNKNOWN",
        }
    }
}

/// The body of every error response: `{ "code": "...", "message": "..." }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_spelling_matches_serde() {
        for code in [
            ErrorCode::ValidationFailed,
            ErrorCode::SessionNotFound,
            ErrorCode::SessionAlreadyExists,
            ErrorCode::DefaultSessionProtected,
            ErrorCode::FileTooLarge,
            ErrorCode::ContainerUnavailable,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
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
