//! A port of the sandbox reached through the agent (`/v1/ports/{port}/http/...`, a preview's request in local
//! mode): the app gets the path and query after the prefix, `Host: 127.0.0.1:<port>` and none of the agent's own
//! headers; nothing listening is a 502; a path that names no port is a JSON 404.

use std::io::{BufRead, BufReader, Write};

use crate::support::*;

/// An app on this machine's loopback (the agent here runs unjailed, on the same loopback) that answers one
/// request with the request line and headers it got, one per line.
fn echo_app() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            seen.push_str(&line.to_ascii_lowercase());
        }
        let mut stream = stream;
        let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{seen}", seen.len());
    });
    port
}

#[tokio::test]
async fn a_port_gets_the_path_and_the_callers_headers_less_ours() {
    let agent = Agent::start();
    let port = echo_app();
    let mut c = agent.client().await;
    let headers = [("x-sandbox-id", "other"), ("x-sandbox-agent-token", "forged"), ("cookie", "a=1")];
    let r = c.send_with("GET", &format!("/v1/ports/{port}/http/some/page?q=1"), &headers, Vec::new()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let seen = String::from_utf8_lossy(&r.body).into_owned();
    assert!(seen.starts_with("get /some/page?q=1 http/1.1"), "{seen}");
    assert!(seen.contains(&format!("host: 127.0.0.1:{port}")), "{seen}");
    assert!(seen.contains("cookie: a=1"), "{seen}");
    assert!(!seen.contains("x-sandbox-") && !seen.contains("x-agent-"), "{seen}");
}

#[tokio::test]
async fn nothing_listening_is_a_502_and_no_port_a_json_404() {
    let agent = Agent::start();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = agent.client().await;
    let r = c.get(&format!("/v1/ports/{free}/http/")).await;
    assert_eq!(r.status, 502);
    assert!(String::from_utf8_lossy(&r.body).contains(&format!("port {free}")));
    for path in ["/v1/ports/0/http/x", "/v1/ports/99999/http", "/v1/ports/abc/http/"] {
        let r = c.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.json()["code"].is_string(), "{path}: {}", String::from_utf8_lossy(&r.body));
    }
}
