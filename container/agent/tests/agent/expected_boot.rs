//! A caller that expects another agent process (`X-Agent-Boot-Expected`) is refused with 412 `AGENT_RESTARTED`
//! before anything runs, so the Worker can put a restarted agent's sessions back before the call.

use crate::support::*;

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

/// Docker restarts a container whose agent died in place, with the same environment: the agent of that copy must
/// not carry the start id the Durable Object waits for, or the object would send calls to a copy that workerd
/// removes at its next start.
#[tokio::test]
async fn a_start_id_is_carried_by_the_first_agent_of_a_container_only() {
    let state = scratch_dir("state");
    let state_arg = path_str(&state);
    let boot_of = |agent: &Agent| {
        let addr = agent.addr;
        async move { s(&Client::connect(addr).await.get("/v1/health").await.json()["bootId"]).to_string() }
    };
    let env = [("SANDBOX_START_ID", "start-0a1b")];
    let first = Agent::start_with_env(&["--state-dir", &state_arg], &env);
    let boot = boot_of(&first).await;
    assert!(boot.starts_with("start-0a1b.boot-"), "{boot}");
    drop(first);
    let copy = Agent::start_with_env(&["--state-dir", &state_arg], &env);
    let boot = boot_of(&copy).await;
    assert!(boot.starts_with("boot-"), "the copy of a restart in place carried the start id: {boot}");
    drop(copy);
    let next = Agent::start_with_env(&["--state-dir", &state_arg], &[("SANDBOX_START_ID", "start-0a1c")]);
    assert!(boot_of(&next).await.starts_with("start-0a1c.boot-"), "a new start is taken");
    let ignored = Agent::start_with_env(&["--state-dir", &state_arg], &[("SANDBOX_START_ID", "../x")]);
    assert!(boot_of(&ignored).await.starts_with("boot-"));
    assert_eq!(std::fs::read_to_string(state.join("start-id")).unwrap(), "start-0a1c");
}
