//! A caller that expects another agent process (`X-Agent-Boot-Expected`) is refused with 412 `AGENT_RESTARTED`
//! before anything runs, so the Worker can put a restarted agent's sessions back before the call.

mod support;

use support::*;

#[tokio::test]
async fn a_call_for_another_agent_does_nothing_and_says_so() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let boot = c.start("GET", "/v1/health", Vec::new()).await.headers()["x-agent-boot"].to_str().unwrap().to_string();
    let body = serde_json::to_vec(&json!({"command": "touch ran"})).unwrap();
    let r = c.send_with("POST", "/v1/exec", &[("x-agent-boot-expected", "boot-0000000000000000")], body.clone()).await;
    assert_eq!(r.status, 412);
    assert_eq!(r.json()["code"], "AGENT_RESTARTED");
    assert!(!agent.dir.join("ran").exists(), "nothing ran");
    let r = c.send_with("POST", "/v1/exec", &[("x-agent-boot-expected", &boot)], body).await;
    assert_eq!(r.status, 200);
    assert!(agent.dir.join("ran").exists());
}
