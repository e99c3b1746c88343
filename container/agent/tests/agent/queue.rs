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
    // Waits for what the test needs, as the agent sees it: the command queued behind the blocker, then, once its
    // caller has left, gone from the agent's list (its caller's departure noticed) before the blocker ends.
    let mut watcher = agent.client().await;
    let queued_now =
        |listed: &Value| listed["commands"].as_array().is_some_and(|c| c.iter().any(|c| c["state"] == "queued"));
    assert!(
        eventually_async(Duration::from_secs(10), async || queued_now(&watcher.get("/v1/commands").await.json())).await,
        "the second command never reached the queue"
    );
    queued.abort();
    let _ = queued.await;
    assert!(
        eventually_async(Duration::from_secs(10), async || !queued_now(&watcher.get("/v1/commands").await.json()))
            .await,
        "the agent never noticed that the queued command's caller left"
    );
    open_gate(&agent.dir, "go");
    busy.await.unwrap();
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "echo after").await["stdout"], "after");
    assert!(!marker.exists(), "the abandoned command ran");
}
