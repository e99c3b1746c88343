//! Bad input gets a JSON error with a code and the right status; nothing panics, nothing hangs, no session is lost.

use crate::support::*;

fn code(r: &http::Reply) -> String {
    assert!(r.content_type.starts_with("application/json"), "content type {:?}", r.content_type);
    r.json()["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn malformed_json_is_invalid_json() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for body in [&b"{"[..], b"not json", b"{\"command\": }", b"\xff\xfe"] {
        let r = c.send("POST", "/v1/exec", body.to_vec()).await;
        assert_eq!((r.status, code(&r)), (400, "INVALID_JSON".to_string()), "{body:?}");
    }
}

#[tokio::test]
async fn wrong_types_missing_and_unknown_fields_fail_validation() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for body in [
        json!({}),
        json!({"command": 5}),
        json!({"command": "true", "timeout": "soon"}),
        json!({"command": "true", "timeout": -1}),
        json!({"command": "true", "encoding": "latin1"}),
        json!({"command": "true", "timout": 5}),
        json!({"command": "true", "sessionId": "bad/id"}),
        json!({"command": "true", "maxOutputBytes": 1u64 << 40}),
        json!({"command": "nul\u{0}"}),
        json!([1, 2]),
    ] {
        let r = c.post("/v1/exec", body.clone()).await;
        assert_eq!((r.status, code(&r)), (400, "VALIDATION_FAILED".to_string()), "{body}");
        assert!(!r.json()["message"].as_str().unwrap().is_empty());
    }
    for (path, body) in [
        ("/v1/files/list", json!({"recursive": true})),
        ("/v1/files/write", json!({"path": "x"})),
        ("/v1/files/read", json!({"path": 1})),
        ("/v1/files/rename", json!({"oldPath": "a"})),
        ("/v1/sessions", json!({"cwd": ["x"]})),
        ("/v1/sessions", json!({"commandTimeoutMs": "x"})),
    ] {
        let r = c.post(path, body).await;
        assert_eq!((r.status, code(&r)), (400, "VALIDATION_FAILED".to_string()), "{path}");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_before_they_are_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let agent = Agent::start();
    let mut stream = tokio::net::TcpStream::connect(agent.addr).await.unwrap();
    let head = format!(
        "POST /v1/files/write HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        33 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut reply)).await.unwrap().unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("BODY_TOO_LARGE"));
}

#[tokio::test]
async fn bodies_that_grow_past_the_limit_without_a_length_are_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let agent = Agent::start();
    let mut stream = tokio::net::TcpStream::connect(agent.addr).await.unwrap();
    stream.write_all(b"POST /v1/files/write HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n").await.unwrap();
    let chunk = vec![b'a'; 1024 * 1024];
    let reader = tokio::spawn(async move {
        let mut sent = 0;
        while sent < 40 {
            let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
            frame.extend_from_slice(&chunk);
            frame.extend_from_slice(b"\r\n");
            if stream.write_all(&frame).await.is_err() {
                break;
            }
            sent += 1;
        }
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
        String::from_utf8_lossy(&reply).into_owned()
    });
    let reply = reader.await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(!agent.dir.join("big").exists());
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.get("/v1/nope").await;
    assert_eq!((r.status, code(&r)), (404, "NOT_FOUND".to_string()));
    let r = c.get("/").await;
    assert_eq!(r.status, 404);
    let r = c.get("/v1/exec").await;
    assert_eq!((r.status, code(&r)), (405, "METHOD_NOT_ALLOWED".to_string()));
    let r = c.delete("/v1/health").await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn a_session_survives_a_storm_of_bad_requests() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "export ALIVE=yes").await;
    for _ in 0..50 {
        c.send("POST", "/v1/exec", b"{\"command\":".to_vec()).await;
        c.post("/v1/exec", json!({"command": 1})).await;
        c.post("/v1/files/read", json!({"path": "/nonexistent/x"})).await;
    }
    assert_eq!(c.run(None, "echo $ALIVE").await["stdout"], "yes");
}

#[tokio::test]
async fn the_sandbox_header_is_required_in_multi_sandbox_mode_and_validated() {
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}"]);
    let mut c = agent.client().await;
    let r = c.post("/v1/exec", json!({"command": "true"})).await;
    assert_eq!((r.status, code(&r)), (400, "VALIDATION_FAILED".to_string()));
    for bad in ["-bad", "has_underscore", &"x".repeat(64)] {
        let mut c = agent.client().await.for_sandbox(bad);
        let r = c.post("/v1/exec", json!({"command": "true"})).await;
        assert_eq!(r.status, 400, "{bad}");
    }
}

/// The committed corpus of bodies (`tests/corpus/bodies/<name>.<status>.json`): each gets the status its name says
/// from the real agent, as JSON, and the session lives on.
#[tokio::test]
async fn the_corpus_of_bodies_gets_the_statuses_it_names() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bodies");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let status: u16 = name.rsplit('.').nth(1).and_then(|n| n.parse().ok()).expect("<name>.<status>.json");
        let r = c.send("POST", "/v1/exec", std::fs::read(&path).unwrap()).await;
        assert_eq!(r.status, status, "{name}: {}", String::from_utf8_lossy(&r.body));
        if status >= 400 {
            assert!(matches!(code(&r).as_str(), "INVALID_JSON" | "VALIDATION_FAILED"), "{name}");
        }
        seen += 1;
    }
    assert!(seen >= 10);
    assert_eq!(c.run(None, "echo alive").await["stdout"], "alive");
}
