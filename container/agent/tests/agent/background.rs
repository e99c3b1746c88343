//! Background processes never hold a command's completion up, and their later output never reaches another
//! command's result.

use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test]
async fn a_background_child_does_not_delay_completion() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let t0 = Instant::now();
    let r = c.run(None, "sleep 100 & echo started").await;
    assert_eq!(r["stdout"], "started");
    assert!(t0.elapsed() < Duration::from_secs(2), "took {:?}", t0.elapsed());
}

#[tokio::test]
async fn a_daemon_holding_stdout_neither_delays_nor_leaks() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let t0 = Instant::now();
    let r = c
        .run(None, "(for i in $(seq 1 50); do echo leak-$i; echo errleak-$i >&2; sleep 0.05; done) & echo first")
        .await;
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert!(s(&r["stdout"]).starts_with("first"));
    for _ in 0..10 {
        let r = c.run(None, "echo clean").await;
        assert_eq!(r["stdout"], "clean");
        assert_eq!(r["stderr"], "");
        // Spread over the writer's life on purpose: each command meets it at another moment.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_background_writer_outlives_its_command_without_dying_of_sigpipe() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let done = agent.dir.join("writer-done");
    let command = format!("(for i in $(seq 1 20); do echo tick; sleep 0.02; done; touch {}) &", done.display());
    c.run(None, &command).await;
    assert!(eventually(Duration::from_secs(5), || done.exists()).await, "the background writer was killed");
}

#[tokio::test]
async fn nohup_and_setsid_daemons_keep_running_after_their_command() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "nohup sleep 30 >/dev/null 2>&1 & echo $!").await;
    let pid: i32 = s(&r["stdout"]).parse().unwrap();
    c.run(None, "echo next").await;
    assert!(alive(pid));
}

#[tokio::test]
async fn earlier_background_jobs_survive_a_later_timeout() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = c.run(None, "sleep 60 & echo $!").await;
    let pid: i32 = s(&r["stdout"]).parse().unwrap();
    // Let a clock tick pass, so the job is visibly older than the next command.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let r = c.exec(json!({"command": "sleep 30", "timeout": 200})).await;
    assert_eq!(r["timedOut"], true);
    assert!(alive(pid), "the earlier background job was killed by a later timeout");
}
