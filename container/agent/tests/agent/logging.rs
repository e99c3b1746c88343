//! What the agent tells an operator: a JSON line per event on stderr, each inside the request (and its
//! `X-Request-Id`) that caused it; the id comes back on the response and in every error body.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::*;

/// The agent binary with its log at `info` as JSON lines, and the lines it writes.
fn start_logged(dir: &std::path::Path) -> (std::process::Child, std::net::SocketAddr, mpsc::Receiver<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sandbox-agent"))
        .args(["--listen", "127.0.0.1:0", "--workspace"])
        .arg(dir)
        .env("SANDBOX_AGENT_LOG", "info")
        .env("SANDBOX_AGENT_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().parse().unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            if tx.send(value).is_err() {
                return;
            }
        }
    });
    (child, addr, rx)
}

/// The lines received so far and within `wait` more, until one matches.
fn until(rx: &mpsc::Receiver<Value>, wait: Duration, found: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(wait) {
        let done = found(&line);
        seen.push(line);
        if done {
            break;
        }
    }
    seen
}

#[tokio::test]
async fn events_are_json_lines_inside_the_request_that_caused_them() {
    let dir = scratch_dir("logging");
    let (mut child, addr, rx) = start_logged(&dir);
    let started = until(&rx, Duration::from_secs(5), |l| l["message"] == "listening");
    assert!(started.iter().any(|l| l["level"] == "INFO" && l["boot_id"].is_string()), "{started:?}");

    let mut c = Client::connect(addr).await;
    let body = serde_json::to_vec(&json!({"command": "sleep 5", "timeout": 200})).unwrap();
    let response = c.start_with("POST", "/v1/exec", &[("x-request-id", "call-42")], body).await;
    assert_eq!(response.headers()["x-request-id"], "call-42", "the id comes back");
    let _ = http_body_util::BodyExt::collect(response.into_body()).await;
    let lines = until(&rx, Duration::from_secs(5), |l| l["message"] == "command stopped");
    let stopped = lines.iter().find(|l| l["message"] == "command stopped").expect("the timeout is logged");
    assert_eq!(stopped["ended"], "TimedOut");
    assert_eq!(stopped["span"]["request_id"], "call-42", "{stopped}");
    assert_eq!(stopped["span"]["session"], "default");
    let interrupted = lines.iter().find(|l| l["message"].as_str().unwrap_or("").starts_with("interrupting"));
    assert!(interrupted.is_some(), "{lines:?}");
    let created = lines.iter().find(|l| l["message"] == "session created").expect("the default session's start");
    assert_eq!(created["span"]["request_id"], "call-42");

    // An error carries the id in its body, and is logged with its status; an id that is not a plain one is
    // replaced with one of the agent's.
    let r = c.send_with("POST", "/v1/exec", &[("x-request-id", "bad id")], b"{".to_vec()).await;
    assert_eq!(r.status, 400);
    let made = r.json()["requestId"].as_str().unwrap().to_string();
    assert!(made.starts_with("req-"), "{made}");
    let lines = until(&rx, Duration::from_secs(5), |l| l["message"] == "answered");
    let answered = lines.last().unwrap();
    assert_eq!((answered["status"].as_u64(), answered["level"].as_str()), (Some(400), Some("INFO")), "{answered}");
    assert_eq!(answered["span"]["request_id"], made.as_str());
    assert_eq!(answered["span"]["path"], "/v1/exec");

    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn a_bad_log_setting_is_refused_at_start_with_a_clear_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_sandbox-agent"))
        .args(["--listen", "127.0.0.1:0"])
        .env("SANDBOX_AGENT_LOG", "loud")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SANDBOX_AGENT_LOG=\"loud\""));
}

#[tokio::test]
async fn metrics_count_requests_commands_output_and_limits() {
    let agent = Agent::start_with(&["--max-sessions", "2"]);
    let mut c = agent.client().await;
    c.run(None, "printf 12345").await;
    let cut = c.exec(json!({"command": "printf 12345", "maxOutputBytes": 3})).await;
    assert_eq!((cut["stdout"].as_str(), cut["truncated"].as_bool()), (Some("123"), Some(true)));
    c.exec(json!({"command": "sleep 5", "timeout": 100})).await;
    assert_eq!(c.post("/v1/sessions", json!({"id": "second"})).await.status, 201);
    assert_eq!(c.post("/v1/sessions", json!({"id": "third"})).await.status, 429);
    assert_eq!(c.get("/v1/no-such-route").await.status, 404);
    let r = c.get("/v1/metrics").await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/plain; version=0.0.4"), "{}", r.content_type);
    let text = String::from_utf8(r.body).unwrap();
    let value = |series: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '));
        line.unwrap_or_else(|| panic!("no {series} in\n{text}")).rsplit_once(' ').unwrap().1.parse().unwrap()
    };
    assert_eq!(value("sandbox_agent_requests_total{route=\"/v1/exec\",status=\"2xx\"}"), 3.0);
    assert_eq!(value("sandbox_agent_requests_total{route=\"/v1/sessions\",status=\"4xx\"}"), 1.0);
    assert_eq!(value("sandbox_agent_requests_total{route=\"other\",status=\"4xx\"}"), 1.0);
    assert_eq!(value("sandbox_agent_request_duration_seconds_count{route=\"/v1/exec\"}"), 3.0);
    assert_eq!(value("sandbox_agent_commands_total{ended=\"exited\"}"), 2.0);
    assert_eq!(value("sandbox_agent_commands_total{ended=\"timed_out\"}"), 1.0);
    assert!(value("sandbox_agent_output_bytes_total{stream=\"stdout\"}") >= 5.0);
    assert_eq!(value("sandbox_agent_limits_hit_total{limit=\"sessions\"}"), 1.0);
    assert_eq!(value("sandbox_agent_limits_hit_total{limit=\"output\"}"), 1.0, "a capped output counts");
    assert_eq!(value("sandbox_agent_sessions"), 2.0);
    assert!(value("sandbox_agent_uptime_seconds") > 0.0);

    // The same in brief, for a JSON reader (a sandbox's status).
    let r = c.send_with("GET", "/v1/metrics", &[("accept", "application/json")], Vec::new()).await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("application/json"), "{}", r.content_type);
    let s: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(s["sessions"], 2);
    assert_eq!(s["commands"]["exited"], 2);
    assert_eq!(s["commands"]["timedOut"], 1);
    assert_eq!(s["limitsHit"], 2);
    // The text scrape, the three exec calls, the session made and refused, the unknown route.
    assert_eq!(s["requests"], 7);
    assert_eq!(s["clientErrors"], 2);
    assert!(s["stdoutBytes"].as_u64().unwrap() >= 5);
}
