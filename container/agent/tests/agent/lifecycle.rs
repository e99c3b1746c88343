//! The agent's own life: health, SIGTERM ending every session's processes, and local multi-sandbox mode.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn health_reports_the_version() {
    let agent = Agent::start();
    let v = agent.client().await.get("/v1/health").await.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(s(&v["bootId"]).starts_with("boot-"));
    let other = Agent::start();
    assert_ne!(other.client().await.get("/v1/health").await.json()["bootId"], v["bootId"]);
}

#[tokio::test]
async fn sigterm_kills_every_sessions_processes_and_exits_promptly() {
    let mut agent = Agent::start();
    let mut c = agent.client().await;
    c.post("/v1/sessions", json!({"id": "other"})).await;
    let a: i32 = s(&c.run(None, "sleep 60 & echo $!").await["stdout"]).parse().unwrap();
    let b: i32 = s(&c.run(Some("other"), "bash -c 'sleep 61 & echo $!'").await["stdout"]).parse().unwrap();
    let mut busy = agent.client().await;
    tokio::spawn(async move { busy.run(Some("other"), "touch busy; sleep 62").await });
    until_exists(&agent.dir.join("busy")).await;
    let (status, took) = agent.terminate();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(eventually(Duration::from_secs(2), || !alive(a) && !alive(b)).await);
}

#[tokio::test]
async fn sandboxes_in_multi_mode_have_their_own_sessions_and_files() {
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}"]);
    let mut a = agent.client().await.for_sandbox("box-a");
    let mut b = agent.client().await.for_sandbox("box-b");
    a.post("/v1/sessions", json!({"id": "s"})).await;
    assert_eq!(b.post("/v1/sessions", json!({"id": "s"})).await.status, 201);
    a.run(Some("s"), "export WHO=a; echo a > mine.txt").await;
    b.run(Some("s"), "export WHO=b").await;
    assert_eq!(
        a.run(Some("s"), "echo $WHO; pwd").await["stdout"],
        "a\n/workspace".replace("/workspace", &path_str(&agent.dir.join("box-a")))
    );
    assert_eq!(b.run(Some("s"), "echo $WHO; ls").await["stdout"], "b");
    // Paths look the same as in a container.
    let v = a.post("/v1/files/list", json!({"path": "/workspace"})).await.json();
    assert_eq!(v["path"], "/workspace");
    assert_eq!(v["files"][0]["absolutePath"], "/workspace/mine.txt");
    assert_eq!(a.get("/v1/sessions/s").await.json()["cwd"], "/workspace");
    let v = b.post("/v1/files/exists", json!({"path": "/workspace/mine.txt"})).await.json();
    assert_eq!(v["exists"], false);
    let r = a.post("/v1/sessions", json!({"id": "sub", "cwd": "/workspace/analysis"})).await;
    assert_eq!(r.json()["cwd"], "/workspace/analysis");
    assert!(agent.dir.join("box-a/analysis").is_dir());
}

#[tokio::test]
async fn destroying_a_sandbox_ends_its_sessions_processes_and_files() {
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}"]);
    let mut a = agent.client().await.for_sandbox("gone");
    let mut keep = agent.client().await.for_sandbox("kept");
    let pid: i32 = s(&a.run(None, "echo x > f; sleep 60 & echo $!").await["stdout"]).parse().unwrap();
    keep.run(None, "export K=1").await;
    let r = a.delete("/v1/sandbox").await;
    assert_eq!(r.status, 200);
    let gone = eventually(Duration::from_secs(2), || !alive(pid)).await;
    // (A shell that ended between reading its state and the process snapshot once let this job live on.)
    assert!(gone, "the job lives on: {:?}", std::fs::read_to_string(format!("/proc/{pid}/stat")));
    assert!(!agent.dir.join("gone/f").exists());
    assert_eq!(a.get("/v1/sessions").await.json()["count"], 0);
    assert_eq!(a.run(None, "ls | wc -l").await["stdout"], "0");
    assert_eq!(keep.run(None, "echo $K").await["stdout"], "1");
}
