//! A stream whose reader stops reading holds back the output, never the command's end: a cancel or a timeout
//! still stops the command, the session is free again, and the next command in it runs.

use std::time::{Duration, Instant};

use crate::support::*;

const FLOOD: &str = "while :; do echo 'a line of output that fills every buffer on the way'; done";

#[tokio::test]
async fn a_cancel_wins_over_a_stalled_stream_reader() {
    let agent = Agent::start();
    let mut reader = agent.client().await;
    let body = serde_json::to_vec(&json!({"command": FLOOD, "commandId": "flood"})).unwrap();
    // The head arrives; the body is never read.
    let stalled = reader.start("POST", "/v1/exec/stream", body).await;
    assert_eq!(stalled.status(), 200);
    // Time for the flood to fill every buffer between the shell and the reader that never reads.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut other = agent.client().await;
    let t0 = Instant::now();
    assert_eq!(other.post("/v1/exec/cancel", json!({"commandId": "flood"})).await.json()["cancelled"], true);
    let next = tokio::time::timeout(Duration::from_secs(10), other.run(None, "echo next")).await;
    assert_eq!(next.expect("the session is free again")["stdout"], "next");
    assert!(t0.elapsed() < Duration::from_secs(5), "took {:?}", t0.elapsed());
    drop(stalled);
}

#[tokio::test]
async fn a_timeout_wins_over_a_stalled_stream_reader() {
    let agent = Agent::start();
    let mut reader = agent.client().await;
    let body = serde_json::to_vec(&json!({"command": FLOOD, "timeout": 500})).unwrap();
    let stalled = reader.start("POST", "/v1/exec/stream", body).await;
    assert_eq!(stalled.status(), 200);
    let mut other = agent.client().await;
    let t0 = Instant::now();
    let next = tokio::time::timeout(Duration::from_secs(10), other.run(None, "echo next")).await;
    assert_eq!(next.expect("the session is free again")["stdout"], "next");
    assert!(t0.elapsed() < Duration::from_secs(5), "took {:?}", t0.elapsed());
    drop(stalled);
}
