//! Limits per session and per background process (`limits: { memory, pids, cpu }`, or the agent's `--limit-*`
//! defaults), enforced by their cgroups: a command killed by its memory limit says so, a fork bomb meets its pids
//! limit while other sessions answer, CPU time is capped; where the agent cannot enforce a limit it refuses it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// The agent, when it can enforce every limit here (cgroups with the memory, pids and cpu controllers); the
/// tests say they skipped otherwise.
async fn limited_agent(extra: &[&str]) -> Option<(Agent, Client)> {
    let agent = Agent::start_with(extra);
    let mut c = agent.client().await;
    let probe =
        c.post("/v1/sessions", json!({"id": "probe", "limits": {"memory": "1G", "pids": 1000, "cpu": 1}})).await;
    match probe.status {
        201 => {
            assert_eq!(c.delete("/v1/sessions/probe").await.status, 200);
            Some((agent, c))
        }
        501 => {
            let body = probe.json();
            assert_eq!(body["code"], "LIMITS_UNAVAILABLE", "{body}");
            eprintln!("skipped: limits cannot be enforced here: {}", body["message"]);
            None
        }
        other => panic!("creating a limited session answered {other}: {}", String::from_utf8_lossy(&probe.body)),
    }
}

#[tokio::test]
async fn a_command_killed_by_its_memory_limit_says_so_and_the_session_lives_on() {
    let Some((_agent, mut c)) = limited_agent(&[]).await else { return };
    let r = c.post("/v1/sessions", json!({"id": "m", "limits": {"memory": "48M"}})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["limits"]["memoryBytes"], 48 << 20);
    // 200 MB touched page by page (`head -c` of /dev/zero into a shell variable would be bash's own memory).
    let r = c.exec(json!({"sessionId": "m", "command": "python3 -c 'b = bytearray(200 << 20); print(len(b))'"})).await;
    assert_eq!(r["exitCode"], 137, "{r}");
    assert_eq!(r["oomKilled"], true, "{r}");
    assert!(r["message"].as_str().unwrap().contains("memory limit of 48 MiB"), "{r}");
    assert_eq!(r["stdout"], "", "{r}");
    let after = c.exec(json!({"sessionId": "m", "command": "echo still here"})).await;
    assert_eq!((after["stdout"].as_str(), after.get("oomKilled")), (Some("still here"), None), "{after}");
    let info = c.get("/v1/sessions/m").await.json();
    assert!(info["usage"]["oomKills"].as_u64().unwrap() >= 1, "{info}");
    assert!(info["usage"]["memoryBytes"].as_u64().unwrap() < 48 << 20, "{info}");
}

