//! The file API cannot be turned against the agent: devices and FIFOs are refused instead of read forever or
//! waited on, writes are atomic (a reader sees the old file or the new one, a full disk leaves the old one), and
//! trees of any depth are removed without recursion.

use std::time::Duration;

use crate::support::*;

fn code(r: &http::Reply) -> (u16, String) {
    (r.status, r.json()["code"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn devices_are_refused_not_read_until_memory_runs_out() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for device in ["/dev/zero", "/dev/urandom", "/dev/null"] {
        let r = c.post("/v1/files/read", json!({"path": device})).await;
        assert_eq!(code(&r), (400, "UNSUPPORTED_FILE_TYPE".into()), "{device}");
    }
    let r = c.post("/v1/files/write", json!({"path": "/dev/full", "content": "x"})).await;
    assert_eq!(code(&r), (400, "UNSUPPORTED_FILE_TYPE".into()));
    assert_eq!(c.get("/v1/health").await.status, 200);
}

#[tokio::test]
async fn fifos_answer_at_once_and_never_block_the_file_api() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "mkfifo pipe").await;
    let fifo = path_str(&agent.dir.join("pipe"));
    // Far more than the blocking pool has threads: none of them may wait on the FIFO.
    let calls: Vec<_> = (0..600)
        .map(|i| {
            let addr = agent.addr;
            let fifo = fifo.clone();
            tokio::spawn(async move {
                let mut c = http::Client::connect(addr).await;
                let r = if i % 2 == 0 {
                    c.post("/v1/files/read", json!({"path": fifo})).await
                } else {
                    c.post("/v1/files/write", json!({"path": fifo, "content": "x"})).await
                };
                code(&r)
            })
        })
        .collect();
    let all = tokio::time::timeout(Duration::from_secs(30), async {
        let mut results = Vec::new();
        for call in calls {
            results.push(call.await.unwrap());
        }
        results
    });
    for result in all.await.expect("no call hangs") {
        assert_eq!(result, (400, "UNSUPPORTED_FILE_TYPE".into()));
    }
    let r = c.post("/v1/files/write", json!({"path": "after.txt", "content": "fine"})).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_reader_never_sees_a_partly_written_file() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let (a, b) = ("a".repeat(4 << 20), "b".repeat(4 << 20));
    c.post("/v1/files/write", json!({"path": "big.txt", "content": a})).await;
    let addr = agent.addr;
    let (a2, b2) = (a.clone(), b.clone());
    let writer = tokio::spawn(async move {
        let mut c = http::Client::connect(addr).await;
        for i in 0..20 {
            let content = if i % 2 == 0 { &b2 } else { &a2 };
            assert_eq!(c.post("/v1/files/write", json!({"path": "big.txt", "content": content})).await.status, 200);
        }
    });
    let mut reads = 0;
    while !writer.is_finished() {
        let r = c.post("/v1/files/read", json!({"path": "big.txt"})).await;
        let content = r.json()["content"].as_str().unwrap().to_string();
        assert!(content == a || content == b, "a read saw {} bytes of a partial file", content.len());
        reads += 1;
    }
    writer.await.unwrap();
    assert!(reads > 0);
    let leftovers: Vec<_> = std::fs::read_dir(&agent.dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("big.txt")], "no temporary file is left");
}

#[tokio::test]
async fn a_rewrite_keeps_the_mode_and_writes_through_a_symlink() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "printf old > run.sh && chmod 750 run.sh && ln -s run.sh link").await;
    assert_eq!(c.post("/v1/files/write", json!({"path": "link", "content": "echo new"})).await.status, 200);
    let r = c.run(None, "stat -c %a run.sh; cat run.sh; test -L link && echo still-a-link").await;
    assert_eq!(r["stdout"], "750\necho newstill-a-link");
}

#[tokio::test]
async fn a_full_disk_is_its_own_error_and_keeps_the_old_file() {
    if std::env::var("SANDBOX_AGENT_IMAGE").is_ok_and(|image| !image.is_empty()) {
        eprintln!("skipped in a container: the small tmpfs is mounted on the host after the container started");
        return;
    }
    let agent_dir = scratch_dir("full");
    let small = agent_dir.join("small");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&small)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: a full disk needs a small tmpfs, and mounting one needs root");
        return;
    }
    let agent = Agent::start_with(&["--workspace", &path_str(&small)]);
    let mut c = agent.client().await;
    let path = path_str(&small.join("keep.txt"));
    assert_eq!(c.post("/v1/files/write", json!({"path": path, "content": "precious"})).await.status, 200);
    let r = c.post("/v1/files/write", json!({"path": path, "content": "x".repeat(2 << 20)})).await;
    assert_eq!(code(&r), (507, "NO_SPACE".into()));
    assert_eq!(std::fs::read_to_string(small.join("keep.txt")).unwrap(), "precious");
    assert_eq!(std::fs::read_dir(&small).unwrap().count(), 1, "no temporary file is left");
    drop(agent);
    let _ = std::process::Command::new("umount").arg(&small).status();
}

#[tokio::test]
async fn destroying_a_sandbox_with_a_chain_thirty_thousand_deep_keeps_the_agent_up() {
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}"]);
    let mut c = agent.client().await.for_sandbox("deep");
    let made = c
        .run(None, "python3 -c 'import os\nfor _ in range(30000):\n    os.mkdir(\"a\"); os.chdir(\"a\")' && echo made")
        .await;
    assert_eq!(made["stdout"], "made", "{made}");
    let listed = c.post("/v1/files/list", json!({"path": "/workspace", "recursive": true})).await;
    assert_eq!(listed.status, 200);
    let r = c.delete("/v1/sandbox").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(!agent.dir.join("deep").exists());
    assert_eq!(c.get("/v1/health").await.status, 200);
}
