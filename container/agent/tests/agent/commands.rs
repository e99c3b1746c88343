//! Commands in flight: every command has an id (the caller's, or the agent's) that its result and its stream's
//! `start` event carry; `GET /v1/commands` lists what each session is running and what waits behind it, and a
//! listed id cancels; a command that sets no timeout runs under the sandbox's default.

use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test]
async fn every_command_has_an_id_and_the_listing_shows_what_runs_and_what_waits() {
    let agent = Agent::start();
    let mut first = agent.client().await;
    let mut second = agent.client().await;
    let mut other = agent.client().await;
    let blocking = format!("touch blocking; {}", gate("go"));
    let blocker = tokio::spawn(async move { first.exec(json!({"command": blocking, "timeout": 20000})).await });
    until_exists(&agent.dir.join("blocking")).await;
    let queued = tokio::spawn(async move { second.exec(json!({"command": "touch ran"})).await });
    let mut listed = Value::Null;
    let both = async || {
        listed = other.get("/v1/commands").await.json();
        listed["commands"].as_array().is_some_and(|c| c.len() == 2)
    };
    assert!(eventually_async(Duration::from_secs(10), both).await);
    let commands = listed["commands"].as_array().unwrap().clone();
    assert_eq!(commands[0]["state"], "running", "{listed}");
    assert_eq!(commands[0]["timeoutMs"], 20000);
    assert!(commands[0]["startedAt"].is_string());
    assert_eq!((commands[1]["state"].clone(), commands[1]["command"].clone()), (json!("queued"), json!("touch ran")));
    assert_eq!(commands[1]["sessionId"], "default");
    assert_eq!(commands[1]["timeoutMs"], 600_000, "the sandbox's default: ten minutes");
    assert!(commands[1].get("startedAt").is_none());
    let running_id = s(&commands[0]["commandId"]).to_string();
    assert!(running_id.starts_with("cmd-"), "{running_id}");
    // Only the asked session's; another session has none.
    other.post("/v1/sessions", json!({"id": "quiet"})).await;
    let of_quiet = other.get("/v1/commands?sessionId=quiet").await.json();
    assert_eq!(of_quiet["commands"], json!([]));
    // The listed id cancels the running command; the queued one runs next.
    let r = other.post("/v1/exec/cancel", json!({"commandId": running_id})).await.json();
    assert_eq!(r["cancelled"], true);
    let stopped = blocker.await.unwrap();
    assert_eq!((stopped["ended"].clone(), stopped["commandId"].clone()), (json!("cancelled"), json!(running_id)));
    let ran = queued.await.unwrap();
    assert_eq!(ran["exitCode"], 0);
    assert!(s(&ran["commandId"]).starts_with("cmd-"));
    assert_eq!(other.get("/v1/commands").await.json()["commands"], json!([]), "nothing is left listed");
}

#[tokio::test]
async fn a_stream_says_its_id_in_its_start_event_and_a_callers_id_is_kept() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.post("/v1/exec/stream", json!({"command": "echo hi"})).await;
    let text = String::from_utf8_lossy(&r.body).to_string();
    let events: Vec<Value> =
        text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect();
    let id = s(&events[0]["commandId"]).to_string();
    assert_eq!(events[0]["type"], "start");
    assert!(id.starts_with("cmd-"), "{text}");
    assert_eq!(events.last().unwrap()["result"]["commandId"], json!(id));
    let given = c.exec(json!({"command": "true", "commandId": "mine-1"})).await;
    assert_eq!(given["commandId"], "mine-1");
}

#[tokio::test]
async fn a_command_without_a_timeout_runs_under_the_default_and_zero_means_none() {
    let agent = Agent::start_with(&["--command-timeout-ms", "300"]);
    let mut c = agent.client().await;
    let started = Instant::now();
    let r = c.exec(json!({"command": "sleep 30"})).await;
    assert_eq!((r["ended"].clone(), r["exitCode"].clone()), (json!("timedOut"), json!(124)));
    assert!(started.elapsed() < Duration::from_secs(10));
    // A call's own 0, or its session's, is no limit at all.
    let r = c.exec(json!({"command": "sleep 0.6; echo done", "timeout": 0})).await;
    assert_eq!((r["ended"].clone(), r["stdout"].clone()), (json!("exited"), json!("done")));
    c.post("/v1/sessions", json!({"id": "long", "commandTimeoutMs": 0})).await;
    let r = c.exec(json!({"command": "sleep 0.6; echo done", "sessionId": "long"})).await;
    assert_eq!((r["ended"].clone(), r["stdout"].clone()), (json!("exited"), json!("done")));
}

#[tokio::test]
async fn a_queued_stream_that_is_cancelled_ends_at_once_and_never_runs() {
    let agent = Agent::start();
    let mut first = agent.client().await;
    let mut c = agent.client().await;
    let mut other = agent.client().await;
    let blocking = format!("touch blocking; {}", gate("go"));
    let blocker = tokio::spawn(async move { first.run(None, &blocking).await });
    until_exists(&agent.dir.join("blocking")).await;
    let body = serde_json::to_vec(&json!({"command": "touch ran", "commandId": "queued-stream"})).unwrap();
    let response = c.start("POST", "/v1/exec/stream", body).await;
    let cancel =
        async || other.post("/v1/exec/cancel", json!({"commandId": "queued-stream"})).await.json()["cancelled"] == true;
    assert!(eventually_async(Duration::from_secs(10), cancel).await);
    let body = tokio::time::timeout(Duration::from_secs(10), http_body_util::BodyExt::collect(response.into_body()))
        .await
        .expect("the stream ends while the blocker still runs")
        .unwrap()
        .to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains(r#""type":"start""#) && text.contains(r#""commandId":"queued-stream""#), "{text}");
    assert!(text.contains(r#""exitCode":130"#) && text.contains(r#""ended":"cancelled""#), "{text}");
    open_gate(&agent.dir, "go");
    blocker.await.unwrap();
    assert_eq!(other.run(None, "test -e ran && echo ran || echo never").await["stdout"], "never");
}
