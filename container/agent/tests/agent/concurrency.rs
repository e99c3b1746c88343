//! Commands in one session run one at a time in arrival order; different sessions run in parallel.

use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test]
async fn commands_in_one_session_are_serialized_and_never_interleave() {
    let agent = Agent::start();
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(agent.client().await);
    }
    let mut tasks = Vec::new();
    for (i, mut c) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let cmd = format!("for j in 1 2 3 4 5; do echo {i}-$j; sleep 0.01; done");
            c.run(None, &cmd).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let r = task.await.unwrap();
        let want: Vec<String> = (1..=5).map(|j| format!("{i}-{j}")).collect();
        assert_eq!(r["stdout"], want.join("\n"));
    }
    let h = agent.client().await.get("/v1/sessions/default/history").await.json();
    let entries = h["entries"].as_array().unwrap();
    for pair in entries.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(s(&a["startedAt"]) <= s(&b["startedAt"]));
    }
}

#[tokio::test]
async fn arrival_order_is_kept() {
    let agent = Agent::start();
    let mut first = agent.client().await;
    let mut second = agent.client().await;
    let a = tokio::spawn(async move { first.run(None, "touch a-started; sleep 0.3; echo -n a >> order").await });
    until_exists(&agent.dir.join("a-started")).await;
    let b = tokio::spawn(async move { second.run(None, "echo -n b >> order").await });
    a.await.unwrap();
    b.await.unwrap();
    assert_eq!(std::fs::read_to_string(agent.dir.join("order")).unwrap(), "ab");
}

#[tokio::test]
async fn different_sessions_run_in_parallel() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for i in 0..4 {
        assert_eq!(c.post("/v1/sessions", json!({"id": format!("p{i}")})).await.status, 201);
    }
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let mut c = agent.client().await;
        tasks.push(tokio::spawn(async move { c.run(Some(&format!("p{i}")), "sleep 0.5; echo done").await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap()["stdout"], "done");
    }
    assert!(t0.elapsed() < Duration::from_millis(1500), "took {:?}", t0.elapsed());
}

#[tokio::test]
async fn concurrent_first_calls_share_one_default_session() {
    let agent = Agent::start();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut c = agent.client().await;
        tasks.push(tokio::spawn(async move { c.run(None, "echo $$").await }));
    }
    let mut shells = std::collections::HashSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r["exitCode"], 0);
        shells.insert(s(&r["stdout"]).to_string());
    }
    assert_eq!(shells.len(), 1);
    let list = agent.client().await.get("/v1/sessions").await.json();
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn concurrent_creates_of_one_id_make_one_session() {
    let agent = Agent::start();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let mut c = agent.client().await;
        tasks.push(tokio::spawn(async move { c.post("/v1/sessions", json!({"id": "same"})).await.status }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, vec![201, 409, 409, 409, 409, 409]);
}
