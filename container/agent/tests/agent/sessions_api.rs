//! The session routes: create, show, list, history, delete, and the default session.

use crate::support::*;

#[tokio::test]
async fn create_returns_201_with_the_session() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.post("/v1/sessions", json!({"id": "s1", "name": "work"})).await;
    assert_eq!(r.status, 201);
    let v = r.json();
    assert_eq!(v["id"], "s1");
    assert_eq!(v["name"], "work");
    assert_eq!(v["cwd"], path_str(&agent.dir).as_str());
    assert_eq!(v["status"], "idle");
    assert!(s(&v["createdAt"]).ends_with('Z'));
}

#[tokio::test]
async fn an_empty_object_creates_a_session_with_a_generated_id_and_nothing_else_does() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let a = c.post("/v1/sessions", json!({})).await;
    let b = c.post("/v1/sessions", json!({})).await;
    assert_eq!((a.status, b.status), (201, 201));
    let (a, b) = (a.json(), b.json());
    assert!(s(&a["id"]).starts_with("session-"));
    assert_ne!(a["id"], b["id"]);
    for body in [&b""[..], b"  ", b"[]", b"null"] {
        let r = c.send("POST", "/v1/sessions", body.to_vec()).await;
        assert_eq!(r.status, 400, "{body:?}");
        assert_eq!(r.json()["code"], "VALIDATION_FAILED");
    }
    assert_eq!(c.get("/v1/sessions").await.json()["count"], 2);
}

#[tokio::test]
async fn a_missing_cwd_is_created() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let cwd = agent.dir.join("new/deep");
    let r = c.post("/v1/sessions", json!({"id": "d", "cwd": path_str(&cwd)})).await;
    assert_eq!(r.status, 201);
    assert!(cwd.is_dir());
}

#[tokio::test]
async fn duplicate_and_invalid_ids_are_refused() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    assert_eq!(c.post("/v1/sessions", json!({"id": "dup"})).await.status, 201);
    let r = c.post("/v1/sessions", json!({"id": "dup"})).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["code"], "SESSION_ALREADY_EXISTS");
    for bad in [json!(""), json!("a/b"), json!("x".repeat(129)), json!("sp ace"), json!(7)] {
        let r = c.post("/v1/sessions", json!({"id": bad})).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["code"], "VALIDATION_FAILED");
    }
    let r = c.post("/v1/sessions", json!({"env": {"BAD-NAME": "x"}})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn show_reports_cwd_status_and_command_count() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.post("/v1/sessions", json!({"id": "w"})).await;
    c.run(Some("w"), "cd /tmp").await;
    c.run(Some("w"), "true").await;
    let v = c.get("/v1/sessions/w").await.json();
    assert_eq!(v["cwd"], "/tmp");
    assert_eq!(v["commandCount"], 2);
    assert_eq!(v["status"], "idle");
    let mut other = agent.client().await;
    // The session's directory is /tmp now: the marks are named by their full paths.
    let dir = path_str(&agent.dir);
    let command = format!("touch {dir}/started; {}", gate(&format!("{dir}/go")));
    let running = tokio::spawn(async move { other.run(Some("w"), &command).await });
    until_exists(&agent.dir.join("started")).await;
    let v = c.get("/v1/sessions/w").await.json();
    assert_eq!(v["status"], "busy");
    open_gate(&agent.dir, "go");
    running.await.unwrap();
    assert_eq!(c.get("/v1/sessions/w").await.json()["status"], "idle");
}

#[tokio::test]
async fn history_is_per_session() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.post("/v1/sessions", json!({"id": "h1"})).await;
    c.post("/v1/sessions", json!({"id": "h2"})).await;
    c.run(Some("h1"), "echo one").await;
    c.run(Some("h1"), "exit 2").await;
    c.run(Some("h2"), "echo other").await;
    let h = c.get("/v1/sessions/h1/history").await.json();
    let commands: Vec<&str> = h["entries"].as_array().unwrap().iter().map(|e| s(&e["command"])).collect();
    assert_eq!(commands, vec!["echo one", "exit 2"]);
    assert_eq!(h["entries"][1]["exitCode"], 2);
    assert_eq!(h["total"], 2);
}

