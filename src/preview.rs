//! Preview URLs: a sandbox's exposed port served to browsers at `{port}-{sandboxId}-{token}.{preview host}`. Pure:
//! the host names, the tokens, and the rules for which ports may be exposed.
//!
//! The token is the only credential of a preview URL (a browser sends no bearer token), so it is random (16
//! characters of `[a-z0-9]`, 82 bits), compared in constant time, and a request with a wrong one learns nothing:
//! it gets the same 404 as a port never exposed or a sandbox that does not exist. The whole label must stay a DNS
//! label (63 characters), so a sandbox id of more than 40 characters, or one with capitals (a host name is read
//! without case), gets no preview URL.

use sandbox_protocol::ids::check_sandbox_id;
use sandbox_protocol::{ErrorCode, AGENT_PORT, MIN_EXPOSED_PORT};

use crate::errors::WorkerError;

pub const TOKEN_LEN: usize = 16;
const TOKEN_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// A DNS label's limit.
const MAX_LABEL: usize = 63;
/// Longest sandbox id that fits a label beside the longest port and a token.
pub const MAX_PREVIEW_ID: usize = MAX_LABEL - 5 - TOKEN_LEN - 2;

/// What a preview host names.
#[derive(Debug, PartialEq, Eq)]
pub struct Preview {
    pub port: u16,
    pub sandbox_id: String,
    pub token: String,
}

/// The preview a request's `Host` names, when it is `{label}.{domain}` (any port) and the label reads as one.
pub fn parse_host(host: &str, domain: &str) -> Option<Preview> {
    let host = host.to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(']') => name,
        _ => host.as_str(),
    };
    let label = name.strip_suffix(&format!(".{}", domain.to_ascii_lowercase()))?;
    if label.contains('.') {
        return None;
    }
    let (port, rest) = label.split_once('-')?;
    let (sandbox_id, token) = rest.rsplit_once('-')?;
    let port: u16 = port.parse().ok().filter(|p| *p >= MIN_EXPOSED_PORT)?;
    if port.to_string().len() != label.find('-')? || token.len() != TOKEN_LEN {
        return None;
    }
    if !token.bytes().all(|b| TOKEN_ALPHABET.contains(&b)) || check_sandbox_id(sandbox_id).is_err() {
        return None;
    }
    Some(Preview { port, sandbox_id: sandbox_id.to_string(), token: token.to_string() })
}

/// The host label of a preview.
pub fn label(port: u16, sandbox_id: &str, token: &str) -> String {
    format!("{port}-{sandbox_id}-{token}")
}

/// A new token from 16 random bytes.
pub fn token_from(random: &[u8; TOKEN_LEN]) -> String {
    // A byte modulo 36: the first four characters come up 8 times in 256 rather than 7, which costs the token
    // well under one of its 82 bits.
    random.iter().map(|b| TOKEN_ALPHABET[(*b as usize) % TOKEN_ALPHABET.len()] as char).collect()
}

/// A port a sandbox may expose, and a sandbox id that fits a preview label.
/// Whether a request header is one of ours (`x-sandbox-*`, `x-agent-*`), which an app in a sandbox never gets:
/// it gets what a browser sends to its own host.
pub fn ours(header: &str) -> bool {
    let header = header.to_ascii_lowercase();
    header.starts_with("x-sandbox-") || header.starts_with("x-agent-") || header == "host"
}

/// A `Set-Cookie` an app in a sandbox sends, made host-only: its `Domain` attributes are removed, so the cookie is
/// the preview host's alone. Every preview shares the preview domain; a cookie for the domain would reach every
/// other sandbox's app (and a cookie another app set for it would reach this one): tossing, fixation, theft.
pub fn host_only_cookie(set_cookie: &str) -> String {
    let mut parts = set_cookie.split(';');
    let mut kept = vec![parts.next().unwrap_or_default().trim().to_string()];
    kept.extend(
        parts
            .map(str::trim)
            .filter(|attribute| {
                let name = attribute.split('=').next().unwrap_or_default().trim();
                !attribute.is_empty() && !name.eq_ignore_ascii_case("domain")
            })
            .map(str::to_string),
    );
    kept.join("; ")
}

/// The `Referrer-Policy` every preview answer carries, whatever the app says: the URL's token is a credential and
/// must not reach the third-party hosts a previewed page loads (it still goes out in `Origin`, where a page sends
/// one, and to DNS resolvers).
pub const REFERRER_POLICY: &str = "no-referrer";

pub fn check_exposable(port: u16, sandbox_id: &str) -> Result<(), WorkerError> {
    if port < MIN_EXPOSED_PORT {
        return Err(invalid(format!("port {port} is below {MIN_EXPOSED_PORT}: the system's ports are not exposed")));
    }
    if port == AGENT_PORT {
        return Err(invalid(format!("port {AGENT_PORT} is the sandbox agent's own, and is not exposed")));
    }
    if sandbox_id.len() > MAX_PREVIEW_ID {
        return Err(invalid(format!(
            "sandbox id {sandbox_id:?} is longer than the {MAX_PREVIEW_ID} characters a preview URL leaves it"
        )));
    }
    if sandbox_id.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid(format!(
            "sandbox id {sandbox_id:?} has capitals: a preview URL's host is read without case, so it needs a \
             lowercase id"
        )));
    }
    Ok(())
}

