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

/// At the cap, a new connection is served in the place of the oldest one with no request in flight (which the
/// agent closes); only when every open connection has a request in flight is the new one refused with a 503.
#[tokio::test]
async fn at_the_cap_the_oldest_idle_connection_makes_room_and_busy_ones_never_do() {
    let agent = Agent::start_with(&["--max-connections", "8"]);
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(agent.addr).await.unwrap());
    }
    let health = b"GET /v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n";
    let mut extra = TcpStream::connect(agent.addr).await.unwrap();
    extra.write_all(health).await.unwrap();
    let (answer, _) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "the new connection waited for idle ones: {answer}");
    // The oldest idle one was closed for it.
    let (rest, _) = read_until_closed(&mut idle[0], Duration::from_secs(5)).await;
    assert_eq!(rest, "", "the oldest idle connection was not closed");
    drop(idle);

    // Eight requests in flight (each a command of a session of its own, waiting for the gate): nothing is idle.
    let mut c = agent.client().await;
    for i in 0..8 {
        assert_eq!(c.post("/v1/sessions", json!({"id": format!("s{i}")})).await.status, 201);
    }
    drop(c);
    let gate = agent.dir.join("gate");
    let mut busy = Vec::new();
    for i in 0..8 {
        let command = format!("touch started-{i}; until [ -e {} ]; do sleep 0.01; done; echo done", gate.display());
        let body = json!({"command": command, "sessionId": format!("s{i}")}).to_string();
        let exec = format!(
            "POST /v1/exec HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut stream = TcpStream::connect(agent.addr).await.unwrap();
        stream.write_all(exec.as_bytes()).await.unwrap();
        busy.push(stream);
    }
    for i in 0..8 {
        until_exists(&agent.dir.join(format!("started-{i}"))).await;
    }
    let refused = async || {
        let Ok(mut extra) = TcpStream::connect(agent.addr).await else { return false };
        if extra.write_all(health).await.is_err() {
            return false;
        }
        let (answer, _) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
        answer.starts_with("HTTP/1.1 503") && answer.contains("RESOURCE_EXHAUSTED") && answer.contains("retry-after: 1")
    };
    assert!(eventually_async(Duration::from_secs(10), refused).await, "a connection over a busy cap was not refused");
    // Every busy request is still answered, and room comes back.
    std::fs::write(&gate, "").unwrap();
    for stream in &mut busy {
        let (answer, _) = read_until_closed(stream, Duration::from_millis(300)).await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("done"), "{answer}");
    }
    drop(busy);
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "echo served").await["stdout"], "served");
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

/// With a descriptor limit of 1,024 and 1,100 connections holding half a request head each (more than it could
/// ever hold open), the agent still answers a health check and a command: what it cannot take waits or is
/// refused, and the half-sent heads are shed, instead of the accept loop starving on `EMFILE`.
#[tokio::test]
async fn half_open_connections_past_the_descriptor_limit_do_not_starve_health() {
    // This test's own sockets need more descriptors than the default soft limit.
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    if hard < 2048 {
        eprintln!("skipped: this machine allows only {hard} descriptors");
        return;
    }
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    let agent = Agent::start_configured(&[], &[], |c| {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit only, between fork and exec.
        unsafe {
            c.pre_exec(|| {
                let limit = libc::rlimit { rlim_cur: 1024, rlim_max: 1024 };
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                Ok(())
            });
        }
    });
    let mut held = Vec::new();
    for _ in 0..1100 {
        let mut stream = TcpStream::connect(agent.addr).await.unwrap();
        let _ = stream.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n").await;
        held.push(stream);
    }
    let mut c = agent.client().await;
    let health = tokio::time::timeout(Duration::from_secs(20), c.get("/v1/health")).await.expect("health answers");
    assert_eq!(health.status, 200);
    assert_eq!(c.run(None, "echo served").await["stdout"], "served");
    drop(held);
}