#[tokio::test]
async fn list_shows_every_session() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.post("/v1/sessions", json!({"id": "l1"})).await;
    c.post("/v1/sessions", json!({"id": "l2"})).await;
    let v = c.get("/v1/sessions").await.json();
    let ids: Vec<&str> = v["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["l1", "l2"]);
}

#[tokio::test]
async fn delete_ends_the_session_and_its_processes() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.post("/v1/sessions", json!({"id": "temp"})).await;
    let r = c.run(Some("temp"), "sleep 60 & bash -c 'sleep 61 & echo $!' ; echo $!").await;
    let pids: Vec<i32> = s(&r["stdout"]).lines().map(|p| p.parse().unwrap()).collect();
    let shell: i32 = s(&c.run(Some("temp"), "echo $$").await["stdout"]).parse().unwrap();
    let r = c.delete("/v1/sessions/temp").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["success"], true);
    assert!(eventually(std::time::Duration::from_secs(2), || !alive(shell) && pids.iter().all(|&p| !alive(p))).await);
    let r = c.post("/v1/exec", json!({"command": "true", "sessionId": "temp"})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "SESSION_NOT_FOUND");
    assert_eq!(c.get("/v1/sessions/temp").await.status, 404);
    assert_eq!(c.delete("/v1/sessions/temp").await.status, 404);
}

#[tokio::test]
async fn a_deleted_sessions_processes_die_though_its_id_is_taken_again_at_once() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.post("/v1/sessions", json!({"id": "again"})).await;
    let old: i32 = s(&c.run(Some("again"), "sleep 60 & echo $!").await["stdout"]).parse().unwrap();
    // The answer comes before the kill is done; the id is free at once.
    assert_eq!(c.delete("/v1/sessions/again").await.status, 200);
    assert_eq!(c.post("/v1/sessions", json!({"id": "again"})).await.status, 201);
    let new: i32 = s(&c.run(Some("again"), "sleep 61 & echo $!").await["stdout"]).parse().unwrap();
    assert!(eventually(std::time::Duration::from_secs(2), || !alive(old)).await, "the deleted session's process lives");
    assert!(alive(new), "the kill of the old session reached the new one");
    assert_eq!(c.run(Some("again"), "echo fine").await["stdout"], "fine");
}

#[tokio::test]
async fn delete_during_a_command_ends_it() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.post("/v1/sessions", json!({"id": "busy"})).await;
    let mut other = agent.client().await;
    let running = tokio::spawn(async move {
        other.post("/v1/exec", json!({"command": "touch started; sleep 60", "sessionId": "busy"})).await
    });
    until_exists(&agent.dir.join("started")).await;
    assert_eq!(c.delete("/v1/sessions/busy").await.status, 200);
    let r = tokio::time::timeout(std::time::Duration::from_secs(5), running).await.expect("the exec returned").unwrap();
    assert_ne!(r.json()["exitCode"], 0);
}

#[tokio::test]
async fn the_default_session_is_made_on_first_use_and_cannot_be_deleted_alone() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    assert_eq!(c.get("/v1/sessions").await.json()["count"], 0);
    assert_eq!(c.run(None, "echo hi").await["sessionId"], "default");
    assert_eq!(c.get("/v1/sessions/default").await.status, 200);
    let r = c.delete("/v1/sessions/default").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "DEFAULT_SESSION_PROTECTED");
    assert_eq!(c.exec(json!({"command": "echo still", "sessionId": "default"})).await["stdout"], "still");
}

#[tokio::test]
async fn unknown_sessions_are_404() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for r in [
        c.post("/v1/exec", json!({"command": "true", "sessionId": "nope"})).await,
        c.get("/v1/sessions/nope").await,
        c.get("/v1/sessions/nope/history").await,
        c.post("/v1/files/list", json!({"path": ".", "sessionId": "nope"})).await,
    ] {
        assert_eq!(r.status, 404);
        assert_eq!(r.json()["code"], "SESSION_NOT_FOUND");
    }
}
