//! A client that goes away in the middle of a command gets that command killed; the session stays usable.

use std::time::Duration;

use crate::support::*;

async fn pid_written_to(path: &std::path::Path) -> i32 {
    assert!(
        eventually(Duration::from_secs(5), || std::fs::read_to_string(path)
            .map(|s| s.ends_with('\n'))
            .unwrap_or(false))
        .await
    );
    std::fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

#[tokio::test]
async fn dropping_an_exec_request_kills_its_command() {
    let agent = Agent::start();
    let pidfile = agent.dir.join("pid");
    let mut c = agent.client().await;
    c.run(None, "export KEEP=1").await;
    let command = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
    let request = tokio::spawn(async move { c.run(None, &command).await });
    let pid = pid_written_to(&pidfile).await;
    request.abort();
    let _ = request.await;
    assert!(eventually(Duration::from_secs(3), || !alive(pid)).await, "the command outlived its client");
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "echo $KEEP").await["stdout"], "1");
}

#[tokio::test]
async fn dropping_a_stream_kills_its_command() {
    let agent = Agent::start();
    let pidfile = agent.dir.join("pid");
    let mut c = agent.client().await;
    let command = format!("sleep 60 & echo $! > {}; while :; do echo tick; sleep 0.05; done", pidfile.display());
    let response = c.start("POST", "/v1/exec/stream", serde_json::to_vec(&json!({"command": command})).unwrap()).await;
    let pid = pid_written_to(&pidfile).await;
    drop(response);
    drop(c);
    assert!(eventually(Duration::from_secs(3), || !alive(pid)).await, "the command outlived its stream");
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "echo next").await["stdout"], "next");
}
