//! Memory has one bound for the whole agent: output, bodies, files and listings held by requests in flight are
//! charged to it. Beyond it new requests get a retryable 503 and large outputs wait their turn, so many large
//! requests at once cannot take the agent (and every session) down, and each output that waits comes back whole.

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
    for call in calls {
        let r = call.await.unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body[..200.min(r.body.len())]));
        let v = r.json();
        assert_eq!(v["stdout"].as_str().unwrap().len(), 16 << 20);
        assert_eq!(v["truncated"], false, "an output that did not fit at once waits for room, not cut short");
    }
    let peak = peak_rss_mib(agent.pid());
    eprintln!("peak RSS {peak} MiB");
    assert!(peak < 300, "the agent's peak RSS was {peak} MiB");
    // Once the requests are done the budget is free again (asked on a new connection: the first sat idle).
    let mut c = agent.client().await;
    let r = c.post("/v1/exec", json!({"command": "head -c 1000 /dev/zero | tr '\\0' b"})).await;
    assert_eq!(r.json()["stdout"].as_str().unwrap().len(), 1000);
}

/// An output waiting for room still ends at its command's timeout, as a command does whose reader is slow: most
/// of the budget is held by the reservations of two 12 MiB outputs (capped there) that stay, their commands
/// sleeping after printing, and a third that would print 16 MiB, with a 1 s timeout, is answered as timed out
/// long before they end.
#[tokio::test]
async fn an_output_waiting_for_room_still_times_out() {
    let agent = Agent::start_with(&["--memory-budget-mb", "64"]);
    let holders: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| {
            let addr = agent.addr;
            tokio::spawn(async move {
                let mut c = http::Client::connect(addr).await;
                assert_eq!(c.post("/v1/sessions", json!({"id": name})).await.status, 201);
                let command = format!("head -c 12582912 /dev/zero | tr '\\0' a; touch {name}.printed; sleep 60");
                let body = json!({"command": command, "sessionId": name, "maxOutputBytes": 12 << 20});
                c.post("/v1/exec", body).await
            })
        })
        .collect();
    // Each holder's 16 MiB could only reach its pipe once the agent took it, and with it a reservation.
    while !(agent.dir.join("a.printed").exists() && agent.dir.join("b.printed").exists()) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut c = agent.client().await;
    let started = std::time::Instant::now();
    let command = "head -c 16777216 /dev/zero | tr '\\0' c";
    let r = c.post("/v1/exec", json!({"command": command, "timeout": 1000})).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["timedOut"], true, "{v}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "answered at its timeout, not the holders' end");
    for holder in holders {
        holder.abort();
    }
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

/// A memory cgroup of the test's own (v1's memory controller, or v2 where it has the memory controller), with a
/// limit, removed when dropped; `None` where the machine has neither or the test is not root.
struct MemoryCgroup {
    dir: std::path::PathBuf,
    /// The file whose `oom_kill` line counts the processes the kernel killed in it.
    events: std::path::PathBuf,
}

impl MemoryCgroup {
    fn make(limit: u64) -> Option<MemoryCgroup> {
        let name = format!("sandbox-agent-test-{}", std::process::id());
        let v1 = std::path::Path::new("/sys/fs/cgroup/memory");
        let v2 = std::path::Path::new("/sys/fs/cgroup");
        let (dir, limit_file, events) = if v1.join("memory.limit_in_bytes").exists() {
            (v1.join(&name), "memory.limit_in_bytes", "memory.oom_control")
        } else if std::fs::read_to_string(v2.join("cgroup.subtree_control")).is_ok_and(|c| c.contains("memory")) {
            (v2.join(&name), "memory.max", "memory.events")
        } else {
            return None;
        };
        std::fs::create_dir(&dir).ok()?;
        std::fs::write(dir.join(limit_file), limit.to_string()).ok()?;
        let events = dir.join(events);
        Some(MemoryCgroup { dir, events })
    }

    fn oom_kills(&self) -> u64 {
        let text = std::fs::read_to_string(&self.events).unwrap_or_default();
        let line = text.lines().find(|l| l.starts_with("oom_kill ")).unwrap_or("oom_kill 0");
        line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// In a 1 GiB cgroup, 120 sessions that each print 16 MiB at once are all answered, whole, and nothing is
/// killed: the agent's default budget is half of its own cgroup's limit (found through /proc/self/cgroup), not of
/// the machine's, which is what a hybrid or nested host's root cgroup says, and the outputs that do not fit wait
/// for room. An exec after the burst works.
#[tokio::test]
async fn a_burst_in_a_small_cgroup_is_answered_and_kills_nothing() {
    if std::env::var("SANDBOX_AGENT_IMAGE").is_ok_and(|image| !image.is_empty()) {
        eprintln!("skipped: the agent runs in a container here");
        return;
    }
    let Some(cgroup) = MemoryCgroup::make(1 << 30) else {
        eprintln!("skipped: no memory cgroup can be made here (root and a memory controller are needed)");
        return;
    };
    let procs = cgroup.dir.join("cgroup.procs");
    let agent = Agent::start_configured(&[], &[], move |c| {
        use std::os::unix::process::CommandExt;
        let procs = std::ffi::CString::new(procs.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: open, write and close only, between fork and exec: the agent starts in the cgroup.
        unsafe {
            c.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd >= 0 {
                    libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                }
                Ok(())
            });
        }
    });
    let mut c = agent.client().await;
    for i in 0..120 {
        assert_eq!(c.post("/v1/sessions", json!({"id": format!("s{i}")})).await.status, 201);
    }
    let calls: Vec<_> = (0..120)
        .map(|i| {
            let addr = agent.addr;
            tokio::spawn(async move {
                let mut c = Client::connect(addr).await;
                let body = json!({"command": "head -c 16777216 /dev/zero | tr '\\0' a", "sessionId": format!("s{i}")});
                let r = c.post("/v1/exec", body).await;
                assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body[..200.min(r.body.len())]));
                let v = r.json();
                (v["stdout"].as_str().map(str::len), v["truncated"].as_bool())
            })
        })
        .collect();
    for call in calls {
        let answer = call.await.expect("every call is answered");
        assert_eq!(answer, (Some(16 << 20), Some(false)));
    }
    assert_eq!(cgroup.oom_kills(), 0, "the kernel killed something in the agent's cgroup");
    // A new connection: the one that made the sessions sat idle through the burst, past the agent's idle timeout
    // when the machine is loaded (closing it then is what that timeout is for).
    let mut c = agent.client().await;
    assert_eq!(c.run(None, "echo after").await["stdout"], "after");
}
