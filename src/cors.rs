//! Pages of the origins in `SANDBOX_ALLOWED_ORIGINS` calling the Worker from a browser. Such a page's request
//! passes the web-page screen (`access.rs`), but a browser lets the page read the answer only with CORS headers,
//! and asks first (a preflight, `OPTIONS`, without the page's `Authorization`) for every call that carries a token
//! or JSON. So the preflight of an allowed origin is answered before the token is asked for, and its calls'
//! answers name the origin. Any other origin gets neither. Pure.

/// The methods and request headers an allowed page may use.
const METHODS: &str = "GET, POST, DELETE";
const REQUEST_HEADERS: &str = "authorization, content-type, x-request-id";
/// The answer headers such a page may read besides the simple ones.
const EXPOSED: &str = "x-request-id, x-sandbox-sessions-recreated, retry-after";
/// How long a browser may keep a preflight's answer.
const MAX_AGE: &str = "600";

/// The origin of a request from a page of an allowed origin, if it is one.
pub fn allowed<'a>(origin: Option<&'a str>, allowed_origins: &[String]) -> Option<&'a str> {
    origin.filter(|origin| allowed_origins.iter().any(|allowed| allowed == origin))
}

/// Whether a request is a browser's preflight: `OPTIONS` with `Access-Control-Request-Method`.
pub fn is_preflight(method: &str, request_method: Option<&str>) -> bool {
    method.eq_ignore_ascii_case("OPTIONS") && request_method.is_some()
}

/// The headers of the `204` that answers an allowed origin's preflight.
pub fn preflight_headers(origin: &str) -> Vec<(&'static str, String)> {
    let mut headers = answer_headers(origin);
    headers.extend([
        ("access-control-allow-methods", METHODS.to_string()),
        ("access-control-allow-headers", REQUEST_HEADERS.to_string()),
        ("access-control-max-age", MAX_AGE.to_string()),
    ]);
    headers
}

/// The headers every answer to an allowed origin's page carries.
pub fn answer_headers(origin: &str) -> Vec<(&'static str, String)> {
    vec![
        ("access-control-allow-origin", origin.to_string()),
        ("access-control-expose-headers", EXPOSED.to_string()),
        ("vary", "Origin".to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_allowed_origins_preflight_is_answered() {
        let list = vec!["https://console.example".to_string()];
        assert_eq!(allowed(Some("https://console.example"), &list), Some("https://console.example"));
        assert_eq!(allowed(Some("https://evil.example"), &list), None);
        assert_eq!(allowed(Some("https://console.example.evil"), &list), None);
        assert_eq!(allowed(None, &list), None);
        assert!(is_preflight("OPTIONS", Some("POST")));
        assert!(!is_preflight("OPTIONS", None));
        assert!(!is_preflight("POST", Some("POST")));
        let headers = preflight_headers("https://console.example");
        let get = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("access-control-allow-origin"), Some("https://console.example"));
        assert!(get("access-control-allow-headers").unwrap().contains("authorization"));
        assert_eq!(get("vary"), Some("Origin"));
    }
}
