//! The head of a request to the egress proxy (pure): `CONNECT host:port` for a tunnel (HTTPS, or anything a
//! client tunnels), or an absolute URL (`GET http://host/path`) for plain HTTP, and the head passed on for the
//! latter: origin-form, without the proxy's own headers, and `Connection: close`, so a client that sends its next
//! request for another host on the same connection opens a new one (and is judged anew).

/// The most a head may be.
pub const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Ask {
    /// `CONNECT host:port`.
    Tunnel { host: String, port: u16 },
    /// A plain HTTP request for `host:port`, and the head to send there.
    Forward { host: String, port: u16, head: Vec<u8> },
}

/// Where the head ends (the index after its blank line), if it has come whole.
pub fn end_of_head(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// What a whole head (up to and including its blank line) asks for, or why it cannot be served.
pub fn parse(head: &[u8]) -> Result<Ask, String> {
    let text = std::str::from_utf8(head).map_err(|_| "the request head is not text".to_string())?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("not a request line: {:?}", truncate(line)));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("not an HTTP/1 request: {:?}", truncate(line)));
    }
    if method == "CONNECT" {
        let (host, port) = authority(target, None)?;
        return Ok(Ask::Tunnel { host, port });
    }
    let rest = target
        .strip_prefix("http://")
        .ok_or_else(|| format!("a proxy takes http:// URLs and CONNECT, not {:?}", truncate(target)))?;
    let (authority_text, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
    let (host, port) = authority(authority_text, Some(80))?;
    let head = closed(format!("{method} {path} {version}\r\n"), lines);
    Ok(Ask::Forward { host, port, head })
}

/// An origin-form request's head (inside a tunnel) made to close its connection after its answer: its own
/// `Connection`, `Keep-Alive` and `Proxy-*` headers dropped, `Connection: close` added.
pub fn closing(head: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(head).map_err(|_| "the request head is not text".to_string())?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts[..] else { return Err(format!("not a request line: {:?}", truncate(line))) };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(format!("not an HTTP/1 request in origin form: {:?}", truncate(line)));
    }
    Ok(closed(format!("{line}\r\n"), lines))
}

/// `request_line` and the `headers` after it, less the proxy's and the connection's own, with `Connection: close`.
fn closed<'a>(request_line: String, headers: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut out = request_line;
    for header in headers.take_while(|l| !l.is_empty()) {
        let name = header.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        if matches!(name.as_str(), "proxy-connection" | "proxy-authorization" | "connection" | "keep-alive") {
            continue;
        }
        out.push_str(header);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// `host:port` (`[v6]:port`), the port `default` when left out and a default is given. No user info.
fn authority(text: &str, default: Option<u16>) -> Result<(String, u16), String> {
    if text.contains('@') {
        return Err("credentials in a proxied URL are not passed on".into());
    }
    let (host, port) = match text.rfind(':') {
        Some(i) if !text[i..].contains(']') => (&text[..i], Some(&text[i + 1..])),
        _ => (text, None),
    };
    let port = match (port, default) {
        (Some(p), _) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("bad port in {text:?}"))?,
        (None, Some(d)) => d,
        (None, None) => return Err(format!("CONNECT needs host:port, got {:?}", truncate(text))),
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    Ok((host.to_string(), port))
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(200) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tunnel_names_its_host_and_port() {
        let head = b"CONNECT api.github.com:443 HTTP/1.1\r\nHost: api.github.com:443\r\n\r\n";
        assert_eq!(end_of_head(head), Some(head.len()));
        assert_eq!(parse(head), Ok(Ask::Tunnel { host: "api.github.com".into(), port: 443 }));
        let v6 = parse(b"CONNECT [::1]:8443 HTTP/1.1\r\n\r\n");
        assert_eq!(v6, Ok(Ask::Tunnel { host: "[::1]".into(), port: 8443 }));
        assert!(parse(b"CONNECT api.github.com HTTP/1.1\r\n\r\n").is_err());
    }

    #[test]
    fn a_forwarded_request_goes_in_origin_form_without_proxy_headers() {
        let head = b"GET http://example.com:8080/a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nProxy-Connection: \
                     keep-alive\r\nProxy-Authorization: Basic eA==\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n";
        let Ok(Ask::Forward { host, port, head }) = parse(head) else { panic!("not forwarded") };
        assert_eq!((host.as_str(), port), ("example.com", 8080));
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let Ok(Ask::Forward { port, head, .. }) = parse(b"GET http://example.com HTTP/1.0\r\n\r\n") else { panic!() };
        assert_eq!(port, 80);
        assert!(head.starts_with(b"GET / HTTP/1.0\r\n"));
    }

    #[test]
    fn a_tunnelled_request_is_made_to_close() {
        let head = b"GET /user HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n";
        let out = String::from_utf8(closing(head).unwrap()).unwrap();
        assert_eq!(out, "GET /user HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nConnection: close\r\n\r\n");
        assert!(closing(b"GET http://a/ HTTP/1.1\r\n\r\n").is_err());
        assert!(closing(b"PRI * HTTP/2.0\r\n\r\n").is_err());
    }

    #[test]
    fn what_a_proxy_does_not_serve_is_refused() {
        for bad in [
            &b"GET /local HTTP/1.1\r\n\r\n"[..],
            b"GET https://example.com/ HTTP/1.1\r\n\r\n",
            b"GET http://user:pw@example.com/ HTTP/1.1\r\n\r\n",
            b"GET http://example.com:0/ HTTP/1.1\r\n\r\n",
            b"get http://example.com/ HTTP/1.1\r\n\r\n",
            b"GET http://example.com/ SPDY/3\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
            b"GET  http://example.com/ HTTP/1.1\r\n\r\n",
        ] {
            assert!(parse(bad).is_err(), "{:?} was taken", String::from_utf8_lossy(bad));
        }
    }
}
