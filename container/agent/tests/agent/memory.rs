//! Memory has one bound for the whole agent: output, bodies, files and listings held by requests in flight are
//! charged to it. Beyond it new requests get a retryable 503 and output is truncated, so many large requests at
//! once cannot take the agent (and every session) down.

use crate::support::*;

fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

#[tokio::test]
async fn many_large_outputs_at_once_stay_within_the_budget() {
    let agent = Agent::start_with(&["--memory-budget-mb", "64"]);
    let mut c = agent.client().await;
    for i in 0..16 {
        assert_eq!(c.post("/v1/sessions", json!({"id": format!("s{i}")})).await.status, 201);
    }
    let calls: Vec<_> = (0..16)
        .map(|i| {
            let addr = agent.addr;
            tokio::spawn(async move {
                let mut c = http::Client::connect(addr).await;
                let command = "head -c 16777216 /dev/zero | tr '\\0' a";
                c.post("/v1/exec", json!({"command": command, "sessionId": format!("s{i}")})).await
            })
        })
        .collect();
    let mut truncated = 0;
    for call in calls {
        let r = call.await.unwrap();
        if r.status == 503 {
            assert_eq!(r.json()["code"], "RESOURCE_EXHAUSTED");
            continue;
        }
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body[..200.min(r.body.len())]));
        let v = r.json();
        assert!(v["stdout"].as_str().unwrap().len() <= 16 << 20);
        truncated += v["truncated"].as_bool().unwrap() as usize;
    }
    assert!(truncated > 0, "sixteen 16 MiB outputs at once fit a 64 MiB budget");
    let peak = peak_rss_mib(agent.pid());
    eprintln!("peak RSS {peak} MiB");
    assert!(peak < 300, "the agent's peak RSS was {peak} MiB");
    // Once the requests are done the budget is free again.
    let r = c.post("/v1/exec", json!({"command": "head -c 1000 /dev/zero | tr '\\0' b"})).await;
    assert_eq!(r.json()["stdout"].as_str().unwrap().len(), 1000);
}

#[tokio::test]
async fn bodies_over_the_budget_get_a_retryable_503() {
    let agent = Agent::start_with(&["--memory-budget-mb", "64"]);
    let content = "x".repeat(12 << 20);
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let addr = agent.addr;
            let content = content.clone();
            tokio::spawn(async move {
                let mut c = http::Client::connect(addr).await;
                c.post("/v1/files/write", json!({"path": format!("f{i}"), "content": content})).await
            })
        })
        .collect();
    let mut refused = 0;
    for call in calls {
        let r = call.await.unwrap();
        match r.status {
            200 => {}
            503 => {
                assert_eq!(r.json()["code"], "RESOURCE_EXHAUSTED");
                refused += 1;
            }
            other => panic!("status {other}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
    assert!(refused > 0, "ten 12 MiB bodies at once fit a 64 MiB budget");
    let mut c = agent.client().await;
    assert_eq!(c.post("/v1/files/write", json!({"path": "after", "content": content})).await.status, 200);
}
