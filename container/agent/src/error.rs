//! The agent's error type. Every failure a request can meet is an `AgentError` with a wire code; the code's HTTP
//! status comes from `ErrorCode::http_status`, so the mapping lives in one place. How an error is answered over
//! HTTP (status, headers, the request's id) is `http::answer`'s: nothing here knows of HTTP.

use std::fmt;
use std::io;

use sandbox_protocol::{ErrorBody, ErrorCode};

#[derive(Debug, Clone, PartialEq)]
pub struct AgentError {
    pub code: ErrorCode,
    pub message: String,
}

pub type AgentResult<T> = Result<T, AgentError>;

impl AgentError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }

    pub fn session_not_found(id: &str) -> Self {
        Self::new(ErrorCode::SessionNotFound, format!("session {id:?} not found"))
    }

    /// A filesystem error about `path`, with the code a caller can act on.
    pub fn from_io(err: &io::Error, path: &str) -> Self {
        use io::ErrorKind::*;
        let code = match err.kind() {
            NotFound => ErrorCode::FileNotFound,
            PermissionDenied | ReadOnlyFilesystem => ErrorCode::PermissionDenied,
            AlreadyExists => ErrorCode::FileExists,
            NotADirectory => ErrorCode::NotDirectory,
            IsADirectory => ErrorCode::IsDirectory,
            DirectoryNotEmpty => ErrorCode::DirectoryNotEmpty,
            InvalidInput | InvalidFilename => ErrorCode::ValidationFailed,
            FileTooLarge => ErrorCode::FileTooLarge,
            StorageFull | QuotaExceeded => ErrorCode::NoSpace,
            Unsupported => ErrorCode::UnsupportedFileType,
            _ => ErrorCode::InternalError,
        };
        Self::new(code, format!("{}: {err}", short(path)))
    }

    /// The body of an answer that reports it, in the request `request_id` (its HTTP side is `http::answer`).
    pub fn body(&self, request_id: Option<String>) -> ErrorBody {
        ErrorBody { code: self.code, message: self.message.clone(), request_id }
    }
}

/// A caller's path as errors show it: long paths are cut (a caller may send a megabyte of path; its error need
/// not echo it).
pub fn short(path: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 256;
    if path.len() <= SHOWN {
        return path.into();
    }
    let mut end = SHOWN;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &path[..end], path.len()).into()
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for AgentError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_file_codes() {
        let e = AgentError::from_io(&io::Error::from(io::ErrorKind::NotFound), "/x");
        assert_eq!(e.code, ErrorCode::FileNotFound);
        assert!(e.message.starts_with("/x: "));
        let e = AgentError::from_io(&io::Error::from_raw_os_error(nix::libc::ENOTDIR), "/x");
        assert_eq!(e.code, ErrorCode::NotDirectory);
        let e = AgentError::from_io(&io::Error::from_raw_os_error(nix::libc::EISDIR), "/x");
        assert_eq!(e.code, ErrorCode::IsDirectory);
        let e = AgentError::from_io(&io::Error::from_raw_os_error(nix::libc::ENOSPC), "/x");
        assert_eq!(e.code, ErrorCode::NoSpace);
    }

    #[test]
    fn long_paths_are_cut_in_messages() {
        let path = format!("/{}", "é".repeat(100_000));
        let e = AgentError::from_io(&io::Error::from(io::ErrorKind::NotFound), &path);
        assert!(e.message.len() < 400, "{}", e.message.len());
        assert!(e.message.contains("200001 bytes"));
    }
}
