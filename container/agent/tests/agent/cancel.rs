//! `POST /v1/exec/cancel`: a command started with a `commandId` can be stopped by another request, running or
//! queued, with exit code 130 and the session left usable.

use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test]
async fn a_running_command_is_stopped_and_answers_130() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let mut other = agent.client().await;
    let started = Instant::now();
    let running = tokio::spawn(async move {
        c.exec(json!({"command": "touch started; sleep 30; echo never", "commandId": "job-1"})).await
    });
    until_exists(&agent.dir.join("started")).await;
    let r = other.post("/v1/exec/cancel", json!({"commandId": "job-1"})).await.json();
    assert_eq!(r["cancelled"], true, "{r}");
    let result = running.await.unwrap();
    assert_eq!(result["exitCode"], 130);
    assert_eq!(result["ended"], "cancelled");
    assert_eq!(result["stdout"], "");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(other.run(None, "echo next").await["stdout"], "next");
    // The id is free again once the command is over.
    let again = other.post("/v1/exec/cancel", json!({"commandId": "job-1"})).await.json();
    assert_eq!(again["cancelled"], false);
}

#[tokio::test]
async fn a_queued_command_that_is_cancelled_never_starts() {
    let agent = Agent::start();
    let mut first = agent.client().await;
    let mut second = agent.client().await;
    let mut other = agent.client().await;
    let blocking = format!("touch blocking; {}", gate("go"));
    let blocker = tokio::spawn(async move { first.run(None, &blocking).await });
    until_exists(&agent.dir.join("blocking")).await;
    let queued = tokio::spawn(async move { second.exec(json!({"command": "touch ran", "commandId": "q"})).await });
    // Cancelled as soon as the agent knows the id (the command is then queued behind the blocker).
    let cancel = async || other.post("/v1/exec/cancel", json!({"commandId": "q"})).await.json()["cancelled"] == true;
    assert!(eventually_async(Duration::from_secs(10), cancel).await);
    // Answered at once, while the blocker still runs: withdrawn from the queue, it will never run.
    let queued = queued.await.unwrap();
    assert_eq!(queued["exitCode"], 130);
    assert_eq!(queued["ended"], "cancelled", "cancelled before it started");
    assert!(!blocker.is_finished());
    open_gate(&agent.dir, "go");
    blocker.await.unwrap();
    let next = other.run(None, "echo next").await;
    assert_eq!(next["stdout"], "next", "the session runs on");
    assert!(!agent.dir.join("ran").exists());
}

#[tokio::test]
async fn a_cancelled_stream_completes_with_130() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let mut other = agent.client().await;
    let response = c
        .start(
            "POST",
            "/v1/exec/stream",
            serde_json::to_vec(&json!({"command": "echo hi; touch started; sleep 30", "commandId": "s"})).unwrap(),
        )
        .await;
    until_exists(&agent.dir.join("started")).await;
    assert_eq!(other.post("/v1/exec/cancel", json!({"commandId": "s"})).await.json()["cancelled"], true);
    let body = tokio::time::timeout(Duration::from_secs(10), http_body_util::BodyExt::collect(response.into_body()))
        .await
        .expect("the stream ends")
        .unwrap()
        .to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains(r#""type":"complete""#) && text.contains(r#""exitCode":130"#), "{text}");
    assert!(text.contains(r#""ended":"cancelled""#), "{text}");
}

#[tokio::test]
async fn ids_in_flight_are_unique_and_checked() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let mut other = agent.client().await;
    let command = format!("touch started; {}", gate("go"));
    let running = tokio::spawn(async move { c.exec(json!({"command": command, "commandId": "dup"})).await });
    until_exists(&agent.dir.join("started")).await;
    let r = other.post("/v1/exec", json!({"command": "true", "commandId": "dup"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "VALIDATION_FAILED");
    open_gate(&agent.dir, "go");
    running.await.unwrap();
    let r = other.post("/v1/exec", json!({"command": "true", "commandId": ""})).await;
    assert_eq!(r.status, 400);
    let r = other.post("/v1/exec/cancel", json!({"commandId": "never-seen"})).await.json();
    assert_eq!(r["cancelled"], false);
    let r = other.post("/v1/exec/cancel", json!({})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("VALIDATION_FAILED")));
    let r = other.send("POST", "/v1/exec/cancel", b"{not json".to_vec()).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("INVALID_JSON")));
}
