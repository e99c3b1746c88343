//! Containment: everything a session, a command, a background process or a terminal starts is ended with it,
//! whatever it did to leave (a `setsid` after a double fork, an empty environment). Where the agent can make
//! cgroups (here as root, with the v2 tree and `cgroup.kill`) it must; `--no-cgroups` keeps process groups.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// What holds the agent's processes, as its metrics (and so a sandbox's status) say.
async fn containment(c: &mut Client) -> String {
    let r = c.send_with("GET", "/v1/metrics", &[("accept", "application/json")], Vec::new()).await;
    r.json()["containment"].as_str().unwrap_or_default().to_string()
}

/// Whether this machine lets a root process make cgroups that `cgroup.kill` ends (what the agent looks for).
fn cgroups_here() -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    nix_is_root() && mounts.lines().any(|l| l.contains(" - cgroup2 "))
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
}

/// The agent, and whether it contains by cgroups; the tests that need them say so when it does not.
async fn agent_with_cgroups(extra: &[&str]) -> Option<(Agent, Client)> {
    let agent = Agent::start_with(extra);
    let mut c = agent.client().await;
    match containment(&mut c).await.as_str() {
        "cgroup" => Some((agent, c)),
        other => {
            assert!(!cgroups_here() || agent.in_container(), "this host has cgroups, yet the agent uses {other:?}");
            eprintln!("skipped: the agent cannot make cgroups here ({other})");
            None
        }
    }
}

/// Reads a pid a command wrote to `name` in the workspace.
fn pid_in(agent: &Agent, name: &str) -> i32 {
    std::fs::read_to_string(agent.dir.join(name)).unwrap().trim().parse().unwrap()
}

/// A process that left its shell every way a process can: a double fork (its parent gone, so the agent adopted
/// it), `setsid` (another session and process group), and no environment (no mark of whose it is).
const ESCAPE: &str = "(env -i setsid sleep 307 </dev/null >/dev/null 2>&1 & echo $! > escaped.pid)";

#[tokio::test]
async fn the_agent_says_which_containment_runs_and_can_be_told_to_use_process_groups() {
    let agent = Agent::start_with(&["--no-cgroups"]);
    let mut c = agent.client().await;
    assert_eq!(containment(&mut c).await, "process-group");
    let r = c.exec(json!({"command": "sleep 10", "timeout": 100})).await;
    assert_eq!(r["exitCode"], 124, "{r}");
    if cgroups_here() && !agent.in_container() {
        let agent = Agent::start();
        assert_eq!(containment(&mut agent.client().await).await, "cgroup");
    }
}

#[tokio::test]
async fn a_process_that_left_its_shell_every_way_ends_with_its_session() {
    let Some((agent, mut c)) = agent_with_cgroups(&[]).await else { return };
    assert_eq!(c.post("/v1/sessions", json!({"id": "s"})).await.status, 201);
    let r = c.exec(json!({"command": ESCAPE, "sessionId": "s"})).await;
    assert_eq!(r["exitCode"], 0, "{r}");
    let escaped = pid_in(&agent, "escaped.pid");
    assert!(alive(escaped), "the escaped process runs on after its command, as a daemon does");
    assert_eq!(c.delete("/v1/sessions/s").await.status, 200);
    // SIGKILLed before the answer; gone once it next runs.
    assert!(eventually(Duration::from_secs(2), || !alive(escaped)).await, "the session's end left its daemon running");
}

#[tokio::test]
async fn a_timed_out_command_takes_what_it_double_forked_and_spares_earlier_jobs() {
    let Some((agent, mut c)) = agent_with_cgroups(&[]).await else { return };
    let r = c.run(None, "sleep 308 & echo $! > earlier.pid").await;
    assert_eq!(r["exitCode"], 0, "{r}");
    let t0 = Instant::now();
    let r = c.exec(json!({"command": format!("{ESCAPE}; sleep 30"), "timeout": 300})).await;
    assert_eq!(r["exitCode"], 124, "{r}");
    assert!(t0.elapsed() < Duration::from_secs(3), "took {:?}", t0.elapsed());
    let escaped = pid_in(&agent, "escaped.pid");
    assert!(!alive(escaped), "the timed-out command's daemon lives on");
    assert!(alive(pid_in(&agent, "earlier.pid")), "an earlier command's job was killed with this one");
    assert_eq!(c.run(None, "echo alive").await["stdout"], "alive");
}

#[tokio::test]
async fn killing_a_background_process_takes_the_daemon_it_left() {
    let Some((agent, mut c)) = agent_with_cgroups(&[]).await else { return };
    let r = c.post("/v1/processes", json!({"command": format!("{ESCAPE}; sleep 60"), "processId": "p"})).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    until_exists(&agent.dir.join("escaped.pid")).await;
    let escaped = pid_in(&agent, "escaped.pid");
    assert!(eventually(Duration::from_secs(2), || alive(escaped)).await);
    let killed: Value = c.delete("/v1/processes/p").await.json();
    assert_eq!(killed["status"], "killed", "{killed}");
    assert!(!alive(escaped), "the process's daemon lives on after its kill");
}

#[tokio::test]
async fn a_cancel_that_races_a_fork_leaves_no_process_and_no_report_of_the_kill() {
    // The command's subshell forks `sleep 30` from its INT trap: after the interrupt, so the sleep never gets
    // it, and the agent has to kill it. Bash would report that kill ("Killed") into the command's stderr.
    let Some((agent, mut c)) = agent_with_cgroups(&[]).await else { return };
    for round in 0..3 {
        let command = "(trap 'sleep 30 & echo $! > late.pid; wait' INT; while :; do sleep 0.05; done)";
        let t0 = Instant::now();
        let r = c.exec(json!({"command": command, "timeout": 200})).await;
        assert_eq!(r["exitCode"], 124, "round {round}: {r}");
        assert_eq!(r["stderr"], "", "round {round}: {r}");
        assert!(t0.elapsed() < Duration::from_secs(3), "round {round}: took {:?}", t0.elapsed());
        let late = pid_in(&agent, "late.pid");
        assert!(!alive(late), "round {round}: the sleep forked after the interrupt lives on");
        std::fs::remove_file(agent.dir.join("late.pid")).unwrap();
    }
    assert_eq!(c.run(None, "echo alive").await["stdout"], "alive");
}
