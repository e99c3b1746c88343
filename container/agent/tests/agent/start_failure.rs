//! A shell that cannot start for a moment (the agent out of descriptors) fails that call with a clear error, and
//! the next call starts it: the session is never left dead.

use std::process::Command;

use crate::support::*;

/// Sets the soft limit (the hard one stays: lowering it could not be undone).
fn set_descriptor_limit(pid: u32, soft: u64, hard: u64) {
    let ok = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={soft}:{hard}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "prlimit could not set the agent's descriptor limit");
}

fn open_descriptors(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count() as u64
}

#[tokio::test]
async fn the_default_session_starts_on_the_next_call_after_a_failed_start() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    // No pool: its shells, started in the background, would take and give back descriptors under the test's limit.
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}", "--shell-pool", "0"]);
    let pid = agent.pid();
    let mut c = agent.client().await.for_sandbox("starved");
    assert_eq!(c.get("/v1/sessions").await.status, 200);
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let numbers: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let (soft, hard) = (numbers[0], numbers[1]);
    set_descriptor_limit(pid, open_descriptors(pid) + 1, hard);
    let failed = c.post("/v1/exec", json!({"command": "echo first"})).await;
    set_descriptor_limit(pid, soft, hard);
    assert_eq!(failed.status, 503, "{}", String::from_utf8_lossy(&failed.body));
    assert_eq!(failed.json()["code"], "RESOURCE_EXHAUSTED");
    let next = c.post("/v1/exec", json!({"command": "echo second"})).await;
    assert_eq!(next.status, 200, "{}", String::from_utf8_lossy(&next.body));
    assert_eq!(next.json()["stdout"], "second");
}
