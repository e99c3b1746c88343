//! Destroying a sandbox while calls are still arriving leaves no process behind: a call that races with the
//! destruction either ran before it (and its shell was ended) or is told to retry; no shell outlives its table.

use std::time::Duration;

use crate::support::*;

/// The agent's children that are still running bash (its shells and whatever they left).
fn shells_of(agent_pid: u32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (state, ppid) = (fields[0], fields[1].parse::<u32>().unwrap_or(0));
        if ppid == agent_pid && state != "Z" && stat.contains("(bash)") {
            found.push(pid);
        }
    }
    found
}

#[tokio::test]
async fn destroy_racing_with_execs_leaves_no_shell_behind() {
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}"]);
    for round in 0..40 {
        let calls: Vec<_> = (0..4)
            .map(|i| {
                let addr = agent.addr;
                tokio::spawn(async move {
                    let mut c = http::Client::connect(addr).await.for_sandbox("racy");
                    let r = if i % 2 == 0 {
                        c.post("/v1/exec", json!({"command": "echo $$"})).await
                    } else {
                        c.post("/v1/sessions", json!({})).await
                    };
                    (r.status, String::from_utf8_lossy(&r.body).into_owned())
                })
            })
            .collect();
        let mut c = agent.client().await.for_sandbox("racy");
        if round % 2 == 1 {
            tokio::time::sleep(Duration::from_millis(round as u64 % 5)).await;
        }
        assert_eq!(c.delete("/v1/sandbox").await.status, 200);
        for call in calls {
            let (status, body) = call.await.unwrap();
            assert!(matches!(status, 200 | 201 | 404 | 503), "round {round}: status {status}: {body}");
        }
    }
    let mut c = agent.client().await.for_sandbox("racy");
    assert_eq!(c.delete("/v1/sandbox").await.status, 200);
    let pid = agent.pid();
    assert!(
        eventually(Duration::from_secs(5), || shells_of(pid).is_empty()).await,
        "shells left behind: {:?}",
        shells_of(pid)
    );
}

/// A shell the agent lets go of still writes its last words (its EXIT trap reopens the control pipe and a state
/// file by `/proc/<agent>/fd/<n>` path). Were those numbers closed first, the kernel would hand them to the next
/// pipe or file the agent opens, and the words would land in another sandbox's command: its text truncated, its
/// output with a stranger's variables, its shell's input garbled so that it waits for ever. Sandboxes are
/// destroyed here, their shells ending on their own, while another sandbox runs commands without pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_words_of_ending_shells_never_reach_another_command() {
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    let addr = agent.addr;
    let dying = tokio::spawn(async move {
        let mut c = http::Client::connect(addr).await.for_sandbox("dying");
        let mut rounds = 0;
        while std::time::Instant::now() < deadline {
            for i in 0..6 {
                let body = json!({"id": format!("s{i}"), "env": {"LAST_WORDS": "a-stranger's-variable"}});
                let r = c.post("/v1/sessions", body).await;
                assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
            }
            assert_eq!(c.delete("/v1/sandbox").await.status, 200);
            rounds += 1;
        }
        rounds
    });
    let mut busy = agent.client().await.for_sandbox("busy");
    let mut commands = 0;
    while std::time::Instant::now() < deadline {
        let command = format!("echo ok-{commands}");
        let r = tokio::time::timeout(Duration::from_secs(5), busy.exec(json!({"command": command})))
            .await
            .unwrap_or_else(|_| panic!("command {commands} never finished: its shell lost its input"));
        assert_eq!(r["stdout"], format!("ok-{commands}"), "command {commands}: {r}");
        assert_eq!(r["stderr"], "", "command {commands}: {r}");
        assert_eq!(r["exitCode"], 0, "command {commands}: {r}");
        commands += 1;
    }
    let rounds = dying.await.unwrap();
    eprintln!("{commands} commands while {rounds} sandboxes of 6 sessions ended");
}
