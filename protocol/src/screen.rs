//! Requests a web page could make, told apart from a program's calls. The Worker and the agent both refuse them:
//! a page the developer visits must not be able to drive a sandbox on their machine (a cross-site "simple" POST,
//! or DNS rebinding, which would also let the page read the answers). Pure; each check returns the message of the
//! error it leads to.
//!
//! A browser marks what it sends: cross-site requests carry `Origin` (and `Sec-Fetch-Site`), and a page cannot
//! send `Content-Type: application/json` cross-site without a preflight that nothing here answers. A rebinding
//! page reaches a loopback server under its own host name, which the `Host` header gives away.

/// The origin the clients put on requests through a service binding (the binding ignores it).
pub const BINDING_ORIGIN: &str = "https://sandbox";
const BINDING_HOST: &str = "sandbox";

/// Refuses a request a browser marked as coming from a page, unless its origin is one of `allowed_origins`
/// (exact matches, such as `https://app.example.com`). Programs (service bindings, the clients, curl) send
/// neither header.
pub fn check_not_cross_site(
    origin: Option<&str>,
    fetch_site: Option<&str>,
    allowed_origins: &[String],
) -> Result<(), String> {
    if let Some(origin) = origin {
        if allowed_origins.iter().any(|allowed| allowed == origin) {
            return Ok(());
        }
        return Err(format!("requests from web pages are refused (Origin {origin:?} is not allowed)"));
    }
    match fetch_site {
        None | Some("none") | Some("same-origin") => Ok(()),
        Some(site) => Err(format!("requests from web pages are refused (Sec-Fetch-Site: {site})")),
    }
}

/// A body of a type a web page can send to another site without asking first (a CORS-safelisted type: plain text,
/// a form; or no type at all, as a `Blob` without one is sent) is refused on every route. Any other type needs a
/// preflight, which no foreign page gets: so a route may take bytes (`application/octet-stream`) as well as JSON.
/// `GET`, `HEAD`, `DELETE` and `OPTIONS` carry no body here.
pub fn check_not_page_body(method: &str, content_type: Option<&str>) -> Result<(), String> {
    if matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS") {
        return Ok(());
    }
    let essence = content_type.and_then(|t| t.split(';').next()).map(|t| t.trim().to_ascii_lowercase());
    match essence.as_deref() {
        None | Some("") => Err("the body's Content-Type is missing: say what it is (application/json)".into()),
        Some(page @ ("text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data")) => {
            Err(format!("the body must be application/json, not {page:?} (a type any web page can send)"))
        }
        Some(_) => Ok(()),
    }
}

/// A JSON route's body must say it is JSON (checked by the route's reader, after `check_not_page_body`).
pub fn check_json_body(method: &str, content_type: Option<&str>) -> Result<(), String> {
    if matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS") {
        return Ok(());
    }
    let essence = content_type.and_then(|t| t.split(';').next()).map(|t| t.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(other) => Err(format!("the body must be application/json, not {other:?}")),
        None => Err("the body must be application/json (Content-Type is missing)".into()),
    }
}

/// In local development, the `Host` a request names must be this machine: an IP address, `localhost` (or a name
/// under it), the clients' service-binding host, or one of `allowed_hosts` (names without a port).
pub fn check_local_host(host: Option<&str>, allowed_hosts: &[String]) -> Result<(), String> {
    let Some(host) = host else { return Ok(()) };
    let name = host_name(host).to_ascii_lowercase();
    let local = name == "localhost"
        || name.ends_with(".localhost")
        || name == BINDING_HOST
        || name.parse::<std::net::Ipv4Addr>().is_ok()
        || (name.starts_with('[')
            && name.ends_with(']')
            && name[1..name.len() - 1].parse::<std::net::Ipv6Addr>().is_ok())
        || allowed_hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(&name));
    if local {
        Ok(())
    } else {
        Err(format!(
            "host {name:?} is not this machine: local mode answers loopback names only (see SANDBOX_ALLOWED_HOSTS)"
        ))
    }
}

/// `host[:port]` without the port; `[v6]:port` keeps its brackets.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// For a caller Worker that hands a browser's WebSocket on to a sandbox (a terminal): the page must be one of the
/// caller's own, its `Origin` naming the host the request came to (`own_host`, with its port), or be one of
/// `allowed_origins` (exact matches). A request without `Origin` is no page's (browsers send it with every
/// WebSocket). `Origin: null` (a sandboxed frame, a file) is never the caller's own.
pub fn check_page_origin(
    origin: Option<&str>,
    own_host: Option<&str>,
    allowed_origins: &[String],
) -> Result<(), String> {
    let Some(origin) = origin else { return Ok(()) };
    if allowed_origins.iter().any(|allowed| allowed == origin) {
        return Ok(());
    }
    let page_host =
        origin.split_once("://").map(|(_, rest)| rest).filter(|host| !host.is_empty() && !host.contains('/'));
    match (page_host, own_host) {
        (Some(page), Some(own)) if page.eq_ignore_ascii_case(own) => Ok(()),
        _ => Err(format!(
            "a terminal opens only for a page of this Worker's own host{}, not for one of {origin:?} (allowedOrigins lists others)",
            own_host.map(|h| format!(" ({h})")).unwrap_or_default()
        )),
    }
}

