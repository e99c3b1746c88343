//! A command whose caller leaves while it waits in the queue never starts.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn a_queued_command_whose_caller_left_never_runs() {
    let agent = Agent::start();
    let mut first = agent.client().await;
    let blocking = format!("touch busy; {}", gate("go"));
    let busy = tokio::spawn(async move { first.run(None, &blocking).await });
    until_exists(&agent.dir.join("busy")).await;
    let marker = agent.dir.join("ran");
    let mut second = agent.client().await;
    let command = format!("touch {}", marker.display());
    let queued = tokio::spawn(async move { second.run(None, &command).await });
    // The queue is not visible from outside: this is time for the request to reach it behind the blocker.
    tokio::time::sleep(Duration::from_millis(200)).await;
    queued.abort();
    let _ = queued.await;
    open_gate(&agent.dir, "go");
    busy.await.unwrap();
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "echo after").await["stdout"], "after");
    assert!(!marker.exists(), "the abandoned command ran");
}