#[tokio::test]
async fn a_fork_bomb_meets_its_pids_limit_while_another_session_answers() {
    let Some((agent, mut c)) = limited_agent(&[]).await else { return };
    assert_eq!(c.post("/v1/sessions", json!({"id": "bomb", "limits": {"pids": 40}})).await.status, 201);
    assert_eq!(c.post("/v1/sessions", json!({"id": "calm"})).await.status, 201);
    // The classic: every copy starts two more, in the background, for ever; in a bash of its own name, so its
    // copies can be counted apart from every other bash of the machine. Its own session is stuck while it runs
    // (each fork there waits for room too): its command times out.
    let bomb = "cp \"$(command -v bash)\" ./bombsh && ./bombsh -c 'b() { b | b & }; b'; sleep 1000";
    let mut b = agent.client().await;
    let bombing =
        tokio::spawn(async move { b.exec(json!({"sessionId": "bomb", "command": bomb, "timeout": 6000})).await });
    let counted = || {
        let out = std::process::Command::new("pgrep").args(["-c", "-x", "bombsh"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse::<u32>().unwrap_or(0)
    };
    assert!(eventually(Duration::from_secs(5), || counted() >= 20).await, "the bomb did not go off: {}", counted());
    for _ in 0..5 {
        let t0 = Instant::now();
        let calm = c.exec(json!({"sessionId": "calm", "command": "echo fine", "timeout": 10000})).await;
        assert_eq!(calm["stdout"], "fine", "{calm}");
        assert!(t0.elapsed() < Duration::from_secs(10));
        let info = c.get("/v1/sessions/bomb").await.json();
        assert!(info["usage"]["pids"].as_u64().unwrap() <= 40, "the bomb passed its limit: {info}");
    }
    let r = bombing.await.unwrap();
    assert_eq!(r["exitCode"], 124, "{r}");
    assert_eq!(c.delete("/v1/sessions/bomb").await.status, 200);
    // SIGKILLed before the answer; gone once each next runs.
    assert!(
        eventually(Duration::from_secs(3), || counted() == 0).await,
        "the bomb outlived its session: {}",
        counted()
    );
}

#[tokio::test]
async fn cpu_time_is_capped_and_counted() {
    let Some((_agent, mut c)) = limited_agent(&[]).await else { return };
    assert_eq!(c.post("/v1/sessions", json!({"id": "slow", "limits": {"cpu": 0.2}})).await.status, 201);
    let busy = "end=$((SECONDS + 2)); while [ $SECONDS -lt $end ]; do :; done";
    let r = c.exec(json!({"sessionId": "slow", "command": busy})).await;
    assert_eq!(r["exitCode"], 0, "{r}");
    let used = c.get("/v1/sessions/slow").await.json()["usage"]["cpuMs"].as_u64().unwrap();
    // At most a fifth of the time it ran (1 to 2 s), with a period of slack; never more, however busy the machine.
    assert!(used > 0 && used < 700, "a 0.2 CPU session used {used} ms of CPU");
    // Each session's use is in the metrics too: as JSON (a sandbox's status) and as series.
    let json = c.send_with("GET", "/v1/metrics", &[("accept", "application/json")], Vec::new()).await.json();
    let mine = json["sessionUsage"].as_array().unwrap().iter().find(|s| s["sessionId"] == "slow").cloned();
    assert!(mine.is_some_and(|s| s["usage"]["cpuMs"].as_u64().unwrap() >= used), "{json}");
    let text = String::from_utf8(c.get("/v1/metrics").await.body).unwrap();
    assert!(text.contains("sandbox_agent_session_cpu_seconds_total{session=\"slow\"}"), "{text}");
    assert!(text.contains("sandbox_agent_session_memory_bytes{session=\"slow\"}"), "{text}");
}

#[tokio::test]
async fn a_background_process_has_limits_of_its_own() {
    let Some((_agent, mut c)) = limited_agent(&[]).await else { return };
    let body =
        json!({"command": "python3 -c 'b = bytearray(200 << 20)'", "processId": "hog", "limits": {"memory": "40M"}});
    let r = c.post("/v1/processes", body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let done = c.post("/v1/processes/hog/wait", json!({"condition": "exit", "timeout": 20000})).await.json();
    let info: Value = c.get("/v1/processes/hog").await.json();
    assert_eq!(info["oomKilled"], true, "{done} {info}");
    assert_eq!(info["exitCode"], 137, "{info}");
    assert_eq!(info["limits"]["memoryBytes"], 40 << 20, "{info}");
}

#[tokio::test]
async fn the_agents_defaults_apply_unless_a_session_says_otherwise() {
    // Where limits cannot be enforced, an agent given `--limit-*` does not start (the next test).
    let Some(_probe) = limited_agent(&[]).await else { return };
    let Some((_agent, mut c)) = limited_agent(&["--limit-pids", "64", "--limit-memory", "1G"]).await else { return };
    let own = c.post("/v1/sessions", json!({"id": "own", "limits": {"pids": 100}})).await.json();
    assert_eq!(own["limits"], json!({"memoryBytes": 1u64 << 30, "pids": 100}), "{own}");
    let plain = c.post("/v1/sessions", json!({"id": "plain"})).await.json();
    assert_eq!(plain["limits"], json!({"memoryBytes": 1u64 << 30, "pids": 64}), "{plain}");
}

#[test]
fn an_agent_told_to_enforce_limits_it_cannot_does_not_start() {
    let dir = scratch_dir("limits");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sandbox-agent"))
        .args(["--listen", "127.0.0.1:0", "--no-cgroups", "--limit-pids", "64", "--workspace"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--limit-*") && err.contains("process-group"), "{err}");
}

#[tokio::test]
async fn wrong_limits_are_refused_by_name_and_unenforceable_ones_say_why() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for (limits, named) in [
        (json!({"memory": "lots"}), "limits.memory"),
        (json!({"memory": "1M"}), "limits.memory"),
        (json!({"pids": 0}), "limits.pids"),
        (json!({"cpu": -1}), "limits.cpu"),
    ] {
        let r = c.post("/v1/sessions", json!({"limits": limits})).await;
        assert_eq!(r.status, 400, "{limits}");
        let body = r.json();
        assert_eq!(body["code"], "VALIDATION_FAILED", "{body}");
        assert!(body["message"].as_str().unwrap().starts_with(named), "{body}");
    }
    let r = c.post("/v1/sessions", json!({"limits": {"disk": "1G"}})).await;
    assert_eq!(r.status, 400, "an unknown limit is refused, not ignored");
    let plain = Agent::start_with(&["--no-cgroups"]);
    let mut p = plain.client().await;
    let r = p.post("/v1/sessions", json!({"id": "x", "limits": {"memory": "512M"}})).await;
    assert_eq!(r.status, 501);
    let body = r.json();
    assert_eq!(body["code"], "LIMITS_UNAVAILABLE", "{body}");
    assert!(body["message"].as_str().unwrap().contains("process-group"), "{body}");
    assert_eq!(p.get("/v1/sessions/x").await.status, 404, "nothing was made");
    let r = p.post("/v1/processes", json!({"command": "true", "limits": {"pids": 10}})).await;
    assert_eq!(r.json()["code"], "LIMITS_UNAVAILABLE");
}
