//! Connections are bounded: a request head or body that never finishes is cut off, idle connections are closed,
//! and connections over the cap get a clear 503 while the agent keeps serving the others.

use std::time::{Duration, Instant};

use crate::support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `limit` passes); returns what it sent and how long it took.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let t0 = Instant::now();
    let mut all = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut all)).await;
    (String::from_utf8_lossy(&all).into_owned(), t0.elapsed())
}

#[tokio::test]
async fn a_half_sent_request_head_is_cut_off() {
    let agent = Agent::start_with(&["--io-timeout-ms", "300"]);
    let mut stream = TcpStream::connect(agent.addr).await.unwrap();
    stream.write_all(b"POST /v1/exec HTTP/1.1\r\nhost: 127.0.0.1\r\n").await.unwrap();
    let (_, took) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "the connection stayed open {took:?}");
}

#[tokio::test]
async fn a_body_that_never_finishes_is_a_timeout_error() {
    let agent = Agent::start_with(&["--io-timeout-ms", "300"]);
    let mut stream = TcpStream::connect(agent.addr).await.unwrap();
    stream
        .write_all(b"POST /v1/exec HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"comm")
        .await
        .unwrap();
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut reply)).await.expect("an answer").unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("REQUEST_TIMEOUT"));
}

#[tokio::test]
async fn idle_kept_alive_connections_are_closed() {
    let agent = Agent::start_with(&["--io-timeout-ms", "300"]);
    let mut stream = TcpStream::connect(agent.addr).await.unwrap();
    stream.write_all(b"GET /v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").await.unwrap();
    let (answer, took) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(5), "the idle connection stayed open {took:?}");
}

#[tokio::test]
async fn connections_over_the_cap_get_a_503_and_the_rest_are_served() {
    let agent = Agent::start_with(&["--max-connections", "8"]);
    let mut held = Vec::new();
    let mut c = agent.client().await;
    for _ in 0..7 {
        held.push(TcpStream::connect(agent.addr).await.unwrap());
    }
    // Once the agent has taken them all (and `c`'s), one more is refused.
    let refused = async || {
        let Ok(mut extra) = TcpStream::connect(agent.addr).await else { return false };
        if extra.write_all(b"GET /v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").await.is_err() {
            return false;
        }
        read_until_closed(&mut extra, Duration::from_secs(5)).await.0.starts_with("HTTP/1.1 503")
    };
    assert!(eventually_async(Duration::from_secs(10), refused).await, "the connection over the cap was served");
    for _ in 0..5 {
        let mut extra = TcpStream::connect(agent.addr).await.unwrap();
        extra.write_all(b"GET /v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").await.unwrap();
        let (answer, _) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("RESOURCE_EXHAUSTED") && answer.contains("retry-after: 1"), "{answer}");
    }
    // The connection opened first is still served, and a slot comes back when one closes.
    assert_eq!(c.run(None, "echo still").await["stdout"], "still");
    drop(held.pop());
    assert!(
        eventually(Duration::from_secs(5), || {
            std::net::TcpStream::connect(agent.addr)
                .and_then(|mut s| {
                    use std::io::{Read, Write};
                    s.write_all(b"GET /v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")?;
                    let mut answer = String::new();
                    s.read_to_string(&mut answer)?;
                    Ok(answer.starts_with("HTTP/1.1 200"))
                })
                .unwrap_or(false)
        })
        .await
    );
}

#[tokio::test]
async fn a_command_longer_than_the_timeout_is_not_cut_off() {
    let agent = Agent::start_with(&["--io-timeout-ms", "300"]);
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "sleep 1; echo done").await["stdout"], "done");
    let r = c.post("/v1/exec/stream", json!({"command": "echo a; sleep 1; echo b"})).await;
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(text.contains("\"complete\""), "{text}");
    // The same connection serves the next request.
    assert_eq!(c.run(None, "echo again").await["stdout"], "again");
}
