//! `POST /v1/exec/stream`: server-sent events delivered as the command writes, binary-safe, ending in `complete`.

use std::time::{Duration, Instant};

use crate::support::*;
use base64::Engine;
use http_body_util::BodyExt;

/// Reads events until the stream ends, noting when each arrived.
async fn events(response: hyper::Response<hyper::body::Incoming>) -> Vec<(Duration, Value)> {
    let t0 = Instant::now();
    let mut body = response.into_body();
    let mut buf = String::new();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.unwrap().into_data() else { continue };
        buf.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            let json = event.trim_end().strip_prefix("data: ").expect("a data line");
            out.push((t0.elapsed(), serde_json::from_str(json).unwrap()));
        }
    }
    out
}

#[tokio::test]
async fn events_arrive_as_the_command_writes_them() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let response = c
        .start(
            "POST",
            "/v1/exec/stream",
            serde_json::to_vec(&json!({"command": "echo first; sleep 1; echo second >&2; exit 3"})).unwrap(),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = events(response).await;
    let kinds: Vec<&str> = events.iter().map(|(_, e)| s(&e["type"])).collect();
    assert_eq!(kinds, vec!["start", "stdout", "stderr", "complete"]);
    assert_eq!(events[0].1["command"], "echo first; sleep 1; echo second >&2; exit 3");
    assert_eq!(events[1].1["data"], "first\n");
    assert_eq!(events[2].1["data"], "second\n");
    assert_eq!(events[3].1["exitCode"], 3);
    assert_eq!(events[3].1["result"]["exitCode"], 3);
    assert_eq!(events[3].1["result"]["success"], false);
    let (first_at, complete_at) = (events[1].0, events[3].0);
    assert!(complete_at - first_at >= Duration::from_millis(800), "first chunk was held back until the end");
}

#[tokio::test]
async fn base64_streams_carry_exact_bytes() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let response = c
        .start(
            "POST",
            "/v1/exec/stream",
            serde_json::to_vec(&json!({"command": "printf 'a\\0\\377'", "encoding": "base64"})).unwrap(),
        )
        .await;
    let events = events(response).await;
    let mut bytes = Vec::new();
    for (_, e) in &events {
        if e["type"] == "stdout" {
            bytes.extend(base64::engine::general_purpose::STANDARD.decode(s(&e["data"])).unwrap());
        }
    }
    assert_eq!(bytes, b"a\0\xff");
}

#[tokio::test]
async fn a_large_stream_is_complete_and_in_order() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let response =
        c.start("POST", "/v1/exec/stream", serde_json::to_vec(&json!({"command": "seq 1 200000"})).unwrap()).await;
    let events = events(response).await;
    let text: String =
        events.iter().filter(|(_, e)| e["type"] == "stdout").map(|(_, e)| s(&e["data"]).to_string()).collect();
    let want: String = (1..=200000).map(|i| format!("{i}\n")).collect();
    assert!(text == want, "stream differs: {} bytes vs {}", text.len(), want.len());
    assert_eq!(events.last().unwrap().1["type"], "complete");
}

#[tokio::test]
async fn a_stream_times_out_like_exec() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let response = c
        .start(
            "POST",
            "/v1/exec/stream",
            serde_json::to_vec(&json!({"command": "echo a; sleep 30", "timeout": 300})).unwrap(),
        )
        .await;
    let events = events(response).await;
    let last = &events.last().unwrap().1;
    assert_eq!(last["type"], "complete");
    assert_eq!(last["exitCode"], 124);
    assert_eq!(last["result"]["timedOut"], true);
}

#[tokio::test]
async fn errors_before_the_stream_starts_are_plain_json() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.post("/v1/exec/stream", json!({"command": "true", "sessionId": "missing"})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "SESSION_NOT_FOUND");
}

#[tokio::test]
async fn output_before_an_error_streams_before_it_when_the_agent_reads_late() {
    // The agent is stopped while the command writes a line to stdout and then one to stderr, so both pipes hold
    // bytes when it reads again: the stdout line must be sent first. Five rounds: a random pick among the
    // actor's branches took stderr first in about one round of seven.
    let agent = Agent::start();
    let pid = agent.pid() as i32;
    for round in 0..5 {
        let path = |name: &str| path_str(&agent.dir.join(format!("{name}-{round}")));
        let command = format!(
            "touch {}; {}; printf 'first\\n'; printf 'second\\n' >&2; touch {}; {}",
            path("started"),
            gate(&path("go")),
            path("written"),
            gate(&path("end"))
        );
        let mut c = agent.client().await;
        let body = serde_json::to_vec(&json!({ "command": command })).unwrap();
        let reader = tokio::spawn(async move { events(c.start("POST", "/v1/exec/stream", body).await).await });
        until_exists(&agent.dir.join(format!("started-{round}"))).await;
        signal(pid, 19); // SIGSTOP
        open_gate(&agent.dir, &format!("go-{round}"));
        let written = eventually(Duration::from_secs(10), || agent.dir.join(format!("written-{round}")).exists()).await;
        signal(pid, 18); // SIGCONT
        assert!(written, "the command never wrote");
        open_gate(&agent.dir, &format!("end-{round}"));
        let events = reader.await.unwrap();
        let output: Vec<(&str, &str)> = events
            .iter()
            .filter(|(_, e)| e["type"] == "stdout" || e["type"] == "stderr")
            .map(|(_, e)| (s(&e["type"]), s(&e["data"])))
            .collect();
        assert_eq!(output, [("stdout", "first\n"), ("stderr", "second\n")], "round {round}");
    }
}

#[tokio::test]
async fn an_error_event_carries_the_id_of_the_request_that_began_the_stream() {
    // An event written after the request's own handling has returned still names that request.
    let agent = Agent::start();
    let mut c = agent.client().await;
    assert_eq!(c.post("/v1/sessions", json!({"id": "doomed"})).await.status, 201);
    let mut first = agent.client().await;
    let body = serde_json::to_vec(&json!({"command": "sleep 30", "sessionId": "doomed"})).unwrap();
    let running = first.start("POST", "/v1/exec/stream", body).await;
    let mut running = running.into_body();
    let start = running.frame().await.expect("an event").unwrap().into_data().unwrap();
    assert!(std::str::from_utf8(&start).unwrap().contains(r#""type":"start""#), "the first command runs");
    let mut second = agent.client().await;
    let body = serde_json::to_vec(&json!({"command": "echo never", "sessionId": "doomed"})).unwrap();
    let queued = second.start_with("POST", "/v1/exec/stream", &[("x-request-id", "stream-7")], body).await;
    assert_eq!(queued.headers()["x-request-id"], "stream-7");
    assert_eq!(c.delete("/v1/sessions/doomed").await.status, 200);
    let events = events(queued).await;
    let (_, last) = events.last().expect("the queued command's stream ends with an event");
    assert_eq!(last["type"], "error", "{events:?}");
    assert_eq!(last["error"]["requestId"], "stream-7", "{last}");
    assert!(!events.iter().any(|(_, e)| e["type"] == "stdout"), "the queued command never ran");
}
