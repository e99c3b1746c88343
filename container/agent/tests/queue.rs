//! A command whose caller leaves while it waits in the queue never starts.

mod support;

use std::time::Duration;

use support::*;

#[tokio::test]
async fn a_queued_command_whose_caller_left_never_runs() {
    let agent = Agent::start();
    let mut first = agent.client().await;
    let busy = tokio::spawn(async move { first.run(None, "sleep 0.5").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let marker = agent.dir.join("ran");
    let mut second = agent.client().await;
    let command = format!("touch {}", marker.display());
    let queued = tokio::spawn(async move { second.run(None, &command).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    queued.abort();
    let _ = queued.await;
    busy.await.unwrap();
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "echo after").await["stdout"], "after");
    assert!(!marker.exists(), "the abandoned command ran");
}
