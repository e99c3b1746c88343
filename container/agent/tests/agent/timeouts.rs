//! A timeout stops the command for real: its whole process tree dies, the partial output comes back, and the
//! session carries on with the state it had.

use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test]
async fn a_timed_out_command_returns_124_with_partial_output_and_the_session_lives_on() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "mkdir -p kept && cd kept && export KEPT=yes && shellvar=1").await;
    let t0 = Instant::now();
    let r = c.exec(json!({"command": "echo partial; echo err >&2; sleep 30; echo never", "timeout": 300})).await;
    assert!(t0.elapsed() < Duration::from_secs(5), "took {:?}", t0.elapsed());
    assert_eq!(r["exitCode"], 124);
    assert_eq!(r["timedOut"], true);
    assert_eq!(r["ended"], "timedOut");
    assert_eq!(r["success"], false);
    assert_eq!(r["stdout"], "partial");
    // Only what the command wrote: no report from the shell about the process it lost.
    assert_eq!(r["stderr"], "err");
    let r = c.run(None, "pwd; echo $KEPT $shellvar").await;
    assert_eq!(r["stdout"], format!("{}\nyes 1", path_str(&agent.dir.join("kept"))));
}

#[tokio::test]
async fn exit_codes_124_and_130_of_a_command_itself_are_not_a_timeout_or_a_cancel() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    for code in [124, 130] {
        let r = c.exec(json!({"command": format!("(exit {code})"), "timeout": 5000})).await;
        assert_eq!(r["exitCode"], code);
        assert_eq!(r["ended"], "exited", "{r}");
        assert_eq!(r["timedOut"], false);
    }
}

#[tokio::test]
async fn the_next_command_does_not_queue_behind_a_timed_out_one() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.exec(json!({"command": "sleep 30", "timeout": 100})).await;
    let t0 = Instant::now();
    assert_eq!(c.run(None, "echo next").await["stdout"], "next");
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn the_whole_process_tree_dies_grandchildren_included() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let pids = agent.dir.join("pids");
    let command = format!(
        "bash -c 'sleep 60 & echo $! >> {p}; bash -c \"sleep 60 & echo \\$! >> {p}; wait\" & wait' & echo $! >> {p}; wait",
        p = pids.display()
    );
    let r = c.exec(json!({"command": command, "timeout": 500})).await;
    assert_eq!(r["timedOut"], true);
    let listed = std::fs::read_to_string(&pids).unwrap();
    let pids: Vec<i32> = listed.split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(pids.len(), 3, "{listed}");
    assert!(eventually(Duration::from_secs(2), || pids.iter().all(|&p| !alive(p))).await, "survivors among {pids:?}");
}

#[tokio::test]
async fn a_tree_that_keeps_forking_is_killed_too() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let marker = agent.dir.join("forker.sh");
    std::fs::write(&marker, "while :; do sleep 0.01 & done\n").unwrap();
    let r = c.exec(json!({"command": format!("bash {}", marker.display()), "timeout": 300})).await;
    assert_eq!(r["timedOut"], true);
    let script = path_str(&marker);
    let survivors = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
            .filter(|cmd| String::from_utf8_lossy(cmd).contains(&script))
            .count()
    };
    assert!(eventually(Duration::from_secs(2), || survivors() == 0).await);
    assert_eq!(c.run(None, "echo ok").await["stdout"], "ok");
}

#[tokio::test]
async fn builtin_loops_and_nested_functions_are_interrupted() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "export BEFORE=1").await;
    let r = c.exec(json!({"command": "while :; do :; done; echo never", "timeout": 200})).await;
    assert_eq!(r["timedOut"], true);
    assert_eq!(r["stdout"], "");
    let r = c
        .exec(json!({"command": "f() { while :; do :; done; echo never-f; }; g() { f; echo never-g; }; g; echo never", "timeout": 200}))
        .await;
    assert_eq!(r["timedOut"], true);
    assert_eq!(r["stdout"], "");
    assert_eq!(c.run(None, "echo $BEFORE").await["stdout"], "1");
}

#[tokio::test]
async fn a_shell_that_ignores_the_interrupt_is_replaced_with_its_state() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.run(None, "cd /tmp && export KEPT=still; trap '' USR1").await;
    let t0 = Instant::now();
    let r = c.exec(json!({"command": "while :; do :; done", "timeout": 200})).await;
    assert_eq!(r["timedOut"], true);
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(c.run(None, "pwd; echo $KEPT").await["stdout"], "/tmp\nstill");
}

#[tokio::test]
async fn the_session_default_timeout_applies_and_a_request_overrides_it() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.post("/v1/sessions", json!({"id": "short", "commandTimeoutMs": 200})).await;
    assert_eq!(r.status, 201);
    let r = c.run(Some("short"), "sleep 10").await;
    assert_eq!(r["timedOut"], true);
    let r = c.exec(json!({"command": "sleep 0.5; echo done", "sessionId": "short", "timeout": 5000})).await;
    assert_eq!(r["stdout"], "done");
    assert_eq!(r["timedOut"], false);
}

#[tokio::test]
async fn the_agent_default_timeout_applies_when_nothing_else_does() {
    let agent = Agent::start_with(&["--command-timeout-ms", "200"]);
    let mut c = agent.client().await;
    let r = c.run(None, "sleep 10").await;
    assert_eq!(r["timedOut"], true);
    assert_eq!(r["exitCode"], 124);
}

#[tokio::test]
async fn timeouts_are_recorded_in_history() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    c.exec(json!({"command": "sleep 10", "timeout": 100})).await;
    let h = c.get("/v1/sessions/default/history").await.json();
    let last = h["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["command"], "sleep 10");
    assert_eq!(last["exitCode"], 124);
    assert_eq!(last["timedOut"], true);
}

#[tokio::test]
async fn a_process_that_ignores_the_interrupt_is_killed_and_its_background_jobs_too() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let t0 = Instant::now();
    // Background jobs of a non-interactive shell ignore SIGINT; `trap '' INT` makes the foreground one ignore it.
    let r = c
        .exec(json!({"command": "sleep 31.5 & echo $! > bg.pid; (trap '' INT; exec sleep 31.6)", "timeout": 200}))
        .await;
    assert!(t0.elapsed() < Duration::from_secs(3), "took {:?}", t0.elapsed());
    assert_eq!(r["exitCode"], 124);
    // Bash reports the foreground process it lost to SIGKILL ("line 1: 123 Killed ..."): the agent's doing, kept
    // out of the command's stderr.
    assert_eq!(r["stderr"], "", "{r}");
    let bg: i32 = std::fs::read_to_string(agent.dir.join("bg.pid")).unwrap().trim().parse().unwrap();
    assert!(eventually(Duration::from_secs(2), || !alive(bg)).await, "the background job survived");
    assert_eq!(c.run(None, "echo alive").await["stdout"], "alive");
}