/// The SDK's `exposePort(port, { hostname })`: the domain a caller expects its preview URLs under. Honoured as a
/// check: it must be the domain this Worker serves them under (`origin`, as `https://*.example.com:8443`), with or
/// without its port, else the URL would not be where the caller thinks.
pub fn check_hostname(hostname: &str, origin: &str) -> Result<(), WorkerError> {
    let served = origin.split_once("://*.").map_or(origin, |(_, rest)| rest);
    let domain = |h: &str| h.rsplit_once(':').map_or(h, |(name, _)| name).to_ascii_lowercase();
    if hostname == served || domain(hostname) == domain(served) {
        return Ok(());
    }
    Err(invalid(format!(
        "hostname {hostname:?}: this Worker serves preview URLs under {served:?} (SANDBOX_PREVIEW_HOST); leave hostname \
         out, or give that one"
    )))
}

fn invalid(message: String) -> WorkerError {
    WorkerError::new(ErrorCode::ValidationFailed, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostname_must_be_the_served_domain() {
        assert!(check_hostname("example.com", "https://*.example.com").is_ok());
        assert!(check_hostname("Example.com", "https://*.example.com").is_ok());
        assert!(check_hostname("localhost", "http://*.localhost:8787").is_ok());
        assert!(check_hostname("localhost:8787", "http://*.localhost:8787").is_ok());
        let err = check_hostname("other.dev", "https://*.example.com").unwrap_err();
        assert!(err.message.contains("\"example.com\""), "{}", err.message);
    }

    const TOKEN: &str = "abcdefgh01234567";

    #[test]
    fn a_preview_host_names_its_port_sandbox_and_token() {
        let host = format!("{}.preview.example.com", label(8080, "my-app-1", TOKEN));
        let p = parse_host(&host, "preview.example.com").unwrap();
        assert_eq!(p, Preview { port: 8080, sandbox_id: "my-app-1".into(), token: TOKEN.into() });
        // With a port, in any case, and locally.
        let p = parse_host(&format!("8080-box-{}.LOCALHOST:8787", TOKEN.to_uppercase()), "localhost").unwrap();
        assert_eq!((p.port, p.sandbox_id.as_str(), p.token.as_str()), (8080, "box", TOKEN));
    }

    #[test]
    fn anything_else_is_not_a_preview() {
        for host in [
            "preview.example.com".to_string(),
            format!("8080-box-{TOKEN}.other.com"),
            format!("a.8080-box-{TOKEN}.preview.example.com"),
            format!("80-box-{TOKEN}.preview.example.com"),
            format!("08080-box-{TOKEN}.preview.example.com"),
            format!("8080-{TOKEN}.preview.example.com"),
            "8080-box-short.preview.example.com".to_string(),
            format!("8080--box-{TOKEN}.preview.example.com"),
            format!("8080-box-{}_.preview.example.com", &TOKEN[..15]),
            format!("99999-box-{TOKEN}.preview.example.com"),
        ] {
            assert_eq!(parse_host(&host, "preview.example.com"), None, "{host}");
        }
    }

    #[test]
    fn a_token_from_any_bytes_fits_a_host_name() {
        let t = token_from(&[255; TOKEN_LEN]);
        assert_eq!(t.len(), TOKEN_LEN);
        assert!(parse_host(&format!("3001-b-{t}.x"), "x").is_some());
    }

    #[test]
    fn only_the_sandboxs_own_ports_with_a_label_that_fits() {
        assert!(check_exposable(8080, "box").is_ok());
        assert!(check_exposable(1023, "box").is_err());
        assert!(check_exposable(AGENT_PORT, "box").is_err());
    }

    #[test]
    fn an_apps_cookies_stay_on_its_own_host() {
        assert_eq!(host_only_cookie("sid=1; Domain=localhost; Path=/; HttpOnly"), "sid=1; Path=/; HttpOnly");
        assert_eq!(host_only_cookie("sid=1;domain=.example.dev;Secure"), "sid=1; Secure");
        assert_eq!(host_only_cookie("sid=1; DOMAIN = x; Domain=y"), "sid=1");
        assert_eq!(host_only_cookie("a=b=c; Path=/domain"), "a=b=c; Path=/domain");
        assert_eq!(host_only_cookie("plain"), "plain");
    }

    #[test]
    fn our_headers_are_told_apart() {
        for header in ["X-Sandbox-Preview", "x-sandbox-id", "x-agent-boot", "Host"] {
            assert!(ours(header), "{header}");
        }
        for header in ["cookie", "authorization", "x-forwarded-host", "x-request-id", "sandbox-x"] {
            assert!(!ours(header), "{header}");
        }
        assert!(check_exposable(8080, &"a".repeat(MAX_PREVIEW_ID)).is_ok());
        assert!(check_exposable(8080, &"a".repeat(MAX_PREVIEW_ID + 1)).is_err());
        assert!(check_exposable(8080, "Box").is_err());
        assert_eq!(label(65535, &"a".repeat(MAX_PREVIEW_ID), TOKEN).len(), 63);
    }
}
