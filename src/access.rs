//! Who may call: when a token is configured, every request must carry it (compared in constant time), and no
//! request may come from a web page (`sandbox_protocol::screen`). Pure.

use sandbox_protocol::secret::same_secret;
use sandbox_protocol::{screen, ErrorCode};

use crate::errors::WorkerError;

/// `expected` is the configured token (none or empty: the Worker is open, kept private by its deployment).
pub fn check_bearer(expected: Option<&str>, authorization: Option<&str>) -> Result<(), WorkerError> {
    let Some(expected) = expected.filter(|t| !t.is_empty()) else { return Ok(()) };
    let given = authorization.and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
    if same_secret(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(WorkerError::new(ErrorCode::Unauthorized, "missing or wrong bearer token"))
    }
}

/// What the Worker knows of a request's origin, and what its configuration allows.
pub struct BrowserCheck<'a> {
    pub method: &'a str,
    pub origin: Option<&'a str>,
    pub fetch_site: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub host: Option<&'a str>,
    /// The `Host` of the browser page whose WebSocket a caller hands on (`PAGE_HOST_HEADER`), if any.
    pub page_host: Option<&'a str>,
    /// `SANDBOX_ALLOWED_ORIGINS`: pages that may call (none by default).
    pub allowed_origins: &'a [String],
    /// Local development (`SANDBOX_AGENT_URL`): the `Host` must be this machine or one of `allowed_hosts`.
    pub local: bool,
    pub allowed_hosts: &'a [String],
}

/// Refuses what a web page could send: a foreign origin, a body of a type a page sends unasked, and in local mode a
/// foreign `Host`, its
/// own or the one a caller says its page named (DNS rebinding, directly or through a caller's terminal).
pub fn check_browser(request: &BrowserCheck<'_>) -> Result<(), WorkerError> {
    let refused = |message: String| WorkerError::new(ErrorCode::CrossSiteRefused, message);
    screen::check_not_cross_site(request.origin, request.fetch_site, request.allowed_origins).map_err(refused)?;
    if request.local {
        screen::check_local_host(request.host, request.allowed_hosts).map_err(refused)?;
        screen::check_local_host(request.page_host, request.allowed_hosts).map_err(refused)?;
    }
    screen::check_not_page_body(request.method, request.content_type)
        .map_err(|message| WorkerError::new(ErrorCode::UnsupportedMediaType, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_without_a_token() {
        assert!(check_bearer(None, None).is_ok());
        assert!(check_bearer(Some(""), None).is_ok());
    }

    #[test]
    fn a_token_must_match_exactly() {
        assert!(check_bearer(Some("s3cret"), Some("Bearer s3cret")).is_ok());
        for header in [None, Some("Bearer s3cre"), Some("Bearer s3cret2"), Some("s3cret"), Some("bearer s3cret")] {
            assert_eq!(check_bearer(Some("s3cret"), header).unwrap_err().code, ErrorCode::Unauthorized);
        }
    }

    fn request<'a>(
        method: &'a str,
        origin: Option<&'a str>,
        content_type: Option<&'a str>,
        host: &'a str,
        local: bool,
    ) -> BrowserCheck<'a> {
        BrowserCheck {
            method,
            origin,
            fetch_site: None,
            content_type,
            host: Some(host),
            page_host: None,
            allowed_origins: &[],
            local,
            allowed_hosts: &[],
        }
    }

    #[test]
    fn web_pages_are_refused() {
        let json = Some("application/json");
        assert!(check_browser(&request("POST", None, json, "127.0.0.1:8787", true)).is_ok());
        let foreign = request("POST", Some("https://evil.example"), json, "127.0.0.1:8787", true);
        assert_eq!(check_browser(&foreign).unwrap_err().code, ErrorCode::CrossSiteRefused);
        let simple = request("POST", None, Some("text/plain"), "127.0.0.1:8787", true);
        assert_eq!(check_browser(&simple).unwrap_err().code, ErrorCode::UnsupportedMediaType);
        let rebound = request("GET", None, None, "evil.example:8787", true);
        assert_eq!(check_browser(&rebound).unwrap_err().code, ErrorCode::CrossSiteRefused);
        // Deployed, the Worker has its own host names.
        assert!(check_browser(&request("GET", None, None, "sandbox.example.com", false)).is_ok());
        // A terminal handed on by a caller whose page named a rebound host.
        let through_caller =
            BrowserCheck { page_host: Some("evil.example:8788"), ..request("GET", None, None, "sandbox", true) };
        assert_eq!(check_browser(&through_caller).unwrap_err().code, ErrorCode::CrossSiteRefused);
        let local_page =
            BrowserCheck { page_host: Some("localhost:8788"), ..request("GET", None, None, "sandbox", true) };
        assert!(check_browser(&local_page).is_ok());
    }
}
