//! Local sandboxes isolated as containers are (`--multi-sandbox ROOT --isolate`): each sees its own folder as
//! `/workspace`, its own `/tmp` and processes, the system read-only, and nothing of the other sandboxes or of the
//! agent. Skipped, saying so, where bubblewrap cannot make namespaces.

use crate::support::*;

#[tokio::test]
async fn a_sandbox_sees_its_own_workspace_tmp_and_processes_only() {
    if !jail_available() {
        return;
    }
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}", "--isolate"]);
    let mut a = agent.client().await.for_sandbox("box-a");
    let mut b = agent.client().await.for_sandbox("box-b");
    let r = a.run(None, "pwd; echo $HOME; hostname; echo secret > /tmp/a-only; echo mine > own.txt").await;
    assert_eq!(r["stdout"], "/workspace\n/root\nbox-a", "{r}");
    assert_eq!(std::fs::read_to_string(agent.dir.join("box-a/own.txt")).unwrap(), "mine\n");
    // b sees neither a's /tmp nor a's folder, nor a's processes nor the agent's.
    let r = b.run(None, "cat /tmp/a-only 2>/dev/null || echo no-tmp; ls /workspace; ls ../ 2>/dev/null | grep -c box-a; ps -e -o comm= | sort | uniq | tr '\\n' ' '").await;
    let out = r["stdout"].as_str().unwrap().to_string();
    assert!(out.starts_with("no-tmp\n"), "{out}");
    assert!(!out.contains("own.txt") && !out.contains("box-a"), "{out}");
    let agent_pid = agent.pid();
    let r = b.run(None, &format!("ls /proc/{agent_pid}/fd 2>&1 | head -1; ls /proc | grep -c '^[0-9]'")).await;
    let lines: Vec<&str> = r["stdout"].as_str().unwrap().lines().collect();
    assert!(lines[0].contains("No such file"), "the agent's descriptors are visible: {lines:?}");
    assert!(lines[1].parse::<u32>().unwrap() < 10, "more processes visible than the sandbox's own: {lines:?}");
}

#[tokio::test]
async fn the_host_is_read_only_and_the_file_api_sees_the_jail() {
    if !jail_available() {
        return;
    }
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}", "--isolate"]);
    let mut a = agent.client().await.for_sandbox("box-a");
    let r = a.run(None, "touch /etc/pwned 2>&1 || true; touch /usr/pwned 2>&1 || true; ls /home | wc -l").await;
    let out = r["stdout"].as_str().unwrap();
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.ends_with('0'), "home directories are hidden: {out}");
    assert!(!std::path::Path::new("/etc/pwned").exists());
    // The file API is the sandbox's agent's: the same view as the shell.
    let w = a.post("/v1/files/write", json!({"path": "/tmp/via-api", "content": "x"})).await;
    assert_eq!(w.status, 200);
    assert_eq!(a.run(None, "cat /tmp/via-api").await["stdout"], "x");
    let escape = a.post("/v1/files/read", json!({"path": "/workspace/../../root/.bashrc"})).await;
    assert_eq!(escape.status, 404, "{}", String::from_utf8_lossy(&escape.body));
    let other = a.post("/v1/files/list", json!({"path": "/workspace/.."})).await;
    assert!(!String::from_utf8_lossy(&other.body).contains("box-b"));
}

#[tokio::test]
async fn destroy_ends_the_jail_and_a_new_call_starts_afresh() {
    if !jail_available() {
        return;
    }
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}", "--isolate"]);
    let mut a = agent.client().await.for_sandbox("box-a");
    a.run(None, "export KEEP=1; echo x > f; sleep 300 &").await;
    assert_eq!(a.delete("/v1/sandbox").await.status, 200);
    assert!(!agent.dir.join("box-a").exists());
    let r = a.run(None, "echo ${KEEP:-gone}; ls").await;
    assert_eq!(r["stdout"], "gone");
}

#[tokio::test]
async fn a_caller_that_leaves_stops_its_command_through_the_agent_in_front() {
    if !jail_available() {
        return;
    }
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}", "--isolate"]);
    let mut a = agent.client().await.for_sandbox("box-a");
    let mut leaving = agent.client().await.for_sandbox("box-a");
    let call = tokio::spawn(async move { leaving.run(None, "touch started; sleep 2; touch finished").await });
    until_exists(&agent.dir.join("box-a/started")).await;
    call.abort();
    let t0 = std::time::Instant::now();
    assert_eq!(a.run(None, "echo next").await["stdout"], "next");
    assert!(t0.elapsed() < std::time::Duration::from_millis(1500), "the session stayed busy: {:?}", t0.elapsed());
    // Past the moment the command would have finished, had it run on: a wait for something not to happen.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(!agent.dir.join("box-a/finished").exists(), "the command ran on after its caller left");
}