/// A comma-separated list from configuration, trimmed, empty items dropped.
pub fn parse_list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any header text is judged without a panic; a host with a dot that is not an address or `localhost` is
        /// never taken for this machine.
        #[test]
        fn any_header_is_judged(text in "\\PC{0,40}") {
            let _ = check_not_cross_site(Some(&text), Some(&text), &[]);
            let _ = check_json_body("POST", Some(&text));
            if check_local_host(Some(&text), &[]).is_ok() {
                let name = host_name(&text).to_ascii_lowercase();
                prop_assert!(
                    !name.contains('.')
                        || name.parse::<std::net::Ipv4Addr>().is_ok()
                        || name.ends_with(".localhost")
                        || name.starts_with('['),
                    "{text:?} passed as local"
                );
            }
        }
    }

    #[test]
    fn programs_pass_and_pages_do_not() {
        assert!(check_not_cross_site(None, None, &[]).is_ok());
        assert!(check_not_cross_site(None, Some("none"), &[]).is_ok());
        assert!(check_not_cross_site(Some("https://evil.example"), None, &[]).is_err());
        assert!(check_not_cross_site(Some("null"), None, &[]).is_err());
        assert!(check_not_cross_site(None, Some("cross-site"), &[]).is_err());
        assert!(check_not_cross_site(None, Some("same-site"), &[]).is_err());
        let allowed = vec!["https://app.example".to_string()];
        assert!(check_not_cross_site(Some("https://app.example"), Some("cross-site"), &allowed).is_ok());
        assert!(check_not_cross_site(Some("https://app.example.evil"), None, &allowed).is_err());
    }

    #[test]
    fn a_terminal_opens_for_the_callers_own_pages_only() {
        let own = Some("app.example:8788");
        assert!(check_page_origin(None, own, &[]).is_ok());
        assert!(check_page_origin(Some("http://app.example:8788"), own, &[]).is_ok());
        assert!(check_page_origin(Some("https://APP.example:8788"), own, &[]).is_ok());
        assert!(check_page_origin(Some("https://evil.example"), own, &[]).is_err());
        assert!(check_page_origin(Some("http://app.example"), own, &[]).is_err(), "another port is another origin");
        assert!(check_page_origin(Some("http://app.example:8788.evil.example"), own, &[]).is_err());
        assert!(check_page_origin(Some("null"), own, &[]).is_err());
        assert!(check_page_origin(Some("http://app.example:8788"), None, &[]).is_err());
        let allowed = vec!["https://console.example".to_string()];
        assert!(check_page_origin(Some("https://console.example"), own, &allowed).is_ok());
    }

    #[test]
    fn a_body_a_page_can_send_unasked_is_refused_and_others_are_left_to_their_route() {
        for simple in [
            Some("text/plain"),
            Some("text/plain;charset=UTF-8"),
            Some("application/x-www-form-urlencoded"),
            Some("Multipart/Form-Data; boundary=x"),
            Some(""),
            None,
        ] {
            assert!(check_not_page_body("POST", simple).is_err(), "{simple:?}");
        }
        for typed in ["application/json", "application/octet-stream", "application/xml"] {
            assert!(check_not_page_body("PUT", Some(typed)).is_ok(), "{typed}");
        }
        assert!(check_json_body("POST", Some("application/octet-stream")).is_err(), "a JSON route still wants JSON");
        assert!(check_not_page_body("GET", None).is_ok());
    }

    #[test]
    fn bodies_must_be_json() {
        assert!(check_json_body("POST", Some("application/json")).is_ok());
        assert!(check_json_body("POST", Some("Application/JSON; charset=utf-8")).is_ok());
        assert!(check_json_body("GET", None).is_ok());
        assert!(check_json_body("DELETE", None).is_ok());
        for simple in
            ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data"]
        {
            assert!(check_json_body("POST", Some(simple)).is_err(), "{simple}");
        }
        assert!(check_json_body("POST", None).is_err());
        assert!(check_json_body("PUT", Some("text/plain")).is_err());
    }

    #[test]
    fn local_hosts() {
        for host in ["127.0.0.1:8787", "localhost", "LOCALHOST:1", "a.localhost:9", "[::1]:8787", "10.0.0.2", "sandbox"]
        {
            assert!(check_local_host(Some(host), &[]).is_ok(), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8787",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "[::1",
            "sandbox.example",
        ] {
            assert!(check_local_host(Some(host), &[]).is_err(), "{host}");
        }
        assert!(check_local_host(Some("dev.box:8787"), &["dev.box".to_string()]).is_ok());
        assert!(check_local_host(None, &[]).is_ok());
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list(" a, ,b "), vec!["a".to_string(), "b".to_string()]);
        assert!(parse_list("").is_empty());
    }
}
