//! Every limit fails with a clear 4xx, before anything is made: sessions per sandbox, variables, names, paths.

use crate::support::*;

fn code(r: &http::Reply) -> (u16, String) {
    (r.status, r.json()["code"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn sessions_per_sandbox_are_limited_and_freed_by_delete() {
    let agent = Agent::start_with(&["--max-sessions", "3"]);
    let mut c = agent.client().await;
    for id in ["s1", "s2", "s3"] {
        assert_eq!(c.post("/v1/sessions", json!({"id": id})).await.status, 201);
    }
    let r = c.post("/v1/sessions", json!({"id": "s4"})).await;
    assert_eq!(code(&r), (429, "TOO_MANY_SESSIONS".into()));
    assert!(r.json()["message"].as_str().unwrap().contains('3'));
    assert_eq!(c.delete("/v1/sessions/s1").await.status, 200);
    assert_eq!(c.post("/v1/sessions", json!({"id": "s4"})).await.status, 201);
}

#[tokio::test]
async fn destroying_a_sandbox_of_many_sessions_ends_them_all() {
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}"]);
    let mut c = agent.client().await.for_sandbox("crowd");
    let mut shells = Vec::new();
    for i in 0..100 {
        let r = c.post("/v1/sessions", json!({"id": format!("s{i}")})).await;
        assert_eq!(r.status, 201);
        let pid = c.run(Some(&format!("s{i}")), "echo $$").await["stdout"].as_str().unwrap().parse::<i32>().unwrap();
        shells.push(pid);
    }
    assert_eq!(c.delete("/v1/sandbox").await.status, 200);
    assert!(eventually(std::time::Duration::from_secs(5), || shells.iter().all(|&pid| !alive(pid))).await);
}

#[tokio::test]
async fn variables_are_bounded_in_count_and_size() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let many: serde_json::Map<String, serde_json::Value> = (0..1025).map(|i| (format!("V{i}"), json!("x"))).collect();
    for (path, body) in [
        ("/v1/exec", json!({"command": "true", "env": many.clone()})),
        ("/v1/env", json!({"envVars": many.clone()})),
        ("/v1/sessions", json!({"env": many.clone()})),
        ("/v1/exec", json!({"command": "true", "env": {"BIG": "x".repeat(200_000)}})),
    ] {
        let r = c.post(path, body).await;
        assert_eq!(code(&r), (400, "VALIDATION_FAILED".into()), "{path}");
    }
    assert_eq!(c.run(None, "echo alive").await["stdout"], "alive");
}

#[tokio::test]
async fn names_and_paths_are_bounded_and_errors_do_not_echo_them() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.post("/v1/sessions", json!({"name": "n".repeat(1 << 20)})).await;
    assert_eq!(code(&r), (400, "VALIDATION_FAILED".into()));
    assert!(r.body.len() < 1024, "the error is {} bytes", r.body.len());
    let r = c.post("/v1/files/read", json!({"path": "p".repeat(1 << 20)})).await;
    assert_eq!(code(&r), (400, "VALIDATION_FAILED".into()));
    assert!(r.body.len() < 1024, "the error is {} bytes", r.body.len());
    let r = c.post("/v1/files/read", json!({"path": format!("/nonexistent/{}", "q".repeat(4000))})).await;
    assert_eq!(code(&r), (404, "FILE_NOT_FOUND".into()));
    assert!(r.body.len() < 1024, "the error is {} bytes", r.body.len());
    assert_eq!(c.get("/v1/sessions").await.json()["count"], 0);
}

#[tokio::test]
async fn session_ids_a_url_would_rewrite_are_refused() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for id in [".", ".."] {
        let r = c.post("/v1/sessions", json!({"id": id})).await;
        assert_eq!(code(&r), (400, "VALIDATION_FAILED".into()), "{id}");
    }
    assert_eq!(c.post("/v1/sessions", json!({"id": "..."})).await.status, 201);
}
