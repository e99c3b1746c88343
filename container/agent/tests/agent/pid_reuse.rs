//! A process id the agent no longer owns is never signalled: when a session's dead shell's number has gone to
//! another process (here made to happen on purpose with `ns_last_pid`), deleting the session leaves it alone.

use std::process::{Child, Command};
use std::time::Duration;

use crate::support::*;

/// Starts `sleep` as a process group leader with exactly `pid`, by setting the kernel's last pid; `None` when the
/// machine does not allow it (not root) or another process keeps taking the number.
fn spawn_with_pid(pid: i32) -> Option<Child> {
    use std::os::unix::process::CommandExt;
    for _ in 0..50 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).ok()?;
        let child = Command::new("sleep").arg("60").process_group(0).spawn().ok()?;
        if child.id() as i32 == pid {
            return Some(child);
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

#[tokio::test]
async fn deleting_a_session_spares_a_stranger_that_took_its_dead_shells_pid() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    assert_eq!(c.post("/v1/sessions", json!({"id": "s1"})).await.status, 201);
    let old: i32 = c.run(Some("s1"), "echo $$").await["stdout"].as_str().unwrap().parse().unwrap();
    // The shell ends (and is reaped); the next command gets a new one.
    c.run(Some("s1"), "exit 0").await;
    assert!(eventually(Duration::from_secs(5), || !alive(old)).await);
    assert_eq!(c.run(Some("s1"), "echo alive").await["stdout"], "alive");
    let Some(mut stranger) = spawn_with_pid(old) else {
        eprintln!("skipped: cannot give a process a chosen pid here (needs root and ns_last_pid)");
        return;
    };
    assert_eq!(c.delete("/v1/sessions/s1").await.status, 200);
    // Time for a wrong kill to land: a wait for something not to happen.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(stranger.try_wait().unwrap().is_none(), "the process that took pid {old} was killed");
    let _ = stranger.kill();
    let _ = stranger.wait();
}
